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
        from torch.testing._internal import common_methods_invocations as cmi
        # op_db plus the ForeachFuncInfo databases (torch._foreach_*), which torch keeps apart
        _op_db = list(cmi.op_db) + [o for n in ("foreach_unary_op_db", "foreach_binary_op_db",
                                                "foreach_pointwise_op_db", "foreach_reduce_op_db",
                                                "foreach_other_op_db") for o in getattr(cmi, n, [])]
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
    obj = jtorch
    for part in name.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            break
    if obj is not None and callable(obj):
        return obj
    # entries named after an op whose only form is in-place (ForeachFuncInfo "_foreach_zero" -> _foreach_zero_)
    op_name = getattr(o.op, "__name__", "")
    if op_name.startswith("_foreach") and getattr(jtorch, op_name, None) is not None:
        return getattr(jtorch, op_name)
    # entries that call an aten kernel directly (aten._upsample_bilinear2d_aa): jtorch.ops.aten
    qual = getattr(o.op, "_qualified_op_name", "")
    if qual.startswith("aten::"):
        fn = getattr(jtorch.ops.aten, qual[len("aten::"):], None)
        if fn is not None:
            return fn
    # method-only ops (e.g. Tensor.T -> OpInfo "T", "contiguous", "view_as")
    if hasattr(jtorch.Tensor, name):
        attr = getattr(jtorch.Tensor, name)
        if isinstance(attr, property):
            return lambda x, *a, **k: getattr(x, name)
        return lambda x, *a, **k: getattr(x, name)(*a, **k)
    return None


_PRIVATE = "a private ATen entry point (torch._* / torch.ops.aten), not public torch API"
_CUDA = "a CUDA-only kernel entry point with no meaning on JAX"
# Why an entry has no jtorch counterpart (shown in docs/compatibility.md).
MISSING_REASONS = {
    "_batch_norm_with_update": _PRIVATE, "_chunk_cat": _PRIVATE, "_native_batch_norm_legit": _PRIVATE,
    "_segment_reduce.lengths": _PRIVATE, "_segment_reduce.offsets": _PRIVATE, "_softmax_backward_data": _PRIVATE,
    "_unsafe_masked_index": _PRIVATE, "_unsafe_masked_index_put_accumulate": _PRIVATE,
    "torch.ops.aten._safe_softmax.default": _PRIVATE,
    "max_pool2d_with_indices_backward": "an ATen backward kernel (jtorch derives backwards with jax.vjp)",
    "native_dropout_backward": "an ATen backward kernel (jtorch derives backwards with jax.vjp)",
    "native_batch_norm": _PRIVATE, "native_group_norm": _PRIVATE, "native_layer_norm": _PRIVATE,
    "torch.ops.aten._efficient_attention_forward": _CUDA, "torch.ops.aten._flash_attention_forward": _CUDA,
    "torch._scaled_mm": "fp8 scaled matmul: " + _CUDA, "torch._scaled_mm_v2": "fp8 scaled matmul: " + _CUDA,
    "jiterator_2inputs_2outputs": _CUDA, "jiterator_4inputs_with_extra_args": _CUDA, "jiterator_binary": _CUDA,
    "jiterator_binary_return_by_ref": _CUDA, "jiterator_unary": _CUDA,
    "sparse.mm.reduce": "sparse layouts do not exist on JAX arrays",
    "sparse.sampled_addmm": "sparse layouts do not exist on JAX arrays",
    "chalf": "JAX has no complex32 dtype",
    "slice": "aten.slice.Tensor: " + _PRIVATE,
    "linalg.ldl_factor": "LAPACK sytrf's Bunch-Kaufman pivot format is not reproduced on JAX",
    "linalg.ldl_factor_ex": "LAPACK sytrf's Bunch-Kaufman pivot format is not reproduced on JAX",
    "linalg.ldl_solve": "needs linalg.ldl_factor's LAPACK pivot format",
}


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def _tol(dtype):
    return {torch.float32: (1e-4, 1e-5), torch.float64: (1e-6, 1e-7), torch.float16: (1e-2, 1e-2),
            torch.bfloat16: (2e-2, 2e-2), torch.complex64: (1e-4, 1e-5), torch.complex128: (1e-6, 1e-7)}.get(
        dtype, (0, 0))


# Entries whose values are random or uninitialised: torch and jtorch draw from different streams
# (documented in docs/architecture.md section 7), so only shapes and dtypes are comparable there.
# Their values are checked by distribution tests (test_distributions.py), not here.
NONDETERMINISTIC = {
    "bernoulli", "cauchy", "exponential", "geometric", "log_normal", "multinomial", "normal",
    "normal.in_place", "normal.number_mean", "rand_like", "randint", "randint_like", "randn", "randn_like",
    "uniform", "empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided", "empty_permuted",
    "nn.functional.rrelu", "nn.functional.feature_alpha_dropout.with_train", "nn.functional.dropout",
    "nn.functional.dropout2d", "nn.functional.dropout3d", "nn.functional.alpha_dropout",
    "nn.functional.fractional_max_pool2d", "nn.functional.fractional_max_pool3d",
    "svd_lowrank", "pca_lowrank",
}


def _canon_columns(v):
    """Eigenvectors are defined up to a unit factor per column: scale each column so that its
    largest-magnitude entry is real and positive (applied to torch's and jtorch's alike)."""
    a = np.asarray(v)
    if a.size == 0:
        return a
    idx = np.argmax(np.abs(a), axis=-2)[..., None, :]
    piv = np.take_along_axis(a, idx, axis=-2)
    ph = piv / np.where(np.abs(piv) == 0, 1, np.abs(piv))
    return a / np.where(ph == 0, 1, ph)


# Entries whose outputs are unique only up to a per-column sign/phase: (output index) to canonicalise.
UP_TO_PHASE = {"linalg.eigh": 1}


def _random(o, sample):
    """Values are random for the entries above, and for samples that ask for dropout."""
    kw = sample.kwargs
    if opinfo_id(o) == "nn.functional.multi_head_attention_forward":   # positional dropout_p, training kwarg
        return bool(kw.get("training", True)) and len(sample.args) > 9 and sample.args[9] > 0
    return opinfo_id(o) in NONDETERMINISTIC or (isinstance(kw.get("dropout_p"), float) and kw["dropout_p"] > 0)


def _compare(jo, to, path="out", values=True):
    if isinstance(to, torch.Tensor):
        if not isinstance(jo, jtorch.Tensor):
            return f"{path}: expected a Tensor, got {type(jo).__name__}"
        if to.layout != torch.strided:   # sparse: same layout, then the values as dense arrays
            if str(jo.layout) != str(to.layout):
                return f"{path}: layout {jo.layout} != torch {to.layout}"
            jo, to = jo.to_dense(), to.to_dense()
        if tuple(jo.shape) != tuple(to.shape):
            return f"{path}: shape {tuple(jo.shape)} != torch {tuple(to.shape)}"
        if jo.dtype is not jdtype(to.dtype):
            return f"{path}: dtype {jo.dtype} != torch {to.dtype}"
        if not values:
            return None
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
            r = _compare(a, b, f"{path}[{i}]", values)
            if r:
                return r
        return None
    if isinstance(to, (bool, int, float, complex)):
        if not values:
            return None
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


def _jconv(x, requires_grad=False, mapping=None):
    """torch sample values -> jtorch: tensors (keeping requires_grad where asked), dtypes, and torch
    functions passed as arguments (e.g. distance_function=torch.nn.functional.pairwise_distance)."""
    if isinstance(x, torch.Tensor):
        j = to_j(x, requires_grad and x.requires_grad)
        if mapping is not None and x.requires_grad:
            mapping[id(x)] = j
        return j
    if isinstance(x, (list, tuple)):
        return type(x)(_jconv(v, requires_grad, mapping) for v in x)
    if isinstance(x, dict):
        return {k: _jconv(v, requires_grad, mapping) for k, v in x.items()}
    if isinstance(x, torch.nn.Module) and not list(x.parameters()):
        # a parameter-free module passed as an argument (distance_function=PairwiseDistance()):
        # the jtorch module of the same class with the same settings
        jcls = getattr(jtorch.nn, type(x).__name__, None)
        if jcls is not None:
            jm = jcls.__new__(jcls)
            jtorch.nn.Module.__init__(jm)
            for k, v in vars(x).items():
                if not k.startswith("_") and isinstance(v, (int, float, bool, str, tuple, type(None))):
                    setattr(jm, k, v)
            return jm
    if callable(x) and not isinstance(x, type):
        for tmod, jname in ((torch.nn.functional, "nn.functional"), (torch, "")):
            name = getattr(x, "__name__", None)
            if name and getattr(tmod, name, None) is x:
                obj = jtorch
                for part in (jname.split(".") if jname else []) + [name]:
                    obj = getattr(obj, part, None)
                return obj if obj is not None else x
    if callable(x) and not isinstance(x, type) and (getattr(x, "__module__", None) or "").startswith("torch"):
        mod = x.__module__.replace("torch", "jtorch", 1)
        if mod.startswith("jtorch._C"):
            mod = "jtorch"
        import importlib
        try:
            obj = importlib.import_module(mod)
            for part in x.__qualname__.split("."):
                obj = getattr(obj, part)
            return obj
        except (ImportError, AttributeError):
            return x
    return to_j(x, False)


def run_forward(o, fn, sample):
    ti = sample.input
    to = o.op(ti, *sample.args, **sample.kwargs)
    ji, ja, jk = _jconv(ti), _jconv(sample.args), _jconv(sample.kwargs)
    jo = fn(ji, *ja, **jk)
    k = UP_TO_PHASE.get(opinfo_id(o))
    if k is not None and isinstance(to, tuple) and isinstance(jo, tuple) and len(jo) == len(to):
        r = _compare(jo[k], to[k], f"out[{k}]", values=False)
        if r:
            return r
        if not np.allclose(_canon_columns(to_np(jo[k])), _canon_columns(to_np(to[k])), *_tol(to[k].dtype)):
            return f"out[{k}]: values differ (up to a per-column phase)"
        return _compare([x for i, x in enumerate(jo) if i != k], [x for i, x in enumerate(to) if i != k])
    return _compare(jo, to, values=not _random(o, sample))


def _grad_call(o, f, sample, args, wrapped):
    """f on the sample the way torch's own gradient tests call it (when `wrapped`): through the
    entry's gradcheck_wrapper (e.g. a Hermitian input for eigh/pinv(hermitian=True)), then the
    sample's output_process_fn_grad (e.g. abs() of eigenvectors, whose sign is arbitrary)."""
    x, a, k = args
    if not wrapped:
        return f(x, *a, **k)
    out = o.gradcheck_wrapper(f, x, *a, **k)
    return sample.output_process_fn_grad(out)


def _torch_grads(o, sample, dtype=None, wrapped=True):
    """torch's gradients of the sample (in `dtype` when given: the float64 reference)."""
    def cast(x):
        if isinstance(x, torch.Tensor):
            y = x.detach().to(dtype) if dtype is not None and x.dtype.is_floating_point else x.detach()
            return y.requires_grad_(x.requires_grad)
        if isinstance(x, (list, tuple)):
            return type(x)(cast(v) for v in x)
        if isinstance(x, dict):
            return {k: cast(v) for k, v in x.items()}
        return x
    args = (sample.input, sample.args, sample.kwargs) if dtype is None else \
        (cast(sample.input), cast(sample.args), cast(sample.kwargs))
    tin = [t for t in _leaves(args[0]) + _leaves(args[1]) if t.requires_grad]
    to = _grad_call(o, o.op, sample, args, wrapped)
    touts = [t for t in _leaves(to) if t.requires_grad and t.dtype.is_floating_point]
    if not tin or not touts:
        return tin, touts, None, None
    gen = np.random.default_rng(0)
    cots = [torch.from_numpy(gen.standard_normal(tuple(t.shape)).astype(np.float64)).to(t.dtype) for t in touts]
    tgrads = torch.autograd.grad(touts, tin, cots, allow_unused=True)
    # torch returns ZeroTensors for some gradients (e.g. sgn's real part): materialise them
    tgrads = [g if g is None or not g._is_zerotensor() else torch.zeros(g.shape, dtype=g.dtype) for g in tgrads]
    return tin, touts, cots, tgrads


def _as_accurate_as_torch(o, sample, i, jgrad, tgrad, wrapped):
    """A float32 gradient that differs from torch's: pass if it matches torch's float64 gradient
    within the usual tolerance, or its worst error against it is no larger than torch's own float32
    one, so torch's float32 rounding is not taken for the truth (logcumsumexp, grid_sampler)."""
    if tgrad.dtype != torch.float32:
        return False
    try:
        ref = _torch_grads(o, sample, torch.float64, wrapped)[3][i]
    except Exception:  # noqa: BLE001  (an entry that has no float64 path)
        return False
    if ref is None:
        return False
    x, y, z = to_np(jgrad).astype(np.float64), to_np(tgrad).astype(np.float64), to_np(ref)
    if x.shape != z.shape or np.isnan(x).any() != np.isnan(z).any():
        return False
    r, a = _tol(tgrad.dtype)
    return bool(np.allclose(x, z, rtol=r, atol=a, equal_nan=True) or
                np.nanmax(np.abs(x - z), initial=0) <= np.nanmax(np.abs(y - z), initial=0))


def _jtorch_call(o, fn, sample):
    """jtorch's outputs through torch's wrappers where those run on jtorch tensors (most are written
    with Tensor methods); some call torch functions on them (the masked ops' wrappers: a TypeError /
    ValueError about tensors), then neither side is wrapped. Returns (wrapped, outputs, leaf map)."""
    mapping = {}
    jargs = tuple(_jconv(v, True, mapping) for v in (sample.input, sample.args, sample.kwargs))
    try:
        return True, _grad_call(o, fn, sample, jargs, True), mapping
    except (TypeError, ValueError) as e:
        if "tensor" not in str(e).lower():
            raise
    mapping = {}
    jargs = tuple(_jconv(v, True, mapping) for v in (sample.input, sample.args, sample.kwargs))
    return False, _grad_call(o, fn, sample, jargs, False), mapping


def run_backward(o, fn, sample):
    if not any(t.requires_grad for t in _leaves(sample.input) + _leaves(sample.args)):
        return None
    # jtorch side: convert the same leaves, keeping requires_grad
    try:
        wrapped, jo, mapping = _jtorch_call(o, fn, sample)
    except Exception as e:  # noqa: BLE001  (torch's error too? e.g. in-place foreach ops on leaves)
        try:
            _torch_grads(o, sample)
        except type(e):
            return None
        raise
    try:
        tin, touts, cots, tgrads = _torch_grads(o, sample, wrapped=wrapped)
    except (IndexError, RuntimeError):
        # torch's own backward fails on this sample (e.g. _foreach_addcdiv with empty tensors in
        # torch 2.13): there is nothing to compare against
        return None
    if not tin or not touts:
        return None
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
        r = _compare(a, b, f"grad[{i}]", values=not _random(o, sample))
        if r and not (r.startswith(f"grad[{i}]: values differ") and _as_accurate_as_torch(o, sample, i, a, b, wrapped)):
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
        why = MISSING_REASONS.get(opinfo_id(o), "not implemented yet")
        return {"forward": "missing: " + why, "grad": "missing"}
    if dtype not in o.supported_dtypes("cpu"):
        dts = [d for d in (torch.float64, torch.int64, torch.bool, torch.complex64) if d in o.supported_dtypes("cpu")]
        if not dts:
            return {"forward": "n/a: torch's OpInfo lists no CPU dtype for this entry", "grad": "n/a"}
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
