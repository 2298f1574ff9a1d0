#!/usr/bin/env python3
"""EfficientAT MobileNetV3 (mn04_as_mAP_432.pt) references: the `efficientat` frontend, every tap, the scores, and one
fine-tuning step, computed with Debian torch from a model definition written here from the published facts.

    /usr/bin/python3 Tests/Reference/make_efficientat_references.py [../shared]

Facts used (fschmid56/EfficientAT models/mn/model.py, block_types.py, utils.py, models/preprocess.py):
- get_model(width_mult=0.4, strides=(2,2,2,2), head_type='mlp', se_dims='c', se_agg='max', se_r=4): MobileNetV3-Large
  settings, channels rounded by make_divisible(c * width, 8); stem conv 3x3 stride 2 + BN + Hardswish; 15 inverted
  residual blocks (1x1 expand when it widens, depthwise kxk, channel SE where configured, 1x1 project, residual when
  stride 1 and channels kept); last 1x1 conv to 6 x the last block's channels + BN + Hardswish; head avg-pool ->
  Linear -> Hardswish -> Dropout -> Linear. Convs before BN have no bias; BN eps 1e-3, momentum 0.01.
- SE: mean over H, W -> fc1 -> ReLU -> fc2 -> sigmoid -> x * gate (squeeze = make_divisible(exp // 4, 8)); the
  concurrent block stacks one branch and takes the max over it.
- Frontend (AugmentMelSTFT in eval mode): pre-emphasis conv1d with [-0.97, 1] (one sample shorter), torch.stft n_fft
  1024, hop 320, win_length 800, symmetric Hann, center=True (reflect); power; kaldi get_mel_banks(128, 1024, 32000,
  0, 15000) padded with a zero Nyquist column; log(x + 1e-5); (x + 4.5) / 5.

Clips: yamnet_test_audio.bin (15600 int16 samples at 16 kHz, speech) and two DCASE 2020 clips (10 s, 16 kHz), each
resampled to 32 kHz by a float64 port of the engine's Resampler (Kaiser-windowed sinc, 0.9/1.0 Nyquist, 100 dB;
Engine/Audio/Resampler.cs) so both sides see the same samples. The network runs on the reference frontend's output.

Writes Tests/Fixtures/efficientat/ (taps in the engine's layout [N, C, frames, mel], i.e. torch's transposed):
- speech_*: the whole frontend output [frames, 128], every tap whole, logits and scores;
- <clip>_*: frontend rows of every 8th frame, per tap its channel means [C], its L2 norm and 1024 values at fixed
  pseudo-random flat indices; embedding, logits and scores whole;
- finetune_*: one SGD step (lr 0.05, dropout off, training-mode BatchNorm) on a seeded input [2, 1, 48, 64] with the
  loss sum(logits * r): per parameter the gradient (whole up to 4096 values, else 512 sampled values and its norm) and
  the updated BatchNorm running statistics of features.16;
- layers_*: Hardswish, SqueezeExcitation and two InvertedResidual blocks on random inputs: outputs, input gradients and
  parameter gradients;
- manifest.json naming all of it.
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchaudio

SHARED = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared"))
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fixtures", "efficientat")


# ---- model, from the published facts -----------------------------------------------------------------------------

def make_divisible(v, d=8):
    n = max(d, int(v + d / 2) // d * d)
    return n + d if n < 0.9 * v else n


# input, kernel, expanded, output, squeeze-excitation, hardswish, stride (width 1)
BLOCKS = [
    (16, 3, 16, 16, False, False, 1), (16, 3, 64, 24, False, False, 2), (24, 3, 72, 24, False, False, 1),
    (24, 5, 72, 40, True, False, 2), (40, 5, 120, 40, True, False, 1), (40, 5, 120, 40, True, False, 1),
    (40, 3, 240, 80, False, True, 2), (80, 3, 200, 80, False, True, 1), (80, 3, 184, 80, False, True, 1),
    (80, 3, 184, 80, False, True, 1), (80, 3, 480, 112, True, True, 1), (112, 3, 672, 112, True, True, 1),
    (112, 5, 672, 160, True, True, 2), (160, 5, 960, 160, True, True, 1), (160, 5, 960, 160, True, True, 1),
]


def conv_bn_act(cin, cout, k, stride=1, groups=1, act=None):
    layers = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False), nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01)]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


class SqueezeExcitation(nn.Module):
    def __init__(self, channels, squeeze):
        super().__init__()
        self.fc1 = nn.Linear(channels, squeeze)
        self.fc2 = nn.Linear(squeeze, channels)

    def forward(self, x):
        gate = torch.sigmoid(self.fc2(torch.relu(self.fc1(x.mean((2, 3))))))
        return x * gate[:, :, None, None]


class ConcurrentSE(nn.Module):
    def __init__(self, channels, squeeze):
        super().__init__()
        self.conc_se_layers = nn.ModuleList([SqueezeExcitation(channels, squeeze)])

    def forward(self, x):
        return torch.stack([se(x) for se in self.conc_se_layers], 0).max(0)[0]


class InvertedResidual(nn.Module):
    def __init__(self, cin, k, exp, cout, se, hs, stride):
        super().__init__()
        act = nn.Hardswish if hs else nn.ReLU
        layers = []
        if exp != cin:
            layers.append(conv_bn_act(cin, exp, 1, act=act))
        layers.append(conv_bn_act(exp, exp, k, stride, groups=exp, act=act))
        if se:
            layers.append(ConcurrentSE(exp, make_divisible(exp // 4, 8)))
        layers.append(conv_bn_act(exp, cout, 1))
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.block(x)
        return y + x if self.residual else y


class MN(nn.Module):
    def __init__(self, width=0.4, classes=527, dropout=0.2):
        super().__init__()
        ch = lambda c: make_divisible(c * width, 8)
        layers = [conv_bn_act(1, ch(BLOCKS[0][0]), 3, 2, act=nn.Hardswish)]
        for cin, k, exp, cout, se, hs, s in BLOCKS:
            layers.append(InvertedResidual(ch(cin), k, ch(exp), ch(cout), se, hs, s))
        last = 6 * ch(BLOCKS[-1][3])
        layers.append(conv_bn_act(ch(BLOCKS[-1][3]), last, 1, act=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1), nn.Linear(last, ch(1280)), nn.Hardswish(),
                                        nn.Dropout(dropout), nn.Linear(ch(1280), classes))

    def taps(self, x):
        """x [N, 1, mel, frames] -> dict of every tap (torch layout)."""
        out = {}
        for i, layer in enumerate(self.features):
            x = layer(x)
            out[f"features.{i}"] = x
        out["embedding"] = x.mean((2, 3))
        logits = self.classifier(x)
        out["logits"] = logits
        out["scores"] = torch.sigmoid(logits)
        return out


def load_model(shared=None):
    model = MN()
    state = torch.load(os.path.join(shared or SHARED, "weights", "mn04_as_mAP_432.pt"), map_location="cpu")
    model.load_state_dict(state, strict=True)
    return model.eval()


# ---- frontend ----------------------------------------------------------------------------------------------------

MEL, _ = torchaudio.compliance.kaldi.get_mel_banks(128, 1024, 32000.0, 0.0, 15000.0, vtln_low=100.0, vtln_high=-500.0, vtln_warp_factor=1.0)
MEL = F.pad(MEL, (0, 1), mode="constant", value=0)
WINDOW = torch.hann_window(800, periodic=False)


def frontend(samples):
    """float32 samples at 32 kHz -> [128, frames] (torch layout)."""
    x = torch.from_numpy(np.asarray(samples, dtype=np.float32))[None, None]
    x = F.conv1d(x, torch.tensor([[[-0.97, 1.0]]])).squeeze(1)
    spec = torch.stft(x, 1024, hop_length=320, win_length=800, center=True, normalized=False, window=WINDOW, return_complex=False)
    power = (spec ** 2).sum(-1)[0]
    mel = torch.matmul(MEL, power)
    return ((mel + 0.00001).log() + 4.5) / 5.0


# ---- the engine's resampler in float64 ---------------------------------------------------------------------------

def resample(x, src, dst, passband=0.9, stopband=1.0, atten=100.0):
    g = math.gcd(src, dst)
    up, down = dst // g, src // g
    nyq = 0.5 * min(1.0, up / down)
    lo, hi = passband * nyq, stopband * nyq
    cutoff = 0.5 * (lo + hi)
    beta = 0.1102 * (atten - 8.7)
    length = (atten - 7.95) / (14.36 * (hi - lo))
    half_width = length / 2
    half = math.ceil(half_width)
    taps = (2 * half + 7) & ~7
    i0 = np.i0
    rows = np.zeros((up, taps))
    for phase in range(up):
        t = np.arange(taps) - (half - 1) - phase / up
        r = t / half_width
        inside = np.abs(r) < 1
        v = np.where(inside, 2 * cutoff * np.sinc(2 * cutoff * t) * i0(beta * np.sqrt(np.clip(1 - r * r, 0, None))) / i0(beta), 0.0)
        rows[phase] = (v / v.sum()).astype(np.float32)
    n_out = -(-len(x) * up // down)
    padded = np.concatenate([np.zeros(half - 1), np.asarray(x, dtype=np.float64), np.zeros(taps + 1)])
    k = np.arange(n_out)
    base, phase = (k * down) // up, (k * down) % up
    idx = base[:, None] + np.arange(taps)[None, :]
    return np.einsum("kt,kt->k", rows[phase], padded[idx]).astype(np.float32)


def read_wav16(path):
    import wave
    with wave.open(path) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1, path
        rate = w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return data.astype(np.float32) / 32768.0, rate


# ---- writing -----------------------------------------------------------------------------------------------------

manifest = {"weights": "weights/mn04_as_mAP_432.pt", "clips": [], "finetune": None, "layers": []}


def save(name, array):
    np.save(os.path.join(OUT, name), np.ascontiguousarray(np.asarray(array, dtype=np.float32)))
    return name


def engine_layout(t):
    """torch [N, C, F, T] -> engine [N, C, T, F]; [N, K] as it is."""
    return t.transpose(2, 3) if t.dim() == 4 else t


def clip_case(cid, source, samples16k, whole):
    samples = resample(samples16k, 16000, 32000)
    model = load_model()
    with torch.no_grad():
        fe = frontend(samples)                                  # [128, T]
        taps = model.taps(fe[None, None])
    case = {"id": cid, "source": source, "frames": int(fe.shape[1]), "samples_32k": int(len(samples)), "taps": {}}
    fe_t = fe.T.numpy()                                         # [T, 128]
    if whole:
        case["frontend"] = save(f"{cid}_frontend.npy", fe_t)
    else:
        case["frontend_every"] = 8
        case["frontend"] = save(f"{cid}_frontend_rows.npy", fe_t[::8])
    rng = np.random.default_rng(1234)
    for name, t in taps.items():
        v = engine_layout(t).contiguous().numpy()
        entry = {"shape": list(v.shape)}
        if whole or v.ndim == 2:
            entry["values"] = save(f"{cid}_{name}.npy", v)
        else:
            flat = v.reshape(-1)
            idx = np.sort(rng.choice(flat.size, size=min(1024, flat.size), replace=False))
            entry["channel_means"] = save(f"{cid}_{name}_channel_means.npy", v.mean(axis=(0, 2, 3)))
            entry["sample_index"] = save(f"{cid}_{name}_sample_index.npy", idx.astype(np.float32))
            entry["sample_values"] = save(f"{cid}_{name}_sample_values.npy", flat[idx])
            entry["norm"] = float(np.linalg.norm(flat.astype(np.float64)))
        case["taps"][name] = entry
    top = int(taps["scores"][0].argmax())
    case["top_class"] = top
    case["top_score"] = float(taps["scores"][0, top])
    manifest["clips"].append(case)
    print(f"{cid}: {fe.shape[1]} frames, top class {top} p {case['top_score']:.4f}")


def finetune_case():
    model = MN(dropout=0.0)
    model.load_state_dict(torch.load(os.path.join(SHARED, "weights", "mn04_as_mAP_432.pt"), map_location="cpu"), strict=True)
    model.train()
    g = torch.Generator().manual_seed(7)
    x = torch.randn(2, 1, 64, 48, generator=g)                  # torch layout [N, 1, mel, frames]
    r = torch.randn(2, 527, generator=g) * 0.01
    taps = model.taps(x)
    (taps["logits"] * r).sum().backward()
    lr = 0.05
    entry = {"input": save("finetune_input.npy", x.transpose(2, 3).numpy()), "r": save("finetune_r.npy", r.numpy()), "lr": lr,
             "params": {}}
    rng = np.random.default_rng(99)
    with torch.no_grad():
        for name, p in model.named_parameters():
            grad = p.grad.numpy()
            e = {"shape": list(grad.shape), "norm": float(np.linalg.norm(grad.astype(np.float64))),
                 "updated_norm": float(np.linalg.norm((p - lr * p.grad).numpy().astype(np.float64)))}
            if grad.size <= 4096:
                e["grad"] = save(f"finetune_grad_{name}.npy", grad)
            else:
                idx = np.sort(rng.choice(grad.size, size=512, replace=False))
                e["sample_index"] = save(f"finetune_index_{name}.npy", idx.astype(np.float32))
                e["sample_grad"] = save(f"finetune_sgrad_{name}.npy", grad.reshape(-1)[idx])
                e["sample_updated"] = save(f"finetune_supd_{name}.npy", (p - lr * p.grad).numpy().reshape(-1)[idx])
            entry["params"][name] = e
            p -= lr * p.grad
    bn = model.features[16][1]
    entry["running_mean"] = save("finetune_features16_running_mean.npy", bn.running_mean.numpy())
    entry["running_var"] = save("finetune_features16_running_var.npy", bn.running_var.numpy())
    manifest["finetune"] = entry
    print(f"finetune: {len(entry['params'])} parameters")


def layer_case(lid, module, x, describe):
    """Forward and backward of one module (training mode: batch statistics) with a seeded output gradient."""
    g = torch.Generator().manual_seed(11)
    x = x.clone().requires_grad_(True)
    y = module(x)
    dy = torch.randn(y.shape, generator=g)
    y.backward(dy)
    case = {"id": lid, **describe, "x": save(f"layers_{lid}_x.npy", x.detach().numpy()), "y": save(f"layers_{lid}_y.npy", y.detach().numpy()),
            "dy": save(f"layers_{lid}_dy.npy", dy.numpy()), "dx": save(f"layers_{lid}_dx.npy", x.grad.numpy()), "params": {}, "grads": {}}
    for name, p in module.named_parameters():
        case["params"][name] = save(f"layers_{lid}_p_{name}.npy", p.detach().numpy())
        case["grads"][name] = save(f"layers_{lid}_g_{name}.npy", p.grad.numpy())
    for name, b in module.named_buffers():
        if b.dtype == torch.float32:
            case["params"][name] = save(f"layers_{lid}_b_{name}.npy", b.numpy())
    manifest["layers"].append(case)


def layer_cases():
    g = torch.Generator().manual_seed(3)
    x = torch.linspace(-5, 5, 81).reshape(1, 1, 9, 9)
    x = x + 0.01 * torch.randn(x.shape, generator=g)           # off the kinks at -3 and 3
    layer_case("hardswish", nn.Hardswish(), x, {"kind": "hardswish"})
    torch.manual_seed(5)
    se = SqueezeExcitation(24, 8)
    layer_case("se", se, torch.randn(2, 24, 5, 7, generator=g), {"kind": "se", "channels": 24, "squeeze": 8})
    for lid, (cin, k, exp, cout, use_se, hs, s) in {"ir_se_residual": (16, 5, 48, 16, True, True, 1),
                                                    "ir_stride2": (8, 3, 24, 16, False, False, 2)}.items():
        torch.manual_seed(6)
        block = InvertedResidual(cin, k, exp, cout, use_se, hs, s)
        with torch.no_grad():                                   # non-trivial BatchNorm affine parameters
            for m in block.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.2, 0.2)
        block.train()
        layer_case(lid, block, torch.randn(2, cin, 9, 11, generator=g),
                   {"kind": "inverted_residual", "in": cin, "kernel": k, "expanded": exp, "out": cout, "se": use_se, "hardswish": hs, "stride": s,
                    "squeeze": make_divisible(exp // 4, 8)})


def main():
    global SHARED
    if len(sys.argv) > 1:
        SHARED = os.path.abspath(sys.argv[1])
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    raw = np.fromfile(os.path.join(SHARED, "weights", "yamnet_test_audio.bin"), dtype="<i2").astype(np.float32) / 32768.0
    clip_case("speech", "weights/yamnet_test_audio.bin", raw, whole=True)
    for cid, rel in [("slider_anomaly", "data/dcase2020-lite/slider/anomaly_id_02_00000016.wav"),
                     ("fan_normal", "data/dcase2020-lite/fan/normal_id_00_00000000.wav")]:
        samples, rate = read_wav16(os.path.join(SHARED, rel))
        assert rate == 16000
        clip_case(cid, rel, samples, whole=False)
    finetune_case()
    layer_cases()
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"wrote {OUT}: {len(os.listdir(OUT))} files, {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
