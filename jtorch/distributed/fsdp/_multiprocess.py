"""FSDP across several processes (torchrun / jtorchrun over jax.distributed), the way torch does it.

At rest every parameter is ONE global jax.Array over a mesh of all processes' devices, sharded along
dim 0 (replicated when dim 0 does not divide), so each process holds only its shard; gradients and
the optimizer state created from them are sharded the same way, and optimizer steps run as SPMD
kernels (every rank calls the same ops, as in any torch FSDP script).
Forward keeps torch's per-rank semantics: each rank feeds its own local batch and gets local
outputs and a local loss. Before the wrapped module runs, every parameter is unsharded (all-gather
into a full local copy); the backward of that unshard is torch's reduce-scatter of the local full
gradients, divided by the world size (gradients averaged over ranks, as torch's FSDP and DDP do),
so training equals single-process full-batch training when the ranks split the batch evenly.
"""
import functools

import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from ...autograd.function import Function

AXIS = "dp"


def global_mesh():
    """All devices of all processes, on the platform the local default lives on, as one 'dp' axis."""
    return jax.sharding.Mesh(np.asarray(jax.devices(), dtype=object), (AXIS,))


def is_global(arr):
    return isinstance(arr, jax.Array) and not arr.is_fully_addressable


def place_global(arr, sharding):
    """A global array with `sharding` whose local shards come from this rank's full value `arr`."""
    host = np.asarray(arr)
    return jax.make_array_from_callback(host.shape, sharding, lambda idx: host[idx])


def _replicated_copies(local, sharding):
    """A global array over `sharding` (replicated spec) built from this rank's own `local` value; the
    ranks' values differ (they are per-rank gradients), which only the shard_map below reads."""
    devs = [d for d in sharding.mesh.devices.flat if d.process_index == jax.process_index()]
    return jax.make_array_from_single_device_arrays(local.shape, sharding, [jax.device_put(local, d) for d in devs])


@functools.lru_cache(maxsize=None)
def _gather_fn(sharding):
    rep = NamedSharding(sharding.mesh, P())
    return jax.jit(lambda a: a, out_shardings=rep)


@functools.lru_cache(maxsize=None)
def _reduce_scatter_fn(sharding):
    mesh = sharding.mesh
    n = mesh.shape[AXIS]
    spec = sharding.spec
    sharded = len(spec) > 0 and spec[0] is not None

    def body(g):
        if sharded:
            return jax.lax.psum_scatter(g, AXIS, scatter_dimension=0, tiled=True) / n
        return jax.lax.psum(g, AXIS) / n
    return jax.jit(jax.shard_map(body, mesh=mesh, in_specs=P(), out_specs=spec if sharded else P()))


def full_local(arr):
    """The full value of a global array as an array on this process's first local device (every
    rank must call it: it is an all-gather)."""
    if not is_global(arr):
        return arr
    return _gather_fn(arr.sharding)(arr).addressable_data(0)


class _Unshard(Function):
    """sharded global parameter -> full local copy; backward: reduce-scatter (mean over ranks)."""

    @staticmethod
    def forward(ctx, p):
        from ..._tensor import wrap
        ctx.sharding = p._value.sharding
        return wrap(full_local(p._value))

    @staticmethod
    def backward(ctx, g):
        from ..._tensor import wrap
        sh = ctx.sharding
        local = jax.device_put(g._value, next(d for d in sh.mesh.devices.flat
                                               if d.process_index == jax.process_index()))
        return wrap(_reduce_scatter_fn(sh)(_replicated_copies(local, NamedSharding(sh.mesh, P()))))


def shard_params(module, mesh, params, sharded=True):
    """Re-place each parameter in place as a global array (dim 0 split when it divides); buffers are
    left as local per-rank tensors (torch keeps them unsharded and per rank)."""
    n = mesh.shape[AXIS]
    for p in params:
        if p.__dict__.get("_jtorch_fsdp_global"):   # already managed by a nested fully_shard
            continue
        if getattr(p, "_meta_shape", None) is not None:
            raise RuntimeError("FSDP: parameters on the meta device must be materialized first")
        shape = tuple(p.shape)
        spec = P(AXIS) if sharded and len(shape) >= 1 and shape[0] % n == 0 else P()
        base = p._base if p._base is not None else p
        base._data = place_global(base._value, NamedSharding(mesh, spec))
        p.__dict__["_jtorch_fsdp_global"] = True


def _owned(module):
    """(submodule, name, param) for every global parameter, each parameter once."""
    seen, out = set(), []
    for m in module.modules():
        for name, p in m._parameters.items():
            if p is not None and p.__dict__.get("_jtorch_fsdp_global") and id(p) not in seen:
                seen.add(id(p))
                out.append((m, name, p))
    return out


def unshard(module):
    """Swap every global parameter for its full local copy (an autograd node back to the parameter);
    returns what `reshard` needs to put the parameters back."""
    from ...autograd.grad_mode import is_grad_enabled
    swapped = []
    cache = {}
    for m, name, p in _owned(module):
        full = cache.get(id(p))
        if full is None:
            if is_grad_enabled() and p.requires_grad:
                full = _Unshard.apply(p)
            else:
                from ..._tensor import wrap
                full = wrap(full_local(p._value))
            cache[id(p)] = full
        swapped.append((m, name, p))
        m._parameters[name] = full
    for m in module.modules():   # a parameter shared by two modules: both get the same full copy
        for name, p in list(m._parameters.items()):
            if p is not None and id(p) in cache and p.__dict__.get("_jtorch_fsdp_global"):
                swapped.append((m, name, p))
                m._parameters[name] = cache[id(p)]
    return swapped


def reshard(swapped):
    for m, name, p in swapped:
        m._parameters[name] = p


def run_unsharded(module, *args, **kwargs):
    swapped = unshard(module)
    try:
        return module(*args, **kwargs)
    finally:
        reshard(swapped)
