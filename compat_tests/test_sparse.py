"""Dense-backed sparse COO/CSR tensors (jtorch/_sparse.py) against torch's sparse API: construction,
coordinates, coalescing, conversions, torch.sparse functions, matmuls, gradients, repr, errors."""
import warnings

import numpy as np
import pytest
import torch

import jtorch
from oracle import to_j, assert_same, same_error

warnings.filterwarnings("ignore", message=".*[Ss]parse.*")

I = [[0, 1, 1, 0], [2, 0, 2, 2]]
V = [3.0, 4.0, 5.0, 1.0]


def _both(fn):
    return fn(torch), fn(jtorch)


def test_coo_construction_and_coordinates():
    t, j = _both(lambda lib: lib.sparse_coo_tensor(lib.tensor(I), lib.tensor(V), (2, 3)))
    assert j.layout is jtorch.sparse_coo and j.is_sparse and not j.is_sparse_csr
    assert (j.is_coalesced(), j._nnz(), j.sparse_dim(), j.dense_dim()) == \
           (t.is_coalesced(), t._nnz(), t.sparse_dim(), t.dense_dim())
    assert_same(j._indices(), t._indices())
    assert_same(j._values(), t._values())
    assert_same(j.to_dense(), t.to_dense())
    same_error(lambda: t.indices(), lambda: j.indices())
    same_error(lambda: t.values(), lambda: j.values())
    tc, jc = t.coalesce(), j.coalesce()
    assert jc.is_coalesced() and jc._nnz() == tc._nnz()
    assert_same(jc.indices(), tc.indices())
    assert_same(jc.values(), tc.values())
    assert repr(jc) == repr(tc)
    assert repr(j) == repr(t)


def test_coo_inferred_size_hybrid_and_explicit_zeros():
    t, j = _both(lambda lib: lib.sparse_coo_tensor([[0, 2]], [[1.0, 2.0], [0.0, 0.0]]))
    assert tuple(j.shape) == tuple(t.shape) and j.sparse_dim() == t.sparse_dim() == 1
    assert j.dense_dim() == t.dense_dim() == 1
    tc, jc = t.coalesce(), j.coalesce()
    assert_same(jc.indices(), tc.indices())      # the explicitly given zero row stays specified
    assert_same(jc.values(), tc.values())
    t, j = _both(lambda lib: lib.sparse_coo_tensor(lib.tensor(I), lib.tensor(V, dtype=lib.float64)))
    assert_same(j.to_dense(), t.to_dense())
    assert repr(j) == repr(t)


def test_coo_errors():
    same_error(lambda: torch.sparse_coo_tensor(torch.tensor(I), torch.tensor(V[:3]), (2, 3)),
               lambda: jtorch.sparse_coo_tensor(jtorch.tensor(I), jtorch.tensor(V[:3]), (2, 3)))
    same_error(lambda: torch.ones(2).is_coalesced(), lambda: jtorch.ones(2).is_coalesced())
    same_error(lambda: torch.ones(2, 2).indices(), lambda: jtorch.ones(2, 2).indices())
    # out-of-range coordinates: torch's invariant check message (jtorch always checks)
    with torch.sparse.check_sparse_tensor_invariants():
        same_error(lambda: torch.sparse_coo_tensor(torch.tensor(I), torch.tensor(V), (1, 3)),
                   lambda: jtorch.sparse_coo_tensor(jtorch.tensor(I), jtorch.tensor(V), (1, 3)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_to_sparse_round_trip_and_repr(dtype):
    d = np.array([[0, 1.5, 0], [2, 0, 0], [0, 0, -3]], dtype=dtype)
    t, j = torch.from_numpy(d).to_sparse(), to_j(torch.from_numpy(d)).to_sparse()
    assert repr(j) == repr(t)
    assert_same(j.indices(), t.indices())
    assert_same(j.values(), t.values())
    assert_same(j.to_dense(), t.to_dense())
    tc, jc = torch.from_numpy(d).to_sparse_csr(), to_j(torch.from_numpy(d)).to_sparse_csr()
    assert jc.layout is jtorch.sparse_csr and jc.is_sparse_csr and not jc.is_sparse
    assert_same(jc.crow_indices(), tc.crow_indices())
    assert_same(jc.col_indices(), tc.col_indices())
    assert_same(jc.values(), tc.values())
    assert repr(jc) == repr(tc)
    assert_same(jc.to_dense(), tc.to_dense())
    big = np.arange(40, dtype=dtype).reshape(4, 10) % 3
    assert repr(to_j(torch.from_numpy(big)).to_sparse_csr()) == repr(torch.from_numpy(big).to_sparse_csr())
    assert repr(to_j(torch.from_numpy(big)).to_sparse()) == repr(torch.from_numpy(big).to_sparse())
    assert_same(to_j(torch.from_numpy(d)).to_sparse(1).values(), torch.from_numpy(d).to_sparse(1).values())


def test_csr_construction():
    t, j = _both(lambda lib: lib.sparse_csr_tensor(lib.tensor([0, 2, 3]), lib.tensor([0, 2, 1]),
                                                    lib.tensor([1.0, 2.0, 3.0]), (2, 3)))
    assert_same(j.to_dense(), t.to_dense())
    assert_same(j.crow_indices(), t.crow_indices())


def test_sparse_functions_match_torch():
    g = torch.Generator().manual_seed(0)
    d = torch.randn(4, 5, generator=g) * (torch.rand(4, 5, generator=g) > 0.5)
    x = torch.randn(5, 3, generator=g)
    ts, js = d.to_sparse(), to_j(d).to_sparse()
    assert_same(jtorch.sparse.mm(js, to_j(x)), torch.sparse.mm(ts, x), atol=1e-6)
    assert_same(jtorch.spmm(js, to_j(x)), torch.spmm(ts, x), atol=1e-6)
    assert_same(js @ to_j(x), ts @ x, atol=1e-6)
    assert_same(jtorch.mm(js, to_j(x)), torch.mm(ts, x), atol=1e-6)
    assert_same(jtorch.sparse.sum(js), torch.sparse.sum(ts), atol=1e-6)
    assert_same(jtorch.sparse.sum(js, dim=1).to_dense(), torch.sparse.sum(ts, dim=1).to_dense(), atol=1e-6)
    assert str(jtorch.sparse.sum(js, dim=1).layout) == str(torch.sparse.sum(ts, dim=1).layout)
    for fn in ("softmax", "log_softmax"):
        tr, jr = getattr(torch.sparse, fn)(ts, 1), getattr(jtorch.sparse, fn)(js, 1)
        assert_same(jr.coalesce().values(), tr.coalesce().values(), atol=1e-6)
        assert_same(jr.to_dense(), tr.to_dense(), atol=1e-6)
    ss = torch.sparse.mm(ts, ts.t().to_sparse())
    js2 = jtorch.sparse.mm(js, js.t().to_sparse())
    assert js2.layout is jtorch.sparse_coo and ss.layout is torch.sparse_coo
    assert_same(js2.to_dense(), ss.to_dense(), atol=1e-6)


def test_gradients_through_sparse_matmul_and_values():
    g = torch.Generator().manual_seed(1)
    vals = torch.randn(4, generator=g)
    x = torch.randn(3, 2, generator=g)
    tv, tx = vals.clone().requires_grad_(), x.clone().requires_grad_()
    jv, jx = to_j(vals).requires_grad_(), to_j(x).requires_grad_()
    ts = torch.sparse_coo_tensor(torch.tensor(I), tv, (2, 3))
    js = jtorch.sparse_coo_tensor(jtorch.tensor(I), jv, (2, 3))
    torch.sparse.mm(ts, tx).pow(2).sum().backward()
    jtorch.sparse.mm(js, jx).pow(2).sum().backward()
    assert_same(jx.grad, tx.grad, atol=1e-5)
    assert_same(jv.grad, tv.grad, atol=1e-5)


def test_legacy_sparse_float_tensor_and_device_moves():
    t, j = _both(lambda lib: lib.sparse.FloatTensor(lib.tensor(I), lib.tensor(V), lib.Size([2, 3])))
    assert j.layout is jtorch.sparse_coo and j.dtype is jtorch.float32
    assert_same(j.to_dense(), t.to_dense())
    for f in (lambda a: a.to("cpu"), lambda a: a.double(), lambda a: a.detach(), lambda a: a.clone(),
              lambda a: a.to_dense()):
        assert (f(j).is_sparse, str(f(j).layout)) == (f(t).is_sparse, str(f(t).layout))
