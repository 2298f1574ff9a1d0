#!/usr/bin/python3
"""Times the GEMM shapes of Bench/GemmBenchmarks.cs with torch.matmul (float32, C = A @ B, row-major, no transposes).

Run with the system Python (Debian python3-torch, BLAS = OpenBLAS pthread):

    /usr/bin/python3 Bench/torch_gemm.py                 # 1 and 2 threads, all shapes
    /usr/bin/python3 Bench/torch_gemm.py --threads 2 --shapes 512

Each thread count runs in a fresh child process with OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS set
before torch is imported (OpenBLAS ignores torch.set_num_threads) and torch.set_num_threads(t) called too.
Per shape: warm-up (>= 3 calls and >= 0.3 s), then --repeats timed repetitions of a batch of calls sized to about
--rep-seconds; GFLOP/s = 2*M*N*K / median time per call. Prints a table and one JSON line per shape.
"""
import argparse
import json
import os
import subprocess
import sys
import time

SHAPES = [
    ("64^3", 64, 64, 64),
    ("128^3", 128, 128, 128),
    ("256^3", 256, 256, 256),
    ("512^3", 512, 512, 512),
    ("1024^3", 1024, 1024, 1024),
    ("2048^3", 2048, 2048, 2048),
    ("conv_block1 conv1", 64, 64064, 9),
    ("conv_block1 conv2", 64, 64064, 576),
    ("64 ch, 500x32", 64, 16000, 576),
    ("128 ch, 250x16", 128, 4000, 1152),
    ("256 ch, 125x8", 256, 1000, 2304),
    ("512 ch, 62x4", 512, 248, 4608),
    ("tall", 4096, 64, 64),
]


def child(threads, shapes, repeats, rep_seconds):
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    for name, m, n, k in shapes:
        a = torch.rand(m, k, dtype=torch.float32) - 0.5
        b = torch.rand(k, n, dtype=torch.float32) - 0.5
        c = torch.empty(m, n, dtype=torch.float32)
        calls, t0 = 0, time.perf_counter()
        while calls < 3 or time.perf_counter() - t0 < 0.3:
            torch.matmul(a, b, out=c)
            calls += 1
        per_call = (time.perf_counter() - t0) / calls
        inner = max(1, int(rep_seconds / per_call))
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            for _ in range(inner):
                torch.matmul(a, b, out=c)
            times.append((time.perf_counter() - t) / inner)
        times.sort()
        median = times[len(times) // 2]
        flops = 2.0 * m * n * k
        print(json.dumps({
            "shape": name, "m": m, "n": n, "k": k, "threads": threads,
            "median_ms": round(median * 1e3, 4), "best_ms": round(times[0] * 1e3, 4),
            "gflops": round(flops / median / 1e9, 2), "gflops_best": round(flops / times[0] / 1e9, 2),
            "torch": torch.__version__, "repeats": repeats, "calls_per_repeat": inner,
        }), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--shapes", nargs="+", help="substrings of shape names to keep (e.g. 512 conv)")
    p.add_argument("--repeats", type=int, default=11)
    p.add_argument("--rep-seconds", type=float, default=0.1)
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    shapes = [s for s in SHAPES if not args.shapes or any(f in s[0] for f in args.shapes)]

    if args.child is not None:
        child(args.child, shapes, args.repeats, args.rep_seconds)
        return

    rows = []
    for t in args.threads:
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(t), OMP_NUM_THREADS=str(t), MKL_NUM_THREADS=str(t))
        cmd = [sys.executable, os.path.abspath(__file__), "--child", str(t), "--repeats", str(args.repeats),
               "--rep-seconds", str(args.rep_seconds)]
        if args.shapes:
            cmd += ["--shapes", *args.shapes]
        out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
        for line in out.splitlines():
            print(line, flush=True)
            rows.append(json.loads(line))

    print()
    print(f"{'shape':<20} {'M':>5} {'N':>6} {'K':>5} {'threads':>7} {'median ms':>10} {'GFLOP/s':>8}")
    for r in rows:
        print(f"{r['shape']:<20} {r['m']:>5} {r['n']:>6} {r['k']:>5} {r['threads']:>7} {r['median_ms']:>10.3f} {r['gflops']:>8.1f}")


if __name__ == "__main__":
    main()
