"""jtorch.distributed on 2 local processes (JAX's runtime, gloo on CPU): collectives match their
definitions, DDP, FSDP and fully_shard (parameters sharded across the processes) train to the same
weights as single-process full-batch training, a dying rank
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
    x = t.clone(); dist.all_reduce(x, op=dist.ReduceOp.MIN); out["min"] = x.tolist()
    x = t.clone() + 1; dist.all_reduce(x, op=dist.ReduceOp.PRODUCT); out["prod"] = x.tolist()
    x = t.clone(); w = dist.all_reduce(x, async_op=True); w.wait(); out["async_sum"] = x.tolist()
    x = t.clone(); dist.reduce(x, dst=0); out["reduce0"] = x.tolist() if rank == 0 else None
    gl = [torch.zeros(4) for _ in range(world)] if rank == 1 else None
    dist.gather(t, gl, dst=1); out["gather1"] = [g.tolist() for g in gl] if rank == 1 else None
    o = torch.zeros(4)
    dist.scatter(o, [torch.full((4,), float(i + 7)) for i in range(world)] if rank == 0 else None, src=0)
    out["scatter"] = o.tolist()
    bl = [{"k": rank}, rank * 3] ; dist.broadcast_object_list(bl, src=1); out["bobj"] = bl
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
    # gradient accumulation: the first micro-batch under no_sync() (no all-reduce), the second syncs
    model2 = nn.Linear(4, 2)
    with torch.no_grad():
        model2.weight.copy_(torch.arange(8, dtype=torch.float32).reshape(2, 4) / 10)
        model2.bias.zero_()
    ddp2 = nn.parallel.DistributedDataParallel(model2)
    opt2 = torch.optim.SGD(ddp2.parameters(), lr=0.1)
    for _ in range(5):
        opt2.zero_grad()
        with ddp2.no_sync():
            (0.5 * ((ddp2(xs[:2]) - ys[:2]) ** 2).mean()).backward()
        out.setdefault("nosync_grad", model2.weight.grad.tolist())   # local, not yet all-reduced
        (0.5 * ((ddp2(xs[2:]) - ys[2:]) ** 2).mean()).backward()
        opt2.step()
    out["weight_nosync"] = model2.weight.tolist()
    # FSDP / fully_shard across the 2 processes: parameters are global arrays sharded over both ranks'
    # devices; each rank trains on its half of the batch (an MLP with AdamW)
    from jtorch.distributed.fsdp import FullyShardedDataParallel as FSDP, fully_shard
    from jtorch.distributed._sharding import gather

    def mlp():
        m = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
        with torch.no_grad():
            for i, p in enumerate(m.parameters()):
                p.copy_(torch.from_numpy(np.cos(np.arange(p.numel(), dtype=np.float32) + i).reshape(p.shape)) / 2)
        return m

    def local_bytes(tensors):
        return sum(s.data.nbytes for t in tensors for s in t._value.addressable_shards)

    for name in ("fsdp", "fully_shard"):
        if name == "fsdp":
            fm = FSDP(mlp())
        else:
            fm = mlp()
            fully_shard(fm[0]); fully_shard(fm[2]); fully_shard(fm)
        opt = torch.optim.AdamW(fm.parameters(), lr=1e-2)
        params = list(fm.parameters())
        for step in range(4):
            opt.zero_grad()
            loss = ((fm(xs) - ys) ** 2).mean()
            loss.backward()
            if step == 0:   # the reduce-scattered gradients, gathered: the full-batch gradient (AdamW alone
                # would hide a wrong scale)
                grads0 = [np.asarray(gather(p.grad._value)).tolist() for p in params]
            opt.step()
        out[name] = {"sd": {k: v.tolist() for k, v in fm.state_dict().items()}, "loss_shape": list(loss.shape),
                     "grads0": grads0,
                     "out_shape": list(fm(xs).shape), "full_bytes": sum(p.numel() * p.element_size() for p in params),
                     "param_bytes": local_bytes(params), "grad_bytes": local_bytes([p.grad for p in params]),
                     "opt_bytes": local_bytes([v for st in opt.state.values() for k, v in st.items() if k != "step"])}
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
        np.testing.assert_allclose(d["min"], np.minimum(t0, t1))
        np.testing.assert_allclose(d["prod"], (t0 + 1) * (t1 + 1))
        np.testing.assert_allclose(d["async_sum"], t0 + t1)
        np.testing.assert_allclose(d["scatter"], np.full(4, 7.0 + d["rank"]))
        assert d["bobj"] == [{"k": 1}, 3]
    np.testing.assert_allclose(res[0]["reduce0"], t0 + t1)
    np.testing.assert_allclose(res[1]["gather1"], [t0, t1])
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
        np.testing.assert_allclose(d["weight_nosync"], m.weight.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert not np.allclose(res[0]["nosync_grad"], res[1]["nosync_grad"])   # no_sync() skipped the all-reduce
    # FSDP reference: the same MLP trained by real torch on the full batch in one process
    m = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    with torch.no_grad():
        for i, p in enumerate(m.parameters()):
            p.copy_(torch.from_numpy(np.cos(np.arange(p.numel(), dtype=np.float32) + i).reshape(p.shape)) / 2)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-2)
    for step in range(4):
        opt.zero_grad()
        ((m(X) - Y) ** 2).mean().backward()
        if step == 0:
            grads0 = [p.grad.clone() for p in m.parameters()]
        opt.step()
    for d in res:
        for name in ("fsdp", "fully_shard"):
            f = d[name]
            for got, want in zip(f["grads0"], grads0, strict=True):
                np.testing.assert_allclose(got, want.numpy(), rtol=1e-5, atol=1e-6, err_msg=f"{name} grad")
            assert sorted(f["sd"]) == sorted(m.state_dict())
            for k, v in m.state_dict().items():   # state_dict() gathers the full tensors on every rank
                np.testing.assert_allclose(f["sd"][k], v.numpy(), rtol=1e-5, atol=1e-6, err_msg=f"{name} {k}")
            assert f["out_shape"] == [4, 2] and f["loss_shape"] == []   # per-rank batch, as torch
            # each rank holds half of every parameter, gradient and AdamW moment (all dims 0 are even)
            assert f["param_bytes"] * 2 == f["full_bytes"], f
            assert f["grad_bytes"] * 2 == f["full_bytes"], f
            assert f["opt_bytes"] == f["full_bytes"], f   # exp_avg + exp_avg_sq, half each


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
