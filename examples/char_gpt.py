"""A character-level GPT trained on examples/data/tiny_corpus.txt (shipped with the repo), with
the whole training step compiled by jtorch.compile into one XLA program; samples text at the end.
Run: python examples/char_gpt.py [--steps N] [--resume] [--tiny]"""
import math
import os

import numpy as np

import jtorch as torch
import jtorch.nn as nn
import jtorch.nn.functional as F
from jtorch.utils.data import Dataset, DataLoader

from _common import (default_device, example_args, progress, save_checkpoint, load_checkpoint, resume, plot_losses,
                     out_dir)

HERE = os.path.dirname(os.path.abspath(__file__))


class Chars(Dataset):
    def __init__(self, text, block):
        self.vocab = sorted(set(text))
        self.stoi = {c: i for i, c in enumerate(self.vocab)}
        # numpy inside the Dataset: slicing a device tensor at a new offset per sample would make
        # a small XLA program per offset; the DataLoader's collate turns the batch into one tensor
        self.data = np.array([self.stoi[c] for c in text], dtype=np.int64)
        self.block = block

    def __len__(self):
        return len(self.data) - self.block - 1

    def __getitem__(self, i):
        chunk = self.data[i:i + self.block + 1]
        return torch.from_numpy(chunk[:-1].copy()), torch.from_numpy(chunk[1:].copy())


class Block(nn.Module):
    def __init__(self, d, heads, block):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(approximate="tanh"), nn.Linear(4 * d, d))
        self.heads = heads

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(y.transpose(1, 2).reshape(B, T, C))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, vocab, d=128, heads=4, layers=2, block=64):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(block, d)
        self.blocks = nn.ModuleList([Block(d, heads, block) for _ in range(layers)])
        self.ln, self.head = nn.LayerNorm(d), nn.Linear(d, vocab, bias=False)
        self.head.weight = self.tok.weight  # weight tying
        self.block = block
        self.apply(self._init_weights)   # GPT-2's init: N(0, 0.02), so the first loss is ~ln(vocab)

    @staticmethod
    def _init_weights(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)

    def forward(self, idx):
        T = idx.shape[1]
        x = self.tok(idx) + self.pos(torch.arange(T, device=idx.device))
        for b in self.blocks:
            x = b(x)
        return self.head(self.ln(x))

    @torch.no_grad()
    def generate(self, idx, n, pad=0):
        """Sample n tokens after idx. The model always sees a full window of `block` tokens (left-
        padded with `pad`): one input shape, so every step reuses the same compiled kernels (a
        growing sequence would compile new ones per length; on TPUs static shapes are the rule)."""
        window = torch.full((idx.shape[0], self.block), pad, dtype=idx.dtype, device=idx.device)
        window = torch.cat([window, idx], 1)[:, -self.block:]
        new = []
        for _ in range(n):
            nxt = torch.multinomial(F.softmax(self(window)[:, -1], -1), 1)
            new.append(nxt)
            window = torch.cat([window[:, 1:], nxt], 1)
        return torch.cat([idx] + new, 1)


def main():
    args = example_args(__doc__.splitlines()[0], tiny=dict(steps=30), steps=300)
    torch.manual_seed(0)
    dev = default_device()
    steps = args.steps
    with open(os.path.join(HERE, "data", "tiny_corpus.txt")) as f:
        text = f.read()
    ds = Chars(text, block=64)
    loader = DataLoader(ds, batch_size=32, shuffle=True, drop_last=True)
    model = GPT(len(ds.vocab)).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.95), weight_decay=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 30))
    ckpt = os.path.join(out_dir(), "char_gpt.pt")
    losses, start = [], 0
    if args.resume and (state := resume(ckpt, model, opt, sched, map_location=dev)) is not None:
        losses, start = list(state["losses"]), state["step"] + 1

    @torch.compile
    def train_step(x, y):
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss

    it = iter(loader)
    for step in progress(range(start, steps), total=max(steps - start, 0), desc="train"):
        try:
            x, y = next(it)
        except StopIteration:
            it = iter(loader)
            x, y = next(it)
        losses.append(train_step(x.to(dev), y.to(dev)).item())
        sched.step()
        if (step + 1) % 100 == 0 or step == steps - 1:
            save_checkpoint(ckpt, model=model.state_dict(), opt=opt.state_dict(), sched=sched.state_dict(),
                            step=step, losses=losses, vocab="".join(ds.vocab), rng=torch.get_rng_state())
    print(f"loss {losses[0]:.3f} -> {sum(losses[-20:]) / len(losses[-20:]):.3f}")
    clone = GPT(len(ds.vocab)).to(dev)
    clone.load_state_dict(load_checkpoint(ckpt, map_location=dev)["model"])
    clone.eval()
    start_tok = torch.tensor([[ds.stoi["T"]]], device=dev)
    sample = clone.generate(start_tok, 20 if args.tiny else 120, pad=ds.stoi[" "])[0].tolist()
    print(repr("".join(ds.vocab[i] for i in sample)))
    plot_losses(losses, os.path.join(out_dir(), "char_gpt_loss.png"), "char-level GPT (jtorch, compiled)")
    assert sum(losses[-10:]) / 10 < (0.9 if args.tiny else 0.6) * losses[0]


if __name__ == "__main__":
    main()
