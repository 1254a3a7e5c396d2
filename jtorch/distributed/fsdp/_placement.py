"""What FSDP and fully_shard do to a module's tensors: place parameters (sharded along dim 0, or
replicated), buffers (replicated) and inputs (batch-sharded) on the mesh, and keep gradients placed
like their parameters (torch's reduce-scatter of gradients is this re-placement: XLA emits it)."""
from .. import _sharding as S


def shard_params(module, mesh, axes, params=None, placement_fn=None):
    """Place each parameter (and buffer) of `module` on `mesh`; returns {param: sharding}."""
    from jax.sharding import NamedSharding, PartitionSpec as P
    out = {}
    params = list(module.parameters()) if params is None else params
    for p in params:
        if getattr(p, "_meta_shape", None) is not None:
            raise RuntimeError("FSDP: parameters on the meta device must be materialized first (pass param_init_fn "
                               "or call module.to_empty(device=...) and re-initialize)")
        sh = None
        if placement_fn is not None:
            pl = placement_fn(p)
            if pl is not None:
                sh = S.dim_sharding(tuple(p.shape), mesh, mesh.axis_names[-1], pl.dim)
        if sh is None:
            sh = S.dim0_sharding(tuple(p.shape), mesh, axes)
        S.place_tensor_(p, sh)
        out[p] = sh
        if not p.__dict__.get("_jtorch_fsdp_hooked"):
            p.register_post_accumulate_grad_hook(_regrad)
            p.__dict__["_jtorch_fsdp_hooked"] = True
        p.__dict__["_jtorch_fsdp_sharding"] = sh
    rep = NamedSharding(mesh, P())
    for b in module.buffers():
        if getattr(b, "_meta_shape", None) is None:
            S.place_tensor_(b, rep)
    return out


def _regrad(p):
    """Post-accumulate-grad hook: the gradient takes its parameter's placement (a reduce-scatter
    for sharded parameters, an all-reduce for replicated ones)."""
    sh = p.__dict__.get("_jtorch_fsdp_sharding")
    g = p._grad
    if sh is not None and g is not None and g._base is None:
        g._data = S.place(g._value, sh)


def shard_inputs(obj, mesh, axes):
    """Tensors in (nested) inputs, batch dim split over the mesh (replicated where it does not divide).
    Tensors that require grad are left alone (placing them would cut them from their graph)."""
    from ..._tensor import Tensor, wrap
    if isinstance(obj, Tensor):
        if obj._requires_grad or obj.ndim == 0 or getattr(obj, "_meta_shape", None) is not None:
            return obj
        sh = S.dim0_sharding(tuple(obj.shape), mesh, axes)
        arr = obj._value
        new = S.place(arr, sh)
        return obj if new is arr else wrap(new)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(shard_inputs(v, mesh, axes) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(shard_inputs(v, mesh, axes) for v in obj)
    if isinstance(obj, dict):
        new = {k: shard_inputs(v, mesh, axes) for k, v in obj.items()}
        try:
            return new if type(obj) is dict else type(obj)(new)
        except TypeError:  # a dict subclass with another constructor
            return new
    return obj
