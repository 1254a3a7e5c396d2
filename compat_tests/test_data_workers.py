"""DataLoader worker processes (num_workers > 0). Each test runs a script in a subprocess with a
timeout, so a deadlock fails the test instead of blocking CI. One script runs as a file WITHOUT an
`if __name__ == '__main__'` guard (a worker must never re-execute it), the other with the guard
through runpy (as tools/swap_torch_imports.py runs the seed examples); their datasets call jtorch
inside __getitem__ (JAX in the workers). The same dataset code runs under real torch's DataLoader
(in a torch-only subprocess: torch's fork workers next to JAX would hang) as the oracle for batch
contents and order."""
import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Written once, run with LIB = torch (the oracle) and LIB = jtorch.
COMMON = """
import json, os, sys, time, collections
import numpy as np
import {lib} as torch
from {lib}.utils.data import Dataset, IterableDataset, DataLoader, get_worker_info
print("BODY", flush=True)  # a worker that re-ran this script would print it again
Point = collections.namedtuple("Point", "x y")

class ToyDs(Dataset):  # the seed example's dataset, smaller: jtorch ops inside __getitem__
    def __init__(self):
        g = torch.Generator().manual_seed(1)
        self.x = torch.arange(60, dtype=torch.float32).reshape(12, 5) * 0.25
        self.y = self.x[:, :3].argmax(dim=1)
    def __len__(self): return 12
    def __getitem__(self, idx):
        return self.x[idx] * 2, self.y[idx].item()

class Cheap(Dataset):  # no tensor ops per item
    def __len__(self): return 12
    def __getitem__(self, idx):
        return np.full((5,), idx * 0.25, np.float32), idx % 3

class Split(IterableDataset):  # torch's documented pattern: each worker takes its share
    def __init__(self, n): self.n = n
    def __iter__(self):
        wi = get_worker_info()
        if wi is None:
            return iter(range(self.n))
        return iter(range(wi.id, self.n, wi.num_workers))

class Info(Dataset):
    tag = -1
    def __len__(self): return 4
    def __getitem__(self, i):
        wi = get_worker_info()
        return {{"i": i, "id": wi.id, "nw": wi.num_workers, "seed": wi.seed, "np": int(np.random.randint(1 << 30)),
                "pid": os.getpid(), "p": Point(i, float(i)), "tag": self.tag,
                "jax": os.environ.get("JAX_PLATFORMS", "") if "jtorch" in sys.modules else "cpu"}}

def init_fn(wid):
    get_worker_info().dataset.tag = wid * 10

def flat(batches):
    return [[t.tolist() if hasattr(t, "tolist") else t for t in b] if isinstance(b, list) else
            (b.tolist() if hasattr(b, "tolist") else b) for b in batches]

res = {{}}
res["toy"] = flat(DataLoader(ToyDs(), batch_size=5, num_workers=4))
res["cheap"] = flat(DataLoader(Cheap(), batch_size=5, num_workers=2))
res["cheap_dtypes"] = [str(t.dtype) for t in next(iter(DataLoader(Cheap(), batch_size=5)))]
res["split"] = flat(DataLoader(Split(10), batch_size=3, num_workers=2))
res["split_drop"] = flat(DataLoader(Split(11), batch_size=3, num_workers=2, drop_last=True))
res["len"] = [len(DataLoader(ToyDs(), batch_size=5, num_workers=2)), len(DataLoader(ToyDs(), batch_size=5, num_workers=2, drop_last=True))]
info = list(DataLoader(Info(), batch_size=None, num_workers=2, worker_init_fn=init_fn))
res["init_fn"] = [r["tag"] for r in info]
res["jax_platform_in_worker"] = [r["jax"] for r in info]
res["info_ids"] = [r["id"] for r in info]
res["info_nw"] = [r["nw"] for r in info]
res["info_seed_step"] = info[1]["seed"] - info[0]["seed"]
res["info_np_differ"] = info[0]["np"] != info[1]["np"]
res["info_pid_not_main"] = all(r["pid"] != os.getpid() for r in info)
res["point_type"] = all(type(r["p"]) is Point for r in info)
# same generator seed -> same shuffled order with or without workers, and the same worker seeds
# (the values differ between torch and jtorch: their random streams differ; these properties do not)
def gen(seed):
    return torch.Generator().manual_seed(seed)
sh = [flat(DataLoader(Cheap(), batch_size=5, shuffle=True, num_workers=nw, generator=gen(5))) for nw in (0, 2)]
order = [r[0] for b in sh[0] for r in b[0]]
res["shuffle_generator_workers"] = sh[0] == sh[1] and order != [i * 0.25 for i in range(12)]
seeds = [[r["seed"] for r in DataLoader(Info(), batch_size=None, num_workers=2, generator=gen(s))] for s in (7, 7, 8)]
res["worker_seeds_follow_generator"] = seeds[0] == seeds[1] != seeds[2]
"""

JT_EXTRA = """
import jtorch.utils.data._utils.process as P
lead = DataLoader(ToyDs(), batch_size=5, num_workers=2, persistent_workers=True, pin_memory=True)
e1 = flat(lead); it = iter(lead); pids1 = sorted(w.pid for w in it._workers); next(it)
e2 = flat(lead); pids2 = sorted(w.pid for w in lead._iterator._workers)
res["persistent"] = e1 == e2 == res["toy"] and pids1 == pids2
ilead = DataLoader(Split(10), batch_size=3, num_workers=2, persistent_workers=True)
res["persistent_iterable"] = flat(ilead) == flat(ilead) == res["split"]
unordered = flat(DataLoader(Cheap(), batch_size=5, num_workers=2, in_order=False))
res["in_order_false"] = sorted(map(str, unordered)) == sorted(map(str, res["cheap"]))
# a spawn context in this unguarded script: torch's spawned workers would re-import it and fail; jtorch's
# workers always come from its zygote, whatever the context names
res["mp_context_prefetch"] = flat(DataLoader(ToyDs(), batch_size=5, num_workers=2, multiprocessing_context="spawn",
                                             prefetch_factor=1)) == res["toy"]
res["zygote"] = P._zygote.proc.pid
print("RESULT " + json.dumps(res), flush=True)
"""

FAILURES = """
import os, signal, sys, time, gc
import jtorch as torch
from jtorch.utils.data import Dataset, DataLoader, TensorDataset
import jtorch.utils.data._utils.process as P
print("BODY", flush=True)
class Faulty(Dataset):
    def __init__(self, mode): self.mode = mode
    def __len__(self): return 40
    def __getitem__(self, i):
        if i == 6:
            if self.mode == "raise": raise ValueError(f"bad sample {{i}}")
            if self.mode == "kill": os.kill(os.getpid(), signal.SIGKILL)
            if self.mode == "sleep": time.sleep(30)
        return torch.tensor(i) * 1

def bad_init(wid): raise KeyError("init failed")
def alive(pid):
    try:
        with open(f"/proc/{{pid}}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
if __name__ == "__main__":  # run through runpy, as tools/swap_torch_imports.py does
    out = {{}}
    for mode in ("raise", "kill", "sleep"):
        try:
            for b in DataLoader(Faulty(mode), batch_size=2, num_workers=2, timeout=3 if mode == "sleep" else 0):
                pass
            out[mode] = "no error"
        except Exception as e:
            out[mode] = type(e).__name__ + ": " + str(e)
    try:
        next(iter(DataLoader(Faulty("ok"), batch_size=2, num_workers=1, worker_init_fn=bad_init)))
        out["init"] = "no error"
    except Exception as e:
        out["init"] = type(e).__name__ + ": " + str(e)
    import jtorch.utils.data.dataloader as DL
    for b in DataLoader(Faulty("ok"), batch_size=2, num_workers=2):
        pids = [w.pid for w in list(DL._live_iterators)[0]._workers]
        break  # early break: the iterator is dropped, its workers must exit
    gc.collect()  # (iterators that raised above may sit in reference cycles until a collection)
    assert not list(DL._live_iterators), "the broken-off iterator is still running"
    it = iter(DataLoader(Faulty("ok"), batch_size=2, num_workers=2))
    next(it); pids += [w.pid for w in it._workers]; del it
    deadline = time.time() + 10
    while any(alive(p) for p in pids) and time.time() < deadline:
        time.sleep(0.05)
    out["dropped_workers_alive"] = [p for p in pids if alive(p)]
    it = iter(DataLoader(Faulty("ok"), batch_size=2, num_workers=2))
    next(it)
    out["left_running"] = [w.pid for w in it._workers] + [P._zygote.proc.pid]

    # four workers running jtorch ops in __getitem__, from a guarded script (the unguarded one is test 1)
    got = [b.tolist() for b in DataLoader(Faulty("ok"), batch_size=8, num_workers=4)]
    assert got == [list(range(i, i + 8)) for i in range(0, 40, 8)], got
    td = TensorDataset(torch.arange(6).reshape(3, 2), torch.tensor([0.5, 1.5, 2.5]))
    for epoch in range(2):  # pin_memory without an accelerator: a warning, same batches
        got = [[t.tolist() for t in b] for b in DataLoader(td, batch_size=2, num_workers=2, pin_memory=True)]
        assert got == [[[[0, 1], [2, 3]], [0.5, 1.5]], [[[4, 5]], [2.5]]], got
    import json
    print("RESULT " + json.dumps(out), flush=True)
"""


def _run(tmp_path, name, source, timeout=240, runpy_main=False):
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, str(path)]
    if runpy_main:  # the way tools/swap_torch_imports.py runs a script
        cmd = [sys.executable, "-c", f"import runpy; runpy.run_path({str(path)!r}, run_name='__main__')"]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=tmp_path, env=env)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{name} hung (killed after {timeout} s); output so far:\n{e.stdout}\n{e.stderr}")
    assert r.returncode == 0, f"{name} failed:\n{r.stdout[-3000:]}\n{r.stderr[-5000:]}"
    return r


def _result(r):
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")]
    assert line, r.stdout + r.stderr
    return json.loads(line[-1][len("RESULT "):])


def _gone(pids, wait=10.0):
    def alive(pid):
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False
    deadline = time.time() + wait
    while any(alive(p) for p in pids) and time.time() < deadline:
        time.sleep(0.1)
    return [p for p in pids if alive(p)]


def test_workers_match_torch_dataloader(tmp_path):
    jt = _run(tmp_path, "jt_loader.py", COMMON.format(lib="jtorch") + JT_EXTRA)
    th = _run(tmp_path, "torch_loader.py", COMMON.format(lib="torch") + '\nprint("RESULT " + json.dumps(res))\n')
    assert jt.stdout.count("BODY") == 1, "a worker re-executed the unguarded script"
    j, t = _result(jt), _result(th)
    for key in t:
        assert j[key] == t[key], (key, j[key], t[key])
    assert j["info_ids"] == [0, 1, 0, 1] and j["info_seed_step"] == 1 and j["info_np_differ"]
    assert j["persistent"] and j["persistent_iterable"] and j["in_order_false"] and j["mp_context_prefetch"]
    assert t["shuffle_generator_workers"] and t["worker_seeds_follow_generator"]
    assert j["init_fn"] == [0, 10, 0, 10] and j["jax_platform_in_worker"] == ["cpu"] * 4
    assert not _gone([j["zygote"]]), "the worker launcher outlived the program"


def test_worker_failures_guarded_script_via_runpy(tmp_path):
    r = _run(tmp_path, "failures.py", FAILURES.format(), runpy_main=True)
    out = _result(r)
    assert r.stdout.count("BODY") == 1
    assert out["raise"].startswith("ValueError: Caught ValueError in DataLoader worker process 1.\n"
                                   "Original Traceback (most recent call last):"), out["raise"]
    assert "bad sample 6" in out["raise"] and "__getitem__" in out["raise"]
    assert out["kill"].startswith("RuntimeError: DataLoader worker (pid ") and "exited unexpectedly" in out["kill"]
    assert out["sleep"] == "RuntimeError: DataLoader timed out after 3 seconds", out["sleep"]
    assert out["init"].startswith("KeyError: Caught KeyError in DataLoader worker process 0."), out["init"]
    assert out["dropped_workers_alive"] == []
    assert not _gone(out["left_running"]), "workers outlived the program"
