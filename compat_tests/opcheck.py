"""Table-driven op checks against real torch: one sample = one call of a torch function on torch
inputs; the same call is made on jtorch (inputs converted with oracle.to_j) in every form torch
offers: function, Tensor method, in-place `x.op_(...)` and `out=`. Values, dtype and shape must
match; where torch raises, jtorch must raise the same exception type.

Inputs are deterministic and cached per (shape, dtype, kind) so that many ops share the same
shapes (and therefore XLA compiles stay few).
"""
import warnings

import numpy as np
import torch

import jtorch
from oracle import assert_same, to_j

F16, BF16, F32, F64 = torch.float16, torch.bfloat16, torch.float32, torch.float64
I8, I16, I32, I64, U8, B, C64, C128 = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.bool,
                                       torch.complex64, torch.complex128)

_CACHE = {}


def mk(shape, dtype=F32, kind="any", seed=0):
    """A deterministic torch tensor. kind: 'any', 'pos' (> 0), 'nz' (no zeros), 'unit' (in (-1, 1)),
    'idx<N>' (int64 in [0, N)), 'small' (small non-negative ints)."""
    key = (tuple(shape), dtype, kind, seed)
    t = _CACHE.get(key)
    if t is not None:
        return t.clone()
    g = torch.Generator().manual_seed(1234 + seed + 7 * len(shape) + sum(shape))
    shape = tuple(shape)
    if kind.startswith("idx"):
        t = torch.randint(0, int(kind[3:]), shape, generator=g, dtype=torch.int64).to(dtype)
    elif dtype is B:
        t = torch.randint(0, 2, shape, generator=g).bool()
    elif dtype in (U8,):
        t = torch.randint(1 if kind in ("nz", "pos") else 0, 9, shape, generator=g).to(dtype)
    elif not dtype.is_floating_point and not dtype.is_complex:
        lo = 0 if kind in ("pos", "small") else -6
        t = torch.randint(lo, 7, shape, generator=g).to(dtype)
        if kind in ("nz", "pos"):
            t = torch.where(t == 0, torch.ones_like(t), t)
    elif dtype.is_complex:
        t = torch.randn(shape, generator=g, dtype=dtype)
    else:
        t = torch.randn(shape, generator=g, dtype=F64)
        if kind == "pos":
            t = t.abs() + 0.5
        elif kind == "unit":
            t = torch.tanh(t) * 0.9
        elif kind == "nz":
            t = torch.where(t.abs() < 0.1, torch.full_like(t, 0.5), t)
        elif kind == "small":
            t = torch.randint(0, 5, shape, generator=g).to(F64)
        t = t.to(dtype)
    _CACHE[key] = t
    return t.clone()


class S:
    """One sample: positional args and kwargs of a torch call (torch tensors / Python values)."""
    __slots__ = ("args", "kwargs", "forms", "rtol", "atol", "note")

    def __init__(self, *args, forms=None, rtol=None, atol=None, note="", **kwargs):
        self.args, self.kwargs, self.forms, self.rtol, self.atol, self.note = args, kwargs, forms, rtol, atol, note

    def __repr__(self):
        def d(a):
            if isinstance(a, torch.Tensor):
                return f"T{list(a.shape)}:{str(a.dtype)[6:]}"
            if isinstance(a, (list, tuple)):
                return type(a)(d(x) for x in a)
            return repr(a)
        kw = ", ".join(f"{k}={d(v)}" for k, v in self.kwargs.items())
        return f"({', '.join(str(d(a)) for a in self.args)}{', ' + kw if kw else ''}){self.note}"


def _clone(x):
    if isinstance(x, torch.Tensor):
        return x.clone()
    if isinstance(x, (list, tuple)):
        return type(x)(_clone(v) for v in x)
    return x


def _run(fn):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(), None
    except Exception as e:  # noqa: BLE001
        return None, e


def _kernel_gap(e):
    """torch CPU lacks a kernel for this dtype: jtorch may compute it or raise the same type."""
    m = str(e)
    return "not implemented for" in m or "not supported for" in m or "does not support" in m


def _compare_outcome(what, tres, terr, jfn, rtol, atol):
    jres, jerr = _run(jfn)
    if terr is not None:
        if isinstance(terr, TypeError) and "must be Tensor, not" in str(terr):
            return "lenient"      # jtorch also accepts a Python scalar where torch wants a Tensor (a superset)
        if _kernel_gap(terr) and (jerr is None or isinstance(jerr, RuntimeError)):
            return "lenient"      # torch's CPU build lacks this dtype's kernel; jtorch computes it or raises
        if jerr is None:
            raise AssertionError(f"{what}: torch raised {type(terr).__name__}: {terr}; jtorch returned {jres!r}")
        if not (isinstance(jerr, type(terr)) or type(jerr).__name__ == type(terr).__name__):
            raise AssertionError(f"{what}: jtorch raised {type(jerr).__name__}: {jerr}; torch raised "
                                 f"{type(terr).__name__}: {terr}")
        return "error"
    if jerr is not None:
        raise AssertionError(f"{what}: jtorch raised {type(jerr).__name__}: {jerr}") from jerr
    if isinstance(tres, torch.Tensor) or isinstance(tres, (tuple, list)):
        assert_same(jres, tres, rtol=rtol, atol=atol, msg=what)
    elif isinstance(tres, (bool, int, float)):
        assert_same(jres, tres, msg=what)
    return "ok"


def check(name, sample, forms=("fn", "method", "inplace", "out"), tname=None, rtol=None, atol=None):
    """Compare jtorch.<name> with torch.<tname or name> on one sample in every applicable form."""
    tname = tname or name
    forms = sample.forms or forms
    rtol = sample.rtol if sample.rtol is not None else rtol
    atol = sample.atol if sample.atol is not None else atol
    args, kw = sample.args, sample.kwargs
    what = f"{name}{sample!r}"
    tfn = getattr(torch, tname, None)
    outcomes = []
    tres = terr = None
    if "fn" in forms and tfn is not None:
        tres, terr = _run(lambda: tfn(*_clone(args), **_clone(kw)))
        jf = getattr(jtorch, name)
        outcomes.append(_compare_outcome(what, tres, terr, lambda: jf(*to_j(_clone(args)), **to_j(_clone(kw))),
                                         rtol, atol))
    first = args[0] if args else None
    if "method" in forms and isinstance(first, torch.Tensor) and hasattr(torch.Tensor, tname):
        mres, merr = _run(lambda: getattr(_clone(first), tname)(*_clone(args[1:]), **_clone(kw)))
        jargs = to_j(_clone(args))
        if not hasattr(jtorch.Tensor, name):
            raise AssertionError(f"jtorch.Tensor has no method {name} (torch has)")
        outcomes.append(_compare_outcome(what + " [method]", mres, merr,
                                         lambda: getattr(jargs[0], name)(*jargs[1:], **to_j(_clone(kw))), rtol, atol))
        if tres is None and terr is None:
            tres, terr = mres, merr
    if "inplace" in forms and isinstance(first, torch.Tensor) and hasattr(torch.Tensor, tname + "_"):
        if not hasattr(jtorch.Tensor, name + "_"):
            raise AssertionError(f"jtorch.Tensor has no in-place method {name}_ (torch has)")

        def t_inplace():
            x = _clone(first)
            r = getattr(x, tname + "_")(*_clone(args[1:]), **_clone(kw))
            assert r is x
            return x

        def j_inplace():
            jargs = to_j(_clone(args))
            x = jargs[0]
            v0 = x._version
            r = getattr(x, name + "_")(*jargs[1:], **to_j(_clone(kw)))
            assert r is x, f"{name}_ did not return self"
            assert x._version > v0, f"{name}_ did not bump _version"
            return x
        ires, ierr = _run(t_inplace)
        outcomes.append(_compare_outcome(what + " [inplace]", ires, ierr, j_inplace, rtol, atol))
    if "out" in forms and tfn is not None and terr is None and tres is not None:
        if isinstance(tres, torch.Tensor):
            def t_out():
                o = torch.empty(0, dtype=tres.dtype)
                r = tfn(*_clone(args), **_clone(kw), out=o)
                assert r is o
                return o

            def j_out():
                o = jtorch.empty(0, dtype=to_j(tres.dtype))
                r = getattr(jtorch, name)(*to_j(_clone(args)), **to_j(_clone(kw)), out=o)
                assert r is o, "out= did not return out"
                return o
        elif isinstance(tres, tuple) and all(isinstance(v, torch.Tensor) for v in tres) and hasattr(tres, "_fields"):
            def t_out():
                o = tuple(torch.empty(0, dtype=v.dtype) for v in tres)
                tfn(*_clone(args), **_clone(kw), out=o)
                return o

            def j_out():
                o = tuple(jtorch.empty(0, dtype=to_j(v.dtype)) for v in tres)
                getattr(jtorch, name)(*to_j(_clone(args)), **to_j(_clone(kw)), out=o)
                return o
        else:
            t_out = None
        if t_out is not None:
            ores, oerr = _run(t_out)
            if not isinstance(oerr, TypeError):   # TypeError: torch has no out= here
                outcomes.append(_compare_outcome(what + " [out=]", ores, oerr, j_out, rtol, atol))
    return outcomes


def run_table(name, samples, **kw):
    """Check every sample; collect all failures so one test run shows them all."""
    fails = []
    for s in samples:
        try:
            check(name, s, **kw)
        except AssertionError as e:
            fails.append(" ".join(str(e).split())[:400])
    if fails:
        raise AssertionError(f"{len(fails)} failing sample(s) for {name}:\n" + "\n".join(fails))


def err(name, *args, exc=None, **kwargs):
    """jtorch raises torch's exception type for this call (torch must raise too)."""
    et = ej = None
    try:
        getattr(torch, name)(*_clone(args), **kwargs)
    except Exception as e:  # noqa: BLE001
        et = e
    try:
        getattr(jtorch, name)(*to_j(_clone(args)), **to_j(kwargs))
    except Exception as e:  # noqa: BLE001
        ej = e
    assert et is not None, f"torch did not raise for {name}"
    assert ej is not None, f"jtorch did not raise for {name} (torch raised {type(et).__name__}: {et})"
    assert type(ej).__name__ == type(et).__name__ or isinstance(ej, type(et)), \
        f"{name}: jtorch raised {type(ej).__name__}: {ej}; torch raised {type(et).__name__}: {et}"
    assert "jax" not in type(ej).__module__, f"raw JAX error leaked: {ej}"
