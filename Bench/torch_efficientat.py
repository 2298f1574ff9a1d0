#!/usr/bin/python3
"""Debian torch's time for EfficientAT mn04 (mn04_as_mAP_432.pt) on one 10 s clip: frontend + network to the embedding
(the pooled features.16), evaluation mode, on 1 and 2 threads: median wall and process CPU time of the timed runs after
one warm-up. Also each conv module timed alone on the input it gets in that forward, summed per kind (the stem 3×3,
depthwise k×k, 1×1). Same model and frontend definitions as the reference fixtures
(Tests/Reference/make_efficientat_references.py). `NativeASD.Bench efficientat-quick` runs this script itself.

    /usr/bin/python3 Bench/torch_efficientat.py [repeats] [shared]
"""
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Reference"))
from make_efficientat_references import SHARED, frontend, load_model, read_wav16, resample  # noqa: E402

repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
shared = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else SHARED
CLIP = "data/dcase2020-lite/slider/anomaly_id_02_00000016.wav"
samples16k, rate = read_wav16(os.path.join(shared, CLIP))
samples = resample(samples16k, rate, 32000)
model = load_model(shared)


def embed():
    x = frontend(samples)[None, None]
    return model.features(x).mean((2, 3))


def median(values):
    return sorted(values)[len(values) // 2]


def timed(fn, n):
    fn()
    wall, cpu = [], []
    for _ in range(n):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return 1e3 * median(wall), 1e3 * median(cpu)


# The input of every conv in one forward, to time each conv alone.
conv_inputs = []
hooks = [m.register_forward_pre_hook(lambda m, inp: conv_inputs.append((m, inp[0]))) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
with torch.no_grad():
    embed()
for h in hooks:
    h.remove()

result = {"torch": torch.__version__, "clip": CLIP, "frames": int(frontend(samples).shape[1])}
for threads in (1, 2):
    torch.set_num_threads(threads)
    with torch.no_grad():
        ms, cpu_ms = timed(embed, repeats)
        fe_ms, _ = timed(lambda: frontend(samples), repeats)
        kinds = {"stem": 0.0, "depthwise": 0.0, "pointwise": 0.0}
        for m, x in conv_inputs:
            kind = "pointwise" if m.kernel_size == (1, 1) else "depthwise" if m.groups > 1 else "stem"
            kinds[kind] += timed(lambda: m(x), repeats)[0]
    result[f"ms_{threads}thread"] = round(ms, 2)
    result[f"cpu_ms_{threads}thread"] = round(cpu_ms, 2)
    result[f"frontend_ms_{threads}thread"] = round(fe_ms, 2)
    for kind, v in kinds.items():
        result[f"{kind}_ms_{threads}thread"] = round(v, 2)
with torch.no_grad():
    result["embedding_head"] = [round(float(v), 6) for v in embed()[0, :4]]
print(json.dumps(result))
