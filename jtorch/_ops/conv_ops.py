"""Convolution, pooling, resampling, padding and attention ops (torch's NC* layouts).

Every op here is a pure jax function; shapes, strides and modes are static, so validation runs
once at trace time. Window ops (pooling, unfold) gather with index tables computed in numpy from
the static shapes; convolutions go to `lax.conv_general_dilated`.
"""
import math

import jax
import jax.numpy as jnp
import numpy as np

from . import channels_last as _cl
from .registry import op
from .util import TorchTypeError, TorchValueError


# ---------------------------------------------------------------------------------------------
# helpers
def _tup(v, n, name="argument"):
    if isinstance(v, (list, tuple)):
        v = tuple(int(x) for x in v)
        if len(v) == 1 and n > 1:
            return v * n
        if len(v) != n:
            raise RuntimeError(f"expected {name} to be a single integer value or a list of {n} values to match "
                               f"the convolution dimensions, but got {name}={list(v)}")
        return v
    return (int(v),) * n


def _tn(dtype):
    return {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16", "int64": "Long",
            "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
            "complex64": "ComplexFloat", "complex128": "ComplexDouble"}.get(jnp.dtype(dtype).name, str(dtype))


def _ln(dtype):
    return {"Float": "float", "Double": "double", "Half": "c10::Half", "BFloat16": "c10::BFloat16",
            "Long": "long int", "Int": "int"}.get(_tn(dtype), _tn(dtype).lower())


def _shape_str(s, sep=", "):
    return "[" + sep.join(map(str, s)) + "]"


def _spec(n):
    sp = "DHW"[3 - n:] if n <= 3 else "".join(chr(ord("a") + i) for i in range(n))
    return ("NC" + sp, "OI" + sp, "NC" + sp)


def _batchify(x, n, name):
    """Accept an unbatched (C, *spatial) input: returns (x with batch, was_unbatched)."""
    if x.ndim == n + 1:
        return x[None], True
    if x.ndim == n + 2:
        return x, False
    raise RuntimeError(f"Expected {n + 1}D (unbatched) or {n + 2}D (batched) input to {name}, but got input of "
                       f"size: {_shape_str(x.shape)}")


def _float_check(x, name):
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        raise NotImplementedError(f'"{name}" not implemented for \'{_tn(x.dtype)}\'')


# ---------------------------------------------------------------------------------------------
# convolution
def _conv_impl(input, weight, bias, stride, padding, dilation, groups, n, name):
    x, unb = _batchify(input, n, name)
    if weight.ndim != n + 2:
        raise RuntimeError(f"weight should have at least three dimensions" if weight.ndim < 3 else
                           f"Expected {n + 2}-dimensional weight for {n + 2}-dimensional input "
                           f"{_shape_str(x.shape)}, but got {weight.ndim}-dimensional weight of size "
                           f"{_shape_str(weight.shape)} instead")
    if x.dtype != weight.dtype:
        raise RuntimeError(f"Input type ({_ln(x.dtype)}) and weight type ({_ln(weight.dtype)}) should be the same")
    if bias is not None and bias.dtype != x.dtype:
        raise RuntimeError(f"Input type ({_ln(x.dtype)}) and bias type ({_ln(bias.dtype)}) should be the same")
    _float_check(x, name)
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    stride, dilation = _tup(stride, n, "stride"), _tup(dilation, n, "dilation")
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    ks = weight.shape[2:]
    if weight.shape[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but "
                           f"got weight of size {_shape_str(weight.shape)} instead")
    if x.shape[1] != weight.shape[1] * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {_shape_str(weight.shape)}, expected "
                           f"input{_shape_str(x.shape)} to have {weight.shape[1] * groups} channels, but got "
                           f"{x.shape[1]} channels instead")
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != weight.shape[0]):
        raise RuntimeError(f"Given weight of size {_shape_str(weight.shape)}, expected bias to be 1-dimensional with "
                           f"{weight.shape[0]} elements, but got bias of size {_shape_str(bias.shape)} instead")
    if isinstance(padding, str):
        if padding == "valid":
            pads = [(0, 0)] * n
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            pads = []
            for k, d in zip(ks, dilation):
                tot = d * (k - 1)
                pads.append((tot // 2, tot - tot // 2))
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        p = _tup(padding, n, "padding")
        if any(v < 0 for v in p):
            raise RuntimeError("negative padding is not supported")
        pads = [(v, v) for v in p]
    padded = [s + lo + hi for s, (lo, hi) in zip(x.shape[2:], pads)]
    eff = [d * (k - 1) + 1 for k, d in zip(ks, dilation)]
    if any(pp < e for pp, e in zip(padded, eff)):
        raise RuntimeError(f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). Kernel size: "
                           f"({' x '.join(map(str, eff))}). Kernel size can't be greater than actual input size")
    if n <= 3 and _cl.on_cpu():
        # channels-last on XLA:CPU, eager too (see channels_last.py); the bias is added before the transpose back
        lhs, rhs, _ = _spec(n)
        last = "N" + lhs[2:] + "C"
        out = jax.lax.conv_general_dilated(_cl.to_last(x), weight, stride, pads, rhs_dilation=dilation,
                                           dimension_numbers=(last, rhs, last), feature_group_count=groups)
        if bias is not None:
            out = out + bias
        out = _cl.to_first(out)
    else:
        out = jax.lax.conv_general_dilated(x, weight, stride, pads, rhs_dilation=dilation,
                                           dimension_numbers=_spec(n), feature_group_count=groups,
                                           preferred_element_type=None)
        if bias is not None:
            out = out + bias.reshape((1, -1) + (1,) * n)
    return out[0] if unb else out


_CONV_STATIC = ("stride", "padding", "dilation", "groups")


@op(static=_CONV_STATIC, method=False)
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _conv_impl(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


@op(static=_CONV_STATIC, method=False)
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _conv_impl(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


@op(static=_CONV_STATIC, method=False)
def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _conv_impl(input, weight, bias, stride, padding, dilation, groups, 3, "conv3d")


def _conv_t_impl(input, weight, bias, stride, padding, output_padding, groups, dilation, n, name):
    x, unb = _batchify(input, n, name)
    if weight.ndim != n + 2:
        raise RuntimeError(f"Expected {n + 2}-dimensional weight for {n + 2}-dimensional input "
                           f"{_shape_str(x.shape)}, but got {weight.ndim}-dimensional weight of size "
                           f"{_shape_str(weight.shape)} instead")
    if x.dtype != weight.dtype:
        raise RuntimeError(f"Input type ({_ln(x.dtype)}) and weight type ({_ln(weight.dtype)}) should be the same")
    if bias is not None and bias.dtype != x.dtype:
        raise RuntimeError(f"Input type ({_ln(x.dtype)}) and bias type ({_ln(bias.dtype)}) should be the same")
    _float_check(x, name)
    stride, dilation = _tup(stride, n, "stride"), _tup(dilation, n, "dilation")
    padding, output_padding = _tup(padding, n, "padding"), _tup(output_padding, n, "output_padding")
    cin = weight.shape[0]
    if x.shape[1] != cin:
        raise RuntimeError(f"Given transposed=1, weight of size {_shape_str(weight.shape)}, expected "
                           f"input{_shape_str(x.shape)} to have {cin} channels, but got {x.shape[1]} channels instead")
    for op_, s, d in zip(output_padding, stride, dilation):
        if op_ >= s and op_ >= d:
            raise RuntimeError(f"output padding must be smaller than either stride or dilation, but got "
                               f"output_padding_height: {op_}, output_padding_width: {op_}, stride_height: {s}, "
                               f"stride_width: {s}, dilation_height: {d}, dilation_width: {d}")
    ks = weight.shape[2:]
    cout_g = weight.shape[1]
    # (Cin, Cout/g, k) -> (Cout, Cin/g, k), spatially flipped: a transposed conv is a conv of the
    # stride-dilated input with the flipped, transposed kernel
    w = weight.reshape((groups, cin // groups, cout_g) + ks)
    w = jnp.swapaxes(w, 1, 2).reshape((groups * cout_g, cin // groups) + ks)
    w = jnp.flip(w, axis=tuple(range(2, n + 2)))
    pads = []
    for k, d, p, o in zip(ks, dilation, padding, output_padding):
        e = d * (k - 1)
        pads.append((e - p, e - p + o))
    out = jax.lax.conv_general_dilated(x, w, (1,) * n, pads, lhs_dilation=stride, rhs_dilation=dilation,
                                       dimension_numbers=_spec(n), feature_group_count=groups)
    if any(s <= 0 for s in out.shape[2:]):
        raise RuntimeError(f"Given input size per channel: ({' x '.join(map(str, x.shape[2:]))}). Calculated output "
                           f"size per channel: ({' x '.join(map(str, out.shape[2:]))}). Output size is too small")
    if bias is not None:
        out = out + bias.reshape((1, -1) + (1,) * n)
    return out[0] if unb else out


_CONVT_STATIC = ("stride", "padding", "output_padding", "groups", "dilation")


@op(static=_CONVT_STATIC, method=False)
def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return _conv_t_impl(input, weight, bias, stride, padding, output_padding, groups, dilation, 1, "conv_transpose1d")


@op(static=_CONVT_STATIC, method=False)
def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return _conv_t_impl(input, weight, bias, stride, padding, output_padding, groups, dilation, 2, "conv_transpose2d")


@op(static=_CONVT_STATIC, method=False)
def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return _conv_t_impl(input, weight, bias, stride, padding, output_padding, groups, dilation, 3, "conv_transpose3d")


# ---------------------------------------------------------------------------------------------
# pooling
def _pool_input(x, n, name):
    if x.ndim not in (n + 1, n + 2) or any(s == 0 for s in x.shape[1:]):
        if n == 1:
            raise RuntimeError(f"{name}: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size for "
                               f"input, but got: {_shape_str(x.shape)}")
        raise RuntimeError(f"non-empty {n + 1}D or {n + 2}D (batch mode) tensor expected for input")
    if x.ndim == n + 1:
        return x[None], True
    return x, False


def _pool_geometry(in_sizes, kernel_size, stride, padding, dilation, ceil_mode, n):
    k = _tup(kernel_size, n, "kernel_size")
    s = k if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) else _tup(stride, n, "stride")
    p = _tup(padding, n, "padding")
    d = _tup(dilation, n, "dilation")
    if any(v <= 0 for v in k):
        raise RuntimeError(f"kernel_size must be greater than zero, but got {', '.join(map(str, k))}")
    if any(v <= 0 for v in s):
        raise RuntimeError(f"stride should be greater than zero, but got {', '.join(map(str, s))}")
    for pi, ki, di in zip(p, k, d):
        if pi > (di * (ki - 1) + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={pi}, "
                               f"kernel_size={ki} and dilation={di}")
    outs = []
    for i, ki, si, pi, di in zip(in_sizes, k, s, p, d):
        num = i + 2 * pi - di * (ki - 1) - 1
        o = (-(-num // si) if ceil_mode else num // si) + 1
        if ceil_mode and (o - 1) * si >= i + pi:
            o -= 1
        outs.append(o)
    return k, s, p, d, outs


def _too_small(x, outs, c):
    raise RuntimeError(f"Given input size: ({c}x{'x'.join(map(str, x.shape[2:]))}). Calculated output size: "
                       f"({c}x{'x'.join(map(str, outs))}). Output size is too small")


def _window_index(i, o, k, s, p, d):
    """(o, k) positions into the input (may be out of range) of each window tap."""
    return (np.arange(o)[:, None] * s - p + np.arange(k)[None, :] * d)


def _reduce_window(x, init, fn, k, s, pads, d=None, channels_last=False):
    """lax.reduce_window over the spatial dims of (N, C, *spatial) x (computed channels-last if asked)."""
    n = len(k)
    d = (1,) * n if d is None else tuple(d)
    if _cl.use(x, channels_last):
        out = jax.lax.reduce_window(_cl.to_last(x), init, fn, (1,) + k + (1,), (1,) + s + (1,),
                                    [(0, 0)] + list(pads) + [(0, 0)], window_dilation=(1,) + d + (1,))
        return _cl.to_first(out)
    return jax.lax.reduce_window(x, init, fn, (1, 1) + k, (1, 1) + s, [(0, 0), (0, 0)] + list(pads),
                                 window_dilation=(1, 1) + d)


def _max_pool_impl(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, n, name,
                   channels_last=False):
    x, unb = _pool_input(input, n, name)
    sp = x.shape[2:]
    k, s, p, d, outs = _pool_geometry(sp, kernel_size, stride, padding, dilation, ceil_mode, n)
    if any(o <= 0 for o in outs):
        _too_small(x, outs, x.shape[1])
    if jnp.issubdtype(x.dtype, jnp.floating):
        low = jnp.array(-jnp.inf, x.dtype)
    elif x.dtype == jnp.bool_:
        raise RuntimeError(f'"{name}" not implemented for \'Bool\'')
    else:
        low = jnp.array(jnp.iinfo(x.dtype).min, x.dtype)
    if not return_indices and all(di == 1 for di in d):  # (jax has no VJP for dilated max windows)
        pads = [(0, 0), (0, 0)]
        for i, ki, si, pi, di, o in zip(sp, k, s, p, d, outs):
            hi = max((o - 1) * si + di * (ki - 1) + 1 - i - pi, 0)
            pads.append((pi, hi))
        init = np.array(-np.inf if jnp.issubdtype(x.dtype, jnp.floating) else np.iinfo(x.dtype).min, x.dtype)
        out = _reduce_window(x, init, jax.lax.max, k, s, pads[2:], d, channels_last)
        return out[0] if unb else out
    # separable gather: carry values and flat input indices dim by dim (last dim first), which
    # keeps torch's first-maximum-in-row-major-order choice
    vals = x
    idx = None
    strides = np.cumprod((1,) + tuple(sp[::-1]))[:-1][::-1]
    for j in range(n - 1, -1, -1):
        ax = 2 + j
        w = _window_index(sp[j], outs[j], k[j], s[j], p[j], d[j])  # (o, k)
        valid = (w >= 0) & (w < sp[j])
        wc = np.clip(w, 0, sp[j] - 1)
        g = jnp.take(vals, jnp.asarray(wc.reshape(-1)), axis=ax)
        g = g.reshape(g.shape[:ax] + w.shape + g.shape[ax + 1:])
        vmask = jnp.asarray(valid).reshape((1,) * (ax) + w.shape + (1,) * (g.ndim - ax - 2))
        g = jnp.where(vmask, g, low)
        if idx is None:
            gi = jnp.asarray(wc * strides[j]).reshape((1,) * ax + w.shape + (1,) * (g.ndim - ax - 2))
            gi = jnp.broadcast_to(gi, g.shape)
        else:
            gi = jnp.take(idx, jnp.asarray(wc.reshape(-1)), axis=ax)
            gi = gi.reshape(g.shape) + jnp.asarray(wc * strides[j]).reshape(
                (1,) * ax + w.shape + (1,) * (g.ndim - ax - 2))
        # first max; NaN wins like torch
        key = jnp.where(jnp.isnan(g), jnp.inf, g) if jnp.issubdtype(g.dtype, jnp.floating) else g
        am = jnp.argmax(key, axis=ax + 1)
        vals = jnp.take_along_axis(g, jnp.expand_dims(am, ax + 1), axis=ax + 1).squeeze(ax + 1)
        idx = jnp.take_along_axis(gi, jnp.expand_dims(am, ax + 1), axis=ax + 1).squeeze(ax + 1)
    idx = idx.astype(jnp.int64)
    if unb:
        vals, idx = vals[0], idx[0]
    return (vals, idx) if return_indices else vals


# _channels_last: a private static argument set by jtorch.nn.functional (see channels_last.py)
_POOL_STATIC = ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices", "_channels_last")


def _mp(n):
    def impl(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False,
             _channels_last=False):
        return _max_pool_impl(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, n,
                              f"max_pool{n}d", _channels_last)
    return impl


max_pool1d = op("max_pool1d", static=_POOL_STATIC, method=False)(_mp(1))
max_pool2d = op("max_pool2d", static=_POOL_STATIC, method=False)(_mp(2))
max_pool3d = op("max_pool3d", static=_POOL_STATIC, method=False)(_mp(3))


def _avg_pool_impl(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, n, name,
                   channels_last=False):
    x, unb = _pool_input(input, n, name)
    _float_check(x, name) if x.dtype == jnp.bool_ else None
    sp = x.shape[2:]
    k, s, p, d, outs = _pool_geometry(sp, kernel_size, stride, padding, 1, ceil_mode, n)
    if any(o <= 0 for o in outs):
        _too_small(x, outs, x.shape[1])
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    pads = [(0, 0), (0, 0)]
    for i, ki, si, pi, o in zip(sp, k, s, p, outs):
        hi = max((o - 1) * si + ki - i - pi, 0)
        pads.append((pi, hi))
    acc = jnp.float32 if x.dtype in (jnp.float16, jnp.bfloat16) else x.dtype
    tot = _reduce_window(x.astype(acc), np.array(0, acc), jax.lax.add, k, s, pads[2:], None, channels_last)
    if divisor_override is not None:
        out = tot / divisor_override
    else:
        div = np.ones((), np.float64)
        for i, ki, si, pi, o in zip(sp, k, s, p, outs):
            start = np.arange(o) * si - pi
            end = np.minimum(start + ki, i + pi)
            if count_include_pad:
                cnt = end - start
            else:
                cnt = np.minimum(end, i) - np.maximum(start, 0)
            div = div[..., None] * cnt
        out = tot / jnp.asarray(div, acc)
    if jnp.issubdtype(x.dtype, jnp.integer):
        out = jnp.trunc(out)
    out = out.astype(x.dtype)
    return out[0] if unb else out


_AVG_STATIC = ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override")


@op(static=_AVG_STATIC[:-1], method=False)
def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    return _avg_pool_impl(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1, "avg_pool1d")


@op(static=_AVG_STATIC + ("_channels_last",), method=False, public=False)
def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None, _channels_last=False):
    return _avg_pool_impl(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, 2,
                          "avg_pool2d", _channels_last)


@op(static=_AVG_STATIC + ("_channels_last",), method=False, public=False)
def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None, _channels_last=False):
    return _avg_pool_impl(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, 3,
                          "avg_pool3d", _channels_last)


def _adaptive_ranges(i, o):
    start = (np.arange(o) * i) // o
    end = -((-(np.arange(o) + 1) * i) // o)
    return start, end


def _adaptive_out(output_size, sp, n):
    if isinstance(output_size, (list, tuple)):
        if len(output_size) != n:
            raise RuntimeError(f"adaptive_avg_pool{n}d: output_size must be {n}")
        return tuple(sp[j] if v is None else int(v) for j, v in enumerate(output_size))
    return (int(output_size),) * n


def _adaptive_input(x, n, name):
    if x.ndim not in (n + 1, n + 2):
        raise RuntimeError(f"{name}(): Expected {n + 1}D or {n + 2}D tensor, but got {_shape_str(x.shape)}")
    for i in range(1, x.ndim):
        if x.shape[i] == 0:
            raise RuntimeError(f"{name}(): Expected input to have non-zero size for non-batch dimensions, but input "
                               f"has sizes {_shape_str(x.shape)} with dimension {i} being empty")
    return (x[None], True) if x.ndim == n + 1 else (x, False)


def _adaptive_avg_impl(input, output_size, n, name):
    x, unb = _adaptive_input(input, n, name)
    sp = x.shape[2:]
    outs = _adaptive_out(output_size, sp, n)
    _float_check(x, name)
    out = x
    for j in range(n):
        ax = 2 + j
        i, o = sp[j], outs[j]
        if i == o:
            continue
        if i % o == 0:
            shp = out.shape[:ax] + (o, i // o) + out.shape[ax + 1:]
            out = jnp.mean(out.reshape(shp), axis=ax + 1)
            continue
        st, en = _adaptive_ranges(i, o)
        m = np.zeros((o, i), np.float64)
        for r in range(o):
            m[r, st[r]:en[r]] = 1.0 / (en[r] - st[r])
        out = jnp.moveaxis(jnp.tensordot(out, jnp.asarray(m, out.dtype), axes=[[ax], [1]]), -1, ax)
    return out[0] if unb else out


@op(static=("output_size",), method=False)
def adaptive_avg_pool1d(input, output_size):
    return _adaptive_avg_impl(input, output_size, 1, "adaptive_avg_pool1d")


@op(static=("output_size",), method=False, public=False)
def adaptive_avg_pool2d(input, output_size):
    return _adaptive_avg_impl(input, output_size, 2, "adaptive_avg_pool2d")


@op(static=("output_size",), method=False, public=False)
def adaptive_avg_pool3d(input, output_size):
    return _adaptive_avg_impl(input, output_size, 3, "adaptive_avg_pool3d")


def _adaptive_max_impl(input, output_size, return_indices, n, name):
    x, unb = _adaptive_input(input, n, name)
    sp = x.shape[2:]
    outs = _adaptive_out(output_size, sp, n)
    low = jnp.array(-jnp.inf, x.dtype) if jnp.issubdtype(x.dtype, jnp.floating) else \
        jnp.array(jnp.iinfo(x.dtype).min, x.dtype)
    strides = np.cumprod((1,) + tuple(sp[::-1]))[:-1][::-1]
    vals, idx = x, None
    for j in range(n - 1, -1, -1):
        ax = 2 + j
        i, o = sp[j], outs[j]
        st, en = _adaptive_ranges(i, o)
        kmax = int((en - st).max())
        w = st[:, None] + np.arange(kmax)[None, :]
        valid = w < en[:, None]
        wc = np.minimum(w, i - 1)
        tail = (1,) * (vals.ndim - ax - 1)
        g = jnp.take(vals, jnp.asarray(wc.reshape(-1)), axis=ax)
        g = g.reshape(g.shape[:ax] + w.shape + g.shape[ax + 1:])
        g = jnp.where(jnp.asarray(valid).reshape((1,) * ax + w.shape + tail), g, low)
        off = jnp.asarray(wc * strides[j]).reshape((1,) * ax + w.shape + tail)
        if idx is None:
            gi = jnp.broadcast_to(off, g.shape)
        else:
            gi = jnp.take(idx, jnp.asarray(wc.reshape(-1)), axis=ax).reshape(g.shape) + off
        key = jnp.where(jnp.isnan(g), jnp.inf, g) if jnp.issubdtype(g.dtype, jnp.floating) else g
        am = jnp.expand_dims(jnp.argmax(key, axis=ax + 1), ax + 1)
        vals = jnp.take_along_axis(g, am, axis=ax + 1).squeeze(ax + 1)
        idx = jnp.take_along_axis(gi, am, axis=ax + 1).squeeze(ax + 1)
    idx = idx.astype(jnp.int64)
    if unb:
        vals, idx = vals[0], idx[0]
    return (vals, idx) if return_indices else vals


@op(static=("output_size", "return_indices"), method=False)
def adaptive_max_pool1d(input, output_size, return_indices=False):
    return _adaptive_max_impl(input, output_size, return_indices, 1, "adaptive_max_pool1d")


@op(static=("output_size", "return_indices"), method=False, public=False)
def adaptive_max_pool2d(input, output_size, return_indices=False):
    return _adaptive_max_impl(input, output_size, return_indices, 2, "adaptive_max_pool2d")


@op(static=("output_size", "return_indices"), method=False, public=False)
def adaptive_max_pool3d(input, output_size, return_indices=False):
    return _adaptive_max_impl(input, output_size, return_indices, 3, "adaptive_max_pool3d")


def _max_unpool_impl(input, indices, output_size, n):
    x, unb = (input[None], True) if input.ndim == n + 1 else (input, False)
    ind = indices[None] if unb else indices
    if ind.shape != x.shape:
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor "
                           f"({_shape_str(x.shape)}) but got indices tensor with shape: {_shape_str(ind.shape)}")
    N, C = x.shape[:2]
    tot = int(np.prod(output_size))
    flat = jnp.zeros((N, C, tot), x.dtype)
    bi = jnp.arange(N)[:, None, None]
    ci = jnp.arange(C)[None, :, None]
    flat = _unpool_set(flat, (bi, ci, ind.reshape(N, C, -1)), x.reshape(N, C, -1))
    out = flat.reshape((N, C) + tuple(output_size))
    return out[0] if unb else out


@jax.custom_jvp
def _unpool_set(flat, index, vals):
    return flat.at[index].set(vals, mode="drop")


@_unpool_set.defjvp
def _unpool_set_jvp(primals, tangents):
    # torch's gradient is a gather at the indices: every input element gets its position's gradient,
    # also when several share a position (the derivative of jax's set gives it to one of them only)
    flat, index, vals = primals
    dflat, _, dvals = tangents
    return _unpool_set(flat, index, vals), dflat.at[index].set(0, mode="drop").at[index].add(dvals, mode="drop")


@op(static=("output_size",), method=False, public=False)
def max_unpool1d(input, indices, output_size):
    return _max_unpool_impl(input, indices, output_size, 1)


@op(static=("output_size",), method=False, public=False)
def max_unpool2d(input, indices, output_size):
    return _max_unpool_impl(input, indices, output_size, 2)


@op(static=("output_size",), method=False, public=False)
def max_unpool3d(input, indices, output_size):
    return _max_unpool_impl(input, indices, output_size, 3)


# ---------------------------------------------------------------------------------------------
# padding
@op(static=("pad", "mode"), method=False, public=False, promote=None)
def _pad(input, pad, mode="constant", value=None):
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    npairs = len(pad) // 2
    if npairs > input.ndim:
        raise RuntimeError("Padding length should be less than or equal to two times the input dimension but got "
                           f"padding length {len(pad)} and input of dimension {input.ndim}")
    cfg = [(0, 0)] * input.ndim
    for i in range(npairs):
        cfg[input.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    if mode == "constant":
        v = jnp.asarray(0 if value is None else value).astype(input.dtype)
        return jax.lax.pad(input, v, [(lo, hi, 0) for lo, hi in cfg])
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    nd = npairs
    if not (input.ndim in (nd + 1, nd + 2)):
        raise NotImplementedError(f"Only 2D, 3D, 4D, 5D padding with non-constant padding are supported for now")
    out = input
    for ax in range(input.ndim - npairs, input.ndim):
        lo, hi = cfg[ax]
        size = out.shape[ax]
        if mode == "reflect" and (lo >= size or hi >= size):
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding input dimension, "
                               f"but got: padding ({lo}, {hi}) at dimension {ax} of input {_shape_str(input.shape)}")
        if mode == "circular" and (lo > size or hi > size):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if mode == "replicate" and size == 0:
            raise RuntimeError("input tensor must have non-zero size")
        # index table over the padded axis (negative pads crop)
        pos = np.arange(-lo, size + hi)
        if mode == "reflect":
            period = 2 * (size - 1) if size > 1 else 1
            m = np.mod(pos, period)
            idx = np.where(m >= size, period - m, m)
        elif mode == "replicate":
            idx = np.clip(pos, 0, size - 1)
        else:   # torch crops a negative side first, then wraps within what is left
            begin, kept = max(-lo, 0), size - max(-lo, 0) - max(-hi, 0)
            idx = begin + np.mod(np.arange(-max(lo, 0), kept + max(hi, 0)), max(kept, 1))
        out = jnp.take(out, jnp.asarray(idx), axis=ax)
    return out


@op(static=("pad",), method=False, promote="same")
def constant_pad_nd(input, pad, value=0):
    cfg = [(0, 0)] * input.ndim
    for i in range(len(pad) // 2):
        cfg[input.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    return jax.lax.pad(input, jnp.asarray(value).astype(input.dtype), [(lo, hi, 0) for lo, hi in cfg])


# ---------------------------------------------------------------------------------------------
# interpolation
def _src_index_taps(mode, i, o, scale, align_corners):
    """(o, taps) source indices and weights along one axis, torch's coordinate conventions.
    `scale` is the user's scale_factor (or None): torch then maps with 1/scale_factor."""
    dst = np.arange(o, dtype=np.float64)
    if mode in ("nearest", "nearest-exact"):
        r = (1.0 / scale) if scale is not None and scale > 0 else i / o
        if mode == "nearest":
            src = np.minimum(np.floor((dst * np.float32(r)).astype(np.float32)), i - 1)
        else:
            src = np.minimum(np.floor(((dst + 0.5) * np.float32(r)).astype(np.float32)), i - 1)
        return src.astype(np.int64)[:, None], np.ones((o, 1))
    if align_corners:
        r = (i - 1) / (o - 1) if o > 1 else 0.0
        src = dst * r
    else:
        r = (1.0 / scale) if scale is not None and scale > 0 else i / o
        src = (dst + 0.5) * r - 0.5
    if mode == "linear":
        if not align_corners:
            src = np.maximum(src, 0.0)
        i0 = np.floor(src).astype(np.int64)
        i0 = np.minimum(i0, i - 1)
        i1 = np.minimum(i0 + 1, i - 1)
        l1 = src - i0
        return np.stack([i0, i1], 1), np.stack([1 - l1, l1], 1)
    if mode == "cubic":
        i0 = np.floor(src).astype(np.int64)
        t = src - i0
        A = -0.75

        def c1(x):
            return ((A + 2) * x - (A + 3)) * x * x + 1

        def c2(x):
            return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A
        w = np.stack([c2(t + 1), c1(t), c1(1 - t), c2(2 - t)], 1)
        idx = np.clip(np.stack([i0 - 1, i0, i0 + 1, i0 + 2], 1), 0, i - 1)
        return idx, w
    raise NotImplementedError(mode)


def _aa_filter(mode, x):
    x = np.abs(x)
    if mode == "linear":
        return np.maximum(1.0 - x, 0.0)
    if mode == "lanczos":     # Lanczos-3: sinc windowed by a 3x wider sinc
        return np.where(x < 3, np.sinc(x) * np.sinc(x / 3), 0.0)
    a = -0.5    # the antialiased cubic uses Keys' a=-0.5 (plain bicubic uses -0.75)
    return np.where(x < 1, ((a + 2) * x - (a + 3)) * x * x + 1,
                    np.where(x < 2, (((x - 5) * x + 8) * x - 4) * a, 0.0))


def _aa_weight_matrix(mode, i, o, scale, align_corners):
    """(o, i) antialiased resampling weights along one axis. When downsampling the filter is
    stretched by the scale so every input pixel contributes; each row is normalised to sum 1.
    align_corners only changes the scale: the centres stay half-pixel (as torch's _aa kernels)."""
    if align_corners:
        s = (i - 1) / (o - 1) if o > 1 else 0.0
    else:
        s = (1.0 / scale) if scale is not None and scale > 0 else i / o
    half = {"linear": 1.0, "cubic": 2.0, "lanczos": 3.0}[mode]
    support = half * s if s >= 1.0 else half
    inv = 1.0 / s if s >= 1.0 else 1.0
    m = np.zeros((o, i))
    for k in range(o):
        c = s * (k + 0.5)
        lo = max(int(c - support + 0.5), 0)
        hi = min(int(c + support + 0.5), i)
        w = _aa_filter(mode, (np.arange(lo, hi) - c + 0.5) * inv)
        t = w.sum()
        m[k, lo:hi] = w / t if t != 0 else w
    return m


def _aa_int16_weights(m):
    """torch's uint8 path: fixed-point weights with as many fraction bits as int16 allows (max 22)."""
    mx = m.max()
    prec = next((p for p in range(22) if int(0.5 + mx * (1 << (p + 1))) >= (1 << 15)), 22)
    v = m * (1 << prec)
    return np.where(v < 0, np.trunc(v - 0.5), np.trunc(v + 0.5)).astype(np.int32), prec


def _interpolate_aa_uint8(input, size, mode, align_corners, scales):
    # Bit-exact with torch: integer weights, width pass then height pass, each rounded and clamped
    # to uint8; an axis whose size does not change is skipped.
    out = input.astype(jnp.int32)
    for j in (1, 0):
        ax = input.ndim - 2 + j
        if input.shape[ax] == size[j]:
            continue
        sc = None if scales is None else scales[j]
        w, prec = _aa_int16_weights(_aa_weight_matrix(mode, input.shape[ax], size[j], sc, align_corners))
        acc = jnp.moveaxis(jnp.tensordot(out, jnp.asarray(w), axes=((ax,), (1,))), -1, ax)
        out = jnp.clip((acc + (1 << (prec - 1))) >> prec, 0, 255)
    return out.astype(jnp.uint8)


def _interpolate_aa(input, size, mode, align_corners, scales):
    if input.dtype == jnp.uint8:
        return _interpolate_aa_uint8(input, size, mode, align_corners, scales)
    if not jnp.issubdtype(input.dtype, jnp.floating):
        raise NotImplementedError(f'"compute_index_ranges_weights" not implemented for \'{_tn(input.dtype)}\'')
    # half/bfloat16 (which torch supports on CUDA only) are computed in float32
    acc = input.dtype if input.dtype == jnp.float64 else jnp.float32
    out = input.astype(acc)
    for j in range(2):
        ax = input.ndim - 2 + j
        sc = None if scales is None else scales[j]
        w = jnp.asarray(_aa_weight_matrix(mode, input.shape[ax], size[j], sc, align_corners), acc)
        out = jnp.moveaxis(jnp.tensordot(out, w, axes=((ax,), (1,)), precision=jax.lax.Precision.HIGHEST), -1, ax)
    return out.astype(input.dtype)


@op(static=("size", "mode", "align_corners", "scales", "antialias"), method=False, public=False, promote=None)
def _interpolate(input, size, mode, align_corners=None, scales=None, antialias=False):
    """Separable resampling over the trailing len(size) axes."""
    if antialias:
        return _interpolate_aa(input, size, mode, align_corners, scales)
    n = len(size)
    out = input
    acc = jnp.float32 if input.dtype in (jnp.float16, jnp.bfloat16) else input.dtype
    for j in range(n):
        ax = input.ndim - n + j
        i, o = input.shape[ax], size[j]
        sc = None if scales is None else scales[j]
        if mode == "area":
            continue
        idx, w = _src_index_taps(mode, i, o, sc, align_corners)
        taps = idx.shape[1]
        g = jnp.take(out, jnp.asarray(idx.reshape(-1)), axis=ax)
        g = g.reshape(g.shape[:ax] + idx.shape + g.shape[ax + 1:])
        if taps == 1 and mode.startswith("nearest"):
            out = g.squeeze(ax + 1)
            continue
        wj = jnp.asarray(w, acc).reshape((1,) * ax + w.shape + (1,) * (out.ndim - ax - 1))
        out = jnp.sum(g.astype(acc) * wj, axis=ax + 1).astype(input.dtype)
    return out


# ---------------------------------------------------------------------------------------------
# grid_sample / affine_grid
def _unnormalize(coord, size, align_corners):
    if align_corners:
        return (coord + 1) / 2 * (size - 1)
    return ((coord + 1) * size - 1) / 2


def _reflect(x, lo2, hi2):
    # reflect coordinates into [lo2/2, hi2/2] (torch's reflect_coordinates with twice-ranges)
    if lo2 == hi2:
        return jnp.zeros_like(x)
    mn = lo2 / 2
    span = (hi2 - lo2) / 2
    x = jnp.abs(x - mn)
    extra = jnp.fmod(x, span)
    flips = jnp.floor(x / span)
    return jnp.where(jnp.fmod(flips, 2) == 0, extra + mn, span - extra + mn)


def _compute_source(coord, size, padding_mode, align_corners):
    c = _unnormalize(coord, size, align_corners)
    if padding_mode == "border":
        c = jnp.clip(c, 0, size - 1)
    elif padding_mode == "reflection":
        if align_corners:
            c = _reflect(c, 0, 2 * (size - 1))
        else:
            c = _reflect(c, -1, 2 * size - 1)
        c = jnp.clip(c, 0, size - 1)
    return c


@op(static=("mode", "padding_mode", "align_corners"), method=False, public=False, promote="same")
def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=False):
    if input.ndim not in (4, 5):
        raise RuntimeError(f"grid_sampler(): expected 4D or 5D input and grid with same number of dimensions, but got "
                           f"input with sizes {_shape_str(input.shape)} and grid with sizes {_shape_str(grid.shape)}")
    if grid.ndim != input.ndim or grid.shape[0] != input.shape[0] or grid.shape[-1] != input.ndim - 2:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {input.ndim - 2} in last dimension, but got "
                           f"grid with sizes {_shape_str(grid.shape)}")
    nsp = input.ndim - 2
    N, C = input.shape[:2]
    sizes = input.shape[2:]  # (H, W) or (D, H, W)
    # grid[..., 0] indexes the last (W) axis
    coords = [_compute_source(grid[..., nsp - 1 - a], sizes[a], padding_mode, align_corners) for a in range(nsp)]
    out_sp = grid.shape[1:-1]
    flat = input.reshape(N, C, -1)
    strides = np.cumprod((1,) + tuple(sizes[::-1]))[:-1][::-1]

    def gather(ints, weights=None):
        """ints: per spatial axis, integer coords of shape (taps, N, *out_sp); sums taps * weights."""
        taps = ints[0].shape[0]
        valid = jnp.ones(ints[0].shape, bool)
        lin = jnp.zeros(ints[0].shape, jnp.int64)
        for a in range(nsp):
            valid = valid & (ints[a] >= 0) & (ints[a] < sizes[a])
            lin = lin + jnp.clip(ints[a], 0, sizes[a] - 1).astype(jnp.int64) * int(strides[a])
        lin = jnp.moveaxis(lin, 0, 1).reshape(N, 1, -1)              # (N, 1, taps*P)
        v = jnp.take_along_axis(flat, lin, axis=2).reshape((N, C, taps) + out_sp)
        w = valid.astype(v.dtype) if weights is None else weights * valid.astype(v.dtype)
        w = jnp.moveaxis(w, 0, 1)[:, None]                           # (N, 1, taps, *out_sp)
        return jnp.sum(v * w, axis=2)

    if mode == "nearest":
        return gather([jnp.round(c).astype(jnp.int64)[None] for c in coords])
    if mode == "bilinear":
        fl = [jnp.floor(c) for c in coords]
        fr = [c - f for c, f in zip(coords, fl)]
        ints, ws = [[] for _ in range(nsp)], []
        for corner in range(2 ** nsp):
            bits = [(corner >> (nsp - 1 - a)) & 1 for a in range(nsp)]
            w = 1
            for a in range(nsp):
                ints[a].append((fl[a] + bits[a]).astype(jnp.int64))
                w = w * (fr[a] if bits[a] else 1 - fr[a])
            ws.append(w)
        return gather([jnp.stack(i) for i in ints], jnp.stack(ws))
    if mode == "bicubic":
        if nsp != 2:
            raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
        # bicubic uses the unclipped unnormalized coordinate, padding applied per tap
        raw = [_unnormalize(grid[..., nsp - 1 - a], sizes[a], align_corners) for a in range(nsp)]
        fl = [jnp.floor(c) for c in raw]
        t = [c - f for c, f in zip(raw, fl)]
        A = -0.75

        def cw(x):
            x1 = x + 1
            x2 = 1 - x
            x3 = 2 - x
            return [((A * x1 - 5 * A) * x1 + 8 * A) * x1 - 4 * A, ((A + 2) * x - (A + 3)) * x * x + 1,
                    ((A + 2) * x2 - (A + 3)) * x2 * x2 + 1, ((A * x3 - 5 * A) * x3 + 8 * A) * x3 - 4 * A]
        wy, wx = cw(t[0]), cw(t[1])
        iys, ixs, ws = [], [], []
        for a in range(4):
            for b in range(4):
                iy = fl[0] - 1 + a
                ix = fl[1] - 1 + b
                if padding_mode != "zeros":
                    iy = _pad_coord(iy, sizes[0], padding_mode, align_corners)
                    ix = _pad_coord(ix, sizes[1], padding_mode, align_corners)
                iys.append(iy.astype(jnp.int64))
                ixs.append(ix.astype(jnp.int64))
                ws.append(wy[a] * wx[b])
        return gather([jnp.stack(iys), jnp.stack(ixs)], jnp.stack(ws))
    raise RuntimeError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', but "
                       f"got: '{mode}'")


def _pad_coord(c, size, padding_mode, align_corners):
    if padding_mode == "border":
        return jnp.clip(c, 0, size - 1)
    if align_corners:
        c = _reflect(c, 0, 2 * (size - 1))
    else:
        c = _reflect(c, -1, 2 * size - 1)
    return jnp.clip(c, 0, size - 1)


@op(static=("size", "align_corners"), method=False, public=False)
def affine_grid(theta, size, align_corners=False):
    if not jnp.issubdtype(theta.dtype, jnp.floating):
        raise RuntimeError(f"Expected theta to have floating point type, but got {_tn(theta.dtype)}")
    nsp = len(size) - 2
    if nsp not in (2, 3):
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
                                  f"respectively. Got size {list(size)}.")
    if theta.ndim != 3 or theta.shape[1] != nsp or theta.shape[2] != nsp + 1:
        raise TorchValueError(f"Expected a batch of {nsp}D affine matrices of shape Nx{nsp}x{nsp + 1} for size "
                              f"{list(size)}. Got {list(theta.shape)}.")

    def lin(s):
        if s <= 1:
            return np.zeros((s,))
        v = np.linspace(-1, 1, s)
        return v if align_corners else v * (s - 1) / s
    sp = size[2:]
    axes = [lin(s) for s in sp]  # D?, H, W
    mesh = np.meshgrid(*axes, indexing="ij")
    # base coordinates ordered (x, y[, z], 1): x runs along W (last axis)
    base = np.stack([mesh[k] for k in range(nsp - 1, -1, -1)] + [np.ones(mesh[0].shape)], -1)
    base = jnp.asarray(base, theta.dtype).reshape(-1, nsp + 1)
    grid = jnp.einsum("pk,njk->npj", base, theta)
    return grid.reshape((size[0],) + tuple(sp) + (nsp,))


# ---------------------------------------------------------------------------------------------
# unfold / fold (im2col)
def _im2col_index(sp, k, d, p, s):
    outs = [(i + 2 * pi - di * (ki - 1) - 1) // si + 1 for i, ki, di, pi, si in zip(sp, k, d, p, s)]
    return outs


@op(static=("kernel_size", "dilation", "padding", "stride"), method=False, public=False)
def im2col(input, kernel_size, dilation=1, padding=0, stride=1):
    if input.ndim not in (3, 4):
        raise NotImplementedError(f"Input Error: Only 3D or 4D input Tensors are supported (got {input.ndim}D)")
    unb = input.ndim == 3
    x = input[None] if unb else input
    k, d, p, s = (_tup(kernel_size, 2), _tup(dilation, 2), _tup(padding, 2), _tup(stride, 2))
    N, C, H, W = x.shape
    outs = _im2col_index((H, W), k, d, p, s)
    if any(o <= 0 for o in outs):
        raise RuntimeError(f"Given input with spatial size ({H}, {W}), kernel_size=({k[0]}, {k[1]}), "
                           f"dilation=({d[0]}, {d[1]}), padding=({p[0]}, {p[1]}), calculated shape of the array of "
                           f"sliding blocks as ({outs[0]}, {outs[1]}), but its components must be at least one.")
    xp = jnp.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    rows = (np.arange(outs[0])[None, :] * s[0] + np.arange(k[0])[:, None] * d[0])  # (kh, oh)
    cols = (np.arange(outs[1])[None, :] * s[1] + np.arange(k[1])[:, None] * d[1])  # (kw, ow)
    g = xp[:, :, rows[:, None, :, None], cols[None, :, None, :]]  # N, C, kh, kw, oh, ow
    out = g.reshape(N, C * k[0] * k[1], outs[0] * outs[1])
    return out[0] if unb else out


@op(static=("output_size", "kernel_size", "dilation", "padding", "stride"), method=False, public=False)
def col2im(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    if input.ndim not in (2, 3):
        raise NotImplementedError(f"Input Error: Only unbatched (2D) or batched (3D) input Tensors are supported "
                                  f"(got {input.ndim}D)")
    unb = input.ndim == 2
    x = input[None] if unb else input
    k, d, p, s = (_tup(kernel_size, 2), _tup(dilation, 2), _tup(padding, 2), _tup(stride, 2))
    osz = _tup(output_size, 2)
    N, CK, L = x.shape
    if CK % (k[0] * k[1]):
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product of kernel_size, but "
                           f"got input.size(1)={CK} and kernel_size=({k[0]}, {k[1]})")
    outs = _im2col_index(osz, k, d, p, s)
    if outs[0] * outs[1] != L:
        raise RuntimeError(f"Given output_size=({osz[0]}, {osz[1]}), kernel_size=({k[0]}, {k[1]}), "
                           f"dilation=({d[0]}, {d[1]}), padding=({p[0]}, {p[1]}), stride=({s[0]}, {s[1]}), expected "
                           f"size of input's dimension 2 to match the calculated number of sliding blocks "
                           f"{outs[0]} * {outs[1]} = {outs[0] * outs[1]}, but got input.size(2)={L}.")
    C = CK // (k[0] * k[1])
    g = x.reshape(N, C, k[0], k[1], outs[0], outs[1])
    rows = (np.arange(outs[0])[None, :] * s[0] + np.arange(k[0])[:, None] * d[0])
    cols = (np.arange(outs[1])[None, :] * s[1] + np.arange(k[1])[:, None] * d[1])
    Hp, Wp = osz[0] + 2 * p[0], osz[1] + 2 * p[1]
    buf = jnp.zeros((N, C, Hp, Wp), x.dtype)
    buf = buf.at[:, :, rows[:, None, :, None], cols[None, :, None, :]].add(g)
    out = buf[:, :, p[0]:p[0] + osz[0], p[1]:p[1] + osz[1]]
    return out[0] if unb else out


# ---------------------------------------------------------------------------------------------
# pixel / channel shuffle
@op(static=("upscale_factor",), method=False, promote=None)
def pixel_shuffle(input, upscale_factor):
    r = int(upscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, but got input with "
                           f"{input.ndim} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got {r}")
    *b, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of "
                           f"upscale_factor, but input.size(-3)={c} is not divisible by {r * r}")
    oc = c // (r * r)
    x = input.reshape(tuple(b) + (oc, r, r, h, w))
    nb = len(b)
    x = jnp.transpose(x, tuple(range(nb)) + (nb, nb + 3, nb + 1, nb + 4, nb + 2))
    return x.reshape(tuple(b) + (oc, h * r, w * r))


@op(static=("downscale_factor",), method=False, promote=None)
def pixel_unshuffle(input, downscale_factor):
    r = int(downscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, but got input with "
                           f"{input.ndim} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got {r}")
    *b, c, h, w = input.shape
    if h % r or w % r:
        which = "height" if h % r else "width"
        raise RuntimeError(f"pixel_unshuffle expects {which} to be divisible by downscale_factor, but input.size("
                           f"{-2 if h % r else -1})={h if h % r else w} is not divisible by {r}")
    nb = len(b)
    x = input.reshape(tuple(b) + (c, h // r, r, w // r, r))
    x = jnp.transpose(x, tuple(range(nb)) + (nb, nb + 2, nb + 4, nb + 1, nb + 3))
    return x.reshape(tuple(b) + (c * r * r, h // r, w // r))


@op(static=("groups",), method=False, promote=None)
def channel_shuffle(input, groups):
    g = int(groups)
    if g <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of groups:{g}")
    if input.ndim < 3:
        raise RuntimeError(f"channel_shuffle expects input to have at least 3 dimensions, but got input with "
                           f"{input.ndim} dimension(s)")
    c = input.shape[1]
    if c % g:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels and {g} groups.")
    x = input.reshape(input.shape[:1] + (g, c // g) + input.shape[2:])
    return jnp.swapaxes(x, 1, 2).reshape(input.shape)


# ---------------------------------------------------------------------------------------------
# attention
def _sdpa_math(q, k, v, bias, scale):
    s = jnp.einsum("...le,...se->...ls", q, k, preferred_element_type=None) * scale
    if bias is not None:
        s = s + bias
    m = jnp.max(s, axis=-1, keepdims=True)
    m = jnp.where(jnp.isneginf(m), 0, jax.lax.stop_gradient(m))
    e = jnp.exp(s - m)
    tot = jnp.sum(e, axis=-1, keepdims=True)
    # a row with every position masked attends to nothing (torch returns zeros there)
    return e / jnp.where(tot == 0, 1, tot)


def _cudnn_attention(q, k, v, scale, is_causal):
    """cuDNN's fused (flash) attention on (B, T, N, H) half-precision operands, or None where cuDNN
    cannot take them (jax checks version, layout and shapes while tracing). XLA's own attention
    materialises the (L, S) scores: on an H100 the GPT-2-small step was ~1.5x torch's with it."""
    if q.dtype not in (jnp.bfloat16, jnp.float16) or q.shape[-1] % 8 or q.shape[-1] > 128:
        return None
    try:
        return jax.nn.dot_product_attention(q, k, v, scale=scale, is_causal=is_causal, implementation="cudnn")
    except (ValueError, RuntimeError, NotImplementedError, TypeError, AssertionError):
        return None


@op(static=("is_causal", "scale", "enable_gqa", "dropout_p", "need_weights", "_cudnn"), method=False, public=False)
def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False, dropout_mask=None, need_weights=False, _cudnn=False):
    """torch's F.scaled_dot_product_attention. `dropout_mask` is a keep-mask drawn by the caller
    (the functional wrapper); `need_weights` also returns the attention probabilities. `_cudnn`:
    the caller's operands are on a CUDA device and sdpa_kernel allows a fused kernel, so cuDNN's
    flash attention may run (the kernel cannot see devices: its operands are tracers)."""
    q, k, v = query, key, value
    if not (q.dtype == k.dtype == v.dtype):
        raise RuntimeError(f"Expected query, key, and value to have the same dtype, but got query.dtype: "
                           f"{_ln(q.dtype)} key.dtype: {_ln(k.dtype)} and value.dtype: {_ln(v.dtype)} instead.")
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise RuntimeError("scaled_dot_product_attention: query, key and value must be at least 2-dimensional")
    if q.shape[-1] != k.shape[-1]:
        raise RuntimeError(f"Expected query and key to have the same embedding dimension, but got query "
                           f"{_shape_str(q.shape)} and key {_shape_str(k.shape)}")
    if k.shape[-2] != v.shape[-2]:
        raise RuntimeError(f"Expected key and value to have the same sequence length, but got key "
                           f"{_shape_str(k.shape)} and value {_shape_str(v.shape)}")
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True")
    L, S = q.shape[-2], k.shape[-2]
    if enable_gqa and q.ndim >= 3 and k.ndim >= 3 and q.shape[-3] != k.shape[-3]:
        hq, hk = q.shape[-3], k.shape[-3]
        if hq % hk:
            raise RuntimeError(f"Number of heads in key and value must divide the number of heads in query")
        k = jnp.repeat(k, hq // hk, axis=-3)
        v = jnp.repeat(v, hq // v.shape[-3], axis=-3)
    sc = (1.0 / math.sqrt(q.shape[-1])) if scale is None else scale
    cd = q.dtype
    fused = (attn_mask is None and dropout_p == 0 and not need_weights and q.ndim == 4 and k.ndim == 4 and
             v.ndim == 4 and q.shape[:2] == k.shape[:2] == v.shape[:2] and q.shape[-1] == v.shape[-1]
             and (not is_causal or L == S) and cd in (jnp.float32, jnp.float16, jnp.bfloat16)
             and not (cd == jnp.float16 and _cl.on_cpu()))  # XLA:CPU has no f16 x f16 -> f32 dot
    if fused:
        # jax's fused attention takes (B, T, N, H)
        t = lambda a: jnp.swapaxes(a, 1, 2)  # noqa: E731
        o = _cudnn_attention(t(q), t(k), t(v), sc, is_causal) if _cudnn else None
        if o is None:
            o = jax.nn.dot_product_attention(t(q), t(k), t(v), scale=sc, is_causal=is_causal)
        return jnp.swapaxes(o, 1, 2)
    bias = None
    if is_causal:
        keep = np.tril(np.ones((L, S), bool))
        bias = jnp.where(jnp.asarray(keep), jnp.array(0, cd), jnp.array(-jnp.inf, cd))
    elif attn_mask is not None:
        if attn_mask.dtype == jnp.bool_:
            bias = jnp.where(attn_mask, jnp.array(0, cd), jnp.array(-jnp.inf, cd))
        else:
            if attn_mask.dtype != cd:
                raise RuntimeError(f"Expected attn_mask dtype to be bool or float or to match query dtype, but got "
                                   f"attn_mask.dtype: {_ln(attn_mask.dtype)} and  query.dtype: {_ln(cd)} instead.")
            bias = attn_mask
    acc = jnp.float32 if cd in (jnp.float16, jnp.bfloat16) else cd
    p = _sdpa_math(q.astype(acc), k.astype(acc), v, None if bias is None else bias.astype(acc), sc)
    if dropout_mask is not None and dropout_p > 0:
        p = jnp.where(dropout_mask, p / (1 - dropout_p), 0)
    o = jnp.einsum("...ls,...sv->...lv", p.astype(cd), v)
    if need_weights:
        return o, p.astype(cd)
    return o


# ---------------------------------------------------------------------------------------------
# recurrent layers: one op runs a whole layer-direction as a lax.scan (one kernel, jax backward)
def _lin(x, w, b):
    y = jnp.matmul(x, jnp.swapaxes(w, -1, -2))
    return y if b is None else y + b


def _lstm_step(h, c, xp, w_hh, b_hh, w_hr):
    g = xp + _lin(h, w_hh, b_hh)
    i, f, gg, o = jnp.split(g, 4, axis=-1)
    c2 = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(gg)
    h2 = jax.nn.sigmoid(o) * jnp.tanh(c2)
    if w_hr is not None:
        h2 = _lin(h2, w_hr, None)
    return h2, c2


def _gru_step(h, xp, w_hh, b_hh):
    gh = _lin(h, w_hh, b_hh)
    xr, xz, xn = jnp.split(xp, 3, axis=-1)
    hr, hz, hn = jnp.split(gh, 3, axis=-1)
    r = jax.nn.sigmoid(xr + hr)
    z = jax.nn.sigmoid(xz + hz)
    n = jnp.tanh(xn + r * hn)
    return (1 - z) * n + z * h


def _rnn_step(h, xp, w_hh, b_hh, relu):
    y = xp + _lin(h, w_hh, b_hh)
    return jax.nn.relu(y) if relu else jnp.tanh(y)


def _scan_layer(step, xp, carry, lengths, reverse):
    """Run `step(carry, x) -> (carry, y)` over time (axis 0). With `lengths`, each sequence stops at its
    own length (its carry is kept, outputs are zero), and `reverse` reverses within each length."""
    T = xp.shape[0]
    if lengths is None:
        xs = jnp.flip(xp, 0) if reverse else xp
        carry, ys = jax.lax.scan(step, carry, xs)
        return (jnp.flip(ys, 0) if reverse else ys), carry
    t = jnp.arange(T)[:, None]
    ln = lengths.astype(jnp.int32)[None, :]
    valid = t < ln                                    # (T, B)
    if reverse:
        rev = jnp.where(valid, ln - 1 - t, t)
        xp = jnp.take_along_axis(xp, rev[:, :, None], axis=0)

    def body(c, inp):
        x, m = inp
        c2, y = step(c, x)
        m = m[:, None]
        c2 = jax.tree_util.tree_map(lambda a, b: jnp.where(m, a, b), c2, c)
        return c2, jnp.where(m, y, jnp.zeros_like(y))
    carry, ys = jax.lax.scan(body, carry, (xp, valid))
    if reverse:
        ys = jnp.take_along_axis(ys, rev[:, :, None], axis=0)
    return ys, carry


_RNN_OPERANDS = ("input", "hx", "cx", "w_ih", "w_hh", "b_ih", "b_hh", "w_hr")


@op("_lstm_layer", static=("reverse",), operands=_RNN_OPERANDS, promote="same", method=False, public=False)
def _lstm_layer(input, hx, cx, w_ih, w_hh, b_ih=None, b_hh=None, w_hr=None, lengths=None, reverse=False):
    """input (T, B, I), hx (B, P), cx (B, H) -> (output (T, B, P), h_n, c_n)."""
    xp = _lin(input, w_ih, b_ih)

    def step(c, x):
        h2, c2 = _lstm_step(c[0], c[1], x, w_hh, b_hh, w_hr)
        return (h2, c2), h2
    ys, (h, c) = _scan_layer(step, xp, (hx, cx), lengths, reverse)
    return ys, h, c


@op("_gru_layer", static=("reverse",), operands=_RNN_OPERANDS, promote="same", method=False, public=False)
def _gru_layer(input, hx, w_ih, w_hh, b_ih=None, b_hh=None, lengths=None, reverse=False):
    xp = _lin(input, w_ih, b_ih)

    def step(h, x):
        h2 = _gru_step(h, x, w_hh, b_hh)
        return h2, h2
    ys, h = _scan_layer(step, xp, hx, lengths, reverse)
    return ys, h


@op("_rnn_layer", static=("reverse", "nonlinearity"), operands=_RNN_OPERANDS, promote="same", method=False,
    public=False)
def _rnn_layer(input, hx, w_ih, w_hh, b_ih=None, b_hh=None, lengths=None, reverse=False, nonlinearity="tanh"):
    xp = _lin(input, w_ih, b_ih)
    relu = nonlinearity == "relu"

    def step(h, x):
        h2 = _rnn_step(h, x, w_hh, b_hh, relu)
        return h2, h2
    ys, h = _scan_layer(step, xp, hx, lengths, reverse)
    return ys, h


@op("lstm_cell", operands=_RNN_OPERANDS, promote="same", method=False, public=False)
def lstm_cell(input, hx, cx, w_ih, w_hh, b_ih=None, b_hh=None):
    return _lstm_step(hx, cx, _lin(input, w_ih, b_ih), w_hh, b_hh, None)


@op("gru_cell", operands=_RNN_OPERANDS, promote="same", method=False, public=False)
def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    return _gru_step(hx, _lin(input, w_ih, b_ih), w_hh, b_hh)


@op("rnn_tanh_cell", operands=_RNN_OPERANDS, promote="same", method=False, public=False)
def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    return _rnn_step(hx, _lin(input, w_ih, b_ih), w_hh, b_hh, False)


@op("rnn_relu_cell", operands=_RNN_OPERANDS, promote="same", method=False, public=False)
def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    return _rnn_step(hx, _lin(input, w_ih, b_ih), w_hh, b_hh, True)
