"""Small helpers shared by op implementations: torch's dim normalisation and error types."""


class TorchTypeError(TypeError):
    _jtorch = True


class TorchValueError(ValueError):
    _jtorch = True


def norm_dim(dim, ndim, wrap_scalar=True):
    """Normalise a possibly negative dim the way torch does, with torch's IndexError text."""
    n = ndim if ndim > 0 or not wrap_scalar else 1
    if not isinstance(dim, int):
        try:
            dim = dim.__index__()
        except Exception:
            raise TorchTypeError(f"dim must be an int, got {type(dim).__name__}") from None
    if dim < -n or dim >= n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim % n if n else 0


def norm_dims(dims, ndim):
    if dims is None:
        return tuple(range(ndim))
    if isinstance(dims, int):
        dims = (dims,)
    out = tuple(norm_dim(d, ndim) for d in dims)
    if len(set(out)) != len(out):
        raise RuntimeError(f"dim {out} appears multiple times in the list of dims")
    return out


def size_arg(size):
    """Accept f(2, 3), f((2, 3)), f([2, 3]), f(torch.Size([2, 3]))."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    out = []
    for s in size:
        try:
            out.append(s.__index__())
        except Exception:
            raise TorchTypeError(f"size must be a tuple of ints, but got element of type {type(s).__name__}") from None
    return tuple(out)


class TorchNotImplementedError(NotImplementedError):
    _jtorch = True


def type_name(np_dtype):
    """torch's C++ scalar-type name of a numpy/jax dtype ('Float', 'Long', 'ComplexFloat', ...)."""
    import numpy as np
    return {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16", "int64": "Long",
            "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
            "complex64": "ComplexFloat", "complex128": "ComplexDouble"}.get(np.dtype(np_dtype).name, str(np_dtype))


def not_implemented(opname, np_dtype):
    """torch's error for a dtype its CPU kernel lacks: `"sin_cpu" not implemented for 'Bool'`."""
    return TorchNotImplementedError(f"\"{opname}_cpu\" not implemented for '{type_name(np_dtype)}'")
