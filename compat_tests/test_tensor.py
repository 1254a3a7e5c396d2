"""The Tensor protocol vs torch: Python operators (plain, reflected, in-place, comparison, bitwise, @),
len/iter/bool/index/format/hash, conversions, metadata; and op code running on JAX tracers."""
import operator

import jax
import numpy as np
import pytest
import torch

import jtorch
from oracle import assert_same, same_error, to_j

A = torch.tensor([[1.5, -2.0, 3.0], [0.25, 4.0, -1.0]])
AI = torch.tensor([[1, -2, 3], [4, 5, -6]])
AB = torch.tensor([[True, False, True], [False, False, True]])
OPERANDS = [A, AI, AB, torch.tensor(2.0), torch.tensor(3), 2, 2.5, True]


def _ok(fn, *args):
    try:
        return fn(*args), None
    except Exception as e:  # noqa: BLE001
        return None, e


BINOPS = [operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv, operator.mod, operator.pow,
          operator.and_, operator.or_, operator.xor, operator.lshift, operator.rshift, operator.eq, operator.ne,
          operator.lt, operator.le, operator.gt, operator.ge]


@pytest.mark.parametrize("fn", BINOPS, ids=lambda f: f.__name__)
def test_binary_operators(fn):
    """Plain and reflected forms over tensors of each category and Python scalars (type promotion)."""
    for x in OPERANDS[:5]:
        for y in OPERANDS:
            if fn in (operator.pow,) and (y is AI or y is AB):
                y = y.abs() if y is AI else y
            tr, te = _ok(fn, x, y)
            jr, je = _ok(fn, to_j(x), to_j(y))
            what = f"{fn.__name__}({x.dtype}{list(x.shape)}, {y if not isinstance(y, torch.Tensor) else y.dtype})"
            if te is not None:
                assert je is not None, f"{what}: torch raised {te!r}, jtorch returned {jr}"
                assert type(je).__name__ == type(te).__name__ or isinstance(je, type(te)), f"{what}: {je!r} vs {te!r}"
                continue
            assert je is None, f"{what}: jtorch raised {je!r}"
            assert_same(jr, tr, msg=what)
            # reflected: scalar on the left
            if not isinstance(y, torch.Tensor):
                tr2, te2 = _ok(fn, y, x)
                jr2, je2 = _ok(fn, y, to_j(x))
                if te2 is None:
                    assert je2 is None, f"r{what}: jtorch raised {je2!r}"
                    assert_same(jr2, tr2, msg="reflected " + what)
                else:
                    assert je2 is not None, f"reflected {what}: torch raised {te2!r}"


IOPS = [operator.iadd, operator.isub, operator.imul, operator.itruediv, operator.ifloordiv, operator.imod,
        operator.ipow, operator.iand, operator.ior, operator.ixor, operator.ilshift, operator.irshift]


@pytest.mark.parametrize("fn", IOPS, ids=lambda f: f.__name__)
def test_inplace_operators(fn):
    for x in (A, AI, AB):
        for y in (A, AI, 2, 2.5, True):
            if fn is operator.ipow and x is AB:
                continue
            tx, jx = x.clone(), to_j(x)
            if fn is operator.ipow and x is AI:
                y = 2 if not isinstance(y, torch.Tensor) else AI.abs()
            v0 = jx._version
            tr, te = _ok(fn, tx, y)
            jr, je = _ok(fn, jx, to_j(y))
            what = f"{fn.__name__}({x.dtype}, {y if not isinstance(y, torch.Tensor) else y.dtype})"
            if te is not None:
                assert je is not None and (type(je).__name__ == type(te).__name__ or isinstance(je, type(te)) or
                                           (isinstance(te, NotImplementedError) and isinstance(je, RuntimeError))), \
                    f"{what}: jtorch {je!r} torch {te!r}"
                continue
            assert je is None, f"{what}: {je!r}"
            assert jr is jx, f"{what}: in-place operator did not return self"
            assert jx._version > v0
            assert_same(jx, tx, msg=what)


def test_unary_and_matmul_operators():
    for x in (A, AI, AB):
        for fn in (operator.neg, operator.pos, operator.abs, operator.invert):
            tr, te = _ok(fn, x)
            jr, je = _ok(fn, to_j(x))
            if te is not None:
                assert je is not None and isinstance(je, type(te)), f"{fn.__name__}: {je!r} vs {te!r}"
            else:
                assert_same(jr, tr, msg=fn.__name__)
    b = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    assert_same(to_j(A) @ to_j(b), A @ b)
    v = torch.tensor([1.0, 2.0, 3.0])
    assert_same(to_j(A) @ to_j(v), A @ v)
    x = to_j(A.clone())
    sq = torch.eye(3)
    x2 = x.clone()
    x2 @= to_j(sq)
    assert_same(x2, A @ sq)
    same_error(lambda: A @ A, lambda: to_j(A) @ to_j(A))


def test_python_protocol():
    j = to_j(A)
    assert len(j) == len(A) == 2
    same_error(lambda: len(torch.tensor(1.0)), lambda: len(jtorch.tensor(1.0)))
    rows = list(iter(j))
    for r, tr in zip(rows, A):
        assert_same(r, tr)
    same_error(lambda: iter(torch.tensor(1.0)), lambda: iter(jtorch.tensor(1.0)))
    assert bool(jtorch.tensor([2.0])) is True and bool(jtorch.tensor(0)) is False
    same_error(lambda: bool(A), lambda: bool(j))
    assert [10, 20, 30][jtorch.tensor(1)] == 20
    same_error(lambda: [1, 2][torch.tensor(1.0)], lambda: [1, 2][jtorch.tensor(1.0)])
    same_error(lambda: [1, 2][torch.tensor([0, 1])], lambda: [1, 2][jtorch.tensor([0, 1])])
    for spec in (".3f", "", "8.2e", ">10"):
        assert format(jtorch.tensor(3.14159), spec) == format(torch.tensor(3.14159), spec)
    assert format(jtorch.tensor(7), "03d") == format(torch.tensor(7), "03d")
    assert f"{j}" == f"{A}"
    same_error(lambda: format(A, ".2f"), lambda: format(j, ".2f"))
    # hashing by identity, like torch: usable as dict keys / in sets even though == is elementwise
    k = jtorch.tensor([1.0])
    d = {k: 1}
    assert d[k] == 1 and hash(k) == hash(k) and k not in {jtorch.tensor([1.0])}
    assert int(jtorch.tensor(3.7)) == int(torch.tensor(3.7)) and float(jtorch.tensor(2)) == 2.0
    assert complex(jtorch.tensor(1 + 2j)) == complex(torch.tensor(1 + 2j))
    same_error(lambda: int(A), lambda: int(j))
    assert (2.0 in j) == (2.0 in A) and (1.5 in j) == (1.5 in A)


def test_conversions_and_metadata():
    for t in (A, AI, AB, torch.tensor(2.5), torch.zeros(0, 3), torch.tensor([1 + 2j])):
        j = to_j(t)
        if t.numel() == 1:
            assert j.item() == t.item() and type(j.item()) is type(t.item())
        assert j.tolist() == t.tolist()
        np.testing.assert_array_equal(j.numpy(), t.numpy())
        assert j.numpy().dtype == t.numpy().dtype
        assert np.asarray(j).dtype == np.asarray(t).dtype
        assert np.asarray(j, dtype=np.float64).dtype == np.float64
        assert j.size() == t.size() and j.shape == t.shape and isinstance(j.size(), jtorch.Size)
        assert repr(j.size()) == repr(t.size())
        assert j.dim() == t.dim() and j.ndim == t.ndim and j.numel() == t.numel()
        assert j.stride() == t.stride() and j.is_contiguous() == t.is_contiguous()
        assert j.element_size() == t.element_size() and j.nbytes == t.nbytes and j.itemsize == t.itemsize
    same_error(lambda: A.item(), lambda: to_j(A).item())
    same_error(lambda: A.size(2), lambda: to_j(A).size(2))
    assert to_j(A).size(-1) == 3 and to_j(A).stride(0) == A.stride(0)
    j = to_j(A)
    jt, tt = j.t(), A.t()
    assert jt.stride() == tt.stride() and jt.is_contiguous() == tt.is_contiguous() is False
    c = jt.contiguous()
    assert c.is_contiguous() and c.stride() == tt.contiguous().stride()
    assert j.contiguous() is j
    same_error(lambda: A.requires_grad_().numpy(), lambda: to_j(A).requires_grad_().numpy())


def test_to_and_type_conversions():
    j = to_j(A)
    for dt in ("float64", "int32", "bool", "float16", "bfloat16", "complex64", "uint8"):
        assert_same(j.to(getattr(jtorch, dt)), A.to(getattr(torch, dt)))
    assert_same(j.double(), A.double())
    assert_same(j.long(), A.long())
    assert_same(j.int(), A.int())
    assert_same(j.half(), A.half())
    assert_same(j.bool(), A.bool())
    assert_same(j.to(torch.tensor(1, dtype=torch.int16) and jtorch.tensor(1, dtype=jtorch.int16)),
                A.to(torch.tensor(1, dtype=torch.int16)))
    assert j.to("cpu") is j and j.to(jtorch.float32) is j and j.to(jtorch.float32, copy=True) is not j
    assert j.cpu().device == jtorch.device("cpu")
    assert j.type() == A.type() == "torch.FloatTensor"
    assert_same(j.type(jtorch.float64), A.type(torch.float64))
    assert_same(j.type("torch.LongTensor"), A.type("torch.LongTensor"))


def test_jit_through_tracers():
    """Op code runs unchanged on tracers: wrap the jit's tracers as Tensors, call jtorch ops, unwrap."""
    from jtorch._tensor import wrap

    def model(x, w, m):
        h = jtorch.tanh(x @ w + 1.0)
        h = h.masked_fill(m, 0.0) * 2
        s = h.sum(dim=1, keepdim=True) / h.shape[1]
        v = h[:, 1:].reshape(-1)
        c = jtorch.cat([h, s.expand(-1, 2)], dim=1).softmax(-1) if hasattr(h, "softmax") else \
            jtorch.cat([h, s.expand(-1, 2)], dim=1)
        mx, idx = c.max(dim=1)
        return c, v.cumsum(0), mx, idx, jtorch.where(h > 0, h, -h).mean()

    x, w = jtorch.randn(4, 3), jtorch.randn(3, 3)
    m = jtorch.rand(4, 3) > 0.5
    eager = model(x, w, m)

    @jax.jit
    def jitted(xa, wa, ma):
        outs = model(wrap(xa), wrap(wa), wrap(ma))
        return tuple(o._value for o in outs)

    traced = jitted(x._value, w._value, m._value)
    for e, t in zip(eager, traced):
        np.testing.assert_allclose(np.asarray(t), e.numpy(), rtol=1e-6, atol=1e-6)
        assert t.dtype == e._value.dtype
