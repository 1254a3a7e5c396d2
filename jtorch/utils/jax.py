"""jtorch.utils.jax: hand tensors and modules to JAX code, and back, without copies.

- `to_jax(tensor)` / `from_jax(array)`: the same device buffer seen from the other side (a jtorch
  Tensor holds a `jax.Array`; nothing is copied). Pytrees are converted leaf by leaf.
  DLPack works too: `jtorch.from_dlpack(jax_array)`, `jax.dlpack.from_dlpack(tensor)`, and
  `jnp.asarray(tensor)` (Tensor has `__jax_array__`).
- `module_to_jax(module)`: a jtorch `nn.Module` as a pure `fn(params, buffers, *args)` plus its
  `params` and `buffers` as dicts of jax arrays keyed by state_dict names, for `jax.jit`,
  `jax.grad`, `jax.vmap` and optax.
"""
import jax

from .._tensor import Tensor, wrap

__all__ = ["to_jax", "from_jax", "module_to_jax"]


def _is_tensor(x):
    return isinstance(x, Tensor)


def to_jax(tree):
    """Tensor(s) -> jax.Array(s), zero-copy; works on pytrees (dicts, lists, tuples of tensors)."""
    return jax.tree_util.tree_map(lambda x: x.detach()._value if _is_tensor(x) else x, tree, is_leaf=_is_tensor)


def from_jax(tree):
    """jax.Array(s) (or tracers) -> Tensor(s), zero-copy; works on pytrees."""
    def conv(x):
        if isinstance(x, (jax.Array, jax.core.Tracer)):
            if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
                raise TypeError("from_jax: PRNG key arrays have no torch dtype; pass jax.random.key_data(key)")
            return wrap(x)
        return x
    return jax.tree_util.tree_map(conv, tree)


def module_to_jax(module, return_buffers=False):
    """Expose a jtorch module as a pure JAX function.

    Returns `(fn, params, buffers)`: `params` and `buffers` are dicts (state_dict names) of jax
    arrays, and `fn(params, buffers, *args, **kwargs)` runs `module` with those values and returns
    its output as jax arrays. `fn` is pure: jit it, differentiate it with `jax.grad` w.r.t. params,
    vmap it. With `return_buffers=True`, `fn` returns `(output, new_buffers)` so running-stat
    updates (BatchNorm in train mode) come out functionally, as Flax's `mutable=` does. The
    module's own tensors are left untouched; `module.train()`/`eval()` chooses the mode.
    """
    from ..func import functional_call, _no_record
    params = {k: v.detach()._value for k, v in module.named_parameters()}
    buffers = {k: v.detach()._value for k, v in module.named_buffers()}

    def fn(params, buffers, *args, **kwargs):
        p = {k: wrap(v) for k, v in params.items()}
        b = {k: wrap(v) for k, v in buffers.items()}
        with _no_record():  # jax differentiates this trace; jtorch's tape must not record it
            out = functional_call(module, (p, b), tuple(from_jax(list(args))), from_jax(kwargs))
        out = to_jax(out)
        if return_buffers:
            return out, {k: t._value for k, t in b.items()}
        return out
    return fn, params, buffers
