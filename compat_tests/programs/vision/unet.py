"""A UNet for binary segmentation (after milesial/Pytorch-UNet): DoubleConv blocks, MaxPool down,
ConvTranspose2d or bilinear F.interpolate up, torch.cat skip connections with F.pad size fix,
BCEWithLogits + soft Dice loss, Adam + CosineAnnealingLR, clip_grad_norm_, GroupNorm variant."""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class DoubleConv(nn.Module):
    """(convolution => [BN] => ReLU) * 2"""

    def __init__(self, in_channels, out_channels, mid_channels=None, norm='bn'):
        super().__init__()
        if not mid_channels:
            mid_channels = out_channels

        def norm_layer(c):
            return nn.BatchNorm2d(c) if norm == 'bn' else nn.GroupNorm(4, c)

        self.double_conv = nn.Sequential(
            nn.Conv2d(in_channels, mid_channels, kernel_size=3, padding=1, bias=False),
            norm_layer(mid_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid_channels, out_channels, kernel_size=3, padding=1, bias=False),
            norm_layer(out_channels),
            nn.ReLU(inplace=True)
        )

    def forward(self, x):
        return self.double_conv(x)


class Down(nn.Module):
    """Downscaling with maxpool then double conv"""

    def __init__(self, in_channels, out_channels, norm='bn'):
        super().__init__()
        self.maxpool_conv = nn.Sequential(
            nn.MaxPool2d(2),
            DoubleConv(in_channels, out_channels, norm=norm)
        )

    def forward(self, x):
        return self.maxpool_conv(x)


class Up(nn.Module):
    """Upscaling then double conv"""

    def __init__(self, in_channels, out_channels, bilinear=True, norm='bn'):
        super().__init__()
        self.bilinear = bilinear
        # if bilinear, use the normal convolutions to reduce the number of channels
        if bilinear:
            self.conv = DoubleConv(in_channels, out_channels, in_channels // 2, norm=norm)
        else:
            self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
            self.conv = DoubleConv(in_channels, out_channels, norm=norm)

    def forward(self, x1, x2):
        if self.bilinear:
            x1 = F.interpolate(x1, scale_factor=2, mode='bilinear', align_corners=True)
        else:
            x1 = self.up(x1)
        # input is CHW
        diffY = x2.size()[2] - x1.size()[2]
        diffX = x2.size()[3] - x1.size()[3]

        x1 = F.pad(x1, [diffX // 2, diffX - diffX // 2,
                        diffY // 2, diffY - diffY // 2])
        x = torch.cat([x2, x1], dim=1)
        return self.conv(x)


class OutConv(nn.Module):
    def __init__(self, in_channels, out_channels):
        super(OutConv, self).__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1)

    def forward(self, x):
        return self.conv(x)


class UNet(nn.Module):
    def __init__(self, n_channels, n_classes, base=8, bilinear=False, norm='bn'):
        super(UNet, self).__init__()
        self.n_channels = n_channels
        self.n_classes = n_classes
        self.bilinear = bilinear

        self.inc = DoubleConv(n_channels, base, norm=norm)
        self.down1 = Down(base, base * 2, norm=norm)
        self.down2 = Down(base * 2, base * 4, norm=norm)
        factor = 2 if bilinear else 1
        self.down3 = Down(base * 4, base * 8 // factor, norm=norm)
        self.up1 = Up(base * 8, base * 4 // factor, bilinear, norm=norm)
        self.up2 = Up(base * 4, base * 2 // factor, bilinear, norm=norm)
        self.up3 = Up(base * 2, base, bilinear, norm=norm)
        self.outc = OutConv(base, n_classes)

    def forward(self, x):
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x4 = self.down3(x3)
        x = self.up1(x4, x3)
        x = self.up2(x, x2)
        x = self.up3(x, x1)
        logits = self.outc(x)
        return logits


def dice_coeff(input, target, reduce_batch_first=False, epsilon=1e-6):
    # Average of Dice coefficient for all batches, or for a single mask
    assert input.size() == target.size()
    assert input.dim() == 3 or not reduce_batch_first

    sum_dim = (-1, -2) if input.dim() == 2 or not reduce_batch_first else (-1, -2, -3)

    inter = 2 * (input * target).sum(dim=sum_dim)
    sets_sum = input.sum(dim=sum_dim) + target.sum(dim=sum_dim)
    sets_sum = torch.where(sets_sum == 0, inter, sets_sum)

    dice = (inter + epsilon) / (sets_sum + epsilon)
    return dice.mean()


def dice_loss(input, target):
    return 1 - dice_coeff(input, target, reduce_batch_first=True)


def make_data(n, size, rng):
    """Noisy images of filled circles; the mask is the circle."""
    yy, xx = np.mgrid[:size, :size]
    imgs = np.zeros((n, 1, size, size), np.float32)
    masks = np.zeros((n, size, size), np.float32)
    for i in range(n):
        cy, cx = rng.uniform(size * 0.3, size * 0.7, 2)
        r = rng.uniform(size * 0.15, size * 0.3)
        m = ((yy - cy) ** 2 + (xx - cx) ** 2) < r ** 2
        masks[i] = m
        imgs[i, 0] = m * 1.0 + rng.randn(size, size) * 0.3
    return imgs, masks


def train(model, args, x, y, tag):
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=1e-8)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.steps, eta_min=1e-5)
    criterion = nn.BCEWithLogitsLoss()
    losses, norms = [], []
    model.train()
    for step in range(args.steps):
        i = (step * args.batch_size) % x.shape[0]
        images = x[i:i + args.batch_size]
        true_masks = y[i:i + args.batch_size]
        masks_pred = model(images)
        loss = criterion(masks_pred.squeeze(1), true_masks.float())
        loss += dice_loss(torch.sigmoid(masks_pred.squeeze(1)), true_masks.float())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)))
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
    print(f'[{tag}] losses', ['%.4f' % l for l in losses])
    return losses, norms


@torch.no_grad()
def evaluate(net, x, y):
    net.eval()
    pred = net(x)
    mask_pred = (torch.sigmoid(pred) > 0.5).float()
    dice = dice_coeff(mask_pred.squeeze(1), y, reduce_batch_first=False).item()
    net.train()
    return dice, torch.sigmoid(pred).mean().item()


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--steps', type=int, default=4)
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--lr', type=float, default=2e-3)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(42)

    rng = np.random.RandomState(1)
    x_np, y_np = make_data(12, 20, rng)  # 20 is not a power of two: exercises the F.pad size fix
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)

    models = {
        'transposed_bn': UNet(1, 1, bilinear=False, norm='bn'),
        'bilinear_gn': UNet(1, 1, bilinear=True, norm='gn'),
    }
    if args.init_state:
        if os.path.exists(args.init_state):
            states = torch.load(args.init_state)
            for k, m in models.items():
                m.load_state_dict(states[k])
        else:
            torch.save({k: m.state_dict() for k, m in models.items()}, args.init_state)

    out = {}
    for name, model in models.items():
        losses, norms = train(model, args, x, y, name)
        dice, mean_prob = evaluate(model, x, y)
        out[name] = {'losses': losses, 'grad_norms': norms, 'dice': dice, 'mean_prob': mean_prob,
                     'out_shape': list(model(x[:2]).shape)}
    return out


if __name__ == '__main__':
    print(main())
