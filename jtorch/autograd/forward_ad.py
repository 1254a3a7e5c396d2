"""torch.autograd.forward_ad: dual tensors and forward-mode derivatives.

A dual tensor carries a tangent for the active dual level (`t._fw = (level, tangent)` in its
__dict__; ordinary tensors carry nothing). While a level is active, every registry op whose
operands carry tangents also pushes them through its kernel with `jax.jvp`, and gives its outputs
the resulting tangents; a custom autograd.Function uses its `jvp` staticmethod. Leaving the level
drops every tangent made in it: unpack_dual then answers tangent=None, as torch does.
"""
import collections

import jax

UnpackedDualTensor = collections.namedtuple("UnpackedDualTensor", ["primal", "tangent"])

ACTIVE = [None]     # the current dual level (jtorch, like torch, supports one level at a time)
_COUNTER = [0]

__all__ = ["dual_level", "enter_dual_level", "exit_dual_level", "make_dual", "unpack_dual", "UnpackedDualTensor"]


def enter_dual_level():
    if ACTIVE[0] is not None:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    _COUNTER[0] += 1
    ACTIVE[0] = _COUNTER[0]
    return ACTIVE[0]


def exit_dual_level(*, level=None):
    if level is not None and level != ACTIVE[0]:
        raise RuntimeError("Trying to exit a forward AD level that was not the last one that was created. "
                           "This is not supported.")
    ACTIVE[0] = None


class dual_level:
    """Context manager for a forward AD level: dual tensors made inside share it."""

    def __enter__(self):
        return enter_dual_level()

    def __exit__(self, *exc):
        exit_dual_level()
        return False


def _level(level):
    lv = ACTIVE[0] if level is None else level
    if lv is None or lv != ACTIVE[0]:
        raise RuntimeError("To create a dual tensor, you must first enter a dual level with "
                           "torch.autograd.forward_ad.dual_level(), or call enter_dual_level()")
    return lv


def make_dual(tensor, tangent, *, level=None):
    lv = _level(level)
    if tuple(tensor.shape) != tuple(tangent.shape):
        raise RuntimeError(f"Trying to set a forward gradient that has a different size than that of the original "
                           f"Tensor, this is not supported. Tensor is of size {list(tensor.shape)} while the given "
                           f"forward gradient is of size {list(tangent.shape)}.")
    if not (tensor.dtype.is_floating_point or tensor.dtype.is_complex):
        raise ValueError(f"Expected primal to be floating point or complex, but got: {tensor.dtype}")
    dual = tensor.view_as(tensor)     # a view: the primal's storage, its autograd history
    if tangent._base is not None or tangent.dtype is not tensor.dtype:
        # torch copies a tangent whose layout or dtype differs from the primal's
        tangent = tangent.detach().to(tensor.dtype).clone()
    dual._fw = (lv, tangent)
    return dual


def unpack_dual(tensor, *, level=None):
    fw = tensor.__dict__.get("_fw") if hasattr(tensor, "__dict__") else None
    lv = ACTIVE[0] if level is None else level
    if fw is None or lv is None or fw[0] != lv:
        return UnpackedDualTensor(tensor, None)
    primal = tensor.view_as(tensor)
    return UnpackedDualTensor(primal, fw[1])


def tangent_of(t):
    """The live tangent of a tensor at the active level, or None."""
    fw = t.__dict__.get("_fw")
    return fw[1] if fw is not None and fw[0] == ACTIVE[0] else None


def push(jfwd, arrays, leaves, outs):
    """Give `outs` the tangents of a kernel call whose operands `leaves` (as `arrays`) may carry some."""
    from .._tensor import Tensor, wrap
    import jax.numpy as jnp
    pos, tans = [], []
    for i, v in enumerate(leaves):
        if isinstance(v, Tensor):
            t = tangent_of(v)
            if t is not None:
                pos.append(i)
                tans.append(t._value.astype(arrays[i].dtype))
    if not pos:
        return

    def f(*xs):
        full = list(arrays)
        for i, x in zip(pos, xs):
            full[i] = x
        return jfwd(*full)
    _, tout = jax.jvp(f, tuple(arrays[i] for i in pos), tuple(tans))
    touts = tout if isinstance(tout, (tuple, list)) else (tout,)
    lv = ACTIVE[0]
    for o, t in zip(outs, touts):
        if isinstance(o, Tensor) and (jnp.issubdtype(o._data.dtype, jnp.inexact)):
            o._fw = (lv, wrap(t))
