"""Data-loading plumbing from real training scripts, feeding a packed-sequence GRU forecaster:
a map-style Dataset returning dicts of numpy arrays, a length-bucketing batch Sampler, a
collate_fn with nn.utils.rnn.pad_sequence, default_collate on nested dicts/tuples, Subset /
ConcatDataset / random_split(generator=...), an IterableDataset with get_worker_info, sliding
windows with Tensor.unfold, pack_padded_sequence(enforce_sorted=False) / pad_packed_sequence, and
a masked MSE over padded time steps."""
import argparse
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence
from torch.utils.data import (BatchSampler, ConcatDataset, DataLoader, Dataset, IterableDataset, Sampler,
                              SequentialSampler, Subset, get_worker_info, random_split)
from torch.utils.data.dataloader import default_collate


class SeriesDataset(Dataset):
    def __init__(self, rng, n, min_len=6, max_len=14, offset=0.0):
        self.items = []
        for i in range(n):
            length = rng.randint(min_len, max_len + 1)
            t = np.arange(length + 1)
            freq = rng.uniform(0.2, 0.6)
            s = np.sin(freq * t + rng.uniform(0, 3)) + offset + 0.05 * rng.normal(size=length + 1)
            self.items.append({'x': s[:-1].astype(np.float32)[:, None], 'y': s[1:].astype(np.float32),
                               'freq': np.float32(freq), 'id': i})

    def __len__(self):
        return len(self.items)

    def __getitem__(self, idx):
        return self.items[idx]


class BucketBatchSampler(Sampler):
    """Groups indices of similar length; yields lists of indices (a batch sampler)."""

    def __init__(self, lengths, batch_size):
        self.batches = []
        order = np.argsort(lengths, kind='stable')
        for i in range(0, len(order), batch_size):
            self.batches.append(order[i:i + batch_size].tolist())

    def __iter__(self):
        return iter(self.batches)

    def __len__(self):
        return len(self.batches)


def collate_padded(batch):
    xs = [torch.from_numpy(b['x']) for b in batch]
    ys = [torch.from_numpy(b['y']) for b in batch]
    lengths = torch.tensor([len(x) for x in xs])
    return {
        'x': pad_sequence(xs, batch_first=True, padding_value=0.0),
        'y': pad_sequence(ys, batch_first=True, padding_value=-100.0),
        'lengths': lengths,
        'meta': default_collate([{'freq': b['freq'], 'id': b['id']} for b in batch]),
    }


class WindowStream(IterableDataset):
    """Streams sliding windows over one long series; each worker takes a shard."""

    def __init__(self, series, window, step):
        self.series, self.window, self.step = series, window, step

    def __iter__(self):
        windows = torch.from_numpy(self.series).unfold(0, self.window + 1, self.step)   # N, window + 1
        info = get_worker_info()
        start, stride = (0, 1) if info is None else (info.id, info.num_workers)
        for i in range(start, windows.shape[0], stride):
            w = windows[i]
            yield w[:-1].unsqueeze(-1), w[-1]


class Forecaster(nn.Module):
    def __init__(self, hidden=16):
        super().__init__()
        self.gru = nn.GRU(1, hidden, num_layers=2, batch_first=True, dropout=0.0)
        self.out = nn.Linear(hidden, 1)

    def forward(self, x, lengths=None):
        if lengths is None:
            h, _ = self.gru(x)
            return self.out(h).squeeze(-1)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, h_n = self.gru(packed)
        h, out_lengths = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        return self.out(h).squeeze(-1), h_n, out_lengths


def masked_mse(pred, target):
    mask = target != -100.0
    return ((pred - target) ** 2 * mask).sum() / mask.sum()


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--init-state', default=None)
    parser.add_argument('--epochs', type=int, default=3)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)

    ds_a = SeriesDataset(rng, 14)
    ds_b = SeriesDataset(rng, 6, offset=0.5)
    full = ConcatDataset([ds_a, ds_b])
    train_ds = Subset(full, list(range(0, 20, 2)) + list(range(1, 20, 4)))
    val_ds = Subset(full, list(range(3, 20, 4)))
    lengths = [len(train_ds[i]['x']) for i in range(len(train_ds))]
    loader = DataLoader(train_ds, batch_sampler=BucketBatchSampler(lengths, 4), collate_fn=collate_padded)
    val_loader = DataLoader(val_ds, batch_size=3, shuffle=False, collate_fn=collate_padded, drop_last=False)
    plain_batches = list(BatchSampler(SequentialSampler(range(10)), batch_size=4, drop_last=True))

    model = Forecaster()
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(model.state_dict(), args.init_state)
    opt = torch.optim.RMSprop(model.parameters(), lr=5e-3, alpha=0.9)

    losses, batch_shapes, ids_seen = [], [], []
    for epoch in range(args.epochs):
        model.train()
        for batch in loader:
            pred, _, out_len = model(batch['x'], batch['lengths'])
            loss = masked_mse(pred, batch['y'])
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            losses.append(loss.item())
            if epoch == 0:
                batch_shapes.append(list(batch['x'].shape))
                ids_seen.append(batch['meta']['id'].tolist())
                assert torch.equal(out_len, batch['lengths'])
    model.eval()
    val_losses = []
    with torch.no_grad():
        for batch in val_loader:
            pred, h_n, _ = model(batch['x'], batch['lengths'])
            val_losses.append(masked_mse(pred, batch['y']).item())
        # packed == per-sequence unpadded run (padding must not leak into the final state)
        b = next(iter(val_loader))
        _, h_packed, _ = model(b['x'], b['lengths'])
        L = b['lengths'][1].item()
        _, h_single = model.gru(b['x'][1:2, :L])
    pack_err = (h_packed[:, 1] - h_single[:, 0]).abs().max().item()

    # streaming windows
    series = np.sin(np.linspace(0, 12, 80)).astype(np.float32)
    stream = DataLoader(WindowStream(series, window=8, step=3), batch_size=5)
    stream_losses = []
    model.train()
    for xw, yw in stream:
        pred = model(xw)[:, -1]
        loss = F.mse_loss(pred, yw)
        opt.zero_grad()
        loss.backward()
        opt.step()
        stream_losses.append(loss.item())
    n_windows = sum(1 for _ in WindowStream(series, 8, 3))

    # random_split with a seeded generator: sizes deterministic, membership from torch's RNG
    parts = random_split(range(20), [0.6, 0.2, 0.2], generator=torch.Generator().manual_seed(42))
    covered = sorted(i for p in parts for i in p)
    collated = default_collate([(np.ones(2, np.float32) * i, {'k': i, 'name': 's%d' % i}) for i in range(3)])
    return {
        'plain_batches': plain_batches, 'batch_shapes': batch_shapes, 'ids_seen': ids_seen,
        'losses': losses, 'val_losses': val_losses, 'pack_err_small': pack_err < 1e-5,
        'stream_losses': stream_losses, 'n_windows': n_windows,
        'split_sizes': [len(p) for p in parts], 'split_covers': covered == list(range(20)),
        'collated': [collated[0].tolist(), collated[1]['k'].tolist(), collated[1]['name'],
                     str(collated[0].dtype), str(collated[1]['k'].dtype)],
    }


if __name__ == '__main__':
    print(main())
