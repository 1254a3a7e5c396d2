"""Drive jtorch through PyTorch's own OpInfo database: sample inputs from torch, results and
gradients compared with torch's. Used by the CI sample (test_opinfo_sample.py) and by the full
sweep (`python tools/opinfo_sweep.py`), whose JSON output generates docs/compatibility.md."""
import math
import signal
import traceback

import numpy as np
import torch

import jtorch
from oracle import to_j, to_np, jdtype

_op_db = None


def op_db():
    global _op_db
    if _op_db is None:
        from torch.testing._internal.common_methods_invocations import op_db as db
        _op_db = db
    return _op_db


def opinfo_id(o):
    return o.name + ("." + o.variant_test_name if o.variant_test_name else "")


def _rebind(fn):
    """An OpInfo lambda (`lambda x, c, y: torch.where(c, x, y)`) with `torch` meaning jtorch."""
    import types
    g = dict(fn.__globals__)
    g["torch"] = jtorch
    try:
        g["F"] = jtorch.nn.functional
    except AttributeError:
        pass
    return types.FunctionType(fn.__code__, g, fn.__name__, fn.__defaults__, fn.__closure__)


def resolve(o):
    """The jtorch callable for an OpInfo, or None. Dunder names become Tensor methods."""
    import types
    name = o.name
    if isinstance(o.op, types.FunctionType) and o.op.__name__ == "<lambda>" and \
            o.op.__module__.startswith("torch.testing"):
        return _rebind(o.op)
    if name.startswith("__") and name.endswith("__"):
        return lambda x, *a, **k: getattr(x, name)(*a, **k)
    if o.variant_test_name in ("", None) or True:
        obj = jtorch
        for part in name.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if obj is not None and callable(obj):
            return obj
        # method-only ops (e.g. Tensor.T -> OpInfo "T", "contiguous", "view_as")
        if hasattr(jtorch.Tensor, name):
            attr = getattr(jtorch.Tensor, name)
            if isinstance(attr, property):
                return lambda x, *a, **k: getattr(x, name)
            return lambda x, *a, **k: getattr(x, name)(*a, **k)
    return None


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def _tol(dtype):
    return {torch.float32: (1e-4, 1e-5), torch.float64: (1e-6, 1e-7), torch.float16: (1e-2, 1e-2),
            torch.bfloat16: (2e-2, 2e-2), torch.complex64: (1e-4, 1e-5), torch.complex128: (1e-6, 1e-7)}.get(
        dtype, (0, 0))


def _compare(jo, to, path="out"):
    if isinstance(to, torch.Tensor):
        if not isinstance(jo, jtorch.Tensor):
            return f"{path}: expected a Tensor, got {type(jo).__name__}"
        if tuple(jo.shape) != tuple(to.shape):
            return f"{path}: shape {tuple(jo.shape)} != torch {tuple(to.shape)}"
        if jo.dtype is not jdtype(to.dtype):
            return f"{path}: dtype {jo.dtype} != torch {to.dtype}"
        r, a = _tol(to.dtype)
        x, y = to_np(jo), to_np(to)
        if x.size and not np.allclose(x, y, rtol=r, atol=a, equal_nan=True):
            err = np.nanmax(np.abs(x.astype(np.complex128) - y.astype(np.complex128)))
            return f"{path}: values differ (max abs err {err:.3g})"
        return None
    if isinstance(to, (list, tuple)):
        if not isinstance(jo, (list, tuple)) or len(jo) != len(to):
            return f"{path}: expected a sequence of {len(to)}, got {type(jo).__name__}"
        for i, (a, b) in enumerate(zip(jo, to)):
            r = _compare(a, b, f"{path}[{i}]")
            if r:
                return r
        return None
    if isinstance(to, (bool, int, float, complex)):
        if isinstance(jo, jtorch.Tensor):
            jo = jo.item()
        ok = (jo == to) or (isinstance(to, float) and math.isclose(jo, to, rel_tol=1e-5, abs_tol=1e-7)) or \
             (isinstance(to, float) and math.isnan(to) and math.isnan(jo))
        return None if ok else f"{path}: {jo!r} != torch {to!r}"
    return None


def _leaves(x):
    if isinstance(x, torch.Tensor):
        return [x]
    if isinstance(x, (list, tuple)):
        return [t for v in x for t in _leaves(v)]
    return []


def run_forward(o, fn, sample):
    ti = sample.input
    to = o.op(ti, *sample.args, **sample.kwargs)
    ji, ja, jk = to_j(ti, False), to_j(sample.args, False), to_j(sample.kwargs, False)
    jo = fn(ji, *ja, **jk)
    return _compare(jo, to)


def run_backward(o, fn, sample):
    tin = [t for t in _leaves(sample.input) + _leaves(sample.args) if t.requires_grad]
    if not tin:
        return None
    to = o.op(sample.input, *sample.args, **sample.kwargs)
    touts = [t for t in _leaves(to) if t.requires_grad and t.dtype.is_floating_point]
    if not touts:
        return None
    gen = np.random.default_rng(0)
    cots = [torch.from_numpy(gen.standard_normal(tuple(t.shape)).astype(np.float64)).to(t.dtype) for t in touts]
    tgrads = torch.autograd.grad(touts, tin, cots, allow_unused=True)
    # jtorch side: convert the same leaves, keeping requires_grad
    mapping = {}

    def conv(x):
        if isinstance(x, torch.Tensor):
            j = to_j(x, x.requires_grad)
            if x.requires_grad:
                mapping[id(x)] = j
            return j
        if isinstance(x, (list, tuple)):
            return type(x)(conv(v) for v in x)
        if isinstance(x, dict):
            return {k: conv(v) for k, v in x.items()}
        return x
    ji, ja, jk = conv(sample.input), conv(sample.args), conv(sample.kwargs)
    jo = fn(ji, *ja, **jk)
    jouts = [t for t in _leaves_j(jo) if t.requires_grad and t.dtype.is_floating_point]
    if len(jouts) != len(touts):
        return f"grad: {len(jouts)} differentiable outputs != torch {len(touts)}"
    jin = [mapping[id(t)] for t in tin]
    jgrads = jtorch.autograd.grad(jouts, jin, [to_j(c, False) for c in cots], allow_unused=True)
    for i, (a, b) in enumerate(zip(jgrads, tgrads)):
        if b is None:
            continue
        if a is None:
            if to_np(b).any():
                return f"grad[{i}]: None but torch's is nonzero"
            continue
        r = _compare(a, b, f"grad[{i}]")
        if r:
            return r
    return None


def _leaves_j(x):
    if isinstance(x, jtorch.Tensor):
        return [x]
    if isinstance(x, (list, tuple)):
        return [t for v in x for t in _leaves_j(v)]
    return []


def check_opinfo(o, max_samples=3, dtype=torch.float32, grad=True, timeout=120):
    """Returns {'forward': status, 'grad': status} with status 'pass' / 'missing' / 'fail: why' / 'n/a'."""
    res = {"forward": "n/a", "grad": "n/a"}
    fn = resolve(o)
    if fn is None:
        return {"forward": "missing", "grad": "missing"}
    if dtype not in o.supported_dtypes("cpu"):
        dts = [d for d in (torch.float64, torch.int64, torch.bool, torch.complex64) if d in o.supported_dtypes("cpu")]
        if not dts:
            return res
        dtype = dts[0]
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout)
    try:
        samples = list(o.sample_inputs("cpu", dtype, requires_grad=False))[:max_samples]
        fails = [r for r in (_safe(run_forward, o, fn, s) for s in samples) if r]
        res["forward"] = "pass" if not fails else "fail: " + fails[0]
        if grad and o.supports_autograd and dtype.is_floating_point and res["forward"] == "pass":
            gsamples = list(o.sample_inputs("cpu", dtype, requires_grad=True))[:max_samples]
            gf = [r for r in (_safe(run_backward, o, fn, s) for s in gsamples) if r]
            res["grad"] = "pass" if not gf else "fail: " + gf[0]
    except _Timeout:
        res = {"forward": f"fail: timeout after {timeout}s", "grad": "n/a"}
    except Exception as e:  # noqa: BLE001
        res["forward"] = "fail: sample generation: " + _short(e)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return res


def _short(e):
    return (type(e).__name__ + ": " + str(e).split("\n")[0])[:160]


def _safe(f, o, fn, s):
    try:
        return f(o, fn, s)
    except _Timeout:
        raise
    except Exception as e:  # noqa: BLE001
        return _short(e)
