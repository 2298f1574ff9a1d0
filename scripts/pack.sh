#!/usr/bin/env bash
# Packs NativeASD as NuGet packages and proves they work:
#   nasd                 the CLI as a .NET tool (PackAsTool, command 'nasd')
#   NativeASD.Kernels    CPU SIMD and ILGPU backends
#   NativeASD.Engine     tensors, audio, frontends, layers, optimisers, architectures (depends on NativeASD.Kernels)
#   NativeASD.Weights    weight-file readers and writers (no engine dependency)
#   NativeASD.Detection  backbones, features and cache, detectors and model files, evaluation, monitor, pretraining,
#                        synthetic sounds (depends on NativeASD.Engine and NativeASD.Weights)
# then installs the tool into a temporary tool path and runs 'nasd --help' from there, and compiles the README's
# library example (the C# block after "<!-- example:library -->") against the packed NativeASD.Detection package and
# runs it: fit on a few clips that the installed tool synthesises, score one.
# Usage: scripts/pack.sh [OUTDIR]   (default: artifacts/packages)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$(realpath -m "${1:-$root/artifacts/packages}")"
version="$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' "$root/Directory.Build.props")"
work="$(mktemp -d /tmp/nasd-pack.XXXXXX)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

for project in Kernels Engine Weights Detection Cli; do
  dotnet pack "$root/$project/$project.csproj" -c Release -o "$out" --nologo -v quiet
done
ls -l "$out"/*.nupkg

# The same version number is cached by NuGet after a first install: drop our own cached copies so this run's packages are used.
rm -rf "${NUGET_PACKAGES:-$HOME/.nuget/packages}"/{nasd,nativeasd.kernels,nativeasd.engine,nativeasd.weights,nativeasd.detection}

dotnet tool install --tool-path "$work/tools" --add-source "$out" --version "$version" nasd
"$work/tools/nasd" --help
"$work/tools/nasd" --version

# The README's library example, compiled against the packages.
mkdir -p "$work/example"
cat > "$work/example/Example.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <ImplicitUsings>enable</ImplicitUsings>
    <Nullable>enable</Nullable>
    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
    <RestoreAdditionalProjectSources>$out</RestoreAdditionalProjectSources>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="NativeASD.Detection" Version="$version" />
  </ItemGroup>
</Project>
XML
# An empty Directory.Build.props/.packages.props keeps the repository's settings out of the example.
echo '<Project />' > "$work/example/Directory.Build.props"
echo '<Project />' > "$work/example/Directory.Packages.props"
awk '/<!-- example:library -->/{found=1; next} found && /^```csharp/{inside=1; next} inside && /^```/{exit} inside{print}' \
  "$root/README.md" > "$work/example/Program.cs"
test -s "$work/example/Program.cs" || { echo "pack.sh: no library example found in README.md" >&2; exit 1; }
dotnet build "$work/example/Example.csproj" -c Release --nologo -v quiet

# ... and run: fit on eight synthetic normal clips, judge one anomalous clip.
"$work/tools/nasd" synth --out "$work/data" --types fan --ids 1 --train 8 --test 1 --seconds 2 > /dev/null
clip="$(ls "$work/data/fan/test/"anomaly_id_00_*.wav | head -n 1)"
(cd "$work/example" && dotnet run -c Release --no-build -- "$work/data/fan/train" "$clip") | tee "$work/example.out"
grep -q ": score " "$work/example.out" || { echo "pack.sh: the library example printed no score" >&2; exit 1; }
echo "pack.sh: packages in $out; tool install, 'nasd --help' and the README library example (built and run) all work"
