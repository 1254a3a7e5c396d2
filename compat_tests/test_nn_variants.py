"""Layer variants no other nn test reaches (1d/3d siblings, Lazy* modules, *_with_indices functionals,
legacy upsample names, multi_head_attention_forward, LinearCrossEntropyLoss): torch state copied in,
outputs and input/parameter grads compared. Shapes are tiny: the cost is XLA compiles."""
import pytest
import torch

import jtorch
import jtorch.nn as jnn
from oracle import to_j, assert_same, same_error
from nn_compare import compare_module, compare_fn

TF, JF = torch.nn.functional, jtorch.nn.functional
g = torch.Generator().manual_seed(0)
X1 = torch.randn(2, 3, 7, generator=g)
X2 = torch.randn(2, 3, 6, 6, generator=g)
X3 = torch.randn(1, 2, 5, 5, 4, generator=g)

MODULES = [
    ("AdaptiveMaxPool1d", lambda nn: nn.AdaptiveMaxPool1d(3), X1),
    ("AdaptiveMaxPool3d", lambda nn: nn.AdaptiveMaxPool3d((2, 3, 2), return_indices=True), X3),
    ("AdaptiveAvgPool3d", lambda nn: nn.AdaptiveAvgPool3d((3, 2, None)), X3),
    ("LPPool1d", lambda nn: nn.LPPool1d(2, 3, stride=2), X1.abs()),
    ("LPPool3d", lambda nn: nn.LPPool3d(1.5, 2), X3.abs()),
    ("CircularPad1d", lambda nn: nn.CircularPad1d((2, 1)), X1),
    ("CircularPad3d", lambda nn: nn.CircularPad3d(1), X3),
    ("ConstantPad2d", lambda nn: nn.ConstantPad2d((1, 0, 2, 1), 0.5), X2),
    ("ReflectionPad3d", lambda nn: nn.ReflectionPad3d((1, 2, 0, 1, 1, 0)), X3),
    ("ReplicationPad1d", lambda nn: nn.ReplicationPad1d((3, 1)), X1),
    ("ReplicationPad3d", lambda nn: nn.ReplicationPad3d(2), X3),
    ("ZeroPad1d", lambda nn: nn.ZeroPad1d(2), X1),
    ("ZeroPad3d", lambda nn: nn.ZeroPad3d((1, 0, 0, 1, 2, 0)), X3),
    ("InstanceNorm3d", lambda nn: nn.InstanceNorm3d(2, affine=True, track_running_stats=True), X3),
    ("CrossMapLRN2d", lambda nn: nn.CrossMapLRN2d(3, 1e-3, 0.75, 1.0), X2),
    ("CrossMapLRN2d_wide", lambda nn: nn.CrossMapLRN2d(4, 0.1, 0.75, 1.0), torch.randn(1, 9, 2, 3, generator=g)),
    ("LocalResponseNorm3d", lambda nn: nn.LocalResponseNorm(2), X3),
    ("RMSNorm", lambda nn: nn.RMSNorm([6, 6], eps=1e-5), X2),
]


@pytest.mark.parametrize("name,build,x", MODULES, ids=[m[0] for m in MODULES])
def test_module_variants(name, build, x):
    torch.manual_seed(0)
    t, j = build(torch.nn), build(jnn)
    compare_module(t, j, [x])
    assert repr(j) == repr(t)


@pytest.mark.parametrize("train", [True, False])
def test_max_unpool1d_and_dropout3d_eval(train):
    t, j = torch.nn.MaxPool1d(2, return_indices=True), jnn.MaxPool1d(2, return_indices=True)
    tv, ti = t(X1)
    jv, ji = j(to_j(X1))
    assert_same(ji, ti)
    compare_module(torch.nn.MaxUnpool1d(2), jnn.MaxUnpool1d(2), [tv, ti], kwargs=None)
    d = jnn.Dropout3d(0.5).train(train)
    y = d(to_j(X3))
    if not train:
        assert_same(y, X3)
    else:   # whole channels are zeroed or scaled by 1/(1-p)
        ratio = (y / to_j(X3)).numpy().reshape(2, -1)
        for row in ratio:
            assert (abs(row - row[0]) < 1e-5).all() and row[0] in (0.0, 2.0) or abs(row[0] - 2.0) < 1e-5


LAZY = [
    ("LazyConv1d", lambda nn: nn.LazyConv1d(4, 3), X1),
    ("LazyConv3d", lambda nn: nn.LazyConv3d(3, 2), X3),
    ("LazyConvTranspose2d", lambda nn: nn.LazyConvTranspose2d(2, 3, stride=2), X2),
    ("LazyConvTranspose3d", lambda nn: nn.LazyConvTranspose3d(2, 2), X3),
    ("LazyBatchNorm1d", lambda nn: nn.LazyBatchNorm1d(), X1),
    ("LazyBatchNorm2d", lambda nn: nn.LazyBatchNorm2d(), X2),
    ("LazyBatchNorm3d", lambda nn: nn.LazyBatchNorm3d(), X3),
    ("LazyInstanceNorm1d", lambda nn: nn.LazyInstanceNorm1d(affine=True), X1),
    ("LazyInstanceNorm2d", lambda nn: nn.LazyInstanceNorm2d(track_running_stats=True), X2),
    ("LazyInstanceNorm3d", lambda nn: nn.LazyInstanceNorm3d(), X3),
]


@pytest.mark.parametrize("name,build,x", LAZY, ids=[m[0] for m in LAZY])
def test_lazy_modules_materialize_like_torch(name, build, x):
    t, j = build(torch.nn), build(jnn)
    assert repr(j) == repr(t)
    t(x), j(to_j(x))      # first call infers the input size and materializes parameters
    assert type(j).__name__ == type(t).__name__ == name[4:]    # the class swaps to the eager one, as torch
    assert {k: tuple(v.shape) for k, v in j.state_dict().items()} == \
           {k: tuple(v.shape) for k, v in t.state_dict().items()}
    compare_module(t, j, [x])


def test_with_indices_functionals():
    for nd, x in ((1, X1), (2, X2), (3, X3)):
        tv, ti = getattr(TF, f"adaptive_max_pool{nd}d_with_indices")(x, 2)
        jv, ji = getattr(JF, f"adaptive_max_pool{nd}d_with_indices")(to_j(x), 2)
        assert_same(jv, tv)
        assert_same(ji, ti)
        if nd > 1:
            tv, ti = getattr(TF, f"max_pool{nd}d_with_indices")(x, 2, 1, ceil_mode=True)
            jv, ji = getattr(JF, f"max_pool{nd}d_with_indices")(to_j(x), 2, 1, ceil_mode=True)
            assert_same(jv, tv)
            assert_same(ji, ti)
    tv, ti = TF.max_pool3d(X3, 2, return_indices=True)
    compare_fn(TF.max_unpool3d, JF.max_unpool3d, [tv, ti, 2], output_size=X3.shape[2:])
    compare_fn(TF.lp_pool3d, JF.lp_pool3d, [X3.abs(), 2.0, 2])


def test_legacy_upsample_functionals():
    with pytest.warns(UserWarning):
        JF.upsample(to_j(X2), scale_factor=2)
    for tf, jf, kw in [(TF.upsample, JF.upsample, dict(scale_factor=2, mode="bilinear", align_corners=False)),
                       (TF.upsample_nearest, JF.upsample_nearest, dict(size=(9, 7))),
                       (TF.upsample_bilinear, JF.upsample_bilinear, dict(scale_factor=1.5))]:
        with pytest.warns(UserWarning):
            t = tf(X2, **kw)
        with pytest.warns(UserWarning):
            j = jf(to_j(X2), **kw)
        assert_same(j, t, rtol=1e-5, atol=1e-6)


def test_multi_head_attention_forward_functional():
    torch.manual_seed(0)
    mha = torch.nn.MultiheadAttention(8, 2)
    q = torch.randn(4, 2, 8)
    args = (8, 2, mha.in_proj_weight, mha.in_proj_bias, None, None, False, 0.0, mha.out_proj.weight,
            mha.out_proj.bias)
    mask = torch.triu(torch.ones(4, 4, dtype=torch.bool), 1)
    t_out, t_w = TF.multi_head_attention_forward(q, q, q, *args, training=False, attn_mask=mask)
    j_out, j_w = JF.multi_head_attention_forward(to_j(q), to_j(q), to_j(q), *to_j(args), training=False,
                                                 attn_mask=to_j(mask))
    assert_same(j_out, t_out, rtol=1e-5, atol=1e-6)
    assert_same(j_w, t_w, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kw", [dict(), dict(bias=True, label_smoothing=0.1, reduction="sum"),
                                dict(out_features=(3,), ignore_index=2)])
def test_linear_cross_entropy_loss(kw):
    torch.manual_seed(0)
    t = torch.nn.LinearCrossEntropyLoss(5, 7, **kw)
    j = jnn.LinearCrossEntropyLoss(5, 7, **kw)
    x = torch.randn(4, 5)
    y = torch.randint(0, 7, (4, *kw.get("out_features", ())))
    compare_module(t, j, [x, y])
    assert repr(j) == repr(t)
    yp = torch.randn(4, 7, *kw.get("out_features", ())).softmax(1)    # class probabilities
    if "ignore_index" in kw:
        et, ej = same_error(lambda: t(x, yp), lambda: j(to_j(x), to_j(yp)))
        assert str(ej) == str(et)
    else:
        compare_module(t, j, [x, yp])
    et, ej = same_error(lambda: torch.nn.LinearCrossEntropyLoss(5, 7, weight=torch.ones(6)),
                        lambda: jnn.LinearCrossEntropyLoss(5, 7, weight=jtorch.ones(6)))
    assert str(ej) == str(et)
    assert repr(jnn.LinearCrossEntropyOptions()) == repr(torch.nn.LinearCrossEntropyOptions())


@pytest.mark.parametrize("mode", ["circular", "reflect", "replicate", "constant"])
def test_pad_negative_widths_crop_first(mode):
    """A negative width crops that side; torch crops before wrapping/reflecting the other side."""
    compare_fn(TF.pad, JF.pad, [X2, (-1, 2, 2, -2)], mode=mode)
    compare_fn(TF.pad, JF.pad, [X1, (2, -3)], mode=mode)
