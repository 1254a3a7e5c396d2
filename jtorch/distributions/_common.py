"""Sampling helpers: draw keys from jtorch's generator and call the sampler ops."""
import math


def key():
    from .._random import next_key
    return next_key()


def std_normal(shape, dtype):
    from .._ops.registry import OPS
    return OPS["_sample_std_normal"](key(), tuple(shape), dtype)


def uniform01(shape, dtype):
    from .._ops.registry import OPS
    return OPS["_sample_uniform"](key(), tuple(shape), dtype)


LOG_2PI = math.log(2 * math.pi)
