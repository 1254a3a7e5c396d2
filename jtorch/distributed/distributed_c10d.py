"""torch.distributed's process-group API on JAX's distributed runtime.

`init_process_group` maps to `jax.distributed.initialize` (env:// reads MASTER_ADDR/MASTER_PORT/RANK/
WORLD_SIZE as torchrun sets them; backends gloo/nccl/xla are all JAX's runtime underneath; on CPU
cross-process collectives use JAX's gloo implementation). Collectives are jitted all-gathers over
the global device mesh (`jax.experimental.multihost_utils`), then a local reduction: every
process runs the same XLA program, no home-made transport.
"""
import datetime
import os
import pickle
from enum import Enum

import numpy as np

_STATE = {"initialized": False, "rank": 0, "world_size": 1, "backend": None, "multiprocess": False}


class ReduceOp(Enum):
    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    BAND = "band"
    BOR = "bor"
    BXOR = "bxor"
    PREMUL_SUM = "premul_sum"


class Backend(str):
    GLOO = "gloo"
    NCCL = "nccl"
    XLA = "xla"
    MPI = "mpi"
    UNDEFINED = "undefined"

    def __new__(cls, name):
        return str.__new__(cls, name.lower())


class ProcessGroup:
    def __init__(self, ranks=None):
        self.ranks = ranks

    def rank(self):
        r = get_rank()
        return self.ranks.index(r) if self.ranks is not None and r in self.ranks else r

    def size(self):
        return len(self.ranks) if self.ranks is not None else get_world_size()


class _World(ProcessGroup):
    pass


group = type("group", (), {"WORLD": _World()})
GroupMember = group


class Work:
    """What async_op=True returns: the collective already ran (XLA dispatch is asynchronous anyway)."""

    def __init__(self, result=None):
        self._result = result

    def wait(self, timeout=None):
        return True

    def is_completed(self):
        return True

    def result(self):
        return self._result

    def get_future(self):
        import concurrent.futures
        f = concurrent.futures.Future()
        f.set_result(self._result)
        f.wait = lambda *a: self._result
        return f


def is_available():
    return True


def is_initialized():
    return _STATE["initialized"]


def is_gloo_available():
    return True


def is_nccl_available():
    from .. import cuda
    return cuda.is_available()


def is_xla_available():
    return True


def is_torchelastic_launched():
    return "TORCHELASTIC_RUN_ID" in os.environ


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, store=None,
                       group_name="", pg_options=None, device_id=None):
    if _STATE["initialized"]:
        raise ValueError("trying to initialize the default process group twice!")
    if backend is not None and str(backend).split(":")[0].lower() not in ("gloo", "nccl", "xla", "mpi", "cpu:gloo",
                                                                           "cuda:nccl", "jax"):
        raise ValueError(f"Invalid backend: '{backend}'")
    if world_size == -1:
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if rank == -1:
        rank = int(os.environ.get("RANK", "0"))
    addr = os.environ.get("MASTER_ADDR", "127.0.0.1")
    port = os.environ.get("MASTER_PORT", "29500")
    if init_method and init_method.startswith("tcp://"):
        addr, _, port = init_method[len("tcp://"):].partition(":")
    elif init_method and init_method.startswith("env://") is False and init_method.startswith("file://"):
        raise NotImplementedError("jtorch.distributed: file:// init is not supported; use env:// or tcp://")
    from .. import _jax_setup
    if world_size > 1 and _jax_setup.DIST_AUTOINIT:
        _STATE["multiprocess"] = True
    elif world_size > 1:
        import jax
        try:
            jax.config.update("jax_cpu_collectives_implementation", "gloo")
        except Exception:  # noqa: BLE001 (older/newer jax without the option)
            pass
        t = timeout.total_seconds() if isinstance(timeout, datetime.timedelta) else (timeout or 300)
        try:
            jax.distributed.initialize(coordinator_address=f"{addr}:{port}", num_processes=world_size,
                                       process_id=rank, initialization_timeout=int(t))
        except Exception as e:  # noqa: BLE001
            raise RuntimeError(f"jtorch.distributed.init_process_group: could not join the process group at "
                               f"{addr}:{port} as rank {rank} of {world_size} within {int(t)}s: {e}") from e
        _STATE["multiprocess"] = True
    _STATE.update(initialized=True, rank=rank, world_size=world_size, backend=str(backend or "gloo"))


def destroy_process_group(group=None):
    if _STATE["multiprocess"]:
        import jax
        try:
            jax.distributed.shutdown()
        except Exception:  # noqa: BLE001
            pass
    _STATE.update(initialized=False, rank=0, world_size=1, multiprocess=False)


def _check():
    if not _STATE["initialized"]:
        raise ValueError("Default process group has not been initialized, please make sure to call "
                         "init_process_group.")


def get_rank(group=None):
    _check()
    return _STATE["rank"]


def get_world_size(group=None):
    _check()
    if group is not None and getattr(group, "ranks", None) is not None:
        return len(group.ranks)
    return _STATE["world_size"]


def get_backend(group=None):
    _check()
    return _STATE["backend"]


def get_node_local_rank(fallback_rank=None):
    return int(os.environ.get("LOCAL_RANK", fallback_rank if fallback_rank is not None else 0))


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False, **kw):
    _check()
    return ProcessGroup(sorted(ranks) if ranks is not None else None)


# -- collectives -----------------------------------------------------------------------------------------
def _gather_all(arr):
    """Stack `arr` from every rank: shape (world, *arr.shape), as numpy."""
    if _STATE["world_size"] == 1:
        return np.asarray(arr)[None]
    from jax.experimental import multihost_utils as mu
    return np.asarray(mu.process_allgather(np.asarray(arr)))


def _reduce(stacked, op):
    if op in (ReduceOp.SUM, None):
        return stacked.sum(0)
    if op is ReduceOp.AVG:
        return stacked.mean(0) if np.issubdtype(stacked.dtype, np.inexact) else stacked.sum(0) // stacked.shape[0]
    if op is ReduceOp.PRODUCT:
        return stacked.prod(0)
    if op is ReduceOp.MIN:
        return stacked.min(0)
    if op is ReduceOp.MAX:
        return stacked.max(0)
    if op is ReduceOp.BAND:
        return np.bitwise_and.reduce(stacked, 0)
    if op is ReduceOp.BOR:
        return np.bitwise_or.reduce(stacked, 0)
    if op is ReduceOp.BXOR:
        return np.bitwise_xor.reduce(stacked, 0)
    raise ValueError(f"unsupported reduce op {op}")


def _ranks(group):
    rs = getattr(group, "ranks", None)
    return rs if rs is not None else list(range(_STATE["world_size"]))


def _np(t):
    from .. import bfloat16, float32
    if t.dtype is bfloat16:
        return np.asarray(t.detach().to(float32)._value), bfloat16
    return np.asarray(t.detach()._value), None


def _put(t, arr, cast=None):
    import jax.numpy as jnp
    a = jnp.asarray(arr)
    a = a.astype(cast.np if cast is not None else t._value.dtype)
    if t.device.type != "cpu":
        import jax
        a = jax.device_put(a, next(iter(t._value.devices())))
    t._set_value(a)


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    _check()
    a, cast = _np(tensor)
    st = _gather_all(a)[_ranks(group)]
    _put(tensor, _reduce(st, op), cast)
    return Work(tensor) if async_op else None


def broadcast(tensor, src, group=None, async_op=False, group_src=None):
    _check()
    a, cast = _np(tensor)
    st = _gather_all(a)
    _put(tensor, st[src if group_src is None else _ranks(group)[group_src]], cast)
    return Work(tensor) if async_op else None


def reduce(tensor, dst, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    _check()
    a, cast = _np(tensor)
    st = _gather_all(a)[_ranks(group)]
    if get_rank() == dst:
        _put(tensor, _reduce(st, op), cast)
    return Work(tensor) if async_op else None


def all_gather(tensor_list, tensor, group=None, async_op=False):
    _check()
    a, cast = _np(tensor)
    st = _gather_all(a)[_ranks(group)]
    if len(tensor_list) != len(st):
        raise RuntimeError(f"all_gather: tensor_list has {len(tensor_list)} entries, expected {len(st)}")
    for t, v in zip(tensor_list, st):
        _put(t, v, cast)
    return Work(tensor_list) if async_op else None


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    _check()
    a, cast = _np(input_tensor)
    st = _gather_all(a)[_ranks(group)]
    out = np.concatenate(list(st), 0) if a.ndim else st
    _put(output_tensor, out.reshape(tuple(output_tensor.shape)), cast)
    return Work(output_tensor) if async_op else None


_all_gather_base = all_gather_into_tensor


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    _check()
    a, cast = _np(input)
    st = _gather_all(a)[_ranks(group)]
    red = _reduce(st, op)
    n = len(_ranks(group))
    idx = _ranks(group).index(get_rank())
    _put(output, np.split(red, n, 0)[idx].reshape(tuple(output.shape)), cast)
    return Work(output) if async_op else None


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    from .. import cat
    return reduce_scatter_tensor(output, cat([t.reshape(-1) for t in input_list]).reshape(
        (len(input_list),) + tuple(output.shape)), op, group, async_op)


def gather(tensor, gather_list=None, dst=0, group=None, async_op=False):
    _check()
    a, cast = _np(tensor)
    st = _gather_all(a)[_ranks(group)]
    if get_rank() == dst:
        for t, v in zip(gather_list, st):
            _put(t, v, cast)
    return Work() if async_op else None


def scatter(tensor, scatter_list=None, src=0, group=None, async_op=False):
    _check()
    me = get_rank()
    if me == src:
        stacked = np.stack([_np(t)[0] for t in scatter_list])
    else:
        stacked = np.zeros((get_world_size(),) + tuple(tensor.shape), _np(tensor)[0].dtype)
    st = _gather_all(stacked)
    _put(tensor, st[src][me], _np(tensor)[1])
    return Work(tensor) if async_op else None


def all_to_all_single(output, input, output_split_sizes=None, input_split_sizes=None, group=None, async_op=False):
    _check()
    if output_split_sizes is not None or input_split_sizes is not None:
        raise NotImplementedError("jtorch.distributed.all_to_all_single: uneven splits are not supported yet")
    a, cast = _np(input)
    st = _gather_all(a)
    n, me = st.shape[0], get_rank()
    out = np.concatenate([np.split(st[r], n, 0)[me] for r in range(n)], 0)
    _put(output, out, cast)
    return Work(output) if async_op else None


def all_to_all(output_tensor_list, input_tensor_list, group=None, async_op=False):
    _check()
    st = _gather_all(np.stack([_np(t)[0] for t in input_tensor_list]))
    me = get_rank()
    for r, t in enumerate(output_tensor_list):
        _put(t, st[r][me])
    return Work() if async_op else None


def barrier(group=None, async_op=False, device_ids=None):
    _check()
    _gather_all(np.zeros((), np.int32))
    return Work() if async_op else None


def monitored_barrier(group=None, timeout=None, wait_all_ranks=False):
    barrier(group)


# -- object collectives: pickled bytes, padded to the longest ----------------------------------------------
def _objs_all(obj):
    data = np.frombuffer(pickle.dumps(obj), np.uint8)
    lens = _gather_all(np.asarray(len(data), np.int64))
    buf = np.zeros(int(lens.max()), np.uint8)
    buf[:len(data)] = data
    st = _gather_all(buf)
    return [pickle.loads(st[r][:int(lens[r])].tobytes()) for r in range(len(lens))]


def all_gather_object(object_list, obj, group=None):
    _check()
    res = _objs_all(obj)
    for i, r in enumerate(_ranks(group)):
        object_list[i] = res[r]


def gather_object(obj, object_gather_list=None, dst=0, group=None):
    _check()
    res = _objs_all(obj)
    if get_rank() == dst:
        for i, r in enumerate(_ranks(group)):
            object_gather_list[i] = res[r]


def broadcast_object_list(object_list, src=0, group=None, device=None):
    _check()
    res = _objs_all(list(object_list))
    object_list[:] = res[src]


def scatter_object_list(scatter_object_output_list, scatter_object_input_list, src=0, group=None):
    _check()
    res = _objs_all(scatter_object_input_list if get_rank() == src else None)
    scatter_object_output_list[0] = res[src][get_rank()]
