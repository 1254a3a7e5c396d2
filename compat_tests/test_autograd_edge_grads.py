"""Gradients at the edges where jax's own derivative differs from torch's, against torch: products
scattered to repeated indices (with zeros), nextafter, max_unpool with shared positions, empty
matrices, and outputs that require grad without a useful derivative (bernoulli, layer-norm stats)."""
import warnings

import numpy as np
import pytest
import torch

import jtorch
from oracle import assert_same, to_j


def _grads(lib, fn, *arrays):
    ins = [lib.tensor(a, requires_grad=True) for a in arrays]
    out = fn(lib, *ins)
    g = np.arange(1, out.numel() + 1, dtype=np.float64).reshape(tuple(out.shape)) / 7
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return out, lib.autograd.grad(out, ins, lib.tensor(g), allow_unused=True)


def _same_grads(fn, *arrays):
    to, tg = _grads(torch, fn, *arrays)
    jo, jg = _grads(jtorch, fn, *arrays)
    assert_same(jo.detach(), to.detach())
    for a, b in zip(jg, tg):
        assert_same(a, b)


_IDX = np.array([[0, 1, 0], [0, 1, 2], [2, 1, 0], [0, 0, 0]])


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("zeros", ["none", "one_in_src", "self_and_src", "two_in_src"])
def test_scatter_reduce_prod_grad_with_repeated_indices(include_self, zeros):
    inp = np.linspace(-1.5, 2.0, 9).reshape(3, 3)
    src = np.linspace(0.5, 3.0, 12).reshape(4, 3)
    if zeros in ("one_in_src", "self_and_src", "two_in_src"):
        src[1, 0] = 0.0
    if zeros == "self_and_src":
        inp[0, 0] = 0.0
    if zeros == "two_in_src":
        src[3, 0] = 0.0
    _same_grads(lambda L, a, b: a.scatter_reduce(0, L.tensor(_IDX), b, "prod", include_self=include_self), inp, src)


def test_index_reduce_prod_grad_with_repeated_indices():
    inp, src = np.linspace(-1.0, 2.0, 6).reshape(3, 2), np.linspace(0.5, 2.0, 8).reshape(4, 2)
    src[2, 1] = 0.0
    _same_grads(lambda L, a, b: a.index_reduce(0, L.tensor([0, 2, 0, 0]), b, "prod"), inp, src)


def test_nextafter_grad_is_identity_for_input_and_zero_for_other():
    _same_grads(lambda L, a, b: L.nextafter(a, b), np.array([1.0, -2.0, 3.0, 0.0]), np.array([2.0, -3.0, 3.0, 0.0]))
    _same_grads(lambda L, a, b: L.nextafter(a, b), np.array([1.0, 2.0, 3.0]), np.array(2.0))   # broadcast other


@pytest.mark.parametrize("n", [1, 2])
def test_max_unpool_grad_gathers_for_shared_positions(n):
    x = np.array([[[4.0, 4.0], [-3.5, 2.5]]])
    idx = [[[1, 1], [0, 2]]]
    if n == 1:
        _same_grads(lambda L, a: L.nn.functional.max_unpool1d(a, L.tensor(idx), 3, 2, 1, output_size=(3,)), x)
    else:
        _same_grads(lambda L, a: L.nn.functional.max_unpool2d(a[..., None], L.tensor(idx)[..., None], (2, 1),
                                                              (2, 1), (1, 0), output_size=(3, 1)), x)


def test_det_and_eig_of_empty_matrices_differentiate():
    _same_grads(lambda L, a: L.linalg.det(a), np.zeros((0, 0)))
    _same_grads(lambda L, a: L.linalg.det(a), np.zeros((2, 0, 0)))
    _same_grads(lambda L, a: abs(L.linalg.eig(a)[1]), np.zeros((0, 0)))


def test_bernoulli_and_poisson_outputs_require_grad_with_zero_gradient():
    for name in ("bernoulli", "poisson"):
        for lib in (torch, jtorch):
            p = lib.full((4,), 0.5, requires_grad=True)
            y = getattr(lib, name)(p)
            assert y.requires_grad and y.grad_fn.name() == f"{name.capitalize()}Backward0"
            (g,) = lib.autograd.grad(y.sum(), p)
            assert g.tolist() == [0.0] * 4
    assert not jtorch.bernoulli(jtorch.full((4,), 0.5)).requires_grad


def test_native_layer_norm_stats_do_not_require_grad():
    x = torch.randn(2, 3, requires_grad=True)
    t = torch.native_layer_norm(x, (3,), None, None, 1e-5)
    j = jtorch.native_layer_norm(to_j(x.detach(), True), (3,), None, None, 1e-5)
    assert [o.requires_grad for o in j] == [o.requires_grad for o in t]
    for a, b in zip(j, t):
        assert_same(a.detach(), b.detach())
