"""jtorch.nn.functional: torch's functional API. Each composite maps onto ONE registry op
(jtorch/_ops/nn_ops.py); what lives here is argument handling (legacy reduction flags, implicit
softmax dims, in-place variants, random masks drawn from the generator) and running-stat updates."""
import warnings

from .. import _random
from .._tensor import Tensor, wrap
from .._ops.channels_last import wanted as _cl_wanted
from .._ops.registry import OPS
from ..autograd.grad_mode import no_grad

_O = OPS



def _op(name):
    return _O[name]


def _inplace(input, res):
    return input._inplace_from(res)


# ------------------------------------------------------------------------------- reductions
def _legacy_reduction(size_average, reduce, emit_warning=True):
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if size_average and reduce:
        ret = "mean"
    elif reduce:
        ret = "sum"
    else:
        ret = "none"
    if emit_warning:
        warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{ret}' instead.")
    return ret


def _reduction(size_average, reduce, reduction):
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _check_reduction(reduction):
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


# ------------------------------------------------------------------------------- activations
def relu(input, inplace=False):
    return input.relu_() if inplace else _O["relu"](input)


def relu_(input):
    return input.relu_()


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    r = _O["hardtanh"](input, min_val, max_val)
    return _inplace(input, r) if inplace else r


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, True)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    r = _O["leaky_relu"](input, negative_slope)
    return _inplace(input, r) if inplace else r


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, True)


def prelu(input, weight):
    return _O["prelu"](input, weight)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    if training:
        noise = _random.draw("uniform", tuple(input.shape), input.dtype, None, lower, upper)
        r = _O["_rrelu_apply"](input, wrap(noise))
    else:
        r = _O["leaky_relu"](input, (lower + upper) / 2)
    return _inplace(input, r) if inplace else r


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return rrelu(input, lower, upper, training, True)


def elu(input, alpha=1.0, inplace=False):
    r = _O["elu"](input, alpha)
    return _inplace(input, r) if inplace else r


def elu_(input, alpha=1.0):
    return elu(input, alpha, True)


def selu(input, inplace=False):
    r = _O["selu"](input)
    return _inplace(input, r) if inplace else r


def selu_(input):
    return selu(input, True)


def celu(input, alpha=1.0, inplace=False):
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError")
    r = _O["celu"](input, alpha)
    return _inplace(input, r) if inplace else r


def celu_(input, alpha=1.0):
    return celu(input, alpha, True)


def gelu(input, approximate="none"):
    return _O["gelu"](input, approximate)


def silu(input, inplace=False):
    r = _O["silu"](input)
    return _inplace(input, r) if inplace else r


def mish(input, inplace=False):
    r = _O["mish"](input)
    return _inplace(input, r) if inplace else r


def softplus(input, beta=1.0, threshold=20.0):
    return _O["softplus"](input, beta, threshold)


def softsign(input):
    return _O["softsign"](input)


def softshrink(input, lambd=0.5):
    return _O["softshrink"](input, lambd)


def hardshrink(input, lambd=0.5):
    return _O["hardshrink"](input, lambd)


def tanhshrink(input):
    return _O["tanhshrink"](input)


def hardsigmoid(input, inplace=False):
    r = _O["hardsigmoid"](input)
    return _inplace(input, r) if inplace else r


def hardswish(input, inplace=False):
    r = _O["hardswish"](input)
    return _inplace(input, r) if inplace else r


def logsigmoid(input):
    return _O["logsigmoid"](input)


def sigmoid(input):
    return _O["sigmoid"](input)


def tanh(input):
    return _O["tanh"](input)


def threshold(input, threshold, value, inplace=False):
    r = _O["threshold"](input, threshold, value)
    return _inplace(input, r) if inplace else r


def threshold_(input, threshold, value):
    return globals()["threshold"](input, threshold, value, True)


def glu(input, dim=-1):
    if input.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    return _O["glu"](input, dim)


def _get_softmax_dim(name, ndim, stacklevel):
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X as "
                  "an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _get_softmax_dim("softmax", input.dim(), _stacklevel)
    return _O["softmax"](input, dim, dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _get_softmax_dim("log_softmax", input.dim(), _stacklevel)
    return _O["log_softmax"](input, dim, dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _get_softmax_dim("softmin", input.dim(), _stacklevel)
    return _O["softmin"](input, dim, dtype)


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.")
    g = wrap(_random.draw("exponential", tuple(logits.shape), logits.dtype, None, 1.0)).log().neg()
    y_soft = _O["softmax"]((logits + g) / tau, dim)
    if hard:
        index = y_soft.argmax(dim, keepdim=True)
        from .. import _creation
        y_hard = _creation.zeros_like(logits).scatter_(dim, index, 1.0)
        return y_hard - y_soft.detach() + y_soft
    return y_soft


# ------------------------------------------------------------------------------- linear
linear = _O["linear"]
bilinear = _O["bilinear"]


# ------------------------------------------------------------------------------- dropout
def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _dropout_mask(input, shape, p):
    return _random.draw("bernoulli", shape, input.dtype, None, 1.0 - p)


def dropout(input, p=0.5, training=True, inplace=False):
    _check_p(p)
    if not training or p == 0.0:
        return input
    mask = _dropout_mask(input, tuple(input.shape), p)
    r = _O["_dropout_apply"](input, mask, 0.0 if p == 1.0 else 1.0 / (1.0 - p))
    return _inplace(input, r) if inplace else r


def _feature_dropout(input, p, training, inplace, batched):
    _check_p(p)
    if not training or p == 0.0:
        return input
    shp = tuple(input.shape)
    nb = 2 if batched else 1
    mshape = shp[:nb] + (1,) * (len(shp) - nb)
    mask = _dropout_mask(input, mshape, p)
    r = _O["_dropout_apply"](input, mask, 0.0 if p == 1.0 else 1.0 / (1.0 - p))
    return _inplace(input, r) if inplace else r


def dropout1d(input, p=0.5, training=True, inplace=False):
    _check_p(p)
    d = input.dim()
    if d not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {d}D input. Note that dropout1d "
                           "exists to provide channel-wise dropout on inputs with 1 spatial dimension, a channel "
                           "dimension, and an optional batch dimension (i.e. 2D or 3D inputs).")
    return _feature_dropout(input, p, training, inplace, d == 3)


def dropout2d(input, p=0.5, training=True, inplace=False):
    _check_p(p)
    d = input.dim()
    if d not in (3, 4):
        warnings.warn(f"dropout2d: Received a {d}-D input to dropout2d, which is deprecated and will result in an "
                      "error in a future release. To retain the behavior and silence this warning, please use "
                      "dropout instead. Note that dropout2d exists to provide channel-wise dropout on inputs with 2 "
                      "spatial dimensions, a channel dimension, and an optional batch dimension (i.e. 3D or 4D "
                      "inputs).")
    if d == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
                      "behavior is desired - input is interpreted as shape (N, C, L), where C is the channel dim. "
                      "This behavior will change in a future release to interpret the input as one without a batch "
                      "dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise dropout behavior, please "
                      "switch to using dropout1d instead.")
    return _feature_dropout(input, p, training, inplace, d >= 3)


def dropout3d(input, p=0.5, training=True, inplace=False):
    _check_p(p)
    d = input.dim()
    if d not in (4, 5):
        warnings.warn(f"dropout3d: Received a {d}-D input to dropout3d, which is deprecated and will result in an "
                      "error in a future release. To retain the behavior and silence this warning, please use "
                      "dropout instead. Note that dropout3d exists to provide channel-wise dropout on inputs with 3 "
                      "spatial dimensions, a channel dimension, and an optional batch dimension (i.e. 4D or 5D "
                      "inputs).")
    return _feature_dropout(input, p, training, inplace, d == 5 or d not in (4, 5))


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    _check_p(p)
    if not training or p == 0.0:
        return input
    shp = tuple(input.shape)
    mshape = shp[:2] + (1,) * (len(shp) - 2)
    mask = _dropout_mask(input, mshape, p)
    r = _O["_alpha_dropout_apply"](input, mask, p)
    return _inplace(input, r) if inplace else r


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    _check_p(p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        r = input * 0.0
        return _inplace(input, r) if inplace else r
    mask = _dropout_mask(input, tuple(input.shape), p)
    r = _O["_alpha_dropout_apply"](input, mask, p)
    return _inplace(input, r) if inplace else r


# ------------------------------------------------------------------------------- normalisation
def _verify_batch_size(size):
    n = size[0]
    for i in range(len(size) - 2):
        n *= size[i + 2]
    if n == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size {size}")


def _verify_spatial_size(size):
    n = 1
    for i in range(2, len(size)):
        n *= size[i]
    if n == 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size {size}")


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-05):
    if training:
        _verify_batch_size(input.size())
    if training and eps <= 0.0:
        raise ValueError(f"batch_norm eps must be positive during training, but got {eps}")
    elif eps < 0.0:
        raise ValueError(f"batch_norm eps must be non-negative, but got {eps}")
    if input.dim() < 2:
        raise ValueError(f"Expected 2D or higher input (got {input.dim()}D input)") if input.dim() else \
            RuntimeError("batch_norm(): input must be at least 2-D")
    if momentum is None:
        momentum = 0.0
    out, rm, rv = _O["_batch_norm"](input, running_mean, running_var, weight, bias, momentum, eps, bool(training),
                                    _cl_wanted())
    if training and running_mean is not None:
        running_mean._set_value(rm._data)
        running_var._set_value(rv._data)
    return out


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-05):
    if use_input_stats:
        _verify_spatial_size(input.size())
    out, rm, rv = _O["_instance_norm"](input, running_mean, running_var, weight, bias, momentum, eps,
                                       bool(use_input_stats))
    if use_input_stats and running_mean is not None:
        running_mean._set_value(rm._data)
        running_var._set_value(rv._data)
    return out


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05):
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    return _O["layer_norm"](input, tuple(normalized_shape), weight, bias, eps)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    return _O["rms_norm"](input, tuple(normalized_shape), weight, eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-05):
    if input.dim() < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {input.dim()}")
    _verify_batch_size([input.size(0) * input.size(1) // num_groups, num_groups] + list(input.size()[2:]))
    return _O["group_norm"](input, num_groups, weight, bias, eps)


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    if input.dim() < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {input.dim()} dimensions)")
    return _O["local_response_norm"](input, size, alpha, beta, k)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    r = _O["_normalize"](input, float(p), dim, eps)
    if out is not None:
        out._set_from_out(r)
        return out
    return r


# ------------------------------------------------------------------------------- embedding
def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    n = weight.size(0)
    if padding_idx is not None:
        if padding_idx > 0:
            assert padding_idx < n, "Padding_idx must be within num_embeddings"
        elif padding_idx < 0:
            assert padding_idx >= -n, "Padding_idx must be within num_embeddings"
            padding_idx = n + padding_idx
    else:
        padding_idx = -1
    _check_embedding_indices(input, n)
    if max_norm is not None:
        with no_grad():
            weight._set_value(_O["_embedding_renorm"](weight, input, max_norm, float(norm_type))._data)
    if sparse:
        weight._sparse_rows_grad = True   # its (dense) gradient stands for a row-sparse one: SparseAdam takes it
    return _O["embedding"](weight, input, padding_idx, scale_grad_by_freq, sparse)


def _check_embedding_indices(input, num_embeddings):
    """torch raises for a token id outside [0, num_embeddings); XLA's gather would clamp it silently.
    Checked on the host in eager mode only (under jtorch.compile the values are not known)."""
    import jax
    import numpy as np
    v = getattr(input, "_value", None)
    if v is None or isinstance(v, jax.core.Tracer) or v.size == 0:
        return
    if not np.issubdtype(v.dtype, np.integer):
        return   # the op itself raises torch's dtype error
    if int(v.min()) < 0 or int(v.max()) >= num_embeddings:
        raise IndexError("index out of range in self")


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False, mode="mean",
                  sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None):
    from .. import _creation
    if weight.dtype.is_floating_point is False:
        raise ValueError("embedding_bag: weight must be a floating point tensor")
    if per_sample_weights is not None and input.size() != per_sample_weights.size():
        raise ValueError(f"embedding_bag: If per_sample_weights ({per_sample_weights.shape}) is not None, then it "
                         f"must have the same shape as the input ({input.shape})")
    if weight.dim() != 2:
        raise ValueError(f"weight has to be a 2D Tensor, but got Tensor of dimension {weight.dim()}")
    if input.dim() == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated is a mini-batch of "
                             "fixed length sequences. However, found offsets of type "
                             f"{type(offsets).__name__}")
        b, L = input.shape
        offsets = _creation.arange(0, b * L, L, dtype=input.dtype)
        input = input.reshape(-1)
        if per_sample_weights is not None:
            per_sample_weights = per_sample_weights.reshape(-1)
        num_bags = b
    elif input.dim() == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.dim() != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        num_bags = offsets.size(0) - (1 if include_last_offset else 0)
        if include_last_offset:
            offsets = offsets[:-1]
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.dim()}")
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"mode has to be one of sum, mean or max")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError("embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                  f"supported for mode='sum' (got mode='{mode}'). Please open a feature request on "
                                  "GitHub.")
    if max_norm is not None:
        with no_grad():
            weight._set_value(_O["_embedding_renorm"](weight, input, max_norm, float(norm_type))._data)
    if padding_idx is not None and padding_idx < 0:
        padding_idx = weight.size(0) + padding_idx
    if sparse:
        weight._sparse_rows_grad = True
    return _O["_embedding_bag"](weight, input, offsets, per_sample_weights, mode, num_bags, padding_idx)


def one_hot(tensor, num_classes=-1):
    if num_classes == -1:
        if tensor.numel() == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(tensor.max().item()) + 1
        if int(tensor.min().item()) < 0:
            raise RuntimeError("Class values must be non-negative.")
    return _O["_one_hot"](tensor, int(num_classes))


# ------------------------------------------------------------------------------- distances
def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    return _O["cosine_similarity"](x1, x2, dim, eps)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    return _O["pairwise_distance"](x1, x2, float(p), eps, keepdim)


def pdist(input, p=2):
    return _O["pdist"](input, float(p))


# ------------------------------------------------------------------------------- losses
def _weighted(loss_none, weight, reduction):
    if weight is not None:
        if tuple(weight.shape) != tuple(loss_none.shape):
            raise ValueError("Weights and input must have the same size.")
        loss_none = loss_none * weight
        if reduction == "mean":
            return loss_none.sum() / weight.sum()
    if reduction == "mean":
        return loss_none.mean()
    if reduction == "sum":
        return loss_none.sum()
    return loss_none


def _warn_size(input, target, name):
    if tuple(target.size()) != tuple(input.size()):
        warnings.warn(f"Using a target size ({target.size()}) that is different to the input size ({input.size()}). "
                      "This will likely lead to incorrect results due to broadcasting. Please ensure they have the "
                      "same size.", stacklevel=3)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    _warn_size(input, target, "l1")
    reduction = _reduction(size_average, reduce, reduction)
    if weight is not None:
        return _weighted(_O["l1_loss"](input, target, "none"), weight, reduction)
    return _O["l1_loss"](input, target, reduction)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    _warn_size(input, target, "mse")
    reduction = _reduction(size_average, reduce, reduction)
    if weight is not None:
        return _weighted(_O["mse_loss"](input, target, "none"), weight, reduction)
    return _O["mse_loss"](input, target, reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    _warn_size(input, target, "smooth_l1")
    reduction = _reduction(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    return _O["smooth_l1_loss"](input, target, reduction, beta)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    _warn_size(input, target, "huber")
    _check_reduction(reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    if weight is not None:
        return _weighted(_O["huber_loss"](input, target, "none", delta), weight, reduction)
    return _O["huber_loss"](input, target, reduction, delta)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                  label_smoothing=0.0):
    reduction = _reduction(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if ignore_index != -100 and target.dtype.is_floating_point:
        raise RuntimeError("ignore_index is not supported for floating point target")
    return _O["cross_entropy"](input, target, weight, ignore_index, reduction, label_smoothing)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction)
    return _O["nll_loss"](input, target, weight, ignore_index, reduction)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction)
    if tuple(target.size()) != tuple(input.size()):
        raise ValueError(f"Using a target size ({target.size()}) that is different to the input size "
                         f"({input.size()}) is deprecated. Please ensure they have the same size.")
    return _O["binary_cross_entropy"](input, target, weight, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None, reduction="mean",
                                     pos_weight=None):
    reduction = _reduction(size_average, reduce, reduction)
    if tuple(target.size()) != tuple(input.size()):
        raise ValueError(f"Target size ({target.size()}) must be the same as input size ({input.size()})")
    return _O["binary_cross_entropy_with_logits"](input, target, weight, pos_weight, reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    elif reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.")
    if reduction not in ("mean", "sum", "none", "batchmean"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return _O["kl_div"](input, target, reduction, bool(log_target))


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction)
    return _O["poisson_nll_loss"](input, target, bool(log_input), bool(full), eps, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    from .. import _creation
    if not isinstance(var, Tensor):
        var = _creation.full_like(input, float(var))
        if float(var.reshape(-1)[0].item()) < 0:
            raise ValueError("var has negative entry/entries")
    if tuple(var.size()) != tuple(input.size()):
        if tuple(input.size()[:-1]) == tuple(var.size()):
            var = var.unsqueeze(-1)
        elif input.dim() == var.dim() and sum(v for i, v in zip(input.size(), var.size()) if i != v) == 1:
            pass    # homoscedastic: var broadcasts along the one mismatched dimension (size 1)
        else:
            raise ValueError("var is of incorrect size")
    _check_reduction(reduction)
    import jax
    if not isinstance(var._value, jax.core.Tracer) and bool((var < 0).any().item()):
        raise ValueError("var has negative entry/entries")
    return _O["gaussian_nll_loss"](input, target, var, bool(full), eps, reduction)


def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction)
    if input1.dim() != input2.dim() or input1.dim() != target.dim():
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
                           f"input1: {input1.size()}, input2: {input2.size()}, target: {target.size()} ")
    return _O["margin_ranking_loss"](input1, input2, target, margin, reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction)
    return _O["hinge_embedding_loss"](input, target, margin, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction)
    return _O["soft_margin_loss"](input, target, reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction)
    return _O["multilabel_soft_margin_loss"](input, target, weight, reduction)


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction)
    return _O["multilabel_margin_loss"](input, target, reduction)


def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction)
    return _O["cosine_embedding_loss"](input1, input2, target, margin, reduction)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None, reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction)
    if p != 1 and p != 2:
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.dim() != 1:
        raise ValueError("weight must be one-dimensional")
    return _O["multi_margin_loss"](input, target, int(p), margin, weight, reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction)
    if margin <= 0:
        raise ValueError(f"TripletMarginLoss: expected margin to be greater than 0, got {margin} instead")
    a, pd, n = anchor.dim(), positive.dim(), negative.dim()
    if not (a == pd == n):
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the same number of "
                           f"dimensions, but got: anchor {a}D, positive {pd}D, and negative {n}D inputs")
    return _O["triplet_margin_loss"](anchor, positive, negative, margin, float(p), eps, bool(swap), reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0, swap=False,
                                      reduction="mean"):
    _check_reduction(reduction)
    if margin <= 0:
        raise ValueError(f"TripletMarginWithDistanceLoss: expected margin to be greater than 0, got {margin} instead")
    a, pd, n = anchor.ndim, positive.ndim, negative.ndim
    if not (a == pd == n):
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the same number of "
                           f"dimensions, but got: anchor {a}D, positive {pd}D, and negative {n}D inputs")
    dist = distance_function if distance_function is not None else pairwise_distance
    dist_pos = dist(anchor, positive)
    dist_neg = dist(anchor, negative)
    if swap:
        from .. import minimum
        dist_neg = minimum(dist_neg, dist(positive, negative))
    loss = (margin + dist_pos - dist_neg).clamp_min(0)
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.mean()
    return loss


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    _check_reduction(reduction)
    return _O["ctc_loss"](log_probs, targets, input_lengths, target_lengths, blank, reduction, bool(zero_infinity))


# ------------------------------------------------------------------------------- misc
def has_torch_function(*args):
    return False


has_torch_function_unary = has_torch_function
has_torch_function_variadic = has_torch_function


def handle_torch_function(*args, **kwargs):
    raise RuntimeError("jtorch has no __torch_function__ protocol")



def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    from .._ops.tail_ops import fractional_max_pool
    return fractional_max_pool(2, input, kernel_size, output_size, output_ratio, return_indices, _random_samples)


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    from .._ops.tail_ops import fractional_max_pool
    return fractional_max_pool(3, input, kernel_size, output_size, output_ratio, return_indices, _random_samples)


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                                       _random_samples=None):
    """Always (values, indices), as torch's *_with_indices variants."""
    return fractional_max_pool2d(input, kernel_size, output_size, output_ratio, True, _random_samples)


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                                       _random_samples=None):
    return fractional_max_pool3d(input, kernel_size, output_size, output_ratio, True, _random_samples)


def linear_cross_entropy(input, linear_weight, target, *, linear_bias=None, weight=None, reduction="mean",
                         ignore_index=None, label_smoothing=0.0, options=None):
    """cross_entropy(linear(input, linear_weight, linear_bias), target); torch may chunk the
    computation to save memory, which changes nothing in the result (XLA fuses it here)."""
    if ignore_index is not None and target.dtype.is_floating_point:
        raise RuntimeError("ignore_index cannot be specified when target contains probabilities")
    if input.size(-1) != linear_weight.size(-1):
        raise RuntimeError(f"expected equal input and linear_weight last dimensions (in_features), got "
                           f"{input.size(-1)} and {linear_weight.size(-1)}, respectively")
    if linear_weight.dim() == 2:
        logits = linear(input, linear_weight, linear_bias)
    else:   # K-dimensional loss: weight (C, d_1, ..., d_K, D) gives logits (N, C, d_1, ..., d_K)
        logits = OPS["tensordot"](input, linear_weight, ([-1], [-1]))
        if linear_bias is not None:
            logits = logits + linear_bias
    return cross_entropy(logits, target, weight=weight, reduction=reduction,
                         ignore_index=-100 if ignore_index is None else ignore_index,
                         label_smoothing=label_smoothing)


from ._functional_conv import *  # noqa: E402,F401,F403  (conv, pooling, padding, interpolate, attention, ...)

__all__ = [n for n, v in list(globals().items()) if not n.startswith("_") and not isinstance(v, type(warnings))
           and n not in ("Tensor", "wrap", "OPS", "no_grad")]


def __getattr__(name):  # a torch name jtorch lacks: say where to look and what to file
    import sys as _sys
    from .._missing import missing_attribute
    raise missing_attribute(_sys.modules[__name__], name)
