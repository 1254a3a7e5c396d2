"""Shape ops. Views (view=True) share their base: writes through them reach it (see _views.py)."""
import math

import jax
import jax.numpy as jnp
import numpy as np

from .registry import op, alias, overload, OPS, varargs
from .util import norm_dim, norm_dims, TorchTypeError, TorchValueError


def infer_shape(shape, numel):
    shape = tuple(shape)
    neg = [i for i, s in enumerate(shape) if s == -1]
    if len(neg) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise RuntimeError(f"invalid shape dimension {s}")
            known *= s
    if neg:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


def _reshape(input, shape):
    return jnp.reshape(input, infer_shape(shape, input.size))


op("view", static=("shape",), view=True, linear=True, doc_note="view(dtype) reinterprets bits")(
    lambda input, shape: _reshape(input, shape))
def _viewable(src, out):
    """reshape/flatten give a view when torch can express the new shape with strides over the
    input's memory (always for a row-major input); otherwise torch copies, so the result must not
    write through to the input."""
    if not src._vchain and src._memfmt is None:
        return True
    from .._views import view_strides_ok
    return view_strides_ok(tuple(src.shape), src.stride(), tuple(out.shape))


op("reshape", static=("shape",), view=_viewable, linear=True)(lambda input, shape: _reshape(input, shape))
OPS["view"].impl.__name__ = "view"


@op("_view_dtype", static=("dtype",), public=False, method=False, differentiable=False)
def _view_dtype(input, dtype):
    src, dst = input.dtype.itemsize, np.dtype(dtype.np).itemsize
    if src == dst:
        return jax.lax.bitcast_convert_type(input, dtype.np)
    if src > dst:
        r = jax.lax.bitcast_convert_type(input, dtype.np)
        return r.reshape(input.shape[:-1] + (input.shape[-1] * (src // dst),))
    x = input.reshape(input.shape[:-1] + (input.shape[-1] // (dst // src), dst // src))
    return jax.lax.bitcast_convert_type(x, dtype.np)


@op(static=("dim0", "dim1"), view=True, linear=True)
def transpose(input, dim0, dim1):
    if input.ndim == 0:
        norm_dim(dim0, 0), norm_dim(dim1, 0)
        return input
    a, b = norm_dim(dim0, input.ndim), norm_dim(dim1, input.ndim)
    return jnp.swapaxes(input, a, b)


alias("swapaxes", "transpose")
alias("swapdims", "transpose")


@op(view=True, linear=True)
def t(input):
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
    return input.T


@op(view=True, linear=True)
def adjoint(input):
    return jnp.conj(jnp.swapaxes(input, -1, -2))


@op(static=("dims",), view=True, linear=True)
def permute(input, dims):
    if len(dims) != input.ndim:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does not match the length "
                           f"of the desired ordering of dimensions i.e. input.dim() = {input.ndim} is not equal to "
                           f"len(dims) = {len(dims)}")
    return jnp.transpose(input, norm_dims(dims, input.ndim))


@op(static=("dim",), view=True, linear=True, inplace=True)
def squeeze(input, dim=None):
    if dim is None:
        return jnp.squeeze(input)
    ds = [d for d in norm_dims(dim, input.ndim)] if input.ndim else []
    return jnp.squeeze(input, tuple(d for d in ds if input.shape[d] == 1))


@op(static=("dim",), view=True, linear=True, inplace=True)
def unsqueeze(input, dim):
    return jnp.expand_dims(input, norm_dim(dim, input.ndim + 1))


@op(static=("size", "implicit"), view=True, linear=True)
def expand(input, size, *, implicit=False):
    size = tuple(size)
    if len(size) < input.ndim:
        raise RuntimeError(f"expand(torch.FloatTensor{{{list(input.shape)}}}, size={list(size)}): the number of sizes "
                           f"provided ({len(size)}) must be greater or equal to the number of dimensions in the tensor "
                           f"({input.ndim})")
    lead = len(size) - input.ndim
    out = []
    for i, s in enumerate(size):
        if i < lead:
            if s < 0:
                raise RuntimeError(f"The expanded size of the tensor (-1) isn't allowed in a leading, non-existing dimension {i}")
            out.append(s)
        else:
            cur = input.shape[i - lead]
            if s == -1:
                out.append(cur)
            elif cur != 1 and cur != s:
                raise RuntimeError(f"The expanded size of the tensor ({s}) must match the existing size ({cur}) at "
                                   f"non-singleton dimension {i}.  Target sizes: {list(size)}.  Tensor sizes: "
                                   f"{list(input.shape)}")
            else:
                out.append(s)
    return jnp.broadcast_to(input, tuple(out))


@op(static=("size",), view=True, linear=True)
def broadcast_to(input, size):
    return OPS["expand"].impl(input, tuple(size))


@op(static=("dim", "start", "length"), view=True, linear=True)
def narrow(input, dim, start, length):
    d = norm_dim(dim, input.ndim)
    n = input.shape[d]
    if start < -n or start > n:
        raise IndexError(f"start out of range (expected to be in range of [{-n}, {n}], but got {start})")
    start = start % n if start < 0 else start
    if start + length > n:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    return jax.lax.slice_in_dim(input, start, start + length, axis=d)


@op(static=("dim", "index"), view=True, linear=True)
def select(input, dim, index):
    if input.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = norm_dim(dim, input.ndim)
    n = input.shape[d]
    if index < -n or index >= n:
        raise IndexError(f"select(): index {index} out of range for tensor of size {list(input.shape)} at dimension {d}")
    return jax.lax.index_in_dim(input, index % n, axis=d, keepdims=False)


@op(static=("split_size_or_sections", "dim"), view=True, linear=True)
def split(input, split_size_or_sections, dim=0):
    d = norm_dim(dim, input.ndim)
    n = input.shape[d]
    s = split_size_or_sections
    if isinstance(s, int):
        if s <= 0 and not (s == 0 and n == 0):
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {n}")
        sizes = [s] * (n // s) + ([n % s] if n % s else []) if s else [0]
    else:
        sizes = list(s)
        if sum(sizes) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size at "
                               f"dimension {d}), but got split_sizes={sizes}")
    out, at = [], 0
    for sz in sizes:
        out.append(jax.lax.slice_in_dim(input, at, at + sz, axis=d))
        at += sz
    return tuple(out)


@op(static=("split_sizes", "dim"), view=True, linear=True)
def split_with_sizes(input, split_sizes, dim=0):
    return OPS["split"].impl(input, list(split_sizes), dim)


@op(static=("chunks", "dim"), view=True, linear=True)
def chunk(input, chunks, dim=0):
    if chunks <= 0:
        raise RuntimeError("chunk expects `chunks` to be greater than 0, got: " + str(chunks))
    d = norm_dim(dim, input.ndim)
    n = input.shape[d]
    size = -(-n // chunks) if n else 0
    if size == 0:
        return tuple(jax.lax.slice_in_dim(input, 0, 0, axis=d) for _ in range(chunks))
    return OPS["split"].impl(input, size, d)


@op(static=("indices_or_sections", "dim"), view=True, linear=True)
def tensor_split(input, indices_or_sections, dim=0):
    d = norm_dim(dim, input.ndim)
    return tuple(jnp.array_split(input, indices_or_sections if isinstance(indices_or_sections, int)
                                 else list(indices_or_sections), axis=d))


@op(static=("dim",), view=True, linear=True)
def unbind(input, dim=0):
    if input.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    d = norm_dim(dim, input.ndim)
    return tuple(jax.lax.index_in_dim(input, i, axis=d, keepdims=False) for i in range(input.shape[d]))


@op(static=("offset", "dim1", "dim2"), view=True, linear=True)
def diagonal(input, offset=0, dim1=0, dim2=1):
    return jnp.diagonal(input, offset, norm_dim(dim1, input.ndim), norm_dim(dim2, input.ndim))


@op(static=("dim", "sizes"), view=True, linear=True)
def unflatten(input, dim, sizes):
    d = norm_dim(dim, input.ndim)
    sizes = infer_shape(sizes, input.shape[d])
    return input.reshape(input.shape[:d] + tuple(sizes) + input.shape[d + 1:])


@op(static=("start_dim", "end_dim"), view=_viewable, linear=True)
def flatten(input, start_dim=0, end_dim=-1):
    if input.ndim == 0:
        return input.reshape(1)
    s, e = norm_dim(start_dim, input.ndim), norm_dim(end_dim, input.ndim)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    return input.reshape(input.shape[:s] + (-1 if input.size else math.prod(input.shape[s:e + 1]),) + input.shape[e + 1:])


@op(static=("source", "destination"), view=True, linear=True)
def movedim(input, source, destination):
    src = norm_dims(source, input.ndim)
    dst = norm_dims(destination, input.ndim)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({list(src)} dims) should contain the "
                           f"same number of dims as destination ({list(dst)} dims)")
    return jnp.moveaxis(input, src, dst)


alias("moveaxis", "movedim")


@op(static=("dimension", "size", "step"), view=True, linear=True)
def unfold(input, dimension, size, step):
    d = norm_dim(dimension, input.ndim)
    n = input.shape[d] if input.ndim else 1
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    if input.ndim == 0:   # torch: a 0-dim input unfolds to shape (size,)
        return input.reshape(1)[:size]
    count = (n - size) // step + 1
    idx = np.arange(count)[:, None] * step + np.arange(size)[None, :]
    x = jnp.take(input, idx.reshape(-1), axis=d)
    x = x.reshape(input.shape[:d] + (count, size) + input.shape[d + 1:])
    return jnp.moveaxis(x, d + 1, -1)


@op(view=True, linear=True)
def view_as_real(input):
    if not jnp.iscomplexobj(input):
        raise RuntimeError("view_as_real is only supported for complex tensors")
    return jnp.stack([jnp.real(input), jnp.imag(input)], axis=-1)


def _check_view_as_complex(args):
    # torch reinterprets the memory: pairs of reals must sit side by side, at even positions
    t = args["input"]
    if not t._vchain or tuple(t.shape[-1:]) != (2,):
        return
    from .._views import offset_of
    st = t.stride()
    if st[-1] != 1:
        raise RuntimeError("Tensor must have a last dimension with stride 1")
    if any(s % 2 for s in st[:-1]):
        raise RuntimeError("Tensor must have a stride divisible by 2 for all but last dimension")
    if offset_of(t) % 2:
        raise RuntimeError("Tensor must have a storage_offset divisible by 2")


@op(view=True, linear=True, check=_check_view_as_complex)
def view_as_complex(input):
    if not jnp.issubdtype(input.dtype, jnp.floating) or input.dtype == jnp.bfloat16:
        from .util import type_name
        raise RuntimeError("view_as_complex is only supported for half, float and double tensors, but got a tensor "
                           f"of scalar type: {type_name(input.dtype)}")
    if input.shape[-1:] != (2,):
        raise RuntimeError("Tensor must have a last dimension of size 2")
    return jax.lax.complex(input[..., 0], input[..., 1])


# --- copies ---------------------------------------------------------------------------------------
@op(static=("memory_format",), linear=True)
def clone(input, *, memory_format=None):
    return jnp.array(input, copy=True)


@op(static=("dim",), lists=("tensors",), promote="same", linear=True, method=False)
def cat(tensors, dim=0):
    if len(tensors) == 0:
        raise TorchValueError("torch.cat(): expected a non-empty list of Tensors")
    # torch skips legacy 1-d empty tensors of shape (0,)
    ts = [t for t in tensors if not (t.ndim == 1 and t.shape[0] == 0)] or [tensors[0]]
    ref = ts[0]
    d = norm_dim(dim, ref.ndim)
    for i, t in enumerate(ts):
        if t.ndim != ref.ndim:
            raise RuntimeError(f"Tensors must have same number of dimensions: got {ref.ndim} and {t.ndim}")
        for k in range(ref.ndim):
            if k != d and t.shape[k] != ref.shape[k]:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. Expected size {ref.shape[k]} "
                                   f"but got size {t.shape[k]} for tensor number {i} in the list.")
    return jnp.concatenate(ts, axis=d)


alias("concat", "cat", method=False)
alias("concatenate", "cat", method=False)


@op(static=("dim",), lists=("tensors",), promote="same", linear=True, method=False)
def stack(tensors, dim=0):
    if len(tensors) == 0:
        raise RuntimeError("stack expects a non-empty TensorList")
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(tensors[0].shape)} at entry 0 "
                               f"and {list(t.shape)} at entry {i}")
    return jnp.stack(tensors, axis=norm_dim(dim, tensors[0].ndim + 1))


@op(lists=("tensors",), promote="same", linear=True, method=False)
def hstack(tensors):
    return jnp.hstack(tensors)


@op(lists=("tensors",), promote="same", linear=True, method=False)
def vstack(tensors):
    return jnp.vstack(tensors)


alias("row_stack", "vstack", method=False)


@op(lists=("tensors",), promote="same", linear=True, method=False)
def dstack(tensors):
    return jnp.dstack(tensors)


@op(lists=("tensors",), promote="same", linear=True, method=False)
def column_stack(tensors):
    return jnp.column_stack(tensors)


@op(static=("dims",), linear=True)
def flip(input, dims):
    return jnp.flip(input, norm_dims(dims, input.ndim)) if input.ndim else input


@op(linear=True)
def fliplr(input):
    if input.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return jnp.fliplr(input)


@op(linear=True)
def flipud(input):
    if input.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return jnp.flipud(input)


@op(static=("shifts", "dims"), linear=True)
def roll(input, shifts, dims=None):
    if dims is None:
        return jnp.roll(input.reshape(-1), shifts).reshape(input.shape)
    return jnp.roll(input, shifts, norm_dims(dims, input.ndim) if not isinstance(dims, int) else norm_dim(dims, input.ndim))


@op(static=("k", "dims"), linear=True)
def rot90(input, k=1, dims=(0, 1)):
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    return jnp.rot90(input, k, axes=norm_dims(dims, input.ndim))


@op(static=("repeats",), linear=True)
def repeat(input, repeats):
    repeats = tuple(repeats)
    if len(repeats) < input.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor")
    x = input.reshape((1,) * (len(repeats) - input.ndim) + input.shape)
    return jnp.tile(x, repeats)


@op(static=("dims",), linear=True)
def tile(input, dims):
    dims = tuple(dims)
    if len(dims) < input.ndim:
        dims = (1,) * (input.ndim - len(dims)) + dims
    return OPS["repeat"].impl(input, dims)


@op(static=("repeats", "dim", "output_size"), linear=True)
def repeat_interleave(input, repeats, dim=None, *, output_size=None):
    x = input.reshape(-1) if dim is None else input
    d = 0 if dim is None else norm_dim(dim, input.ndim)
    if isinstance(repeats, tuple):
        repeats = np.asarray(repeats)
        return jnp.repeat(x, repeats, axis=d, total_repeat_length=int(repeats.sum()))
    return jnp.repeat(x, repeats, axis=d)


@op(static=("diagonal",), inplace=True, linear=True)
def tril(input, diagonal=0):
    if input.ndim < 2:
        raise RuntimeError("tril: input tensor must have at least 2 dimensions")
    return jnp.tril(input, diagonal)


@op(static=("diagonal",), inplace=True, linear=True)
def triu(input, diagonal=0):
    if input.ndim < 2:
        raise RuntimeError("triu: input tensor must have at least 2 dimensions")
    return jnp.triu(input, diagonal)


@op(static=("offset", "dim1", "dim2"), linear=True)
def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    n = input.shape[-1] + abs(offset)
    eye = jnp.eye(n, k=offset, dtype=input.dtype)
    idx = jnp.arange(input.shape[-1])
    out = jnp.zeros(input.shape[:-1] + (n, n), input.dtype)
    r, c = (idx, idx + offset) if offset >= 0 else (idx - offset, idx)
    out = out.at[..., r, c].set(input)
    nd = out.ndim
    return jnp.moveaxis(out, (nd - 2, nd - 1), (norm_dim(dim1, nd), norm_dim(dim2, nd)))


@op(static=("diagonal",), linear=True)
def diag(input, diagonal=0):
    if input.ndim not in (1, 2):
        raise RuntimeError("diag(): Supports 1D or 2D tensors. Got " + f"{input.ndim}D")
    return jnp.diag(input, diagonal)


@op(static=("offset",), linear=True)
def diagflat(input, offset=0):
    return jnp.diagflat(input, offset)


@op(lists=("tensors",), static=("indexing",), method=False, linear=True)
def meshgrid(tensors, indexing=None):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tensors[0]
    return tuple(jnp.meshgrid(*[t.reshape(-1) if t.ndim == 0 else t for t in tensors], indexing=indexing or "ij"))


@op(lists=("tensors",), method=False, linear=True)
def broadcast_tensors(tensors):
    return tuple(jnp.broadcast_arrays(*tensors))


@op(static=("equation",), lists=("operands",), promote="same", method=False)
def einsum(equation, operands):
    return jnp.einsum(equation, *operands, preferred_element_type=None)


@op(static=("n", "dim"), promote="same", linear=True)
def diff(input, n=1, dim=-1, prepend=None, append=None):
    d = norm_dim(dim, input.ndim)
    parts = [p if p.ndim == input.ndim else jnp.expand_dims(p, d) for p in (prepend, input, append) if p is not None]
    x = jnp.concatenate(parts, axis=d) if len(parts) > 1 else input
    return jnp.diff(x, n=n, axis=d)


for _n, _p in (("meshgrid", "tensors"), ("broadcast_tensors", "tensors"), ("einsum", "operands")):
    varargs(OPS[_n], _p)


@op("_to_dtype", static=("dtype",), linear=True, public=False, method=False)
def _to_dtype(input, dtype):
    if jnp.iscomplexobj(input) and not np.issubdtype(dtype.np, np.complexfloating):
        input = jnp.real(input)
    if dtype.np == np.uint8 and jnp.issubdtype(input.dtype, jnp.floating):
        input = input.astype(np.int64)    # torch wraps negative floats modulo 256 (XLA would saturate)
    return input.astype(dtype.np)


@op("_copy_from", operands=("src",), public=False, method=False)
def _copy_from(input, src):
    try:
        return jnp.broadcast_to(src.astype(input.dtype), input.shape)
    except ValueError:
        raise RuntimeError(f"output with shape {list(input.shape)} doesn't match the broadcast shape "
                           f"{list(jnp.broadcast_shapes(input.shape, src.shape))}") from None


@op("_fill", operands=(), public=False, method=False)
def _fill(input, value):
    return jnp.full(input.shape, jnp.asarray(value).astype(input.dtype), input.dtype)
