"""Runs in a subprocess with 8 virtual CPU devices (see test_fsdp.py): trains the same small MLP under
FSDP strategies, fully_shard, and batch-sharded plain data parallel (eager and jtorch.compile), and
writes the final weights, state_dict keys, placements and per-device bytes to a JSON file.
Usage: python fsdp_worker.py INPUT.npz OUTPUT.json   (never imports torch)."""
import contextlib
import json
import sys

import jax
import numpy as np

import jtorch as torch
import jtorch.distributed as dist
from jtorch.distributed.fsdp import (FullyShardedDataParallel as FSDP, ShardingStrategy, StateDictType,
                                     FullStateDictConfig, fully_shard, FSDPModule)
from jtorch.distributed._composable.fsdp import fully_shard as fully_shard_old_path
from jtorch.distributed.tensor import distribute_tensor, Shard, Replicate
from jtorch.distributed._sharding import per_device_bytes

STEPS = 5
data = np.load(sys.argv[1])
X, Y = torch.from_numpy(data["x"]), torch.from_numpy(data["y"])
KEYS = [k for k in data.files if k.startswith("p.")]


def make():
    m = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.Tanh(), torch.nn.Linear(32, 5))
    m.load_state_dict({k[2:]: torch.from_numpy(data[k]) for k in KEYS})
    return m


def train(model, compiled, x=X, y=Y):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)

    def step(x, y):
        loss = ((model(x) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    if compiled:
        step = torch.compile(step)
    for _ in range(STEPS):
        step(x, y)
    return opt, getattr(step, "trace_count", None)


def specs(model):
    return {n: spec(p) for n, p in model.named_parameters()}


def spec(t):
    """The PartitionSpec as a JSON list: [] replicated, ["dp"] dim 0 split over mesh axis 'dp'."""
    return list(t._value.sharding.spec) if hasattr(t._value.sharding, "spec") else "single-device"


def mesh8():
    return dist.init_device_mesh("cpu", (8,), mesh_dim_names=("dp",))


out = {"n_devices": len(jax.devices())}
cases = {
    "full_shard_eager": (lambda m: FSDP(m), False),
    "shard_grad_op_eager": (lambda m: FSDP(m, sharding_strategy=ShardingStrategy.SHARD_GRAD_OP), False),
    "no_shard_eager": (lambda m: FSDP(m, sharding_strategy=ShardingStrategy.NO_SHARD), False),
    "fully_shard_eager": (lambda m: fully_shard(m), False),
    "full_shard_compiled": (lambda m: FSDP(m, device_mesh=mesh8()), True),
    "fully_shard_compiled": (lambda m: fully_shard_old_path(m, mesh=mesh8()), True),
}
for name, (wrap, compiled) in cases.items():
    model = wrap(make())
    opt, traces = train(model, compiled)
    ctx = FSDP.state_dict_type(model, StateDictType.FULL_STATE_DICT, FullStateDictConfig()) \
        if isinstance(model, FSDP) else contextlib.nullcontext()
    with ctx:
        sd = model.state_dict()
    out[name] = {
        "keys": list(sd),
        "weights": {k: v.numpy().tolist() for k, v in sd.items()},
        "sd_devices": sorted({len(v._value.devices()) for v in sd.values()}),
        "specs": specs(model),
        "grad_specs": {n: spec(p.grad) for n, p in model.named_parameters()},
        "state_specs": sorted({tuple(spec(v)) for s in opt.state.values() for k, v in s.items() if k != "step"}),
        "traces": traces,
        "cls": type(model).__name__,
        "is_fsdp_module": isinstance(model, FSDPModule),
    }

# plain data parallel, the TPU way: replicated params, batch split over the mesh, one compiled step
mesh = mesh8()
model = make()
xs = dist.shard_batch(X, mesh)
ys = distribute_tensor(Y, mesh, [Shard(0)])
out["ddp_input_specs"] = [spec(xs), spec(ys), [str(p) for p in ys.placements]]
_, traces = train(model, True, xs, ys)
out["ddp_compiled"] = {"weights": {k: v.numpy().tolist() for k, v in model.state_dict().items()}, "traces": traces,
                       "devices": sorted({len(p._value.devices()) for p in model.parameters()})}

# parameters committed to one device (as after model.to('cuda:0')) meeting a sharded batch: replicated
# onto the mesh on first use, eagerly and inside jtorch.compile
for compiled in (False, True):
    model = make()
    for p in model.parameters():
        p._data = jax.device_put(p._value, jax.devices()[0])
    train(model, compiled, xs, ys)
    out[f"committed_{'compiled' if compiled else 'eager'}"] = {
        "weights": {k: v.numpy().tolist() for k, v in model.state_dict().items()},
        "devices": sorted({len(p._value.devices()) for p in model.parameters()})}

# per-device memory: a model whose dims divide by 8, unsharded vs FULL_SHARD (params and AdamW state)
def mem(sharded):
    m = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 64))
    if sharded:
        m = FSDP(m)
    opt, _ = train_one(m)
    return (per_device_bytes([p._value for p in m.parameters()]),
            per_device_bytes([v._value for s in opt.state.values() for k, v in s.items() if k != "step"]))


def train_one(m):
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    m(torch.randn(16, 64)).sum().backward()
    opt.step()
    return opt, None


out["mem_1"], out["mem_8"] = mem(False), mem(True)

# loading a checkpoint with the unwrapped keys keeps the sharded placement
model = FSDP(make())
model.load_state_dict({k[2:]: torch.from_numpy(data[k]) * 2 for k in KEYS})
out["loaded"] = {"specs": specs(model), "w0": model.state_dict()["0.weight"].numpy().tolist()}

# DTensor placements
t = torch.arange(48, dtype=torch.float32).reshape(8, 6)
d = distribute_tensor(t, mesh, [Shard(1)])      # 6 does not divide by 8: kept whole
r = distribute_tensor(t, mesh, [Replicate()])
s = distribute_tensor(t, mesh, [Shard(0)])
out["dtensor"] = {"shard0_spec": spec(s), "shard1_spec": spec(d), "rep_spec": spec(r),
                  "full": s.full_tensor().numpy().tolist(),
                  "local_shape": list(s.to_local().shape), "sum": float((s * 2 + r).sum())}
try:
    dist.shard_batch(torch.ones(8, 2, requires_grad=True), mesh)
    out["shard_batch_rg"] = None
except RuntimeError as e:
    out["shard_batch_rg"] = type(e).__name__

with open(sys.argv[2], "w") as f:
    json.dump(out, f)
