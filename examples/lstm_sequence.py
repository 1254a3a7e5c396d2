"""An LSTM that learns to continue noisy sine waves; StepLR, DataLoader, checkpoint, loss plot.
Run: python examples/lstm_sequence.py [--epochs N] [--resume] [--tiny]"""
import math
import os

import numpy as np

import jtorch as torch
import jtorch.nn as nn
from jtorch.utils.data import TensorDataset, DataLoader

from _common import (default_device, example_args, progress, save_checkpoint, load_checkpoint, resume, plot_losses,
                     out_dir)


class Forecaster(nn.Module):
    def __init__(self, hidden=64):
        super().__init__()
        self.lstm = nn.LSTM(1, hidden, num_layers=2, batch_first=True)
        self.out = nn.Linear(hidden, 1)

    def forward(self, x):
        h, _ = self.lstm(x)
        return self.out(h)


def make_data(n=1024, T=40, seed=0):
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0.1, 0.3, (n, 1))
    phase = rng.uniform(0, 2 * math.pi, (n, 1))
    t = np.arange(T + 1)[None]
    s = np.sin(freq * t + phase) + rng.normal(0, 0.05, (n, T + 1))
    s = s.astype(np.float32)[..., None]
    return TensorDataset(torch.from_numpy(s[:, :-1]), torch.from_numpy(s[:, 1:]))


def main():
    args = example_args(__doc__.splitlines()[0], tiny=dict(epochs=1), epochs=6)
    torch.manual_seed(0)
    dev = default_device()
    epochs = args.epochs
    loader = DataLoader(make_data(n=512 if args.tiny else 1024), batch_size=64, shuffle=True)
    model = Forecaster().to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    ckpt = os.path.join(out_dir(), "lstm.pt")
    losses, start = [], 0
    if args.resume and (state := resume(ckpt, model, opt, sched, map_location=dev)) is not None:
        losses, start = list(state["losses"]), state["epoch"] + 1
    for epoch in range(start, epochs):
        for x, y in progress(loader, desc=f"epoch {epoch}"):
            x, y = x.to(dev), y.to(dev)
            loss = nn.functional.mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        sched.step()
        print(f"epoch {epoch}: loss {np.mean(losses[-len(loader):]):.5f} lr {sched.get_last_lr()[0]:.4f}")
        save_checkpoint(ckpt, model=model.state_dict(), opt=opt.state_dict(), sched=sched.state_dict(),
                        epoch=epoch, losses=losses, rng=torch.get_rng_state())
    clone = Forecaster().to(dev)
    clone.load_state_dict(load_checkpoint(ckpt, map_location=dev)["model"])
    x, y = next(iter(loader))
    with torch.no_grad():
        assert torch.allclose(clone(x.to(dev)), model(x.to(dev)), atol=1e-6)
    plot_losses(losses, os.path.join(out_dir(), "lstm_loss.png"), "LSTM forecaster (jtorch)")
    print(f"loss {np.mean(losses[:3]):.4f} -> {np.mean(losses[-3:]):.4f}")
    assert np.mean(losses[-3:]) < (0.9 if args.tiny else 0.2) * np.mean(losses[:3])


if __name__ == "__main__":
    main()
