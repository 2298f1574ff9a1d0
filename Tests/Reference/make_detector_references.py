#!/usr/bin/python3
"""Reference training trajectories of the detectors' heads, from Debian torch.

    /usr/bin/python3 Tests/Reference/make_detector_references.py

metric: a bias-free MLP (Linear→LeakyReLU(0.1) ×2 → Linear) on standardised rows, centre = mean of the initial outputs
with components |c| < 0.1 pushed to ±0.1, loss = mean(d) + λ·var(d) with d = ‖z − c‖² (population variance), Adam with
L2 weight decay, batches in row order (no shuffle). Writes Tests/Fixtures/detectors/metric_*.npy: rows, initial weights,
centre, per-step losses, final weights.
"""
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(__file__), "..", "Fixtures", "detectors")
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(20261126)
np.random.seed(20261126)

rows, dim, width, out, lam, lr, batch, epochs, wd = 200, 24, 32, 8, 0.5, 1e-3, 64, 2, 1e-6
x = torch.randn(rows, dim)
head = torch.nn.Sequential(torch.nn.Linear(dim, width, bias=False), torch.nn.LeakyReLU(0.1),
                           torch.nn.Linear(width, width, bias=False), torch.nn.LeakyReLU(0.1),
                           torch.nn.Linear(width, out, bias=False))
np.save(f"{OUT}/metric_rows.npy", x.numpy())
for name, p in head.named_parameters():
    np.save(f"{OUT}/metric_init_{name}.npy", p.detach().numpy())
with torch.no_grad():
    c = head(x).mean(0)
    c = torch.where(c.abs() < 0.1, torch.where(c < 0, torch.full_like(c, -0.1), torch.full_like(c, 0.1)), c)
np.save(f"{OUT}/metric_centre.npy", c.numpy())
opt = torch.optim.Adam(head.parameters(), lr=lr, weight_decay=wd)
losses = []
for epoch in range(epochs):
    for start in range(0, rows, batch):
        z = head(x[start:start + batch])
        d = ((z - c) ** 2).sum(1)
        loss = d.mean() + lam * ((d - d.mean()) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
np.save(f"{OUT}/metric_losses.npy", np.array(losses, dtype=np.float32))
for name, p in head.named_parameters():
    np.save(f"{OUT}/metric_final_{name}.npy", p.detach().numpy())
print(f"wrote {OUT}")

# ae: the DCASE 2020 dense autoencoder on 40-d rows (the real one takes 640-d; the widths are the baseline's),
# BatchNorm eps 1e-3 / momentum 0.01 (Keras 0.99), MSE, Adam, batches in row order. Saves initial weights, per-step
# losses and the final output layer.
torch.manual_seed(7)
rows, dim, batch, epochs = 300, 40, 128, 2
x = torch.randn(rows, dim) * 2 + 1
layers, width = [], dim
for size in [128, 128, 128, 128, 8, 128, 128, 128, 128]:
    layers += [torch.nn.Linear(width, size), torch.nn.BatchNorm1d(size, eps=1e-3, momentum=0.01), torch.nn.ReLU()]
    width = size
layers.append(torch.nn.Linear(width, dim))
ae = torch.nn.Sequential(*layers)
np.save(f"{OUT}/ae_rows.npy", x.numpy())
for name, p in ae.named_parameters():
    np.save(f"{OUT}/ae_init_{name}.npy", p.detach().numpy())
opt = torch.optim.Adam(ae.parameters(), lr=1e-3)
losses = []
for epoch in range(epochs):
    for start in range(0, rows, batch):
        xb = x[start:start + batch]
        loss = torch.nn.functional.mse_loss(ae(xb), xb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
np.save(f"{OUT}/ae_losses.npy", np.array(losses, dtype=np.float32))
np.save(f"{OUT}/ae_final_27.weight.npy", ae[27].weight.detach().numpy())
np.save(f"{OUT}/ae_final_25.running_mean.npy", ae[25].running_mean.numpy())
ae.eval()
np.save(f"{OUT}/ae_eval_scores.npy", ((ae(x[:10]) - x[:10]) ** 2).mean(1).detach().numpy())
print(f"wrote ae references")

# vae: the baseline's layout and names (enc_layers/dec_layers/enc_bnorms/dec_bnorms, LeakyReLU 0.01), loss = mse(mean) +
# KL summed over batch and latents, Adam with weight decay 1e-4; ε saved so the C# side uses the same noise.
torch.manual_seed(11)
rows, dim, hidden, latent, n_hidden, batch, epochs = 120, 30, 16, 6, 1, 50, 2


class Vae(torch.nn.Module):
    def __init__(self):
        super().__init__()
        L, B = torch.nn.Linear, torch.nn.BatchNorm1d
        self.enc_layers = torch.nn.ModuleList([L(dim, hidden)] + [L(hidden, hidden) for _ in range(n_hidden)] + [L(hidden, latent), L(hidden, latent)])
        self.dec_layers = torch.nn.ModuleList([L(latent, hidden)] + [L(hidden, hidden) for _ in range(n_hidden)] + [L(hidden, dim)])
        self.enc_bnorms = torch.nn.ModuleList([B(hidden) for _ in range(n_hidden + 1)])
        self.dec_bnorms = torch.nn.ModuleList([B(hidden) for _ in range(n_hidden + 1)])
        self.act = torch.nn.LeakyReLU()

    def forward(self, x, eps):
        h = x
        for i in range(n_hidden + 1):
            h = self.act(self.enc_bnorms[i](self.enc_layers[i](h)))
        mean, logvar = self.enc_layers[-2](h), self.enc_layers[-1](h)
        h = mean + eps * torch.exp(0.5 * logvar)
        for i in range(n_hidden + 1):
            h = self.act(self.dec_bnorms[i](self.dec_layers[i](h)))
        return self.dec_layers[-1](h), mean, logvar


vae = Vae()
x = torch.randn(rows, dim)
np.save(f"{OUT}/vae_rows.npy", x.numpy())
for name, p in vae.named_parameters():
    np.save(f"{OUT}/vae_init_{name}.npy", p.detach().numpy())
opt = torch.optim.Adam(vae.parameters(), lr=1e-3, weight_decay=1e-4)
losses, noise = [], []
for epoch in range(epochs):
    for start in range(0, rows, batch):
        xb = x[start:start + batch]
        eps = torch.randn(xb.shape[0], latent)
        noise.append(eps.numpy().copy())
        recon, mu, lv = vae(xb, eps)
        loss = torch.nn.functional.mse_loss(recon, xb) - 0.5 * torch.sum(1 + lv - mu ** 2 - lv.exp())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
np.save(f"{OUT}/vae_noise.npy", np.concatenate(noise))
np.save(f"{OUT}/vae_losses.npy", np.array(losses, dtype=np.float32))
print("wrote vae references")

# vae scoring: evaluation mode (running BatchNorm statistics) with a given ε, z = μ + ε·σ, as the original's test script
# (its forward samples in evaluation mode too); the trained model above, the first 10 rows.
vae.eval()
eval_eps = torch.randn(10, latent)
with torch.no_grad():
    recon, _, _ = vae(x[:10], eval_eps)
np.save(f"{OUT}/vae_eval_noise.npy", eval_eps.numpy())
np.save(f"{OUT}/vae_eval_reconstruction.npy", recon.numpy())
print("wrote vae scoring references")
