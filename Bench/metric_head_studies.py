#!/usr/bin/python3
"""Studies of the metric head's options against its defaults and against Mahalanobis on the same features (issue 17).

    /usr/bin/python3 Bench/metric_head_studies.py [--nasd "dotnet Cli/bin/Release/net10.0/nasd.dll"] [--work /tmp/nasd-studies]
        [--cache DIR] [--studies input,exposure,pool,loss,taps,combined] [--backbones shipped,mn04] [--out TABLES.md]

Dev data only: `nasd synth --seed 2` and `--seed 3` (seeds 0/1 are for reporting) and the real sets of ../shared/data —
machine-tools (lathe, vmc: train/test folders), sensiml-fan and dcase2020-lite (flat folders, split by nasd eval) — each
as recorded and loudness-normalised (every clip scaled by one gain so that channel 0 has RMS −30 dBFS, written as float
WAV under --work; synth clips are already at −26 dBFS). Every configuration runs through `nasd eval` (one model per
machine ID, seed 0, --folds 1: AUC does not depend on the threshold) with a shared feature cache, so each backbone's
features are extracted once. Per set: the mean over machine types of the mean AUC/pAUC over their IDs, as `nasd eval`
reports; "real" = mean over the six real sets, "synth" = mean over the two seeds. Intervals: 90 % of 1000 bootstrap
resamples of the test clips (per machine ID, normal and anomalous clips resampled separately); Δ is the paired difference
to the head as it was before the studies (BASELINE), "− Mahalanobis" the paired difference to Mahalanobis on the same
features, both on the same resamples. Each evaluation's scores are kept in --work/results/ (one file per
configuration and set, claimed by a lock file while it runs), so a re-run only runs what is new and several runs (e.g.
one per backbone) share the work.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from scipy.stats import rankdata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
MN04 = os.path.join(SHARED, "weights", "mn04_as_mAP_432.pt")
BACKBONES = {
    "shipped": ("shipped ResNet (layer3,layer4)", ["--backbone", "shipped"]),
    "mn04": ("EfficientAT mn04_as (features.12,features.16)", ["--backbone", MN04, "--tap", "features.12,features.16"]),
}
# Real sets and their eval options: dcase2020-lite has IDs with a single normal training clip (no covariance), so one
# model per machine type there, as Bench/accuracy_lite.py does.
REAL = {"machine-tools": [], "sensiml-fan": [], "dcase2020-lite": ["--per-type"]}
SYNTH_SEEDS = [2, 3]
MAHALANOBIS = ("mahalanobis (reference)", ["--detector", "mahalanobis"])
# The head's options before the studies; every metric configuration below is that plus the options it names, so the
# tables keep their meaning whatever today's defaults are.
BASELINE = ["--head-input", "standardise", "--segment-pool", "mean"]
DEFAULTS = ("metric, before the studies (standardise, mean)", [])
# Each study: its variants, one option at a time against the defaults (and Mahalanobis on the same features).
STUDIES = {
    "input": ("Features into the head: per-feature standardisation vs Ledoit–Wolf whitening (with 0 epochs: the untrained head,"
              " a random projection of the whitened features — segment-level Mahalanobis seen through the head)",
              [("--head-input whiten", ["--head-input", "whiten"]), ("--head-input whiten --epochs 0", ["--head-input", "whiten", "--epochs", "0"])]),
    "exposure": ("Outlier exposure: the other machine IDs' training clips as negatives (Deep SAD term, weight η)",
                 [("--outlier-exposure", ["--outlier-exposure"]),
                  ("--outlier-exposure --negative-weight 0.1", ["--outlier-exposure", "--negative-weight", "0.1"])]),
    "pool": ("Segments pooled into the clip score: their distances (mean, max, top quarter), or their features before the head",
             [("--segment-pool features", ["--segment-pool", "features"]),
              ("--segment-pool features --epochs 300", ["--segment-pool", "features", "--epochs", "300"]),
              ("--segment-pool max", ["--segment-pool", "max"]), ("--segment-pool top", ["--segment-pool", "top"])]),
    "loss": ("The loss and training: variance weight, epochs, width, embedding size",
             [("--variance-weight 0", ["--variance-weight", "0"]), ("--variance-weight 2", ["--variance-weight", "2"]),
              ("--epochs 10", ["--epochs", "10"]), ("--epochs 100", ["--epochs", "100"]),
              ("--width 512", ["--width", "512"]), ("--depth 1", ["--depth", "1"])]),
    "combined": ("Whitening (the one option that helps on both backbones) with the others",
                 [("--head-input whiten --segment-pool features", ["--head-input", "whiten", "--segment-pool", "features"]),
                  ("--head-input whiten --segment-pool features --epochs 300", ["--head-input", "whiten", "--segment-pool", "features", "--epochs", "300"]),
                  ("--head-input whiten --variance-weight 0", ["--head-input", "whiten", "--variance-weight", "0"]),
                  ("--head-input whiten --segment-pool features --epochs 0", ["--head-input", "whiten", "--segment-pool", "features", "--epochs", "0"]),
                  ("--head-input whiten --segment-pool features --output-size 256",
                   ["--head-input", "whiten", "--segment-pool", "features", "--output-size", "256"]),
                  ("--head-input whiten --segment-pool features --depth 1", ["--head-input", "whiten", "--segment-pool", "features", "--depth", "1"])]),
}
TAPS = {
    "shipped": ["layer4", "layer2,layer3,layer4"],
    "mn04": ["features.16", "features.12"],
}


def pinned(extra):
    """A metric configuration's options with the BASELINE ones it does not set; other detectors' as they are."""
    if "--detector" in extra:
        return extra
    return [a for i in range(0, len(BASELINE), 2) if BASELINE[i] not in extra for a in BASELINE[i:i + 2]] + extra


def backbone_args(backbone, extra):
    """The backbone's options, without its --tap when the configuration names its own taps."""
    args = BACKBONES[backbone][1]
    if "--tap" in extra and "--tap" in args:
        i = args.index("--tap")
        args = args[:i] + args[i + 2:]
    return args


def normalise(src, dst):
    """Copies the WAV tree src to dst, each clip scaled so that channel 0 has RMS −30 dBFS, as float32 WAV."""
    import scipy.io.wavfile as wavfile
    for folder, _, files in os.walk(src):
        for f in sorted(files):
            if not f.lower().endswith(".wav"):
                continue
            out = os.path.join(dst, os.path.relpath(folder, src))
            if os.path.exists(os.path.join(out, f)):
                continue
            rate, x = wavfile.read(os.path.join(folder, f))
            scale = {np.dtype(np.int16): 32768.0, np.dtype(np.int32): 2147483648.0}.get(x.dtype, 1.0)
            x = x.astype(np.float64) / scale
            rms = np.sqrt(np.mean((x if x.ndim == 1 else x[:, 0]) ** 2))
            os.makedirs(out, exist_ok=True)
            wavfile.write(os.path.join(out, f), rate, (x * (10 ** (-30 / 20) / rms if rms > 0 else 1.0)).astype(np.float32))


def datasets(nasd, work):
    """(name, root, real, eval options) of every dev set, writing the synthetic and normalised copies under work when missing."""
    sets = []
    for seed in SYNTH_SEEDS:
        root = os.path.join(work, f"synth{seed}")
        if not os.path.isdir(root):
            subprocess.run(nasd + ["synth", "--out", root, "--seed", str(seed)], check=True, stdout=subprocess.DEVNULL)
        sets.append((f"synth {seed}", root, False, []))
    for name, options in REAL.items():
        sets.append((name, os.path.join(SHARED, "data", name), True, options))
        norm = os.path.join(work, f"{name}-norm")
        normalise(os.path.join(SHARED, "data", name), norm)
        sets.append((f"{name} (normalised)", norm, True, options))
    return sets


def evaluate(nasd, root, args, work, cache):
    """Test scores and labels per machine ID from `nasd eval`: {"type/id": (labels, scores)}."""
    out = tempfile.mkdtemp(prefix="eval-", dir=work)
    subprocess.run(nasd + ["eval", "--data", root, "--out", out, "--seed", "0", "--folds", "1", "--cache", cache, "--json", *args],
                   check=True, stdout=subprocess.DEVNULL)
    groups = {}
    for f in sorted(os.listdir(out)):
        if f.startswith("anomaly_score_") and f.endswith(".csv"):
            rows = [line.rsplit(",", 1) for line in open(os.path.join(out, f)) if line.strip()]
            labels = [1 if os.path.basename(name).startswith("anomaly") else 0 for name, _ in rows]
            group = f[len("anomaly_score_"):-len(".csv")]
            if 0 < sum(labels) < len(labels):   # an ID without both kinds of test clip has no AUC (as in nasd eval)
                groups[group] = (labels, [float(s) for _, s in rows])
    subprocess.run(["rm", "-rf", out], check=True)
    return groups


def roc_auc_score(y, s, max_fpr=None):
    """scikit-learn's roc_auc_score (ties as one threshold; with max_fpr the McClish-standardised partial AUC)."""
    y, s = np.asarray(y), np.asarray(s, dtype=np.float64)
    order = np.argsort(-s, kind="mergesort")
    y, s = y[order], s[order]
    last = np.r_[np.where(np.diff(s))[0], len(s) - 1]
    tps = np.r_[0, np.cumsum(y)[last]].astype(np.float64)
    fps = np.r_[0, (last + 1) - tps[1:]]
    tpr, fpr = tps / tps[-1], fps / fps[-1]
    if max_fpr is None:
        return np.trapz(tpr, fpr)
    stop = np.searchsorted(fpr, max_fpr, "right")
    tpr = np.r_[tpr[:stop], np.interp(max_fpr, fpr[stop - 1:stop + 1], tpr[stop - 1:stop + 1])]
    fpr = np.r_[fpr[:stop], max_fpr]
    partial = np.trapz(tpr, fpr)
    low, high = 0.5 * max_fpr ** 2, max_fpr
    return 0.5 * (1 + (partial - low) / (high - low))


def group_type(group):
    return group.rsplit("_id_", 1)[0]


def set_means(groups):
    """Mean over machine types of the mean AUC and pAUC over their IDs."""
    types = {}
    for g, (y, s) in groups.items():
        types.setdefault(group_type(g), []).append((roc_auc_score(y, s), roc_auc_score(y, s, max_fpr=0.1)))
    per_type = [np.mean(v, axis=0) for v in types.values()]
    return tuple(np.mean(per_type, axis=0))


def resample_plan(results_for_sets, rng, n=1000):
    """For every set and ID, the bootstrap indices (n × clips), stratified by label; shared by every configuration."""
    plan = {}
    for set_name, groups in results_for_sets.items():
        for g, (y, _) in groups.items():
            y = np.array(y)
            pos, neg = np.where(y == 1)[0], np.where(y == 0)[0]
            plan[(set_name, g)] = np.concatenate([rng.choice(pos, (n, len(pos))), rng.choice(neg, (n, len(neg)))], axis=1)
    return plan


BOOT_MEMO = {}


def boot_aucs(groups, set_name, plan):
    """Per resample, the set's mean-of-type-means AUC (vectorised Mann–Whitney with tied ranks); remembered per result."""
    if id(groups) not in BOOT_MEMO:
        BOOT_MEMO[id(groups)] = (groups, boot_aucs_of(groups, set_name, plan))
    return BOOT_MEMO[id(groups)][1]


def boot_aucs_of(groups, set_name, plan):
    types = {}
    for g, (y, s) in groups.items():
        idx = plan[(set_name, g)]
        y, s = np.array(y)[idx], np.array(s)[idx]
        ranks = rankdata(s, axis=1)
        npos = y.sum(axis=1)
        nneg = y.shape[1] - npos
        auc = ((ranks * y).sum(axis=1) - npos * (npos + 1) / 2) / (npos * nneg)
        types.setdefault(group_type(g), []).append(auc)
    return np.mean([np.mean(v, axis=0) for v in types.values()], axis=0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nasd", default=f"dotnet {ROOT}/Cli/bin/Release/net10.0/nasd.dll")
    ap.add_argument("--work", default="/tmp/nasd-studies")
    ap.add_argument("--cache", default=None, help="feature cache (default: WORK/cache)")
    ap.add_argument("--studies", default=",".join(["input", "exposure", "pool", "loss", "taps", "combined"]))
    ap.add_argument("--backbones", default=",".join(BACKBONES))
    ap.add_argument("--tables-only", action="store_true", help="run nothing: tables of the configurations already evaluated")
    ap.add_argument("--out", default=None, help="the tables, as Markdown (default: WORK/tables.md); docs/metric-head-studies.md quotes them")
    args = ap.parse_args()
    nasd = args.nasd.split()
    os.makedirs(args.work, exist_ok=True)
    cache = args.cache or os.path.join(args.work, "cache")
    results = os.path.join(args.work, "results")
    os.makedirs(results, exist_ok=True)
    sets = datasets(nasd, args.work)
    start = time.time()

    def run(backbone, label, extra):
        """{set: groups} of one configuration; a set another run is evaluating (its lock file exists) is waited for."""
        paths, waiting = {}, []
        extra = pinned(extra)
        for set_name, root, _, options in sets:
            key = f"{backbone}|{' '.join(extra)}|{set_name}"
            path = paths[set_name] = os.path.join(results, hashlib.sha1(key.encode()).hexdigest() + ".json")
            if os.path.exists(path):
                continue
            if args.tables_only:
                return None
            try:
                os.close(os.open(path + ".lock", os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                waiting.append(path)
                continue
            t = time.time()
            groups = evaluate(nasd, root, backbone_args(backbone, extra) + options + extra, args.work, cache)
            with open(path + ".tmp", "w") as f:
                json.dump({"key": key, "groups": groups}, f)
            os.replace(path + ".tmp", path)
            os.remove(path + ".lock")
            print(f"{backbone:8} {label:45} {set_name:28} AUC {set_means(groups)[0]:.3f}  ({time.time() - t:.0f} s)", flush=True)
        while not all(os.path.exists(p) for p in waiting):
            time.sleep(5)
        return {s: json.load(open(p))["groups"] for s, p in paths.items()}

    studies = args.studies.split(",")
    lines = []
    for backbone in args.backbones.split(","):
        reference = run(backbone, MAHALANOBIS[0], MAHALANOBIS[1])
        defaults = run(backbone, DEFAULTS[0], DEFAULTS[1])
        if reference is None or defaults is None:
            continue
        plan = resample_plan(defaults, np.random.default_rng(0))
        base_boot = {s: boot_aucs(g, s, plan) for s, g in defaults.items()}
        base_means = {s: set_means(g) for s, g in defaults.items()}
        for study in studies:
            if study == "taps":
                title = "Taps (features differ: each row's Mahalanobis on the same taps follows it)"
                variants = []
                for taps in TAPS[backbone]:
                    tap_args = ["--tap", taps]
                    variants += [(f"metric, --tap {taps}", tap_args), (f"mahalanobis, --tap {taps}", ["--detector", "mahalanobis", *tap_args])]
            else:
                title, variants = STUDIES[study]
            rows = [(MAHALANOBIS[0], reference), (DEFAULTS[0], defaults)]
            rows += [(label, run(backbone, label, extra)) for label, extra in variants]
            rows = [(label, results) for label, results in rows if results is not None]
            lines += table(f"{BACKBONES[backbone][0]} — {title}", sets, rows, plan, base_boot, base_means)
    out = args.out or os.path.join(args.work, "tables.md")
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"tables in {out} ({time.time() - start:.0f} s)")


def table(title, sets, rows, plan, base_boot, base_means):
    names = [s for s, _, _, _ in sets]
    short = {"machine-tools": "mt", "sensiml-fan": "fan", "dcase2020-lite": "d20"}
    def col(s):
        for k, v in short.items():
            s = s.replace(k, v)
        return s.replace(" (normalised)", " n").replace("synth ", "syn")
    out = [f"#### {title}", "",
           "| configuration | " + " | ".join(col(s) for s in names)
           + " | real AUC [90 %] | real Δ [90 %] | real − Mahalanobis [90 %] | real pAUC | synth AUC [90 %] | synth Δ [90 %] | synth − Mahalanobis [90 %] | synth pAUC |",
           "|---|" + "---|" * (len(names) + 8)]
    reference = rows[0][1]
    for label, results in rows:
        means = {s: set_means(results[s]) for s in names}
        boot = {s: boot_aucs(results[s], s, plan) for s in names}
        cells = [f"{means[s][0]:.3f}" for s in names]
        for real in (True, False):
            chosen = [s for s, _, r, _ in sets if r == real]
            auc = np.mean([means[s][0] for s in chosen])
            pauc = np.mean([means[s][1] for s in chosen])
            b = np.mean([boot[s] for s in chosen], axis=0)
            d = b - np.mean([base_boot[s] for s in chosen], axis=0)
            r = b - np.mean([boot_aucs(reference[s], s, plan) for s in chosen], axis=0)
            lo, hi = np.percentile(b, [5, 95])
            dlo, dhi = np.percentile(d, [5, 95])
            rlo, rhi = np.percentile(r, [5, 95])
            delta = auc - np.mean([base_means[s][0] for s in chosen])
            versus = auc - np.mean([set_means(reference[s])[0] for s in chosen])
            cells += [f"{auc:.3f} [{lo:.3f}, {hi:.3f}]", f"{delta:+.3f} [{dlo:+.3f}, {dhi:+.3f}]", f"{versus:+.3f} [{rlo:+.3f}, {rhi:+.3f}]", f"{pauc:.3f}"]
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    return out + [""]


if __name__ == "__main__":
    sys.exit(main())
