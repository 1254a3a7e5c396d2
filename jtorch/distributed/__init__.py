"""jtorch.distributed: torch.distributed on JAX's multi-process runtime (see distributed_c10d.py)."""
from .distributed_c10d import (ReduceOp, Backend, ProcessGroup, GroupMember, group, Work, is_available,
                               is_initialized, is_gloo_available, is_nccl_available, is_xla_available,
                               is_torchelastic_launched, init_process_group, destroy_process_group, get_rank,
                               get_world_size, get_backend, get_node_local_rank, new_group, all_reduce, broadcast,
                               reduce, all_gather, all_gather_into_tensor, reduce_scatter_tensor, reduce_scatter,
                               gather, scatter, all_to_all_single, all_to_all, barrier, monitored_barrier,
                               all_gather_object, gather_object, broadcast_object_list, scatter_object_list)
from .device_mesh import DeviceMesh, init_device_mesh  # noqa: E402
from ._sharding import shard_batch  # noqa: E402  (single-process data parallel over local devices)
