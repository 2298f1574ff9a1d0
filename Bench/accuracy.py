#!/usr/bin/python3
"""Every detector × backbone on every dev set, as recorded and loudness-normalised: Bench/accuracy/*.csv and ACCURACY.md.

    dotnet build Cli -c Release
    /usr/bin/python3 Bench/accuracy.py                                    # real sets, both loudness variants, then the tables
    /usr/bin/python3 Bench/accuracy.py --sets synth0,synth1               # the synthetic benchmark (nasd synth --seed 0 and 1)
    /usr/bin/python3 Bench/accuracy.py --sets machine-tools --configs metric/mn04,mahalanobis/mn04 --loudness normalised
    /usr/bin/python3 Bench/accuracy.py --extra-backbone resnet-v2=nasd-resnet-v2.safetensors:layer3,layer4
    /usr/bin/python3 Bench/accuracy.py --tables-only                      # rebuild ACCURACY.md from the committed CSVs

Protocol. Each set is a DCASE-layout folder evaluated by `nasd eval` (seed 0, default detector settings, the feature
cache under --cache): machine-tools (lathe, vmc; their train/ and test/ folders), dcase2020-lite (flat folders: per
machine ID the normal clips alternate between training and test, every anomaly is a test clip; DatasetLayout's split,
the same as the former accuracy_lite.py), sensiml-fan (train/ and test/ as given) and dcase2023-lite (its DCASE 2023
names, one section per type, 2 training and 2 test clips per type) with one model per machine type (`--per-type`);
`nasd synth --seed 0|1` with one model per machine ID, as DCASE 2020 ranks. "normalised" runs on copies written by
`nasd normalise --rms-dbfs -30` (channel 0 at -30 dBFS RMS, 32-bit float) into --work, so loudness alone tells nothing.

Numbers. Per-clip scores and decisions go to Bench/accuracy/scores-<set>.csv.gz; per machine type and per set
(mean over types, as DCASE ranks) AUC and pAUC (FPR <= 0.1, McClish-standardised as scikit-learn's max_fpr) with 90 %
stratified bootstrap intervals (1000 resamples of each machine ID's normal and anomalous test clips, independently;
the resampled indices depend only on the set, type and ID, so two configurations are compared on the same resamples),
and the false-alarm and detection rates of the decision CSVs go to Bench/accuracy/real.csv or synth.csv. Intervals of a
mean over sets resample every set's clips at once. Nothing is tuned here: detector settings are the defaults and the
taps are in BACKBONES below, checked on synth seed 2 by Bench/accuracy_taps.py.

Time, measured on the 2-vCPU development machine while four other jobs shared it (nice 15, load 10-30, features
cached per clip content after their first run): mahalanobis+knn over the 7 backbones, per set and loudness:
machine-tools 3 min, dcase2020-lite 5 min, sensiml-fan 2-5 min, dcase2023-lite 2 min; metric over the 7 backbones:
machine-tools 4 min, dcase2020-lite 8-9 min, sensiml-fan 9-28 min; ae+vae: machine-tools 9 min; synth seed 0 (one
loudness) mahalanobis+knn 21 min. The whole real grid is about 2-3 hours on such a shared machine; the synthetic
benchmark about as much per loudness variant. On an idle machine expect a fraction of that.
"""
import argparse
import csv
import datetime
import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

import accuracy_tables
from accuracy_tables import LOUDNESS, REAL_SETS, SYNTH_SETS
from accuracy_stats import OUT_DIR, Unit, auc_pauc, interval, read_scores, scores_path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
DATA, WEIGHTS = os.path.join(SHARED, "data"), os.path.join(SHARED, "weights")
RMS_DBFS = -30

# name: (label, eval arguments, taps, where the taps come from)
BACKBONES = {
    "logmel": ("log-mel", ["--backbone", "none"], "", "metric: 5 stacked frames; mahalanobis, knn: clip statistics"),
    "shipped": ("shipped ResNet v1", ["--backbone", "shipped"], "layer3,layer4", "default taps, chosen on synth seed 7"),
    "yamnet": ("YAMNet int8 (float activations)",
               ["--backbone", os.path.join(WEIGHTS, "yamnet_spectra_in.tflite"), "--tap", "layer14", "--float-activations"],
               "layer14", "the README's example; on synth seed 2 level with `embedding`, above layer10/12"),
    "yamnet10": ("YAMNet int8 (float activations)",
                 ["--backbone", os.path.join(WEIGHTS, "yamnet_spectra_in.tflite"), "--tap", "layer10", "--float-activations"],
                 "layer10", "the default's tap: real sets (both loudness variants) and synth seeds 2/3, Bench/default_detector_studies.py"),
    "yamnet256": ("yamnet_256", ["--backbone", os.path.join(WEIGHTS, "yamnet_256_f32.h5"), "--tap", "layer6"], "layer6",
                  "docs/backbone-miniresnet.md, the best of its look at machine-tools (reported data); also best on synth seed 2"),
    "mn04": ("EfficientAT mn04_as", ["--backbone", os.path.join(WEIGHTS, "mn04_as_mAP_432.pt"), "--tap", "features.12"],
             "features.12", "docs/backbone-efficientat.md's example; on synth seed 2 level with features.15, above features.9"),
    "miniresnet": ("MiniResNet", ["--backbone", os.path.join(WEIGHTS, "miniresnet_2_stacks_backbone.h5"), "--tap", "conv3"],
                   "conv3", "docs/backbone-miniresnet.md, the best of its look at machine-tools (reported data); also best on synth seed 2"),
    "miniresnetv2": ("MiniResNetV2", ["--backbone", os.path.join(WEIGHTS, "miniresnetv2_2_stacks_backbone.h5"), "--tap", "post"],
                     "post", "synth seed 2 (accuracy_taps.py; docs/backbone-miniresnet.md's conv2 was last there)"),
}
BACKBONE_DETECTORS = ["metric", "mahalanobis", "knn"]
PHASES = [("mahalanobis", "knn"), ("metric",), ("ae", "vae")]
# Detectors with their own log-mel features (labels in accuracy_tables.OWN_LABELS).
# Their threshold is fitted in-sample (--folds 1): 5-fold cross-fitting would train each autoencoder six times (the AE
# for 100 epochs). The model is fitted before its threshold, so AUC and pAUC are the same either way; only the
# false-alarm and detection rates are optimistic.
OWN_FEATURES = ["ae", "vae"]
OWN_ARGS = ["--folds", "1"]


def configs(extra):
    """(config id, detector, backbone name, eval arguments) of every configuration, extra backbones last."""
    backbones = dict(BACKBONES)
    backbones.update(extra)
    out = [(f"{d}/{b}", d, b, spec[1]) for b, spec in backbones.items() for d in BACKBONE_DETECTORS]
    out += [(f"{d}/own", d, "own", OWN_ARGS) for d in OWN_FEATURES]
    return out, backbones


def parse_extra(items):
    extra = {}
    for item in items:
        name, _, rest = item.partition("=")
        path, _, taps = rest.partition(":")
        if not name or not path:
            sys.exit(f"accuracy.py: --extra-backbone takes NAME=PATH[:taps], got '{item}'")
        args = ["--backbone", path] + (["--tap", taps] if taps else [])
        extra[name] = (name, args, taps or "default", "given with --extra-backbone")
    return extra


def set_types(name, work):
    """(type, source folder) of a set; synth sets are generated into --work first."""
    if name == "machine-tools":
        return [(t, os.path.join(DATA, name, t)) for t in ["lathe", "vmc"]]
    if name in ("dcase2020-lite", "dcase2023-lite"):
        root = os.path.join(DATA, name)
        return [(t, os.path.join(root, t)) for t in sorted(os.listdir(root))]
    if name == "sensiml-fan":
        return [("fan", os.path.join(DATA, name))]
    if name == "dcase2020-dev":
        if not DCASE2020_DEV:
            sys.exit("accuracy.py: the set dcase2020-dev needs --dcase2020-dev DIR")
        return [(t, os.path.join(DCASE2020_DEV[0], t)) for t in sorted(os.listdir(DCASE2020_DEV[0]))]
    if name.startswith("synth"):
        root = os.path.join(work, "sources", name)
        if not os.path.isdir(root):
            run(["synth", "--out", root + ".tmp", "--seed", name[len("synth"):]])
            os.replace(root + ".tmp", root)
        return [(t, os.path.join(root, t)) for t in sorted(os.listdir(root))]
    sys.exit(f"accuracy.py: unknown set '{name}' (sets: {', '.join(REAL_SETS + SYNTH_SETS)})")


NASD = []
DCASE2020_DEV = []


def per_id(name):
    """One model per machine ID, as DCASE 2020 ranks (the synth sets and the full development set), else per type."""
    return name.startswith("synth") or name == "dcase2020-dev"


class Refused(Exception):
    """nasd refused the input (exit 2), e.g. a detector that needs more training clips than a set has."""


def run(args, capture=False):
    r = subprocess.run(NASD + args, stdout=subprocess.PIPE if capture else subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode == 2:
        raise Refused(r.stderr.strip().removeprefix("nasd: error: "))
    if r.returncode != 0:
        sys.exit(f"accuracy.py: nasd {' '.join(args)} failed (exit {r.returncode}): {r.stderr.strip()}")
    return r.stdout


def dataset_root(name, loudness, work):
    """A DCASE-layout root for the set: links to the recorded folders, or their `nasd normalise` copies."""
    root = os.path.join(work, loudness, name)
    if os.path.isdir(root):
        return root
    tmp = root + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for t, source in set_types(name, work):
        if loudness == "recorded":
            os.symlink(os.path.abspath(source), os.path.join(tmp, t))
        else:
            run(["normalise", "--rms-dbfs", str(RMS_DBFS), "--out", os.path.join(tmp, t), source])
    os.replace(tmp, root)
    return root


def label_of(file_name):
    return 1 if "anomaly" in file_name else 0


def evaluate(name, loudness, config, work, cache):
    """Runs `nasd eval`; returns per-clip rows (type, group, file, label, score, decision) and the eval's seconds."""
    cid, detector, _, extra = config
    root = dataset_root(name, loudness, work)
    out = os.path.join(work, "eval")
    shutil.rmtree(out, ignore_errors=True)
    per_type = [] if per_id(name) else ["--per-type"]
    start = time.time()
    result = json.loads(run(["eval", "--data", root, "--out", out, "--detector", detector, "--seed", "0", "--cache", cache,
                             "--json", *per_type, *extra], capture=True))
    seconds = time.time() - start
    rows = []
    types = sorted(os.listdir(root))
    for f in sorted(os.listdir(out)):
        if not f.startswith("anomaly_score_"):
            continue
        stem = f[len("anomaly_score_"):-len(".csv")]
        t = max((t for t in types if stem.startswith(t + "_")), key=len)
        group = stem[len(t) + 1:]
        decisions = dict(csv.reader(open(os.path.join(out, "decision_result_" + stem + ".csv"))))
        for clip, score in csv.reader(open(os.path.join(out, f))):
            rows.append((t, group, clip, label_of(clip), float(score), int(decisions[clip])))
    shutil.rmtree(out)
    for g in result["groups"]:   # our AUC/pAUC (bootstrap) against nasd eval's (scikit-learn exact)
        sel = [r for r in rows if r[0] == g["machine_type"] and r[1] == g["id"]]
        y, s = np.array([r[3] for r in sel]), np.array([r[4] for r in sel])
        if g.get("auc") is not None and 0 < y.sum() < len(y):
            a, p = auc_pauc(y, s)
            assert abs(a - g["auc"]) < 1e-9 and abs(p - g["pauc"]) < 1e-9, (name, config[0], g, a, p)
    return rows, seconds, result


# ---- storage -------------------------------------------------------------------------------------------------------

SCORE_FIELDS = ["loudness", "config", "type", "group", "file", "label", "score", "decision"]
RESULT_FIELDS = ["set", "subset", "loudness", "config", "detector", "backbone", "taps", "train_clips", "test_normal",
                 "test_anomalous", "auc", "auc_lo", "auc_hi", "pauc", "pauc_lo", "pauc_hi", "false_alarm_rate",
                 "detection_rate", "eval_seconds", "commit", "date", "note"]


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def write_scores(name, runs):
    text = io.StringIO()
    w = csv.writer(text, lineterminator="\n")
    w.writerow(SCORE_FIELDS)
    for (loudness, cid) in sorted(runs):
        for t, group, clip, label, score, decision in sorted(runs[(loudness, cid)]):
            w.writerow([loudness, cid, t, group, clip, label, repr(score), decision])
    write_atomic(scores_path(name), gzip.compress(text.getvalue().encode(), mtime=0))


def results_path(name):
    return os.path.join(OUT_DIR, "synth.csv" if name.startswith("synth") else "dcase2020-dev.csv" if name == "dcase2020-dev" else "real.csv")


def read_results(path):
    return list(csv.DictReader(open(path))) if os.path.exists(path) else []


def write_results(path, rows):
    text = io.StringIO()
    w = csv.DictWriter(text, RESULT_FIELDS, lineterminator="\n")
    w.writeheader()
    order = {s: i for i, s in enumerate(REAL_SETS + SYNTH_SETS)}
    for r in sorted(rows, key=lambda r: (order.get(r["set"], 99), r["set"], r["loudness"], r["config"], r["subset"] == "mean", r["subset"])):
        w.writerow(r)
    write_atomic(path, text.getvalue().encode())


def result_rows(name, loudness, config, backbones, rows, seconds, train_clips, commit, date):
    """The CSV rows of one run: one per machine type and one for the set (mean over the types with a defined AUC)."""
    cid, detector, bname, _ = config
    taps = backbones[bname][2] if bname in backbones else ""
    units = {t: Unit(name, t, [r for r in rows if r[0] == t]) for t in sorted({r[0] for r in rows})}
    out = []

    def row(subset, value, boot, normals, anomalies, false_alarms, detections, trains):
        (a, p), (ba, bp) = value, boot
        return {"set": name, "subset": subset, "loudness": loudness, "config": cid, "detector": detector, "backbone": bname,
                "taps": taps, "train_clips": trains, "test_normal": normals, "test_anomalous": anomalies,
                "auc": f"{a:.4f}", "auc_lo": f"{interval(ba)[0]:.4f}", "auc_hi": f"{interval(ba)[1]:.4f}",
                "pauc": f"{p:.4f}", "pauc_lo": f"{interval(bp)[0]:.4f}", "pauc_hi": f"{interval(bp)[1]:.4f}",
                "false_alarm_rate": f"{false_alarms / max(normals, 1):.4f}", "detection_rate": f"{detections / max(anomalies, 1):.4f}",
                "eval_seconds": f"{seconds:.0f}", "commit": commit, "date": date}

    defined = [u for u in units.values() if u.defined]
    for t, u in units.items():
        if u.defined:
            out.append(row(t, u.value, u.boot, u.normals, u.anomalies, u.false_alarms, u.detections, train_clips.get(t, "")))
    if defined:
        mean = tuple(np.mean([u.value[i] for u in defined]) for i in range(2))
        boot = tuple(np.mean([u.boot[i] for u in defined], axis=0) for i in range(2))
        out.append(row("mean", mean, boot, sum(u.normals for u in units.values()), sum(u.anomalies for u in units.values()),
                       sum(u.false_alarms for u in units.values()), sum(u.detections for u in units.values()),
                       sum(v for v in train_clips.values())))
    return out


def git_commit():
    r = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE, text=True)
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"], stdout=subprocess.PIPE, text=True).stdout
    return r.stdout.strip() + ("+dirty" if dirty.strip() else "")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nasd", default=f"dotnet {ROOT}/Cli/bin/Release/net10.0/nasd.dll")
    ap.add_argument("--sets", default=",".join(REAL_SETS), help=f"comma-separated, of {', '.join(REAL_SETS + SYNTH_SETS)}")
    ap.add_argument("--loudness", default=",".join(LOUDNESS), help="recorded, normalised or both")
    ap.add_argument("--configs", default="", help="comma-separated config ids (metric/mn04, ae/own, …); default all")
    ap.add_argument("--extra-backbone", action="append", default=[], metavar="NAME=PATH[:taps]",
                    help="another backbone for metric, mahalanobis and knn (e.g. the distilled ResNet v2)")
    ap.add_argument("--work", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "nasd-accuracy"),
                    help="normalised copies, synth sets and eval folders (kept, so a rerun hits the cache)")
    ap.add_argument("--cache", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "nasd-accuracy", "cache"))
    ap.add_argument("--dcase2020-dev", metavar="DIR", help="the full DCASE 2020 Task 2 development set (DIR/<type>/train|test): "
                    "adds the set dcase2020-dev (give it in --sets), one model per machine ID, results in Bench/accuracy/dcase2020-dev.csv")
    ap.add_argument("--resume", action="store_true", help="skip runs the committed scores file already holds")
    ap.add_argument("--tables-only", action="store_true", help="only rebuild ACCURACY.md from the committed CSVs")
    ap.add_argument("--md", default=os.path.join(ROOT, "Bench", "ACCURACY.md"))
    args = ap.parse_args()
    NASD.extend(args.nasd.split())
    if args.dcase2020_dev:
        DCASE2020_DEV.append(os.path.abspath(args.dcase2020_dev))
    extra = parse_extra(args.extra_backbone)
    all_configs, backbones = configs(extra)
    wanted = [c for c in args.configs.split(",") if c]
    unknown = [c for c in wanted if c not in {x[0] for x in all_configs}]
    if unknown:
        sys.exit(f"accuracy.py: unknown configs {unknown}; known: {', '.join(x[0] for x in all_configs)}")
    chosen = [c for c in all_configs if not wanted or c[0] in wanted]
    os.makedirs(OUT_DIR, exist_ok=True)
    if not args.tables_only:
        commit, date = git_commit(), datetime.date.today().isoformat()
        os.makedirs(args.work, exist_ok=True)
        sets = args.sets.split(",")
        runs = {name: read_scores(name) for name in sets}
        # Cheap detectors first over every set, the trained ones after: a run cut short still covers the whole grid for them.
        for phase in PHASES:
            for name in sets:
                for loudness in args.loudness.split(","):
                    start = time.time()
                    for config in (c for c in chosen if c[1] in phase):
                        old = read_results(results_path(name))
                        if args.resume and ((loudness, config[0]) in runs[name] or any(
                                r["set"] == name and r["loudness"] == loudness and r["config"] == config[0] and r.get("note") for r in old)):
                            continue
                        others = [r for r in old if not (r["set"] == name and r["loudness"] == loudness and r["config"] == config[0])]
                        try:
                            rows, seconds, result = evaluate(name, loudness, config, args.work, args.cache)
                        except Refused as e:
                            print(f"{name:15} {loudness:10} {config[0]:24} refused: {e}", flush=True)
                            runs[name].pop((loudness, config[0]), None)
                            write_scores(name, runs[name])
                            write_results(results_path(name), others + [{
                                "set": name, "subset": "mean", "loudness": loudness, "config": config[0], "detector": config[1],
                                "backbone": config[2], "commit": commit, "date": date, "note": f"refused: {e}"}])
                            continue
                        runs[name][(loudness, config[0])] = rows
                        train_clips = {}
                        for g in result["groups"]:
                            train_clips[g["machine_type"]] = train_clips.get(g["machine_type"], 0) + g["train_clips"]
                        new = result_rows(name, loudness, config, backbones, rows, seconds, train_clips, commit, date)
                        results = others + new
                        mean = [r for r in new if r["subset"] == "mean"]
                        print(f"{name:15} {loudness:10} {config[0]:24} " +
                              (f"AUC {mean[0]['auc']} [{mean[0]['auc_lo']}, {mean[0]['auc_hi']}] pAUC {mean[0]['pauc']}" if mean else "no AUC") +
                              f"  {seconds:.0f} s", flush=True)
                        write_scores(name, runs[name])
                        write_results(results_path(name), results)
                    print(f"{name} {loudness} {'+'.join(phase)}: {time.time() - start:.0f} s", flush=True)
    accuracy_tables.write(args.md, all_configs, backbones)
    return 0


if __name__ == "__main__":
    sys.exit(main())
