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

    def __get__(self, instance, obj_type=None):
        if instance is None:
            return self
        value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value


def _sum_rightmost(value, dim):
    return value.reshape(tuple(value.shape[:value.ndim - dim]) + (-1,)).sum(-1) if dim > 0 else value
