#!/usr/bin/python3
"""Is the VAE baseline near chance on synth because of this implementation or because of its recipe? PyTorch runs the
authors' recipe (tam17aki/dcase2020_task2_baseline pytorch_vae: 660-256x4-128 with BatchNorm and LeakyReLU, loss = MSE
(mean) + KL (summed over batch and latents), Adam lr 1e-3 with weight decay 1e-4, batch 512, drop_last) on the same
vae60 rows that `nasd eval --detector vae` trained on, and scores the test clips with z = mu (as nasd does) and with a
sampled z (as the original's test script does: its forward always samples), at several epoch counts.

    nasd eval --data D --detector vae --out E --cache C     # D: one machine type of a `nasd synth` set (D/fan/train, D/fan/test)
    /usr/bin/python3 Bench/vae_recipe_check.py --data D/fan --cache C --scores E [--epochs 15,30,80] [--ids id_00,id_01]
"""
import argparse
import glob
import hashlib
import os

import numpy as np
import torch


def rows(cache, path):
    key = hashlib.sha256(open(path, "rb").read() + b"\n" + b"stacked:vae60:11:ch0").hexdigest()
    return np.load(os.path.join(cache, f"{key}.660.npy")).astype(np.float32)


def auc(labels, scores):
    y, s = np.array(labels), np.array(scores)
    pos, neg = s[y == 1], s[y == 0]
    return (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()


class Vae(torch.nn.Module):
    def __init__(self, dim=660, hidden=256, latent=128, n_hidden=3):
        super().__init__()
        L, B = torch.nn.Linear, torch.nn.BatchNorm1d
        self.enc = torch.nn.ModuleList([L(dim, hidden)] + [L(hidden, hidden) for _ in range(n_hidden)] + [L(hidden, latent), L(hidden, latent)])
        self.dec = torch.nn.ModuleList([L(latent, hidden)] + [L(hidden, hidden) for _ in range(n_hidden)] + [L(hidden, dim)])
        self.enc_bn = torch.nn.ModuleList([B(hidden) for _ in range(n_hidden + 1)])
        self.dec_bn = torch.nn.ModuleList([B(hidden) for _ in range(n_hidden + 1)])
        self.act = torch.nn.LeakyReLU()

    def forward(self, x, sample):
        h = x
        for layer, bn in zip(self.enc, self.enc_bn):
            h = self.act(bn(layer(h)))
        mean, logvar = self.enc[-2](h), self.enc[-1](h)
        h = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar) if sample else mean
        for layer, bn in zip(self.dec, self.dec_bn):
            h = self.act(bn(layer(h)))
        return self.dec[-1](h), mean, logvar


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--scores", help="the eval folder: its anomaly_score CSVs give nasd's AUC beside torch's")
    ap.add_argument("--epochs", default="15,30,80")
    ap.add_argument("--ids", default="id_00,id_01")
    args = ap.parse_args()
    checkpoints = sorted(int(e) for e in args.epochs.split(","))
    torch.manual_seed(0)
    for machine_id in args.ids.split(","):
        train = torch.from_numpy(np.concatenate([rows(args.cache, p) for p in sorted(glob.glob(f"{args.data}/train/*{machine_id}*.wav"))]))
        tests = sorted(glob.glob(f"{args.data}/test/*{machine_id}*.wav"))
        labels = [1 if os.path.basename(p).startswith("anomaly") else 0 for p in tests]
        test_rows = [rows(args.cache, p) for p in tests]
        if args.scores:
            csv = glob.glob(os.path.join(args.scores, f"anomaly_score_*_{machine_id}.csv"))[0]
            theirs = {line.rsplit(",", 1)[0]: float(line.rsplit(",", 1)[1]) for line in open(csv)}
            print(f"{machine_id} nasd (z = mu, 15 epochs): AUC {auc(labels, [theirs[os.path.basename(p)] for p in tests]):.3f}")
        print(f"{machine_id} training rows {len(train)}, their variance (a constant's MSE) {train.var(0).mean():.3f}")
        vae = Vae()
        opt = torch.optim.Adam(vae.parameters(), weight_decay=1e-4)
        for epoch in range(1, checkpoints[-1] + 1):
            vae.train()
            order = torch.randperm(len(train))
            for start in range(0, len(train) - 511, 512):
                x = train[order[start:start + 512]]
                recon, mean, logvar = vae(x, True)
                mse = torch.nn.functional.mse_loss(recon, x)
                kl = -0.5 * torch.sum(1 + logvar - mean ** 2 - logvar.exp())
                opt.zero_grad()
                (mse + kl).backward()
                opt.step()
            if epoch in checkpoints:
                vae.eval()
                with torch.no_grad():
                    line = f"{machine_id} epoch {epoch:3d}: last batch MSE {mse.item():.3f}, KL {kl.item():.3f}"
                    for sample in (False, True):
                        s = [((vae(torch.from_numpy(r), sample)[0].numpy() - r) ** 2).mean() for r in test_rows]
                        normal = np.mean([v for v, l in zip(s, labels) if l == 0])
                        line += f"; {'sampled z' if sample else 'z = mu'}: AUC {auc(labels, s):.3f} (normal clips' MSE {normal:.3f})"
                    print(line, flush=True)


if __name__ == "__main__":
    main()
