"""Neural-network ops: activations, softmax, normalisation, dropout application, embedding, losses.

Each composite (softmax, layer_norm, gelu, cross_entropy, ...) is ONE registry op: a single jitted
kernel whose backward jax derives. Randomness (dropout masks, RReLU slopes) is drawn by the caller
(jtorch.nn.functional) from the generator and passed in as an operand, so these stay pure.
Half-precision inputs of the normalisations/softmax are computed in float32 and cast back, as
torch's CPU/GPU kernels accumulate in float32.
"""
import math

import jax
import jax.numpy as jnp
import numpy as np

from . import channels_last as _cl
from . import kinks
from .registry import op
from .bounds import check_class_target
from .util import norm_dim, TorchValueError

_LOW = (jnp.float16, jnp.bfloat16)


def _up(x):
    """Compute dtype for a floating input (half -> float32)."""
    return x.astype(jnp.float32) if x.dtype in _LOW else x


def _need_float(x, name):
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        from .reduction import _tname
        raise RuntimeError(f'"{name}" not implemented for \'{_tname(x.dtype)}\'')


# ---------------------------------------------------------------------------------- activations
@op(promote="same", inplace=True, saves_result="only")
def relu(input):
    if input.dtype == jnp.bool_:
        raise RuntimeError("\"clamp_min_scalar_cpu\" not implemented for 'Bool'")
    return kinks.relu(input)


@op(promote="same", inplace=True, method=False, public=False)
def hardtanh(input, min_val=-1.0, max_val=1.0):
    return kinks.hardtanh(input, jnp.asarray(min_val, input.dtype), jnp.asarray(max_val, input.dtype))


@op(promote="same", inplace=True, method=False, public=False)
def leaky_relu(input, negative_slope=0.01):
    return jnp.where(input > 0, input, input * negative_slope)


@op(promote="same", method=True)
def prelu(input, weight):
    if weight.size != 1:
        if input.ndim < 2:
            c = input.shape[0] if input.ndim == 1 else 1
        else:
            c = input.shape[1]
        if weight.size != c:
            raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found parameter numbers = "
                               f"{weight.size} and channel size = {c}.")
        if input.ndim >= 2:
            w = weight.reshape((c,) + (1,) * (input.ndim - 2))
        else:
            w = weight.reshape((c,) * input.ndim)
    else:
        w = weight.reshape(())
    return jnp.where(input > 0, input, w * input)


@op("_rrelu_apply", promote="same", public=False, method=False)
def _rrelu_apply(input, noise):
    return jnp.where(input >= 0, input, input * noise)


@op(promote="float", inplace=True, method=False, public=False)
def elu(input, alpha=1.0, scale=1.0, input_scale=1.0):
    return _elu_like(input, alpha * scale, scale, input_scale)


def _elu_like(x, neg_coef, pos_coef, input_scale):
    """x > 0: pos_coef * x; x < 0: neg_coef * expm1(input_scale * x). At exactly 0 torch's
    gradient takes the negative side (neg_coef * input_scale) but its double backward masks
    x < 0 (second derivative 0): a linear piece there gives both."""
    return jnp.where(x > 0, x * pos_coef,
                     jnp.where(x < 0, jnp.expm1(x * input_scale) * neg_coef, x * (neg_coef * input_scale)))


@op(promote="float", inplace=True, method=False)
def selu(input):
    alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
    return _elu_like(input, alpha * scale, scale, 1.0)


@op(promote="float", inplace=True, method=False)
def celu(input, alpha=1.0):
    return _elu_like(input, alpha, 1.0, 1.0 / alpha)


@op(promote="float", static=("approximate",), method=False, public=False)
def gelu(input, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"approximate argument must be either none or tanh.")
    x = _up(input)
    if approximate == "tanh":
        c = math.sqrt(2 / math.pi)
        y = 0.5 * x * (1 + jnp.tanh(c * (x + 0.044715 * x * x * x)))
    else:
        y = 0.5 * x * (1 + jax.scipy.special.erf(x * (1 / math.sqrt(2))))
    return y.astype(input.dtype)


@op(promote="float", inplace=True, method=False, public=False)
def silu(input):
    x = _up(input)
    return (x * jax.nn.sigmoid(x)).astype(input.dtype)


@op(promote="float", inplace=True, method=False, public=False)
def mish(input):
    x = _up(input)
    return (x * jnp.tanh(jax.nn.softplus(x))).astype(input.dtype)


@op(promote="float", method=False, public=False)
def softplus(input, beta=1.0, threshold=20.0):
    x = _up(input)
    bx = x * beta
    y = jnp.where(bx > threshold, x, jnp.log1p(jnp.exp(jnp.where(bx > threshold, threshold, bx))) / beta)
    return y.astype(input.dtype)


@op(promote="float", method=False, public=False)
def softsign(input):
    return input / (1 + kinks.abs(input))   # |x|'(0) = 0 as torch's, so softsign''(0) = 0


@op(promote="same", method=False, public=False)
def softshrink(input, lambd=0.5):
    return jnp.where(input > lambd, input - lambd, jnp.where(input < -lambd, input + lambd, jnp.zeros((), input.dtype)))


@op(promote="same", method=True)
def hardshrink(input, lambd=0.5):
    return jnp.where((input > lambd) | (input < -lambd), input, jnp.zeros((), input.dtype))


@op(promote="float", method=False, public=False)
def tanhshrink(input):
    return input - jnp.tanh(input)


@op(promote="float", inplace=True, method=False, public=False)
def hardsigmoid(input):
    return kinks.hardtanh(input + 3, 0, 6) / 6


@op(promote="float", inplace=True, method=False, public=False)
def hardswish(input):
    # torch's backward: 0 for x <= -3, x/3 + 1/2 for x < 3, 1 from 3 on
    return jnp.where(input >= 3, input, input * kinks.hardtanh(input + 3, 0, 6) / 6)


@op(promote="float", method=False, public=False)
def logsigmoid(input):
    x = _up(input)
    return jax.nn.log_sigmoid(x).astype(input.dtype)


@op(promote="same", inplace=True, method=False)
def threshold(input, threshold, value):
    return jnp.where(input > threshold, input, jnp.asarray(value, input.dtype))


@op(promote="float", static=("dim",), method=False, public=False)
def glu(input, dim=-1):
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = norm_dim(dim, input.ndim)
    n = input.shape[d]
    if n % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {n}")
    a, b = jnp.split(input, 2, axis=d)
    return a * jax.nn.sigmoid(b)


def _softmax_prep(input, dim, dtype):
    x = input.astype(dtype.np) if dtype is not None else input
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        from .reduction import _tname
        raise RuntimeError(f"\"softmax_lastdim_kernel_impl\" not implemented for '{_tname(x.dtype)}'")
    d = norm_dim(dim, x.ndim) if x.ndim else None
    return x, d


@op(static=("dim", "dtype"), saves_result="only")
def softmax(input, dim, dtype=None):
    x, d = _softmax_prep(input, dim, dtype)
    return jax.nn.softmax(_up(x), axis=d).astype(x.dtype) if d is not None else jnp.ones_like(x)


@op(static=("dim", "dtype"), saves_result="only")
def log_softmax(input, dim, dtype=None):
    x, d = _softmax_prep(input, dim, dtype)
    return jax.nn.log_softmax(_up(x), axis=d).astype(x.dtype) if d is not None else jnp.zeros_like(x)


@op("softmin", static=("dim", "dtype"), public=False, method=False, saves_result="only")
def softmin(input, dim, dtype=None):
    x, d = _softmax_prep(input, dim, dtype)
    return jax.nn.softmax(-_up(x), axis=d).astype(x.dtype) if d is not None else jnp.ones_like(x)


# ---------------------------------------------------------------------------------- linear
def _linear_check(input, weight):
    if input.ndim == 0 or weight.ndim == 0:
        raise RuntimeError(f"both arguments to linear need to be at least 1D, but they are {input.ndim}D and "
                           f"{weight.ndim}D")
    k = weight.shape[-1]
    if input.shape[-1] != k:
        rows = int(np.prod(input.shape[:-1])) if input.ndim > 1 else 1
        wshape = (weight.shape[1], weight.shape[0]) if weight.ndim == 2 else (weight.shape[0], 1)
        if input.ndim == 1:
            raise RuntimeError(f"size mismatch, got input ({input.shape[0]}), mat ({weight.shape[0]}x"
                               f"{weight.shape[-1]}), vec ({input.shape[0]})" if weight.ndim == 2 else
                               f"inconsistent tensor size")
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{input.shape[-1]} and "
                           f"{wshape[0]}x{wshape[1]})")
    if input.dtype != weight.dtype:
        raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got {_tn(input.dtype)} and "
                           f"{_tn(weight.dtype)}")


def _tn(npd):
    from .reduction import _tname
    return _tname(npd)


@op(method=False, public=False)
def linear(input, weight, bias=None):
    _linear_check(input, weight)
    y = jnp.matmul(input, weight.T) if weight.ndim == 2 else jnp.matmul(input, weight)
    if bias is not None:
        if bias.dtype != y.dtype:
            raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {_tn(y.dtype)} != "
                               f"{_tn(bias.dtype)}")
        y = y + bias
    return y


@op(method=False)
def bilinear(input1, input2, weight, bias=None):
    if input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(f"bilinear(): input batch dimensions do not match: got {list(input1.shape[:-1])} and "
                           f"{list(input2.shape[:-1])}")
    if input1.shape[-1] != weight.shape[1]:
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got {input1.shape[-1]} but "
                           f"expected {weight.shape[1]}")
    if input2.shape[-1] != weight.shape[2]:
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got {input2.shape[-1]} but "
                           f"expected {weight.shape[2]}")
    y = jnp.einsum("...i,oij,...j->...o", input1, weight, input2)
    if bias is not None:
        y = y + bias
    return y


# ---------------------------------------------------------------------------------- normalisation
def _ns_check(input, normalized_shape):
    ns = tuple(normalized_shape)
    if not ns:
        raise RuntimeError("Expected normalized_shape to be at least 1-dimensional, i.e., containing at least one "
                           "element, but got normalized_shape = []")
    if input.shape[input.ndim - len(ns):] != ns or input.ndim < len(ns):
        raise RuntimeError(f"Given normalized_shape={list(ns)}, expected input with shape [*, "
                           f"{', '.join(map(str, ns))}], but got input of size{list(input.shape)}")
    return tuple(range(input.ndim - len(ns), input.ndim))


def _layer_norm_dtypes(input, weight, bias):
    """torch's (CPU) layer_norm dtype rules: parameters share the input's dtype, or, for a half /
    bfloat16 input, are all float32 ("mixed" mode, decided by the first parameter given). The
    result always has the input's dtype."""
    from .util import type_name
    params = [p for p in (weight, bias) if p is not None]
    if params and params[0].dtype != input.dtype:
        if any(p.dtype != jnp.float32 for p in params):
            raise RuntimeError("mixed dtype (CPU): expect parameter to have scalar type of Float")
        if input.dtype not in _LOW:
            raise RuntimeError("mixed dtype (CPU): all inputs must share same datatype.")
        return
    if not jnp.issubdtype(input.dtype, jnp.floating):
        raise NotImplementedError(f'"LayerNormKernelImpl" not implemented for \'{type_name(input.dtype)}\'')
    for p in params:
        if p.dtype != input.dtype:
            raise RuntimeError(f"expected scalar type {type_name(input.dtype)} but found {type_name(p.dtype)}")


@op(static=("normalized_shape",), method=False)
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05, cudnn_enable=True):
    axes = _ns_check(input, normalized_shape)
    _layer_norm_dtypes(input, weight, bias)
    x = _up(input)
    mean = jnp.mean(x, axis=axes, keepdims=True)
    xc = x - mean
    var = jnp.mean(xc * xc, axis=axes, keepdims=True)
    y = xc * jax.lax.rsqrt(var + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y.astype(input.dtype)


@op(static=("normalized_shape",), method=False)
def rms_norm(input, normalized_shape, weight=None, eps=None):
    axes = _ns_check(input, normalized_shape)
    x = _up(input)
    # torch computes half / bfloat16 in float32, and the default eps is that computation dtype's
    e = jnp.finfo(x.dtype).eps if eps is None else eps
    y = x * jax.lax.rsqrt(jnp.mean(x * x, axis=axes, keepdims=True) + e)
    if weight is not None:
        y = y * weight   # any weight dtype: promoted with the computation dtype, then cast back
    return y.astype(input.dtype)


@op(static=("num_groups",), method=False)
def group_norm(input, num_groups, weight=None, bias=None, eps=1e-05, cudnn_enabled=True):
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {input.ndim}")
    n, c = input.shape[0], input.shape[1]
    if c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got input of "
                           f"shape {list(input.shape)} and num_groups={num_groups}")
    for nm, w in (("weight", weight), ("bias", bias)):
        if w is not None and (w.ndim != 1 or w.shape[0] != c):
            raise RuntimeError(f"Expected {nm} to be a vector of size equal to the number of channels in input, but "
                               f"got {nm} of shape {list(w.shape)} and input of shape {list(input.shape)}")
    x = _up(input).reshape((n, num_groups, -1))
    mean = jnp.mean(x, axis=2, keepdims=True)
    xc = x - mean
    var = jnp.mean(xc * xc, axis=2, keepdims=True)
    y = (xc * jax.lax.rsqrt(var + eps)).reshape(input.shape)
    shp = (1, c) + (1,) * (input.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(shp)
    if bias is not None:
        y = y + bias.reshape(shp)
    return y.astype(input.dtype)


@op("_batch_norm", static=("training", "_channels_last"), public=False, method=False)
def _batch_norm(input, running_mean, running_var, weight, bias, momentum, eps, training, _channels_last=False):
    """Returns (out, new_running_mean, new_running_var); the caller writes the running stats back."""
    c = input.shape[1] if input.ndim > 1 else None
    for nm, w in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        if w is not None and (w.ndim != 1 or w.shape[0] != c):
            raise RuntimeError(f"{nm} should contain {c} elements not {w.size}")
    x = _up(input)
    cl = _cl.use(x, _channels_last)
    if cl:   # channels-last in compiled programs on XLA:CPU (see channels_last.py)
        x = _cl.to_last(x)
        axes, shp = tuple(range(x.ndim - 1)), (1,) * (x.ndim - 1) + (c,)
    else:
        axes, shp = (0,) + tuple(range(2, input.ndim)), (1, c) + (1,) * (input.ndim - 2)
    dummy = jnp.zeros((0,), x.dtype)
    if training or running_mean is None:
        mean = jnp.mean(x, axis=axes)
        xc = x - mean.reshape(shp)
        var = jnp.mean(xc * xc, axis=axes)
        y = xc * jax.lax.rsqrt(var + eps).reshape(shp)
        if running_mean is not None and training and x.size == 0:
            new_rm, new_rv = running_mean, running_var    # torch leaves the statistics of an empty batch alone
        elif running_mean is not None and training:
            n = x.size // c
            sm = jax.lax.stop_gradient(mean)
            sv = jax.lax.stop_gradient(var) * (n / max(n - 1, 1))
            new_rm = ((1 - momentum) * running_mean + momentum * sm).astype(running_mean.dtype)
            new_rv = ((1 - momentum) * running_var + momentum * sv).astype(running_var.dtype)
        else:
            new_rm = new_rv = dummy
    else:
        y = (x - running_mean.reshape(shp)) * jax.lax.rsqrt(running_var.reshape(shp) + eps)
        new_rm = new_rv = dummy
    if weight is not None:
        y = y * weight.reshape(shp)
    if bias is not None:
        y = y + bias.reshape(shp)
    if cl:
        y = _cl.to_first(y)
    return y.astype(input.dtype), new_rm, new_rv


@op("_instance_norm", static=("use_input_stats",), public=False, method=False)
def _instance_norm(input, running_mean, running_var, weight, bias, momentum, eps, use_input_stats):
    n, c = input.shape[0], input.shape[1]
    axes = tuple(range(2, input.ndim))
    shp = (1, c) + (1,) * (input.ndim - 2)
    x = _up(input)
    dummy = jnp.zeros((0,), x.dtype)
    if use_input_stats or running_mean is None:
        mean = jnp.mean(x, axis=axes, keepdims=True)
        xc = x - mean
        var = jnp.mean(xc * xc, axis=axes, keepdims=True)
        y = xc * jax.lax.rsqrt(var + eps)
        if running_mean is not None and use_input_stats:
            m = int(np.prod(input.shape[2:]))
            sm = jax.lax.stop_gradient(mean).reshape(n, c).mean(0)
            sv = (jax.lax.stop_gradient(var) * (m / max(m - 1, 1))).reshape(n, c).mean(0)
            new_rm = ((1 - momentum) * running_mean + momentum * sm).astype(running_mean.dtype)
            new_rv = ((1 - momentum) * running_var + momentum * sv).astype(running_var.dtype)
        else:
            new_rm = new_rv = dummy
    else:
        y = (x - running_mean.reshape(shp)) * jax.lax.rsqrt(running_var.reshape(shp) + eps)
        new_rm = new_rv = dummy
    if weight is not None:
        y = y * weight.reshape(shp)
    if bias is not None:
        y = y + bias.reshape(shp)
    return y.astype(input.dtype), new_rm, new_rv


@op(static=("size",), method=False, public=False)
def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {input.ndim} dimensions)")
    if input.size == 0:
        return input
    x = _up(input)
    sq = x * x
    pad = [(0, 0)] * x.ndim
    pad[1] = (size // 2, (size - 1) // 2)
    sq = jnp.pad(sq, pad)
    cs = jnp.cumsum(sq, axis=1)
    cs = jnp.concatenate([jnp.zeros_like(cs[:, :1]), cs], axis=1)
    c = x.shape[1]
    win = jax.lax.slice_in_dim(cs, size, size + c, axis=1) - jax.lax.slice_in_dim(cs, 0, c, axis=1)
    div = (win / size * alpha + k) ** beta
    return (x / div).astype(input.dtype)


@op("_normalize", static=("p", "dim"), public=False, method=False)
def _normalize(input, p=2.0, dim=1, eps=1e-12):
    d = norm_dim(dim, input.ndim)
    n = _pnorm(input, p, d, True)
    return input / jnp.maximum(n, eps)


def _pnorm(x, p, axis, keepdims):
    a = kinks.abs(x)
    if p == 2:
        return kinks.sqrt_at_zero(jnp.sum(a * a, axis=axis, keepdims=keepdims))
    if p == 1:
        return jnp.sum(a, axis=axis, keepdims=keepdims)
    if p == float("inf"):
        return jnp.max(a, axis=axis, keepdims=keepdims)
    if p == float("-inf"):
        return jnp.min(a, axis=axis, keepdims=keepdims)
    if p == 0:
        return jnp.sum((a != 0).astype(x.dtype), axis=axis, keepdims=keepdims)
    return kinks.pow_root_at_zero(jnp.sum(a ** p, axis=axis, keepdims=keepdims), p)


# ---------------------------------------------------------------------------------- dropout
@op("_dropout_apply", promote="same", operands=("input",), public=False, method=False)
def _dropout_apply(input, mask, scale):
    return input * mask.astype(input.dtype) * scale


@op("_alpha_dropout_apply", promote="same", operands=("input",), public=False, method=False)
def _alpha_dropout_apply(input, mask, p):
    alpha = 1.7580993408473766
    a = 1.0 / jnp.sqrt((alpha * alpha * p + 1) * (1 - p))
    m = mask.astype(input.dtype)
    return input * (m * a) + ((m - 1) * (alpha * a) + alpha * a * p)


# ---------------------------------------------------------------------------------- embedding
@op(static=("padding_idx", "scale_grad_by_freq", "sparse"), method=False)
def embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    if not jnp.issubdtype(indices.dtype, jnp.integer):
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {_tn(indices.dtype)} instead (while checking arguments for "
                           f"embedding)")
    idx = indices.astype(jnp.int32) if indices.dtype != jnp.int32 else indices
    out = jnp.take(weight, idx, axis=0, mode="clip")
    if padding_idx is not None and padding_idx >= 0:
        keep = (idx != padding_idx)[..., None]
        out = jnp.where(keep, out, jax.lax.stop_gradient(out))
    if scale_grad_by_freq:
        counts = jnp.zeros((weight.shape[0],), weight.dtype).at[idx.reshape(-1)].add(1)
        f = (1.0 / jnp.take(counts, idx, axis=0))[..., None]
        out = jax.lax.stop_gradient(out) + (out - jax.lax.stop_gradient(out)) * f
    return out


@op("_embedding_renorm", static=("norm_type",), differentiable=False, public=False, method=False)
def _embedding_renorm(weight, indices, max_norm, norm_type=2.0):
    idx = indices.reshape(-1)
    rows = jnp.take(weight, idx, axis=0, mode="clip")
    norms = _pnorm(rows, norm_type, 1, False)
    scale = jnp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(weight.dtype)
    return weight.at[idx].set(rows * scale[:, None])


@op("_embedding_bag", static=("mode", "num_bags", "padding_idx"), public=False, method=False)
def _embedding_bag(weight, input, offsets, per_sample_weights, mode, num_bags, padding_idx):
    """1-D input with bag starts `offsets` (num_bags of them) -> (num_bags, dim)."""
    n = input.shape[0]
    pos = jnp.arange(n)
    seg = jnp.searchsorted(offsets, pos, side="right") - 1
    valid = jnp.ones((n,), bool) if padding_idx is None else (input != padding_idx)
    rows = jnp.take(weight, input, axis=0, mode="clip")
    if per_sample_weights is not None:
        rows = rows * per_sample_weights[:, None]
    rows = jnp.where(valid[:, None], rows, 0)
    seg = jnp.where(valid, seg, num_bags)  # padded entries go to a dropped bucket
    if mode == "max":
        out = jax.ops.segment_max(jnp.where(valid[:, None], rows, -jnp.inf), seg, num_segments=num_bags + 1)[:-1]
        return jnp.where(jnp.isfinite(out), out, 0).astype(weight.dtype)
    out = jax.ops.segment_sum(rows, seg, num_segments=num_bags + 1)[:-1]
    if mode == "mean":
        cnt = jax.ops.segment_sum(valid.astype(weight.dtype), seg, num_segments=num_bags + 1)[:-1]
        out = out / jnp.maximum(cnt, 1)[:, None]
    return out


@op("_one_hot", static=("num_classes",), differentiable=False, public=False, method=False)
def _one_hot(input, num_classes):
    if jnp.issubdtype(input.dtype, jnp.floating) or input.dtype == jnp.bool_:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    return (input[..., None] == jnp.arange(num_classes)).astype(np.int64)


# ---------------------------------------------------------------------------------- distances
@op(promote="float", static=("dim",), method=False)
def cosine_similarity(x1, x2, dim=1, eps=1e-08):
    x1, x2 = jnp.broadcast_arrays(x1, x2)
    d = norm_dim(dim, x1.ndim)
    n1 = kinks.sqrt_at_zero(jnp.sum(x1 * x1, axis=d, keepdims=True))
    n2 = kinks.sqrt_at_zero(jnp.sum(x2 * x2, axis=d, keepdims=True))
    # torch clamps the norms in place under no_grad: the gradient goes through the unclamped norm
    a = x1 / (n1 + jax.lax.stop_gradient(jnp.maximum(n1, eps) - n1))
    b = x2 / (n2 + jax.lax.stop_gradient(jnp.maximum(n2, eps) - n2))
    return jnp.sum(a * b, axis=d)


@op(promote="float", static=("p", "keepdim"), method=False, saves_result=True)
def pairwise_distance(x1, x2, p=2.0, eps=1e-06, keepdim=False):
    nd = max(x1.ndim, x2.ndim)
    diff = x1 - x2 + eps
    if nd == 0:
        return jnp.abs(diff)
    return _pnorm(diff, p, -1, keepdim)


@op(promote="float", static=("p",), method=False, saves_result=True)
def pdist(input, p=2.0):
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    n = input.shape[0]
    i, j = np.triu_indices(n, 1)
    diff = input[i] - input[j]
    if p == 2:
        # zero distance gives a zero gradient, as torch
        return kinks.sqrt_at_zero(jnp.sum(diff * diff, -1))
    return _pnorm(diff, p, -1, False)


# ---------------------------------------------------------------------------------- losses
def _reduce(loss, reduction):
    if reduction == "mean":
        return jnp.mean(loss)
    if reduction == "sum":
        return jnp.sum(loss)
    return loss


def _same_size(input, target, name=None):
    return jnp.broadcast_arrays(input, target)


@op(promote="same", static=("reduction",), method=False, public=False)
def l1_loss(input, target, reduction="mean"):
    i, t = _same_size(input, target)
    return _reduce(kinks.abs(i - t), reduction)


@op(promote="same", static=("reduction",), method=False, public=False)
def mse_loss(input, target, reduction="mean"):
    i, t = _same_size(input, target)
    d = i - t
    return _reduce(d * d, reduction)


@op(promote="same", static=("reduction",), method=False, public=False)
def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    i, t = _same_size(input, target)
    d = jnp.abs(i - t)
    safe_beta = jnp.where(beta == 0, 1.0, beta)
    loss = jnp.where(beta == 0, d, jnp.where(d < beta, 0.5 * d * d / safe_beta, d - 0.5 * beta))
    return _reduce(loss, reduction)


@op(promote="same", static=("reduction",), method=False, public=False)
def huber_loss(input, target, reduction="mean", delta=1.0):
    i, t = _same_size(input, target)
    d = jnp.abs(i - t)
    loss = jnp.where(d < delta, 0.5 * d * d, delta * (d - 0.5 * delta))
    return _reduce(loss, reduction)


def _nll_core(logp, target, weight, ignore_index, label_smoothing, reduction, name):
    """logp: (N, C, *) / (C,) log-probabilities; target: class indices (N, *) / () or probabilities."""
    if logp.ndim == 0:
        raise ValueError("Expected 1 or more dimensions (got 0)") if name == "nll" else \
            RuntimeError("cross_entropy: input must be at least 1-D")
    cdim = 0 if logp.ndim == 1 else 1
    C = logp.shape[cdim]
    if weight is not None and (weight.ndim != 1 or weight.shape[0] != C):
        raise RuntimeError(f"weight tensor should be defined either for all {C} classes or no classes but got "
                           f"weight tensor of shape: {list(weight.shape)}")
    wshape = (C,) + (1,) * (logp.ndim - cdim - 1)
    if name == "cross_entropy" and target.shape == logp.shape:
        # probability targets: torch takes this path exactly when the shapes are equal
        if not jnp.issubdtype(target.dtype, jnp.floating):
            raise RuntimeError(f"Expected floating point type for target with class probabilities, got "
                               f"{_tn(target.dtype)}")
        # torch multiplies in promoted dtypes: a float64 target or weight makes the loss float64
        t = target
        if label_smoothing > 0:
            t = t * (1 - label_smoothing) + label_smoothing / C
        term = logp * t
        if weight is not None:
            term = term * weight.reshape(wshape)
        loss = -jnp.sum(term, axis=cdim)
        if reduction == "mean":
            n = loss.size
            return jnp.sum(loss) / n if n else jnp.sum(loss) / 0.0
        return _reduce(loss, reduction)
    # class-index targets (torch checks a 1-D input's target dtype first, a batched input's shapes first)
    if logp.ndim == 1:
        _class_target_dtype(target)
        if target.ndim != 0:
            raise RuntimeError(f"1D target tensor expected, multi-target not supported" if target.ndim > 1 else
                               f"0D or 1D target tensor expected, multi-target not supported")
    else:
        if target.ndim == 0 or target.shape[0] != logp.shape[0]:
            raise TorchValueError(f"Expected input batch_size ({logp.shape[0]}) to match target batch_size "
                                  f"({target.shape[0] if target.ndim else 0}).")
        if target.shape[1:] != logp.shape[2:]:
            if logp.ndim == 2:
                raise RuntimeError(f"0D or 1D target tensor expected, multi-target not supported")
            if logp.ndim == 4:   # torch's nll_loss2d kernel
                raise RuntimeError(f"size mismatch (got input: {list(logp.shape)} , target: {list(target.shape)}")
            raise RuntimeError(f"Expected target size {[logp.shape[0], *logp.shape[2:]]}, got {list(target.shape)}")
        _class_target_dtype(target)
    ign = target == ignore_index
    safe_t = jnp.where(ign, 0, target).astype(jnp.int32)
    picked = jnp.take_along_axis(logp, jnp.expand_dims(safe_t, cdim), axis=cdim).squeeze(cdim) \
        if logp.ndim > 1 else logp[safe_t]
    if weight is not None:
        w = weight.astype(logp.dtype)
        wt = jnp.where(ign, 0, jnp.take(w, safe_t))
    else:
        wt = jnp.where(ign, 0, 1).astype(logp.dtype)
    nll = -picked * wt
    if label_smoothing > 0:
        lp = logp * w.reshape(wshape) if weight is not None else logp
        smooth = jnp.where(ign, 0, -jnp.sum(lp, axis=cdim))
        if reduction == "mean":
            return _weighted_mean((1 - label_smoothing) * jnp.sum(nll) + label_smoothing / C * jnp.sum(smooth),
                                  jnp.sum(wt))
        if reduction == "sum":
            return (1 - label_smoothing) * jnp.sum(nll) + label_smoothing / C * jnp.sum(smooth)
        return (1 - label_smoothing) * nll + label_smoothing / C * smooth
    if reduction == "mean":
        return _weighted_mean(jnp.sum(nll), jnp.sum(wt))
    return _reduce(nll, reduction)


def _class_target_dtype(target):
    if not jnp.issubdtype(target.dtype, jnp.integer):
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {_tn(target.dtype)}")


def _weighted_mean(total, denom):
    """total / denom; with zero total weight (every target ignored) the value is 0/0 = nan, as in torch, but
    the gradient is zero like torch's nll backward, not the nan that differentiating 0/0 would give."""
    safe = jnp.where(denom == 0, 1, denom)
    return jnp.where(denom == 0, jnp.array(jnp.nan, total.dtype), total / safe)


def _class_weight_dtype(input, target, weight):
    """With class-index targets torch's nll kernel takes the weight in the input's dtype, no promotion."""
    if weight is not None and jnp.issubdtype(target.dtype, jnp.integer) and weight.dtype != input.dtype:
        raise RuntimeError(f"expected scalar type {_tn(input.dtype)} but found {_tn(weight.dtype)}")


@op(static=("reduction", "label_smoothing"), method=False, public=False, check=check_class_target)
def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    _need_float(input, "log_softmax_lastdim_kernel_impl")
    _class_weight_dtype(input, target, weight)
    x = _up(input)
    cdim = 0 if x.ndim == 1 else 1
    if x.ndim == 0:
        raise RuntimeError("cross_entropy: input must be at least 1-D")
    logp = jax.nn.log_softmax(x, axis=cdim)
    loss = _nll_core(logp, target, weight, ignore_index, label_smoothing, reduction, "cross_entropy")
    if target.shape == logp.shape:   # probability targets: the promoted dtype of input, target and weight
        return loss.astype(jnp.result_type(input.dtype, target.dtype, *(() if weight is None else (weight.dtype,))))
    return loss.astype(input.dtype)


@op(static=("reduction",), method=False, public=False, check=check_class_target)
def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    _class_weight_dtype(input, target, weight)
    return _nll_core(input, target, weight, ignore_index, 0.0, reduction, "nll").astype(input.dtype)


def _bce_size_check(input, target):
    if target.shape != input.shape:
        raise TorchValueError(f"Using a target size ({_size(target.shape)}) that is different to the input size "
                              f"({_size(input.shape)}) is deprecated. Please ensure they have the same size.")


def _size(s):
    return f"torch.Size([{', '.join(map(str, s))}])"


@jax.custom_vjp
def _bce_pointwise(x, t):
    return -(t * jnp.maximum(jnp.log(x), -100.0) + (1 - t) * jnp.maximum(jnp.log1p(-x), -100.0))


def _bce_fwd(x, t):
    return _bce_pointwise(x, t), (x, t)


def _bce_bwd(res, g):
    # torch's formulas: d/dx = (x - t) / max(x (1 - x), 1e-12); d/dt = log(1 - x) - log(x) (clamped)
    x, t = res
    gx = g * (x - t) / jnp.maximum((1 - x) * x, 1e-12)
    gt = g * (jnp.maximum(jnp.log1p(-x), -100.0) - jnp.maximum(jnp.log(x), -100.0))
    return gx, gt


_bce_pointwise.defvjp(_bce_fwd, _bce_bwd)


@op(promote="float", static=("reduction",), operands=("input", "target", "weight"), method=False, public=False)
def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    _bce_size_check(input, target)
    x = _up(input)
    loss = _bce_pointwise(x, target.astype(x.dtype))
    if weight is not None:
        loss = loss * jax.lax.stop_gradient(weight)
    return _reduce(loss, reduction).astype(input.dtype)


@op(promote="float", static=("reduction",), method=False)
def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None, reduction="mean"):
    if target.shape != input.shape:
        raise TorchValueError(f"Target size ({_size(target.shape)}) must be the same as input size "
                              f"({_size(input.shape)})")
    x = _up(input)
    t = target.astype(x.dtype)
    # softplus(-x) = -log_sigmoid(x); jax's logaddexp form is smooth at x == 0 (abs + max have kinks
    # there whose one-sided derivatives do not add up to sigmoid(0))
    sp = jax.nn.softplus(-x)
    if pos_weight is not None:
        lw = (pos_weight - 1) * t + 1
        loss = (1 - t) * x + lw * sp
    else:
        loss = (1 - t) * x + sp
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction).astype(input.dtype)


@op(promote="float", static=("reduction", "log_target"), method=False)
def kl_div(input, target, reduction="mean", log_target=False):
    if log_target:
        loss = jnp.exp(target) * (target - input)
    else:
        loss = jax.scipy.special.xlogy(target, target) - target * input
    if reduction == "batchmean":
        return jnp.sum(loss) / (input.shape[0] if input.ndim else 1)
    return _reduce(loss, reduction)


@op(promote="same", static=("reduction",), method=False)
def margin_ranking_loss(input1, input2, target, margin=0.0, reduction="mean"):
    return _reduce(kinks.clamp_min(-target * (input1 - input2) + margin, 0), reduction)


@op(promote="same", static=("reduction",), method=False)
def hinge_embedding_loss(input, target, margin=1.0, reduction="mean"):
    mc = jnp.maximum(margin - input, 0)
    loss = jnp.where(target != 1, mc, 0) + jnp.where(target != -1, input, 0)
    return _reduce(loss, reduction)


@op(promote="same", static=("reduction",), method=False, public=False)
def soft_margin_loss(input, target, reduction="mean"):
    return _reduce(jnp.log1p(jnp.exp(-target * input)), reduction)


@op(promote="float", static=("reduction",), operands=("input", "target", "weight"), method=False, public=False)
def multilabel_soft_margin_loss(input, target, weight=None, reduction="mean"):
    t = target.astype(input.dtype)
    loss = -(t * jax.nn.log_sigmoid(input) + (1 - t) * jax.nn.log_sigmoid(-input))
    if weight is not None:
        loss = loss * weight
    loss = jnp.sum(loss, axis=-1) / input.shape[-1]
    return _reduce(loss, reduction)


@op(static=("reduction",), method=False, public=False)
def multilabel_margin_loss(input, target, reduction="mean"):
    if input.ndim > 2 or target.shape != input.shape:
        raise RuntimeError(f"inconsistent target size: {list(target.shape)} for input of size: {list(input.shape)}")
    x = input if input.ndim == 2 else input.reshape(1, -1)
    t = target if target.ndim == 2 else target.reshape(1, -1)
    C = x.shape[-1]
    valid = jnp.cumprod(t != -1, axis=1).astype(bool)
    ts = jnp.where(valid, t, 0)
    is_tgt = jnp.any((ts[:, :, None] == jnp.arange(C)[None, None, :]) & valid[:, :, None], axis=1)  # (N, C)
    xt = jnp.take_along_axis(x, ts, axis=1)  # (N, T)
    h = jnp.maximum(1 - xt[:, :, None] + x[:, None, :], 0)  # (N, T, C)
    h = h * valid[:, :, None] * (~is_tgt)[:, None, :]
    loss = jnp.sum(h, axis=(1, 2)) / C
    if input.ndim < 2:
        loss = loss[0]
    return _reduce(loss, reduction)


@op(promote="same", static=("reduction",), method=False)
def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction="mean"):
    eps = 1e-12
    prod = jnp.sum(input1 * input2, -1)
    m1 = jnp.sum(input1 * input1, -1) + eps
    m2 = jnp.sum(input2 * input2, -1) + eps
    cos = prod / jnp.sqrt(m1 * m2)
    loss = jnp.where(target == 1, 1 - cos, 0) + jnp.where(target == -1, jnp.maximum(cos - margin, 0), 0)
    return _reduce(loss, reduction)


@op(static=("p", "reduction"), method=False, public=False)
def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, reduction="mean"):
    if p not in (1, 2):
        raise TorchValueError("only p == 1 and p == 2 supported")
    if input.ndim > 2 or (input.ndim == 2 and input.shape[1] == 0) or (input.ndim < 2 and input.size == 0):
        raise RuntimeError(f"Expected non-empty vector or matrix with optional 0-dim batch size, but got: "
                           f"{list(input.shape)}")
    nframe = input.shape[0] if input.ndim == 2 else 1
    if target.ndim > 1 or target.size != nframe:
        raise RuntimeError(f"multi_margin_loss: target tensor should be 1-D with size equal to the number of input "
                           f"samples (batch size). Expected target size [{nframe}], but got {list(target.shape)}. "
                           f"Input has shape {list(input.shape)}.")
    x = input if input.ndim == 2 else input.reshape(1, -1)
    t = target.reshape(-1).astype(jnp.int32)
    C = x.shape[1]
    xt = jnp.take_along_axis(x, t[:, None], axis=1)
    h = jnp.maximum(margin - xt + x, 0)
    if p == 2:
        h = h * h
    if weight is not None:
        h = h * jnp.take(weight, t)[:, None]
    h = jnp.where(jnp.arange(C)[None, :] == t[:, None], 0, h)
    loss = jnp.sum(h, axis=1) / C
    if input.ndim < 2:
        loss = loss.reshape(target.shape if target.ndim else ())
    return _reduce(loss, reduction)


@op(promote="same", static=("p", "swap", "reduction"), method=False)
def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-06, swap=False, reduction="mean"):
    def d(a, b):
        return _pnorm(a - b + eps, p, -1, False)
    dap = d(anchor, positive)
    dan = d(anchor, negative)
    if swap:
        dan = jnp.minimum(dan, d(positive, negative))
    return _reduce(jnp.maximum(margin + dap - dan, 0), reduction)


@op(promote="float", static=("log_input", "full", "reduction"), method=False)
def poisson_nll_loss(input, target, log_input=True, full=False, eps=1e-08, reduction="mean"):
    if log_input:
        loss = jnp.exp(input) - target * input
    else:
        loss = input - target * jnp.log(input + eps)
    if full:
        st = target * jnp.log(jnp.where(target > 1, target, 1.0)) - target + \
            0.5 * jnp.log(2 * math.pi * jnp.where(target > 1, target, 1.0))
        loss = loss + jnp.where(target > 1, st, 0)
    return _reduce(loss, reduction)


@op(promote="float", static=("full", "reduction"), method=False, public=False)
def gaussian_nll_loss(input, target, var, full=False, eps=1e-06, reduction="mean"):
    # the clamp does not stop gradients (torch clamps a clone under no_grad)
    v = var + jax.lax.stop_gradient(jnp.maximum(var, eps) - var)
    loss = 0.5 * (jnp.log(v) + (input - target) ** 2 / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


@op(static=("blank", "reduction", "zero_infinity"), method=False)
def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    """log_probs (T, N, C) or (T, C); targets (N, S) padded or 1-D concatenated."""
    lp = _up(log_probs)
    unbatched = lp.ndim == 2
    if unbatched:
        lp = lp[:, None]
        targets = targets[None] if targets.ndim == 1 else targets
        input_lengths = jnp.reshape(input_lengths, (1,))
        target_lengths = jnp.reshape(target_lengths, (1,))
    T, N, C = lp.shape
    il = jnp.asarray(input_lengths).astype(jnp.int32).reshape(N)
    tl = jnp.asarray(target_lengths).astype(jnp.int32).reshape(N)
    if targets.ndim == 1:  # concatenated targets
        starts = jnp.concatenate([jnp.zeros((1,), jnp.int32), jnp.cumsum(tl)[:-1]])
        S = targets.shape[0]
        idx = starts[:, None] + jnp.arange(S)[None, :]
        tg = jnp.take(targets, jnp.clip(idx, 0, max(S - 1, 0)), axis=0) if S else jnp.zeros((N, 0), jnp.int32)
    else:
        tg = targets
        S = tg.shape[1]
    tg = tg.astype(jnp.int32)
    L = 2 * S + 1
    # extended label sequence: blank, l1, blank, l2, ..., blank
    ext = jnp.full((N, L), blank, jnp.int32)
    if S:
        ext = ext.at[:, 1::2].set(tg)
    pos = jnp.arange(L)
    valid = pos[None, :] < (2 * tl[:, None] + 1)
    prev2 = jnp.concatenate([jnp.full((N, 2), -1, jnp.int32), ext[:, :-2]], axis=1)
    can_skip = (ext != blank) & (ext != prev2)
    nll = _ctc_nll(lp, ext, valid, can_skip, il, tl)
    if zero_infinity:
        nll = jnp.where(jnp.isinf(nll), 0, nll)
    if reduction == "mean":
        out = jnp.mean(nll / jnp.maximum(tl, 1).astype(nll.dtype))
    elif reduction == "sum":
        out = jnp.sum(nll)
    else:
        out = nll[0] if unbatched else nll
    return out.astype(log_probs.dtype)


def _ctc_alpha_nll(lp, ext, valid, can_skip, il, tl):
    """-log p(target | input) per sample by the CTC forward (alpha) recursion in log space."""
    T, N, _ = lp.shape
    L = ext.shape[1]
    neg = -1e30  # finite "log 0": keeps the gradient of logaddexp free of NaNs
    emit = jnp.take_along_axis(lp, jnp.broadcast_to(ext[None], (T, N, L)), axis=2)  # (T, N, L)
    a0 = jnp.full((N, L), neg, lp.dtype)
    a0 = a0.at[:, 0].set(emit[0, :, 0])
    if L > 1:
        a0 = a0.at[:, 1].set(jnp.where(tl > 0, emit[0, :, 1], neg))

    def step(alpha, xs):
        e, t = xs
        s1 = jnp.concatenate([jnp.full((N, 1), neg, alpha.dtype), alpha[:, :-1]], axis=1)
        s2 = jnp.concatenate([jnp.full((N, 2), neg, alpha.dtype), alpha[:, :-2]], axis=1)
        s2 = jnp.where(can_skip, s2, neg)
        new = jnp.logaddexp(jnp.logaddexp(alpha, s1), s2) + e
        new = jnp.where(valid, new, neg)
        new = jnp.where((t < il)[:, None], new, alpha)  # past the input length: keep alpha
        return new, None

    alpha, _ = jax.lax.scan(step, a0, (emit[1:], jnp.arange(1, T)))
    last = 2 * tl
    a_last = jnp.take_along_axis(alpha, last[:, None], axis=1)[:, 0]
    a_prev = jnp.where(tl > 0, jnp.take_along_axis(alpha, jnp.maximum(last - 1, 0)[:, None], axis=1)[:, 0], neg)
    nll = -jnp.logaddexp(a_last, a_prev)
    return jnp.where(nll > 1e29, jnp.inf, nll)


@jax.custom_vjp
def _ctc_nll(lp, ext, valid, can_skip, il, tl):
    return _ctc_alpha_nll(lp, ext, valid, can_skip, il, tl)


def _ctc_fwd(lp, ext, valid, can_skip, il, tl):
    return _ctc_alpha_nll(lp, ext, valid, can_skip, il, tl), (lp, ext, valid, can_skip, il, tl)


def _ctc_bwd(res, g):
    # torch's gradient assumes log_probs came from log_softmax: exp(lp) - occupancy, per valid frame
    lp, ext, valid, can_skip, il, tl = res
    _, pull = jax.vjp(lambda x: _ctc_alpha_nll(x, ext, valid, can_skip, il, tl), lp)
    (glp,) = pull(g)
    T = lp.shape[0]
    frame = (jnp.arange(T)[:, None] < il[None, :])[:, :, None]
    glp = jnp.where(frame, glp + g[None, :, None] * jnp.exp(lp), 0)
    z = [np.zeros(a.shape, jax.dtypes.float0) if not jnp.issubdtype(a.dtype, jnp.inexact) else jnp.zeros_like(a)
         for a in (ext, valid, can_skip, il, tl)]
    return (glp, *z)


_ctc_nll.defvjp(_ctc_fwd, _ctc_bwd)
