"""The long tail of torch's op surface (measured by torch's OpInfo database): small shape helpers,
binning/searching, statistics, scatter variants of views, *_copy spellings, legacy LU, special
polynomials. Ops whose result shape depends on the data (bincount, unique, histogram with data
ranges) run eagerly on concrete values, like indexing.nonzero."""
import itertools
import math

import jax
import jax.numpy as jnp
import jax.scipy.special as jss
import numpy as np

from .registry import op, alias, overload, varargs, OPS
from .util import norm_dim, norm_dims, TorchTypeError, TorchValueError


def _wrap(a):
    from .._tensor import wrap
    return wrap(jnp.asarray(a))


def _is_t(x):
    return hasattr(x, "_is_jtorch_tensor")


def _concrete(t, what):
    a = t._value
    if isinstance(a, jax.core.Tracer):
        from .._tensor import _untraceable
        raise _untraceable(what)
    return np.asarray(a)


def _fdt(x):
    """torch's float result dtype for an input array."""
    if jnp.issubdtype(x.dtype, jnp.inexact):
        return x.dtype
    from .. import _dtype as D
    return D.get_default_dtype().np


# --- atleast_*d, broadcast_shapes, ravel, msort ---------------------------------------------------
def _atleast(n):
    def f(*tensors):
        if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
            return tuple(f(t) for t in tensors[0])
        if len(tensors) != 1:
            return tuple(f(t) for t in tensors)
        t = tensors[0]
        shape = tuple(t.shape)
        if len(shape) >= n:
            return t
        if n == 1:
            new = (1,)
        elif n == 2:
            new = (1,) + shape if len(shape) == 1 else (1, 1)
        else:
            new = {0: (1, 1, 1), 1: (1,) + shape + (1,), 2: shape + (1,)}[len(shape)]
        return OPS["view"](t, new)
    return f


overload("atleast_1d", method=False)(_atleast(1))
overload("atleast_2d", method=False)(_atleast(2))
overload("atleast_3d", method=False)(_atleast(3))


@overload("broadcast_shapes", method=False)
def broadcast_shapes(*shapes):
    from .. import Size
    norm = []
    for s in shapes:
        if isinstance(s, int):
            s = (s,)
        norm.append(tuple(int(d) for d in s))
    out = []
    for dims in itertools.zip_longest(*[reversed(s) for s in norm], fillvalue=1):
        size = 1
        for d in dims:
            if d < 0:
                raise RuntimeError(f"Trying to create tensor with negative dimension {d}: {list(dims)}")
            if d != 1:
                if size != 1 and d != size:
                    raise RuntimeError(f"Shape mismatch: objects cannot be broadcast to a single shape.  Mismatch "
                                       f"is between {size} and {d} at dimension")
                size = d
        out.append(size)
    return Size(tuple(reversed(out)))


@overload("ravel")
def ravel(input):
    return OPS["reshape"](input, (-1,))


@overload("msort")
def msort(input):
    return OPS["sort"](input, dim=0)[0]


# --- splits ---------------------------------------------------------------------------------------
def _dir_split(name, dim_of, min_ndim):
    def f(input, indices_or_sections):
        if input.dim() < min_ndim:
            raise RuntimeError(f"torch.{name} requires a tensor with at least {min_ndim} dimension, but got a "
                               f"tensor with {input.dim()} dimensions!")
        d = dim_of(input.dim())
        if isinstance(indices_or_sections, int) and input.shape[d] % indices_or_sections:
            raise RuntimeError(f"torch.{name} attempted to split along dimension {d}, but the size of the "
                               f"dimension {input.shape[d]} is not divisible by the split_size "
                               f"{indices_or_sections}!")
        return OPS["tensor_split"](input, indices_or_sections, d)
    f.__name__ = name
    return f


overload("dsplit")(_dir_split("dsplit", lambda n: 2, 3))
overload("hsplit")(_dir_split("hsplit", lambda n: 1 if n > 1 else 0, 1))
overload("vsplit")(_dir_split("vsplit", lambda n: 0, 2))
alias("unsafe_chunk", "chunk")
alias("unsafe_split", "split")


# --- *_copy variants: the view op, then a copy ------------------------------------------------------
def _copy_of(view_name):
    def f(*args, **kwargs):
        out = kwargs.pop("out", None)
        r = OPS[view_name](*args, **kwargs) if view_name in OPS else getattr(args[0], view_name)(*args[1:], **kwargs)
        if isinstance(r, (tuple, list)):
            return tuple(OPS["clone"](x) for x in r)
        if out is not None:
            return out._set_from_out(r, view_name + "_copy")
        return OPS["clone"](r)
    f.__name__ = view_name + "_copy"
    return f


for _v in ("diagonal", "expand", "narrow", "permute", "split_with_sizes", "squeeze", "t", "transpose", "unbind",
           "unfold", "unsqueeze", "view", "as_strided", "split", "detach", "values", "indices", "view_as_real",
           "view_as_complex", "unflatten"):
    overload(_v + "_copy", method=False)(_copy_of(_v))


@overload("alias_copy", method=False)
def alias_copy(input):
    return OPS["clone"](input)


# --- as_strided (a gather over the flat input; a view, so writes scatter back) ----------------------
def _strided_index(size, stride, offset):
    idx = np.full(tuple(size), offset, dtype=np.int64)
    for d, (n, s) in enumerate(zip(size, stride)):
        shp = [1] * len(size)
        shp[d] = n
        idx = idx + (np.arange(n, dtype=np.int64) * s).reshape(shp)
    return idx


@op(static=("size", "stride", "storage_offset"), view=True, linear=True, inplace=True)
def as_strided(input, size, stride, storage_offset=None):
    size, stride = tuple(size), tuple(stride)
    if len(size) != len(stride):
        raise RuntimeError(f"mismatch in length of strides and shape")
    idx = _strided_index(size, stride, storage_offset or 0)
    flat = input.reshape(-1)
    if idx.size and (idx.max() >= flat.shape[0] or idx.min() < 0):
        raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage offset "
                           f"{storage_offset or 0} out of bounds for storage of {flat.shape[0]} elements")
    return flat[idx] if idx.size else jnp.zeros(size, input.dtype)


@op(static=("size", "stride", "storage_offset"), promote="same")
def as_strided_scatter(input, src, size, stride, storage_offset=None):
    idx = _strided_index(tuple(size), tuple(stride), storage_offset or 0)
    return input.reshape(-1).at[idx.reshape(-1)].set(src.reshape(-1)).reshape(input.shape)


# --- scatter counterparts of views -----------------------------------------------------------------
@op(static=("offset", "dim1", "dim2"), promote="same")
def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    d1, d2 = norm_dim(dim1, input.ndim), norm_dim(dim2, input.ndim)
    pos = jnp.arange(input.size).reshape(input.shape)
    didx = jnp.diagonal(pos, offset, d1, d2)
    if didx.shape != src.shape:
        raise RuntimeError(f"diagonal_scatter: expected src to have a size equal to the diagonal of the input. "
                           f"Got {list(src.shape)} for a diagonal of size {list(didx.shape)}")
    return input.reshape(-1).at[didx.reshape(-1)].set(src.reshape(-1)).reshape(input.shape)


@op(static=("dim", "index"), promote="same")
def select_scatter(input, src, dim, index):
    d = norm_dim(dim, input.ndim)
    n = input.shape[d]
    if index < -n or index >= n:
        raise IndexError(f"select(): index {index} out of range for tensor of size {list(input.shape)} at dimension {d}")
    idx = [slice(None)] * input.ndim
    idx[d] = index % n
    return input.at[tuple(idx)].set(src)


@op(static=("dim", "start", "end", "step"), promote="same")
def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    d = norm_dim(dim, input.ndim)
    idx = [slice(None)] * input.ndim
    idx[d] = slice(start, end, step)
    return input.at[tuple(idx)].set(src)


# --- binning, searching, counting ------------------------------------------------------------------
def _ss(seq, x, side, sorter):
    if sorter is not None:
        seq = jnp.take_along_axis(seq, sorter, axis=-1)
    if seq.ndim <= 1:
        return jnp.searchsorted(seq, x, side=side)
    lead = seq.shape[:-1]
    f = lambda s, v: jnp.searchsorted(s, v, side=side)
    s2, x2 = seq.reshape((-1, seq.shape[-1])), x.reshape((int(np.prod(lead)), -1) if x.ndim else (1, 1))
    return jax.vmap(f)(s2, x2).reshape(x.shape)


@op(static=("out_int32", "right", "side"), promote="same", differentiable=False,
    operands=("sorted_sequence", "input"))   # sorter (int64 indices) must not be promoted
def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None):
    if side is not None and side not in ("left", "right"):
        raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}")
    if side == "left" and right:
        raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, got side of left "
                           "while right was True")
    if sorted_sequence.ndim > 1 and sorted_sequence.shape[:-1] != jnp.shape(input)[:-1]:
        raise RuntimeError("torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
                           "dimensions of boundaries tensor and input value tensor must match")
    sd = "right" if (right or side == "right") else "left"
    r = _ss(sorted_sequence, jnp.asarray(input), sd, sorter)
    return r.astype(jnp.int32 if out_int32 else jnp.int64)


@op(static=("out_int32", "right"), promote="same", differentiable=False)
def bucketize(input, boundaries, *, out_int32=False, right=False):
    if boundaries.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries.ndim})")
    r = jnp.searchsorted(boundaries, jnp.asarray(input), side="right" if right else "left")
    return r.astype(jnp.int32 if out_int32 else jnp.int64)


@op(static=("assume_unique", "invert"), promote="same", differentiable=False, method=False)
def isin(elements, test_elements, *, assume_unique=False, invert=False):
    e, t = jnp.asarray(elements), jnp.asarray(test_elements).reshape(-1)
    r = (e[..., None] == t).any(-1) if t.size else jnp.zeros(e.shape, bool)
    return ~r if invert else r


@overload("bincount")
def bincount(input, weights=None, minlength=0):
    a = _concrete(input, "torch.bincount (its result length depends on the data)")
    if a.ndim != 1:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if not np.issubdtype(a.dtype, np.integer) and a.dtype != np.bool_:
        from .util import not_implemented
        raise not_implemented("bincount", a.dtype)   # torch: NotImplementedError, 'Float' spelling
    if a.size and a.min() < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    n = max(int(a.max()) + 1 if a.size else 0, int(minlength))
    return OPS["_bincount"](input, weights, n)


@op("_bincount", static=("length",), public=False, method=False, differentiable=False)
def _bincount(input, weights, length):
    if weights is None:
        return jnp.bincount(input, length=length).astype(jnp.int64)
    w = weights if jnp.issubdtype(weights.dtype, jnp.floating) else weights.astype(jnp.float64)
    if w.dtype not in (jnp.float32, jnp.float64):
        w = w.astype(jnp.float64)
    return jnp.bincount(input, weights=w, length=length).astype(w.dtype if weights.dtype == jnp.float32 else jnp.float64)


@op("_histogram_edges", static=("bins", "range"), public=False, method=False, differentiable=False)
def _histogram_edges(input, bins, range=None):
    if range is None:
        lo, hi = (jnp.min(input), jnp.max(input)) if input.size else (jnp.zeros((), input.dtype),) * 2
    else:
        lo, hi = jnp.asarray(range[0], input.dtype), jnp.asarray(range[1], input.dtype)
    same = lo == hi
    lo, hi = jnp.where(same, lo - 0.5, lo), jnp.where(same, hi + 0.5, hi)
    return jnp.linspace(lo, hi, bins + 1).astype(input.dtype)


@op("_histogram_counts", static=("density",), public=False, method=False, differentiable=False)
def _histogram_counts(input, edges, weight=None, density=False):
    x = input.reshape(-1)
    nb = edges.shape[0] - 1
    idx = jnp.searchsorted(edges, x, side="right") - 1
    idx = jnp.where(x == edges[-1], nb - 1, idx)
    ok = (x >= edges[0]) & (x <= edges[-1])
    w = jnp.ones_like(x) if weight is None else weight.reshape(-1).astype(x.dtype)
    hist = jnp.zeros(nb, x.dtype).at[jnp.where(ok, idx, 0)].add(jnp.where(ok, w, 0))
    if density:
        hist = hist / (hist.sum() * jnp.diff(edges))
    return hist


@overload("histogram")
def histogram(input, bins=100, *, range=None, weight=None, density=False, out=None):
    from .._ops.registry import freeze
    if not jnp.issubdtype(input._value.dtype, jnp.floating):
        raise RuntimeError(f"torch.histogram: input tensor and bins tensors should have the same dtype, but got "
                           f"input {input.dtype} and bins {input.dtype}")
    if _is_t(bins):
        edges = bins
    else:
        edges = OPS["_histogram_edges"](input, int(bins), freeze(tuple(range)) if range is not None else None)
    hist = OPS["_histogram_counts"](input, edges, weight, density=bool(density))
    return _HistRet(hist, edges)


from collections import namedtuple as _nt  # noqa: E402
_HistRet = _nt("histogram", ["hist", "bin_edges"])
_HistRet.__module__ = "torch.return_types"


@overload("histogramdd")
def histogramdd(input, bins=10, *, range=None, weight=None, density=False):
    a = _concrete(input, "torch.histogramdd")
    w = None if weight is None else _concrete(weight, "torch.histogramdd")
    d = a.shape[-1]
    pts = a.reshape(-1, d)
    if isinstance(bins, int):
        bins = [bins] * d
    if _is_t(bins):
        bins = [int(b) for b in bins.tolist()]
    if len(bins) and _is_t(bins[0]):
        edges = [_concrete(b, "torch.histogramdd") for b in bins]
    else:
        edges = []
        for i, nb in enumerate(bins):
            if range is not None:
                lo, hi = range[2 * i], range[2 * i + 1]
            else:
                lo, hi = (pts[:, i].min(), pts[:, i].max()) if pts.shape[0] else (0.0, 0.0)
            if lo == hi:
                lo, hi = lo - 0.5, hi + 0.5
            edges.append(np.linspace(lo, hi, int(nb) + 1).astype(a.dtype))
    hist = _histdd(pts, edges, None if w is None else w.reshape(-1), density)
    return _HistddRet(_wrap(hist.astype(a.dtype)), tuple(_wrap(e.astype(a.dtype)) for e in edges))


def _upper_bound(a, x):
    """std::upper_bound on a (possibly unsorted, as torch allows) edge sequence."""
    lo, hi = 0, len(a)
    while lo < hi:
        mid = (lo + hi) // 2
        if x < a[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _histdd(pts, edges, w, density):
    """torch's histogramdd on the host: an element goes to bin upper_bound(edges, x) - 1 (the last
    edge belongs to the last bin); elements outside [edges[0], edges[-1]] are dropped."""
    nb = [len(e) - 1 for e in edges]
    hist = np.zeros(nb, np.float64)
    if all(np.all(np.diff(e) >= 0) for e in edges):   # sorted edges: the vectorised upper_bound
        ok = np.ones(pts.shape[0], bool)
        pos = []
        for d, e in enumerate(edges):
            x = pts[:, d]
            ok &= (x >= e[0]) & (x <= e[-1])
            pos.append(np.minimum(np.searchsorted(e, x, side="right") - 1, nb[d] - 1))
        np.add.at(hist, tuple(p[ok] for p in pos), 1.0 if w is None else w[ok])
        pts = pts[:0]
    for r in range(pts.shape[0]):
        pos = []
        for d, e in enumerate(edges):
            x = pts[r, d]
            if not (e[0] <= x <= e[-1]):
                break
            p = _upper_bound(e, x) - 1
            if p == nb[d]:
                p -= 1
            pos.append(p)
        else:
            hist[tuple(pos)] += 1.0 if w is None else w[r]
    if density:
        tot = hist.sum()
        widths = np.ones(nb)
        for d, e in enumerate(edges):
            shp = [1] * len(nb)
            shp[d] = nb[d]
            widths = widths * np.diff(e).reshape(shp)
        hist = hist / tot / widths
    return hist


_HistddRet = _nt("histogramdd", ["hist", "bin_edges"])
_HistddRet.__module__ = "torch.return_types"


def _uniq(a, axis, return_inverse, return_counts, consecutive):
    if axis is None:
        flat = a.reshape(-1)
        if consecutive:
            if flat.size == 0:
                return flat, np.zeros(a.shape, np.int64), np.zeros(0, np.int64)
            keep = np.concatenate([[True], flat[1:] != flat[:-1]])
            vals = flat[keep]
            inv = (np.cumsum(keep) - 1).reshape(a.shape)
            starts = np.nonzero(keep)[0]
            counts = np.diff(np.append(starts, flat.size))
            return vals, inv, counts
        vals, inv, counts = np.unique(flat, return_inverse=True, return_counts=True)
        return vals, inv.reshape(a.shape), counts
    moved = np.moveaxis(a, axis, 0)
    n = moved.shape[0]
    rows = moved.reshape(n, -1)
    if consecutive:
        if n == 0:
            return a, np.zeros(0, np.int64), np.zeros(0, np.int64)
        keep = np.concatenate([[True], (rows[1:] != rows[:-1]).any(1)])
        inv = np.cumsum(keep) - 1
        starts = np.nonzero(keep)[0]
        counts = np.diff(np.append(starts, n))
        return np.moveaxis(moved[keep], 0, axis), inv, counts
    vals, inv, counts = np.unique(rows, axis=0, return_inverse=True, return_counts=True)
    vals = vals.reshape((-1,) + moved.shape[1:])
    return np.moveaxis(vals, 0, axis), inv.reshape(-1), counts


def _uniq_out(input, res, return_inverse, return_counts):
    vals, inv, counts = res
    out = [_wrap(jnp.asarray(vals, input._value.dtype))]
    if return_inverse:
        out.append(_wrap(jnp.asarray(inv, jnp.int64)))
    if return_counts:
        out.append(_wrap(jnp.asarray(counts, jnp.int64)))
    return out[0] if len(out) == 1 else tuple(out)


@overload("unique")
def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    a = _concrete(input, "torch.unique (its result shape depends on the data)")
    axis = None if dim is None else norm_dim(dim, a.ndim)
    return _uniq_out(input, _uniq(a, axis, return_inverse, return_counts, False), return_inverse, return_counts)


@overload("unique_consecutive")
def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    a = _concrete(input, "torch.unique_consecutive (its result shape depends on the data)")
    axis = None if dim is None else norm_dim(dim, a.ndim)
    return _uniq_out(input, _uniq(a, axis, return_inverse, return_counts, True), return_inverse, return_counts)


@op(static=("shape",), differentiable=False, method=False, public=False)
def _unravel_index(indices, shape):
    return tuple(jnp.asarray(x, jnp.int64) for x in jnp.unravel_index(indices, shape))


@overload("unravel_index", method=False)
def unravel_index(indices, shape):
    from .util import size_arg
    if not _is_t(indices):
        from .. import tensor
        indices = tensor(indices)
    if indices.dtype.is_floating_point or indices.dtype.is_complex or indices.dtype.name == "bool":
        raise TorchTypeError("expected 'indices' to be integer dtype, but got " + str(indices.dtype))
    shape = size_arg((shape,) if isinstance(shape, int) else tuple(shape))
    a = _concrete(indices, "torch.unravel_index") if not isinstance(indices._value, jax.core.Tracer) else None
    if a is not None and a.size:
        n = int(np.prod(shape))
        if a.min() < -n or a.max() >= n:
            raise RuntimeError("index out of bounds in unravel_index")
    if a is not None and a.size and a.min() < 0:
        indices = OPS["remainder"](indices, int(np.prod(shape)))
    return OPS["_unravel_index"](indices, tuple(shape))


# --- combinatorics ----------------------------------------------------------------------------------
@op(lists=("tensors",), promote="same", method=False, linear=True)
def cartesian_prod(tensors):
    for t in tensors:
        if t.ndim != 1:
            raise RuntimeError(f"Expect a 1D vector, but got shape {list(t.shape)}")
    if len(tensors) == 1:
        return tensors[0]
    grids = jnp.meshgrid(*tensors, indexing="ij")
    return jnp.stack([g.reshape(-1) for g in grids], axis=1)


varargs(OPS["cartesian_prod"], "tensors")


@op(static=("r", "with_replacement"), linear=True)
def combinations(input, r=2, with_replacement=False):
    if input.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return jnp.zeros((0,), input.dtype)
    gen = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    idx = np.array(list(gen(range(input.shape[0]), r)), dtype=np.int64).reshape(-1, r)
    if idx.shape[0] == 0:
        return jnp.zeros((0, r), input.dtype) if r > 1 else jnp.zeros((0,), input.dtype)
    return input[idx]


# --- statistics -------------------------------------------------------------------------------------
@op(static=("correction",), promote="float")
def cov(input, *, correction=1, fweights=None, aweights=None):
    if input.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an input with "
                           f"{input.ndim} dimensions")
    x = input.reshape(1, -1) if input.ndim < 2 else input
    n = x.shape[1]
    w = None
    if fweights is not None:
        w = fweights.astype(x.real.dtype)
    if aweights is not None:
        aw = aweights.astype(x.real.dtype)
        w = aw if w is None else w * aw
    if w is None:
        avg = x.mean(axis=1)
        wsum = jnp.asarray(n, x.real.dtype)
        norm = wsum - correction
    else:
        wsum = w.sum()
        avg = (x * w).sum(axis=1) / wsum
        if correction == 0:
            norm = wsum
        elif aweights is None:
            norm = wsum - correction
        else:
            norm = wsum - correction * (w * aweights.astype(x.real.dtype)).sum() / wsum
    norm = jnp.maximum(norm, 0)
    xc = x - avg[:, None]
    xw = xc if w is None else xc * w
    c = xw @ jnp.conj(xc).T / norm
    return c.reshape(()) if input.ndim < 2 or x.shape[0] == 1 else c


@op(promote="float")
def corrcoef(input):
    c = cov.impl(input)
    if c.ndim == 0:
        return c / c
    d = jnp.diagonal(c)
    sd = jnp.sqrt(d.real)
    c = c / sd[:, None] / sd[None, :]
    if jnp.iscomplexobj(c):
        return jnp.clip(c.real, -1, 1) + 1j * jnp.clip(c.imag, -1, 1)
    return jnp.clip(c, -1, 1)


def _quantile(fn, name):
    def impl(input, q, dim=None, keepdim=False, *, interpolation="linear"):
        if not jnp.issubdtype(input.dtype, jnp.floating):
            raise RuntimeError(f"{name}() input tensor must be either float or double dtype")
        if interpolation not in ("linear", "lower", "higher", "midpoint", "nearest"):
            raise RuntimeError(f"{name}() interpolation must be one of linear, lower, higher, midpoint or nearest. "
                               f"Got {interpolation}")
        qa = jnp.asarray(q, input.dtype)
        if qa.ndim > 1:
            raise RuntimeError(f"{name}() q must be a scalar or 1D tensor")
        if dim is None:
            x, ax = input.reshape(-1), 0
        else:
            x, ax = input, norm_dim(dim, input.ndim)
        if x.ndim == 0:
            x, ax = x.reshape(1), 0
        meth = "nearest" if interpolation == "nearest" else interpolation
        if interpolation == "nearest":
            # torch rounds half to even on the fractional rank
            xs = jnp.sort(x, axis=ax) if fn is jnp.quantile else x
            r = fn(x, qa, axis=ax, keepdims=keepdim, method="nearest")
        else:
            r = fn(x, qa, axis=ax, keepdims=keepdim, method=meth)
        if dim is None and keepdim:
            r = r.reshape(qa.shape + (1,) * input.ndim)
        return r.astype(input.dtype)
    impl.__name__ = name
    return impl


op("quantile", static=("dim", "keepdim", "interpolation"), promote="same")(_quantile(jnp.quantile, "quantile"))
op("nanquantile", static=("dim", "keepdim", "interpolation"), promote="same")(_quantile(jnp.nanquantile, "nanquantile"))


@op(static=("p", "dim", "maxnorm"), inplace=True)
def renorm(input, p, dim, maxnorm):
    d = norm_dim(dim, input.ndim)
    axes = tuple(i for i in range(input.ndim) if i != d)
    a = jnp.abs(input)
    if p == math.inf:
        nrm = a.max(axis=axes, keepdims=True)
    else:
        nrm = (a ** p).sum(axis=axes, keepdims=True) ** (1.0 / p)
    factor = jnp.where(nrm > maxnorm, maxnorm / (nrm + 1e-7), 1.0).astype(input.dtype)
    return input * factor


# --- integration and differences ------------------------------------------------------------------
@op("_trapezoid_x", static=("dim",), promote="float", public=False, method=False)
def _trapezoid_x(y, x, dim=-1):
    d = norm_dim(dim, y.ndim)
    n = y.shape[d]
    if n == 0:
        return jnp.zeros(y.shape[:d] + y.shape[d + 1:], y.dtype)
    if x.ndim == 1:
        dxs = jnp.diff(x)
        shp = [1] * y.ndim
        shp[d] = n - 1
        dxs = dxs.reshape(shp)
    else:
        dxs = jnp.diff(x, axis=d if x.ndim == y.ndim else -1)
    s1 = jax.lax.slice_in_dim(y, 1, n, axis=d)
    s0 = jax.lax.slice_in_dim(y, 0, n - 1, axis=d)
    return _half_sum((s1 + s0) * dxs, d) / 2


@op("_trapezoid_dx", static=("dim",), promote="float", public=False, method=False)
def _trapezoid_dx(y, dx=1, dim=-1):
    d = norm_dim(dim, y.ndim)
    n = y.shape[d]
    if n == 0:
        return jnp.zeros(y.shape[:d] + y.shape[d + 1:], y.dtype)
    # torch's formula: sum(y) - (first + last) / 2, times dx
    ends = jax.lax.index_in_dim(y, 0, d, keepdims=False) + jax.lax.index_in_dim(y, n - 1, d, keepdims=False)
    return ((_half_sum(y, d) - ends * 0.5) * dx).astype(y.dtype)


def _half_sum(x, d):
    """Sum along d with torch's sum accumulation (half / bfloat16 in float32, rounded once)."""
    from .reduction import _opmath
    return _opmath(jnp.sum, x, x.dtype, axis=d)


@op("_cumtrapz_x", static=("dim",), promote="float", public=False, method=False)
def _cumtrapz_x(y, x, dim=-1):
    d = norm_dim(dim, y.ndim)
    n = y.shape[d]
    if x.ndim == 1:
        dxs = jnp.diff(x)
        shp = [1] * y.ndim
        shp[d] = max(n - 1, 0)
        dxs = dxs.reshape(shp)
    else:
        dxs = jnp.diff(x, axis=d if x.ndim == y.ndim else -1)
    s1 = jax.lax.slice_in_dim(y, 1, n, axis=d)
    s0 = jax.lax.slice_in_dim(y, 0, max(n - 1, 0), axis=d)
    return jnp.cumsum((s1 + s0) * dxs / 2, axis=d)


@op("_cumtrapz_dx", static=("dim",), promote="float", public=False, method=False)
def _cumtrapz_dx(y, dx=1, dim=-1):
    d = norm_dim(dim, y.ndim)
    n = y.shape[d]
    s1 = jax.lax.slice_in_dim(y, 1, n, axis=d)
    s0 = jax.lax.slice_in_dim(y, 0, max(n - 1, 0), axis=d)
    return jnp.cumsum((s1 + s0) * dx / 2, axis=d).astype(y.dtype)


def _trap_router(xname, dxname, name):
    def f(y, x=None, *, dx=None, dim=-1):
        if x is not None and dx is not None:
            raise RuntimeError(f"{name}: received both x and dx")
        if _is_t(x):
            if x.dim() != 1 and x.dim() != y.dim():
                pass
            return OPS[xname](y, x, dim)
        if x is not None:   # trapezoid(y, 2.0) passes the spacing positionally
            dx = x
        return OPS[dxname](y, 1 if dx is None else dx, dim)
    f.__name__ = name
    return f


overload("trapezoid", method=False)(_trap_router("_trapezoid_x", "_trapezoid_dx", "trapezoid"))
overload("trapz", method=False)(_trap_router("_trapezoid_x", "_trapezoid_dx", "trapz"))
overload("cumulative_trapezoid", method=False)(_trap_router("_cumtrapz_x", "_cumtrapz_dx", "cumulative_trapezoid"))


def _grad1(f, h, ax, edge_order, coords):
    """numpy.gradient along one axis; h is a scalar spacing or coords a 1-D coordinate array."""
    n = f.shape[ax]
    if n < edge_order + 1:
        raise RuntimeError("torch.gradient expected each dimension size to be at least edge_order+1")
    sl = lambda a, b: jax.lax.slice_in_dim(f, a, b, axis=ax)

    def bshape(v):
        shp = [1] * f.ndim
        shp[ax] = v.shape[0]
        return v.reshape(shp)
    if coords is None:
        interior = (sl(2, n) - sl(0, n - 2)) / (2 * h)
        if edge_order == 1:
            first = (sl(1, 2) - sl(0, 1)) / h
            last = (sl(n - 1, n) - sl(n - 2, n - 1)) / h
        else:
            first = (-1.5 * sl(0, 1) + 2 * sl(1, 2) - 0.5 * sl(2, 3)) / h
            last = (0.5 * sl(n - 3, n - 2) - 2 * sl(n - 2, n - 1) + 1.5 * sl(n - 1, n)) / h
        return jnp.concatenate([first, interior, last], axis=ax)
    dx = jnp.diff(coords)
    dx1, dx2 = dx[:-1], dx[1:]
    a = -(dx2) / (dx1 * (dx1 + dx2))
    b = (dx2 - dx1) / (dx1 * dx2)
    c = dx1 / (dx2 * (dx1 + dx2))
    interior = bshape(a) * sl(0, n - 2) + bshape(b) * sl(1, n - 1) + bshape(c) * sl(2, n)
    if edge_order == 1:
        first = (sl(1, 2) - sl(0, 1)) / dx[0]
        last = (sl(n - 1, n) - sl(n - 2, n - 1)) / dx[-1]
    else:
        d1, d2 = dx[0], dx[1]
        a0, b0, c0 = -(2. * d1 + d2) / (d1 * (d1 + d2)), (d1 + d2) / (d1 * d2), -d1 / (d2 * (d1 + d2))
        first = a0 * sl(0, 1) + b0 * sl(1, 2) + c0 * sl(2, 3)
        d1, d2 = dx[-2], dx[-1]
        a1, b1, c1 = d2 / (d1 * (d1 + d2)), -(d2 + d1) / (d1 * d2), (2. * d2 + d1) / (d2 * (d1 + d2))
        last = a1 * sl(n - 3, n - 2) + b1 * sl(n - 2, n - 1) + c1 * sl(n - 1, n)
    return jnp.concatenate([first, interior, last], axis=ax)


@op("_gradient", static=("dims", "edge_order", "hs"), lists=("coords",), promote="float", public=False, method=False)
def _gradient(input, coords, dims, edge_order, hs):
    out = []
    for k, ax in enumerate(dims):
        if hs[k] is None:
            c = coords[k].astype(input.dtype)
            out.append(_grad1(input, None, ax, edge_order, c))
        else:
            out.append(_grad1(input, hs[k], ax, edge_order, None).astype(input.dtype))
    return tuple(out)


@overload("gradient", method=False)
def gradient(input, *, spacing=1, dim=None, edge_order=1):
    if spacing is None:
        spacing = 1
    if edge_order not in (1, 2):
        raise RuntimeError("torch.gradient only supports edge_order=1 and edge_order=2.")
    nd = input.dim()
    if dim is None:
        dims = tuple(range(nd))
    else:
        dims = norm_dims(dim, nd)
    if isinstance(spacing, (list, tuple)):
        sp = list(spacing)
        if len(sp) != len(dims):
            raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar or it's spacing and "
                               f"dim arguments to have the same length, but got a spacing argument of length "
                               f"{len(sp)} and a dim argument of length {len(dims)}.")
    else:
        sp = [spacing] * len(dims)
    for ax in dims:
        if input.shape[ax] < edge_order + 1:
            raise RuntimeError("torch.gradient expected each dimension size to be at least edge_order+1")
    hs, coords = [], []
    for s in sp:
        if _is_t(s) and s.dim() == 1:
            hs.append(None)
            coords.append(s)
        else:
            hs.append(float(s.item() if _is_t(s) else s))
    return tuple(OPS["_gradient"](input, coords, dims, edge_order, tuple(hs)))


# --- misc elementwise / creation --------------------------------------------------------------------
@op(returns=("mantissa", "exponent"))
def frexp(input):
    if not jnp.issubdtype(input.dtype, jnp.floating):
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    m, e = jnp.frexp(jax.lax.stop_gradient(input))
    scale = jnp.ldexp(jnp.ones_like(input), -e)       # the mantissa's derivative is 2**-e
    m = m.astype(input.dtype) + (input - jax.lax.stop_gradient(input)) * scale
    return m, e.astype(jnp.int32)


@op(promote="same", operands=("input",))
def fill(input, value):
    return jnp.full(input.shape, jnp.asarray(value).astype(input.dtype))


@overload("scalar_tensor", method=False)
def scalar_tensor(s, *, dtype=None, layout=None, device=None, pin_memory=None, requires_grad=False):
    from .. import tensor, get_default_dtype
    return tensor(s.item() if _is_t(s) else s, dtype=dtype or get_default_dtype(), device=device,
                  requires_grad=requires_grad)


@op(static=("accumulate",), operands=("input", "source"), promote="same", inplace=True)
def put(input, index, source, accumulate=False):
    flat = input.reshape(-1)
    n = flat.shape[0]
    idx = index.reshape(-1)
    idx = jnp.where(idx < 0, idx + n, idx)
    src = source.reshape(-1).astype(input.dtype)
    flat = flat.at[idx].add(src) if accumulate else flat.at[idx].set(src)
    return flat.reshape(input.shape)


alias("igamma", "special_gammainc")
alias("igammac", "special_gammaincc")


# --- legacy LU and *_ex linalg ---------------------------------------------------------------------
def _lu_unpack_impl(LU, pivots, unpack_data=True, unpack_pivots=True):
    m, n = LU.shape[-2:]
    k = min(m, n)
    if unpack_data:
        L = jnp.tril(LU[..., :, :k], -1) + jnp.eye(m, k, dtype=LU.dtype)
        U = jnp.triu(LU[..., :k, :])
    else:
        L = jnp.zeros((0,), LU.dtype)
        U = jnp.zeros((0,), LU.dtype)
    if unpack_pivots:
        perm = jax.lax.linalg.lu_pivots_to_permutation(pivots.astype(jnp.int32) - 1, m)
        P = jnp.swapaxes(jax.nn.one_hot(perm, m, dtype=LU.dtype), -1, -2)
    else:
        P = jnp.zeros((0,), LU.dtype)
    return P, L, U


op("_lu_unpack_LU", static=("unpack_data",), public=False, method=False)(
    lambda LU, unpack_data=True: _lu_unpack_impl(LU, None, unpack_data, False)[1:])
op("_lu_unpack_P", static=("m", "unpack_pivots"), public=False, method=False, differentiable=False)(
    lambda LU, pivots, m, unpack_pivots=True: _lu_unpack_impl(LU, pivots, False, unpack_pivots)[0])
_LuUnpackRet = _nt("lu_unpack", ["P", "L", "U"])
_LuUnpackRet.__module__ = "torch.return_types"


@overload("lu_unpack", method=False)
def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True, *, out=None):
    L, U = OPS["_lu_unpack_LU"](LU_data, unpack_data=bool(unpack_data))
    P = OPS["_lu_unpack_P"](LU_data, LU_pivots, LU_data.shape[-2], unpack_pivots=bool(unpack_pivots))
    return _LuUnpackRet(P, L, U)


@overload("lu")
def lu(A, pivot=True, get_infos=False, out=None):
    r = OPS["linalg_lu_factor_ex"](A, pivot=pivot)
    return (r[0], r[1], r[2]) if get_infos else (r[0], r[1])


@op(method=True, operands=("b", "LU_data"), promote="same", saves_result=True)
def lu_solve(b, LU_data, LU_pivots):
    return OPS["linalg_lu_solve"].impl(LU_data, LU_pivots, b)


@op("linalg_lu_factor_ex", static=("pivot", "check_errors"), returns=("LU", "pivots", "info"), method=False,
    public=False, nondiff_outputs=("pivots", "info"))
def linalg_lu_factor_ex(A, *, pivot=True, check_errors=False):
    if A.ndim < 2:
        raise RuntimeError("torch.linalg.lu_factor_ex: Expected tensor with 2 or more dimensions. Got size: "
                           f"{list(A.shape)} instead")
    if not pivot:
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the CPU")
    lu_, piv, _ = jax.lax.linalg.lu(A)
    k = min(A.shape[-2:])
    diag = jnp.diagonal(lu_, axis1=-2, axis2=-1)
    zero = diag == 0
    first = jnp.argmax(zero, axis=-1) + 1
    info = jnp.where(zero.any(-1), first, 0).astype(jnp.int32)
    return lu_, (piv + 1).astype(jnp.int32), info


@op("linalg_solve_ex", static=("left", "check_errors"), returns=("result", "info"), method=False, public=False,
    promote="same", nondiff_outputs=("info",))
def linalg_solve_ex(A, B, *, left=True, check_errors=False):
    r = OPS["linalg_solve"].impl(A, B, left=left)
    return r, jnp.zeros(A.shape[:-2], jnp.int32)


# --- special polynomials (integer degree n, by recurrence) ----------------------------------------
def _poly(name, p0, p1, step, trig=None):
    def impl(input, n):
        x, nn = jnp.broadcast_arrays(jnp.asarray(input), jnp.asarray(n))
        dt = _fdt(x) if not jnp.issubdtype(nn.dtype, jnp.floating) else jnp.promote_types(_fdt(x), nn.dtype)
        x = x.astype(dt)
        ni = nn.astype(jnp.int64) if not jnp.issubdtype(nn.dtype, jnp.floating) else jnp.trunc(nn).astype(jnp.int64)
        a, b = p0(x), p1(x)
        kmax = jnp.max(ni) if ni.size else jnp.asarray(0, jnp.int64)

        def body(c):
            k, pm, pc = c
            nxt = step(x, k, pc, pm)
            return k + 1, jnp.where(k < ni, pc, pm), jnp.where(k < ni, nxt, pc)
        _, _, r = jax.lax.while_loop(lambda c: c[0] < kmax, body, (jnp.asarray(1, jnp.int64), a, b))
        r = jnp.where(ni == 0, a, r)
        if trig is not None:
            r = trig(x, ni, r)
        return jnp.where(ni < 0, jnp.zeros_like(r), r)
    impl.__name__ = "special_" + name
    return op("special_" + name, promote="float", method=False, public=False, differentiable=False)(impl)


def _cheb_t_trig(x, n, r):
    r = jnp.where((jnp.abs(x) < 1) & (n > 6), jnp.cos(n * jnp.arccos(jnp.clip(x, -1, 1))), r)
    return jnp.where(jnp.abs(x) == 1, jnp.where((x > 0) | (n % 2 == 0), 1.0, -1.0).astype(r.dtype), r)


def _cheb_u_trig(x, n, r):
    t = jnp.arccos(jnp.clip(x, -1, 1))
    s = jnp.sin(t)
    r = jnp.where((jnp.abs(x) < 1) & (n > 8) & (s != 0), jnp.sin((n + 1) * t) / jnp.where(s != 0, s, 1), r)
    return jnp.where(jnp.abs(x) == 1, jnp.where((x > 0) | (n % 2 == 0), n + 1, -(n + 1)).astype(r.dtype), r)


_one = lambda x: jnp.ones_like(x)
_cheb = lambda x, k, pc, pm: 2 * x * pc - pm
_sh = lambda x: 2 * x - 1
_poly("chebyshev_polynomial_u", _one, lambda x: 2 * x, _cheb, _cheb_u_trig)
_poly("chebyshev_polynomial_v", _one, lambda x: 2 * x - 1, _cheb)
_poly("chebyshev_polynomial_w", _one, lambda x: 2 * x + 1, _cheb)
_poly("shifted_chebyshev_polynomial_t", _one, _sh, lambda x, k, pc, pm: 2 * _sh(x) * pc - pm)
_poly("shifted_chebyshev_polynomial_u", _one, lambda x: 2 * _sh(x), lambda x, k, pc, pm: 2 * _sh(x) * pc - pm)
_poly("shifted_chebyshev_polynomial_v", _one, lambda x: 2 * _sh(x) - 1, lambda x, k, pc, pm: 2 * _sh(x) * pc - pm)
_poly("shifted_chebyshev_polynomial_w", _one, lambda x: 2 * _sh(x) + 1, lambda x, k, pc, pm: 2 * _sh(x) * pc - pm)
_poly("hermite_polynomial_h", _one, lambda x: 2 * x, lambda x, k, pc, pm: 2 * x * pc - 2 * k * pm)
_poly("hermite_polynomial_he", _one, lambda x: x, lambda x, k, pc, pm: x * pc - k * pm)
_poly("laguerre_polynomial_l", _one, lambda x: 1 - x, lambda x, k, pc, pm: ((2 * k + 1 - x) * pc - k * pm) / (k + 1))
_poly("legendre_polynomial_p", _one, lambda x: x, lambda x, k, pc, pm: ((2 * k + 1) * x * pc - k * pm) / (k + 1))
_poly("chebyshev_polynomial_t", _one, lambda x: x, _cheb, _cheb_t_trig)


# --- fft: the Hermitian n-dimensional transforms ---------------------------------------------------
_SWAP = {None: "forward", "backward": "forward", "forward": "backward", "ortho": "ortho"}


def _fft_c(x):
    if jnp.issubdtype(x.dtype, jnp.complexfloating):
        return x
    return x.astype(jnp.complex128 if x.dtype == jnp.float64 else jnp.complex64)


def _fft_r(x):
    return x.astype(jnp.float64) if x.dtype == jnp.float64 else x.astype(jnp.float32)


def _axes_s(x, s, dim, default_last):
    if dim is None:
        if s is None:
            dim = tuple(range(x.ndim)) if default_last is None else tuple(range(x.ndim))[-default_last:]
        else:
            dim = tuple(range(x.ndim - len(s), x.ndim))
    dim = tuple(norm_dim(d, x.ndim) for d in ((dim,) if isinstance(dim, int) else dim))
    return s, dim


def _hfftn(input, s=None, dim=None, norm=None, last=None):
    s, dim = _axes_s(input, s, dim, last)
    x = jnp.conj(_fft_c(input))
    out = jnp.fft.irfftn(x, s=s, axes=dim, norm=_SWAP[norm])
    return out.astype(jnp.float64 if x.dtype == jnp.complex128 else jnp.float32)


def _ihfftn(input, s=None, dim=None, norm=None, last=None):
    s, dim = _axes_s(input, s, dim, last)
    x = _fft_r(input)
    return jnp.conj(jnp.fft.rfftn(x, s=s, axes=dim, norm=_SWAP[norm]))


op("fft_hfftn", static=("s", "dim", "norm"), method=False, public=False)(
    lambda input, s=None, dim=None, norm=None: _hfftn(input, s, dim, norm))
op("fft_hfft2", static=("s", "dim", "norm"), method=False, public=False)(
    lambda input, s=None, dim=(-2, -1), norm=None: _hfftn(input, s, dim, norm))
op("fft_ihfftn", static=("s", "dim", "norm"), method=False, public=False)(
    lambda input, s=None, dim=None, norm=None: _ihfftn(input, s, dim, norm))
op("fft_ihfft2", static=("s", "dim", "norm"), method=False, public=False)(
    lambda input, s=None, dim=(-2, -1), norm=None: _ihfftn(input, s, dim, norm))


# --- no meaning on JAX ------------------------------------------------------------------------------
def _no_jax(name, why):
    def f(*a, **k):
        raise NotImplementedError(f"jtorch: torch.{name} is not supported: {why}")
    f.__name__ = name
    return f


for _n, _why in (("to_sparse_csc", "JAX arrays have no sparse layouts (jtorch's COO and CSR tensors are dense-backed)"),
                 ("to_sparse_bsr", "JAX arrays have no sparse layouts"),
                 ("to_sparse_bsc", "JAX arrays have no sparse layouts"),
                 ("quantize_per_tensor", "quantized tensors are not supported on JAX"),
                 ("quantize_per_channel", "quantized tensors are not supported on JAX"),
                 ("_scaled_mm", "fp8 scaled matmul is a CUDA-kernel entry point"),
                 ):
    overload(_n, method=_n.startswith("to_"))(_no_jax(_n, _why))


# --- polygamma with the reflection formula (jax's zeta-based one is inaccurate for x < 0) -----------
def _dcot(n):
    """x -> d^n/dx^n cot(pi x), elementwise."""
    g = lambda x: jnp.cos(jnp.pi * x) / jnp.sin(jnp.pi * x)
    for _ in range(n):
        g = jax.grad(g)
    return jnp.vectorize(g)


@jax.custom_jvp
def accurate_digamma(x):
    """digamma whose derivative is the reflected trigamma: jax differentiates digamma with its
    zeta-based polygamma(1, x), which is wrong (even by orders of magnitude) for x < 0."""
    return jnp.where(x == 0, -jnp.inf, jss.digamma(x))


@accurate_digamma.defjvp
def _accurate_digamma_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    return accurate_digamma(x), accurate_polygamma(1, x) * dx


@jax.custom_jvp
def accurate_lgamma(x):
    """lgamma whose derivative is accurate_digamma, so its second derivative is right for x < 0."""
    return jss.gammaln(x)


@accurate_lgamma.defjvp
def _accurate_lgamma_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    return accurate_lgamma(x), accurate_digamma(x) * dx


def accurate_polygamma(n, x):
    """psi^(n)(x) for a static integer n >= 0; for x < 0.5 uses
    psi^(n)(x) = (-1)^n psi^(n)(1 - x) - pi d^n/dx^n cot(pi x)."""
    if n == 0:
        return accurate_digamma(x)
    dt = x.dtype
    x = x.astype(jnp.float64)   # the reflection cancels digits: work in double
    neg = x < 0.5
    xr = jnp.where(neg, 1 - x, x)
    base = jss.polygamma(n, xr)
    refl = (-1) ** n * base - jnp.pi * _dcot(n)(jnp.where(neg, x, 0.25))
    return jnp.where(neg, refl, base).astype(dt)


@overload("resize_as_", method=False)
def resize_as_(input, the_template, *, memory_format=None):
    return input.resize_as_(the_template)


@overload("zero_", method=False)
def zero_(input):
    return input.zero_()


@overload("svd_lowrank", method=False)
def svd_lowrank(A, q=6, niter=2, M=None):
    """torch's randomized low-rank SVD; here the exact SVD truncated to q (a better approximation)."""
    X = A if M is None else A - M
    U, S, Vh = OPS["linalg_svd"](X, full_matrices=False)
    q = min(q if q is not None else 6, S.shape[-1])
    return U[..., :q], S[..., :q], Vh.mH[..., :q]


@overload("pca_lowrank", method=False)
def pca_lowrank(A, q=None, center=True, niter=2):
    m, n = A.shape[-2:]
    if q is None:
        q = min(6, m, n)
    X = A - A.mean(dim=-2, keepdim=True) if center else A
    return svd_lowrank(X, q, niter)


@overload("empty_permuted", method=False)
def empty_permuted(size, physical_layout, *, dtype=None, layout=None, device=None, requires_grad=False,
                   pin_memory=False):
    from .. import empty
    return empty(tuple(size), dtype=dtype, device=device, requires_grad=requires_grad)


@op(static=("size", "fill_value"), differentiable=False)
def nonzero_static(input, *, size, fill_value=-1):
    if input.ndim == 0:
        idx = jnp.nonzero(input.reshape(1), size=size, fill_value=fill_value)[0][:, None][:, :0]
        return idx.astype(jnp.int64)
    nz = jnp.nonzero(input, size=size, fill_value=fill_value)
    return jnp.stack(nz, axis=1).astype(jnp.int64) if nz else jnp.zeros((size, 0), jnp.int64)


@op(returns=("a", "tau"))
def geqrf(input):
    from jax._src.lax.linalg import geqrf as _geqrf
    a, tau = _geqrf(input)
    return a, tau


@op(static=("left", "transpose"), promote="same")
def ormqr(input, tau, other, left=True, transpose=False):
    m = input.shape[-2]
    k = tau.shape[-1]
    # the full m x m Q: pad the reflectors with zero columns (tau = 0 gives identity reflectors)
    a = jnp.zeros(input.shape[:-1] + (m,), input.dtype).at[..., :, :min(k, m)].set(input[..., :, :min(k, m)])
    t = jnp.zeros(tau.shape[:-1] + (m,), tau.dtype).at[..., :min(k, m)].set(tau[..., :min(k, m)])
    from .linalg_ops import householder_product
    Q = householder_product(a, t)
    if transpose:
        Q = jnp.conj(jnp.swapaxes(Q, -1, -2))
    return Q @ other if left else other @ Q


_INTERP = {0: "bilinear", 1: "nearest", 2: "bicubic"}
_PAD = {0: "zeros", 1: "border", 2: "reflection"}


def _grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners):
    from ..nn import functional as F
    mode = _INTERP[int(interpolation_mode)]
    if mode == "bilinear" and input.dim() == 5:
        mode = "bilinear"
    return F.grid_sample(input, grid, mode=mode, padding_mode=_PAD[int(padding_mode)],
                         align_corners=bool(align_corners))


overload("grid_sampler_2d", method=False)(_grid_sampler)
overload("grid_sampler_3d", method=False)(_grid_sampler)
overload("grid_sampler", method=False)(_grid_sampler)


# --- stft / istft --------------------------------------------------------------------------------
_PADMODE = {"reflect": "reflect", "constant": "constant", "replicate": "edge", "circular": "wrap"}


@op("_stft", static=("n_fft", "hop_length", "win_length", "center", "pad_mode", "normalized", "onesided"),
    public=False, method=False)
def _stft(input, window, n_fft, hop_length, win_length, center, pad_mode, normalized, onesided):
    x = input
    if center:
        p = n_fft // 2
        x = jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(p, p)], mode=_PADMODE[pad_mode])
    L = x.shape[-1]
    if n_fft <= 0 or n_fft > L:
        raise RuntimeError(f"stft: expected 0 < n_fft <= {L}, but got n_fft={n_fft}")
    w = jnp.ones(win_length, x.real.dtype) if window is None else window
    left = (n_fft - win_length) // 2
    w = jnp.zeros(n_fft, w.dtype).at[left:left + win_length].set(w)
    nfr = 1 + (L - n_fft) // hop_length
    idx = np.arange(nfr)[:, None] * hop_length + np.arange(n_fft)[None, :]
    frames = x[..., idx] * w
    spec = jnp.fft.rfft(frames, axis=-1) if onesided else jnp.fft.fft(frames, axis=-1)
    if normalized:
        spec = spec / math.sqrt(n_fft)
    cdt = jnp.complex128 if x.dtype in (jnp.float64, jnp.complex128) else jnp.complex64
    return jnp.swapaxes(spec, -1, -2).astype(cdt)


@overload("stft")
def stft(input, n_fft, hop_length=None, win_length=None, window=None, center=True, pad_mode="reflect",
         normalized=False, onesided=None, return_complex=None):
    cplx = input.is_complex() or (window is not None and window.is_complex())
    if return_complex is None:
        if not cplx:
            raise RuntimeError("stft requires the return_complex parameter be given for real inputs, and will "
                               "further require that return_complex=True in a future PyTorch release.")
        return_complex = True
    if input.dim() not in (1, 2):
        raise RuntimeError(f"stft: expected a 1D or 2D tensor, but got {input.dim()}D")
    hop = n_fft // 4 if hop_length is None else int(hop_length)
    wl = n_fft if win_length is None else int(win_length)
    if hop <= 0:
        raise RuntimeError(f"stft: expected hop_length > 0, but got hop_length={hop}")
    if wl <= 0 or wl > n_fft:
        raise RuntimeError(f"stft: expected 0 < win_length <= n_fft, but got win_length={wl}")
    if window is not None and (window.dim() != 1 or window.shape[0] != wl):
        raise RuntimeError(f"stft: expected a 1D window tensor of size equal to win_length={wl}, but got "
                           f"window with size {list(window.shape)}")
    one = (not cplx) if onesided is None else bool(onesided)
    r = OPS["_stft"](input, window, int(n_fft), hop, wl, bool(center), pad_mode, bool(normalized), one)
    return r if return_complex else OPS["view_as_real"](r)


@op("_istft", static=("n_fft", "hop_length", "win_length", "center", "normalized", "onesided", "length",
                      "return_complex"), public=False, method=False)
def _istft(input, window, n_fft, hop_length, win_length, center, normalized, onesided, length, return_complex):
    spec = jnp.swapaxes(input, -1, -2)   # (..., frames, freq)
    if not onesided and not return_complex:   # torch: a real result reads the Hermitian half only
        spec, onesided = spec[..., :n_fft // 2 + 1], True
    if normalized:
        spec = spec * math.sqrt(n_fft)
    frames = jnp.fft.irfft(spec, n=n_fft, axis=-1) if onesided else jnp.fft.ifft(spec, axis=-1)
    if not return_complex and not onesided:
        frames = frames.real
    rdt = jnp.float64 if input.dtype == jnp.complex128 else jnp.float32
    w = jnp.ones(win_length, rdt) if window is None else window
    left = (n_fft - win_length) // 2
    w = jnp.zeros(n_fft, w.dtype).at[left:left + win_length].set(w)
    nfr = spec.shape[-2]
    total = n_fft + hop_length * (nfr - 1)
    idx = (np.arange(nfr)[:, None] * hop_length + np.arange(n_fft)[None, :]).reshape(-1)
    fw = frames * w
    y = jnp.zeros(frames.shape[:-2] + (total,), fw.dtype).at[..., idx].add(fw.reshape(frames.shape[:-2] + (-1,)))
    env = jnp.zeros(total, w.dtype).at[idx].add(jnp.tile(w * w, nfr))
    start = n_fft // 2 if center else 0
    end = total if length is None else start + length
    if length is None and center:
        end = total - n_fft // 2
    y, env = y[..., start:end], env[start:end]
    y = y / jnp.where(jnp.abs(env) > 1e-11, env, 1.0)
    if length is not None and y.shape[-1] < length:
        y = jnp.pad(y, [(0, 0)] * (y.ndim - 1) + [(0, length - y.shape[-1])])
    return y if return_complex else y.real.astype(rdt)


@overload("istft")
def istft(input, n_fft, hop_length=None, win_length=None, window=None, center=True, normalized=False,
          onesided=None, length=None, return_complex=False):
    if not input.is_complex():
        if input.dim() >= 1 and input.shape[-1] == 2:   # the old real (..., 2) layout
            input = OPS["view_as_complex"](input.contiguous())
        else:
            raise RuntimeError("istft requires a complex-valued input tensor")
    hop = n_fft // 4 if hop_length is None else int(hop_length)
    wl = n_fft if win_length is None else int(win_length)
    one = (input.shape[-2] != n_fft) if onesided is None else bool(onesided)
    return OPS["_istft"](input, window, int(n_fft), hop, wl, bool(center), bool(normalized), one,
                         None if length is None else int(length), bool(return_complex))


# --- Bessel functions by exponentially convergent trapezoid quadrature (float64 inside) --------------
def bessel_k(nu, x, scaled=False):
    """K_nu(x) = int_0^inf exp(-x cosh t) cosh(nu t) dt (x > 0); scaled: exp(x) K_nu(x)."""
    dt = x.dtype
    xd = x.astype(jnp.float64)
    pos = xd > 0
    xs = jnp.where(pos, xd, 1.0)
    tmax = jnp.arccosh(jnp.maximum(750.0 / xs + 1.0, 1.0)) + 1.0
    n = 512
    u = (jnp.arange(n, dtype=jnp.float64) + 0.5) / n           # midpoint rule on [0, tmax]
    t = u * tmax[..., None]
    e = -xs[..., None] * (jnp.cosh(t) - (1.0 if scaled else 0.0))
    val = (jnp.exp(e) * jnp.cosh(nu * t)).sum(-1) * tmax / n
    val = jnp.where(pos, val, jnp.where(xd == 0, jnp.inf, jnp.nan))
    return val.astype(dt)


def bessel_j(nu, x):
    """J_n(x) = (1/2pi) int_0^2pi cos(n tau - x sin tau) d tau: the trapezoid rule on a periodic
    integrand converges exponentially; jax's bessel_jn beyond |x| > 200."""
    dt = x.dtype
    xd = x.astype(jnp.float64)
    n = 512
    tau = jnp.arange(n, dtype=jnp.float64) * (2 * jnp.pi / n)
    small = jnp.abs(xd) <= 200
    xs = jnp.where(small, xd, 0.0)
    val = jnp.cos(nu * tau - xs[..., None] * jnp.sin(tau)).mean(-1)
    far = jss.bessel_jn(jnp.where(small, 1.0, xd), v=nu)[nu]
    return jnp.where(small, val, far).astype(dt)


_GL_X, _GL_W = np.polynomial.legendre.leggauss(400)


def bessel_y(nu, x):
    """Y_n(x) = (1/pi) int_0^pi sin(x sin t - n t) dt - (1/pi) int_0^inf (e^{nt} + (-1)^n e^{-nt}) e^{-x sinh t} dt
    by Gauss-Legendre (x <= 200); Hankel's asymptotic expansion beyond."""
    dt = x.dtype
    xd = x.astype(jnp.float64)
    pos = xd > 0
    near = pos & (xd <= 200)
    xs = jnp.where(near, xd, 1.0)[..., None]
    gx, gw = jnp.asarray(_GL_X), jnp.asarray(_GL_W)
    th = (gx + 1) * (jnp.pi / 2)
    i1 = (jnp.sin(xs * jnp.sin(th) - nu * th) * gw).sum(-1) * (jnp.pi / 2)
    T = jnp.arcsinh(750.0 / xs) + 1.0
    t = (gx + 1) * (T / 2)
    f = (jnp.exp(nu * t) + (-1) ** nu * jnp.exp(-nu * t)) * jnp.exp(-xs * jnp.sinh(t))
    i2 = (f * gw).sum(-1) * (T[..., 0] / 2)
    yq = (i1 - i2) / jnp.pi
    xf = jnp.where(pos & ~near, xd, 300.0)
    mu = 4.0 * nu * nu
    z = 8.0 * xf
    P = 1 - (mu - 1) * (mu - 9) / (2 * z ** 2) + (mu - 1) * (mu - 9) * (mu - 25) * (mu - 49) / (24 * z ** 4)
    Q = (mu - 1) / z - (mu - 1) * (mu - 9) * (mu - 25) / (6 * z ** 3)
    chi = xf - (nu / 2 + 0.25) * jnp.pi
    ya = jnp.sqrt(2 / (jnp.pi * xf)) * (P * jnp.sin(chi) + Q * jnp.cos(chi))
    y = jnp.where(near, yq, ya)
    y = jnp.where(pos, y, jnp.where(xd == 0, -jnp.inf, jnp.nan))
    return y.astype(dt)


op("special_bessel_y0", promote="float", method=False, public=False)(lambda input: bessel_y(0, input))
op("special_bessel_y1", promote="float", method=False, public=False)(lambda input: bessel_y(1, input))


def _bessel_j_real(nu, z):
    """J_nu(z) for real nu, z > 0 (Schlafli's integral, Gauss-Legendre)."""
    gx, gw = jnp.asarray(_GL_X), jnp.asarray(_GL_W)
    zs = z[..., None]
    th = (gx + 1) * (jnp.pi / 2)
    i1 = (jnp.cos(nu * th - zs * jnp.sin(th)) * gw).sum(-1) * (jnp.pi / 2)
    T = jnp.arcsinh(750.0 / zs) + 1.0
    t = (gx + 1) * (T / 2)
    i2 = (jnp.exp(-zs * jnp.sinh(t) - nu * t) * gw).sum(-1) * (T[..., 0] / 2)
    return i1 / jnp.pi - np.sin(nu * np.pi) / np.pi * i2


def airy_ai(x):
    dt = x.dtype
    xd = x.astype(jnp.float64)
    ap = jnp.abs(xd)
    zeta = (2.0 / 3.0) * ap ** 1.5
    zp = jnp.where(xd > 0, zeta, 1.0)
    pos = jnp.sqrt(jnp.where(xd > 0, xd, 1.0) / 3) / jnp.pi * bessel_k(1.0 / 3.0, zp)
    zn = jnp.where((xd < 0) & (zeta <= 200), zeta, 1.0)
    neg = jnp.sqrt(jnp.where(xd < 0, ap, 1.0)) / 3 * (_bessel_j_real(1.0 / 3.0, zn) + _bessel_j_real(-1.0 / 3.0, zn))
    # far negative: the leading asymptotic term
    za = jnp.where(xd < 0, zeta, 1.0)
    negf = jnp.sin(za + jnp.pi / 4) / (jnp.sqrt(jnp.pi) * jnp.where(xd < 0, ap, 1.0) ** 0.25)
    neg = jnp.where(zeta <= 200, neg, negf)
    r = jnp.where(xd > 0, pos, jnp.where(xd < 0, neg, 0.355028053887817239))
    r = jnp.where(jnp.isnan(xd), jnp.nan, r)
    return r.astype(dt)


op("special_airy_ai", promote="float", method=False, public=False)(lambda input: airy_ai(input))


# --- fractional max pooling (the random pooling regions come from `samples`, uniform in [0, 1)) -----
def _frac_starts(u, insz, k, out):
    if out == 1:
        return jnp.full(u.shape + (1,), insz - k, jnp.int64)
    alpha = (insz - k) / (out - 1)
    i = jnp.arange(out - 1, dtype=u.dtype)
    s = (jnp.floor((i + u[..., None]) * alpha) - jnp.floor(u[..., None] * alpha)).astype(jnp.int64)
    return jnp.concatenate([s, jnp.full(u.shape + (1,), insz - k, jnp.int64)], -1)


@op("_fractional_max_pool", static=("kernel_size", "output_size"), public=False, method=False,
    returns=("values", "indices"))
def _fractional_max_pool(input, samples, kernel_size, output_size):
    nd = len(kernel_size)
    batched = input.ndim == nd + 2
    x = input if batched else input[None]
    sp = x.shape[2:]
    for s_, k_, o_ in zip(sp, kernel_size, output_size):
        if o_ + k_ - 1 > s_:
            raise RuntimeError(f"fractional_max_pool{nd}d(): pool size {k_} and output size {o_} are too large "
                               f"for input size {s_}")
    if samples.ndim != 3 or samples.shape[0] < x.shape[0]:
        raise RuntimeError("Expect _random_samples.size(0) no less then input batch size.")
    # torch uses the first N rows (an unbatched input takes row 0)
    u = samples[:x.shape[0]].astype(x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else jnp.float32)
    order = [1, 0] if nd == 2 else list(range(nd))   # torch: 2-D samples are (w, h); 3-D (t, h, w)
    starts = [_frac_starts(u[..., order[d]], sp[d], kernel_size[d], output_size[d]) for d in range(nd)]

    def one(plane, *st):
        idx = []
        for d in range(nd):
            r = st[d][:, None] + jnp.arange(kernel_size[d])[None, :]       # (out_d, k_d)
            shp = [1] * (2 * nd)
            shp[d], shp[nd + d] = output_size[d], kernel_size[d]
            idx.append(r.reshape(shp))
        win = plane[tuple(idx)]                                              # (*out, *k)
        flat = 0
        for d in range(nd):
            flat = flat * sp[d] + idx[d]
        flat = jnp.broadcast_to(flat, win.shape).reshape(tuple(output_size) + (-1,))
        w = win.reshape(tuple(output_size) + (-1,))
        a = jnp.argmax(w, -1)
        return jnp.take_along_axis(w, a[..., None], -1)[..., 0], jnp.take_along_axis(flat, a[..., None], -1)[..., 0]
    f = jax.vmap(jax.vmap(one))
    v, i = f(x, *starts)
    if not batched:
        v, i = v[0], i[0]
    return v, i.astype(jnp.int64)


def fractional_max_pool(nd, input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                        _random_samples=None):
    from .. import rand
    k = (kernel_size,) * nd if isinstance(kernel_size, int) else tuple(kernel_size)
    sp = tuple(input.shape[-nd:])
    if output_size is None:
        if output_ratio is None:
            raise ValueError(f"fractional_max_pool{nd}d requires specifying either an output_size or an output_ratio")
        r = (output_ratio,) * nd if isinstance(output_ratio, (int, float)) else tuple(output_ratio)
        output_size = tuple(int(s * q) for s, q in zip(sp, r))
    o = (output_size,) * nd if isinstance(output_size, int) else tuple(output_size)
    n = input.shape[0] if input.dim() == nd + 2 else 1
    c = input.shape[-nd - 1]
    if _random_samples is None:
        _random_samples = rand(n, c, nd, dtype=input.dtype if input.dtype.is_floating_point else None)
    v, i = OPS["_fractional_max_pool"](input, _random_samples, k, o)
    return (v, i) if return_indices else v


@op(static=("dim", "keepdim", "mode"), differentiable=False)
def hash_tensor(input, dim=None, *, keepdim=False, mode=0):
    """torch.hash_tensor: elements upcast to 64-bit float/integer, bitcast to uint64, xor-reduced."""
    if mode != 0:
        raise RuntimeError(f"hash_tensor: only mode=0 (xor reduction) is supported, got {mode}")
    if jnp.issubdtype(input.dtype, jnp.floating):
        bits = jax.lax.bitcast_convert_type(input.astype(jnp.float64), jnp.uint64)
    elif input.dtype == jnp.uint64:
        bits = input
    else:
        bits = jax.lax.bitcast_convert_type(input.astype(jnp.int64), jnp.uint64)
    if input.ndim == 0:
        return bits
    axes = tuple(range(input.ndim)) if dim is None or dim == () else norm_dims(dim, input.ndim)
    r = jax.lax.reduce(bits, np.uint64(0), jax.lax.bitwise_xor, axes)
    if keepdim:
        r = jnp.expand_dims(r, axes)
    return r
