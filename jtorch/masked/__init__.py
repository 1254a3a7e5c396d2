"""jtorch.masked: torch.masked's reductions and normalizations with a boolean `mask` (masked-out
elements do not take part). Written against Tensor ops, so gradients come from the registry.
MaskedTensor is not provided."""
import math

_INF = math.inf


def _mask(input, mask):
    import jtorch
    if mask is None:
        return None
    m = mask if isinstance(mask, jtorch.Tensor) else jtorch.tensor(mask)
    return m.to(jtorch.bool).expand(input.shape) if tuple(m.shape) != tuple(input.shape) else m.to(jtorch.bool)


def _fill(input, mask, value):
    import jtorch
    m = _mask(input, mask)
    if m is None:
        return input
    return jtorch.where(m, input, jtorch.tensor(value, dtype=input.dtype))


def _dims(dim, ndim):
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, int):
        return (dim,)
    return tuple(dim) if len(dim) else tuple(range(ndim))


def _cast(input, dtype):
    return input if dtype is None else input.to(dtype)


def _lowest(dtype):
    import jtorch
    if dtype.is_floating_point:
        return -_INF
    return jtorch.iinfo(dtype).min if dtype is not jtorch.bool else False


def _highest(dtype):
    import jtorch
    if dtype.is_floating_point:
        return _INF
    return jtorch.iinfo(dtype).max if dtype is not jtorch.bool else True


def sum(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    x = _fill(input, mask, 0)
    if dtype is None and (input.dtype.is_floating_point or input.dtype.is_complex):
        dtype = input.dtype
    return x.sum(_dims(dim, input.dim()), keepdim=bool(keepdim), dtype=dtype)


def prod(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    x = _fill(_cast(input, dtype), mask, 1)
    dims = sorted((d % max(input.dim(), 1) for d in _dims(dim, input.dim())), reverse=True)
    if input.dim() == 0:
        return x.prod(dtype=dtype)
    for d in dims:
        x = x.prod(d, keepdim=True)
    if not keepdim:
        x = x.squeeze(tuple(dims)) if dims else x
    return x


def amax(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    x = _cast(input, dtype)
    return _fill(x, mask, _lowest(x.dtype)).amax(_dims(dim, input.dim()), keepdim=bool(keepdim))


def amin(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    x = _cast(input, dtype)
    return _fill(x, mask, _highest(x.dtype)).amin(_dims(dim, input.dim()), keepdim=bool(keepdim))


def argmax(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    x = _cast(input, dtype)
    # torch.masked.argmax returns indices in the input's dtype
    return _fill(x, mask, _lowest(x.dtype)).argmax(dim, keepdim=bool(keepdim)).to(x.dtype)


def argmin(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    x = _cast(input, dtype)
    return _fill(x, mask, _highest(x.dtype)).argmin(dim, keepdim=bool(keepdim)).to(x.dtype)


def _count(input, dim, keepdim, mask):
    import jtorch
    m = _mask(input, mask)
    if m is None:
        m = jtorch.ones(input.shape, dtype=jtorch.bool)
    return m.sum(_dims(dim, input.dim()), keepdim=bool(keepdim))


def mean(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    x = _cast(input, dtype)
    s = sum(x, dim, keepdim=keepdim, mask=mask)
    return s / _count(input, dim, keepdim, mask)


def cumsum(input, dim, *, dtype=None, mask=None):
    return _fill(_cast(input, dtype), mask, 0).cumsum(dim)


def cumprod(input, dim, *, dtype=None, mask=None):
    return _fill(_cast(input, dtype), mask, 1).cumprod(dim)


def softmax(input, dim, *, dtype=None, mask=None):
    x = _cast(input, dtype)
    # masked entries are -inf: they get exactly 0, and a row with nothing unmasked is nan, as torch's
    return _fill(x, mask, -_INF).softmax(dim)


def log_softmax(input, dim, *, dtype=None, mask=None):
    x = _cast(input, dtype)
    return _fill(x, mask, -_INF).log_softmax(dim)


def softmin(input, dim, *, dtype=None, mask=None):
    x = _cast(input, dtype)
    return _fill(-x, mask, -_INF).softmax(dim)


def logsumexp(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    x = _cast(input, dtype)
    return _fill(x, mask, -_INF).logsumexp(_dims(dim, input.dim()), keepdim=bool(keepdim))


def logaddexp(input, other, *, dtype=None, input_mask=None, other_mask=None):
    a = _fill(_cast(input, dtype), input_mask, -_INF)
    b = _fill(_cast(other, dtype), other_mask, -_INF)
    return a.logaddexp(b)


def norm(input, ord=2.0, dim=None, *, keepdim=False, dtype=None, mask=None):
    import jtorch
    x = _cast(input, dtype)
    fillv = _INF if ord == -_INF else 0
    x = _fill(x.abs() if fillv else x, mask, fillv)
    return jtorch.linalg.vector_norm(x, ord, _dims(dim, input.dim()) if input.dim() else None, keepdim=bool(keepdim))


def normalize(input, ord, dim, *, eps=1e-12, dtype=None, mask=None):
    x = _cast(input, dtype)
    n = norm(x, ord, dim, keepdim=True, mask=mask)
    r = _fill(x, mask, 0) / n.clamp_min(eps)
    return _fill(r, mask, 0)


def var(input, dim=None, unbiased=None, *, correction=None, keepdim=False, dtype=None, mask=None):
    x = _cast(input, dtype)
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    cnt = _count(input, dim, True, mask)
    mu = sum(x, dim, keepdim=True, mask=mask) / cnt
    d = _fill(x - mu, mask, 0)
    sq = (d * d.conj()).real if d.is_complex() else d * d
    s = sq.sum(_dims(dim, input.dim()), keepdim=bool(keepdim))
    c = cnt if keepdim else cnt.squeeze(tuple(d_ % max(input.dim(), 1) for d_ in _dims(dim, input.dim())))
    return s / (c - correction).clamp_min(0)


def std(input, dim=None, unbiased=None, *, correction=None, keepdim=False, dtype=None, mask=None):
    return var(input, dim, unbiased, correction=correction, keepdim=keepdim, dtype=dtype, mask=mask).sqrt()


def median(input, dim=-1, *, keepdim=False, dtype=None, mask=None):
    x = _cast(input, dtype)
    x = _fill(x, mask, math.nan)
    if x.dim() == 0:
        return x.clone()
    return x.nanmedian(dim, keepdim=bool(keepdim)).values
