"""Table-driven gradient check: for many registry ops, jtorch's forward value and input
gradients equal torch's (float32 and float64), using a random upstream gradient."""
import numpy as np
import pytest
import torch

import jtorch
from oracle import assert_same, to_j

rng = np.random.default_rng(3)
S34 = rng.standard_normal((3, 4))
T34 = rng.standard_normal((3, 4))
P34 = np.abs(rng.standard_normal((3, 4))) + 0.5   # positive
U34 = rng.uniform(-0.8, 0.8, (3, 4))              # inside (-1, 1)
M43 = rng.standard_normal((4, 3))
B234 = rng.standard_normal((2, 3, 4))
B243 = rng.standard_normal((2, 4, 3))
V4 = rng.standard_normal(4)
V3 = rng.standard_normal(3)
SQ = rng.standard_normal((3, 3)) + 3 * np.eye(3)
MASK = S34 > 0
IDX = np.array([2, 0, 2])
GIDX = np.array([[0, 3, 1, 1], [2, 2, 0, 3], [1, 0, 3, 2]])


def _f(lib):
    return lib.nn.functional if hasattr(lib.nn, "functional") else None


# (name, function(lib, *tensors), input arrays)
OPS = [
    # pointwise
    ("sin", lambda L, x: x.sin(), [S34]),
    ("cos", lambda L, x: L.cos(x), [S34]),
    ("tan", lambda L, x: x.tan(), [U34]),
    ("exp", lambda L, x: x.exp(), [S34]),
    ("expm1", lambda L, x: x.expm1(), [S34]),
    ("log", lambda L, x: x.log(), [P34]),
    ("log1p", lambda L, x: x.log1p(), [P34]),
    ("log2", lambda L, x: L.log2(x), [P34]),
    ("sqrt", lambda L, x: x.sqrt(), [P34]),
    ("rsqrt", lambda L, x: x.rsqrt(), [P34]),
    ("tanh", lambda L, x: x.tanh(), [S34]),
    ("sigmoid", lambda L, x: x.sigmoid(), [S34]),
    ("relu", lambda L, x: x.relu(), [S34]),
    ("abs", lambda L, x: x.abs(), [S34]),
    ("neg", lambda L, x: -x, [S34]),
    ("reciprocal", lambda L, x: x.reciprocal(), [P34]),
    ("sinh_cosh", lambda L, x: x.sinh() + x.cosh(), [S34]),
    ("asin_acos_atan", lambda L, x: x.asin() + x.acos() + x.atan(), [U34]),
    ("asinh_atanh", lambda L, x: x.asinh() + x.atanh(), [U34]),
    ("erf_erfc", lambda L, x: x.erf() + L.erfc(x), [S34]),
    ("erfinv", lambda L, x: x.erfinv(), [U34]),
    ("lgamma_digamma", lambda L, x: x.lgamma() + x.digamma(), [P34]),
    ("pow_scalar", lambda L, x: x ** 3, [S34]),
    ("pow_tensor", lambda L, x, y: x ** y, [P34, T34]),
    ("rpow", lambda L, x: 2.0 ** x, [S34]),
    ("mul_div", lambda L, x, y: x * y / (y.abs() + 1), [S34, T34]),
    ("add_sub_alpha", lambda L, x, y: L.add(x, y, alpha=2) - L.sub(y, x, alpha=0.5), [S34, T34]),
    ("rsub", lambda L, x: 1 - x, [S34]),
    ("atan2", lambda L, x, y: L.atan2(x, y), [S34, T34]),
    ("maximum_minimum", lambda L, x, y: L.maximum(x, y) + L.minimum(x, y) * 2, [S34, T34]),
    ("clamp", lambda L, x: x.clamp(-0.5, 0.7), [S34]),
    ("clamp_tensor", lambda L, x, y: L.clamp(x, min=y), [S34, T34]),
    ("where", lambda L, x, y: L.where(x > y, x, y * 2), [S34, T34]),
    ("lerp", lambda L, x, y: L.lerp(x, y, 0.3), [S34, T34]),
    ("addcmul_addcdiv", lambda L, x, y, z: L.addcmul(x, y, z, value=0.5) + L.addcdiv(x, y, z), [S34, T34, P34]),
    ("hypot", lambda L, x, y: L.hypot(x, y), [S34, T34]),
    ("logaddexp", lambda L, x, y: L.logaddexp(x, y), [S34, T34]),
    ("xlogy", lambda L, x, y: L.xlogy(x, y), [S34, P34]),
    ("sign_frac_round", lambda L, x: x * x.sign() + x.frac() + x.round() * x, [S34]),
    ("softplus_silu_gelu", lambda L, x: L.nn.functional.softplus(x) + L.nn.functional.silu(x)
     + L.nn.functional.gelu(x), [S34]),
    ("elu_leaky", lambda L, x: L.nn.functional.elu(x) + L.nn.functional.leaky_relu(x, 0.1), [S34]),
    ("nan_to_num", lambda L, x: L.nan_to_num(x.log()), [S34]),
    ("broadcast", lambda L, x, v: x * v + v, [S34, V4]),
    # reductions
    ("sum_dim", lambda L, x: x.sum(1), [S34]),
    ("sum_keepdim", lambda L, x: x.sum((0, 1), keepdim=True), [B234]),
    ("mean", lambda L, x: x.mean(0), [S34]),
    ("prod", lambda L, x: x.prod(1), [S34]),
    ("prod_all", lambda L, x: x.prod(), [P34]),
    ("var_std", lambda L, x: x.var(1).sum() + x.std(0, correction=0), [S34]),
    ("amax_amin", lambda L, x: x.amax(1) + x.amin(0).sum(), [S34]),
    ("max_dim", lambda L, x: x.max(1).values, [S34]),
    ("max_all", lambda L, x: x.max(), [S34]),
    ("min_dim", lambda L, x: L.min(x, 0)[0], [S34]),
    ("logsumexp", lambda L, x: x.logsumexp(1), [S34]),
    ("norm", lambda L, x: x.norm() + x.norm(1, dim=1).sum(), [S34]),
    ("vector_norm", lambda L, x: L.linalg.vector_norm(x, 3, dim=0), [S34]),
    ("cumsum_cumprod", lambda L, x: x.cumsum(1) + x.cumprod(0), [S34]),
    ("softmax", lambda L, x: x.softmax(-1), [S34]),
    ("log_softmax", lambda L, x: L.log_softmax(x, 0), [S34]),
    ("sort", lambda L, x: x.sort(1).values, [S34]),
    ("topk", lambda L, x: x.topk(2, dim=1).values, [S34]),
    # shape ops
    ("reshape_view", lambda L, x: x.reshape(4, 3).t().contiguous().view(12), [S34]),
    ("transpose_permute", lambda L, x: x.transpose(0, 2).permute(1, 0, 2), [B234]),
    ("cat_stack", lambda L, x, y: L.cat([x, y], 1) + L.stack([x, y], 0).sum(0).repeat(1, 2), [S34, T34]),
    ("split_chunk", lambda L, x: x.split([1, 3], 1)[1] * 2 + x.chunk(2, 1)[0].sum(), [S34]),
    ("unbind", lambda L, x: x.unbind(0)[1] * x.unbind(1)[0].sum(), [S34]),
    ("flip_roll", lambda L, x: x.flip(0) + x.roll(1, 1), [S34]),
    ("expand", lambda L, v: v.expand(3, 4) * 2, [V4]),
    ("squeeze_unsqueeze", lambda L, x: x.unsqueeze(1).squeeze(1).unsqueeze(-1), [S34]),
    ("tril_triu", lambda L, x: x.tril() + x.triu(1) * 2, [S34]),
    ("diagonal_diag", lambda L, x: L.diag(x.diagonal()) + x.diag_embed().sum(), [SQ]),
    ("narrow_movedim", lambda L, x: x.narrow(1, 1, 2).movedim(0, 1), [S34]),
    ("flatten_unflatten", lambda L, x: x.flatten().unflatten(0, (6, 4)), [B234]),
    ("tile", lambda L, x: x.tile((2, 1)), [S34]),
    # indexing
    ("getitem_basic", lambda L, x: x[1:, ::2] * x[0, None, 1:3].sum(), [S34]),
    ("getitem_mask", lambda L, x: x[L.tensor(MASK)], [S34]),
    ("getitem_index", lambda L, x: x[L.tensor(IDX)] + x[:, L.tensor(IDX)].sum(), [S34]),
    ("gather", lambda L, x: x.gather(1, L.tensor(GIDX)), [S34]),
    ("index_select", lambda L, x: x.index_select(1, L.tensor(IDX)), [S34]),
    ("masked_fill", lambda L, x: x.masked_fill(L.tensor(MASK), 0.5), [S34]),
    ("scatter_add", lambda L, x, y: x.scatter_add(1, L.tensor(GIDX), y), [S34, T34]),
    ("index_add", lambda L, x, v: x.index_add(0, L.tensor([0, 2, 2]), v), [S34, S34]),
    ("take_along_dim", lambda L, x: L.take_along_dim(x, L.tensor(GIDX), 1), [S34]),
    # matmul family
    ("mm", lambda L, x, w: x @ w, [S34, M43]),
    ("matmul_batched", lambda L, x, w: L.matmul(x, w), [B234, B243]),
    ("matmul_vec", lambda L, x, v: x @ v, [S34, V4]),
    ("bmm", lambda L, x, w: L.bmm(x, w), [B234, B243]),
    ("einsum", lambda L, x, w: L.einsum("bij,bjk->bik", x, w), [B234, B243]),
    ("addmm", lambda L, b, x, w: L.addmm(b, x, w, beta=0.5, alpha=2), [SQ, S34, M43]),
    ("baddbmm", lambda L, x, w: L.baddbmm(x @ w, x, w), [B234, B243]),
    ("linear", lambda L, x, w, b: L.nn.functional.linear(x, w, b), [S34, M43.T.copy(), V3]),
    ("outer_dot_mv", lambda L, x, v, u: L.outer(u, v) * L.dot(v, v) + L.mv(x, v)[:, None], [S34, V4, V3]),
    ("tensordot", lambda L, x, w: L.tensordot(x, w, dims=([1, 2], [1, 0])), [B234, B243.transpose(1, 2, 0).copy()]),
    ("inverse_det", lambda L, a: L.linalg.inv(a) * L.linalg.det(a), [SQ]),
    ("solve", lambda L, a, b: L.linalg.solve(a, b), [SQ, M43.T.copy()[:, :3].T.copy()]),
    # nn losses / norms
    ("layer_norm", lambda L, x, w, b: L.nn.functional.layer_norm(x, (4,), w, b), [S34, V4, V4]),
    ("cross_entropy", lambda L, x: L.nn.functional.cross_entropy(x, L.tensor([1, 0, 3])), [S34]),
    ("mse_l1", lambda L, x, y: L.nn.functional.mse_loss(x, y) + L.nn.functional.l1_loss(x, y), [S34, T34]),
    ("bce_logits", lambda L, x, y: L.nn.functional.binary_cross_entropy_with_logits(x, y.sigmoid()), [S34, T34]),
]


# float32 for every op; float64 for every third op in the quick run, all of them under -m slow
# (each case compiles its kernels: keep the file within the CI budget)
CASES = [pytest.param(c, "float32", id=f"{c[0]}-float32") for c in OPS] + \
    [pytest.param(c, "float64", id=f"{c[0]}-float64", marks=() if i % 3 == 0 else pytest.mark.slow)
     for i, c in enumerate(OPS)]


@pytest.mark.parametrize("case,dtype", CASES)
def test_op_grad(case, dtype):
    name, fn, arrays = case
    tdt = getattr(torch, dtype)
    tin = [torch.tensor(a, dtype=tdt, requires_grad=True) for a in arrays]
    jin = [to_j(t, requires_grad=True) for t in tin]
    tout = fn(torch, *tin)
    jout = fn(jtorch, *jin)
    tol = dict(rtol=2e-4, atol=2e-5) if dtype == "float32" else dict(rtol=1e-7, atol=1e-9)
    assert_same(jout, tout.detach(), **tol, msg=f"{name} forward")
    w = np.random.default_rng(7).standard_normal(tuple(tout.shape))
    (tout * torch.tensor(w, dtype=tdt)).sum().backward()
    (jout * jtorch.tensor(w, dtype=jout.dtype)).sum().backward()
    for k, (a, b) in enumerate(zip(jin, tin)):
        assert (a.grad is None) == (b.grad is None), f"{name}: grad presence differs for input {k}"
        if b.grad is not None:
            assert_same(a.grad, b.grad, **tol, msg=f"{name} grad of input {k}")
