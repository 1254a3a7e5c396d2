"""torch.cpu.amp.autocast (deprecated alias of torch.autocast('cpu'))."""
from ..amp import autocast as _autocast, GradScaler  # noqa: F401


class autocast(_autocast):
    def __init__(self, enabled=True, dtype=None, cache_enabled=True):
        from .. import bfloat16
        super().__init__("cpu", dtype=dtype or bfloat16, enabled=enabled, cache_enabled=cache_enabled)
