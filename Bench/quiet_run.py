#!/usr/bin/python3
"""Runs a benchmark command only on a quiet machine and says how quiet it stayed.

    /usr/bin/python3 Bench/quiet_run.py [--retries N] [--log FILE] -- CMD ARGS...

Waits until all CPUs are at least 97 % idle over 2 s, runs CMD, and measures the CPU time that processes other than
CMD (and its children) used meanwhile, from /proc/stat: the "foreign load", as a share of all CPUs. With --retries N,
a run whose foreign load exceeds 3 % is repeated (up to N more times). CMD's output goes to stdout (or --log) and a
last line reports wall time and foreign load. Linux only.
"""
import argparse
import os
import subprocess
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")


def cpu_stat():
    v = list(map(int, open("/proc/stat").readline().split()[1:]))
    return sum(v[:8]), v[3] + v[4]  # total, idle + iowait (jiffies)


def wait_idle(limit_s=1800):
    start = time.time()
    while time.time() - start < limit_s:
        a = cpu_stat()
        time.sleep(2)
        b = cpu_stat()
        if 1 - (b[1] - a[1]) / max(1, b[0] - a[0]) < 0.03:
            return True
    return False


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--retries", type=int, default=0)
    p.add_argument("--log")
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    args = p.parse_args()
    cmd = args.cmd[1:] if args.cmd and args.cmd[0] == "--" else args.cmd
    if not cmd:
        p.error("no command")
    for attempt in range(args.retries + 1):
        if not wait_idle():
            print("machine never became idle; running anyway", file=sys.stderr)
        s0, c0, w0 = cpu_stat(), os.times(), time.time()
        out = open(args.log, "w") if args.log else None
        proc = subprocess.run(cmd, stdout=out or subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if out:
            out.close()
        s1, c1 = cpu_stat(), os.times()
        total = s1[0] - s0[0]
        busy = total - (s1[1] - s0[1])
        ours = (c1.children_user + c1.children_system - c0.children_user - c0.children_system) * HZ
        foreign = (busy - ours) / max(1, total)
        if foreign <= 0.03 or attempt == args.retries:
            if not out:
                sys.stdout.write(proc.stdout)
            print(f"[quiet_run] wall {time.time() - w0:.1f} s, foreign load {foreign * 100:.1f} % of all CPUs"
                  + ("" if foreign <= 0.03 else " (NOISY)"))
            return proc.returncode
        print(f"[quiet_run] foreign load {foreign * 100:.0f} %, retrying", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
