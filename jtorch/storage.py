"""torch.UntypedStorage / torch.TypedStorage shims, as far as checkpoints need them.

jtorch tensors are jax arrays and own no storage object; these classes exist so that the
checkpoint format (jtorch.serialization) has something to hand `map_location` functions and the
tensor rebuild functions: a storage is a flat host buffer of bytes (a numpy uint8 array) plus the
device its tensors go to. The legacy typed classes (torch.FloatStorage, ...) are TypedStorage
subclasses with a fixed dtype.
"""
import numpy as np

from . import _dtype as D
from ._device import device as _device_cls, as_device


class UntypedStorage:
    """A flat byte buffer on a device (host memory underneath; the device is where tensors go)."""

    def __init__(self, data=0, *, device="cpu"):
        if isinstance(data, (int, np.integer)):
            data = np.zeros(int(data), np.uint8)
        elif isinstance(data, (bytes, bytearray, memoryview)):
            data = np.frombuffer(data, np.uint8)
        self._bytes = np.asarray(data).reshape(-1).view(np.uint8)
        self._device = as_device(device) or _device_cls("cpu")

    # -- torch's storage API (the parts checkpoints and map_location functions use) --------
    @property
    def device(self):
        return self._device

    @property
    def is_cuda(self):
        return self._device.type == "cuda"

    @property
    def dtype(self):
        return D.uint8

    def nbytes(self):
        return int(self._bytes.size)

    def size(self):
        return self.nbytes()

    __len__ = size

    def element_size(self):
        return 1

    def data_ptr(self):
        # a tensor's storage snapshot carries the tensor's data_ptr (shared with its views)
        return getattr(self, "_ptr", None) or self._bytes.ctypes.data

    def tolist(self):
        return self._bytes.tolist()

    def _with_device(self, dev):
        s = object.__new__(type(self))
        s.__dict__.update(self.__dict__)
        s._device = as_device(dev)
        return s

    def to(self, device=None, non_blocking=False):
        return self if device is None else self._with_device(device)

    def cpu(self):
        return self._with_device("cpu")

    def cuda(self, device=None, non_blocking=False):
        if device is None:
            device = "cuda"
        elif isinstance(device, int):
            device = _device_cls("cuda", device)
        return self._with_device(device)

    def untyped(self):
        return self

    def _untyped_storage_(self):
        return self

    def __repr__(self):
        return f" {self.nbytes()} bytes\n[{type(self).__name__}(device={self._device}) of size {self.nbytes()}]"


class TypedStorage:
    """A storage viewed as elements of one dtype (torch.TypedStorage, the legacy FloatStorage...)."""
    dtype = None

    def __init__(self, *args, wrap_storage=None, dtype=None, device="cpu", _internal=False):
        if wrap_storage is None:
            wrap_storage = UntypedStorage(*args, device=device)
        self._untyped = wrap_storage
        if dtype is not None:
            self.dtype = D.to_dtype(dtype)
        if self.dtype is None:
            self.dtype = D.float32

    @property
    def device(self):
        return self._untyped.device

    @property
    def is_cuda(self):
        return self._untyped.is_cuda

    @property
    def _bytes(self):
        return self._untyped._bytes

    def untyped(self):
        return self._untyped

    def data_ptr(self):
        return self._untyped.data_ptr()

    _untyped_storage = property(untyped)

    def element_size(self):
        return self.dtype.itemsize

    def nbytes(self):
        return self._untyped.nbytes()

    def size(self):
        return self.nbytes() // self.element_size()

    __len__ = size

    def _with_device(self, dev):
        return TypedStorage(wrap_storage=self._untyped._with_device(dev), dtype=self.dtype)

    def to(self, device=None, non_blocking=False):
        return self if device is None else self._with_device(device)

    def cpu(self):
        return self._with_device("cpu")

    def cuda(self, device=None, non_blocking=False):
        return TypedStorage(wrap_storage=self._untyped.cuda(device), dtype=self.dtype)

    def tolist(self):
        return self._untyped._bytes.view(self.dtype.np).tolist()

    def __repr__(self):
        return f"[{type(self).__name__}(dtype={self.dtype}, device={self.device}) of size {self.size()}]"


# torch's legacy storage classes: torch.<Name>Storage -> dtype
LEGACY_NAMES = {"Byte": D.uint8, "Char": D.int8, "Short": D.int16, "Int": D.int32, "Long": D.int64,
                "Half": D.float16, "Float": D.float32, "Double": D.float64, "BFloat16": D.bfloat16,
                "Bool": D.bool_, "ComplexFloat": D.complex64, "ComplexDouble": D.complex128}
LEGACY_CLASSES = {}
for _n, _d in LEGACY_NAMES.items():
    LEGACY_CLASSES[_n + "Storage"] = type(_n + "Storage", (TypedStorage,), {"dtype": _d, "__module__": __name__})
globals().update(LEGACY_CLASSES)
LEGACY_BY_DTYPE = {c.dtype: n for n, c in LEGACY_CLASSES.items()}
del _n, _d
