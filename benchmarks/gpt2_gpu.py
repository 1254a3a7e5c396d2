#!/usr/bin/env python3
"""GPT-2-small bf16 training step on one GPU: jtorch compiled vs torch.compile vs hand-written JAX+optax.

The model source is written once against a torch-like module (`build(torch_like)`), so jtorch and
torch run literally the same model code. Prints tokens/s and MFU (6*N + 12*L*T*d flops per token,
against the GPU's dense bf16 peak). Usage: python benchmarks/gpt2_gpu.py [--steps 20] [--which jtorch,torch,jax]"""
import argparse
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

CFG = dict(vocab=50304, block=1024, layers=12, heads=12, d=768)
PEAK = {"H100": 989e12, "H200": 989e12, "A100": 312e12}


def build(torch, cfg=None):
    """The GPT-2 model (CFG, or another size: keys vocab, block, layers, heads, d)."""
    nn, F = torch.nn, torch.nn.functional

    class Block(nn.Module):
        def __init__(self, d, h):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.fc, self.out = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
            self.h = h

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
            q, k, v = (t.view(B, T, self.h, C // self.h).transpose(1, 2) for t in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(y.transpose(1, 2).reshape(B, T, C))
            return x + self.out(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))

    class GPT(nn.Module):
        def __init__(self, vocab, block, layers, heads, d):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(vocab, d), nn.Embedding(block, d)
            self.blocks = nn.ModuleList([Block(d, heads) for _ in range(layers)])
            self.ln = nn.LayerNorm(d)
            self.head = nn.Linear(d, vocab, bias=False)
            self.head.weight = self.wte.weight

        def forward(self, idx):
            T = idx.shape[1]
            x = self.wte(idx) + self.wpe(torch.arange(T, device=idx.device))
            for b in self.blocks:
                x = b(x)
            return self.head(self.ln(x))
    return GPT(**(cfg or CFG))


def n_params(model):
    seen, n = set(), 0
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            n += p.numel()
    return n


def flops_per_token(n):
    return 6 * n + 12 * CFG["layers"] * CFG["block"] * CFG["d"]


def _block(loss):
    # wait for the device: a scalar read forces the whole (asynchronously dispatched) step to finish
    float(loss.item() if hasattr(loss, "item") and not hasattr(loss, "block_until_ready") else loss)


def timed(step, steps, warmup, sync):
    for _ in range(warmup):
        _block(step())
    sync()
    t = time.perf_counter()
    for _ in range(steps):
        loss = step()
    _block(loss)
    sync()
    return (time.perf_counter() - t) / steps, loss


DEV = ["cuda"]


def run_torchlike(mod, name, B, steps, wrap_model, wrap_step, bf16=True):
    torch = mod
    torch.manual_seed(0)
    model = build(torch).to(DEV[0])
    fwd = wrap_model(model)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1, betas=(0.9, 0.95))
    x = torch.randint(0, CFG["vocab"], (B, CFG["block"]), device=DEV[0])
    y = torch.randint(0, CFG["vocab"], (B, CFG["block"]), device=DEV[0])
    amp_dev = "cuda" if DEV[0] == "cuda" else "cpu"
    F = torch.nn.functional

    def step_fn(x, y):
        with torch.autocast(amp_dev, dtype=torch.bfloat16, enabled=bf16):
            logits = fwd(x)
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss
    t0 = time.perf_counter()
    compiled = wrap_step(step_fn)
    first = compiled(x, y)
    float(first.item())
    compile_s = time.perf_counter() - t0
    sync = torch.cuda.synchronize if DEV[0] == "cuda" else (lambda: None)
    dt, loss = timed(lambda: compiled(x, y), steps, 2, sync)
    n = n_params(model)
    return dict(name=name, ms_per_step=dt * 1e3, tokens_per_s=B * CFG["block"] / dt, params=n,
                compile_s=compile_s, loss=float(loss.item()))


def run_jtorch(B, steps):
    import jtorch
    return run_torchlike(jtorch, "jtorch.compile (whole step)", B, steps, lambda m: m, jtorch.compile)


def run_jtorch_fp32(B, steps):
    import jtorch
    return run_torchlike(jtorch, "jtorch.compile (whole step), fp32", B, steps, lambda m: m, jtorch.compile,
                         bf16=False)


def run_jtorch_eager(B, steps):
    import jtorch
    return run_torchlike(jtorch, "jtorch eager", B, steps, lambda m: m, lambda f: f)


def run_torch(B, steps):
    import torch
    return run_torchlike(torch, "torch.compile (model) + eager AdamW", B, steps, torch.compile, lambda f: f)


def run_torch_eager(B, steps):
    import torch
    return run_torchlike(torch, "torch eager", B, steps, lambda m: m, lambda f: f)


def run_jax_cudnn(B, steps):
    return run_jax(B, steps, attention="cudnn")


def run_jax(B, steps, attention=None):
    import jax
    import jax.numpy as jnp
    import optax
    d, L, H, V, T = CFG["d"], CFG["layers"], CFG["heads"], CFG["vocab"], CFG["block"]
    k = jax.random.PRNGKey(0)
    ks = iter(jax.random.split(k, 8 * L + 8))
    nrm = lambda shape, s=0.02: s * jax.random.normal(next(ks), shape, jnp.float32)
    params = {"wte": nrm((V, d)), "wpe": nrm((T, d)), "lnf": (jnp.ones(d), jnp.zeros(d)), "blocks": [
        {"ln1": (jnp.ones(d), jnp.zeros(d)), "ln2": (jnp.ones(d), jnp.zeros(d)),
         "qkv": (nrm((d, 3 * d)), jnp.zeros(3 * d)), "proj": (nrm((d, d)), jnp.zeros(d)),
         "fc": (nrm((d, 4 * d)), jnp.zeros(4 * d)), "out": (nrm((4 * d, d)), jnp.zeros(d))} for _ in range(L)]}

    def ln(x, p):
        m = x.mean(-1, keepdims=True)
        v = ((x - m) ** 2).mean(-1, keepdims=True)
        return (x - m) * jax.lax.rsqrt(v + 1e-5) * p[0] + p[1]

    def lin(x, p):
        return x @ p[0].astype(jnp.bfloat16) + p[1].astype(jnp.bfloat16)

    def forward(params, idx):
        x = params["wte"][idx] + params["wpe"][:T]
        for b in params["blocks"]:
            h = ln(x, b["ln1"]).astype(jnp.bfloat16)
            q, kk, v = jnp.split(lin(h, b["qkv"]), 3, axis=-1)
            q, kk, v = (t.reshape(B, T, H, d // H) for t in (q, kk, v))
            y = jax.nn.dot_product_attention(q, kk, v, is_causal=True, implementation=attention).reshape(B, T, d)
            x = x + lin(y, b["proj"]).astype(jnp.float32)
            h = ln(x, b["ln2"]).astype(jnp.bfloat16)
            x = x + lin(jax.nn.gelu(lin(h, b["fc"]), approximate=True), b["out"]).astype(jnp.float32)
        x = ln(x, params["lnf"]).astype(jnp.bfloat16)
        return x @ params["wte"].astype(jnp.bfloat16).T

    def loss_fn(params, x, y):
        logits = forward(params, x).astype(jnp.float32)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    dev = jax.devices()[0]  # the default backend's first device (the GPU when there is one)
    params = jax.device_put(params, dev)
    tx = optax.adamw(3e-4, b1=0.9, b2=0.95, weight_decay=0.1)
    opt_state = tx.init(params)

    @jax.jit
    def step(params, opt_state, x, y):
        loss, g = jax.value_and_grad(loss_fn)(params, x, y)
        upd, opt_state = tx.update(g, opt_state, params)
        return optax.apply_updates(params, upd), opt_state, loss
    step = jax.jit(step, donate_argnums=(0, 1))
    x = jax.device_put(jax.random.randint(next(ks), (B, T), 0, V), dev)
    y = jax.device_put(jax.random.randint(next(ks), (B, T), 0, V), dev)
    state = [params, opt_state]

    def one():
        state[0], state[1], loss = step(state[0], state[1], x, y)
        return loss
    t0 = time.perf_counter()
    one().block_until_ready()
    compile_s = time.perf_counter() - t0
    dt, loss = timed(one, steps, 2, lambda: state[0]["wte"].block_until_ready())
    n = sum(p.size for p in jax.tree_util.tree_leaves(params)) - 0
    return dict(name="hand-written JAX + optax (one jit)" + (f", {attention} attention" if attention else ""), ms_per_step=dt * 1e3, tokens_per_s=B * T / dt,
                params=int(n), compile_s=compile_s, loss=float(loss))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--which", default="jax,jtorch,torch")
    ap.add_argument("--json", default=None)
    ap.add_argument("--tiny", action="store_true", help="a tiny config on the CPU (smoke test)")
    ap.add_argument("--device", default="cuda", help="cuda, or cpu to time tracing/compiling here")
    a = ap.parse_args()
    DEV[0] = a.device
    if a.tiny:
        CFG.update(vocab=128, block=32, layers=2, heads=2, d=32)
        DEV[0] = "cpu"
    import jax
    kind = jax.devices()[0].device_kind
    peak = next((v for k, v in PEAK.items() if k in kind), None)
    rows = []
    for w in a.which.split(","):
        fn = {"jtorch": run_jtorch, "torch": run_torch, "jax": run_jax, "jax_cudnn": run_jax_cudnn, "jtorch_eager": run_jtorch_eager,
              "jtorch_fp32": run_jtorch_fp32,
              "torch_eager": run_torch_eager}[w]
        try:
            r = fn(a.batch, a.steps)
        except Exception as e:  # noqa: BLE001
            import traceback
            traceback.print_exc()
            r = dict(name=w, error=f"{type(e).__name__}: {e}"[:300])
        if "tokens_per_s" in r and peak:
            r["mfu"] = r["tokens_per_s"] * flops_per_token(r["params"]) / peak
        rows.append(r)
        print(json.dumps(r), flush=True)
    print(f"\nGPT-2 small, B={a.batch} T={CFG['block']}, bf16 autocast, AdamW, on {kind}")
    print("| program | ms/step | tokens/s | MFU | compile s |")
    print("|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['name']} | error: {r['error'][:80]} | | | |")
        else:
            print(f"| {r['name']} | {r['ms_per_step']:.1f} | {r['tokens_per_s']:,.0f} | "
                  f"{r.get('mfu', float('nan')):.1%} | {r['compile_s']:.1f} |")
    if a.json:
        json.dump(rows, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
