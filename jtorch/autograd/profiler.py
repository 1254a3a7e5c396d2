"""torch.autograd.profiler: the older spelling of torch.profiler's profile / record_function."""
from ..profiler import profile, record_function  # noqa: F401

__all__ = ["profile", "record_function"]
