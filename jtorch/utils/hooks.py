"""torch.utils.hooks: RemovableHandle."""
from ..autograd.graph import RemovableHandle  # noqa: F401
