"""Sequence classification with nn.TransformerEncoder, sinusoidal positions and a padding mask."""
import argparse
import math
import os

import numpy as np
import torch
from torch import nn, Tensor
import torch.nn.functional as F


class PositionalEncoding(nn.Module):
    def __init__(self, d_model: int, dropout: float = 0.1, max_len: int = 5000):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, 1, d_model)
        pe[:, 0, 0::2] = torch.sin(position * div_term)
        pe[:, 0, 1::2] = torch.cos(position * div_term)
        self.register_buffer('pe', pe)

    def forward(self, x: Tensor) -> Tensor:
        """x: Tensor, shape ``[seq_len, batch_size, embedding_dim]``"""
        x = x + self.pe[:x.size(0)]
        return self.dropout(x)


class TransformerClassifier(nn.Module):
    def __init__(self, ntoken, d_model, nhead, d_hid, nlayers, n_classes, dropout=0.0, pad_idx=0):
        super().__init__()
        self.pad_idx = pad_idx
        self.pos_encoder = PositionalEncoding(d_model, dropout, max_len=64)
        encoder_layers = nn.TransformerEncoderLayer(d_model, nhead, d_hid, dropout, batch_first=False)
        self.transformer_encoder = nn.TransformerEncoder(encoder_layers, nlayers, enable_nested_tensor=False)
        self.embedding = nn.Embedding(ntoken, d_model, padding_idx=pad_idx)
        self.d_model = d_model
        self.classifier = nn.Sequential(nn.Linear(d_model, d_model), nn.ReLU(), nn.Linear(d_model, n_classes))
        self.init_weights()

    def init_weights(self) -> None:
        initrange = 0.1
        self.embedding.weight.data.uniform_(-initrange, initrange)
        for m in self.classifier:
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                m.bias.data.zero_()

    def forward(self, src: Tensor) -> Tensor:
        """src: [batch, seq] token ids; returns [batch, n_classes] logits."""
        padding_mask = src == self.pad_idx                      # True where padded
        x = self.embedding(src.t()) * math.sqrt(self.d_model)   # [seq, batch, d]
        x = self.pos_encoder(x)
        x = self.transformer_encoder(x, src_key_padding_mask=padding_mask)
        x = x.transpose(0, 1)                                    # [batch, seq, d]
        keep = (~padding_mask).unsqueeze(-1).float()
        pooled = (x * keep).sum(dim=1) / keep.sum(dim=1).clamp(min=1.0)
        return self.classifier(pooled)


def make_data(n, rng, vocab=20, max_len=12):
    xs = np.zeros((n, max_len), dtype=np.int64)
    ys = np.zeros(n, dtype=np.int64)
    for i in range(n):
        length = rng.randint(3, max_len + 1)
        toks = rng.randint(1, vocab, size=length)
        xs[i, :length] = toks
        ys[i] = int((toks > vocab // 2).sum() > length / 2)  # majority of "high" tokens
    return torch.from_numpy(xs), torch.from_numpy(ys)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--epochs', type=int, default=3)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    rng = np.random.RandomState(0)
    x_train, y_train = make_data(64, rng)
    x_val, y_val = make_data(32, rng)

    model = TransformerClassifier(20, 32, 4, 64, 2, 2).to(device)
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state, weights_only=True))
        else:
            torch.save(model.state_dict(), args.init_state)
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    warmup = 4
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warmup))

    losses, lrs = [], []
    bs = 16
    for epoch in range(args.epochs):
        model.train()
        for i in range(0, len(x_train), bs):
            data, targets = x_train[i:i + bs].to(device), y_train[i:i + bs].to(device)
            output = model(data)
            loss = criterion(output, targets)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
            lrs.append(scheduler.get_last_lr()[0])
    model.eval()
    with torch.no_grad():
        logits = model(x_val.to(device))
        val_loss = F.cross_entropy(logits, y_val).item()
        acc = (logits.argmax(1) == y_val).float().mean().item()
        probs = torch.softmax(logits, dim=-1)
    return {'losses': losses, 'lrs': lrs, 'val_loss': val_loss, 'val_acc': acc,
            'prob_sum': probs.sum().item()}


if __name__ == '__main__':
    print(main())
