#!/usr/bin/env bash
# Issue 18 (whole commands on the GPU): nasd eval and nasd pretrain with --device cuda against the 2-core CPU's figures.
#
# Sourced by `scripts/device_check.sh commands`, which calls
#     device_commands_check WORK_DIR NASD...
# (WORK_DIR: where the 1,000-clip data set and the eval outputs go — not $OUT, which the device tool brings back; NASD...:
# the command that runs nasd). Run alone: scripts/device_commands.sh WORK_DIR NASD...
# Prints one JSON object per line (check, device, exit, clips, seconds, clips_per_s, cpu_clips_per_s, ratio, mean_auc,
# cpu_mean_auc, train_loss); every step has its own time limit (synth 90 s, eval 120 + 120 s, pretrain 90 s), so the
# section stays within 7 minutes.
#
# The CPU figures are from the 2-core development machine (Intel Xeon, AVX-512, no GPU), 2026-12-03, branch h18c at
# b1a462c (the CPU path is unchanged from main), run with nice while other jobs shared the machine; the fastest run is
# kept, so the ratios are not flattered by a loaded CPU:
#   nasd synth --out synth1000 --ids 2 --train 75 --test 25          (4 types x 2 IDs x 125 clips of 10 s = 1,000 clips)
#   nasd eval --data synth1000 --out base-default --no-cache --json          fastest of 4 runs: 71.1 s wall, 14.07 clips/s,
#       mean AUC 0.9226 (the others: 92.2 s, 101.2 s, and 175.0 s at load average 40); with every feature cached the
#       rest (hashing, Ledoit-Wolf fits, 5-fold cross-fitting, CSVs) takes 5.5 s, which a device does not shorten
#   nasd eval --data synth1000 --out base-metric --detector metric --no-cache --json   fastest of 3 runs: 88.8 s,
#       11.26 clips/s, mean AUC 0.9000 (the others: 100.2 s, 103.0 s)
#   nasd pretrain --synth 256 --epochs 1 --json     20.9 clips/s (2 s crops, batch 32); five later runs: 7.8-11.4 clips/s
# Must hold (issue 18): eval clips/s on cuda >= 20 x the CPU's (ratio >= 20); mean AUC equal to the CPU's within 0.01.

readonly CPU_EVAL_DEFAULT_CLIPS_PER_S=14.07
readonly CPU_EVAL_DEFAULT_AUC=0.9226
readonly CPU_EVAL_METRIC_CLIPS_PER_S=11.26
readonly CPU_EVAL_METRIC_AUC=0.9000
readonly CPU_PRETRAIN_CLIPS_PER_S=20.9

# The value of a top-level number field of a one-line JSON object (no Python needed on the device machine).
json_number() { sed -n "s/.*\"$2\":\([-0-9.eE+]*\).*/\1/p" "$1" | head -1; }

# One JSON line for a timed command: check name, exit code, clips, seconds, and the CPU's rate to compare with; without a
# result, the last line of the command's standard error (without a device: "… no CUDA device was found …", exit 2).
report_rate() {
  local check="$1" rc="$2" clips="$3" seconds="$4" cpu_rate="$5" extra="$6" errors="$7"
  if [ -z "$seconds" ]; then
    echo "{\"check\":\"$check\",\"device\":\"cuda\",\"exit\":$rc,\"error\":\"$(tail -1 "$errors" | tr -d '"\\' | cut -c1-300)\"}"
    return
  fi
  awk -v c="$check" -v rc="$rc" -v n="$clips" -v s="$seconds" -v cpu="$cpu_rate" -v extra="$extra" 'BEGIN {
    rate = n / s; ratio = rate / cpu;
    printf "{\"check\":\"%s\",\"device\":\"cuda\",\"exit\":%d,\"clips\":%d,\"seconds\":%.2f,\"clips_per_s\":%.2f,\"cpu_clips_per_s\":%s,\"ratio\":%.1f%s}\n",
      c, rc, n, s, rate, cpu, ratio, extra }'
}

device_commands_check() {
  local out="$1"; shift
  local nasd=("$@")
  mkdir -p "$out"
  # The data set is generated on the CPU (about 20 s on 16 cores): the same bytes as the CPU baseline's.
  [ -f "$out/synth1000.done" ] || { timeout 90 "${nasd[@]}" synth --out "$out/synth1000" --ids 2 --train 75 --test 25 --json > /dev/null && touch "$out/synth1000.done"; }

  local name detector cpu_rate cpu_auc rc auc
  for name in default metric; do
    if [ "$name" = default ]; then detector=(); cpu_rate=$CPU_EVAL_DEFAULT_CLIPS_PER_S; cpu_auc=$CPU_EVAL_DEFAULT_AUC
    else detector=(--detector metric); cpu_rate=$CPU_EVAL_METRIC_CLIPS_PER_S; cpu_auc=$CPU_EVAL_METRIC_AUC; fi
    rm -rf "$out/eval-$name"
    timeout 120 "${nasd[@]}" eval --data "$out/synth1000" --out "$out/eval-$name" "${detector[@]}" --device cuda --no-cache --json \
      > "$out/eval-$name.json" 2> "$out/eval-$name.err"
    rc=$?
    auc=$(json_number "$out/eval-$name.json" mean_auc)
    report_rate "eval-$name" "$rc" 1000 "$(json_number "$out/eval-$name.json" seconds)" "$cpu_rate" \
      ",\"mean_auc\":${auc:-null},\"cpu_mean_auc\":$cpu_auc" "$out/eval-$name.err"
  done

  # The shipped backbone's recipe (resnet-small, 2 s crops, batch 32), one epoch of 1,024 synthetic crops.
  timeout 90 "${nasd[@]}" pretrain --synth 1024 --epochs 1 --device cuda --out "$out/pretrain.safetensors" --json \
    > "$out/pretrain.json" 2> "$out/pretrain.err"
  rc=$?
  report_rate pretrain "$rc" 1024 "$(json_number "$out/pretrain.json" Seconds)" "$CPU_PRETRAIN_CLIPS_PER_S" \
    ",\"train_loss\":$(json_number "$out/pretrain.json" TrainLoss | grep . || echo null)" "$out/pretrain.err"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  [ $# -ge 2 ] || { echo "usage: $0 WORK_DIR NASD..." >&2; exit 2; }
  device_commands_check "$@"
fi
