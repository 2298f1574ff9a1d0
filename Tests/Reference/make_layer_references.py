#!/usr/bin/python3
"""Writes the PyTorch reference fixtures of the layers, losses and optimisers (Tests/Engine/Layers/LayerReferenceTests.cs, BatchNormTests.cs).

Run with Debian's python (apt: python3-torch 1.13, python3-numpy), from anywhere:

    /usr/bin/python3 Tests/Reference/make_layer_references.py

It rewrites Tests/Fixtures/layers/ (every *.npy plus manifest.json). Inputs are float32 from numpy's PCG64 with
fixed seeds (odd sizes, batch > 1). Torch computes the expected values in float64 from those float32 inputs
(modules converted with .double()), rounded to float32 once: the expected value is accurate, so the tolerance
only has to cover our own float32 rounding. Each case's manifest entry lists its files (name -> file) and
parameters.

Conventions per case:
  x, dy            input and upstream gradient; y, dx: output and input gradient
  <param>          initial parameter value (e.g. weight); <param>.grad: its accumulated gradient
  <buffer>         a buffer's value after the forward passes (e.g. running_mean)
"""

import json
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "Fixtures", "layers"))

torch.set_num_threads(1)
manifest = {}


def rng(seed):
    return np.random.Generator(np.random.PCG64(seed))


def randn(r, *shape, scale=1.0):
    return (r.standard_normal(shape) * scale).astype(np.float32)


def t64(a):
    return torch.tensor(np.asarray(a, dtype=np.float32), dtype=torch.float64)


class Case:
    def __init__(self, name, kind, **params):
        self.name = name
        self.entry = {"kind": kind, "params": params, "files": {}}
        manifest[name] = self.entry

    def save(self, key, value):
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        value = np.ascontiguousarray(np.asarray(value, dtype=np.float32))
        file = f"{self.name}.{key}.npy"
        np.save(os.path.join(OUT, file), value)
        self.entry["files"][key] = file


def layer_case(name, kind, module, x, dy, params=None, extra_forwards=(), **kw):
    """Forward x (after forwarding extra_forwards first, for running statistics), backward dy."""
    c = Case(name, kind, **kw)
    module = module.double()
    for n, p in (params or {}).items():
        getattr(module, n).data.copy_(t64(p))
    for n, p in module.named_parameters():
        c.save(n, p)
    for n, b in module.named_buffers():
        c.save(n + ".initial", b)
    for i, xe in enumerate(extra_forwards):
        c.save(f"x{i}", xe)
        module(t64(xe))
    xt = t64(x).requires_grad_(True)
    y = module(xt)
    y.backward(t64(dy))
    c.save("x", x)
    c.save("dy", dy)
    c.save("y", y)
    c.save("dx", xt.grad)
    for n, p in module.named_parameters():
        c.save(n + ".grad", p.grad)
    for n, b in module.named_buffers():
        c.save(n, b)
    return c


def layers():
    r = rng(1)
    # Linear: 2-D input, and a 3-D input without bias
    layer_case("linear", "linear", nn.Linear(7, 5), randn(r, 6, 7), randn(r, 6, 5), in_features=7, out_features=5, bias=True)
    layer_case("linear_nobias_3d", "linear", nn.Linear(9, 4, bias=False), randn(r, 2, 3, 9), randn(r, 2, 3, 4),
               in_features=9, out_features=4, bias=False)

    # BatchNorm, training: two forwards (running statistics move twice), backward of the second
    def bn(name, cls, features, shape, affine=True, momentum=0.1, eps=1e-5, train=True, forwards=1):
        m = cls(features, eps=eps, momentum=momentum, affine=affine)
        params = {"weight": randn(r, features, scale=0.5) + 1, "bias": randn(r, features)} if affine else {}
        extra = [randn(r, *shape, scale=2.0) + 0.5 for _ in range(forwards)]
        if not train:
            m.running_mean.copy_(torch.tensor(randn(r, features)))
            m.running_var.copy_(torch.tensor(np.abs(randn(r, features)) + 0.5))
            m.num_batches_tracked.fill_(7)
            m.eval()
            extra = []
        layer_case(name, "batchnorm", m, randn(r, *shape, scale=2.0) + 0.5, randn(r, *shape), params, extra,
                   dims=1 if cls is nn.BatchNorm1d else 2, features=features, affine=affine, eps=eps,
                   momentum=momentum, train=train)

    bn("bn1d_2d", nn.BatchNorm1d, 5, (6, 5))
    bn("bn1d_3d", nn.BatchNorm1d, 3, (4, 3, 7))
    bn("bn1d_noaffine", nn.BatchNorm1d, 4, (5, 4))
    bn("bn2d", nn.BatchNorm2d, 4, (3, 4, 5, 6), eps=1e-3)
    bn("bn2d_cumulative", nn.BatchNorm2d, 3, (2, 3, 3, 5), momentum=None, forwards=2)
    bn("bn1d_eval", nn.BatchNorm1d, 5, (6, 5), train=False)
    bn("bn2d_eval", nn.BatchNorm2d, 4, (3, 4, 5, 6), train=False)

    # Activations: inputs spread over [-8, 8] so ReLU6 clips on both sides
    for name, module, op, alpha in [("relu", nn.ReLU(), "Relu", 0.0), ("relu6", nn.ReLU6(), "Relu6", 0.0),
                                    ("leaky_relu", nn.LeakyReLU(0.2), "LeakyRelu", 0.2), ("sigmoid", nn.Sigmoid(), "Sigmoid", 0.0),
                                    ("tanh", nn.Tanh(), "Tanh", 0.0)]:
        layer_case(name, "activation", module, randn(r, 3, 4, 5, scale=4.0), randn(r, 3, 4, 5), op=op, alpha=alpha)

    # Global pooling over chosen axes (random data: no ties)
    class Pool(nn.Module):
        def __init__(self, axes, mode, keep):
            super().__init__()
            self.axes, self.mode, self.keep = axes, mode, keep

        def forward(self, x):
            if self.mode == "Mean":
                return x.mean(dim=self.axes, keepdim=self.keep)
            if len(self.axes) == 1:
                return x.max(dim=self.axes[0], keepdim=self.keep).values
            return x.amax(dim=self.axes, keepdim=self.keep)

    for name, axes, mode, keep in [("pool_mean_freq", [3], "Mean", False), ("pool_max_time", [2], "Max", False),
                                   ("pool_mean_hw", [2, 3], "Mean", True), ("pool_max_13", [1, 3], "Max", False),
                                   ("pool_max_all_but_batch", [1, 2, 3], "Max", True)]:
        x = randn(r, 2, 3, 5, 7)
        y_shape = Pool(axes, mode, keep)(torch.tensor(x)).shape
        layer_case(name, "globalpool", Pool(axes, mode, keep), x, randn(r, *y_shape), axes=axes, mode=mode, keep_dims=keep)


def losses():
    r = rng(2)
    logits = randn(r, 5, 7, scale=2.0)
    targets = np.array([3, 0, 6, 2, 3])
    c = Case("cross_entropy", "cross_entropy")
    lt = t64(logits).requires_grad_(True)
    loss = F.cross_entropy(lt, torch.tensor(targets))
    loss.backward()
    c.save("logits", logits); c.save("targets", targets.astype(np.float32))
    c.save("loss", loss.reshape(1)); c.save("grad", lt.grad)
    c.save("softmax", torch.softmax(t64(logits), dim=1))

    p, t = randn(r, 4, 6), randn(r, 4, 6)
    c = Case("mse", "mse")
    pt = t64(p).requires_grad_(True)
    loss = F.mse_loss(pt, t64(t))
    loss.backward()
    c.save("prediction", p); c.save("target", t); c.save("loss", loss.reshape(1)); c.save("grad", pt.grad)

    mu, logvar = randn(r, 4, 6), randn(r, 4, 6, scale=0.7)
    for reduction in ["Sum", "BatchMean", "Mean"]:
        c = Case("kl_" + reduction.lower(), "gaussian_kl", reduction=reduction)
        mt, vt = t64(mu).requires_grad_(True), t64(logvar).requires_grad_(True)
        kl = -0.5 * torch.sum(1 + vt - mt ** 2 - vt.exp())
        kl = kl / {"Sum": 1, "BatchMean": mu.shape[0], "Mean": mu.size}[reduction]
        kl.backward()
        c.save("mu", mu); c.save("logvar", logvar); c.save("loss", kl.reshape(1))
        c.save("grad_mu", mt.grad); c.save("grad_logvar", vt.grad)


def optimisers():
    """Three steps from the same initial parameters with fixed gradients per step, in float32 as torch trains."""
    r = rng(3)
    p0 = [randn(r, 4, 3), randn(r, 5)]
    grads = [[randn(r, 4, 3), randn(r, 5)] for _ in range(3)]
    configs = [
        ("sgd", "Sgd", dict(lr=0.1)),
        ("sgd_momentum_wd", "Sgd", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=1e-2)),
        ("sgd_nesterov", "Sgd", dict(lr=0.05, momentum=0.8, nesterov=True)),
        ("adam", "Adam", dict(lr=1e-2)),
        ("adam_l2", "Adam", dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=1e-1)),
        ("adamw", "AdamW", dict(lr=1e-2, weight_decay=1e-1)),
    ]
    for name, kind, cfg in configs:
        params = [torch.tensor(p).requires_grad_(True) for p in p0]
        opt = {"Sgd": torch.optim.SGD, "Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW}[kind](params, **cfg)
        c = Case("optim_" + name, "optimizer", optimizer=kind,
                 **{k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()})
        for i, p in enumerate(p0):
            c.save(f"p{i}", p)
        for s, g in enumerate(grads):
            for i, p in enumerate(params):
                p.grad = torch.tensor(g[i])
                c.save(f"g{s}.{i}", g[i])
            opt.step()
            for i, p in enumerate(params):
                c.save(f"p{i}.step{s}", p)
        c.entry["params"]["steps"] = len(grads)

    for name, max_norm, norm_type in [("clip_l2", 0.5, 2.0), ("clip_l2_noop", 100.0, 2.0), ("clip_inf", 0.3, float("inf"))]:
        c = Case(name, "clip_grad_norm", max_norm=max_norm, norm_type="inf" if norm_type == float("inf") else norm_type)
        params = [torch.zeros(4, 3, requires_grad=True), torch.zeros(5, requires_grad=True)]
        for i, p in enumerate(params):
            p.grad = torch.tensor(grads[0][i])
            c.save(f"g{i}", grads[0][i])
        total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type)
        c.save("total", total.reshape(1))
        for i, p in enumerate(params):
            c.save(f"clipped{i}", p.grad)

    c = Case("fans", "fans", shapes=[[4, 3], [8, 3, 3, 3], [5, 2, 7], [16, 1, 3, 3]])
    c.entry["params"]["expected"] = [list(nn.init._calculate_fan_in_and_fan_out(torch.empty(s))) for s in c.entry["params"]["shapes"]]
    c.entry["params"]["gains"] = {"linear": nn.init.calculate_gain("linear"), "relu": nn.init.calculate_gain("relu"),
                                  "tanh": nn.init.calculate_gain("tanh"), "leaky_relu_0.2": nn.init.calculate_gain("leaky_relu", 0.2)}


def mlp():
    """Linear → BatchNorm1d → ReLU → Linear, cross-entropy, one Adam step: the chain end to end (float64 oracle).
    The first Linear has no bias: BatchNorm cancels it, its gradient is zero up to rounding, and Adam would
    turn that rounding noise into full-size steps."""
    r = rng(4)
    model = nn.Sequential(nn.Linear(7, 6, bias=False), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3)).double()
    c = Case("mlp_adam", "mlp")
    for n, p in model.named_parameters():
        p.data.copy_(t64(randn(r, *p.shape, scale=0.5)))
        c.save(n, p)
    x = randn(r, 8, 7)
    targets = np.array([0, 2, 1, 1, 0, 2, 2, 1])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss = F.cross_entropy(model(t64(x)), torch.tensor(targets))
    loss.backward()
    c.save("x", x); c.save("targets", targets.astype(np.float32)); c.save("loss", loss.reshape(1))
    for n, p in model.named_parameters():
        c.save(n + ".grad", p.grad)
    opt.step()
    for n, p in model.named_parameters():
        c.save(n + ".after", p)
    for n, b in model.named_buffers():
        c.save(n, b)


def train_step_case(name, model, x, loss_fn, lr, weight_decay, **params):
    """Random initial parameters, one forward/backward/Adam step (float64): loss, gradients, updated parameters, buffers."""
    r = rng(5)
    c = Case(name, "model", **params)
    model = model.double()
    for n, p in model.named_parameters():
        p.data.copy_(t64(randn(r, *p.shape, scale=0.3)))
        c.save(n, p)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    loss = loss_fn(model, x)
    loss.backward()
    c.save("x", x); c.save("loss", loss.reshape(1))
    for n, p in model.named_parameters():
        c.save(n + ".grad", p.grad)
    opt.step()
    for n, p in model.named_parameters():
        c.save(n + ".after", p)
    for n, b in model.named_buffers():
        if not n.endswith("num_batches_tracked"):
            c.save(n, b)
    return c


def models():
    """The DCASE 2020 dense autoencoder and the VAE baseline at reduced widths (same structure), one Adam step each."""
    r = rng(6)
    d_in, hidden, bottleneck, blocks = 24, 12, 3, 4
    widths = [hidden] * blocks + [bottleneck] + [hidden] * blocks
    layers, width = [], d_in
    for w in widths:
        layers += [nn.Linear(width, w), nn.BatchNorm1d(w, eps=1e-3, momentum=0.01), nn.ReLU()]
        width = w
    layers += [nn.Linear(width, d_in)]
    ae = nn.Sequential(*layers)
    x = randn(r, 10, d_in)
    train_step_case("dense_autoencoder", nn.ModuleDict({"net": ae}), x, lambda m, x: F.mse_loss(m["net"](t64(x)), t64(x)),
                    lr=1e-3, weight_decay=0.0, input_dim=d_in, hidden_dim=hidden, bottleneck_dim=bottleneck, hidden_layers=blocks)

    d_in, hidden, latent, n_hidden = 22, 10, 4, 2

    class Vae(nn.Module):
        """Same layout and state-dict names as the VAE baseline; eps is given instead of drawn."""
        def __init__(self):
            super().__init__()
            self.enc_layers = nn.ModuleList([nn.Linear(d_in, hidden)] + [nn.Linear(hidden, hidden) for _ in range(n_hidden)]
                                            + [nn.Linear(hidden, latent), nn.Linear(hidden, latent)])
            self.dec_layers = nn.ModuleList([nn.Linear(latent, hidden)] + [nn.Linear(hidden, hidden) for _ in range(n_hidden)]
                                            + [nn.Linear(hidden, d_in)])
            self.enc_bnorms = nn.ModuleList([nn.BatchNorm1d(hidden) for _ in range(n_hidden + 1)])
            self.dec_bnorms = nn.ModuleList([nn.BatchNorm1d(hidden) for _ in range(n_hidden + 1)])
            self.act = nn.LeakyReLU()

        def forward(self, x, eps):
            h = x
            for i in range(n_hidden + 1):
                h = self.act(self.enc_bnorms[i](self.enc_layers[i](h)))
            mean, logvar = self.enc_layers[-2](h), self.enc_layers[-1](h)
            h = mean + eps * torch.exp(0.5 * logvar)
            for i in range(n_hidden + 1):
                h = self.act(self.dec_bnorms[i](self.dec_layers[i](h)))
            return self.dec_layers[-1](h), mean, logvar

    x = randn(r, 9, d_in)
    eps = randn(r, 9, latent)

    def vae_loss(m, x):
        recon, mean, logvar = m(t64(x), t64(eps))
        return F.mse_loss(recon, t64(x)) - 0.5 * torch.sum(1 + logvar - mean.pow(2) - logvar.exp())

    c = train_step_case("vae", Vae(), x, vae_loss, lr=1e-3, weight_decay=1e-4,
                        input_dim=d_in, hidden_dim=hidden, latent_dim=latent, hidden_layers=n_hidden)
    c.save("eps", eps)


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.endswith(".npy") or f == "manifest.json":
            os.remove(os.path.join(OUT, f))
    layers()
    losses()
    optimisers()
    mlp()
    models()
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"{len(manifest)} cases, {len(os.listdir(OUT))} files, {total / 1024:.0f} KiB in {OUT}")


if __name__ == "__main__":
    main()
