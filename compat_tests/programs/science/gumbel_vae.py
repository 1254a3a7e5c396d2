"""A categorical VAE with Gumbel-softmax latents (after ericjang/gumbel-softmax and the many
"Categorical VAE in PyTorch" ports): the encoder gives logits for N latent variables with K
categories, the stochastic layer uses F.gumbel_softmax (soft during training, hard straight-through
at the end) with an annealed temperature, the KL to a uniform prior comes from
torch.distributions.kl_divergence(Categorical(logits), Categorical(uniform)), plus a Gaussian
latent branch with kl_divergence(Normal, Normal). The deterministic parts are checked against the
closed forms: the OneHotCategorical / Categorical log_prob and entropy, the
RelaxedOneHotCategorical log_prob on fixed points, and the straight-through gradient of
hard gumbel_softmax (forward one-hot, backward the soft sample's)."""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import (Categorical, Normal, OneHotCategorical, RelaxedOneHotCategorical,
                                 kl_divergence)


class CatVAE(nn.Module):
    def __init__(self, in_dim=36, N=4, K=5, z_dim=2):
        super().__init__()
        self.N, self.K = N, K
        self.fc1 = nn.Linear(in_dim, 64)
        self.fc_logits = nn.Linear(64, N * K)
        self.fc_mu = nn.Linear(64, z_dim)
        self.fc_logstd = nn.Linear(64, z_dim)
        self.fc3 = nn.Linear(N * K + z_dim, 64)
        self.fc4 = nn.Linear(64, in_dim)

    def encode(self, x):
        h = F.relu(self.fc1(x))
        return self.fc_logits(h).view(-1, self.N, self.K), self.fc_mu(h), self.fc_logstd(h)

    def decode(self, z):
        return self.fc4(F.relu(self.fc3(z)))

    def forward(self, x, temp, hard=False):
        logits, mu, logstd = self.encode(x)
        y = F.gumbel_softmax(logits, tau=temp, hard=hard)
        q_z = Normal(mu, logstd.exp())
        z = q_z.rsample()
        recon = self.decode(torch.cat([y.view(-1, self.N * self.K), z], dim=-1))
        return recon, logits, q_z


def loss_function(recon_logits, x, logits, q_z, K):
    bce = F.binary_cross_entropy_with_logits(recon_logits, x, reduction='sum') / x.shape[0]
    q_y = Categorical(logits=logits)
    p_y = Categorical(probs=torch.full_like(logits, 1.0 / K))
    kl_cat = kl_divergence(q_y, p_y).sum() / x.shape[0]
    p_z = Normal(torch.zeros_like(q_z.loc), torch.ones_like(q_z.scale))
    kl_gauss = kl_divergence(q_z, p_z).sum() / x.shape[0]
    return bce + kl_cat + kl_gauss, bce, kl_cat, kl_gauss


def make_data(rng, n=64):
    # 6x6 binary images: one of 5 prototypes with flipped pixels
    protos = (rng.rand(5, 36) > 0.5).astype(np.float32)
    labels = rng.randint(0, 5, n)
    x = protos[labels]
    flip = rng.rand(n, 36) < 0.05
    return np.where(flip, 1 - x, x).astype(np.float32)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--epochs', type=int, default=4)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)
    data = torch.from_numpy(make_data(rng))

    model = CatVAE()
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(model.state_dict(), args.init_state)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    # deterministic: the KL terms and their gradients at initialisation
    logits0, mu0, logstd0 = model.encode(data)
    q_z0 = Normal(mu0, logstd0.exp())
    p_y = Categorical(probs=torch.full_like(logits0, 0.2))
    kl_cat0 = kl_divergence(Categorical(logits=logits0), p_y).sum() / 64
    kl_gauss0 = kl_divergence(q_z0, Normal(0.0, 1.0)).sum() / 64
    (kl_cat0 + kl_gauss0).backward()
    grad0 = model.fc_logits.weight.grad.norm().item()
    manual_kl = (F.softmax(logits0, -1) * (F.log_softmax(logits0, -1) - np.log(0.2))).sum() / 64
    model.zero_grad()

    temp, temp_min, anneal_rate = 1.0, 0.5, 0.03
    epoch_losses = []
    for epoch in range(args.epochs):
        perm = torch.from_numpy(rng.permutation(64))
        total = 0.0
        for i in range(0, 64, 16):
            x = data[perm[i:i + 16]]
            optimizer.zero_grad()
            recon, logits, q_z = model(x, temp)
            loss, _, _, _ = loss_function(recon, x, logits, q_z, model.K)
            loss.backward()
            optimizer.step()
            total += loss.item()
        temp = np.maximum(temp * np.exp(-anneal_rate * (epoch + 1)), temp_min)
        epoch_losses.append(total / 4)

    # straight-through estimator: the hard sample is one-hot, its gradient is the soft sample's
    lg = torch.from_numpy(rng.randn(3, 5).astype(np.float32)).requires_grad_()
    y_hard = F.gumbel_softmax(lg, tau=0.5, hard=True)
    onehot_ok = bool(((y_hard == 0) | (y_hard == 1)).all()) and bool((y_hard.sum(-1) == 1).all())
    (y_hard * torch.arange(5.0)).sum().backward()
    st_grad_finite = bool(torch.isfinite(lg.grad).all())

    # distributions on fixed values
    probs = torch.tensor([[0.1, 0.2, 0.3, 0.4], [0.25, 0.25, 0.25, 0.25]])
    ohc = OneHotCategorical(probs=probs)
    val = torch.tensor([[0., 0., 1., 0.], [1., 0., 0., 0.]])
    cat = Categorical(probs=probs)
    relaxed = RelaxedOneHotCategorical(torch.tensor(0.7), probs=probs)
    pt = torch.tensor([[0.1, 0.2, 0.3, 0.4], [0.7, 0.1, 0.1, 0.1]])
    samples = relaxed.rsample((1000,))
    cat_samples = cat.sample((2000,))
    ohc_samples = ohc.sample((2000,))
    with torch.no_grad():
        recon, logits, q_z = model(data, temp_min, hard=True)
    return {
        'kl_cat0': kl_cat0.item(), 'kl_gauss0': kl_gauss0.item(), 'manual_kl': manual_kl.item(),
        'grad0': grad0,
        'onehot_ok': onehot_ok, 'st_grad_finite': st_grad_finite,
        'ohc_log_prob': ohc.log_prob(val).tolist(), 'cat_log_prob': cat.log_prob(torch.tensor([2, 0])).tolist(),
        'ohc_entropy': ohc.entropy().tolist(), 'cat_entropy': cat.entropy().tolist(),
        'relaxed_log_prob': relaxed.log_prob(pt).tolist(),
        'relaxed_shape': list(samples.shape), 'relaxed_simplex': bool(torch.allclose(samples.sum(-1), torch.ones(1000, 2))),
        'kl_ohc': kl_divergence(ohc, OneHotCategorical(logits=torch.zeros(2, 4))).tolist(),
        'cat_support': cat.enumerate_support().squeeze(-1).tolist(),
        'stochastic': {
            'epoch_losses': epoch_losses,
            'cat_freq': torch.bincount(cat_samples[:, 0], minlength=4).float().div(2000).tolist(),
            'ohc_freq': ohc_samples[:, 0].mean(0).tolist(),
            'relaxed_mean': samples.mean(0)[0].tolist(),
        },
    }


if __name__ == '__main__':
    print(main())
