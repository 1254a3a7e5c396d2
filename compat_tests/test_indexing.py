"""__getitem__/__setitem__ vs torch: basic, advanced, bool masks, None, Ellipsis, negative steps, errors."""
import pytest
import torch

import jtorch
from oracle import assert_same, same_error, to_j

X = torch.arange(60.0).reshape(3, 4, 5)
IDX = {
    "int": 1, "neg-int": -1, "slice": slice(1, None), "step": (slice(None), slice(None, None, 2)),
    "tuple-ints": (1, 2), "ellipsis": (Ellipsis, 1), "none": (None, 1), "none-mid": (slice(None), None, 2),
    "ell-none": (1, Ellipsis, None), "long-tensor": torch.tensor([2, 0]), "list": [0, 2, 2],
    "neg-tensor": torch.tensor([-1, 0]), "2d-tensor": torch.tensor([[0, 1], [2, 2]]),
    "adv-pair": (torch.tensor([0, 2]), torch.tensor([1, 3])), "adv-slice-adv": (torch.tensor([0, 2]), slice(None),
                                                                                 torch.tensor([1, 4])),
    "adv-broadcast": (torch.tensor([[0], [2]]), torch.tensor([1, 3])), "slice-adv": (slice(None), torch.tensor([3, 0])),
    "bool-mask": torch.tensor([True, False, True]), "bool-mask-2d": X[:, :, 0] > 20,
    "bool-full": X > 30, "bool-and-int": (torch.tensor([True, False, True]), 1), "int-tensor-0d": torch.tensor(1),
    "empty-slice": slice(2, 1), "oob-slice": slice(1, 100), "ellipsis-only": Ellipsis, "true": True,
}


@pytest.mark.parametrize("name", list(IDX))
def test_getitem(name):
    i = IDX[name]
    assert_same(to_j(X)[to_j(i)], X[i], msg=name)


@pytest.mark.parametrize("name", list(IDX))
def test_setitem(name):
    i = IDX[name]
    for val in (-1.0, 7, torch.tensor(-2.0)):
        t, j = X.clone(), to_j(X)
        t[i] = val
        j[to_j(i)] = to_j(val)
        assert_same(j, t, msg=f"{name} = {val}")
    t, j = X.clone(), to_j(X)
    shape = X[i].shape
    if len(shape):
        v = torch.arange(float(shape[-1]))      # broadcast a row
        t[i] = v
        j[to_j(i)] = to_j(v)
        assert_same(j, t, msg=f"{name} = row")


def test_setitem_dtypes_and_values():
    t, j = torch.zeros(3, dtype=torch.int64), jtorch.zeros(3, dtype=jtorch.int64)
    t[1] = 2.7
    j[1] = 2.7
    assert_same(j, t)
    t, j = X.clone(), to_j(X)
    t[0] = torch.ones(4, 5, dtype=torch.float64)
    j[0] = jtorch.ones(4, 5, dtype=jtorch.float64)
    assert_same(j, t)
    t[[0, 1], 0] = torch.tensor([[1.0] * 5, [2.0] * 5])
    j[[0, 1], 0] = jtorch.tensor([[1.0] * 5, [2.0] * 5])
    assert_same(j, t)


def test_index_errors():
    j = to_j(X)
    for i in (3, -4, (0, 4), (0, 0, 5), torch.tensor([3]), torch.tensor([0, -4]), (0, 0, 0, 0),
              torch.tensor([True, False]), torch.tensor([1.0]), "a", slice(None, None, -1), slice(None, None, 0)):
        same_error(lambda: X[i], lambda: j[to_j(i)])
    for i in (3, torch.tensor([5]), slice(None, None, -1)):
        def ts():
            X.clone()[i] = 1.0

        def js():
            j[to_j(i)] = 1.0
        same_error(ts, js)

    def ts2():
        X.clone()[0] = torch.ones(3)

    def js2():
        j[0] = jtorch.ones(3)
    same_error(ts2, js2)


def test_varying_offsets_share_one_kernel_and_match_torch():
    """x[i:i+k], x[:, t] in a Python loop: values and grads as torch, and one compiled kernel for all
    offsets (offsets are run-time arguments, not constants of the trace)."""
    from jtorch._ops.kernel import _KERNELS
    x = torch.randn(12, 5, 3)
    jx, jw, tw = to_j(x), to_j(x).requires_grad_(True), x.clone().requires_grad_(True)
    for i in range(3):   # warm up both paths (no grad / grad)
        jx[i:i + 4], jx[:, i], jw[i:i + 4], jw[:, i]
    n0 = len(_KERNELS)
    jt, tt = [], []
    for i in range(9):
        assert_same(jx[i:i + 4], x[i:i + 4])
        assert_same(jx[:, i % 5, 1:], x[:, i % 5, 1:])
        assert_same(jx[-i - 1, ::2], x[-i - 1, ::2])
        jt.append(jw[i:i + 3].sum(0) * (i + 1))
        tt.append(tw[i:i + 3].sum(0) * (i + 1))
    assert len(_KERNELS) - n0 <= 6, len(_KERNELS) - n0   # no kernel per offset
    jtorch.stack(jt).sum().backward()
    torch.stack(tt).sum().backward()
    assert_same(jw.grad, tw.grad)
    assert jw[2:5].grad_fn.name() == tw[2:5].grad_fn.name() == "SliceBackward0"
    assert jw[:, 3].grad_fn.name() == tw[:, 3].grad_fn.name() == "SelectBackward0"


def test_setitem_varying_offsets_share_one_kernel_and_match_torch():
    """rollout storage (`obs[step] = o`, `buf[i, :, j] = v`, `x[i:i+k] = w`) in a Python loop: one
    compiled kernel for every offset, values and gradients (to the written value and the written-to
    tensor) as torch's."""
    from jtorch._ops.kernel import _KERNELS
    src = torch.randn(8, 3, 4)
    jv, tv = to_j(src).requires_grad_(True), src.clone().requires_grad_(True)
    jb, tb = to_j(src).requires_grad_(True), src.clone().requires_grad_(True)

    def fill(lib, v, b, steps):
        out = b * 1.0
        for i in steps:
            out[i] = v[i] * 2
            out[-i - 1, 1:, ::2] = v[i, :2, 1::2]
            out[i:i + 2, ..., 3] = 0.5
            out[i, None, 0] = v[i, 0, :] + 1
        return out

    fill(jtorch, jv, jb, range(2))   # warm up
    n0 = len(_KERNELS)
    jo, to = fill(jtorch, jv, jb, range(2, 7)), fill(torch, tv, tb, range(2, 7))
    assert len(_KERNELS) - n0 <= 2, len(_KERNELS) - n0
    assert_same(jo, to)
    w = torch.randn(8, 3, 4)
    (jo * to_j(w)).sum().backward()
    (to * w).sum().backward()
    assert_same(jv.grad, tv.grad)
    assert_same(jb.grad, tb.grad)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        jtorch.zeros(4, 3)[1] = jtorch.ones(2)


def test_where_condition_only_is_nonzero_as_tuple():
    """torch.where(cond) (one argument) returns the indices of the true elements, one tensor per dim."""
    c = X > 37
    for t, j in zip(torch.where(c), jtorch.where(to_j(c))):
        assert_same(j, t)
    assert_same(jtorch.where(to_j(c), to_j(X), 0.0), torch.where(c, X, 0.0))
    with pytest.raises(TypeError):
        jtorch.where(to_j(c), to_j(X))
