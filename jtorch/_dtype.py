"""torch's dtypes as objects over numpy/jax dtypes, and torch's type-promotion rules."""
import builtins
import jax.numpy as jnp
import numpy as np
import ml_dtypes


class dtype:
    """A torch dtype (`jtorch.float32` ...): a name plus the jax/numpy dtype it stands for."""
    __slots__ = ("name", "np", "is_floating_point", "is_complex", "is_signed", "itemsize", "_cat")

    def __init__(self, name, np_dtype, cat):
        self.name = name
        self.np = np.dtype(np_dtype)
        self._cat = cat  # 0 bool, 1 integer, 2 floating, 3 complex: torch's promotion categories
        self.is_floating_point = cat == 2
        self.is_complex = cat == 3
        self.is_signed = cat != 0 and not name.startswith("uint")
        self.itemsize = self.np.itemsize

    def __repr__(self):
        return "torch." + self.name

    def __reduce__(self):
        return (_lookup, (self.name,))

    def to_real(self):
        return {complex64: float32, complex128: float64}.get(self, self)

    def to_complex(self):
        return {float64: complex128, float32: complex64, float16: complex64, bfloat16: complex64}.get(self, self)


def _lookup(name):
    return _BY_NAME[name]


bool_ = dtype("bool", np.bool_, 0)
uint8 = dtype("uint8", np.uint8, 1)
uint16 = dtype("uint16", np.uint16, 1)
uint32 = dtype("uint32", np.uint32, 1)
uint64 = dtype("uint64", np.uint64, 1)
int8 = dtype("int8", np.int8, 1)
int16 = dtype("int16", np.int16, 1)
int32 = dtype("int32", np.int32, 1)
int64 = dtype("int64", np.int64, 1)
float16 = dtype("float16", np.float16, 2)
bfloat16 = dtype("bfloat16", ml_dtypes.bfloat16, 2)
float32 = dtype("float32", np.float32, 2)
float64 = dtype("float64", np.float64, 2)
complex64 = dtype("complex64", np.complex64, 3)
complex128 = dtype("complex128", np.complex128, 3)
float8_e4m3fn = dtype("float8_e4m3fn", ml_dtypes.float8_e4m3fn, 2)
float8_e5m2 = dtype("float8_e5m2", ml_dtypes.float8_e5m2, 2)
float8_e4m3fnuz = dtype("float8_e4m3fnuz", ml_dtypes.float8_e4m3fnuz, 2)
float8_e5m2fnuz = dtype("float8_e5m2fnuz", ml_dtypes.float8_e5m2fnuz, 2)
float8_e8m0fnu = dtype("float8_e8m0fnu", ml_dtypes.float8_e8m0fnu, 2)
float8_e8m0fnu.is_signed = False  # exponent-only: no sign bit

ALL = [bool_, uint8, uint16, uint32, uint64, int8, int16, int32, int64, float16, bfloat16,
       float32, float64, complex64, complex128, float8_e4m3fn, float8_e5m2, float8_e4m3fnuz, float8_e5m2fnuz,
       float8_e8m0fnu]
_BY_NAME = {d.name: d for d in ALL}
_BY_NP = {d.np: d for d in ALL}
# torch's aliases: torch.half, torch.long, ...
ALIASES = {"half": float16, "float": float32, "double": float64, "long": int64, "int": int32,
           "short": int16, "cfloat": complex64, "cdouble": complex128, "bool": bool_,
           "chalf": complex64}

_default = [float32]


def get_default_dtype():
    return _default[0]


def set_default_dtype(d):
    d = to_dtype(d)
    if d not in (float32, float64, float16, bfloat16):
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default[0] = d


def default_complex():
    return complex128 if _default[0] is float64 else complex64


def from_np(np_dtype):
    """jtorch dtype of a numpy/jax dtype."""
    try:
        return _BY_NP[np_dtype]
    except KeyError:
        d = np.dtype(np_dtype)
        if d in _BY_NP:
            return _BY_NP[d]
        raise TypeError(f"jtorch has no dtype for numpy dtype {np_dtype}") from None


def to_dtype(d):
    """Accept a jtorch dtype, a Python type (float/int/bool/complex), a numpy/jax dtype or a name."""
    if isinstance(d, dtype):
        return d
    if d is None:
        return None
    if d is builtins.float:
        return float64
    if d is builtins.int:
        return int64
    if d is builtins.bool:
        return bool_
    if d is builtins.complex:
        return complex128
    if isinstance(d, str):
        d = d[6:] if d.startswith("torch.") else d
        if d in _BY_NAME:
            return _BY_NAME[d]
        if d in ALIASES:
            return ALIASES[d]
    try:
        return from_np(np.dtype(d))
    except TypeError:
        raise TypeError(f"cannot interpret {d!r} as a data type") from None


_PROMOTE = {}


def promote_types(a, b):
    """torch.promote_types: the smallest dtype both a and b cast to safely (torch's lattice)."""
    if a is b:
        return a
    key = (a, b)
    r = _PROMOTE.get(key)
    if r is None:
        if a._cat == 1 and b._cat == 1 and (a.name.startswith("uint") != b.name.startswith("uint")) \
                and max(a.itemsize, b.itemsize) == 8:
            r = int64  # torch keeps uint64/int64 mixes integral
        elif a.name.startswith("float8") or b.name.startswith("float8"):
            raise RuntimeError(f"Promotion for Float8 Types is not supported, attempted to promote "
                               f"{_scalar_type_name(a)} and {_scalar_type_name(b)}")
        else:
            r = from_np(jnp.promote_types(a.np, b.np))
        _PROMOTE[key] = r
    return r


def _scalar_type_name(d):
    # c10's ScalarType spelling, as torch's promotion errors print it
    return {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16", "int64": "Long",
            "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
            "complex64": "ComplexFloat", "complex128": "ComplexDouble"}.get(d.name, d.name[0].upper() + d.name[1:])


def scalar_dtype(x):
    """The dtype torch gives a Python scalar when it meets tensors (a 'wrapped number')."""
    t = type(x)
    if t is builtins.bool or t is np.bool_:
        return bool_
    if t is builtins.int:
        return int64
    if t is builtins.float:
        return _default[0]
    if t is builtins.complex:
        return default_complex()
    if isinstance(x, np.generic):
        return from_np(x.dtype)
    return None


def _combine(higher, lower):
    # torch's combine_categories: pick by category, promoting within one.
    if higher is None:
        return lower
    if lower is None:
        return higher
    if higher._cat == 3:
        return higher
    if lower._cat == 3:
        return higher.to_complex() if higher._cat == 2 else lower
    if higher._cat == 2:
        return higher
    if higher is bool_ or lower._cat == 2:
        return promote_types(higher, lower)
    return higher


def result_type_of(dims, zeros, scalars):
    """torch.result_type from the dtypes of dimensioned tensors, 0-dim tensors and Python scalars."""
    def fold(ds):
        r = None
        for d in ds:
            r = d if r is None else promote_types(r, d)
        return r
    return _combine(fold(dims), _combine(fold(zeros), fold(scalars)))


def can_cast(from_, to):
    """torch.can_cast: casting is allowed unless it lowers the category (float->int, complex->float, ->bool)."""
    return from_._cat <= to._cat


class finfo:
    def __init__(self, type=None):
        type = to_dtype(type) if type is not None else _default[0]
        if not (type.is_floating_point or type.is_complex):
            raise TypeError(f"torch.finfo() requires a floating point input type. Use torch.iinfo to handle '{type}'")
        fi = ml_dtypes.finfo(type.to_real().np)
        self.bits = fi.bits
        self.eps = float(fi.eps)
        self.max = float(fi.max)
        self.min = float(fi.min)
        self.tiny = float(fi.tiny)
        self.smallest_normal = self.tiny
        self.resolution = 10.0 ** -int(fi.precision)
        self.dtype = type.to_real().name

    def __repr__(self):
        return (f"finfo(resolution={self.resolution}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
                f"smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    def __init__(self, type):
        type = to_dtype(type)
        if type is bool_:
            raise TypeError("torch.bool is not supported by torch.iinfo")
        if type.is_floating_point or type.is_complex:
            raise TypeError(f"torch.iinfo() requires an integer input type. Use torch.finfo to handle '{type}'")
        ii = np.iinfo(np.uint8 if type is bool_ else type.np)
        self.bits = ii.bits
        self.max = int(ii.max)
        self.min = int(ii.min)
        self.dtype = type.name

    def __repr__(self):
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"
