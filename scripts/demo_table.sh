#!/usr/bin/env bash
# The demo's AUC/pAUC table as the README shows it: one column per machine type (the mean over its IDs) and the mean
# over all IDs, three decimals, from the results.csv that 'nasd demo' (or 'nasd eval') writes.
# Usage: scripts/demo_table.sh [OUTDIR]            runs 'nasd demo --out OUTDIR' (default /tmp/nasd-demo-table), prints the table
#        scripts/demo_table.sh --from RESULTS.CSV  prints the table of an existing results.csv
#        scripts/demo_table.sh --readme [OUTDIR]   runs the demo and rewrites the table between the README's
#                                                  <!-- demo-table --> and <!-- /demo-table --> markers
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

table() {
  awk -F, '
    NR == 1 { next }
    $2 == "average" && $1 != "all" { types[++n] = $1; auc[$1] = $3; pauc[$1] = $4 }
    $1 == "all" { auc["mean"] = $3; pauc["mean"] = $4 }
    END {
      if (n == 0 || !("mean" in auc)) { print "demo_table.sh: no per-type averages in the results file" > "/dev/stderr"; exit 1 }
      types[++n] = "mean"
      head = "|"; rule = "|---"; a = "| AUC"; p = "| pAUC"
      for (i = 1; i <= n; i++) {
        head = head " | " types[i]; rule = rule "|---"
        a = a sprintf(" | %.3f", auc[types[i]]); p = p sprintf(" | %.3f", pauc[types[i]])
      }
      print head " |"; print rule "|"; print a " |"; print p " |"
    }' "$1"
}

if [[ "${1:-}" == "--from" ]]; then
  table "${2:?demo_table.sh --from needs a results.csv}"
  exit 0
fi
readme=false
if [[ "${1:-}" == "--readme" ]]; then readme=true; shift; fi
out="$(realpath -m "${1:-/tmp/nasd-demo-table}")"
dotnet build "$root/Cli/Cli.csproj" -c Release --nologo -v quiet >/dev/null
dotnet "$root/Cli/bin/Release/net10.0/nasd.dll" demo --out "$out" >&2
if ! $readme; then
  table "$out/results.csv"
  exit 0
fi
new="$(table "$out/results.csv")"
awk -v table="$new" '
  /<!-- demo-table -->/ { print; print table; skip = 1; found = 1; next }
  /<!-- \/demo-table -->/ { skip = 0 }
  !skip { print }
  END { if (!found) { print "demo_table.sh: no <!-- demo-table --> marker in README.md" > "/dev/stderr"; exit 1 } }' \
  "$root/README.md" > "$root/README.md.tmp"
mv "$root/README.md.tmp" "$root/README.md"
echo "demo_table.sh: README.md table rewritten from $out/results.csv" >&2
