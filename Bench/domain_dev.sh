#!/bin/bash
# Official score (DCASE 2023 rules) of the domain-aware detectors with and without domain awareness on synthetic
# machines with a domain shift; the table in docs/dcase-layouts.md. Usage: Bench/domain_dev.sh [SEED…] (default 2 3).
# Needs a built nasd (dotnet build Cli -c Release); writes under ${TMPDIR:-/tmp}/nasd-domain-dev.
set -e
nasd="dotnet $(dirname "$0")/../Cli/bin/Release/net10.0/nasd.dll"
work=${TMPDIR:-/tmp}/nasd-domain-dev
seeds=${*:-2 3}
for seed in $seeds; do
  data=$work/synth-$seed
  [ -d "$data" ] || $nasd synth --out "$data" --layout dcase2023 --train 50 --target-train 5 --test 10 --seed "$seed" > /dev/null
  for detector in "smahalanobis" "smahalanobis --pool-domains" "knn --backbone shipped" "knn" "knn --k 3" "knn --k 3 --pool-domains"; do
    out=$work/eval-$seed-${detector// /_}
    rm -rf "$out"
    score=$($nasd eval --data "$data" --out "$out" --detector $detector --cache "$work/cache" --json |
      python3 -c 'import json, sys; print(round(json.load(sys.stdin)["official_score"], 4))')
    echo "seed $seed | $detector | $score"
  done
done
