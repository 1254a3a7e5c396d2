"""torch.distributed._composable: where torch 2.x first shipped fully_shard."""
