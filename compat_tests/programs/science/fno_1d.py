"""A 1-D Fourier Neural Operator (after neuraloperator's fourier_1d.py by Zongyi Li): SpectralConv1d
keeps complex-valued weights (nn.Parameter of dtype torch.cfloat), transforms with torch.fft.rfft,
multiplies the lowest modes with torch.einsum("bix,iox->box") in complex arithmetic and goes back
with torch.fft.irfft(n=...). The operator learns the solution map of a viscous-Burgers-like
smoothing problem whose training pairs come from a numpy spectral solver; Adam with
CosineAnnealingLR, a relative L2 loss (LpLoss) and gradient clipping as in the original scripts."""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class SpectralConv1d(nn.Module):
    def __init__(self, in_channels, out_channels, modes1):
        super(SpectralConv1d, self).__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.modes1 = modes1
        self.scale = (1 / (in_channels * out_channels))
        self.weights1 = nn.Parameter(self.scale * torch.rand(in_channels, out_channels, self.modes1, dtype=torch.cfloat))

    # Complex multiplication
    def compl_mul1d(self, input, weights):
        # (batch, in_channel, x ), (in_channel, out_channel, x) -> (batch, out_channel, x)
        return torch.einsum("bix,iox->box", input, weights)

    def forward(self, x):
        batchsize = x.shape[0]
        x_ft = torch.fft.rfft(x)
        out_ft = torch.zeros(batchsize, self.out_channels, x.size(-1) // 2 + 1, device=x.device, dtype=torch.cfloat)
        out_ft[:, :, :self.modes1] = self.compl_mul1d(x_ft[:, :, :self.modes1], self.weights1)
        x = torch.fft.irfft(out_ft, n=x.size(-1))
        return x


class FNO1d(nn.Module):
    def __init__(self, modes, width):
        super(FNO1d, self).__init__()
        self.modes1 = modes
        self.width = width
        self.padding = 2
        self.fc0 = nn.Linear(2, self.width)  # input channel is 2: (a(x), x)
        self.conv0 = SpectralConv1d(self.width, self.width, self.modes1)
        self.conv1 = SpectralConv1d(self.width, self.width, self.modes1)
        self.w0 = nn.Conv1d(self.width, self.width, 1)
        self.w1 = nn.Conv1d(self.width, self.width, 1)
        self.fc1 = nn.Linear(self.width, 32)
        self.fc2 = nn.Linear(32, 1)

    def forward(self, x):
        grid = self.get_grid(x.shape, x.device)
        x = torch.cat((x, grid), dim=-1)
        x = self.fc0(x)
        x = x.permute(0, 2, 1)
        x = F.pad(x, [0, self.padding])  # pad the domain if input is non-periodic
        x1 = self.conv0(x)
        x2 = self.w0(x)
        x = F.gelu(x1 + x2)
        x1 = self.conv1(x)
        x2 = self.w1(x)
        x = x1 + x2
        x = x[..., :-self.padding]
        x = x.permute(0, 2, 1)
        x = F.gelu(self.fc1(x))
        return self.fc2(x)

    def get_grid(self, shape, device):
        batchsize, size_x = shape[0], shape[1]
        gridx = torch.tensor(np.linspace(0, 1, size_x), dtype=torch.float)
        gridx = gridx.reshape(1, size_x, 1).repeat([batchsize, 1, 1])
        return gridx.to(device)


class LpLoss(object):
    def __init__(self, d=2, p=2, size_average=True, reduction=True):
        self.d, self.p = d, p
        self.reduction, self.size_average = reduction, size_average

    def rel(self, x, y):
        num_examples = x.size()[0]
        diff_norms = torch.norm(x.reshape(num_examples, -1) - y.reshape(num_examples, -1), self.p, 1)
        y_norms = torch.norm(y.reshape(num_examples, -1), self.p, 1)
        if self.reduction:
            if self.size_average:
                return torch.mean(diff_norms / y_norms)
            return torch.sum(diff_norms / y_norms)
        return diff_norms / y_norms

    def __call__(self, x, y):
        return self.rel(x, y)


def make_data(rng, n, s=32, nu=0.05, t=0.3):
    """Random smooth periodic initial conditions, evolved by the linear heat semigroup plus a
    pointwise nonlinearity (solved exactly in Fourier space with numpy)."""
    k = np.fft.rfftfreq(s, d=1.0 / s)
    coef = rng.randn(n, 4) / np.arange(1, 5)
    x = np.linspace(0, 1, s, endpoint=False)
    a = sum(coef[:, j:j + 1] * np.sin(2 * np.pi * (j + 1) * x + j) for j in range(4))
    u = np.fft.irfft(np.fft.rfft(np.tanh(a), axis=-1) * np.exp(-nu * (2 * np.pi * k) ** 2 * t), n=s, axis=-1)
    return a[..., None].astype(np.float32), u[..., None].astype(np.float32)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--epochs', type=int, default=8)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    np.random.seed(0)
    rng = np.random.RandomState(0)
    x_train, y_train = map(torch.from_numpy, make_data(rng, 40))
    x_test, y_test = map(torch.from_numpy, make_data(rng, 10))

    model = FNO1d(modes=8, width=16)
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(model.state_dict(), args.init_state)
    n_params = sum(p.numel() for p in model.parameters())
    complex_params = [n for n, p in model.named_parameters() if p.is_complex()]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    myloss = LpLoss(size_average=False)

    # deterministic: first loss and complex weight gradient
    out0 = model(x_train[:10])
    l0 = myloss(out0.view(10, -1), y_train[:10].view(10, -1))
    l0.backward()
    g = model.conv0.weights1.grad
    grad0 = [g.real.norm().item(), g.imag.norm().item(), str(g.dtype)]
    optimizer.zero_grad()

    train_l2s, test_l2s = [], []
    for ep in range(args.epochs):
        model.train()
        train_l2 = 0
        for i in range(0, 40, 10):
            x, y = x_train[i:i + 10], y_train[i:i + 10]
            optimizer.zero_grad()
            out = model(x)
            l2 = myloss(out.view(10, -1), y.view(10, -1))
            l2.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            train_l2 += l2.item()
        scheduler.step()
        model.eval()
        with torch.no_grad():
            test_l2 = myloss(model(x_test).view(10, -1), y_test.view(10, -1)).item()
        train_l2s.append(train_l2 / 40)
        test_l2s.append(test_l2 / 10)
    with torch.no_grad():
        pred = model(x_test[:2]).squeeze(-1)
        spec = torch.fft.rfft(pred).abs()[:, :5]
    return {
        'n_params': n_params, 'complex_params': complex_params,
        'loss0': l0.item(), 'grad0': grad0,
        'train_l2': train_l2s, 'test_l2': test_l2s,
        'pred': pred[:, ::6].tolist(), 'spectrum': spec.tolist(),
        'weights1_abs_mean': model.conv1.weights1.abs().mean().item(),
    }


if __name__ == '__main__':
    print(main())
