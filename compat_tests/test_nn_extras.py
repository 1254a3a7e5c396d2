"""torch.nn names found missing by a dir() diff: AdaptiveLogSoftmaxWithLoss, FractionalMaxPool2d/3d,
nn.utils fusion and memory-format helpers, nn.attention, nn.grad, DataParallel; all against torch."""
import pickle

import pytest
import torch

import jtorch
import jtorch.nn as jnn
from oracle import to_j, assert_same, same_error
from nn_compare import compare_module, copy_state

tnn = torch.nn
TF, JF = torch.nn.functional, jtorch.nn.functional


def test_missing_names_present():
    for name in ["AdaptiveLogSoftmaxWithLoss", "FractionalMaxPool2d", "FractionalMaxPool3d", "DataParallel",
                 "attention", "grad"]:
        assert hasattr(jnn, name), name
    for name in ["fractional_max_pool2d_with_indices", "fractional_max_pool3d_with_indices"]:
        assert hasattr(JF, name), name
    for name in ["fuse_conv_bn_eval", "fuse_conv_bn_weights", "fuse_linear_bn_eval", "fuse_linear_bn_weights",
                 "convert_conv2d_weight_memory_format", "convert_conv3d_weight_memory_format"]:
        assert hasattr(jnn.utils, name), name


def _asm_pair(**kw):
    torch.manual_seed(0)
    t = tnn.AdaptiveLogSoftmaxWithLoss(16, 20, [4, 10], **kw)
    j = jnn.AdaptiveLogSoftmaxWithLoss(16, 20, [4, 10], **kw)
    return t, j


@pytest.mark.parametrize("head_bias", [False, True])
def test_adaptive_log_softmax_forward_grads(head_bias):
    t, j = _asm_pair(div_value=2.0, head_bias=head_bias)
    x = torch.randn(9, 16)
    target = torch.tensor([0, 3, 4, 9, 10, 19, 2, 12, 5])   # rows in the shortlist and in both clusters
    tout, jout = compare_module(t, j, [x, target])
    assert type(jout).__name__ == "_ASMoutput" and jout._fields == ("output", "loss")
    xs = x[:3]
    assert_same(j.log_prob(to_j(xs)), t.log_prob(xs), rtol=1e-5, atol=1e-6)
    same_error(lambda: t.log_prob(xs[0]), lambda: j.log_prob(to_j(xs[0])))   # 2-D input only, as torch
    big = torch.randn(6, 16) * 5     # varied argmaxes: some in the shortlist, some in clusters
    assert_same(j.predict(to_j(big)), t.predict(big))
    assert_same(j.predict(to_j(big[:1])), t.predict(big[:1]))


def test_adaptive_log_softmax_unbatched_and_errors():
    t, j = _asm_pair()
    copy_state(t, j)
    x, y = torch.randn(16), torch.tensor(11)
    tout, jout = t(x, y), j(to_j(x), to_j(y))
    assert_same(jout.output, tout.output, rtol=1e-5, atol=1e-6)
    assert_same(jout.loss, tout.loss, rtol=1e-5, atol=1e-6)
    cases = [(torch.randn(3, 16), torch.tensor([0, 1])), (torch.randn(3, 16), torch.tensor([0, 1, 20])),
             (torch.randn(2, 16), torch.tensor(1)), (torch.randn(2, 16), torch.zeros(2, 2, dtype=torch.long)),
             (torch.randn(2, 2, 16), torch.tensor([0, 1]))]
    for a, b in cases:
        et, ej = same_error(lambda: t(a, b), lambda: j(to_j(a), to_j(b)))
        assert str(ej) == str(et)
    for cut in ([], [5, 3], [0, 4], [4, 20], [4, 4]):
        et, ej = same_error(lambda: tnn.AdaptiveLogSoftmaxWithLoss(8, 20, cut),
                            lambda: jnn.AdaptiveLogSoftmaxWithLoss(8, 20, cut))
        assert str(ej) == str(et)
    assert repr(j) == repr(t)


@pytest.mark.parametrize("nd", [2, 3])
def test_fractional_max_pool_modules(nd):
    shape = (2, 3, 9, 9) if nd == 2 else (1, 2, 7, 7, 7)
    x = torch.randn(*shape)
    samples = torch.rand(shape[0], shape[1], nd)
    T = getattr(tnn, f"FractionalMaxPool{nd}d")
    J = getattr(jnn, f"FractionalMaxPool{nd}d")
    for kw in (dict(output_size=4), dict(output_ratio=0.5)):
        t = T(2, return_indices=True, _random_samples=samples, **kw)
        j = J(2, return_indices=True, _random_samples=to_j(samples), **kw)
        compare_module(t, j, [x])
    tfn = getattr(TF, f"fractional_max_pool{nd}d_with_indices")
    jfn = getattr(JF, f"fractional_max_pool{nd}d_with_indices")
    tv, ti = tfn(x, 3, output_size=3, _random_samples=samples)
    jv, ji = jfn(to_j(x), 3, output_size=3, _random_samples=to_j(samples))
    assert_same(jv, tv)
    assert_same(ji, ti)
    # Without fixed samples the windows are random, but every output is still a max of its input.
    jout = J(2, output_ratio=0.5)(to_j(x))
    assert tuple(jout.shape) == tuple(T(2, output_ratio=0.5)(x).shape)
    for kw in (dict(), dict(output_size=3, output_ratio=0.5), dict(output_ratio=1.5)):
        et, ej = same_error(lambda: T(2, **kw), lambda: J(2, **kw))
        assert str(ej) == str(et)


def test_fuse_conv_bn_and_linear_bn():
    torch.manual_seed(0)
    for transpose in (False, True):
        tc = tnn.ConvTranspose2d(3, 4, 3) if transpose else tnn.Conv2d(3, 4, 3)
        jc = jnn.ConvTranspose2d(3, 4, 3) if transpose else jnn.Conv2d(3, 4, 3)
        tb, jb = tnn.BatchNorm2d(4), jnn.BatchNorm2d(4)
        tb.running_mean.uniform_(-1, 1)
        tb.running_var.uniform_(0.5, 2)
        tb.weight.data.uniform_(0.5, 1.5)
        tb.bias.data.uniform_(-1, 1)
        copy_state(tc, jc)
        copy_state(tb, jb)
        tc.eval(), jc.eval(), tb.eval(), jb.eval()
        tf_ = torch.nn.utils.fuse_conv_bn_eval(tc, tb, transpose=transpose)
        jf_ = jnn.utils.fuse_conv_bn_eval(jc, jb, transpose=transpose)
        assert isinstance(jf_.weight, jnn.Parameter) and jf_ is not jc
        assert_same(jf_.weight, tf_.weight, rtol=1e-5, atol=1e-6)
        assert_same(jf_.bias, tf_.bias, rtol=1e-5, atol=1e-6)
        x = torch.randn(2, 3, 6, 6)
        assert_same(jf_(to_j(x)), tf_(x), rtol=1e-4, atol=1e-5)
    w, rm, rv = torch.randn(5, 3), torch.randn(5), torch.rand(5) + 0.5
    tw, tb_ = torch.nn.utils.fuse_conv_bn_weights(w, None, rm, rv, 1e-5, None, None)
    jw, jb_ = jnn.utils.fuse_conv_bn_weights(to_j(w), None, to_j(rm), to_j(rv), 1e-5, None, None)
    assert_same(jw, tw, rtol=1e-5, atol=1e-6)
    assert_same(jb_, tb_, rtol=1e-5, atol=1e-6)
    tl, jl = tnn.Linear(3, 5), jnn.Linear(3, 5)
    tbn, jbn = tnn.BatchNorm1d(5), jnn.BatchNorm1d(5)
    tbn.running_mean.uniform_(-1, 1)
    copy_state(tl, jl)
    copy_state(tbn, jbn)
    et, ej = same_error(lambda: torch.nn.utils.fuse_linear_bn_eval(tl, tbn),
                        lambda: jnn.utils.fuse_linear_bn_eval(jl, jbn))
    assert str(ej) == str(et) == "Fusion only for eval!"
    tl.eval(), jl.eval(), tbn.eval(), jbn.eval()
    tfl, jfl = torch.nn.utils.fuse_linear_bn_eval(tl, tbn), jnn.utils.fuse_linear_bn_eval(jl, jbn)
    assert_same(jfl.weight, tfl.weight, rtol=1e-5, atol=1e-6)
    assert_same(jfl.bias, tfl.bias, rtol=1e-5, atol=1e-6)
    et, ej = same_error(lambda: torch.nn.utils.fuse_linear_bn_eval(tl, tnn.BatchNorm1d(4).eval()),
                        lambda: jnn.utils.fuse_linear_bn_eval(jl, jnn.BatchNorm1d(4).eval()))
    assert str(ej) == str(et)


def test_memory_format_helpers():
    assert repr(jtorch.channels_last) == repr(torch.channels_last)
    assert pickle.loads(pickle.dumps(jtorch.channels_last_3d)) is jtorch.channels_last_3d
    torch.manual_seed(0)
    t = tnn.Sequential(tnn.Conv2d(2, 3, 3), tnn.ReLU(), tnn.Sequential(tnn.ConvTranspose2d(3, 2, 2)))
    j = jnn.Sequential(jnn.Conv2d(2, 3, 3), jnn.ReLU(), jnn.Sequential(jnn.ConvTranspose2d(3, 2, 2)))
    copy_state(t, j)
    assert torch.nn.utils.convert_conv2d_weight_memory_format(t, torch.channels_last) is t
    assert jnn.utils.convert_conv2d_weight_memory_format(j, jtorch.channels_last) is j
    x = torch.randn(1, 2, 5, 5)
    assert_same(j(to_j(x)), t(x), rtol=1e-5, atol=1e-6)
    j3 = jnn.Conv3d(2, 2, 1)
    assert jnn.utils.convert_conv3d_weight_memory_format(j3, jtorch.channels_last_3d) is j3


def test_sdpa_kernel_context():
    from jtorch.nn.attention import SDPBackend, sdpa_kernel
    TB = torch.nn.attention.SDPBackend
    for name in ("ERROR", "MATH", "FLASH_ATTENTION", "EFFICIENT_ATTENTION", "CUDNN_ATTENTION", "OVERRIDEABLE"):
        assert int(getattr(SDPBackend, name)) == int(getattr(TB, name))
        assert repr(getattr(SDPBackend, name)) == repr(getattr(TB, name))
        assert str(getattr(SDPBackend, name)) == str(getattr(TB, name))
    q = torch.randn(1, 2, 4, 8)
    with torch.nn.attention.sdpa_kernel(TB.MATH):
        ref = TF.scaled_dot_product_attention(q, q, q, is_causal=True)
    with sdpa_kernel([SDPBackend.MATH, SDPBackend.FLASH_ATTENTION], set_priority=True) as ctx:
        out = JF.scaled_dot_product_attention(to_j(q), to_j(q), to_j(q), is_causal=True)
    assert ctx == {}
    assert_same(out, ref, rtol=1e-5, atol=1e-6)
    same_error(lambda: torch.nn.attention.sdpa_kernel("math").__enter__(), lambda: sdpa_kernel("math").__enter__())


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_nn_grad_conv(nd):
    torch.manual_seed(0)
    sp = {1: (9,), 2: (7, 6), 3: (5, 5, 4)}[nd]
    x = torch.randn(2, 4, *sp, dtype=torch.float64)
    w = torch.randn(6, 2, *(3,) * nd, dtype=torch.float64, requires_grad=True)
    kw = dict(stride=2, padding=1, dilation=1, groups=2)
    y = getattr(TF, f"conv{nd}d")(x, w, **kw)
    go = torch.randn(y.shape, dtype=torch.float64, requires_grad=True)
    tin = getattr(torch.nn.grad, f"conv{nd}d_input")(x.shape, w, go, **kw)
    jgo, jw = to_j(go), to_j(w)
    jin = getattr(jnn.grad, f"conv{nd}d_input")(x.shape, jw, jgo, **kw)
    assert_same(jin, tin)
    twt = getattr(torch.nn.grad, f"conv{nd}d_weight")(x, w.shape, go, **kw)
    jwt = getattr(jnn.grad, f"conv{nd}d_weight")(to_j(x), jw.shape, jgo, **kw)
    assert_same(jwt, twt)
    # The results stay differentiable in grad_output (double backward through a conv).
    (tin.sum() + twt.square().sum()).backward()
    (jin.sum() + jwt.square().sum()).backward()
    assert_same(jgo.grad, go.grad)
    assert_same(jw.grad, w.grad)


def test_data_parallel_passthrough():
    torch.manual_seed(0)
    t, j = tnn.Linear(3, 2), jnn.Linear(3, 2)
    copy_state(t, j)
    jd = jnn.DataParallel(j)
    assert list(jd.state_dict().keys()) == list(tnn.DataParallel(t).state_dict().keys())
    x = torch.randn(4, 3)
    assert_same(jd(to_j(x)), t(x), rtol=1e-5, atol=1e-6)


ORTH_CASES = [((4, 4), None, True), ((5, 3), None, True), ((3, 5), "cayley", True), ((5, 3), "matrix_exp", True),
              ((4, 6), "householder", True), ((6, 4), "householder", False), ((2, 4, 4), "cayley", True)]


@pytest.mark.parametrize("shape,omap,triv", ORTH_CASES, ids=[f"{s}-{m}-{t}" for s, m, t in ORTH_CASES])
def test_parametrizations_orthogonal(shape, omap, triv):
    torch.manual_seed(0)

    def build(lib):
        m = lib.nn.Module()
        m.weight = lib.nn.Parameter(lib.zeros(*shape, dtype=lib.float64))
        return m
    t, j = build(torch), build(jtorch)
    with torch.no_grad():
        t.weight.normal_()
    j.weight.data.copy_(to_j(t.weight.detach()))
    torch.nn.utils.parametrizations.orthogonal(t, orthogonal_map=omap, use_trivialization=triv)
    jnn.utils.parametrizations.orthogonal(j, orthogonal_map=omap, use_trivialization=triv)
    assert list(j.state_dict()) == list(t.state_dict())
    # the registered weight is orthogonal in both (base is random where the matrix is completed: compare Q^T Q)
    W = j.weight
    gram = W.mT @ W if shape[-2] >= shape[-1] else W @ W.mT
    k = min(shape[-2:])
    assert_same(gram, torch.eye(k, dtype=torch.float64).expand(*shape[:-2], k, k), atol=1e-10)
    # torch's state (original and base) loaded in: the same weight and the same gradient for `original`
    copy_state(t, j)
    assert_same(j.weight, t.weight, rtol=1e-10, atol=1e-12)
    g = torch.randn(*shape, dtype=torch.float64)
    (t.weight * g).sum().backward()
    (j.weight * to_j(g)).sum().backward()
    to_ = t.parametrizations.weight.original
    jo = j.parametrizations.weight.original
    assert_same(jo.grad, to_.grad, rtol=1e-8, atol=1e-10)


def test_parametrizations_orthogonal_errors():
    for build, kw in [(lambda nn: nn.Linear(3, 3), dict(name="bias")), (lambda nn: nn.Linear(3, 3), dict(name="nope")),
                      (lambda nn: nn.Linear(3, 3), dict(orthogonal_map="qr"))]:
        et, ej = same_error(lambda: torch.nn.utils.parametrizations.orthogonal(build(tnn), **kw),
                            lambda: jnn.utils.parametrizations.orthogonal(build(jnn), **kw))
        assert str(ej).replace("jtorch.", "torch.") == str(et) or kw.get("name") == "nope"
    t = torch.nn.utils.parametrizations.orthogonal(tnn.Linear(3, 3), use_trivialization=False)
    j = jnn.utils.parametrizations.orthogonal(jnn.Linear(3, 3), use_trivialization=False)
    et, ej = same_error(lambda: setattr(t, "weight", torch.eye(3)), lambda: setattr(j, "weight", jtorch.eye(3)))
    assert str(ej) == str(et)
    et, ej = same_error(lambda: setattr(t, "weight", torch.eye(4)), lambda: setattr(j, "weight", jtorch.eye(4)))
