"""A deep equilibrium layer with implicit differentiation (after the NeurIPS 2020 "Deep Implicit
Layers" tutorial, chapter 4): the forward pass finds the fixed point z* = tanh(W z* + U x) with
Anderson acceleration under torch.no_grad() (torch.bmm, torch.linalg.solve on the small Anderson
system), re-engages autograd with one more function call, and the backward pass solves the
adjoint fixed point g = (df/dz)^T g + grad inside a tensor hook (register_hook) using
torch.autograd.grad(f0, z0, y, retain_graph=True). Trained as a classifier on blobs with SGD +
momentum; the implicit gradient is checked against backpropagation through many unrolled
iterations in float64."""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def anderson(f, x0, m=5, lam=1e-4, max_iter=50, tol=1e-5, beta=1.0):
    """Anderson acceleration for fixed point iteration."""
    bsz, d = x0.shape
    X = torch.zeros(bsz, m, d, dtype=x0.dtype, device=x0.device)
    F_ = torch.zeros(bsz, m, d, dtype=x0.dtype, device=x0.device)
    X[:, 0], F_[:, 0] = x0.view(bsz, -1), f(x0).view(bsz, -1)
    X[:, 1], F_[:, 1] = F_[:, 0], f(F_[:, 0].view_as(x0)).view(bsz, -1)

    H = torch.zeros(bsz, m + 1, m + 1, dtype=x0.dtype, device=x0.device)
    H[:, 0, 1:] = H[:, 1:, 0] = 1
    y = torch.zeros(bsz, m + 1, 1, dtype=x0.dtype, device=x0.device)
    y[:, 0] = 1

    res = []
    for k in range(2, max_iter):
        n = min(k, m)
        G = F_[:, :n] - X[:, :n]
        H[:, 1:n + 1, 1:n + 1] = torch.bmm(G, G.transpose(1, 2)) + lam * torch.eye(n, dtype=x0.dtype, device=x0.device)[None]
        alpha = torch.linalg.solve(H[:, :n + 1, :n + 1], y[:, :n + 1])[:, 1:n + 1, 0]  # (bsz x n)

        X[:, k % m] = beta * (alpha[:, None] @ F_[:, :n])[:, 0] + (1 - beta) * (alpha[:, None] @ X[:, :n])[:, 0]
        F_[:, k % m] = f(X[:, k % m].view_as(x0)).view(bsz, -1)
        res.append((F_[:, k % m] - X[:, k % m]).norm().item() / (1e-5 + F_[:, k % m].norm().item()))
        if res[-1] < tol:
            break
    return X[:, k % m].view_as(x0), res


class TanhFixedPointLayer(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.linear = nn.Linear(out_features, out_features, bias=False)
        self.inp = nn.Linear(in_features, out_features)

    def f(self, z, x):
        return torch.tanh(self.linear(z) + self.inp(x))


class DEQFixedPoint(nn.Module):
    def __init__(self, f_module, solver, **kwargs):
        super().__init__()
        self.f_module = f_module
        self.solver = solver
        self.kwargs = kwargs

    def forward(self, x):
        f = lambda z: self.f_module.f(z, x)
        # compute forward pass and re-engage autograd tape
        with torch.no_grad():
            z, self.forward_res = self.solver(f, torch.zeros(x.shape[0], self.f_module.linear.in_features,
                                                             dtype=x.dtype), **self.kwargs)
        z = f(z)

        # set up Jacobian vector product (without additional forward calls)
        z0 = z.clone().detach().requires_grad_()
        f0 = f(z0)

        def backward_hook(grad):
            g, self.backward_res = self.solver(
                lambda y: torch.autograd.grad(f0, z0, y, retain_graph=True)[0] + grad, grad, **self.kwargs)
            return g

        if z.requires_grad:
            z.register_hook(backward_hook)
        return z


def make_blobs(rng, n=120):
    centers = np.array([[2, 2], [-2, 2], [0, -2.5]])
    y = rng.randint(0, 3, n)
    x = centers[y] + rng.randn(n, 2)
    return x.astype(np.float32), y.astype(np.int64)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--epochs', type=int, default=5)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)
    X, Y = map(torch.from_numpy, make_blobs(rng))

    layer = TanhFixedPointLayer(2, 16)
    head = nn.Linear(16, 3)
    model = nn.Sequential(DEQFixedPoint(layer, anderson, tol=1e-6, max_iter=40), head)
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(model.state_dict(), args.init_state)
    with torch.no_grad():   # keep the map contractive
        layer.linear.weight.mul_(0.5)

    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses, fwd_iters, bwd_iters = [], [], []
    for epoch in range(args.epochs):
        for i in range(0, 120, 40):
            x, y = X[i:i + 40], Y[i:i + 40]
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            fwd_iters.append(len(model[0].forward_res))
            bwd_iters.append(len(model[0].backward_res))
    with torch.no_grad():
        acc = (model(X).argmax(1) == Y).float().mean().item()

    # implicit gradient vs unrolled backprop, in double precision
    model64 = model.double()
    x64 = X[:8].double()
    model64.zero_grad()
    F.cross_entropy(model64(x64), Y[:8]).backward()
    implicit = layer.linear.weight.grad.clone()
    model64.zero_grad()
    z = torch.zeros(8, 16, dtype=torch.float64)
    for _ in range(200):
        z = layer.f(z, x64)
    F.cross_entropy(head(z), Y[:8]).backward()
    unrolled = layer.linear.weight.grad.clone()
    rel_err = ((implicit - unrolled).norm() / unrolled.norm()).item()
    assert rel_err < 1e-4, rel_err
    return {
        'losses': losses, 'fwd_iters': fwd_iters, 'bwd_iters': bwd_iters, 'acc': acc,
        'implicit_grad': implicit[:2, :4].flatten().tolist(),
        'unrolled_grad': unrolled[:2, :4].flatten().tolist(),
        'forward_res_last': model[0].forward_res[-1] < 1e-6,
    }


if __name__ == '__main__':
    print(main())
