"""Helpers shared by the distributions."""
import numbers

from .. import _dtype as D


def broadcast_all(*values):
    from .._tensor import Tensor
    from .. import tensor, broadcast_tensors, get_default_dtype
    ref = next((v for v in values if isinstance(v, Tensor)), None)
    dt = ref.dtype if ref is not None else get_default_dtype()
    vs = [v if isinstance(v, Tensor) else tensor(float(v), dtype=dt) for v in values]
    return broadcast_tensors(*vs)


def _set_count_and_param(d, total_count, probs, logits):
    """Binomial / NegativeBinomial: total_count broadcast with exactly one of probs or logits."""
    if (probs is None) == (logits is None):
        raise ValueError("Either `probs` or `logits` must be specified, but not both.")
    if probs is not None:
        d.total_count, d.probs = broadcast_all(total_count, probs)
        d.total_count = d.total_count.type_as(d.probs)
        d._param = d.probs
    else:
        d.total_count, d.logits = broadcast_all(total_count, logits)
        d.total_count = d.total_count.type_as(d.logits)
        d._param = d.logits


def probs_to_logits(probs, is_binary=False):
    from .. import finfo
    eps = finfo(probs.dtype).eps
    p = probs.clamp(eps, 1 - eps)
    return (p.log() - (-p).log1p()) if is_binary else p.log()


def logits_to_probs(logits, is_binary=False):
    return logits.sigmoid() if is_binary else logits.softmax(-1)


def clamp_probs(probs):
    from .. import finfo
    eps = finfo(probs.dtype).eps
    return probs.clamp(eps, 1 - eps)


class lazy_property:
    def __init__(self, wrapped):
        self.wrapped = wrapped
        self.__doc__ = wrapped.__doc__
        self._name = wrapped.__name__

    def __set_name__(self, owner, name):
        self._name = name

    def __get__(self, instance, obj_type=None):
        if instance is None:
            return self
        value = self.wrapped(instance)
        setattr(instance, self._name, value)
        return value


def _sum_rightmost(value, dim):
    return value.reshape(tuple(value.shape[:value.ndim - dim]) + (-1,)).sum(-1) if dim > 0 else value


euler_constant = 0.57721566490153286060  # Euler Mascheroni constant


def _standard_normal(shape, dtype, device=None):
    from ._common import std_normal
    return std_normal(shape, dtype)


def tril_matrix_to_vec(mat, diag=0):
    from .transforms import tril_matrix_to_vec as f
    return f(mat, diag)


def vec_to_tril_matrix(vec, diag=0):
    from .transforms import vec_to_tril_matrix as f
    return f(vec, diag)
