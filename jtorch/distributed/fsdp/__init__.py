"""jtorch.distributed.fsdp: FullyShardedDataParallel (FSDP1) and fully_shard (FSDP2) as XLA SPMD
shardings over the local devices (see fully_sharded_data_parallel.py and _fully_shard.py)."""
from .api import (ShardingStrategy, BackwardPrefetch, StateDictType, CPUOffload, MixedPrecision, StateDictConfig,
                  FullStateDictConfig, LocalStateDictConfig, ShardedStateDictConfig, OptimStateDictConfig,
                  FullOptimStateDictConfig, LocalOptimStateDictConfig, ShardedOptimStateDictConfig, StateDictSettings,
                  MixedPrecisionPolicy, OffloadPolicy, CPUOffloadPolicy)
from .fully_sharded_data_parallel import FullyShardedDataParallel
from ._fully_shard import fully_shard, FSDPModule
