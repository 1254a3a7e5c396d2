"""Meta tensors (shape and dtype, no data) and `with torch.device(...)`, compared with torch."""
import pytest
import torch

import jtorch
from oracle import jdtype, same_error


def _both(fn):
    """Run fn(lib) for torch and jtorch; return both results."""
    return fn(torch), fn(jtorch)


def _same_meta(t, j):
    assert j.is_meta and t.is_meta
    assert tuple(j.shape) == tuple(t.shape)
    assert j.dtype is jdtype(t.dtype)
    assert str(j.device) == str(t.device) == "meta"


@pytest.mark.parametrize("fn", [
    lambda L: L.empty(3, 4, device="meta"),
    lambda L: L.zeros(2, dtype=L.int32, device="meta"),
    lambda L: L.randn(5, device="meta"),
    lambda L: L.ones(2, 3).to("meta"),
    lambda L: (L.empty(3, 4, device="meta") + 1).sum(0),
    lambda L: L.empty(3, 4, device="meta") @ L.empty(4, 5, device="meta"),
    lambda L: L.empty(3, 4, device="meta").view(4, 3)[1:].t(),
    lambda L: L.cat([L.empty(2, 3, device="meta"), L.empty(1, 3, device="meta")]),
    lambda L: L.empty(2, 3, device="meta").to(L.float64).softmax(-1),
    lambda L: L.empty(3, device="meta") * L.tensor(2.0),          # a 0-dim CPU tensor mixes in
    lambda L: L.nn.functional.conv2d(L.empty(1, 3, 8, 8, device="meta"), L.empty(4, 3, 3, 3, device="meta")),
    lambda L: L.empty(2, 4, device="meta").max(dim=1).indices,
    lambda L: L.empty(4, device="meta").fill_(3),
])
def test_meta_ops_shapes_and_dtypes(fn):
    t, j = _both(fn)
    _same_meta(t, j)


def test_meta_repr():
    for fn in (lambda L: L.empty(2, 3, device="meta"), lambda L: L.empty(2, dtype=L.int64, device="meta"),
               lambda L: L.empty(0, device="meta"),
               lambda L: L.nn.Parameter(L.empty(2, device="meta"))):
        t, j = _both(fn)
        assert repr(j) == repr(t)


def test_meta_errors():
    for fn in (lambda L: L.empty(2, device="meta").tolist(),
               lambda L: L.empty(1, device="meta").item(),
               lambda L: L.empty(2, device="meta").cpu(),
               lambda L: L.empty(2, device="meta").numpy(),
               lambda L: L.empty(3, device="meta") + L.ones(3)):
        et, ej = same_error(lambda: fn(torch), lambda: fn(jtorch))
        assert str(ej) == str(et)


def test_meta_modules_and_to_empty():
    def build(L):
        L.manual_seed(0)
        with L.device("meta"):
            m = L.nn.Sequential(L.nn.Linear(3, 4), L.nn.LayerNorm(4), L.nn.Linear(4, 2))
        inner = m(L.empty(5, 3, device="meta"))
        after = L.rand(3)       # meta init does not consume the CPU generator
        m.to_empty(device="cpu")
        return m, inner, after
    (tm, ti, ta), (jm, ji, ja) = _both(build)
    _same_meta(ti, ji)
    assert jtorch.equal(ja, jtorch.manual_seed(0) and jtorch.rand(3))
    assert torch.equal(ta, torch.manual_seed(0) and torch.rand(3))
    for (n, p), (m, q) in zip(jm.named_parameters(), tm.named_parameters()):
        assert n == m and tuple(p.shape) == tuple(q.shape) and str(p.device) == "cpu" and p.requires_grad
    # a module built directly with device="meta", then materialised and run
    lin = jtorch.nn.Linear(3, 2, device="meta")
    assert lin.weight.is_meta and lin.bias.is_meta
    lin.to_empty(device="cpu")
    assert lin(jtorch.ones(1, 3)).shape == (1, 2)


def test_device_context_manager_nests():
    with jtorch.device("meta"):
        assert jtorch.ones(2).is_meta
        with jtorch.device("cpu"):
            assert not jtorch.ones(2).is_meta
        assert jtorch.ones(2).is_meta
    assert jtorch.ones(2).device == jtorch.device("cpu")
