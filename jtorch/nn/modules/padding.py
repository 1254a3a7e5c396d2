"""Constant/Zero/Reflection/Replication/Circular padding modules (torch.nn.modules.padding)."""
from .module import Module
from .. import _functional_conv as F

__all__ = ["ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "ZeroPad1d", "ZeroPad2d", "ZeroPad3d",
           "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d",
           "ReplicationPad3d", "CircularPad1d", "CircularPad2d", "CircularPad3d"]


def _ntuple(padding, n):
    if isinstance(padding, (list, tuple)):
        return tuple(padding)
    return (padding,) * n


class _PadNd(Module):
    __constants__ = ["padding"]
    _n = 1
    mode = "constant"

    def __init__(self, padding):
        super().__init__()
        self.padding = _ntuple(padding, 2 * self._n)

    def forward(self, input):
        return F.pad(input, self.padding, self.mode)

    def extra_repr(self):
        return f"{self.padding}"


class _CircularPadNd(_PadNd):
    mode = "circular"

    def _check_input_dim(self, input):
        # torch's circular modules check the rank up front (ValueError), unlike F.pad
        if input.dim() not in (self._n + 1, self._n + 2):
            raise ValueError(f"expected {self._n + 1}D or {self._n + 2}D input (got {input.dim()}D input)")

    def forward(self, input):
        self._check_input_dim(input)
        return F.pad(input, self.padding, self.mode)


class _ConstantPadNd(Module):
    __constants__ = ["padding", "value"]
    _n = 1

    def __init__(self, padding, value):
        super().__init__()
        self.padding = _ntuple(padding, 2 * self._n)
        self.value = value

    def forward(self, input):
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


def _make(base, name, n, mode=None):
    attrs = {"_n": n, "__module__": __name__}
    if mode is not None:
        attrs["mode"] = mode
    return type(name, (base,), attrs)


ConstantPad1d = _make(_ConstantPadNd, "ConstantPad1d", 1)
ConstantPad2d = _make(_ConstantPadNd, "ConstantPad2d", 2)
ConstantPad3d = _make(_ConstantPadNd, "ConstantPad3d", 3)
ZeroPad1d = _make(_ZeroPadNd, "ZeroPad1d", 1)
ZeroPad2d = _make(_ZeroPadNd, "ZeroPad2d", 2)
ZeroPad3d = _make(_ZeroPadNd, "ZeroPad3d", 3)
ReflectionPad1d = _make(_PadNd, "ReflectionPad1d", 1, "reflect")
ReflectionPad2d = _make(_PadNd, "ReflectionPad2d", 2, "reflect")
ReflectionPad3d = _make(_PadNd, "ReflectionPad3d", 3, "reflect")
ReplicationPad1d = _make(_PadNd, "ReplicationPad1d", 1, "replicate")
ReplicationPad2d = _make(_PadNd, "ReplicationPad2d", 2, "replicate")
ReplicationPad3d = _make(_PadNd, "ReplicationPad3d", 3, "replicate")
CircularPad1d = _make(_CircularPadNd, "CircularPad1d", 1)
CircularPad2d = _make(_CircularPadNd, "CircularPad2d", 2)
CircularPad3d = _make(_CircularPadNd, "CircularPad3d", 3)
