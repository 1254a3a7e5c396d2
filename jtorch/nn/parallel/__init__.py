"""jtorch.nn.parallel: DistributedDataParallel (multi-process) and DataParallel (a pass-through)."""
from .distributed import DistributedDataParallel
from .data_parallel import DataParallel
