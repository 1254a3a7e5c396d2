"""Channels-last compute for the NC* ops on XLA:CPU (tensors stay in torch's NC* layout).

XLA:CPU runs convolutions in channels-last form only: an NCHW convolution gets a transpose of its
input and its output, and nothing moves those transposes past the batch-norm, pooling and bias ops
around it, so a compiled conv/bn/relu/pool network pays several full-size transposes per layer.
Convolution, batch norm and pooling therefore compute in channels-last form themselves, between
an explicit transpose in and one out; inside one jitted program (jtorch.compile, or a conv
followed by its backward) XLA cancels each transpose-out against the next op's transpose-in.
GPU and TPU backends choose layouts themselves, so this applies to the CPU backend only.
Convolutions compute channels-last always on CPU: XLA:CPU would insert the same transposes itself
(measured: the eager conv forward+backward takes the same time either way). Batch norm and pooling
do so in traced whole programs only (jtorch.compile): an eager op is its own program, where their
transposes cannot cancel and only cost (measured: the eager CNN step ~30 % slower). Their callers
(jtorch.nn.functional) pass `wanted()` as a static argument, so eager and compiled kernels differ.
"""
import functools

import jax
import jax.numpy as jnp


@functools.lru_cache(maxsize=None)
def on_cpu():
    return jax.default_backend() == "cpu"


_COMPILING = []


def wanted():
    """Channels-last compute for the op about to run: inside a jtorch.compile trace on the CPU backend."""
    if not _COMPILING:
        from .._compile import _COMPILING as c
        _COMPILING.append(c)
    return _COMPILING[0][0] > 0 and on_cpu()


def use(x, channels_last):
    """Compute x (N, C, *spatial) channels-last? (asked for, and x has a spatial dim)."""
    return channels_last and x.ndim >= 3


def to_last(x):
    """(N, C, *spatial) -> (N, *spatial, C)."""
    return jnp.transpose(x, (0,) + tuple(range(2, x.ndim)) + (1,))


def to_first(x):
    """(N, *spatial, C) -> (N, C, *spatial)."""
    return jnp.transpose(x, (0, x.ndim - 1) + tuple(range(1, x.ndim - 1)))
