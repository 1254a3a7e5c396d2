"""Helpers for comparing jtorch against real PyTorch (the oracle) on the same inputs."""
import numpy as np
import torch

import jtorch

_DT = {getattr(torch, n): getattr(jtorch, n) for n in
       ["float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool",
        "complex64", "complex128", "uint16", "uint32", "uint64"] if hasattr(jtorch, n)}
_DT_BACK = {v: k for k, v in _DT.items()}


def jdtype(tdtype):
    return _DT[tdtype]


def tdtype(jd):
    return _DT_BACK[jd]


def to_j(x, requires_grad=None):
    """torch.Tensor -> jtorch.Tensor with the same values and dtype (recursively for containers)."""
    if isinstance(x, torch.Tensor):
        t = x.detach()
        if t.dtype == torch.bfloat16:
            arr = t.float().numpy()
            out = jtorch.tensor(arr, dtype=jtorch.bfloat16)
        else:
            out = jtorch.from_numpy(np.ascontiguousarray(t.resolve_conj().resolve_neg().numpy())) if t.dim() else \
                jtorch.tensor(t.item(), dtype=jdtype(t.dtype))
            if out.dtype is not jdtype(t.dtype):
                out = out.to(jdtype(t.dtype))
        rg = x.requires_grad if requires_grad is None else requires_grad
        if rg:
            out.requires_grad_(True)
        return out
    if isinstance(x, (list, tuple)):
        return type(x)(to_j(v, requires_grad) for v in x)
    if isinstance(x, dict):
        return {k: to_j(v, requires_grad) for k, v in x.items()}
    if isinstance(x, torch.dtype):
        return jdtype(x)
    return x


def to_np(x):
    if isinstance(x, torch.Tensor):
        x = x.detach()
        return (x.float() if x.dtype == torch.bfloat16 else x).resolve_conj().numpy()
    if isinstance(x, jtorch.Tensor):
        x = x.detach()
        return np.asarray((x.float() if x.dtype is jtorch.bfloat16 else x)._value)
    return np.asarray(x)


def _tol(dtype):
    return {jtorch.float16: (1e-3, 1e-3), jtorch.bfloat16: (1e-2, 1e-2), jtorch.float32: (1.3e-6, 1e-5),
            jtorch.float64: (1e-7, 1e-7), jtorch.complex64: (1.3e-6, 1e-5)}.get(dtype, (1e-7, 1e-7))


def assert_same(j, t, rtol=None, atol=None, check_dtype=True, equal_nan=True, msg=""):
    """jtorch result j equals torch result t: type, shape, dtype and values (recursively)."""
    if isinstance(t, torch.Tensor):
        assert isinstance(j, jtorch.Tensor), f"{msg} expected a Tensor, got {type(j).__name__}"
        assert tuple(j.shape) == tuple(t.shape), f"{msg} shape {tuple(j.shape)} != torch {tuple(t.shape)}"
        if check_dtype:
            assert j.dtype is jdtype(t.dtype), f"{msg} dtype {j.dtype} != torch {t.dtype}"
        r, a = _tol(j.dtype)
        np.testing.assert_allclose(to_np(j), to_np(t), rtol=rtol if rtol is not None else r,
                                   atol=atol if atol is not None else a, equal_nan=equal_nan, err_msg=msg)
    elif isinstance(t, (list, tuple)):
        assert isinstance(j, (list, tuple)), f"{msg} expected a sequence, got {type(j).__name__}"
        assert len(j) == len(t), f"{msg} length {len(j)} != torch {len(t)}"
        for a, b in zip(j, t):
            assert_same(a, b, rtol, atol, check_dtype, equal_nan, msg)
    elif isinstance(t, float):
        assert np.isclose(j, t, rtol=rtol or 1e-6, atol=atol or 1e-7, equal_nan=True), f"{msg} {j} != torch {t}"
    else:
        assert j == t, f"{msg} {j!r} != torch {t!r}"


def same_error(fn_torch, fn_j):
    """Both raise, and jtorch raises torch's exception type. Returns the two exceptions."""
    et = ej = None
    try:
        fn_torch()
    except Exception as e:  # noqa: BLE001
        et = e
    try:
        fn_j()
    except Exception as e:  # noqa: BLE001
        ej = e
    assert et is not None, "torch did not raise"
    assert ej is not None, f"jtorch did not raise (torch raised {type(et).__name__}: {et})"
    assert isinstance(ej, type(et)) or type(et).__name__ == type(ej).__name__, \
        f"jtorch raised {type(ej).__name__}: {ej}; torch raised {type(et).__name__}: {et}"
    return et, ej
