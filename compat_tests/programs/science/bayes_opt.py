"""Bayesian optimisation of the Branin function written in plain torch (BoTorch-tutorial style,
without BoTorch): initial design from torch.quasirandom.SobolEngine (unscrambled, so the points are fixed; a
scrambled, seeded engine draws from torch's generator and is compared statistically), inputs
normalised to the unit cube and outputs standardised, a GP with a Matern-5/2 ARD kernel
(torch.cdist on lengthscale-scaled inputs) whose hyperparameters are fitted with Adam on the exact
marginal likelihood in float64, analytic Expected Improvement from torch.distributions.Normal
(cdf / log_prob) optimised over random restarts with Adam on clamped candidates
(clamp_ in torch.no_grad), and the batched posterior of many candidates at once. The unscrambled
Sobol points and every step are deterministic, so the whole optimisation trace must agree."""
import argparse
import math
import os

import numpy as np
import torch
from torch.distributions import Normal
from torch.quasirandom import SobolEngine


def branin(x):
    # x in [0,1]^2 mapped to [-5,10] x [0,15]
    x1 = 15 * x[..., 0] - 5
    x2 = 15 * x[..., 1]
    a, b, c, r, s, t = 1, 5.1 / (4 * math.pi ** 2), 5 / math.pi, 6, 10, 1 / (8 * math.pi)
    return a * (x2 - b * x1 ** 2 + c * x1 - r) ** 2 + s * (1 - t) * torch.cos(x1) + s


class GP(torch.nn.Module):
    def __init__(self, d):
        super().__init__()
        self.log_ls = torch.nn.Parameter(torch.full((d,), math.log(0.3), dtype=torch.float64))
        self.log_os = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))
        self.log_noise = torch.nn.Parameter(torch.tensor(math.log(1e-3), dtype=torch.float64))

    def kernel(self, a, b):
        r = torch.cdist(a / self.log_ls.exp(), b / self.log_ls.exp()).clamp_min(1e-12)
        s5 = math.sqrt(5) * r
        return self.log_os.exp() * (1 + s5 + s5 ** 2 / 3) * torch.exp(-s5)

    def nll(self, X, y):
        K = self.kernel(X, X) + (self.log_noise.exp() + 1e-6) * torch.eye(len(X), dtype=X.dtype)
        L = torch.linalg.cholesky(K)
        alpha = torch.cholesky_solve(y.unsqueeze(-1), L)
        return 0.5 * (y.unsqueeze(-1) * alpha).sum() + torch.log(torch.diagonal(L)).sum() + \
            0.5 * len(X) * math.log(2 * math.pi)

    def posterior(self, X, y, Xs):
        K = self.kernel(X, X) + (self.log_noise.exp() + 1e-6) * torch.eye(len(X), dtype=X.dtype)
        L = torch.linalg.cholesky(K)
        Ks = self.kernel(X, Xs)
        alpha = torch.cholesky_solve(y.unsqueeze(-1), L)
        mean = (Ks.transpose(-1, -2) @ alpha).squeeze(-1)
        v = torch.linalg.solve_triangular(L, Ks, upper=False)
        var = (self.log_os.exp() - (v ** 2).sum(0)).clamp_min(1e-12)
        return mean, var


def expected_improvement(mean, var, best):
    sigma = var.sqrt()
    u = (best - mean) / sigma          # minimisation
    normal = Normal(torch.zeros_like(u), torch.ones_like(u))
    ucdf = normal.cdf(u)
    updf = torch.exp(normal.log_prob(u))
    return sigma * (updf + u * ucdf)


def fit_gp(gp, X, y, iters):
    opt = torch.optim.Adam(gp.parameters(), lr=0.1)
    for _ in range(iters):
        opt.zero_grad()
        loss = gp.nll(X, y)
        loss.backward()
        opt.step()
    return loss.item()


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--n-iter', type=int, default=4)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    dtype = torch.float64

    sobol = SobolEngine(dimension=2)
    sobol.fast_forward(1)    # skip the origin
    X = sobol.draw(8).to(dtype)
    Y = branin(X)
    # restarts for the acquisition optimiser: more Sobol points
    restarts_pool = SobolEngine(dimension=2).draw(72)[8:].to(dtype)
    scrambled = SobolEngine(dimension=2, scramble=True, seed=11).draw(256)

    gp = GP(2)
    if args.init_state:
        if os.path.exists(args.init_state):
            gp.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(gp.state_dict(), args.init_state)

    best_trace, nlls, chosen = [], [], []
    for it in range(args.n_iter):
        y = (Y - Y.mean()) / Y.std()
        nlls.append(fit_gp(gp, X, y, iters=30))
        best = y.min()
        # acquisition: Adam on 8 restarts, keep candidates inside the box
        with torch.no_grad():
            m, v = gp.posterior(X, y, restarts_pool)
            ei = expected_improvement(m, v, best)
            start = restarts_pool[torch.topk(ei, 8).indices]
        cand = start.clone().requires_grad_(True)
        aopt = torch.optim.Adam([cand], lr=0.02)
        for _ in range(25):
            aopt.zero_grad()
            m, v = gp.posterior(X, y, cand)
            loss = -expected_improvement(m, v, best).sum()
            loss.backward()
            aopt.step()
            with torch.no_grad():
                cand.clamp_(0.0, 1.0)
        with torch.no_grad():
            m, v = gp.posterior(X, y, cand)
            ei = expected_improvement(m, v, best)
            x_next = cand[ei.argmax()].detach().unsqueeze(0)
        X = torch.cat([X, x_next])
        Y = torch.cat([Y, branin(x_next)])
        best_trace.append(Y.min().item())
        chosen.append(x_next.squeeze(0).tolist())

    # a dense posterior on a grid
    g = torch.linspace(0, 1, 6, dtype=dtype)
    grid = torch.cartesian_prod(g, g)
    with torch.no_grad():
        y = (Y - Y.mean()) / Y.std()
        mean, var = gp.posterior(X, y, grid)
    return {
        'sobol_init': X[:8].flatten().tolist(),
        'nlls': nlls, 'chosen': chosen, 'best_trace': best_trace,
        'lengthscales': gp.log_ls.exp().tolist(),
        'grid_mean': mean[::5].tolist(), 'grid_var': var[::5].tolist(),
        'scrambled_in_cube': bool(((scrambled >= 0) & (scrambled < 1)).all()),
        'stochastic': {'scrambled_mean': scrambled.mean(0).tolist(), 'scrambled_var': scrambled.var(0).tolist()},
    }


if __name__ == '__main__':
    print(main())
