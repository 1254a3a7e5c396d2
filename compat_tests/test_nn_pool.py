"""Pooling: max/avg/lp/adaptive pooling 1d/2d/3d, indices, max_unpool; modules vs torch."""
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as TF

import jtorch
import jtorch.nn as jnn
import jtorch.nn.functional as JF
from oracle import to_j, assert_same, same_error
from nn_compare import compare_module, compare_fn

X2 = torch.randn(2, 3, 9, 8, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                                dict(kernel_size=(2, 3), stride=(1, 2), dilation=(2, 1), ceil_mode=True)])
def test_max_pool2d(kw):
    compare_fn(lambda x: TF.max_pool2d(x, **kw), lambda x: JF.max_pool2d(x, **kw), [X2])
    compare_fn(lambda x: TF.max_pool2d(x, return_indices=True, **kw),
               lambda x: JF.max_pool2d(x, return_indices=True, **kw), [X2])


def test_max_pool_1d_3d():
    torch.manual_seed(1)
    x1 = torch.randn(2, 3, 11)
    compare_fn(lambda x: TF.max_pool1d(x, 3, 2, 1, ceil_mode=True, return_indices=True),
               lambda x: JF.max_pool1d(x, 3, 2, 1, ceil_mode=True, return_indices=True), [x1])
    x3 = torch.randn(1, 2, 5, 4, 6)
    compare_fn(lambda x: TF.max_pool3d(x, 2, return_indices=True), lambda x: JF.max_pool3d(x, 2, return_indices=True),
               [x3])
    compare_fn(lambda x: TF.max_pool3d(x, (2, 1, 3), padding=(1, 0, 1)),
               lambda x: JF.max_pool3d(x, (2, 1, 3), padding=(1, 0, 1)), [x3])
    # unbatched
    compare_fn(lambda x: TF.max_pool2d(x, 2), lambda x: JF.max_pool2d(x, 2), [torch.randn(3, 6, 6)])
    assert jtorch.max_pool2d is not None


@pytest.mark.parametrize("kw", [dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=3, stride=2, padding=1, count_include_pad=False, ceil_mode=True),
                                dict(kernel_size=(2, 3), ceil_mode=True), dict(kernel_size=2, divisor_override=3)])
def test_avg_pool2d(kw):
    compare_fn(lambda x: TF.avg_pool2d(x, **kw), lambda x: JF.avg_pool2d(x, **kw), [X2])


def test_avg_pool_1d_3d():
    torch.manual_seed(2)
    x1 = torch.randn(2, 3, 10)
    compare_fn(lambda x: TF.avg_pool1d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
               lambda x: JF.avg_pool1d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False), [x1])
    x3 = torch.randn(1, 2, 5, 4, 6)
    compare_fn(lambda x: TF.avg_pool3d(x, 2, padding=1), lambda x: JF.avg_pool3d(x, 2, padding=1), [x3])


@pytest.mark.parametrize("size", [1, (4, 3), (None, 5), 7])
def test_adaptive_avg_pool2d(size):
    compare_fn(lambda x: TF.adaptive_avg_pool2d(x, size), lambda x: JF.adaptive_avg_pool2d(x, size), [X2])


@pytest.mark.parametrize("size", [1, (4, 3), (5, 5)])
def test_adaptive_max_pool2d(size):
    compare_fn(lambda x: TF.adaptive_max_pool2d(x, size, return_indices=True),
               lambda x: JF.adaptive_max_pool2d(x, size, return_indices=True), [X2])


def test_adaptive_1d_3d():
    torch.manual_seed(3)
    x1 = torch.randn(2, 3, 10)
    compare_fn(lambda x: TF.adaptive_avg_pool1d(x, 3), lambda x: JF.adaptive_avg_pool1d(x, 3), [x1])
    compare_fn(lambda x: TF.adaptive_max_pool1d(x, 4, True), lambda x: JF.adaptive_max_pool1d(x, 4, True), [x1])
    x3 = torch.randn(1, 2, 5, 4, 6)
    compare_fn(lambda x: TF.adaptive_avg_pool3d(x, (2, 3, 4)), lambda x: JF.adaptive_avg_pool3d(x, (2, 3, 4)), [x3])
    compare_fn(lambda x: TF.adaptive_max_pool3d(x, (3, 2, 4)), lambda x: JF.adaptive_max_pool3d(x, (3, 2, 4)), [x3])


def test_lp_pool():
    x = X2.abs() + 0.1
    compare_fn(lambda x: TF.lp_pool2d(x, 2, 3, 2), lambda x: JF.lp_pool2d(x, 2, 3, 2), [x])
    compare_fn(lambda x: TF.lp_pool1d(x, 3, 2), lambda x: JF.lp_pool1d(x, 3, 2), [x[:, :, 0]])


def test_max_unpool():
    v, i = TF.max_pool2d(X2, 2, return_indices=True)
    compare_fn(lambda v, i: TF.max_unpool2d(v, i, 2), lambda v, i: JF.max_unpool2d(v, i, 2), [v, i])
    compare_fn(lambda v, i: TF.max_unpool2d(v, i, 2, output_size=(9, 8)),
               lambda v, i: JF.max_unpool2d(v, i, 2, output_size=(9, 8)), [v, i])
    v1, i1 = TF.max_pool1d(X2[:, :, 0], 2, return_indices=True)
    compare_fn(lambda v, i: TF.max_unpool1d(v, i, 2), lambda v, i: JF.max_unpool1d(v, i, 2), [v1, i1])
    t, j = tnn.MaxUnpool2d(2), jnn.MaxUnpool2d(2)
    assert repr(j) == repr(t)
    compare_module(t, j, [v, i])


def test_pool_modules():
    torch.manual_seed(4)
    for t, j in [(tnn.MaxPool2d(3, 2, 1), jnn.MaxPool2d(3, 2, 1)),
                 (tnn.MaxPool2d(2, return_indices=True), jnn.MaxPool2d(2, return_indices=True)),
                 (tnn.AvgPool2d(3, 2, 1, count_include_pad=False), jnn.AvgPool2d(3, 2, 1, count_include_pad=False)),
                 (tnn.AdaptiveAvgPool2d((2, 3)), jnn.AdaptiveAvgPool2d((2, 3))),
                 (tnn.AdaptiveMaxPool2d(3), jnn.AdaptiveMaxPool2d(3)),
                 (tnn.LPPool2d(2, 2), jnn.LPPool2d(2, 2))]:
        assert repr(j) == repr(t)
        compare_module(t, j, [X2.abs() + 0.1 if isinstance(t, tnn.LPPool2d) else X2])
    for t, j in [(tnn.MaxPool1d(2), jnn.MaxPool1d(2)), (tnn.AvgPool1d(2), jnn.AvgPool1d(2)),
                 (tnn.AvgPool3d(2), jnn.AvgPool3d(2)), (tnn.MaxPool3d(2), jnn.MaxPool3d(2)),
                 (tnn.AdaptiveAvgPool1d(2), jnn.AdaptiveAvgPool1d(2)), (tnn.MaxUnpool3d(2), jnn.MaxUnpool3d(2))]:
        assert repr(j) == repr(t)


def test_pool_errors():
    for tf, jf in [(lambda: TF.max_pool2d(torch.randn(1, 1, 2, 2), 3), lambda: JF.max_pool2d(jtorch.randn(1, 1, 2, 2), 3)),
                   (lambda: TF.max_pool2d(X2, 3, padding=2), lambda: JF.max_pool2d(to_j(X2), 3, padding=2)),
                   (lambda: TF.avg_pool2d(torch.randn(1, 1, 2, 2), 3), lambda: JF.avg_pool2d(jtorch.randn(1, 1, 2, 2), 3)),
                   (lambda: TF.adaptive_avg_pool2d(torch.randn(4, 8), 2),
                    lambda: JF.adaptive_avg_pool2d(jtorch.randn(4, 8), 2))]:
        et, ej = same_error(tf, jf)
        assert str(ej) == str(et)
    same_error(lambda: TF.max_pool2d(torch.randn(4, 8), 2), lambda: JF.max_pool2d(jtorch.randn(4, 8), 2))


def test_pool_functions_take_only_torchs_keywords():
    # jtorch's channels-last compute flag is private (`_channels_last`), not a public keyword
    x = torch.randn(1, 2, 4, 4)
    calls = [("max_pool1d", x[0]), ("max_pool2d", x), ("max_pool3d", x[None]), ("avg_pool1d", x[0])]
    for name, a in calls:
        et, ej = same_error(lambda: getattr(torch, name)(a, 2, channels_last=True),
                            lambda: getattr(jtorch, name)(to_j(a), 2, channels_last=True))
        assert str(ej) == str(et)
    for name, a in [("max_pool2d", x), ("max_pool3d", x[None]), ("avg_pool2d", x), ("avg_pool3d", x[None])]:
        et, ej = same_error(lambda: getattr(TF, name)(a, 2, channels_last=True),
                            lambda: getattr(JF, name)(to_j(a), 2, channels_last=True))
        assert type(ej) is TypeError and "channels_last" in str(ej)
