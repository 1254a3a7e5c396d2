"""jtorch.special: torch.special's functions, declared in jtorch/_ops/special_ops.py as special_<name>."""
from .._ops.registry import OPS as _OPS

_PREFIX = "special_"
for _k, _v in list(_OPS.items()):
    if _k.startswith(_PREFIX):
        globals()[_k[len(_PREFIX):]] = _v
del _k, _v
