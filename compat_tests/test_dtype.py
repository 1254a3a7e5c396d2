"""dtypes and torch's type promotion vs torch: result_type over a grid of dtype pairs, 0-dim tensors and
Python scalars; promote_types, can_cast, finfo/iinfo, default dtype, devices."""
import itertools

import pytest
import torch

import jtorch
from oracle import jdtype, same_error, to_j

NAMES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64",
         "complex64", "complex128"]
TD = [getattr(torch, n) for n in NAMES]


def test_dtype_objects():
    for n in NAMES:
        t, j = getattr(torch, n), getattr(jtorch, n)
        assert repr(j) == repr(t) and str(j) == str(t)
        assert j.is_floating_point == t.is_floating_point and j.is_complex == t.is_complex
        assert j.is_signed == t.is_signed and j.itemsize == t.itemsize
        if t.is_floating_point:
            ft, fj = torch.finfo(t), jtorch.finfo(j)
            for a in ("bits", "eps", "max", "min", "tiny", "resolution", "smallest_normal"):
                assert getattr(fj, a) == getattr(ft, a), (n, a)
        elif t is torch.bool:
            same_error(lambda: torch.iinfo(t), lambda: jtorch.iinfo(j))
        elif not t.is_complex:
            it, ij = torch.iinfo(t), jtorch.iinfo(j)
            assert (ij.bits, ij.min, ij.max) == (it.bits, it.min, it.max)
    for alias in ("half", "float", "double", "long", "int", "short", "cfloat", "cdouble"):
        assert repr(getattr(jtorch, alias)) == repr(getattr(torch, alias))
    same_error(lambda: torch.finfo(torch.int32), lambda: jtorch.finfo(jtorch.int32))
    same_error(lambda: torch.iinfo(torch.float32), lambda: jtorch.iinfo(jtorch.float32))


def test_promote_types_and_can_cast_grid():
    for a, b in itertools.product(TD, TD):
        ja, jb = jdtype(a), jdtype(b)
        assert jtorch.promote_types(ja, jb) is jdtype(torch.promote_types(a, b)), (a, b)
        assert jtorch.can_cast(ja, jb) == torch.can_cast(a, b), (a, b)


def _val(dt, zero_dim):
    shape = () if zero_dim else (2,)
    return torch.ones(shape, dtype=dt)


def test_result_type_grid():
    """Dimensioned vs dimensioned, vs 0-dim, 0-dim vs 0-dim, and Python scalars of each kind."""
    scalars = [True, 2, 2.5, 1 + 1j]
    for a, b in itertools.product(TD, TD):
        for za, zb in ((False, False), (False, True), (True, True), (True, False)):
            ta, tb = _val(a, za), _val(b, zb)
            if torch.result_type(ta, tb) is torch.complex32:
                continue
            assert jtorch.result_type(to_j(ta), to_j(tb)) is jdtype(torch.result_type(ta, tb)), (a, za, b, zb)
    for a in TD:
        for s in scalars:
            for z in (False, True):
                ta = _val(a, z)
                if torch.result_type(ta, s) is torch.complex32:
                    continue    # jtorch has no complex32 (chalf): float16 + complex scalar gives complex64
                assert jtorch.result_type(to_j(ta), s) is jdtype(torch.result_type(ta, s)), (a, z, s)
                assert jtorch.result_type(s, to_j(ta)) is jdtype(torch.result_type(s, ta)), (s, a, z)
    # ops follow the same rules (add over the grid)
    for a, b in itertools.product(TD, TD):
        ta, tb = _val(a, False), _val(b, True)
        if torch.bool in (a, b) or torch.result_type(ta, tb) is torch.complex32:
            continue
        assert (to_j(ta) + to_j(tb)).dtype is jdtype((ta + tb).dtype), (a, b)


def test_default_dtype():
    assert jtorch.get_default_dtype() is jtorch.float32
    try:
        jtorch.set_default_dtype(jtorch.float64)
        torch.set_default_dtype(torch.float64)
        assert jtorch.tensor([1.5]).dtype is jtorch.float64 and jtorch.zeros(2).dtype is jtorch.float64
        assert (jtorch.tensor([1, 2]) * 1.5).dtype is jdtype((torch.tensor([1, 2]) * 1.5).dtype)
        assert jtorch.tensor([1j]).dtype is jdtype(torch.tensor([1j]).dtype)
    finally:
        jtorch.set_default_dtype(jtorch.float32)
        torch.set_default_dtype(torch.float32)
    same_error(lambda: torch.set_default_dtype(torch.int32), lambda: jtorch.set_default_dtype(jtorch.int32))


def test_tensor_dtype_inference():
    for data in ([1, 2], [1.0, 2], [True, False], [1 + 2j], 3, 3.5, True, [[1, 2], [3, 4]], [], [[]],
                 [1, 2.5, True]):
        t, j = torch.tensor(data), jtorch.tensor(data)
        assert j.dtype is jdtype(t.dtype) and tuple(j.shape) == tuple(t.shape), data
    import numpy as np
    for arr in (np.array([1, 2], np.int32), np.array([1.0], np.float16), np.array([True])):
        assert jtorch.tensor(arr).dtype is jdtype(torch.tensor(arr).dtype)
        assert jtorch.from_numpy(arr).dtype is jdtype(torch.from_numpy(arr).dtype)
    assert jtorch.tensor([1, 2], dtype=jtorch.float16).dtype is jtorch.float16
    same_error(lambda: torch.tensor([[1, 2], [3]]), lambda: jtorch.tensor([[1, 2], [3]]))


def test_devices():
    for spec in ("cpu", "cuda", "cuda:1", "meta"):
        d, t = jtorch.device(spec), torch.device(spec)
        assert repr(d) == repr(t) and str(d) == str(t) and d.type == t.type and d.index == t.index
    assert jtorch.device("cuda", 0) == jtorch.device("cuda:0") and jtorch.device("cpu") != jtorch.device("cuda")
    assert repr(jtorch.device("cuda", 0)) == repr(torch.device("cuda", 0))
    same_error(lambda: torch.device("blah"), lambda: jtorch.device("blah"))
    same_error(lambda: torch.device("cuda:-1"), lambda: jtorch.device("cuda:-1"))
    assert jtorch.zeros(2).device == jtorch.device("cpu")
    if not jtorch.cuda.is_available():
        assert jtorch.cuda.device_count() == 0
        same_error(lambda: torch.zeros(2, device="cuda"), lambda: jtorch.zeros(2, device="cuda"))
        same_error(lambda: torch.zeros(2).cuda(), lambda: jtorch.zeros(2).cuda())
