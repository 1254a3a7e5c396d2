"""torch.linalg (registered as linalg_<name>; exposed by jtorch/linalg) and the legacy torch.* spellings."""
import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np

from . import kinks
from .registry import op, alias, OPS
from .util import norm_dim


def _L(name, **kw):
    kw.setdefault("method", False)
    kw.setdefault("public", False)
    return op("linalg_" + name, **kw)


def _square(A, name):
    if A.ndim < 2:
        raise RuntimeError(f"linalg.{name}: The input tensor A must have at least 2 dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"linalg.{name}: A must be batches of square matrices, but they are {A.shape[-2]} by "
                           f"{A.shape[-1]} matrices")


def _float(A, name):
    if not jnp.issubdtype(A.dtype, jnp.inexact):
        raise RuntimeError(f"linalg.{name}: Expected a floating point or complex tensor as input. Got "
                           f"{'Long' if A.dtype == jnp.int64 else A.dtype}")


@_L("inv", out="exact")
def linalg_inv(A):
    _square(A, "inv")
    _float(A, "inv")
    return jnp.linalg.inv(A)


@_L("inv_ex", static=("check_errors",), returns=("inverse", "info"), nondiff_outputs=("info",))
def linalg_inv_ex(A, *, check_errors=False):
    _square(A, "inv_ex")
    inv = jnp.linalg.inv(A)
    info = jnp.where(jnp.all(jnp.isfinite(inv), axis=(-2, -1)), 0, 1).astype(jnp.int32)
    return inv, info


@_L("det", saves_result=True)
def linalg_det(A):
    _square(A, "det")
    if A.shape[-1] == 0:   # the empty product; jax's det derivative cannot index an empty matrix
        return jnp.ones(A.shape[:-2], A.dtype)
    return jnp.linalg.det(A)


@_L("slogdet", returns=("sign", "logabsdet"))
def linalg_slogdet(A):
    _square(A, "slogdet")
    s, l = jnp.linalg.slogdet(A)
    return s, l


@_L("pinv", static=("hermitian", "atol", "rtol", "rcond"), saves_result=True)
def linalg_pinv(A, *, atol=None, rtol=None, hermitian=False, rcond=None):
    if rcond is not None:
        rtol = rcond
    if hermitian:   # torch reads only the lower triangle (eigh), so no symmetrisation
        w, v = jnp.linalg.eigh(_hermitian_from(A, "L"))
        aw = jnp.abs(w)
        tol = (jnp.max(aw, axis=-1, keepdims=True) if aw.shape[-1] else jnp.zeros(aw.shape[:-1] + (1,), aw.dtype)) * (rtol if rtol is not None else
                                                      (0.0 if atol else A.shape[-1] * jnp.finfo(A.dtype).eps))
        if atol is not None:
            tol = jnp.maximum(tol, atol)
        winv = jnp.where(aw > tol, 1 / jnp.where(aw > tol, w, 1), 0).astype(v.dtype)
        return (v * winv[..., None, :]) @ jnp.conj(jnp.swapaxes(v, -1, -2))
    return jnp.linalg.pinv(A, rtol=rtol, hermitian=hermitian) if atol is None else jnp.linalg.pinv(A, rtol=rtol)


@_L("solve", static=("left",), saves_result=True)
def linalg_solve(A, B, *, left=True):
    _square(A, "solve")
    if not left:
        return jnp.swapaxes(jnp.linalg.solve(jnp.swapaxes(A, -1, -2), jnp.swapaxes(B, -1, -2)), -1, -2)
    if B.ndim == A.ndim - 1:
        return jnp.linalg.solve(A, B[..., None])[..., 0]
    return jnp.linalg.solve(A, B)


@_L("solve_triangular", static=("upper", "left", "unitriangular"), saves_result=True)
def linalg_solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    if left:
        return jsl.solve_triangular(A, B, lower=not upper, unit_diagonal=unitriangular)
    X = jsl.solve_triangular(jnp.swapaxes(A, -1, -2), jnp.swapaxes(B, -1, -2), lower=upper,
                             unit_diagonal=unitriangular)
    return jnp.swapaxes(X, -1, -2)


@_L("lstsq", static=("rcond", "driver"), returns=("solution", "residuals", "rank", "singular_values"),
    nondiff_outputs=("rank", "singular_values"))
def linalg_lstsq(A, B, rcond=None, *, driver=None):
    vec = B.ndim == A.ndim - 1
    Bm = B[..., None] if vec else B
    sol = jnp.linalg.pinv(A) @ Bm
    # torch's outputs per LAPACK driver: residuals (m > n) for gels/gelsd/gelss; rank for all but
    # gels; singular values for gelsd/gelss
    driver = driver or "gelsy"
    m, n = A.shape[-2:]
    real = jnp.zeros((), A.dtype).real.dtype
    empty = jnp.zeros((0,), real)
    res = empty
    if m > n and driver in ("gels", "gelsd", "gelss"):
        res = jnp.sum(jnp.abs(A @ sol - Bm) ** 2, axis=-2)
    rank = jnp.zeros((0,), jnp.int64)
    sv = empty
    if driver != "gels":
        S = jnp.linalg.svd(A, compute_uv=False)
        tol = (rcond if rcond is not None else jnp.finfo(real).eps * max(m, n)) * \
            (S[..., :1] if S.shape[-1] else jnp.zeros(S.shape[:-1] + (1,), real))
        rank = jnp.sum(S > tol, axis=-1).astype(jnp.int64)
        if driver in ("gelsd", "gelss"):
            sv = S
    if vec:
        sol = sol[..., 0]
    return sol, res, rank, sv


def _cholesky_order_one(A):
    """LAPACK potrf's info for one matrix (lower triangle read): the order of the first leading
    minor that is not positive-definite, 0 if none. An unblocked O(n^3) loop, run only when the
    fast factorization failed (jax fills the whole result with nan, without potrf's info)."""
    n = A.shape[-1]
    ar = jnp.arange(n)

    def body(k, carry):
        L, info = carry
        row = jnp.where(ar < k, L[k], 0)
        d = jnp.real(A[k, k] - jnp.sum(row * jnp.conj(row)))
        ok = d > 0   # False for nan too
        info = jnp.where((info == 0) & ~ok, k + 1, info)
        lkk = jnp.sqrt(jnp.where(ok, d, 1)).astype(A.dtype)
        col = (A[:, k] - L @ jnp.conj(row)) / lkk
        return L.at[:, k].set(jnp.where(ar > k, col, jnp.where(ar == k, lkk, 0))), info

    return jax.lax.fori_loop(0, n, body, (jnp.zeros_like(A), jnp.zeros((), jnp.int32)))[1]


def _cholesky_info(A, L):
    """torch's cholesky info per batch element, given jax's factor L of the lower-read A."""
    batch = A.shape[:-2]
    if A.shape[-1] == 0:
        return jnp.zeros(batch, jnp.int32)

    def orders(_):
        flat = A.reshape((-1,) + A.shape[-2:])
        return jax.vmap(_cholesky_order_one)(flat).reshape(batch)
    return jax.lax.cond(jnp.all(jnp.isfinite(L)), lambda _: jnp.zeros(batch, jnp.int32), orders, None)


@jax.jit
def _cholesky_info_eager(A):
    return _cholesky_info(A, jnp.linalg.cholesky(A))


def _cholesky_check(name, arg):
    """Eager check: torch raises LinAlgError when the input is not positive-definite (a host sync,
    as torch's own; skipped for traced values, where only cholesky_ex's info reports it)."""
    def check(b):
        if name == "linalg.cholesky_ex" and not b.get("check_errors"):
            return
        a = getattr(b[arg], "_value", None)
        if a is None or isinstance(a, jax.core.Tracer) or a.ndim < 2 or a.shape[-1] != a.shape[-2] \
                or not jnp.issubdtype(a.dtype, jnp.inexact) or a.size == 0:
            return   # the op itself reports shape / dtype errors
        if b.get("upper"):
            a = jnp.conj(jnp.swapaxes(a, -1, -2))
        info = np.asarray(_cholesky_info_eager(a)).reshape(-1)
        bad = np.flatnonzero(info)
        if bad.size:
            from ..linalg import LinAlgError
            where = f"(Batch element {bad[0]}): " if a.ndim > 2 else ""
            raise LinAlgError(f"{name}: {where}The factorization could not be completed because the input is not "
                              f"positive-definite (the leading minor of order {info[bad[0]]} is not "
                              "positive-definite).")
    return check


@_L("cholesky", static=("upper",), saves_result="only", check=_cholesky_check("linalg.cholesky", "A"))
def linalg_cholesky(A, *, upper=False):
    _square(A, "cholesky")
    L = jnp.linalg.cholesky(A)
    return jnp.conj(jnp.swapaxes(L, -1, -2)) if upper else L


@_L("cholesky_ex", static=("upper", "check_errors"), returns=("L", "info"), nondiff_outputs=("info",),
    check=_cholesky_check("linalg.cholesky_ex", "A"))
def linalg_cholesky_ex(A, *, upper=False, check_errors=False):
    L = linalg_cholesky.impl(A, upper=upper)
    info = _cholesky_info(jnp.conj(jnp.swapaxes(A, -1, -2)) if upper else A, L)
    return L, info


@_L("qr", static=("mode",), returns=("Q", "R"))
def linalg_qr(A, mode="reduced"):
    if mode == "r":
        return jnp.zeros((0,), A.dtype), jnp.linalg.qr(A, mode="r")
    return tuple(jnp.linalg.qr(A, mode=mode))


@_L("svd", static=("full_matrices", "driver"), returns=("U", "S", "Vh"))
def linalg_svd(A, full_matrices=True, *, driver=None):
    U, S, Vh = jnp.linalg.svd(A, full_matrices=full_matrices)
    return U, S, Vh


@_L("svdvals", static=("driver",))
def linalg_svdvals(A, *, driver=None):
    return jnp.linalg.svd(A, compute_uv=False)


@_L("eig", returns=("eigenvalues", "eigenvectors"))
def linalg_eig(A):
    _square(A, "eig")
    # enable_eigvec_derivs: torch differentiates eigenvectors (a loss must not depend on their
    # phase; torch checks that, jtorch does not)
    cd = jnp.complex128 if A.dtype in (jnp.float64, jnp.complex128) else jnp.complex64
    if A.shape[-1] == 0:   # empty: jax's eigenvector derivative cannot reduce over an empty axis
        return jnp.zeros(A.shape[:-1], cd), jnp.zeros(A.shape, cd)
    w, v = jax.lax.linalg.eig(A, compute_left_eigenvectors=False, enable_eigvec_derivs=True)
    return w.astype(cd), v.astype(cd)


@_L("eigvals")
def linalg_eigvals(A):
    cd = jnp.complex128 if A.dtype in (jnp.float64, jnp.complex128) else jnp.complex64
    return jnp.linalg.eigvals(A).astype(cd)


@_L("eigh", static=("UPLO",), returns=("eigenvalues", "eigenvectors"))
def linalg_eigh(A, UPLO="L"):
    _square(A, "eigh")
    w, v = jnp.linalg.eigh(_hermitian_from(A, UPLO))
    return w, v


def _hermitian_from(A, UPLO):
    """torch reads one triangle of A; its gradient is the symmetric one. Forward: the Hermitian matrix
    built from that triangle; backward: identity (eigh's default symmetrisation then gives torch's grad)."""
    T = jnp.tril(A) if UPLO == "L" else jnp.triu(A)
    H = T + jnp.conj(jnp.swapaxes(jnp.tril(A, -1) if UPLO == "L" else jnp.triu(A, 1), -1, -2))
    H = H.at[..., jnp.arange(A.shape[-1]), jnp.arange(A.shape[-1])].set(jnp.diagonal(A, 0, -2, -1).real.astype(A.dtype))
    return jax.lax.stop_gradient(H) + (A - jax.lax.stop_gradient(A))


@_L("eigvalsh", static=("UPLO",))
def linalg_eigvalsh(A, UPLO="L"):
    return jnp.linalg.eigh(_hermitian_from(A, UPLO))[0]


@_L("matrix_rank", static=("hermitian", "atol", "rtol", "tol"), differentiable=False)
def linalg_matrix_rank(A, tol=None, *, atol=None, rtol=None, hermitian=False):
    S = jnp.linalg.svd(A, compute_uv=False)
    smax = jnp.max(S, axis=-1, keepdims=True) if S.shape[-1] else jnp.zeros(S.shape[:-1] + (1,), S.dtype)
    eps = jnp.finfo(S.dtype).eps
    if tol is not None:
        atol, rtol = tol, 0.0
    if atol is None and rtol is None:
        thresh = max(A.shape[-2:]) * eps * smax
    else:
        thresh = jnp.maximum(atol or 0.0, (rtol if rtol is not None else (0.0 if atol else max(A.shape[-2:]) * eps)) * smax)
    return jnp.sum(S > thresh, axis=-1).astype(jnp.int64)


@_L("matrix_power", static=("n",))
def linalg_matrix_power(A, n):
    _square(A, "matrix_power")
    return jnp.linalg.matrix_power(A, n)


@_L("matrix_exp")
def linalg_matrix_exp(A):
    return jsl.expm(A)


@_L("multi_dot", lists=("tensors",))
def linalg_multi_dot(tensors):
    return jnp.linalg.multi_dot(tensors)


@_L("cross", static=("dim",), promote="same")
def linalg_cross(input, other, *, dim=-1):
    return jnp.cross(input, other, axis=norm_dim(dim, max(input.ndim, other.ndim)))


@_L("vecdot", static=("dim",), promote="same")
def linalg_vecdot(x, y, *, dim=-1):
    return jnp.sum(jnp.conj(x) * y, axis=dim)


@_L("vector_norm", static=("ord", "dim", "keepdim", "dtype"), saves_result=True)
def linalg_vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. Got Long")
    if dtype is not None:
        x = x.astype(dtype.np)
    ax = None if dim is None else ((dim,) if isinstance(dim, int) else tuple(dim))
    a = kinks.abs(x)
    if ord == float("inf"):
        r = jnp.max(a, axis=ax, keepdims=keepdim)
    elif ord == float("-inf"):
        r = jnp.min(a, axis=ax, keepdims=keepdim)
    elif ord == 0:
        r = jnp.sum(a != 0, axis=ax, keepdims=keepdim).astype(a.dtype)
    elif ord == 1:
        r = jnp.sum(a, axis=ax, keepdims=keepdim)
    elif ord == 2:
        r = kinks.sqrt_at_zero(jnp.sum(a * a, axis=ax, keepdims=keepdim))
    else:
        r = kinks.pow_root_at_zero(jnp.sum(a ** ord, axis=ax, keepdims=keepdim), ord)
    return r


@_L("matrix_norm", static=("ord", "dim", "keepdim", "dtype"), saves_result=True)
def linalg_matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    if dtype is not None:
        A = A.astype(dtype.np)
    d0, d1 = norm_dim(dim[0], A.ndim), norm_dim(dim[1], A.ndim)
    X = jnp.moveaxis(A, (d0, d1), (-2, -1))
    if ord == "fro":
        r = kinks.sqrt_at_zero(jnp.sum(jnp.real(X * jnp.conj(X)), axis=(-2, -1)))
    elif ord == "nuc":
        r = jnp.sum(jnp.linalg.svd(X, compute_uv=False), axis=-1)
    elif ord in (2, -2):
        S = jnp.linalg.svd(X, compute_uv=False)
        r = S[..., 0] if ord == 2 else S[..., -1]
    elif ord in (1, -1):
        s = jnp.sum(jnp.abs(X), axis=-2)
        r = jnp.max(s, axis=-1) if ord == 1 else jnp.min(s, axis=-1)
    elif ord in (float("inf"), float("-inf")):
        s = jnp.sum(jnp.abs(X), axis=-1)
        r = jnp.max(s, axis=-1) if ord > 0 else jnp.min(s, axis=-1)
    else:
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    if keepdim:
        r = jnp.expand_dims(jnp.expand_dims(r, min(d0, d1)), max(d0, d1))
    return r


@_L("norm", static=("ord", "dim", "keepdim", "dtype"), saves_result=True)
def linalg_norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    if dim is not None and not isinstance(dim, int) and len(dim) == 2 or (dim is None and ord is not None and A.ndim == 2):
        return linalg_matrix_norm.impl(A, "fro" if ord is None else ord, dim if dim is not None else (-2, -1),
                                       keepdim, dtype=dtype)
    return linalg_vector_norm.impl(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)


@_L("lu_factor", static=("pivot",), returns=("LU", "pivots"), nondiff_outputs=("pivots",))
def linalg_lu_factor(A, *, pivot=True):
    lu, piv, _ = jax.lax.linalg.lu(A)
    return lu, (piv + 1).astype(jnp.int32)


@_L("lu", static=("pivot",), returns=("P", "L", "U"), nondiff_outputs=("P",))
def linalg_lu(A, *, pivot=True):
    lu, piv, perm = jax.lax.linalg.lu(A)
    m, n = A.shape[-2:]
    k = min(m, n)
    L = jnp.tril(lu[..., :, :k], -1) + jnp.eye(m, k, dtype=A.dtype)
    U = jnp.triu(lu[..., :k, :])
    P = jnp.swapaxes(jax.nn.one_hot(perm, m, dtype=A.dtype), -1, -2)
    return P, L, U


@_L("lu_solve", static=("left", "adjoint"), saves_result=True)
def linalg_lu_solve(LU, pivots, B, *, left=True, adjoint=False):
    n = LU.shape[-1]
    perm = jax.lax.linalg.lu_pivots_to_permutation(pivots.astype(jnp.int32) - 1, n)
    L = jnp.tril(LU, -1) + jnp.eye(n, dtype=LU.dtype)
    U = jnp.triu(LU)
    A = jnp.swapaxes(jax.nn.one_hot(perm, n, dtype=LU.dtype), -1, -2) @ L @ U
    if adjoint:
        A = jnp.conj(jnp.swapaxes(A, -1, -2))
    return linalg_solve.impl(A, B, left=left)


def _householder_product_jnp(A, tau):
    """H_1 ... H_k applied to the first n columns of I (H_i = I - tau_i v_i v_i^H, v_i the i-th
    column of A below the diagonal with 1 on it), written with differentiable jnp ops."""
    m, n = A.shape[-2], A.shape[-1]
    eye = jnp.eye(m, n, dtype=A.dtype)
    V = jnp.tril(A, -1) + jnp.eye(m, n, dtype=A.dtype)
    M = jnp.broadcast_to(eye, A.shape)
    for i in reversed(range(tau.shape[-1])):
        v = V[..., :, i:i + 1]
        M = M - tau[..., i, None, None] * (v @ (jnp.conj(jnp.swapaxes(v, -1, -2)) @ M))
    return M


@jax.custom_jvp
def householder_product(A, tau):
    """XLA's householder_product (LAPACK orgqr) forward; derivatives from the jnp formulation,
    since XLA has no differentiation rule for it."""
    return jax.lax.linalg.householder_product(A, tau)


@householder_product.defjvp
def _householder_product_jvp(primals, tangents):
    return householder_product(*primals), jax.jvp(_householder_product_jnp, primals, tangents)[1]


@_L("householder_product", saves_result=True)
def linalg_householder_product(A, tau):
    return householder_product(A, tau)


@_L("tensorinv", static=("ind",))
def linalg_tensorinv(A, ind=2):
    return jnp.linalg.tensorinv(A, ind)


@_L("tensorsolve", static=("dims",))
def linalg_tensorsolve(A, B, dims=None):
    if dims is not None:   # torch moves `dims` of A to the end, then matches B by number of elements
        dims = tuple(d % A.ndim for d in dims)
        A = jnp.moveaxis(A, dims, tuple(range(A.ndim - len(dims), A.ndim)))
    out_shape = A.shape[B.ndim:]
    nb = int(np.prod(B.shape))
    if nb != int(np.prod(out_shape)) or nb != int(np.prod(A.shape[:B.ndim])):
        raise RuntimeError("Expected self to satisfy the requirement prod(self.shape[other.ndim:]) == "
                           "prod(self.shape[:other.ndim]), but got " + str(list(A.shape)))
    return jnp.linalg.solve(A.reshape(nb, nb), B.reshape(nb)).reshape(out_shape)


@_L("vander", static=("N",))
def linalg_vander(x, *, N=None):
    x = x.reshape(1) if x.ndim == 0 else x
    n = x.shape[-1] if N is None else N
    return x[..., None] ** jnp.arange(n, dtype=x.dtype if jnp.issubdtype(x.dtype, jnp.inexact) else jnp.int64)


# torch.linalg.matmul is torch.matmul under the linalg namespace
alias("linalg_matmul", "matmul", method=False, public=False)


@_L("diagonal", static=("offset", "dim1", "dim2"), linear=True)
def linalg_diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    return jnp.diagonal(A, offset, dim1, dim2)


@_L("cond", static=("p",))
def linalg_cond(A, p=None):
    if p is None or p == 2:
        S = jnp.linalg.svd(A, compute_uv=False)
        return S[..., 0] / S[..., -1]
    return jnp.linalg.cond(A, p)


# legacy torch.* spellings (functions and methods)
@op(method=True)
def inverse(input):
    return linalg_inv.impl(input)


@op(method=True, saves_result=True)
def det(input):
    return linalg_det.impl(input)


@op(method=True, returns=("sign", "logabsdet"))
def slogdet(input):
    return linalg_slogdet.impl(input)


@op(method=True)
def logdet(input):
    s, l = jnp.linalg.slogdet(input)
    return jnp.where(s < 0, jnp.nan, l)


@op(method=True, static=("upper",), saves_result="only", check=_cholesky_check("cholesky", "input"))
def cholesky(input, upper=False):
    return linalg_cholesky.impl(input, upper=upper)


@op(method=True, static=("upper",), saves_result=True)
def cholesky_solve(input, input2, upper=False):
    L = jnp.conj(jnp.swapaxes(input2, -1, -2)) if upper else input2
    batch = jnp.broadcast_shapes(input.shape[:-2], L.shape[:-2])  # torch broadcasts the batch dims
    input, L = jnp.broadcast_to(input, batch + input.shape[-2:]), jnp.broadcast_to(L, batch + L.shape[-2:])
    return jsl.cho_solve((L, True), input)


@op(method=True, static=("upper",), saves_result=True)
def cholesky_inverse(input, upper=False):
    L = jnp.conj(jnp.swapaxes(input, -1, -2)) if upper else input
    return jsl.cho_solve((L, True), jnp.eye(L.shape[-1], dtype=L.dtype))


@op(method=True, static=("some", "compute_uv"), returns=("U", "S", "V"))
def svd(input, some=True, compute_uv=True):
    U, S, Vh = jnp.linalg.svd(input, full_matrices=not some)
    return U, S, jnp.conj(jnp.swapaxes(Vh, -1, -2))


@op(method=True, static=("some",), returns=("Q", "R"))
def qr(input, some=True):
    return tuple(jnp.linalg.qr(input, mode="reduced" if some else "complete"))


@op(method=True, static=("rcond", "hermitian"))
def pinverse(input, rcond=1e-15):
    return jnp.linalg.pinv(input, rtol=rcond)


@op(method=True, static=("n",))
def matrix_power(input, n):
    return jnp.linalg.matrix_power(input, n)


@op(method=True)
def matrix_exp(input):
    return jsl.expm(input)


@op(method=True, static=("upper", "transpose", "unitriangular"), returns=("solution", "cloned_coefficient"))
def triangular_solve(b, A, upper=True, transpose=False, unitriangular=False):
    X = jsl.solve_triangular(A, b, lower=not upper, trans=1 if transpose else 0, unit_diagonal=unitriangular)
    return X, A


@op(method=True, static=("p", "compute_mode"), promote="same", saves_result=True)
def cdist(x1, x2, p=2.0, compute_mode=None):
    d = x1[..., :, None, :] - x2[..., None, :, :]
    if p == 2.0:
        return kinks.sqrt_at_zero(jnp.sum(d * d, axis=-1))
    if p == float("inf"):
        return jnp.max(jnp.abs(d), axis=-1)
    if p == 0:
        return jnp.sum(d != 0, axis=-1).astype(x1.dtype)
    return jnp.sum(jnp.abs(d) ** p, axis=-1) ** (1.0 / p)


@op(method=True, static=("p",), promote="same", saves_result=True)
def dist(input, other, p=2):
    d = kinks.abs(input - other).reshape(-1)
    if p == float("inf"):
        return jnp.max(d)
    if p == 0:
        return jnp.sum(d != 0).astype(d.dtype)
    if p == 2:
        return kinks.sqrt_at_zero(jnp.sum(d * d))
    return kinks.pow_root_at_zero(jnp.sum(d ** p), p)


@op(method=False, static=("N", "increasing"))
def vander(x, N=None, increasing=False):
    return jnp.vander(x, N, increasing=increasing)
