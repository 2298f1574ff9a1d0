#!/usr/bin/python3
"""Times the `nasd bench conv` shape with Debian torch: conv2d 3x3, input [1,64,64,1000], 64 -> 64 channels, padding 1,
float32, forward and backward (dx + dW + db), on 1 and 2 threads.

    /usr/bin/python3 Bench/torch_conv.py                  # 1 and 2 threads
    /usr/bin/python3 Bench/torch_conv.py --threads 2 --input 1,64,64,1000 --out-channels 64

Each thread count runs in a fresh child process with OMP/OPENBLAS/MKL_NUM_THREADS set before torch is imported and
torch.set_num_threads(t). Forward runs under torch.no_grad(); backward is torch.autograd.grad of y with a fixed dy
with respect to x, weight and bias (what the engine's BackwardData + BackwardWeight compute), timed without the
forward. Warm-up (>= 3 calls and >= 0.3 s), then --repeats timed batches of about --rep-seconds; medians reported,
of wall time and of the process's CPU time (all threads; on a shared machine the CPU time of one thread is the
steadier figure).
GFLOP/s = 2*N*O*C*k*k*Ho*Wo / median forward time. Prints one JSON line per thread count.
"""
import argparse
import json
import os
import subprocess
import sys
import time


def timed(fn, repeats, rep_seconds):
    calls, t0 = 0, time.perf_counter()
    while calls < 3 or time.perf_counter() - t0 < 0.3:
        fn()
        calls += 1
    inner = max(1, int(rep_seconds / ((time.perf_counter() - t0) / calls)))
    times, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - t) / inner)
        cpu.append((time.process_time() - c) / inner)
    times.sort()
    cpu.sort()
    return times[len(times) // 2], cpu[len(cpu) // 2]


def child(threads, shape, out_channels, kernel, padding, repeats, rep_seconds):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    n, c, h, w = shape
    x = (torch.rand(n, c, h, w) * 2 - 1).requires_grad_()
    weight = (torch.rand(out_channels, c, kernel, kernel) * 2 - 1).requires_grad_()
    bias = (torch.rand(out_channels) * 2 - 1).requires_grad_()

    def forward():
        with torch.no_grad():
            F.conv2d(x, weight, bias, padding=padding)

    y = F.conv2d(x, weight, bias, padding=padding)
    dy = torch.rand_like(y) * 2 - 1

    def backward():
        torch.autograd.grad(y, (x, weight, bias), dy, retain_graph=True)

    fwd, fwd_cpu = timed(forward, repeats, rep_seconds)
    bwd, bwd_cpu = timed(backward, repeats, rep_seconds)
    ho, wo = y.shape[2], y.shape[3]
    flops = 2.0 * n * out_channels * c * kernel * kernel * ho * wo
    print(json.dumps({
        "op": "conv2d", "input": shape, "out_channels": out_channels, "kernel": kernel, "padding": padding,
        "threads": threads, "gflops": round(flops / fwd / 1e9, 2), "forward_ms": round(fwd * 1e3, 3),
        "backward_ms": round(bwd * 1e3, 3), "backward_over_forward": round(bwd / fwd, 3),
        "forward_cpu_ms": round(fwd_cpu * 1e3, 3), "backward_cpu_ms": round(bwd_cpu * 1e3, 3),
        "torch": torch.__version__, "repeats": repeats,
    }), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--input", default="1,64,64,1000")
    p.add_argument("--out-channels", type=int, default=64)
    p.add_argument("--kernel", type=int, default=3)
    p.add_argument("--padding", type=int, default=1)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--rep-seconds", type=float, default=0.5)
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    a = p.parse_args()
    shape = [int(v) for v in a.input.split(",")]
    if a.child is not None:
        child(a.child, shape, a.out_channels, a.kernel, a.padding, a.repeats, a.rep_seconds)
        return
    for t in a.threads:
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(t), OMP_NUM_THREADS=str(t), MKL_NUM_THREADS=str(t))
        cmd = [sys.executable, os.path.abspath(__file__), "--child", str(t), "--input", a.input, "--out-channels", str(a.out_channels),
               "--kernel", str(a.kernel), "--padding", str(a.padding), "--repeats", str(a.repeats), "--rep-seconds", str(a.rep_seconds)]
        print(subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout, end="", flush=True)


if __name__ == "__main__":
    main()
