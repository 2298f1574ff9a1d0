#!/usr/bin/python3
"""Debian torch's time for one PANNs ResNet38 forward on a 10 s clip at 32 kHz (log-mel [1, 1, 1001, 64]), eval mode,
random weights, on 1 and 2 threads: median wall and process CPU time of the timed runs after one warm-up. Same model definition as the
reference fixtures (Tests/Reference/make_arch_references.py). Compare with `dotnet run -c Release --project Bench -- resnet38-quick`.

    /usr/bin/python3 Bench/torch_resnet38.py [repeats] [--export DIR]

--export DIR also writes, for `NativeASD.Bench resnet38-onnx DIR` (which runs this script itself), the same random
weights twice: DIR/resnet38.pth in the published checkpoints' layout (torch.save({'model': state_dict}), frontend
tensors included) and DIR/resnet38.onnx (torch.onnx.export, opset 17, input `logmel` [1, 1, 1001, 64], outputs
`embedding` [1, 2048] and `clipwise_output` [1, 527]; the exporter needs no `onnx` python package), plus the input
(DIR/input.npy) and torch's outputs on it (DIR/torch_embedding.npy, DIR/torch_clipwise_output.npy). The head is
rescaled first, as for the full-size fixtures, so that clipwise_output is not saturated at 0 or 1. The two model
files are about 300 MB each: keep DIR outside the repository. A DIR holding export.json from an earlier run is reused.
"""
import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Reference"))
from make_arch_references import Panns, calibrate_head, panns_frontend_tensors, randomize  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("repeats", type=int, nargs="?", default=5)
ap.add_argument("--export", metavar="DIR", help="also write the weights (.pth), the ONNX model, the input and torch's outputs to DIR")
args = ap.parse_args()
repeats = args.repeats
torch.manual_seed(0)
model = Panns([3, 4, 6, 3])
randomize(model, np.random.default_rng(0))
model.eval()
x = torch.from_numpy(np.random.default_rng(1).normal(-20, 10, (1, 1, 1001, 64)).astype(np.float32))
result = {"torch": torch.__version__, "input": [1, 1, 1001, 64]}


class Outputs(torch.nn.Module):
    """The taps ONNX Runtime is compared on, as a tuple (the exporter takes no dict outputs)."""

    def __init__(self, panns):
        super().__init__()
        self.panns = panns

    def forward(self, logmel):
        taps = self.panns(logmel)
        return taps["embedding"], taps["clipwise_output"]


def write_atomically(path, write):
    tmp = path + ".tmp"
    write(tmp)
    os.replace(tmp, path)


if args.export:
    folder = args.export
    os.makedirs(folder, exist_ok=True)
    stamp = os.path.join(folder, "export.json")
    if not os.path.exists(stamp):
        calibrate_head(model, x.numpy())  # so that clipwise_output is not all 0 or 1, as for the full-size fixtures
        state = dict(model.state_dict())
        state.update(panns_frontend_tensors())
        write_atomically(os.path.join(folder, "resnet38.pth"), lambda p: torch.save({"model": state, "iteration": 0}, p))
        # eval() on the wrapper too: the exporter restores the wrapper's own mode afterwards, and a new Module is in
        # training mode, which would leave the whole model training (BatchNorm statistics updated by later forwards).
        wrapper = Outputs(model).eval()
        with torch.no_grad():
            emb, clip = wrapper(x)
            write_atomically(os.path.join(folder, "resnet38.onnx"), lambda p: torch.onnx.export(
                wrapper, x, p, opset_version=17, input_names=["logmel"],
                output_names=["embedding", "clipwise_output"], do_constant_folding=True))
        assert not model.training
        np.save(os.path.join(folder, "input.npy"), x.numpy())
        np.save(os.path.join(folder, "torch_embedding.npy"), emb.numpy())
        np.save(os.path.join(folder, "torch_clipwise_output.npy"), clip.numpy())
        with open(stamp, "w") as f:
            json.dump({"weights_seed": 0, "input_seed": 1, "opset": 17, "torch": torch.__version__}, f)
    result["export"] = folder

for threads in (1, 2):
    torch.set_num_threads(threads)
    with torch.no_grad():
        model(x)
        times, cpu = [], []
        for _ in range(repeats):
            t, c = time.perf_counter(), time.process_time()
            model(x)
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
    result["ms_%dthread" % threads] = round(1e3 * sorted(times)[len(times) // 2], 1)
    result["cpu_ms_%dthread" % threads] = round(1e3 * sorted(cpu)[len(cpu) // 2], 1)
result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
print(json.dumps(result))
