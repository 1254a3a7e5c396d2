"""Sparse COO and CSR tensors, dense-backed.

JAX arrays have no sparse layouts, but programs use torch.sparse for its API far more than for its
memory savings: graph convolutions (`torch.sparse_coo_tensor`, `torch.spmm`, `adj.to_sparse()`),
pygcn-style `torch.sparse.FloatTensor(indices, values, shape)`, sparse softmax over specified
entries. A jtorch sparse tensor is an ordinary tensor holding the dense values, tagged with its
layout and, when it was built from (indices, values), those coordinates. Every op sees the dense
array, so values, gradients and matmuls are torch's; the sparse API (`indices()`, `values()`,
`_nnz()`, `coalesce()`, `crow_indices()`, repr) answers from the tag. Memory is dense: an N x N
adjacency costs N*N elements. Only conversions and `torch.sparse.*` return sparse-tagged
tensors; other ops on them return strided results (torch keeps some sparse, e.g. sparse + sparse).
"""
import numpy as np

from ._layout import sparse_coo, sparse_csr
from ._tensor import Tensor

_LAYOUT_NAME = {sparse_coo: "SparseCOO", sparse_csr: "SparseCsr"}


class _SparseInfo:
    __slots__ = ("layout", "sparse_dim", "indices", "values", "coalesced")

    def __init__(self, layout, sparse_dim, indices=None, values=None, coalesced=True):
        self.layout, self.sparse_dim, self.coalesced = layout, sparse_dim, coalesced
        self.indices = indices    # host int64 array (sparse_dim, nnz) as given, or None: from the values
        self.values = values      # the Tensor of values as given (uncoalesced), or None


def _jt():
    import jtorch
    return jtorch


def info(t):
    return t.__dict__.get("_sp") if isinstance(t, Tensor) else None


def tag(t, layout, sparse_dim, indices=None, values=None, coalesced=True):
    t._sp = _SparseInfo(layout, sparse_dim, indices, values, coalesced)
    t.layout = layout
    t.is_sparse = layout is sparse_coo
    return t


def _layout_name(t):
    sp = info(t)
    return "Strided" if sp is None else _LAYOUT_NAME[sp.layout]


def _need(t, what, layout=sparse_coo):
    sp = info(t)
    if sp is None or sp.layout is not layout:
        kind = "sparse coordinate" if layout is sparse_coo else "sparse compressed"
        raise RuntimeError(f"{what} expected {kind} tensor layout but got {_layout_name(t)}")
    return sp


_PLAIN = {}   # Tensor methods as they were before install() made them keep the sparse tag


def _dense(t):
    """A strided copy (autograd flows through it)."""
    return _PLAIN["clone"](t)


# ------------------------------------------------------------------------------- construction
def _as_index_tensor(indices):
    jt = _jt()
    idx = indices if isinstance(indices, Tensor) else jt.tensor(np.asarray(indices), dtype=jt.int64)
    if idx.dtype is not jt.int64 and idx.dtype is not jt.int32:
        raise RuntimeError(f"indices must be an int64 tensor")
    return idx.to(jt.int64)


def _build(idx_np, values, size):
    """Dense tensor of `size` with values scattered (and summed) at the coordinates idx_np."""
    jt = _jt()
    sd = idx_np.shape[0]
    for d in range(sd):
        if idx_np.shape[1] and (idx_np[d].min() < 0 or idx_np[d].max() >= size[d]):
            bad = idx_np[d].max() if idx_np[d].max() >= size[d] else idx_np[d].min()
            raise RuntimeError(f"size is inconsistent with indices: for dim {d}, size is {size[d]} but found index {bad}")
    dense = jt.zeros(tuple(size), dtype=values.dtype, device=values.device)
    if idx_np.shape[1] == 0:
        return dense + values.sum() * 0 if values.requires_grad else dense
    where = tuple(jt.tensor(idx_np[d], device=values.device) for d in range(sd))
    return dense.index_put(where, values, accumulate=True)


def sparse_coo_tensor(indices, values, size=None, *, dtype=None, device=None, pin_memory=False, requires_grad=False,
                      check_invariants=None, is_coalesced=None):
    jt = _jt()
    idx = _as_index_tensor(indices)
    vals = values if isinstance(values, Tensor) else jt.tensor(values, dtype=dtype)
    if dtype is not None:
        vals = vals.to(dtype)
    if device is not None:
        vals = vals.to(device)
    if idx.ndim != 2:
        raise RuntimeError(f"indices must be sparse_dim x nnz, but got: {list(idx.shape)}")
    sd, nnz = idx.shape
    if vals.ndim == 0 or vals.shape[0] != nnz:
        raise RuntimeError(f"indices and values must have same nnz, but got nnz from indices: {nnz}, nnz from values: "
                           f"{vals.shape[0] if vals.ndim else 0}")
    idx_np = np.asarray(idx._value).astype(np.int64)
    if size is None:
        size = [int(idx_np[d].max()) + 1 if nnz else 0 for d in range(sd)] + list(vals.shape[1:])
    size = [int(s) for s in size]
    if len(size) != sd + vals.ndim - 1:
        raise RuntimeError(f"number of dimensions must be sparse_dim ({sd}) + dense_dim ({vals.ndim - 1}), but got "
                           f"{len(size)}")
    dense = _build(idx_np, vals, size)
    if requires_grad:
        dense = dense.detach().requires_grad_()
    coalesced = bool(is_coalesced) if is_coalesced is not None else nnz <= 1
    return tag(dense, sparse_coo, sd, idx_np, vals, coalesced)


def sparse_csr_tensor(crow_indices, col_indices, values, size=None, *, dtype=None, device=None, pin_memory=False,
                      requires_grad=False, check_invariants=None):
    jt = _jt()
    crow = np.asarray(_as_index_tensor(crow_indices)._value)
    col = np.asarray(_as_index_tensor(col_indices)._value)
    vals = values if isinstance(values, Tensor) else jt.tensor(values, dtype=dtype)
    if dtype is not None:
        vals = vals.to(dtype)
    if device is not None:
        vals = vals.to(device)
    if crow.ndim != 1 or col.ndim != 1:
        raise RuntimeError("jtorch: batched sparse CSR tensors are not supported (crow_indices and col_indices must "
                           "be 1-D)")
    rows = np.repeat(np.arange(len(crow) - 1), np.diff(crow))
    if len(rows) != len(col) or vals.shape[0] != len(col):
        raise RuntimeError(f"col_indices and values must have the same number of elements, but got "
                           f"{len(col)} and {vals.shape[0]}")
    if size is None:
        size = [len(crow) - 1, int(col.max()) + 1 if len(col) else 0] + list(vals.shape[1:])
    idx_np = np.stack([rows, col]).astype(np.int64)
    dense = _build(idx_np, vals, [int(s) for s in size])
    if requires_grad:
        dense = dense.detach().requires_grad_()
    return tag(dense, sparse_csr, 2, idx_np, vals, True)


# ------------------------------------------------------------------------------- coordinates
def _specified(t, sp):
    """Sorted unique coordinates (sparse_dim, k): as given (duplicates merged, explicit zeros kept),
    or the nonzero positions of the values."""
    if sp.indices is not None:
        if sp.indices.shape[1] == 0:
            return sp.indices
        return np.unique(sp.indices.T, axis=0).T.astype(np.int64)
    a = np.asarray(t.detach()._value)
    mask = a != 0
    if a.ndim > sp.sparse_dim:
        mask = mask.reshape(a.shape[:sp.sparse_dim] + (-1,)).any(-1)
    return np.argwhere(mask).T.astype(np.int64).reshape(sp.sparse_dim, -1)


def _gather(t, idx):
    jt = _jt()
    return t[tuple(jt.tensor(idx[d], device=t.device) for d in range(idx.shape[0]))]


def indices(self):
    sp = _need(self, "indices")
    if not sp.coalesced:
        raise RuntimeError("Cannot get indices on an uncoalesced tensor, please call .coalesce() first")
    return _jt().tensor(_specified(self, sp), device=self.device)


def values(self):
    sp = info(self)
    if sp is None:
        raise RuntimeError("values expected sparse tensor layout but got Strided")
    if sp.layout is sparse_coo and not sp.coalesced:
        raise RuntimeError("Cannot get values on an uncoalesced tensor, please call .coalesce() first")
    return _gather(self, _specified(self, sp))


def _indices(self):
    sp = _need(self, "_indices")
    return _jt().tensor(sp.indices if sp.indices is not None else _specified(self, sp), device=self.device)


def _values(self):
    sp = _need(self, "_values")
    return sp.values if sp.values is not None else _gather(self, _specified(self, sp))


def _nnz(self):
    sp = info(self)
    if sp is None:
        raise RuntimeError("_nnz expected sparse tensor layout but got Strided")
    return int(sp.indices.shape[1]) if sp.indices is not None and not sp.coalesced else \
        int(_specified(self, sp).shape[1])


def is_coalesced(self):
    return _need(self, "is_coalesced").coalesced


def coalesce(self):
    sp = _need(self, "coalesce")
    if sp.coalesced:
        return self
    return tag(_dense(self), sparse_coo, sp.sparse_dim, _specified(self, sp), None, True)


def sparse_dim(self):
    sp = info(self)
    return 0 if sp is None else sp.sparse_dim


def dense_dim(self):
    sp = info(self)
    return self.ndim - (0 if sp is None else sp.sparse_dim)


def crow_indices(self):
    sp = _need(self, "crow_indices", sparse_csr)
    idx = _specified(self, sp)
    counts = np.bincount(idx[0], minlength=self.shape[0]) if idx.shape[1] else np.zeros(self.shape[0], np.int64)
    return _jt().tensor(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), device=self.device)


def col_indices(self):
    sp = _need(self, "col_indices", sparse_csr)
    return _jt().tensor(_specified(self, sp)[1], device=self.device)


# ------------------------------------------------------------------------------- conversions
def to_dense(self, dtype=None, *, masked_grad=None):
    out = _dense(self) if info(self) is not None else self
    return out if dtype is None else out.to(dtype)


def to_sparse(self, *args, layout=None, blocksize=None, dense_dim=None, sparse_dim=None):
    if args:
        if isinstance(args[0], int) and sparse_dim is None:
            sparse_dim = args[0]
        elif layout is None:
            layout = args[0]
    if layout is sparse_csr:
        return to_sparse_csr(self, dense_dim)
    if layout is not None and layout is not sparse_coo:
        raise NotImplementedError(f"jtorch: to_sparse(layout={layout}) is not supported (COO and CSR are)")
    sp = info(self)
    sd = self.ndim if sparse_dim is None else int(sparse_dim)
    if dense_dim is not None:
        sd = self.ndim - int(dense_dim)
    if sp is not None and sp.layout is sparse_coo and sp.sparse_dim == sd:
        return self
    if not 0 < sd <= self.ndim and self.ndim:
        raise RuntimeError(f"sparse_dim must be in the range [1, {self.ndim}], but got {sd}")
    return tag(_dense(self), sparse_coo, sd)


def to_sparse_coo(self):
    return to_sparse(self)


def to_sparse_csr(self, dense_dim=None):
    if self.ndim != 2:
        raise RuntimeError(f"jtorch: to_sparse_csr supports 2-D tensors, got {self.ndim}-D")
    sp = info(self)
    if sp is not None and sp.layout is sparse_csr:
        return self
    return tag(_dense(self), sparse_csr, 2)


# ------------------------------------------------------------------------------- torch.sparse
def mm(mat1, mat2, reduce=None):
    if reduce is not None:
        raise NotImplementedError("jtorch: torch.sparse.mm(reduce=...) is not supported")
    out = _jt().mm(mat1, mat2)
    if info(mat1) is not None and info(mat2) is not None:
        return tag(out, sparse_coo, 2)
    return out


def smm(input, mat2):
    return tag(_jt().mm(input, mat2), sparse_coo, 2)


def addmm(mat, mat1, mat2, *, beta=1.0, alpha=1.0):
    return _jt().addmm(mat, mat1, mat2, beta=beta, alpha=alpha)


def sparse_sum(input, dim=None, dtype=None):
    sp = info(input)
    out = input.sum(dtype=dtype) if dim is None else input.sum(dim=dim, dtype=dtype)
    if dim is None or sp is None:
        return out
    dims = [d % input.ndim for d in ((dim,) if isinstance(dim, int) else dim)]
    left = sp.sparse_dim - sum(d < sp.sparse_dim for d in dims)
    return tag(out, sparse_coo, left) if left > 0 else out


def _masked_softmax(input, dim, dtype, log):
    jt = _jt()
    sp = info(input)
    if sp is None:
        raise RuntimeError(f"{'log_softmax' if log else 'softmax'}: expected a sparse tensor")
    x = input if dtype is None else input.to(dtype)
    mask = jt.zeros(tuple(input.shape), dtype=jt.bool, device=input.device)
    idx = _specified(input, sp)
    if idx.shape[1]:
        mask = mask.index_put(tuple(jt.tensor(idx[d], device=input.device) for d in range(idx.shape[0])),
                              jt.tensor(True, device=input.device))
    # torch.masked's softmax over the specified entries; unspecified ones (and an all-unspecified
    # row, nan there) are 0, as torch.sparse leaves them unspecified
    out = (jt.masked.log_softmax if log else jt.masked.softmax)(x, dim, mask=mask)
    out = jt.where(mask, out, jt.zeros((), dtype=out.dtype, device=out.device))
    return tag(out, sparse_coo, sp.sparse_dim, idx, None, True)


def softmax(input, dim, *, dtype=None):
    return _masked_softmax(input, dim, dtype, False)


def log_softmax(input, dim, *, dtype=None):
    return _masked_softmax(input, dim, dtype, True)


# ------------------------------------------------------------------------------- printing
def _join_suffixes(text, suffixes, indent, newline_first):
    """torch's layout for the trailing `size=..., nnz=..., layout=...` items: on the current line
    while it stays within the print width (its count of the line is 2 more than the characters),
    else on a new line at `indent`."""
    from ._tensor_str import get_printoptions
    width = get_printoptions()["linewidth"]
    out = [text]
    line = len(text) - text.rfind("\n") + 1
    for i, suf in enumerate(suffixes):
        if (newline_first and i == 0) or line + len(suf) + 2 > width:
            out.append(",\n" + " " * indent + suf)
            line = indent + len(suf)
        else:
            out.append(", " + suf)
            line += len(suf) + 2
    return "".join(out) + ")"


def sparse_repr(t):
    sp = info(t)
    from ._tensor_str import tensor_body
    from . import _dtype as D
    with _jt().no_grad():
        if sp.layout is sparse_coo:
            idx = _indices(t)
            parts = [("indices", idx), ("values", _values(t).detach())]
            nnz = int(idx.shape[1])
        else:
            parts = [("crow_indices", crow_indices(t)), ("col_indices", col_indices(t)), ("values", values(t).detach())]
            nnz = int(parts[1][1].shape[0])
    pieces = []
    for i, (name, v) in enumerate(parts):
        lead = "tensor(" if i == 0 else "       "
        # each part is laid out at its own indent (its lines wrap earlier); the dtype is said once, at the end
        body = tensor_body(v, len(lead) + len(name) + len("=tensor(")) if v.numel() else "[]"
        pieces.append(lead + name + "=tensor(" + body + ")")
    suffixes = [f"size={tuple(t.shape)}", f"nnz={nnz}"]
    if t.dtype not in (D.get_default_dtype(), D.int64, D.bool_):
        suffixes.append(f"dtype={t.dtype}")
    suffixes.append(f"layout={sp.layout}")
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{type(t.grad_fn).__name__}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return _join_suffixes(",\n".join(pieces), suffixes, 7, sp.layout is sparse_coo)


# ------------------------------------------------------------------------------- Tensor methods
def _keep_tag(method):
    """clone() keeping the sparse tag of its input (Tensor.to and Tensor.detach copy it themselves;
    clone is the registry's method, so it is wrapped here)."""
    def m(self, *args, **kwargs):
        out = method(self, *args, **kwargs)
        sp = self.__dict__.get("_sp")
        if sp is not None and out is not self and isinstance(out, Tensor):
            tag(out, sp.layout, sp.sparse_dim, sp.indices, sp.values, sp.coalesced)
        return out
    m.__name__ = method.__name__
    m.__doc__ = method.__doc__
    return m


def install():
    T = Tensor
    for fn in (indices, values, _indices, _values, _nnz, is_coalesced, coalesce, sparse_dim, dense_dim,
               crow_indices, col_indices, to_dense, to_sparse, to_sparse_coo, to_sparse_csr):
        setattr(T, fn.__name__, fn)
    T.is_sparse_csr = property(lambda self: getattr(info(self), "layout", None) is sparse_csr)
    T.smm = smm
    _PLAIN["clone"] = T.clone
    T.clone = _keep_tag(T.clone)
