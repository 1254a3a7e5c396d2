"""A CIFAR-style CNN the way recent tutorials write it: `model = torch.compile(model)`, BatchNorm,
Dropout, SGD + Nesterov, OneCycleLR stepped per batch, label smoothing, eval under
torch.inference_mode(), and a checkpoint saved from the compiled model with the `_orig_mod.`
prefix stripped. `--no-compile` runs the same program eagerly (the reference run)."""
import argparse
import io

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


class Net(nn.Module):
    def __init__(self, num_classes=5, width=16):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1, bias=False), nn.BatchNorm2d(2 * width), nn.GELU(),
            nn.AvgPool2d(2),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.0), nn.Linear(2 * width * 4 * 4, 64),
                                  nn.SiLU(), nn.Linear(64, num_classes))

    def forward(self, x):
        x = self.features(x)
        # a residual-style skip over a pooled view, as mixed CNN code often has
        return self.head(x + 0.1 * torch.tanh(x))


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--init-state", default=None)
    p.add_argument("--no-compile", action="store_true")
    args = p.parse_args(argv)

    torch.manual_seed(0)
    rng = np.random.RandomState(1)
    n, num_classes = 64, 5
    y = rng.randint(0, num_classes, n)
    x = rng.randn(n, 3, 16, 16).astype(np.float32) * 0.3
    for i, c in enumerate(y):
        x[i, c % 3, 3 * c:3 * c + 5] += 1.0
    loader = DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=args.batch_size)

    model = Net(num_classes)
    if args.init_state:
        import os
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(model.state_dict(), args.init_state)
    if not args.no_compile:
        model = torch.compile(model)
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, epochs=args.epochs,
                                                    steps_per_epoch=len(loader))
    losses, lrs = [], []
    for epoch in range(args.epochs):
        model.train()
        for xb, yb in loader:
            optimizer.zero_grad(set_to_none=True)
            loss = criterion(model(xb), yb)
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
            lrs.append(scheduler.get_last_lr()[0])

    model.eval()
    with torch.inference_mode():
        logits = torch.cat([model(xb) for xb, _ in loader])
    acc = (logits.argmax(1) == torch.from_numpy(y)).float().mean().item()

    # save without the compile wrapper's prefix and reload into a plain model
    state = {k.removeprefix("_orig_mod."): v for k, v in model.state_dict().items()}
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    plain = Net(num_classes)
    plain.load_state_dict(torch.load(buf))
    plain.eval()
    with torch.no_grad():
        same = torch.allclose(plain(torch.from_numpy(x[:8])), logits[:8], atol=1e-5)
    bn = plain.features[1]
    return {"losses": losses, "lrs": lrs, "acc": acc, "logits_abs_sum": logits.abs().sum().item(),
            "reloaded_same": bool(same), "running_mean": bn.running_mean[:4].tolist(),
            "num_batches_tracked": int(bn.num_batches_tracked), "keys": sorted(state)[:3]}


if __name__ == "__main__":
    print(main())
