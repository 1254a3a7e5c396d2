"""A differentiable pseudo-spectral solver for 2-D incompressible Navier-Stokes in vorticity form on
a periodic box (the solver used to generate FNO's NS data, navier_stokes_2d.py, in torch), with
torch.fft.fftfreq wavenumbers, torch.fft.rfft2 / irfft2, the stream function from the Poisson
equation in Fourier space, the 2/3 dealiasing mask, a Crank-Nicolson step for the viscous term,
and a forcing term. The viscosity is then recovered from an observed trajectory by gradient
descent through the solver (Adam on log(nu)), in float64; the enstrophy / energy spectra use
complex abs and torch.bincount over radial wavenumber shells."""
import argparse
import math
import os

import numpy as np
import torch


def navier_stokes_2d(w0, f, visc, T, delta_t=1e-2):
    # Grid size - must be power of 2
    N = w0.size()[-1]
    # Maximum frequency
    k_max = math.floor(N / 2.0)
    # Number of steps to final time
    steps = math.ceil(T / delta_t)
    # Initial vorticity to Fourier space
    w_h = torch.fft.rfft2(w0)
    # Forcing to Fourier space
    f_h = torch.fft.rfft2(f)
    # If same forcing for the whole batch
    if len(f_h.size()) < len(w_h.size()):
        f_h = torch.unsqueeze(f_h, 0)
    # Wavenumbers in y-direction
    k_y = torch.cat((torch.arange(start=0, end=k_max, step=1, device=w0.device),
                     torch.arange(start=-k_max, end=0, step=1, device=w0.device)), 0).repeat(N, 1)
    # Wavenumbers in x-direction
    k_x = k_y.transpose(0, 1)
    # Truncate redundant modes
    k_x = k_x[..., :k_max + 1]
    k_y = k_y[..., :k_max + 1]
    # Negative Laplacian in Fourier space
    lap = 4 * (math.pi ** 2) * (k_x ** 2 + k_y ** 2)
    lap[0, 0] = 1.0
    # Dealiasing mask
    dealias = torch.unsqueeze(torch.logical_and(torch.abs(k_y) <= (2.0 / 3.0) * k_max,
                                                torch.abs(k_x) <= (2.0 / 3.0) * k_max).float(), 0)
    for j in range(steps):
        # Stream function in Fourier space: solve Poisson equation
        psi_h = w_h / lap
        # Velocity field in x-direction = psi_y
        q = 2. * math.pi * k_y * 1j * psi_h
        q = torch.fft.irfft2(q, s=(N, N))
        # Velocity field in y-direction = -psi_x
        v = -2. * math.pi * k_x * 1j * psi_h
        v = torch.fft.irfft2(v, s=(N, N))
        # Partial x of vorticity
        w_x = 2. * math.pi * k_x * 1j * w_h
        w_x = torch.fft.irfft2(w_x, s=(N, N))
        # Partial y of vorticity
        w_y = 2. * math.pi * k_y * 1j * w_h
        w_y = torch.fft.irfft2(w_y, s=(N, N))
        # Non-linear term (u.grad(w)): compute in physical space then back to Fourier space
        F_h = torch.fft.rfft2(q * w_x + v * w_y)
        # Dealias
        F_h = dealias * F_h
        # Crank-Nicolson update
        w_h = (-delta_t * F_h + delta_t * f_h + (1.0 - 0.5 * delta_t * visc * lap) * w_h) / \
              (1.0 + 0.5 * delta_t * visc * lap)
    return torch.fft.irfft2(w_h, s=(N, N))


def energy_spectrum(w):
    N = w.shape[-1]
    w_h = torch.fft.fft2(w) / N ** 2
    k = torch.fft.fftfreq(N, d=1.0 / N)
    kx, ky = torch.meshgrid(k, k, indexing='ij')
    kk = torch.sqrt(kx ** 2 + ky ** 2)
    shells = torch.round(kk).long().flatten()
    ens = (w_h.abs() ** 2).flatten()
    return torch.bincount(shells, weights=ens, minlength=N // 2 + 1)[:N // 2 + 1]


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--iters', type=int, default=12)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)
    s = 32
    t = torch.linspace(0, 1, s + 1, dtype=torch.float64)[0:-1]
    X, Y = torch.meshgrid(t, t, indexing='ij')
    f = 0.1 * (torch.sin(2 * math.pi * (X + Y)) + torch.cos(2 * math.pi * (X + Y)))
    # random smooth initial vorticity (a few low modes from numpy)
    w0 = sum(float(rng.randn()) * torch.sin(2 * math.pi * (a * X + b * Y) + float(rng.rand()))
             for a, b in [(1, 0), (0, 1), (1, 1), (2, 1), (1, 2)]).unsqueeze(0)
    w0 = w0 - w0.mean()

    true_visc = 1e-2
    with torch.no_grad():
        w_obs = navier_stokes_2d(w0, f, true_visc, T=0.2, delta_t=1e-2)
    spec0, spec_obs = energy_spectrum(w0[0]), energy_spectrum(w_obs[0])

    log_visc = torch.nn.Parameter(torch.tensor(math.log(3e-2), dtype=torch.float64))
    if args.init_state:
        if os.path.exists(args.init_state):
            log_visc.data.copy_(torch.load(args.init_state))
        else:
            torch.save(log_visc.detach().clone(), args.init_state)
    opt = torch.optim.Adam([log_visc], lr=0.2)
    losses, viscs = [], []
    for it in range(args.iters):
        opt.zero_grad()
        w_pred = navier_stokes_2d(w0, f, log_visc.exp(), T=0.2, delta_t=1e-2)
        loss = ((w_pred - w_obs) ** 2).mean() / (w_obs ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        viscs.append(log_visc.exp().item())
    return {
        'w_obs_stats': [w_obs.mean().item(), w_obs.std().item(), w_obs.abs().max().item()],
        'w_obs_corner': w_obs[0, :3, :3].flatten().tolist(),
        'spec0': spec0[:6].tolist(), 'spec_obs': spec_obs[:6].tolist(),
        'losses': losses, 'viscs': viscs,
        'dtype': str(w_obs.dtype),
    }


if __name__ == '__main__':
    print(main())
