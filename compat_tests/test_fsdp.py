"""FSDP, fully_shard and batch-sharded data parallel on 8 virtual CPU devices in one process, against
real torch trained single-device on the full batch. The pytest process has JAX initialised with one
device, so everything jtorch-side runs in ONE subprocess (fsdp_worker.py) that writes a JSON file."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
STEPS = 5


def _torch_reference(x, y):
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.Tanh(), torch.nn.Linear(32, 5))
    init = {k: v.detach().numpy().copy() for k, v in m.state_dict().items()}
    opt = torch.optim.AdamW(m.parameters(), lr=1e-2)
    X, Y = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(STEPS):
        loss = ((m(X) - Y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return m, init


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("fsdp")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 16)).astype(np.float32)
    y = rng.standard_normal((64, 5)).astype(np.float32)
    ref, init = _torch_reference(x, y)
    np.savez(d / "in.npz", x=x, y=y, **{"p." + k: v for k, v in init.items()})
    env = dict(os.environ, PYTHONPATH=ROOT, JAX_PLATFORMS="cpu",
               # 8 virtual devices on a busy 2-core CI box: a collective can wait >40 s (XLA's default
               # termination timeout, which aborts the process) for its last device thread to be scheduled
               XLA_FLAGS="--xla_force_host_platform_device_count=8 "
                         "--xla_cpu_collective_call_terminate_timeout_seconds=900 "
                         "--xla_cpu_collective_call_warn_stuck_timeout_seconds=120 "
                         "--xla_cpu_collective_timeout_seconds=900")
    r = subprocess.run([sys.executable, os.path.join(HERE, "fsdp_worker.py"), str(d / "in.npz"), str(d / "out.json")],
                       capture_output=True, text=True, timeout=240, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    return json.loads((d / "out.json").read_text()), ref, init


CASES = ["full_shard_eager", "shard_grad_op_eager", "no_shard_eager", "fully_shard_eager", "full_shard_compiled",
         "fully_shard_compiled"]


def _assert_weights(got, ref):
    want = {k: v.detach().numpy() for k, v in ref.state_dict().items()}
    assert list(got) == list(want)
    for k in want:
        np.testing.assert_allclose(np.asarray(got[k], np.float32), want[k], rtol=1e-4, atol=1e-5, err_msg=k)


@pytest.mark.parametrize("case", CASES)
def test_training_matches_single_device_torch(run, case):
    out, ref, _ = run
    assert out["n_devices"] == 8
    res = out[case]
    _assert_weights(res["weights"], ref)
    # state_dict: torch's unwrapped key names, full values gathered on one device (FULL_STATE_DICT)
    assert res["keys"] == list(ref.state_dict())
    if case.startswith("fully_shard"):
        assert res["cls"] == "FSDPSequential" and res["is_fsdp_module"]
    else:
        assert res["cls"] == "FullyShardedDataParallel" and res["sd_devices"] == [1]
    if case.endswith("compiled"):
        assert res["traces"] <= 2   # (AdamW's state made by the first step), then one program for every step


@pytest.mark.parametrize("case", CASES)
def test_placements(run, case):
    res = run[0][case]
    prefix = "" if case.startswith("fully_shard") else "_fsdp_wrapped_module."
    if case.startswith("no_shard"):
        want = {n: [] for n in res["specs"]}
        assert res["state_specs"] == [[]]
    else:
        # dim 0 of 32 divides by 8 devices: sharded; the 5-row output layer is replicated
        want = {prefix + "0.weight": ["dp"], prefix + "0.bias": ["dp"],
                prefix + "2.weight": [], prefix + "2.bias": []}
        assert res["state_specs"] == [[], ["dp"]]
    assert res["specs"] == want
    assert res["grad_specs"] == want     # gradients are reduce-scattered to their parameter's placement


def test_batch_sharded_compiled_data_parallel(run):
    out, ref, _ = run
    assert out["ddp_input_specs"] == [["dp"], ["dp"], ["Shard(dim=0)"]]
    _assert_weights(out["ddp_compiled"]["weights"], ref)
    assert out["ddp_compiled"]["traces"] <= 2
    assert out["ddp_compiled"]["devices"] == [8]


@pytest.mark.parametrize("case", ["committed_eager", "committed_compiled"])
def test_single_device_params_meet_sharded_batch(run, case):
    out, ref, _ = run
    _assert_weights(out[case]["weights"], ref)
    assert out[case]["devices"] == [8]


def test_per_device_memory_shrinks_with_devices(run):
    out = run[0]
    (p1, s1), (p8, s8) = out["mem_1"], out["mem_8"]
    full = (64 * 128 + 128 + 128 * 64 + 64) * 4
    assert p1 == full and s1 == 2 * full
    assert p8 == full // 8 and s8 == 2 * full // 8


def test_load_state_dict_keeps_sharding(run):
    out, _, init = run
    assert out["loaded"]["specs"]["_fsdp_wrapped_module.0.weight"] == ["dp"]
    np.testing.assert_allclose(out["loaded"]["w0"], init["0.weight"] * 2)


def test_dtensor_placements(run):
    d = run[0]["dtensor"]
    t = torch.arange(48, dtype=torch.float32).reshape(8, 6)
    assert d["shard0_spec"] == ["dp"]
    assert d["shard1_spec"] == []
    assert d["rep_spec"] == []
    np.testing.assert_array_equal(d["full"], t.numpy())
    assert d["local_shape"] == [1, 6]
    assert d["sum"] == float((t * 3).sum())
    assert run[0]["shard_batch_rg"] == "RuntimeError"


def test_api_names_match_torch():
    import jtorch.distributed.fsdp as jf
    import torch.distributed.fsdp as tf
    for enum in ("ShardingStrategy", "StateDictType", "BackwardPrefetch"):
        assert [m.name for m in getattr(jf, enum)] == [m.name for m in getattr(tf, enum)]
    for cfg in ("FullStateDictConfig", "ShardedStateDictConfig", "FullOptimStateDictConfig", "MixedPrecisionPolicy",
                "CPUOffload"):
        assert vars(getattr(jf, cfg)()) == vars(getattr(tf, cfg)()), cfg   # same fields and defaults
    import inspect
    tp = list(inspect.signature(tf.FullyShardedDataParallel.__init__).parameters)
    jp = list(inspect.signature(jf.FullyShardedDataParallel.__init__).parameters)
    assert jp == tp
    assert list(inspect.signature(jf.fully_shard).parameters) == list(inspect.signature(tf.fully_shard).parameters)


def test_single_device_process_trains_like_torch():
    """The usual case for an unmodified FSDP script: one device, FSDP is a no-op placement."""
    import jtorch
    from jtorch.distributed.fsdp import FullyShardedDataParallel as FSDP
    from oracle import to_j
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3))
    jm = jtorch.nn.Sequential(jtorch.nn.Linear(6, 4), jtorch.nn.ReLU(), jtorch.nn.Linear(4, 3))
    jm.load_state_dict(to_j(tm.state_dict()))
    jf = FSDP(jm)
    x = torch.randn(8, 6)
    topt, jopt = torch.optim.SGD(tm.parameters(), lr=0.1), jtorch.optim.SGD(jf.parameters(), lr=0.1)
    for _ in range(3):
        for m, opt, xi in ((tm, topt, x), (jf, jopt, to_j(x))):
            opt.zero_grad()
            m(xi).pow(2).mean().backward()
            opt.step()
    sd = jf.state_dict()
    assert list(sd) == list(tm.state_dict())
    for k, v in tm.state_dict().items():
        np.testing.assert_allclose(sd[k].numpy(), v.numpy(), rtol=1e-5, atol=1e-6)
    assert [n for n, _ in jf.named_parameters()] == ["_fsdp_wrapped_module." + n for n, _ in tm.named_parameters()]
