"""torch.nn.Parameter, Buffer and the uninitialised placeholders of lazy modules."""
from .._tensor import Tensor, wrap
from .. import _dtype as D


def _value_of(data):
    if data is None:
        from .._creation import empty
        data = empty(0)
    if not isinstance(data, Tensor):
        raise TypeError(f"Parameter(): argument 'data' (position 1) must be Tensor, not {type(data).__name__}")
    return data._value


class Parameter(Tensor):
    """A Tensor that a Module registers as a parameter when assigned as an attribute."""

    def __new__(cls, data=None, requires_grad=True):
        t = object.__new__(cls)
        t._data = _value_of(data)
        if requires_grad:
            dt = t.dtype
            if not (dt.is_floating_point or dt.is_complex):
                raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
            t._requires_grad = True
        return t

    def __init__(self, *args, **kwargs):
        pass

    def __repr__(self):
        r = super().__repr__()  # the core's tensor_repr already writes torch's "Parameter containing:" line
        return r if r.startswith("Parameter containing:") else "Parameter containing:\n" + r

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        t = type(self).__new__(type(self), wrap(self._value), self._requires_grad) \
            if type(self) is Parameter else Tensor.__deepcopy__(self, memo)
        if type(self) is Parameter:
            # torch's Parameter.__deepcopy__ builds a fresh Parameter from the data: the copy has no
            # .grad (copy.deepcopy(model) after backward gives a model without gradients)
            extra = {k: v for k, v in self.__dict__.items() if k not in ("_data", "_requires_grad", "_grad", "_vc",
                                                                         "_accum", "_synced", "grad_fn")}
            if extra:
                import copy
                t.__dict__.update(copy.deepcopy(extra, memo))
        memo[id(self)] = t
        return t

    def __reduce_ex__(self, proto):
        import numpy as np
        return (_rebuild_parameter, (np.asarray(self._value), self._requires_grad, type(self)))


def _rebuild_parameter(arr, requires_grad, cls=Parameter):
    import jax.numpy as jnp
    t = object.__new__(cls)
    t._data = jnp.asarray(arr)
    t._requires_grad = requires_grad
    return t


class _BufferMeta(type):
    # isinstance(t, Buffer) is true for tensors made by Buffer(...), which are plain Tensors.
    def __instancecheck__(cls, obj):
        if cls is Buffer:
            return isinstance(obj, Tensor) and getattr(obj, "_is_buffer", False)
        return type.__instancecheck__(cls, obj)


class Buffer(Tensor, metaclass=_BufferMeta):
    """Marks a tensor to be registered as a buffer when assigned to a Module attribute."""

    def __new__(cls, data=None, *, persistent=True):
        t = wrap(_value_of(data))
        t._is_buffer = True
        t.persistent = persistent
        return t


class UninitializedTensorMixin:
    _allowed = {"__class__", "_data", "requires_grad", "_requires_grad", "materialize", "__dict__", "dtype",
                "device", "__repr__", "__reduce_ex__", "__deepcopy__", "_value", "grad", "_grad", "grad_fn",
                "is_leaf", "_is_buffer", "cls_to_become", "_base"}

    def materialize(self, shape, device=None, dtype=None):
        from .._creation import empty
        if device is None:
            device = self._init_device
        if dtype is None:
            dtype = self.dtype
        if isinstance(shape, int):
            shape = (shape,)
        t = empty(tuple(shape), device=device, dtype=dtype)
        self._data = t._value
        self.__class__ = self.cls_to_become

    @property
    def shape(self):
        raise RuntimeError("Can't access the shape of an uninitialized parameter or buffer. This error usually "
                           "happens in `load_state_dict` when trying to load an uninitialized parameter into an "
                           "initialized one. Call `forward` to initialize the parameters before accessing their "
                           "attributes.")

    def numel(self):
        raise RuntimeError("Can't access the shape of an uninitialized parameter or buffer. Call `forward` to "
                           "initialize the parameters before accessing their attributes.")

    @property
    def dtype(self):
        # the placeholder's dtype: Module.to(dtype) converts it (like torch's `param.data = ...`)
        return D.from_np(self._data.dtype)

    @property
    def device(self):
        from .._device import device
        return device(self._init_device) if self._init_device is not None else device("cpu")

    def __repr__(self):
        return f"<{type(self).__name__}>"

    def __reduce_ex__(self, proto):
        return (self.__class__, (self.requires_grad,))


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    cls_to_become = Parameter

    def __new__(cls, requires_grad=True, device=None, dtype=None):
        import jax.numpy as jnp
        t = object.__new__(cls)
        t._data = jnp.zeros((0,), (D.to_dtype(dtype) if dtype is not None else D.get_default_dtype()).np)
        t._requires_grad = requires_grad
        t._init_device = device
        t._init_dtype = D.to_dtype(dtype) if dtype is not None else D.get_default_dtype()
        return t

    def __deepcopy__(self, memo):
        return type(self)(self._requires_grad, self._init_device, self._init_dtype)


class UninitializedBuffer(UninitializedTensorMixin, Tensor):
    cls_to_become = Tensor

    def __new__(cls, requires_grad=False, device=None, dtype=None, persistent=True):
        import jax.numpy as jnp
        t = object.__new__(cls)
        t._init_dtype = D.to_dtype(dtype) if dtype is not None else D.get_default_dtype()
        t._data = jnp.zeros((0,), t._init_dtype.np)
        t._init_device = device
        t.persistent = persistent
        return t

    def __deepcopy__(self, memo):
        return type(self)(False, self._init_device, self._init_dtype)


def is_lazy(param):
    return isinstance(param, UninitializedTensorMixin)
