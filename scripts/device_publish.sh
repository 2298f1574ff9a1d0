#!/usr/bin/env bash
# Makes the nasd binary that scripts/device_check.sh runs on a lent GPU machine (no .NET SDK there): a self-contained
# linux-x64 publish of Cli, pruned of what the bench commands never load, xz-compressed under the ignored folder .gpu/
# (name it in the device tool's carry: ".gpu"). The device tool sends the working tree (≈ 34 MiB tracked) plus what it
# carries within 64 MiB, so the archive must stay under ≈ 28 MiB; this script refuses a larger one.
# Pruned: the serve stack (ASP.NET Core, Orleans, Npgsql, Roslyn, Polly), the report plots (ScottPlot, SkiaSharp),
# Windows-only audio, debugger/tracing/standalone-GC libraries, satellite resources and the shipped weight files
# (bench uses random weights); nasd.deps.json is rewritten to list only the files kept. A pruned nasd runs every bench
# command; `serve` and `report` need a full publish. Prints the sizes and writes the commit to .gpu/COMMIT.
# Usage: scripts/device_publish.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/.gpu"
work="$(mktemp -d /tmp/nasd-publish.XXXXXX)"
trap 'rm -rf "$work"' EXIT
app="$work/nasd"
nice -n 10 dotnet publish "$root/Cli/Cli.csproj" -c Release -r linux-x64 --self-contained true -p:DebugType=none \
  -o "$app" --nologo -v quiet
du -sh "$app" | sed 's/^/published: /'

find "$app" -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +   # satellite resource folders (cs, de, ...)
(cd "$app" && ls | grep -E '^(Microsoft\.AspNetCore|Orleans|Npgsql|Microsoft\.CodeAnalysis|Humanizer|Polly|Microsoft\.JSInterop|Microsoft\.Extensions\.Identity|ScottPlot|SkiaSharp|HarfBuzzSharp|libSkiaSharp|libHarfBuzzSharp|NAudio\.(Wasapi|WinMM|Midi)|WindowsBase|Microsoft\.VisualBasic|libmscordaccore|libmscordbi|createdump|libcoreclrtraceptprovider|libclrgc)|\.(safetensors|tflite)$' \
  | xargs -r rm -f)
python3 - "$app/nasd.deps.json" <<'PY'
import json, os, sys
path = sys.argv[1]
folder = os.path.dirname(path)
deps = json.load(open(path))
for target in deps["targets"].values():
    for library in target.values():
        for kind in ("runtime", "native", "resources"):
            for name, info in list(library.get(kind, {}).items()):
                local = os.path.basename(name) if kind != "resources" else os.path.join(info["locale"], os.path.basename(name))
                if not os.path.exists(os.path.join(folder, local)):
                    del library[kind][name]
json.dump(deps, open(path, "w"), indent=1)
PY
"$app/nasd" bench gemm --size 16 --repeats 1 > /dev/null   # the pruned binary still starts and runs a bench
du -sh "$app" | sed 's/^/pruned: /'

mkdir -p "$out"
rm -f "$out/nasd.tar.xz"
tar -C "$work" -cf - nasd | xz -9 -T1 > "$out/nasd.tar.xz"
{ git -C "$root" rev-parse --short HEAD; git -C "$root" diff --quiet HEAD || echo "+uncommitted changes"; } > "$out/COMMIT"
size=$(stat -c %s "$out/nasd.tar.xz")
echo "compressed: $(awk "BEGIN { printf \"%.1f\", $size / 1048576 }") MiB ($out/nasd.tar.xz), commit $(head -1 "$out/COMMIT")"
if [ "$size" -gt $((28 * 1048576)) ]; then
  echo "device_publish: $out/nasd.tar.xz is $((size / 1048576)) MiB: with the working tree it would pass the device tool's 64 MiB" >&2
  exit 1
fi
