#!/usr/bin/python3
"""Tap and head-setting selection for the shipped backbone on development machines (prints, writes nothing).

    /usr/bin/python3 Bench/accuracy_synth.py [--nasd "dotnet Cli/bin/Release/net10.0/nasd.dll"]

Evaluates candidate taps of the shipped backbone with the metric detector on `nasd synth --seed 7` (machines that no
benchmark reports), then the metric head's settings one at a time on the best taps: the only data the defaults were
chosen on. Every reported number (the synthetic benchmark, seeds 0 and 1, and the real sets) comes from
Bench/accuracy.py.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TYPES = ["fan", "pump", "slider", "valve"]
DEV_TAPS = ["layer2", "layer3", "layer4", "layer3,layer4", "layer2,layer3,layer4", "conv_block_after1", "embedding"]
DEV_HEADS = [[], ["--epochs", "10"], ["--epochs", "100"], ["--variance-weight", "0"], ["--variance-weight", "2"],
             ["--output-size", "128"], ["--depth", "1"], ["--width", "512"]]


def evaluate(nasd, data, detector, extra, tmp):
    out = os.path.join(tmp, "eval")
    r = subprocess.run(nasd + ["eval", "--data", data, "--out", out, "--detector", detector, "--seed", "0",
                               "--cache", os.path.join(tmp, "cache"), "--json", *extra],
                       check=True, stdout=subprocess.PIPE, text=True)
    result = json.loads(r.stdout)
    subprocess.run(["rm", "-rf", out], check=True)
    return {t["machine_type"]: (t["auc"], t["pauc"]) for t in result["types"]}, result["mean_auc"], result["mean_pauc"]


def synth(nasd, root, seed):
    subprocess.run(nasd + ["synth", "--out", root, "--seed", str(seed)], check=True, stdout=subprocess.DEVNULL)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nasd", default=f"dotnet {ROOT}/Cli/bin/Release/net10.0/nasd.dll")
    args = ap.parse_args()
    nasd = args.nasd.split()
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "dev")
        synth(nasd, data, 7)
        best = (-1.0, "")
        for taps in DEV_TAPS:
            types, auc, pauc = evaluate(nasd, data, "metric", ["--backbone", "shipped", "--tap", taps], tmp)
            print(f"| {taps} | " + " | ".join(f"{types[t][0]:.3f}" for t in TYPES) + f" | {auc:.3f} | {pauc:.3f} |", flush=True)
            best = max(best, (auc, taps))
        print(f"head settings on taps {best[1]}:")
        for head in DEV_HEADS:
            types, auc, pauc = evaluate(nasd, data, "metric", ["--backbone", "shipped", "--tap", best[1], *head], tmp)
            print(f"| {' '.join(head) or 'defaults'} | " + " | ".join(f"{types[t][0]:.3f}" for t in TYPES) + f" | {auc:.3f} | {pauc:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
