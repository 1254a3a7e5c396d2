"""Autoregressive decoding utilities from LM inference code (HF generate() re-implementations,
nanoGPT sample.py, fairseq-style beam search) on a tiny GPT with a KV cache: causal attention over
cached keys/values grown with torch.cat, greedy decoding, temperature + top-k + top-p (nucleus)
filtering with sort / cumsum / scatter and masked_fill(-inf), repetition penalty through gather /
scatter_, sampling by inverse-CDF with numpy uniforms (so both runs draw the same tokens), beam
search over flattened (beam * vocab) scores with topk, length penalty and finished-beam handling,
and the cache's equivalence to a full recompute."""
import argparse
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class CausalSelfAttention(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.h = h
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)

    def forward(self, x, cache=None):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)
        q = q.view(B, T, self.h, C // self.h).transpose(1, 2)
        k = k.view(B, T, self.h, C // self.h).transpose(1, 2)
        v = v.view(B, T, self.h, C // self.h).transpose(1, 2)
        if cache is not None:
            pk, pv = cache
            k = torch.cat([pk, k], dim=2)
            v = torch.cat([pv, v], dim=2)
        S = k.size(2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(k.size(-1))
        # query i (absolute position S - T + i) may see keys up to its own position
        mask = torch.ones(T, S, dtype=torch.bool).tril(diagonal=S - T)
        att = att.masked_fill(~mask, float('-inf'))
        y = F.softmax(att, dim=-1) @ v
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y), (k, v)


class Block(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.attn = CausalSelfAttention(d, h)
        self.ln_2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(approximate='tanh'), nn.Linear(4 * d, d))

    def forward(self, x, cache=None):
        a, new_cache = self.attn(self.ln_1(x), cache)
        x = x + a
        return x + self.mlp(self.ln_2(x)), new_cache


class TinyGPT(nn.Module):
    def __init__(self, vocab=24, d=32, h=4, n=2, block_size=32):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(block_size, d)
        self.blocks = nn.ModuleList([Block(d, h) for _ in range(n)])
        self.ln_f = nn.LayerNorm(d)
        self.lm_head = nn.Linear(d, vocab, bias=False)

    def forward(self, idx, caches=None, start_pos=0):
        T = idx.size(1)
        pos = torch.arange(start_pos, start_pos + T, dtype=torch.long).unsqueeze(0)
        x = self.wte(idx) + self.wpe(pos)
        new_caches = []
        for i, b in enumerate(self.blocks):
            x, c = b(x, None if caches is None else caches[i])
            new_caches.append(c)
        return self.lm_head(self.ln_f(x)), new_caches


def top_k_top_p_filtering(logits, top_k=0, top_p=1.0, filter_value=-float('inf'), min_tokens_to_keep=1):
    if top_k > 0:
        top_k = min(max(top_k, min_tokens_to_keep), logits.size(-1))
        indices_to_remove = logits < torch.topk(logits, top_k)[0][..., -1, None]
        logits = logits.masked_fill(indices_to_remove, filter_value)
    if top_p < 1.0:
        sorted_logits, sorted_indices = torch.sort(logits, descending=True)
        cumulative_probs = torch.cumsum(F.softmax(sorted_logits, dim=-1), dim=-1)
        sorted_indices_to_remove = cumulative_probs > top_p
        if min_tokens_to_keep > 1:
            sorted_indices_to_remove[..., :min_tokens_to_keep] = 0
        sorted_indices_to_remove[..., 1:] = sorted_indices_to_remove[..., :-1].clone()
        sorted_indices_to_remove[..., 0] = 0
        indices_to_remove = sorted_indices_to_remove.scatter(1, sorted_indices, sorted_indices_to_remove)
        logits = logits.masked_fill(indices_to_remove, filter_value)
    return logits


def repetition_penalty(logits, input_ids, penalty):
    score = torch.gather(logits, 1, input_ids)
    score = torch.where(score < 0, score * penalty, score / penalty)
    return logits.scatter(1, input_ids, score)


def sample_inverse_cdf(probs, u):
    """Draw one token per row given uniforms u (B,): first index whose CDF exceeds u."""
    cdf = probs.cumsum(dim=-1)
    idx = torch.searchsorted(cdf, u.unsqueeze(-1).to(cdf.dtype) * cdf[:, -1:])
    return idx.clamp(max=probs.size(-1) - 1)


@torch.no_grad()
def generate(model, idx, max_new_tokens, rng, temperature=1.0, top_k=0, top_p=1.0, penalty=1.0, use_cache=True):
    logits, caches = model(idx)
    out = idx
    picked_probs = []
    for step in range(max_new_tokens):
        next_logits = logits[:, -1, :] / temperature
        if penalty != 1.0:
            next_logits = repetition_penalty(next_logits, out, penalty)
        next_logits = top_k_top_p_filtering(next_logits, top_k=top_k, top_p=top_p)
        probs = F.softmax(next_logits, dim=-1)
        u = torch.from_numpy(rng.uniform(size=probs.size(0)).astype(np.float32))
        nxt = sample_inverse_cdf(probs, u)
        picked_probs.append(probs.gather(1, nxt).squeeze(1))
        out = torch.cat((out, nxt), dim=1)
        if use_cache:
            logits, caches = model(nxt, caches, start_pos=out.size(1) - 1)
        else:
            logits, _ = model(out)
    return out, torch.stack(picked_probs, 1)


@torch.no_grad()
def beam_search(model, prompt, beam_size=3, max_len=6, length_penalty=0.8, eos=0):
    vocab = model.lm_head.out_features
    beams = prompt.repeat(beam_size, 1)
    scores = torch.zeros(beam_size)
    scores[1:] = -1e9  # only the first beam is live at the start
    finished = []
    for step in range(max_len):
        logits, _ = model(beams)
        logp = F.log_softmax(logits[:, -1], dim=-1)
        cand = (scores.unsqueeze(1) + logp).view(-1)
        top_scores, top_idx = cand.topk(2 * beam_size)
        beam_idx = torch.div(top_idx, vocab, rounding_mode='floor')
        tok_idx = top_idx % vocab
        new_beams, new_scores = [], []
        for s, b, t in zip(top_scores.tolist(), beam_idx.tolist(), tok_idx.tolist()):
            seq = torch.cat([beams[b], torch.tensor([t])])
            if t == eos:
                finished.append((s / (len(seq) ** length_penalty), seq.tolist()))
            else:
                new_beams.append(seq)
                new_scores.append(s)
            if len(new_beams) == beam_size:
                break
        beams = torch.stack(new_beams)
        scores = torch.tensor(new_scores)
    for s, b in zip(scores.tolist(), beams):
        finished.append((s / (b.size(0) ** length_penalty), b.tolist()))
    finished.sort(key=lambda x: -x[0])
    return finished[:beam_size]


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--init-state', default=None)
    parser.add_argument('--train-steps', type=int, default=15)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)
    model = TinyGPT()
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(model.state_dict(), args.init_state)

    # train briefly on a repeating pattern so the distribution is peaked
    data = torch.from_numpy(np.tile(np.arange(1, 9), 8)[None, :33].repeat(4, 0) % 24).long()
    data[1] = (data[1] + 3) % 24
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(args.train_steps):
        logits, _ = model(data[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, 24), data[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()

    prompt = torch.tensor([[1, 2, 3], [4, 5, 6]])
    with torch.no_grad():
        full, _ = model(torch.tensor([[1, 2, 3, 4, 5, 6, 7]]))
        part, caches = model(torch.tensor([[1, 2, 3, 4]]))
        step1, caches = model(torch.tensor([[5]]), caches, start_pos=4)
        step2, caches = model(torch.tensor([[6, 7]]), caches, start_pos=5)
    cache_err = max((full[:, 4] - step1[:, 0]).abs().max().item(), (full[:, 5:] - step2).abs().max().item())

    greedy, _ = generate(model, prompt, 6, np.random.RandomState(1), temperature=1e-4)
    sampled, sprobs = generate(model, prompt, 6, np.random.RandomState(2), temperature=0.8, top_k=5, top_p=0.9,
                               penalty=1.3)
    sampled_nc, sprobs_nc = generate(model, prompt, 6, np.random.RandomState(2), temperature=0.8, top_k=5, top_p=0.9,
                                     penalty=1.3, use_cache=False)
    filt = top_k_top_p_filtering(torch.tensor([[1.0, 3.0, 2.0, 0.5, 2.5]]), top_k=4, top_p=0.8)
    beams = beam_search(model, torch.tensor([1, 2, 3]))
    return {
        'losses': losses, 'cache_err_small': cache_err < 1e-5,
        'greedy': greedy.tolist(), 'sampled': sampled.tolist(), 'sampled_probs': sprobs.tolist(),
        'cache_matches_recompute': sampled.tolist() == sampled_nc.tolist(),
        'filtered': [v if math.isfinite(v) else 'inf' for v in filt[0].tolist()],
        'beam_scores': [b[0] for b in beams], 'beam_seqs': [b[1] for b in beams],
    }


if __name__ == '__main__':
    print(main())
