"""Operands on different device sets of one platform: a tensor sharded over a mesh of local devices
(FSDP, shard_batch, DTensor) meets a tensor committed to one of those devices. To the user both are
on the same torch device ('cpu', or one accelerator type), so the op must run: the single-device
operands are replicated over the mesh and the kernel runs again. Only failed calls come here."""
import jax
from jax.sharding import NamedSharding, PartitionSpec as P


def unify_devices(arrays):
    """Re-place, in the list `arrays`, committed operands that are not on the mesh of the first
    multi-device operand. Returns False (nothing changed) when that cannot be the problem."""
    try:
        return _unify(arrays)
    except Exception:  # noqa: BLE001  (a deleted/donated buffer...: not a placement problem we can fix)
        return False


def _unify(arrays):
    mesh = None
    for a in arrays:
        if isinstance(a, jax.Array) and not isinstance(a, jax.core.Tracer) and len(a.sharding.device_set) > 1:
            mesh = getattr(a.sharding, "mesh", None)
            break
    if mesh is None or not hasattr(mesh, "devices"):
        return False
    devs = set(mesh.devices.flat)
    plat = next(iter(devs)).platform
    rep = NamedSharding(mesh, P())
    changed = False
    for i, a in enumerate(arrays):
        if isinstance(a, jax.Array) and not isinstance(a, jax.core.Tracer) and a.committed:
            ds = a.sharding.device_set
            if ds == devs:
                continue
            if len(ds) > 1 or next(iter(ds)).platform != plat:
                return False   # two different meshes, or two platforms: torch's device error stands
            arrays[i] = jax.device_put(a, rep)
            changed = True
    return changed
