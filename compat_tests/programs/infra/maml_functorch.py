"""Meta-learning and per-sample-gradient code as written with torch.func (functorch) and
torch.autograd: MAML on sine-wave regression with torch.func.functional_call and
torch.autograd.grad(create_graph=True) for the second-order inner loop, the same inner step with
torch.func.grad, per-sample gradients with vmap(grad(...)) (Opacus-style clipping + noise-free
DP-SGD aggregation), a Hessian-vector product both with double backward and with
torch.autograd.functional.hvp, jacrev/jacfwd Jacobians and torch.autograd.functional.jacobian."""
import argparse
import os
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call, grad, jacfwd, jacrev, vmap


class SineNet(nn.Module):
    def __init__(self, hidden=40):
        super().__init__()
        self.l1 = nn.Linear(1, hidden)
        self.l2 = nn.Linear(hidden, hidden)
        self.l3 = nn.Linear(hidden, 1)

    def forward(self, x):
        return self.l3(F.relu(self.l2(F.relu(self.l1(x)))))


def sample_tasks(rng, n_tasks, k):
    tasks = []
    for _ in range(n_tasks):
        amp, phase = rng.uniform(0.1, 5.0), rng.uniform(0, np.pi)
        xs = rng.uniform(-5, 5, size=(2 * k, 1)).astype(np.float32)
        ys = (amp * np.sin(xs - phase)).astype(np.float32)
        tasks.append(tuple(torch.from_numpy(a) for a in (xs[:k], ys[:k], xs[k:], ys[k:])))
    return tasks


def inner_adapt(model, params, x, y, inner_lr, steps, first_order=False):
    for _ in range(steps):
        loss = F.mse_loss(functional_call(model, params, (x,)), y)
        grads = torch.autograd.grad(loss, params.values(), create_graph=not first_order)
        params = OrderedDict((name, p - inner_lr * g) for (name, p), g in zip(params.items(), grads))
    return params


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--init-state', default=None)
    parser.add_argument('--meta-steps', type=int, default=5)
    parser.add_argument('--inner-lr', type=float, default=0.01)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)

    model = SineNet()
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(model.state_dict(), args.init_state)
    meta_opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    # --- MAML (second order)
    meta_losses = []
    for it in range(args.meta_steps):
        meta_opt.zero_grad()
        total = 0.0
        for xs, ys, xq, yq in sample_tasks(rng, 3, 5):
            params = OrderedDict(model.named_parameters())
            adapted = inner_adapt(model, params, xs, ys, args.inner_lr, steps=2)
            qloss = F.mse_loss(functional_call(model, adapted, (xq,)), yq)
            (qloss / 3).backward()
            total += qloss.item() / 3
        meta_opt.step()
        meta_losses.append(total)
    meta_grad_norm = torch.norm(torch.stack([p.grad.norm() for p in model.parameters()])).item()

    # first-order vs torch.func.grad inner step must agree
    xs, ys, xq, yq = sample_tasks(rng, 1, 8)[0]
    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss_fn(p, x, y):
        return F.mse_loss(functional_call(model, p, (x,)), y)

    g_func = grad(loss_fn)(params, xs, ys)
    g_auto = torch.autograd.grad(loss_fn(dict(model.named_parameters()), xs, ys), list(model.parameters()))
    func_vs_autograd = max((g_func[k] - g).abs().max().item() for k, g in zip(params, g_auto))

    # --- per-sample gradients (vmap over grad), Opacus-style clipping then averaging
    def sample_loss(p, x, y):
        pred = functional_call(model, p, (x.unsqueeze(0),))
        return F.mse_loss(pred, y.unsqueeze(0))

    per_sample = vmap(grad(sample_loss), in_dims=(None, 0, 0))(params, xq, yq)
    norms = torch.sqrt(sum(g.flatten(1).pow(2).sum(1) for g in per_sample.values()))
    clip = (1.0 / (norms + 1e-6)).clamp(max=1.0)
    clipped = {k: (g * clip.view(-1, *[1] * (g.dim() - 1))).mean(0) for k, g in per_sample.items()}
    mean_grad = {k: g.mean(0) for k, g in per_sample.items()}
    batch_grad = grad(lambda p: F.mse_loss(functional_call(model, p, (xq,)), yq))(params)
    ps_consistent = max((mean_grad[k] - batch_grad[k]).abs().max().item() for k in params)

    # --- Hessian-vector product: double backward vs autograd.functional.hvp
    flat_names = list(params)
    vec = {k: torch.from_numpy(rng.normal(size=tuple(v.shape)).astype(np.float32)) for k, v in params.items()}
    p_req = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    loss = loss_fn(p_req, xs, ys)
    gs = torch.autograd.grad(loss, list(p_req.values()), create_graph=True)
    dot = sum((g * vec[k]).sum() for g, k in zip(gs, flat_names))
    hv = torch.autograd.grad(dot, list(p_req.values()))

    w3 = params['l3.weight']

    def loss_w3(w):
        p = dict(params)
        p['l3.weight'] = w
        return loss_fn(p, xs, ys)

    _, hv_func = torch.autograd.functional.hvp(loss_w3, w3, vec['l3.weight'])
    # the (l3.weight, l3.weight) block of the Hessian, by double backward
    w3_req = p_req['l3.weight']
    g3 = torch.autograd.grad(loss_fn(p_req, xs, ys), w3_req, create_graph=True)[0]
    hv3, = torch.autograd.grad(g3, w3_req, grad_outputs=vec['l3.weight'])
    hvp_diff = (hv_func - hv3).abs().max().item()

    # --- Jacobians of the network output w.r.t. its input
    x5 = torch.linspace(-2, 2, 5).view(5, 1)
    f = lambda x: functional_call(model, params, (x,)).squeeze(-1)
    jr = jacrev(f)(x5)
    jf = jacfwd(f)(x5)
    ja = torch.autograd.functional.jacobian(f, x5)
    jac_diff = max((jr - jf).abs().max().item(), (jr - ja).abs().max().item())
    # per-point derivative with vmap(grad) of a scalar function
    dfdx = vmap(grad(lambda x: f(x.view(1, 1)).sum()))(x5)

    return {
        'meta_losses': meta_losses, 'meta_grad_norm': meta_grad_norm,
        'func_vs_autograd_small': func_vs_autograd < 1e-5,
        'g_func_norms': [g_func[k].norm().item() for k in flat_names],
        'per_sample_norms': norms.tolist(),
        'clipped_norm': torch.sqrt(sum(g.pow(2).sum() for g in clipped.values())).item(),
        'ps_consistent': ps_consistent < 1e-5,
        'hv_norms': [h.norm().item() for h in hv],
        'hvp_diff_small': hvp_diff < 1e-4,
        'jac_shape': list(jr.shape), 'jac_diag': torch.diagonal(jr.squeeze(-1)).tolist(),
        'jac_diff_small': jac_diff < 1e-5,
        'dfdx': dfdx.flatten().tolist(),
    }


if __name__ == '__main__':
    print(main())
