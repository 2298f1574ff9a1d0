#!/usr/bin/python3
"""Writes the PyTorch reference fixtures for convolution and pooling (Tests/Engine/Layers/Conv2dTests.cs).

    /usr/bin/python3 Tests/Reference/make_conv_references.py

Rewrites Tests/Fixtures/conv/ (*.npy + manifest.json). Inputs are float32 from numpy's PCG64 with fixed seeds;
torch computes forward and backward (autograd) in float64 from those float32 values and the results are rounded
to float32 once, so the expected values carry no float32 error of their own. TF "SAME" cases are checked against
an explicit F.pad (asymmetric: the extra pixel goes bottom/right) followed by an unpadded conv.

Tolerances (checked by the C# test): a conv output is a sum of K = C/g*kh*kw products; float32 accumulation
error is bounded by about K*u*sum|w||x| (u = 2^-24): an element passes with abs error <= 2e-5 (inputs in [-1, 1],
K <= 300) or relative error <= 1e-5 (weight gradients sum ~900 products and reach |values| ~ 35, where a different
summation order, e.g. the ILGPU kernels', costs ~20 ulp); nmse (sum err^2 / sum ref^2) <= 1e-11. Pooling is exact up to one rounding of a mean: max-abs 1e-6.
"""

import json
import os

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "Fixtures", "conv"))
torch.set_num_threads(1)


def rand(rng, *shape):
    return rng.uniform(-1.0, 1.0, size=shape).astype(np.float32)


def save(name, array):
    np.save(os.path.join(OUT, name), np.ascontiguousarray(array, dtype=np.float32))
    return name


def same_pads(size, k, s, d):
    out = (size + s - 1) // s
    total = max((out - 1) * s + d * (k - 1) + 1 - size, 0)
    return total // 2, total - total // 2


def conv_case(rng, cases, cid, n, c, o, hw, k, stride=(1, 1), pad=(0, 0), dil=(1, 1), groups=1, bias=True, same=False, one_d=False):
    h, w = hw
    kh, kw = k
    x = rand(rng, n, c, w) if one_d else rand(rng, n, c, h, w)
    wt = rand(rng, o, c // groups, kw) if one_d else rand(rng, o, c // groups, kh, kw)
    b = rand(rng, o) if bias else None
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    wtt = torch.tensor(wt, dtype=torch.float64, requires_grad=True)
    bt = torch.tensor(b, dtype=torch.float64, requires_grad=True) if bias else None
    if one_d:
        if same:
            l, r = same_pads(w, kw, stride[1], dil[1])
            y = F.conv1d(F.pad(xt, (l, r)), wtt, bt, stride[1], 0, dil[1], groups)
        else:
            y = F.conv1d(xt, wtt, bt, stride[1], pad[1], dil[1], groups)
    elif same:
        t, bo = same_pads(h, kh, stride[0], dil[0])
        l, r = same_pads(w, kw, stride[1], dil[1])
        y = F.conv2d(F.pad(xt, (l, r, t, bo)), wtt, bt, stride, 0, dil, groups)
    else:
        y = F.conv2d(xt, wtt, bt, stride, pad, dil, groups)
    dy = rand(rng, *y.shape)
    y.backward(torch.tensor(dy, dtype=torch.float64))
    p = cid.replace("/", "_")
    files = {
        "x": save(p + "_x.npy", x), "w": save(p + "_w.npy", wt), "dy": save(p + "_dy.npy", dy),
        "y": save(p + "_y.npy", y.detach().numpy()), "dx": save(p + "_dx.npy", xt.grad.numpy()),
        "dw": save(p + "_dw.npy", wtt.grad.numpy()),
    }
    if bias:
        files["b"] = save(p + "_b.npy", b)
        files["db"] = save(p + "_db.npy", bt.grad.numpy())
    cases.append({"id": cid, "op": "conv1d" if one_d else "conv2d", "in": c, "out": o, "kernel": [kh, kw], "stride": list(stride),
                  "padding": "same" if same else list(pad), "dilation": list(dil), "groups": groups, "bias": bias, "files": files,
                  "tolerance": {"max_abs": 2e-5, "max_rel": 1e-5, "nmse": 1e-11}})


def pool_case(rng, cases, cid, kind, n, c, hw, k, stride, pad, count_include_pad=True, ties=False):
    x = rand(rng, n, c, *hw)
    if ties:
        x = np.round(x * 2).astype(np.float32)   # values in {-2..2}: many equal maxima per window
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    if kind == "max":
        y = F.max_pool2d(xt, k, stride, pad)
    else:
        y = F.avg_pool2d(xt, k, stride, pad, count_include_pad=count_include_pad)
    dy = rand(rng, *y.shape)
    y.backward(torch.tensor(dy, dtype=torch.float64))
    p = cid.replace("/", "_")
    files = {"x": save(p + "_x.npy", x), "dy": save(p + "_dy.npy", dy), "y": save(p + "_y.npy", y.detach().numpy()),
             "dx": save(p + "_dx.npy", xt.grad.numpy())}
    cases.append({"id": cid, "op": kind + "_pool2d", "kernel": list(k), "stride": list(stride), "padding": list(pad),
                  "count_include_pad": count_include_pad, "files": files, "tolerance": {"max_abs": 1e-6, "max_rel": 0.0, "nmse": 1e-12}})


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    rng = np.random.Generator(np.random.PCG64(20261126))
    cases = []
    conv_case(rng, cases, "conv2d/k3_pad1", 2, 3, 5, (7, 9), (3, 3), pad=(1, 1))
    conv_case(rng, cases, "conv2d/k3_stride2_nobias", 2, 4, 6, (9, 8), (3, 3), stride=(2, 2), pad=(1, 1), bias=False)
    conv_case(rng, cases, "conv2d/k2x3_stride1x2_pad1x2", 2, 3, 4, (6, 11), (2, 3), stride=(1, 2), pad=(1, 2))
    conv_case(rng, cases, "conv2d/dilation2", 1, 3, 4, (10, 11), (3, 3), pad=(2, 2), dil=(2, 2))
    conv_case(rng, cases, "conv2d/stride2_dilation2", 2, 2, 3, (11, 10), (3, 3), stride=(2, 2), pad=(2, 1), dil=(2, 2))
    conv_case(rng, cases, "conv2d/groups2", 2, 4, 6, (7, 8), (3, 3), pad=(1, 1), groups=2)
    conv_case(rng, cases, "conv2d/depthwise", 2, 6, 6, (7, 9), (3, 3), pad=(1, 1), groups=6)
    conv_case(rng, cases, "conv2d/depthwise_stride2", 2, 5, 5, (9, 8), (3, 3), stride=(2, 2), pad=(1, 1), groups=5, bias=False)
    conv_case(rng, cases, "conv2d/depthwise_multiplier2", 1, 3, 6, (6, 7), (3, 3), pad=(1, 1), groups=3)
    conv_case(rng, cases, "conv2d/pointwise", 2, 8, 5, (5, 7), (1, 1))
    conv_case(rng, cases, "conv2d/pointwise_stride2", 2, 6, 7, (7, 9), (1, 1), stride=(2, 2), bias=False)
    conv_case(rng, cases, "conv2d/k5_stride3_pad2", 2, 3, 4, (13, 12), (5, 5), stride=(3, 3), pad=(2, 2))
    conv_case(rng, cases, "conv2d/blocked_k3_c32", 2, 32, 20, (12, 37), (3, 3), pad=(1, 1))
    conv_case(rng, cases, "conv2d/same_k3_stride2", 2, 3, 4, (9, 10), (3, 3), stride=(2, 2), same=True)
    conv_case(rng, cases, "conv2d/same_k3_stride1", 1, 4, 3, (6, 7), (3, 3), same=True)
    conv_case(rng, cases, "conv2d/same_depthwise_stride2", 2, 4, 4, (8, 8), (3, 3), stride=(2, 2), groups=4, same=True)
    conv_case(rng, cases, "conv2d/same_k4_even", 1, 2, 3, (8, 9), (4, 4), same=True)
    conv_case(rng, cases, "conv1d/k5_stride2_pad2", 2, 3, 4, (1, 23), (1, 5), stride=(1, 2), pad=(0, 2), one_d=True)
    conv_case(rng, cases, "conv1d/groups_dilation", 2, 4, 6, (1, 19), (1, 3), pad=(0, 2), dil=(1, 2), groups=2, one_d=True)
    conv_case(rng, cases, "conv1d/same", 1, 3, 2, (1, 10), (1, 4), stride=(1, 3), same=True, one_d=True)
    pool_case(rng, cases, "pool/max_k2", "max", 2, 3, (8, 10), (2, 2), (2, 2), (0, 0))
    pool_case(rng, cases, "pool/max_k3_s2_p1", "max", 2, 3, (9, 11), (3, 3), (2, 2), (1, 1))
    pool_case(rng, cases, "pool/max_ties", "max", 2, 2, (7, 9), (3, 3), (1, 2), (1, 1), ties=True)
    pool_case(rng, cases, "pool/avg_k2", "avg", 2, 3, (8, 10), (2, 2), (2, 2), (0, 0))
    pool_case(rng, cases, "pool/avg_k3_s2_p1", "avg", 2, 3, (9, 11), (3, 3), (2, 2), (1, 1))
    pool_case(rng, cases, "pool/avg_k3_s2_p1_exclude_pad", "avg", 2, 3, (9, 11), (3, 3), (2, 2), (1, 1), count_include_pad=False)
    pool_case(rng, cases, "pool/avg_k2x3_s1x2", "avg", 1, 2, (7, 10), (2, 3), (1, 2), (1, 1))
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump({"cases": cases}, f, indent=1)


if __name__ == "__main__":
    main()
