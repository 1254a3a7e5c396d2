"""A neural ODE in the style of torchdiffeq's examples/ode_demo.py, without the library: a fixed-step
RK4 integrator (odeint) written with torch ops, an ODEFunc MLP trained to fit a spiral trajectory
with RMSprop on random time-batches, plus a hand-written torch.autograd.Function (a smooth
"softplus-cubed" activation with ctx.save_for_backward and a custom backward) verified with
torch.autograd.gradcheck / gradgradcheck on float64 inputs, and a double-precision adjoint check:
the gradient of the final state w.r.t. the initial state through RK4 against finite differences."""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim


class SoftCube(torch.autograd.Function):
    """y = softplus(x) ** 3 with a hand-derived gradient, saved tensors and a non-tensor arg."""

    @staticmethod
    def forward(ctx, x, beta=1.0):
        sp = torch.nn.functional.softplus(x, beta=beta)
        ctx.save_for_backward(x)
        ctx.beta = beta
        return sp ** 3

    @staticmethod
    def backward(ctx, grad_output):
        x, = ctx.saved_tensors
        # recomputed here (not saved from forward) so that double backward sees its dependence on x
        sp = torch.nn.functional.softplus(x, beta=ctx.beta)
        dsp = torch.sigmoid(ctx.beta * x)
        return grad_output * 3 * sp ** 2 * dsp, None


def soft_cube(x, beta=1.0):
    return SoftCube.apply(x, beta)


def rk4_step(func, t, dt, y):
    k1 = func(t, y)
    k2 = func(t + dt / 2, y + dt * k1 / 2)
    k3 = func(t + dt / 2, y + dt * k2 / 2)
    k4 = func(t + dt, y + dt * k3)
    return y + dt * (k1 + 2 * k2 + 2 * k3 + k4) / 6


def odeint(func, y0, t, substeps=2):
    """Fixed-step RK4 returning the solution at every time in t (shape [len(t), *y0.shape])."""
    solution = [y0]
    y = y0
    for t0, t1 in zip(t[:-1], t[1:]):
        dt = (t1 - t0) / substeps
        for s in range(substeps):
            y = rk4_step(func, t0 + s * dt, dt, y)
        solution.append(y)
    return torch.stack(solution)


class Lambda(nn.Module):
    def __init__(self, A):
        super().__init__()
        self.register_buffer('A', A)

    def forward(self, t, y):
        return torch.mm(y ** 3, self.A)


class ODEFunc(nn.Module):
    def __init__(self):
        super(ODEFunc, self).__init__()
        self.net = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 2))
        for m in self.net.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, mean=0, std=0.1)
                nn.init.constant_(m.bias, val=0)
        self.nfe = 0

    def forward(self, t, y):
        self.nfe += 1
        return self.net(y ** 3)


def get_batch(true_y, t, rng, batch_time=6, batch_size=8):
    s = torch.from_numpy(rng.choice(np.arange(len(t) - batch_time, dtype=np.int64), batch_size, replace=False))
    batch_y0 = true_y[s]  # (M, D)
    batch_t = t[:batch_time]  # (T)
    batch_y = torch.stack([true_y[s + i] for i in range(batch_time)], dim=0)  # (T, M, D)
    return batch_y0, batch_t, batch_y


def main(argv=None):
    parser = argparse.ArgumentParser('ODE demo')
    parser.add_argument('--data_size', type=int, default=40)
    parser.add_argument('--niters', type=int, default=25)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)

    true_y0 = torch.tensor([[2., 0.]])
    t = torch.linspace(0., 2., args.data_size)
    true_A = torch.tensor([[-0.1, 2.0], [-2.0, -0.1]])
    with torch.no_grad():
        true_y = odeint(Lambda(true_A), true_y0, t, substeps=4)

    func = ODEFunc()
    if args.init_state:
        if os.path.exists(args.init_state):
            func.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(func.state_dict(), args.init_state)
    optimizer = optim.RMSprop(func.parameters(), lr=1e-3)

    losses = []
    for itr in range(1, args.niters + 1):
        optimizer.zero_grad()
        batch_y0, batch_t, batch_y = get_batch(true_y, t, rng)
        pred_y = odeint(func, batch_y0, batch_t)
        loss = torch.mean(torch.abs(pred_y - batch_y))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        pred_y = odeint(func, true_y0, t)
        total_loss = torch.mean(torch.abs(pred_y - true_y)).item()

    # custom Function: gradcheck / gradgradcheck in double precision
    x = torch.from_numpy(rng.randn(4, 3)).requires_grad_()
    ok_grad = torch.autograd.gradcheck(soft_cube, (x, 0.7), eps=1e-6, atol=1e-4)
    y = soft_cube(x, 0.7)
    g, = torch.autograd.grad(y.sum(), x)
    # the backward is built from differentiable ops, so double backward works as well
    ok_gradgrad = torch.autograd.gradgradcheck(lambda a: soft_cube(a, 0.7), (x,), eps=1e-6, atol=1e-4)

    # sensitivity of the RK4 solution to the initial state, float64, vs central differences
    A64 = true_A.double()
    f64 = Lambda(A64)
    y0 = torch.tensor([[1.0, 0.5]], dtype=torch.float64, requires_grad=True)
    t64 = torch.linspace(0., 1., 6, dtype=torch.float64)
    yT = odeint(f64, y0, t64)[-1]
    jac = torch.stack([torch.autograd.grad(yT[0, i], y0, retain_graph=True)[0][0] for i in range(2)])
    fd = torch.zeros(2, 2, dtype=torch.float64)
    h = 1e-6
    with torch.no_grad():
        for j in range(2):
            e = torch.zeros(1, 2, dtype=torch.float64)
            e[0, j] = h
            fd[:, j] = (odeint(f64, y0 + e, t64)[-1][0] - odeint(f64, y0 - e, t64)[-1][0]) / (2 * h)
    jac_err = (jac - fd).abs().max().item()
    assert jac_err < 1e-6, jac_err

    return {
        'true_y_end': true_y[-1, 0].tolist(),
        'losses': losses[::4] + [losses[-1]],
        'total_loss': total_loss,
        'nfe': func.nfe,
        'gradcheck': bool(ok_grad), 'gradgradcheck': bool(ok_gradgrad),
        'softcube': y.sum().item(), 'softcube_grad': g.sum().item(),
        'softcube_dtype': str(y.dtype),
        'jacobian': jac.flatten().tolist(),
    }


if __name__ == '__main__':
    print(main())
