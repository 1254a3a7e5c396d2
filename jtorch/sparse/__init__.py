"""torch.sparse: sparse matmul, sums and softmax over specified entries, on jtorch's dense-backed
sparse COO/CSR tensors (see jtorch/_sparse.py for what that means and costs)."""
import contextlib

from .._sparse import mm, addmm, softmax, log_softmax, sparse_sum as sum, sparse_coo_tensor  # noqa: F401
from .. import _dtype as _D

__all__ = ["mm", "addmm", "sum", "softmax", "log_softmax", "check_sparse_tensor_invariants", "as_sparse_gradcheck",
           "FloatTensor", "DoubleTensor", "LongTensor", "IntTensor", "HalfTensor", "BFloat16Tensor", "ByteTensor",
           "BoolTensor"]


class check_sparse_tensor_invariants(contextlib.ContextDecorator):
    """Accepted: jtorch always checks index bounds when it builds a sparse tensor."""
    _enabled = False

    def __init__(self, enable=True):
        self.enable = enable

    @staticmethod
    def is_enabled():
        return check_sparse_tensor_invariants._enabled

    @staticmethod
    def enable():
        check_sparse_tensor_invariants._enabled = True

    @staticmethod
    def disable():
        check_sparse_tensor_invariants._enabled = False

    def __enter__(self):
        self._saved = check_sparse_tensor_invariants._enabled
        check_sparse_tensor_invariants._enabled = self.enable
        return self

    def __exit__(self, *exc):
        check_sparse_tensor_invariants._enabled = self._saved
        return False


def as_sparse_gradcheck(gradcheck):
    return gradcheck


def _legacy(name, dtype):
    """torch.sparse.FloatTensor(indices, values, size) and friends (deprecated in torch, still common)."""
    def new(*args, device=None):
        from .. import _sparse
        import jtorch
        if len(args) >= 2 and isinstance(args[0], jtorch.Tensor) and isinstance(args[1], jtorch.Tensor):
            size = tuple(args[2]) if len(args) > 2 else None
            return _sparse.sparse_coo_tensor(args[0], args[1].to(dtype), size, device=device)
        size = tuple(args[0]) if len(args) == 1 and not isinstance(args[0], int) else tuple(args)
        return _sparse.tag(jtorch.zeros(size, dtype=dtype, device=device), _sparse.sparse_coo, len(size),
                           __import__("numpy").zeros((len(size), 0), "int64"), jtorch.zeros((0,), dtype=dtype), True)
    new.__name__ = name
    return new


FloatTensor = _legacy("FloatTensor", _D.float32)
DoubleTensor = _legacy("DoubleTensor", _D.float64)
HalfTensor = _legacy("HalfTensor", _D.float16)
BFloat16Tensor = _legacy("BFloat16Tensor", _D.bfloat16)
LongTensor = _legacy("LongTensor", _D.int64)
IntTensor = _legacy("IntTensor", _D.int32)
ByteTensor = _legacy("ByteTensor", _D.uint8)
BoolTensor = _legacy("BoolTensor", _D.bool_)
