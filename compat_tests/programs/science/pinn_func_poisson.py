"""A 2-D Poisson PINN written the torch.func way (as in the functorch PINN examples and
"PINNs with torch.func" blog posts): the network is evaluated through
torch.func.functional_call on a dict of its parameters, the Laplacian of u(x, y) comes from
vmap(hessian(u)) over collocation points, boundary terms from vmap(jacrev(u)), and the loss is
backpropagated with .backward() into the nn.Module's parameters (the transforms' results stay in
the eager autograd graph). Also vmap(model) over a batch with the model closed over, a directional
derivative with torch.func.jvp (and, with --forward-ad, with torch.autograd.forward_ad's
make_dual / unpack_dual), and a final L2 error against the manufactured solution
u = sin(pi x) sin(pi y)."""
import argparse
import math
import os

import numpy as np
import torch
import torch.nn as nn
from torch.func import functional_call, hessian, jacrev, jvp, vmap


class MLP(nn.Module):
    def __init__(self, width=24):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, width), nn.Tanh(), nn.Linear(width, width), nn.Tanh(),
                                 nn.Linear(width, 1))

    def forward(self, x):
        return self.net(x).squeeze(-1)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--iters', type=int, default=30)
    parser.add_argument('--forward-ad', action='store_true')
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)

    model = MLP()
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(model.state_dict(), args.init_state)

    def u(params, x):
        return functional_call(model, params, (x,))

    def source(x):
        return -2 * math.pi ** 2 * torch.sin(math.pi * x[..., 0]) * torch.sin(math.pi * x[..., 1])

    x_int = torch.from_numpy(rng.uniform(0, 1, (64, 2)).astype(np.float32))
    t = rng.uniform(0, 1, 32)
    side = rng.randint(0, 4, 32)
    xb = np.stack([np.where(side == 0, 0.0, np.where(side == 1, 1.0, t)),
                   np.where(side == 2, 0.0, np.where(side == 3, 1.0, t))], 1)
    x_bnd = torch.from_numpy(xb.astype(np.float32))

    def loss_fn(params):
        lap = vmap(hessian(u, argnums=1), in_dims=(None, 0))(params, x_int).diagonal(dim1=-2, dim2=-1).sum(-1)
        res = lap - source(x_int)
        bnd = vmap(u, in_dims=(None, 0))(params, x_bnd)
        return (res ** 2).mean(), (bnd ** 2).mean()

    params = dict(model.named_parameters())
    l_res0, l_bnd0 = loss_fn(params)
    (l_res0 + 10 * l_bnd0).backward()
    grad0 = [p.grad.norm().item() for p in model.parameters()]
    model.zero_grad()

    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for it in range(args.iters):
        opt.zero_grad()
        l_res, l_bnd = loss_fn(dict(model.named_parameters()))
        loss = l_res + 10 * l_bnd
        loss.backward()
        opt.step()
        losses.append(loss.item())

    # evaluation: vmap over the module itself, and the gradient field from jacrev
    g = torch.linspace(0, 1, 9)
    pts = torch.cartesian_prod(g, g)
    with torch.no_grad():
        pred = vmap(model)(pts)
    exact = torch.sin(math.pi * pts[:, 0]) * torch.sin(math.pi * pts[:, 1])
    l2 = (torch.linalg.norm(pred - exact) / torch.linalg.norm(exact)).item()
    params = {k: v.detach() for k, v in model.named_parameters()}
    grad_field = vmap(jacrev(u, argnums=1), in_dims=(None, 0))(params, pts[:5])

    # forward-mode AD: directional derivative along (1, 2) at a few points
    direction = torch.tensor([1.0, 2.0]).expand(5, 2)
    _, jvp_out = jvp(lambda x: u(params, x), (pts[:5],), (direction,))
    fwd = {}
    if args.forward_ad:
        import torch.autograd.forward_ad as fwAD
        with fwAD.dual_level():
            dual = fwAD.make_dual(pts[:5], direction)
            out = model(dual)
            primal, tangent = fwAD.unpack_dual(out)
        fwd = {'fwd_tangent': tangent.tolist(), 'fwd_matches_jvp': bool(torch.allclose(tangent, jvp_out, atol=1e-5)),
               'primal_requires_grad': primal.requires_grad}
    return {
        'l_res0': l_res0.item(), 'l_bnd0': l_bnd0.item(), 'grad0': grad0,
        'losses': losses[::5] + [losses[-1]],
        'pred': pred[::10].tolist(), 'l2_error': l2,
        'grad_field': grad_field.flatten().tolist(),
        'jvp': jvp_out.tolist(),
        'jvp_matches_grad': bool(torch.allclose(jvp_out, (grad_field * direction).sum(-1), atol=1e-5)),
        **fwd,
    }


if __name__ == '__main__':
    print(main())
