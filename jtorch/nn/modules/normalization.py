"""LayerNorm, GroupNorm, RMSNorm, LocalResponseNorm, CrossMapLRN2d."""
import numbers

from ... import _creation
from ..parameter import Parameter
from .. import functional as F
from .. import init
from .module import Module

__all__ = ["LocalResponseNorm", "CrossMapLRN2d", "LayerNorm", "GroupNorm", "RMSNorm"]


class LocalResponseNorm(Module):
    __constants__ = ["size", "alpha", "beta", "k"]

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input):
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return "{size}, alpha={alpha}, beta={beta}, k={k}".format(**self.__dict__)


class CrossMapLRN2d(LocalResponseNorm):
    def forward(self, input):
        if input.dim() != 4:
            raise ValueError(f"CrossMapLRN2d: Expected input to be 4D, got {input.dim()}D instead.")
        return _cross_map_lrn2d(input, self.size, self.alpha, self.beta, self.k)


def _channel_window_sum(x, lo, hi):
    """Per channel c, the sum of x over channels lo[c]..hi[c] (inclusive, clipped; empty when hi < lo)."""
    from ... import tensor, int64, cat, zeros_like
    csum = cat([zeros_like(x[:, :1]), x.cumsum(1)], 1)     # csum[:, i] = sum of channels < i
    channels = x.size(1)
    hi = [min(max(h + 1, 0), channels) for h in hi]
    lo = [min(max(l, 0), h) for l, h in zip(lo, hi)]
    return csum.index_select(1, tensor(hi, dtype=int64)) - csum.index_select(1, tensor(lo, dtype=int64))


def _cross_map_lrn2d_scale(input, size, alpha, k):
    """torch's legacy (Lua-era) running window, which differs from LocalResponseNorm's: channel c sums the
    squares of channels 0..c+pre_pad-1 except 1..c-pre_pad, so channel 0 stays in every window."""
    channels = input.size(1)
    pre_pad = int((size - 1) / 2 + 1)
    sq = input.pow(2)
    up_to = _channel_window_sum(sq, [0] * channels, [c + pre_pad - 1 for c in range(channels)])
    dropped = _channel_window_sum(sq, [1] * channels, [c - pre_pad for c in range(channels)])
    return (up_to - dropped) * (alpha / size) + k


def _cross_map_lrn2d(input, size, alpha, beta, k):
    """An autograd.Function because torch's backward is its own formula (a window offset by
    size - (size-1)/2 channels), not the exact derivative of its forward; jtorch reproduces both."""
    from ...autograd import Function

    class CrossMapLRN2dFn(Function):
        @staticmethod
        def forward(ctx, x):
            scale = _cross_map_lrn2d_scale(x, size, alpha, k)
            out = x * scale.pow(-beta)
            ctx.save_for_backward(x, out, scale)
            return out

        @staticmethod
        def backward(ctx, grad_output):
            x, out, scale = ctx.saved_tensors
            channels = x.size(1)
            inv_pre_pad = int(size - (size - 1) / 2)
            ratio = grad_output * out / scale
            accum = _channel_window_sum(ratio, [c - inv_pre_pad for c in range(channels)],
                                        [c + size - 1 - inv_pre_pad for c in range(channels)])
            return scale.pow(-beta) * grad_output - (2 * alpha * beta / size) * x * accum

    return CrossMapLRN2dFn.apply(input)


def _shape(normalized_shape):
    if isinstance(normalized_shape, numbers.Integral):
        return (int(normalized_shape),)
    return tuple(int(s) for s in normalized_shape)


class LayerNorm(Module):
    __constants__ = ["normalized_shape", "eps", "elementwise_affine"]

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None):
        factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__()
        self.normalized_shape = _shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if self.elementwise_affine:
            self.weight = Parameter(_creation.empty(self.normalized_shape, **factory_kwargs))
            if bias:
                self.bias = Parameter(_creation.empty(self.normalized_shape, **factory_kwargs))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        if self.elementwise_affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return ("{normalized_shape}, eps={eps}, elementwise_affine={elementwise_affine}".format(**self.__dict__)
                + f", bias={self.bias is not None}")


class GroupNorm(Module):
    __constants__ = ["num_groups", "num_channels", "eps", "affine"]

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, bias=True, device=None, dtype=None):
        factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__()
        if num_channels % num_groups != 0:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        if self.affine:
            self.weight = Parameter(_creation.empty(num_channels, **factory_kwargs))
            if bias:
                self.bias = Parameter(_creation.empty(num_channels, **factory_kwargs))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input):
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return ("{num_groups}, {num_channels}, eps={eps}, affine={affine}".format(**self.__dict__)
                + f", bias={self.bias is not None}")


class RMSNorm(Module):
    __constants__ = ["normalized_shape", "eps", "elementwise_affine"]

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None, dtype=None):
        factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__()
        self.normalized_shape = _shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if self.elementwise_affine:
            self.weight = Parameter(_creation.empty(self.normalized_shape, **factory_kwargs))
        else:
            self.register_parameter("weight", None)
        self.reset_parameters()

    def reset_parameters(self):
        if self.elementwise_affine:
            init.ones_(self.weight)

    def forward(self, x):
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return "{normalized_shape}, eps={eps}, elementwise_affine={elementwise_affine}".format(**self.__dict__)
