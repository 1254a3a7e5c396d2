"""Indexing: __getitem__/__setitem__, gather/scatter, index_*, masked_*, take, where-style selection.

JAX gathers clamp out-of-range indices silently; torch raises. Eager calls therefore check index
bounds on the host before running (skipped under tracing, where values are unknown)."""
import jax
import jax.numpy as jnp
import numpy as np

from .registry import op, alias, overload, OPS
from .bounds import check_gather_scatter, check_index_select
from .util import norm_dim, TorchTypeError, TorchValueError


def _is_tracer(a):
    return isinstance(a, jax.core.Tracer)


def check_bounds(idx, size, dim, what="index"):
    """Raise torch's IndexError for out-of-range integer indices (eager only)."""
    if _is_tracer(idx) or idx.size == 0:
        return
    a = np.asarray(idx)
    lo, hi = a.min(), a.max()
    if lo < -size or hi >= size:
        bad = int(hi) if hi >= size else int(lo)
        raise IndexError(f"index {bad} is out of bounds for dimension {dim} with size {size}")


# --- __getitem__ ---------------------------------------------------------------------------------
def _rebuild_index(spec, arrays):
    it = iter(arrays)
    idx = []
    for s in spec:
        if s is None or s is Ellipsis or isinstance(s, int):
            idx.append(s)
        elif s[0] == "s":
            idx.append(slice(s[1], s[2], s[3]))
        elif s[0] == "t":
            idx.append(next(it))
        elif s[0] == "m":
            for _ in range(s[1]):
                idx.append(next(it))
        elif s[0] == "b":
            idx.append(None if s[1] else None)
    return tuple(idx)


def _basic_index(input, spec):
    idx = _rebuild_index(spec, ())
    return input[idx]


op("_index_view", static=("spec",), view=True, linear=True, public=False, method=False)(
    lambda input, spec: _basic_index(input, spec))


@op("_index_adv", static=("spec",), lists=("indices",), linear=True, public=False, method=False)
def _index_adv(input, indices, spec):
    return input[_rebuild_index(spec, [i.astype(np.int64) if i.dtype == jnp.bool_ else i for i in indices])]


def _strip_value(v, target_shape):
    while v.ndim > len(target_shape) and v.shape[0] == 1:
        v = v[0]
    return v


@op("_index_put", static=("spec", "accumulate"), lists=("indices",), public=False, method=False)
def _index_put(input, indices, value, spec, accumulate=False):
    idx = _rebuild_index(spec, indices)
    value = jnp.asarray(value).astype(input.dtype)
    tgt = jax.eval_shape(lambda x: x[idx], jax.ShapeDtypeStruct(input.shape, input.dtype)).shape
    value = _strip_value(value, tgt)
    try:
        value = jnp.broadcast_to(value, tgt)
    except ValueError:
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(value.shape)} cannot be broadcast to "
                           f"indexing result of shape {list(tgt)}") from None
    return input.at[idx].add(value) if accumulate else input.at[idx].set(value)


@op("_mask_fill_where", public=False, method=False)
def _mask_fill_where(input, mask, value):
    m = mask
    while m.ndim < input.ndim:
        m = m[..., None]
    return jnp.where(m, jnp.asarray(value).astype(input.dtype), input)


def _index_int(v, name):
    if v is None or isinstance(v, int):
        return v
    try:
        return v.__index__()
    except Exception:
        raise TorchTypeError(f"slice indices must be integers or None or have an __index__ method") from None


def parse_index(t, index):
    """Split a Python index into a hashable spec plus the index tensors (as arrays)."""
    from .._tensor import Tensor
    if not isinstance(index, tuple):
        index = (index,)
    spec, arrays = [], []
    dim = 0  # the input dim the next entry indexes (for error messages and bounds)
    shape = t._value.shape
    n_real = sum(1 for i in index if i is not None and i is not Ellipsis and not isinstance(i, bool)
                 and not (isinstance(i, Tensor) and i.dtype.name == "bool" and False))
    for k, i in enumerate(index):
        if i is None:
            spec.append(None)
        elif i is Ellipsis:
            spec.append(Ellipsis)
            rest = sum(1 for j in index[k + 1:] if j is not None and j is not Ellipsis)
            dim = len(shape) - rest
        elif isinstance(i, bool):
            spec.append(None)  # x[True] adds a dim; x[False] would give an empty one (rare)
            if not i:
                raise NotImplementedError("jtorch: indexing with the Python constant False is not supported")
        elif isinstance(i, int):
            if dim >= len(shape):
                raise IndexError(f"too many indices for tensor of dimension {len(shape)}")
            n = shape[dim]
            if i < -n or i >= n:
                raise IndexError(f"index {i} is out of bounds for dimension {dim} with size {n}")
            spec.append(i)
            dim += 1
        elif isinstance(i, slice):
            st = _index_int(i.step, "step")
            if st is not None and st <= 0:
                if st == 0:
                    raise TorchValueError("slice step cannot be zero")
                raise TorchValueError("step must be greater than zero")
            spec.append(("s", _index_int(i.start, "start"), _index_int(i.stop, "stop"), st))
            dim += 1
        else:
            if isinstance(i, Tensor):
                a = i._value
            elif isinstance(i, (list, tuple, np.ndarray, range)):
                a = jnp.asarray(np.asarray(i))
            else:
                try:
                    spec.append(i.__index__())
                    dim += 1
                    continue
                except Exception:
                    if isinstance(i, (str, bytes)):
                        raise TorchTypeError(f"new(): invalid data type '{type(i).__name__}'") from None
                    raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables "
                                     "are valid indices (got " + type(i).__name__ + ")") from None
            if a.dtype == jnp.bool_ or a.dtype == jnp.uint8:
                a = a.astype(bool)
                if _is_tracer(a):
                    from .._tensor import _untraceable
                    raise _untraceable("boolean mask indexing (its result shape depends on the data)")
                for j, s in enumerate(a.shape):
                    if dim + j >= len(shape) or shape[dim + j] != s:
                        raise IndexError(f"The shape of the mask {list(a.shape)} at index {j} does not match the shape "
                                         f"of the indexed tensor {list(shape)} at index {dim + j}")
                nz = np.nonzero(np.asarray(a))
                if a.ndim == 0:
                    spec.append(None)
                    if not bool(a):
                        arrays.append(jnp.zeros((0,), np.int64))
                        spec[-1] = ("t",)
                        # x[False]: insert a dim of size 0
                        spec[-1] = None
                        raise NotImplementedError("jtorch: indexing with a 0-dim False mask is not supported")
                    continue
                spec.append(("m", a.ndim))
                arrays.extend(jnp.asarray(z) for z in nz)
                dim += a.ndim
            else:
                if not jnp.issubdtype(a.dtype, jnp.integer):
                    raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
                if dim < len(shape):
                    check_bounds(a, shape[dim], dim)
                spec.append(("t",))
                arrays.append(a)
                dim += 1
    if dim > len(shape) and Ellipsis not in index:
        raise IndexError(f"too many indices for tensor of dimension {len(shape)}")
    return tuple(spec), arrays


def _dynamic_pattern(spec, shape):
    """Basic-index spec -> (pattern, run-time values): integer indices ("I") and partial slices
    (("S", length, step), their start) become run-time arguments, so one compiled kernel serves
    every offset: `x[i]`, `x[i:i + k]`, `x[:, t]` in a Python loop compile once, not once per value.
    Returns None when nothing in the spec varies (full slices, None, Ellipsis only)."""
    pattern, vals, dim = [], [], 0
    for k, s in enumerate(spec):
        if s is None:
            pattern.append(None)
        elif s is Ellipsis:
            pattern.append(Ellipsis)
            dim = len(shape) - sum(1 for r in spec[k + 1:] if r is not None and r is not Ellipsis)
        elif isinstance(s, int) and not isinstance(s, bool):
            pattern.append("I")
            vals.append(s)
            dim += 1
        else:   # ("s", start, stop, step)
            n = shape[dim]
            start, stop, step = slice(s[1], s[2], s[3]).indices(n)
            length = len(range(start, stop, step))
            if start == 0 and length == n and step == 1:
                pattern.append(("s", None, None, None))
            else:
                pattern.append(("S", length, step))
                vals.append(start)
            dim += 1
    return (tuple(pattern), vals) if vals else None


def _dynamic_index(x, pattern, vals):
    """x indexed by a dynamic pattern: partial slices by lax.dynamic_slice_in_dim at their start
    (the span always fits: starts come from slice.indices), integers by a traced index."""
    idx, it, dim = [], iter(vals), 0
    for k, s in enumerate(pattern):
        if s is None:
            idx.append(None)
        elif s is Ellipsis:
            idx.append(Ellipsis)
            dim = x.ndim - sum(1 for r in pattern[k + 1:] if r is not None and r is not Ellipsis)
        elif s == "I":
            idx.append(next(it))
            dim += 1
        elif s[0] == "S":
            length, step = s[1], s[2]
            x = jax.lax.dynamic_slice_in_dim(x, next(it), (length - 1) * step + 1 if length else 0, axis=dim)
            idx.append(slice(None, None, step))
            dim += 1
        else:
            idx.append(slice(None))
            dim += 1
    return x[tuple(idx)]


@op("_index_dyn", static=("pattern",), lists=("vals",), linear=True, public=False, method=False)
def _index_dyn(input, vals, pattern):
    return _dynamic_index(input, pattern, vals)


def _dynamic_put(x, value, pattern, vals):
    """x with x[pattern at vals] = value, one kernel for every offset: the indexed block is cut out
    with lax.dynamic_slice, written with static indices, and put back with lax.dynamic_update_slice."""
    starts, sizes, inner, it, dim = [], [], [], iter(vals), 0

    def full(d):
        starts.append(0)
        sizes.append(x.shape[d])

    for k, s in enumerate(pattern):
        if s is None:
            inner.append(None)
        elif s is Ellipsis:
            end = x.ndim - sum(1 for r in pattern[k + 1:] if r is not None and r is not Ellipsis)
            while dim < end:
                full(dim)
                dim += 1
            inner.append(Ellipsis)
        elif s == "I":
            i, n = next(it), x.shape[dim]
            starts.append(jnp.where(i < 0, i + n, i))
            sizes.append(1)
            inner.append(0)
            dim += 1
        elif s[0] == "S":
            length, step = s[1], s[2]
            starts.append(next(it))
            sizes.append((length - 1) * step + 1 if length else 0)
            inner.append(slice(None, None, step))
            dim += 1
        else:
            full(dim)
            inner.append(slice(None))
            dim += 1
    while dim < x.ndim:
        full(dim)
        dim += 1
    starts = [jnp.asarray(st).astype(np.int32) for st in starts]
    block = jax.lax.dynamic_slice(x, starts, sizes)
    idx = tuple(inner)
    value = jnp.asarray(value).astype(x.dtype)
    tgt = jax.eval_shape(lambda b: b[idx], jax.ShapeDtypeStruct(block.shape, block.dtype)).shape
    value = _strip_value(value, tgt)
    try:
        value = jnp.broadcast_to(value, tgt)
    except ValueError:
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(value.shape)} cannot be broadcast to "
                           f"indexing result of shape {list(tgt)}") from None
    return jax.lax.dynamic_update_slice(x, block.at[idx].set(value), starts)


@op("_index_put_dyn", static=("pattern",), lists=("vals",), public=False, method=False)
def _index_put_dyn(input, vals, value, pattern):
    return _dynamic_put(input, value, pattern, vals)


def _dyn_read_kernel(pattern):
    from .kernel import get_kernel
    return get_kernel(("_index_dyn_read", pattern), lambda: (lambda x, *v: _dynamic_index(x, pattern, v)),
                      "_index_view")


def getitem(t, index):
    from .dispatch import run, _make_view
    from .._tensor import Tensor, wrap
    from ..autograd.grad_mode import STATE
    from ..autograd.forward_ad import ACTIVE as _FW
    spec, arrays = parse_index(t, index)
    if not arrays:
        dyn = _dynamic_pattern(spec, t._value.shape) if not t.is_meta else None
        if dyn is None:
            return run(OPS["_index_view"], (spec,), (-1,), [t], [True])
        pattern, vals = dyn
        if t._requires_grad and STATE.enabled or _FW[0] is not None and "_fw" in t.__dict__:   # (a dual: tangent too)
            o = run(OPS["_index_dyn"], (pattern,), (-1, len(vals)), [t] + vals, [True] + [False] * len(vals))
        else:
            o = wrap(_dyn_read_kernel(pattern).jfwd(t._value, *vals))
        # the same view as the static spec gives (its chain step re-reads and writes through)
        _make_view(o, t, (OPS["_index_view"], (spec,), (-1,), None))
        return o
    return run(OPS["_index_adv"], (spec,), (-1, len(arrays)), [t] + [wrap(a) for a in arrays],
               [True] + [False] * len(arrays))


def setitem(t, index, value):
    from .dispatch import run
    from .._tensor import Tensor, wrap
    from .. import _dtype as D
    if t._requires_grad and t.grad_fn is None and _makes_view(index, t.shape):
        from ..autograd.grad_mode import STATE
        if STATE.enabled:   # torch writes through a view here, hence its wording
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place operation.")
    # x[mask] = scalar: a where(), no data-dependent shapes (also under compile)
    if isinstance(index, Tensor) and index.dtype is D.bool_ and index.ndim <= t.ndim and \
            tuple(index.shape) == tuple(t.shape[:index.ndim]) and \
            (not isinstance(value, Tensor) or value.numel() == 1):
        res = run(OPS["_mask_fill_where"], (), (-1, -1, -1), [t, index, value if not isinstance(value, Tensor)
                                                                 else value.reshape(())], [True, False, True])
        return t._inplace_from(res.to(t.dtype) if res.dtype is not t.dtype else res)
    spec, arrays = parse_index(t, index)
    if isinstance(value, (list, tuple, np.ndarray)):
        value = wrap(jnp.asarray(np.asarray(value)))
    if not arrays and not t.is_meta:
        # x[i] = v / x[t, :] = v / x[i:i + k] = v in a Python loop: offsets are run-time values
        dyn = _dynamic_pattern(spec, t._value.shape)
        if dyn is not None:
            pattern, vals = dyn
            res = run(OPS["_index_put_dyn"], (pattern,), (-1, len(vals), -1), [t] + vals + [value],
                      [True] + [False] * len(vals) + [False])
            return t._inplace_from(res)
    res = run(OPS["_index_put"], (spec, False), (-1, len(arrays), -1), [t] + [wrap(a) for a in arrays] + [value],
              [True] + [False] * len(arrays) + [False])
    return t._inplace_from(res)


def _makes_view(index, shape):
    """Whether torch's x[index] = v writes through a view of x: the index holds an int, None or a
    slice not covering its whole dimension (applied as a view first, advanced indices then go into
    that view); full slices, `...` and purely advanced indices write into x itself."""
    items = index if isinstance(index, tuple) else (index,)
    if any(i is None or (isinstance(i, int) and not isinstance(i, bool)) for i in items):
        return True
    slices = [k for k, i in enumerate(items) if isinstance(i, slice)]
    if not slices:
        return False
    from .._tensor import Tensor
    from .. import _dtype as D
    # dimensions each item consumes: a bool mask its own ndim, `...` whatever is left
    dims = [i.ndim if isinstance(i, Tensor) and i.dtype is D.bool_ else (0 if i is Ellipsis else 1) for i in items]
    n_ell = len(shape) - sum(dims)
    d = 0
    for k, i in enumerate(items):
        if i is Ellipsis:
            d += max(n_ell, 0)
            continue
        if isinstance(i, slice) and d < len(shape) and i.indices(shape[d]) != (0, shape[d], 1):
            return True
        d += dims[k]
    return False


# --- gather / scatter family --------------------------------------------------------------------------
def _check_index_dtype(index, name):
    if index.dtype != jnp.int64 and index.dtype != jnp.int32:
        raise RuntimeError(f"{name}(): Expected dtype int64 for index")


@op(static=("dim", "sparse_grad"), operands=("input",), check=check_gather_scatter)
def gather(input, dim, index, *, sparse_grad=False):
    _check_index_dtype(index, "gather")
    d = norm_dim(dim, input.ndim)
    if index.ndim != input.ndim and not (index.ndim <= 1 and input.ndim <= 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    if input.ndim == 0:
        return input.reshape(index.shape)
    if index.ndim == 0:   # a 1-d input's element at a 0-d index, as a 0-d result
        return jnp.take_along_axis(input, index.reshape(1), axis=d, mode="clip").reshape(())
    return jnp.take_along_axis(input, index, axis=d, mode="clip")


def _scatter_idx(input, d, index):
    if max(index.ndim, 1) != max(input.ndim, 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as self tensor")
    if index.ndim == 0:   # torch takes a 0-d index (of a 0-d or 1-d input) as one element
        index = index.reshape(1)
    grids = jnp.meshgrid(*[jnp.arange(s) for s in index.shape], indexing="ij")
    grids[d] = index
    return tuple(grids)


def _scatter_src(src, index):
    """src cut to index's extent (torch reads only src[:index.size(0), :index.size(1), ...])."""
    if index.ndim == 0:
        return src.reshape(1) if src.ndim == 0 else src[:1]
    return src[tuple(slice(0, s) for s in index.shape)]


@op(static=("dim", "reduce"), operands=("input", "src"), promote="same", inplace=True, check=check_gather_scatter)
def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    _check_index_dtype(index, "scatter")
    d = norm_dim(dim, input.ndim)
    shape = input.shape
    if input.ndim == 0:   # one element, and a 0-d result
        input = input.reshape(1)
    v = src if src is not None else value
    if v is None:
        raise TorchTypeError("scatter() missing 1 required positional argument: 'src' or 'value'")
    v = jnp.asarray(v, input.dtype)
    if v.ndim:
        v = _scatter_src(v, index)
    else:
        v = jnp.broadcast_to(v, (1,) if index.ndim == 0 else index.shape)
    idx = _scatter_idx(input, d, index)
    if reduce is None:
        return input.at[idx].set(v).reshape(shape)
    if reduce == "add":
        return input.at[idx].add(v).reshape(shape)
    if reduce == "multiply":
        return input.at[idx].multiply(v).reshape(shape)
    raise RuntimeError(f"reduce argument must be either add or multiply. Got {reduce}")


@op(static=("dim",), operands=("input", "src"), promote="same", inplace=True, check=check_gather_scatter)
def scatter_add(input, dim, index, src):
    d = norm_dim(dim, input.ndim)
    src = _scatter_src(src, index)
    return input.at[_scatter_idx(input, d, index)].add(src)


@op(static=("dim", "reduce", "include_self"), operands=("input", "src"), promote="same", inplace=True,
    check=check_gather_scatter, saves_result=True)
def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    d = norm_dim(dim, input.ndim)
    src = _scatter_src(src, index)
    idx = _scatter_idx(input, d, index)
    if reduce == "sum":
        base = input if include_self else input.at[idx].set(0)
        return base.at[idx].add(src)
    if reduce == "prod":
        base = input if include_self else input.at[idx].set(1)
        if jnp.issubdtype(input.dtype, jnp.inexact):
            return _scatter_prod(base, src, idx)
        return base.at[idx].multiply(src)
    if reduce in ("amax", "amin"):
        fill = -jnp.inf if reduce == "amax" else jnp.inf
        if jnp.issubdtype(input.dtype, jnp.integer):
            info = jnp.iinfo(input.dtype)
            fill = info.min if reduce == "amax" else info.max
        base = input if include_self else input.at[idx].set(fill)
        return base.at[idx].max(src) if reduce == "amax" else base.at[idx].min(src)
    if reduce == "mean":
        base = input if include_self else input.at[idx].set(0)
        s = base.at[idx].add(src)
        cnt = jnp.ones_like(input) if include_self else jnp.zeros_like(input)
        cnt = cnt.at[idx].add(jnp.ones_like(src))
        cnt = jnp.where(cnt == 0, 1, cnt)
        return s / cnt if jnp.issubdtype(input.dtype, jnp.inexact) else s // cnt
    raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")


@jax.custom_jvp
def _scatter_prod(base, src, idx):
    """base.at[idx].multiply(src), differentiable with repeated indices (jax's scatter_mul is not).
    Each factor's derivative is the product of the other factors of its output element, exact
    with zeros as in torch: result / x without zeros, the product of the non-zero factors for the
    only zero, 0 when there are two zeros or more."""
    return base.at[idx].multiply(src)


@_scatter_prod.defjvp
def _scatter_prod_jvp(primals, tangents):
    base, src, idx = primals
    dbase, dsrc, _ = tangents
    one = jnp.ones((), base.dtype)
    bz, sz = base == 0, src == 0
    nonzero_prod = jnp.where(bz, one, base).at[idx].multiply(jnp.where(sz, one, src))
    zeros = bz.astype(jnp.int32).at[idx].add(sz.astype(jnp.int32))

    def others(x, xz, p, z):   # the product of the other factors of x's output element
        return jnp.where(xz, jnp.where(z == 1, p, 0), jnp.where(z == 0, p / jnp.where(xz, one, x), 0))

    d_base = others(base, bz, nonzero_prod, zeros)
    d_src = others(src, sz, nonzero_prod[idx], zeros[idx])
    return _scatter_prod(base, src, idx), (d_base * dbase).at[idx].add(d_src * dsrc)


@op(static=("dim",), operands=("input",), check=check_index_select)
def index_select(input, dim, index):
    if index.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    d = norm_dim(dim, input.ndim)
    if input.ndim == 0:   # torch keeps the input's (zero) number of dims
        return input
    return jnp.take(input, index.reshape(-1), axis=d)


def _index_at(input, d, index):
    return (slice(None),) * d + (index,)


@op(static=("dim",), operands=("input", "source"), promote="same", inplace=True)
def index_add(input, dim, index, source, *, alpha=1):
    if input.ndim == 0:   # 0-dim: as a 1-element vector
        return index_add.impl(input.reshape(1), 0, index.reshape(-1), source.reshape(-1), alpha=alpha).reshape(())
    d = norm_dim(dim, input.ndim)
    return input.at[_index_at(input, d, index)].add(alpha * source)


@op(static=("dim",), operands=("input", "source"), promote="same", inplace=True)
def index_copy(input, dim, index, source):
    if input.ndim == 0:
        return index_copy.impl(input.reshape(1), 0, index.reshape(-1), source.reshape(-1)).reshape(())
    d = norm_dim(dim, input.ndim)
    return input.at[_index_at(input, d, index)].set(source)


@op(static=("dim",), operands=("input",), inplace=True)
def index_fill(input, dim, index, value):
    if input.ndim == 0:
        return index_fill.impl(input.reshape(1), 0, index.reshape(-1), value).reshape(())
    d = norm_dim(dim, input.ndim)
    return input.at[_index_at(input, d, index)].set(jnp.asarray(value, input.dtype))


@op(static=("dim", "reduce", "include_self"), operands=("input", "source"), promote="same", inplace=True,
    saves_result=True)
def index_reduce(input, dim, index, source, reduce, *, include_self=True):
    if input.ndim == 0:
        return index_reduce.impl(input.reshape(1), 0, index.reshape(-1), source.reshape(-1), reduce,
                                 include_self=include_self).reshape(())
    d = norm_dim(dim, input.ndim)
    shape = list(source.shape)
    full_idx = jnp.broadcast_to(index.reshape([-1 if i == d else 1 for i in range(input.ndim)]), shape)
    return OPS["scatter_reduce"].impl(input, d, full_idx, source, reduce, include_self=include_self)


@op(lists=("indices",), operands=("input", "values"), static=("accumulate",), promote="same", inplace=True)
def index_put(input, indices, values, accumulate=False):
    if len(indices) == 1 and indices[0].dtype == jnp.bool_ and indices[0].ndim <= input.ndim:
        # a boolean mask over the leading dims, without a data-dependent shape: the k-th selected
        # position takes row k of values (or values broadcast when it has no row dimension)
        m = indices[0]
        rest = input.shape[m.ndim:]
        values = jnp.asarray(values, input.dtype)
        mb = m.reshape(m.shape + (1,) * len(rest))
        if values.ndim > len(rest) and values.shape[0] != 1:
            pos = jnp.maximum(jnp.cumsum(m.reshape(-1)) - 1, 0).reshape(m.shape)
            vals = jnp.broadcast_to(values, (values.shape[0],) + rest)[pos]
        else:
            vals = jnp.broadcast_to(values.reshape(values.shape[-len(rest):] if len(rest) else ()) if values.ndim
                                    else values, rest) if values.ndim <= len(rest) + 1 else values
            vals = jnp.broadcast_to(vals.reshape(rest) if vals.size == int(np.prod(rest)) else vals, input.shape)
        return input + jnp.where(mb, vals, 0) if accumulate else jnp.where(mb, vals, input)
    idx = tuple(i.astype(np.int64) if i.dtype == jnp.bool_ else i for i in indices)
    values = jnp.asarray(values, input.dtype)
    return input.at[idx].add(values) if accumulate else input.at[idx].set(values)


@op(operands=("input",), inplace=True)
def masked_fill(input, mask, value):
    if mask.dtype != jnp.bool_:
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype {mask.dtype}")
    if jnp.ndim(value) != 0:
        raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                           f"{jnp.ndim(value)} dimension(s).")
    return jnp.where(mask, jnp.asarray(value).astype(input.dtype), input)


def _take_check(b):
    x, i = b["input"], b["index"]
    if hasattr(i, "_value") and hasattr(x, "_value") and not _is_tracer(i._value) and i.numel():
        a = np.asarray(i._value)
        n = x.numel()
        bad = a[(a >= n) | (a < -n)]
        if bad.size:
            raise IndexError(f"out of range: tried to access index {int(bad.reshape(-1)[0])} on a tensor of {n} "
                             "elements.")


@op(operands=("input",), check=_take_check)
def take(input, index):
    return jnp.take(input.reshape(-1), index)


@op(static=("dim",), operands=("input",))
def take_along_dim(input, indices, dim=None):
    if dim is None:
        return jnp.take(input.reshape(-1), indices.reshape(-1))
    d = norm_dim(dim, input.ndim)
    shape = jnp.broadcast_shapes(tuple(s if i != d else 1 for i, s in enumerate(input.shape)),
                                 tuple(s if i != d else 1 for i, s in enumerate(indices.shape)))
    x = jnp.broadcast_to(input, tuple(s if i != d else input.shape[d] for i, s in enumerate(shape)))
    ix = jnp.broadcast_to(indices, tuple(s if i != d else indices.shape[d] for i, s in enumerate(shape)))
    return jnp.take_along_axis(x, ix, axis=d)


# --- data-dependent shapes: eager only ---------------------------------------------------------------
def _concrete(t, what):
    a = t._value
    if _is_tracer(a):
        from .._tensor import _untraceable
        raise _untraceable(what)
    return a


@overload("nonzero")
def nonzero(input, *, as_tuple=False, out=None):
    from .._tensor import wrap
    a = np.asarray(_concrete(input, "torch.nonzero (its result shape depends on the data)"))
    nz = np.nonzero(a) if a.ndim else (np.nonzero(a.reshape(1))[0][:0] if not a else np.zeros(1, np.int64),)
    if as_tuple:
        return tuple(wrap(jnp.asarray(z, np.int64)) for z in nz)
    if a.ndim == 0:
        return wrap(jnp.zeros((1 if a else 0, 0), np.int64))
    return wrap(jnp.asarray(np.stack(nz, axis=1).astype(np.int64)))


@overload("argwhere")
def argwhere(input):
    return nonzero(input)


@overload("masked_select")
def masked_select(input, mask):
    from .._tensor import wrap
    mask = mask if hasattr(mask, "_value") else wrap(jnp.asarray(mask))
    shape = jnp.broadcast_shapes(tuple(input.shape), tuple(mask.shape))
    m = np.asarray(_concrete(mask, "masked_select")).astype(bool)
    m = np.broadcast_to(m, shape)
    return getitem(input.expand(shape), wrap(jnp.asarray(m)))


@overload("masked_scatter", inplace=True)
def masked_scatter(input, mask, source):
    from .._tensor import wrap
    m = np.broadcast_to(np.asarray(_concrete(mask, "masked_scatter")).astype(bool), tuple(input.shape))
    k = int(m.sum())
    src = source.reshape(-1)[:k]
    out = input.clone()
    setitem(out, wrap(jnp.asarray(m)), src) if k else None
    return out
