"""Two Monte-Carlo workhorses in torch: a checkerboard Metropolis simulation of the 2-D Ising model
(neighbour sums with torch.roll on a batch of lattices at several temperatures, the parity mask
from torch.arange broadcasting, acceptance with torch.where, magnetisation / energy / specific-heat
estimates), and Hamiltonian Monte Carlo on a banana-shaped posterior with leapfrog steps whose
gradients come from torch.autograd.grad, dual-averaging step-size adaptation and the
Metropolis-Hastings correction. The uniform and momentum draws are taken from numpy so both
chains are deterministic; a torch.randn-driven HMC chain is reported under "stochastic"."""
import argparse
import math
import os

import numpy as np
import torch


def ising_energy(s, J=1.0):
    right = torch.roll(s, shifts=-1, dims=-1)
    down = torch.roll(s, shifts=-1, dims=-2)
    return -J * (s * right + s * down).sum(dim=(-2, -1))


def checkerboard_sweep(s, beta, u_even, u_odd, parity):
    for color, u in ((0, u_even), (1, u_odd)):
        nb = (torch.roll(s, 1, -1) + torch.roll(s, -1, -1) + torch.roll(s, 1, -2) + torch.roll(s, -1, -2))
        dE = 2 * s * nb
        accept = (u < torch.exp(-beta.view(-1, 1, 1) * dE)) & (parity == color)
        s = torch.where(accept, -s, s)
    return s


def log_banana(theta, b=0.5):
    x, y = theta[..., 0], theta[..., 1]
    return -0.5 * x ** 2 / 4.0 - 0.5 * (y - b * x ** 2 + 4 * b) ** 2


def grad_log_p(theta):
    theta = theta.detach().requires_grad_(True)
    lp = log_banana(theta)
    g, = torch.autograd.grad(lp.sum(), theta)
    return lp.detach(), g


def hmc(theta, n_samples, step_size, n_leapfrog, momenta, uniforms, adapt=0, target=0.75):
    lp, g = grad_log_p(theta)
    samples, accepts = [], []
    log_eps, h_bar, log_eps_bar, mu = math.log(step_size), 0.0, 0.0, math.log(10 * step_size)
    for i in range(n_samples):
        eps = math.exp(log_eps) if i < adapt else math.exp(log_eps_bar if adapt else log_eps)
        p0 = momenta[i]
        p = p0 + 0.5 * eps * g
        q = theta
        for l in range(n_leapfrog):
            q = q + eps * p
            lp_new, g_new = grad_log_p(q)
            if l < n_leapfrog - 1:
                p = p + eps * g_new
        p = p + 0.5 * eps * g_new
        log_ratio = (lp_new - 0.5 * (p ** 2).sum(-1)) - (lp - 0.5 * (p0 ** 2).sum(-1))
        # a diverging trajectory (inf - inf) counts as a rejection
        a = torch.nan_to_num(torch.clamp(torch.exp(log_ratio), max=1.0), nan=0.0)
        acc = uniforms[i] < a
        theta = torch.where(acc.unsqueeze(-1), q, theta)
        lp = torch.where(acc, lp_new, lp)
        g = torch.where(acc.unsqueeze(-1), g_new, g)
        samples.append(theta)
        accepts.append(a.mean().item())
        if i < adapt:   # dual averaging (Hoffman & Gelman 2014)
            m = i + 1
            h_bar = (1 - 1 / (m + 10)) * h_bar + (target - accepts[-1]) / (m + 10)
            log_eps = mu - math.sqrt(m) / 0.05 * h_bar
            eta = m ** -0.75
            log_eps_bar = eta * log_eps + (1 - eta) * log_eps_bar
    return torch.stack(samples), accepts, math.exp(log_eps_bar if adapt else log_eps)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--sweeps', type=int, default=60)
    parser.add_argument('--hmc-samples', type=int, default=60)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)

    # --- Ising ---
    L, temps = 16, torch.tensor([1.5, 2.27, 3.5])
    beta = 1.0 / temps
    s = torch.from_numpy(np.where(rng.rand(3, L, L) < 0.5, -1.0, 1.0).astype(np.float32))
    ii = torch.arange(L)
    parity = (ii.view(-1, 1) + ii.view(1, -1)) % 2
    mags, energies = [], []
    for sweep in range(args.sweeps):
        u = torch.from_numpy(rng.rand(2, 3, L, L).astype(np.float32))
        s = checkerboard_sweep(s, beta, u[0], u[1], parity)
        if sweep >= args.sweeps // 2:
            mags.append(s.mean(dim=(-2, -1)).abs())
            energies.append(ising_energy(s) / L ** 2)
    mags, energies = torch.stack(mags), torch.stack(energies)
    cv = (energies.var(0, unbiased=True) * L ** 2) * beta ** 2

    # --- HMC with numpy noise (4 chains, float64) ---
    theta0 = torch.zeros(4, 2, dtype=torch.float64)
    if args.init_state:
        if os.path.exists(args.init_state):
            theta0 = torch.load(args.init_state)
        else:
            torch.save(theta0, args.init_state)
    momenta = torch.from_numpy(rng.randn(args.hmc_samples, 4, 2))
    uniforms = torch.from_numpy(rng.rand(args.hmc_samples, 4))
    samples, accepts, eps = hmc(theta0, args.hmc_samples, 0.3, 8, momenta, uniforms, adapt=20)
    post = samples[20:].reshape(-1, 2)

    # --- HMC with torch's generator ---
    n = 200
    s_t, acc_t, _ = hmc(torch.zeros(8, 2, dtype=torch.float64), n, eps, 8,
                        torch.randn(n, 8, 2, dtype=torch.float64), torch.rand(n, 8, dtype=torch.float64))
    post_t = s_t[50:].reshape(-1, 2)
    return {
        'ising_final_mag': s.mean(dim=(-2, -1)).tolist(), 'ising_mean_abs_mag': mags.mean(0).tolist(),
        'ising_energy': energies.mean(0).tolist(), 'ising_cv': cv.tolist(),
        'hmc_step': eps, 'hmc_accept': accepts[::10], 'hmc_mean': post.mean(0).tolist(),
        'hmc_cov': torch.cov(post.T).flatten().tolist(),
        'hmc_last': samples[-1].flatten().tolist(),
        'stochastic': {'hmc_x_var': post_t[:, 0].var().item() / 4.0,
                       'hmc_accept_mean': sum(acc_t) / len(acc_t)},
    }


if __name__ == '__main__':
    print(main())
