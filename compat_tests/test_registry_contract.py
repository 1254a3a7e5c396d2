"""The op registry's contract with torch: `out=` only where torch accepts it, with torch's
dtype / resize / autograd rules; non-differentiable outputs (pivots, rank, P); one declaration
per op name."""
import warnings

import pytest
import torch

import jtorch
from jtorch._ops.registry import op, OPS
from oracle import assert_same, same_error, to_j


def _both(f, x):
    """Run f(torch, x) and f(jtorch, to_j(x)), collecting warnings; returns ((res, warns), ...)."""
    out = []
    for t, a in ((torch, x), (jtorch, to_j(x))):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            r = f(t, a)
        out.append((r, [str(m.message) for m in w if m.category is UserWarning]))
    return out


X = torch.arange(6.0).reshape(2, 3)

OUT_OK = {
    "add_cast_up": lambda t, a: t.add(a, 1, out=t.empty(2, 3, dtype=t.float64)),
    "add_empty_resized": lambda t, a: t.add(a, 1, out=t.empty(0)),
    "sin_int_input_float_out": lambda t, a: t.sin(a.long(), out=t.empty(2, 3, dtype=t.float64)),
    "eq_into_float": lambda t, a: t.eq(a, 2.0, out=t.empty(2, 3)),
    "cat_into_double": lambda t, a: t.cat([a, a], out=t.empty(4, 3, dtype=t.float64)),
    "sum_dim_into_long": lambda t, a: t.sum(a, 1, out=t.empty(0, dtype=t.int64)),
    "mm": lambda t, a: t.mm(a, a.T, out=t.empty(2, 2)),
    "permute_copy": lambda t, a: t.permute_copy(a, (1, 0), out=t.empty(0)),
    "linalg_svdvals": lambda t, a: t.linalg.svdvals(a, out=t.empty(0)),
}


@pytest.mark.parametrize("name", list(OUT_OK))
def test_out_writes_into_given_tensor(name):
    (rt, wt), (rj, wj) = _both(OUT_OK[name], X)
    assert_same(rj, rt)
    assert wj == wt


def test_out_returns_the_out_tensor_and_tuple_outputs():
    for t, a in ((torch, X), (jtorch, to_j(X))):
        o = t.empty(0)
        assert t.add(a, 1, out=o) is o
    vt, it = torch.empty(0), torch.empty(0, dtype=torch.int64)
    vj, ij = jtorch.empty(0), jtorch.empty(0, dtype=jtorch.int64)
    rt = torch.sort(X, descending=True, out=(vt, it))
    rj = jtorch.sort(to_j(X), descending=True, out=(vj, ij))
    assert rj.values is vj and rj.indices is ij
    assert_same(vj, vt)
    assert_same(ij, it)
    mt = torch.max(X, 1, out=(torch.empty(0), torch.empty(0, dtype=torch.int64)))
    mj = jtorch.max(to_j(X), 1, out=(jtorch.empty(0), jtorch.empty(0, dtype=jtorch.int64)))
    assert_same(tuple(mj), tuple(mt))


def test_out_resize_warns_like_torch_when_out_had_elements():
    (rt, wt), (rj, wj) = _both(lambda t, a: t.add(a, 1, out=t.empty(5)), X)
    assert_same(rj, rt)
    assert len(wt) == 1 and len(wj) == 1
    assert wj[0] == wt[0].split(" (Triggered internally")[0]


OUT_ERRORS = {
    "float_into_long": lambda t, a: t.add(a, 1, out=t.empty(2, 3, dtype=t.int64)),
    "sin_into_long": lambda t, a: t.sin(a, out=t.empty(2, 3, dtype=t.int64)),
    "mm_exact_dtype": lambda t, a: t.mm(a, a.T, out=t.empty(2, 2, dtype=t.float64)),
    "sort_exact_dtype": lambda t, a: t.sort(a, out=(t.empty(0, dtype=t.float64), t.empty(0, dtype=t.int64))),
    "out_requires_grad": lambda t, a: t.add(a, 1, out=t.empty(2, 3, requires_grad=True)),
    "input_requires_grad": lambda t, a: t.mul(a.clone().requires_grad_(), 2, out=t.empty(2, 3)),
    # torch has no out= for these: TypeError "unexpected keyword argument 'out'"
    "reshape_no_out": lambda t, a: t.reshape(a, (6,), out=t.empty(6)),
    "transpose_no_out": lambda t, a: t.transpose(a, 0, 1, out=t.empty(3, 2)),
    "relu_no_out": lambda t, a: t.relu(a, out=t.empty(2, 3)),
    "functional_relu_no_out": lambda t, a: t.nn.functional.relu(a, out=t.empty(2, 3)),
    "method_no_out": lambda t, a: a.add(1, out=t.empty(2, 3)),
    "inplace_method_no_out": lambda t, a: a.clone().add_(1, out=t.empty(2, 3)),
}


@pytest.mark.parametrize("name", list(OUT_ERRORS))
def test_out_errors_match_torch(name):
    f = OUT_ERRORS[name]
    et, ej = same_error(lambda: f(torch, X), lambda: f(jtorch, to_j(X)))
    assert str(ej) == str(et)


def test_out_table_is_current():
    """The generated table (jtorch/_ops/torch_out_table.py) agrees with torch's signatures for
    every registry op; when an op is added, rerun tools/gen_torch_out_table.py."""
    import importlib.util
    import os
    from jtorch._ops.torch_out_table import ACCEPTS_OUT
    path = os.path.join(os.path.dirname(__file__), "..", "tools", "gen_torch_out_table.py")
    spec = importlib.util.spec_from_file_location("gen_torch_out_table", path)
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    want = set(gen.accepts_out_names())
    assert want - ACCEPTS_OUT == set(), "torch accepts out= for these: regenerate the table"
    assert ACCEPTS_OUT - want == set(), "torch has no out= for these: regenerate the table"
    for name, accepts in (("add", True), ("cat", True), ("sort", True), ("reshape", False), ("einsum", False),
                          ("conv2d", False), ("linalg_svd", True)):
        assert bool(OPS[name].out) is accepts, name


# ---------------------------------------------------------------------------- nondiff outputs
def test_lstsq_rank_and_singular_values_do_not_require_grad():
    g = torch.Generator().manual_seed(0)
    A = torch.randn(5, 3, generator=g, dtype=torch.float64, requires_grad=True)
    B = torch.randn(5, 2, generator=g, dtype=torch.float64, requires_grad=True)
    Aj, Bj = to_j(A), to_j(B)
    rt = torch.linalg.lstsq(A, B, driver="gelsd")
    rj = jtorch.linalg.lstsq(Aj, Bj, driver="gelsd")
    assert [v.requires_grad for v in rj] == [v.requires_grad for v in rt] == [True, True, False, False]
    assert rj.rank.grad_fn is None and rj.singular_values.grad_fn is None
    (rt.solution.sum() + rt.residuals.sum()).backward()
    (rj.solution.sum() + rj.residuals.sum()).backward()
    assert_same(Aj.grad, A.grad, rtol=1e-6, atol=1e-8)
    assert_same(Bj.grad, B.grad, rtol=1e-6, atol=1e-8)


def test_lu_permutation_and_pivots_are_not_differentiable():
    g = torch.Generator().manual_seed(1)
    A = torch.randn(3, 3, generator=g, dtype=torch.float64, requires_grad=True)
    Aj = to_j(A)
    for ft, fj in ((torch.linalg.lu, jtorch.linalg.lu), (torch.linalg.lu_factor, jtorch.linalg.lu_factor),
                   (torch.linalg.lu_factor_ex, jtorch.linalg.lu_factor_ex)):
        rt, rj = ft(A), fj(Aj)
        assert [v.requires_grad for v in rj] == [v.requires_grad for v in rt], ft.__name__
    P, L, U = jtorch.linalg.lu(Aj)
    Pt, Lt, Ut = torch.linalg.lu(A)
    (L * 2 + U).sum().backward()
    (Lt * 2 + Ut).sum().backward()
    assert_same(Aj.grad, A.grad, rtol=1e-6, atol=1e-8)


def test_nondiff_outputs_must_name_a_return():
    with pytest.raises(ValueError):
        op("_test_bad_nondiff", returns=("a", "b"), nondiff_outputs=("c",))(lambda input: (input, input))
    assert "_test_bad_nondiff" not in OPS


# ---------------------------------------------------------------------------- one declaration per name
def test_declaring_an_op_twice_raises():
    with pytest.raises(RuntimeError, match="declared twice"):
        op("add")(lambda input, other: input)
    assert OPS["add"].impl.__name__ == "add"   # the original declaration is untouched
