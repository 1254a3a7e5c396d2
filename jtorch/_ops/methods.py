"""Derive Tensor's op methods, in-place variants and Python operators from the registry."""
import jax.numpy as jnp

from .. import _dtype as D
from .._tensor import Tensor, Size, wrap
from .registry import OPS, OpDef
from .dispatch import call
from ..autograd.grad_mode import STATE
from . import indexing
from . import resolve

# Methods whose sizes may be given as varargs: x.view(2, 3) as well as x.view((2, 3)).
PACKED = {"view", "reshape", "permute", "expand", "repeat", "tile", "flip"}


def _no_out(name, kwargs):
    # torch's Tensor methods never take out= (torch.add does, Tensor.add does not)
    if "out" in kwargs:
        raise TypeError(f"{name}() got an unexpected keyword argument 'out'")


def _method(opdef):
    def m(self, *args, **kwargs):
        if kwargs:
            _no_out(opdef.name, kwargs)
        return call(opdef, (self,) + args, kwargs)
    return m


def _packed_method(opdef):
    def m(self, *args, **kwargs):
        if args and (len(args) > 1 or not isinstance(args[0], (tuple, list))):
            args = (tuple(args),)
        if kwargs:
            _no_out(opdef.name, kwargs)
        return call(opdef, (self,) + args, kwargs)
    return m


def _inplace(fn, is_opdef):
    if is_opdef:
        def m(self, *args, **kwargs):
            if kwargs:
                _no_out(fn.name + "_", kwargs)
            return self._inplace_from(call(fn, (self,) + args, kwargs))
    else:
        def m(self, *args, **kwargs):
            return self._inplace_from(fn(self, *args, **kwargs))
    return m


def _router_method(fn):
    def m(self, *args, **kwargs):
        return fn(self, *args, **kwargs)
    return m


def install():
    for name in list(OPS):
        fn, od, method, public, inplace = resolve(name)
        if method and not hasattr(Tensor, name):
            if isinstance(fn, OpDef):
                m = _packed_method(fn) if name in PACKED else _method(fn)
            else:
                m = _router_method(fn)
            m.__name__ = name
            setattr(Tensor, name, m)
        if inplace and method and not hasattr(Tensor, name + "_"):
            m = _inplace(fn, isinstance(fn, OpDef))
            m.__name__ = name + "_"
            setattr(Tensor, name + "_", m)
    _install_operators()
    _install_specials()


def _binop(opname, reflected=False):
    od = OPS[opname]

    def f(self, other):
        if other is None or not isinstance(other, (Tensor, int, float, bool, complex)) and not hasattr(other, "dtype"):
            return NotImplemented
        return call(od, (other, self) if reflected else (self, other), None)
    f.__name__ = opname
    return f


def _ibinop(opname):
    od = OPS[opname]

    def f(self, other):
        return self._inplace_from(call(od, (self, other), None))
    return f


def _install_operators():
    T = Tensor
    for dunder, opname in {"add": "add", "sub": "sub", "mul": "mul", "truediv": "div", "floordiv": "floor_divide",
                           "mod": "remainder", "pow": "pow", "matmul": "matmul", "and": "bitwise_and",
                           "or": "bitwise_or", "xor": "bitwise_xor", "lshift": "bitwise_left_shift",
                           "rshift": "bitwise_right_shift"}.items():
        setattr(T, f"__{dunder}__", _binop(opname))
        setattr(T, f"__r{dunder}__", _binop(opname, reflected=True))
        setattr(T, f"__i{dunder}__", _ibinop(opname))
    rdiv = _binop("mul")

    def __rtruediv__(self, other):  # torch: `other / t` is t.reciprocal() * other (so autocast sees reciprocal)
        if other is None or not isinstance(other, (Tensor, int, float, bool, complex)) and not hasattr(other, "dtype"):
            return NotImplemented
        return rdiv(call(OPS["reciprocal"], (self,), None), other)
    T.__rtruediv__ = __rtruediv__
    for dunder, opname in {"eq": "eq", "ne": "ne", "lt": "lt", "le": "le", "gt": "gt", "ge": "ge"}.items():
        setattr(T, f"__{dunder}__", _binop(opname))
    T.__hash__ = object.__hash__
    T.__neg__ = lambda self: call(OPS["neg"], (self,), None)
    T.__pos__ = lambda self: call(OPS["positive"], (self,), None)
    T.__contains__ = _contains
    T.__abs__ = lambda self: call(OPS["abs"], (self,), None)
    T.__invert__ = _invert
    T.__getitem__ = indexing.getitem
    T.__setitem__ = indexing.setitem


def _install_specials():
    T = Tensor
    view_op, view_dtype = OPS["view"], OPS["_view_dtype"]
    from .._views import check_view

    def view(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (D.dtype, type)) or (len(shape) == 1 and isinstance(shape[0], str)):
            return call(view_dtype, (self, D.to_dtype(shape[0])), None)
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        if self._vchain or self._memfmt is not None:   # maybe not row-major: torch refuses some shapes
            check_view(self, shape)
        return call(view_op, (self, tuple(shape)), None)
    T.view = view
    T.T = property(lambda self: self.permute(*reversed(range(self.ndim))))
    T.mT = property(lambda self: self.transpose(-2, -1))
    T.H = property(lambda self: self.T.conj())
    T.mH = property(lambda self: self.transpose(-2, -1).conj())
    T.real = property(lambda self: call(OPS["real"], (self,), None))
    T.imag = property(lambda self: call(OPS["imag"], (self,), None))
    T.view_as = lambda self, other: self.view(tuple(other.shape))
    T.reshape_as = lambda self, other: self.reshape(tuple(other.shape))
    T.expand_as = lambda self, other: self.expand(tuple(other.shape))
    T.type_as = lambda self, other: self.to(other.dtype)
    T.new_tensor = _new_tensor
    T.new_zeros = _new_factory("zeros")
    T.new_ones = _new_factory("ones")
    T.new_empty = _new_factory("empty")
    T.new_empty_strided = lambda self, size, stride, **kw: self.new_empty(tuple(size), **kw)
    T.__rdiv__ = T.__rtruediv__  # torch keeps the Python 2 spelling
    T.resize_ = _resize_
    T.resize_as_ = lambda self, other, *, memory_format=None: _resize_(self, tuple(other.shape))
    T.new_full = lambda self, size, fill_value, *, dtype=None, device=None, requires_grad=False, **kw: \
        _creation().full(size, fill_value, dtype=dtype or self.dtype, device=device or self.device,
                         requires_grad=requires_grad)
    T.copy_ = _copy_
    T.fill_ = lambda self, value: self._inplace_from(call(OPS["_fill"], (self, value), None))
    T.zero_ = lambda self: self._inplace_from(call(OPS["_fill"], (self, 0), None))
    T.uniform_ = lambda self, a=0.0, b=1.0, *, generator=None: _rand_(self, "uniform", generator, a, b)
    T.normal_ = lambda self, mean=0.0, std=1.0, *, generator=None: _rand_(self, "normal", generator, mean, std)
    T.bernoulli_ = lambda self, p=0.5, *, generator=None: _rand_(self, "bernoulli", generator, p)
    T.exponential_ = lambda self, lambd=1.0, *, generator=None: _rand_(self, "exponential", generator, lambd)
    T.cauchy_ = lambda self, median=0.0, sigma=1.0, *, generator=None: _rand_(self, "cauchy", generator, median, sigma)
    T.log_normal_ = lambda self, mean=1.0, std=2.0, *, generator=None: _rand_(self, "log_normal", generator, mean, std)
    T.geometric_ = lambda self, p, *, generator=None: _rand_(self, "geometric", generator, p)
    T.random_ = _random_
    T.bernoulli = lambda self, p=None, *, generator=None: _creation().bernoulli(self, p, generator=generator)
    T.multinomial = lambda self, num_samples, replacement=False, *, generator=None: \
        _creation().multinomial(self, num_samples, replacement, generator=generator)
    T.dim_order = lambda self: tuple(range(self.ndim))
    # torch's Tensor.where(condition, y) is where(condition, self, y): self is not the condition
    T.where = lambda self, condition, y: call(OPS["_where"], (condition, self, y), None)
    T.clamp_min_ = lambda self, min: self._inplace_from(call(OPS["clamp_min"], (self, min), None))
    T.fill_diagonal_ = _fill_diagonal_
    T.float_power_ = _float_power_
    for name, opname in (("transpose_", "transpose"), ("swapaxes_", "transpose"), ("swapdims_", "transpose"),
                         ("t_", "t"), ("squeeze_", "squeeze"), ("unsqueeze_", "unsqueeze")):
        setattr(T, name, _meta_inplace(OPS[opname], name))
    T.apply_ = lambda self, fn: self._inplace_from(wrap(jnp.asarray(
        __import__("numpy").vectorize(fn)(self.numpy())).astype(self._value.dtype)))


def _creation():
    from .. import _creation as C
    return C


def _new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
    C = _creation()
    if isinstance(data, Tensor):
        t = data.detach().clone()
        return t.to(dtype or t.dtype).requires_grad_(requires_grad)
    return C.tensor(data, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)


def _new_factory(kind):
    def f(self, *size, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
        return getattr(_creation(), kind)(*size, dtype=dtype or self.dtype, device=device or self.device,
                                          requires_grad=requires_grad)
    return f


def _resize_(self, *size, memory_format=None):
    """torch's resize_: keep the first numel elements (row-major); new elements are zeros here
    (uninitialised in torch). Views and tensors that require grad cannot be resized, as in torch."""
    import jax.numpy as jnp
    from .util import size_arg
    shape = size_arg(size)
    if self.requires_grad:
        raise RuntimeError("cannot resize variables that require grad")
    if self._base is not None:
        raise RuntimeError("jtorch: resize_ of a view is not supported (JAX arrays cannot share storage)")
    flat = self._value.reshape(-1)
    n = 1
    for s in shape:
        n *= s
    flat = flat[:n] if n <= flat.shape[0] else jnp.concatenate([flat, jnp.zeros(n - flat.shape[0], flat.dtype)])
    self._set_value(flat.reshape(shape))
    return self


def _copy_(self, src, non_blocking=False):
    if not isinstance(src, Tensor):
        src = _creation().tensor(src)
    if src.device != self.device:
        src = src.to(self.device)
    res = call(OPS["_copy_from"], (self, src), None)
    return self._inplace_from(res)


def _rand_(self, kind, generator, *params):
    from .. import _random
    arr = _random.draw(kind, tuple(self.shape), self.dtype, generator, *params)
    return self._assign(wrap(arr))


def _random_(self, from_=0, to=None, *, generator=None):
    from .. import _random
    if to is None:
        if self.dtype._cat >= 2:
            to = 2 ** (D.finfo(self.dtype).bits if self.dtype is not D.float64 else 53)
            to = min(to, 2 ** 24 if self.dtype is D.float32 else to)
        else:
            to = D.iinfo(self.dtype).max + 1 if self.dtype is not D.bool_ else 2
        from_, to = 0, from_ if from_ else to
    # the sampler draws in int64, so [0, 2**63) (int64's full range, torch's default for int64 and the way
    # torch's RandomSampler seeds itself) becomes [0, 2**63 - 1): one value of 2**63 left out
    to = min(to, D.iinfo(D.int64).max)
    arr = _random.draw("randint", tuple(self.shape), self.dtype, generator, from_, to)
    return self._assign(wrap(arr))


def _fill_diagonal_(self, fill_value, wrap_=False):
    n = min(self.shape)
    idx = jnp.arange(n)
    arr = self._value.at[(idx,) * self.ndim].set(fill_value)
    return self._assign(wrap(arr))


def _float_power_(self, exponent):
    want = D.complex128 if self.dtype.is_complex or getattr(exponent, "is_complex", lambda: False)() or \
        isinstance(exponent, complex) else D.float64
    if self.dtype is not want:
        from .._tensor import _type_name
        raise RuntimeError(f"the base given to float_power_ has dtype {_type_name(self.dtype)} but the operation's "
                           f"result requires dtype {_type_name(want)}")
    return self._inplace_from(call(OPS["float_power"], (self, exponent), None))


def _meta_inplace(opdef, name):
    """x.transpose_(0, 1), x.squeeze_(): the tensor itself takes the new shape (torch changes its
    metadata in place); autograd history follows as for any in-place op."""
    def m(self, *args, **kwargs):
        res = call(opdef, (self,) + args, kwargs)
        if self._base is not None:
            raise NotImplementedError(f"jtorch: {name} on a view is not supported; use {opdef.name}() instead")
        res = res.detach() if res._base is not None and not res._requires_grad else res
        data = res._value
        g = STATE.enabled and res._requires_grad
        self._data = data
        self._bump()
        if g:
            self.grad_fn, self._out_idx, self._requires_grad = res.grad_fn, res._out_idx, True
        return self
    m.__name__ = name
    return m


def _invert(self):
    d = self.dtype
    if d is D.bool_:
        return call(OPS["logical_not"], (self,), None)
    if d._cat != 1:
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type tensors")
    return call(OPS["bitwise_not"], (self,), None)


def _contains(self, element):
    if isinstance(element, (Tensor, int, float, bool, complex)):
        return bool(call(OPS["eq"], (self, element), None).any().item())
    raise RuntimeError(f"Tensor.__contains__ only supports Tensor or scalar, but you passed in a {type(element)}.")
