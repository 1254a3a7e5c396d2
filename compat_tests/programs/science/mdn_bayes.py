"""A mixture density network and a small Bayesian linear regression with torch.distributions (the
usual MDN tutorial on the inverted sine problem, and a "variational inference by hand" notebook).
The MDN outputs mixture logits, means and softplus scales, and its loss is the negative log
likelihood of MixtureSameFamily(Categorical(logits), Normal(mu, sigma)); the Bayesian model keeps
unconstrained variational parameters mapped with
torch.distributions.transform_to(constraints.positive) / biject_to(constraints.simplex), an
Independent(Normal) posterior over the weights, a Gamma prior on the noise precision through a
TransformedDistribution(Normal, ExpTransform) (LogNormal) and the ELBO with an analytic KL
(kl_divergence of Independent Normals) optimised by Adam with rsample."""
import argparse
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import (Categorical, Gamma, Independent, LogNormal, MixtureSameFamily, Normal,
                                 TransformedDistribution, biject_to, constraints, kl_divergence,
                                 transform_to)
from torch.distributions.transforms import ExpTransform


class MDN(nn.Module):
    def __init__(self, n_hidden=32, n_gaussians=4):
        super().__init__()
        self.z_h = nn.Sequential(nn.Linear(1, n_hidden), nn.Tanh(), nn.Linear(n_hidden, n_hidden), nn.Tanh())
        self.z_pi = nn.Linear(n_hidden, n_gaussians)
        self.z_mu = nn.Linear(n_hidden, n_gaussians)
        self.z_sigma = nn.Linear(n_hidden, n_gaussians)

    def forward(self, x):
        z_h = self.z_h(x)
        logits = self.z_pi(z_h)
        mu = self.z_mu(z_h)
        sigma = F.softplus(self.z_sigma(z_h)) + 1e-3
        mix = Categorical(logits=logits)
        comp = Normal(mu, sigma)
        return MixtureSameFamily(mix, comp)


def mdn_loss_manual(dist, y):
    # the textbook logsumexp form, to check MixtureSameFamily.log_prob
    lp = dist.component_distribution.log_prob(y.expand_as(dist.component_distribution.loc))
    return -torch.logsumexp(lp + F.log_softmax(dist.mixture_distribution.logits, -1), dim=-1).mean()


class BayesLinReg(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.w_loc = nn.Parameter(torch.zeros(d))
        self.w_unconstrained_scale = nn.Parameter(torch.full((d,), -1.0))
        self.logprec_loc = nn.Parameter(torch.zeros(()))
        self.logprec_unconstrained_scale = nn.Parameter(torch.tensor(-1.0))

    def q_w(self):
        scale = transform_to(constraints.positive)(self.w_unconstrained_scale)
        return Independent(Normal(self.w_loc, scale), 1)

    def q_prec(self):
        scale = transform_to(constraints.positive)(self.logprec_unconstrained_scale)
        return TransformedDistribution(Normal(self.logprec_loc, scale), [ExpTransform()])

    def elbo(self, X, y, n_samples=4):
        qw, qp = self.q_w(), self.q_prec()
        pw = Independent(Normal(torch.zeros_like(self.w_loc), torch.ones_like(self.w_loc)), 1)
        pp = Gamma(torch.tensor(2.0), torch.tensor(2.0))
        w = qw.rsample((n_samples,))                   # [S, d]
        prec = qp.rsample((n_samples,))                # [S]
        lik = Normal(w @ X.T, prec.rsqrt().unsqueeze(-1)).log_prob(y).sum(-1)
        kl_w = kl_divergence(qw, pw)
        kl_p = (qp.log_prob(prec) - pp.log_prob(prec)).mean()   # Monte-Carlo KL for the precision
        return lik.mean() - kl_w - kl_p, kl_w


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--epochs', type=int, default=60)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)

    # inverted sine: x as a multi-valued function of y
    y_data = rng.uniform(-10.5, 10.5, (200, 1)).astype(np.float32)
    x_data = (np.sin(0.75 * y_data) * 7.0 + y_data * 0.5 + rng.normal(size=(200, 1))).astype(np.float32)
    x_t, y_t = torch.from_numpy(x_data / 10), torch.from_numpy(y_data / 10)

    mdn = MDN()
    blr = BayesLinReg(3)
    if args.init_state:
        if os.path.exists(args.init_state):
            st = torch.load(args.init_state)
            mdn.load_state_dict(st['mdn'])
            blr.load_state_dict(st['blr'])
        else:
            torch.save({'mdn': mdn.state_dict(), 'blr': blr.state_dict()}, args.init_state)

    dist0 = mdn(x_t)
    nll0 = -dist0.log_prob(y_t.squeeze(-1)).mean()
    manual0 = mdn_loss_manual(dist0, y_t)
    nll0.backward()
    mdn_grad0 = mdn.z_pi.weight.grad.norm().item()
    mdn.zero_grad()
    mean0, var0 = dist0.mean[:5], dist0.variance[:5]
    cdf0 = dist0.cdf(torch.zeros(200))[:5]

    opt = torch.optim.Adam(mdn.parameters(), lr=5e-3)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=20, gamma=0.5)
    mdn_losses = []
    for epoch in range(args.epochs):
        opt.zero_grad()
        loss = -mdn(x_t).log_prob(y_t.squeeze(-1)).mean()
        loss.backward()
        opt.step()
        sched.step()
        mdn_losses.append(loss.item())
    with torch.no_grad():
        d = mdn(torch.linspace(-1, 1, 5).unsqueeze(-1))
        mdn_out = {'probs': d.mixture_distribution.probs.tolist(), 'mean': d.mean.tolist(),
                   'stddev': d.stddev.tolist()}
        samples = d.sample((2000,))

    # constraints / transforms on fixed values
    pos = transform_to(constraints.positive)
    u = torch.tensor([-2.0, 0.0, 3.0])
    simplex = biject_to(constraints.simplex)
    s = simplex(u)
    interval = transform_to(constraints.interval(-1.0, 2.0))
    lower_chol = transform_to(constraints.lower_cholesky)(torch.tensor([[0.5, 3.0], [-1.0, -0.2]]))
    checks = {
        'positive': pos(u).tolist(), 'positive_inv': pos.inv(pos(u)).tolist(),
        'positive_ladj': pos.log_abs_det_jacobian(u, pos(u)).tolist(),
        'simplex': s.tolist(), 'simplex_inv': simplex.inv(s).tolist(),
        'simplex_ladj': simplex.log_abs_det_jacobian(u, s).item(),
        'interval': interval(u).tolist(),
        'lower_cholesky': lower_chol.tolist(),
        'check_simplex': bool(constraints.simplex.check(s)),
        'check_positive': constraints.positive.check(u).tolist(),
        'lognormal_vs_td': (LogNormal(0.3, 0.7).log_prob(torch.tensor([0.5, 2.0])) -
                            TransformedDistribution(Normal(0.3, 0.7), ExpTransform()).log_prob(
                                torch.tensor([0.5, 2.0]))).abs().max().item() < 1e-6,
    }

    # Bayesian linear regression with 3 features
    X = torch.from_numpy(rng.randn(50, 3).astype(np.float32))
    true_w = torch.tensor([1.5, -2.0, 0.5])
    y = X @ true_w + 0.3 * torch.from_numpy(rng.randn(50).astype(np.float32))
    _, kl_w0 = blr.elbo(X, y)
    bopt = torch.optim.Adam(blr.parameters(), lr=0.05)
    elbos = []
    for it in range(args.epochs):
        bopt.zero_grad()
        elbo, _ = blr.elbo(X, y)
        (-elbo).backward()
        bopt.step()
        elbos.append(elbo.item())
    return {
        'nll0': nll0.item(), 'manual0': manual0.item(), 'mdn_grad0': mdn_grad0,
        'mean0': mean0.tolist(), 'var0': var0.tolist(), 'cdf0': cdf0.tolist(),
        'mdn_losses': mdn_losses[::10] + [mdn_losses[-1]], 'mdn_out': mdn_out,
        'lr_final': sched.get_last_lr()[0],
        'checks': checks, 'kl_w0': kl_w0.item(),
        'stochastic': {
            'sample_mean': samples.mean(0).tolist(),
            'elbo_last10': sum(elbos[-10:]) / 10,
            'w_loc': blr.w_loc.tolist(),
        },
    }


if __name__ == '__main__':
    print(main())
