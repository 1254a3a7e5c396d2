"""Eager forward+backward time: jtorch vs torch, side by side (CPU).

    python benchmarks/autograd_mlp.py [--steps N]

Three workloads built from plain tensor ops (no nn.Module, so only the op dispatch and the
autograd engine are measured):
  tiny:         (a * b).sum().backward() on 32x32 tensors (the per-op floor)
  mlp:          x[64,128] -> 256 -> 256 -> 10, relu, cross-entropy-like log_softmax loss
  transformer:  one pre-LN block, B=4, T=32, C=64, 4 heads: layernorm, qkv matmul, softmax
                attention with a causal mask, output projection, layernorm, 4x MLP with gelu
Prints the median time per step (µs, results waited for) of torch, of jtorch (one cached jitted
vjp per graph node) and of jtorch with the opt-in fused backward (JTORCH_FUSED_BACKWARD=1: a
graph seen 10 times runs its whole backward as one compiled program), and the ratios to torch.
"""
import argparse
import statistics
import time

import numpy as np


def build(lib, seed=0):
    rng = np.random.default_rng(seed)

    def p(*shape, scale=0.1):
        return lib.tensor(rng.standard_normal(shape).astype(np.float32) * scale, requires_grad=True)

    def x_(*shape):
        return lib.tensor(rng.standard_normal(shape).astype(np.float32))

    tiny = dict(a=p(32, 32, scale=1.0), b=p(32, 32, scale=1.0))
    mlp = dict(w1=p(128, 256), b1=p(256), w2=p(256, 256), b2=p(256), w3=p(256, 10), b3=p(10), x=x_(64, 128))
    B, T, C, H = 4, 32, 64, 4
    tf = dict(ln1w=p(C), ln1b=p(C), wqkv=p(C, 3 * C), wo=p(C, C), ln2w=p(C), ln2b=p(C),
              w1=p(C, 4 * C), w2=p(4 * C, C), x=x_(B, T, C),
              mask=lib.tensor(np.triu(np.full((T, T), -1e9, np.float32), 1)))
    return tiny, mlp, tf


def tiny_step(lib, P):
    loss = (P["a"] * P["b"]).sum()
    loss.backward()
    return loss


def mlp_step(lib, P):
    h = (P["x"] @ P["w1"] + P["b1"]).relu()
    h = (h @ P["w2"] + P["b2"]).relu()
    out = h @ P["w3"] + P["b3"]
    loss = -lib.log_softmax(out, dim=-1)[:, 0].mean()
    loss.backward()
    return loss


def layernorm(lib, x, w, b, eps=1e-5):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / lib.sqrt(var + eps) * w + b


def _gelu(lib):
    if lib.__name__ == "torch":
        return lib.nn.functional.gelu
    from jtorch._ops.registry import OPS
    return getattr(getattr(lib.nn, "functional", None), "gelu", None) or OPS["gelu"]


def tf_step(lib, P):
    x = P["x"]
    B, T, C = x.shape
    H = 4
    h = layernorm(lib, x, P["ln1w"], P["ln1b"])
    q, k, v = (h @ P["wqkv"]).split(C, dim=-1)
    q = q.reshape(B, T, H, C // H).transpose(1, 2)
    k = k.reshape(B, T, H, C // H).transpose(1, 2)
    v = v.reshape(B, T, H, C // H).transpose(1, 2)
    att = (q @ k.transpose(-2, -1)) * (1.0 / (C // H) ** 0.5) + P["mask"]
    att = lib.softmax(att, dim=-1)
    y = (att @ v).transpose(1, 2).reshape(B, T, C)
    x = x + y @ P["wo"]
    h = layernorm(lib, x, P["ln2w"], P["ln2b"])
    x = x + _gelu(lib)(h @ P["w1"]) @ P["w2"]
    loss = (x ** 2).mean()
    loss.backward()
    return loss


def _sync(params):
    """Wait for the step's results: jax dispatches asynchronously, torch does not."""
    grads = [t.grad._value for t in params.values() if getattr(t, "grad", None) is not None
             and hasattr(t.grad, "_value")]
    if grads:
        import jax
        jax.block_until_ready(grads)


def bench(fn, steps, params):
    for _ in range(12):  # warm-up: compiles every kernel (and jtorch's fused backward)
        for t in params.values():
            t.grad = None
        fn()
        _sync(params)
    times = []
    for _ in range(steps):
        for t in params.values():
            t.grad = None
        t0 = time.perf_counter()
        fn()
        _sync(params)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args()
    import torch
    import jtorch
    from jtorch.autograd import engine
    torch.set_num_threads(1)
    saved_fuse = engine._FUSE_AFTER
    rows = []
    for wi, (name, step) in enumerate([("tiny", tiny_step), ("mlp", mlp_step), ("transformer", tf_step)]):
        res = {}
        for label, lib, fuse in [("torch", torch, None), ("jtorch", jtorch, False), ("jtorch-fused", jtorch, True)]:
            if fuse is not None:
                engine._FUSE_AFTER = 10 if fuse else None
            P = build(lib)[wi]
            res[label] = bench(lambda: step(lib, P), args.steps, P)
        engine._FUSE_AFTER = saved_fuse
        # the two libraries compute the same loss on the same inputs
        lt = step(torch, build(torch)[wi]).item()
        lj = step(jtorch, build(jtorch)[wi]).item()
        assert abs(lt - lj) <= 1e-4 * max(1.0, abs(lt)), (name, lt, lj)
        rows.append((name, res["torch"], res["jtorch"], res["jtorch-fused"]))
    print(f"{'workload':<12} {'torch µs':>10} {'jtorch µs':>10} {'ratio':>7} {'fused µs':>11} {'ratio':>7}")
    for name, t, j, n in rows:
        print(f"{name:<12} {t:>10.0f} {j:>10.0f} {j / t:>6.2f}x {n:>11.0f} {n / t:>6.2f}x")


if __name__ == "__main__":
    main()
