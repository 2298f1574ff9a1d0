#!/usr/bin/python3
"""Which tap of each AudioSet/FSD50K backbone, judged on development machines only (prints a table, writes nothing).

    /usr/bin/python3 Bench/accuracy_taps.py [--seed 2] [--detector mahalanobis]

`nasd synth --seed 2 --train 20 --test 10 --seconds 5` (machines no reported table uses; shorter clips to save time),
`nasd eval` per machine ID with the detector's defaults, for each candidate tap of each backbone in Bench/accuracy.py;
mean AUC / pAUC over the four types. The taps Bench/accuracy.py reports come from the backbones' documentation; this
says whether development data agrees.
"""
import argparse
import json
import os
import shutil
import sys

import accuracy
from accuracy import BACKBONES

CANDIDATES = {
    "yamnet": ["layer10", "layer12", "layer14", "embedding"],
    "yamnet256": ["layer4", "layer5", "layer6"],
    "mn04": ["features.9", "features.12", "features.15", "embedding"],
    "miniresnet": ["pool1", "conv2", "conv3"],
    "miniresnetv2": ["conv2", "conv3", "post"],
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nasd", default=f"dotnet {accuracy.ROOT}/Cli/bin/Release/net10.0/nasd.dll")
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--detector", default="mahalanobis")
    ap.add_argument("--work", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "nasd-accuracy-taps"))
    args = ap.parse_args()
    accuracy.NASD.extend(args.nasd.split())
    data = os.path.join(args.work, f"synth{args.seed}")
    if not os.path.isdir(data):
        accuracy.run(["synth", "--out", data + ".tmp", "--seed", str(args.seed), "--train", "20", "--test", "10", "--seconds", "5"])
        os.replace(data + ".tmp", data)
    print(f"| backbone | tap | mean AUC | mean pAUC |  (synth seed {args.seed}, {args.detector})\n|---|---|---|---|", flush=True)
    for name, taps in CANDIDATES.items():
        base = BACKBONES[name][1]
        weights = base[:base.index("--tap")] + base[base.index("--tap") + 2:]
        for tap in taps:
            out = os.path.join(args.work, "eval")
            shutil.rmtree(out, ignore_errors=True)
            result = json.loads(accuracy.run(["eval", "--data", data, "--out", out, "--detector", args.detector, "--seed", "0",
                                              "--cache", os.path.join(args.work, "cache"), "--json", *weights, "--tap", tap], capture=True))
            mark = " (reported)" if tap == BACKBONES[name][2] else ""
            print(f"| {name} | {tap}{mark} | {result['mean_auc']:.3f} | {result['mean_pauc']:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
