"""THE op registry. One declaration per op gives the function, the Tensor method, the in-place
variant, `out=`, the backward (via jax) and a row of the compatibility table.

    @op(promote="same", inplace=True)
    def add(input, other, *, alpha=1):
        return input + alpha * other

Parameters named in `static=` are hashable Python values baked into the trace (dims, shapes,
flags); every other parameter is dynamic: a Tensor, a list of Tensors (`lists=`), a Python
scalar (weakly typed, so a new value never recompiles) or None. `promote` says how operand dtypes
are unified before the pure function sees them:
    None    the function handles dtypes itself
    "same"  torch.result_type over the operands
    "float" as "same", then integers and bools go to the default float dtype
"""
import functools
import inspect
from collections import namedtuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import _dtype as D
from .kernel import get_kernel

OPS = {}          # name -> OpDef: the single source of truth
_MISSING = object()
# torch's argument parser also accepts numpy's spellings of these parameter names
# (torch.sum(x, axis=0, keepdims=True), torch.cumprod(a, axis=0)); looked up only when a keyword
# does not match a parameter, so the common path pays nothing
_NUMPY_NAMES = {"axis": "dim", "keepdims": "keepdim", "x": "input", "a": "input", "x1": "input", "x2": "other"}


def _call(opdef, args, kwargs):
    global _call
    from .dispatch import call as _real_call
    _call = _real_call
    return _real_call(opdef, args, kwargs)
_RETURN_TYPES = {}


class OpDef:
    def __init__(self, impl, name, promote, static, lists, operands, method, inplace, out, view,
                 differentiable, linear, returns, public, doc_note, check, autocast=None, nondiff_outputs=(),
                 saves_result=False):
        self.impl = impl
        self.name = name
        self.promote = promote
        sig = inspect.signature(impl)
        self.params = list(sig.parameters)
        self.positional = [p.name for p in sig.parameters.values()
                           if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        self.defaults = {p.name: p.default for p in sig.parameters.values() if p.default is not p.empty}
        self.static = tuple(n for n in self.params if n in static)
        self.dynamic = tuple(n for n in self.params if n not in static)
        self.lists = frozenset(lists)
        ops = operands if operands is not None else self.dynamic
        self.operand_mask = tuple(n in ops for n in self.dynamic)
        self.method = method
        self.inplace = inplace
        # out=: None (the default) follows torch: accepted exactly when torch's function accepts it
        # (torch_out_table.py; private ops are reached through routers, which decide). "exact": the
        # out tensor must have the result's dtype (mm, sort, ...); "dtype": out's dtype is the
        # computation dtype when dtype= is not given (sum, mean, ...); True/False: accepted or not.
        if out is None:
            from .torch_out_table import ACCEPTS_OUT
            out = name.startswith("_") or name in ACCEPTS_OUT
        self.out = out
        self.view = view
        self.differentiable = differentiable
        self.linear = linear
        # torch's backward formula reads the op's result (exp, tanh, prod...): writing the result in
        # place before backward raises. "only": the result instead of the input (the input may be
        # written); True: both; a tuple: those output positions; a callable of the kernel's inputs
        # (arrays or Python scalars: pow saves its result only for a tensor exponent) returning one. Which inputs are read comes from the vjp (autograd/saved.py).
        self.saves_result = saves_result
        self.returns = _return_type(name.lstrip("_").removesuffix("_dim").removesuffix("_all"), returns) \
            if returns else None
        self.public = public
        self.doc_note = doc_note
        self.check = check
        # output positions that never require grad (lu's P, lstsq's singular_values; integer
        # outputs such as pivots / rank are non-differentiable anyway): None when there are none
        self.nondiff = _output_positions(name, nondiff_outputs, returns)
        # torch's autocast category: "lower" (run in the autocast dtype), "fp32" (run in float32),
        # "promote" (run in the widest operand dtype) or None (untouched). Set by jtorch/amp.
        self.autocast = autocast
        self._fn_cache = {}
        self._pack_at = None  # set by varargs(): f(a, b, c) packs into a list parameter
        # --- precomputed plan for the dispatcher's hot path (see dispatch.call) ---
        self._pidx = {n: i for i, n in enumerate(self.params)}
        self._dlist = [self.defaults.get(n, _MISSING) for n in self.params]
        self._nreq = max([i + 1 for i, n in enumerate(self.params) if n not in self.defaults], default=0)
        self._npos = len(self.positional)
        self._sidx = tuple(self._pidx[n] for n in self.static)
        # per dynamic param: (index, is list param, default baked into the kernel when passed unchanged, operand?)
        # A default (alpha=1, eps=None) is not passed to jit at all: it is a constant of the trace.
        self._dplan = tuple((self._pidx[n], n in self.lists, self.defaults.get(n, _MISSING), m)
                            for n, m in zip(self.dynamic, self.operand_mask))
        self._fast = None
        self._refresh_fast()

    def _refresh_fast(self):
        """The dispatcher's fast path: f(x, y, 2, ...) with everything positional (Tensors, Python
        scalars, simple static values) and the rest at its defaults. Per number of args: how each
        position is passed, the static tuple template, and the kernel-key parts the slow path
        (dispatch.call) would compute for the same call, so both paths share kernels."""
        self._fast = None
        if self.lists or self._pack_at is not None:
            return
        fast = {}
        sslot = {n: k for k, n in enumerate(self.static)}
        dyn_op = dict(zip(self.dynamic, self.operand_mask))
        for n in range(max(self._nreq, 1), self._npos + 1):
            kinds = tuple(sslot[p] if p in sslot else (-1 if dyn_op[p] else -2) for p in self.params[:n])
            given = set(self.params[:n])
            stemplate = [None if p in given else freeze(self.defaults[p]) for p in self.static]
            # None defaults stay jit arguments (None is an empty pytree: free), so autograd sees the same
            # inputs as torch (next_functions has a None slot for them); other defaults are baked.
            struct = tuple(-1 if p in given or self.defaults[p] is None else -2 for p in self.dynamic)
            nones = sum(1 for p in self.dynamic if p not in given and self.defaults[p] is None)
            extra = [self.defaults[p] for p in self.dynamic
                     if p not in given and dyn_op[p] and self.defaults[p] is not None]
            tag = tuple(type(v) is bool for v in stemplate) if any(type(v) is bool for v in stemplate) else ()
            fast[n] = (kinds, stemplate, struct, tuple(extra) if extra else None, tag, (None,) * nones)
        self._fast = fast or None

    def __repr__(self):
        return f"<built-in method {self.name} of jtorch op registry>"

    def __call__(self, *args, **kwargs):
        return _call(self, args, kwargs)

    # -- binding -------------------------------------------------------------------------------
    def bind_list(self, args, kwargs):
        """Arguments -> a list of values in parameter order (defaults filled in)."""
        n = len(args)
        if self._pack_at is not None and n > self._pack_at:
            a = args[self._pack_at]
            if not isinstance(a, (list, tuple)) or n > self._pack_at + 1:
                args = args[:self._pack_at] + (list(args[self._pack_at:]),)
                n = len(args)
        if n > self._npos:
            raise TypeError(f"{self.name}() takes {self._npos} positional arguments but {n} were given")
        vals = list(args)
        vals.extend(self._dlist[n:])
        if kwargs:
            pidx = self._pidx
            for k, v in kwargs.items():
                i = pidx.get(k)
                if i is None:
                    i = pidx.get(_NUMPY_NAMES.get(k))
                    if i is None:
                        raise TypeError(f"{self.name}() got an unexpected keyword argument '{k}'")
                if i < n:
                    raise TypeError(f"{self.name}() got multiple values for argument '{k}'")
                vals[i] = v
        if n < self._nreq:
            missing = [self.params[i] for i in range(self._nreq) if vals[i] is _MISSING]
            if missing:
                raise TypeError(f"{self.name}() missing required argument(s): {', '.join(map(repr, missing))}")
        return vals

    def bind(self, args, kwargs):
        if self._pack_at is not None and len(args) > self._pack_at:
            a = args[self._pack_at]
            if not isinstance(a, (list, tuple)):
                args = args[:self._pack_at] + (list(args[self._pack_at:]),)
        if len(args) > len(self.positional):
            raise TypeError(f"{self.name}() takes {len(self.positional)} positional arguments but {len(args)} were given")
        b = dict(self.defaults)
        b.update(zip(self.positional, args))
        if kwargs:
            for k in kwargs:
                if k not in self.params and _NUMPY_NAMES.get(k) not in self.params:
                    raise TypeError(f"{self.name}() got an unexpected keyword argument '{k}'")
            b.update((k if k in self.params else _NUMPY_NAMES[k], v) for k, v in kwargs.items())
        if len(b) != len(self.params):
            missing = [n for n in self.params if n not in b]
            raise TypeError(f"{self.name}() missing required argument(s): {', '.join(map(repr, missing))}")
        return b

    # -- the pure function a kernel runs -----------------------------------------------------
    def kernel_fn(self, static, struct, cdtype, acast=None):
        """A pure function of the flat dynamic leaves, with static args and casts baked in.
        `acast` (autocast): float16/bfloat16/float32 leaves are cast to it first."""
        impl, dyn, snames = self.impl, self.dynamic, self.static
        if acast is not None:
            inner = self.kernel_fn(static, struct, cdtype, None)
            ac = acast.np
            low = (jnp.float16, jnp.bfloat16, jnp.float32)

            def cast_first(*leaves):
                return inner(*[v.astype(ac) if hasattr(v, "dtype") and v.dtype in low and v.dtype != ac else v
                               for v in leaves])
            return cast_first
        cast_np = None if cdtype is None else cdtype.np
        operand_mask = self.operand_mask
        defaults = self.defaults

        def fn(*leaves):
            kw = dict(zip(snames, static))
            i = 0
            for name, s, is_op in zip(dyn, struct, operand_mask):
                if s == -2:                    # a default baked into the trace
                    kw[name] = defaults[name]
                elif s < 0:
                    v = leaves[i]
                    i += 1
                    if is_op and cast_np is not None and v is not None:
                        v = jnp.asarray(v, cast_np)
                    kw[name] = v
                else:
                    vs = leaves[i:i + s]
                    i += s
                    if is_op and cast_np is not None:
                        vs = [jnp.asarray(v, cast_np) for v in vs]
                    kw[name] = list(vs)
            return impl(**kw)
        return fn


def _output_positions(name, outputs, returns):
    pos = set()
    for o in outputs:
        if isinstance(o, int):
            pos.add(o)
        elif returns and o in returns:
            pos.add(list(returns).index(o))
        else:
            raise ValueError(f"op {name!r}: nondiff_outputs names {o!r}, which is not one of its returns {returns}")
    return frozenset(pos) or None


def _register(name, entry):
    """Every op name is declared exactly once: a second declaration is a bug (two implementations
    of one torch function, one silently winning), so it fails at import."""
    if name in OPS:
        raise RuntimeError(f"op {name!r} is declared twice (jtorch/_ops registry); keep one declaration")
    OPS[name] = entry


def _return_type(opname, fields):
    key = (opname, tuple(fields))
    t = _RETURN_TYPES.get(key)
    if t is None:
        t = _RETURN_TYPES[key] = namedtuple(opname, fields)
        t.__module__ = "torch.return_types"
    return t


def freeze(v):
    """Make a static argument hashable (lists -> tuples, Tensors -> Python values)."""
    if isinstance(v, list):
        return tuple(freeze(x) for x in v)
    if isinstance(v, tuple):
        return tuple(freeze(x) for x in v)
    if isinstance(v, (np.ndarray, np.generic)):
        return v.tolist() if v.ndim else v.item()
    if hasattr(v, "_is_jtorch_tensor"):
        return freeze(v.tolist())
    if isinstance(v, dict):
        return tuple(sorted((k, freeze(x)) for k, x in v.items()))
    if isinstance(v, slice):
        return ("slice", v.start, v.stop, v.step)
    return v


def op(name=None, *, promote=None, static=(), lists=(), operands=None, method=True, inplace=False,
       out=None, view=False, differentiable=True, linear=False, returns=None, public=True,
       doc_note=None, check=None, nondiff_outputs=(), saves_result=False):
    """Declare an op. See the module docstring."""
    def deco(impl):
        d = OpDef(impl, name or impl.__name__, promote, static, lists, operands, method, inplace, out,
                  view, differentiable, linear, returns, public, doc_note, check, nondiff_outputs=nondiff_outputs,
                  saves_result=saves_result)
        _register(d.name, d)
        return d
    return deco


def alias(new, old, method=True, public=True):
    """Register another spelling for an op (torch.concat -> cat); docs show it as an alias."""
    _register(new, ("alias", old, method, public))


def overload(name, method=True, public=True, inplace=None):
    """Register a Python router for torch functions with several signatures (max(x) / max(x, dim) /
    max(x, other)); the router calls registered ops, so each op is still written once."""
    def deco(fn):
        _register(name, ("overload", _numpy_names(fn), method, public, inplace))
        return fn
    return deco


def _numpy_names(fn):
    """A router that also takes numpy's parameter spellings (axis=, keepdims=), as torch's parser."""
    params = inspect.signature(fn).parameters
    names = {k: v for k, v in _NUMPY_NAMES.items() if v in params and k not in params}
    if not names:
        return fn

    @functools.wraps(fn)
    def router(*args, **kwargs):
        if kwargs and not names.keys().isdisjoint(kwargs):
            kwargs = {names.get(k, k): v for k, v in kwargs.items()}
        return fn(*args, **kwargs)
    return router


def varargs(opdef, param):
    """Let torch.meshgrid(x, y) / torch.einsum(eq, a, b) pack trailing positionals into `param`."""
    opdef._pack_at = opdef.positional.index(param)
    opdef._refresh_fast()
    return opdef
