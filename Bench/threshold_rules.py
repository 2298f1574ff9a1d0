"""Threshold rules compared on the out-of-fold scores that 'threshold-study … JSON' writes (docs/decisions.md).

Usage: /usr/bin/python3 Bench/threshold_rules.py simulate
       /usr/bin/python3 Bench/threshold_rules.py STUDY.json…

simulate: gamma-distributed scores (shape 2, 10, 50; n scores), how often a new score from the same gamma lies above
          the plug-in 0.9 point of the maximum-likelihood gamma and above the predictive point that fit sets.
STUDY.json: per file, the false alarms and detections on its test clips of each rule, per ID as eval applies it (an ID
          that cannot be cross-fitted on its own takes its machine type's model). Rules: the plug-in gamma point or the
          predictive point; for machine-type models, folds in plain name order or per ID, and every out-of-fold score or
          only those of clips whose ID the fold model knew. The mean is over machine types of the mean over IDs, as eval
          reports it.
"""
import json
import sys

import numpy as np
from scipy import optimize, special, stats


def mle_shape(x):
    s = np.log(x.mean()) - np.log(x).mean()
    return optimize.brentq(lambda k: np.log(k) - special.digamma(k) - s, 1e-9, 1e12)


def plug_in(x, p=0.9):
    """GammaThreshold.Fit: the p point of the maximum-likelihood gamma (location 0)."""
    x = np.asarray(x, float)
    if x.min() <= 0 or x.max() == x.min() or len(x) < 2:
        return np.quantile(x, p)
    k = mle_shape(x)
    return stats.gamma.ppf(p, k, scale=x.mean() / k)


def predictive(x, p=0.9):
    """GammaThreshold.Predictive: x̄ · F⁻¹(p; 2k, 2nk), k the bias-corrected shape (n ≥ 4)."""
    x = np.asarray(x, float)
    n = len(x)
    if x.min() <= 0 or x.max() == x.min() or n < 2:
        return np.quantile(x, p)
    k = mle_shape(x)
    if n >= 4:
        k = (n - 3) * k / n + 2 / (3 * n)
    return x.mean() * stats.f.ppf(p, 2 * k, 2 * n * k)


def simulate():
    rng = np.random.default_rng(0)
    print("| shape | scores | mean of the MLE shape | bias-corrected | new scores above the plug-in point | above the predictive point |")
    print("| --- | --- | --- | --- | --- | --- |")
    for k in (2.0, 10.0, 50.0):
        for n in (4, 6, 10, 30, 150):
            shapes, above_plug, above_pred = [], [], []
            for _ in range(2000):
                x = rng.gamma(k, 1.0, n)
                new = rng.gamma(k, 1.0, 4000)
                shapes.append(mle_shape(x))
                above_plug.append((new > plug_in(x)).mean())
                above_pred.append((new > predictive(x)).mean())
            corrected = np.mean([(n - 3) * s / n + 2 / (3 * n) for s in shapes])
            print(f"| {k:g} | {n} | {np.mean(shapes):.2f} | {corrected:.2f} | {np.mean(above_plug):.3f} | {np.mean(above_pred):.3f} |")


def scores_of(record, scheme, known_only):
    """The study of the model eval uses for this ID and the out-of-fold scores a rule fits."""
    own = record["own"]
    if own.get("oof") is None and scheme in record:
        study = record[scheme]
        oof = study["oof"]
        if oof is None:
            return study, study.get("in_sample")
        if known_only:
            groups, fold_of = record["type_groups"], study["fold_of"]
            known = [oof[i] for i in range(len(oof)) if any(groups[j] == groups[i] and fold_of[j] != fold_of[i] for j in range(len(oof)))]
            return study, known if len(known) >= 2 else oof
        return study, oof
    return own, own["oof"] if own.get("oof") is not None else own.get("in_sample")


RULES = [
    ("before: name-order folds, every score, plug-in point", "type_name_order", False, plug_in),
    ("folds per ID, every score, plug-in point", "type_per_id", False, plug_in),
    ("folds per ID, known IDs' scores, plug-in point", "type_per_id", True, plug_in),
    ("name-order folds, every score, predictive point", "type_name_order", False, predictive),
    ("now: folds per ID, known IDs' scores, predictive point", "type_per_id", True, predictive),
]


def compare(path):
    records = json.load(open(path))
    for name, scheme, known_only, rule in RULES:
        per_type, k, n, d, a = {}, 0, 0, 0, 0
        for r in records:
            study, fitted = scores_of(r, scheme, known_only)
            if study.get("normal") is None:
                continue   # the detector could not be fitted
            threshold = rule(fitted)
            alarms = sum(s > threshold for s in study["normal"])
            k, n = k + alarms, n + len(study["normal"])
            d, a = d + sum(s > threshold for s in study["anomalous"]), a + len(study["anomalous"])
            if study["normal"]:
                per_type.setdefault(r["type"], []).append(alarms / len(study["normal"]))
        mean = np.mean([np.mean(v) for v in per_type.values()])
        print(f"| {path} | {name} | {mean:.3f} | {k}/{n} | {d}/{a} |")


if __name__ == "__main__":
    if sys.argv[1:] == ["simulate"]:
        simulate()
    else:
        print("| study | rule | mean false-alarm rate | false alarms | detections |")
        print("| --- | --- | --- | --- | --- |")
        for p in sys.argv[1:]:
            compare(p)
