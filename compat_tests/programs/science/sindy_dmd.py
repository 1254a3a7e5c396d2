"""Equation discovery and modal analysis with torch linear algebra (PySINDy / PyDMD-style code
rewritten in torch, as in several "SINDy in PyTorch" repos): a polynomial feature library built
with itertools.combinations_with_replacement and torch.prod, sequentially-thresholded least
squares (STLSQ) with torch.linalg.lstsq and boolean masks, derivatives from torch.gradient, an
exact DMD with torch.linalg.svd (truncated rank), on complex data (PyDMD's two-mode test field), the eigen-decomposition
torch.linalg.eig of the reduced operator, modes and amplitudes via torch.linalg.pinv / lstsq on
complex tensors, reconstruction error, and a differentiable SINDy refinement: an L1-regularised
coefficient matrix trained with Adam on the same library (mask frozen with a gradient hook)."""
import argparse
import itertools
import os

import numpy as np
import torch


def polynomial_library(X, degree=2, names=('x', 'y')):
    n, d = X.shape
    feats = [torch.ones(n, dtype=X.dtype)]
    labels = ['1']
    for deg in range(1, degree + 1):
        for combo in itertools.combinations_with_replacement(range(d), deg):
            feats.append(torch.prod(X[:, list(combo)], dim=1))
            labels.append('*'.join(names[c] for c in combo))
    return torch.stack(feats, dim=1), labels


def stlsq(Theta, dXdt, threshold=0.05, max_iter=10):
    Xi = torch.linalg.lstsq(Theta, dXdt).solution
    for _ in range(max_iter):
        small = Xi.abs() < threshold
        Xi = Xi.masked_fill(small, 0.0)
        for k in range(dXdt.shape[1]):
            big = ~small[:, k]
            if big.any():
                Xi[big, k] = torch.linalg.lstsq(Theta[:, big], dXdt[:, k:k + 1]).solution.squeeze(-1)
    return Xi


def simulate_oscillator(n=400, dt=0.01):
    # damped cubic oscillator: x' = -0.1 x + 2 y, y' = -2 x - 0.1 y (RK4 in numpy)
    def f(s):
        x, y = s
        return np.array([-0.1 * x + 2.0 * y, -2.0 * x - 0.1 * y])
    s = np.array([2.0, 0.0])
    out = [s]
    for _ in range(n - 1):
        k1 = f(s); k2 = f(s + dt / 2 * k1); k3 = f(s + dt / 2 * k2); k4 = f(s + dt * k3)
        s = s + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        out.append(s)
    return np.array(out)


def dmd(X, rank):
    X1, X2 = X[:, :-1], X[:, 1:]
    U, S, Vh = torch.linalg.svd(X1, full_matrices=False)
    U, S, V = U[:, :rank], S[:rank], Vh[:rank].conj().T
    Atilde = U.conj().T @ X2 @ V @ torch.diag(1.0 / S).to(X.dtype)
    eigvals, W = torch.linalg.eig(Atilde)
    Phi = X2.to(torch.complex128) @ V.to(torch.complex128) @ torch.diag(1.0 / S).to(torch.complex128) @ W
    b = torch.linalg.pinv(Phi) @ X[:, 0].to(torch.complex128)
    return eigvals, Phi, b, S


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--iters', type=int, default=60)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)
    dt = 0.01
    traj = torch.from_numpy(simulate_oscillator(dt=dt)) + 1e-4 * torch.from_numpy(rng.randn(400, 2))
    dXdt = torch.stack(torch.gradient(traj, spacing=dt, dim=0), 0)[0]

    Theta, labels = polynomial_library(traj)
    Xi = stlsq(Theta, dXdt)
    active = [[labels[i] for i in torch.nonzero(Xi[:, k]).squeeze(-1).tolist()] for k in range(2)]

    # DMD on PyDMD's two-mode complex test field
    xgrid = torch.linspace(-5, 5, 64, dtype=torch.float64)
    tgrid = torch.arange(80, dtype=torch.float64) * 0.05
    xx, tt = torch.meshgrid(xgrid, tgrid, indexing='ij')
    f1 = (1 / torch.cosh(xx + 3)) * torch.exp(1j * 2.3 * tt)
    f2 = (2 / torch.cosh(xx)) * torch.tanh(xx) * torch.exp(1j * 2.8 * tt)
    field = f1 + f2
    eigvals, Phi, b, S = dmd(field, rank=2)
    omega = torch.log(eigvals) / 0.05
    order = torch.argsort(omega.imag)
    dyn = b.unsqueeze(1) * torch.exp(omega.unsqueeze(1) * tgrid.to(torch.complex128).unsqueeze(0))
    recon = Phi @ dyn
    recon_err = (torch.linalg.norm(recon - field) / torch.linalg.norm(field)).item()

    # differentiable refinement: L1-regularised coefficients, pruned terms kept at zero by a hook
    coef = torch.nn.Parameter(torch.zeros_like(Xi, dtype=torch.float32))
    if args.init_state:
        if os.path.exists(args.init_state):
            coef.data.copy_(torch.load(args.init_state))
        else:
            torch.save(coef.detach().clone(), args.init_state)
    mask = (Xi != 0).float()
    coef.register_hook(lambda g: g * mask)
    opt = torch.optim.Adam([coef], lr=0.05)
    Th32, d32 = Theta.float(), dXdt.float()
    losses = []
    for it in range(args.iters):
        opt.zero_grad()
        loss = ((Th32 @ coef - d32) ** 2).mean() + 1e-3 * coef.abs().sum()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return {
        'labels': labels, 'Xi': Xi.flatten().tolist(), 'active': active,
        'singular_values': S.tolist(),
        'field_dtype': str(field.dtype), 'eig_dtype': str(eigvals.dtype),
        'omega_imag': omega.imag[order].tolist(), 'omega_real_small': bool((omega.real.abs() < 1e-6).all()),
        'amplitudes_abs': b.abs()[order].tolist(),
        'recon_err_small': recon_err < 1e-6,
        'losses': losses[::10] + [losses[-1]],
        'coef': coef.detach().flatten().tolist(),
        'pruned_stay_zero': bool((coef.detach()[mask == 0] == 0).all()),
    }


if __name__ == '__main__':
    print(main())
