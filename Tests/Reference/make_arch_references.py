#!/usr/bin/python3
"""Writes the PyTorch reference fixtures for the architectures in Engine/Architectures (Tests/Engine/Architectures/**/*Tests.cs).

Run with Debian's python (apt: python3-torch, python3-numpy), from anywhere:

    /usr/bin/python3 Tests/Reference/make_arch_references.py            # the committed fixtures
    /usr/bin/python3 Tests/Reference/make_arch_references.py --full DIR  # full-size PANNs ResNet22/38 (not committed)

Committed fixtures go to Tests/Fixtures/arch/<case>/: the random weights, one .npy per state-dict key
(weights/<key>.npy, float32; num_batches_tracked as int64), the input, and the output of every tap point
(taps/<name>.npy), plus manifest.json describing each case (architecture, configuration, taps). Small
width-multiplied variants keep the whole folder under 2 MB; the structure, key names and every operation are
those of the full models.

`--full DIR` writes, for ResNet22 and ResNet38 at full width, a checkpoint exactly in the layout of the
published ones (torch.save({'model': state_dict, 'iteration': 0}) with the frontend tensors
spectrogram_extractor.stft.conv_real/conv_imag.weight and logmel_extractor.melW), the same weights as .npy
files, one 10 s clip's log-mel (1001 frames x 64 bins), and every tap. Tests/Engine/Architectures/Panns/PannsFullSizeTests.cs
runs on it when DIR is /tmp/nasd-panns.

The models below are written from the published architecture descriptions (see ../shared/NOTES.md):
PANNs ResNet22/38 (qiuqiangkong/audioset_tagging_cnn, pytorch/models.py), YAMNet's MobileNetV1
(tensorflow/models research/audioset/yamnet, layer names layer1..layer14 and logits), honk res8
(castorini/honk utils/model.py SpeechResModel; the `scaleN.scale` tensors of the released res8.pt are the
gamma of the affine-free BatchNorm before them, as castorini/honkling loads them).

Oracle precision: weights and inputs are float32 values; the forward runs in float64 and each tap is rounded
to float32 once, so the expected values carry no float32 accumulation error of their own.
Inputs come from numpy's PCG64 with fixed seeds, so the files are identical on every run.
"""

import argparse
import json
import math
import os
import shutil
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.normpath(os.path.join(HERE, "..", "Fixtures", "arch"))
SHARED = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared"))

torch.set_num_threads(1)


# ---- PANNs ResNet22 / ResNet38 --------------------------------------------------------------------------

class ConvBlock(nn.Module):
    """(conv3x3 no bias -> BN -> ReLU) x2, then average pooling (pool size given by the caller)."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.bn2 = nn.BatchNorm2d(cout)

    def forward(self, x, pool):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return F.avg_pool2d(x, kernel_size=pool)


class BasicBlock(nn.Module):
    """PANNs' BasicBlock: a stride-2 block average-pools 2x2 BEFORE its first (stride-1) conv; its shortcut
    is AvgPool2d(2) -> conv1x1 -> BN (downsample.1 / downsample.2)."""

    def __init__(self, cin, cout, stride, dropout):
        super().__init__()
        self.stride = stride
        self.dropout = dropout
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        if stride == 2:
            self.downsample = nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(cin, cout, 1, 1, bias=False), nn.BatchNorm2d(cout))
        elif cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, 1, bias=False), nn.BatchNorm2d(cout))
        else:
            self.downsample = None

    def forward(self, x):
        out = F.avg_pool2d(x, 2) if self.stride == 2 else x
        out = F.relu(self.bn1(self.conv1(out)))
        out = F.dropout(out, p=0.1 * self.dropout, training=self.training)
        out = self.bn2(self.conv2(out))
        identity = self.downsample(x) if self.downsample is not None else x
        return F.relu(out + identity)


class ResNetBody(nn.Module):
    def __init__(self, blocks, widths, dropout):
        super().__init__()
        cin = widths[0]
        for i, (n, w) in enumerate(zip(blocks, widths)):
            stride = 1 if i == 0 else 2
            layer = []
            for b in range(n):
                layer.append(BasicBlock(cin, w, stride if b == 0 else 1, dropout))
                cin = w
            setattr(self, "layer%d" % (i + 1), nn.Sequential(*layer))


class Panns(nn.Module):
    """ResNet22 (blocks [2,2,2,2]) / ResNet38 ([3,4,6,3]) from the log-mel on: bn0 over the mel bins onwards.
    `width` scales every channel count (1 = the published models). `dropout` scales the dropout rates
    (0 turns them off, which the training-step fixture needs to be deterministic)."""

    def __init__(self, blocks, width=1.0, classes=527, mel_bins=64, dropout=1.0):
        super().__init__()
        c = lambda n: max(1, int(round(n * width)))
        self.dropout = dropout
        self.bn0 = nn.BatchNorm2d(mel_bins)
        self.conv_block1 = ConvBlock(1, c(64))
        self.resnet = ResNetBody(blocks, [c(64), c(128), c(256), c(512)], dropout)
        self.conv_block_after1 = ConvBlock(c(512), c(2048))
        self.fc1 = nn.Linear(c(2048), c(2048))
        self.fc_audioset = nn.Linear(c(2048), classes)

    def forward(self, logmel):
        """logmel [N, 1, T, mel] -> dict of every tap."""
        taps = {}
        x = self.bn0(logmel.transpose(1, 3)).transpose(1, 3)
        taps["bn0"] = x
        x = self.conv_block1(x, (2, 2))
        taps["conv_block1"] = x
        x = F.dropout(x, p=0.2 * self.dropout, training=self.training)
        for i in range(1, 5):
            layer = getattr(self.resnet, "layer%d" % i)
            for b, block in enumerate(layer):
                x = block(x)
                taps["layer%d.%d" % (i, b)] = x
            taps["layer%d" % i] = x
        x = F.avg_pool2d(x, 2)
        x = F.dropout(x, p=0.2 * self.dropout, training=self.training)
        x = self.conv_block_after1(x, (1, 1))
        taps["conv_block_after1"] = x
        x = F.dropout(x, p=0.2 * self.dropout, training=self.training)
        x = torch.mean(x, dim=3)
        x = torch.max(x, dim=2)[0] + torch.mean(x, dim=2)
        taps["pooled"] = x
        x = F.dropout(x, p=0.5 * self.dropout, training=self.training)
        x = F.relu(self.fc1(x))
        taps["embedding"] = x
        taps["clipwise_output"] = torch.sigmoid(self.fc_audioset(x))
        return taps


def panns_frontend_tensors(sample_rate=32000, n_fft=1024, mel_bins=64, fmin=50.0, fmax=14000.0):
    """The frozen frontend tensors stored in the published checkpoints: the STFT as two conv kernels
    (periodic Hann window times the DFT basis) [n_fft/2+1, 1, n_fft] and the Slaney mel matrix [n_fft/2+1, mel]."""
    import torchaudio
    n = np.arange(n_fft)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / n_fft)
    k = np.arange(n_fft // 2 + 1)[:, None]
    angle = -2 * np.pi * k * n[None, :] / n_fft
    real = (np.cos(angle) * window).astype(np.float32)[:, None, :]
    imag = (np.sin(angle) * window).astype(np.float32)[:, None, :]
    melw = torchaudio.functional.melscale_fbanks(n_fft // 2 + 1, fmin, fmax, mel_bins, sample_rate,
                                                 norm="slaney", mel_scale="slaney").numpy().astype(np.float32)
    return {
        "spectrogram_extractor.stft.conv_real.weight": torch.from_numpy(real),
        "spectrogram_extractor.stft.conv_imag.weight": torch.from_numpy(imag),
        "logmel_extractor.melW": torch.from_numpy(melw),
    }


# ---- YAMNet (MobileNetV1, SAME padding, ReLU6, BN folded into biases) -------------------------------------

YAMNET_BLOCKS = [  # (depthwise stride, pointwise width) of layer2..layer14
    (1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512),
    (1, 512), (1, 512), (1, 512), (1, 512), (1, 512), (2, 1024), (1, 1024)]


def same_pad(x, k, s):
    """TF 'SAME' padding of the last two axes: total = max((ceil(n/s)-1)*s + k - n, 0), the extra one after."""
    pads = []
    for n in (x.shape[3], x.shape[2]):
        out = -(-n // s)
        total = max((out - 1) * s + k - n, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


class YamNet(nn.Module):
    def __init__(self, width=1.0, classes=521):
        super().__init__()
        c = lambda n: max(1, int(round(n * width)))
        self.layer1 = nn.Module()
        self.layer1.conv = nn.Conv2d(1, c(32), 3, 2, 0, bias=True)
        self.strides = [2]
        cin = c(32)
        for i, (stride, w) in enumerate(YAMNET_BLOCKS):
            layer = nn.Module()
            layer.depthwise_conv = nn.Conv2d(cin, cin, 3, stride, 0, groups=cin, bias=True)
            layer.pointwise_conv = nn.Conv2d(cin, c(w), 1, 1, 0, bias=True)
            setattr(self, "layer%d" % (i + 2), layer)
            self.strides.append(stride)
            cin = c(w)
        self.logits = nn.Linear(cin, classes)

    def forward(self, patch):
        """patch [N, 1, 96, 64] (frames x mel) -> dict of every tap."""
        taps = {}
        x = F.relu6(self.layer1.conv(same_pad(patch, 3, 2)))
        taps["layer1"] = x
        for i in range(2, 15):
            layer = getattr(self, "layer%d" % i)
            x = F.relu6(layer.depthwise_conv(same_pad(x, 3, self.strides[i - 1])))
            x = F.relu6(layer.pointwise_conv(x))
            taps["layer%d" % i] = x
        x = x.mean(dim=(2, 3))
        taps["embedding"] = x
        logits = self.logits(x)
        taps["logits"] = logits
        taps["scores"] = torch.sigmoid(logits)
        return taps


# ---- honk res8 -------------------------------------------------------------------------------------------

class Scale(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(n))


class HonkRes(nn.Module):
    """SpeechResModel (res8: 6 layers, 45 maps, AvgPool (4,3) after conv0, no dilation). BatchNorms have no
    affine; the released res8.pt carries scale1/3/5.scale, the gamma of bn1/3/5."""

    def __init__(self, maps=45, layers=6, pool=(4, 3), classes=12, scales=True):
        super().__init__()
        self.n_layers = layers
        self.pool = pool
        self.conv0 = nn.Conv2d(1, maps, 3, padding=1, bias=False)
        for i in range(1, layers + 1):
            setattr(self, "bn%d" % i, nn.BatchNorm2d(maps, affine=False))
            if scales and i % 2 == 1:
                setattr(self, "scale%d" % i, Scale(maps))
            setattr(self, "conv%d" % i, nn.Conv2d(maps, maps, 3, padding=1, bias=False))
        self.output = nn.Linear(maps, classes)

    def forward(self, mfcc):
        """mfcc [N, 101, 40] (frames x coefficients) -> dict of every tap."""
        taps = {}
        x = mfcc.unsqueeze(1)
        old = None
        for i in range(self.n_layers + 1):
            y = F.relu(getattr(self, "conv%d" % i)(x))
            if i == 0:
                y = F.avg_pool2d(y, self.pool)
                old = y
            if i > 0 and i % 2 == 0:
                x = y + old
                old = x
            else:
                x = y
            if i > 0:
                x = getattr(self, "bn%d" % i)(x)
                if hasattr(self, "scale%d" % i):
                    x = x * getattr(self, "scale%d" % i).scale.view(1, -1, 1, 1)
            taps["conv0" if i == 0 else "layer%d" % i] = x
        x = x.mean(dim=(2, 3))
        taps["embedding"] = x
        taps["logits"] = self.output(x)
        return taps


# ---- random weights ----------------------------------------------------------------------------------------

def randomize(model, rng):
    """Seeded float32 weights that keep activations O(1) through deep stacks: He-normal convs/linears,
    BatchNorm statistics and affines away from the identity so that every term is exercised."""
    for name, t in list(model.state_dict().items()):
        shape = tuple(t.shape)
        leaf = name.rsplit(".", 1)[-1]
        if leaf == "num_batches_tracked":
            v = np.array(rng.integers(1, 1000), dtype=np.int64)
        elif leaf == "running_mean":
            v = rng.normal(0.0, 0.2, shape)
        elif leaf == "running_var":
            v = rng.uniform(0.5, 2.0, shape)
        elif leaf == "scale" or (leaf == "weight" and len(shape) == 1):
            v = rng.uniform(0.5, 1.5, shape)
        elif leaf == "bias":
            v = rng.normal(0.0, 0.1, shape)
        elif leaf == "weight":
            fan_in = int(np.prod(shape[1:]))
            v = rng.normal(0.0, math.sqrt(2.0 / fan_in), shape)
        else:
            raise ValueError("no rule for " + name)
        t.copy_(torch.from_numpy(np.asarray(v).astype(t.numpy().dtype)))


def calibrate_head(model, x, head="fc_audioset"):
    """Random deep nets give embeddings of arbitrary scale, which saturates the sigmoid head (every score 0 or 1, and
    a comparison of nothing). Rescale the head's weight so its logits on the fixture input have std 2."""
    with torch.no_grad():
        emb = run_float64(model, x)["embedding"]
        layer = getattr(model, head)
        logits = torch.from_numpy(emb).double() @ layer.weight.double().T
        layer.weight.mul_(float(2.0 / max(logits.std().item(), 1e-12)))


# ---- writing ------------------------------------------------------------------------------------------------

def save_npy(path, array):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    a = np.ascontiguousarray(array)
    if a.dtype == np.float64:
        a = a.astype("<f4")
    np.save(path, a)


def save_state(folder, state):
    for key, t in state.items():
        save_npy(os.path.join(folder, key + ".npy"), t.detach().cpu().numpy())


def run_float64(model, x):
    m64 = model.double().eval()
    with torch.no_grad():
        taps = m64(torch.from_numpy(x).double())
    model.float()
    return {k: v.numpy().astype(np.float32) for k, v in taps.items()}


def write_case(manifest, case, model, x, config, arch, tap_order):
    folder = os.path.join(FIXTURES, case)
    save_state(os.path.join(folder, "weights"), model.state_dict())
    save_npy(os.path.join(folder, "input.npy"), x)
    taps = run_float64(model, x)
    for name in tap_order:
        save_npy(os.path.join(folder, "taps", name + ".npy"), taps[name])
    manifest.append({"case": case, "arch": arch, "config": config, "input": list(x.shape),
                     "taps": {name: list(taps[name].shape) for name in tap_order},
                     "keys": list(model.state_dict().keys())})


def panns_tap_order(blocks):
    order = ["bn0", "conv_block1"]
    for i, n in enumerate(blocks):
        order += ["layer%d.%d" % (i + 1, b) for b in range(n)] + ["layer%d" % (i + 1)]
    return order + ["conv_block_after1", "pooled", "embedding", "clipwise_output"]


def panns_train_step(manifest, case, model, x, labels, head_out, rng, config):
    """One Adam step of ResNet (train mode: batch-statistics BatchNorm, dropout off) + a linear head on the
    embedding, cross-entropy loss. Writes the head's initial weights, the loss, every gradient, and the
    parameters and BatchNorm buffers after the step."""
    folder = os.path.join(FIXTURES, case)
    save_state(os.path.join(folder, "weights"), model.state_dict())
    save_npy(os.path.join(folder, "input.npy"), x)
    emb = model.fc1.out_features
    head = nn.Linear(emb, head_out)
    randomize(head, rng)
    save_state(os.path.join(folder, "head"), head.state_dict())
    model.train()
    params = list(model.named_parameters()) + [("head." + n, p) for n, p in head.named_parameters()]
    opt = torch.optim.Adam([p for _, p in params], lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    opt.zero_grad()
    taps = model(torch.from_numpy(x))
    logits = head(taps["embedding"])
    loss = F.cross_entropy(logits, torch.from_numpy(labels))
    loss.backward()
    grads = {n: (p.grad if p.grad is not None else torch.zeros_like(p)) for n, p in params}
    opt.step()
    model.eval()
    save_npy(os.path.join(folder, "labels.npy"), labels.astype(np.int64))
    save_npy(os.path.join(folder, "loss.npy"), np.array([loss.item()], dtype=np.float32))
    for n, g in grads.items():
        if n.startswith("fc_audioset."):
            continue  # not on the loss path: zero gradient, unchanged by the step
        save_npy(os.path.join(folder, "grad", n + ".npy"), g.numpy())
    after = {n: p for n, p in params if not n.startswith("fc_audioset.")}
    after.update({n: b for n, b in model.named_buffers()})
    save_state(os.path.join(folder, "after"), after)
    manifest.append({"case": case, "arch": "panns-train-step", "config": config, "input": list(x.shape),
                     "optimizer": {"name": "adam", "lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
                     "loss": "cross_entropy", "head_out": head_out, "labels": labels.tolist()})


def committed():
    if os.path.isdir(FIXTURES):
        shutil.rmtree(FIXTURES)
    manifest = []

    # PANNs at width 1/32 (2..16 channels in the ResNet, 64 after it): ResNet22 on an odd-length input
    # (floor in every pooling) with the 527 AudioSet classes, ResNet38 on an even one with 10 (fixture size).
    for case, blocks, width, frames, classes, seed in [("resnet22_w32", [2, 2, 2, 2], 1 / 32, 38, 527, 1),
                                                        ("resnet38_w32", [3, 4, 6, 3], 1 / 32, 32, 10, 2)]:
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        model = Panns(blocks, width=width, classes=classes)
        randomize(model, rng)
        x = rng.normal(-20.0, 10.0, (2, 1, frames, 64)).astype(np.float32)  # log-mel in dB
        calibrate_head(model, x)
        write_case(manifest, case, model, x, {"blocks": blocks, "width": width, "classes": classes, "mel_bins": 64},
                   "panns-resnet", panns_tap_order(blocks))

    # One Adam step of a ResNet22 at width 1/64 + a 3-class head, dropout off, batch-statistics BatchNorm.
    torch.manual_seed(6)
    rng = np.random.default_rng(6)
    model = Panns([2, 2, 2, 2], width=1 / 64, classes=10, dropout=0.0)
    randomize(model, rng)
    x = rng.normal(-20.0, 10.0, (3, 1, 32, 64)).astype(np.float32)
    panns_train_step(manifest, "resnet22_w64_train", model, x, np.array([2, 0, 1], dtype=np.int64), 3, rng,
                     {"blocks": [2, 2, 2, 2], "width": 1 / 64, "classes": 10, "mel_bins": 64})

    # YAMNet at width 1/16 (the full model is exercised against the int8 TFLite file by the weights tests).
    rng = np.random.default_rng(3)
    model = YamNet(width=1 / 16)
    randomize(model, rng)
    x = rng.normal(-3.0, 2.0, (2, 1, 96, 64)).astype(np.float32)  # ln(mel + 0.001)
    write_case(manifest, "yamnet_w16", model, x, {"width": 1 / 16, "classes": 521}, "yamnet",
               ["layer%d" % i for i in range(1, 15)] + ["embedding", "logits", "scores"])

    # honk res8 with random weights (8 maps, with scale layers).
    rng = np.random.default_rng(4)
    model = HonkRes(maps=8)
    randomize(model, rng)
    x = rng.normal(0.0, 5.0, (2, 101, 40)).astype(np.float32)
    write_case(manifest, "res8_m8", model, x, {"maps": 8, "layers": 6, "pool": [4, 3], "classes": 12}, "honk-res",
               ["conv0"] + ["layer%d" % i for i in range(1, 7)] + ["embedding", "logits"])

    # The released honk models from ../shared (if present): only the input and the outputs are committed.
    for name, maps, scales in [("res8", 45, True), ("res8_narrow", 19, False)]:
        path = os.path.join(SHARED, "weights", name + ".pt")
        if not os.path.exists(path):
            print("skipping %s: %s not found" % (name, path), file=sys.stderr)
            continue
        model = HonkRes(maps=maps, scales=scales)
        model.load_state_dict(torch.load(path, map_location="cpu"))
        rng = np.random.default_rng(5)
        x = rng.normal(0.0, 5.0, (1, 101, 40)).astype(np.float32)
        folder = os.path.join(FIXTURES, "shared_" + name)
        save_npy(os.path.join(folder, "input.npy"), x)
        taps = run_float64(model, x)
        for tap in ["embedding", "logits"]:
            save_npy(os.path.join(folder, "taps", tap + ".npy"), taps[tap])
        manifest.append({"case": "shared_" + name, "arch": "honk-res", "weights_file": "weights/%s.pt" % name,
                         "config": {"maps": maps, "layers": 6, "pool": [4, 3], "classes": 12},
                         "input": list(x.shape), "taps": {t: list(taps[t].shape) for t in ["embedding", "logits"]}})

    with open(os.path.join(FIXTURES, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    total = sum(os.path.getsize(os.path.join(d, n)) for d, _, files in os.walk(FIXTURES) for n in files)
    print("wrote %s (%.2f MB)" % (FIXTURES, total / 1e6))


def full(folder):
    """Full-size ResNet22 and ResNet38 on one 10 s clip at 32 kHz: 1001 frames x 64 mel bins."""
    os.makedirs(folder, exist_ok=True)
    manifest = []
    for case, blocks, seed in [("resnet22", [2, 2, 2, 2], 11), ("resnet38", [3, 4, 6, 3], 12)]:
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        model = Panns(blocks)
        randomize(model, rng)
        x = rng.normal(-20.0, 10.0, (1, 1, 1001, 64)).astype(np.float32)
        calibrate_head(model, x)
        state = dict(model.state_dict())
        state.update(panns_frontend_tensors())
        torch.save({"model": state, "iteration": 0}, os.path.join(folder, case + ".pth"))
        save_state(os.path.join(folder, case, "weights"), state)
        save_npy(os.path.join(folder, case, "input.npy"), x)
        taps = run_float64(model, x)
        order = panns_tap_order(blocks)
        for name in order:
            save_npy(os.path.join(folder, case, "taps", name + ".npy"), taps[name])
        manifest.append({"case": case, "arch": "panns-resnet", "config": {"blocks": blocks, "width": 1.0, "classes": 527, "mel_bins": 64},
                         "input": list(x.shape), "taps": {n: list(taps[n].shape) for n in order}})
        print("wrote", case, file=sys.stderr)
    with open(os.path.join(folder, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", metavar="DIR", help="write the full-size PANNs fixtures to DIR instead")
    args = ap.parse_args()
    if args.full:
        full(args.full)
    else:
        committed()
