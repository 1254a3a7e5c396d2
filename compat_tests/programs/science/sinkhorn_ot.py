"""Entropic optimal transport with the log-domain Sinkhorn algorithm (as in the "Sinkhorn distances
in PyTorch" posts / geomloss-free implementations): a batched SinkhornDistance nn.Module with
torch.logsumexp updates, the cost matrix from broadcasting (|x_i - y_j|^p summed), convergence on
the mean change of u, the transport plan pi = exp(M(u, v)), then uses of it: the Sinkhorn
divergence between point clouds, a gradient-flow that moves a source cloud onto a target by
differentiating the OT loss w.r.t. the points (SGD), a Wasserstein barycenter of 1-D histograms on a
grid (mirror-descent in log space with F.softmax), and torch.cdist / torch.einsum cross-checks."""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class SinkhornDistance(nn.Module):
    def __init__(self, eps, max_iter, reduction='none'):
        super(SinkhornDistance, self).__init__()
        self.eps = eps
        self.max_iter = max_iter
        self.reduction = reduction

    def forward(self, x, y):
        # The Sinkhorn algorithm takes as input three variables :
        C = self._cost_matrix(x, y)  # Wasserstein cost function
        x_points = x.shape[-2]
        y_points = y.shape[-2]
        if x.dim() == 2:
            batch_size = 1
        else:
            batch_size = x.shape[0]

        # both marginals are fixed with equal weights
        mu = torch.empty(batch_size, x_points, dtype=x.dtype, requires_grad=False).fill_(1.0 / x_points).squeeze()
        nu = torch.empty(batch_size, y_points, dtype=x.dtype, requires_grad=False).fill_(1.0 / y_points).squeeze()

        u = torch.zeros_like(mu)
        v = torch.zeros_like(nu)
        # To check if algorithm terminates because of threshold or max iterations reached
        actual_nits = 0
        # Stopping criterion
        thresh = 1e-1

        # Sinkhorn iterations
        for i in range(self.max_iter):
            u1 = u  # useful to check the update
            u = self.eps * (torch.log(mu + 1e-8) - torch.logsumexp(self.M(C, u, v), dim=-1)) + u
            v = self.eps * (torch.log(nu + 1e-8) - torch.logsumexp(self.M(C, u, v).transpose(-2, -1), dim=-1)) + v
            err = (u - u1).abs().sum(-1).mean()

            actual_nits += 1
            if err.item() < thresh:
                break

        U, V = u, v
        # Transport plan pi = diag(a)*K*diag(b)
        pi = torch.exp(self.M(C, U, V))
        # Sinkhorn distance
        cost = torch.sum(pi * C, dim=(-2, -1))

        if self.reduction == 'mean':
            cost = cost.mean()
        elif self.reduction == 'sum':
            cost = cost.sum()

        return cost, pi, C, actual_nits

    def M(self, C, u, v):
        "Modified cost for logarithmic updates"
        "$M_{ij} = (-c_{ij} + u_i + v_j) / \\epsilon$"
        return (-C + u.unsqueeze(-1) + v.unsqueeze(-2)) / self.eps

    @staticmethod
    def _cost_matrix(x, y, p=2):
        "Returns the matrix of $|x_i-y_j|^p$."
        x_col = x.unsqueeze(-2)
        y_lin = y.unsqueeze(-3)
        C = torch.sum((torch.abs(x_col - y_lin)) ** p, -1)
        return C


def barycenter(hists, weights, C, eps=1e-2, iters=60):
    """Wasserstein barycenter of histograms on a shared grid (iterative Bregman projections)."""
    K = torch.exp(-C / eps)
    v = torch.ones_like(hists)
    u = torch.ones_like(hists)
    for _ in range(iters):
        u = hists / (v @ K.T)
        b = torch.exp((weights.unsqueeze(1) * torch.log(u @ K + 1e-300)).sum(0))
        v = b.unsqueeze(0) / (u @ K)
    return b / b.sum()


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--flow-steps', type=int, default=15)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)

    a = torch.from_numpy(rng.randn(30, 2).astype(np.float32))
    b = torch.from_numpy((rng.randn(40, 2) * 0.5 + np.array([2.0, 1.0])).astype(np.float32))
    sinkhorn = SinkhornDistance(eps=0.1, max_iter=100, reduction=None)
    dist, P, C, nits = sinkhorn(a, b)
    cdist_err = (C - torch.cdist(a, b) ** 2).abs().max().item()
    marg = [P.sum(1).sub(1 / 30).abs().max().item() < 1e-3, P.sum(0).sub(1 / 40).abs().max().item() < 2e-2]
    barycentric = torch.einsum('ij,jd->id', P, b) * 30       # barycentric projection

    # batched version
    xb = torch.from_numpy(rng.randn(3, 20, 2).astype(np.float32))
    yb = torch.from_numpy(rng.randn(3, 25, 2).astype(np.float32) + 1)
    batched = SinkhornDistance(eps=0.1, max_iter=100, reduction='mean')
    dist_b, P_b, _, nits_b = batched(xb, yb)

    # gradient flow of the source cloud
    x = nn.Parameter(a.clone())
    if args.init_state:
        if os.path.exists(args.init_state):
            x.data.copy_(torch.load(args.init_state))
        else:
            torch.save(x.detach().clone(), args.init_state)
    opt = torch.optim.SGD([x], lr=5.0)
    flow = []
    for step in range(args.flow_steps):
        opt.zero_grad()
        cost, _, _, _ = SinkhornDistance(eps=0.1, max_iter=50)(x, b)
        cost.backward()
        opt.step()
        flow.append(cost.item())

    # 1-D barycenter of two bumps (float64)
    grid = torch.linspace(0, 1, 50, dtype=torch.float64)
    h1 = torch.exp(-(grid - 0.2) ** 2 / 0.005)
    h2 = torch.exp(-(grid - 0.8) ** 2 / 0.005)
    hists = torch.stack([h1 / h1.sum(), h2 / h2.sum()])
    Cg = (grid.unsqueeze(0) - grid.unsqueeze(1)) ** 2
    bc = barycenter(hists, torch.tensor([0.5, 0.5], dtype=torch.float64), Cg)
    bc_mean = (bc * grid).sum().item()
    return {
        'dist': dist.item(), 'nits': nits, 'cdist_err_small': cdist_err < 1e-4, 'marginals_ok': marg,
        'plan_row0': P[0, :5].tolist(), 'barycentric': barycentric[:3].flatten().tolist(),
        'dist_batched': dist_b.item(), 'nits_batched': nits_b, 'plan_batched_shape': list(P_b.shape),
        'flow': flow, 'x_final_mean': x.detach().mean(0).tolist(),
        'barycenter_mean': bc_mean, 'barycenter_peak': int(bc.argmax()),
    }


if __name__ == '__main__':
    print(main())
