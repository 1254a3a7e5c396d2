"""Reservoir computing on the Lorenz-63 system (an echo state network as in the many "ESN in
PyTorch" repositories): the reservoir matrix is rescaled to a target spectral radius with
torch.linalg.eigvals(...).abs().max(), the input and reservoir weights are registered buffers, the
states are collected with a leaky-tanh update in a Python loop under torch.no_grad(), the readout
is fitted by ridge regression (torch.linalg.solve on X^T X + beta I, cross-checked with
torch.linalg.lstsq on an augmented system), then the trained ESN runs closed-loop (autonomous
prediction, feeding back its own output) and reports the valid prediction time. A gradient-based
readout fine-tune (nn.Linear initialised from the ridge solution, Adam on multi-step rollouts with
truncated backprop through detach()) follows. Lorenz data from a numpy RK4 integrator."""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn


def lorenz(n, dt=0.02, rng=None):
    def f(s):
        x, y, z = s
        return np.array([10.0 * (y - x), x * (28.0 - z) - y, x * y - 8.0 / 3.0 * z])
    s = np.array([1.0, 1.0, 1.0]) + (0 if rng is None else 0.01 * rng.randn(3))
    out = []
    for _ in range(n + 200):
        k1 = f(s); k2 = f(s + dt / 2 * k1); k3 = f(s + dt / 2 * k2); k4 = f(s + dt * k3)
        s = s + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        out.append(s)
    return np.array(out[200:])


class ESN(nn.Module):
    def __init__(self, n_in, n_res, rng, spectral_radius=0.9, density=0.1, leak=0.5, input_scale=0.1):
        super().__init__()
        W = rng.uniform(-1, 1, (n_res, n_res)) * (rng.rand(n_res, n_res) < density)
        W = torch.from_numpy(W)
        radius = torch.linalg.eigvals(W).abs().max()
        self.register_buffer('W', W * (spectral_radius / radius))
        self.register_buffer('W_in', torch.from_numpy(rng.uniform(-input_scale, input_scale, (n_res, n_in + 1))))
        self.leak = leak

    def step(self, h, u):
        pre = self.W @ h + self.W_in @ torch.cat([torch.ones(1, dtype=u.dtype), u])
        return (1 - self.leak) * h + self.leak * torch.tanh(pre)

    @torch.no_grad()
    def collect(self, inputs, h0=None):
        h = torch.zeros(self.W.shape[0], dtype=inputs.dtype) if h0 is None else h0
        states = []
        for u in inputs:
            h = self.step(h, u)
            states.append(h)
        return torch.stack(states), h


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--n-res', type=int, default=200)
    parser.add_argument('--ft-steps', type=int, default=6)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)
    data = lorenz(1400)
    mean, std = data.mean(0), data.std(0)
    data = torch.from_numpy((data - mean) / std)
    train, test = data[:1000], data[1000:]

    esn = ESN(3, args.n_res, rng).double()
    radius = torch.linalg.eigvals(esn.W).abs().max().item()
    washout = 100
    states, h_last = esn.collect(train[:-1])
    X = torch.cat([torch.ones(len(states), 1, dtype=torch.float64), states], 1)[washout:]
    Y = train[1:][washout:]
    beta = 1e-6
    A = X.T @ X + beta * torch.eye(X.shape[1], dtype=torch.float64)
    W_out = torch.linalg.solve(A, X.T @ Y)                   # [1 + n_res, 3]
    X_aug = torch.cat([X, (beta ** 0.5) * torch.eye(X.shape[1], dtype=torch.float64)])
    Y_aug = torch.cat([Y, torch.zeros(X.shape[1], 3, dtype=torch.float64)])
    W_lstsq = torch.linalg.lstsq(X_aug, Y_aug).solution
    train_rmse = (X @ W_out - Y).pow(2).mean().sqrt().item()

    # closed loop from the end of training
    with torch.no_grad():
        h = h_last
        u = train[-1]
        preds = []
        for t in range(150):
            h = esn.step(h, u)
            u = torch.cat([torch.ones(1, dtype=h.dtype), h]) @ W_out
            preds.append(u)
        preds = torch.stack(preds)
    err = (preds - test[:150]).norm(dim=1) / test[:150].norm(dim=1).mean()
    valid_steps = int((err < 0.4).long().cumprod(0).sum().item())

    # gradient fine-tuning of the readout on 10-step open/closed-loop rollouts (float64)
    readout = nn.Linear(args.n_res, 3).double()
    with torch.no_grad():
        readout.bias.copy_(W_out[0])
        readout.weight.copy_(W_out[1:].T)
    if args.init_state:
        if os.path.exists(args.init_state):
            readout.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(readout.state_dict(), args.init_state)
    opt = torch.optim.Adam(readout.parameters(), lr=1e-5)
    ft_losses = []
    starts = rng.randint(washout, 900, args.ft_steps)
    for s in starts:
        h = states[s].detach()
        u = train[s + 1]
        loss = 0
        for k in range(10):
            h = esn.step(h, u)
            u = readout(h)
            loss = loss + (u - train[s + 2 + k]).pow(2).mean()
            if k == 4:
                h = h.detach()         # truncated BPTT
        opt.zero_grad()
        (loss / 10).backward()
        opt.step()
        ft_losses.append(loss.item() / 10)
    return {
        'radius': radius, 'train_rmse': train_rmse,
        'ridge_vs_lstsq_small': (W_out - W_lstsq).abs().max().item() < 1e-4,
        'W_out_norm': W_out.norm().item(), 'preds': preds[:20:5].flatten().tolist(),
        'valid_steps': valid_steps, 'ft_losses': ft_losses,
    }


if __name__ == '__main__':
    print(main())
