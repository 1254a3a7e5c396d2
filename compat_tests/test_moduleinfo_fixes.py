"""Behaviours the ModuleInfo sweep (tools/moduleinfo_sweep.py) found diverging from torch, checked directly
against torch so CI covers them without the full sweep (which runs float64 and every sample)."""
import pytest
import torch

import jtorch
from oracle import to_j, assert_same


def test_lazy_module_to_float64_materialises_in_float64():
    x = torch.randn(2, 3, 5, dtype=torch.float64)
    tm = torch.nn.LazyConv1d(4, 2).to(torch.float64)
    jm = jtorch.nn.LazyConv1d(4, 2).to(jtorch.float64)
    assert jm.weight.dtype is jtorch.float64
    tout = tm(x)
    jm.load_state_dict({k: to_j(v) for k, v in tm.state_dict().items()})
    assert_same(jm(to_j(x)), tout)
    assert jm.weight.dtype is jtorch.float64


def test_batch_norm_empty_batch_keeps_running_stats():
    tm, jm = torch.nn.BatchNorm1d(3), jtorch.nn.BatchNorm1d(3)
    assert_same(jm(jtorch.zeros(0, 3)), tm(torch.zeros(0, 3)))
    for k, v in tm.state_dict().items():
        assert_same(jm.state_dict()[k], v)


@pytest.mark.parametrize("eps", [0.0, -1.0])
def test_batch_norm_eps_must_be_positive_in_training(eps):
    with pytest.raises(ValueError, match="eps must be positive"):
        torch.nn.BatchNorm1d(3, eps=eps)(torch.randn(2, 3))
    with pytest.raises(ValueError, match="eps must be positive"):
        jtorch.nn.BatchNorm1d(3, eps=eps)(jtorch.randn(2, 3))


@pytest.mark.parametrize("kw", [{}, {"label_smoothing": 0.15}])
@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
def test_all_targets_ignored_gives_nan_loss_and_zero_grad(fn, kw):
    if fn == "nll_loss" and kw:
        pytest.skip("nll_loss has no label_smoothing")
    x = torch.randn(2, 3, requires_grad=True)
    t = torch.tensor([1, 1])
    tl = getattr(torch.nn.functional, fn)(x, t, ignore_index=1, **kw)
    xj = to_j(x, True)
    jl = getattr(jtorch.nn.functional, fn)(xj, to_j(t), ignore_index=1, **kw)
    assert_same(jl, tl)
    assert_same(jtorch.autograd.grad(jl, xj)[0], torch.autograd.grad(tl, x)[0])


def test_class_target_dtype_and_weight_dtype_errors():
    for lib in (torch, jtorch):
        F = lib.nn.functional
        with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte, but got Float"):
            F.cross_entropy(lib.randn(4, 3), lib.zeros(4))
        with pytest.raises(RuntimeError, match="expected scalar type Float but found Double"):
            F.nll_loss(lib.randn(2, 3), lib.tensor([0, 1]), weight=lib.ones(3, dtype=lib.float64))
        with pytest.raises(ValueError, match=r"Expected input batch_size \(4\) to match target batch_size \(5\)"):
            F.cross_entropy(lib.randn(4, 3), lib.zeros(5, 2))


def test_fractional_max_pool3d_unbatched_uses_first_sample_row():
    x = torch.randn(4, 5, 5, 5)
    s = torch.rand(2, 4, 3)
    t = torch.nn.functional.fractional_max_pool3d(x, 2, output_ratio=0.5, _random_samples=s)
    j = jtorch.nn.functional.fractional_max_pool3d(to_j(x), 2, output_ratio=0.5, _random_samples=to_j(s))
    assert_same(j, t)
    with pytest.raises(RuntimeError, match="no less then input batch size"):
        jtorch.nn.functional.fractional_max_pool3d(jtorch.randn(3, 4, 5, 5, 5), 2, output_ratio=0.5,
                                                   _random_samples=to_j(s))


def test_gaussian_nll_loss_homoscedastic_var_broadcasts_over_batch():
    x, y, v = torch.randn(4, 3), torch.randn(4, 3), torch.rand(1, 3) + 0.1
    assert_same(jtorch.nn.functional.gaussian_nll_loss(to_j(x), to_j(y), to_j(v)),
                torch.nn.functional.gaussian_nll_loss(x, y, v))


def test_constructor_and_forward_argument_errors():
    for lib in (torch, jtorch):
        with pytest.raises(TypeError, match="bias should be of type bool, got: int"):
            lib.nn.GRU(3, 5, bias=1)
        with pytest.raises(ValueError, match="input_size must be greater than zero"):
            lib.nn.LSTM(0, 5)
        with pytest.raises(ValueError, match="RNN input dtype .* does not match weight dtype"):
            lib.nn.RNN(3, 5)(lib.randn(2, 4, 3, dtype=lib.float64))
        with pytest.raises(TypeError, match="delta must be a float or int"):
            lib.nn.HuberLoss(delta=1j)
        with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
            lib.nn.CircularPad1d(3)(lib.randn(2, 3, 4, 5))
        with pytest.raises(RuntimeError, match=r"Expected target size \[5\], but got \[3\]"):
            lib.nn.MultiMarginLoss()(lib.randn(5, 10), lib.tensor([0, 1, 2]))
        with pytest.raises(RuntimeError, match="Expected non-empty vector or matrix"):
            lib.nn.functional.multi_margin_loss(lib.randn(2, 3, 4), lib.zeros(2, dtype=lib.long))
        with pytest.raises(ValueError, match=r"num_channels \(10\) must be divisible by num_groups \(3\)"):
            lib.nn.GroupNorm(3, 10)
