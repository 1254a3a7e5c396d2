"""Tensor.to / .type: dtype casts (a differentiable op) and device moves (jax.device_put, with a
backward that moves the gradient back)."""
import jax
import jax.numpy as jnp

from . import _dtype as D
from ._device import device as device_cls, as_device, jax_device
from ._tensor import Tensor, wrap
from .autograd.graph import Node, edge_of
from .autograd.grad_mode import STATE


def _parse_to(args, kwargs):
    dev = kwargs.pop("device", None)
    dt = kwargs.pop("dtype", None)
    non_blocking = kwargs.pop("non_blocking", False)
    copy = kwargs.pop("copy", False)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got an unexpected keyword argument '{next(iter(kwargs))}'")
    nbool = 0
    for a in args:
        if isinstance(a, Tensor):
            dev, dt = a.device, a.dtype
        elif isinstance(a, bool):   # positional (non_blocking, copy); bool before int: True is not cuda:1
            if nbool == 0:
                non_blocking = a
            else:
                copy = a
            nbool += 1
        elif isinstance(a, (D.dtype, type)) or (isinstance(a, str) and a.replace("torch.", "") in D._BY_NAME):
            dt = a
        elif isinstance(a, (str, device_cls, int)):
            dev = a
        elif a is not None:
            dt = a
    return (as_device(dev) if dev is not None else None), (D.to_dtype(dt) if dt is not None else None), copy


class ToCopyBackward0(Node):
    def __init__(self, edge, src_device):
        self.edges = [edge]
        self.src = src_device
        self.n_out = 1
        import itertools
        from .autograd.graph import _seq
        self.seq = next(_seq)

    def apply_grads(self, cts, create_graph):
        c = cts[0]
        if create_graph:
            return [c.to(self.src_dev())] if c is not None else [None]
        return [jax.device_put(c, self.src) if c is not None else None]

    def src_dev(self):
        from ._device import from_jax_device
        return from_jax_device(self.src)

    def release(self):
        pass


def move(t, dev):
    a = t._value
    if type(a) is jax.ShapeDtypeStruct or dev.type == "meta":   # meta tensors: shape and dtype only
        if dev.type == "meta":
            return t if type(a) is jax.ShapeDtypeStruct else wrap(jax.ShapeDtypeStruct(a.shape, a.dtype))
        raise NotImplementedError("Cannot copy out of meta tensor; no data!")
    jd = jax_device(dev)
    try:
        devs = a.devices()
        cur = next(iter(devs))
    except Exception:
        return t  # tracing: placement is the compiler's business
    if cur == jd or jd in devs:   # (a tensor sharded over several devices of this type is there already)
        return t
    out = wrap(jax.device_put(a, jd))
    if t._requires_grad and STATE.enabled:
        out.grad_fn = ToCopyBackward0(edge_of(t), cur)
        out._requires_grad = True
    return out


def tensor_to(t, *args, **kwargs):
    dev, dt, copy = _parse_to(args, dict(kwargs))
    out = t
    fmt = kwargs.get("memory_format")
    if fmt is not None:
        from ._layout import as_format
        out = as_format(t, fmt)  # torch's rank error; a tagged copy for channels_last (see _layout.py)
    if dt is not None and dt is not out.dtype:
        out = cast(out, dt)
    if dev is not None:
        out = move(out, dev)
    if copy and out is t:
        out = t.clone()
    return out


def cast(t, dt):
    from ._ops import OPS
    return OPS["_to_dtype"](t, dt)


_LEGACY = {"torch.FloatTensor": D.float32, "torch.DoubleTensor": D.float64, "torch.HalfTensor": D.float16,
           "torch.BFloat16Tensor": D.bfloat16, "torch.LongTensor": D.int64, "torch.IntTensor": D.int32,
           "torch.ShortTensor": D.int16, "torch.CharTensor": D.int8, "torch.ByteTensor": D.uint8,
           "torch.BoolTensor": D.bool_}
_LEGACY_NAME = {v: k for k, v in _LEGACY.items()}


def legacy_type(t, dtype=None):
    if dtype is None:
        name = _LEGACY_NAME.get(t.dtype, f"torch.{t.dtype.name}")
        return name.replace("torch.", "torch.cuda.") if t.device.type == "cuda" else name
    if isinstance(dtype, str):
        dt = _LEGACY.get(dtype.replace(".cuda.", ".")) or D.to_dtype(dtype)
        out = t.to(dt)
        return out.cuda() if ".cuda." in dtype else out
    if hasattr(dtype, "_device_type"):  # a legacy type class: x.type(torch.LongTensor)
        out = t.to(dtype.dtype)
        return out.cuda() if dtype._device_type == "cuda" else out
    return t.to(D.to_dtype(dtype))
