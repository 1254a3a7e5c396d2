"""What a program's first steps pay: random init and tensor factories must not compile one XLA
program per new shape, and compiled programs persist across processes (XLA's compilation cache).
Values are checked against torch; the compile counts are jtorch's own cost model."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import jtorch
from jtorch import _random
from jtorch._ops.kernel import _KERNELS


def _rng_kernels():
    return sum(1 for k in _KERNELS if isinstance(k, tuple) and k and k[0] == "rng")


def test_init_of_many_shapes_compiles_per_size_class():
    jtorch.nn.Linear(3, 3)
    before = _rng_kernels()
    layers = [jtorch.nn.Linear(40 + i, 41 + i) for i in range(12)]   # 24 distinct parameter shapes
    assert _rng_kernels() - before <= 4   # weights 1.6k-2.7k elements and biases 41-52: 2-4 size classes
    for m in layers:   # still torch's init: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        bound = 1 / np.sqrt(m.in_features)
        w = m.weight.detach().numpy()
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
        t = torch.nn.Linear(m.in_features, m.out_features)
        assert m.weight.shape == tuple(t.weight.shape) and m.bias.shape == tuple(t.bias.shape)
        assert m.weight.dtype is jtorch.float32 and t.weight.dtype is torch.float32


def test_seeded_draws_repeat_across_bucketed_and_exact_paths():
    def run():
        jtorch.manual_seed(123)
        return [jtorch.randn(5, 7).numpy() for _ in range(5)] + [jtorch.rand(33).numpy()]
    a, b = run(), run()   # the first draws of a shape are bucketed, later ones exact: both seeded
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], a[1])


@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16", "float16", "int64", "int32", "uint8",
                                   "bool", "complex64"])
@pytest.mark.parametrize("factory", ["zeros", "ones", "empty"])
def test_factories_match_torch(factory, dtype):
    shape = (3, 0, 2) if factory == "empty" else (2, 5)
    t = getattr(torch, factory)(*shape, dtype=getattr(torch, dtype))
    j = getattr(jtorch, factory)(*shape, dtype=getattr(jtorch, dtype))
    assert tuple(j.shape) == tuple(t.shape) and str(j.dtype) == str(t.dtype)
    if factory != "empty":
        np.testing.assert_array_equal(j.float().numpy() if dtype == "bfloat16" else j.numpy(),
                                      t.float().numpy() if dtype == "bfloat16" else t.numpy())


def test_factory_inside_compile_matches_torch():
    f = jtorch.compile(lambda x: x + jtorch.ones(3, dtype=x.dtype) * 2)
    x = np.arange(3, dtype=np.float32)
    np.testing.assert_array_equal(f(jtorch.tensor(x)).numpy(), (torch.tensor(x) + torch.ones(3) * 2).numpy())


_PROBE = "import jtorch; (jtorch.arange(6.0).reshape(2, 3) * 3).sum().item()"


def _run(env_extra, tmp_path):
    env = dict(os.environ, **env_extra)
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    subprocess.run([sys.executable, "-c", _PROBE], check=True, env=env, cwd=tmp_path, timeout=120)


def test_compilation_cache_persists_and_can_be_turned_off(tmp_path):
    cache = tmp_path / "cache"
    _run({"JTORCH_CACHE_DIR": str(cache)}, tmp_path)
    assert len(os.listdir(cache / "xla")) > 0
    off = tmp_path / "off"
    _run({"JTORCH_CACHE_DIR": str(off), "JTORCH_COMPILATION_CACHE": "0"}, tmp_path)
    assert not off.exists() or not os.listdir(off / "xla")


def test_numpy_result_is_writable_like_torch():
    x = np.array([[-1.0, 2.0], [3.0, -4.0]], dtype=np.float32)
    outs = []
    for lib in (torch, jtorch):
        a = lib.tensor(x).numpy()
        a[a < 0] = 0          # torch's numpy() is writable; so is jtorch's (a copy)
        b = np.asarray(lib.tensor(x))
        b *= 2
        outs.append((a, b))
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    np.testing.assert_array_equal(outs[0][1], outs[1][1])
