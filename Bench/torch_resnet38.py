#!/usr/bin/python3
"""Debian torch's time for one PANNs ResNet38 forward on a 10 s clip at 32 kHz (log-mel [1, 1, 1001, 64]), eval mode,
random weights, on 1 and 2 threads: median wall and process CPU time of the timed runs after one warm-up. Same model definition as the
reference fixtures (Tests/Reference/make_arch_references.py). Compare with `dotnet run -c Release --project Bench -- resnet38-quick`.

    /usr/bin/python3 Bench/torch_resnet38.py [repeats]
"""
import json
import os
import resource
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Reference"))
from make_arch_references import Panns, randomize  # noqa: E402

repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
torch.manual_seed(0)
model = Panns([3, 4, 6, 3])
randomize(model, np.random.default_rng(0))
model.eval()
x = torch.from_numpy(np.random.default_rng(1).normal(-20, 10, (1, 1, 1001, 64)).astype(np.float32))
result = {"torch": torch.__version__, "input": [1, 1, 1001, 64]}
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
