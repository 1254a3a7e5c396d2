"""jtorch.Tensor: a jax.Array (or a tracer, while compiling) plus autograd and view metadata.

The op-backed methods (add, sum, view, ...) and Python operators are attached from the op
registry (jtorch/_ops/__init__.py); what lives here is the Tensor's own state and protocol.
"""
import numbers

import jax
import jax.numpy as jnp
import numpy as np

from . import _dtype as D
from . import _layout
from ._device import device as _device_cls, from_jax_device, as_device, jax_device
from .autograd.grad_mode import STATE
from .autograd.forward_ad import ACTIVE as _FW

_SDS = jax.ShapeDtypeStruct  # the value of a meta tensor: shape and dtype, no data


class Size(tuple):
    """torch.Size: a tuple of ints with torch's repr and numel()."""

    def __repr__(self):
        return f"torch.Size([{', '.join(map(str, self))}])"

    __str__ = __repr__

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, i):
        r = tuple.__getitem__(self, i)
        return Size(r) if isinstance(i, slice) else r

    def __add__(self, other):
        return Size(tuple(self) + tuple(other))

    def __reduce__(self):
        return (Size, (tuple(self),))


def wrap(arr):
    """Fast Tensor construction around a jax array (no checks)."""
    t = object.__new__(Tensor)
    t._data = arr
    return t


class _TensorMeta(type):
    def __instancecheck__(cls, obj):
        return type.__instancecheck__(cls, obj)


class Tensor:
    """torch.Tensor."""
    _is_jtorch_tensor = True
    # Class-level defaults keep construction cheap: an instance stores only what differs.
    _base = None
    _vchain = ()
    _vc = None
    _synced = 0
    _view_grad = False
    _data_alias = False   # a `.data` tensor: shares storage, but its writes do not count as versions
    _fn_view = None       # (Function name, output index): a view output of a custom Function
    _requires_grad = False
    grad_fn = None
    _out_idx = 0
    _accum = None
    _grad = None
    _retains_grad = False
    _post_acc_hooks = None
    _leaf_hooks = None
    __array_priority__ = 1000

    def __new__(cls, *args, **kwargs):
        # torch.Tensor(2, 3) -> uninitialised float tensor; torch.Tensor([1, 2]) -> float data.
        from ._creation import _legacy_tensor_new
        return _legacy_tensor_new(cls, *args, **kwargs)

    # ------------------------------------------------------------------ value and views
    @property
    def _value(self):
        if self._base is None:
            return self._data
        if self._synced != self._vc[0]:
            self._resync()
        return self._data

    def _resync(self):
        from ._views import view_kernel
        base = self._base
        k = view_kernel(self._vchain)
        if self._view_grad and STATE.enabled and base._requires_grad:
            from ._ops.dispatch import run_kernel_recorded
            t = run_kernel_recorded(k, [base])
            self._data, self.grad_fn, self._out_idx = t._data, t.grad_fn, 0
            self._requires_grad = True
        else:
            self._data = k.jfwd(base._data) if type(base._data) is not _SDS else jax.eval_shape(k.jfwd, base._data)
        self._synced = self._vc[0]

    def _bump(self, silent=False):
        """A write: vc[0] counts every write (views re-read their base when it moves). A write
        through `.data` is `silent`: counted in vc[1] too, so the autograd version (vc[0] - vc[1],
        what saved-tensor checks compare) does not change, as torch's x.data has its own counter."""
        vc = self._vc
        if vc is None:
            self._vc = [1, 1] if silent else [1]
        else:
            vc[0] += 1
            if silent:
                if len(vc) > 1:
                    vc[1] += 1
                else:
                    vc.append(1)

    def _set_value(self, arr):
        """Overwrite the value in place, outside autograd (through to the base for views)."""
        if type(self._value) is _SDS:   # a meta tensor stays meta: only shape and dtype are kept
            arr = _SDS(arr.shape, arr.dtype)
            if self._base is not None:
                self._data = arr
                return
        if self._base is None:
            self._data = arr
            self._bump()
        else:
            from ._views import scatter_kernel
            base = self._base
            base._data = scatter_kernel(self._vchain).jfwd(base._data, arr)
            base._bump(self._data_alias)
            self._data = arr
            self._synced = self._vc[0]

    def _assign(self, res):
        """In-place update with autograd: self takes res's value and history (torch's rebase)."""
        grad_on = STATE.enabled
        if grad_on and self._requires_grad and self.grad_fn is None and self._base is None:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
        if type(self._data) is _SDS and type(res._data) is not _SDS:   # meta stays meta
            res = wrap(_SDS(res._data.shape, res._data.dtype))
        node = res.grad_fn
        rebase = None
        if node is not None and getattr(node, "saved", None):
            # the op read self's old (immutable) value: its own bump must not invalidate it
            if self._vc is not None:
                node.saved = [s for s in node.saved if s[0] is not self._vc]
            if res._vc is not None:   # the op saved its result (x.exp_()): self now holds it
                rebase = node
        if self._base is None:
            self._data = res._data
            self._bump()
            if res._requires_grad and grad_on:
                self.grad_fn, self._out_idx, self._requires_grad = res.grad_fn, res._out_idx, True
            if rebase is not None:
                self._rebase_saved_result(rebase, res._vc)
            return self
        base = self._base
        if self._view_grad and grad_on and base._requires_grad and base.grad_fn is None:
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place operation.")
        if self._fn_view is not None and grad_on:
            raise RuntimeError(
                f"Output {self._fn_view[1]} of {self._fn_view[0]} is a view and is being modified inplace. This view "
                "was created inside a custom Function (or because an input was returned as-is) and the autograd "
                "logic to handle view+inplace would override the custom backward associated with the custom "
                "Function, leading to incorrect gradients. This behavior is forbidden. You can fix this by cloning "
                "the output of the custom Function.")
        from ._views import scatter_kernel, view_kernel
        record = grad_on and self._view_grad and (res._requires_grad or base._requires_grad)
        if record:
            from ._ops.dispatch import run_kernel_recorded
            nb = run_kernel_recorded(scatter_kernel(self._vchain), [base, res])
            base._data, base.grad_fn, base._out_idx, base._requires_grad = nb._data, nb.grad_fn, 0, True
            base._bump()
            nv = run_kernel_recorded(view_kernel(self._vchain), [base])
            self._data, self.grad_fn, self._out_idx, self._requires_grad = nv._data, nv.grad_fn, 0, True
        else:
            base._data = scatter_kernel(self._vchain).jfwd(base._data, res._data)
            base._bump(self._data_alias)
            self._data = res._data
        self._synced = self._vc[0]
        if rebase is not None:
            self._rebase_saved_result(rebase, res._vc)
        return self

    def _rebase_saved_result(self, node, res_vc):
        """An in-place op whose node saved its result: the saved entries now watch self's counter."""
        v = self._version
        node.saved = [(self._vc, v, s[2], s[3]) if s[0] is res_vc else s for s in node.saved]

    def _inplace_from(self, res):
        """Finish an in-place op: check torch's shape/dtype rules, cast, assign."""
        if res._data.shape != self._value.shape:
            raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the broadcast shape "
                               f"{list(res.shape)}")
        if res._data.dtype != self._data.dtype:
            rd, sd = res.dtype, self.dtype
            if not D.can_cast(rd, sd):
                raise RuntimeError(f"result type {_type_name(rd)} can't be cast to the desired output type "
                                   f"{_type_name(sd)}")
            res = res.to(sd)
        if _FW[0] is not None:   # forward AD (a dual level is active): the result's tangent moves in
            self.__dict__.pop("_fw", None)
            if "_fw" in res.__dict__:
                self._fw = res._fw
        return self._assign(res)

    def _set_from_out(self, res, opname=None):
        """out= semantics: out takes the result's shape and keeps its own dtype."""
        if STATE.enabled and (res._requires_grad or self._requires_grad):
            raise RuntimeError(f"{opname + '(): ' if opname else ''}functions with out=... arguments don't support "
                               "automatic differentiation, but one of the arguments requires grad.")
        if res._data.shape != self._value.shape and self._value.size:
            import warnings
            warnings.warn(f"An output with one or more elements was resized since it had shape "
                          f"{list(self._value.shape)}, which does not match the required output shape "
                          f"{list(res._data.shape)}. This behavior is deprecated, and in a future PyTorch release "
                          "outputs will not be resized unless they have zero elements. You can explicitly reuse an "
                          "out tensor t by resizing it, inplace, to zero elements with t.resize_(0).", UserWarning,
                          stacklevel=4)
        if res._data.dtype != self._value.dtype:
            if not D.can_cast(res.dtype, self.dtype):
                raise RuntimeError(f"result type {_type_name(res.dtype)} can't be cast to the desired output "
                                   f"type {_type_name(self.dtype)}")
            res = res.to(self.dtype)
        if self._base is not None and res._data.shape == self._value.shape:
            self._set_value(res._data)
        else:
            self._data = res._data
            self._bump()
        return self

    # ------------------------------------------------------------------ metadata
    @property
    def shape(self):
        return Size(self._value.shape)

    def size(self, dim=None):
        s = self.shape
        if dim is None:
            return s
        from ._ops.util import norm_dim
        return s[norm_dim(dim, len(s))]

    @property
    def dtype(self):
        dt = self._value.dtype
        return D._BY_NP.get(dt) or D.from_np(dt)

    @property
    def ndim(self):
        return len(self.shape)

    def dim(self):
        return len(self.shape)

    ndimension = dim

    def numel(self):
        return self.shape.numel()

    nelement = numel

    def element_size(self):
        return self.dtype.itemsize

    @property
    def itemsize(self):
        return self.dtype.itemsize

    @property
    def nbytes(self):
        return self.numel() * self.dtype.itemsize

    def stride(self, dim=None):
        from ._views import strides_of
        st = strides_of(self) if self._memfmt is None else _layout.channels_last_strides(tuple(self.shape))
        if dim is None:
            return st
        from ._ops.util import norm_dim
        return st[norm_dim(dim, len(st))]

    def is_contiguous(self, memory_format=None):
        from ._views import strides_of
        st, acc, row_major = strides_of(self), 1, True
        for s, d in zip(reversed(self.shape), reversed(st)):
            if s != 1 and d != acc:
                row_major = False
                break
            acc *= s
        if memory_format is None and self._memfmt is None:
            return row_major
        return _layout.is_contiguous_as(self, memory_format, row_major)

    def contiguous(self, memory_format=None):
        if _layout.rank_of(memory_format) is not None:
            _layout.check_rank(self, memory_format)
            return self if self.is_contiguous(memory_format) else _layout.as_format(self, memory_format)
        if self._memfmt is not None and memory_format is not _layout.preserve_format:
            # back to row-major (clone drops the tag), unless both formats coincide for this shape
            return self if _layout._trivially_both(self) else self.clone()
        return self if self.is_contiguous() else self.clone()

    def storage_offset(self):
        if not self._vchain:
            return 0
        from ._views import offset_of
        return offset_of(self)

    @property
    def device(self):
        a = self._value
        if type(a) is _SDS:
            return _device_cls("meta")
        if isinstance(a, jax.core.Tracer):  # while compiling (asking a tracer is slow and raises)
            from ._compile import TRACE_DEVICE
            if TRACE_DEVICE[0] is not None:
                return TRACE_DEVICE[0]
            from ._creation_defaults import get_default_device
            return get_default_device() or _device_cls("cpu")
        try:
            devs = a.devices()
        except Exception:  # a tracer while compiling
            from ._creation_defaults import get_default_device
            return get_default_device() or _device_cls("cpu")
        return from_jax_device(next(iter(devs)) if len(devs) == 1 else min(devs, key=lambda d: d.id))

    @property
    def is_cuda(self):
        return self.device.type == "cuda"

    @property
    def is_cpu(self):
        return self.device.type == "cpu"

    @property
    def is_meta(self):
        # a meta tensor holds a jax.ShapeDtypeStruct: shape and dtype, no data
        return type(self._value) is _SDS

    is_sparse = False

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        # real torch's override protocol: a torch function called with jtorch tensors runs jtorch's
        from ._foreign import torch_function
        return torch_function(cls, func, types, args, kwargs)
    is_quantized = False
    is_mkldnn = False
    is_nested = False
    layout = _layout.strided
    _memfmt = None  # a channels_last tag (see _layout.py); values never depend on it

    def get_device(self):
        d = self.device
        return -1 if d.type == "cpu" else (d.index or 0)

    def is_floating_point(self):
        return self.dtype.is_floating_point

    def is_complex(self):
        return self.dtype.is_complex

    def is_signed(self):
        return self.dtype.is_signed

    # ------------------------------------------------------------------ autograd state
    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        flag = bool(flag)
        if self.grad_fn is not None:
            if not flag:
                raise RuntimeError("you can only change requires_grad flags of leaf variables. If you want to use "
                                   "a computed variable in a subgraph that doesn't require differentiation use "
                                   "var_no_grad = var.detach().")
            return
        if flag and not (self.dtype.is_floating_point or self.dtype.is_complex):
            raise RuntimeError("only Tensors of floating point and complex dtype can require gradients")
        self._requires_grad = flag

    def requires_grad_(self, requires_grad=True):
        if requires_grad and self.grad_fn is None and not (self.dtype.is_floating_point or self.dtype.is_complex):
            # torch words this one differently from the requires_grad setter
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def grad(self):
        if self.grad_fn is not None and not self._retains_grad and self._requires_grad:
            import warnings
            warnings.warn("The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
                          "attribute won't be populated during autograd.backward(). If you indeed want the .grad "
                          "field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor.",
                          UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, g):
        if g is not None:
            if not isinstance(g, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type {type(g).__name__}")
            if tuple(g.shape) != tuple(self.shape):
                raise RuntimeError(f"attempting to assign a gradient of size '{list(g.shape)}' to a tensor of size "
                                   f"'{list(self.shape)}'. Please ensure that the gradient and the tensor are the same "
                                   f"size")
            if g.dtype is not self.dtype:
                raise RuntimeError("assigned grad has data of a different type")
        self._grad = g

    @property
    def retains_grad(self):
        return self._retains_grad

    def retain_grad(self):
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is None or self._retains_grad:
            return
        import weakref
        node = self.grad_fn
        d = node.__dict__.setdefault("_retain", {})
        d[self._out_idx] = weakref.ref(self)
        self._retains_grad = True

    @property
    def _version(self):
        vc = self._vc
        if vc is None:
            return 0
        if self._data_alias:   # x.data counts its own writes, from 0
            return (vc[1] if len(vc) > 1 else 0) - self.__dict__.get("_alias_v0", 0)
        return vc[0] if len(vc) == 1 else vc[0] - vc[1]

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        from .autograd import backward
        backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def register_hook(self, hook):
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        from .autograd.graph import RemovableHandle
        if self.grad_fn is None:  # leaf: hooks live on the tensor (its AccumulateGrad is weakly held)
            d = self.__dict__.setdefault("_leaf_hooks", {})
        else:
            hooks = self.grad_fn.__dict__.setdefault("_tensor_hooks", {})
            d = hooks.setdefault(self._out_idx, {})
        h = RemovableHandle(d)
        d[h.id] = hook
        return h

    def register_post_accumulate_grad_hook(self, hook):
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        from .autograd.graph import RemovableHandle
        d = self.__dict__.setdefault("_post_acc_hooks", {})
        h = RemovableHandle(d)
        d[h.id] = hook
        return h

    def detach(self):
        t = wrap(self._value)
        t._base = self._base if self._base is not None else self
        t._vchain = self._vchain
        vc = t._base._vc
        if vc is None:
            vc = t._base._vc = [0]
        t._vc = vc
        t._synced = vc[0]
        if self._data_alias:
            t._data_alias = True
        if "_sp" in self.__dict__:   # a sparse tensor stays one (_sparse.py)
            t.__dict__.update({k: self.__dict__[k] for k in ("_sp", "layout", "is_sparse")})
        return t

    def detach_(self):
        if self._base is not None and self._view_grad:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self.grad_fn = None
        self._requires_grad = False
        return self

    @property
    def data(self):
        """Shares storage with self (writes go through to it) but not autograd history nor the
        version counter: in-place updates through .data never invalidate saved tensors."""
        t = self.detach()
        t._data_alias = True
        vc = t._vc
        t._alias_v0 = vc[1] if len(vc) > 1 else 0
        return t

    @data.setter
    def data(self, new):
        if not isinstance(new, Tensor):
            raise TypeError(f"data must be a Tensor, not {type(new).__name__}")
        if self._base is None:
            self._data = new._value
        else:
            self._set_value(new._value)

    # ------------------------------------------------------------------ conversion
    def numpy(self, *, force=False):
        if self._requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        if type(self._value) is _SDS:
            raise TypeError("can't convert meta device type tensor to numpy. Use Tensor.cpu() to copy the tensor "
                            "to host memory first.")
        if isinstance(self._value, jax.core.Tracer):
            raise _untraceable("Tensor.numpy()")
        # a writable copy: torch's result is writable (`a = t.numpy(); a[a < 0] = 0` is common) and
        # np.asarray of a jax buffer is a read-only view; jax arrays cannot share torch's two-way memory
        return np.array(self._value)

    def __array__(self, dtype=None, copy=None):
        if type(self._value) is _SDS:
            raise NotImplementedError("Cannot copy out of meta tensor; no data!")
        if isinstance(self._value, jax.core.Tracer):
            raise _untraceable("converting a tensor to a numpy array")
        a = np.asarray(self._value) if copy is False else np.array(self._value)   # writable, as numpy()
        return a.astype(dtype) if dtype is not None else a

    def item(self):
        if self.numel() != 1:
            raise RuntimeError(f"a Tensor with {self.numel()} elements cannot be converted to Scalar")
        a = self._value
        if isinstance(a, jax.core.Tracer):
            raise _untraceable("Tensor.item()")
        if type(a) is _SDS:
            raise RuntimeError("Tensor.item() cannot be called on meta tensors")
        return np.asarray(a).reshape(()).item()

    def tolist(self):
        a = self._value
        if isinstance(a, jax.core.Tracer):
            raise _untraceable("Tensor.tolist()")
        if type(a) is _SDS:
            raise NotImplementedError("Cannot copy out of meta tensor; no data!")
        return np.asarray(a).tolist()

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __bool__(self):
        if self.numel() != 1:
            raise RuntimeError(f"Boolean value of Tensor with more than one value is ambiguous")
        return bool(self.item())

    def _scalar(self):
        if self.numel() != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return self.item()

    def __int__(self):
        return int(self._scalar())

    def __float__(self):
        return float(self._scalar())

    def __complex__(self):
        return complex(self._scalar())

    def __index__(self):
        if self.dtype.is_floating_point or self.dtype.is_complex or self.numel() != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __format__(self, spec):
        if self.ndim == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec)

    __hash__ = object.__hash__

    def __repr__(self, *, tensor_contents=None):
        from ._tensor_str import tensor_repr
        return tensor_repr(self)

    __str__ = __repr__

    def __reduce_ex__(self, proto):
        return (_rebuild, (np.asarray(self._value), self._requires_grad, type(self)))

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        if not self.is_leaf:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                               "protocol at the moment.  If you were attempting to deepcopy a module, this may be "
                               "because of a torch.nn.utils.weight_norm usage, see "
                               "https://github.com/pytorch/pytorch/pull/103001")
        t = _new_like_self(self, self._value)
        t._requires_grad = self._requires_grad
        if self._grad is not None:
            t._grad = self._grad.__deepcopy__(memo)
        t.__dict__.update({k: v for k, v in self.__dict__.items() if k not in _STATE_KEYS})
        memo[id(self)] = t
        return t

    # ------------------------------------------------------------------ devices and dtypes
    def to(self, *args, **kwargs):
        from ._conversions import tensor_to
        out = tensor_to(self, *args, **kwargs)
        if out is not self and "_sp" in self.__dict__:   # a sparse tensor stays one (_sparse.py)
            out.__dict__.update({k: self.__dict__[k] for k in ("_sp", "layout", "is_sparse")})
        return out

    def cpu(self, memory_format=None):
        return self.to("cpu")

    def cuda(self, device=None, non_blocking=False, memory_format=None):
        from ._device import device as dev
        if device is None:
            device = "cuda"
        elif isinstance(device, int):
            device = dev("cuda", device)
        return self.to(device)

    def type(self, dtype=None, non_blocking=False):
        from ._conversions import legacy_type
        return legacy_type(self, dtype)

    def float(self, memory_format=None):
        return self.to(D.float32)

    def double(self, memory_format=None):
        return self.to(D.float64)

    def half(self, memory_format=None):
        return self.to(D.float16)

    def bfloat16(self, memory_format=None):
        return self.to(D.bfloat16)

    def long(self, memory_format=None):
        return self.to(D.int64)

    def int(self, memory_format=None):
        return self.to(D.int32)

    def short(self, memory_format=None):
        return self.to(D.int16)

    def char(self, memory_format=None):
        return self.to(D.int8)

    def byte(self, memory_format=None):
        return self.to(D.uint8)

    def bool(self, memory_format=None):
        return self.to(D.bool_)

    def cfloat(self, memory_format=None):
        return self.to(D.complex64)

    def cdouble(self, memory_format=None):
        return self.to(D.complex128)

    def pin_memory(self, device=None):
        return self

    def is_pinned(self, device=None):
        return False

    def share_memory_(self):
        return self

    def is_shared(self):
        return False

    def data_ptr(self):
        return id(self._base if self._base is not None else self)

    def untyped_storage(self):
        raise NotImplementedError("jtorch tensors are jax arrays and expose no storage object")

    def __dlpack__(self, stream=None):
        return self._value.__dlpack__()

    def __dlpack_device__(self):
        return self._value.__dlpack_device__()

    def __jax_array__(self):
        return self._value

    @property
    def __cuda_array_interface__(self):
        return self._value.__cuda_array_interface__


_STATE_KEYS = {"_data", "_base", "_vchain", "_vc", "_synced", "_view_grad", "_data_alias", "_alias_v0", "_requires_grad", "grad_fn",
               "_out_idx", "_accum", "_grad", "_retains_grad", "_post_acc_hooks", "_leaf_hooks"}


def _new_like_self(self, arr):
    t = object.__new__(type(self))
    t._data = arr
    return t


def _rebuild(arr, requires_grad, cls=Tensor):
    t = object.__new__(cls)
    t._data = jnp.asarray(arr)
    t._requires_grad = requires_grad
    return t


def _type_name(d):
    return {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16", "int64": "Long",
            "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
            "complex64": "ComplexFloat", "complex128": "ComplexDouble"}.get(d.name, d.name)


class UntraceableError(RuntimeError):
    """Raised when code needs a concrete value while jtorch.compile is tracing it."""


def _untraceable(what):
    return UntraceableError(f"{what} needs a concrete value, but the tensor is being traced by jtorch.compile "
                            f"or a jtorch.func transform (grad, vmap, jacrev...), which run the function on "
                            f"JAX tracers")
