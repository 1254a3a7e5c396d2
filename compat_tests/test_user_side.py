"""The user's side: `jtorch run`, install_as_torch, utils.checkpoint, testing.assert_close,
export, profiler, backends flags — compared with torch where torch has the behaviour."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import jtorch
from oracle import to_j, assert_same

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_jtorch_run_aliases_torch_and_submodules(tmp_path):
    script = tmp_path / "s.py"
    script.write_text(textwrap.dedent("""
        import sys
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        from torch.utils.data import DataLoader, TensorDataset
        assert torch.__name__ == "jtorch", torch.__name__
        x = torch.randn(4, 3)
        m = nn.Linear(3, 2)
        print("OK", type(m).__module__, F.relu(m(x)).shape, sys.argv[1:])
    """))
    env = dict(os.environ, PYTHONPATH=ROOT)
    r = subprocess.run([sys.executable, "-m", "jtorch", "run", str(script), "--flag", "1"], capture_output=True,
                       text=True, timeout=180, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "OK jtorch.nn.modules.linear torch.Size([4, 2]) ['--flag', '1']" in r.stdout


def test_missing_module_error_says_what_to_do(tmp_path):
    script = tmp_path / "s.py"
    script.write_text("import torch._no_such_thing\n")
    r = subprocess.run([sys.executable, "-m", "jtorch", "run", str(script)], capture_output=True, text=True,
                       timeout=180, env=dict(os.environ, PYTHONPATH=ROOT))
    assert r.returncode != 0 and "not implemented" in r.stderr


def _mlp(mod):
    mod.manual_seed(0)
    return mod.nn.Sequential(mod.nn.Linear(4, 8), mod.nn.Tanh(), mod.nn.Linear(8, 2))


def test_checkpoint_gradients_equal_torch():
    tm = _mlp(torch)
    jm = _mlp(jtorch)
    jm.load_state_dict({k: to_j(v) for k, v in tm.state_dict().items()})
    x = torch.randn(3, 4, requires_grad=True)
    jx = to_j(x)
    torch.utils.checkpoint.checkpoint(tm, x, use_reentrant=False).pow(2).sum().backward()
    jtorch.utils.checkpoint.checkpoint(jm, jx, use_reentrant=False).pow(2).sum().backward()
    assert_same(jx.grad, x.grad, rtol=1e-5, atol=1e-6)
    for (n, tp), jp in zip(tm.named_parameters(), jm.parameters()):
        assert_same(jp.grad, tp.grad, rtol=1e-5, atol=1e-6, msg=n)


def test_assert_close_matches_torch_behaviour():
    for mod in (torch, jtorch):
        mod.testing.assert_close(mod.tensor([1.0, 2.0]), mod.tensor([1.0, 2.0 + 1e-7]))
        with pytest.raises(AssertionError, match="not close"):
            mod.testing.assert_close(mod.tensor([1.0, 2.0]), mod.tensor([1.0, 2.5]))
        with pytest.raises(AssertionError, match="dtype"):
            mod.testing.assert_close(mod.tensor([1.0]), mod.tensor([1.0], dtype=mod.float64))
        with pytest.raises(ValueError):
            mod.testing.assert_close(mod.tensor([1.0]), mod.tensor([1.0]), rtol=1e-3)


def test_export_roundtrip_runs_stablehlo():
    jm = _mlp(jtorch)
    x = jtorch.randn(5, 4)
    ep = jtorch.export.export(jm, (x,))
    assert "stablehlo" in ep.mlir_module() or "func.func" in ep.mlir_module()
    ep2 = jtorch.export.deserialize(ep.serialize())
    np.testing.assert_allclose(ep2(x).numpy(), jm(x).detach().numpy(), rtol=1e-6, atol=1e-6)


def test_profiler_table_and_schedule():
    jm = _mlp(jtorch)
    x = jtorch.randn(5, 4)
    with jtorch.profiler.profile(activities=[jtorch.profiler.ProfilerActivity.CPU]) as prof:
        for _ in range(3):
            with jtorch.profiler.record_function("forward"):
                jm(x)
    table = prof.key_averages().table(sort_by="cpu_time_total")
    assert "forward" in table and " 3" in table
    s_t = torch.profiler.schedule(wait=1, warmup=1, active=2, repeat=1)
    s_j = jtorch.profiler.schedule(wait=1, warmup=1, active=2, repeat=1)
    assert [s_j(i).name for i in range(8)] == [s_t(i).name for i in range(8)]


def test_backends_flags_accepted():
    jtorch.backends.cudnn.benchmark = True
    jtorch.backends.cudnn.deterministic = True
    jtorch.backends.cuda.matmul.allow_tf32 = False
    assert jtorch.backends.cudnn.benchmark is True
    assert jtorch.backends.cuda.matmul.allow_tf32 is False
    assert jtorch.backends.mps.is_available() is False
