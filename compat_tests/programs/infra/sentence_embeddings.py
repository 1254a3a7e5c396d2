"""Sentence-embedding training and retrieval (sentence-transformers / SimCSE style, in plain torch):
a batch_first nn.TransformerEncoder over padded token batches with src_key_padding_mask, masked
mean pooling, in-batch-negatives MultipleNegativesRankingLoss (cross_entropy over a scaled cosine
similarity matrix), then inference under model.eval() + torch.inference_mode() (torch's nested-
tensor fast path: padded positions come back as zeros), an embedding index searched with topk,
attention maps from nn.MultiheadAttention(need_weights=True, average_attn_weights=False), and
recall@k."""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Encoder(nn.Module):
    def __init__(self, vocab=32, d=16, heads=2, layers=2, max_len=12):
        super().__init__()
        self.tok = nn.Embedding(vocab, d, padding_idx=0)
        self.pos = nn.Embedding(max_len, d)
        layer = nn.TransformerEncoderLayer(d, heads, dim_feedforward=32, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers)
        self.attn_probe = nn.MultiheadAttention(d, heads, batch_first=True)

    def forward(self, ids, return_tokens=False):
        pad = ids == 0
        pos = torch.arange(ids.size(1), device=ids.device).unsqueeze(0).expand_as(ids)
        h = self.encoder(self.tok(ids) + self.pos(pos), src_key_padding_mask=pad)
        mask = (~pad).unsqueeze(-1).float()
        emb = (h * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return (emb, h) if return_tokens else emb


def make_pairs(rng, n, vocab=32, max_len=12):
    """Paraphrase pairs: the second sentence is the first with dropped / swapped tokens."""
    a = np.zeros((n, max_len), np.int64)
    b = np.zeros((n, max_len), np.int64)
    for i in range(n):
        length = rng.randint(4, max_len + 1)
        s = rng.randint(1, vocab, length)
        a[i, :length] = s
        t = s.copy()
        j = rng.randint(0, length - 1)
        t[j], t[j + 1] = t[j + 1], t[j]
        keep = np.ones(length, bool)
        keep[rng.randint(0, length)] = False
        t = t[keep]
        b[i, :len(t)] = t
    return torch.from_numpy(a), torch.from_numpy(b)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--init-state', default=None)
    parser.add_argument('--epochs', type=int, default=3)
    parser.add_argument('--scale', type=float, default=20.0)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)

    model = Encoder()
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(model.state_dict(), args.init_state)
    a, b = make_pairs(rng, 32)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    losses = []
    for epoch in range(args.epochs):
        model.train()
        for i in range(0, 32, 8):
            ea = model(a[i:i + 8])
            eb = model(b[i:i + 8])
            scores = F.cosine_similarity(ea.unsqueeze(1), eb.unsqueeze(0), dim=-1) * args.scale
            labels = torch.arange(scores.size(0))
            loss = (F.cross_entropy(scores, labels) + F.cross_entropy(scores.t(), labels)) / 2
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())

    model.eval()
    with torch.inference_mode():
        corpus, tokens = model(b, return_tokens=True)
        queries = model(a)
        corpus = F.normalize(corpus, dim=-1)
        queries = F.normalize(queries, dim=-1)
        sims = queries @ corpus.T
        top = sims.topk(3, dim=1)
        recall1 = (top.indices[:, 0] == torch.arange(32)).float().mean().item()
        recall3 = (top.indices == torch.arange(32).unsqueeze(1)).any(dim=1).float().mean().item()
        pad_rows = tokens[b == 0]
        x = model.tok(a[:2])
        _, attn = model.attn_probe(x, x, x, key_padding_mask=a[:2] == 0, need_weights=True,
                                   average_attn_weights=False)
    # the same forward with autograd on: no fast path, padded positions hold real values
    emb_grad_mode, tokens_grad = model(b[:4], return_tokens=True)
    return {
        'losses': losses, 'recall@1': recall1, 'recall@3': recall3,
        'top_scores': top.values[:4].tolist(),
        'pad_rows_abs': pad_rows.abs().sum().item(),
        'valid_tokens_abs': tokens[b != 0].abs().sum().item(),
        'pooled_match': (F.normalize(emb_grad_mode, dim=-1) - corpus[:4]).abs().max().item() < 1e-5,
        'grad_mode_pad_nonzero': bool(tokens_grad[b[:4] == 0].abs().sum().item() > 0),
        'attn_shape': list(attn.shape), 'attn_row_sums': attn.sum(-1)[0, 0].tolist(),
        'attn_pad_cols': attn[..., (a[:2] == 0)[0]].abs().sum().item() if (a[:2] == 0)[0].any() else 0.0,
    }


if __name__ == '__main__':
    print(main())
