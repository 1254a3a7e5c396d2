"""A geometric multigrid V-cycle for the 2-D Poisson equation written with torch's image ops (as in
"multigrid in PyTorch" / differentiable-physics notebooks): the 5-point Laplacian as an F.conv2d
with a fixed stencil after F.pad (replicate / reflect / constant Dirichlet padding), weighted
Jacobi smoothing, restriction by F.avg_pool2d, prolongation by F.interpolate (bilinear,
align_corners=True and nearest), a recursive V-cycle to the coarsest grid, and residual-norm
convergence; then a learned smoother: a small nn.Conv2d with padding_mode='zeros' /
'circular' correction trained through unrolled V-cycles (gradients through interpolate,
avg_pool2d and padding) to reduce the residual faster. Double-precision solver, float32 learning."""
import argparse
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

LAP = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def laplacian(u, h, mode='constant'):
    k = LAP.to(u.dtype).view(1, 1, 3, 3)
    up = F.pad(u, (1, 1, 1, 1), mode=mode) if mode != 'constant' else F.pad(u, (1, 1, 1, 1), value=0.0)
    return F.conv2d(up, k) / h ** 2


def jacobi(u, f, h, iters=3, omega=0.8, smoother=None):
    for _ in range(iters):
        r = f - laplacian(u, h)
        du = -omega * h ** 2 / 4 * r
        if smoother is not None:
            du = du + smoother(r * h ** 2)
        u = u + du
    return u


def v_cycle(u, f, h, level=0, smoother=None):
    n = u.shape[-1]
    u = jacobi(u, f, h, smoother=smoother)
    if n <= 4:
        return jacobi(u, f, h, iters=20)
    r = f - laplacian(u, h)
    r_c = F.avg_pool2d(r, 2)
    e_c = v_cycle(torch.zeros_like(r_c), r_c, 2 * h, level + 1, smoother)
    e = F.interpolate(e_c, scale_factor=2, mode='bilinear', align_corners=False)
    u = u + e
    return jacobi(u, f, h, smoother=smoother)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--cycles', type=int, default=6)
    parser.add_argument('--train-steps', type=int, default=10)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)
    n = 32
    h = 1.0 / (n + 1)
    x = torch.linspace(h, 1 - h, n, dtype=torch.float64)
    X, Y = torch.meshgrid(x, x, indexing='ij')
    u_exact = torch.sin(math.pi * X) * torch.sin(2 * math.pi * Y)
    f = (-5 * math.pi ** 2 * u_exact).view(1, 1, n, n)

    u = torch.zeros_like(f)
    res_norms = []
    for c in range(args.cycles):
        u = v_cycle(u, f, h)
        res_norms.append((f - laplacian(u, h)).norm().item())
    err = (u.view(n, n) - u_exact).abs().max().item()

    # padding variants and interpolation modes on a fixed field
    field = u_exact.view(1, 1, n, n)
    pads = {m: laplacian(field, h, m)[0, 0, 0, :4].tolist() for m in ('constant', 'replicate', 'reflect', 'circular')}
    coarse = F.avg_pool2d(field, 4)
    interp = {
        'bilinear_ac': F.interpolate(coarse, size=(n, n), mode='bilinear', align_corners=True)[0, 0, 1, :4].tolist(),
        'nearest': F.interpolate(coarse, scale_factor=4, mode='nearest')[0, 0, 1, :4].tolist(),
        'bicubic': F.interpolate(coarse, size=(12, 12), mode='bicubic', align_corners=False)[0, 0, 1, :4].tolist(),
        'area': F.interpolate(field, size=(8, 8), mode='area')[0, 0, 1, :4].tolist(),
    }

    # learned smoother correction, trained through two unrolled V-cycles (float32)
    smoother = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.Tanh(),
                             nn.Conv2d(8, 1, 3, padding=1, padding_mode='circular'))
    with torch.no_grad():
        smoother[2].weight.mul_(0.1)
        smoother[2].bias.zero_()
    if args.init_state:
        if os.path.exists(args.init_state):
            smoother.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(smoother.state_dict(), args.init_state)
    opt = torch.optim.Adam(smoother.parameters(), lr=1e-3)
    train_losses = []
    for step in range(args.train_steps):
        coef = torch.from_numpy(rng.randn(1, 1, 4, 4).astype(np.float32))
        f_rand = F.interpolate(coef, size=(n, n), mode='bicubic', align_corners=True) * 50
        u_l = torch.zeros_like(f_rand)
        for _ in range(2):
            u_l = v_cycle(u_l, f_rand, h, smoother=smoother)
        loss = ((f_rand - laplacian(u_l, h)) * h ** 2).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        train_losses.append(loss.item())
    return {
        'res_norms': res_norms, 'max_err': err, 'pads': pads, 'interp': interp,
        'train_losses': train_losses,
    }


if __name__ == '__main__':
    print(main())
