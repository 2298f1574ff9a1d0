#!/usr/bin/env bash
# The one device check of issue 18, for a lent GPU machine (NVIDIA driver, no internet, no .NET SDK): run it through the
# device tool from the repository root after scripts/device_publish.sh made .gpu/nasd.tar.xz here, e.g.
#   run(command: "bash scripts/device_check.sh", carry: [".gpu"], timeout_s: 480)
# and, if device time is left (the whole lease is 15 minutes with the start), the whole commands:
#   run(command: "bash scripts/device_check.sh commands", carry: [".gpu"], timeout_s: 480)
# which runs scripts/device_commands.sh (eval of a 1,000-clip synth with the default and the metric head, one pretraining
# epoch, all with --device cuda, against the 2-core CPU's clips/s) into $OUT/commands.jsonl, within 7 minutes.
# It unpacks nasd, prints nvidia-smi, then, each step under its own timeout and all within NASD_CHECK_SECONDS (360):
#   1. bench parity --device cuda (every op, layer, kernel variant, ResNet taps; then device timings)
#   2. bench gemm 4096³ with the variant chosen by size, and cuBLAS SGEMM as the peer when the library loads
#   3. bench conv 3×3 [16,64,64,1000] 64→64 forward, backward data, backward weight (chosen variant)
#   4. bench resnet38 --batch 1,16,64 (10 s clips at 32 kHz, frontend included)
#   5. the GEMM variants one by one at 4096³, then the conv variants: which block shape to keep
# Files written to $OUT (the device tool brings back at most 8): log.txt (nvidia-smi, commit, every command with its
# exit code and seconds, stderr), parity.json, gemm.jsonl, conv.jsonl (one JSON line per run), resnet38.json, summary.txt.
# A step that fails or times out is logged and the next one runs.
# Dry run without a GPU (tests do this): NASD_CHECK_DEVICE=ilgpu-cpu NASD_CHECK_SMALL=1 NASD_CHECK_RESNET_DEVICE=cpu
# OUT=/tmp/x bash scripts/device_check.sh — tiny sizes, the simulator's variants, ResNet38 on 0.35 s clips;
# NASD_CHECK_BINARY="dotnet Cli/bin/Release/net10.0/nasd.dll" uses a build instead of the archive, NASD_CHECK_VARIANTS
# a shorter variant list.
set -u
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${OUT:-/tmp/nasd-device-check}"
mkdir -p "$out"
device="${NASD_CHECK_DEVICE:-cuda}"
resnet_device="${NASD_CHECK_RESNET_DEVICE:-$device}"
small="${NASD_CHECK_SMALL:-0}"
deadline=$(( $(date +%s) + ${NASD_CHECK_SECONDS:-360} ))
log="$out/log.txt"
: > "$log"; : > "$out/gemm.jsonl"; : > "$out/conv.jsonl"

if [ "$small" = 1 ]; then
  gemm_size=64; conv_input=1,8,8,40; conv_out=8; repeats=2
  resnet_args=(--seconds 0.35 --batch 1 --repeats 1)
  parity_args=(--quick --only "gemm 32x32k4 131x70x21 batch 2 a=0.75 b=0.5 tA=False tB=False,conv 32x32k4 fused")
  variants="${NASD_CHECK_VARIANTS:-32x32k4 simple}"
else
  gemm_size=4096; conv_input=16,64,64,1000; conv_out=64; repeats=10
  resnet_args=(--batch 1,16,64 --repeats 5)
  parity_args=()
  variants="${NASD_CHECK_VARIANTS:-128x128k8 128x128k16 128x64k8 64x128k8 64x64k8 simple}"
fi

# nasd: NASD_CHECK_BINARY (a command, e.g. "dotnet Cli/bin/Release/net10.0/nasd.dll"), else the carried archive unpacked into /tmp.
read -r -a nasd <<< "${NASD_CHECK_BINARY:-}"
if [ "${#nasd[@]}" -eq 0 ]; then
  if [ ! -f "$root/.gpu/nasd.tar.xz" ]; then
    echo "device_check: $root/.gpu/nasd.tar.xz missing: run scripts/device_publish.sh here and carry .gpu" | tee -a "$log" >&2
    exit 2
  fi
  rm -rf /tmp/nasd-check && mkdir -p /tmp/nasd-check
  tar -C /tmp/nasd-check -xJf "$root/.gpu/nasd.tar.xz"
  nasd=(/tmp/nasd-check/nasd/nasd)
fi

{
  echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "commit: $(cat "$root/.gpu/COMMIT" 2>/dev/null | tr '\n' ' ')"
  echo "device: $device (resnet38: $resnet_device), small: $small, variants: $variants"
  echo "== nvidia-smi"
  nvidia-smi 2>&1 || echo "(no nvidia-smi)"
  echo "== cuBLAS libraries"
  ldconfig -p 2>/dev/null | grep -i cublas || echo "(none in ldconfig)"
} >> "$log"

# step NAME LIMIT_S FILE ARGS...: runs nasd ARGS under the smaller of LIMIT_S and the time left, stdout appended to FILE.
if [ "${1:-}" = commands ]; then
  source "$root/scripts/device_commands.sh"
  echo "== commands: eval and pretrain with --device $device (scripts/device_commands.sh)" >> "$log"
  device_commands_check /tmp/nasd-commands "${nasd[@]}" | tee "$out/commands.jsonl"
  exit 0
fi

step() {
  local name="$1" limit="$2" file="$3"; shift 3
  local left=$(( deadline - $(date +%s) ))
  if [ "$left" -lt 10 ]; then echo "== $name: skipped, the check's time is spent" >> "$log"; return; fi
  [ "$limit" -gt "$left" ] && limit="$left"
  echo "== $name: nasd $* (limit ${limit} s)" >> "$log"
  local start=$(date +%s.%N) rc=0
  timeout -k 5 "$limit" "${nasd[@]}" "$@" >> "$file" 2>> "$log" || rc=$?
  echo "   exit $rc after $(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $start }") s" >> "$log"
}

step parity 150 "$out/parity.json" bench parity --device "$device" "${parity_args[@]}" --json
step "gemm chosen" 60 "$out/gemm.jsonl" bench gemm --size "$gemm_size" --device "$device" --repeats "$repeats" --json
step "conv chosen" 90 "$out/conv.jsonl" bench conv --input "$conv_input" --out-channels "$conv_out" --device "$device" --repeats "$repeats" --json
step resnet38 150 "$out/resnet38.json" bench resnet38 --device "$resnet_device" "${resnet_args[@]}" --json
for v in $variants; do
  step "gemm $v" 45 "$out/gemm.jsonl" bench gemm --size "$gemm_size" --device "$device" --variant "$v" --repeats "$repeats" --json
done
for v in $variants; do
  step "conv $v" 60 "$out/conv.jsonl" bench conv --input "$conv_input" --out-channels "$conv_out" --device "$device" --variant "$v" --repeats "$repeats" --json
done

# One line per result, against issue 18's must-hold targets (the JSON files are the record).
{
  echo "targets: SGEMM 4096³ ≥ 30000 GFLOP/s or ≥ 0.6× cuBLAS; conv forward ≥ 15000 GFLOP/s, backward ≤ 2.5× forward; ResNet38 ≥ 100 clips/s at batch 64"
  grep -h -o '"failed":[0-9]*' "$out/parity.json" | sed 's/^/parity /'
  sed -E 's/.*"gflops":([0-9.]+).*"variant":"([^"]*)".*"cublas":\{"status":"([^"]*)","gflops":([0-9.null]+).*/gemm \2: \1 GFLOP\/s; cuBLAS \3 \4/' "$out/gemm.jsonl"
  sed -E 's/.*"gflops":([0-9.]+).*"backward_over_forward":([0-9.]+).*"variant":"([^"]*)".*/conv \3: forward \1 GFLOP\/s, backward \2x forward/' "$out/conv.jsonl"
  grep -h -o '"batch":[0-9]*,"clips_per_s":[0-9.]*' "$out/resnet38.json" | sed 's/^/resnet38 /'
} > "$out/summary.txt" 2>> "$log"
cat "$out/summary.txt"
