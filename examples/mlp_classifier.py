"""Train an MLP classifier on a synthetic 10-class task, torch-style, on the default device.

DataLoader with workers, AdamW, OneCycleLR, gradient clipping, checkpoint save + resume, loss plot.
Run: python examples/mlp_classifier.py [--epochs N] [--resume] [--tiny]   (checkpoint and loss plot: examples/out)"""
import os

import jtorch as torch
import jtorch.nn as nn
from jtorch.utils.data import TensorDataset, DataLoader, random_split

from _common import (default_device, example_args, progress, save_checkpoint, load_checkpoint, resume, plot_losses,
                     out_dir)


class MLP(nn.Module):
    def __init__(self, d_in=64, hidden=256, classes=10):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_in, hidden), nn.GELU(), nn.Dropout(0.1),
                                 nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, classes))

    def forward(self, x):
        return self.net(x)


def make_data(n=6000, d=64, classes=10):
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(classes, d, generator=g) * 1.5
    y = torch.randint(0, classes, (n,), generator=g)
    x = centers[y] + torch.randn(n, d, generator=g)
    return TensorDataset(x, y)


def evaluate(model, loader, dev):
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(dev), y.to(dev)
            correct += (model(x).argmax(1) == y).sum().item()
            total += y.numel()
    model.train()
    return correct / total


def main():
    args = example_args(__doc__.splitlines()[0], tiny=dict(epochs=1), epochs=4)
    torch.manual_seed(0)
    dev = default_device()
    data = make_data(n=900 if args.tiny else 6000)
    epochs = args.epochs
    train_set, test_set = random_split(data, [0.85, 0.15], generator=torch.Generator().manual_seed(1))
    train = DataLoader(train_set, batch_size=128, shuffle=True, num_workers=0 if args.tiny else 2, pin_memory=True,
                       persistent_workers=not args.tiny, drop_last=True)  # one batch shape: one compile
    test = DataLoader(test_set, batch_size=512)
    model = MLP().to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=epochs * len(train))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.05)
    ckpt = os.path.join(out_dir(), "mlp.pt")
    losses, start = [], 0
    if args.resume and (state := resume(ckpt, model, opt, sched, map_location=dev)) is not None:
        losses, start = list(state["losses"]), state["epoch"] + 1
    for epoch in range(start, epochs):
        for x, y in progress(train, desc=f"epoch {epoch}"):
            x, y = x.to(dev), y.to(dev)
            loss = loss_fn(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            losses.append(loss.item())
        print(f"epoch {epoch}: loss {losses[-1]:.4f}  lr {sched.get_last_lr()[0]:.2e}  "
              f"test acc {evaluate(model, test, dev):.3f}")
        save_checkpoint(ckpt, model=model.state_dict(), opt=opt.state_dict(), sched=sched.state_dict(),
                        epoch=epoch, losses=losses, rng=torch.get_rng_state())
    # a fresh model loaded from the checkpoint evaluates the same as the trained one
    clone = MLP().to(dev)
    clone.load_state_dict(load_checkpoint(ckpt, map_location=dev)["model"])
    acc = evaluate(clone, test, dev)
    print(f"reloaded checkpoint: test acc {acc:.3f}")
    plot_losses(losses, os.path.join(out_dir(), "mlp_loss.png"), "MLP classifier (jtorch)")
    assert acc > (0.5 if args.tiny else 0.9), acc
    return acc


if __name__ == "__main__":
    main()
