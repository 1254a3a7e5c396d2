"""clip_grad_norm_, clip_grad_value_, get_total_norm, clip_grads_with_norm_."""
import warnings

from ..._tensor import Tensor
from ...autograd.grad_mode import no_grad

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]


def _tensors(x):
    if isinstance(x, Tensor):
        return [x]
    return list(x)


def _grads(parameters):
    return [p.grad for p in _tensors(parameters) if p.grad is not None]


_KERNELS = {}


def _norm_kernel(n, norm_type):
    """One jitted program: the total p-norm over a list of grads (each reduced in float32 or wider)."""
    key = (n, norm_type)
    k = _KERNELS.get(key)
    if k is None:
        import jax
        import jax.numpy as jnp

        def f(*gs):
            if norm_type == float("inf"):
                ns = [jnp.max(jnp.abs(g)).astype(jnp.float32 if g.dtype.itemsize < 4 else g.dtype) for g in gs]
                return jnp.max(jnp.stack([x.astype(ns[0].dtype) for x in ns]))
            if norm_type == float("-inf"):
                ns = [jnp.min(jnp.abs(g)) for g in gs]
                return jnp.min(jnp.stack([x.astype(ns[0].dtype) for x in ns]))
            ns = [jnp.linalg.norm(g.reshape(-1).astype(jnp.float32) if g.dtype.itemsize < 4 else g.reshape(-1),
                                  ord=norm_type) for g in gs]
            return jnp.linalg.norm(jnp.stack([x.astype(ns[0].dtype) for x in ns]), ord=norm_type)
        k = _KERNELS[key] = jax.jit(f)
    return k


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The norm of the per-tensor norms (computed in one jitted program)."""
    from ..._tensor import wrap
    from ... import _creation
    tensors = [t for t in _tensors(tensors) if t is not None]
    norm_type = float(norm_type)
    if len(tensors) == 0:
        return _creation.tensor(0.0)
    total = wrap(_norm_kernel(len(tensors), norm_type)(*[t._value for t in tensors]))
    first_dtype = tensors[0].dtype
    if total.dtype is not first_dtype and first_dtype.is_floating_point:
        total = total.to(first_dtype)
    if error_if_nonfinite:
        import jax
        v = total._value
        if not isinstance(v, jax.core.Tracer) and not bool(jax.numpy.isfinite(v)):
            raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
                               "so it cannot be clipped. To disable this error and scale the gradients by the "
                               "non-finite norm anyway, set `error_if_nonfinite=False`")
    return total


_SCALE = {}


def _scale_kernel(n):
    k = _SCALE.get(n)
    if k is None:
        import jax
        import jax.numpy as jnp

        def f(max_norm, total, *gs):
            coef = jnp.minimum(max_norm / (total.astype(jnp.float32 if total.dtype.itemsize < 4 else total.dtype)
                                           + 1e-6), 1.0)
            return tuple((g * coef.astype(g.dtype)) for g in gs)
        k = _SCALE[n] = jax.jit(f)
    return k


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    params = [p for p in _tensors(parameters) if p.grad is not None]
    if not params:
        return
    grads = [p._grad for p in params]
    tn = total_norm._value if isinstance(total_norm, Tensor) else total_norm
    new = _scale_kernel(len(grads))(float(max_norm), tn, *[g._value for g in grads])
    with no_grad():
        for g, v in zip(grads, new):
            g._set_value(v)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale all grads so their total norm is at most max_norm; returns the total norm (before clipping)."""
    params = [p for p in _tensors(parameters)]
    grads = [p._grad for p in params if p._grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    if grads:
        clip_grads_with_norm_(params, max_norm, total, foreach)
    return total


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`torch.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value, foreach=None):
    clip_value = float(clip_value)
    with no_grad():
        for p in _tensors(parameters):
            g = p._grad
            if g is not None:
                g.clamp_(min=-clip_value, max=clip_value)
