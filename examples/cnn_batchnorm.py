"""A small CNN with BatchNorm and data augmentation on synthetic 3x32x32 images (circles, squares,
crosses), SGD with momentum and a cosine schedule; checkpoint resume; loss plot.
Run: python examples/cnn_batchnorm.py [--epochs N] [--resume] [--tiny]"""
import math
import os

import numpy as np

import jtorch as torch
import jtorch.nn as nn
import jtorch.nn.functional as F
from jtorch.utils.data import Dataset, DataLoader

from _common import (default_device, example_args, progress, save_checkpoint, load_checkpoint, resume, plot_losses,
                     out_dir)


class Shapes(Dataset):
    """Procedurally drawn images; __getitem__ augments with random flips and shifts (numpy)."""

    def __init__(self, n, seed, augment):
        rng = np.random.default_rng(seed)
        self.labels = rng.integers(0, 3, n)
        self.params = rng.uniform(0.2, 0.35, (n, 3))
        self.colors = rng.uniform(0.3, 1.0, (n, 3))
        self.augment, self.seed = augment, seed

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        r, cx, cy = self.params[i][0], 0.5, 0.5
        yy, xx = np.mgrid[0:32, 0:32] / 31.0
        k = self.labels[i]
        if k == 0:
            m = (xx - cx) ** 2 + (yy - cy) ** 2 < r ** 2
        elif k == 1:
            m = (abs(xx - cx) < r * 0.8) & (abs(yy - cy) < r * 0.8)
        else:
            m = (abs(xx - cx) < r * 0.25) | (abs(yy - cy) < r * 0.25)
        img = m[None].astype(np.float32) * self.colors[i][:, None, None].astype(np.float32)
        if self.augment:
            rng = np.random.default_rng()
            if rng.random() < 0.5:
                img = img[:, :, ::-1]
            img = np.roll(img, rng.integers(-4, 5, 2), axis=(1, 2))
            img = img + rng.normal(0, 0.05, img.shape).astype(np.float32)
        return torch.from_numpy(np.ascontiguousarray(img)), int(k)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.head = nn.Linear(32, 3)

    def forward(self, x):
        return self.head(torch.flatten(self.features(x), 1))


def evaluate(model, loader, dev):
    model.eval()
    with torch.no_grad():
        acc = np.mean([(model(x.to(dev)).argmax(1).cpu() == y).float().mean().item() for x, y in loader])
    model.train()
    return acc


def main():
    args = example_args(__doc__.splitlines()[0], tiny=dict(epochs=1), epochs=3)
    torch.manual_seed(0)
    dev = default_device()
    epochs = args.epochs
    n_train, n_test = (256, 128) if args.tiny else (1536, 384)
    train = DataLoader(Shapes(n_train, 0, True), batch_size=64, shuffle=True, num_workers=0 if args.tiny else 2,
                       drop_last=True)
    test = DataLoader(Shapes(n_test, 1, False), batch_size=128)
    model = Net().to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4, nesterov=True)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * len(train))
    ckpt = os.path.join(out_dir(), "cnn.pt")
    losses, start = [], 0
    if args.resume and (state := resume(ckpt, model, opt, sched, map_location=dev)) is not None:
        losses, start = list(state["losses"]), state["epoch"] + 1
    for epoch in range(start, epochs):
        for x, y in progress(train, desc=f"epoch {epoch}"):
            x, y = x.to(dev), y.to(dev)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
        acc = evaluate(model, test, dev)
        print(f"epoch {epoch}: loss {np.mean(losses[-len(train):]):.4f} lr {sched.get_last_lr()[0]:.4f} "
              f"test acc {acc:.3f}")
        # BatchNorm's running statistics are buffers: they travel in the model's state_dict
        save_checkpoint(ckpt, model=model.state_dict(), opt=opt.state_dict(), sched=sched.state_dict(),
                        epoch=epoch, losses=losses, rng=torch.get_rng_state())
    clone = Net().to(dev)
    clone.load_state_dict(load_checkpoint(ckpt, map_location=dev)["model"])
    acc = evaluate(clone, test, dev)
    print(f"reloaded checkpoint: test acc {acc:.3f}")
    plot_losses(losses, os.path.join(out_dir(), "cnn_loss.png"), "CNN with BatchNorm (jtorch)")
    assert acc > (0.3 if args.tiny else 0.8), acc
    return acc


if __name__ == "__main__":
    main()
