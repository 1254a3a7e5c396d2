"""Matrix products: mm, bmm, matmul, addmm, addmv, baddbmm, addbmm, outer, dot, vdot, tensordot, kron, cross."""
import jax
import jax.numpy as jnp

from .registry import op, alias, varargs, OPS
from .util import norm_dim


def _mm_check(a, b, name):
    if a.ndim != 2 or b.ndim != 2:
        raise RuntimeError(f"{'self' if a.ndim != 2 else 'mat2'} must be a matrix")
    if a.shape[1] != b.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({a.shape[0]}x{a.shape[1]} and "
                           f"{b.shape[0]}x{b.shape[1]})")


def _same_dtype(a, b, name="mm"):
    if a.dtype != b.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {_n(a.dtype)} != {_n(b.dtype)}")


def _n(npd):
    from .. import _dtype as D
    from .._tensor import _type_name
    return {"Float": "float", "Double": "double", "Half": "c10::Half", "BFloat16": "c10::BFloat16",
            "Long": "long int", "Int": "int"}.get(_type_name(D.from_np(npd)), str(npd))


@op(out="exact")
def mm(input, mat2):
    _mm_check(input, mat2, "mm")
    _same_dtype(input, mat2)
    return jnp.matmul(input, mat2)


@op(out="exact")
def bmm(input, mat2):
    if input.ndim != 3 or mat2.ndim != 3:
        raise RuntimeError(f"batch1 must be a 3D tensor" if input.ndim != 3 else "batch2 must be a 3D tensor")
    if input.shape[0] != mat2.shape[0] or input.shape[2] != mat2.shape[1]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [{input.shape[0]}, "
                           f"{input.shape[2]}] but got: [{mat2.shape[0]}, {mat2.shape[1]}].")
    _same_dtype(input, mat2)
    return jnp.matmul(input, mat2)


@op(out="exact")
def matmul(input, other):
    if input.ndim == 0 or other.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {input.ndim}D and "
                           f"{other.ndim}D")
    _same_dtype(input, other)
    k1 = input.shape[-1]
    k2 = other.shape[-2] if other.ndim > 1 else other.shape[0]
    if k1 != k2:
        if input.ndim == 1 and other.ndim == 1:
            raise RuntimeError(f"inconsistent tensor size, expected tensor [{input.shape[0]}] and src "
                               f"[{other.shape[0]}] to have the same number of elements, but got {input.shape[0]} "
                               f"and {other.shape[0]} elements respectively")
        a = input.shape if input.ndim > 1 else (1,) + input.shape
        b = other.shape if other.ndim > 1 else other.shape + (1,)
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({'x'.join(map(str, a[:-1])) if len(a) == 2 else a[-2]}"
                           f"x{a[-1]} and {b[-2]}x{b[-1]})")
    return jnp.matmul(input, other)


@op(promote="same", inplace=True, out="exact")
def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    _mm_check(mat1, mat2, "addmm")
    return beta * input + alpha * (mat1 @ mat2)


@op(promote="same", inplace=True)
def addmv(input, mat, vec, *, beta=1, alpha=1):
    return beta * input + alpha * (mat @ vec)


@op(promote="same", inplace=True)
def addr(input, vec1, vec2, *, beta=1, alpha=1):
    return beta * input + alpha * jnp.outer(vec1, vec2)


@op(promote="same", inplace=True, out="exact")
def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    return beta * input + alpha * jnp.matmul(batch1, batch2)


@op(promote="same", inplace=True)
def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    return beta * input + alpha * jnp.sum(jnp.matmul(batch1, batch2), axis=0)


@op(promote="same")
def outer(input, vec2):
    return jnp.outer(input, vec2)


alias("ger", "outer")


@op()
def dot(input, tensor):
    if input.ndim != 1 or tensor.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {tensor.ndim}D tensors")
    if input.dtype != tensor.dtype:
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found {_n(input.dtype).title()} and "
                           f"{_n(tensor.dtype).title()}")
    if input.shape[0] != tensor.shape[0]:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{input.shape[0]}] and src [{tensor.shape[0]}] "
                           f"to have the same number of elements, but got {input.shape[0]} and {tensor.shape[0]} "
                           "elements respectively")
    return jnp.dot(input, tensor)


alias("inner_1d", "dot", method=False, public=False)


@op()
def vdot(input, other):
    return jnp.vdot(input, other)


@op(promote="same")
def inner(input, other):
    return jnp.inner(input, other)


@op(promote="same")
def mv(input, vec):
    return input @ vec


@op(static=("dims",), promote="same")
def tensordot(a, b, dims=2):
    if isinstance(dims, (tuple, list)) and len(dims) == 2 and isinstance(dims[0], (tuple, list)):
        # torch broadcasts a size-1 contracted dim against the other side's: sum that side first
        for da, db in zip(dims[0], dims[1]):
            if a.shape[da] == 1 and b.shape[db] != 1:
                b = b.sum(axis=db, keepdims=True)
            elif b.shape[db] == 1 and a.shape[da] != 1:
                a = a.sum(axis=da, keepdims=True)
    return jnp.tensordot(a, b, axes=dims)


@op(promote="same")
def kron(input, other):
    return jnp.kron(input, other)


@op(static=("dim",), promote="same")
def cross(input, other, dim=None):
    if dim is None:
        dim = next(i for i, s in enumerate(jnp.broadcast_shapes(input.shape, other.shape)) if s == 3)
    d = norm_dim(dim, max(input.ndim, other.ndim))
    return jnp.cross(input, other, axis=d)


@op(lists=("tensors",), method=False)
def chain_matmul(tensors):
    return jnp.linalg.multi_dot(tensors)


@op(promote="same", method=True)
def trace(input):
    if input.ndim != 2:
        raise RuntimeError("trace: expected a matrix, but got tensor with dim " + str(input.ndim))
    return jnp.trace(input, dtype=jnp.int64 if jnp.issubdtype(input.dtype, jnp.integer) else None)


@op(lists=("tensors",), method=False, promote="same")
def block_diag(tensors):
    return jax.scipy.linalg.block_diag(*[t if t.ndim == 2 else t.reshape(1, -1) if t.ndim == 1 else t.reshape(1, 1)
                                         for t in tensors])


varargs(OPS["chain_matmul"], "tensors")
varargs(OPS["block_diag"], "tensors")
