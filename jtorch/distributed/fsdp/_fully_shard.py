"""torch.distributed.fsdp.fully_shard (FSDP2, the composable API) on XLA SPMD shardings.

`fully_shard(module, mesh=...)` shards, in place, every parameter of `module` not already managed by
a `fully_shard` on a submodule: dim 0 over the mesh (the last mesh axis for a 2-D HSDP mesh;
`shard_placement_fn` may pick another dim), replicated when the dim does not divide evenly. Like
torch, the module's class becomes `FSDP<Class>` (also an `FSDPModule`) and its forward pre-hook
splits the inputs' batch dim over the mesh. Parameter names and state_dict keys do not change.
Several processes (torchrun): parameters are global arrays sharded over every process's devices,
unsharded into full local copies around each forward, state_dict() gathers (see _multiprocess).
Differences from torch: parameters stay plain Parameters holding a sharded global jax.Array
(torch's are DTensors), so `state_dict()` values are the full logical tensors already; unshard,
reshard and prefetch controls are accepted and have nothing to do (XLA schedules the gathers).
"""
from ...nn.modules.module import Module
from .. import _sharding as S
from . import _placement
from . import _multiprocess as _multiprocess_mod
from .api import MixedPrecisionPolicy, OffloadPolicy

_CLASSES = {}


class FSDPModule:
    """Mixin of the classes fully_shard swaps in (torch.distributed.fsdp.FSDPModule)."""

    def reshard(self):
        pass

    def unshard(self, async_op=False):
        return None

    def set_is_last_backward(self, is_last_backward):
        pass

    def set_requires_gradient_sync(self, requires_gradient_sync, *, recurse=True):
        pass

    def set_requires_all_reduce(self, requires_all_reduce, *, recurse=True):
        pass

    def set_reshard_after_forward(self, reshard_after_forward, recurse=True):
        pass

    def set_reshard_after_backward(self, reshard_after_backward, *, recurse=True):
        pass

    def set_modules_to_forward_prefetch(self, modules):
        pass

    def set_modules_to_backward_prefetch(self, modules):
        pass

    def set_post_optim_event(self, event):
        pass

    def set_unshard_in_backward(self, unshard_in_backward):
        pass

    def set_reduce_scatter_divide_factor(self, factor):
        pass


def fully_shard(module, *, mesh=None, reshard_after_forward=None, shard_placement_fn=None,
                mp_policy=MixedPrecisionPolicy(), offload_policy=OffloadPolicy(), ignored_params=None,
                dp_mesh_dims=None):
    mods = list(module) if isinstance(module, (list, tuple)) else [module]
    for m in mods:
        if not isinstance(m, Module):
            raise ValueError(f"fully_shard does not support containers that do not implement forward: "
                             f"{type(m).__name__}")
    ignored = {id(p) for p in (ignored_params or ())}
    params = []
    for m in mods:
        for p in m.parameters():
            if id(p) not in ignored and "_jtorch_fsdp_sharding" not in p.__dict__:
                params.append(p)
    if _multiprocess():
        return _fully_shard_multiprocess(module, mods, params)
    first = params[0]._value if params else next((p._value for p in mods[0].parameters()), None)
    jm = S.jax_mesh_of(mesh, first)
    names = tuple(jm.axis_names)
    axes = names[-1:] if len(names) >= 2 else names   # a 2-D mesh is (replicate, shard): HSDP
    for m in mods:
        own = {id(q) for q in m.parameters()}
        _placement.shard_params(m, jm, axes, params=[p for p in params if id(p) in own],
                                placement_fn=shard_placement_fn)
        cls = type(m)
        if not isinstance(m, FSDPModule):
            new = _CLASSES.get(cls)
            if new is None:
                new = _CLASSES[cls] = type(f"FSDP{cls.__name__}", (FSDPModule, cls), {"__module__": cls.__module__})
            m.__class__ = new
            m.__dict__["_jtorch_fsdp_mesh"] = (jm, names)
            m.register_forward_pre_hook(_shard_inputs_hook, with_kwargs=True)
    return module


def _shard_inputs_hook(module, args, kwargs):
    jm, names = module.__dict__["_jtorch_fsdp_mesh"]
    return _placement.shard_inputs(args, jm, names), _placement.shard_inputs(kwargs, jm, names)


def _multiprocess():
    from .. import distributed_c10d as c10d
    return c10d.is_initialized() and c10d.get_world_size() > 1


def _fully_shard_multiprocess(module, mods, params):
    """Several processes: parameters become global arrays over every process's devices (dim 0 split
    over all of them; a 2-D mesh is not distinguished), unsharded around each forward (see
    _multiprocess)."""
    gm = _multiprocess_mod.global_mesh()
    for m in mods:
        own = {id(q) for q in m.parameters()}
        _multiprocess_mod.shard_params(m, gm, [p for p in params if id(p) in own])
        cls = type(m)
        if not isinstance(m, FSDPModule):
            new = _CLASSES.get(cls)
            if new is None:
                new = _CLASSES[cls] = type(f"FSDP{cls.__name__}", (FSDPModule, cls), {"__module__": cls.__module__})
            m.__class__ = new
            m.__dict__["_jtorch_fsdp_swapped"] = []
            m.register_forward_pre_hook(_unshard_hook)
            m.register_forward_hook(_reshard_hook)
            m._register_state_dict_hook(_full_state_dict_hook)
    return module


def _full_state_dict_hook(module, state_dict, prefix, local_metadata):
    """state_dict() values are the full tensors on every rank (an all-gather per sharded entry)."""
    from ..._tensor import wrap
    for k, v in state_dict.items():
        if k.startswith(prefix) and _multiprocess_mod.is_global(getattr(v, "_value", None)):
            state_dict[k] = wrap(_multiprocess_mod.full_local(v._value))


def _unshard_hook(module, args):
    module.__dict__["_jtorch_fsdp_swapped"].append(_multiprocess_mod.unshard(module))


def _reshard_hook(module, args, output):
    _multiprocess_mod.reshard(module.__dict__["_jtorch_fsdp_swapped"].pop())
