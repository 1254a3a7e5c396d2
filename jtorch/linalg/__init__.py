"""jtorch.linalg: torch.linalg's functions, declared in jtorch/_ops/linalg_ops.py as linalg_<name>."""
from .._ops.registry import OPS as _OPS

_PREFIX = "linalg_"
for _k, _v in list(_OPS.items()):
    if _k.startswith(_PREFIX):
        globals()[_k[len(_PREFIX):]] = _v
del _k, _v


class LinAlgError(RuntimeError):
    """torch.linalg.LinAlgError (torch._C._LinAlgError): a RuntimeError subclass, so
    `except torch.linalg.LinAlgError` in user code resolves."""
