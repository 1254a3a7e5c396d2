"""The long tail of torch.Tensor's methods (new, polygamma, is_* flags, narrow_copy, storage()...),
attached to Tensor by install(). Methods that have no meaning on JAX raise through
Tensor.__getattr__ from the list in _unsupported_names.py.
"""
import warnings

import numpy as np

from . import _dtype as D
from ._tensor import Tensor, wrap


def _jt():
    import jtorch
    return jtorch


def new(self, *args, **kwargs):
    """Legacy constructor with self's dtype and device: new(2, 3), new([1, 2]), new()."""
    from ._creation import _legacy_tensor_new
    kwargs.setdefault("dtype", self.dtype)
    kwargs.setdefault("device", self.device if self.device.type != "cpu" else None)
    return _legacy_tensor_new(Tensor, *args, **kwargs)


def polygamma(self, n):
    return _jt().polygamma(n, self)


def polygamma_(self, n):
    return self._inplace_from(_jt().polygamma(n, self))


def igamma_(self, other):
    return self._inplace_from(_jt().igamma(self, other))


def igammac_(self, other):
    return self._inplace_from(_jt().igammac(self, other))


def is_inference(self):
    return bool(self.__dict__.get("_inference", False))


def is_same_size(self, other):
    return tuple(self.shape) == tuple(other.shape)


def is_nonzero(self):
    return _jt().is_nonzero(self)


def is_set_to(self, tensor):
    """True only for the same tensor (jax arrays never share storage between tensors)."""
    return self is tensor


def narrow_copy(self, dim, start, length):
    return self.narrow(dim, start, length).clone()


def resize(self, *sizes):
    """Deprecated out-of-place resize: torch reshapes (same number of elements) with a warning."""
    warnings.warn("non-inplace resize is deprecated")
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    return self.reshape(sizes)


def resize_as(self, tensor):
    warnings.warn("non-inplace resize_as is deprecated")
    return self.reshape(tuple(tensor.shape))


def as_subclass(self, cls):
    """The same data and history, as an instance of `cls` (a Tensor subclass)."""
    if not (isinstance(cls, type) and issubclass(cls, Tensor)):
        raise TypeError(f"as_subclass(): expected a subclass of torch.Tensor, got {cls}")
    t = object.__new__(cls)
    t.__dict__.update(self.detach().__dict__) if not self._requires_grad else t.__dict__.update(self.__dict__)
    return t


def unsafe_split_with_sizes(self, split_sizes, dim=0):
    return self.split_with_sizes(split_sizes, dim)


def map_(self, tensor, callable):
    """self[i] = callable(self[i], tensor[i]) elementwise in Python (CPU, like torch)."""
    a, b = np.broadcast_arrays(self.numpy(force=True), tensor.numpy(force=True))
    out = np.vectorize(callable, otypes=[a.dtype])(a, b)
    self._set_value(_jt().tensor(out, dtype=self.dtype)._value)
    return self


def map2_(self, x, y, callable):
    a, b, c = np.broadcast_arrays(self.numpy(force=True), x.numpy(force=True), y.numpy(force=True))
    out = np.vectorize(callable, otypes=[a.dtype])(a, b, c)
    self._set_value(_jt().tensor(out, dtype=self.dtype)._value)
    return self


def set_(self, source=None, storage_offset=0, size=None, stride=None):
    """self takes source's value (a jax array cannot alias another tensor's memory, so later
    in-place writes to one are not seen by the other). set_() with no source empties self."""
    if source is None:
        self._set_value(np.zeros((0,), self.dtype.np))
        return self
    if not isinstance(source, Tensor):
        raise NotImplementedError("jtorch: Tensor.set_(storage) is not supported: jtorch tensors have no storage "
                                  "objects (see docs/unsupported.md)")
    if self._base is not None:
        raise NotImplementedError("jtorch: set_() on a view is not supported (a jax array cannot re-point a view's "
                                  "storage); call it on the base tensor")
    val = source._value
    if size is not None:
        val = source.as_strided(size, stride if stride is not None else _contig(size), storage_offset)._value
    self._data = val
    self._bump()
    return self


def _contig(size):
    st, acc = [], 1
    for s in reversed(tuple(size)):
        st.append(acc)
        acc *= s
    return tuple(reversed(st))


def module_load(self, other, assign=False):
    """What nn.Module.load_state_dict copies into a parameter (torch: other, detached, unless a subclass
    overrides it)."""
    if assign:
        return other.detach()
    return other


def record_stream(self, stream):
    pass  # XLA owns buffer lifetimes


def reinforce(self, reward):
    raise RuntimeError("reinforce() was removed.\nUse torch.distributions instead.\nSee "
                       "https://pytorch.org/docs/main/distributions.html\n\nInstead of:\n\nprobs = policy_network(state)\n"
                       "action = probs.multinomial()\nnext_state, reward = env.step(action)\naction.reinforce(reward)\n"
                       "action.backward()\n\nUse:\n\nprobs = policy_network(state)\n# NOTE: categorical is equivalent "
                       "to what used to be called multinomial\nm = torch.distributions.Categorical(probs)\naction = "
                       "m.sample()\nnext_state, reward = env.step(action)\nloss = -m.log_prob(action) * reward\n"
                       "loss.backward()\n")


def dense_dim(self):
    return self.ndim  # a strided tensor is all dense dims


def sparse_dim(self):
    return 0


def to_dense(self, dtype=None, *, masked_grad=None):
    return self if dtype is None else self.to(dtype)


def untyped_storage(self):
    """A snapshot of the tensor's root buffer as bytes. data_ptr() is shared by a tensor and its
    views (like torch); writes to the snapshot do not reach the tensor (jax arrays are immutable)."""
    from .storage import UntypedStorage
    root = self._base if self._base is not None else self
    s = UntypedStorage(np.ascontiguousarray(np.asarray(root._value)).view(np.uint8).reshape(-1).copy(),
                       device=str(root.device))
    s._ptr = root.data_ptr()
    return s


def storage(self):
    from .storage import TypedStorage
    warnings.warn("TypedStorage is deprecated. It will be removed in the future and UntypedStorage will be the only "
                  "storage class. This should only matter to you if you are using storages directly.  To access "
                  "UntypedStorage directly, use tensor.untyped_storage() instead of tensor.storage()")
    return TypedStorage(wrap_storage=untyped_storage(self), dtype=self.dtype)


def storage_type(self):
    from .storage import LEGACY_CLASSES, LEGACY_BY_DTYPE
    return LEGACY_CLASSES[LEGACY_BY_DTYPE[self.dtype]]


def const_data_ptr(self):
    return self.data_ptr()


def mutable_data_ptr(self):
    return self.data_ptr()


def _grad_dtype_get(self):
    if self.grad_fn is not None:
        raise RuntimeError("grad_dtype can only be accessed on leaf tensors.")
    return self.__dict__.get("_grad_dtype", self.dtype)


def _grad_dtype_set(self, dt):
    if self.grad_fn is not None:
        raise RuntimeError("grad_dtype can only be set on leaf tensors.")
    self._grad_dtype = dt


def _removed_method(name, msg):
    def m(self, *args, **kwargs):
        raise RuntimeError("This function was deprecated since version 1.9 and is now removed. " + msg)
    m.__name__ = name
    return m


def _false(self):
    return False


def install():
    T = Tensor
    for fn in (new, polygamma, polygamma_, igamma_, igammac_, is_inference, is_same_size, is_nonzero, is_set_to,
               narrow_copy, resize, resize_as, as_subclass, unsafe_split_with_sizes, map_, map2_, set_, module_load,
               record_stream, reinforce, dense_dim, sparse_dim, to_dense, untyped_storage, storage, storage_type,
               const_data_ptr, mutable_data_ptr):
        if fn.__name__ not in T.__dict__:
            setattr(T, fn.__name__, fn)
    T.orgqr = lambda self, input2: _jt().linalg.householder_product(self, input2)
    T.untyped_storage = untyped_storage   # replaces the "no storage" stub
    from ._ops.methods import _meta_inplace
    from ._ops.registry import OPS
    T.as_strided_ = _meta_inplace(OPS["as_strided"], "as_strided_")  # the tensor takes the new shape, as torch
    T.is_conj = _false      # conj() and neg() always materialise: no lazy bits
    T.is_neg = _false
    T.is_distributed = _false
    for flag in ("is_xla", "is_mps", "is_xpu", "is_ipu", "is_mtia", "is_maia", "is_vulkan", "is_sparse_csr"):
        if flag not in T.__dict__:
            setattr(T, flag, property(_false))
    T.output_nr = property(lambda self: self._out_idx)
    T.name = None       # named tensors: a plain tensor's name is None
    T.volatile = property(lambda self: False)
    T.grad_dtype = property(_grad_dtype_get, _grad_dtype_set)
    from ._long_tail import _REMOVED
    for n in ("lstsq", "solve", "eig", "symeig"):
        setattr(T, n, _removed_method(n, _REMOVED[n]))
    # Python spellings torch keeps
    T.__div__ = T.__truediv__
    T.__idiv__ = T.__itruediv__
    T.__long__ = T.__int__
    T.__nonzero__ = T.__bool__
    T.__reversed__ = lambda self: self.flip(0) if self.ndim else self
    T.__getattr__ = _tensor_getattr


def _tensor_getattr(self, name):
    # only reached when normal lookup fails: a torch method jtorch cannot offer gets its reason
    from ._unsupported import missing
    raise missing(name, "Tensor", type(self).__name__)
