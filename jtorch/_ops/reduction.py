"""Reductions, scans, sorting and selection."""
import jax
import jax.numpy as jnp
import numpy as np

from .. import _dtype as D
from . import kinks
from .registry import op, alias, overload, varargs, OPS
from .util import norm_dim, norm_dims


def _axes(dim, ndim):
    if ndim == 0 and dim is not None:
        norm_dims(dim, 0)   # validates: a 0-dim tensor accepts dim 0 / -1
        return None
    if dim is None or dim == ():
        return None if dim is None else tuple(range(ndim)) if ndim else None
    return norm_dims(dim, ndim)


def _acc_dtype(x, dtype):
    if dtype is not None:
        return dtype.np
    if x.dtype == jnp.bool_ or jnp.issubdtype(x.dtype, jnp.integer):
        return np.int64
    return x.dtype


_HALF = (jnp.bfloat16, jnp.float16)


def _opmath(fn, input, dt, **kw):
    """Run reduction/scan `fn` accumulating half / bfloat16 in float32 and round the result once,
    as torch's CPU kernels do (XLA:CPU accumulates bfloat16 sums in bfloat16: 4096 x 0.1 gave 406)."""
    if np.dtype(dt) in _HALF:
        return fn(input, dtype=jnp.float32, **kw).astype(dt)
    return fn(input, dtype=dt, **kw)


@op(static=("dim", "keepdim", "dtype"), linear=True, out="dtype")
def sum(input, dim=None, keepdim=False, *, dtype=None):
    ax = _axes(dim, input.ndim)
    return _opmath(jnp.sum, input, _acc_dtype(input, dtype), axis=ax, keepdims=keepdim)


@op(static=("dim", "keepdim", "dtype"), out="dtype")
def nansum(input, dim=None, keepdim=False, *, dtype=None):
    return _opmath(jnp.nansum, input, _acc_dtype(input, dtype), axis=_axes(dim, input.ndim), keepdims=keepdim)


@op(static=("dim", "keepdim", "dtype"), out="dtype", saves_result=True)
def prod(input, dim=None, keepdim=False, *, dtype=None):
    if isinstance(dim, (tuple, list)):   # unlike sum/mean, torch.prod reduces over one dim only
        from .util import TorchTypeError
        raise TorchTypeError(
            f"prod() received an invalid combination of arguments - got (Tensor, {type(dim).__name__}), but "
            "expected one of:\n * (Tensor input, *, torch.dtype dtype = None)\n * (Tensor input, int dim, bool "
            "keepdim = False, *, torch.dtype dtype = None, Tensor out = None)\n")
    # not _opmath: torch's CPU prod multiplies half types in their own precision
    return jnp.prod(input, axis=_axes(dim, input.ndim), keepdims=keepdim, dtype=_acc_dtype(input, dtype))


def _float_only(name, x, dtype):
    if dtype is not None:
        return dtype.np
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        raise RuntimeError(f"{name}(): could not infer output dtype. Input dtype must be either a floating point or "
                           f"complex dtype. Got: {_tname(x.dtype)}")
    return x.dtype


def _tname(npd):
    from .._tensor import _type_name
    return _type_name(D.from_np(npd))


@op(static=("dim", "keepdim", "dtype"), linear=True, out="dtype")
def mean(input, dim=None, keepdim=False, *, dtype=None):
    dt = _float_only("mean", input, dtype)
    return jnp.mean(input.astype(dt), axis=_axes(dim, input.ndim), keepdims=keepdim)


@op(static=("dim", "keepdim", "dtype"), out="dtype")
def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    if not jnp.issubdtype(input.dtype, jnp.inexact):
        raise RuntimeError(f"nanmean(): expected input to have floating point or complex dtype but got "
                           f"{_tname(input.dtype)}")
    dt = _float_only("nanmean", input, dtype)
    return jnp.nanmean(input.astype(dt), axis=_axes(dim, input.ndim), keepdims=keepdim)


@op(static=("dim", "keepdim"), saves_result=True)
def amax(input, dim=(), keepdim=False):
    return jnp.max(input, axis=_axes(dim, input.ndim), keepdims=keepdim)


@op(static=("dim", "keepdim"), saves_result=True)
def amin(input, dim=(), keepdim=False):
    return jnp.min(input, axis=_axes(dim, input.ndim), keepdims=keepdim)


@op(static=("dim", "keepdim"), returns=("min", "max"))
def aminmax(input, *, dim=None, keepdim=False):
    ax = _axes(dim, input.ndim)
    return jnp.min(input, axis=ax, keepdims=keepdim), jnp.max(input, axis=ax, keepdims=keepdim)


def _check_nonempty(x, name, dim=None):
    if x.size == 0 and (dim is None or x.shape[dim] == 0):
        raise IndexError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                         "Specify the reduction dim with the 'dim' argument.") if dim is None else \
            IndexError(f"{name}(): Expected reduction dim {dim} to have non-zero size.")


@op(static=("dim", "keepdim"), differentiable=False, method=True)
def argmax(input, dim=None, keepdim=False):
    if dim is None:
        _check_nonempty(input, "argmax")
        r = jnp.argmax(input.reshape(-1))
        return r.reshape((1,) * input.ndim) if keepdim else r
    d = norm_dim(dim, input.ndim)
    _check_nonempty(input, "argmax", d if input.ndim else None)
    return jnp.argmax(input, axis=d if input.ndim else None, keepdims=keepdim).astype(np.int64)


@op(static=("dim", "keepdim"), differentiable=False)
def argmin(input, dim=None, keepdim=False):
    if dim is None:
        _check_nonempty(input, "argmin")
        r = jnp.argmin(input.reshape(-1))
        return r.reshape((1,) * input.ndim) if keepdim else r
    d = norm_dim(dim, input.ndim)
    _check_nonempty(input, "argmin", d if input.ndim else None)
    return jnp.argmin(input, axis=d if input.ndim else None, keepdims=keepdim).astype(np.int64)


def _max_all_impl(f, name):
    def impl(input):
        if input.size == 0:
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. Specify "
                               "the reduction dim with the 'dim' argument.")
        return f(input)
    impl.__name__ = name
    return impl


op("_max_all", public=False, method=False, saves_result=True)(_max_all_impl(jnp.max, "max"))
op("_min_all", public=False, method=False, saves_result=True)(_max_all_impl(jnp.min, "min"))


def _dim_select(argf, name):
    def impl(input, dim, keepdim=False):
        d = norm_dim(dim, input.ndim)
        if input.ndim and input.shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
        x = input if input.ndim else input.reshape(1)
        dd = d if input.ndim else 0
        idx = argf(x, axis=dd, keepdims=True)
        vals = jnp.take_along_axis(x, idx, axis=dd)
        if not keepdim or not input.ndim:
            vals, idx = jnp.squeeze(vals, dd), jnp.squeeze(idx, dd)
            if input.ndim == 0 and keepdim:
                vals, idx = vals.reshape(()), idx.reshape(())
        return vals, idx.astype(np.int64)
    impl.__name__ = name
    return impl


op("_max_dim", static=("dim", "keepdim"), returns=("values", "indices"), public=False, method=False)(
    _dim_select(jnp.argmax, "max"))
op("_min_dim", static=("dim", "keepdim"), returns=("values", "indices"), public=False, method=False)(
    _dim_select(jnp.argmin, "min"))


def _minmax_router(kind):
    def router(input, dim=None, keepdim=False, *, out=None):
        from .._tensor import Tensor
        kw = {} if out is None else {"out": out}
        if isinstance(dim, Tensor):
            return OPS["maximum" if kind == "max" else "minimum"](input, dim, **kw)
        if dim is None:
            return OPS["_" + kind + "_all"](input, **kw)
        return OPS["_" + kind + "_dim"](input, dim, keepdim, **kw)
    router.__name__ = kind
    return router


overload("max")(_minmax_router("max"))
overload("min")(_minmax_router("min"))


def _var_args(dim, unbiased, correction):
    if isinstance(dim, bool):  # std(x, True): the unbiased overload
        dim, unbiased = None, dim
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    return dim, correction


def _var(x, dim, correction, keepdim):
    ax = _axes(dim, x.ndim)
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        raise RuntimeError(f"std and var only support floating point and complex dtypes")
    return jnp.var(x, axis=ax, keepdims=keepdim, ddof=correction)


@op(static=("dim", "unbiased", "keepdim", "correction"))
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    dim, c = _var_args(dim, unbiased, correction)
    return _var(input, dim, c, keepdim)


@op(static=("dim", "unbiased", "keepdim", "correction"), saves_result=True)
def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    dim, c = _var_args(dim, unbiased, correction)
    return jnp.sqrt(_var(input, dim, c, keepdim))


@op(static=("dim", "unbiased", "keepdim", "correction"), method=False)
def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    dim, c = _var_args(dim, unbiased, correction)
    return _var(input, dim, c, keepdim), jnp.mean(input, axis=_axes(dim, input.ndim), keepdims=keepdim)


@op(static=("dim", "unbiased", "keepdim", "correction"), method=False, saves_result=(0,))
def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    dim, c = _var_args(dim, unbiased, correction)
    return jnp.sqrt(_var(input, dim, c, keepdim)), jnp.mean(input, axis=_axes(dim, input.ndim), keepdims=keepdim)


@op(static=("dim", "keepdim"), saves_result=True)
def logsumexp(input, dim, keepdim=False):
    x = input if jnp.issubdtype(input.dtype, jnp.inexact) else input.astype(np.float32)
    return jax.scipy.special.logsumexp(x, axis=_axes(dim, input.ndim), keepdims=keepdim)


@op(static=("p", "dim", "keepdim", "dtype"), saves_result=True)
def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    x = input.astype(dtype.np) if dtype is not None else input
    ax = _axes(dim, x.ndim)
    a = kinks.abs(x)
    if p == "fro" or p == 2 or p is None:
        return kinks.sqrt_at_zero(jnp.sum(a * a, axis=ax, keepdims=keepdim))
    if p == "nuc":
        return jnp.sum(jnp.linalg.svd(x, compute_uv=False), axis=-1)
    if p == float("inf"):
        return jnp.max(a, axis=ax, keepdims=keepdim)
    if p == float("-inf"):
        return jnp.min(a, axis=ax, keepdims=keepdim)
    if p == 0:
        return jnp.sum(a != 0, axis=ax, keepdims=keepdim).astype(a.dtype)
    if p == 1:
        return jnp.sum(a, axis=ax, keepdims=keepdim)
    return kinks.pow_root_at_zero(jnp.sum(a ** p, axis=ax, keepdims=keepdim), p)


def _scan_dtype(x, dtype):
    return _acc_dtype(x, dtype)


@op(static=("dim", "dtype"), inplace=True, linear=True)
def cumsum(input, dim, *, dtype=None):
    d = norm_dim(dim, input.ndim)
    x = input.astype(_scan_dtype(input, dtype))
    return _opmath(jnp.cumsum, x, x.dtype, axis=d) if input.ndim else x


@op(static=("dim", "dtype"), inplace=True, saves_result=True)
def cumprod(input, dim, *, dtype=None):
    d = norm_dim(dim, input.ndim)
    x = input.astype(_scan_dtype(input, dtype))
    return _opmath(jnp.cumprod, x, x.dtype, axis=d) if input.ndim else x


@op(static=("dim",), saves_result=True)
def logcumsumexp(input, dim):
    d = norm_dim(dim, input.ndim)
    return jax.lax.cumlogsumexp(input, axis=d) if input.ndim else input


def _cum_select(cmp, name):
    def impl(input, dim):
        d = norm_dim(dim, input.ndim)
        if input.ndim == 0:
            return input, jnp.zeros((), np.int64)
        n = input.shape[d]
        idx = jnp.broadcast_to(jnp.arange(n).reshape([-1 if i == d else 1 for i in range(input.ndim)]), input.shape)

        def f(a, b):
            va, ia = a
            vb, ib = b
            take_b = cmp(vb, va) | (vb == va) | jnp.isnan(vb)
            take_b = take_b & ~(jnp.isnan(va) & ~jnp.isnan(vb))
            return jnp.where(take_b, vb, va), jnp.where(take_b, ib, ia)
        v, i = jax.lax.associative_scan(f, (input, idx), axis=d)
        return v, i.astype(np.int64)
    impl.__name__ = name
    return impl


op("cummax", static=("dim",), returns=("values", "indices"))(_cum_select(jnp.greater, "cummax"))
op("cummin", static=("dim",), returns=("values", "indices"))(_cum_select(jnp.less, "cummin"))


@op(static=("dim", "keepdim"), differentiable=False)
def all(input, dim=None, keepdim=False):
    r = jnp.all(input, axis=_axes(dim, input.ndim), keepdims=keepdim)
    return r.astype(np.uint8) if input.dtype == np.uint8 else r


@op(static=("dim", "keepdim"), differentiable=False)
def any(input, dim=None, keepdim=False):
    r = jnp.any(input, axis=_axes(dim, input.ndim), keepdims=keepdim)
    return r.astype(np.uint8) if input.dtype == np.uint8 else r


@op(static=("dim",), differentiable=False)
def count_nonzero(input, dim=None):
    return jnp.sum(input != 0, axis=_axes(dim, input.ndim)).astype(np.int64)


@op(static=("dim", "descending", "stable"), returns=("values", "indices"), out="exact")
def sort(input, dim=-1, descending=False, stable=False):
    if input.ndim == 0:
        return input, jnp.zeros((), np.int64)
    d = norm_dim(dim, input.ndim)
    key = -input if descending and not jnp.issubdtype(input.dtype, jnp.unsignedinteger) and input.dtype != jnp.bool_ else input
    if descending and (jnp.issubdtype(input.dtype, jnp.unsignedinteger) or input.dtype == jnp.bool_):
        key = ~input if input.dtype != jnp.bool_ else ~input
    if jnp.issubdtype(input.dtype, jnp.floating) and descending:
        key = jnp.where(jnp.isnan(input), -jnp.inf, -input)
        idx = jnp.argsort(key, axis=d, stable=True)
    else:
        idx = jnp.argsort(key, axis=d, stable=True)
    return jnp.take_along_axis(input, idx, axis=d), idx.astype(np.int64)


@op(static=("dim", "descending", "stable"), differentiable=False)
def argsort(input, dim=-1, descending=False, stable=False):
    return OPS["sort"].impl(input, dim, descending, stable)[1]


@op(static=("k", "dim", "largest", "sorted"), returns=("values", "indices"))
def topk(input, k, dim=-1, largest=True, sorted=True):
    d = norm_dim(dim, input.ndim)
    n = input.shape[d] if input.ndim else 1
    if k < 0 or k > n:
        raise RuntimeError("selected index k out of range")
    x = jnp.moveaxis(input, d, -1) if input.ndim else input.reshape(1)
    v, i = jax.lax.top_k(x if largest else -x, k)
    if not largest:
        v = -v
    if input.ndim == 0:
        return v.reshape(()), i.reshape(()).astype(np.int64)
    return jnp.moveaxis(v, -1, d), jnp.moveaxis(i, -1, d).astype(np.int64)


@op(static=("k", "dim", "keepdim"), returns=("values", "indices"))
def kthvalue(input, k, dim=-1, keepdim=False):
    d = norm_dim(dim, input.ndim)
    x = input if input.ndim else input.reshape(1)
    n = x.shape[d]
    if k < 1 or k > n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    idx = jnp.argsort(x, axis=d, stable=True)
    sel = jax.lax.index_in_dim(idx, k - 1, axis=d, keepdims=True)
    v = jnp.take_along_axis(x, sel, axis=d)
    if not keepdim or input.ndim == 0:
        v, sel = jnp.squeeze(v, d), jnp.squeeze(sel, d)
    return v, sel.astype(np.int64)


@op("_median_all", public=False, method=False, saves_result=True)
def _median_all(input):
    x = input.reshape(-1)
    if x.size == 0:
        return jnp.array(jnp.nan, input.dtype)
    s = jnp.sort(x)
    return s[(x.size - 1) // 2]


@op("_median_dim", static=("dim", "keepdim"), returns=("values", "indices"), public=False, method=False)
def _median_dim(input, dim, keepdim=False):
    d = norm_dim(dim, input.ndim)
    x = input if input.ndim else input.reshape(1)
    n = x.shape[d]
    idx = jnp.argsort(x, axis=d, stable=True)
    sel = jax.lax.index_in_dim(idx, (n - 1) // 2, axis=d, keepdims=True)
    v = jnp.take_along_axis(x, sel, axis=d)
    if not keepdim or input.ndim == 0:
        v, sel = jnp.squeeze(v, d), jnp.squeeze(sel, d)
    return v, sel.astype(np.int64)


@overload("median")
def median(input, dim=None, keepdim=False):
    if dim is None:
        return OPS["_median_all"](input)
    return OPS["_median_dim"](input, dim, keepdim)


@op("_nanmedian_all", public=False, method=False, saves_result=True)
def _nanmedian_all(input):
    x = input.reshape(-1)
    s = jnp.sort(x)  # NaNs sort last
    k = jnp.sum(~jnp.isnan(x))
    return jnp.where(k == 0, jnp.nan, s[jnp.maximum(k - 1, 0) // 2])


@op("_nanmedian_dim", static=("dim", "keepdim"), returns=("values", "indices"), public=False, method=False)
def _nanmedian_dim(input, dim, keepdim=False):
    d = norm_dim(dim, input.ndim)
    x = input if input.ndim else input.reshape(1)
    idx = jnp.argsort(x, axis=d, stable=True)  # NaNs sort last
    k = jnp.sum(~jnp.isnan(x), axis=d, keepdims=True)
    sel = jnp.take_along_axis(idx, jnp.maximum(k - 1, 0) // 2, axis=d)
    v = jnp.take_along_axis(x, sel, axis=d)
    if not keepdim or input.ndim == 0:
        v, sel = jnp.squeeze(v, d), jnp.squeeze(sel, d)
    return v, sel.astype(np.int64)


@overload("nanmedian")
def nanmedian(input, dim=None, keepdim=False):
    if dim is None:
        return OPS["_nanmedian_all"](input)
    return OPS["_nanmedian_dim"](input, dim, keepdim)


@op(static=("dim", "keepdim"), returns=("values", "indices"))
def mode(input, dim=-1, keepdim=False):
    d = norm_dim(dim, input.ndim)
    x = jnp.moveaxis(input if input.ndim else input.reshape(1), d if input.ndim else 0, -1)
    s = jnp.sort(x, axis=-1)
    counts = jnp.sum(s[..., :, None] == s[..., None, :], axis=-1)
    # the smallest most frequent value, and the last index where it occurs (torch's choice)
    best = jnp.argmax(counts, axis=-1)
    val = jnp.take_along_axis(s, best[..., None], axis=-1)[..., 0]
    n = x.shape[-1]
    pos = jnp.where(x == val[..., None], jnp.arange(n), -1)
    idx = jnp.max(pos, axis=-1)
    if keepdim and input.ndim:
        val, idx = jnp.expand_dims(val, d), jnp.expand_dims(idx, d)
    if input.ndim == 0:
        val, idx = val.reshape(()), idx.reshape(())
    return val, idx.astype(np.int64)


@op(static=("bins", "min", "max"), differentiable=False)
def histc(input, bins=100, min=0, max=0):
    x = input.reshape(-1)
    lo, hi = (jnp.min(x), jnp.max(x)) if min == max else (jnp.asarray(min, x.dtype), jnp.asarray(max, x.dtype))
    lo, hi = jnp.where(lo == hi, lo - 1, lo), jnp.where(lo == hi, hi + 1, hi)
    pos = ((x - lo) * bins / (hi - lo)).astype(np.int64)
    pos = jnp.where(x == hi, bins - 1, pos)
    ok = (x >= lo) & (x <= hi)
    return jnp.zeros(bins, input.dtype).at[jnp.where(ok, pos, bins)].add(1, mode="drop")


@op(static=("size",), linear=True)
def sum_to_size(input, size):
    size = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)
    lead = input.ndim - len(size)
    x = jnp.sum(input, axis=tuple(range(lead))) if lead > 0 else input
    axes = tuple(i for i, s in enumerate(size) if s == 1 and x.shape[i] != 1)
    return jnp.sum(x, axis=axes, keepdims=True) if axes else x


varargs(OPS["sum_to_size"], "size")   # x.sum_to_size(1, 5) as well as x.sum_to_size((1, 5))


# msort, unique, unique_consecutive, bincount, searchsorted and bucketize are declared in tail_ops.py.
