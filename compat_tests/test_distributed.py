"""jtorch.distributed on 2 local processes (JAX's runtime, gloo on CPU): collectives match their
definitions, DDP trains to the same weights as single-process full-batch training, a dying rank
makes the launcher fail instead of hanging."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

WORKER = textwrap.dedent(r"""
    import os, sys, json
    import numpy as np
    import jtorch as torch
    import jtorch.distributed as dist
    import jtorch.nn as nn
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    out = {"rank": rank, "world": world}
    t = torch.arange(4, dtype=torch.float32) + rank * 10
    x = t.clone(); dist.all_reduce(x); out["sum"] = x.tolist()
    x = t.clone(); dist.all_reduce(x, op=dist.ReduceOp.MAX); out["max"] = x.tolist()
    x = t.clone(); dist.all_reduce(x, op=dist.ReduceOp.AVG); out["avg"] = x.tolist()
    x = t.clone(); dist.broadcast(x, src=1); out["bcast"] = x.tolist()
    lst = [torch.zeros(4) for _ in range(world)]; dist.all_gather(lst, t); out["gather"] = [l.tolist() for l in lst]
    o = torch.zeros(8); dist.all_gather_into_tensor(o, t); out["agit"] = o.tolist()
    o = torch.zeros(2); dist.reduce_scatter_tensor(o, t); out["rs"] = o.tolist()
    o = torch.zeros(4); dist.all_to_all_single(o, t); out["a2a"] = o.tolist()
    objs = [None] * world; dist.all_gather_object(objs, {"r": rank}); out["objs"] = objs
    dist.barrier()
    # DDP: each rank trains on its half of the batch
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    with torch.no_grad():
        model.weight.copy_(torch.arange(8, dtype=torch.float32).reshape(2, 4) / 10)
        model.bias.zero_()
    ddp = nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
    X = torch.from_numpy(np.linspace(-1, 1, 32, dtype=np.float32).reshape(8, 4))
    Y = torch.from_numpy(np.linspace(1, -1, 16, dtype=np.float32).reshape(8, 2))
    xs, ys = X[rank * 4:(rank + 1) * 4], Y[rank * 4:(rank + 1) * 4]
    for _ in range(5):
        opt.zero_grad()
        ((ddp(xs) - ys) ** 2).mean().backward()
        opt.step()
    out["weight"] = model.weight.tolist()
    # FSDP with one device per process falls back to DDP-style replication: the same weights
    from jtorch.distributed.fsdp import FullyShardedDataParallel as FSDP
    fm = nn.Linear(4, 2)
    with torch.no_grad():
        fm.weight.copy_(torch.arange(8, dtype=torch.float32).reshape(2, 4) / 10)
        fm.bias.zero_()
    fsdp = FSDP(fm)
    opt = torch.optim.SGD(fsdp.parameters(), lr=0.1)
    for _ in range(5):
        opt.zero_grad()
        ((fsdp(xs) - ys) ** 2).mean().backward()
        opt.step()
    out["fsdp_weight"] = fsdp.state_dict()["weight"].tolist()
    # one file per rank: the ranks share the launcher's stdout, so printed lines can interleave
    with open(os.path.join(os.environ["RESULT_DIR"], f"rank{rank}.json"), "w") as f:
        json.dump(out, f)
    dist.destroy_process_group()
""")


def _launch(script, nproc=2, timeout=240):
    env = dict(os.environ, PYTHONPATH=ROOT, RESULT_DIR=os.path.dirname(script), JAX_PLATFORMS="cpu", JTORCH_DIST_HEARTBEAT_TIMEOUT="10",
               JTORCH_DIST_SHUTDOWN_TIMEOUT="5")
    env.pop("XLA_FLAGS", None)
    return subprocess.run([sys.executable, "-m", "jtorch.distributed.run", f"--nproc_per_node={nproc}", script],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


def test_collectives_and_ddp(tmp_path):
    import json
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    r = _launch(str(script))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    res = [json.loads((tmp_path / f"rank{i}.json").read_text()) for i in range(2)]
    assert [d["rank"] for d in res] == [0, 1]
    assert len(res) == 2
    t0, t1 = np.arange(4.0), np.arange(4.0) + 10
    for d in res:
        np.testing.assert_allclose(d["sum"], t0 + t1)
        np.testing.assert_allclose(d["max"], np.maximum(t0, t1))
        np.testing.assert_allclose(d["avg"], (t0 + t1) / 2)
        np.testing.assert_allclose(d["bcast"], t1)
        np.testing.assert_allclose(d["gather"], [t0, t1])
        np.testing.assert_allclose(d["agit"], np.concatenate([t0, t1]))
        assert d["objs"] == [{"r": 0}, {"r": 1}]
    np.testing.assert_allclose(res[0]["rs"], (t0 + t1)[:2])
    np.testing.assert_allclose(res[1]["rs"], (t0 + t1)[2:])
    np.testing.assert_allclose(res[0]["a2a"], np.concatenate([t0[:2], t1[:2]]))
    np.testing.assert_allclose(res[1]["a2a"], np.concatenate([t0[2:], t1[2:]]))
    # single-process full-batch reference with real torch
    import torch
    m = torch.nn.Linear(4, 2)
    with torch.no_grad():
        m.weight.copy_(torch.arange(8, dtype=torch.float32).reshape(2, 4) / 10)
        m.bias.zero_()
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    X = torch.from_numpy(np.linspace(-1, 1, 32, dtype=np.float32).reshape(8, 4))
    Y = torch.from_numpy(np.linspace(1, -1, 16, dtype=np.float32).reshape(8, 2))
    for _ in range(5):
        opt.zero_grad()
        ((m(X) - Y) ** 2).mean().backward()
        opt.step()
    for d in res:
        np.testing.assert_allclose(d["weight"], m.weight.detach().numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(d["fsdp_weight"], m.weight.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_dead_rank_fails_fast(tmp_path):
    script = tmp_path / "die.py"
    script.write_text(textwrap.dedent("""
        import os, sys
        import jtorch.distributed as dist
        if os.environ["RANK"] == "1":
            sys.exit(3)
        dist.init_process_group("gloo", timeout=__import__("datetime").timedelta(seconds=20))
        dist.barrier()
    """))
    r = _launch(str(script), timeout=120)
    assert r.returncode != 0


def test_single_process_defaults():
    import jtorch
    import jtorch.distributed as dist
    assert dist.is_available()
    with pytest.raises(ValueError):
        dist.get_rank()
