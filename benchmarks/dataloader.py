"""DataLoader throughput: jtorch vs torch, side by side (CPU).

    python benchmarks/dataloader.py [--items 512] [--ms 2.0] [--workers 0 1 2] [--batch 32]

The dataset's __getitem__ does ~`--ms` milliseconds of numpy work (a CPU-heavy transform) and
returns (float32 array[64], int label); the loader collates batches of `--batch`. Each library runs
in its own subprocess (torch's fork workers next to an initialized JAX would hang, and jtorch's
zygote should not compete with torch's workers). Reported per library and num_workers:
  first epoch  samples/s including worker start-up (iter() to the last batch)
  steady       samples/s of a second epoch with persistent_workers=True (no start-up)
and the ratio jtorch/torch. Tests never assert on time; this is for docs/data_loading.md.
"""
import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import json, sys, time
import numpy as np
lib = __import__(sys.argv[1])
from importlib import import_module
data = import_module(sys.argv[1] + ".utils.data")
items, REPS, batch = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
workers = [int(w) for w in sys.argv[5].split(",")]

class Heavy(data.Dataset):
    def __init__(self, n, reps):
        self.n, self.reps = n, reps
    def __len__(self):
        return self.n
    def __getitem__(self, i):
        a = np.random.default_rng(i).standard_normal((48, 48))
        for _ in range(self.reps):
            a = np.tanh(a @ a.T * 0.01)
        return np.resize(a[0], 64).astype(np.float32), i % 10

out = {}
for nw in workers:
    kw = dict(batch_size=batch, num_workers=nw)
    if nw:
        kw["persistent_workers"] = True
    ds = Heavy(items, REPS)
    loader = data.DataLoader(ds, **kw)
    t0 = time.perf_counter()
    n = sum(len(y) for _, y in loader)
    first = n / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    n = sum(len(y) for _, y in loader)
    steady = n / (time.perf_counter() - t0)
    out[nw] = (first, steady)
    del loader
print("RESULT " + json.dumps(out))
"""


def calibrate(ms):
    """Repetitions of the per-item numpy work that take ~ms milliseconds (measured once, here, so
    both libraries' datasets do exactly the same work)."""
    import time
    import numpy as np
    a = np.random.default_rng(0).standard_normal((48, 48))
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            a = np.tanh(a @ a.T * 0.01)
        t = time.perf_counter() - t0
        if t > 0.1:
            return max(1, int(n * ms / 1000.0 / t))
        n *= 2


def run(lib, args, reps):
    env = dict(os.environ)
    for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[v] = "1"  # the per-item work is single-threaded, as a typical transform
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, "-c", CHILD, lib, str(args.items), str(reps), str(args.batch),
                        ",".join(map(str, args.workers))], capture_output=True, text=True, env=env, timeout=1800)
    if r.returncode != 0:
        raise SystemExit(f"{lib} run failed:\n{r.stderr[-4000:]}")
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return {int(k): v for k, v in json.loads(line[7:]).items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=512)
    ap.add_argument("--ms", type=float, default=2.0)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args()
    os.environ.update({v: "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")})
    reps = calibrate(args.ms)
    t = run("torch", args, reps)
    j = run("jtorch", args, reps)
    print(f"DataLoader, {args.items} items x ~{args.ms} ms numpy work, batch {args.batch}, {os.cpu_count()} CPUs")
    print("| num_workers | torch first epoch | jtorch first epoch | ratio | torch steady | jtorch steady | ratio |")
    print("|---|---|---|---|---|---|---|")
    for nw in args.workers:
        (tf, ts), (jf, js) = t[nw], j[nw]
        print(f"| {nw} | {tf:.0f} | {jf:.0f} | {jf / tf:.2f} | {ts:.0f} | {js:.0f} | {js / ts:.2f} |")
    print("(samples/s; 'first epoch' includes worker start-up, 'steady' is a second epoch with persistent workers)")


if __name__ == "__main__":
    main()
