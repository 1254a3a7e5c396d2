"""Growing Neural Cellular Automata (Mordvintsev et al., after the PyTorch ports of the Distill
notebook): 16-channel cell states, perception by a depthwise F.conv2d with identity / Sobel-x /
Sobel-y kernels (groups=channels, circular F.pad), a 1x1-conv update network whose last layer is
zero-initialised, stochastic cell updates with a fire-rate mask and the "alive" mask from
F.max_pool2d over the alpha channel, a sample pool, gradient normalisation per parameter
(p.grad / (p.grad.norm() + 1e-8)) and Adam with a MultiStepLR schedule. The update masks and
pool indices come from numpy so the rollout is deterministic."""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

CHANNEL_N = 16
CELL_FIRE_RATE = 0.5


class CAModel(nn.Module):
    def __init__(self, channel_n=CHANNEL_N, fire_rate=CELL_FIRE_RATE, hidden_size=64):
        super(CAModel, self).__init__()
        self.channel_n = channel_n
        self.fc0 = nn.Conv2d(channel_n * 3, hidden_size, 1)
        self.fc1 = nn.Conv2d(hidden_size, channel_n, 1, bias=False)
        with torch.no_grad():
            self.fc1.weight.zero_()
        self.fire_rate = fire_rate
        ident = torch.tensor([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
        sobel_x = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8.0
        kernel = torch.stack([ident, sobel_x, sobel_x.T])              # [3, 3, 3]
        kernel = kernel.repeat(channel_n, 1, 1).unsqueeze(1)         # [3C, 1, 3, 3]
        self.register_buffer('kernel', kernel)

    def alive(self, x):
        return F.max_pool2d(x[:, 3:4, :, :], kernel_size=3, stride=1, padding=1) > 0.1

    def perceive(self, x):
        x = F.pad(x, (1, 1, 1, 1), mode='circular')
        return F.conv2d(x, self.kernel, groups=self.channel_n)

    def update(self, x, fire_mask):
        pre_life_mask = self.alive(x)
        dx = self.fc1(F.relu(self.fc0(self.perceive(x))))
        x = x + dx * fire_mask
        post_life_mask = self.alive(x)
        life_mask = (pre_life_mask & post_life_mask).float()
        return x * life_mask

    def forward(self, x, fire_masks):
        for mask in fire_masks:
            x = self.update(x, mask)
        return x


def make_target(size=16):
    yy, xx = np.mgrid[:size, :size]
    r = np.sqrt((xx - size / 2 + 0.5) ** 2 + (yy - size / 2 + 0.5) ** 2)
    img = np.zeros((4, size, size), np.float32)
    ring = (r < 6).astype(np.float32)
    img[0] = ring * (xx / size)
    img[1] = ring * (yy / size)
    img[2] = ring * 0.5
    img[3] = ring
    img[:3] *= img[3]
    return torch.from_numpy(img)


def make_seed(size, n):
    x = torch.zeros(n, CHANNEL_N, size, size)
    x[:, 3:, size // 2, size // 2] = 1.0
    return x


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--steps', type=int, default=10)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)
    size, batch, rollout = 16, 4, 12
    target = make_target(size).unsqueeze(0).repeat(batch, 1, 1, 1)

    ca = CAModel()
    if args.init_state:
        if os.path.exists(args.init_state):
            ca.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(ca.state_dict(), args.init_state)
    optimizer = torch.optim.Adam(ca.parameters(), lr=2e-3, betas=(0.5, 0.5))
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[5, 8], gamma=0.3)
    pool = make_seed(size, 16)

    def masks(n):
        return [torch.from_numpy((rng.rand(batch, 1, size, size) <= CELL_FIRE_RATE).astype(np.float32))
                for _ in range(n)]

    losses = []
    for step in range(args.steps):
        idx = torch.from_numpy(rng.choice(len(pool), batch, replace=False))
        x0 = pool[idx]
        # replace the worst sample with the seed (as in the pool training recipe)
        with torch.no_grad():
            worst = F.mse_loss(x0[:, :4], target, reduction='none').mean(dim=(1, 2, 3)).argmax()
        x0[worst] = make_seed(size, 1)[0]
        x = ca(x0, masks(rollout))
        loss = F.mse_loss(x[:, :4], target)
        optimizer.zero_grad()
        loss.backward()
        for p in ca.parameters():
            p.grad.data = p.grad.data / (p.grad.data.norm() + 1e-8)
        optimizer.step()
        scheduler.step()
        pool[idx] = x.detach()
        losses.append(loss.item())

    with torch.no_grad():
        out = ca(make_seed(size, batch), masks(20))
        alive_frac = ca.alive(out).float().mean().item()
    return {
        'kernel_sum': ca.kernel.sum().item(), 'losses': losses,
        'lr': scheduler.get_last_lr()[0],
        'alive_frac': alive_frac, 'out_rgba_mean': out[:, :4].mean(dim=(0, 2, 3)).tolist(),
        'fc1_norm': ca.fc1.weight.norm().item(), 'pool_mean': pool.mean().item(),
    }


if __name__ == '__main__':
    print(main())
