"""Convolutions: functional conv/conv_transpose and the Conv*/ConvTranspose*/LazyConv* modules vs torch."""
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as TF

import jtorch
import jtorch.nn as jnn
import jtorch.nn.functional as JF
from oracle import to_j, assert_same, same_error
from nn_compare import compare_module, compare_fn


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1), dict(padding="same", dilation=2),
                                dict(groups=2, stride=(2, 1), padding=(1, 0)), dict(padding="valid")])
def test_conv2d_functional(kw):
    torch.manual_seed(0)
    x = torch.randn(2, 4, 7, 6)
    w = torch.randn(6, 4 // kw.get("groups", 1), 3, 2)
    b = torch.randn(6)
    compare_fn(lambda x, w, b: TF.conv2d(x, w, b, **kw), lambda x, w, b: JF.conv2d(x, w, b, **kw), [x, w, b])


def test_conv1d_conv3d_functional():
    torch.manual_seed(1)
    compare_fn(lambda x, w: TF.conv1d(x, w, stride=2, padding=1), lambda x, w: JF.conv1d(x, w, stride=2, padding=1),
               [torch.randn(2, 3, 9), torch.randn(4, 3, 3)])
    compare_fn(lambda x, w: TF.conv3d(x, w, padding=1), lambda x, w: JF.conv3d(x, w, padding=1),
               [torch.randn(1, 2, 4, 5, 3), torch.randn(3, 2, 2, 3, 2)])
    # unbatched input
    compare_fn(TF.conv2d, JF.conv2d, [torch.randn(3, 5, 5), torch.randn(2, 3, 3, 3)])
    # torch.conv2d is public too
    assert jtorch.conv2d is JF.conv2d


@pytest.mark.parametrize("kw", [dict(stride=2, padding=1, output_padding=1), dict(groups=2, dilation=2),
                                dict(stride=(2, 3), padding=(0, 1))])
def test_conv_transpose2d_functional(kw):
    torch.manual_seed(2)
    x = torch.randn(2, 4, 5, 4)
    w = torch.randn(4, 3, 3, 2)
    b = torch.randn(3 * kw.get("groups", 1))
    compare_fn(lambda x, w, b: TF.conv_transpose2d(x, w, b, **kw), lambda x, w, b: JF.conv_transpose2d(x, w, b, **kw),
               [x, w, b])


def test_conv_transpose1d_3d_functional():
    torch.manual_seed(3)
    compare_fn(lambda x, w: TF.conv_transpose1d(x, w, stride=3, padding=1),
               lambda x, w: JF.conv_transpose1d(x, w, stride=3, padding=1), [torch.randn(2, 3, 6), torch.randn(3, 2, 4)])
    compare_fn(lambda x, w: TF.conv_transpose3d(x, w, stride=2), lambda x, w: JF.conv_transpose3d(x, w, stride=2),
               [torch.randn(1, 2, 3, 2, 3), torch.randn(2, 2, 2, 2, 2)])


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_conv2d_module_padding_modes(mode):
    torch.manual_seed(4)
    t = tnn.Conv2d(3, 4, 3, padding=1, padding_mode=mode)
    j = jnn.Conv2d(3, 4, 3, padding=1, padding_mode=mode)
    compare_module(t, j, [torch.randn(2, 3, 6, 5)])
    assert repr(j) == repr(t)


def test_conv_modules_misc():
    torch.manual_seed(5)
    for tcls, jcls, shape, kw in [
        (tnn.Conv1d, jnn.Conv1d, (2, 4, 9), dict(kernel_size=3, stride=2, groups=2, bias=False)),
        (tnn.Conv3d, jnn.Conv3d, (1, 4, 4, 5, 4), dict(kernel_size=(2, 3, 2), padding="same")),
        (tnn.Conv2d, jnn.Conv2d, (2, 4, 6, 6), dict(kernel_size=3, dilation=2, padding="same", padding_mode="reflect")),
        (tnn.ConvTranspose1d, jnn.ConvTranspose1d, (2, 4, 5), dict(kernel_size=3, stride=2, output_padding=1)),
        (tnn.ConvTranspose2d, jnn.ConvTranspose2d, (2, 4, 3, 4), dict(kernel_size=2, stride=2, groups=2)),
        (tnn.ConvTranspose3d, jnn.ConvTranspose3d, (1, 4, 2, 3, 2), dict(kernel_size=2, padding=1, dilation=2)),
    ]:
        t = tcls(4, 6, **kw)
        j = jcls(4, 6, **kw)
        assert repr(j) == repr(t)
        compare_module(t, j, [torch.randn(*shape)])


def test_conv_transpose_output_size():
    torch.manual_seed(6)
    t = tnn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)
    j = jnn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)
    x = torch.randn(1, 3, 4, 4)
    compare_module(t, j, [x], kwargs={"output_size": [8, 8]})
    same_error(lambda: t(x, output_size=[12, 12]), lambda: j(to_j(x), output_size=[12, 12]))


def test_lazy_conv():
    torch.manual_seed(7)
    j = jnn.LazyConv2d(5, 3, padding=1)
    x = jtorch.randn(2, 3, 6, 6)
    y = j(x)
    assert type(j) is jnn.Conv2d and j.in_channels == 3
    assert tuple(j.weight.shape) == (5, 3, 3, 3) and tuple(y.shape) == (2, 5, 6, 6)
    t = tnn.Conv2d(3, 5, 3, padding=1)
    compare_module(t, j, [torch.randn(2, 3, 6, 6)])
    jt = jnn.LazyConvTranspose1d(4, 2)
    jt(jtorch.randn(2, 3, 5))
    assert tuple(jt.weight.shape) == (3, 4, 2)


def test_conv_default_init_bounds():
    torch.manual_seed(0)
    j = jnn.Conv2d(8, 16, 3)
    fan_in = 8 * 9
    w = j.weight.detach().numpy() if hasattr(j.weight, "numpy") else None
    import numpy as np
    w = np.asarray(j.weight.detach()._value)
    b = np.asarray(j.bias.detach()._value)
    bound = 1 / fan_in ** 0.5  # kaiming_uniform(a=sqrt(5)) gives the same bound as the bias
    assert np.abs(w).max() <= bound + 1e-7 and np.abs(w).max() > 0.9 * bound
    assert np.abs(b).max() <= bound + 1e-7
    # uniform(-b, b) has std b/sqrt(3)
    assert abs(w.std() - bound / 3 ** 0.5) < 0.1 * bound


def test_conv_errors():
    x = torch.randn(2, 4, 8, 8)
    w = torch.randn(8, 3, 3, 3)
    et, ej = same_error(lambda: TF.conv2d(x, w), lambda: JF.conv2d(to_j(x), to_j(w)))
    assert str(ej) == str(et)
    et, ej = same_error(lambda: TF.conv2d(torch.randn(2, 3, 8, 8, 2), w), lambda: JF.conv2d(jtorch.randn(2, 3, 8, 8, 2),
                                                                                          to_j(w)))
    assert str(ej) == str(et)
    et, ej = same_error(lambda: TF.conv2d(torch.randn(1, 3, 2, 2), w), lambda: JF.conv2d(jtorch.randn(1, 3, 2, 2),
                                                                                        to_j(w)))
    assert str(ej) == str(et)
    same_error(lambda: TF.conv2d(x, w, stride=2, padding="same"), lambda: JF.conv2d(to_j(x), to_j(w), stride=2,
                                                                                    padding="same"))
    same_error(lambda: TF.conv2d(x.double(), torch.randn(8, 4, 3, 3)),
               lambda: JF.conv2d(to_j(x.double()), jtorch.randn(8, 4, 3, 3)))
    m = tnn.Conv2d(3, 4, 3)
    jm = jnn.Conv2d(3, 4, 3)
    et, ej = same_error(lambda: m(x), lambda: jm(to_j(x)))
    assert str(ej) == str(et)
    for kw in [dict(groups=0), dict(groups=2), dict(padding="foo"), dict(padding="same", stride=2),
               dict(padding_mode="bogus")]:
        same_error(lambda: tnn.Conv2d(3, 4, 3, **kw), lambda: jnn.Conv2d(3, 4, 3, **kw))
    same_error(lambda: tnn.ConvTranspose2d(3, 4, 3, padding_mode="reflect"),
               lambda: jnn.ConvTranspose2d(3, 4, 3, padding_mode="reflect"))


def make_cnn(nn):
    """The same model source, written once, built with torch.nn or jtorch.nn."""
    class CNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
            )
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(8, 5)

        def forward(self, x):
            y = self.features(x)
            return self.fc(self.pool(y).flatten(1))
    return CNN()


@pytest.mark.parametrize("train", [True, False])
def test_small_cnn_end_to_end(train):
    torch.manual_seed(8)
    t = make_cnn(tnn)
    j = make_cnn(jnn)
    x = torch.randn(4, 3, 8, 8)
    # torch's running stats move in train mode: warm them once so eval uses non-trivial statistics
    with torch.no_grad():
        t.train()(torch.randn(4, 3, 8, 8))
    compare_module(t, j, [x], train=train, rtol=2e-4, atol=2e-5)
    if train:
        for (n, a), (_, b) in zip(j.state_dict().items(), t.state_dict().items()):
            assert_same(a, b, rtol=1e-4, atol=1e-5, msg=n)
