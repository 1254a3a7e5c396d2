"""Forward + backward of each major nn layer family: jtorch (eager and jtorch.compile) vs torch eager, CPU.

    python benchmarks/nn_layers.py [--steps 20] [--layers Linear,Conv2d,...] [--threads 1]

Each layer is built in torch, its state_dict copied into the same jtorch layer, and one step is
`layer(x)` -> weighted sum -> `.backward()`, synchronised by reading the loss. Prints the median
time per step (ms) of torch eager, jtorch eager (one cached jitted kernel per op) and jtorch.compile
(forward + backward as one XLA program), the ratios to torch, and the first-call time of each jtorch
mode (tracing + XLA compilation). Small shapes: a quick run, not a throughput study.
"""
import argparse
import statistics
import time

import numpy as np


def layers(nn):
    """name -> (build layer, input shapes, integer input?)"""
    return {
        "Linear": (lambda: nn.Linear(512, 512), (64, 512), False),
        "Conv2d": (lambda: nn.Conv2d(16, 32, 3, padding=1), (8, 16, 32, 32), False),
        "LSTM": (lambda: nn.LSTM(64, 128, num_layers=2, batch_first=True), (8, 32, 64), False),
        "MultiheadAttention": (lambda: nn.MultiheadAttention(128, 4, batch_first=True), (8, 64, 128), False),
        "LayerNorm": (lambda: nn.LayerNorm(512), (64, 64, 512), False),
        "Embedding": (lambda: nn.Embedding(10000, 256), (64, 64), True),
    }


def _forward(name, layer, x):
    if name == "LSTM":
        return layer(x)[0]
    if name == "MultiheadAttention":
        return layer(x, x, x, need_weights=False)[0]
    return layer(x)


def make_step(lib, name, layer, x, w):
    def step():
        for p in layer.parameters():
            p.grad = None
        if x.is_floating_point():
            x.grad = None
        loss = (_forward(name, layer, x) * w).sum()
        loss.backward()
        return loss
    return step


def timed(step, steps):
    t0 = time.perf_counter()
    float(step().detach())                   # first call: tracing/compilation included
    first = time.perf_counter() - t0
    for _ in range(2):
        float(step().detach())
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        float(step().detach())
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3, first


def bench(name, steps):
    import torch
    import jtorch
    torch.manual_seed(0)
    build_t, shape, integer = layers(torch.nn)[name]
    build_j, _, _ = layers(jtorch.nn)[name]
    tl, jl = build_t(), build_j()
    jl.load_state_dict({k: jtorch.from_numpy(v.detach().numpy().copy()) for k, v in tl.state_dict().items()})
    rng = np.random.default_rng(0)
    xn = rng.integers(0, 10000, shape) if integer else rng.standard_normal(shape).astype(np.float32)
    tx, jx = torch.from_numpy(xn), jtorch.from_numpy(xn)
    if not integer:
        tx.requires_grad_(True)
        jx.requires_grad_(True)
    out_shape = tuple(_forward(name, tl, tx).shape)
    wn = rng.standard_normal(out_shape).astype(np.float32)
    row = {"torch": timed(make_step(torch, name, tl, tx, torch.from_numpy(wn)), steps)}
    row["jtorch eager"] = timed(make_step(jtorch, name, jl, jx, jtorch.from_numpy(wn)), steps)
    row["jtorch compiled"] = timed(jtorch.compile(make_step(jtorch, name, jl, jx, jtorch.from_numpy(wn))), steps)
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--layers", default="Linear,Conv2d,LSTM,MultiheadAttention,LayerNorm,Embedding")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    print("| layer | torch eager ms | jtorch eager ms (× torch) | jtorch compiled ms (× torch) "
          "| first call eager / compiled (s) |")
    print("|---|---|---|---|---|")
    for name in args.layers.split(","):
        r = bench(name, args.steps)
        t = r["torch"][0]
        e, c = r["jtorch eager"], r["jtorch compiled"]
        print(f"| {name} | {t:.2f} | {e[0]:.2f} ({e[0] / t:.2f}) | {c[0]:.2f} ({c[0] / t:.2f}) "
              f"| {e[1]:.1f} / {c[1]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
