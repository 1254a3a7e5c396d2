"""Tensor creation: tensor/as_tensor/from_numpy, the factories (zeros, arange, ...) and the
random factories (rand, randn, ...). torch's dtype inference and defaults throughout."""
import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np

from . import _dtype as D
from . import _foreign
from ._device import as_device, jax_device, device as device_cls
from ._creation_defaults import get_default_device
from ._tensor import Tensor, wrap, Size
from ._ops.util import size_arg
from . import _random


def _place(arr, device):
    """Put a freshly made array on the requested (or default) device."""
    device = as_device(device) if device is not None else get_default_device()
    if device is None or device.type == "cpu":
        return arr
    if device.type == "meta":
        return jax.ShapeDtypeStruct(arr.shape, arr.dtype)
    return jax.device_put(arr, jax_device(device))


_HOST_MAX = 1 << 22
_host_backend = []


def host_side_ok(n):
    """Whether a new array of n elements is better made by numpy and handed to XLA:CPU. Eagerly,
    jnp.zeros/ones/slicing compile one tiny XLA program per new shape (10-50 ms each: a model's set-up
    and a program's first steps meet dozens of shapes); device_put of a numpy buffer compiles nothing.
    Only where new arrays land on the CPU (elsewhere it would be a host-to-device copy) and never while jax traces
    (a host array would become a constant baked into the program)."""
    if not _host_backend:
        try:
            from jax._src.core import trace_state_clean
            d = jax.config.jax_default_device   # jtorch sets "cpu" at import (_jax_setup.py)
            plat = d if isinstance(d, str) else d.platform if d is not None else jax.default_backend()
            _host_backend.append(trace_state_clean if plat == "cpu" else None)
        except Exception:   # a jax without it: keep the jnp path
            _host_backend.append(None)
    clean = _host_backend[0]
    return clean is not None and n <= _HOST_MAX and clean()


def host_filled(shape, np_dtype, value):
    """A constant-filled array made without compiling, or None where host_side_ok says no."""
    n = 1
    for s in shape:
        n *= s
    if not host_side_ok(n):
        return None
    return jax.device_put(np.full(shape, value, np_dtype))


def _finish(arr, device=None, requires_grad=False, cls=Tensor):
    dev = as_device(device) if device is not None else get_default_device()
    t = object.__new__(cls)
    t._data = _place(arr, dev)
    if requires_grad:
        if not (t.dtype.is_floating_point or t.dtype.is_complex):   # factories' wording (capital O)
            raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
        t.requires_grad = True
    return t


def _infer_dtype(data):
    """torch.tensor's dtype inference over nested Python data."""
    if isinstance(data, Tensor):
        return data.dtype
    if isinstance(data, np.ndarray):
        return D.from_np(data.dtype)
    if isinstance(data, np.generic):
        return D.from_np(data.dtype)
    if isinstance(data, bool):
        return D.bool_
    if isinstance(data, numbers.Integral):
        return D.int64
    if isinstance(data, numbers.Real):
        return D.get_default_dtype()
    if isinstance(data, numbers.Complex):
        return D.default_complex()
    if isinstance(data, (list, tuple)):
        r = None
        for x in data:
            d = _infer_dtype(x)
            if r is None:
                r = d
            elif d is not None:
                # Python scalars of a higher category win: [1, 2.5] -> float
                r = r if r._cat >= d._cat and not (r._cat == d._cat and d.itemsize > r.itemsize) else d
        return r if r is not None else D.get_default_dtype()
    raise TypeError(f"Could not infer dtype of {type(data).__name__}")


def _to_numpy(data, dtype):
    if isinstance(data, Tensor):
        return np.asarray(data._value)
    if isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in _flat(data)):
        data = _map_tensors(data)
    try:
        return np.asarray(data, dtype=dtype.np)
    except (ValueError, TypeError) as e:
        if "sequence" in str(e) or "inhomogeneous" in str(e):
            raise ValueError(f"expected sequence of length {len(data[0]) if hasattr(data[0], '__len__') else 0} at "
                             f"dim 1 (got {len(data[-1]) if hasattr(data[-1], '__len__') else 0})") from None
        raise TypeError(f"can't convert {type(data).__name__} to a tensor: {e}") from None


def _flat(x):
    if isinstance(x, (list, tuple)):
        for y in x:
            yield from _flat(y)
    else:
        yield x


def _map_tensors(x):
    if isinstance(x, (list, tuple)):
        return [_map_tensors(y) for y in x]
    if isinstance(x, Tensor):
        if x.numel() != 1 and x.ndim:
            return np.asarray(x._value)
        return np.asarray(x._value).item() if x.ndim == 0 else np.asarray(x._value)
    return x


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    if not isinstance(data, (Tensor, np.ndarray, list, tuple, int, float, bool)) and _foreign.is_foreign(data):
        data = _foreign.to_numpy(data)
    if isinstance(data, Tensor):
        import warnings
        warnings.warn("To copy construct from a tensor, it is recommended to use sourceTensor.detach().clone() or "
                      "sourceTensor.detach().clone().requires_grad_(True), rather than torch.tensor(sourceTensor).",
                      UserWarning, stacklevel=2)
    dt = D.to_dtype(dtype) if dtype is not None else _infer_dtype(data)
    if isinstance(data, Tensor):
        arr = data._value.astype(dt.np)
        return _finish(arr if device is not None else jnp.array(arr, copy=True), device or data.device,
                       requires_grad)
    return _finish(_own(_to_numpy(data, dt), data, dt.np), device, requires_grad)


def _own(arr, data, np_dtype=None):
    """A jax array of arr that does not share memory with the caller's data. jnp.asarray may
    alias an aligned numpy buffer (or torch's, through __array__) on CPU; a later in-place write
    to that buffer would then show through the (immutable) jax array, nondeterministically. torch
    copies here, so copy whenever arr is, or views, memory the caller owns."""
    if arr is data or arr.base is not None:
        # the copy is made by numpy, so the buffer XLA may adopt zero-copy is one nobody else holds
        return jnp.asarray(np.array(arr, dtype=np_dtype, copy=True))
    return jnp.asarray(arr, dtype=np_dtype)


def as_tensor(data, dtype=None, device=None):
    if not isinstance(data, (Tensor, np.ndarray, list, tuple, int, float, bool)) and _foreign.is_foreign(data):
        data = _foreign.to_numpy(data)
    if isinstance(data, Tensor):
        t = data
        if dtype is not None and D.to_dtype(dtype) is not t.dtype:
            t = t.to(D.to_dtype(dtype))
        if device is not None and as_device(device) != t.device:
            t = t.to(device)
        return t
    if isinstance(data, jax.Array):
        t = wrap(data if dtype is None else data.astype(D.to_dtype(dtype).np))
        return t if device is None else t.to(device)
    return tensor(data, dtype=dtype, device=device)


asarray = as_tensor


def from_numpy(ndarray):
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    D.from_np(ndarray.dtype)
    # a snapshot: jax arrays cannot share torch's two-way memory, and a one-way alias (numpy writes
    # showing through for some buffer alignments only) would be nondeterministic
    return wrap(jnp.asarray(np.array(ndarray, copy=True)))   # numpy's own copy: see _own


def from_dlpack(ext):
    return wrap(jnp.from_dlpack(ext))


def _factory(fill):
    def f(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False,
          memory_format=None, generator=None):
        if not size and out is None:
            raise TypeError(f"{fill}() missing 1 required positional arguments: \"size\"")
        shape = size_arg(size)
        for s in shape:
            if s < 0:
                raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(shape)}")
        dt = D.to_dtype(dtype) if dtype is not None else D.get_default_dtype()
        dev = as_device(device) if device is not None else get_default_device()
        if dev is not None and dev.type == "meta" and out is None:   # shape only: allocate nothing
            arr = jax.ShapeDtypeStruct(tuple(shape), dt.np)
        else:
            arr = host_filled(shape, dt.np, 0 if fill in ("zeros", "empty") else 1)
            if arr is None:
                arr = (jnp.zeros if fill in ("zeros", "empty") else jnp.ones)(shape, dt.np)
        if out is not None:
            return out._set_from_out(wrap(arr))
        return _finish(arr, device, requires_grad)
    f.__name__ = fill
    return f


zeros = _factory("zeros")
ones = _factory("ones")
empty = _factory("empty")


def empty_strided(size, stride, *, dtype=None, device=None, requires_grad=False, **kw):
    return empty(tuple(size), dtype=dtype, device=device, requires_grad=requires_grad)


def full(size, fill_value, *, out=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    shape = size_arg((size,))
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    dt = D.to_dtype(dtype) if dtype is not None else (D.scalar_dtype(fill_value) or D.get_default_dtype())
    arr = jnp.full(shape, fill_value, dt.np)
    if out is not None:
        return out._set_from_out(wrap(arr))
    return _finish(arr, device, requires_grad)


def _like(fn_name):
    def f(input, *args, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None,
          pin_memory=False):
        dt = D.to_dtype(dtype) if dtype is not None else input.dtype
        dev = device if device is not None else input.device
        shape = tuple(input.shape)
        if fn_name == "full_like":
            (fill_value,) = args
            if isinstance(fill_value, Tensor):
                fill_value = fill_value.item()
            arr = jnp.full(shape, fill_value, dt.np)
        else:
            arr = (jnp.ones if fn_name == "ones_like" else jnp.zeros)(shape, dt.np)
        return _finish(arr, dev, requires_grad)
    f.__name__ = fn_name
    return f


zeros_like = _like("zeros_like")
ones_like = _like("ones_like")
empty_like = _like("empty_like")
full_like = _like("full_like")


def _num(x):
    return x.item() if isinstance(x, Tensor) else x


def arange(start=0, end=None, step=1, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    start, end, step = _num(start), _num(end), _num(step)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(f"upper bound and larger bound inconsistent with step sign")
    if dtype is None:
        dt = D.int64 if all(isinstance(v, numbers.Integral) for v in (start, end, step)) else D.get_default_dtype()
    else:
        dt = D.to_dtype(dtype)
    n = max(int(math.ceil((end - start) / step)), 0)
    if dt._cat >= 2:
        # torch computes in double then casts, element i = start + i*step
        arr = (start + np.arange(n, dtype=np.float64) * step).astype(dt.np)
    else:
        arr = (start + np.arange(n, dtype=np.int64) * int(step)).astype(dt.np) if all(
            isinstance(v, numbers.Integral) for v in (start, step)) else np.floor(start + np.arange(n) * step).astype(dt.np)
    arr = jnp.asarray(arr)
    if out is not None:
        return out._set_from_out(wrap(arr))
    return _finish(arr, device, requires_grad)


def range_(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    dt = D.to_dtype(dtype) if dtype is not None else D.get_default_dtype()
    n = int(math.floor((end - start) / step)) + 1
    return _finish(jnp.asarray((start + np.arange(n) * step).astype(dt.np)), device, requires_grad)


def linspace(start, end, steps, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    start, end = _num(start), _num(end)
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    dt = D.to_dtype(dtype) if dtype is not None else D.get_default_dtype()
    if dt._cat < 2:
        arr = jnp.asarray(np.linspace(start, end, steps).astype(dt.np))
    else:
        # torch's symmetric formula: the first half from start, the second half from end
        i = np.arange(steps, dtype=np.float64)
        step = (end - start) / max(steps - 1, 1)
        half = steps // 2
        vals = np.where(i < half, start + step * i, end - step * (steps - 1 - i)) if steps > 1 else \
            np.full(steps, start, np.float64)
        arr = jnp.asarray(vals.astype(dt.np))
    return _finish(arr, device, requires_grad)


def logspace(start, end, steps, base=10.0, *, dtype=None, layout=None, device=None, requires_grad=False):
    dt = D.to_dtype(dtype) if dtype is not None else D.get_default_dtype()
    arr = np.power(base, np.linspace(_num(start), _num(end), steps)).astype(dt.np)
    return _finish(jnp.asarray(arr), device, requires_grad)


def eye(n, m=None, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    dt = D.to_dtype(dtype) if dtype is not None else D.get_default_dtype()
    if n < 0:
        raise RuntimeError(f"n must be greater or equal to 0, got {n}")
    return _finish(jnp.eye(n, m, dtype=dt.np), device, requires_grad)


def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    r, c = np.tril_indices(row, offset, col)
    return _finish(jnp.asarray(np.stack([r, c]).astype((D.to_dtype(dtype) or D.int64).np)), device)


def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    r, c = np.triu_indices(row, offset, col)
    return _finish(jnp.asarray(np.stack([r, c]).astype((D.to_dtype(dtype) or D.int64).np)), device)


# --- random factories ---------------------------------------------------------------------------------
def _rand_factory(kind):
    def f(*size, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad=False,
          pin_memory=False, memory_format=None):
        shape = size_arg(size)
        dt = D.to_dtype(dtype) if dtype is not None else D.get_default_dtype()
        if dt._cat < 2:
            raise RuntimeError(f"\"{'check_uniform_bounds' if kind == 'uniform' else 'normal_kernel_cpu'}\" not "
                               f"implemented for '{dt.name}'")
        arr = _random.draw(kind, shape, dt, generator, *((0.0, 1.0)))
        if out is not None:
            return out._set_from_out(wrap(arr))
        return _finish(arr, device, requires_grad)
    f.__name__ = {"uniform": "rand", "normal": "randn"}[kind]
    return f


rand = _rand_factory("uniform")
randn = _rand_factory("normal")


def randint(low=0, high=None, size=None, *, generator=None, out=None, dtype=None, layout=None, device=None,
            requires_grad=False):
    if size is None:  # randint(high, size)
        low, high, size = 0, low, high
    if high is None:
        raise TypeError("randint() missing required argument 'high'")
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    dt = D.to_dtype(dtype) if dtype is not None else D.int64
    arr = _random.draw("randint", size_arg((size,)), dt, generator, low, high)
    return _finish(arr, device, requires_grad)


def randperm(n, *, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad=False,
             pin_memory=False):
    dt = D.to_dtype(dtype) if dtype is not None else D.int64
    return _finish(_random.draw("perm", (n,), dt, generator), device, requires_grad)


def rand_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    return rand(*input.shape, dtype=dtype or input.dtype, device=device or input.device, requires_grad=requires_grad)


def randn_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    return randn(*input.shape, dtype=dtype or input.dtype, device=device or input.device, requires_grad=requires_grad)


def randint_like(input, low=0, high=None, *, dtype=None, layout=None, device=None, requires_grad=False,
                 memory_format=None):
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(input.shape), dtype=dtype or input.dtype, device=device or input.device)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, out=None, dtype=None, layout=None, device=None,
           requires_grad=False):
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        ref = mean if isinstance(mean, Tensor) else std
        shape = jnp.broadcast_shapes(tuple(mean.shape) if isinstance(mean, Tensor) else (),
                                     tuple(std.shape) if isinstance(std, Tensor) else ())
        dt = ref.dtype
        z = wrap(_random.draw("normal", shape, dt, generator, 0.0, 1.0))
        with_grad = z * std + mean
        return with_grad
    dt = D.to_dtype(dtype) if dtype is not None else D.get_default_dtype()
    arr = _random.draw("normal", size_arg((size,)), dt, generator, mean, std)
    return _finish(arr, device, requires_grad)


def bernoulli(input, p=None, *, generator=None, out=None):
    prob = input._value if p is None else p
    res = wrap(_random.draw("bernoulli", tuple(input.shape), input.dtype, generator, prob))
    return _sample_of("bernoulli", res, input) if p is None else res


def poisson(input, generator=None):
    return _sample_of("poisson", wrap(_random.draw("poisson", tuple(input.shape), input.dtype, generator,
                                                   input._value)), input)


def _sample_of(kind, sample, input):
    """As in torch, a sample of a distribution whose parameter requires grad requires grad too (zero
    derivative): recorded only then, so plain sampling stays one kernel."""
    if input._requires_grad and sample.dtype.is_floating_point:
        from ._ops.registry import OPS
        from .autograd.grad_mode import STATE
        if STATE.enabled:
            return OPS[f"_{kind}_sample_of"](sample, input)
    return sample


def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    if input.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    p = input._value.astype(np.float32)
    if not isinstance(p, jax.core.Tracer):
        pn = np.asarray(p)
        if (pn < 0).any() or not np.isfinite(pn).all():
            raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
        if (pn.sum(-1) == 0).any():
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        if not replacement and num_samples > (pn > 0).sum(-1).min():
            raise RuntimeError("invalid multinomial distribution (with replacement=False, not enough non-negative "
                               "category to sample)")
    logits = jnp.log(p)
    batch = p.shape[:-1]
    if replacement:
        arr = _random.draw("categorical", batch + (num_samples,) if not batch else (num_samples,) + batch, D.int64,
                           generator, logits)
        if batch:
            arr = jnp.moveaxis(arr, 0, -1)
    else:
        arr = _random.draw("choice_noreplace", batch + (num_samples,), D.int64, generator, logits)
    return wrap(arr)


def _legacy_tensor_new(cls, *args, **kwargs):
    """torch.Tensor(...) / torch.FloatTensor(...): sizes make an uninitialised float tensor, data is copied."""
    device = kwargs.pop("device", None)
    dt = kwargs.pop("dtype", None) or D.get_default_dtype()
    if not args:
        arr = jnp.zeros((0,), dt.np)
    elif len(args) == 1 and isinstance(args[0], Tensor):
        arr = args[0]._value
    elif all(isinstance(a, int) for a in args) or (len(args) == 1 and isinstance(args[0], Size)):
        arr = jnp.zeros(size_arg(args), dt.np)
    else:
        arr = _own(_to_numpy(args[0], dt), args[0])
    t = object.__new__(cls)
    t._data = _place(arr, device)
    return t
