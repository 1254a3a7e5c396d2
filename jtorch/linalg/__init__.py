"""jtorch.linalg: torch.linalg's functions, declared in jtorch/_ops/linalg_ops.py as linalg_<name>."""
from .._ops import resolve as _resolve
from .._ops.registry import OPS as _OPS

_PREFIX = "linalg_"
for _k in list(_OPS):
    if _k.startswith(_PREFIX):
        globals()[_k[len(_PREFIX):]] = _resolve(_k)[0]   # aliases (linalg.matmul) resolve to their op
del _k


class LinAlgError(RuntimeError):
    """torch.linalg.LinAlgError (torch._C._LinAlgError): a RuntimeError subclass, so
    `except torch.linalg.LinAlgError` in user code resolves."""
