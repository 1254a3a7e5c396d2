"""Activation (gradient) checkpointing as used in memory-hungry training scripts: a deep residual
MLP and a small pre-LN transformer whose blocks run through torch.utils.checkpoint.checkpoint
(use_reentrant=False, extra non-tensor args, kwargs), nn.Sequential stacks through
checkpoint_sequential, and dropout inside checkpointed blocks (RNG state is preserved so the
recomputation sees the same mask). Gradients with and without checkpointing must match."""
import argparse
import functools
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint, checkpoint_sequential


class ResBlock(nn.Module):
    def __init__(self, dim, p=0.0):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, dim * 2)
        self.fc2 = nn.Linear(dim * 2, dim)
        self.drop = nn.Dropout(p)

    def forward(self, x, scale=1.0):
        h = self.fc2(self.drop(F.gelu(self.fc1(self.norm(x)))))
        return x + scale * h


class DeepMLP(nn.Module):
    def __init__(self, dim=32, depth=8, p=0.0, use_checkpoint=False):
        super().__init__()
        self.inp = nn.Linear(10, dim)
        self.blocks = nn.ModuleList([ResBlock(dim, p) for _ in range(depth)])
        self.out = nn.Linear(dim, 3)
        self.use_checkpoint = use_checkpoint

    def forward(self, x):
        x = self.inp(x)
        for i, blk in enumerate(self.blocks):
            if self.use_checkpoint and self.training:
                x = checkpoint(blk, x, 1.0 / math.sqrt(i + 1), use_reentrant=False)
            else:
                x = blk(x, 1.0 / math.sqrt(i + 1))
        return self.out(x)


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, mask=None):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q = q.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        k = k.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        v = v.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        if mask is not None:
            att = att.masked_fill(mask[:, :, :T, :T] == 0, float('-inf'))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.proj(y)


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.ln2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x, mask=None):
        x = x + self.attn(self.ln1(x), mask=mask)
        return x + self.mlp(self.ln2(x))


class TinyTransformer(nn.Module):
    def __init__(self, vocab=20, dim=32, heads=4, depth=3, block_size=12, gradient_checkpointing=False):
        super().__init__()
        self.tok = nn.Embedding(vocab, dim)
        self.pos = nn.Parameter(torch.zeros(1, block_size, dim))
        self.blocks = nn.ModuleList([Block(dim, heads) for _ in range(depth)])
        self.ln_f = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab, bias=False)
        self.register_buffer('mask', torch.tril(torch.ones(block_size, block_size)).view(1, 1, block_size, block_size))
        self.gradient_checkpointing = gradient_checkpointing

    def forward(self, idx):
        x = self.tok(idx) + self.pos[:, :idx.size(1)]
        for i, block in enumerate(self.blocks):
            if self.gradient_checkpointing and i % 2 == 0:
                # kwargs pass through checkpoint to the function (non-reentrant only)
                x = checkpoint(block, x, use_reentrant=False, mask=self.mask)
            elif self.gradient_checkpointing:
                # HF-style: bind the kwargs first (a bare lambda would late-bind `block`)
                x = checkpoint(functools.partial(block, mask=self.mask), x, use_reentrant=False)
            else:
                x = block(x, mask=self.mask)
        return self.head(self.ln_f(x))


def grads_of(model):
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--init-state', default=None)
    parser.add_argument('--steps', type=int, default=4)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)

    mlp = DeepMLP()
    tr = TinyTransformer()
    seq = nn.Sequential(*[nn.Sequential(nn.Linear(16, 16), nn.Tanh()) for _ in range(6)])
    if args.init_state:
        if os.path.exists(args.init_state):
            st = torch.load(args.init_state)
            mlp.load_state_dict(st['mlp'])
            tr.load_state_dict(st['tr'])
            seq.load_state_dict(st['seq'])
        else:
            torch.save({'mlp': mlp.state_dict(), 'tr': tr.state_dict(), 'seq': seq.state_dict()}, args.init_state)

    x = torch.from_numpy(rng.normal(size=(16, 10)).astype(np.float32))
    y = torch.from_numpy(rng.randint(0, 3, 16).astype(np.int64))

    # 1. deep MLP: grads with/without checkpointing
    mlp.zero_grad()
    F.cross_entropy(mlp(x), y).backward()
    g_plain = grads_of(mlp).clone()
    mlp.zero_grad()
    mlp.use_checkpoint = True
    loss_ck = F.cross_entropy(mlp(x), y)
    loss_ck.backward()
    g_ck = grads_of(mlp)
    mlp_diff = (g_plain - g_ck).abs().max().item()

    # train the checkpointed MLP a few steps
    opt = torch.optim.AdamW(mlp.parameters(), lr=1e-2, weight_decay=0.01)
    mlp_losses = []
    for _ in range(args.steps):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(mlp(x), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(mlp.parameters(), 1.0)
        opt.step()
        mlp_losses.append(loss.item())

    # 2. transformer LM with gradient checkpointing on each block
    data = torch.from_numpy(rng.randint(0, 20, size=(4, 13)).astype(np.int64))
    inp, tgt = data[:, :-1], data[:, 1:]
    tr.zero_grad()
    logits = tr(inp)
    F.cross_entropy(logits.reshape(-1, 20), tgt.reshape(-1)).backward()
    gt_plain = grads_of(tr).clone()
    tr.zero_grad()
    tr.gradient_checkpointing = True
    lm_loss = F.cross_entropy(tr(inp).reshape(-1, 20), tgt.reshape(-1))
    lm_loss.backward()
    gt_ck = grads_of(tr)
    tr_diff = (gt_plain - gt_ck).abs().max().item()
    opt2 = torch.optim.Adam(tr.parameters(), lr=3e-3)
    tr_losses = []
    for _ in range(args.steps):
        opt2.zero_grad()
        loss = F.cross_entropy(tr(inp).view(-1, 20), tgt.reshape(-1))
        loss.backward()
        opt2.step()
        tr_losses.append(loss.item())

    # 3. checkpoint_sequential over an nn.Sequential, input requiring grad
    xs = torch.from_numpy(rng.normal(size=(8, 16)).astype(np.float32)).requires_grad_()
    out_plain = seq(xs)
    out_plain.pow(2).sum().backward()
    gx_plain = xs.grad.clone()
    gw_plain = seq[0][0].weight.grad.clone()
    xs.grad = None
    seq.zero_grad()
    out_ck = checkpoint_sequential(seq, 3, xs, use_reentrant=False)
    out_ck.pow(2).sum().backward()
    seq_out_diff = (out_plain - out_ck).abs().max().item()
    seq_gx_diff = (gx_plain - xs.grad).abs().max().item()
    seq_gw_diff = (gw_plain - seq[0][0].weight.grad).abs().max().item()

    # 4. dropout inside a checkpointed block: recomputation reuses the saved RNG state, so the
    #    checkpointed gradient equals a plain backward of the same forward.
    drop_mlp = DeepMLP(p=0.3, depth=3)
    drop_mlp.load_state_dict(mlp.state_dict(), strict=False)
    drop_mlp.use_checkpoint = True
    drop_mlp.train()
    torch.manual_seed(123)
    out_a = drop_mlp(x)
    out_a.sum().backward()
    g_a = grads_of(drop_mlp).clone()
    drop_mlp.zero_grad()
    drop_mlp.use_checkpoint = False
    torch.manual_seed(123)
    out_b = drop_mlp(x)
    out_b.sum().backward()
    g_b = grads_of(drop_mlp)
    dropout_consistent = bool((out_a - out_b).abs().max().item() < 1e-5 and (g_a - g_b).abs().max().item() < 1e-4)

    return {
        'mlp_grad_diff_small': mlp_diff < 1e-5,
        'mlp_grad_norm': g_ck.norm().item(),
        'mlp_loss0': loss_ck.item(),
        'mlp_losses': mlp_losses,
        'tr_grad_diff_small': tr_diff < 1e-5,
        'tr_grad_norm': gt_ck.norm().item(),
        'lm_loss0': lm_loss.item(),
        'tr_losses': tr_losses,
        'seq_diffs_small': [seq_out_diff < 1e-6, seq_gx_diff < 1e-5, seq_gw_diff < 1e-5],
        'seq_gx_norm': xs.grad.norm().item(),
        'dropout_consistent': dropout_consistent,
    }


if __name__ == '__main__':
    print(main())
