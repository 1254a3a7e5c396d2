"""Elementwise math: one declaration each; the registry derives function, method, op_ and out=."""
import jax
import jax.numpy as jnp
import jax.scipy.special as jss

from . import kinks
from .registry import op, alias, overload, OPS
from .util import TorchTypeError, not_implemented, TorchNotImplementedError

_LOW = (jnp.float16, jnp.bfloat16)
from .._dtype import bool_ as _BOOL, int64 as D_int64  # noqa: E402


def _unary_float(name, f, inplace=True, linear=False):
    def impl(input):
        if input.dtype in _LOW:   # torch's CPU kernels compute half/bfloat16 in float32
            return f(input.astype(jnp.float32)).astype(input.dtype)
        return f(input)
    op(name, promote="float", inplace=inplace, linear=linear,
       saves_result="only" if name in _RESULT_ONLY else False)(_named(name, impl))


# torch's derivative of these reads the result, not the input (exp' = exp): see OpDef.saves_result
_RESULT_ONLY = frozenset(["exp", "exp2", "expm1", "sqrt", "rsqrt", "sigmoid", "tan", "tanh", "reciprocal"])


def _tail_ops():
    from . import tail_ops   # digamma / lgamma with derivatives exact for x < 0 too
    return tail_ops


def _digamma(x):
    return _tail_ops().accurate_digamma(x)


def _named(name, f):
    f.__name__ = name
    return f


# --- unary, promoting integers to float (torch's "int_to_float" ufuncs) -------------------------
for _n, _f in {
    "sin": jnp.sin, "cos": jnp.cos, "tan": jnp.tan, "asin": jnp.arcsin, "acos": jnp.arccos, "atan": jnp.arctan,
    "sinh": jnp.sinh, "cosh": jnp.cosh, "tanh": jnp.tanh, "asinh": jnp.arcsinh, "acosh": jnp.arccosh,
    "atanh": jnp.arctanh, "exp": jnp.exp, "exp2": jnp.exp2, "expm1": jnp.expm1, "log": jnp.log,
    "log2": jnp.log2, "log10": jnp.log10, "log1p": jnp.log1p, "sqrt": jnp.sqrt, "rsqrt": jax.lax.rsqrt,
    "sigmoid": jax.nn.sigmoid, "erf": jss.erf, "erfc": jss.erfc, "erfinv": jss.erfinv, "lgamma": lambda x: _tail_ops().accurate_lgamma(x),
    "digamma": _digamma, "i0": jnp.i0, "sinc": jnp.sinc, "deg2rad": jnp.deg2rad, "rad2deg": jnp.rad2deg,
    "reciprocal": lambda x: 1 / x, "logit": None,
}.items():
    if _f is not None:
        _unary_float(_n, _f)

for _a, _o in {"arcsin": "asin", "arccos": "acos", "arctan": "atan", "arcsinh": "asinh", "arccosh": "acosh",
               "arctanh": "atanh"}.items():
    alias(_a, _o)


@op(promote="float", inplace=True)
def logit(input, eps=None):
    x = input if eps is None else jnp.clip(input, eps, 1 - eps)
    return jnp.log(x / (1 - x))


# --- unary keeping dtype -------------------------------------------------------------------------
@op(promote="same", inplace=True, linear=True)
def neg(input):
    if input.dtype == jnp.bool_:
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If you are trying to "
                             "invert a mask, use the `~` or `logical_not()` operator instead.")
    return -input


alias("negative", "neg")


@op(promote="same", inplace=True)
def abs(input):
    if input.dtype == jnp.bool_:
        raise not_implemented("abs", input.dtype)
    return kinks.abs(input) if jnp.issubdtype(input.dtype, jnp.floating) else jnp.abs(input)


alias("absolute", "abs")


@op(promote="same", inplace=True)
def sign(input):
    if jnp.iscomplexobj(input):
        raise TorchNotImplementedError("Unlike NumPy, torch.sign is not intended to support complex numbers. Please "
                                       "use torch.sgn instead.")
    return _sign(input)


def _sign(x):
    if x.dtype == jnp.bool_:
        return x
    if jnp.issubdtype(x.dtype, jnp.floating):   # torch: sign(-0.) = 0., sign(nan) = 0.
        return ((x > 0).astype(x.dtype) - (x < 0).astype(x.dtype))
    return jnp.sign(x)


@op(promote="same", inplace=True, saves_result=True)
def sgn(input):
    return _sign(input)


@op(promote="same")
def positive(input):
    if input.dtype == jnp.bool_:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


@op(promote="same", inplace=True)
def square(input):
    return input * input if input.dtype != jnp.bool_ else input.astype(jnp.int64)


def _rounding(name, f):
    op(name, promote="same", inplace=True)(_named(name, lambda input: input if jnp.issubdtype(input.dtype, jnp.integer) else f(input)))


_rounding("floor", jnp.floor)
_rounding("ceil", jnp.ceil)
_rounding("trunc", jnp.trunc)
_rounding("frac", lambda x: x - jnp.trunc(x))
alias("fix", "trunc")


@op(promote="same", inplace=True, static=("decimals",))
def round(input, *, decimals=0):
    return jnp.round(input, decimals)


@op(promote="same", inplace=True)
def bitwise_not(input):
    if jnp.issubdtype(input.dtype, jnp.inexact):
        raise not_implemented("bitwise_not", input.dtype)
    return ~input


@op(promote="same", inplace=True)
def logical_not(input):
    return jnp.logical_not(input)


@op(promote="same", method=True)
def isnan(input):
    return jnp.isnan(input)


@op(promote="same")
def isinf(input):
    return jnp.isinf(input)


@op(promote="same")
def isposinf(input):
    return jnp.isposinf(input)


@op(promote="same")
def isneginf(input):
    return jnp.isneginf(input)


@op(promote="same")
def isfinite(input):
    return jnp.isfinite(input)


@op(promote="same")
def isreal(input):
    return jnp.isreal(input)


@op(promote="same")
def signbit(input):
    return jnp.signbit(input)


@op(promote="same", inplace=True, operands=("input",))
def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    if not jnp.issubdtype(input.dtype, jnp.inexact):
        return input
    return jnp.nan_to_num(input, nan=nan, posinf=posinf, neginf=neginf)


@op(promote="same", inplace=True)
def conj_physical(input):
    return jnp.conj(input)


@op(promote="same")
def conj(input):
    return jnp.conj(input)


@op(promote="same")
def resolve_conj(input):
    return input


@op(promote="same")
def resolve_neg(input):
    return input


@op(promote="float", method=True)
def angle(input):
    r = jnp.angle(input)
    return r.astype(jnp.real(input).dtype)


# --- binary arithmetic -----------------------------------------------------------------------------
@op(promote="same", inplace=True, linear=True, operands=("input", "other"))
def add(input, other, *, alpha=1):
    if input.dtype == jnp.bool_:
        return jnp.logical_or(input, other)
    return input + alpha * other


def _no_bool_sub(b):
    for v in (b["input"], b["other"]):
        if v is True or v is False or getattr(v, "dtype", None) is _BOOL:
            raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying "
                               "to invert a mask, use the `~` or `logical_not()` operator instead.")


@op(promote="same", inplace=True, linear=True, check=_no_bool_sub, operands=("input", "other"))
def sub(input, other, *, alpha=1):
    return input - alpha * other


alias("subtract", "sub")


@op(promote="same", linear=False, check=_no_bool_sub, operands=("input", "other"))
def rsub(input, other, *, alpha=1):
    return other - alpha * input


@op(promote="same", inplace=True)
def mul(input, other):
    if input.dtype == jnp.bool_:
        return jnp.logical_and(input, other)
    return input * other


alias("multiply", "mul")


@op(promote=lambda static: "float" if static[0] is None else "same", inplace=True, static=("rounding_mode",))
def div(input, other, *, rounding_mode=None):
    if rounding_mode is None:
        return input / other
    if rounding_mode == "trunc":
        if jnp.issubdtype(input.dtype, jnp.integer):
            q = jnp.abs(input) // jnp.abs(other)
            return jnp.where((input < 0) ^ (other < 0), -q, q)
        return jnp.trunc(input / other)
    if rounding_mode == "floor":
        if jnp.issubdtype(input.dtype, jnp.integer):
            return jnp.floor_divide(input, other)
        return jnp.floor(input / other)
    raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{rounding_mode}'")


alias("divide", "div")
alias("true_divide", "div")


def _int_zero_div(b):
    """torch raises for integer division by zero (checked eagerly; not under tracing)."""
    x, o = b["input"], b["other"]
    xd = getattr(x, "dtype", None)
    if type(x) is int:
        xd = D_int64
    if xd is None or xd._cat != 1:
        return
    if isinstance(o, (bool, int)) and not isinstance(o, float):
        if o == 0:
            raise RuntimeError("ZeroDivisionError")
        return
    od = getattr(o, "dtype", None)
    if od is not None and od._cat <= 1 and not isinstance(o._value, jax.core.Tracer) and o.numel() and \
            not bool(jnp.all(o._value != 0)):
        raise RuntimeError("ZeroDivisionError")


@op(promote="same", inplace=True, check=_int_zero_div)
def floor_divide(input, other):
    if input.dtype == jnp.bool_:
        raise not_implemented("div_floor", input.dtype)
    if jnp.issubdtype(input.dtype, jnp.integer):
        return jnp.floor_divide(input, other)
    return jnp.floor(input / other)


@op(promote="same", inplace=True, check=_int_zero_div)
def remainder(input, other):
    if input.dtype == jnp.bool_:
        raise not_implemented("remainder", input.dtype)
    return jnp.remainder(input, other)


@op(promote="same", inplace=True, check=_int_zero_div)
def fmod(input, other):
    return jnp.fmod(input, other)


def _bool_pow(b):
    x = b["input"]
    if (x is True or x is False or getattr(x, "dtype", None) is _BOOL) and getattr(b["exponent"], "dtype", None) is _BOOL:
        raise not_implemented("pow", "bool")


def _tensor_exponent(arrays):   # torch's PowBackward1/2 (tensor exponent) save the result too
    return hasattr(arrays[1], "dtype")


@op(promote="same", inplace=True, check=_bool_pow, saves_result=_tensor_exponent)
def pow(input, exponent):
    if input.dtype == jnp.bool_:
        return jnp.where(jnp.asarray(exponent).astype(bool), input, True)
    if jnp.issubdtype(input.dtype, jnp.integer):
        e = jnp.asarray(exponent)
        if e.ndim == 0 and not isinstance(exponent, jax.core.Tracer) and isinstance(exponent, int) and exponent < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        # torch: a negative integer power is 0, except for bases 1 and -1
        neg = e < 0
        p = jnp.power(input, jnp.where(neg, 0, e).astype(input.dtype))
        odd = (jnp.abs(e) % 2) == 1
        special = jnp.where(input == 1, 1, jnp.where(input == -1, jnp.where(odd, -1, 1), 0)).astype(input.dtype)
        return jnp.where(neg, special, p)
    return jnp.power(input, exponent)


@op(promote="float", saves_result=_tensor_exponent)
def float_power(input, exponent):
    return jnp.power(input.astype(jnp.complex128 if jnp.iscomplexobj(input) else jnp.float64),
                     jnp.asarray(exponent).astype(jnp.complex128 if jnp.iscomplexobj(input) else jnp.float64))


@op(promote="float", inplace=True)
def atan2(input, other):
    return jnp.arctan2(input, other)


alias("arctan2", "atan2")


@op(promote="same", inplace=True)
def maximum(input, other):
    return jnp.maximum(input, other)


@op(promote="same", inplace=True)
def minimum(input, other):
    return jnp.minimum(input, other)


@op(promote="same", inplace=True)
def fmax(input, other):
    # torch: input takes the gradient on ties and wherever other is nan
    return jnp.where((input >= other) | (other != other), input, other)


@op(promote="same", inplace=True)
def fmin(input, other):
    return jnp.where((input <= other) | (other != other), input, other)


@op(promote="float", inplace=True, saves_result=True)
def hypot(input, other):
    return jnp.hypot(input, other)


@op(promote="float", inplace=True)
def logaddexp(input, other):
    return jnp.logaddexp(input, other)


@op(promote="float", inplace=True)
def logaddexp2(input, other):
    return jnp.logaddexp2(input, other)


@op(promote="float", inplace=True)
def xlogy(input, other):
    return jss.xlogy(input, other)


@op(promote="same", inplace=True, saves_result=True)
def copysign(input, other):
    return jnp.copysign(input.astype(jnp.result_type(input, jnp.float32)) if jnp.issubdtype(input.dtype, jnp.integer) else input, other)


@op(promote="same", inplace=True)
def nextafter(input, other):
    return _nextafter(input, other)


@jax.custom_jvp
def _nextafter(x, y):
    return jnp.nextafter(x, y)


# torch's derivative: the identity for input (a one-ulp step) except where input == other (the
# result is then other itself, flat in input); zero for other. jax defines none.
_nextafter.defjvps(lambda t, ans, x, y: jnp.where(x != y, t, jnp.zeros((), ans.dtype)),
                   lambda t, ans, x, y: jnp.zeros(ans.shape, ans.dtype))


@op(promote="float", inplace=True, saves_result=True)
def ldexp(input, other):
    return input * jnp.exp2(other)


@op(promote="same", inplace=True)
def gcd(input, other):
    return jnp.gcd(input, other)


@op(promote="same", inplace=True)
def lcm(input, other):
    return jnp.lcm(input, other)


# --- comparison (outputs bool) ---------------------------------------------------------------------
for _n, _f in {"eq": jnp.equal, "ne": jnp.not_equal, "lt": jnp.less, "le": jnp.less_equal,
               "gt": jnp.greater, "ge": jnp.greater_equal}.items():
    op(_n, promote="same", inplace=True, differentiable=False)(_named(_n, (lambda f: lambda input, other: f(input, other))(_f)))
for _a, _o in {"greater": "gt", "greater_equal": "ge", "less": "lt", "less_equal": "le", "not_equal": "ne"}.items():
    alias(_a, _o)

for _n, _f in {"logical_and": jnp.logical_and, "logical_or": jnp.logical_or, "logical_xor": jnp.logical_xor}.items():
    op(_n, promote="same", inplace=True, differentiable=False)(_named(_n, (lambda f: lambda input, other: f(input, other))(_f)))


def _bitwise(name, f):
    def impl(input, other):
        if jnp.issubdtype(input.dtype, jnp.inexact) or (input.dtype == jnp.bool_ and "shift" in name):
            raise not_implemented(name.replace("bitwise_left_shift", "lshift").replace("bitwise_right_shift",
                                                                                        "rshift"), input.dtype)
        return f(input, other)
    op(name, promote="same", inplace=True, differentiable=False)(_named(name, impl))


_bitwise("bitwise_and", jnp.bitwise_and)
_bitwise("bitwise_or", jnp.bitwise_or)
_bitwise("bitwise_xor", jnp.bitwise_xor)
_bitwise("bitwise_left_shift", jnp.left_shift)
_bitwise("bitwise_right_shift", jnp.right_shift)


# --- ternary and clamps -------------------------------------------------------------------------------
@op(promote="same", inplace=True)
def clamp(input, min=None, max=None):
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    out = input
    if min is not None:
        out = kinks.clamp_min(out, min)
    if max is not None:
        out = kinks.clamp_max(out, max)
    return out


alias("clip", "clamp")


@op(promote="same", inplace=True)
def clamp_min(input, min):
    return kinks.clamp_min(input, min)


@op(promote="same", inplace=True)
def clamp_max(input, max):
    return kinks.clamp_max(input, max)


@op(promote="same", operands=("input", "other"), public=False, method=False)
def _where(condition, input, other):
    return jnp.where(condition.astype(bool), input, other)


@overload("where", method=False)
def where(condition, input=None, other=None, *, out=None):
    # torch.where(condition) alone is torch.nonzero(condition, as_tuple=True)
    if input is None and other is None:
        if out is not None:
            raise TypeError("where() got an unexpected keyword argument 'out' with condition only")
        from .indexing import nonzero
        return nonzero(condition, as_tuple=True)
    if input is None or other is None:
        raise TypeError("where() received an invalid combination of arguments: give condition alone, or condition, input and other")
    return OPS["_where"](condition, input, other, **({} if out is None else {"out": out}))


@op(promote="same", inplace=True)
def lerp(input, end, weight):
    return input + weight * (end - input)


@op(promote="same", inplace=True, operands=("input", "tensor1", "tensor2"))
def addcmul(input, tensor1, tensor2, *, value=1):
    return input + value * tensor1 * tensor2


@op(promote="same", inplace=True, operands=("input", "tensor1", "tensor2"))
def addcdiv(input, tensor1, tensor2, *, value=1):
    if jnp.issubdtype(tensor1.dtype, jnp.integer) and jnp.issubdtype(tensor2.dtype, jnp.integer):
        raise RuntimeError("Integer division with addcdiv is no longer supported, and in a future release addcdiv "
                           "will perform a true division of tensor1 and tensor2.")
    return input + value * tensor1 / tensor2


def _same_dtypes(b):
    a, v = b["input"], b["values"]
    if getattr(a, "dtype", None) is not getattr(v, "dtype", None):
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes.")


@op(promote="same", inplace=True, differentiable=False, check=_same_dtypes)
def heaviside(input, values):
    return jnp.where(input == 0, values, (input > 0).astype(input.dtype))


@op(promote="same")
def real(input):
    return jnp.real(input)


@op(promote="same")
def imag(input):
    if not jnp.iscomplexobj(input):
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return jnp.imag(input)


@op(promote="float", saves_result="only")
def polar(abs, angle):
    return abs * jnp.cos(angle) + 1j * abs * jnp.sin(angle)


@op(promote="same", method=False)
def complex(real, imag):
    return jax.lax.complex(*jnp.broadcast_arrays(real, imag))


@op(promote="same", static=("rtol", "atol", "equal_nan"), differentiable=False)
def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    if input.dtype == jnp.bool_:
        return input == other
    return jnp.isclose(input, other, rtol=rtol, atol=atol, equal_nan=equal_nan)


@op("_allclose", promote="same", static=("rtol", "atol", "equal_nan"), differentiable=False, public=False,
    method=False)
def _allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return jnp.all(OPS["isclose"].impl(input, other, rtol, atol, equal_nan))


@overload("allclose")
def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    if input.dtype != other.dtype and not (hasattr(other, "dtype") and False):
        if input.dtype.is_floating_point != other.dtype.is_floating_point or input.dtype is not other.dtype:
            raise RuntimeError(f"Float did not match {other.dtype}") if False else None
    return bool(OPS["_allclose"](input, other, rtol, atol, equal_nan).item())


@op("_equal", promote="same", differentiable=False, public=False, method=False)
def _equal(input, other):
    return jnp.array_equal(input, other)


@overload("equal")
def equal(input, other):
    if tuple(input.shape) != tuple(other.shape):
        return False
    return bool(OPS["_equal"](input, other).item())
