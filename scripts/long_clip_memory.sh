#!/usr/bin/env bash
# Benchmark (not a unit test): peak RSS of 'nasd score' with the default model on 10- and 30-minute clips, measured by
# /usr/bin/time -v. Long clips are streamed through the backbone in blocks (Detection/Features/LongClip.cs); the target
# is <= 400 MB for 30 minutes. Usage: scripts/long_clip_memory.sh [WORKDIR]   (~2 min on 2 cores, ~200 MB of disk)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$(realpath -m "${1:-/tmp/nasd-longclip}")"
mkdir -p "$dir"
dotnet build "$root/Cli/Cli.csproj" -c Release --nologo -v quiet
dotnet build "$root/Bench/Bench.csproj" -c Release --nologo -v quiet
nasd() { dotnet "$root/Cli/bin/Release/net10.0/nasd.dll" "$@"; }

# 30 minutes of a generated fan (no fault) and 10 training clips; WAVs of the first 10 and 30 minutes.
dotnet "$root/Bench/bin/Release/net10.0/NativeASD.Bench.dll" monitor-stream "$dir" 1800 99999 0 2 10
nasd fit --train "$dir/train" --out "$dir/default.safetensors" --no-cache
/usr/bin/python3 - "$dir" <<'PY'
import sys, wave
d = sys.argv[1]; raw = open(f"{d}/stream.raw", "rb").read()
for minutes in (10, 30):
    with wave.open(f"{d}/long{minutes}.wav", "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000); w.writeframes(raw[:minutes * 60 * 32000])
PY
for minutes in 10 30; do
  /usr/bin/time -v -o "$dir/long$minutes.time" dotnet "$root/Cli/bin/Release/net10.0/nasd.dll" score --model "$dir/default.safetensors" \
    --no-cache --threads "${THREADS:-2}" "$dir/long$minutes.wav" > /dev/null
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$dir/long$minutes.time")
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$dir/long$minutes.time")
  echo "$minutes-minute clip: peak RSS $((rss / 1024)) MiB, wall $wall"
done
