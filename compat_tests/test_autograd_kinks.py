"""Gradients at kinks and ties follow torch's backward formulas, not JAX's conventions (half the
gradient to each side of a max/clip tie, abs'(0) = 1, nan for the norm of a zero vector).

These points are hit by real programs: a ReLU after a residual add whose BatchNorm weight is
zero-initialised (torchvision's zero_init_residual) sees exact zeros; an L1 loss on an exact
match; F.normalize / cosine_similarity / cdist of a zero or repeated vector."""
import numpy as np
import pytest
import torch

import jtorch
from oracle import assert_same, to_j

# inputs sit exactly on the kinks: 0, the clamp bounds 0 and 1, hardtanh/relu6 bounds, +-3
X = [-3.0, -1.0, 0.0, 0.5, 1.0, 3.0, 6.0, float("nan")]

CASES = {
    "relu": lambda T, x: T.relu(x),
    "relu_inplace": lambda T, x: T.nn.functional.relu(x * 1, inplace=True),
    "relu6": lambda T, x: T.nn.functional.relu6(x),
    "hardtanh": lambda T, x: T.nn.functional.hardtanh(x, -1.0, 1.0),
    "clamp": lambda T, x: T.clamp(x, 0.0, 1.0),
    "clamp_min": lambda T, x: T.clamp_min(x, 0.0),
    "clamp_max": lambda T, x: x.clamp(max=1.0),
    "hardsigmoid": lambda T, x: T.nn.functional.hardsigmoid(x),
    "hardswish": lambda T, x: T.nn.functional.hardswish(x),
    "abs": lambda T, x: T.abs(x),
    "l1_loss": lambda T, x: T.nn.functional.l1_loss(x, T.zeros(x.shape), reduction="none"),
    "softplus_threshold": lambda T, x: T.nn.functional.softplus(x, 1.0, 1.0),
    "margin_ranking": lambda T, x: T.nn.functional.margin_ranking_loss(x, T.zeros(x.shape), T.ones(x.shape),
                                                                        reduction="none"),
    "fmax": lambda T, x: T.fmax(x, T.zeros(x.shape)),
    "fmin": lambda T, x: T.fmin(x, T.ones(x.shape)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_at_kinks_matches_torch(name):
    f = CASES[name]
    assert_same(f(jtorch, jtorch.tensor(X)), f(torch, torch.tensor(X)))  # nan passes through as in torch
    xt = torch.tensor(X[:-1], requires_grad=True)
    xj = to_j(xt)
    yt, yj = f(torch, xt), f(jtorch, xj)
    assert_same(yj, yt)
    w = torch.arange(1.0, yt.numel() + 1)
    (gt,) = torch.autograd.grad((yt * w).sum(), xt)
    (gj,) = jtorch.autograd.grad((yj * to_j(w)).sum(), xj)
    assert_same(gj, gt)


def test_clamp_tensor_bounds_gradients_at_ties():
    def run(T, xs, lo, hi):
        x, lo, hi = (T.tensor(v, requires_grad=True) for v in (xs, lo, hi))
        y = T.clamp(x, lo, hi)
        return (y,) + T.autograd.grad((y * T.arange(1.0, 7.0)).sum(), [x, lo, hi])

    args = ([-1.0, 0.0, 0.5, 1.0, 2.0, 0.5], [0.0, 0.0, 0.0, 0.0, 3.0, 0.5], [1.0] * 6)
    for j, t in zip(run(jtorch, *args), run(torch, *args)):
        assert_same(j, t)


NORMS = {
    "Tensor.norm": lambda T, x: x.norm(dim=-1),
    "norm_p3": lambda T, x: T.norm(x, p=3, dim=-1),
    "vector_norm": lambda T, x: T.linalg.vector_norm(x, dim=-1),
    "vector_norm_p1": lambda T, x: T.linalg.vector_norm(x, 1, dim=-1),
    "matrix_norm_fro": lambda T, x: T.linalg.matrix_norm(x).reshape(1),
    "dist": lambda T, x: T.dist(x[0], x[1]).reshape(1),
    "normalize": lambda T, x: T.nn.functional.normalize(x, dim=-1),
    "cosine_similarity": lambda T, x: T.nn.functional.cosine_similarity(x, x.flip(0), dim=-1),
    "cdist": lambda T, x: T.cdist(x, x),
    "pdist": lambda T, x: T.nn.functional.pdist(x),
}


@pytest.mark.parametrize("name", sorted(NORMS))
def test_norm_gradient_at_zero_matches_torch(name):
    # row 0 is the zero vector (a zero norm); rows 1 and 2 are equal (a zero distance)
    xt = torch.tensor([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5], [1.0, -2.0, 0.5]], requires_grad=True)
    xj = to_j(xt)
    f = NORMS[name]
    yt, yj = f(torch, xt), f(jtorch, xj)
    assert_same(yj, yt)
    w = torch.arange(1.0, yt.numel() + 1).reshape(yt.shape)
    (gt,) = torch.autograd.grad((yt * w).sum(), xt)
    (gj,) = jtorch.autograd.grad((yj * to_j(w)).sum(), xj)
    assert not np.isnan(gj.numpy()).any()
    assert_same(gj, gt)


def test_resnet_block_with_zero_init_residual_bn():
    """The pattern that exposed the relu tie: conv -> BN(weight 0) -> += identity -> relu, where
    the identity itself came out of a ReLU (exact zeros), so relu's input is exactly 0 there."""
    rng = np.random.RandomState(0)
    x_np = rng.randn(2, 3, 5, 5).astype(np.float32)
    w_np = rng.randn(3, 3, 3, 3).astype(np.float32)
    g_np = rng.randn(2, 3, 5, 5).astype(np.float32)

    def run(T):
        F = T.nn.functional
        x0 = T.tensor(x_np, requires_grad=True)
        w = T.tensor(w_np, requires_grad=True)
        bn_w, bn_b = T.zeros(3, requires_grad=True), T.zeros(3, requires_grad=True)
        x = F.relu(x0 * 1, inplace=True)
        out = F.batch_norm(F.conv2d(x, w, padding=1), None, None, bn_w, bn_b, training=True)
        out += x
        out = F.relu(out, inplace=True)
        return T.autograd.grad((out * T.tensor(g_np)).sum(), [x0, w, bn_w, bn_b])

    for j, t in zip(run(jtorch), run(torch)):
        assert_same(j, t, rtol=1e-5, atol=1e-5)


SECOND_ORDER = {
    "elu": lambda T, x: T.nn.functional.elu(x),
    "elu_alpha": lambda T, x: T.nn.functional.elu(x, alpha=0.5),
    "selu": lambda T, x: T.nn.functional.selu(x),
    "celu": lambda T, x: T.nn.functional.celu(x, alpha=0.7),
    "softsign": lambda T, x: T.nn.functional.softsign(x),
    "abs_cubed": lambda T, x: T.abs(x) ** 3,
    "l1_times_x": lambda T, x: T.nn.functional.l1_loss(x, T.zeros(x.shape), reduction="none") * x,
}


@pytest.mark.parametrize("name", sorted(SECOND_ORDER))
def test_second_derivative_at_kinks_matches_torch(name):
    # double backward at x == 0 (i-ResNet / PINN losses differentiate ELU-family activations twice):
    # torch's ELU double backward masks x < 0 while its first derivative takes the x <= 0 side,
    # and abs' = sgn has derivative 0, also inside JAX's higher-order differentiation
    f = SECOND_ORDER[name]
    xt = torch.tensor([-1.5, -0.2, 0.0, 0.3, 2.0], dtype=torch.float64, requires_grad=True)
    xj = to_j(xt)
    gt, = torch.autograd.grad(f(torch, xt).sum(), xt, create_graph=True)
    gj, = jtorch.autograd.grad(f(jtorch, xj).sum(), xj, create_graph=True)
    assert_same(gj.detach(), gt.detach())
    ht, = torch.autograd.grad(gt.sum(), xt)
    hj, = jtorch.autograd.grad(gj.sum(), xj)
    assert_same(hj, ht)
