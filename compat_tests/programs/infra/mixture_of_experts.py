"""Sparse mixture-of-experts layer (Switch / GShard / Mixtral-style, as in many "MoE from scratch"
repos): a router with top-k gating (torch.topk + softmax over the selected logits), token routing
by index_select / index_add_ / scatter_add_, expert-capacity dropping with cumsum over a one_hot
mask, the Switch load-balancing auxiliary loss from F.one_hot and torch.bincount, router z-loss,
and a dense reference computed with gather to check the sparse dispatch."""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Expert(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.w1 = nn.Linear(dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)
        self.w3 = nn.Linear(dim, hidden, bias=False)

    def forward(self, x):  # SwiGLU
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class SparseMoE(nn.Module):
    def __init__(self, dim=16, hidden=32, num_experts=4, top_k=2):
        super().__init__()
        self.num_experts = num_experts
        self.top_k = top_k
        self.gate = nn.Linear(dim, num_experts, bias=False)
        self.experts = nn.ModuleList([Expert(dim, hidden) for _ in range(num_experts)])

    def forward(self, hidden_states):
        batch, seq, dim = hidden_states.shape
        x = hidden_states.view(-1, dim)
        router_logits = self.gate(x)
        routing_weights = F.softmax(router_logits, dim=1, dtype=torch.float)
        routing_weights, selected_experts = torch.topk(routing_weights, self.top_k, dim=-1)
        routing_weights /= routing_weights.sum(dim=-1, keepdim=True)
        routing_weights = routing_weights.to(x.dtype)

        final = torch.zeros((batch * seq, dim), dtype=x.dtype, device=x.device)
        # (num_experts, top_k, tokens) mask, as in HF Mixtral
        expert_mask = F.one_hot(selected_experts, num_classes=self.num_experts).permute(2, 1, 0)
        for e in range(self.num_experts):
            idx, top_x = torch.where(expert_mask[e])
            if top_x.numel() == 0:
                continue
            current = x[None, top_x].reshape(-1, dim)
            current = self.experts[e](current) * routing_weights[top_x, idx, None]
            final.index_add_(0, top_x, current.to(x.dtype))
        return final.reshape(batch, seq, dim), router_logits, selected_experts


def load_balancing_loss(router_logits, selected_experts, num_experts, top_k):
    """Switch-Transformer auxiliary loss: N * sum_e f_e * P_e."""
    probs = F.softmax(router_logits, dim=-1)
    expert_mask = F.one_hot(selected_experts, num_experts).float()      # tokens, k, E
    tokens_per_expert = expert_mask.mean(dim=0)                          # k, E
    router_prob_per_expert = probs.mean(dim=0)                           # E
    return num_experts * torch.sum(tokens_per_expert * router_prob_per_expert.unsqueeze(0))


def router_z_loss(router_logits):
    return torch.logsumexp(router_logits, dim=-1).pow(2).mean()


class SwitchTop1(nn.Module):
    """Top-1 routing with expert capacity: overflowing tokens are dropped (pass through)."""

    def __init__(self, dim=16, hidden=32, num_experts=4, capacity_factor=1.0):
        super().__init__()
        self.num_experts = num_experts
        self.capacity_factor = capacity_factor
        self.router = nn.Linear(dim, num_experts)
        self.experts = nn.ModuleList([nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, dim))
                                      for _ in range(num_experts)])

    def forward(self, x):
        tokens = x.shape[0]
        capacity = int(self.capacity_factor * tokens / self.num_experts)
        probs = torch.softmax(self.router(x), dim=-1)
        gate, expert_idx = probs.max(dim=-1)
        mask = F.one_hot(expert_idx, self.num_experts)
        position = torch.cumsum(mask, dim=0) * mask            # 1-based slot inside each expert
        keep = (position.sum(dim=-1) <= capacity) & (position.sum(dim=-1) > 0)
        out = x.clone()
        counts = torch.bincount(expert_idx[keep], minlength=self.num_experts)
        for e in range(self.num_experts):
            sel = torch.nonzero((expert_idx == e) & keep, as_tuple=False).squeeze(-1)
            if sel.numel() == 0:
                continue
            h = self.experts[e](torch.index_select(x, 0, sel))
            scaled = h * gate.index_select(0, sel).unsqueeze(-1)
            out = out.index_copy(0, sel, scaled)
        dropped = (~keep).sum()
        return out, probs, expert_idx, counts, dropped


class MoEClassifier(nn.Module):
    def __init__(self, vocab=24, dim=16, n_classes=3):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.norm = nn.LayerNorm(dim)
        self.moe = SparseMoE(dim)
        self.head = nn.Linear(dim, n_classes)

    def forward(self, ids):
        h = self.emb(ids)
        moe_out, logits, sel = self.moe(self.norm(h))
        h = h + moe_out
        return self.head(h.mean(dim=1)), logits, sel


def dense_reference(moe, x):
    """Every expert on every token, combined with scatter of the top-k weights into a dense (T, E)."""
    flat = x.view(-1, x.shape[-1])
    probs = F.softmax(moe.gate(flat), dim=-1)
    w, sel = probs.topk(moe.top_k, dim=-1)
    w = w / w.sum(-1, keepdim=True)
    dense_w = torch.zeros_like(probs).scatter(1, sel, w)
    all_out = torch.stack([exp(flat) for exp in moe.experts], dim=1)    # T, E, D
    return (dense_w.unsqueeze(-1) * all_out).sum(1).view_as(x), torch.gather(probs, 1, sel)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--init-state', default=None)
    parser.add_argument('--steps', type=int, default=8)
    parser.add_argument('--aux-weight', type=float, default=0.01)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)

    model = MoEClassifier()
    switch = SwitchTop1()
    if args.init_state:
        if os.path.exists(args.init_state):
            st = torch.load(args.init_state)
            model.load_state_dict(st['model'])
            switch.load_state_dict(st['switch'])
        else:
            torch.save({'model': model.state_dict(), 'switch': switch.state_dict()}, args.init_state)

    ids = torch.from_numpy(rng.randint(0, 24, size=(16, 6)).astype(np.int64))
    labels = (ids[:, 0] % 3).long()

    # sparse dispatch == dense reference
    with torch.no_grad():
        h = model.norm(model.emb(ids))
        sparse_out, _, _ = model.moe(h)
        dense_out, gathered = dense_reference(model.moe, h)
    dispatch_err = (sparse_out - dense_out).abs().max().item()

    opt = torch.optim.AdamW(model.parameters(), lr=5e-3)
    losses, aux_losses, z_losses, usage = [], [], [], []
    for step in range(args.steps):
        logits, router_logits, sel = model(ids)
        ce = F.cross_entropy(logits, labels)
        aux = load_balancing_loss(router_logits, sel, 4, 2)
        z = router_z_loss(router_logits)
        loss = ce + args.aux_weight * aux + 1e-3 * z
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(ce.item())
        aux_losses.append(aux.item())
        z_losses.append(z.item())
        usage.append(torch.bincount(sel.flatten(), minlength=4).tolist())
    gate_grad = model.moe.gate.weight.grad.norm().item()
    expert_grads = [e.w1.weight.grad.norm().item() if e.w1.weight.grad is not None else 0.0
                    for e in model.moe.experts]

    # switch layer with capacity
    xs = torch.from_numpy(rng.normal(size=(20, 16)).astype(np.float32))
    out, probs, eidx, counts, dropped = switch(xs)
    out.pow(2).mean().backward()
    switch_grad = switch.router.weight.grad.norm().item()
    frac = F.one_hot(eidx, 4).float().mean(0)
    aux_switch = 4 * (frac * probs.mean(0)).sum()
    return {
        'dispatch_err_small': dispatch_err < 1e-5,
        'gathered_sum': gathered.sum().item(),
        'losses': losses, 'aux_losses': aux_losses, 'z_losses': z_losses,
        'usage': usage, 'gate_grad': gate_grad, 'expert_grads': expert_grads,
        'switch_out': out.sum().item(), 'switch_counts': counts.tolist(), 'dropped': dropped.item(),
        'switch_grad': switch_grad, 'aux_switch': aux_switch.item(),
    }


if __name__ == '__main__':
    print(main())
