"""Numbers behind Bench/ACCURACY.md: exact AUC/pAUC, paired stratified bootstrap, the committed per-clip scores."""
import csv
import gzip
import hashlib
import os

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "Bench", "accuracy")
BOOTSTRAP = 1000


def auc_pauc(y, s, max_fpr=0.1):
    """AUC and McClish-standardised pAUC (FPR <= max_fpr) exactly as scikit-learn's roc_auc_score computes them."""
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    distinct = np.where(np.diff(s))[0]
    idx = np.r_[distinct, y.size - 1]
    tps = np.cumsum(y)[idx]
    fps = 1 + idx - tps
    tpr = np.r_[0, tps] / tps[-1]
    fpr = np.r_[0, fps] / fps[-1]
    auc = np.trapz(tpr, fpr)
    stop = np.searchsorted(fpr, max_fpr, "right")
    x_interp = [fpr[stop - 1], fpr[stop]]
    y_interp = [tpr[stop - 1], tpr[stop]]
    tpr_p = np.append(tpr[:stop], np.interp(max_fpr, x_interp, y_interp))
    fpr_p = np.append(fpr[:stop], max_fpr)
    partial = np.trapz(tpr_p, fpr_p)
    min_area, max_area = 0.5 * max_fpr ** 2, max_fpr
    return auc, 0.5 * (1 + (partial - min_area) / (max_area - min_area))


def resamples(key, n_pos, n_neg):
    """The bootstrap's indices for one machine ID: fixed by its key, so every configuration sees the same resamples."""
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little"))
    return rng.integers(0, n_pos, (BOOTSTRAP, n_pos)), rng.integers(0, n_neg, (BOOTSTRAP, n_neg))


class Unit:
    """One machine type's test clips under one configuration: its AUC/pAUC (mean over its IDs) and their resamples."""

    def __init__(self, set_name, t, rows):
        self.name = t
        self.auc, self.pauc = [], []
        self.boot_auc, self.boot_pauc = [], []
        self.normals = self.anomalies = self.false_alarms = self.detections = 0
        for group in sorted({r[1] for r in rows}):
            g = sorted((r for r in rows if r[1] == group), key=lambda r: r[2])
            y = np.array([r[3] for r in g])
            s = np.array([r[4] for r in g])
            d = np.array([r[5] for r in g])
            self.normals += int((y == 0).sum())
            self.anomalies += int(y.sum())
            self.false_alarms += int(d[y == 0].sum())
            self.detections += int(d[y == 1].sum())
            if y.min() == y.max():
                continue   # AUC needs both labels (dcase2023-lite)
            a, p = auc_pauc(y, s)
            self.auc.append(a)
            self.pauc.append(p)
            pos, neg = s[y == 1], s[y == 0]
            ip, ineg = resamples(f"{set_name}/{t}/{group}", len(pos), len(neg))
            ba, bp = np.empty(BOOTSTRAP), np.empty(BOOTSTRAP)
            yb = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
            for b in range(BOOTSTRAP):
                ba[b], bp[b] = auc_pauc(yb, np.r_[pos[ip[b]], neg[ineg[b]]])
            self.boot_auc.append(ba)
            self.boot_pauc.append(bp)
        self.defined = bool(self.auc)
        if self.defined:
            self.value = (np.mean(self.auc), np.mean(self.pauc))
            self.boot = (np.mean(self.boot_auc, axis=0), np.mean(self.boot_pauc, axis=0))


def interval(boot):
    lo, hi = np.percentile(boot, [5, 95])
    return lo, hi


def scores_path(name):
    return os.path.join(OUT_DIR, f"scores-{name}.csv.gz")


def read_scores(name):
    """{(loudness, config): [(type, group, file, label, score, decision)]} from the committed scores file."""
    runs = {}
    if os.path.exists(scores_path(name)):
        with gzip.open(scores_path(name), "rt", newline="") as f:
            for r in csv.DictReader(f):
                runs.setdefault((r["loudness"], r["config"]), []).append(
                    (r["type"], r["group"], r["file"], int(r["label"]), float(r["score"]), int(r["decision"])))
    return runs


