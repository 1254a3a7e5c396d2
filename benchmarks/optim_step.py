"""One AdamW step on a ~25M-parameter model: jtorch vs torch (foreach) vs hand-written optax, side by side.

    python benchmarks/optim_step.py [--params 25] [--iters 20] [--layers 12]

Parameters are float32 matrices (layers x [d, 4d] + biases) with fixed random gradients. Reported:
median wall time of one `opt.step()` (jtorch and torch) and of one jitted optax update +
apply_updates (donated buffers, i.e. in place), each after warm-up. jax timings block on the result.
"""
import argparse
import statistics
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--params", type=float, default=25.0, help="millions of parameters")
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--skip-torch", action="store_true")
    args = ap.parse_args()
    per_layer = args.params * 1e6 / args.layers
    d = int((per_layer / 4) ** 0.5)
    shapes = [(d, 4 * d), (4 * d,)] * args.layers
    n = sum(int(np.prod(s)) for s in shapes)
    rng = np.random.default_rng(0)
    ws = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    gs = [rng.standard_normal(s).astype(np.float32) * 1e-2 for s in shapes]
    rows = []

    def bench(name, fn, sync):
        for _ in range(3):
            fn()
        sync()
        ts = []
        for _ in range(args.iters):
            t0 = time.perf_counter()
            fn()
            sync()
            ts.append(time.perf_counter() - t0)
        rows.append((name, statistics.median(ts) * 1e3))

    import jax
    import jax.numpy as jnp
    import jtorch
    dev = jax.devices()[0]
    jdev = "cuda" if dev.platform == "gpu" else "cpu"
    jp = [jtorch.tensor(w, device=jdev).requires_grad_() for w in ws]
    for p, g in zip(jp, gs):
        p.grad = jtorch.tensor(g, device=jdev)
    jo = jtorch.optim.AdamW(jp, lr=1e-3)
    bench(f"jtorch AdamW ({dev.platform})", jo.step, lambda: jp[-1]._value.block_until_ready())

    import optax
    tx = optax.adamw(1e-3, weight_decay=1e-2)
    params = [jax.device_put(w, dev) for w in ws]
    grads = [jax.device_put(g, dev) for g in gs]
    state = tx.init(params)

    @jax.jit
    def upd(params, state, grads):
        u, state = tx.update(grads, state, params)
        return optax.apply_updates(params, u), state
    upd_d = jax.jit(upd.__wrapped__ if hasattr(upd, "__wrapped__") else upd, donate_argnums=(0, 1))
    box = [params, state]

    def optax_nodonate():
        box[0], box[1] = upd(box[0], box[1], grads)
    bench(f"optax adamw, jit, no donation ({dev.platform})", optax_nodonate, lambda: box[0][-1].block_until_ready())

    def optax_step():
        box[0], box[1] = upd_d(box[0], box[1], grads)
    bench(f"optax adamw, jit + donate ({dev.platform})", optax_step, lambda: box[0][-1].block_until_ready())

    if not args.skip_torch:
        import torch
        tdev = "cuda" if torch.cuda.is_available() else "cpu"
        tp = [torch.tensor(w, device=tdev, requires_grad=True) for w in ws]
        for p, g in zip(tp, gs):
            p.grad = torch.tensor(g, device=tdev)
        sync = torch.cuda.synchronize if tdev == "cuda" else (lambda: None)
        for foreach in (True, False):
            to = torch.optim.AdamW(tp, lr=1e-3, foreach=foreach)
            bench(f"torch AdamW foreach={foreach} ({tdev})", to.step, sync)

    print(f"AdamW step, {n / 1e6:.1f}M float32 parameters in {len(shapes)} tensors, median of {args.iters}")
    base = rows[0][1]
    for name, ms in rows:
        print(f"  {name:<42s} {ms:9.2f} ms   ({ms / base:.2f}x jtorch)")


if __name__ == "__main__":
    main()
