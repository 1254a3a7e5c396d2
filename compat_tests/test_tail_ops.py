"""The long tail (jtorch/_ops/tail_ops.py, jtorch/masked, jtorch/signal) against torch, on cases the
OpInfo samples do not pin down: explicit random samples for fractional pooling, stft/istft round
trips, data-dependent shapes, errors."""
import numpy as np
import pytest
import torch

import jtorch
from oracle import to_j, assert_same


def test_fractional_max_pool_with_given_samples():
    x = torch.randn(2, 3, 7, 8)
    s = torch.rand(2, 3, 2)
    t = torch.nn.functional.fractional_max_pool2d(x, (2, 3), output_size=(4, 3), return_indices=True,
                                                  _random_samples=s)
    j = jtorch.nn.functional.fractional_max_pool2d(to_j(x), (2, 3), output_size=(4, 3), return_indices=True,
                                                   _random_samples=to_j(s))
    assert_same(j[0], t[0])
    assert_same(j[1], t[1])
    x3, s3 = torch.randn(1, 2, 5, 6, 7), torch.rand(1, 2, 3)
    t = torch.nn.functional.fractional_max_pool3d(x3, 2, output_ratio=0.5, _random_samples=s3)
    j = jtorch.nn.functional.fractional_max_pool3d(to_j(x3), 2, output_ratio=0.5, _random_samples=to_j(s3))
    assert_same(j, t)


def test_stft_istft_roundtrip():
    x = torch.randn(2, 64)
    w = torch.hann_window(16)
    t = torch.stft(x, 16, 4, window=w, return_complex=True)
    j = jtorch.stft(to_j(x), 16, 4, window=to_j(w), return_complex=True)
    assert_same(j, t, rtol=1e-4, atol=1e-5)
    assert_same(jtorch.istft(j, 16, 4, window=to_j(w), length=64), torch.istft(t, 16, 4, window=w, length=64),
                rtol=1e-4, atol=1e-5)
    with pytest.raises(RuntimeError):
        jtorch.stft(to_j(x), 16)      # return_complex is required for real input, as in torch


def test_data_dependent_shapes():
    x = torch.tensor([3, 1, 3, 0, 1, 1])
    for kw in ({}, {"return_inverse": True, "return_counts": True}):
        t, j = torch.unique(x, **kw), jtorch.unique(to_j(x), **kw)
        assert_same(j, t)
        assert_same(jtorch.unique_consecutive(to_j(x), **kw), torch.unique_consecutive(x, **kw))
    assert_same(jtorch.bincount(to_j(x), minlength=6), torch.bincount(x, minlength=6))
    w = torch.rand(6)
    assert_same(jtorch.bincount(to_j(x), to_j(w)), torch.bincount(x, w))
    with pytest.raises(RuntimeError):
        jtorch.bincount(to_j(torch.tensor([-1, 2])))


def test_search_and_bins():
    b = torch.tensor([0.0, 1.0, 2.5, 4.0])
    v = torch.tensor([[-1.0, 1.0, 3.0], [2.5, 5.0, 0.5]])
    for right in (False, True):
        assert_same(jtorch.bucketize(to_j(v), to_j(b), right=right), torch.bucketize(v, b, right=right))
        assert_same(jtorch.searchsorted(to_j(b), to_j(v), right=right), torch.searchsorted(b, v, right=right))
    h = torch.histogram(v.flatten(), bins=4, range=(-1.0, 5.0))
    jh = jtorch.histogram(to_j(v.flatten()), bins=4, range=(-1.0, 5.0))
    assert_same(jh.hist, h.hist)
    assert_same(jh.bin_edges, h.bin_edges)


def test_masked_and_windows():
    x = torch.randn(3, 4)
    m = torch.rand(3, 4) > 0.4
    for name in ("sum", "mean", "amax", "logsumexp", "var"):
        assert_same(getattr(jtorch.masked, name)(to_j(x), 1, mask=to_j(m)),
                    getattr(torch.masked, name)(x, 1, mask=m), equal_nan=True)
    assert_same(jtorch.masked.softmax(to_j(x), 1, mask=to_j(m)), torch.masked.softmax(x, 1, mask=m))
    m2 = torch.tensor([[1, 1, 0, 1], [0, 0, 0, 0], [1, 0, 0, 0]], dtype=torch.bool)   # a row with nothing kept: nan
    for name in ("softmax", "softmin", "log_softmax"):
        assert_same(getattr(jtorch.masked, name)(to_j(x), 1, mask=to_j(m2)), getattr(torch.masked, name)(x, 1, mask=m2))
    for name in ("hann", "hamming", "blackman", "bartlett", "cosine", "nuttall"):
        for sym in (True, False):
            assert_same(getattr(jtorch.signal.windows, name)(7, sym=sym),
                        getattr(torch.signal.windows, name)(7, sym=sym), rtol=1e-5, atol=1e-6)
    assert_same(jtorch.signal.windows.kaiser(9, beta=5.0), torch.signal.windows.kaiser(9, beta=5.0),
                rtol=1e-5, atol=1e-6)


def test_special_functions_accuracy():
    x = torch.tensor([-30.0, -5.0, -0.5, 0.0, 1e-3, 0.7, 5.0, 40.0], dtype=torch.float64)
    for name in ("airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "modified_bessel_k0",
                 "modified_bessel_k1", "scaled_modified_bessel_k0", "scaled_modified_bessel_k1"):
        assert_same(getattr(jtorch.special, name)(to_j(x)), getattr(torch.special, name)(x), rtol=1e-7, atol=1e-9,
                    msg=name)
    xs = torch.tensor([-8.5, -2.5, 0.3, 4.0])
    for n in range(4):
        assert_same(jtorch.polygamma(n, to_j(xs)), torch.polygamma(n, xs), rtol=1e-5, atol=1e-5)
    xp = torch.tensor([-0.9, -0.2, 0.4, 0.95, 1.0])
    for n in (0, 3, 9):
        assert_same(jtorch.special.chebyshev_polynomial_t(to_j(xp), n), torch.special.chebyshev_polynomial_t(xp, n),
                    rtol=1e-5, atol=1e-6)
        assert_same(jtorch.special.legendre_polynomial_p(to_j(xp), n), torch.special.legendre_polynomial_p(xp, n),
                    rtol=1e-5, atol=1e-6)


def test_scatter_views_and_gradient():
    a = torch.zeros(3, 4, requires_grad=True)
    s = torch.randn(3, requires_grad=True)
    ja, js = to_j(a), to_j(s)
    t = torch.diagonal_scatter(a, s)
    j = jtorch.diagonal_scatter(ja, js)
    assert_same(j, t)
    g = torch.randn(3, 4)
    t.backward(g)
    j.backward(to_j(g))
    assert_same(js.grad, s.grad)
    assert_same(ja.grad, a.grad)
    y = torch.tensor([[1.0, 4.0, 9.0, 16.0], [2.0, 3.0, 5.0, 8.0]])
    for kw in ({}, {"spacing": 2.0}, {"dim": 1, "edge_order": 2}):
        assert_same(jtorch.gradient(to_j(y), **kw), torch.gradient(y, **kw))
    assert_same(jtorch.trapezoid(to_j(y)), torch.trapezoid(y))
    assert_same(jtorch.cumulative_trapezoid(to_j(y), dx=0.5), torch.cumulative_trapezoid(y, dx=0.5))


@pytest.mark.parametrize("dt", [torch.float32, torch.float64, torch.complex128])
def test_linalg_eig_eigvals_gradients(dt):
    """torch differentiates eig's eigenvalues and eigenvectors (for phase-invariant losses)."""
    A0 = torch.tensor([[2., 1., 0.3], [0.5, 3., -1.], [0.2, 0.1, 1.]], dtype=torch.float64).to(dt)
    A, J = A0.clone().requires_grad_(True), to_j(A0).requires_grad_(True)
    w, v = torch.linalg.eig(A)
    jw, jv = jtorch.linalg.eig(J)
    assert_same(jw, w.detach(), atol=1e-5, rtol=1e-5)
    (v.abs().sum() + w.abs().sum()).backward()
    (jv.abs().sum() + jw.abs().sum()).backward()
    assert_same(J.grad, A.grad, atol=1e-4, rtol=1e-4)
    A.grad, J.grad = None, None
    torch.linalg.eigvals(A).real.pow(2).sum().backward()
    jtorch.linalg.eigvals(J).real.pow(2).sum().backward()
    assert_same(J.grad, A.grad, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("dt", [torch.float64, torch.complex128])
def test_householder_product_and_ormqr_gradients(dt):
    """XLA's householder_product has no derivative rule; jtorch supplies one (torch differentiates it)."""
    g = torch.Generator().manual_seed(0)
    A = torch.randn(5, 3, generator=g, dtype=torch.float64).to(dt)
    tau = torch.rand(3, generator=g, dtype=torch.float64).to(dt)
    tA, tt = A.clone().requires_grad_(True), tau.clone().requires_grad_(True)
    jA, jt = to_j(A).requires_grad_(True), to_j(tau).requires_grad_(True)
    Q, jQ = torch.linalg.householder_product(tA, tt), jtorch.linalg.householder_product(jA, jt)
    assert_same(jQ, Q.detach(), atol=1e-6, rtol=1e-6)
    W = torch.randn(Q.shape, generator=g, dtype=torch.float64).to(dt)
    (Q * W).real.sum().backward()
    (jQ * to_j(W)).real.sum().backward()
    assert_same(jA.grad, tA.grad, atol=1e-6, rtol=1e-6)
    assert_same(jt.grad, tt.grad, atol=1e-6, rtol=1e-6)
    C = torch.randn(5, 2, generator=g, dtype=torch.float64).to(dt)
    tA.grad, jA.grad = None, None
    torch.ormqr(tA, tt, C).real.sum().backward()
    jtorch.ormqr(jA, jt, to_j(C)).real.sum().backward()
    assert_same(jA.grad, tA.grad, atol=1e-6, rtol=1e-6)
