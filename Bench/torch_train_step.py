#!/usr/bin/python3
"""Peer of `train-step-quick`: one training step (forward, loss, backward, Adam) of the DCASE 2020 dense
autoencoder and the VAE baseline in Debian torch 1.13, float32, batch 512, median of 15 steps after 3 warm-up steps.

    /usr/bin/python3 Bench/torch_train_step.py [threads] [batch]
"""
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
batch = int(sys.argv[2]) if len(sys.argv) > 2 else 512
torch.set_num_threads(threads)
torch.manual_seed(0)


def autoencoder():
    layers, width = [], 640
    for w in [128] * 4 + [8] + [128] * 4:
        layers += [nn.Linear(width, w), nn.BatchNorm1d(w, eps=1e-3, momentum=0.01), nn.ReLU()]
        width = w
    return nn.Sequential(*layers, nn.Linear(width, 640))


class Vae(nn.Module):
    def __init__(self, d=660, h=256, z=128, n=3):
        super().__init__()
        self.enc = nn.ModuleList([nn.Linear(d, h)] + [nn.Linear(h, h) for _ in range(n)])
        self.enc_bn = nn.ModuleList([nn.BatchNorm1d(h) for _ in range(n + 1)])
        self.mu, self.logvar = nn.Linear(h, z), nn.Linear(h, z)
        self.dec = nn.ModuleList([nn.Linear(z, h)] + [nn.Linear(h, h) for _ in range(n)])
        self.dec_bn = nn.ModuleList([nn.BatchNorm1d(h) for _ in range(n + 1)])
        self.out = nn.Linear(h, d)
        self.act = nn.LeakyReLU()

    def forward(self, x):
        for lin, bn in zip(self.enc, self.enc_bn):
            x = self.act(bn(lin(x)))
        mu, logvar = self.mu(x), self.logvar(x)
        h = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        for lin, bn in zip(self.dec, self.dec_bn):
            h = self.act(bn(lin(h)))
        return self.out(h), mu, logvar


def time_steps(name, model, x, loss_fn, **adam):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, **adam)

    def step():
        opt.zero_grad()
        loss_fn(model, x).backward()
        opt.step()

    for _ in range(3):
        step()
    times = []
    for _ in range(15):
        t = time.perf_counter()
        step()
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    params = sum(p.numel() for p in model.parameters())
    print(f"torch {name}: batch {batch}, {params} parameters, threads={threads}: median {times[7]:.2f} ms per training step (best {times[0]:.2f})")


time_steps("dense autoencoder", autoencoder(), torch.randn(batch, 640), lambda m, x: F.mse_loss(m(x), x))


def vae_loss(m, x):
    r, mu, lv = m(x)
    return F.mse_loss(r, x) - 0.5 * torch.sum(1 + lv - mu.pow(2) - lv.exp())


time_steps("vae", Vae(), torch.randn(batch, 660), vae_loss, weight_decay=1e-4)
