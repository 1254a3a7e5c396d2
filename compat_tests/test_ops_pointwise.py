"""Pointwise ops (jtorch/_ops/pointwise.py) vs torch: every dtype, 0-dim/empty shapes, broadcasting,
Python scalars (type promotion), function / method / in-place / out= forms, error types."""
import pytest
import torch

from opcheck import (S, mk, run_table, err, F16, BF16, F32, F64, I32, I64, U8, B, C64)

UNARY_FLOAT = ["sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh",
               "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt", "sigmoid", "erf", "erfc",
               "erfinv", "lgamma", "digamma", "i0", "sinc", "deg2rad", "rad2deg", "reciprocal", "logit",
               "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "angle", "sgn"]
UNARY_SAME = ["neg", "negative", "abs", "absolute", "sign", "square", "floor", "ceil", "trunc", "fix", "frac",
              "round", "bitwise_not", "logical_not", "isnan", "isinf", "isposinf", "isneginf", "isfinite", "isreal",
              "signbit", "nan_to_num", "conj_physical", "conj", "resolve_conj", "resolve_neg", "positive"]


def unary_samples(kind="any"):
    k = "unit" if kind == "unit" else kind
    return [S(mk((3, 4), F32, k)), S(mk((), F32, k)), S(mk((0,), F32)), S(mk((3, 4), F64, k)),
            S(mk((3, 4), F16, k)), S(mk((3, 4), BF16, k)), S(mk((3, 4), I64)), S(mk((3, 4), I32)),
            S(mk((3, 4), U8)), S(mk((3, 4), B)), S(mk((3, 4), C64))]


_DOMAIN = {"erfinv": "unit", "atanh": "unit", "arctanh": "unit", "logit": "unit", "asin": "unit", "acos": "unit",
           "arcsin": "unit", "arccos": "unit", "acosh": "pos", "arccosh": "pos", "log": "pos", "log2": "pos",
           "log10": "pos", "sqrt": "pos", "rsqrt": "pos", "lgamma": "pos", "digamma": "pos", "reciprocal": "nz"}
_TOL = {"digamma": (1e-4, 1e-4), "lgamma": (1e-4, 1e-4), "i0": (1e-5, 1e-5), "tan": (1e-5, 1e-5),
        "erfinv": (1e-5, 1e-5)}


@pytest.mark.parametrize("name", UNARY_FLOAT + UNARY_SAME)
def test_unary(name):
    tol = _TOL.get(name, (None, None))
    run_table(name, unary_samples(_DOMAIN.get(name, "any")), rtol=tol[0], atol=tol[1])


def test_unary_special_values():
    x = torch.tensor([0.0, -0.0, 1.5, -2.5, 0.5, float("inf"), -float("inf"), float("nan")])
    for name in ["floor", "ceil", "round", "trunc", "sign", "sgn", "isnan", "isinf", "isfinite", "signbit",
                 "nan_to_num", "abs", "exp", "sigmoid", "frac", "isposinf", "isneginf", "square", "reciprocal"]:
        run_table(name, [S(x)])
    run_table("round", [S(torch.tensor([1.2345, -2.5551, 1234.5678]), decimals=2),
                        S(torch.tensor([1234.5678]), decimals=-2)])
    run_table("nan_to_num", [S(x, nan=1.0, posinf=2.0, neginf=-3.0), S(x.double(), 0.5)])
    run_table("logit", [S(mk((3, 4), F32, "unit").abs(), eps=0.2)])


# --- binary ------------------------------------------------------------------------------------------
BINARY = ["add", "sub", "mul", "div", "floor_divide", "remainder", "fmod", "pow", "float_power", "atan2",
          "maximum", "minimum", "fmax", "fmin", "hypot", "logaddexp", "logaddexp2", "xlogy", "copysign",
          "nextafter", "ldexp", "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor",
          "subtract", "multiply", "divide", "true_divide", "arctan2", "greater", "greater_equal", "less",
          "less_equal", "not_equal", "rsub", "heaviside", "gcd", "lcm", "bitwise_and", "bitwise_or", "bitwise_xor",
          "bitwise_left_shift", "bitwise_right_shift"]
_NZ_OTHER = {"div", "floor_divide", "remainder", "fmod", "divide", "true_divide"}
_INT_ONLY = {"gcd", "lcm", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift"}


def binary_samples(name):
    ok = "nz" if name in _NZ_OTHER else ("small" if name in ("pow", "float_power", "ldexp", "bitwise_left_shift",
                                                              "bitwise_right_shift") else "any")
    a = "pos" if name in ("pow", "float_power") else "any"
    if name in _INT_ONLY:
        return [S(mk((3, 4), I64), mk((3, 4), I64, ok)), S(mk((3, 4), I32), mk((4,), I64, ok)),
                S(mk((3, 4), U8), mk((3, 4), U8, ok)), S(mk((3, 4), I64), 3), S(mk((3, 4), I32), mk((), I64, ok)),
                S(mk((3, 4), B), mk((3, 4), B)), S(mk((), I64), mk((0,), I64)), S(mk((3, 4), F32), mk((3, 4), F32)),
                S(mk((3, 4), I64), 2.5), S(mk((3, 4), U8), mk((3, 4), I32, ok))]
    if name == "heaviside":
        return [S(mk((3, 4), F32), mk((3, 4), F32)), S(mk((3, 4), F32), mk((), F32)), S(mk((3, 4), I64), mk((4,), I64)),
                S(mk((3, 4), F32), mk((3, 4), F64)), S(mk((3, 4), F64), mk((3, 1), F64))]
    s = [
        S(mk((3, 4), F32, a), mk((3, 4), F32, ok)),
        S(mk((3, 4), F32, a), mk((4,), F32, ok)),             # broadcast
        S(mk((3, 1), F32, a), mk((1, 4), F32, ok)),            # two-sided broadcast
        S(mk((3, 4), F32, a), 2),                             # int scalar keeps float32
        S(mk((3, 4), F32, a), 2.5),                           # float scalar keeps float32
        S(mk((3, 4), I64, a), mk((3, 4), I64, ok)),
        S(mk((3, 4), I64, a), 2.5),                           # float scalar -> default float
        S(mk((3, 4), I32, a), mk((), I64, ok)),               # 0-dim of same category: int32 wins
        S(mk((3, 4), I32, a), mk((3, 4), F16, ok)),
        S(mk((3, 4), U8, a), mk((3, 4), I32, ok)),
        S(mk((3, 4), F16, a), mk((), F64, ok)),              # 0-dim float: float16 wins
        S(mk((3, 4), BF16, a), mk((3, 4), F16, ok)),          # -> float32
        S(mk((3, 4), F32, a), mk((3, 4), F64, ok)),
        S(mk((), F32, a), mk((), F32, ok)),
        S(mk((0,), F32, a), mk((), F32, ok)),
        S(mk((0, 4), F32, a), mk((4,), F32, ok)),
        S(mk((3, 4), B), mk((3, 4), B)),
        S(mk((3, 4), B), 2),
        S(mk((3, 4), I64, a), True),
        S(mk((3, 4), C64), mk((3, 4), F64, ok)),               # -> complex128
        S(mk((3, 4), F32, a), 1 + 2j),                         # complex scalar -> complex64
    ]
    if name in ("add", "sub", "subtract", "rsub"):
        s += [S(mk((3, 4), F32), mk((3, 4), F32), alpha=2), S(mk((3, 4), I64), mk((4,), I64), alpha=3),
              S(mk((3, 4), F32), 2.0, alpha=0.5)]
    if name in ("div", "divide"):
        s += [S(mk((3, 4), F32), mk((3, 4), F32, "nz"), rounding_mode=m) for m in ("trunc", "floor")]
        s += [S(mk((3, 4), I64), mk((3, 4), I64, "nz"), rounding_mode=m) for m in ("trunc", "floor")]
        s += [S(mk((3, 4), I64), 3, rounding_mode="floor"), S(mk((3, 4), I32), mk((), I64, "nz"), rounding_mode="trunc")]
    return s


_BIN_TOL = {"float_power": (1e-6, 1e-6), "pow": (1e-5, 1e-5), "ldexp": (2e-3, 1e-5)}


@pytest.mark.parametrize("name", BINARY)
def test_binary(name):
    tol = _BIN_TOL.get(name, (None, None))
    run_table(name, binary_samples(name), rtol=tol[0], atol=tol[1])


@pytest.mark.parametrize("name", ["add", "mul", "sub", "div", "eq", "maximum", "atan2", "bitwise_and", "pow"])
def test_binary_errors(name):
    err(name, mk((3, 4)), mk((2, 4)))                       # mismatched shapes
    err(name, mk((3, 4)), "x")                              # wrong argument type


def test_dtype_errors():
    err("sub", mk((3,), B), mk((3,), B))
    err("neg", mk((3,), B))
    err("bitwise_and", mk((3,), F32), mk((3,), F32))
    err("bitwise_not", mk((3,), F32))
    err("add", mk((3,), F32), mk((3,), F32), alpha="a")
    with pytest.raises(RuntimeError):
        from oracle import to_j
        to_j(mk((3,), I64)).add_(1.5)     # result type Float can't be cast to Long
    with pytest.raises(RuntimeError):
        to_j(mk((3,), F32)).add_(to_j(mk((2, 3), F32)))   # in-place can't broadcast self


# --- ternary / clamps / misc ----------------------------------------------------------------------------
def test_clamp():
    x = mk((3, 4))
    run_table("clamp", [S(x, -0.5, 0.5), S(x, min=-0.5), S(x, max=0.3), S(mk((3, 4), I64), -2, 3),
                        S(mk((3, 4), I64), -2.5, 3.5), S(x, mk((4,), F32), mk((3, 4), F32, "pos")),
                        S(mk((), F32), 0.0, 0.1), S(mk((0,), F32), 0, 1), S(mk((3, 4), F16), -0.5, 0.5)])
    run_table("clip", [S(x, -0.5, 0.5), S(mk((3, 4), I32), min=0)])
    run_table("clamp_min", [S(x, 0.0), S(mk((3, 4), I64), 1)])
    run_table("clamp_max", [S(x, 0.0), S(mk((3, 4), I64), mk((), I64))])
    err("clamp", x)


def test_where_lerp_addc():
    c = mk((3, 4), B)
    run_table("where", [S(c, mk((3, 4)), mk((3, 4), F32, "pos")), S(c, mk((4,)), 0.0), S(c, 1.0, 0),
                        S(c, mk((3, 4), I64), mk((3, 4), F32)), S(c, mk((3, 4), I32), 2),
                        S(mk((3, 1), B), mk((), F64), mk((4,), F32)), S(mk((0,), B), mk((0,)), 1.0)],
              forms=("fn", "out"))
    err("where", c, mk((3, 4)), mk((2, 4)))
    run_table("lerp", [S(mk((3, 4)), mk((3, 4), F32, "pos"), 0.3), S(mk((3, 4)), mk((4,)), mk((3, 4), F32, "unit")),
                       S(mk((3, 4), F64), mk((3, 4), F64, "pos"), mk((), F64))])
    run_table("addcmul", [S(mk((3, 4)), mk((3, 4), F32, "pos"), mk((4,)), value=0.5),
                          S(mk((3, 4), I64), mk((3, 4), I64), mk((3, 4), I64), value=2),
                          S(mk((3, 4)), mk((3, 4), F32, "pos"), mk((3, 4)))])
    run_table("addcdiv", [S(mk((3, 4)), mk((3, 4), F32, "pos"), mk((3, 4), F32, "nz"), value=0.5),
                          S(mk((3, 4)), mk((3, 4)), mk((4,), F32, "nz"))])
    err("addcdiv", mk((3, 4), I64), mk((3, 4), I64), mk((3, 4), I64, "nz"))


def test_complex_parts():
    z = mk((3, 4), C64)
    run_table("real", [S(z), S(mk((3, 4)))], forms=("fn",))
    run_table("imag", [S(z)], forms=("fn",))
    err("imag", mk((3, 4)))
    run_table("polar", [S(mk((3, 4), F32, "pos"), mk((3, 4))), S(mk((3,), F64, "pos"), mk((3,), F64))])
    run_table("complex", [S(mk((3, 4)), mk((3, 4), F32, "pos")), S(mk((3,), F64), mk((3,), F64))])
    run_table("view_as_real", [S(z)], forms=("fn",))
    run_table("view_as_complex", [S(mk((3, 2)))], forms=("fn",))


def test_isclose_allclose_equal():
    a = mk((3, 4))
    b = a + 1e-6
    run_table("isclose", [S(a, b), S(a, mk((3, 4))), S(a, b, rtol=0.0, atol=0.0), S(mk((3, 4), I64), mk((3, 4), I64)),
                          S(torch.tensor([float("nan"), 1.0]), torch.tensor([float("nan"), 1.0]), equal_nan=True),
                          S(mk((3, 4), B), mk((3, 4), B))], forms=("fn", "method"))
    for x, y, kw in [(a, b, {}), (a, mk((3, 4)), {}), (a, a + 1e-3, {"atol": 1e-2}),
                     (torch.tensor([float("nan")]), torch.tensor([float("nan")]), {"equal_nan": True}),
                     (torch.tensor([float("nan")]), torch.tensor([float("nan")]), {})]:
        run_table("allclose", [S(x, y, **kw)], forms=("fn", "method"))
    run_table("equal", [S(a, a.clone()), S(a, b), S(a, mk((4,))), S(mk((3, 4), I64), mk((3, 4), I64)),
                        S(mk((0,)), mk((0,)))], forms=("fn", "method"))
