"""RealNVP on 2-D toy data (after the "normalizing flows in PyTorch" tutorials and
senya-ashukha/real-nvp-pytorch): affine coupling layers with alternating binary masks, the scale
net ending in tanh, a torch.distributions.MultivariateNormal base (and an Independent(Normal)
twin), maximum likelihood with Adam, sampling by the inverse pass and a torch.distributions
TransformedDistribution built from AffineTransform / SigmoidTransform / ComposeTransform whose
log_prob is checked against the change-of-variables formula."""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn
from torch import distributions
from torch.distributions import transforms as T


class RealNVP(nn.Module):
    def __init__(self, nets, nett, mask, prior):
        super(RealNVP, self).__init__()
        self.prior = prior
        self.mask = nn.Parameter(mask, requires_grad=False)
        self.t = torch.nn.ModuleList([nett() for _ in range(len(mask))])
        self.s = torch.nn.ModuleList([nets() for _ in range(len(mask))])

    def g(self, z):
        x = z
        for i in range(len(self.t)):
            x_ = x * self.mask[i]
            s = self.s[i](x_) * (1 - self.mask[i])
            t = self.t[i](x_) * (1 - self.mask[i])
            x = x_ + (1 - self.mask[i]) * (x * torch.exp(s) + t)
        return x

    def f(self, x):
        log_det_J, z = x.new_zeros(x.shape[0]), x
        for i in reversed(range(len(self.t))):
            z_ = self.mask[i] * z
            s = self.s[i](z_) * (1 - self.mask[i])
            t = self.t[i](z_) * (1 - self.mask[i])
            z = (1 - self.mask[i]) * (z - t) * torch.exp(-s) + z_
            log_det_J -= s.sum(dim=1)
        return z, log_det_J

    def log_prob(self, x):
        z, logp = self.f(x)
        return self.prior.log_prob(z) + logp

    def sample(self, batchSize):
        z = self.prior.sample((batchSize, 1))
        x = self.g(z.view(batchSize, -1))
        return x


def make_moons(n, rng, noise=0.05):
    n_out = n // 2
    n_in = n - n_out
    outer = np.stack([np.cos(np.linspace(0, np.pi, n_out)), np.sin(np.linspace(0, np.pi, n_out))], 1)
    inner = np.stack([1 - np.cos(np.linspace(0, np.pi, n_in)), 1 - np.sin(np.linspace(0, np.pi, n_in)) - .5], 1)
    x = np.concatenate([outer, inner]) + rng.normal(scale=noise, size=(n, 2))
    return x.astype(np.float32)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--steps', type=int, default=40)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)

    nets = lambda: nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(), nn.Linear(32, 32), nn.LeakyReLU(),
                                 nn.Linear(32, 2), nn.Tanh())
    nett = lambda: nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(), nn.Linear(32, 32), nn.LeakyReLU(),
                                 nn.Linear(32, 2))
    masks = torch.from_numpy(np.array([[0, 1], [1, 0]] * 3).astype(np.float32))
    prior = distributions.MultivariateNormal(torch.zeros(2), torch.eye(2))
    flow = RealNVP(nets, nett, masks, prior)
    if args.init_state:
        if os.path.exists(args.init_state):
            flow.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(flow.state_dict(), args.init_state)

    optimizer = torch.optim.Adam([p for p in flow.parameters() if p.requires_grad == True], lr=1e-3)
    data = torch.from_numpy(make_moons(256, rng))
    idx = [rng.choice(256, 64, replace=False) for _ in range(args.steps)]
    losses = []
    for t in range(args.steps):
        loss = -flow.log_prob(data[torch.from_numpy(idx[t])]).mean()
        optimizer.zero_grad()
        loss.backward(retain_graph=True)
        optimizer.step()
        losses.append(loss.item())

    with torch.no_grad():
        nll = -flow.log_prob(data).mean().item()
        # inverse pass on fixed latents reconstructs exactly
        z = torch.from_numpy(rng.randn(16, 2).astype(np.float32))
        x = flow.g(z)
        z_back, _ = flow.f(x)
        recon_err = (z_back - z).abs().max().item()
        samples = flow.sample(2000)

    # an Independent(Normal) base gives the same log-density as the MVN with identity covariance
    base2 = distributions.Independent(distributions.Normal(torch.zeros(2), torch.ones(2)), 1)
    lp_mvn = prior.log_prob(data[:10])
    lp_ind = base2.log_prob(data[:10])
    # TransformedDistribution: x = sigmoid(2 z + 1), log p(x) = log N(z) - log|dx/dz|
    td = distributions.TransformedDistribution(
        base2, [T.AffineTransform(loc=torch.ones(2), scale=2 * torch.ones(2)), T.SigmoidTransform()])
    u = torch.from_numpy(rng.uniform(0.05, 0.95, (10, 2)).astype(np.float32))
    td_lp = td.log_prob(u)
    zz = (torch.log(u) - torch.log1p(-u) - 1) / 2
    manual = base2.log_prob(zz) - (torch.log(2 * u * (1 - u))).sum(-1)
    rs = td.rsample((2000,))
    comp = T.ComposeTransform([T.AffineTransform(1.0, 2.0), T.ExpTransform()])
    w = comp(torch.tensor([0.0, 0.5]))
    ladj = comp.log_abs_det_jacobian(torch.tensor([0.0, 0.5]), w)
    return {
        'losses': losses[::5] + [losses[-1]],
        'nll': nll, 'recon_err_small': recon_err < 1e-4,
        'x_from_z': x[:4].flatten().tolist(),
        'lp_mvn': lp_mvn.tolist(), 'lp_ind': lp_ind.tolist(),
        'td_lp': td_lp.tolist(), 'td_manual_err_small': (td_lp - manual).abs().max().item() < 1e-4,
        'rsample_shape': list(rs.shape), 'rsample_in_support': bool(((rs > 0) & (rs < 1)).all()),
        'compose': w.tolist(), 'compose_ladj': ladj.tolist(),
        'event_shape': list(td.event_shape), 'batch_shape': list(td.batch_shape),
        'stochastic': {'sample_mean': samples.mean(0).tolist(), 'rsample_mean': rs.mean(0).tolist()},
    }


if __name__ == '__main__':
    print(main())
