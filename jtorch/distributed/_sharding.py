"""Single-process sharding over the local JAX devices: the pieces FSDP, fully_shard, DTensor and
`shard_batch` share. A tensor stays ONE global jax.Array; only its placement (a NamedSharding over a
mesh) changes, so every op, autograd and jtorch.compile work unchanged and XLA's SPMD partitioner
inserts the all-gathers / reduce-scatters a sharded step needs (no home-made transport).

Placement rules (see docs/user_guide.md, "Sharding"):
- FSDP shards a parameter along dim 0 over the mesh's shard axis when dim 0 divides evenly;
  otherwise (and for 0-dim tensors) the parameter is replicated. Padding would change the
  tensor's shape, which torch code can see (`p.shape`, state_dict), so it is not done.
- Batches are sharded along their batch dim the same way (replicated if it does not divide).
"""
import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P


def _is_tracer(x):
    return isinstance(x, jax.core.Tracer)


def jax_mesh_of(mesh, like=None):
    """A jax.sharding.Mesh from a jtorch DeviceMesh, a jax Mesh, or None (all local devices of the
    platform `like` (a jax array) lives on, as one axis named 'dp')."""
    if mesh is None:
        plat = None
        if like is not None and not _is_tracer(like):
            try:
                plat = next(iter(like.devices())).platform
            except Exception:  # noqa: BLE001
                plat = None
        devs = jax.local_devices(backend=plat) if plat else jax.local_devices()
        return jax.sharding.Mesh(np.asarray(devs, dtype=object), ("dp",))
    if isinstance(mesh, jax.sharding.Mesh):
        return mesh
    jm = getattr(mesh, "jax_mesh", None)
    if jm is None:
        raise TypeError(f"expected a DeviceMesh or None as the mesh, got {type(mesh).__name__}")
    return jm


def dim0_sharding(shape, mesh, axes):
    """NamedSharding splitting dim 0 over the mesh `axes` (a name or a tuple of names) when it
    divides evenly; replicated otherwise."""
    axes = (axes,) if isinstance(axes, str) else tuple(axes)
    n = int(np.prod([mesh.shape[a] for a in axes])) if axes else 1
    if axes and len(shape) >= 1 and n > 1 and shape[0] % n == 0:
        spec = P(axes[0] if len(axes) == 1 else axes)
    else:
        spec = P()
    return NamedSharding(mesh, spec)


def dim_sharding(shape, mesh, axis, dim):
    """NamedSharding splitting `dim` over mesh axis `axis` when it divides evenly, else replicated."""
    n = mesh.shape[axis]
    if dim < 0:
        dim += len(shape)
    if 0 <= dim < len(shape) and shape[dim] % n == 0:
        return NamedSharding(mesh, P(*([None] * dim + [axis])))
    return NamedSharding(mesh, P())


def place(arr, sharding):
    """arr with `sharding`: device_put for concrete arrays, a sharding constraint while tracing
    (so the compiled program keeps the placement instead of gathering)."""
    if _is_tracer(arr):
        return jax.lax.with_sharding_constraint(arr, sharding)
    if getattr(arr, "sharding", None) == sharding:
        return arr
    return jax.device_put(arr, sharding)


def place_tensor_(t, sharding):
    """Re-place a tensor's storage in place (identity kept: optimizers and modules hold it)."""
    base = t._base if t._base is not None else t
    base._data = place(base._value, sharding)
    if t._grad is not None:
        t._grad._data = place(t._grad._value, sharding)
    return t


def gather(arr, device=None):
    """The full value on one device (the first device of the array's own set, or `device`)."""
    if _is_tracer(arr):
        return arr
    if not arr.is_fully_addressable:   # spans other processes: all-gather, keep this rank's copy
        from .fsdp._multiprocess import full_local
        arr = full_local(arr)
        return arr if device is None else jax.device_put(arr, device)
    if device is None:
        if len(arr.devices()) <= 1:
            return arr
        device = min(arr.devices(), key=lambda d: d.id)
    return jax.device_put(arr, device)


def per_device_bytes(arrays):
    """Bytes the arrays occupy on their most loaded device (what must fit in one device's memory)."""
    used = {}
    for a in arrays:
        for s in a.addressable_shards:
            used[s.device] = used.get(s.device, 0) + s.data.nbytes
    return max(used.values()) if used else 0


def shard_batch(tensor, mesh=None, dim=0, mesh_dim=None):
    """jtorch.distributed.shard_batch: the same tensor with its batch dim split over the mesh (the
    TPU way to data-parallel in one process: a compiled step on such inputs runs on every device).
    Returns a new Tensor (values unchanged); replicated when `dim` does not divide evenly. Batches
    are data, so a tensor that requires grad is refused rather than silently cut from its graph."""
    from .._tensor import Tensor, wrap
    if not isinstance(tensor, Tensor):
        raise TypeError(f"shard_batch(): expected a Tensor, got {type(tensor).__name__}")
    if not -max(tensor.ndim, 1) <= dim < max(tensor.ndim, 1):
        raise IndexError(f"Dimension out of range (expected to be in range of [{-max(tensor.ndim, 1)}, "
                         f"{max(tensor.ndim, 1) - 1}], but got {dim})")
    if tensor._requires_grad:
        raise RuntimeError("shard_batch(): the tensor requires grad; shard the leaf data before building the graph "
                           "(or pass tensor.detach())")
    jm = jax_mesh_of(mesh, tensor._value)
    axis = mesh_dim if isinstance(mesh_dim, str) else jm.axis_names[mesh_dim or 0]
    return wrap(place(tensor._value, dim_sharding(tuple(tensor.shape), jm, axis, dim)))
