#!/usr/bin/python3
"""Times torchaudio's dcase2020 log-mel (MelSpectrogram(16 kHz, n_fft 1024, hop 512, 128 mel, power 2) + AmplitudeToDB)
on a 10 s 16 kHz clip, one thread, float32 - the peer of `NativeASD.Bench frontend-quick dcase2020`.

    /usr/bin/python3 Bench/torch_frontend.py [--seconds 10] [--batch 100] [--threads 1]

Warm-up (>= 3 calls and >= 0.3 s), then 15 timed repetitions of a batch of calls sized to about 0.2 s; prints the
median ms per clip, then the batched [batch, samples] call with --threads threads, and one JSON line.
"""
import argparse, json, os, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("--seconds", type=float, default=10)
ap.add_argument("--batch", type=int, default=100)
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--batch-threads", type=int, default=2)
a = ap.parse_args()
import torch, torchaudio

cpu_calls = [0.0, 0]

def median(call, rep_seconds):
    c0 = time.process_time(); n0 = 0
    t0 = time.perf_counter(); n = 0
    while time.perf_counter() - t0 < 0.3 or n < 3:
        call(); n += 1
    inner = max(1, int(rep_seconds / ((time.perf_counter() - t0) / n)))
    times = []
    for _ in range(15):
        t = time.perf_counter()
        for _ in range(inner): call()
        times.append((time.perf_counter() - t) / inner)
    cpu_calls[0] = (time.process_time() - c0) / (n + 15 * inner); cpu_calls[1] = n + 15 * inner
    return sorted(times)[7]

g = torch.Generator().manual_seed(1)
x = (torch.rand(int(a.seconds * 16000), generator=g) * 0.2 - 0.1)
xb = (torch.rand(a.batch, int(a.seconds * 16000), generator=g) * 0.2 - 0.1)
mel = torchaudio.transforms.MelSpectrogram(16000, n_fft=1024, hop_length=512, n_mels=128, power=2.0, norm="slaney", mel_scale="slaney")
db = torchaudio.transforms.AmplitudeToDB("power", top_db=None)
with torch.inference_mode():
    torch.set_num_threads(a.threads)
    single = median(lambda: db(mel(x)), 0.2)
    single_cpu = cpu_calls[0]
    torch.set_num_threads(a.batch_threads)
    batched = median(lambda: db(mel(xb)), 0.5)
print(f"torchaudio dcase2020 {a.seconds} s clip: {single*1e3:.3f} ms on {a.threads} thread(s) (cpu {single_cpu*1e3:.3f} ms); batch of {a.batch}: {batched*1e3:.1f} ms on {a.batch_threads} threads ({batched/a.batch*1e3:.3f} ms per clip)  [torch {torch.__version__}]")
print(json.dumps(dict(peer="torchaudio", torch=torch.__version__, seconds=a.seconds, single_ms=round(single*1e3, 4), single_cpu_ms=round(single_cpu*1e3, 4), batch=a.batch,
                      batch_threads=a.batch_threads, batch_ms=round(batched*1e3, 3), batch_per_clip_ms=round(batched/a.batch*1e3, 4))))
