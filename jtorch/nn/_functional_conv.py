"""torch.nn.functional: convolution, pooling, resampling, padding, folding, shuffles and attention.

Thin wrappers that normalise torch's Python-level arguments and call the registry ops of
jtorch/_ops/conv_ops.py (re-exported by jtorch.nn.functional).
"""
import math
import warnings

from .._ops.channels_last import wanted as _cl_wanted
from .._ops.registry import OPS
from .._ops.util import TorchValueError, TorchTypeError

__all__ = [
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices", "max_pool2d_with_indices",
    "max_pool3d_with_indices", "avg_pool1d", "avg_pool2d", "avg_pool3d", "lp_pool1d", "lp_pool2d", "lp_pool3d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d",
    "adaptive_max_pool2d", "adaptive_max_pool3d", "adaptive_max_pool1d_with_indices",
    "adaptive_max_pool2d_with_indices", "adaptive_max_pool3d_with_indices", "max_unpool1d", "max_unpool2d",
    "max_unpool3d", "pad", "interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "grid_sample",
    "affine_grid", "unfold", "fold", "pixel_shuffle", "pixel_unshuffle", "channel_shuffle",
    "native_channel_shuffle", "scaled_dot_product_attention", "multi_head_attention_forward",
]

conv1d = OPS["conv1d"]
conv2d = OPS["conv2d"]
conv3d = OPS["conv3d"]
conv_transpose1d = OPS["conv_transpose1d"]
conv_transpose2d = OPS["conv_transpose2d"]
conv_transpose3d = OPS["conv_transpose3d"]
pixel_shuffle = OPS["pixel_shuffle"]
pixel_unshuffle = OPS["pixel_unshuffle"]
channel_shuffle = OPS["channel_shuffle"]
native_channel_shuffle = OPS["channel_shuffle"]


# ------------------------------------------------------------------------------------ pooling
def _max_pool(n):
    name = f"max_pool{n}d"

    def f(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
        return OPS[name](input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, _cl_wanted())

    def fi(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=True):
        return OPS[name](input, kernel_size, stride, padding, dilation, ceil_mode, True, _cl_wanted())
    f.__name__, fi.__name__ = name, name + "_with_indices"
    return f, fi


max_pool1d, max_pool1d_with_indices = _max_pool(1)
max_pool2d, max_pool2d_with_indices = _max_pool(2)
max_pool3d, max_pool3d_with_indices = _max_pool(3)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    return OPS["avg_pool1d"](input, kernel_size, stride, padding, ceil_mode, count_include_pad)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    return OPS["avg_pool2d"](input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override,
                             _cl_wanted())


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    return OPS["avg_pool3d"](input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override,
                             _cl_wanted())


def _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, n):
    import jtorch
    ks = (kernel_size,) * n if isinstance(kernel_size, int) else tuple(kernel_size)
    avg = [avg_pool1d, avg_pool2d, avg_pool3d][n - 1]
    out = avg(input.pow(norm_type), ks, stride, 0, ceil_mode)
    return (jtorch.sign(out) * jtorch.relu(jtorch.abs(out))).mul(math.prod(ks)).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 1)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 2)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 3)


def _osize(output_size):
    if isinstance(output_size, (list, tuple)):
        return tuple(None if v is None else int(v) for v in output_size)
    return int(output_size)


def adaptive_avg_pool1d(input, output_size):
    return OPS["adaptive_avg_pool1d"](input, _osize(output_size))


def adaptive_avg_pool2d(input, output_size):
    return OPS["adaptive_avg_pool2d"](input, _osize(output_size))


def adaptive_avg_pool3d(input, output_size):
    return OPS["adaptive_avg_pool3d"](input, _osize(output_size))


def _adaptive_max(n):
    name = f"adaptive_max_pool{n}d"

    def f(input, output_size, return_indices=False):
        return OPS[name](input, _osize(output_size), bool(return_indices))

    def fi(input, output_size, return_indices=True):
        return OPS[name](input, _osize(output_size), True)
    f.__name__, fi.__name__ = name, name + "_with_indices"
    return f, fi


adaptive_max_pool1d, adaptive_max_pool1d_with_indices = _adaptive_max(1)
adaptive_max_pool2d, adaptive_max_pool2d_with_indices = _adaptive_max(2)
adaptive_max_pool3d, adaptive_max_pool3d_with_indices = _adaptive_max(3)


def _unpool_size(input, kernel_size, stride, padding, output_size, n):
    t = lambda v: (v,) * n if isinstance(v, int) else tuple(v)  # noqa: E731
    k = t(kernel_size)
    s = k if stride is None else t(stride)
    p = t(padding)
    sp = tuple(input.shape[-n:])
    default = tuple((i - 1) * si - 2 * pi + ki for i, si, pi, ki in zip(sp, s, p, k))
    if output_size is None:
        return default
    osz = tuple(int(v) for v in output_size)
    if len(osz) == n + 2 or len(osz) == n + 1:
        osz = osz[-n:]
    if len(osz) != n:
        raise TorchValueError(f"output_size should be a sequence containing {n} or {n + 2} elements, but it has a "
                              f"length of '{len(osz)}'")
    for j, (d, m) in enumerate(zip(osz, default)):
        lo, hi = m - s[j], m + s[j]
        if not (lo < d < hi):
            raise TorchValueError(f"invalid output_size \"{list(osz)}\" (dim {j} must be between {lo} and {hi})")
    return osz


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return OPS["max_unpool1d"](input, indices, _unpool_size(input, kernel_size, stride, padding, output_size, 1))


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return OPS["max_unpool2d"](input, indices, _unpool_size(input, kernel_size, stride, padding, output_size, 2))


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return OPS["max_unpool3d"](input, indices, _unpool_size(input, kernel_size, stride, padding, output_size, 3))


# ------------------------------------------------------------------------------------ padding
def pad(input, pad, mode="constant", value=None):
    pad = tuple(int(p) for p in pad)
    if mode != "constant" and value not in (None, 0, 0.0):
        raise AssertionError('Padding mode "{}"" doesn\'t take in value argument'.format(mode))
    if mode == "constant":
        return OPS["_pad"](input, pad, "constant", value)
    return OPS["_pad"](input, pad, mode)


# ------------------------------------------------------------------------------------ resampling
_INTERP_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
_AA_KERNEL = {"bilinear": "linear", "bicubic": "cubic", "lanczos": "lanczos"}


def _interp_rank_msg(input, mode):
    return (f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.dim()}D) for the modes: nearest | "
            f"linear | bilinear | bicubic | trilinear | lanczos | area | nearest-exact (got {mode})")


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    n = input.dim() - 2
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise TorchValueError("align_corners option can only be set with the interpolating modes: "
                                  "linear | bilinear | bicubic | trilinear")
    elif mode in _INTERP_DIMS or mode == "lanczos":
        if align_corners is None:
            align_corners = False
    else:
        raise NotImplementedError(_interp_rank_msg(input, mode))
    if (n < 1 or n > 3) and not antialias:   # with antialias torch's rank error is the ValueError below
        raise NotImplementedError(_interp_rank_msg(input, mode))
    if mode in _INTERP_DIMS and _INTERP_DIMS[mode] != n and not antialias:
        raise NotImplementedError(f"Got {input.dim()}D input, but {mode} mode needs {_INTERP_DIMS[mode] + 2}D input")
    if size is not None and scale_factor is not None:
        raise TorchValueError("only one of size or scale_factor should be defined")
    sp = tuple(input.shape[2:])
    scales = None
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != n:
                raise TorchValueError(f"Input and output must have the same number of spatial dimensions, but got "
                                      f"input with spatial dimensions of {list(sp)} and output size of {list(size)}. "
                                      f"Please provide input tensor in (N, C, d1, d2, ...,dK) format and output size "
                                      f"in (o1, o2, ...,oK) format.")
            out = tuple(int(s) for s in size)
        else:
            out = (int(size),) * n
    elif scale_factor is not None:
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != n:
                raise TorchValueError(f"Input and scale_factor must have the same number of spatial dimensions, but "
                                      f"got input with spatial dimensions of {list(sp)} and scale_factor of shape "
                                      f"{list(scale_factor)}. Please provide input tensor in (N, C, d1, d2, ...,dK) "
                                      f"format and scale_factor in (s1, s2, ...,sK) format.")
            sf = tuple(float(s) for s in scale_factor)
        else:
            sf = (float(scale_factor),) * n
        out = tuple(int(math.floor(float(i) * s)) for i, s in zip(sp, sf))
        if not recompute_scale_factor:
            scales = sf
    else:
        raise TorchValueError("either size or scale_factor should be defined")
    if antialias and (mode not in ("bilinear", "bicubic", "lanczos") or n != 2):
        # torch checks this after sizing, so size/scale_factor errors come first
        raise TorchValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos modes and requires "
                              "a 4-D tensor as input")
    if mode == "lanczos":
        if n != 2:
            raise NotImplementedError(_interp_rank_msg(input, mode))
        if align_corners:
            raise TorchValueError("Lanczos mode does not support align_corners=True")
        if not antialias:
            raise TorchValueError("Lanczos mode requires antialias=True")
    if antialias:
        return OPS["_interpolate"](input, out, _AA_KERNEL[mode], align_corners, scales, True)
    if mode == "area":
        return [adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d][n - 1](input, out)
    m = {"bilinear": "linear", "trilinear": "linear", "bicubic": "cubic"}.get(mode, mode)
    return OPS["_interpolate"](input, out, m, align_corners if mode in _INTERP_DIMS else None, scales)


def _upsample_aa(mode, input, output_size, align_corners, scale_factors, scales_h, scales_w):
    """aten's _upsample_{bilinear,bicubic,lanczos}2d_aa: the 4th positional argument is the .vec overload's
    scale_factors list or the default overload's scales_h."""
    if scale_factors is not None and not isinstance(scale_factors, (list, tuple)):
        scale_factors, scales_h = None, scale_factors
    if input.dim() != 4:
        raise RuntimeError(f"It is expected input_size equals to 4, but got size {input.dim()}")
    sp = tuple(input.shape[2:])
    if scale_factors is not None or output_size is None:
        if (output_size is None) == (scale_factors is None):
            raise RuntimeError("Must specify exactly one of output_size and scale_factors")
        if len(scale_factors) != 2:
            raise RuntimeError("Expected static_cast<int64_t>(scale_factors->size()) == spatial_dimensions to be "
                               "true, but got false.")
        scales = tuple(float(f) for f in scale_factors)
        out = tuple(int(math.floor(float(i) * f)) for i, f in zip(sp, scales))
    else:
        if len(output_size) != 2:
            raise RuntimeError(f"It is expected output_size equals to 2, but got size {len(output_size)}")
        out = tuple(int(o) for o in output_size)
        scales = None if scales_h is None and scales_w is None else \
            tuple(None if f is None else float(f) for f in (scales_h, scales_w))
    return OPS["_interpolate"](input, out, mode, bool(align_corners), scales, True)


def _upsample_bilinear2d_aa(input, output_size, align_corners, scale_factors=None, scales_w=None, *,
                            scales_h=None):
    return _upsample_aa("linear", input, output_size, align_corners, scale_factors, scales_h, scales_w)


def _upsample_bicubic2d_aa(input, output_size, align_corners, scale_factors=None, scales_w=None, *,
                           scales_h=None):
    return _upsample_aa("cubic", input, output_size, align_corners, scale_factors, scales_h, scales_w)


def _upsample_lanczos2d_aa(input, output_size, align_corners, scale_factors=None, scales_w=None, *,
                           scales_h=None):
    return _upsample_aa("lanczos", input, output_size, align_corners, scale_factors, scales_h, scales_w)


def _warn_deprecated(name):
    warnings.warn(f"`nn.functional.{name}` is deprecated. Use `nn.functional.interpolate` instead.", stacklevel=3)


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None):
    _warn_deprecated("upsample")
    return interpolate(input, size, scale_factor, mode, align_corners, recompute_scale_factor)


def upsample_nearest(input, size=None, scale_factor=None):
    _warn_deprecated("upsample_nearest")
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    _warn_deprecated("upsample_bilinear")
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise TorchValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or "
                              f"'bicubic', but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise TorchValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
                              f"'reflection', but got: '{padding_mode}'")
    return OPS["grid_sample"](input, grid, mode, padding_mode, bool(align_corners))


def affine_grid(theta, size, align_corners=None):
    return OPS["affine_grid"](theta, tuple(int(s) for s in size), bool(align_corners))


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    return OPS["im2col"](input, kernel_size, dilation, padding, stride)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    return OPS["col2im"](input, output_size, kernel_size, dilation, padding, stride)


# ------------------------------------------------------------------------------------ attention
def _keep_mask(shape, p, device=None):
    import jtorch
    return jtorch.rand(shape, device=device) >= p


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    dmask = None
    if dropout_p > 0.0:
        import numpy as np
        L, S = query.shape[-2], key.shape[-2]
        batch = np.broadcast_shapes(tuple(query.shape[:-2]), tuple(key.shape[:-2]))
        dmask = _keep_mask(tuple(batch) + (L, S), dropout_p, query.device)
    return OPS["scaled_dot_product_attention"](query, key, value, attn_mask, float(dropout_p), bool(is_causal),
                                               None if scale is None else float(scale), bool(enable_gqa), dmask,
                                               _cudnn=_fused_kernel_allowed(query))


def _fused_kernel_allowed(query):
    """cuDNN flash attention may run: the query is on a CUDA device and sdpa_kernel allows a fused kernel."""
    from .attention import SDPBackend, _cur_sdpa_kernel_backends
    dev = getattr(query, "device", None)
    return getattr(dev, "type", None) == "cuda" and any(
        b in _cur_sdpa_kernel_backends() for b in (SDPBackend.FLASH_ATTENTION, SDPBackend.CUDNN_ATTENTION))


def _canonical_mask(mask, mask_name, other_name, target_type, check_other=True):
    """bool masks (True = masked out) become float masks with -inf; float masks pass through."""
    if mask is None:
        return None
    import jtorch
    if mask.dtype is jtorch.bool:
        return jtorch.zeros_like(mask, dtype=target_type).masked_fill_(mask, float("-inf"))
    if not mask.dtype.is_floating_point:
        raise AssertionError(f"only bool and floating types of {mask_name} are supported")
    return mask


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias,
                                 bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias,
                                 training=True, key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None, k_proj_weight=None,
                                 v_proj_weight=None, static_k=None, static_v=None, average_attn_weights=True,
                                 is_causal=False):
    import jtorch
    linear = OPS["linear"]
    batched = query.dim() == 3
    if query.dim() not in (2, 3):
        raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received {query.dim()}-D query "
                             f"tensor")
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if key.shape[:2] != value.shape[:2]:
        raise AssertionError(f"key shape {tuple(key.shape)} does not match value shape {tuple(value.shape)}")
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                           "method `generate_square_subsequent_mask` to create this mask.")
    ftype = query.dtype
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask", "attn_mask", ftype)
    attn_mask = _canonical_mask(attn_mask, "attn_mask", None, ftype, check_other=False)

    # in-projection
    if not use_separate_proj_weight:
        if query is key and key is value:
            q, k, v = linear(query, in_proj_weight, in_proj_bias).chunk(3, dim=-1)
        else:
            wq, wk, wv = in_proj_weight.chunk(3)
            bq, bk, bv = (None, None, None) if in_proj_bias is None else in_proj_bias.chunk(3)
            q, k, v = linear(query, wq, bq), linear(key, wk, bk), linear(value, wv, bv)
    else:
        bq, bk, bv = (None, None, None) if in_proj_bias is None else in_proj_bias.chunk(3)
        q, k, v = linear(query, q_proj_weight, bq), linear(key, k_proj_weight, bk), linear(value, v_proj_weight, bv)

    if attn_mask is not None:
        if attn_mask.dim() == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError(f"The shape of the 2D attn_mask is {tuple(attn_mask.shape)}, but should be "
                                   f"{(tgt_len, src_len)}.")
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.dim() == 3:
            if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
                raise RuntimeError(f"The shape of the 3D attn_mask is {tuple(attn_mask.shape)}, but should be "
                                   f"{(bsz * num_heads, tgt_len, src_len)}.")
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")

    if bias_k is not None and bias_v is not None:
        if static_k is not None or static_v is not None:
            raise AssertionError("bias cannot be added to static key/value.")
        k = jtorch.cat([k, bias_k.repeat(1, bsz, 1)])
        v = jtorch.cat([v, bias_v.repeat(1, bsz, 1)])
        if attn_mask is not None:
            attn_mask = pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pad(key_padding_mask, (0, 1))

    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1) if static_k is None else static_k
    v = v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1) if static_v is None else static_v
    if add_zero_attn:
        k = jtorch.cat([k, jtorch.zeros((bsz * num_heads, 1, head_dim), dtype=k.dtype, device=k.device)], dim=1)
        v = jtorch.cat([v, jtorch.zeros((bsz * num_heads, 1, head_dim), dtype=v.dtype, device=v.device)], dim=1)
        if attn_mask is not None:
            attn_mask = pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pad(key_padding_mask, (0, 1))
    src_len = k.shape[1]
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (bsz, src_len):
            raise AssertionError(f"expecting key_padding_mask shape of {(bsz, src_len)}, but got "
                                 f"{tuple(key_padding_mask.shape)}")
        kpm = key_padding_mask.reshape(bsz, 1, 1, src_len).expand(-1, num_heads, -1, -1) \
            .reshape(bsz * num_heads, 1, src_len)
        attn_mask = kpm if attn_mask is None else attn_mask + kpm
    if not training:
        dropout_p = 0.0

    if need_weights:
        out, w = _sdpa_weights(q, k, v, attn_mask, dropout_p)
        out = out.transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
        out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, -1)
        w = w.reshape(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            w = w.mean(dim=1)
        if not batched:
            out, w = out.squeeze(1), w.squeeze(0)
        return out, w
    if attn_mask is not None:
        if attn_mask.shape[0] == 1 and attn_mask.dim() == 3:
            attn_mask = attn_mask.unsqueeze(0)
        else:
            attn_mask = attn_mask.reshape(bsz, num_heads, -1, src_len)
    q = q.reshape(bsz, num_heads, tgt_len, head_dim)
    k = k.reshape(bsz, num_heads, src_len, head_dim)
    v = v.reshape(bsz, num_heads, src_len, head_dim)
    out = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, False)
    out = out.permute(2, 0, 1, 3).reshape(bsz * tgt_len, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, -1)
    if not batched:
        out = out.squeeze(1)
    return out, None


def _sdpa_weights(q, k, v, mask, dropout_p):
    dmask = None
    if dropout_p > 0.0:
        dmask = _keep_mask((q.shape[0], q.shape[1], k.shape[1]), dropout_p, q.device)
    return OPS["scaled_dot_product_attention"](q, k, v, mask, float(dropout_p), False, None, False, dmask, True)
