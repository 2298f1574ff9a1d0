#!/usr/bin/env bash
# The false-alarm table of docs/decisions.md ("Measured"): 'nasd eval' at the default percentile (0.9) and 5 folds on the
# synthetic benchmark (seeds 0 and 1, 'nasd synth' defaults) and on every real set in ../shared/data (as recorded and
# loudness-normalised with 'nasd normalise --rms-dbfs -30'), each with the default
# detector (no --detector: the catalogue's default, or the layout's default for DCASE 2021–2024 names) and with
# mahalanobis. Prints one markdown row per run: the mean false-alarm rate (mean of the machine-type averages, as eval
# reports it), the pooled count with a 95 % Wilson interval, detection rate, AUC and the threshold sources used; then
# the summary line of 'nasd demo --out DIR' (the default detector on its own generated synth).
# The test clips are only scored and counted here; nothing is set from them.
# Usage: scripts/decision_table.sh [WORKDIR]   (default /tmp/nasd-decision-table; features cached in WORKDIR/cache)
#        SHARED=/path/to/shared scripts/decision_table.sh   (default: ../shared beside the checkout)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(realpath -m "${1:-/tmp/nasd-decision-table}")"
shared="${SHARED:-$root/../shared}"
mkdir -p "$work"
dotnet build "$root/Cli/Cli.csproj" -c Release --nologo -v quiet >/dev/null
nasd() { nice -n 15 dotnet "$root/Cli/bin/Release/net10.0/nasd.dll" "$@"; }

for seed in 0 1; do
  [[ -d "$work/synth$seed" ]] || nasd synth --out "$work/synth$seed" --seed "$seed" >/dev/null
done
sets=("synth seed 0|$work/synth0" "synth seed 1|$work/synth1")
# every real set as recorded, then loudness-normalised (channel 0 at -30 dBFS RMS, as ACCURACY.md judges them)
for real in machine-tools sensiml-fan dcase2023-lite dcase2020-lite; do sets+=("$real|$shared/data/$real"); done
for real in machine-tools sensiml-fan dcase2023-lite dcase2020-lite; do
  [[ -d "$work/normalised/$real" ]] || nasd normalise --rms-dbfs -30 --out "$work/normalised/$real" "$shared/data/$real" >/dev/null
  sets+=("$real (normalised)|$work/normalised/$real")
done

echo "| set | detector | mean false-alarm rate | pooled, 95 % interval | detection rate | AUC | thresholds |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for entry in "${sets[@]}"; do
  name="${entry%%|*}"; data="${entry#*|}"
  for detector in default mahalanobis; do
    out="$work/$(echo "$name" | tr -d '()' | tr ' ' '-')-$detector"
    options=(); [[ $detector == default ]] || options=(--detector "$detector")
    if nasd eval --data "$data" --out "$out" "${options[@]}" --cache "$work/cache" --json >"$out.json" 2>"$out.err"; then
      python3 - "$name" "$out.json" <<'EOF'
import collections, json, math, struct, sys
name, path = sys.argv[1], sys.argv[2]
r = json.load(open(path))
groups = r["groups"]
def detector(model):   # the model file's own record (safetensors metadata), whatever the default was at the time
    with open(model, "rb") as f:
        header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
    info = json.loads(header["__metadata__"]["info"])
    backbone = info.get("BackboneFile")
    features = "log-mel" if backbone is None else {"yamnet_spectra_in.tflite": "YAMNet", "nasd-resnet-small.safetensors": "shipped ResNet"}.get(
        backbone.rsplit("/", 1)[-1], backbone.rsplit("/", 1)[-1])
    return f"{info['Detector']} ({features})"
def wilson(k, n, z=1.96):
    if n == 0: return float("nan"), float("nan")
    p = k / n; d = 1 + z * z / n; c = (p + z * z / (2 * n)) / d; h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, c - h), min(1.0, c + h)
k = sum(g["false_alarms"] for g in groups); n = sum(g["normal_clips"] for g in groups)
lo, hi = wilson(k, n)
detectors = sorted({detector(g["model"]) for g in groups})
sources = collections.Counter(g["threshold_source"]["source"] + ("/type" if g["threshold_source"].get("machine_type") else "") for g in groups)
num = lambda v: "" if v is None else f"{v:.3f}"
print(f"| {name} | {', '.join(detectors)} | {num(r['mean_false_alarm_rate'])} | {k}/{n} [{lo:.3f}, {hi:.3f}] | "
      f"{num(r['mean_detection_rate'])} | {num(r['mean_auc'])} | {', '.join(f'{s} {c}' for s, c in sorted(sources.items()))} |")
EOF
    else
      echo "| $name | $detector | fails: $(tail -n 1 "$out.err" | sed 's/^nasd: error: //; s/|/\\|/g') | | | | |"
    fi
  done
done

# nasd demo (generated synth, the default detector): its own summary line, as a user sees it
if nasd demo --out "$work/demo" >"$work/demo.out" 2>"$work/demo.err"; then
  echo "| nasd demo --out DIR | $(grep '^decisions:' "$work/demo.out" | sed 's/|/\\|/g') |"
else
  echo "| nasd demo --out DIR | fails: $(tail -n 1 "$work/demo.err") |"
fi
