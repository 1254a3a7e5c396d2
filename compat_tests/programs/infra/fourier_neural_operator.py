"""Fourier Neural Operator (after neuraloperator / zongyi-li's fourier_1d.py and fourier_2d.py):
spectral convolution layers with complex-valued nn.Parameters (torch.cfloat, scale * torch.rand),
torch.fft.rfft / irfft and rfft2 / irfft2 with n= / s=, einsum over complex tensors, mode
truncation by slicing into a zeros(..., dtype=torch.cfloat) buffer, grid features appended with
torch.linspace + repeat, relative L2 loss, Adam with complex parameters and a StepLR schedule."""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class SpectralConv1d(nn.Module):
    def __init__(self, in_channels, out_channels, modes1):
        super().__init__()
        self.in_channels, self.out_channels, self.modes1 = in_channels, out_channels, modes1
        self.scale = 1 / (in_channels * out_channels)
        self.weights1 = nn.Parameter(self.scale * torch.rand(in_channels, out_channels, self.modes1, dtype=torch.cfloat))

    def compl_mul1d(self, input, weights):
        return torch.einsum("bix,iox->box", input, weights)

    def forward(self, x):
        batchsize = x.shape[0]
        x_ft = torch.fft.rfft(x)
        out_ft = torch.zeros(batchsize, self.out_channels, x.size(-1) // 2 + 1, device=x.device, dtype=torch.cfloat)
        out_ft[:, :, :self.modes1] = self.compl_mul1d(x_ft[:, :, :self.modes1], self.weights1)
        return torch.fft.irfft(out_ft, n=x.size(-1))


class SpectralConv2d(nn.Module):
    def __init__(self, in_channels, out_channels, modes1, modes2):
        super().__init__()
        self.out_channels, self.modes1, self.modes2 = out_channels, modes1, modes2
        self.scale = 1 / (in_channels * out_channels)
        self.weights1 = nn.Parameter(self.scale * torch.rand(in_channels, out_channels, modes1, modes2, dtype=torch.cfloat))
        self.weights2 = nn.Parameter(self.scale * torch.rand(in_channels, out_channels, modes1, modes2, dtype=torch.cfloat))

    def compl_mul2d(self, input, weights):
        return torch.einsum("bixy,ioxy->boxy", input, weights)

    def forward(self, x):
        batchsize = x.shape[0]
        x_ft = torch.fft.rfft2(x)
        out_ft = torch.zeros(batchsize, self.out_channels, x.size(-2), x.size(-1) // 2 + 1, dtype=torch.cfloat)
        out_ft[:, :, :self.modes1, :self.modes2] = self.compl_mul2d(x_ft[:, :, :self.modes1, :self.modes2], self.weights1)
        out_ft[:, :, -self.modes1:, :self.modes2] = self.compl_mul2d(x_ft[:, :, -self.modes1:, :self.modes2], self.weights2)
        return torch.fft.irfft2(out_ft, s=(x.size(-2), x.size(-1)))


class FNO1d(nn.Module):
    def __init__(self, modes, width):
        super().__init__()
        self.fc0 = nn.Linear(2, width)
        self.convs = nn.ModuleList([SpectralConv1d(width, width, modes) for _ in range(3)])
        self.ws = nn.ModuleList([nn.Conv1d(width, width, 1) for _ in range(3)])
        self.fc1 = nn.Linear(width, 32)
        self.fc2 = nn.Linear(32, 1)

    def get_grid(self, shape, device):
        batchsize, size_x = shape[0], shape[1]
        gridx = torch.tensor(np.linspace(0, 1, size_x), dtype=torch.float)
        return gridx.reshape(1, size_x, 1).repeat([batchsize, 1, 1]).to(device)

    def forward(self, x):
        grid = self.get_grid(x.shape, x.device)
        x = torch.cat((x, grid), dim=-1)
        x = self.fc0(x).permute(0, 2, 1)
        for i, (conv, w) in enumerate(zip(self.convs, self.ws)):
            x = conv(x) + w(x)
            if i < len(self.convs) - 1:
                x = F.gelu(x)
        x = x.permute(0, 2, 1)
        return self.fc2(F.gelu(self.fc1(x)))


class FNO2dBlock(nn.Module):
    def __init__(self, modes, width):
        super().__init__()
        self.lift = nn.Conv2d(3, width, 1)
        self.spec = SpectralConv2d(width, width, modes, modes)
        self.w = nn.Conv2d(width, width, 1)
        self.proj = nn.Conv2d(width, 1, 1)

    def forward(self, u):
        b, _, h, w = u.shape
        gx, gy = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing='ij')
        grid = torch.stack([gx, gy]).unsqueeze(0).expand(b, -1, -1, -1)
        x = self.lift(torch.cat([u, grid], dim=1))
        x = F.gelu(self.spec(x) + self.w(x))
        return self.proj(x)


class LpLoss:
    """Relative L2 error, as in the FNO utilities."""

    def __init__(self, p=2, size_average=True):
        self.p, self.size_average = p, size_average

    def __call__(self, x, y):
        num_examples = x.size()[0]
        diff_norms = torch.norm(x.reshape(num_examples, -1) - y.reshape(num_examples, -1), self.p, 1)
        y_norms = torch.norm(y.reshape(num_examples, -1), self.p, 1)
        rel = diff_norms / y_norms
        return torch.mean(rel) if self.size_average else torch.sum(rel)


def burgers_like(rng, n, s):
    """Input: random smooth functions; target: a fixed nonlinear spectral operator applied to them."""
    k = np.fft.rfftfreq(s, d=1.0 / s)
    a = np.zeros((n, s))
    for i in range(n):
        coef = rng.normal(size=len(k)) + 1j * rng.normal(size=len(k))
        coef *= np.exp(-0.3 * k)
        a[i] = np.fft.irfft(coef, n=s)
    u = np.fft.irfft(np.fft.rfft(a) * np.exp(-0.02 * k ** 2), n=s) + 0.3 * a ** 2
    return a.astype(np.float32)[..., None], u.astype(np.float32)[..., None]


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--init-state', default=None)
    parser.add_argument('--epochs', type=int, default=4)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)

    model = FNO1d(modes=8, width=16)
    model2d = FNO2dBlock(modes=4, width=8)
    if args.init_state:
        if os.path.exists(args.init_state):
            st = torch.load(args.init_state)
            model.load_state_dict(st['1d'])
            model2d.load_state_dict(st['2d'])
        else:
            torch.save({'1d': model.state_dict(), '2d': model2d.state_dict()}, args.init_state)
    complex_params = [n for n, p in model.named_parameters() if p.is_complex()]

    x, y = burgers_like(rng, 20, 32)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    myloss = LpLoss(size_average=False)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    train_l2 = []
    for ep in range(args.epochs):
        model.train()
        total = 0.0
        for i in range(0, 20, 5):
            xb, yb = x[i:i + 5], y[i:i + 5]
            optimizer.zero_grad()
            out = model(xb)
            mse = F.mse_loss(out.view(5, -1), yb.view(5, -1), reduction='mean')
            l2 = myloss(out.view(5, -1), yb.view(5, -1))
            l2.backward()
            optimizer.step()
            total += l2.item()
        scheduler.step()
        train_l2.append(total / 20)
    w = model.convs[0].weights1
    grad_c = w.grad
    # 2-D operator: one step and gradients of the complex weights
    u = torch.from_numpy(rng.normal(size=(2, 1, 12, 12)).astype(np.float32))
    out2 = model2d(u)
    loss2 = out2.pow(2).mean()
    loss2.backward()
    g1 = model2d.spec.weights1.grad
    # the spectral layer is linear: SpectralConv(a + b) == SpectralConv(a) + SpectralConv(b)
    with torch.no_grad():
        a = torch.from_numpy(rng.normal(size=(2, 16, 32)).astype(np.float32))
        b = torch.from_numpy(rng.normal(size=(2, 16, 32)).astype(np.float32))
        conv = model.convs[1]
        lin_err = (conv(a + b) - conv(a) - conv(b)).abs().max().item()
    return {
        'complex_params': complex_params,
        'train_l2': train_l2, 'mse_last': mse.item(),
        'w_abs_sum': w.detach().abs().sum().item(), 'w_angle_mean': w.detach().angle().mean().item(),
        'grad_c': [grad_c.real.sum().item(), grad_c.imag.sum().item(), grad_c.abs().sum().item()],
        'out2': [list(out2.shape), out2.sum().item(), loss2.item()],
        'g2d': [g1.real.norm().item(), g1.imag.norm().item()],
        'lin_err_small': lin_err < 1e-5,
        'adam_state_dtype': str(optimizer.state[w]['exp_avg_sq'].dtype),
    }


if __name__ == '__main__':
    print(main())
