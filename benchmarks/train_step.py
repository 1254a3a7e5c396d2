"""ms per training step, side by side: jtorch eager, jtorch.compile, torch eager, torch.compile, and the
same model hand-written in Flax (linen) + optax with the whole step in one jax.jit.

    python benchmarks/train_step.py                       # mlp, cnn, gpt on the CPU
    python benchmarks/train_step.py --models gpt --impls jtorch_compiled,flax --steps 20
    python benchmarks/train_step.py --gpt2-small --device cuda --bf16 --models gpt   # the GPU check

Models (issue 6): (a) MLP 784-1024-1024-10, batch 256; (b) CNN with BatchNorm on 3x32x32, batch 128;
(c) GPT, 4 layers, d=256, 4 heads, seq 128, vocab 512, batch 16 (--gpt2-small: 12 layers, d=768, 12
heads, seq 1024, vocab 50304, batch 8). AdamW everywhere (torch's defaults). Reported: the median
ms per step after warm-up (each step synchronised by reading the loss), and the time of the first
calls (tracing + compilation).
"""
import argparse
import math
import statistics
import sys
import time

import numpy as np

# ----------------------------------------------------------------------------------- configs
CFG = {
    "mlp": dict(batch=256),
    "cnn": dict(batch=128),
    "gpt": dict(batch=16, seq=128, vocab=512, d=256, heads=4, layers=4),
}
GPT2_SMALL = dict(batch=8, seq=1024, vocab=50304, d=768, heads=12, layers=12)


# ------------------------------------------------------------------- torch-style models (both libs)
def build_torch_style(lib, name, cfg):
    nn, F = lib.nn, lib.nn.functional
    if name == "mlp":
        return nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10))
    if name == "cnn":
        return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(64 * 8 * 8, 10))
    d, h, L, V, T = cfg["d"], cfg["heads"], cfg["layers"], cfg["vocab"], cfg["seq"]

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

        def forward(self, x):
            B, T_, C = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
            q, k, v = (t.view(B, T_, h, C // h).transpose(1, 2) for t in (q, k, v))
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(a.transpose(1, 2).reshape(B, T_, C))
            return x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate="tanh"))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok, self.pos = nn.Embedding(V, d), nn.Embedding(T, d)
            self.blocks = nn.ModuleList([Block() for _ in range(L)])
            self.ln, self.head = nn.LayerNorm(d), nn.Linear(d, V, bias=False)

        def forward(self, idx):
            B, T_ = idx.shape
            x = self.tok(idx) + self.pos(lib.arange(T_, device=idx.device))
            for b in self.blocks:
                x = b(x)
            return self.head(self.ln(x))

    return GPT()


def make_batch(name, cfg, seed=0):
    rng = np.random.default_rng(seed)
    B = cfg["batch"]
    if name == "mlp":
        return rng.standard_normal((B, 784), dtype=np.float32), rng.integers(0, 10, B)
    if name == "cnn":
        return rng.standard_normal((B, 3, 32, 32), dtype=np.float32), rng.integers(0, 10, B)
    return rng.integers(0, cfg["vocab"], (B, cfg["seq"])), rng.integers(0, cfg["vocab"], (B, cfg["seq"]))


def torch_style_step(lib, name, cfg, compiled, device, bf16):
    lib.manual_seed(0)
    model = build_torch_style(lib, name, cfg).to(device)
    opt = lib.optim.AdamW(model.parameters(), lr=1e-3)
    x, y = make_batch(name, cfg)
    x, y = lib.from_numpy(x).to(device), lib.from_numpy(y).to(device)
    F = lib.nn.functional

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        with lib.autocast(device_type=device, dtype=lib.bfloat16, enabled=bf16):
            out = model(x)
            loss = F.cross_entropy(out.reshape(-1, out.shape[-1]).float(), y.reshape(-1))
        loss.backward()
        opt.step()
        return loss

    f = lib.compile(step) if compiled else step
    return lambda: float(f(x, y))


# ------------------------------------------------------------------------------- flax + optax
def flax_step(name, cfg, bf16):
    import jax
    import jax.numpy as jnp
    import flax.linen as fnn
    import optax

    cdt = jnp.bfloat16 if bf16 else jnp.float32
    if name == "mlp":
        class M(fnn.Module):
            @fnn.compact
            def __call__(self, x, train=True):
                x = fnn.relu(fnn.Dense(1024, dtype=cdt)(x))
                x = fnn.relu(fnn.Dense(1024, dtype=cdt)(x))
                return fnn.Dense(10, dtype=cdt)(x)
    elif name == "cnn":
        class M(fnn.Module):
            @fnn.compact
            def __call__(self, x, train=True):
                x = jnp.transpose(x, (0, 2, 3, 1))
                for c in (32, 64):
                    x = fnn.Conv(c, (3, 3), padding=1, dtype=cdt)(x)
                    x = fnn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, dtype=cdt)(x)
                    x = fnn.max_pool(fnn.relu(x), (2, 2), (2, 2))
                x = jnp.transpose(x, (0, 3, 1, 2)).reshape(x.shape[0], -1)
                return fnn.Dense(10, dtype=cdt)(x)
    else:
        d, h, L, V, T = cfg["d"], cfg["heads"], cfg["layers"], cfg["vocab"], cfg["seq"]

        class Block(fnn.Module):
            @fnn.compact
            def __call__(self, x):
                B, T_, C = x.shape
                y = fnn.LayerNorm(epsilon=1e-5, dtype=cdt)(x)
                q, k, v = jnp.split(fnn.Dense(3 * C, dtype=cdt)(y), 3, axis=-1)
                q, k, v = (t.reshape(B, T_, h, C // h) for t in (q, k, v))
                a = jax.nn.dot_product_attention(q, k, v, is_causal=True)
                x = x + fnn.Dense(C, dtype=cdt)(a.reshape(B, T_, C))
                y = fnn.LayerNorm(epsilon=1e-5, dtype=cdt)(x)
                return x + fnn.Dense(C, dtype=cdt)(fnn.gelu(fnn.Dense(4 * C, dtype=cdt)(y)))

        class M(fnn.Module):
            @fnn.compact
            def __call__(self, idx, train=True):
                B, T_ = idx.shape
                x = fnn.Embed(V, d)(idx) + fnn.Embed(T, d)(jnp.arange(T_))[None]
                for _ in range(L):
                    x = Block()(x)
                return fnn.Dense(V, use_bias=False, dtype=cdt)(fnn.LayerNorm(epsilon=1e-5, dtype=cdt)(x))

    m = M()
    x, y = make_batch(name, cfg)
    x, y = jnp.asarray(x), jnp.asarray(y)
    variables = m.init(jax.random.PRNGKey(0), x)
    params = variables["params"]
    batch_stats = variables.get("batch_stats", {})
    tx = optax.adamw(1e-3, b1=0.9, b2=0.999, eps=1e-8, weight_decay=1e-2)  # torch's AdamW defaults
    opt_state = tx.init(params)

    def loss_fn(params, batch_stats, x, y):
        if batch_stats:
            out, upd = m.apply({"params": params, "batch_stats": batch_stats}, x, mutable=["batch_stats"])
            batch_stats = upd["batch_stats"]
        else:
            out = m.apply({"params": params}, x)
        out = out.reshape(-1, out.shape[-1]).astype(jnp.float32)
        return optax.softmax_cross_entropy_with_integer_labels(out, y.reshape(-1)).mean(), batch_stats

    @jax.jit
    def step(params, batch_stats, opt_state, x, y):
        (loss, batch_stats), g = jax.value_and_grad(loss_fn, has_aux=True)(params, batch_stats, x, y)
        upd, opt_state = tx.update(g, opt_state, params)
        return optax.apply_updates(params, upd), batch_stats, opt_state, loss

    step = jax.jit(step.__wrapped__ if hasattr(step, "__wrapped__") else step, donate_argnums=(0, 1, 2))
    st = [params, batch_stats, opt_state]

    def run():
        st[0], st[1], st[2], loss = step(st[0], st[1], st[2], x, y)
        return float(loss)
    return run


# ------------------------------------------------------------------------------------ driver
def flops_per_step(name, cfg):
    if name != "gpt":
        return None
    d, L, V, T, B = cfg["d"], cfg["layers"], cfg["vocab"], cfg["seq"], cfg["batch"]
    n_params = L * 12 * d * d + V * d
    return 6 * n_params * B * T + 12 * L * B * T * T * d  # 6N per token + attention (fwd+bwd)


def measure(make, steps, warmup):
    t0 = time.perf_counter()
    run = make()
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    run()
    first = time.perf_counter() - t0 + t_build
    t0 = time.perf_counter()
    for _ in range(warmup):
        run()
    second = (time.perf_counter() - t0) / max(warmup, 1)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3, first, second


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="mlp,cnn,gpt")
    ap.add_argument("--impls", default="jtorch_eager,jtorch_compiled,torch_eager,torch_compile,flax")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--bf16", action="store_true", help="autocast bf16 (torch, jtorch) / bf16 compute (flax)")
    ap.add_argument("--gpt2-small", action="store_true")
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    ap.add_argument("--peak-tflops", type=float, default=0.0, help="for MFU (H100 SXM bf16 dense: 989)")
    a = ap.parse_args(argv)
    if a.gpt2_small:
        CFG["gpt"] = GPT2_SMALL
    rows = []
    for name in a.models.split(","):
        cfg = CFG[name]
        for impl in a.impls.split(","):
            if impl.startswith("jtorch"):
                import jtorch
                make = (lambda impl=impl, name=name: torch_style_step(jtorch, name, cfg, impl == "jtorch_compiled",
                                                                     a.device, a.bf16))
            elif impl.startswith("torch"):
                import torch
                if a.threads:
                    torch.set_num_threads(a.threads)
                make = (lambda impl=impl, name=name: torch_style_step(torch, name, cfg, impl == "torch_compile",
                                                                     a.device, a.bf16))
            elif impl == "flax":
                make = lambda name=name: flax_step(name, cfg, a.bf16)  # noqa: E731
            else:
                raise SystemExit(f"unknown impl {impl}")
            try:
                ms, first, second = measure(make, a.steps, a.warmup)
                rows.append((name, impl, ms, first, second))
            except Exception as e:  # noqa: BLE001  (torch.compile needs a C++ toolchain on the CPU...)
                rows.append((name, impl, float("nan"), float("nan"), float("nan")))
                print(f"# {name}/{impl} failed: {type(e).__name__}: {str(e).splitlines()[0][:200]}", file=sys.stderr)
            r = rows[-1]
            print(f"# {r[0]:4s} {r[1]:16s} {r[2]:9.2f} ms/step  first call {r[3]:7.2f} s", flush=True)
    print()
    print(f"| model | impl | ms/step (median) | x torch eager | x flax | first call (s) | 2nd call (s) |"
          + (" tokens/s | MFU |" if a.peak_tflops else ""))
    print("|---|---|---|---|---|---|---|" + ("---|---|" if a.peak_tflops else ""))
    for name, impl, ms, first, second in rows:
        te = next((r[2] for r in rows if r[0] == name and r[1] == "torch_eager"), float("nan"))
        fx = next((r[2] for r in rows if r[0] == name and r[1] == "flax"), float("nan"))
        line = (f"| {name} | {impl} | {ms:.2f} | {ms / te:.2f} | {ms / fx:.2f} | {first:.1f} | {second:.2f} |")
        if a.peak_tflops:
            c = CFG[name]
            tok = c["batch"] * c.get("seq", 1) / (ms / 1e3)
            fl = flops_per_step(name, c)
            mfu = fl / (ms / 1e3) / (a.peak_tflops * 1e12) if fl else float("nan")
            line += f" {tok:,.0f} | {mfu:.1%} |"
        print(line)
    return rows


if __name__ == "__main__":
    main()
