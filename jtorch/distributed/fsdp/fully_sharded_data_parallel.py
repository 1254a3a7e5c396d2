"""torch.distributed.fsdp.FullyShardedDataParallel (FSDP1) on XLA SPMD shardings.

In one process with N local JAX devices, FSDP places every parameter as one global jax.Array
sharded along dim 0 over the mesh (replicated when dim 0 does not divide by N; NO_SHARD replicates
everything), buffers replicated, and splits the batch dim of the inputs over the mesh. Gradients
take their parameter's placement after accumulation (XLA emits the reduce-scatter), so optimizer
state created from parameters or gradients is sharded too: per-device memory for parameters,
gradients and optimizer state shrinks by N. Ops, autograd, optimizers and jtorch.compile run
unchanged; XLA inserts the all-gathers (torch's unshard) where a step needs full parameters.
SHARD_GRAD_OP keeps the same at-rest placement as FULL_SHARD (when gathered parameters are freed
inside a compiled step is XLA's scheduling decision); HYBRID_SHARD shards over the last axis of a
2-D device_mesh and replicates over the first.

Parameters keep their identity, names and full logical shapes (as torch's use_orig_params=True):
`named_parameters()` shows the `_fsdp_wrapped_module.` prefix, `state_dict()` uses the unwrapped
module's keys. auto_wrap_policy, mixed_precision, cpu_offload and prefetch options are accepted;
nested wrapping would only rename parameters (every parameter is already sharded) and the others
are scheduling/precision knobs that are not applied.

Several processes (torchrun): parameters become global arrays over all processes' devices, sharded
along dim 0, each rank holding its shard; forward unshards them into full local copies and their
backward reduce-scatters the gradients (see _multiprocess). NO_SHARD there is DDP.
"""
import contextlib
import warnings

from ...nn.modules.module import Module
from .. import _sharding as S
from . import _placement
from . import _multiprocess as _multiprocess_mod
from .api import (ShardingStrategy, StateDictType, FullStateDictConfig, LocalStateDictConfig,
                  ShardedStateDictConfig, StateDictSettings, OptimStateDictConfig, FullOptimStateDictConfig,
                  LocalOptimStateDictConfig, ShardedOptimStateDictConfig, BackwardPrefetch)

FSDP_WRAPPED_MODULE = "_fsdp_wrapped_module"
_PREFIX = FSDP_WRAPPED_MODULE + "."
_DEFAULT_CONFIG = {StateDictType.FULL_STATE_DICT: FullStateDictConfig,
                   StateDictType.LOCAL_STATE_DICT: LocalStateDictConfig,
                   StateDictType.SHARDED_STATE_DICT: ShardedStateDictConfig}
_DEFAULT_OPTIM_CONFIG = {StateDictType.FULL_STATE_DICT: FullOptimStateDictConfig,
                         StateDictType.LOCAL_STATE_DICT: LocalOptimStateDictConfig,
                         StateDictType.SHARDED_STATE_DICT: ShardedOptimStateDictConfig}


def _multiprocess():
    from .. import distributed_c10d as c10d
    return c10d.is_initialized() and c10d.get_world_size() > 1


class FullyShardedDataParallel(Module):
    def __init__(self, module, process_group=None, sharding_strategy=None, cpu_offload=None, auto_wrap_policy=None,
                 backward_prefetch=BackwardPrefetch.BACKWARD_PRE, mixed_precision=None, ignored_modules=None,
                 param_init_fn=None, device_id=None, sync_module_states=False, forward_prefetch=False,
                 limit_all_gathers=True, use_orig_params=False, ignored_states=None, device_mesh=None):
        if not isinstance(module, Module):
            raise TypeError(f"FullyShardedDataParallel expects an nn.Module, got {type(module).__name__}")
        super().__init__()
        strategy = sharding_strategy if sharding_strategy is not None else ShardingStrategy.FULL_SHARD
        if not isinstance(strategy, ShardingStrategy):
            raise TypeError(f"sharding_strategy must be a ShardingStrategy, got {strategy!r}")
        if mixed_precision is not None and any(getattr(mixed_precision, f, None) is not None
                                               for f in ("param_dtype", "reduce_dtype", "buffer_dtype")):
            warnings.warn("jtorch FSDP: mixed_precision is accepted but not applied (use jtorch.autocast)", UserWarning,
                          stacklevel=2)
        if param_init_fn is not None and any(getattr(p, "_meta_shape", None) is not None
                                             for p in module.parameters()):
            param_init_fn(module)
        if device_id is not None:
            from ..._device import device as _dev
            module.to(_dev(device_id) if not isinstance(device_id, int) else _dev("cuda", device_id))
        self._fsdp_wrapped_module = module
        d = self.__dict__
        d["sharding_strategy"] = strategy
        d["_state_dict_type"] = StateDictType.FULL_STATE_DICT
        d["_state_dict_config"] = FullStateDictConfig()
        d["_optim_state_dict_config"] = FullOptimStateDictConfig()
        d["_ddp"] = None
        d["_mesh"] = None
        ignored = set()
        for m in (ignored_modules or ()):
            ignored.update(id(p) for p in m.parameters())
        for s in (ignored_states or ()):
            ignored.update(id(p) for p in (s.parameters() if isinstance(s, Module) else [s]))
        params = [p for p in module.parameters() if id(p) not in ignored]
        d["_mp"] = False
        if _multiprocess():
            if strategy == ShardingStrategy.NO_SHARD:
                # nothing to shard: replicate and average gradients (DDP)
                from ...nn.parallel.distributed import DistributedDataParallel
                d["_ddp"] = DistributedDataParallel(module, init_sync=True)
                return
            # global arrays over every process's devices, see _multiprocess
            if sync_module_states:
                from .. import distributed_c10d as c10d
                from ...autograd.grad_mode import no_grad
                with no_grad():
                    for p in params:
                        c10d.broadcast(p, src=0)
            d["_mp"] = True
            d["_mesh"] = _multiprocess_mod.global_mesh()
            _multiprocess_mod.shard_params(module, d["_mesh"], params)
            return
        first = params[0]._value if params else None
        mesh = S.jax_mesh_of(device_mesh, first)
        names = tuple(mesh.axis_names)
        if strategy == ShardingStrategy.NO_SHARD:
            axes = ()
        elif strategy in (ShardingStrategy.HYBRID_SHARD, ShardingStrategy._HYBRID_SHARD_ZERO2) and len(names) >= 2:
            axes = names[-1:]
        else:
            axes = names
        d["_mesh"] = mesh
        d["_batch_axes"] = names
        _placement.shard_params(module, mesh, axes, params=params)

    # ------------------------------------------------------------------ module behaviour
    @property
    def module(self):
        return self._modules[FSDP_WRAPPED_MODULE]

    def forward(self, *args, **kwargs):
        d = self.__dict__
        if d["_ddp"] is not None:
            return d["_ddp"](*args, **kwargs)
        if d.get("_mp"):
            return _multiprocess_mod.run_unsharded(self._modules[FSDP_WRAPPED_MODULE], *args, **kwargs)
        if d["_mesh"] is not None:
            args = _placement.shard_inputs(args, d["_mesh"], d["_batch_axes"])
            kwargs = _placement.shard_inputs(kwargs, d["_mesh"], d["_batch_axes"])
        return self._modules[FSDP_WRAPPED_MODULE](*args, **kwargs)

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules[FSDP_WRAPPED_MODULE], name)

    def __getitem__(self, key):
        return self._modules[FSDP_WRAPPED_MODULE].__getitem__(key)

    # ------------------------------------------------------------------ state dicts
    def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
        sd = super().state_dict(*args, destination=destination, prefix=prefix, keep_vars=keep_vars)
        return _clean_state_dict(self, sd, prefix)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        # checkpoint keys are the unwrapped module's: route them to the wrapped module
        for k in [k for k in state_dict if k.startswith(prefix) and not k.startswith(prefix + _PREFIX)]:
            state_dict[prefix + _PREFIX + k[len(prefix):]] = state_dict.pop(k)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)

    @staticmethod
    def set_state_dict_type(module, state_dict_type, state_dict_config=None, optim_state_dict_config=None):
        prev = None
        for m in _fsdp_modules(module):
            prev = prev or StateDictSettings(m._state_dict_type, m._state_dict_config, m._optim_state_dict_config)
            m.__dict__["_state_dict_type"] = state_dict_type
            m.__dict__["_state_dict_config"] = state_dict_config or _DEFAULT_CONFIG[state_dict_type]()
            m.__dict__["_optim_state_dict_config"] = (optim_state_dict_config
                                                      or _DEFAULT_OPTIM_CONFIG[state_dict_type]())
        if prev is None:
            prev = StateDictSettings(StateDictType.FULL_STATE_DICT, FullStateDictConfig(), FullOptimStateDictConfig())
        return prev

    @staticmethod
    def get_state_dict_type(module):
        for m in _fsdp_modules(module):
            return StateDictSettings(m._state_dict_type, m._state_dict_config, m._optim_state_dict_config)
        raise ValueError("No FSDP modules in the given module")

    @staticmethod
    @contextlib.contextmanager
    def state_dict_type(module, state_dict_type, state_dict_config=None, optim_state_dict_config=None):
        prev = FullyShardedDataParallel.set_state_dict_type(module, state_dict_type, state_dict_config,
                                                            optim_state_dict_config)
        try:
            yield
        finally:
            FullyShardedDataParallel.set_state_dict_type(module, prev.state_dict_type, prev.state_dict_config,
                                                         prev.optim_state_dict_config)

    @staticmethod
    @contextlib.contextmanager
    def summon_full_params(module, recurse=True, writeback=True, rank0_only=False, offload_to_cpu=False,
                           with_grads=False):
        """Parameters already hold their full logical value (only their placement is sharded)."""
        yield

    @staticmethod
    def fsdp_modules(module, root_only=False):
        mods = _fsdp_modules(module)
        return mods[:1] if root_only else mods

    @staticmethod
    def optim_state_dict(model, optim, optim_state_dict=None, group=None):
        """Optimizer state keyed by parameter names (torch's FSDP layout), tensors gathered."""
        osd = optim.state_dict() if optim_state_dict is None else optim_state_dict
        names = _param_names(model, optim)
        state = {names[i]: {k: _full(v) for k, v in s.items()} for i, s in osd["state"].items()}
        groups = [dict(g, params=[names[i] for i in g["params"]]) for g in osd["param_groups"]]
        return {"state": state, "param_groups": groups}

    @staticmethod
    def optim_state_dict_to_load(model, optim, optim_state_dict, is_named_optimizer=False, load_directly=False,
                                 group=None):
        names = _param_names(model, optim)
        index = {n: i for i, n in names.items()}
        state = {index[n]: dict(s) for n, s in optim_state_dict["state"].items()}
        groups = [dict(g, params=[index[n] for n in g["params"]]) for g in optim_state_dict["param_groups"]]
        out = {"state": state, "param_groups": groups}
        if load_directly:
            optim.load_state_dict(out)
        return out

    def clip_grad_norm_(self, max_norm, norm_type=2.0):
        from ...nn.utils import clip_grad_norm_
        return clip_grad_norm_(list(self.parameters()), max_norm, norm_type)

    @contextlib.contextmanager
    def no_sync(self):
        ddp = self.__dict__["_ddp"]
        with (ddp.no_sync() if ddp is not None else contextlib.nullcontext()):
            yield


def _fsdp_modules(module):
    return [m for m in module.modules() if isinstance(m, FullyShardedDataParallel)]


def _clean_name(name):
    return name.replace(_PREFIX, "")


def _param_names(model, optim):
    """{optimizer state index: clean parameter name}, in the optimizer's parameter order."""
    by_id = {id(p): _clean_name(n) for n, p in model.named_parameters()}
    names, i = {}, 0
    for g in optim.param_groups:
        for p in g["params"]:
            names[i] = by_id.get(id(p), str(i))
            i += 1
    return names


def _full(v, to_cpu=False):
    from ..._tensor import Tensor, wrap
    if not isinstance(v, Tensor):
        return v
    arr = S.gather(v._value)
    if to_cpu:
        import jax
        arr = jax.device_put(arr, jax.devices("cpu")[0])
    return wrap(arr)


def _clean_state_dict(fsdp, sd, prefix):
    """torch's FSDP post-state-dict hook: unwrapped key names, FULL_STATE_DICT values gathered."""
    typ = fsdp.__dict__["_state_dict_type"]
    cfg = fsdp.__dict__["_state_dict_config"]
    full = typ == StateDictType.FULL_STATE_DICT
    to_cpu = bool(getattr(cfg, "offload_to_cpu", False))
    mine = prefix + _PREFIX
    for k in [k for k in sd if k.startswith(mine)]:
        v = sd.pop(k)
        sd[prefix + _clean_name(k[len(prefix):])] = _full(v, to_cpu) if (full or to_cpu) else v
    return sd


FSDP = FullyShardedDataParallel
