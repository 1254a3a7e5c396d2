#!/usr/bin/env python3
"""A compiled small-GPT training step on 1, 2, 4, 8 virtual CPU devices in one process: the batch split
over the devices (jtorch.distributed.shard_batch), parameters FSDP-sharded (FULL_SHARD), AdamW.

Each device count runs in its own subprocess (XLA_FLAGS=--xla_force_host_platform_device_count=N must
be set before JAX starts). Reported: tokens/s (median step after warm-up) and the bytes of parameters
and of AdamW state on the most loaded device. Virtual CPU devices share the machine's cores, so
throughput is not expected to scale here; per-device memory is what must shrink ~1/N.

    python benchmarks/scaling.py [--devices 1,2,4,8] [--steps 5]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CFG = dict(batch=32, seq=64, vocab=256, d=128, heads=4, layers=2)


def build(torch):
    """The same GPT as benchmarks/gpt2_gpu.py, at CFG's (small) size."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from gpt2_gpu import build as build_gpt
    return build_gpt(torch, dict(vocab=CFG["vocab"], block=CFG["seq"], layers=CFG["layers"], heads=CFG["heads"],
                                 d=CFG["d"]))


def child(steps):
    import jax
    import jtorch as torch
    import jtorch.distributed as dist
    from jtorch.distributed.fsdp import FullyShardedDataParallel as FSDP
    from jtorch.distributed._sharding import per_device_bytes
    n = len(jax.devices())
    torch.manual_seed(0)
    mesh = dist.init_device_mesh("cpu", (n,), mesh_dim_names=("dp",))
    model = FSDP(build(torch), device_mesh=mesh)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    B, T, V = CFG["batch"], CFG["seq"], CFG["vocab"]
    idx = dist.shard_batch(torch.randint(0, V, (B, T)), mesh)
    tgt = dist.shard_batch(torch.randint(0, V, (B, T)), mesh)

    @torch.compile
    def step(idx, tgt):
        loss = torch.nn.functional.cross_entropy(model(idx).view(-1, V), tgt.view(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    t0 = time.perf_counter()
    for _ in range(2):
        step(idx, tgt).item()
    first = time.perf_counter() - t0
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step(idx, tgt).item()
        times.append(time.perf_counter() - t)
    med = statistics.median(times)
    params = list(model.parameters())
    state = [v._value for s in opt.state.values() for k, v in s.items() if k != "step"]
    return {"devices": n, "tokens_per_s": B * T / med, "ms_per_step": med * 1e3, "first_two_s": first,
            "param_bytes_per_device": per_device_bytes([p._value for p in params]),
            "optim_bytes_per_device": per_device_bytes(state),
            "param_bytes_total": sum(p.numel() * p.element_size() for p in params),
            "traces": step.trace_count}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", default="1,2,4,8")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--child", action="store_true")
    a = ap.parse_args()
    if a.child:
        print("RESULT " + json.dumps(child(a.steps)))
        return
    rows = []
    for n in [int(x) for x in a.devices.split(",")]:
        env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS=f"--xla_force_host_platform_device_count={n}",
                   PYTHONPATH=ROOT)
        r = subprocess.run([sys.executable, __file__, "--child", "--steps", str(a.steps)], env=env,
                           capture_output=True, text=True, timeout=900)
        line = [ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")]
        if r.returncode != 0 or not line:
            sys.exit(f"{n} devices failed:\n{r.stderr[-3000:]}")
        rows.append(json.loads(line[-1][len("RESULT "):]))
    print(f"small GPT {CFG}, FSDP FULL_SHARD + batch sharded, AdamW, jtorch.compile; {os.cpu_count()} CPU cores")
    print(f"{'devices':>7} {'tokens/s':>10} {'ms/step':>9} {'params/dev (KiB)':>17} {'adamw/dev (KiB)':>16} "
          f"{'vs 1 dev':>8} {'traces':>6}")
    base = rows[0]["param_bytes_per_device"] + rows[0]["optim_bytes_per_device"]
    for r in rows:
        mem = r["param_bytes_per_device"] + r["optim_bytes_per_device"]
        print(f"{r['devices']:>7} {r['tokens_per_s']:>10.0f} {r['ms_per_step']:>9.1f} "
              f"{r['param_bytes_per_device'] / 1024:>17.1f} {r['optim_bytes_per_device'] / 1024:>16.1f} "
              f"{mem / base:>8.3f} {r['traces']:>6}")


if __name__ == "__main__":
    main()
