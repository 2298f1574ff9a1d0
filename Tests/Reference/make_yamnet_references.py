#!/usr/bin/env python3
"""YAMNet on yamnet_test_audio.bin, computed in numpy from the int8 TFLite file (no tflite package).

    /usr/bin/python3 Tests/Reference/make_yamnet_references.py [../shared/weights]

The input is the standard `yamnet` frontend of the 15600 int16 samples / 32768 (exactly one [96, 64] patch): 25 ms
periodic Hann frames (400 samples), hop 10 ms (160), |rfft| with 512 points, the TF mel matrix (64 bands, 125-7500 Hz,
HTK mel), ln(mel + 0.001); the same formulas as make_frontend_references.py, in numpy. It is written as
yamnet_audio_patch.npy so the C# test feeds the network exactly this patch.

Reads yamnet_spectra_in.tflite with the flatbuffer reader of make_tflite_references.py, walks its operators (QUANTIZE,
RESHAPE, SPLIT, CONV_2D, DEPTHWISE_CONV_2D, MEAN, FULLY_CONNECTED, LOGISTIC, DEQUANTIZE), dequantises the weights
((q - zero_point[c]) * scale[c], rounded once to float32, as the C# reader) and runs yamnet_test_spectra.bin ([96, 64]
float32) through the network in float64 (TF SAME padding, ReLU6 from the fused activations), twice:
  float: activations in float throughout (what YamNet computes with int8 emulation off);
  int8:  every activation the int8 graph stores fake-quantised with that tensor's scale and zero point:
         clamp(round_half_away(x / scale) + zp, -128, 127), then (q - zp) * scale (the patch at the QUANTIZE op, each
         conv output after its activation, the MEAN, the FULLY_CONNECTED and LOGISTIC outputs).
Writes Tests/Fixtures/tflite/yamnet_golden.json: both modes' 1024-d embedding and the Speech (class 0) score, plus the
best class, and int8_spread_1e-6: how far the int8 emulation moves when every activation is perturbed by 1e-6 relative
before it is quantised (three seeds) — values that land a level apart cascade, so an emulation computed in float32
cannot be expected to be closer than that. The int8 emulation rounds in float64 where the runtime requantises in fixed
point; the runtime itself is not run here.
"""
import json
import os
import struct
import sys

import numpy as np

from make_tflite_references import INT_TYPES, Table

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "Fixtures", "tflite", "yamnet_golden.json")
QUANTIZE, RESHAPE, SPLIT, CONV, DEPTHWISE, MEAN, FC, LOGISTIC, DEQUANTIZE = 114, 22, 49, 3, 4, 40, 9, 14, 6


class Graph:
    def __init__(self, path):
        buf = open(path, "rb").read()
        model = Table(buf, struct.unpack_from("<I", buf, 0)[0])
        self.codes = [max(c.scalar(3, "i"), c.scalar(0, "b")) for c in model.tables(1)]
        self.buffers = model.tables(4)
        graph = model.tables(2)[0]
        self.tensors = graph.tables(0)
        self.ops = graph.tables(3)

    def quant(self, i):
        q = self.tensors[i].table(4)
        scale = np.array(q.vector(2, "f"), dtype=np.float32).astype(np.float64) if q else np.array([])
        zero = np.array(q.vector(3, "q") or [0], dtype=np.float64) if q else np.array([0.0])
        return scale, zero, (q.scalar(6, "i") if q else 0)

    def weight(self, i):
        t = self.tensors[i]
        shape = t.vector(0, "i")
        data = self.buffers[t.scalar(2, "I")].bytes(0)
        ttype = t.scalar(1, "B")
        if ttype == 0:
            return np.frombuffer(data, dtype=np.float32).reshape(shape).astype(np.float64)
        q = np.frombuffer(data, dtype=INT_TYPES[ttype]).reshape(shape).astype(np.float64)
        scale, zero, axis = self.quant(i)
        if scale.size > 1:
            b = [1] * len(shape)
            b[axis] = scale.size
            scale = scale.reshape(b)
            zero = zero.reshape(b) if zero.size > 1 else zero
        return ((q - zero) * scale).astype(np.float32).astype(np.float64)

    def fake_quant(self, x, i):
        scale, zero, _ = self.quant(i)
        s, z = scale[0], zero[0]
        v = x / s
        q = np.clip(np.sign(v) * np.floor(np.abs(v) + 0.5) + z, -128, 127)
        return (q - z) * s


def same_pad(x, k, stride):
    """x [H, W, C] padded as TF SAME (the extra row/column after)."""
    h, w = x.shape[:2]
    oh, ow = -(-h // stride), -(-w // stride)
    ph, pw = max((oh - 1) * stride + k - h, 0), max((ow - 1) * stride + k - w, 0)
    return np.pad(x, ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0))), oh, ow


def conv(x, w, b, stride):
    """x [H, W, I], w [O, kh, kw, I] (TFLite layout), b [O]."""
    k = w.shape[1]
    xp, oh, ow = same_pad(x, k, stride)
    y = np.zeros((oh, ow, w.shape[0]))
    for dy in range(k):
        for dx in range(k):
            patch = xp[dy:dy + stride * oh:stride, dx:dx + stride * ow:stride, :]
            y += patch @ w[:, dy, dx, :].T
    return y + b


def depthwise(x, w, b, stride):
    """x [H, W, C], w [1, kh, kw, C]."""
    k = w.shape[1]
    xp, oh, ow = same_pad(x, k, stride)
    y = np.zeros((oh, ow, x.shape[2]))
    for dy in range(k):
        for dx in range(k):
            y += xp[dy:dy + stride * oh:stride, dx:dx + stride * ow:stride, :] * w[0, dy, dx, :]
    return y + b


def activation(y, code):
    return {0: y, 1: np.maximum(y, 0), 3: np.clip(y, 0, 6)}[code]


def run(g, patch, int8, jitter=None):
    """jitter: (rng, relative size) perturbing every activation before it is quantised (float32-like accumulation)."""
    values = {}
    for op in g.ops:
        code = g.codes[op.scalar(0, "I")]
        ins, outs = op.vector(1, "i"), op.vector(2, "i")
        opts = op.table(4) if op._field(4) is not None else None  # builtin_options (field 4 after builtin_options_type)
        if code == QUANTIZE:
            y = patch.astype(np.float64)
        elif code in (RESHAPE, DEQUANTIZE):
            y = values[ins[0]]
        elif code == SPLIT:
            y = values[ins[1]]
        elif code == CONV:
            stride, act = opts.scalar(1, "i"), opts.scalar(3, "b")
            y = activation(conv(values[ins[0]], g.weight(ins[1]), g.weight(ins[2]), stride), act)
        elif code == DEPTHWISE:
            stride, act = opts.scalar(1, "i"), opts.scalar(4, "b")
            y = activation(depthwise(values[ins[0]], g.weight(ins[1]), g.weight(ins[2]), stride), act)
        elif code == MEAN:
            y = values[ins[0]].mean(axis=(0, 1))
        elif code == FC:
            y = g.weight(ins[1]) @ values[ins[0]].reshape(-1) + g.weight(ins[2])
        elif code == LOGISTIC:
            y = 1 / (1 + np.exp(-values[ins[0]]))
        else:
            raise ValueError(f"unexpected operator {code}")
        if code == RESHAPE:
            y = y.reshape(96, 64, 1)
        if int8 and code not in (RESHAPE, SPLIT, DEQUANTIZE):
            if jitter is not None:
                y = y * (1 + jitter[1] * jitter[0].standard_normal(np.shape(y)))
            y = g.fake_quant(y, outs[0])
        values[outs[0]] = y
        if code == MEAN:
            embedding = y.reshape(-1)
    return embedding, values[g.ops[-1].vector(2, "i")[0]].reshape(-1)


def tf_mel(bins, rate, bands, lo, hi):
    mel = lambda f: 1127.0 * np.log1p(f / 700.0)
    m = mel(np.linspace(0, rate / 2, bins))
    e = np.linspace(mel(lo), mel(hi), bands + 2)
    w = np.maximum(0, np.minimum((m[:, None] - e[None, :-2]) / (e[1:-1] - e[:-2]), (e[2:] - m[:, None]) / (e[2:] - e[1:-1])))
    w[0, :] = 0
    return w


def yamnet_frontend(samples):
    frames = 1 + (len(samples) - 400) // 160
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)
    x = np.stack([samples[160 * i:160 * i + 400] * window for i in range(frames)])
    magnitude = np.abs(np.fft.rfft(x, 512, axis=1))
    return np.log(magnitude @ tf_mel(257, 16000, 64, 125, 7500) + 0.001)


def main():
    shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "..", "shared", "weights")
    g = Graph(os.path.join(shared, "yamnet_spectra_in.tflite"))
    samples = np.fromfile(os.path.join(shared, "yamnet_test_audio.bin"), dtype="<i2").astype(np.float64) / 32768.0
    patch32 = yamnet_frontend(samples).astype(np.float32)
    assert patch32.shape == (96, 64), patch32.shape
    np.save(os.path.join(os.path.dirname(OUT), "yamnet_audio_patch.npy"), patch32)
    patch = patch32.reshape(96, 64, 1)
    result = {}
    for mode, int8 in (("float", False), ("int8", True)):
        embedding, scores = run(g, patch, int8)
        result[mode] = {"embedding": [float(v) for v in embedding.astype(np.float32)], "speech": float(scores[0]), "best": int(scores.argmax())}
        print(f"{mode}: best class {scores.argmax()} p {scores.max():.6f}, speech {scores[0]:.6f}, |embedding| {np.linalg.norm(embedding):.6f}")
    # How far the int8 emulation itself moves when every activation is perturbed by 1e-6 relative before quantising
    # (the size of float32 accumulation differences): values a level apart, the worst in levels, relative L2.
    reference = np.array(result["int8"]["embedding"], dtype=np.float64)
    level = g.quant([op for op in g.ops if g.codes[op.scalar(0, "I")] == MEAN][0].vector(2, "i")[0])[0][0]
    spread = {"off": 0, "worst_levels": 0.0, "relative_l2": 0.0, "speech": []}
    for seed in range(3):
        embedding, scores = run(g, patch, True, (np.random.default_rng(seed), 1e-6))
        d = np.abs(embedding - reference)
        spread["off"] = max(spread["off"], int((d > level / 2).sum()))
        spread["worst_levels"] = max(spread["worst_levels"], float(d.max() / level))
        spread["relative_l2"] = max(spread["relative_l2"], float(np.linalg.norm(embedding - reference) / np.linalg.norm(reference)))
        spread["speech"].append(float(scores[0]))
    result["int8_spread_1e-6"] = spread
    print(f"int8 under 1e-6 perturbations: {spread}")
    with open(OUT, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
