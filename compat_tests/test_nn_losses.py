"""Every loss against torch's, for each reduction and option that changes the math: value and input
gradients; bad input raises torch's exception type."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import jtorch
import jtorch.nn as jnn
import jtorch.nn.functional as F
from oracle import to_j, assert_same, same_error

torch.manual_seed(0)
N, C = 4, 3
LOGITS = torch.randn(N, C)
T_IDX = torch.tensor([0, 2, 1, 2])
PROBS = torch.softmax(torch.randn(N, C), 1)
A = torch.randn(N, C)
B = torch.randn(N, C)
SIGN = torch.tensor([1., -1., 1., -1.])
REDS = ("mean", "sum", "none")


def check(tfn, jfn, *inputs, grad_idx=(0,), atol=1e-5, rtol=1e-5):
    ti = [x.clone().requires_grad_(i in grad_idx) if isinstance(x, torch.Tensor) else x
          for i, x in enumerate(inputs)]
    ji = [to_j(x).requires_grad_(i in grad_idx) if isinstance(x, torch.Tensor) else x
          for i, x in enumerate(inputs)]
    yt, yj = tfn(*ti), jfn(*ji)
    assert_same(yj, yt, atol=atol, rtol=rtol)
    w = torch.linspace(0.5, 1.5, yt.numel()).reshape(yt.shape)
    (yt * w).sum().backward()
    (yj * to_j(w)).sum().backward()
    for i in grad_idx:
        assert_same(ji[i].grad, ti[i].grad, atol=atol, rtol=rtol, msg=f"grad of input {i}")


def both(name, **kw):
    """(torch module call, jtorch module call) for nn.<name>(**kw)."""
    jkw = {k: to_j(v) for k, v in kw.items()}
    return getattr(torch.nn, name)(**kw), getattr(jnn, name)(**jkw)


@pytest.mark.parametrize("reduction", REDS)
def test_cross_entropy(reduction):
    w = torch.tensor([0.2, 1.0, 3.0])
    for kw in ({}, {"weight": w}, {"ignore_index": 2}, {"label_smoothing": 0.1},
               {"weight": w, "label_smoothing": 0.2, "ignore_index": 0}):
        t, j = both("CrossEntropyLoss", reduction=reduction, **kw)
        assert repr(j) == repr(t)
        check(t, j, LOGITS, T_IDX)
    # probability targets (also get a gradient)
    for kw in ({}, {"weight": w}, {"label_smoothing": 0.3}):
        t, j = both("CrossEntropyLoss", reduction=reduction, **kw)
        check(t, j, LOGITS, PROBS, grad_idx=(0, 1))
    # K-dim input
    x = torch.randn(2, C, 2, 3)
    tgt = torch.randint(0, C, (2, 2, 3))
    t, j = both("CrossEntropyLoss", reduction=reduction, weight=w, ignore_index=1)
    check(t, j, x, tgt)
    # unbatched
    t, j = both("CrossEntropyLoss", reduction=reduction)
    check(t, j, LOGITS[0], T_IDX[0])


@pytest.mark.parametrize("reduction", REDS)
def test_cross_entropy_prob_target_dtype_promotion(reduction):
    # torch multiplies log-probabilities, target and weight in promoted dtypes
    w64 = torch.tensor([0.2, 1.0, 3.0], dtype=torch.float64)
    cases = [(LOGITS, PROBS, {"weight": w64}), (LOGITS, PROBS.double(), {}), (LOGITS.double(), PROBS, {}),
             (LOGITS, PROBS, {"weight": w64, "label_smoothing": 0.2}), (LOGITS[0], PROBS[0], {"weight": w64}),
             (LOGITS.half(), PROBS, {}), (LOGITS, PROBS, {"weight": w64.half()})]
    for x, p, kw in cases:
        xr = x.clone().requires_grad_(True)
        r = TF.cross_entropy(xr, p, reduction=reduction, **kw)
        jx = to_j(x).requires_grad_(True)
        jr = F.cross_entropy(jx, to_j(p), reduction=reduction, **{k: to_j(v) for k, v in kw.items()})
        tol = 2e-3 if x.dtype == torch.float16 else None
        assert_same(jr, r, rtol=tol, atol=tol, msg=f"{x.dtype} {p.dtype} {kw}")
        r.sum().backward()
        jr.sum().backward()
        assert_same(jx.grad, xr.grad, rtol=tol, atol=tol)


def test_nll_loss():
    lp = torch.log_softmax(LOGITS, 1)
    w = torch.tensor([0.2, 1.0, 3.0])
    for red in REDS:
        for kw in ({}, {"weight": w}, {"ignore_index": 1}):
            t, j = both("NLLLoss", reduction=red, **kw)
            check(t, j, lp, T_IDX)
    check(lambda a, b: TF.nll_loss(a, b), lambda a, b: F.nll_loss(a, b), torch.randn(2, C, 3), torch.randint(0, C, (2, 3)))


def test_cross_entropy_errors():
    same_error(lambda: TF.cross_entropy(LOGITS, T_IDX[:3]), lambda: F.cross_entropy(to_j(LOGITS), to_j(T_IDX[:3])))
    et, ej = same_error(lambda: TF.cross_entropy(LOGITS, T_IDX, reduction="avg"),
                        lambda: F.cross_entropy(to_j(LOGITS), to_j(T_IDX), reduction="avg"))
    assert str(et) == str(ej)
    same_error(lambda: TF.cross_entropy(LOGITS, T_IDX, weight=torch.ones(5)),
               lambda: F.cross_entropy(to_j(LOGITS), to_j(T_IDX), weight=jtorch.ones(5)))
    same_error(lambda: TF.nll_loss(LOGITS, T_IDX.float()), lambda: F.nll_loss(to_j(LOGITS), to_j(T_IDX.float())))


def test_legacy_reduction_flags():
    with pytest.warns(UserWarning):
        j = jnn.MSELoss(size_average=False)
    assert j.reduction == "sum"
    with pytest.warns(UserWarning):
        assert_same(F.l1_loss(to_j(A), to_j(B), reduce=False), TF.l1_loss(A, B, reduction="none"))


@pytest.mark.parametrize("reduction", REDS)
def test_regression_losses(reduction):
    for name, kw in (("L1Loss", {}), ("MSELoss", {}), ("SmoothL1Loss", {}), ("SmoothL1Loss", {"beta": 0.5}),
                     ("SmoothL1Loss", {"beta": 0.0}), ("HuberLoss", {}), ("HuberLoss", {"delta": 0.3})):
        t, j = both(name, reduction=reduction, **kw)
        check(t, j, A, B, grad_idx=(0, 1))
    w = torch.rand(N, C)
    check(lambda a, b: TF.mse_loss(a, b, weight=w, reduction=reduction),
          lambda a, b: F.mse_loss(a, b, weight=to_j(w), reduction=reduction), A, B)


def test_broadcast_warning():
    with pytest.warns(UserWarning):
        F.mse_loss(to_j(A), to_j(B[0]))


@pytest.mark.parametrize("reduction", REDS)
def test_binary_losses(reduction):
    p = torch.sigmoid(A)
    tgt = (B > 0).float()
    w = torch.rand(C)
    for kw in ({}, {"weight": w}):
        t, j = both("BCELoss", reduction=reduction, **kw)
        check(t, j, p, tgt)
    for kw in ({}, {"weight": w}, {"pos_weight": torch.tensor([0.5, 2.0, 3.0])}):
        t, j = both("BCEWithLogitsLoss", reduction=reduction, **kw)
        check(t, j, A, torch.sigmoid(B), grad_idx=(0, 1))
    t, j = both("SoftMarginLoss", reduction=reduction)
    check(t, j, A, torch.sign(B))
    for kw in ({}, {"weight": w}):
        t, j = both("MultiLabelSoftMarginLoss", reduction=reduction, **kw)
        check(t, j, A, tgt)
    # probabilities at 0 and 1: torch clamps the log at -100
    check(lambda a, b: TF.binary_cross_entropy(a, b), lambda a, b: F.binary_cross_entropy(a, b),
          torch.tensor([0.0, 1.0, 0.5]), torch.tensor([1.0, 0.0, 1.0]))


def test_binary_errors():
    et, ej = same_error(lambda: TF.binary_cross_entropy(torch.rand(3), torch.rand(3, 1)),
                        lambda: F.binary_cross_entropy(jtorch.rand(3), jtorch.rand(3, 1)))
    assert str(et) == str(ej)
    et, ej = same_error(lambda: TF.binary_cross_entropy_with_logits(torch.rand(3), torch.rand(2)),
                        lambda: F.binary_cross_entropy_with_logits(jtorch.rand(3), jtorch.rand(2)))
    assert str(et) == str(ej)


@pytest.mark.parametrize("reduction", REDS + ("batchmean",))
def test_kl_div(reduction):
    lp = torch.log_softmax(A, 1)
    for log_target in (False, True):
        tgt = torch.log_softmax(B, 1) if log_target else torch.softmax(B, 1)
        tgt = tgt.clone()
        if not log_target:
            tgt[0, 0] = 0.0
        t = torch.nn.KLDivLoss(reduction=reduction, log_target=log_target)
        j = jnn.KLDivLoss(reduction=reduction, log_target=log_target)
        check(t, j, lp, tgt, grad_idx=(0, 1))


@pytest.mark.parametrize("reduction", REDS)
def test_margin_losses(reduction):
    t, j = both("MarginRankingLoss", reduction=reduction, margin=0.2)
    check(t, j, A[:, 0], B[:, 0], SIGN, grad_idx=(0, 1))
    t, j = both("HingeEmbeddingLoss", reduction=reduction, margin=0.5)
    check(t, j, A, torch.sign(B))
    t, j = both("CosineEmbeddingLoss", reduction=reduction, margin=0.1)
    check(t, j, A, B, SIGN, grad_idx=(0, 1))
    for kw in ({}, {"p": 2, "margin": 0.5}, {"weight": torch.tensor([0.3, 1.0, 2.0])}):
        t, j = both("MultiMarginLoss", reduction=reduction, **kw)
        check(t, j, A, T_IDX)
    t, j = both("MultiLabelMarginLoss", reduction=reduction)
    check(t, j, A, torch.tensor([[0, 2, -1], [1, -1, 0], [2, 1, 0], [-1, 0, 0]]))
    for kw in ({}, {"p": 1.0, "swap": True, "margin": 0.5}):
        t, j = both("TripletMarginLoss", reduction=reduction, **kw)
        check(t, j, A, B, A * 0.5 + 0.1, grad_idx=(0, 1, 2))
    t, j = both("TripletMarginWithDistanceLoss", reduction=reduction)
    check(t, j, A, B, -B, grad_idx=(0, 1, 2))
    t = torch.nn.TripletMarginWithDistanceLoss(distance_function=lambda a, b: 1 - TF.cosine_similarity(a, b),
                                               reduction=reduction, swap=True)
    j = jnn.TripletMarginWithDistanceLoss(distance_function=lambda a, b: 1 - F.cosine_similarity(a, b),
                                          reduction=reduction, swap=True)
    check(t, j, A, B, -B, grad_idx=(0, 1, 2))


@pytest.mark.parametrize("reduction", REDS)
def test_likelihood_losses(reduction):
    rate = torch.rand(N, C) * 3
    for kw in ({}, {"full": True}, {"log_input": False}):
        t, j = both("PoissonNLLLoss", reduction=reduction, **kw)
        x = A if kw.get("log_input", True) else torch.rand(N, C) + 0.1
        check(t, j, x, rate)
    var = torch.rand(N, C) + 0.1
    for kw in ({}, {"full": True, "eps": 0.2}):
        t, j = both("GaussianNLLLoss", reduction=reduction, **kw)
        check(t, j, A, B, var, grad_idx=(0, 2))
    t, j = both("GaussianNLLLoss", reduction=reduction)
    check(t, j, A, B, var[:, 0], grad_idx=(0, 2))


def test_gaussian_nll_errors():
    et, ej = same_error(lambda: TF.gaussian_nll_loss(A, B, torch.ones(2)),
                        lambda: F.gaussian_nll_loss(to_j(A), to_j(B), jtorch.ones(2)))
    assert str(et) == str(ej)
    et, ej = same_error(lambda: TF.gaussian_nll_loss(A, B, -torch.ones(N, C)),
                        lambda: F.gaussian_nll_loss(to_j(A), to_j(B), -jtorch.ones(N, C)))
    assert str(et) == str(ej)


@pytest.mark.parametrize("reduction", REDS)
def test_ctc_loss(reduction):
    T, Nb, Cc, S = 6, 2, 4, 3
    lp = torch.randn(T, Nb, Cc).log_softmax(2)
    tgts = torch.tensor([[1, 2, 2], [3, 1, 0]])
    il = torch.tensor([6, 5])
    tl = torch.tensor([3, 2])
    t, j = both("CTCLoss", reduction=reduction)
    check(t, j, lp, tgts, il, tl, atol=1e-4, rtol=1e-4)
    # concatenated 1-D targets
    flat = torch.tensor([1, 2, 2, 3, 1])
    check(lambda *a: TF.ctc_loss(*a, reduction=reduction), lambda *a: F.ctc_loss(*a, reduction=reduction),
          lp, flat, il, tl, atol=1e-4, rtol=1e-4)


def test_ctc_zero_infinity():
    lp = torch.randn(2, 1, 3).log_softmax(2)
    tgts = torch.tensor([[1, 2, 1]])  # impossible: needs at least 4 frames
    for zi in (False, True):
        t = TF.ctc_loss(lp, tgts, torch.tensor([2]), torch.tensor([3]), reduction="sum", zero_infinity=zi)
        j = F.ctc_loss(to_j(lp), to_j(tgts), jtorch.tensor([2]), jtorch.tensor([3]), reduction="sum",
                       zero_infinity=zi)
        assert_same(j, t)


@pytest.mark.parametrize("pos_weight", [None, torch.tensor([2.0, 0.5, 3.0])])
def test_bce_with_logits_gradient_at_zero_logit(pos_weight):
    # logits exactly 0 are common (a zero-initialised weight vector in Newton / IRLS code); the
    # loss is smooth there, so the gradient is sigmoid(0) - t and the curvature sigmoid'(0)
    x = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([[1.0, 0.0, 0.3], [0.0, 1.0, 0.7]], dtype=torch.float64)
    xj = to_j(x)
    kw_t = {} if pos_weight is None else {"pos_weight": pos_weight.double()}
    kw_j = {} if pos_weight is None else {"pos_weight": to_j(pos_weight.double())}
    gt, = torch.autograd.grad(TF.binary_cross_entropy_with_logits(x, t, reduction="sum", **kw_t), x,
                              create_graph=True)
    gj, = jtorch.autograd.grad(F.binary_cross_entropy_with_logits(xj, to_j(t), reduction="sum", **kw_j), xj,
                               create_graph=True)
    assert_same(gj.detach(), gt.detach())
    ht, = torch.autograd.grad(gt.sum(), x)
    hj, = jtorch.autograd.grad(gj.sum(), xj)
    assert_same(hj, ht)
