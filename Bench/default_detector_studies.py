#!/usr/bin/python3
"""Offline studies for the default detector (issue 17, item 3): variants against Mahalanobis of the clip's mean row on
YAMNet layer14 (today's default), on the same per-segment features, dev data only.

    dotnet build Cli -c Release
    /usr/bin/python3 Bench/default_detector_studies.py --work /tmp/nasd-default-studies --cache DIR   # features, then the tables
    /usr/bin/python3 Bench/default_detector_studies.py --work W --cache DIR --tables-only               # no nasd runs

Data (dev only; nothing of synth seeds 0/1): the real sets of ../shared/data — machine-tools (lathe, vmc), dcase2020-lite,
sensiml-fan — as recorded and loudness-normalised (`nasd normalise --rms-dbfs -30`, the copies Bench/accuracy.py
makes), one model per machine type as Bench/accuracy.py runs them; and `nasd synth --seed 2` and `--seed 3` (one
model per machine ID; every generated clip is at -26 dBFS RMS already, so normalising is one constant gain and they
are used as generated). dcase2023-lite is left out, as in ACCURACY.md's mean (2 training clips per type).

Features. For each set and backbone this runs `nasd eval --detector mahalanobis --folds 1` once with the feature cache
(--cache), then reads every clip's per-segment rows from the cache (key = SHA-256 of the file's bytes, a newline and
the feature configuration, as Detection/Features/FeatureExtractors.cs writes it). The eval's own scores are the check
that the float64 numpy Mahalanobis here is the C# one. Backbones: YAMNet int8 with float activations at taps
layer10,layer12,layer14 (one row per 0.96 s patch, hop 0.48 s), EfficientAT mn04_as at features.12,features.16 (one
row per second), yamnet_256 at layer6.

Numbers: per machine ID AUC (and pAUC), mean over a type's IDs, mean over a set's types, then "real" = mean over the
three real sets and "synth" = mean over the two seeds. Intervals: 90 % of 1000 paired stratified bootstrap resamples
(Bench/accuracy_stats.resamples: each ID's normal and anomalous test clips resampled independently, indices fixed by
set/type/ID), of the candidate's mean and of its difference to the reference on the same resamples.

A second study (`--study below-layer10`, run after layer10 became the default) judges YAMNet taps layer6-layer9 and
layer11, alone and summed with layer10, against layer10 by the same rule on the same data.

The choice rule, written before any number of seeds 0/1 was looked at: a candidate replaces the default only if its
paired difference to the reference is >= +0.02 mean AUC on the real sets loudness-normalised AND on synth seeds 2/3,
with both 90 % intervals above 0, and it is not worse than the reference as recorded (difference >= 0); among such
candidates the one with the largest smaller-of-the-two difference, and of near-equals (within 0.005) the simplest.
"""
import argparse
import glob
import hashlib
import os
import pickle
import re
import shutil
import sys

import numpy as np
from scipy.linalg import solve_triangular

import accuracy
from accuracy import WEIGHTS, dataset_root, run
from accuracy_stats import auc_pauc, resamples, BOOTSTRAP

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

REAL_SETS = ["machine-tools", "dcase2020-lite", "sensiml-fan"]
SYNTH_SEEDS = [2, 3]
# name: (weights file, taps, extra eval arguments)
BACKBONES = {
    "yamnet": ("yamnet_spectra_in.tflite", ["layer10", "layer12", "layer14"], ["--float-activations"]),
    "mn04": ("mn04_as_mAP_432.pt", ["features.12", "features.16"], []),
    "yamnet256": ("yamnet_256_f32.h5", ["layer6"], []),
    # the second study (below layer10): YAMNet's 256- and 512-channel blocks before and after the default tap
    "yamnetlow": ("yamnet_spectra_in.tflite", ["layer6", "layer7", "layer8", "layer9", "layer11"], ["--float-activations"]),
}


# ---- data ----------------------------------------------------------------------------------------------------------

def units_of():
    """(set, loudness) pairs studied; synth seeds only as generated (already loudness-normalised)."""
    return [(s, l) for s in REAL_SETS for l in ("recorded", "normalised")] + [(f"synth{s}", "recorded") for s in SYNTH_SEEDS]


def group_of(file_name):
    m = re.search(r"(id_\d+)", file_name)
    return m.group(1) if m else "all"


def layout(root, name, eval_out):
    """Models of a set: [(type, model group, train paths, [(group, path, label)])] from `nasd eval`'s score CSVs
    (its split of flat folders) and the type folders; one model per type, per machine ID for synth sets."""
    per_id = name.startswith("synth")
    models = []
    for t in sorted(os.listdir(root)):
        folder = os.path.join(root, t)
        tests = []
        for f in sorted(glob.glob(os.path.join(eval_out, f"anomaly_score_{t}_*.csv"))):
            group = os.path.basename(f)[len(f"anomaly_score_{t}_"):-len(".csv")]
            for line in open(f):
                clip = line.rsplit(",", 1)[0]
                path = next(p for p in (os.path.join(folder, "test", clip), os.path.join(folder, clip)) if os.path.exists(p))
                tests.append((group, path, 1 if "anomaly" in clip else 0))
        test_paths = {p for _, p, _ in tests}
        if os.path.isdir(os.path.join(folder, "train")):
            train = sorted(glob.glob(os.path.join(folder, "train", "*.wav")))
        else:
            train = sorted(p for p in glob.glob(os.path.join(folder, "*.wav")) if p not in test_paths and "anomaly" not in os.path.basename(p))
        if per_id:
            for g in sorted({g for g, _, _ in tests}):
                models.append((t, g, [p for p in train if group_of(os.path.basename(p)) == g], [x for x in tests if x[0] == g]))
        else:
            models.append((t, "all", train, tests))
    return models


def eval_scores(eval_out):
    scores = {}
    for f in glob.glob(os.path.join(eval_out, "anomaly_score_*.csv")):
        for line in open(f):
            clip, s = line.rsplit(",", 1)
            scores[(os.path.basename(f), clip)] = float(s)
    return scores


class Features:
    """Per-segment rows of clips from the nasd feature cache."""

    def __init__(self, cache, backbone):
        weights, taps, _ = BACKBONES[backbone]
        sha = hashlib.sha256(open(os.path.join(WEIGHTS, weights), "rb").read()).hexdigest()
        self.config = f"backbone:{sha}:{','.join(taps)}:ch0"
        self.cache = cache

    def rows(self, path):
        key = hashlib.sha256(open(path, "rb").read() + b"\n" + self.config.encode()).hexdigest()
        found = glob.glob(os.path.join(self.cache, key + ".*.npy"))
        if not found:
            sys.exit(f"default_detector_studies.py: {path}: not in the feature cache ({self.config})")
        levels = [int(x) for x in os.path.basename(found[0])[len(key) + 1:-len(".npy")].split("-")]
        return np.load(found[0]).astype(np.float64), levels


def extract(work, cache, name, loudness, backbone):
    """Runs Mahalanobis through nasd eval (fills the cache); returns the eval folder (kept for the split and the check)."""
    root = dataset_root(name, loudness, work)
    out = os.path.join(work, "eval", f"{name}-{loudness}-{backbone}")
    if os.path.exists(os.path.join(out, "done")):
        return root, out
    shutil.rmtree(out, ignore_errors=True)
    weights, taps, extra = BACKBONES[backbone]
    per_type = [] if name.startswith("synth") else ["--per-type"]
    run(["eval", "--data", root, "--out", out, "--detector", "mahalanobis", "--seed", "0", "--folds", "1", "--cache", cache,
         "--backbone", os.path.join(WEIGHTS, weights), "--tap", ",".join(taps), *extra, *per_type])
    open(os.path.join(out, "done"), "w").close()
    return root, out


# ---- detectors (float64) -------------------------------------------------------------------------------------------

class Gaussian:
    """Ledoit–Wolf Gaussian exactly as Detection/Detectors/LedoitWolfGaussian.cs (scikit-learn's LedoitWolf)."""

    def __init__(self, x):
        n, d = x.shape
        self.mean = x.mean(0)
        c = x - self.mean
        s = c.T @ c / n
        trace = np.trace(s)
        mu = trace / d
        shrinkage = 0.0
        if d > 1:
            beta_sum = ((c ** 2).sum(1) ** 2).sum()
            delta_sum = (s ** 2).sum()
            beta = (beta_sum / n - delta_sum) / (d * n)
            delta = (delta_sum - 2 * mu * trace + d * mu * mu) / d
            beta = min(beta, delta)
            shrinkage = 0.0 if beta == 0 else beta / delta
        cov = (1 - shrinkage) * s + shrinkage * mu * np.eye(d)
        self.chol = np.linalg.cholesky(cov)

    def whiten(self, x):
        return solve_triangular(self.chol, (x - self.mean).T, lower=True).T

    def distance(self, x):
        return np.sqrt((self.whiten(x) ** 2).sum(1))


def folds(n):
    k = min(5, n)
    return [np.arange(n) % k == f for f in range(k)]


def standardised(score_fn, train, test):
    """Scores of test clips as z-values of the out-of-fold spread of the training clips' scores (K = min(5, n) folds)."""
    oof = np.empty(len(train))
    for held in folds(len(train)):
        oof[held] = score_fn([t for t, h in zip(train, held) if not h], [t for t, h in zip(train, held) if h])
    s = score_fn(train, test)
    return (s - oof.mean()) / max(oof.std(), 1e-12)


def mean_rows(clips):
    return np.stack([c.mean(0) for c in clips])


def maha_mean(train, test):
    return Gaussian(mean_rows(train)).distance(mean_rows(test))


def maha_mean_std(train, test):
    both = lambda clips: np.stack([np.r_[c.mean(0), c.std(0)] for c in clips])
    return Gaussian(both(train)).distance(both(test))


def transformed(fn, f):
    """A detector on element-wise transformed rows (ReLU6 activations are skewed; a Gaussian fits their root or log better)."""
    return lambda train, test: fn([f(c) for c in train], [f(c) for c in test])


def maha_patch(pool):
    def score(train, test):
        g = Gaussian(np.concatenate(train))
        out = []
        for c in test:
            d = np.sort(g.distance(c))[::-1]
            out.append(d.mean() if pool == "mean" else d[0] if pool == "max" else d[:max(1, -(-len(d) // 4))].mean())
        return np.array(out)
    return score


def knn_patch(space):
    """Mean over a test clip's segments of the distance to the nearest training segment (standardised or whitened)."""
    def score(train, test):
        rows = np.concatenate(train)
        if space == "whitened":
            g = Gaussian(rows)
            f = g.whiten
        else:
            m, sd = rows.mean(0), rows.std(0) + 1e-12
            f = lambda x: (x - m) / sd
        ref = f(rows)
        ref_sq = (ref ** 2).sum(1)
        out = []
        for c in test:
            q = f(c)
            d2 = (q ** 2).sum(1)[:, None] + ref_sq[None, :] - 2 * q @ ref.T
            out.append(np.sqrt(np.maximum(d2.min(1), 0)).mean())
        return np.array(out)
    return score


def pca_residual(share):
    """Norm of the clip's mean row outside the principal subspace that holds `share` of the training variance."""
    def score(train, test):
        x = mean_rows(train)
        m = x.mean(0)
        _, sv, vt = np.linalg.svd(x - m, full_matrices=False)
        keep = int(np.searchsorted(np.cumsum(sv ** 2) / (sv ** 2).sum(), share) + 1)
        p = vt[:keep]
        r = mean_rows(test) - m
        return np.sqrt(((r - (r @ p.T) @ p) ** 2).sum(1))
    return score


def view(features, backbone, levels):
    """Columns of the given levels of one backbone's rows."""
    def pick(clip):
        rows, sizes = clip[backbone]
        starts = np.r_[0, np.cumsum(sizes)]
        names = BACKBONES[backbone][1]
        return np.concatenate([rows[:, starts[names.index(l)]:starts[names.index(l) + 1]] for l in levels], axis=1)
    return [pick(c) for c in features]


def single(backbone, levels, fn):
    return lambda train, test: fn(view(train, backbone, levels), view(test, backbone, levels))


def raw_sum(parts):
    return lambda train, test: sum(single(b, [l], maha_mean)(train, test) for b, l in parts)


def z_sum(parts, fn=maha_mean):
    return lambda train, test: sum(standardised(single(b, levels, fn), train, test) for b, levels in parts)


REFERENCE = "Mahalanobis, mean row, YAMNet layer14 (the reference: the default before this study)"
CANDIDATES = {
    REFERENCE: single("yamnet", ["layer14"], maha_mean),
    "Mahalanobis, mean row, YAMNet layer10": single("yamnet", ["layer10"], maha_mean),
    "Mahalanobis, mean row, YAMNet layer12": single("yamnet", ["layer12"], maha_mean),
    "Mahalanobis, mean row, mn04 features.12": single("mn04", ["features.12"], maha_mean),
    "Mahalanobis, mean row, mn04 features.16": single("mn04", ["features.16"], maha_mean),
    "Mahalanobis, mean row, yamnet_256 layer6": single("yamnet256", ["layer6"], maha_mean),
    "pooling: mean+std rows, one Gaussian (YAMNet layer14)": single("yamnet", ["layer14"], maha_mean_std),
    "pooling: per-patch Gaussian, mean of patch distances": single("yamnet", ["layer14"], maha_patch("mean")),
    "pooling: per-patch Gaussian, max of patch distances": single("yamnet", ["layer14"], maha_patch("max")),
    "pooling: per-patch Gaussian, mean of top quarter": single("yamnet", ["layer14"], maha_patch("top")),
    "taps: layer10 + layer14, distances summed (nasd --tap layer10,layer14)": raw_sum([("yamnet", "layer10"), ("yamnet", "layer14")]),
    "taps: layer10 + layer12 + layer14, distances summed": raw_sum([("yamnet", "layer10"), ("yamnet", "layer12"), ("yamnet", "layer14")]),
    "taps: layer10 + layer14, z-scored by out-of-fold spread, summed": z_sum([("yamnet", ["layer10"]), ("yamnet", ["layer14"])]),
    "backbones: YAMNet l14 + mn04 f12, z-summed": z_sum([("yamnet", ["layer14"]), ("mn04", ["features.12"])]),
    "backbones: YAMNet l14 + mn04 f16, z-summed": z_sum([("yamnet", ["layer14"]), ("mn04", ["features.16"])]),
    "backbones: YAMNet l14 + yamnet_256 l6, z-summed": z_sum([("yamnet", ["layer14"]), ("yamnet256", ["layer6"])]),
    "backbones: YAMNet l14 + mn04 f12 + yamnet_256 l6, z-summed": z_sum(
        [("yamnet", ["layer14"]), ("mn04", ["features.12"]), ("yamnet256", ["layer6"])]),
    "backbones: YAMNet l14 ‖ mn04 f12 concatenated, one Gaussian": lambda train, test: maha_mean(
        [np.c_[a.mean(0, keepdims=True), b.mean(0, keepdims=True)] for a, b in zip(view(train, "yamnet", ["layer14"]), view(train, "mn04", ["features.12"]))],
        [np.c_[a.mean(0, keepdims=True), b.mean(0, keepdims=True)] for a, b in zip(view(test, "yamnet", ["layer14"]), view(test, "mn04", ["features.12"]))]),
    "transform: √ of the rows, then Mahalanobis of the mean row (YAMNet layer14)": single(
        "yamnet", ["layer14"], transformed(maha_mean, lambda x: np.sqrt(np.maximum(x, 0)))),
    "transform: log(0.01 + rows), then Mahalanobis of the mean row (YAMNet layer14)": single(
        "yamnet", ["layer14"], transformed(maha_mean, lambda x: np.log(0.01 + np.maximum(x, 0)))),
    "taps: layer10 + layer12, distances summed": raw_sum([("yamnet", "layer10"), ("yamnet", "layer12")]),
    "taps: layer10 + layer12 + layer14, z-scored by out-of-fold spread, summed": z_sum(
        [("yamnet", ["layer10"]), ("yamnet", ["layer12"]), ("yamnet", ["layer14"])]),
    "backbones: YAMNet l10 + mn04 f12, z-summed": z_sum([("yamnet", ["layer10"]), ("mn04", ["features.12"])]),
    "backbones: YAMNet l10 + l14 + mn04 f12, z-summed": z_sum([("yamnet", ["layer10"]), ("yamnet", ["layer14"]), ("mn04", ["features.12"])]),
    "taps: layer12 + layer14, z-scored by out-of-fold spread, summed": z_sum([("yamnet", ["layer12"]), ("yamnet", ["layer14"])]),
    "kNN (k 1) on patch rows, standardised (YAMNet layer14)": single("yamnet", ["layer14"], knn_patch("standardised")),
    "kNN (k 1) on patch rows, Ledoit–Wolf whitened (YAMNet layer14)": single("yamnet", ["layer14"], knn_patch("whitened")),
    "PCA residual of the mean row, outside 90 % of the variance (YAMNet layer14)": single("yamnet", ["layer14"], pca_residual(0.90)),
    "PCA residual of the mean row, outside 99 % of the variance (YAMNet layer14)": single("yamnet", ["layer14"], pca_residual(0.99)),
    # the second study: taps below and around layer10, against layer10 (--reference layer10)
    "Mahalanobis, mean row, YAMNet layer6": single("yamnetlow", ["layer6"], maha_mean),
    "Mahalanobis, mean row, YAMNet layer7": single("yamnetlow", ["layer7"], maha_mean),
    "Mahalanobis, mean row, YAMNet layer8": single("yamnetlow", ["layer8"], maha_mean),
    "Mahalanobis, mean row, YAMNet layer9": single("yamnetlow", ["layer9"], maha_mean),
    "Mahalanobis, mean row, YAMNet layer11": single("yamnetlow", ["layer11"], maha_mean),
    "taps: layer8 + layer10, distances summed": raw_sum([("yamnetlow", "layer8"), ("yamnet", "layer10")]),
    "taps: layer9 + layer10, distances summed": raw_sum([("yamnetlow", "layer9"), ("yamnet", "layer10")]),
    "taps: layer9 + layer10 + layer11, distances summed": raw_sum([("yamnetlow", "layer9"), ("yamnet", "layer10"), ("yamnetlow", "layer11")]),
}
# --study below-layer10: these candidates, judged against the default they would replace
SECOND_REFERENCE = "Mahalanobis, mean row, YAMNet layer10"
SECOND_STUDY = [SECOND_REFERENCE, "Mahalanobis, mean row, yamnet_256 layer6"] + [
    f"Mahalanobis, mean row, YAMNet layer{k}" for k in (6, 7, 8, 9, 11)] + [
    "taps: layer8 + layer10, distances summed", "taps: layer9 + layer10, distances summed",
    "taps: layer9 + layer10 + layer11, distances summed"]


# ---- runs, numbers, tables -----------------------------------------------------------------------------------------

def check_against_nasd(models, feats, backbone, eval_out):
    """The float64 Mahalanobis here (distances of every tap level summed, as nasd's detector) against nasd eval's scores."""
    scores = eval_scores(eval_out)
    worst = 0.0
    for t, g, train, tests in models:
        fit = raw_sum([(backbone, l) for l in BACKBONES[backbone][1]])
        ours = fit([feats[p] for p in train], [feats[p] for _, p, _ in tests])
        for (group, path, _), s in zip(tests, ours):
            theirs = scores[(f"anomaly_score_{t}_{group}.csv", os.path.basename(path))]
            worst = max(worst, abs(s - theirs) / abs(theirs))
    if worst > 1e-6:
        sys.exit(f"default_detector_studies.py: numpy Mahalanobis differs from nasd eval's by {worst:.2e} ({backbone})")
    return worst


def scored(work, cache, name, loudness, wanted):
    """{candidate: [(type, group, labels, scores)]} of one set and loudness, computing only what is not stored yet."""
    path = os.path.join(work, "results", f"{name}-{loudness}.pkl")
    done = pickle.load(open(path, "rb")) if os.path.exists(path) else {}
    todo = [c for c in wanted if c not in done]
    if not todo:
        return done
    feats, models = {}, None
    for backbone in BACKBONES:
        root, out = extract(work, cache, name, loudness, backbone)
        models = models or layout(root, name, out)
        reader = Features(cache, backbone)
        clips = {p for _, _, train, tests in models for p in train + [x[1] for x in tests]}
        for p in clips:
            feats.setdefault(p, {})[backbone] = reader.rows(p)
        rel = check_against_nasd(models, feats, backbone, out)
        print(f"{name} {loudness} {backbone}: numpy vs nasd eval max relative difference {rel:.1e}", flush=True)
    for c in todo:
        rows = []
        for t, g, train, tests in models:
            s = CANDIDATES[c]([feats[p] for p in train], [feats[p] for _, p, _ in tests])
            for group in sorted({x[0] for x in tests}):
                sel = [i for i, x in enumerate(tests) if x[0] == group]
                rows.append((t, group, np.array([tests[i][2] for i in sel]), s[sel]))
        done[c] = rows
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pickle.dump(done, open(path + ".tmp", "wb"))
    os.replace(path + ".tmp", path)
    return done


def boot_auc(key, y, s):
    """AUC of the resampled clips (the same resamples as Bench/accuracy_stats for the key), all at once."""
    pos, neg = s[y == 1], s[y == 0]
    ip, ineg = resamples(key, len(pos), len(neg))
    wins = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    wp, wn = np.zeros((BOOTSTRAP, len(pos))), np.zeros((BOOTSTRAP, len(neg)))
    np.add.at(wp, (np.arange(BOOTSTRAP)[:, None], ip), 1)
    np.add.at(wn, (np.arange(BOOTSTRAP)[:, None], ineg), 1)
    return ((wp @ wins) * wn).sum(1) / (len(pos) * len(neg))


def set_numbers(name, rows):
    """(AUC, pAUC, bootstrap AUCs) of a set: mean over its types of the mean over their machine IDs."""
    per_type = {}
    for t, group, y, s in rows:
        if 0 < y.sum() < len(y):
            a, p = auc_pauc(y, s)
            per_type.setdefault(t, []).append((a, p, boot_auc(f"{name}/{t}/{group}", y, s)))
    types = list(per_type.values())
    return (np.mean([np.mean([x[0] for x in ids]) for ids in types]), np.mean([np.mean([x[1] for x in ids]) for ids in types]),
            np.mean([np.mean([x[2] for x in ids], axis=0) for ids in types], axis=0))


def ci(boot):
    lo, hi = np.percentile(boot, [5, 95])
    return f"[{lo:+.3f}, {hi:+.3f}]" if lo < 0 or hi < 0 else f"[{lo:.3f}, {hi:.3f}]"


def signed_ci(boot):
    lo, hi = np.percentile(boot, [5, 95])
    return f"[{lo:+.3f}, {hi:+.3f}]"


def tables(results, candidates, reference=REFERENCE):
    groups = {"real, normalised": [(s, "normalised") for s in REAL_SETS], "real, recorded": [(s, "recorded") for s in REAL_SETS],
              "synth 2/3": [(f"synth{s}", "recorded") for s in SYNTH_SEEDS]}
    numbers = {c: {u: set_numbers(u[0], results[u][c]) for us in groups.values() for u in us} for c in candidates}
    agg = {c: {g: (np.mean([numbers[c][u][0] for u in us]), np.mean([numbers[c][u][1] for u in us]),
                   np.mean([numbers[c][u][2] for u in us], axis=0)) for g, us in groups.items()} for c in candidates}
    head = ["candidate", "mt n", "d20 n", "mt", "d20", "syn2", "syn3"]
    for g in groups:
        head += [f"{g} AUC [90 %]", f"{g} − reference [90 %]"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    verdicts = {}
    for c in candidates:
        cells = [c] + [f"{numbers[c][u][0]:.3f}" for u in [("machine-tools", "normalised"), ("dcase2020-lite", "normalised"),
                                                            ("machine-tools", "recorded"), ("dcase2020-lite", "recorded"),
                                                            ("synth2", "recorded"), ("synth3", "recorded")]]
        diffs = {}
        for g in groups:
            a, _, b = agg[c][g]
            d = b - agg[reference][g][2]
            diffs[g] = (a - agg[reference][g][0], np.percentile(d, 5))
            cells += [f"{a:.3f} {ci(b)}", "—" if c == reference else f"{a - agg[reference][g][0]:+.3f} {signed_ci(d)}"]
        lines.append("| " + " | ".join(cells) + " |")
        verdicts[c] = (diffs["real, normalised"][0] >= 0.02 and diffs["synth 2/3"][0] >= 0.02 and diffs["real, normalised"][1] > 0
                       and diffs["synth 2/3"][1] > 0 and diffs["real, recorded"][0] >= 0, min(diffs["real, normalised"][0], diffs["synth 2/3"][0]))
    return "\n".join(lines), verdicts, agg


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nasd", default=f"dotnet {ROOT}/Cli/bin/Release/net10.0/nasd.dll")
    ap.add_argument("--work", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "nasd-default-studies"))
    ap.add_argument("--cache", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "nasd-default-studies", "cache"))
    ap.add_argument("--candidates", default="", help="comma-free substrings: only candidates whose name contains one (repeatable via |)")
    ap.add_argument("--tables-only", action="store_true", help="only the tables, from the stored results")
    ap.add_argument("--study", choices=["first", "below-layer10"], default="first",
                    help="first: every candidate against layer14 (the default then); below-layer10: taps around layer10 against it")
    args = ap.parse_args()
    accuracy.NASD.extend(args.nasd.split())
    reference, pool = (REFERENCE, list(CANDIDATES)) if args.study == "first" else (SECOND_REFERENCE, SECOND_STUDY)
    wanted = [c for c in pool if not args.candidates or c == reference or any(k in c for k in args.candidates.split("|"))]
    results = {}
    for name, loudness in units_of():
        if args.tables_only:
            results[(name, loudness)] = pickle.load(open(os.path.join(args.work, "results", f"{name}-{loudness}.pkl"), "rb"))
        else:
            results[(name, loudness)] = scored(args.work, args.cache, name, loudness, wanted)
    wanted = [c for c in wanted if all(c in r for r in results.values())]
    table, verdicts, _ = tables(results, wanted, reference)
    print(table)
    print()
    passing = sorted((v[1], c) for c, v in verdicts.items() if v[0])
    best = max((v[1], c) for c, v in verdicts.items() if c != reference)
    print(f"choice rule: {'adopt ' + passing[-1][1] if passing else 'nothing passes'}; "
          f"best smaller-of-(real normalised, synth) difference: {best[0]:+.3f} ({best[1]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
