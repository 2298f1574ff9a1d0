#!/usr/bin/python3
"""Writes the list of real clips `nasd pretrain --audio` distils the shipped v2 ResNet on: every *training* clip in
../shared/data and no clip any benchmark scores as a test clip.

    /usr/bin/python3 Bench/distill_audio_list.py [--out Detection/Backbones/nasd-resnet-v2-audio.txt]

- machine-tools/{lathe,vmc}/train/ and sensiml-fan/train/: every clip (their test/ folders are left out);
- dcase2020-lite/<type>/: the training half of accuracy_lite.py's split (per machine ID the sorted normal clips
  alternate between training and test, first to training; every anomaly is a test clip);
- dcase2023-lite/<type>/: the clips named *_train_* (the *_test_* clips are test material).
Paths are written relative to the list's folder, so the list works from any checkout with ../shared beside it.
"""
import argparse
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")


def wavs(folder):
    return sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.lower().endswith(".wav"))


def training_clips():
    data = os.path.join(SHARED, "data")
    for machine in ("lathe", "vmc"):
        yield from wavs(os.path.join(data, "machine-tools", machine, "train"))
    yield from wavs(os.path.join(data, "sensiml-fan", "train"))
    lite = os.path.join(data, "dcase2020-lite")
    for t in sorted(os.listdir(lite)):
        seen = {}   # accuracy_lite.split_flat's (and DatasetLayout's) training half, without its scikit-learn import
        for f in wavs(os.path.join(lite, t)):
            m = re.match(r"(normal|anomaly)_id_(\d+)_", os.path.basename(f))
            if m and m.group(1) == "normal":
                k = seen.get(m.group(2), 0)
                seen[m.group(2)] = k + 1
                if k % 2 == 0:
                    yield f
    lite = os.path.join(data, "dcase2023-lite")
    for t in sorted(os.listdir(lite)):
        yield from (f for f in wavs(os.path.join(lite, t)) if "_train_" in os.path.basename(f))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "Detection", "Backbones", "nasd-resnet-v2-audio.txt"))
    out = ap.parse_args().out
    folder = os.path.dirname(os.path.abspath(out))
    clips = [os.path.relpath(f, folder) for f in training_clips()]
    with open(out, "w") as f:
        f.write("# Real clips nasd-resnet-v2 was distilled on (written by Bench/distill_audio_list.py): every training clip in\n"
                "# ../shared/data, no test clip of any benchmark. Paths relative to this file.\n")
        f.writelines(c + "\n" for c in clips)
    print(f"wrote {out}: {len(clips)} clips")


if __name__ == "__main__":
    main()
