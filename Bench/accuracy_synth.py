#!/usr/bin/python3
"""AUC/pAUC on the synthetic benchmark: machines never seen by the shipped backbone's pretraining.

    /usr/bin/python3 Bench/accuracy_synth.py [--nasd "dotnet Cli/bin/Release/net10.0/nasd.dll"] [--seeds 0,1] [--out Bench/ACCURACY.md]
    /usr/bin/python3 Bench/accuracy_synth.py --dev      # tap and head-setting selection for the shipped backbone (prints, writes nothing)

Benchmark: `nasd synth --seed S` (4 types × IDs 0–1, 20 normal training clips, 20 + 20 test clips of 10 s per ID). The
shipped backbone was pretrained on IDs 100–111 of machine seed 0 (`nasd pretrain --synth`), so benchmark machines are
held out: seed 0 shares the generator's seed but not one machine ID, seed 1 shares nothing. Every detector runs through
`nasd eval` (one model per machine ID, seed 0, default settings); the table gives AUC/pAUC per machine type and the mean.
--dev evaluates candidate taps of the shipped backbone with the metric detector on `nasd synth --seed 7` (other machines
again), then the metric head's settings one at a time on the best taps: the only data the defaults were chosen on.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from accuracy_sections import replace_section

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
YAMNET = os.path.join(SHARED, "weights", "yamnet_spectra_in.tflite")
TYPES = ["fan", "pump", "slider", "valve"]
CONFIGS = [
    ("metric", "shipped ResNet (default taps)", []),
    ("mahalanobis", "shipped ResNet (default taps)", ["--backbone", "shipped"]),
    ("mahalanobis", "log-mel statistics", []),
    ("vae", "log-mel 60 bins, 11 frames", []),
    ("ae", "log-mel, 5 frames (DCASE 2020 baseline)", []),
    ("metric", "YAMNet layer14", ["--backbone", YAMNET, "--tap", "layer14", "--float-activations"]),
]
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
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--dev", action="store_true")
    ap.add_argument("--out", default=os.path.join(ROOT, "Bench", "ACCURACY.md"))
    args = ap.parse_args()
    nasd = args.nasd.split()
    start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        if args.dev:
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
        rows = []
        for seed in [int(s) for s in args.seeds.split(",")]:
            data = os.path.join(tmp, f"synth{seed}")
            synth(nasd, data, seed)
            for detector, features, extra in CONFIGS:
                types, auc, pauc = evaluate(nasd, data, detector, extra, tmp)
                rows.append((seed, detector, features, types, auc, pauc))
                print(f"seed {seed} {detector:12} {features:40} " + " ".join(f"{t} {types[t][0]:.3f}" for t in TYPES) + f" mean {auc:.3f} / {pauc:.3f}", flush=True)
            subprocess.run(["rm", "-rf", data], check=True)
    lines = ["## The synthetic benchmark (machines unseen in pretraining)\n",
             f"Reproduce: `dotnet build -c Release && /usr/bin/python3 Bench/accuracy_synth.py` (about {int(time.time() - start) // 60 + 1} "
             "minutes on 2 cores). Protocol in the script's docstring: `nasd synth --seed S` (4 types × IDs 0–1, 20 training and "
             "20 + 20 test clips of 10 s per ID), `nasd eval` with one model per machine ID, seed 0, default settings. The shipped "
             "backbone was pretrained on IDs 100–111 only. AUC / pAUC per machine type (mean over its IDs), then the mean over types.\n",
             "| seed | detector | features | " + " | ".join(TYPES) + " | mean AUC | mean pAUC |", "|---|---|---|" + "---|" * (len(TYPES) + 2)]
    for seed, det, feat, types, auc, pauc in rows:
        lines.append(f"| {seed} | {det} | {feat} | " + " | ".join(f"{types[t][0]:.3f} / {types[t][1]:.3f}" for t in TYPES) + f" | {auc:.3f} | {pauc:.3f} |")
    replace_section(args.out, "synth", "\n".join(lines))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
