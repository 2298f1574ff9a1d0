#!/usr/bin/python3
"""Reference outputs for the audio frontend (Engine/Frontend), computed in float64 with Debian's torch/torchaudio.

Writes Tests/Fixtures/frontend/*.npy, two small WAV files and manifest.json. Run from the repo root:
    /usr/bin/python3 Tests/Reference/make_frontend_references.py
Real clips are read from ../shared/data/dcase2020-lite (int16 / 32768); only expected outputs are stored for them.

Oracles:
  STFT power   torch.stft(double, return_complex=True).abs()**2
  mel          torchaudio.functional.melscale_fbanks (equals librosa.filters.mel for slaney/htk + norm)
               yamnet: tf.signal.linear_to_mel_weight_matrix re-implemented below in numpy (triangles in HTK mel)
  log          power_to_db 10*log10(max(x, amin)) (panns), 10*log10(x + eps) (DCASE baseline), ln(x + 0.001) (yamnet)
  MFCC         torchaudio.functional.create_dct(n_mfcc, n_mels, 'ortho')
"""
import json, os, sys, wave
import numpy as np
import torch
import torchaudio

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fixtures", "frontend")
SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared")
EPS = sys.float_info.epsilon
os.makedirs(OUT, exist_ok=True)
cases = []

def save(name, array):
    np.save(os.path.join(OUT, name), np.ascontiguousarray(array, dtype=np.float32))
    return name

def signals(rate, n):
    t = np.arange(n) / rate
    rng = np.random.default_rng(0)
    impulse = np.zeros(n); impulse[n // 3] = 1.0; impulse[3 * n // 4] = -0.5
    f0, f1 = 50.0, 0.45 * rate
    return {
        "sine": 0.5 * np.sin(2 * np.pi * 1000.3 * t),
        "chirp": 0.8 * np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t * t / (2 * t[-1]))),
        "impulse": impulse,
        "silence": np.zeros(n),
        "noise": rng.uniform(-1.0, 1.0, n),
    }

def window(kind, length, periodic):
    fn = torch.hann_window if kind == "hann" else torch.hamming_window
    return fn(length, periodic=periodic, dtype=torch.float64)

def power(x, n_fft, hop, win, kind="hann", periodic=True, center=True, pad_mode="reflect", align="torch"):
    x = torch.from_numpy(np.asarray(x, dtype=np.float32).astype(np.float64))
    if align == "tensorflow":
        # tf.signal.stft frames span the window, zero-padded at the end: the same as torch frames with the window
        # centred in n_fft once the clip is padded by (n_fft - win)/2 zeros on both sides.
        d = (n_fft - win) // 2
        x = torch.nn.functional.pad(x, (d, d))
    s = torch.stft(x, n_fft, hop_length=hop, win_length=win, window=window(kind, win, periodic),
                   center=center, pad_mode=pad_mode, return_complex=True)
    return (s.abs() ** 2).T.numpy()  # [frames, bins]

def tf_mel(bins, rate, bands, lo, hi):
    mel = lambda f: 1127.0 * np.log1p(f / 700.0)
    m = mel(np.linspace(0, rate / 2, bins))
    e = np.linspace(mel(lo), mel(hi), bands + 2)
    w = np.maximum(0, np.minimum((m[:, None] - e[None, :-2]) / (e[1:-1] - e[:-2]), (e[2:] - m[:, None]) / (e[2:] - e[1:-1])))
    w[0, :] = 0
    return w

def preset(name, x):
    if name == "panns":
        mel = power(x, 1024, 320, 1024) @ torchaudio.functional.melscale_fbanks(513, 50, 14000, 64, 32000, "slaney", "slaney").double().numpy()
        return 10 * np.log10(np.maximum(mel, 1e-10))
    if name == "panns16k":
        mel = power(x, 512, 160, 512) @ torchaudio.functional.melscale_fbanks(257, 50, 8000, 64, 16000, "slaney", "slaney").double().numpy()
        return 10 * np.log10(np.maximum(mel, 1e-10))
    if name in ("dcase2020", "vae60"):
        bands = 128 if name == "dcase2020" else 60
        mel = power(x, 1024, 512, 1024) @ torchaudio.functional.melscale_fbanks(513, 0, 8000, bands, 16000, "slaney", "slaney").double().numpy()
        return 10 * np.log10(mel + EPS)
    if name == "yamnet":
        mag = np.sqrt(power(x, 512, 160, 400, center=False, align="tensorflow"))
        return np.log(mag @ tf_mel(257, 16000, 64, 125, 7500) + 0.001)
    if name == "honk":
        mel = power(x, 480, 160, 480) @ torchaudio.functional.melscale_fbanks(241, 20, 4000, 40, 16000, "slaney", "slaney").double().numpy()
        logmel = np.where(mel > 0, np.log(np.where(mel > 0, mel, 1)), 0)
        return logmel @ torchaudio.functional.create_dct(40, 40, "ortho").double().numpy()
    raise ValueError(name)

RATE = {"panns": 32000, "panns16k": 16000, "dcase2020": 16000, "vae60": 16000, "yamnet": 16000, "honk": 16000}
KIND = {"panns": "db", "panns16k": "db", "dcase2020": "db", "vae60": "db", "yamnet": "ln", "honk": "mfcc"}

def read_wav(path):
    with wave.open(path) as w:
        assert w.getsampwidth() == 2
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, w.getnchannels())
        return data.astype(np.float64) / 32768.0, w.getframerate()

def write_wav(path, int16, rate):
    with wave.open(path, "wb") as w:
        w.setnchannels(int16.shape[1]); w.setsampwidth(2); w.setframerate(rate)
        w.writeframes(np.ascontiguousarray(int16, dtype="<i2").tobytes())

# ---- STFT power on synthetic signals (16 kHz, 4000 samples) -------------------------------------------------
STFT = [
    dict(id="nfft1024_hop512_hann_reflect", n_fft=1024, win=1024, hop=512),
    dict(id="nfft400_hop160_hamming_sym_constant", n_fft=400, win=400, hop=160, kind="hamming", periodic=False, pad_mode="constant"),
    dict(id="nfft512_win400_hop160_nocenter", n_fft=512, win=400, hop=160, center=False),
    dict(id="nfft480_hop160_hann_reflect", n_fft=480, win=480, hop=160),
    dict(id="nfft256_win200_hop100_hann_reflect", n_fft=256, win=200, hop=100),
]
sig16 = signals(16000, 4000)
for k, v in sig16.items():
    save(f"signal_{k}_16k.npy", v)
for cfg in STFT:
    for k in ("sine", "chirp", "impulse", "noise"):
        x = np.asarray(sig16[k], dtype=np.float32)
        args = {a: cfg[a] for a in ("kind", "periodic", "center", "pad_mode") if a in cfg}
        p = power(x, cfg["n_fft"], cfg["hop"], cfg["win"], **args)
        cases.append(dict(id=f"stft/{cfg['id']}/{k}", kind="stft", signal=f"signal_{k}_16k.npy", rate=16000,
                          n_fft=cfg["n_fft"], win=cfg["win"], hop=cfg["hop"], window=cfg.get("kind", "hann"),
                          periodic=cfg.get("periodic", True), center=cfg.get("center", True),
                          pad_mode=cfg.get("pad_mode", "reflect"), expected=save(f"stft_{cfg['id']}_{k}.npy", p)))

# ---- presets on synthetic signals ------------------------------------------------------------------------------
sig32 = signals(32000, 8000)
for k, v in sig32.items():
    save(f"signal_{k}_32k.npy", v)
for name in RATE:
    sig = sig32 if RATE[name] == 32000 else sig16
    for k in sig:
        x = np.asarray(sig[k], dtype=np.float32)
        cases.append(dict(id=f"preset/{name}/{k}", kind=KIND[name], preset=name, rate=RATE[name],
                          signal=f"signal_{k}_{RATE[name] // 1000}k.npy", expected=save(f"preset_{name}_{k}.npy", preset(name, x))))

# ---- real clips (only expected outputs stored; the test reads ../shared and keeps the first `samples`) --------------
REAL = [
    ("dcase2020", "data/dcase2020-lite/ToyCar/normal_id_01_00000000.wav", 16000),
    ("dcase2020", "data/dcase2020-lite/fan/anomaly_id_00_00000000.wav", 16000),
    ("yamnet", "data/dcase2020-lite/valve/normal_id_00_00000000.wav", 15600),
    ("honk", "data/dcase2020-lite/pump/normal_id_00_00000000.wav", 16000),
]
for name, rel, n in REAL:
    path = os.path.join(SHARED, rel)
    if not os.path.exists(path):
        alts = sorted(f for f in os.listdir(os.path.dirname(path)) if f.endswith(".wav"))
        rel = os.path.join(os.path.dirname(rel), alts[0]); path = os.path.join(SHARED, rel)
    audio, rate = read_wav(path)
    assert rate == 16000, (rel, rate)
    x = np.asarray(audio[:n, 0], dtype=np.float32)
    tag = rel.split("/")[-2] + "_" + os.path.basename(rel)[:-4]
    cases.append(dict(id=f"real/{name}/{tag}", kind=KIND[name], preset=name, rate=16000, shared=rel, samples=n,
                      expected=save(f"real_{name}_{tag}.npy", preset(name, x))))

# ---- made files: an 8-channel 16 kHz WAV (channel 3 and the channel mean) and a 32 kHz WAV for panns ---------------
base_rel = REAL[0][1]
audio, _ = read_wav(os.path.join(SHARED, base_rel))
mono = audio[:8000, 0]
gains = np.array([1.0, 0.5, -0.7, 0.3, 0.9, -0.2, 0.6, 0.1])
eight = np.clip(np.round(mono[:, None] * gains[None, :] * 32768.0 * 4), -32768, 32767).astype(np.int16)
write_wav(os.path.join(OUT, "eight_channel_16k.wav"), eight, 16000)
eight_f = eight.astype(np.float64) / 32768.0
for mix, x in (("3", eight_f[:, 3]), ("mean", eight_f.astype(np.float32).mean(axis=1))):
    cases.append(dict(id=f"file/dcase2020/eight_channel_{mix}", kind="db", preset="dcase2020", rate=16000,
                      file="eight_channel_16k.wav", channel=mix,
                      expected=save(f"file_dcase2020_eight_channel_{mix}.npy", preset("dcase2020", np.asarray(x, dtype=np.float32)))))
up = torchaudio.functional.resample(torch.from_numpy(audio[:8000, 0]), 16000, 32000).numpy()
up16 = np.clip(np.round(up * 32768.0), -32768, 32767).astype(np.int16)[:, None]
write_wav(os.path.join(OUT, "resampled_32k.wav"), up16, 32000)
cases.append(dict(id="file/panns/resampled_32k", kind="db", preset="panns", rate=32000, file="resampled_32k.wav", channel="0",
                  expected=save("file_panns_resampled_32k.npy", preset("panns", np.asarray(up16[:, 0] / 32768.0, dtype=np.float32)))))

TOL = {"stft": dict(rel=1e-5), "db": dict(max_abs=1e-3, floor_db=-100.0), "ln": dict(max_abs=1e-4), "mfcc": dict(max_abs=1e-3)}
for c in cases:
    c["tolerance"] = TOL[c["kind"]]
with open(os.path.join(OUT, "manifest.json"), "w") as f:
    json.dump(dict(generator="Tests/Reference/make_frontend_references.py", torch=torch.__version__,
                   torchaudio=torchaudio.__version__, cases=cases), f, indent=1)
print(f"{len(cases)} cases, {sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT)) / 1e6:.2f} MB in {OUT}")
