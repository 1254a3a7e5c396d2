"""torch.distributed._composable.fsdp: the older import path of fully_shard (FSDP2)."""
from ...fsdp import fully_shard, FSDPModule, MixedPrecisionPolicy, OffloadPolicy, CPUOffloadPolicy
