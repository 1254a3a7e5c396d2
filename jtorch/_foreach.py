"""torch._foreach_* (used by EMA helpers and hand-written optimizers: `_foreach_lerp_(ema, params,
1 - decay)`, `_foreach_mul_(grads, scale)`, `_foreach_norm(grads)`): each applies one registered
op to every tensor of a list. List arguments (tensors or scalars) are zipped with the first list;
any other argument (a number, a single Tensor) is shared. In-place forms return the list of
updated tensors, as torch 2.x's do."""
_UNARY = ("abs", "acos", "asin", "atan", "ceil", "cos", "cosh", "erf", "erfc", "exp", "expm1", "floor", "frac",
          "lgamma", "log", "log10", "log1p", "log2", "neg", "reciprocal", "round", "rsqrt", "sigmoid", "sign",
          "sin", "sinh", "sqrt", "tan", "tanh", "trunc")
_BINARY = ("add", "sub", "mul", "div", "pow", "maximum", "minimum", "clamp_max", "clamp_min", "lerp",
           "addcmul", "addcdiv", "copy")
_INPLACE_ONLY = ("copy", "zero")
_OUT_ONLY = ("clone", "max", "norm", "mm")


def _zip_args(n, args, name):
    per = []
    for a in args:
        if isinstance(a, (list, tuple)):
            if len(a) != n:
                raise RuntimeError(f"{name}: Tensor lists must have the same number of tensors, got {n} and {len(a)}")
            per.append(a)
        else:
            per.append((a,) * n)
    return list(zip(*per)) if per else [()] * n


def _make(name):
    inplace = name.endswith("_")
    base = name[len("_foreach_"):].rstrip("_")
    if inplace and base in _OUT_ONLY or not inplace and base in _INPLACE_ONLY:
        return None
    if base not in _UNARY and base not in _BINARY and base not in _INPLACE_ONLY and base not in _OUT_ONLY:
        return None
    import jtorch

    def foreach(self, *args, **kwargs):
        if not isinstance(self, (list, tuple)):
            if base == "pow" and not inplace and args and isinstance(args[0], (list, tuple)):
                return [jtorch.pow(self, e) for e in args[0]]   # _foreach_pow(scalar, exponents)
            raise TypeError(f"{name}(): argument 'self' must be tuple of Tensors, not {type(self).__name__}")
        if base in ("addcmul", "addcdiv") and len(args) == 3:
            # the scalar(s): a number, a list of numbers or a Tensor of one number per tensor
            vals = args[2].tolist() if getattr(args[2], "ndim", 0) == 1 else args[2]
            vals = vals if isinstance(vals, (list, tuple)) else [vals] * len(self)
            fn = (lambda t, a, v: getattr(t, base + "_")(*a, value=v)) if inplace else \
                (lambda t, a, v: getattr(jtorch, base)(t, *a, value=v))
            out = [fn(t, a, v) for t, a, v in zip(self, _zip_args(len(self), args[:2], name), vals)]
            return list(self) if inplace else out
        per = _zip_args(len(self), args, name)
        if base == "zero":
            for t in self:
                t.zero_()
            return list(self)
        if base == "norm":
            ord_ = args[0] if args else kwargs.get("ord", 2)
            return [jtorch.linalg.vector_norm(t, ord_, dtype=kwargs.get("dtype")) for t in self]
        if base == "max":
            return [t.max() for t in self]
        if base == "clone":
            return [t.clone() for t in self]
        if base == "mm":
            return [jtorch.mm(t, *a) for t, a in zip(self, per)]
        if inplace:
            for t, a in zip(self, per):
                getattr(t, base + "_")(*a, **kwargs)
            return list(self)
        return [getattr(jtorch, base)(t, *a, **kwargs) for t, a in zip(self, per)]

    foreach.__name__ = foreach.__qualname__ = name
    return foreach


def get(name):
    """The jtorch._foreach_* function called `name`, or None when torch has no such function."""
    return _make(name)
