"""torch.cuda.amp (deprecated aliases of torch.amp with device_type='cuda')."""
import functools

from ..amp import autocast as _autocast, GradScaler as _GradScaler, custom_fwd, custom_bwd  # noqa: F401


class autocast(_autocast):
    def __init__(self, enabled=True, dtype=None, cache_enabled=True):
        from .. import float16
        super().__init__("cuda", dtype=dtype or float16, enabled=enabled, cache_enabled=cache_enabled)


class GradScaler(_GradScaler):
    def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000,
                 enabled=True):
        super().__init__("cuda", init_scale, growth_factor, backoff_factor, growth_interval, enabled)
