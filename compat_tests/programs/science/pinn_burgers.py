"""A physics-informed neural network (after the PINN tutorials of Raissi et al. and the many
"PINNs in PyTorch" notebooks): an MLP u(t, x) fitted to the residual of the 1-D viscous Burgers
equation u_t + u u_x - nu u_xx = 0 with initial / boundary conditions. Derivatives come from
torch.autograd.grad(..., create_graph=True) twice (u_x, then u_xx), the loss is minimised with Adam
and then refined with LBFGS (strong-Wolfe line search) through a closure, as in the original code."""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn


class PhysicsInformedNN(nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.depth = len(layers) - 1
        self.activation = nn.Tanh
        layer_list = []
        for i in range(self.depth - 1):
            layer_list.append(('layer_%d' % i, nn.Linear(layers[i], layers[i + 1])))
            layer_list.append(('activation_%d' % i, self.activation()))
        layer_list.append(('layer_%d' % (self.depth - 1), nn.Linear(layers[-2], layers[-1])))
        from collections import OrderedDict
        self.layers = nn.Sequential(OrderedDict(layer_list))

    def forward(self, t, x):
        return self.layers(torch.cat([t, x], dim=1))


def net_f(model, t, x, nu):
    """PDE residual via automatic differentiation."""
    u = model(t, x)
    u_t = torch.autograd.grad(u, t, grad_outputs=torch.ones_like(u), retain_graph=True, create_graph=True)[0]
    u_x = torch.autograd.grad(u, x, grad_outputs=torch.ones_like(u), retain_graph=True, create_graph=True)[0]
    u_xx = torch.autograd.grad(u_x, x, grad_outputs=torch.ones_like(u_x), retain_graph=True,
                               create_graph=True)[0]
    f = u_t + u * u_x - nu * u_xx
    return f


def make_points(rng, n_u=40, n_f=200):
    # initial condition u(0, x) = -sin(pi x); boundaries u(t, -1) = u(t, 1) = 0
    x0 = rng.uniform(-1, 1, (n_u // 2, 1))
    t0 = np.zeros_like(x0)
    u0 = -np.sin(np.pi * x0)
    tb = rng.uniform(0, 1, (n_u // 2, 1))
    xb = np.where(rng.rand(n_u // 2, 1) > 0.5, 1.0, -1.0)
    ub = np.zeros_like(tb)
    t_u = np.vstack([t0, tb]).astype(np.float32)
    x_u = np.vstack([x0, xb]).astype(np.float32)
    u = np.vstack([u0, ub]).astype(np.float32)
    t_f = rng.uniform(0, 1, (n_f, 1)).astype(np.float32)
    x_f = rng.uniform(-1, 1, (n_f, 1)).astype(np.float32)
    return t_u, x_u, u, t_f, x_f


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--adam-iters', type=int, default=30)
    parser.add_argument('--lbfgs-iters', type=int, default=15)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)

    torch.manual_seed(1234)
    np.random.seed(1234)
    nu = 0.01 / np.pi
    rng = np.random.RandomState(0)
    t_u, x_u, u, t_f, x_f = make_points(rng)

    t_u = torch.tensor(t_u, requires_grad=True)
    x_u = torch.tensor(x_u, requires_grad=True)
    u = torch.tensor(u)
    t_f = torch.tensor(t_f, requires_grad=True)
    x_f = torch.tensor(x_f, requires_grad=True)

    model = PhysicsInformedNN([2, 20, 20, 20, 1])
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(model.state_dict(), args.init_state)

    def loss_func():
        u_pred = model(t_u, x_u)
        f_pred = net_f(model, t_f, x_f, nu)
        loss_u = torch.mean((u - u_pred) ** 2)
        loss_f = torch.mean(f_pred ** 2)
        return loss_u + loss_f, loss_u, loss_f

    loss0, loss_u0, loss_f0 = loss_func()
    loss0.backward()
    grad_norm0 = torch.nn.utils.clip_grad_norm_(model.parameters(), float('inf')).item()
    model.zero_grad()

    optimizer_adam = torch.optim.Adam(model.parameters(), lr=1e-3)
    adam_losses = []
    for it in range(args.adam_iters):
        optimizer_adam.zero_grad()
        loss, _, _ = loss_func()
        loss.backward()
        optimizer_adam.step()
        adam_losses.append(loss.item())
        if it % 10 == 0:
            print('Adam It: %d, Loss: %.3e' % (it, loss.item()))

    optimizer = torch.optim.LBFGS(model.parameters(), lr=1.0, max_iter=args.lbfgs_iters,
                                  max_eval=int(args.lbfgs_iters * 1.25), history_size=50,
                                  tolerance_grad=1e-7, tolerance_change=1.0 * np.finfo(float).eps,
                                  line_search_fn="strong_wolfe")
    n_evals = [0]

    def closure():
        optimizer.zero_grad()
        loss, _, _ = loss_func()
        loss.backward()
        n_evals[0] += 1
        return loss

    optimizer.step(closure)
    final_loss, final_u, final_f = loss_func()

    # solution at a few points and the residual of the trained network
    t_star = torch.linspace(0, 1, 5).unsqueeze(1)
    x_star = torch.linspace(-1, 1, 5).unsqueeze(1)
    with torch.no_grad():
        u_star = model(t_star, x_star).squeeze(1)
    state = optimizer.state[optimizer._params[0]]
    return {
        'loss0': loss0.item(), 'loss_u0': loss_u0.item(), 'loss_f0': loss_f0.item(),
        'grad_norm0': grad_norm0,
        'adam_losses': adam_losses[::5] + [adam_losses[-1]],
        'lbfgs_func_evals': state['func_evals'], 'lbfgs_n_iter': state['n_iter'],
        'closure_calls': n_evals[0],
        'final_loss': final_loss.item(), 'final_loss_u': final_u.item(), 'final_loss_f': final_f.item(),
        'u_star': u_star.tolist(),
    }


if __name__ == '__main__':
    print(main())
