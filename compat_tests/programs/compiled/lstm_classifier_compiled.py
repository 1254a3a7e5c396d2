"""A sentiment-style LSTM classifier with `model = torch.compile(model)`: padded batches with
padding_idx embeddings, a 2-layer bidirectional LSTM (batch_first), masked mean pooling, dropout,
Adam with ReduceLROnPlateau on a validation loss, gradient clipping, early-stopping bookkeeping and
the best state kept with copy.deepcopy. `--no-compile` runs it eagerly (the reference run)."""
import argparse
import copy
import os

import numpy as np
import torch
import torch.nn as nn


class Classifier(nn.Module):
    def __init__(self, vocab=50, emb=16, hidden=24, classes=3):
        super().__init__()
        self.embedding = nn.Embedding(vocab, emb, padding_idx=0)
        self.lstm = nn.LSTM(emb, hidden, num_layers=2, batch_first=True, bidirectional=True, dropout=0.0)
        self.dropout = nn.Dropout(0.0)
        self.fc = nn.Linear(2 * hidden, classes)

    def forward(self, tokens):
        mask = (tokens != 0).unsqueeze(-1).float()
        out, (h, c) = self.lstm(self.embedding(tokens))
        pooled = (out * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return self.fc(self.dropout(pooled))


def make_split(rng, n, T=12, vocab=50):
    lengths = rng.randint(4, T + 1, n)
    tokens = np.zeros((n, T), dtype=np.int64)
    labels = rng.randint(0, 3, n)
    for i, (L, y) in enumerate(zip(lengths, labels)):
        tokens[i, :L] = rng.randint(1 + 15 * y, 16 + 15 * y, L)   # class-dependent token ranges
    return torch.from_numpy(tokens), torch.from_numpy(labels)


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--init-state", default=None)
    p.add_argument("--no-compile", action="store_true")
    args = p.parse_args(argv)

    torch.manual_seed(0)
    rng = np.random.RandomState(0)
    xtr, ytr = make_split(rng, 48)
    xva, yva = make_split(rng, 16)
    model = Classifier()
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(model.state_dict(), args.init_state)
    net = model if args.no_compile else torch.compile(model)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=0)
    best_val, best_state, bad_epochs = float("inf"), None, 0
    train_losses, val_losses, lrs = [], [], []
    for epoch in range(args.epochs):
        net.train()
        for i in range(0, len(xtr), 16):
            optimizer.zero_grad()
            loss = criterion(net(xtr[i:i + 16]), ytr[i:i + 16])
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            optimizer.step()
            train_losses.append(loss.item())
        net.eval()
        with torch.no_grad():
            val_logits = net(xva)
            val_loss = criterion(val_logits, yva).item()
        scheduler.step(val_loss)
        val_losses.append(val_loss)
        lrs.append(optimizer.param_groups[0]["lr"])
        if val_loss < best_val:
            best_val, best_state, bad_epochs = val_loss, copy.deepcopy(model.state_dict()), 0
        else:
            bad_epochs += 1
    model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        acc = (model(xva).argmax(1) == yva).float().mean().item()
    return {"train_losses": train_losses, "val_losses": val_losses, "lrs": lrs, "best_val": best_val,
            "acc": acc, "bad_epochs": bad_epochs}


if __name__ == "__main__":
    print(main())
