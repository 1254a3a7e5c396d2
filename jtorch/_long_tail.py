"""The long tail of torch's top-level namespace: constants, aliases, legacy spellings and small
functions that real code calls (torch.abs_, torch.dropout, torch.hann_window, torch.lstm_cell ...).

Everything here is written against jtorch's public ops, so gradients, dtypes and devices follow
from the op registry. Names torch has that mean nothing on JAX are listed in _unsupported.py.
"""
import builtins as _b
import math as _math

import jax
import jax.numpy as jnp
import numpy as np

from . import _dtype as D
from ._tensor import Tensor, wrap
from ._layout import (layout, memory_format, strided, sparse_coo, sparse_csr, sparse_csc, sparse_bsr,  # noqa: F401
                      sparse_bsc, jagged, contiguous_format, preserve_format, legacy_contiguous_format,
                      channels_last, channels_last_3d)
from .storage import UntypedStorage, TypedStorage, LEGACY_CLASSES as _STORAGES

globals().update(_STORAGES)          # torch.FloatStorage, torch.LongStorage, ...
Storage = _STORAGES["FloatStorage"]  # torch.Storage is the legacy float storage class
StorageBase = UntypedStorage

pi = _math.pi
e = _math.e
inf = _math.inf
nan = _math.nan
newaxis = None
TYPE_CHECKING = False
has_lapack = True      # XLA ships LAPACK-style decompositions on every backend
has_spectral = True    # FFTs
has_mkl = False
has_openmp = False


def _jt():
    import jtorch
    return jtorch


def _F():
    from .nn import functional
    return functional


# ---------------------------------------------------------------- torch.X_(t, ...) == t.X_(...)
_INPLACE_FUNCTIONS = (
    "abs_", "acos_", "acosh_", "addmv_", "arccos_", "arccosh_", "arcsin_", "arcsinh_", "arctan_", "arctanh_",
    "as_strided_", "asin_", "asinh_", "atan_", "atanh_", "ceil_", "clamp_", "clamp_max_", "clamp_min_", "clip_",
    "conj_physical_", "cos_", "cosh_", "deg2rad_", "erf_", "erfc_", "exp2_", "exp_", "expm1_", "fill_", "fix_",
    "floor_", "frac_", "gcd_", "i0_", "index_put_", "lcm_", "ldexp_", "log10_", "log1p_", "log2_", "log_", "logit_",
    "nan_to_num_", "neg_", "negative_", "rad2deg_", "reciprocal_", "relu_", "round_", "rsqrt_", "sigmoid_",
    "sin_", "sinc_", "sinh_", "sqrt_", "square_", "tan_", "tanh_", "trunc_", "xlogy_", "zero_", "detach_")


def _inplace_function(name):
    def f(input, *args, **kwargs):
        return getattr(input, name)(*args, **kwargs)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"torch.{name}(input, ...): the in-place Tensor.{name} as a function."
    return f


for _n in _INPLACE_FUNCTIONS:
    globals()[_n] = _inplace_function(_n)


def detach(input):
    return input.detach()


# activation in-place functions torch has at top level but jtorch's Tensor lacks as methods
def celu_(input, alpha=1.0):
    return input.copy_(_F().celu(input, alpha))


def selu_(input):
    return input.copy_(_F().selu(input))


def threshold_(input, threshold, value):
    return input.copy_(_F().threshold(input, threshold, value))


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, generator=None):
    return _F().rrelu(input, lower, upper, training)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False, generator=None):
    return input.copy_(_F().rrelu(input, lower, upper, training))


# ---------------------------------------------------------------- dropout spellings: (input, p, train)
def dropout(input, p, train):
    return _F().dropout(input, p, train)


def dropout_(input, p, train):
    return input.copy_(_F().dropout(input, p, train)) if train else input


def alpha_dropout(input, p, train):
    return _F().alpha_dropout(input, p, train)


def alpha_dropout_(input, p, train):
    return input.copy_(_F().alpha_dropout(input, p, train)) if train else input


def _feature_mask(input, p):
    # one Bernoulli draw per (sample, channel), broadcast over the remaining dims
    shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)
    return _jt().empty(shape, dtype=input.dtype, device=input.device).bernoulli_(1 - p)


def feature_dropout(input, p, train):
    if not train or p == 0:
        return input
    if p == 1:
        return input * 0
    return input * _feature_mask(input, p) / (1 - p)


def feature_dropout_(input, p, train):
    return input.copy_(feature_dropout(input, p, train)) if train else input


def feature_alpha_dropout(input, p, train):
    return _F().feature_alpha_dropout(input, p, train)


def feature_alpha_dropout_(input, p, train):
    return input.copy_(_F().feature_alpha_dropout(input, p, train)) if train else input


def native_dropout(input, p, train):
    """(output, mask): torch's ATen dropout returning the keep-mask as a bool tensor."""
    if not train:
        return input.clone(), _jt().ones_like(input, dtype=D.bool_)
    keep = _jt().empty(tuple(input.shape), dtype=input.dtype, device=input.device).bernoulli_(1 - p)
    scale = 0.0 if p == 1 else 1.0 / (1 - p)
    return input * keep * scale, keep.bool()


# ---------------------------------------------------------------- normalisation spellings (ATen order)
def batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled=True):
    return _F().batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum, eps,
                  cudnn_enabled=True):
    return _F().instance_norm(input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05, cudnn_enable=True):
    return _F().layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-05, cudnn_enabled=True):
    return _F().group_norm(input, num_groups, weight, bias, eps)


def native_layer_norm(input, normalized_shape, weight, bias, eps):
    """(output, mean, rstd) with mean/rstd shaped input.shape[:axis] + (1,) * len(normalized_shape)."""
    dims = tuple(range(input.ndim - len(normalized_shape), input.ndim))
    mean = input.mean(dims, keepdim=True)
    rstd = (input.var(dims, unbiased=False, keepdim=True) + eps).rsqrt()
    out = (input - mean) * rstd
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out, mean.detach(), rstd.detach()   # torch: only the output requires grad


def native_batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps):
    """(output, save_mean, save_invstd); the saved statistics are empty in eval mode, as in torch."""
    out = _F().batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)
    if not training:
        e0 = _jt().empty((0,), dtype=input.dtype, device=input.device)
        return out, e0, e0.clone()
    dims = (0,) + tuple(range(2, input.ndim))
    mean = input.detach().mean(dims)
    invstd = (input.detach().var(dims, unbiased=False) + eps).rsqrt()
    return out, mean, invstd


def native_group_norm(input, weight, bias, N, C, HxW, group, eps):
    """(output, mean, rstd) with mean/rstd of shape (N, group)."""
    x = input.reshape(N, group, -1)
    mean = x.mean(-1)
    rstd = (x.var(-1, unbiased=False) + eps).rsqrt()
    return _F().group_norm(input, group, weight, bias, eps), mean, rstd


def frobenius_norm(input, dim=(-2, -1), keepdim=False):
    return _jt().linalg.vector_norm(input, 2, dim, keepdim)


def nuclear_norm(input, dim=None, keepdim=False):
    if isinstance(dim, _b.bool):   # nuclear_norm(input, keepdim)
        dim, keepdim = None, dim
    return _jt().linalg.matrix_norm(input, "nuc", dim if dim is not None else (-2, -1), keepdim)


def norm_except_dim(v, pow=2, dim=0):
    """The norm of v over every dim but `dim`, kept broadcastable (nn.utils.weight_norm's g)."""
    if dim == -1:
        return v.norm(pow)
    dims = tuple(d for d in range(v.ndim) if d != dim % v.ndim)
    return _jt().linalg.vector_norm(v, pow, dims, keepdim=True)


# ---------------------------------------------------------------- recurrent cells and layers
def _linear(x, w, b):
    return _F().linear(x, w, b)


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    return (_linear(input, w_ih, b_ih) + _linear(hx, w_hh, b_hh)).tanh()


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    return (_linear(input, w_ih, b_ih) + _linear(hx, w_hh, b_hh)).relu()


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    h, c = hx
    i, f, g, o = (_linear(input, w_ih, b_ih) + _linear(h, w_hh, b_hh)).chunk(4, -1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c.tanh(), c


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    ir, iz, in_ = _linear(input, w_ih, b_ih).chunk(3, -1)
    hr, hz, hn = _linear(hx, w_hh, b_hh).chunk(3, -1)
    r, z = (ir + hr).sigmoid(), (iz + hz).sigmoid()
    n = (in_ + r * hn).tanh()
    return (1 - z) * n + z * hx


def _rnn_stack(cell, n_state, input, hx, params, has_biases, num_layers, dropout_p, train, bidirectional,
               batch_first):
    """torch.lstm/gru/rnn_* on a padded input: params are [w_ih, w_hh, (b_ih, b_hh)] per layer and
    direction, hx the stacked initial states (num_layers * num_directions, batch, hidden)."""
    jt = _jt()
    x = input.transpose(0, 1) if batch_first else input
    unbatched = x.ndim == 2
    if unbatched:
        x = x.unsqueeze(1)
        hx = [h.unsqueeze(1) for h in hx]
    ndir = 2 if bidirectional else 1
    per = 4 if has_biases else 2
    finals = [[] for _ in range(n_state)]
    for layer in range(num_layers):
        outs = []
        for d in range(ndir):
            k = layer * ndir + d
            w = params[k * per:(k + 1) * per]
            w_ih, w_hh = w[0], w[1]
            b_ih, b_hh = (w[2], w[3]) if has_biases else (None, None)
            state = tuple(h[k] for h in hx)
            steps = range(x.shape[0] - 1, -1, -1) if d == 1 else range(x.shape[0])
            ys = [None] * x.shape[0]
            for t in steps:
                state = cell(x[t], state[0] if n_state == 1 else state, w_ih, w_hh, b_ih, b_hh)
                state = (state,) if n_state == 1 else tuple(state)
                ys[t] = state[0]
            outs.append(jt.stack(ys))
            for i in range(n_state):
                finals[i].append(state[i])
        x = jt.cat(outs, -1) if ndir == 2 else outs[0]
        if dropout_p and train and layer < num_layers - 1:
            x = _F().dropout(x, dropout_p, True)
    out = x.squeeze(1) if unbatched else x
    if batch_first and not unbatched:
        out = out.transpose(0, 1)
    states = [jt.stack(f) for f in finals]
    if unbatched:
        states = [s.squeeze(1) for s in states]
    return (out, *states)


def lstm(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first):
    return _rnn_stack(lstm_cell, 2, input, list(hx), params, has_biases, num_layers, dropout, train,
                      bidirectional, batch_first)


def gru(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first):
    return _rnn_stack(gru_cell, 1, input, [hx], params, has_biases, num_layers, dropout, train, bidirectional,
                      batch_first)


def rnn_tanh(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first):
    return _rnn_stack(rnn_tanh_cell, 1, input, [hx], params, has_biases, num_layers, dropout, train,
                      bidirectional, batch_first)


def rnn_relu(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first):
    return _rnn_stack(rnn_relu_cell, 1, input, [hx], params, has_biases, num_layers, dropout, train,
                      bidirectional, batch_first)


# ---------------------------------------------------------------- window functions
def _window(name, n, periodic, dtype, device, requires_grad, values):
    dtype = D.to_dtype(dtype) if dtype is not None else D.get_default_dtype()
    if not (dtype.is_floating_point or dtype.is_complex):
        raise RuntimeError(f"{name} expects floating point dtypes, got: {dtype}")
    if n < 0:
        raise RuntimeError(f"{name} requires non-negative window_length, got window_length={n}")
    jt = _jt()
    if n == 0:
        return jt.empty((0,), dtype=dtype, device=device, requires_grad=requires_grad)
    if n == 1:
        return jt.ones((1,), dtype=dtype, device=device, requires_grad=requires_grad)
    m = n + 1 if periodic else n
    w = values(np.arange(m, dtype=np.float64), m)[:n]
    return jt.tensor(w, dtype=dtype, device=device, requires_grad=requires_grad)


def hann_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False):
    return _window("hann_window", window_length, periodic, dtype, device, requires_grad,
                   lambda k, m: 0.5 - 0.5 * np.cos(2 * np.pi * k / (m - 1)))


def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None, layout=None, device=None,
                   requires_grad=False):
    return _window("hamming_window", window_length, periodic, dtype, device, requires_grad,
                   lambda k, m: alpha - beta * np.cos(2 * np.pi * k / (m - 1)))


def blackman_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False):
    return _window("blackman_window", window_length, periodic, dtype, device, requires_grad,
                   lambda k, m: 0.42 - 0.5 * np.cos(2 * np.pi * k / (m - 1)) + 0.08 * np.cos(4 * np.pi * k / (m - 1)))


def bartlett_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False):
    return _window("bartlett_window", window_length, periodic, dtype, device, requires_grad,
                   lambda k, m: 1 - np.abs(2 * k / (m - 1) - 1))


def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, layout=None, device=None,
                  requires_grad=False):
    return _window("kaiser_window", window_length, periodic, dtype, device, requires_grad,
                   lambda k, m: np.i0(beta * np.sqrt(np.clip(1 - ((k - (m - 1) / 2) / ((m - 1) / 2)) ** 2, 0, None)))
                   / np.i0(beta))


# ---------------------------------------------------------------- sampling
def binomial(count, prob, generator=None):
    """Samples of Binomial(count, prob), elementwise (jax.random.binomial under the generator's key)."""
    from ._random import next_key
    key = next_key(generator)._value
    c, p = jnp.broadcast_arrays(count._value, prob._value)
    out = jax.random.binomial(key, c.astype(jnp.float64), p.astype(jnp.float64))
    return wrap(out.astype(count._value.dtype))


# ---------------------------------------------------------------- predicates and small queries
def is_inference(input):
    return input.is_inference()


def is_conj(input):
    return False  # conjugation is never lazy in jtorch: conj() materialises


def is_neg(input):
    return False  # likewise for the negative bit


def is_signed(input):
    return input.dtype.is_signed


def is_same_size(input, other):
    return tuple(input.shape) == tuple(other.shape)


def get_device(input):
    return input.get_device()


def is_distributed(input):
    return False


def cudnn_is_acceptable(input):
    return False  # no cuDNN behind XLA's convolutions


def is_vulkan_available():
    return False


def compiled_with_cxx11_abi():
    return True


def init_num_threads():
    pass


def set_flush_denormal(mode):
    """torch returns whether the CPU supports flushing denormals; XLA decides that itself, so the
    request cannot be honoured (False)."""
    return False


_debug_mode = [0]


def set_deterministic_debug_mode(debug_mode):
    mode = {"default": 0, "warn": 1, "error": 2}.get(debug_mode, debug_mode)
    if mode not in (0, 1, 2):
        raise RuntimeError(f"invalid value of debug_mode, expected 0, 1, or 2, but got {debug_mode}")
    _debug_mode[0] = mode
    _jt().use_deterministic_algorithms(mode != 0, warn_only=mode == 1)


def get_deterministic_debug_mode():
    jt = _jt()
    if not jt.are_deterministic_algorithms_enabled():
        return 0
    return 1 if jt.is_deterministic_algorithms_warn_only_enabled() else 2


_warn_always = [False]


def set_warn_always(b):
    _warn_always[0] = _b.bool(b)


def is_warn_always_enabled():
    return _warn_always[0]


def set_anomaly_enabled(enabled, check_nan=True):
    from .autograd import anomaly
    anomaly.ENABLED[0], anomaly.CHECK_NAN[0] = _b.bool(enabled), _b.bool(check_nan)


def get_device_module(device=None):
    """torch.get_device_module: the jtorch.<type> module of a device (default: the accelerator, if any)."""
    import importlib
    from ._device import device as device_cls
    if device is None:
        from .accelerator import current_accelerator
        acc = current_accelerator()
        kind = acc.type if acc is not None else "cpu"
    else:
        kind = device.type if isinstance(device, device_cls) else str(device).split(":")[0]
    try:
        return importlib.import_module("jtorch." + kind)
    except ModuleNotFoundError:
        raise RuntimeError(f"Device '{kind}' does not have a corresponding module registered as 'torch.{kind}'.") \
            from None


# ---------------------------------------------------------------- buffers and files
def frombuffer(buffer, *, dtype, count=-1, offset=0, requires_grad=False):
    """A tensor of the buffer's bytes. torch shares the buffer's memory; a jax array cannot, so
    this is a copy: later writes to the buffer are not seen (documented in docs/unsupported.md)."""
    dt = D.to_dtype(dtype)
    nbytes = memoryview(buffer).nbytes
    if offset < 0 or offset >= nbytes and nbytes:
        raise ValueError(f"offset ({offset} bytes) must be non-negative and no greater than buffer length "
                         f"({nbytes} bytes) minus 1.")
    if count == 0 or (count < 0 and (nbytes - offset) % dt.itemsize):
        raise ValueError(f"buffer length ({nbytes - offset} bytes) after offset ({offset} bytes) must be a multiple "
                         f"of element size ({dt.itemsize})" if count != 0 else
                         "both buffer length and count can't be zero")
    arr = np.frombuffer(buffer, dtype=dt.np, count=count, offset=offset)
    return _jt().tensor(arr.copy(), dtype=dt, requires_grad=requires_grad)


def from_file(filename, shared=None, size=0, *, dtype=None, layout=None, device=None, pin_memory=False,
              requires_grad=False):
    """Read `size` elements of `dtype` from a file. shared=True (a write-back memory map) cannot
    exist for jax arrays and raises NotImplementedError."""
    if shared:
        raise NotImplementedError("jtorch: torch.from_file(shared=True) is not supported: jax arrays cannot "
                                  "map a file's memory (see docs/unsupported.md)")
    dt = D.to_dtype(dtype) if dtype is not None else D.get_default_dtype()
    arr = np.fromfile(filename, dtype=dt.np, count=size)
    if arr.size < size:
        raise RuntimeError(f"unable to read {size * dt.itemsize} bytes from {filename}: file too small")
    return _jt().tensor(arr, dtype=dt, device=device, requires_grad=requires_grad)


# ---------------------------------------------------------------- control flow
def _is_traced(x):
    v = x._value if isinstance(x, Tensor) else x
    return isinstance(v, jax.core.Tracer)


def _to_arrays(tree):
    return jax.tree_util.tree_map(lambda t: t._value if isinstance(t, Tensor) else t, tree,
                                  is_leaf=lambda t: isinstance(t, Tensor))


def _to_tensors(tree):
    return jax.tree_util.tree_map(wrap, tree)


def _lift(fn):
    # a jtorch function of Tensors as a jax function of arrays (runs with recording off)
    def f(*arrays):
        from .autograd.grad_mode import no_grad
        with no_grad():
            return _to_arrays(fn(*_to_tensors(list(arrays))))
    return f


def cond(pred, true_fn, false_fn, operands=()):
    """torch.cond: eagerly, the branch `pred` picks; while jtorch.compile traces (pred a traced
    tensor) it becomes jax.lax.cond, so both branches must return the same structure, shapes and
    dtypes, as torch.cond requires. Gradients do not flow through a traced cond."""
    if not isinstance(operands, (tuple, list)):
        raise RuntimeError(f"Expect operands to be a tuple of possibly nested dict/list/tuple that only "
                           f"consists of tensor leaves, but got {operands}.")
    if isinstance(pred, Tensor) and pred.numel() != 1:
        raise RuntimeError(f"Expected pred to be bool or single-element tensor, but got {pred}.")
    if _is_traced(pred) or any(_is_traced(o) for o in operands if isinstance(o, Tensor)):
        p = pred._value.reshape(()) if isinstance(pred, Tensor) else pred
        out = jax.lax.cond(p, _lift(true_fn), _lift(false_fn), *_to_arrays(list(operands)))
        return _to_tensors(out)
    return (true_fn if _b.bool(pred) else false_fn)(*operands)


def while_loop(cond_fn, body_fn, carried_inputs):
    """torch.while_loop: a Python loop eagerly, jax.lax.while_loop while jtorch.compile traces."""
    if not isinstance(carried_inputs, (tuple, list)):
        raise RuntimeError(f"carried_inputs must be a tuple or list but got {type(carried_inputs)}")
    carried = tuple(carried_inputs)
    if any(_is_traced(c) for c in carried if isinstance(c, Tensor)):
        def c(arrs):
            return _lift(cond_fn)(*arrs).reshape(())

        def b(arrs):
            return tuple(_lift(body_fn)(*arrs))
        return tuple(_to_tensors(jax.lax.while_loop(c, b, tuple(_to_arrays(list(carried))))))
    while _b.bool(cond_fn(*carried)):
        carried = tuple(body_fn(*carried))
    return carried


# ---------------------------------------------------------------- removed linear-algebra spellings
def _removed(name, msg):
    def f(*args, **kwargs):
        raise RuntimeError("This function was deprecated since version 1.9 and is now removed. " + msg)
    f.__name__ = name
    return f


_REMOVED = {
    "matrix_rank": "\nPlease use the `torch.linalg.matrix_rank` function instead. The parameter 'symmetric' was "
                   "renamed in `torch.linalg.matrix_rank()` to 'hermitian'.",
    "lstsq": "`torch.lstsq` is deprecated in favor of `torch.linalg.lstsq`.",
    "solve": "`torch.solve` is deprecated in favor of `torch.linalg.solve`.",
    "eig": "`torch.linalg.eig` returns complex tensors of dtype `cfloat` or `cdouble` rather than real tensors "
           "mimicking complex tensors.",
    "symeig": "The default behavior has changed from using the upper triangular portion of the matrix by default "
              "to using the lower triangular portion.",
}
for _n, _m in _REMOVED.items():
    globals()[_n] = _removed(_n, _m)


# ---------------------------------------------------------------- autocast's low-level switches
def _amp():
    from .amp import autocast_mode
    return autocast_mode


def get_autocast_dtype(device_type):
    return _amp().get_autocast_dtype(device_type)


def set_autocast_dtype(device_type, dtype):
    _amp().set_autocast_dtype(device_type, dtype)


def _deprecated(old, new):
    import warnings
    warnings.warn(f"torch.{old}() is deprecated. Please use torch.{new} instead.", DeprecationWarning, stacklevel=3)


def _dtype_getter(dev):
    short = {"cuda": "gpu"}.get(dev, dev)

    def get():
        _deprecated(f"get_autocast_{short}_dtype", f"get_autocast_dtype('{dev}')")
        return _amp().get_autocast_dtype(dev)
    return get


def _dtype_setter(dev):
    short = {"cuda": "gpu"}.get(dev, dev)

    def set_(dtype):
        _deprecated(f"set_autocast_{short}_dtype", f"set_autocast_dtype('{dev}', dtype)")
        _amp().set_autocast_dtype(dev, dtype)
    return set_


get_autocast_cpu_dtype = _dtype_getter("cpu")
get_autocast_gpu_dtype = _dtype_getter("cuda")
get_autocast_xla_dtype = _dtype_getter("xla")
set_autocast_cpu_dtype = _dtype_setter("cpu")
set_autocast_gpu_dtype = _dtype_setter("cuda")
set_autocast_xla_dtype = _dtype_setter("xla")
_switched_on = {}   # device_type -> the autocast region set_autocast_enabled entered


def set_autocast_enabled(device_type, enabled=None):
    """set_autocast_enabled(device_type, enabled) or the legacy set_autocast_enabled(enabled) (cuda)."""
    if enabled is None:
        device_type, enabled = "cuda", device_type
    dev = _amp()._canon(device_type)
    region = _switched_on.pop(dev, None)
    if region is not None:
        region.__exit__(None, None, None)
    if enabled != _amp().is_autocast_enabled(dev):
        region = _amp().autocast(dev, enabled=_b.bool(enabled))
        region.__enter__()
        _switched_on[dev] = region


def is_autocast_cpu_enabled():
    _deprecated("is_autocast_cpu_enabled", "is_autocast_enabled('cpu')")
    return _amp().is_autocast_enabled("cpu")


def is_autocast_xla_enabled():
    return _amp().is_autocast_enabled("xla")


def set_autocast_cpu_enabled(enabled):
    set_autocast_enabled("cpu", enabled)


def set_autocast_xla_enabled(enabled):
    set_autocast_enabled("xla", enabled)


_autocast_cache = [True]
_autocast_nesting = [0]


def is_autocast_cache_enabled():
    return _autocast_cache[0]


def set_autocast_cache_enabled(enabled):
    _autocast_cache[0] = _b.bool(enabled)


def clear_autocast_cache():
    pass  # jtorch keeps no cache of casted weights


def autocast_increment_nesting():
    _autocast_nesting[0] += 1
    return _autocast_nesting[0]


def autocast_decrement_nesting():
    _autocast_nesting[0] -= 1
    return _autocast_nesting[0]


# ---------------------------------------------------------------- ATen spellings of nn ops
def affine_grid_generator(theta, size, align_corners):
    return _F().affine_grid(theta, list(size), align_corners=align_corners)


def convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups):
    F = _F()
    nd = weight.ndim - 2
    if transposed:
        f = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[nd - 1]
        return f(input, weight, bias, stride, padding, output_padding, groups, dilation)
    f = (F.conv1d, F.conv2d, F.conv3d)[nd - 1]
    return f(input, weight, bias, stride, padding, dilation, groups)


def conv_tbc(input, weight, bias, pad=0):
    """Time-batch-channel 1-d convolution: input (T, B, Cin), weight (k, Cin, Cout)."""
    out = _F().conv1d(input.permute(1, 2, 0), weight.permute(2, 1, 0), bias, padding=pad)
    return out.permute(2, 0, 1)


def max_pool1d_with_indices(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return _F().max_pool1d(input, kernel_size, stride or None, padding, dilation, ceil_mode=ceil_mode,
                           return_indices=True)


def native_channel_shuffle(input, groups):
    return _F().channel_shuffle(input, groups)


def embedding_renorm_(input, indices, max_norm, norm_type):
    """Rescale, in place, the rows of `input` named by `indices` whose norm exceeds max_norm."""
    from .autograd.grad_mode import no_grad
    with no_grad():
        idx = indices.reshape(-1).unique()
        rows = input[idx]
        norms = rows.norm(norm_type, dim=-1, keepdim=True)
        scale = _jt().where(norms > max_norm, max_norm / (norms + 1e-7), _jt().ones_like(norms))
        input[idx] = rows * scale
    return input


def embedding_bag(weight, indices, offsets, scale_grad_by_freq=False, mode=0, sparse=False,
                  per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """ATen's embedding_bag: (output, offset2bag, bag_size, max_indices). The output is
    nn.functional.embedding_bag's; the bookkeeping outputs follow torch's CPU kernels (empty/zero
    for sum, bag of each index and bag sizes for mean, plus the argmax weight rows for max)."""
    jt = _jt()
    out = _F().embedding_bag(indices, weight, offsets, None, 2, scale_grad_by_freq, ("sum", "mean", "max")[mode],
                             sparse, per_sample_weights, include_last_offset, padding_idx)
    n = indices.numel()
    offs = offsets.tolist()
    nbags = len(offs) - 1 if include_last_offset else len(offs)
    ends = offs[1:] + ([] if include_last_offset else [n])
    offset2bag = jt.zeros((n,), dtype=indices.dtype)
    for b in range(nbags):
        offset2bag[offs[b]:ends[b]] = b
    bag_size = jt.tensor([ends[b] - offs[b] for b in range(nbags)], dtype=indices.dtype)
    if mode == 0:   # torch's CPU sum kernel keeps no bookkeeping: empty offset2bag, zero sizes
        return out, jt.zeros((0,), dtype=indices.dtype), jt.zeros((nbags,), dtype=indices.dtype), \
            jt.zeros((nbags,), dtype=indices.dtype)
    if mode == 1:   # mean: max_indices repeats bag_size
        return out, offset2bag, bag_size, bag_size.clone()
    max_idx = jt.zeros((nbags, weight.shape[1]), dtype=indices.dtype)
    if mode == 2:
        for b in range(nbags):
            if ends[b] > offs[b]:
                seg = indices[offs[b]:ends[b]]
                max_idx[b] = seg[weight[seg].argmax(0)]
    return out, offset2bag, bag_size, max_idx


# ---------------------------------------------------------------- copies and aliases
def select_copy(input, dim, index):
    return input.select(dim, index).clone()


def slice_copy(input, dim=0, start=None, end=None, step=1):
    sl = [slice(None)] * input.ndim
    sl[dim] = slice(start, end, step)
    return input[tuple(sl)].clone()


def unsafe_split_with_sizes(input, split_sizes, dim=0):
    return input.split_with_sizes(split_sizes, dim)


def orgqr(input, tau):
    return _jt().linalg.householder_product(input, tau)


def lobpcg(A, k=None, B=None, X=None, n=None, iK=None, niter=None, tol=None, largest=None, method=None,
           tracker=None, ortho_iparams=None, ortho_fparams=None, ortho_bparams=None):
    """The k extreme eigenpairs of a symmetric A (or the pencil A, B), computed exactly with eigh
    instead of torch's iterative LOBPCG: same eigenvalues, eigenvectors up to sign."""
    jt = _jt()
    k = k if k is not None else (X.shape[-1] if X is not None else 1)
    nreq = (k if n is None else n) if X is None else X.shape[-1]
    if A.shape[-1] < 3 * nreq:
        raise ValueError(f"LOBPCG algorithm is not applicable when the number of A rows (={A.shape[-1]}) is smaller "
                         f"than 3 x the number of requested eigenpairs (={nreq})")
    largest = True if largest is None else largest
    if B is not None:
        L = jt.linalg.cholesky(B)
        Li = jt.linalg.inv(L)
        A = Li @ A @ Li.mT
    E, V = jt.linalg.eigh(A)
    if B is not None:
        V = Li.mT @ V
    if largest:
        return E[..., -k:].flip(-1), V[..., -k:].flip(-1)
    return E[..., :k], V[..., :k]


def to_dlpack(tensor):
    from .utils.dlpack import to_dlpack as f
    return f(tensor)


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    from .func import vmap as f
    return f(func, in_dims, out_dims, randomness=randomness, chunk_size=chunk_size)


def thread_safe_generator():
    """The DataLoader thread worker's generator; jtorch's workers are processes: None (the global RNG)."""
    return None


# ---------------------------------------------------------------- symbolic-shape helpers on plain numbers
def sym_int(a):
    return _b.int(a) if not isinstance(a, float) else _math.floor(a) if a >= 0 else _math.ceil(a)


def sym_float(a):
    return _b.float(a)


def sym_max(a, b):
    return _b.max(a, b)


def sym_min(a, b):
    return _b.min(a, b)


def sym_not(a):
    return not a


def sym_sqrt(a):
    return _math.sqrt(a)


def sym_sum(args):
    return _b.sum(args)


def sym_ite(b, t, f):
    return t if b else f


def sym_fresh_size(expr):
    return expr


def sym_constrain_range(size, *, min=None, max=None):
    pass


def sym_constrain_range_for_size(size, *, min=None, max=None):
    pass


# ---------------------------------------------------------------- exceptions, protocol guards, streams
class OutOfMemoryError(RuntimeError):
    """torch.OutOfMemoryError (torch.cuda.OutOfMemoryError)."""


class AcceleratorError(RuntimeError):
    """torch.AcceleratorError: an error reported by the accelerator runtime."""


class DisableTorchFunction:
    """No-op context manager: jtorch has no __torch_function__ overrides to disable."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


DisableTorchFunctionSubclass = DisableTorchFunction


class Stream:
    """torch.Stream: XLA orders work itself, so a stream is a handle whose sync waits for all work."""

    def __init__(self, device=None, *, priority=0, **kwargs):
        from ._device import device as device_cls
        self.device = device_cls(device) if device is not None else device_cls("cpu")
        self.priority = priority

    @property
    def device_type(self):
        return self.device.type

    @property
    def device_index(self):
        return self.device.index if self.device.index is not None else 0

    def query(self):
        return True

    def synchronize(self):
        (jnp.zeros(()) + 0).block_until_ready()

    def wait_stream(self, stream):
        pass

    def wait_event(self, event):
        pass

    def record_event(self, event=None):
        event = event if event is not None else Event(self.device)
        event.record(self)
        return event

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __eq__(self, other):
        return isinstance(other, Stream) and other.device == self.device

    __hash__ = object.__hash__

    def __repr__(self):
        return f"torch.Stream device_type={self.device_type}, device_index={self.device_index}"


class Event:
    """torch.Event: record() notes a host timestamp once pending device work is done."""

    def __init__(self, device=None, *, enable_timing=False, blocking=False, interprocess=False):
        from ._device import device as device_cls
        self.device = device_cls(device) if device is not None else device_cls("cpu")
        self.enable_timing = enable_timing
        self._t = None

    def record(self, stream=None):
        import time
        (jnp.zeros(()) + 0).block_until_ready()
        self._t = time.perf_counter()

    def query(self):
        return True

    def synchronize(self):
        pass

    def wait(self, stream=None):
        pass

    def elapsed_time(self, end_event):
        if not self.enable_timing or self._t is None or end_event._t is None:
            raise RuntimeError("Both events must be recorded with enable_timing=True before elapsed_time()")
        return (end_event._t - self._t) * 1000.0


def fork(func, *args, **kwargs):
    from .jit import fork as f
    return f(func, *args, **kwargs)


def wait(future):
    return future.wait()


_NOT_EXPORTED = {"jax", "jnp", "np", "D", "Tensor", "wrap"}
__all__ = [n for n in list(globals()) if not n.startswith("_") and n not in _NOT_EXPORTED]


# ---------------------------------------------------------------- late additions (kept out of __all__'s filter)
def segment_reduce(data, reduce, *, lengths=None, indices=None, offsets=None, axis=0, unsafe=False, initial=None):
    """Reduce consecutive segments of `data` along `axis` (segment sizes from lengths or offsets).
    Empty segments give `initial`, or the reduction's identity (sum 0, prod 1, max -inf, min inf,
    mean nan), as in torch."""
    jt = _jt()
    if reduce not in ("sum", "mean", "max", "min", "prod"):
        raise RuntimeError(f"reduce argument must be either sum, max, min, mean or prod, got {reduce}")
    if lengths is None and offsets is None:
        raise RuntimeError("segment_reduce(): Either lengths or offsets must be defined")
    if lengths is not None and lengths.ndim != 1:
        raise RuntimeError("segment_reduce(): only 1-d lengths are supported (jtorch)")
    bounds = lengths.cumsum(0).tolist() if lengths is not None else offsets.tolist()[1:]
    starts = [0] + bounds[:-1] if lengths is not None else offsets.tolist()[:-1]
    if not unsafe and lengths is not None and (bounds[-1] if bounds else 0) != data.shape[axis]:
        raise RuntimeError("segment_reduce(): Expected all rows of lengths along axis to sum to data.size(lengths.dim()-1) "
                           "when !unsafe.")
    empty = {"sum": 0.0, "prod": 1.0, "max": -_math.inf, "min": _math.inf, "mean": _math.nan}[reduce]
    outs = []
    for s, e in zip(starts, bounds):
        seg = data.narrow(axis, s, e - s)
        if e == s:
            shape = list(data.shape)
            shape[axis] = 1
            outs.append(jt.full(shape, initial if initial is not None else empty, dtype=data.dtype,
                                device=data.device).squeeze(axis))
            continue
        if reduce == "sum":
            r = seg.sum(axis) + (initial if initial is not None else 0)
        elif reduce == "prod":
            r = seg.prod(axis) * (initial if initial is not None else 1)
        elif reduce == "mean":
            r = (seg.sum(axis) + (initial if initial is not None else 0)) / (e - s)  # torch: initial not counted
        elif reduce == "max":
            r = seg.amax(axis)
            r = r.clamp_min(initial) if initial is not None else r
        else:
            r = seg.amin(axis)
            r = r.clamp_max(initial) if initial is not None else r
        outs.append(r)
    return jt.stack(outs, axis)


# SyncBatchNorm's ATen kernels (statistics per channel over every dim but 1)
def _bn_dims(input):
    return (0,) + tuple(range(2, input.ndim))


def batch_norm_stats(input, eps):
    """(mean, invstd) per channel."""
    dims = _bn_dims(input)
    return input.mean(dims), (input.var(dims, unbiased=False) + eps).rsqrt()


def batch_norm_elemt(input, weight, bias, mean, invstd, eps):
    shape = (1, -1) + (1,) * (input.ndim - 2)
    out = (input - mean.reshape(shape)) * invstd.reshape(shape)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def batch_norm_gather_stats_with_counts(input, mean, invstd, running_mean, running_var, momentum, eps, counts):
    """Combine per-process (mean, invstd, count) rows into global (mean, invstd); update running stats."""
    from .autograd.grad_mode import no_grad
    counts = counts.to(mean.dtype).reshape(-1, 1)
    n = counts.sum()
    gmean = (mean * counts).sum(0) / n
    var_i = invstd.pow(-2) - eps
    gvar = ((var_i + (mean - gmean) ** 2) * counts).sum(0) / n
    if running_mean is not None:
        with no_grad():
            running_mean.copy_(running_mean * (1 - momentum) + gmean * momentum)
            running_var.copy_(running_var * (1 - momentum) + gvar * (n / (n - 1)) * momentum)
    return gmean, (gvar + eps).rsqrt()


def batch_norm_gather_stats(input, mean, invstd, running_mean, running_var, momentum, eps, count):
    counts = _jt().full((mean.shape[0],), count, dtype=mean.dtype, device=mean.device)
    return batch_norm_gather_stats_with_counts(input, mean, invstd, running_mean, running_var, momentum, eps, counts)


def batch_norm_update_stats(input, running_mean, running_var, momentum):
    """(mean, unbiased var) of the batch; running stats updated in place."""
    from .autograd.grad_mode import no_grad
    dims = _bn_dims(input)
    mean, var = input.mean(dims), input.var(dims, unbiased=False)
    n = input.numel() // input.shape[1]
    with no_grad():
        if running_mean is not None:
            running_mean.copy_(running_mean * (1 - momentum) + mean * momentum)
        if running_var is not None:
            running_var.copy_(running_var * (1 - momentum) + var * (n / (n - 1)) * momentum)
    return mean, var


def batch_norm_backward_reduce(grad_out, input, mean, invstd, weight, input_g, weight_g, bias_g):
    """(sum_dy, sum_dy_xmu, grad_weight, grad_bias) per channel."""
    dims = _bn_dims(input)
    shape = (1, -1) + (1,) * (input.ndim - 2)
    sum_dy = grad_out.sum(dims)
    sum_dy_xmu = (grad_out * (input - mean.reshape(shape))).sum(dims)
    gw = sum_dy_xmu * invstd if weight_g else None
    gb = sum_dy if bias_g else None
    return (sum_dy if input_g else None), (sum_dy_xmu if input_g else None), gw, gb


def batch_norm_backward_elemt(grad_out, input, mean, invstd, weight, sum_dy, sum_dy_xmu, count):
    shape = (1, -1) + (1,) * (input.ndim - 2)
    n = count.sum() if isinstance(count, Tensor) else count
    m = mean.reshape(shape)
    istd = invstd.reshape(shape)
    w = weight.reshape(shape) if weight is not None else 1.0
    mdy = (sum_dy / n).reshape(shape)
    mdyx = (sum_dy_xmu / n).reshape(shape)
    return (grad_out - mdy - (input - m) * istd * istd * mdyx) * istd * w


__all__ += ["segment_reduce", "batch_norm_stats", "batch_norm_elemt", "batch_norm_gather_stats",
            "batch_norm_gather_stats_with_counts", "batch_norm_update_stats", "batch_norm_backward_reduce",
            "batch_norm_backward_elemt"]


def _fake_quant(input, scale, zero_point, quant_min, quant_max):
    q = (input.detach() / scale + zero_point).round()
    inside = (q >= quant_min) & (q <= quant_max)
    out = (q.clamp(quant_min, quant_max) - zero_point) * scale
    # straight-through estimator: gradient 1 where the value was representable, 0 where clamped
    return out.to(input.dtype) + (input - input.detach()) * inside.to(input.dtype)


def fake_quantize_per_tensor_affine(input, scale, zero_point, quant_min, quant_max):
    """Quantize-dequantize in float (QAT): (clamp(round(x/scale + zp), qmin, qmax) - zp) * scale."""
    return _fake_quant(input, scale, zero_point, quant_min, quant_max)


def fake_quantize_per_channel_affine(input, scale, zero_point, axis, quant_min, quant_max):
    shape = [1] * input.ndim
    shape[axis] = -1
    return _fake_quant(input, scale.reshape(shape), zero_point.reshape(shape), quant_min, quant_max)


__all__ += ["fake_quantize_per_tensor_affine", "fake_quantize_per_channel_affine"]
