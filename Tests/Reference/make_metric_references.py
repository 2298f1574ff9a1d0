#!/usr/bin/python3
"""Reference values for the detection metrics, from scikit-learn and SciPy (Debian python3-sklearn, python3-scipy).

    /usr/bin/python3 Tests/Reference/make_metric_references.py

Writes Tests/Fixtures/metrics/metrics.json:
  roc:    scores (with many ties) + labels -> roc_auc_score and roc_auc_score(max_fpr) for several max_fpr
  ledoit: float32 training rows + test rows -> LedoitWolf().fit mean, shrinkage_, and sqrt of the Mahalanobis form
  gamma:  positive scores -> scipy.stats.gamma.fit(x, floc=0) shape/scale and ppf at several percentiles
Values are printed with repr precision so the C# tests compare doubles to 1e-9.
"""
import json
import os

import numpy as np
import scipy.stats
import sklearn
from sklearn.covariance import LedoitWolf
from sklearn.metrics import roc_auc_score

OUT = os.path.join(os.path.dirname(__file__), "..", "Fixtures", "metrics", "metrics.json")
rng = np.random.default_rng(20261126)

roc = []
for case, (n_norm, n_anom, levels, shift) in enumerate([(20, 10, 5, 1.0), (50, 50, 1000, 0.3), (7, 3, 3, 0.0),
                                                          (100, 10, 8, 2.0), (30, 30, 2, 0.5), (12, 40, 10000, -0.5)]):
    normal = rng.normal(0, 1, n_norm)
    anomalous = rng.normal(shift, 1, n_anom)
    scores = np.round(np.concatenate([normal, anomalous]) * levels / 4) / levels  # coarse rounding makes ties
    labels = np.concatenate([np.zeros(n_norm, int), np.ones(n_anom, int)])
    perm = rng.permutation(len(scores))
    scores, labels = scores[perm], labels[perm]
    roc.append({"scores": scores.tolist(), "labels": labels.tolist(), "auc": float(roc_auc_score(labels, scores)),
                "pauc": {str(p): float(roc_auc_score(labels, scores, max_fpr=p)) for p in (0.05, 0.1, 0.3, 0.5)}})

ledoit = []
for n, d in [(40, 6), (12, 30), (200, 64), (3, 5), (50, 1)]:
    a = rng.normal(0, 1, (d, d)) / np.sqrt(d)
    x = (rng.normal(0, 1, (n, d)) @ a + rng.normal(0, 2, d)).astype(np.float32)
    test = (rng.normal(0, 1.5, (5, d)) @ a).astype(np.float32)
    lw = LedoitWolf().fit(x.astype(np.float64))
    diff = test.astype(np.float64) - lw.location_
    dist = np.sqrt(np.einsum("ij,ij->i", diff, np.linalg.solve(lw.covariance_, diff.T).T))
    ledoit.append({"rows": n, "dim": d, "x": x.ravel().tolist(), "test": test.ravel().tolist(),
                   "mean": lw.location_.tolist(), "shrinkage": float(lw.shrinkage_), "distances": dist.tolist()})

gamma = []
for k, theta, n in [(2.0, 0.5, 200), (0.7, 3.0, 50), (15.0, 0.01, 1000), (1.0, 1.0, 10)]:
    x = rng.gamma(k, theta, n)
    shape, loc, scale = scipy.stats.gamma.fit(x, floc=0)
    gamma.append({"scores": x.tolist(), "shape": float(shape), "scale": float(scale),
                  "ppf": {str(p): float(scipy.stats.gamma.ppf(p, shape, loc=0, scale=scale)) for p in (0.5, 0.9, 0.99)}})

os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump({"sklearn": sklearn.__version__, "scipy": scipy.__version__, "roc": roc, "ledoit": ledoit, "gamma": gamma}, f)
print(f"wrote {OUT}")
