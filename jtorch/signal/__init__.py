"""jtorch.signal: torch.signal (window functions in jtorch.signal.windows)."""
from . import windows  # noqa: F401
