#!/usr/bin/python3
"""AUC/pAUC of every detector on the small real sets in ../shared/data, with bootstrap intervals.

    /usr/bin/python3 Bench/accuracy_lite.py [--nasd "dotnet Cli/bin/Release/net10.0/nasd.dll"] [--out Bench/ACCURACY.md]

Protocol (the same as DatasetLayout's flat-folder split): per machine type, the normal clips of each machine ID, sorted
by name, alternate between training and test (first to training); every anomalous clip is a test clip. One model per
machine type is fitted on its training clips with `nasd fit` and the test clips are scored with `nasd score`.
sensiml-fan already has train/ and test/ folders. AUC and pAUC (max FPR 0.1) come from scikit-learn over all test clips
of a type; the 90 % intervals come from 1000 bootstrap resamples of the test clips (stratified: normals and anomalies
resampled separately). With 7–28 test clips per type the numbers are noisy: read the intervals.
"""
import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
from sklearn.metrics import roc_auc_score

from accuracy_sections import replace_section

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
YAMNET = os.path.join(SHARED, "weights", "yamnet_spectra_in.tflite")
CONFIGS = [
    ("metric", "shipped ResNet (default taps)", ["--backbone", "shipped"]),
    ("mahalanobis", "shipped ResNet (default taps)", ["--backbone", "shipped"]),
    ("mahalanobis", "log-mel statistics", ["--backbone", "none"]),
    ("ae", "log-mel, 5 frames", ["--epochs", "100"]),
    ("vae", "log-mel 60 bins, 11 frames", ["--epochs", "15"]),
    ("metric", "log-mel, 5 frames", ["--backbone", "none"]),
    ("mahalanobis", "YAMNet layer14+embedding", ["--backbone", YAMNET, "--tap", "layer14,embedding", "--float-activations"]),
    ("metric", "YAMNet layer14", ["--backbone", YAMNET, "--tap", "layer14", "--float-activations"]),
]


def split_flat(folder):
    files = sorted(f for f in os.listdir(folder) if f.lower().endswith(".wav"))
    train, test, seen = [], [], {}
    for f in files:
        m = re.match(r"(normal|anomaly)_id_(\d+)_", f)
        label, group = (m.group(1), m.group(2)) if m else (f.split("_")[0], "00")
        path = os.path.join(folder, f)
        if label == "anomaly":
            test.append(path)
        else:
            k = seen.get(group, 0)
            seen[group] = k + 1
            (train if k % 2 == 0 else test).append(path)
    return train, test


def datasets():
    lite = os.path.join(SHARED, "data", "dcase2020-lite")
    for t in sorted(os.listdir(lite)):
        yield f"dcase2020 {t}", *split_flat(os.path.join(lite, t))
    fan = os.path.join(SHARED, "data", "sensiml-fan")
    tr = sorted(os.path.join(fan, "train", f) for f in os.listdir(os.path.join(fan, "train")))
    te = sorted(os.path.join(fan, "test", f) for f in os.listdir(os.path.join(fan, "test")))
    yield "sensiml fan", tr, te


def bootstrap(y, s, rng, n=1000):
    pos, neg = np.where(y == 1)[0], np.where(y == 0)[0]
    aucs, paucs = [], []
    for _ in range(n):
        idx = np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])
        aucs.append(roc_auc_score(y[idx], s[idx]))
        paucs.append(roc_auc_score(y[idx], s[idx], max_fpr=0.1))
    return np.percentile(aucs, [5, 95]), np.percentile(paucs, [5, 95])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nasd", default=f"dotnet {ROOT}/Cli/bin/Release/net10.0/nasd.dll")
    ap.add_argument("--out", default=os.path.join(ROOT, "Bench", "ACCURACY.md"))
    args = ap.parse_args()
    nasd = args.nasd.split()
    rng = np.random.default_rng(0)
    rows, start = [], time.time()
    with tempfile.TemporaryDirectory() as tmp:
        cache = os.path.join(tmp, "cache")
        for name, train, test in datasets():
            y = np.array([1 if os.path.basename(f).startswith("anomaly") else 0 for f in test])
            for detector, features, extra in CONFIGS:
                model, scores = os.path.join(tmp, "m.safetensors"), os.path.join(tmp, "s.csv")
                subprocess.run(nasd + ["fit", "--train", train[0], *train[1:], "--out", model, "--detector", detector,
                                       "--cache", cache, "--seed", "0", *extra], check=True, stdout=subprocess.DEVNULL)
                subprocess.run(nasd + ["score", "--model", model, *test, "--csv", scores, "--cache", cache], check=True,
                               stdout=subprocess.DEVNULL)
                got = {r["file"]: float(r["score"]) for r in csv.DictReader(open(scores))}
                s = np.array([got[f] for f in test])
                auc, pauc = roc_auc_score(y, s), roc_auc_score(y, s, max_fpr=0.1)
                (alo, ahi), (plo, phi) = bootstrap(y, s, rng)
                rows.append((name, len(train), int((y == 0).sum()), int(y.sum()), detector, features, auc, alo, ahi, pauc, plo, phi))
                print(f"{name:22} {detector:12} {features:28} AUC {auc:.3f} [{alo:.2f}, {ahi:.2f}]  pAUC {pauc:.3f}", flush=True)
    lines = ["## The small real sets (../shared/data)\n",
             "Reproduce: `dotnet build -c Release && /usr/bin/python3 Bench/accuracy_lite.py` "
             f"(about {int(time.time() - start) // 60 + 1} minutes on 2 cores). Protocol in the script's docstring: per machine "
             "type, normals alternate between training and test per machine ID, all anomalies are test clips; one model "
             "per type; seed 0; default detector settings (metric: width 256, depth 2, output 64, 30 epochs; ae 100 epochs; "
             "vae 15 epochs; shipped ResNet: Detection/Backbones/nasd-resnet-small.safetensors at its default taps). Intervals: "
             "90 % stratified bootstrap over the test clips. **These sets have 7–28 test clips "
             "per type: differences inside the intervals mean nothing.**\n",
             "| set | train | test normal / anomalous | detector | features | AUC [90 % CI] | pAUC [90 % CI] |", "|---|---|---|---|---|---|---|"]
    for (name, ntr, nn, na, det, feat, auc, alo, ahi, pauc, plo, phi) in rows:
        lines.append(f"| {name} | {ntr} | {nn} / {na} | {det} | {feat} | {auc:.3f} [{alo:.2f}, {ahi:.2f}] | {pauc:.3f} [{plo:.2f}, {phi:.2f}] |")
    lines += ["", "Mean AUC per detector and features over the seven sets:", "", "| detector | features | mean AUC | mean pAUC |", "|---|---|---|---|"]
    for det, feat, _ in CONFIGS:
        sel = [r for r in rows if r[4] == det and r[5] == feat]
        lines.append(f"| {det} | {feat} | {np.mean([r[6] for r in sel]):.3f} | {np.mean([r[9] for r in sel]):.3f} |")
    replace_section(args.out, "lite", "\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
