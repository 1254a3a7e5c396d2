"""jtorch.fft: torch.fft's functions, declared in jtorch/_ops/fft_ops.py as fft_<name>."""
from .._ops.registry import OPS as _OPS

_PREFIX = "fft_"
for _k, _v in list(_OPS.items()):
    if _k.startswith(_PREFIX):
        globals()[_k[len(_PREFIX):]] = _v
del _k, _v


def fftfreq(n, d=1.0, *, dtype=None, device=None, requires_grad=False, **kw):
    from .. import arange, get_default_dtype
    dt = dtype or get_default_dtype()
    k = arange(n, dtype=dt)
    k = k - (k >= (n + 1) // 2).to(dt) * n
    return (k / (d * n)).requires_grad_(requires_grad)


def rfftfreq(n, d=1.0, *, dtype=None, device=None, requires_grad=False, **kw):
    from .. import arange, get_default_dtype
    dt = dtype or get_default_dtype()
    return (arange(n // 2 + 1, dtype=dt) / (d * n)).requires_grad_(requires_grad)
