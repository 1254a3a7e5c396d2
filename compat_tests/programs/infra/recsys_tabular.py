"""Click-through-rate model on tabular data (DLRM / Wide&Deep / DeepFM style, as in the many
"recommender systems in PyTorch" repos): multi-hot categorical features through nn.EmbeddingBag
(mode='sum' with offsets, mode='mean', per_sample_weights, padding_idx), dense features through
BatchNorm1d + MLP with Dropout, an FM second-order interaction term, BCEWithLogitsLoss with
pos_weight for the class imbalance, SparseAdam-free Adagrad training, and ROC-AUC computed by
sorting scores (torch.argsort, cumsum) and checked against the Mann-Whitney rank formula."""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class DeepFM(nn.Module):
    def __init__(self, n_items=40, n_tags=12, n_dense=6, emb_dim=8, hidden=(32, 16), dropout=0.2):
        super().__init__()
        self.item_bag = nn.EmbeddingBag(n_items, emb_dim, mode='sum')
        self.tag_bag = nn.EmbeddingBag(n_tags + 1, emb_dim, mode='mean', padding_idx=0)
        self.weighted_bag = nn.EmbeddingBag(n_items, emb_dim, mode='sum')
        self.item_linear = nn.EmbeddingBag(n_items, 1, mode='sum')  # first-order (wide) part
        self.bn = nn.BatchNorm1d(n_dense)
        self.dense_proj = nn.Linear(n_dense, emb_dim)
        layers, d = [], emb_dim * 4
        for h in hidden:
            layers += [nn.Linear(d, h), nn.BatchNorm1d(h), nn.ReLU(), nn.Dropout(dropout)]
            d = h
        layers.append(nn.Linear(d, 1))
        self.mlp = nn.Sequential(*layers)
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, items, offsets, tags, hist, hist_offsets, hist_weights, dense):
        e_item = self.item_bag(items, offsets)
        e_tag = self.tag_bag(tags)                                   # 2-D input: fixed-size bags
        e_hist = self.weighted_bag(hist, hist_offsets, per_sample_weights=hist_weights)
        e_dense = self.dense_proj(self.bn(dense))
        fields = torch.stack([e_item, e_tag, e_hist, e_dense], dim=1)  # B, 4, D
        # FM: 0.5 * ((sum v)^2 - sum v^2)
        square_of_sum = fields.sum(dim=1).pow(2)
        sum_of_square = (fields * fields).sum(dim=1)
        fm = 0.5 * (square_of_sum - sum_of_square).sum(dim=1, keepdim=True)
        wide = self.item_linear(items, offsets)
        deep = self.mlp(fields.flatten(1))
        return (wide + fm + deep + self.bias).squeeze(1)


def roc_auc(scores, labels):
    """AUC from the ROC curve: sort descending, cumulative TP/FP rates, trapezoid rule."""
    order = torch.argsort(scores, descending=True)
    y = labels[order]
    tps = torch.cumsum(y, dim=0)
    fps = torch.cumsum(1 - y, dim=0)
    tpr = torch.cat([torch.zeros(1), tps / tps[-1]])
    fpr = torch.cat([torch.zeros(1), fps / fps[-1]])
    return torch.trapz(tpr, fpr)


def auc_rank(scores, labels):
    """Mann-Whitney U: (sum of positive ranks - P(P+1)/2) / (P N)."""
    ranks = torch.empty_like(scores)
    ranks[scores.argsort()] = torch.arange(1, len(scores) + 1, dtype=scores.dtype)
    pos = labels.bool()
    n_pos = pos.sum()
    n_neg = (~pos).sum()
    return (ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def make_data(n, rng, n_items=40, n_tags=12):
    items, offsets, hist, hist_offsets, hist_w = [], [], [], [], []
    tags = np.zeros((n, 3), np.int64)
    dense = rng.normal(size=(n, 6)).astype(np.float32) * [1, 2, 5, 0.5, 1, 10] + [0, 1, -3, 0, 2, 5]
    logits = np.zeros(n)
    pos = 0
    hpos = 0
    for i in range(n):
        k = rng.randint(1, 4)
        it = rng.randint(0, n_items, k)
        items.extend(it)
        offsets.append(pos)
        pos += k
        m = rng.randint(0, 4)  # may be an empty history bag
        h = rng.randint(0, n_items, m)
        hist.extend(h)
        hist_w.extend(rng.uniform(0.1, 1.0, m))
        hist_offsets.append(hpos)
        hpos += m
        nt = rng.randint(1, 4)
        tags[i, :nt] = rng.randint(1, n_tags + 1, nt)
        logits[i] = 0.8 * (it % 5 == 0).sum() + 0.5 * dense[i, 0] - 1.5 + 0.3 * (tags[i] == 3).sum()
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logits))).astype(np.float32)
    as_t = lambda a, dt: torch.from_numpy(np.asarray(a, dt))
    return (as_t(items, np.int64), as_t(offsets, np.int64), torch.from_numpy(tags), as_t(hist, np.int64),
            as_t(hist_offsets, np.int64), as_t(hist_w, np.float32), torch.from_numpy(dense.astype(np.float32)),
            torch.from_numpy(y))


def slice_batch(data, lo, hi):
    items, offsets, tags, hist, hist_off, hist_w, dense, y = data
    n = len(offsets)
    s, e = offsets[lo].item(), (offsets[hi].item() if hi < n else len(items))
    hs, he = hist_off[lo].item(), (hist_off[hi].item() if hi < n else len(hist))
    return (items[s:e], offsets[lo:hi] - s, tags[lo:hi], hist[hs:he], hist_off[lo:hi] - hs,
            hist_w[hs:he], dense[lo:hi], y[lo:hi])


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--init-state', default=None)
    parser.add_argument('--epochs', type=int, default=4)
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--dropout', type=float, default=0.2)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)

    train = make_data(128, rng)
    test = make_data(64, rng)
    model = DeepFM(dropout=args.dropout)
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(model.state_dict(), args.init_state)

    y_train = train[-1]
    pos_weight = (y_train == 0).sum() / (y_train == 1).sum().clamp(min=1)
    criterion = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    optimizer = torch.optim.Adagrad(model.parameters(), lr=0.05, initial_accumulator_value=0.1)

    # deterministic eval-mode metrics before training
    model.eval()
    with torch.no_grad():
        s0 = model(*test[:-1])
        loss0 = F.binary_cross_entropy_with_logits(s0, test[-1], pos_weight=pos_weight).item()

    # inverted dropout: kept activations are scaled by 1 / (1 - p)
    scales = []

    def check_dropout(module, inp, out):
        kept = out != 0
        scales.append((out[kept] / inp[0][kept]).mean().item() if kept.any() else 1.0 / (1 - module.p))

    hooks = [m.register_forward_hook(check_dropout) for m in model.modules() if isinstance(m, nn.Dropout)]
    # dropout masks come from torch's RNG: with p > 0 the trajectory is stochastic
    train_losses = []
    for epoch in range(args.epochs):
        model.train()
        for lo in range(0, 128, args.batch_size):
            batch = slice_batch(train, lo, lo + args.batch_size)
            optimizer.zero_grad()
            loss = criterion(model(*batch[:-1]), batch[-1])
            loss.backward()
            optimizer.step()
            train_losses.append(loss.item())

    for h in hooks:
        h.remove()
    # a train step with dropout disabled (p=0)
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
    model.train()
    batch = slice_batch(train, 0, 32)
    model.zero_grad()
    det_loss = criterion(model(*batch[:-1]), batch[-1])
    det_loss.backward()
    bag_grad = model.item_bag.weight.grad
    tag_grad_pad = model.tag_bag.weight.grad[0].abs().sum().item()  # padding row gets no grad

    model.eval()
    with torch.no_grad():
        scores = torch.sigmoid(model(*test[:-1]))
    auc = roc_auc(scores, test[-1]).item()
    auc2 = auc_rank(scores, test[-1]).item()
    bce_none = F.binary_cross_entropy(scores, test[-1], reduction='none')
    precision_at_10 = test[-1][scores.topk(10).indices].mean().item()
    # bag modes on a fixed example
    bag = nn.EmbeddingBag.from_pretrained(torch.arange(12.0).view(6, 2), mode='max')
    bag_max = bag(torch.tensor([0, 2, 5, 1, 4]), torch.tensor([0, 3])).tolist()
    metrics = {
        'pos_weight': pos_weight.item(), 'loss0': loss0, 's0': s0[:6].tolist(),
        'tag_grad_pad': tag_grad_pad, 'bag_max': bag_max,
        'dropout_scale_ok': all(abs(s * (1 - args.dropout) - 1) < 1e-5 for s in scales),
        'auc_formulas_agree': abs(auc - auc2) < 1e-5,
    }
    trajectory = {
        'train_losses': train_losses, 'det_loss': det_loss.item(), 'bag_grad_norm': bag_grad.norm().item(),
        'bag_grad_nonzero_rows': int((bag_grad.abs().sum(1) > 0).sum()),
        'auc': auc, 'bce_mean': bce_none.mean().item(), 'p_at_10': precision_at_10,
    }
    if args.dropout == 0:
        metrics.update(trajectory)
    else:  # depends on the dropout masks: only its sanity is comparable
        metrics['trajectory_finite'] = bool(np.isfinite(train_losses).all() and 0 <= auc <= 1)
    return metrics


if __name__ == '__main__':
    print(main())
