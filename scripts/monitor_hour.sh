#!/usr/bin/env bash
# The 'nasd monitor' must-hold on a 1-hour generated stream: memory stays flat, and the bearing fault inserted at
# 1800 s is flagged within two hops. Also times the real-time factor of mahalanobis and metric models.
# Usage: scripts/monitor_hour.sh [WORKDIR]   (needs ~250 MB of disk; ~10–20 min on 2 cores)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$(realpath -m "${1:-/tmp/nasd-hour}")"
mkdir -p "$dir"
threads="${THREADS:-2}"
dotnet build "$root/Cli/Cli.csproj" -c Release --nologo -v quiet
dotnet build "$root/Bench/Bench.csproj" -c Release --nologo -v quiet
nasd() { dotnet "$root/Cli/bin/Release/net10.0/nasd.dll" "$@"; }

# 100 normal 2 s training clips, a 1-hour stream with a bearing fault at 1800–1810 s, and 60 s of normal running.
dotnet "$root/Bench/bin/Release/net10.0/NativeASD.Bench.dll" monitor-stream "$dir" 3600 1800 10 2 100
nasd fit --train "$dir/train" --out "$dir/fan-mahalanobis.safetensors" --detector mahalanobis --no-cache
# Threshold: the largest window score on the normal calibration minute (training scores are in-sample, so optimistic).
threshold="$(nasd monitor --model "$dir/fan-mahalanobis.safetensors" --window 2s --hop 1s --threads "$threads" < "$dir/calibration.raw" \
  | /usr/bin/python3 -c 'import sys, json; print(max(json.loads(l)["score"] for l in sys.stdin))')"
echo "calibrated threshold: $threshold"

run() {   # NAME SECONDS MODEL WINDOW: monitors the first SECONDS of the stream under /usr/bin/time -v
  local name=$1 seconds=$2 model=$3 window=$4
  head -c $((seconds * 32000)) "$dir/stream.raw" > "$dir/$name.raw"
  /usr/bin/time -v -o "$dir/$name.time" dotnet "$root/Cli/bin/Release/net10.0/nasd.dll" monitor --model "$model" --input - \
    --window "$window" --hop 1s --threshold "$threshold" --threads "$threads" < "$dir/$name.raw" > "$dir/$name.jsonl"
  rm "$dir/$name.raw"
  local rss wall
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$dir/$name.time")
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$dir/$name.time")
  echo "$name: $seconds s of audio, window $window, $(wc -l < "$dir/$name.jsonl") readings, peak RSS $((rss / 1024)) MiB, wall $wall"
}

run hour 3600 "$dir/fan-mahalanobis.safetensors" 2s
run tenmin 600 "$dir/fan-mahalanobis.safetensors" 2s
/usr/bin/python3 - "$dir/hour.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
before = [r for r in rows if r["time"] <= 1800]
after = [r for r in rows if r["time"] > 1800]
first = next(r for r in after if r["decision"] == 1)
alarm = next(r for r in after if r["alarm"])
print(f"anomaly inserted at 1800 s: first anomalous window ends at {first['time']} s, alarm at {alarm['time']} s; "
      f"before it: {sum(r['decision'] for r in before)} anomalous windows of {len(before)}, {sum(r['alarm'] for r in before)} alarm readings")
PY

# Real-time factor with the default 10 s window: mahalanobis and metric models on 10 minutes.
nasd fit --train "$dir/train" --out "$dir/fan-metric.safetensors" --detector metric --no-cache --threads "$threads"
for model in mahalanobis metric; do
  start=$(date +%s.%N)
  run "rtf-$model" 600 "$dir/fan-$model.safetensors" 10s
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$dir/rtf-$model.time")
  /usr/bin/python3 -c "import sys; p=sys.argv[1].split(':'); s=sum(float(x)*60**i for i,x in enumerate(reversed(p))); print(f'$model: real-time factor {600/s:.0f}x (600 s of audio in {s:.1f} s, window 10 s, hop 1 s, $threads threads)')" "$wall"
done
