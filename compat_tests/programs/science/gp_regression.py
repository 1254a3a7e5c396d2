"""Exact Gaussian-process regression in plain PyTorch (the "GPs from scratch" notebooks, GPyTorch's
ExactGP recipe without the library), in double precision as such code is written: an RBF + periodic
kernel with softplus-constrained hyperparameters, jitter on the diagonal, torch.linalg.cholesky,
the negative log marginal likelihood from torch.cholesky_solve and the Cholesky diagonal,
hyperparameters fitted with Adam, and the predictive mean / variance through
torch.linalg.solve_triangular. Cross-checks: the NLL against
torch.distributions.MultivariateNormal(scale_tril=L).log_prob, cholesky_solve against
torch.linalg.solve, the log-determinant against torch.linalg.slogdet, and a failing Cholesky on an
indefinite matrix reported through torch.linalg.cholesky_ex's info."""
import argparse
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def softplus_inv(y):
    return y + torch.log(-torch.expm1(-y))


class GPRegression(nn.Module):
    def __init__(self, train_x, train_y):
        super().__init__()
        self.train_x = train_x
        self.train_y = train_y
        dt = train_x.dtype
        self.raw_lengthscale = nn.Parameter(softplus_inv(torch.tensor(0.5, dtype=dt)))
        self.raw_outputscale = nn.Parameter(softplus_inv(torch.tensor(1.0, dtype=dt)))
        self.raw_period = nn.Parameter(softplus_inv(torch.tensor(1.5, dtype=dt)))
        self.raw_per_scale = nn.Parameter(softplus_inv(torch.tensor(0.5, dtype=dt)))
        self.raw_noise = nn.Parameter(softplus_inv(torch.tensor(0.1, dtype=dt)))
        self.mean_const = nn.Parameter(torch.zeros((), dtype=dt))

    @property
    def lengthscale(self):
        return F.softplus(self.raw_lengthscale)

    @property
    def noise(self):
        return F.softplus(self.raw_noise) + 1e-4

    def kernel(self, x1, x2):
        d2 = torch.cdist(x1, x2).pow(2)
        rbf = F.softplus(self.raw_outputscale) * torch.exp(-0.5 * d2 / self.lengthscale ** 2)
        diff = (x1.unsqueeze(1) - x2.unsqueeze(0)).abs().squeeze(-1)
        per = F.softplus(self.raw_per_scale) * torch.exp(
            -2 * torch.sin(math.pi * diff / F.softplus(self.raw_period)).pow(2))
        return rbf + per

    def neg_log_marginal_likelihood(self):
        n = self.train_x.shape[0]
        K = self.kernel(self.train_x, self.train_x)
        K = K + self.noise * torch.eye(n, dtype=K.dtype)
        L = torch.linalg.cholesky(K)
        r = (self.train_y - self.mean_const).unsqueeze(-1)
        alpha = torch.cholesky_solve(r, L)
        data_fit = 0.5 * (r * alpha).sum()
        complexity = torch.log(torch.diagonal(L)).sum()
        return (data_fit + complexity + 0.5 * n * math.log(2 * math.pi)) / n, L

    @torch.no_grad()
    def predict(self, x_star):
        K = self.kernel(self.train_x, self.train_x) + self.noise * torch.eye(len(self.train_x), dtype=x_star.dtype)
        L = torch.linalg.cholesky(K)
        K_s = self.kernel(self.train_x, x_star)
        K_ss = self.kernel(x_star, x_star)
        r = (self.train_y - self.mean_const).unsqueeze(-1)
        v = torch.linalg.solve_triangular(L, K_s, upper=False)
        w = torch.linalg.solve_triangular(L, r, upper=False)
        mean = (v.transpose(-2, -1) @ w).squeeze(-1) + self.mean_const
        cov = K_ss - v.transpose(-2, -1) @ v
        var = torch.diagonal(cov).clamp_min(1e-10) + self.noise
        return mean, var


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--iters', type=int, default=40)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(1)
    torch.set_default_dtype(torch.float64)

    x = np.sort(rng.uniform(0, 6, 30))
    y = np.sin(2 * x) + 0.3 * np.cos(5 * x) + 0.1 * rng.randn(30)
    train_x = torch.from_numpy(x).unsqueeze(-1)
    train_y = torch.from_numpy(y)
    model = GPRegression(train_x, train_y)
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(model.state_dict(), args.init_state)

    nll0, L0 = model.neg_log_marginal_likelihood()
    # the same quantity from torch.distributions
    mvn = torch.distributions.MultivariateNormal(model.mean_const.detach().expand(30), scale_tril=L0.detach())
    nll_dist = -mvn.log_prob(train_y).item() / 30
    K0 = (L0 @ L0.T).detach()
    sign, logabsdet = torch.linalg.slogdet(K0)
    chol_logdet = 2 * torch.log(torch.diagonal(L0)).sum().item()
    b = train_y.unsqueeze(-1)
    solve_err = (torch.cholesky_solve(b, L0.detach()) - torch.linalg.solve(K0, b)).abs().max().item()

    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for i in range(args.iters):
        optimizer.zero_grad()
        loss, _ = model.neg_log_marginal_likelihood()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())

    x_star = torch.linspace(0, 7, 9).unsqueeze(-1)
    mean, var = model.predict(x_star)
    # gradient of the NLL w.r.t. the hyperparameters after training
    loss, _ = model.neg_log_marginal_likelihood()
    grads = torch.autograd.grad(loss, [model.raw_lengthscale, model.raw_noise, model.mean_const])

    # an indefinite "kernel" matrix: cholesky_ex reports where it fails instead of raising
    bad = torch.tensor([[1.0, 2.0], [2.0, 1.0]])
    _, info = torch.linalg.cholesky_ex(bad)
    try:
        torch.linalg.cholesky(bad)
        raised = 'none'
    except Exception as e:  # torch.linalg.LinAlgError, a RuntimeError subclass
        raised = 'LinAlgError' if isinstance(e, torch.linalg.LinAlgError) else type(e).__name__
    return {
        'nll0': nll0.item(), 'nll_dist': nll_dist,
        'slogdet': [sign.item(), logabsdet.item()], 'chol_logdet': chol_logdet,
        'solve_err_small': solve_err < 1e-8,
        'losses': losses[::5] + [losses[-1]],
        'lengthscale': model.lengthscale.item(), 'noise': model.noise.item(),
        'period': F.softplus(model.raw_period).item(),
        'pred_mean': mean.tolist(), 'pred_var': var.tolist(),
        'final_grads': [g.item() for g in grads],
        'dtype': str(mean.dtype),
        'cholesky_ex_info': info.item(), 'cholesky_error': raised,
    }


if __name__ == '__main__':
    print(main())
