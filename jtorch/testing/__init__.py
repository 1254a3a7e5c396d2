"""jtorch.testing: assert_close and make_tensor, with torch's tolerances and messages."""
import numpy as np

_TOL = {"float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5), "float32": (1.3e-6, 1e-5),
        "float64": (1e-7, 1e-7), "complex64": (1.3e-6, 1e-5), "complex128": (1e-7, 1e-7)}


def _as_tensor(x):
    from .. import tensor
    from .._tensor import Tensor
    return x if isinstance(x, Tensor) else tensor(x)


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None, equal_nan=False,
                 check_device=True, check_dtype=True, check_layout=True, check_stride=False, msg=None):
    from .._tensor import Tensor
    if isinstance(expected, (list, tuple)) and not isinstance(expected, str):
        if not isinstance(actual, (list, tuple)) or len(actual) != len(expected):
            raise AssertionError(msg or f"The length of the sequences mismatch: {len(actual)} != {len(expected)}")
        for a, e in zip(actual, expected):
            assert_close(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan, check_device=check_device,
                         check_dtype=check_dtype, msg=msg)
        return
    if isinstance(expected, dict):
        if set(actual) != set(expected):
            raise AssertionError(msg or "The keys of the mappings do not match")
        for k in expected:
            assert_close(actual[k], expected[k], rtol=rtol, atol=atol, equal_nan=equal_nan, msg=msg)
        return
    if not isinstance(actual, Tensor) and not isinstance(expected, Tensor):
        if isinstance(expected, (int, float, complex, bool)) and isinstance(actual, type(expected)):
            a, e = np.asarray(actual), np.asarray(expected)
        else:
            raise TypeError(f"No comparison pair was able to handle inputs of type {type(actual)} and "
                            f"{type(expected)}.")
        dt = "float64" if isinstance(expected, float) else "int64"
    else:
        at, et = _as_tensor(actual), _as_tensor(expected)
        if tuple(at.shape) != tuple(et.shape):
            raise AssertionError(msg or f"The values for attribute 'shape' do not match: {at.shape} != {et.shape}.")
        if check_dtype and at.dtype is not et.dtype:
            raise AssertionError(msg or f"The values for attribute 'dtype' do not match: {at.dtype} != {et.dtype}.")
        if check_device and at.device != et.device:
            raise AssertionError(msg or f"The values for attribute 'device' do not match: {at.device} != {et.device}.")
        a, e = np.asarray(at.detach()._value), np.asarray(et.detach()._value)
        dt = et.dtype.name
    if (rtol is None) != (atol is None):
        raise ValueError(f"Both 'rtol' and 'atol' must be either specified or omitted, but got no {'rtol' if rtol is None else 'atol'}.")
    r, t = (rtol, atol) if rtol is not None else _TOL.get(dt, (0.0, 0.0))
    a64 = a.astype(np.complex128 if np.iscomplexobj(a) else np.float64)
    e64 = e.astype(np.complex128 if np.iscomplexobj(e) else np.float64)
    ok = np.isclose(a64, e64, rtol=r, atol=t, equal_nan=equal_nan)
    if not ok.all():
        bad = int((~ok).sum())
        diff = np.abs(a64 - e64)
        diff = np.where(np.isnan(diff), np.inf, diff)
        i = np.unravel_index(np.argmax(diff), diff.shape) if diff.ndim else ()
        kind = "Tensor-likes" if a.ndim else "Scalars"
        text = (f"{kind} are not close!\n\nMismatched elements: {bad} / {ok.size} ({100 * bad / ok.size:.1f}%)\n"
                f"Greatest absolute difference: {diff[i]} at index {tuple(int(v) for v in i)} (up to {t} allowed)\n"
                f"Greatest relative difference: {(diff / np.maximum(np.abs(e64), 1e-300))[i]} at index "
                f"{tuple(int(v) for v in i)} (up to {r} allowed)")
        raise AssertionError(msg if isinstance(msg, str) else (msg(text) if callable(msg) else text))


def assert_allclose(actual, expected, rtol=None, atol=None, equal_nan=True, msg=""):
    assert_close(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan, check_dtype=False,
                 check_device=False, msg=msg or None)


def make_tensor(*shape, dtype, device=None, low=None, high=None, requires_grad=False, noncontiguous=False,
                exclude_zero=False, memory_format=None):
    from .. import rand, randint, tensor
    from .. import _dtype as D
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    dt = D.to_dtype(dtype)
    if dt is D.bool_:
        return randint(0, 2, shape).to(dt)
    if dt._cat == 1:
        lo = -9 if low is None else int(low)
        hi = 10 if high is None else int(high)
        if dt.name.startswith("uint"):
            lo = max(lo, 0)
        return randint(lo, hi, shape, dtype=dt, device=device)
    lo = -9.0 if low is None else low
    hi = 9.0 if high is None else high
    t = (rand(*shape, dtype=dt if dt._cat == 2 else D.float32, device=device) * (hi - lo) + lo).to(dt)
    if exclude_zero:
        t = t.masked_fill(t == 0, 0.5)
    return t.requires_grad_(requires_grad) if requires_grad else t
