"""jtorch.nn.init: torch's initialisers, fan computation and gains. All run under no_grad and write
the tensor in place (its identity is kept)."""
import math
import warnings

from .. import _random
from ..autograd.grad_mode import no_grad

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_",
           "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_",
           "sparse_", "uniform", "normal", "constant", "eye", "dirac", "xavier_uniform", "xavier_normal",
           "kaiming_uniform", "kaiming_normal", "orthogonal", "sparse"]


def calculate_gain(nonlinearity, param=None):
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                  "conv_transpose3d"]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1
    elif nonlinearity == "tanh":
        return 5.0 / 3
    elif nonlinearity == "relu":
        return math.sqrt(2.0)
    elif nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope ** 2))
    elif nonlinearity == "selu":
        return 3.0 / 4
    else:
        raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _write(tensor, arr):
    """Overwrite tensor's value in place, outside autograd (on the tensor's own device)."""
    try:
        import jax
        dst = tensor._value
        if len(dst.devices()) > 1:  # a sharded (FSDP) parameter keeps its placement
            if arr.sharding != dst.sharding:
                arr = jax.device_put(arr, dst.sharding)
        elif dst.committed and next(iter(arr.devices())) != next(iter(dst.devices())):
            arr = jax.device_put(arr, next(iter(dst.devices())))   # (an uncommitted dst has no device to keep)
    except Exception:  # tracers while compiling: placement is the compiler's business
        pass
    tensor._set_value(arr)
    return tensor


def _draw(tensor, kind, generator, *params):
    if tensor.is_meta:   # nothing to fill, and (as in torch) the CPU generator is not consumed
        import jax
        return jax.ShapeDtypeStruct(tuple(tensor.shape), tensor.dtype.np)
    return _random.draw(kind, tuple(tensor.shape), tensor.dtype, generator, *params)


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    return _write(tensor, _draw(tensor, "uniform", generator, a, b))


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    return _write(tensor, _draw(tensor, "normal", generator, mean, std))


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Inverse-CDF sampling of N(mean, std) truncated to [a, b], as torch."""
    def norm_cdf(x):
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    if (mean < a - 2 * std) or (mean > b + 2 * std):
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. The distribution of values may "
                      "be incorrect.", stacklevel=2)
    with no_grad():
        lo = norm_cdf((a - mean) / std)
        hi = norm_cdf((b - mean) / std)
        import jax.numpy as jnp
        import jax.scipy.special as jss
        u = _draw(tensor, "uniform", generator, 2 * lo - 1, 2 * hi - 1)
        x = jss.erfinv(u.astype(jnp.float32) if u.dtype in (jnp.float16, jnp.bfloat16) else u)
        x = x * (std * math.sqrt(2.0)) + mean
        x = jnp.clip(x, a, b).astype(u.dtype)
        return _write(tensor, x)


def constant_(tensor, val):
    import jax.numpy as jnp
    return _write(tensor, jnp.full(tuple(tensor.shape), val, tensor._value.dtype))


def ones_(tensor):
    return constant_(tensor, 1.0)


def zeros_(tensor):
    return constant_(tensor, 0.0)


def eye_(tensor):
    if tensor.ndimension() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    import jax.numpy as jnp
    return _write(tensor, jnp.eye(*tensor.shape, dtype=tensor._value.dtype))


def dirac_(tensor, groups=1):
    dimensions = tensor.ndimension()
    if dimensions not in [3, 4, 5]:
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    sizes = tensor.size()
    if sizes[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    import numpy as np
    out_chans_per_grp = sizes[0] // groups
    min_dim = min(out_chans_per_grp, sizes[1])
    arr = np.zeros(tuple(sizes), dtype=np.float64)
    for g in range(groups):
        for d in range(min_dim):
            idx = (g * out_chans_per_grp + d, d) + tuple(s // 2 for s in sizes[2:])
            arr[idx] = 1
    import jax.numpy as jnp
    return _write(tensor, jnp.asarray(arr, tensor._value.dtype))


def _calculate_fan_in_and_fan_out(tensor):
    dimensions = tensor.dim()
    if dimensions < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    num_input_fmaps = tensor.size(1)
    num_output_fmaps = tensor.size(0)
    receptive_field_size = 1
    if tensor.dim() > 2:
        for s in tensor.shape[2:]:
            receptive_field_size *= s
    fan_in = num_input_fmaps * receptive_field_size
    fan_out = num_output_fmaps * receptive_field_size
    return fan_in, fan_out


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    valid_modes = ["fan_in", "fan_out"]
    if mode not in valid_modes:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid_modes}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def xavier_uniform_(tensor, gain=1.0, generator=None):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op")
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    std = gain / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op")
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    std = gain / math.sqrt(fan)
    return normal_(tensor, 0, std, generator)


def orthogonal_(tensor, gain=1, generator=None):
    if tensor.ndimension() < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    import jax.numpy as jnp
    rows = tensor.size(0)
    cols = tensor.numel() // rows
    from .. import _dtype as D
    flat = _random.draw("normal", (rows, cols), D.float32 if tensor.dtype.itemsize < 4 else tensor.dtype, generator,
                        0.0, 1.0)
    if rows < cols:
        flat = flat.T
    q, r = jnp.linalg.qr(flat)
    d = jnp.sign(jnp.diagonal(r))
    q = q * d[None, :]
    if rows < cols:
        q = q.T
    return _write(tensor, (q.reshape(tuple(tensor.shape)) * gain).astype(tensor._value.dtype))


def sparse_(tensor, sparsity, std=0.01, generator=None):
    if tensor.ndimension() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    import jax
    import jax.numpy as jnp
    rows, cols = tensor.shape
    num_zeros = int(math.ceil(sparsity * rows))
    vals = _draw(tensor, "normal", generator, 0.0, std)
    keys = _random.draw("uniform", (rows, cols), tensor.dtype if tensor.dtype.itemsize >= 4 else
                        __import__("jtorch").float32, generator, 0.0, 1.0)
    # for each column, zero the num_zeros rows with the smallest random keys (a random permutation prefix)
    ranks = jnp.argsort(jnp.argsort(keys, axis=0), axis=0)
    vals = jnp.where(ranks < num_zeros, 0, vals).astype(vals.dtype)
    return _write(tensor, vals)


def _make_deprecate(meth):
    new_name = meth.__name__
    old_name = new_name[:-1]

    def deprecated_init(*args, **kwargs):
        warnings.warn(f"`nn.init.{old_name}` is now deprecated in favor of `nn.init.{new_name}`.", FutureWarning,
                      stacklevel=2)
        return meth(*args, **kwargs)
    deprecated_init.__name__ = old_name
    return deprecated_init


uniform = _make_deprecate(uniform_)
normal = _make_deprecate(normal_)
constant = _make_deprecate(constant_)
eye = _make_deprecate(eye_)
dirac = _make_deprecate(dirac_)
xavier_uniform = _make_deprecate(xavier_uniform_)
xavier_normal = _make_deprecate(xavier_normal_)
kaiming_uniform = _make_deprecate(kaiming_uniform_)
kaiming_normal = _make_deprecate(kaiming_normal_)
orthogonal = _make_deprecate(orthogonal_)
sparse = _make_deprecate(sparse_)
