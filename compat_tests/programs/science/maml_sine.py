"""MAML on sine-wave regression with torch.func (after functorch's examples/maml_regression and the
torch.func "model ensembling / per-sample gradients" tutorials): the model's parameters are a dict
passed to torch.func.functional_call, the inner-loop adaptation takes torch.func.grad of the
support loss, the meta-loss over a batch of tasks is computed with torch.func.vmap over the tasks
(in_dims=(None, 0, 0, 0, 0)), and the outer update is a plain Adam step on the nn.Module's
parameters. Also: per-sample gradients with vmap(grad(...)) against a Python loop, jacrev /
hessian of a small function, and stack_module_state for an ensemble evaluated with vmap."""
import argparse
import copy
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap, jacrev, hessian, stack_module_state


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(1, 40)
        self.fc2 = nn.Linear(40, 40)
        self.fc3 = nn.Linear(40, 1)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def sample_tasks(rng, n_tasks, k_shot):
    As = rng.uniform(0.1, 0.5, n_tasks)
    phases = rng.uniform(0, np.pi, n_tasks)
    x_spt = rng.uniform(-5, 5, (n_tasks, k_shot, 1))
    x_qry = rng.uniform(-5, 5, (n_tasks, k_shot, 1))
    y_spt = As[:, None, None] * np.sin(x_spt + phases[:, None, None])
    y_qry = As[:, None, None] * np.sin(x_qry + phases[:, None, None])
    f = lambda a: torch.from_numpy(a.astype(np.float32))
    return f(x_spt), f(y_spt), f(x_qry), f(y_qry)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--meta-iters', type=int, default=15)
    parser.add_argument('--inner-steps', type=int, default=2)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)

    net = Net()
    if args.init_state:
        if os.path.exists(args.init_state):
            net.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(net.state_dict(), args.init_state)
    meta_opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    inner_lr = 1e-2

    def loss_fn(params, x, y):
        pred = functional_call(net, params, (x,))
        return F.mse_loss(pred, y)

    def inner_adapt(params, x_spt, y_spt):
        new_params = params
        for _ in range(args.inner_steps):
            grads = grad(loss_fn)(new_params, x_spt, y_spt)
            new_params = {k: new_params[k] - grads[k] * inner_lr for k in new_params}
        return new_params

    def get_loss_for_task(params, x_spt, y_spt, x_qry, y_qry):
        adapted = inner_adapt(params, x_spt, y_spt)
        return loss_fn(adapted, x_qry, y_qry)

    meta_losses = []
    for it in range(args.meta_iters):
        x_spt, y_spt, x_qry, y_qry = sample_tasks(rng, 5, 10)
        params = dict(net.named_parameters())
        task_losses = vmap(get_loss_for_task, in_dims=(None, 0, 0, 0, 0))(params, x_spt, y_spt, x_qry, y_qry)
        meta_loss = task_losses.mean()
        meta_opt.zero_grad()
        meta_loss.backward()
        meta_opt.step()
        meta_losses.append(meta_loss.item())

    # the vmapped task losses equal a python loop over tasks
    x_spt, y_spt, x_qry, y_qry = sample_tasks(rng, 4, 10)
    params = {k: v.detach() for k, v in net.named_parameters()}
    vm = vmap(get_loss_for_task, in_dims=(None, 0, 0, 0, 0))(params, x_spt, y_spt, x_qry, y_qry)
    loop = torch.stack([get_loss_for_task(params, x_spt[i], y_spt[i], x_qry[i], y_qry[i]) for i in range(4)])

    # per-sample gradients
    def sample_loss(params, x, y):
        return loss_fn(params, x.unsqueeze(0), y.unsqueeze(0))

    ps_grads = vmap(grad(sample_loss), in_dims=(None, 0, 0))(params, x_qry[0], y_qry[0])
    manual = []
    for i in range(3):
        net.zero_grad()
        F.mse_loss(net(x_qry[0][i:i + 1]), y_qry[0][i:i + 1]).backward()
        manual.append(net.fc1.weight.grad.clone())
    ps_err = max((ps_grads['fc1.weight'][i] - manual[i]).abs().max().item() for i in range(3))

    # jacrev / hessian of a scalar function of a vector
    def f(v):
        return (v.sin() * v.roll(1)).sum()

    v = torch.linspace(-1, 1, 5)
    jac = jacrev(f)(v)
    hes = hessian(f)(v)

    # an ensemble of copies, evaluated in one vmapped call
    models = [copy.deepcopy(net) for _ in range(3)]
    with torch.no_grad():
        for i, m in enumerate(models):
            m.fc3.bias.add_(float(i))
    ens_params, ens_buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to('meta')

    def fmodel(p, b, x):
        return functional_call(base, (p, b), (x,))

    xe = torch.linspace(-3, 3, 7).unsqueeze(1)
    ens_out = vmap(fmodel, in_dims=(0, 0, None))(ens_params, ens_buffers, xe)
    return {
        'meta_losses': meta_losses,
        'vmap_task_losses': vm.tolist(), 'loop_task_losses': loop.tolist(),
        'per_sample_shape': list(ps_grads['fc1.weight'].shape),
        'per_sample_err_small': ps_err < 1e-5,
        'jac': jac.tolist(), 'hessian_diag': torch.diagonal(hes).tolist(),
        'hessian_sym': bool(torch.allclose(hes, hes.T)),
        'ensemble_shape': list(ens_out.shape),
        'ensemble_means': ens_out.mean(dim=(1, 2)).tolist(),
    }


if __name__ == '__main__':
    print(main())
