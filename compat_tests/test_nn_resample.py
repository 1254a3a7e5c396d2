"""Resampling, padding, folding, shuffles: interpolate, grid_sample, affine_grid, pad, fold/unfold,
pixel/channel shuffle and their modules vs torch."""
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as TF

import jtorch
import jtorch.nn as jnn
import jtorch.nn.functional as JF
from oracle import to_j, assert_same, same_error
from nn_compare import compare_module, compare_fn

X = torch.randn(2, 3, 5, 6, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("mode,ac", [("nearest", None), ("nearest-exact", None), ("bilinear", False),
                                     ("bilinear", True), ("bicubic", False), ("bicubic", True), ("area", None)])
def test_interpolate_2d(mode, ac):
    compare_fn(lambda x: TF.interpolate(x, size=(7, 4), mode=mode, align_corners=ac),
               lambda x: JF.interpolate(x, size=(7, 4), mode=mode, align_corners=ac), [X])
    if mode != "area":
        compare_fn(lambda x: TF.interpolate(x, scale_factor=1.7, mode=mode, align_corners=ac),
                   lambda x: JF.interpolate(x, scale_factor=1.7, mode=mode, align_corners=ac), [X])


def test_interpolate_1d_3d():
    torch.manual_seed(1)
    x1 = torch.randn(2, 3, 7)
    for mode in ["nearest", "linear"]:
        compare_fn(lambda x: TF.interpolate(x, scale_factor=2, mode=mode),
                   lambda x: JF.interpolate(x, scale_factor=2, mode=mode), [x1])
    x3 = torch.randn(1, 2, 3, 4, 3)
    compare_fn(lambda x: TF.interpolate(x, size=(5, 3, 6), mode="trilinear", align_corners=True),
               lambda x: JF.interpolate(x, size=(5, 3, 6), mode="trilinear", align_corners=True), [x3])
    compare_fn(lambda x: TF.interpolate(x, scale_factor=(2, 1, 1.5), mode="nearest", recompute_scale_factor=True),
               lambda x: JF.interpolate(x, scale_factor=(2, 1, 1.5), mode="nearest", recompute_scale_factor=True), [x3])


def test_interpolate_errors():
    same_error(lambda: TF.interpolate(X, size=4, mode="nearest", align_corners=True),
               lambda: JF.interpolate(to_j(X), size=4, mode="nearest", align_corners=True))
    same_error(lambda: TF.interpolate(X, size=4, scale_factor=2), lambda: JF.interpolate(to_j(X), size=4, scale_factor=2))
    same_error(lambda: TF.interpolate(X, size=4, mode="linear"), lambda: JF.interpolate(to_j(X), size=4, mode="linear"))


def test_upsample_modules():
    for t, j in [(tnn.Upsample(scale_factor=2), jnn.Upsample(scale_factor=2)),
                 (tnn.Upsample(size=(3, 9), mode="bilinear"), jnn.Upsample(size=(3, 9), mode="bilinear")),
                 (tnn.UpsamplingNearest2d(scale_factor=2), jnn.UpsamplingNearest2d(scale_factor=2)),
                 (tnn.UpsamplingBilinear2d(size=7), jnn.UpsamplingBilinear2d(size=7))]:
        assert repr(j) == repr(t)
        compare_module(t, j, [X])


@pytest.mark.parametrize("mode,padding_mode,ac", [("bilinear", "zeros", False), ("bilinear", "border", True),
                                                  ("bilinear", "reflection", False), ("bilinear", "reflection", True),
                                                  ("nearest", "zeros", True), ("nearest", "reflection", False),
                                                  ("bicubic", "zeros", False), ("bicubic", "reflection", True)])
def test_grid_sample_2d(mode, padding_mode, ac):
    g = torch.rand(2, 4, 3, 2, generator=torch.Generator().manual_seed(1)) * 2.4 - 1.2
    if True:
        compare_fn(lambda x, g: TF.grid_sample(x, g, mode, padding_mode, ac),
                   lambda x, g: JF.grid_sample(x, g, mode, padding_mode, ac), [X, g], grads=mode != "nearest",
                   rtol=1e-4, atol=1e-4)


def test_grid_sample_3d_affine_grid():
    torch.manual_seed(2)
    x3 = torch.randn(1, 2, 3, 4, 5)
    g3 = torch.rand(1, 2, 3, 2, 3) * 2 - 1
    compare_fn(lambda x, g: TF.grid_sample(x, g, align_corners=False),
               lambda x, g: JF.grid_sample(x, g, align_corners=False), [x3, g3], atol=1e-4)
    th = torch.randn(2, 2, 3)
    for ac in (False, True):
        compare_fn(lambda t: TF.affine_grid(t, (2, 3, 4, 5), align_corners=ac),
                   lambda t: JF.affine_grid(t, (2, 3, 4, 5), align_corners=ac), [th])
    compare_fn(lambda t: TF.affine_grid(t, (2, 1, 3, 4, 2), align_corners=False),
               lambda t: JF.affine_grid(t, (2, 1, 3, 4, 2), align_corners=False), [torch.randn(2, 3, 4)])


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad(mode):
    compare_fn(lambda x: TF.pad(x, (1, 2, 2, 0), mode), lambda x: JF.pad(x, (1, 2, 2, 0), mode), [X])
    compare_fn(lambda x: TF.pad(x, (2, 1), mode), lambda x: JF.pad(x, (2, 1), mode), [X[0]])


def test_pad_constant_misc():
    compare_fn(lambda x: TF.pad(x, (1, -2, 0, 0, 1, 1), value=2.5), lambda x: JF.pad(x, (1, -2, 0, 0, 1, 1), value=2.5),
               [X])
    xi = torch.arange(6).reshape(2, 3)
    assert_same(JF.pad(to_j(xi), (1, 1), value=7), TF.pad(xi, (1, 1), value=7))
    same_error(lambda: TF.pad(X, (1, 2, 3)), lambda: JF.pad(to_j(X), (1, 2, 3)))
    same_error(lambda: TF.pad(X, (6, 6), mode="reflect"), lambda: JF.pad(to_j(X), (6, 6), mode="reflect"))


def test_pad_modules():
    for t, j in [(tnn.ZeroPad2d(1), jnn.ZeroPad2d(1)), (tnn.ConstantPad1d((1, 2), 3.5), jnn.ConstantPad1d((1, 2), 3.5)),
                 (tnn.ReflectionPad2d((1, 0, 2, 1)), jnn.ReflectionPad2d((1, 0, 2, 1))),
                 (tnn.ReplicationPad2d(2), jnn.ReplicationPad2d(2)), (tnn.CircularPad2d(1), jnn.CircularPad2d(1)),
                 (tnn.ConstantPad3d(1, 0.5), jnn.ConstantPad3d(1, 0.5))]:
        assert repr(j) == repr(t)
        compare_module(t, j, [X])
    t, j = tnn.ReflectionPad1d(2), jnn.ReflectionPad1d(2)
    assert repr(j) == repr(t)
    compare_module(t, j, [X[0]])
    same_error(lambda: t(X), lambda: j(to_j(X)))


def test_fold_unfold():
    kw = dict(kernel_size=(2, 3), dilation=(1, 2), padding=1, stride=(2, 1))
    compare_fn(lambda x: TF.unfold(x, **kw), lambda x: JF.unfold(x, **kw), [X])
    cols = TF.unfold(X, **kw)
    compare_fn(lambda c: TF.fold(c, (5, 6), **kw), lambda c: JF.fold(c, (5, 6), **kw), [cols])
    t, j = tnn.Unfold(**kw), jnn.Unfold(**kw)
    assert repr(j) == repr(t)
    compare_module(t, j, [X])
    t, j = tnn.Fold((5, 6), **kw), jnn.Fold((5, 6), **kw)
    assert repr(j) == repr(t)
    compare_module(t, j, [cols])
    et, ej = same_error(lambda: TF.fold(cols, (7, 7), **kw), lambda: JF.fold(to_j(cols), (7, 7), **kw))


def test_shuffles():
    x = torch.randn(2, 8, 3, 4)
    compare_fn(lambda x: TF.pixel_shuffle(x, 2), lambda x: JF.pixel_shuffle(x, 2), [x])
    compare_fn(lambda x: TF.pixel_unshuffle(x, 1), lambda x: JF.pixel_unshuffle(x, 1), [x])
    compare_fn(lambda x: TF.pixel_unshuffle(x, 2), lambda x: JF.pixel_unshuffle(x, 2), [torch.randn(2, 3, 4, 6)])
    compare_fn(lambda x: TF.channel_shuffle(x, 4), lambda x: JF.channel_shuffle(x, 4), [x], grads=False)
    for t, j in [(tnn.PixelShuffle(2), jnn.PixelShuffle(2)), (tnn.PixelUnshuffle(2), jnn.PixelUnshuffle(2)),
                 (tnn.ChannelShuffle(2), jnn.ChannelShuffle(2))]:
        assert repr(j) == repr(t)
        compare_module(t, j, [torch.randn(2, 8, 4, 6)])
    same_error(lambda: TF.pixel_shuffle(torch.randn(2, 6, 3, 3), 2), lambda: JF.pixel_shuffle(jtorch.randn(2, 6, 3, 3), 2))


# ------------------------------------------------------------------------------------ antialias
_AA_CASES = [((2, 3, 16, 20), dict(size=(8, 10))),                     # downsample by 2
             ((1, 2, 14, 21), dict(scale_factor=1 / 3.5)),             # by 3.5, scale_factor form
             ((1, 2, 10, 9), dict(scale_factor=(0.37, 0.61))),         # non-integer, per-axis scales
             ((1, 2, 10, 9), dict(scale_factor=(0.37, 0.61), recompute_scale_factor=True)),
             ((1, 2, 5, 6), dict(size=(11, 4))),                       # up on one axis, down on the other
             ((1, 1, 7, 7), dict(size=1))]


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("ac", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_interpolate_antialias(mode, ac, dtype):
    g = torch.Generator().manual_seed(3)
    for shape, kw in _AA_CASES:
        x = torch.randn(*shape, generator=g, dtype=dtype)
        compare_fn(lambda x: TF.interpolate(x, mode=mode, align_corners=ac, antialias=True, **kw),
                   lambda x: JF.interpolate(x, mode=mode, align_corners=ac, antialias=True, **kw), [x])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_interpolate_lanczos(dtype):
    g = torch.Generator().manual_seed(5)
    for shape, kw in _AA_CASES[:5]:
        x = torch.randn(*shape, generator=g, dtype=dtype)
        compare_fn(lambda x: TF.interpolate(x, mode="lanczos", antialias=True, **kw),
                   lambda x: JF.interpolate(x, mode="lanczos", antialias=True, **kw), [x])


@pytest.mark.parametrize("mode", ["bilinear", "bicubic", "lanczos"])
def test_interpolate_antialias_uint8(mode):
    # torch's uint8 path uses fixed-point weights and rounds between the two passes: bit-exact
    g = torch.Generator().manual_seed(4)
    for shape, kw in [((1, 3, 64, 48), dict(size=(20, 17))), ((2, 3, 12, 12), dict(size=(30, 5))),
                      ((1, 3, 40, 30), dict(scale_factor=(0.37, 1.7), align_corners=mode != "lanczos"))]:
        x = torch.randint(0, 256, shape, generator=g, dtype=torch.uint8)
        assert_same(JF.interpolate(to_j(x), mode=mode, antialias=True, **kw),
                    TF.interpolate(x, mode=mode, antialias=True, **kw), rtol=0, atol=0)


def test_interpolate_antialias_errors():
    x3, x5 = torch.randn(1, 2, 5), torch.randn(1, 1, 3, 4, 5)
    for x, mode in [(X, "nearest"), (X, "area"), (X, "nearest-exact"), (x3, "linear"), (x5, "trilinear"),
                    (x3, "bilinear"), (x5, "bicubic"), (X[0, 0], "bilinear")]:
        same_error(lambda: TF.interpolate(x, size=3, mode=mode, antialias=True),
                   lambda: JF.interpolate(to_j(x), size=3, mode=mode, antialias=True))
    same_error(lambda: TF.interpolate(X.int(), size=3, mode="bilinear", antialias=True),
               lambda: JF.interpolate(to_j(X.int()), size=3, mode="bilinear", antialias=True))
    for x, kw in [(X, dict()), (X, dict(align_corners=True, antialias=True)), (x3, dict()),
                  (x3, dict(antialias=True))]:
        same_error(lambda: TF.interpolate(x, size=3, mode="lanczos", **kw),
                   lambda: JF.interpolate(to_j(x), size=3, mode="lanczos", **kw))


@pytest.mark.parametrize("name", ["_upsample_bilinear2d_aa", "_upsample_bicubic2d_aa", "_upsample_lanczos2d_aa"])
def test_upsample_aa_aten(name):
    t_op, j_op = getattr(torch.ops.aten, name), getattr(jtorch.ops.aten, name)
    for args in [([3, 4], False), ([3, 4], "lanczos" not in name, 0.3, 0.5), (None, False, [0.37, 1.6])]:
        compare_fn(lambda x: t_op(x, *args), lambda x: j_op(x, *args), [X])
    for args in [([3, 3], False, [0.5, 0.5]), (None, False, None), ([3, 3, 3], False), (None, False, [0.5])]:
        same_error(lambda: t_op(X, *args), lambda: j_op(to_j(X), *args))
