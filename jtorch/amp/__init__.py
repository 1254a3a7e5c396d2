"""jtorch.amp: autocast, GradScaler and dtype policies."""
from .autocast_mode import (autocast, is_autocast_available, custom_fwd, custom_bwd, get_autocast_dtype,
                            set_autocast_dtype, is_autocast_enabled)
from .grad_scaler import GradScaler, OptState
from .policy import Policy, apply_policy, set_global_policy, get_global_policy
