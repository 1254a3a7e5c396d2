"""Image augmentation written directly on tensors (RandAugment / timm / "no torchvision" repos)
feeding a small CNN with MixUp and CutMix: uint8 image ops (posterize with bitwise_and,
solarize with where, equalize with histc + cumsum lookup via gather, autocontrast with amin/amax),
float ops (gaussian blur as a depthwise conv2d with groups, sharpness, brightness/contrast
blending, hue-free saturation via grayscale lerp), geometric ops (random affine through
affine_grid + grid_sample, flips, rot90, reflect padding + crop), MixUp/CutMix with numpy-drawn
lambdas and boxes, soft-target cross-entropy (probability targets and label smoothing), and
SGD with cosine warm restarts. All randomness is numpy's, so both runs see the same batches."""
import argparse
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def to_uint8(x):
    return (x.clamp(0, 1) * 255).round().to(torch.uint8)


def to_float(x):
    return x.to(torch.float32) / 255.0


def posterize(img_u8, bits):
    mask = ~(2 ** (8 - bits) - 1) & 0xFF
    return img_u8 & torch.tensor(mask, dtype=torch.uint8)


def solarize(img_u8, threshold):
    return torch.where(img_u8 >= threshold, 255 - img_u8, img_u8)


def equalize(img_u8):
    """Per-channel histogram equalisation (PIL's algorithm) with histc and a gathered lookup table."""
    out = []
    for c in img_u8:
        hist = torch.histc(c.float(), bins=256, min=0, max=255)
        nonzero = hist[hist > 0]
        step = torch.div(nonzero.sum() - nonzero[-1], 255, rounding_mode='floor')
        if step == 0:
            out.append(c)
            continue
        lut = torch.div(torch.cumsum(hist, 0) + torch.div(step, 2, rounding_mode='floor'), step,
                        rounding_mode='floor')
        lut = F.pad(lut, [1, 0])[:-1].clamp(0, 255)
        out.append(lut.gather(0, c.flatten().long()).reshape(c.shape).to(torch.uint8))
    return torch.stack(out)


def autocontrast(img):
    lo = img.amin(dim=(-2, -1), keepdim=True)
    hi = img.amax(dim=(-2, -1), keepdim=True)
    scale = torch.where(hi > lo, 1.0 / (hi - lo), torch.ones_like(hi))
    return ((img - lo) * scale).clamp(0, 1)


def gaussian_blur(img, sigma, k=5):
    x = torch.arange(k, dtype=torch.float32) - k // 2
    g = torch.exp(-x ** 2 / (2 * sigma ** 2))
    g = g / g.sum()
    kernel = (g[:, None] * g[None, :]).expand(img.shape[-3], 1, k, k)
    padded = F.pad(img.unsqueeze(0), [k // 2] * 4, mode='reflect')
    return F.conv2d(padded, kernel, groups=img.shape[-3]).squeeze(0)


def sharpness(img, factor):
    kernel = torch.tensor([[1, 1, 1], [1, 5, 1], [1, 1, 1]], dtype=torch.float32) / 13
    kernel = kernel.expand(img.shape[0], 1, 3, 3)
    blurred = F.conv2d(img.unsqueeze(0), kernel, padding=1, groups=img.shape[0]).squeeze(0)
    return torch.lerp(blurred, img, factor).clamp(0, 1)


def saturation(img, factor):
    gray = (0.2989 * img[0] + 0.587 * img[1] + 0.114 * img[2]).unsqueeze(0).expand_as(img)
    return torch.lerp(gray, img, factor).clamp(0, 1)


def random_affine(batch, rng, max_deg=15, max_shift=0.1, scale=(0.9, 1.1)):
    n = batch.shape[0]
    ang = np.deg2rad(rng.uniform(-max_deg, max_deg, n))
    s = rng.uniform(*scale, n)
    tx, ty = rng.uniform(-max_shift, max_shift, (2, n))
    theta = np.stack([np.stack([s * np.cos(ang), -s * np.sin(ang), tx], 1),
                      np.stack([s * np.sin(ang), s * np.cos(ang), ty], 1)], 1).astype(np.float32)
    grid = F.affine_grid(torch.from_numpy(theta), list(batch.shape), align_corners=False)
    return F.grid_sample(batch, grid, mode='bilinear', padding_mode='reflection', align_corners=False)


def rand_augment(img, rng):
    op = rng.randint(0, 8)
    if op == 0:
        return to_float(posterize(to_uint8(img), int(rng.randint(3, 7))))
    if op == 1:
        return to_float(solarize(to_uint8(img), int(rng.randint(128, 256))))
    if op == 2:
        return to_float(equalize(to_uint8(img)))
    if op == 3:
        return autocontrast(img)
    if op == 4:
        return gaussian_blur(img, float(rng.uniform(0.5, 1.5)))
    if op == 5:
        return sharpness(img, float(rng.uniform(0.1, 1.9)))
    if op == 6:
        return saturation(img, float(rng.uniform(0.0, 2.0)))
    return torch.rot90(img, int(rng.randint(1, 4)), dims=(1, 2))


def pad_crop_flip(batch, rng, pad=2):
    padded = F.pad(batch, [pad] * 4, mode='reflect')
    out = []
    for i in range(batch.shape[0]):
        y, x = rng.randint(0, 2 * pad + 1, 2)
        img = padded[i, :, y:y + batch.shape[2], x:x + batch.shape[3]]
        if rng.rand() < 0.5:
            img = img.flip(-1)
        out.append(img)
    return torch.stack(out)


def mixup_cutmix(x, y, num_classes, rng, alpha=0.4, smoothing=0.1):
    n = x.shape[0]
    perm = torch.from_numpy(rng.permutation(n))
    lam = float(rng.beta(alpha, alpha))
    off = smoothing / num_classes
    y1 = torch.full((n, num_classes), off).scatter_(1, y.unsqueeze(1), 1.0 - smoothing + off)
    if rng.rand() < 0.5:  # mixup
        x = lam * x + (1 - lam) * x[perm]
    else:  # cutmix
        H, W = x.shape[-2:]
        cut = math.sqrt(1 - lam)
        ch, cw = int(H * cut), int(W * cut)
        cy, cx = rng.randint(H), rng.randint(W)
        y0, y1b = np.clip(cy - ch // 2, 0, H), np.clip(cy + ch // 2, 0, H)
        x0, x1b = np.clip(cx - cw // 2, 0, W), np.clip(cx + cw // 2, 0, W)
        x = x.clone()
        x[:, :, y0:y1b, x0:x1b] = x[perm][:, :, y0:y1b, x0:x1b]
        lam = float(1 - (y1b - y0) * (x1b - x0) / (H * W))
    return x, lam * y1 + (1 - lam) * y1[perm], lam


class Net(nn.Module):
    def __init__(self, n_classes=3):
        super().__init__()
        self.f = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.GroupNorm(2, 8), nn.ReLU(), nn.MaxPool2d(2),
                               nn.Conv2d(8, 16, 3, padding=1), nn.GroupNorm(4, 16), nn.ReLU(),
                               nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, n_classes))

    def forward(self, x):
        return self.f(x)


def make_data(rng, n=24):
    x = rng.uniform(0, 0.3, size=(n, 3, 12, 12)).astype(np.float32)
    y = np.arange(n) % 3
    for i in range(n):
        x[i, y[i], 3:9, 3:9] += 0.6
    return torch.from_numpy(np.clip(x, 0, 1)), torch.from_numpy(y.astype(np.int64))


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--init-state', default=None)
    parser.add_argument('--epochs', type=int, default=3)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)
    x, y = make_data(rng)
    model = Net()
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(model.state_dict(), args.init_state)

    # every augmentation once on one image, for exact comparison
    img = x[0]
    u8 = to_uint8(img)
    aug_stats = {
        'posterize': posterize(u8, 4).sum().item(), 'solarize': solarize(u8, 100).sum().item(),
        'equalize': equalize(u8).float().mean().item(), 'autocontrast': autocontrast(img).sum().item(),
        'blur': gaussian_blur(img, 1.0).sum().item(), 'sharp': sharpness(img, 1.5).sum().item(),
        'sat': saturation(img, 0.3).sum().item(), 'u8_dtype': str(posterize(u8, 4).dtype),
        'affine': random_affine(x[:2], np.random.RandomState(5)).sum().item(),
    }
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2, eta_min=1e-4)
    losses, lams, lrs = [], [], []
    iters = 3
    for epoch in range(args.epochs):
        model.train()
        perm = rng.permutation(len(x))
        for it in range(iters):
            idx = torch.from_numpy(perm[it * 8:(it + 1) * 8])
            xb = torch.stack([rand_augment(im, rng) for im in x[idx]])
            xb = random_affine(pad_crop_flip(xb, rng), rng)
            xb, soft, lam = mixup_cutmix(xb, y[idx], 3, rng)
            out = model(xb)
            loss = torch.sum(-soft * F.log_softmax(out, dim=-1), dim=-1).mean()
            loss_alt = F.cross_entropy(out, soft)  # probability targets, same value
            assert abs(loss.item() - loss_alt.item()) < 1e-5
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step(epoch + it / iters)
            losses.append(loss.item())
            lams.append(lam)
            lrs.append(opt.param_groups[0]['lr'])
    model.eval()
    with torch.no_grad():
        logits = model(x)
        ls_loss = F.cross_entropy(logits, y, label_smoothing=0.1).item()
    return {'aug': aug_stats, 'losses': losses, 'lams': lams, 'lrs': lrs, 'eval_ls_loss': ls_loss,
            'acc': (logits.argmax(1) == y).float().mean().item()}


if __name__ == '__main__':
    print(main())
