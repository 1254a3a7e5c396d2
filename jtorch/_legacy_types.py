"""torch's legacy tensor types: torch.FloatTensor, torch.LongTensor, ...

They are constructors (torch.FloatTensor(2, 3) is an uninitialised float32 tensor,
torch.LongTensor([1, 2]) an int64 one) and isinstance targets (isinstance(x, torch.FloatTensor)
holds for a float32 CPU tensor), as in torch; they are not subclasses of Tensor (torch's aren't).
"""
from . import _dtype as D

_NAMES = {"Float": D.float32, "Double": D.float64, "Half": D.float16, "BFloat16": D.bfloat16, "Long": D.int64,
          "Int": D.int32, "Short": D.int16, "Char": D.int8, "Byte": D.uint8, "Bool": D.bool_}


class tensortype(type):
    """The metaclass of the legacy types (torch.tensortype)."""

    def __instancecheck__(cls, obj):
        from ._tensor import Tensor
        return isinstance(obj, Tensor) and obj.dtype is cls.dtype and obj.device.type == cls._device_type

    def __call__(cls, *args, **kwargs):
        from ._tensor import Tensor
        from ._creation import _legacy_tensor_new
        if "dtype" in kwargs:
            raise TypeError(f"new() got an unexpected keyword argument 'dtype'")
        if len(args) == 1 and isinstance(args[0], Tensor) and args[0].dtype is not cls.dtype:
            raise TypeError(f"expected {cls.__module__}.{cls.__name__.replace('Tensor', '')} (got "
                            f"{args[0].dtype})")
        t = _legacy_tensor_new(Tensor, *args, dtype=cls.dtype, **kwargs)
        return t.to(cls._device_type) if cls._device_type != "cpu" else t

    def __repr__(cls):
        return f"<class '{cls.__module__}.{cls.__name__}'>"


def _make(prefix, dt, device_type, module):
    return tensortype(prefix + "Tensor", (), {"dtype": dt, "_device_type": device_type, "is_cuda":
                                              device_type == "cuda", "is_sparse": False, "__module__": module})


CPU_TYPES = {p + "Tensor": _make(p, d, "cpu", "torch") for p, d in _NAMES.items()}
CUDA_TYPES = {p + "Tensor": _make(p, d, "cuda", "torch.cuda") for p, d in _NAMES.items()}
globals().update(CPU_TYPES)
