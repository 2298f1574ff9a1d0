#!/usr/bin/python3
"""Writes the PyTorch reference fixtures that Tests/Engine/Tensors/TorchReferenceTests.cs checks our ops against.

Run with Debian's python (apt: python3-torch, python3-numpy), from anywhere:

    /usr/bin/python3 Tests/Reference/make_references.py

It rewrites Tests/Fixtures/ops/ (every *.npy there plus manifest.json) and Tests/Fixtures/npy/ (small
files written by numpy itself, for the .npy reader/writer tests). Inputs come from numpy's PCG64 with fixed
seeds, torch computes the expected outputs, and the files are byte-for-byte identical on every run.

Oracle precision
----------------
* Accuracy cases (random data) are computed by torch in float64 from the float32 inputs and rounded to
  float32 once: the expected value is the correctly rounded answer (up to a rare double-rounding tie), not
  torch's own float32 answer with its own error. For +, -, *, /, sqrt, square, neg, abs, relu, ... this makes
  the CPU result bit-exact, which the tolerances demand.
* Special-value cases (NaN, +-Inf, +-0, denormals, overflow) are computed by torch in float32, because the
  float32 semantics (overflow to Inf, underflow, NaN propagation) are what we must match.

Comparison rules (implemented by Tests/Support/Reference.cs, TensorAssert.Close)
---------------------------------------------------------------------------------
For each element, err = |actual - expected|. NaN matches NaN, +Inf matches +Inf, -Inf matches -Inf, and
+0 matches -0 (signs of zero are not compared). An element passes when
    err <= max_abs   or   err <= max_rel * ref,   ref = |expected|, or scale[i] when the case names a scale file,
and the whole output must also have nmse = sum(err^2) / sum(expected^2) <= nmse (finite elements only).
Scale files hold the natural error scale of an accumulated result: sum |alpha||a||b| + |beta||c| for GEMM,
sum |x| for a sum, sum |x| / n for a mean. Every tolerance below says why it is what it is.

u = 2^-24 is the float32 unit roundoff; one ulp is at most 2u relative to the value.
"""

import hashlib
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.normpath(os.path.join(HERE, "..", "Fixtures"))
OPS_DIR = os.path.join(FIXTURES, "ops")
NPY_DIR = os.path.join(FIXTURES, "npy")

U = 2.0 ** -24            # float32 unit roundoff
ULP = 2.0 ** -23          # one ulp, relative, at the bottom of a binade (an upper bound)
FLT_MIN = float(np.finfo(np.float32).tiny)   # smallest normal float32
FLT_MAX = float(np.finfo(np.float32).max)

torch.set_num_threads(1)  # determinism of torch's own float32 reductions (special-value cases)


def f32(v):
    """The float32 value of a Python number, as a Python float (what C# passes as a float literal)."""
    return float(np.float32(v))


# ---- tolerances ----------------------------------------------------------------------------------

def tol(max_abs, max_rel, nmse, why):
    return {"max_abs": float(max_abs), "max_rel": float(max_rel), "nmse": float(nmse), "why": why}


# Bit-exact: IEEE requires a correctly rounded result, and the float64 reference rounded once is exactly that.
EXACT = tol(0.0, 0.0, 0.0, "IEEE-exact op: the correctly rounded result is unique")

# Transcendentals: the vectorised exp/log/tanh/sigmoid approximations are accurate to a few ulp over the
# whole range; 4 ulp is the budget. Results below the normal range may be flushed to zero (max_abs =
# smallest normal float), which no caller can tell apart from a denormal at these magnitudes.
TRANSCENDENTAL = tol(FLT_MIN, 4 * ULP, (4 * ULP) ** 2,
                     "vectorised approximation: within 4 ulp; denormal results may flush to 0")

# sqrt is correctly rounded by IEEE; the float64 reference rounded once equals it. Exact.
SQRT = EXACT


def affine_tol(scale, shift):
    # y = fl(fl(scale*x) + shift): two roundings in float32 (or one with a fused multiply-add on a device).
    # Relative to |y| that is 2 ulp, except where scale*x nearly cancels shift: there the error is bounded
    # by the rounding of the product, u*|scale*x| ~ u*|shift|. max_abs covers that cancellation.
    return tol(2 * U * abs(shift) * 2, 2 * ULP, (2 * ULP) ** 2,
               "two roundings (mul, add) or one (fma): 2 ulp, abs 4u|shift| where scale*x cancels shift")


def gemm_tol(k):
    # Rigorous: any summation order of k products has error <= gamma_k * sum |a||b|, plus one rounding each
    # for alpha*, beta*c, the final add and the reference: (k + 4) u relative to the scale file. A wrong
    # element is off by O(1) of the scale, so this is still a sharp test. nmse 1e-10 is ~100x what float32
    # gives and rejects reduced-precision arithmetic on devices (TF32, bf16 give ~1e-7).
    return tol(0.0, (k + 4) * U, 1e-10, f"rigorous float32 bound (k+4)u relative to |alpha|sum|a||b|+|beta||c|, k={k}")


def sum_tol(n):
    # Rigorous for short axes: recursive summation of n terms errs by <= (n-1) u sum|x|; +1 rounding for the
    # mean's division and +1 for the reference's own rounding. Relative to the scale file (sum|x|, or
    # sum|x|/n for a mean).
    return tol(0.0, (n + 1) * U, 1e-12, f"rigorous summation bound (n+1)u relative to sum|x|, n={n}")


def var_tol(n):
    # Two-pass variance of exact inputs: the mean's error only enters squared (sum (x-m-d)^2 = sum (x-m)^2 +
    # n d^2), each deviation is rounded once (2u on its square), the sum of n positive terms adds (n-1)u,
    # the division and the reference add 2u: (n+4)u relative to the value, whatever the mean is.
    return tol(0.0, (n + 4) * U, 1e-12, f"two-pass variance bound (n+4)u relative to the value, n={n}")


# Long axes (n ~ 1e5): the rigorous bound (n u ~ 6e-3) is useless. Measured on these inputs: naive sequential
# float32 accumulation errs by ~1.3e-6 of sum|x| on the sum and ~1.9e-6 on the variance; one TensorPrimitives.Sum
# over the whole span (8 lanes on AVX2) gave 1.4e-6 on the variance; losing a single element (a SIMD tail bug)
# costs ~1e-5. Our CPU kernels (pairwise leaves of 1024 along the innermost axis, three-level row blocks
# otherwise) measure <= 8e-8 on sums/means and <= 2.4e-7 on variances. 1e-6 keeps a 4x margin over that,
# demands a blocked or pairwise accumulator, and catches lost elements.
LONG_SUM = tol(0.0, 1e-6, 1e-12, "long axis: needs blocked/pairwise accumulation (ours <= 8e-8, naive ~1.3e-6, a lost element ~1e-5); relative to sum|x|")
LONG_VAR = tol(0.0, 1e-6, 1e-12, "long axis two-pass variance: needs blocked/pairwise accumulation (ours <= 2.4e-7, naive ~1.9e-6); relative to the value")


# ---- writing ------------------------------------------------------------------------------------

class Writer:
    def __init__(self):
        self.files = {}    # name -> sha256, for the summary and to refuse duplicate names with other data
        self.cases = []
        self.stats = []

    def array(self, name, a, dtype=np.float32):
        a = np.array(a, dtype=dtype, order="C")   # (np.ascontiguousarray would turn a 0-d result into shape (1,))
        path = os.path.join(OPS_DIR, name)
        digest = hashlib.sha256(a.tobytes() + str(a.shape).encode() + str(a.dtype).encode()).hexdigest()
        if name in self.files:
            if self.files[name] != digest:
                raise SystemExit(f"fixture name {name} reused for different data")
            return name
        np.save(path, a, allow_pickle=False)
        self.files[name] = digest
        return name

    def case(self, id, op, params, inputs, output, tolerance, scale=None, expected_shape=None, oracle="torch.float64"):
        c = {
            "id": id,
            "op": op,
            "params": params,
            "inputs": inputs,
            "output": output,
            "scale": scale,
            "tolerance": tolerance,
            "oracle": oracle,
        }
        if any(x["id"] == id for x in self.cases):
            raise SystemExit(f"duplicate case id {id}")
        self.cases.append(c)


def t64(a):
    """A float32 numpy array as a float64 torch tensor (exact)."""
    return torch.from_numpy(np.asarray(a, dtype=np.float32).astype(np.float64))


def t32(a):
    return torch.from_numpy(np.asarray(a, dtype=np.float32).copy())


def out32(t):
    with np.errstate(over="ignore", under="ignore"):   # float64 results beyond float32 become +-Inf / denormals, as intended
        return t.detach().numpy().astype(np.float32)


# ---- special values -----------------------------------------------------------------------------

UNARY_SPECIALS = np.array([
    np.nan, np.inf, -np.inf, 0.0, -0.0,
    1e-45, -1e-45, 1e-40, FLT_MIN, -FLT_MIN, 1e-7, -1e-7,
    0.5, -0.5, 1.0, -1.0, 2.0, 5.999, 6.0, 6.001, 7.0, -6.0,
    20.0, -20.0, 80.0, -80.0, 87.0, -87.0, 88.0, -88.0, 88.72, 89.0, -89.0,
    100.0, -100.0, -103.0, -104.0, 1e10, -1e10, 1e30, FLT_MAX, -FLT_MAX,
], dtype=np.float32)

BINARY_SPECIALS = np.array([
    np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 2.5, -3.0, 1e-40, 1e-30, -1e30, FLT_MAX, -FLT_MAX,
], dtype=np.float32)


# ---- cases --------------------------------------------------------------------------------------

def unary_cases(w):
    rng = np.random.default_rng(1001)
    shape = (3, 347)   # 1041 elements: not a multiple of 4, 8 or 16, so every SIMD width has a tail
    randn = (rng.standard_normal(shape) * 4).astype(np.float32)           # covers relu6's 0..6 corners, sigmoid/tanh tails
    wide = rng.uniform(-87, 88, shape).astype(np.float32)                 # exp over its whole finite range
    positive = np.exp(rng.uniform(-80, 80, shape)).astype(np.float32)     # log over many binades
    near_one = (1 + rng.uniform(-0.01, 0.01, shape)).astype(np.float32)   # log where the result is small (relative accuracy)
    nonneg = np.abs(randn) * np.float32(10)
    small = (rng.standard_normal(shape) * 0.01).astype(np.float32)        # tanh/sigmoid near 0: tanh x ~ x must keep relative accuracy

    x_randn = w.array("unary_x_randn.npy", randn)
    x_wide = w.array("unary_x_wide.npy", wide)
    x_pos = w.array("unary_x_positive.npy", positive)
    x_one = w.array("unary_x_near_one.npy", near_one)
    x_nonneg = w.array("unary_x_nonneg.npy", nonneg)
    x_small = w.array("unary_x_small.npy", small)
    x_special = w.array("unary_x_special.npy", UNARY_SPECIALS)

    slope_lo, slope_hi = f32(0.01), f32(0.2)
    aff = [(0.75, -2.5), (f32(1 / 3), f32(0.1))]

    # name, torch fn (on a tensor), params, tolerance, random inputs
    ops = [
        ("neg", lambda t: -t, {}, EXACT, [x_randn]),
        ("relu", torch.relu, {}, EXACT, [x_randn]),
        ("relu6", lambda t: torch.nn.functional.hardtanh(t, 0.0, 6.0), {}, EXACT, [x_randn]),
        ("leaky_relu", lambda t: torch.nn.functional.leaky_relu(t, slope_lo), {"slope": slope_lo}, EXACT, [x_randn]),
        ("leaky_relu", lambda t: torch.nn.functional.leaky_relu(t, slope_hi), {"slope": slope_hi}, EXACT, [x_randn]),
        ("sigmoid", torch.sigmoid, {}, TRANSCENDENTAL, [x_randn, x_small, x_wide]),
        ("tanh", torch.tanh, {}, TRANSCENDENTAL, [x_randn, x_small]),
        ("exp", torch.exp, {}, TRANSCENDENTAL, [x_randn, x_wide]),
        ("log", torch.log, {}, TRANSCENDENTAL, [x_pos, x_one]),
        ("sqrt", torch.sqrt, {}, SQRT, [x_nonneg, x_pos]),
        ("abs", torch.abs, {}, EXACT, [x_randn]),
        ("square", torch.square, {}, EXACT, [x_randn]),
    ]
    for scale, shift in aff:
        ops.append(("affine", (lambda s, b: lambda t: t * s + b)(scale, shift), {"scale": scale, "shift": shift},
                    affine_tol(scale, shift), [x_randn]))

    for name, fn, params, tolerance, inputs in ops:
        tag = name + "".join(f"_{k}{v:g}" for k, v in params.items())
        for x in inputs:
            xs = x[len("unary_x_"):-len(".npy")]
            xv = np.load(os.path.join(OPS_DIR, x))
            if name == "affine":
                # float64 of s*x + b rounded once is not what float32 computes (two roundings); use float32 math,
                # which is what the op is defined as. The tolerance allows the fused variant too.
                y = out32(fn(t32(xv)))
                oracle = "torch.float32"
            else:
                y = out32(fn(t64(xv)))
                oracle = "torch.float64"
            out = w.array(f"unary_{tag}_{xs}.npy", y)
            w.case(f"unary/{tag}/{xs}", name, params, {"x": x}, out, tolerance, oracle=oracle)
        # the special values. One op rounded once from float64 is the correctly rounded float32 result, overflow to
        # Inf and underflow to denormals included; affine (two float32 roundings, intermediate overflow) uses float32.
        if name == "affine":
            y, oracle = out32(fn(t32(UNARY_SPECIALS))), "torch.float32"
        else:
            y, oracle = out32(fn(t64(UNARY_SPECIALS))), "torch.float64"
        out = w.array(f"unary_{tag}_special.npy", y)
        w.case(f"unary/{tag}/special", name, params, {"x": x_special}, out, tolerance, oracle=oracle)


def binary_cases(w):
    rng = np.random.default_rng(2002)
    fns = {
        "add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div,
        "maximum": torch.maximum, "minimum": torch.minimum,
    }
    shapes = [
        ("same", (7, 33), (7, 33)),
        ("bcast_3x1x5_4x1", (3, 1, 5), (4, 1)),     # both sides broadcast, result [3,4,5]
        ("bcast_4x1_3x1x5", (4, 1), (3, 1, 5)),     # the same, operands swapped
        ("bcast_2x3x4_4", (2, 3, 4), (4,)),          # bias along the last axis
        ("bcast_4_2x3x4", (4,), (2, 3, 4)),
        ("bcast_2x3x35_3x1", (2, 3, 35), (3, 1)),    # a per-row value (stride-0 inner axis)
        ("scalar_2x3_1", (2, 3), (1,)),              # scalar-like [1]
        ("scalar_1_2x3", (1,), (2, 3)),
        ("long_1x1000_1", (1, 1000), (1,)),          # a long row against a scalar (SIMD body + tail)
    ]
    for tag, sa, sb in shapes:
        a = (rng.standard_normal(sa) * 3).astype(np.float32)
        b = (rng.standard_normal(sb) * 3).astype(np.float32)
        # keep divisors away from 0 so the relative accuracy is what is tested (division by 0 is in the specials)
        b = np.where(np.abs(b) < 0.05, np.float32(0.5), b).astype(np.float32)
        fa = w.array(f"binary_a_{tag}.npy", a)
        fb = w.array(f"binary_b_{tag}.npy", b)
        for name, fn in fns.items():
            y = out32(fn(t64(a), t64(b)))
            out = w.array(f"binary_{name}_{tag}.npy", y)
            w.case(f"binary/{name}/{tag}", name, {}, {"a": fa, "b": fb}, out, EXACT)
    # every pair of special values: a is [14,1], b is [14] -> [14,14]
    fa = w.array("binary_a_special.npy", BINARY_SPECIALS.reshape(-1, 1))
    fb = w.array("binary_b_special.npy", BINARY_SPECIALS)
    for name, fn in fns.items():
        y = out32(fn(t32(BINARY_SPECIALS.reshape(-1, 1)), t32(BINARY_SPECIALS)))
        out = w.array(f"binary_{name}_special.npy", y)
        w.case(f"binary/{name}/special", name, {}, {"a": fa, "b": fb}, out, EXACT, oracle="torch.float32")


REDUCE_OPS = ["sum", "mean", "max", "min", "argmax", "var0", "var1"]


def reduce_expected(op, t, axis):
    if op == "sum":
        return t.sum(dim=axis)
    if op == "mean":
        return t.mean(dim=axis)
    if op == "max":
        return t.amax(dim=axis)
    if op == "min":
        return t.amin(dim=axis)
    if op == "argmax":
        return t.argmax(dim=axis).to(t.dtype)
    if op in ("var0", "var1"):
        return t.var(dim=axis, unbiased=(op == "var1"))
    raise ValueError(op)


def reduce_case(w, tag, fx, x, op, axis, tolerance_for, input_permute=None, oracle64=True):
    """One reduction case; x is the (possibly permuted) float32 numpy input the op sees."""
    t = t64(x) if oracle64 else t32(x)
    y = out32(reduce_expected(op, t, axis))
    out = w.array(f"reduce_{op}_{tag}_axis{axis}.npy", y)
    n = x.shape[axis]
    scale = None
    tolerance = tolerance_for(op, n)
    if op in ("sum", "mean") and oracle64:
        s = np.abs(x.astype(np.float64)).sum(axis=axis)
        if op == "mean":
            s = s / n
        scale = w.array(f"reduce_{op}_{tag}_axis{axis}_scale.npy", s)
    params = {"axis": axis}
    if op.startswith("var"):
        params["correction"] = int(op[3])
    if input_permute is not None:
        params["input_permute"] = list(input_permute)
    name = "var" if op.startswith("var") else op
    w.case(f"reduce/{op}/{tag}/axis{axis}", name, params, {"x": fx}, out, tolerance, scale=scale,
           oracle="torch.float64" if oracle64 else "torch.float32")


def short_tol(op, n):
    if op in ("sum", "mean"):
        return sum_tol(n)
    if op.startswith("var"):
        return var_tol(n)
    return EXACT


def long_tol(op, n):
    if op in ("sum", "mean"):
        return LONG_SUM
    if op.startswith("var"):
        return LONG_VAR
    return EXACT


def reduce_cases(w):
    rng = np.random.default_rng(3003)
    x = rng.standard_normal((5, 6, 7)).astype(np.float32)
    fx = w.array("reduce_x_5x6x7.npy", x)
    for op in REDUCE_OPS:
        for axis in range(3):
            reduce_case(w, "5x6x7", fx, x, op, axis, short_tol)

    # rank 1, and a size-1 axis (var with correction 1 of one element is 0/0 = NaN, as in torch)
    x1 = (rng.standard_normal(37) + 2).astype(np.float32)
    f1 = w.array("reduce_x_37.npy", x1)
    for op in REDUCE_OPS:
        reduce_case(w, "37", f1, x1, op, 0, short_tol)
    xs = rng.standard_normal((5, 1, 7)).astype(np.float32)
    fs = w.array("reduce_x_5x1x7.npy", xs)
    for op in REDUCE_OPS:
        reduce_case(w, "5x1x7", fs, xs, op, 1, short_tol)

    # ties: argmax must return the first maximum (torch documents this)
    ties = rng.integers(0, 3, size=(4, 9)).astype(np.float32)
    ft = w.array("reduce_x_ties.npy", ties)
    for axis in range(2):
        reduce_case(w, "ties", ft, ties, "argmax", axis, short_tol)
        reduce_case(w, "ties", ft, ties, "max", axis, short_tol)

    # NaN and infinities: max/min/argmax propagate NaN (argmax points at the first NaN), sums give NaN/Inf
    sp = rng.standard_normal((4, 6)).astype(np.float32)
    sp[1, 2] = np.nan
    sp[2, 0] = np.inf
    sp[3, 1] = -np.inf
    sp[3, 4] = np.inf
    sp[0, 5] = -np.inf
    fsp = w.array("reduce_x_special.npy", sp)
    for op in REDUCE_OPS:
        for axis in range(2):
            # float32 semantics; tolerances as the short cases, but no scale file (sum|x| is infinite)
            # float32 oracle (torch's own float32 sums: another order, so a small abs budget for its error too)
            reduce_case(w, "special", fsp, sp, op, axis,
                        lambda o, n: tol(1e-5, (n + 4) * U, 1e-12,
                                         "special values: non-finite results must match; finite ones as a short sum, abs 1e-5 for |x| < 4")
                        if o in ("sum", "mean", "var0", "var1") else EXACT,
                        oracle64=False)

    # long axis: [3, 100003] (odd: a tail for every SIMD width), stored as float16 to keep the fixture small.
    # The float16 values are exact in float32 and still round when accumulated (the running sums reach 1e5).
    n = 100003
    rows = np.stack([
        rng.random(n),                        # all positive: errors accumulate with one sign
        10 + rng.standard_normal(n),          # a mean 10x the spread: tests the two-pass variance
        100 * rng.standard_normal(n),         # mean ~0: a sum that cancels
    ]).astype(np.float16)
    flong = w.array("reduce_x_long.npy", rows, dtype=np.float16)
    xl = rows.astype(np.float32)
    for op in REDUCE_OPS:
        # along the last axis (one contiguous span per output)
        reduce_case(w, "long", flong, xl, op, 1, long_tol)
    for op in ["sum", "mean", "var1", "argmax", "max"]:
        # the same values as [100003, 3] reduced along axis 0 (whole rows combined per step)
        reduce_case(w, "longT", flong, np.ascontiguousarray(xl.T), op, 0, long_tol, input_permute=[1, 0])


def permute_cases(w):
    rng = np.random.default_rng(4004)
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    fx = w.array("permute_x_2x3x4x5.npy", x)
    orders = [(0, 1, 2, 3), (3, 2, 1, 0), (0, 2, 1, 3), (1, 0, 3, 2), (2, 3, 0, 1), (0, 1, 3, 2), (3, 0, 1, 2), (1, 2, 3, 0)]
    for order in orders:
        y = t32(x).permute(*order).contiguous().numpy()
        tag = "".join(map(str, order))
        out = w.array(f"permute_{tag}.npy", y)
        w.case(f"permute/2x3x4x5/{tag}", "permute", {"order": list(order)}, {"x": fx}, out, EXACT, oracle="torch.float32")
    for a, b in [(0, 3), (1, 2), (-1, -2)]:
        y = t32(x).transpose(a, b).contiguous().numpy()
        out = w.array(f"transpose_{a}_{b}.npy", y)
        w.case(f"transpose/2x3x4x5/{a}_{b}", "transpose", {"axes": [a, b]}, {"x": fx}, out, EXACT, oracle="torch.float32")
    # 2-D transposes: an odd one and a tile-aligned one (the tiled transpose-copy path)
    for shape in [(37, 53), (64, 40), (5, 300)]:
        m = rng.standard_normal(shape).astype(np.float32)
        tag = "x".join(map(str, shape))
        fm = w.array(f"transpose_x_{tag}.npy", m)
        out = w.array(f"transpose_{tag}_T.npy", np.ascontiguousarray(m.T))
        w.case(f"transpose/{tag}/0_1", "transpose", {"axes": [0, 1]}, {"x": fm}, out, EXACT, oracle="torch.float32")


def gemm_cases(w):
    rng = np.random.default_rng(5005)

    def mat(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    def one(tag, m, n, k, trans_a, trans_b, alpha, beta, batch_a=None, batch_b=None, c_init="input"):
        batched = batch_a is not None
        ba = [batch_a] if batched else []
        bb = [batch_b] if batched else []
        batch = max(batch_a, batch_b) if batched else None
        a_stored = mat(*ba, *((k, m) if trans_a else (m, k)))
        b_stored = mat(*bb, *((n, k) if trans_b else (k, n)))
        a = np.swapaxes(a_stored, -1, -2) if trans_a else a_stored
        b = np.swapaxes(b_stored, -1, -2) if trans_b else b_stored
        cshape = ([batch] if batched else []) + [m, n]
        inputs = {"a": w.array(f"gemm_{tag}_a.npy", a_stored), "b": w.array(f"gemm_{tag}_b.npy", b_stored)}
        if c_init == "input":
            c = mat(*cshape)
            inputs["c"] = w.array(f"gemm_{tag}_c.npy", c)
        else:  # beta must be 0: C starts as NaN and must be overwritten without being read
            assert beta == 0.0
            c = np.full(cshape, np.nan, np.float32)
        prod = torch.matmul(t64(a), t64(b))
        absprod = torch.matmul(t64(np.abs(a)), t64(np.abs(b)))
        if beta == 0.0:
            y = alpha * prod                         # addmm semantics: beta = 0 ignores C (NaN does not leak)
            scale = abs(alpha) * absprod
        else:
            y = alpha * prod + beta * t64(c)
            scale = abs(alpha) * absprod + abs(beta) * t64(np.abs(c))
        out = w.array(f"gemm_{tag}_out.npy", out32(y))
        sc = w.array(f"gemm_{tag}_scale.npy", out32(scale))
        params = {"m": m, "n": n, "k": k, "transA": trans_a, "transB": trans_b, "alpha": alpha, "beta": beta, "c_init": c_init}
        w.case(f"gemm/{tag}", "gemm", params, inputs, out, gemm_tol(k), scale=sc)

    m, n, k = 37, 53, 71
    one("nn_37x53x71", m, n, k, False, False, 1.0, 0.0)
    one("tn_37x53x71", m, n, k, True, False, 1.5, 0.0)
    one("nt_37x53x71", m, n, k, False, True, -0.5, 2.0)
    one("tt_37x53x71", m, n, k, True, True, 0.25, -1.0)
    one("nn_beta1_37x53x71", m, n, k, False, False, 1.0, 1.0)
    one("nn_nanC_beta0_19x23x31", 19, 23, 31, False, False, 2.0, 0.0, c_init="nan")
    one("nn_24x40x300", 24, 40, 300, False, False, 1.0, 0.0)         # k past a typical 256-wide K block
    one("tn_64x64x64", 64, 64, 64, True, False, 1.0, 0.5)            # whole micro-tiles, no tails
    one("nn_1x53x71", 1, 53, 71, False, False, 1.0, 0.0)             # a row vector
    one("nt_37x1x71", 37, 1, 71, False, True, 1.0, 0.0)              # a column
    one("nn_5x7x1", 5, 7, 1, False, False, 1.0, 0.0)                 # k = 1
    one("tt_1x1x1", 1, 1, 1, True, True, 3.0, -2.0)
    one("bmm_nn_3x17x13x29", 17, 13, 29, False, False, 1.0, 0.0, batch_a=3, batch_b=3)
    one("bmm_tt_4x9x11x15", 9, 11, 15, True, True, 0.5, 1.5, batch_a=4, batch_b=4)
    one("bmm_bcastA_1x3_17x13x29", 17, 13, 29, False, False, 1.0, 0.0, batch_a=1, batch_b=3)
    one("bmm_bcastB_3x1_nt_17x13x29", 17, 13, 29, False, True, 1.0, 0.0, batch_a=3, batch_b=1)


def npy_samples():
    """Files written by numpy itself, read back (and re-written byte for byte) by Tests/Engine/IO/NpyTests.cs."""
    os.makedirs(NPY_DIR, exist_ok=True)
    for f in os.listdir(NPY_DIR):
        if f.endswith(".npy"):
            os.remove(os.path.join(NPY_DIR, f))
    base = np.arange(6).reshape(2, 3)

    def save(name, a):
        np.save(os.path.join(NPY_DIR, name), a, allow_pickle=False)

    save("f4_2x3.npy", base.astype("<f4") * 0.5 - 1)
    save("f4_scalar.npy", np.array(3.25, dtype="<f4"))
    save("f4_empty_0x4.npy", np.zeros((0, 4), dtype="<f4"))
    save("f4_1d_5.npy", np.array([1.5, -2, np.inf, -np.inf, np.nan], dtype="<f4"))
    save("f4_3d_2x1x3.npy", (np.arange(6).reshape(2, 1, 3) * 0.25).astype("<f4"))
    save("f8_2x3.npy", base.astype("<f8") / 3)
    save("f2_2x3.npy", base.astype("<f2") * 0.5)
    save("i8_2x3.npy", base.astype("<i8") - 3)
    save("i4_2x3.npy", base.astype("<i4") * 1000)
    save("u1_2x3.npy", base.astype("|u1") * 50)
    save("b1_2x3.npy", (base % 2 == 0))
    save("f4_fortran_2x3.npy", np.asfortranarray(base.astype("<f4")))
    save("f4_bigendian_2x3.npy", base.astype(">f4"))
    save("c8_2x3.npy", base.astype("<c8"))
    with open(os.path.join(NPY_DIR, "f4_v2_2x3.npy"), "wb") as fh:
        np.lib.format.write_array(fh, base.astype("<f4"), version=(2, 0))
    with open(os.path.join(NPY_DIR, "f4_v3_2x3.npy"), "wb") as fh:
        np.lib.format.write_array(fh, base.astype("<f4"), version=(3, 0))
    return sorted(os.listdir(NPY_DIR))


def main():
    if torch.__version__.split(".")[:2] != ["1", "13"]:
        print(f"note: fixtures were made with torch 1.13; this is {torch.__version__}", file=sys.stderr)
    os.makedirs(OPS_DIR, exist_ok=True)
    for f in os.listdir(OPS_DIR):
        if f.endswith(".npy") or f == "manifest.json":
            os.remove(os.path.join(OPS_DIR, f))

    w = Writer()
    unary_cases(w)
    binary_cases(w)
    reduce_cases(w)
    permute_cases(w)
    gemm_cases(w)

    manifest = {
        "generator": "Tests/Reference/make_references.py",
        "torch": torch.__version__,
        "numpy": np.__version__,
        "rules": "element passes if err <= max_abs or err <= max_rel * (scale[i] if scale else |expected[i]|); "
                 "NaN==NaN, equal infinities match, +0==-0; and sum(err^2)/sum(expected^2) <= nmse over finite elements",
        "cases": w.cases,
    }
    with open(os.path.join(OPS_DIR, "manifest.json"), "w", encoding="utf-8", newline="\n") as fh:
        # one case per line: small, and diffs of a regenerated manifest stay readable
        head = {k: v for k, v in manifest.items() if k != "cases"}
        fh.write("{\n")
        for k, v in head.items():
            fh.write(f" {json.dumps(k)}: {json.dumps(v, allow_nan=False)},\n")
        fh.write(' "cases": [\n')
        for i, c in enumerate(manifest["cases"]):
            fh.write("  " + json.dumps(c, allow_nan=False) + ("," if i + 1 < len(manifest["cases"]) else "") + "\n")
        fh.write(" ]\n}\n")
    json.load(open(os.path.join(OPS_DIR, "manifest.json"), encoding="utf-8"))   # it parses

    npy_files = npy_samples()

    # ---- summary ----
    total = 0
    by_group = {}
    for f in sorted(os.listdir(OPS_DIR)):
        size = os.path.getsize(os.path.join(OPS_DIR, f))
        total += size
        group = f.split("_")[0] if f.endswith(".npy") else f
        by_group[group] = by_group.get(group, 0) + size
    npy_total = sum(os.path.getsize(os.path.join(NPY_DIR, f)) for f in npy_files)
    ops_count = {}
    for c in w.cases:
        g = c["id"].split("/")[0]
        ops_count[g] = ops_count.get(g, 0) + 1
    print(f"{len(w.cases)} cases, {len(w.files)} op files, {total / 1024:.1f} KiB in {os.path.relpath(OPS_DIR)}")
    for g, n in sorted(ops_count.items()):
        print(f"  {g:10s} {n:4d} cases")
    for g, s in sorted(by_group.items()):
        print(f"  {g:14s} {s / 1024:8.1f} KiB")
    print(f"{len(npy_files)} numpy sample files, {npy_total / 1024:.1f} KiB in {os.path.relpath(NPY_DIR)}")
    if total + npy_total > 2 * 1024 * 1024:
        raise SystemExit("fixtures exceed the 2 MB budget")


if __name__ == "__main__":
    main()
