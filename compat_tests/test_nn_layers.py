"""Every core layer built in torch and jtorch with torch's weights copied in (state_dict keys must match):
outputs, input gradients and parameter gradients in train and eval mode; running statistics; default
init statistics; torch's errors for bad input."""
import math

import numpy as np
import pytest
import torch

import jtorch
import jtorch.nn as jnn
from oracle import to_j, assert_same, same_error

torch.manual_seed(0)
X3 = torch.randn(2, 3, 4)


def _perturb(tm):
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in tm.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5 + p)


def check(build, *inputs, modes=(True, False), atol=2e-5, rtol=1e-5, perturb=True, steps=1):
    """build(nn) -> module; inputs: torch tensors (float ones get gradients)."""
    tm = build(torch.nn)
    jm = build(jnn)
    if perturb:
        _perturb(tm)
    tsd = tm.state_dict()
    jsd = jm.state_dict()
    assert list(jsd) == list(tsd), (list(jsd), list(tsd))
    for k in tsd:
        assert tuple(jsd[k].shape) == tuple(tsd[k].shape), k
        assert jsd[k].dtype is to_j(tsd[k]).dtype, k
    res = jm.load_state_dict({k: to_j(v) for k, v in tsd.items()})
    assert repr(res) == "<All keys matched successfully>"
    assert repr(jm) == repr(tm)
    for train in modes:
        tm.train(train)
        jm.train(train)
        for _ in range(steps):
            ti = [x.clone().requires_grad_(x.is_floating_point()) for x in inputs]
            ji = [to_j(x).requires_grad_(x.is_floating_point()) for x in inputs]
            yt = tm(*ti)
            yj = jm(*ji)
            assert_same(yj, yt, atol=atol, rtol=rtol, msg=f"output train={train}")
            w = torch.linspace(-1, 1, yt.numel()).reshape(yt.shape).to(yt.dtype)
            (yt * w).sum().backward()
            (yj * to_j(w)).sum().backward()
            for a, b in zip(ji, ti):
                if b.grad is not None:
                    assert_same(a.grad, b.grad, atol=atol, rtol=rtol, msg=f"input grad train={train}")
            for (n, pt), (_, pj) in zip(tm.named_parameters(), jm.named_parameters()):
                if pt.grad is None:
                    assert pj.grad is None, n
                else:
                    assert_same(pj.grad, pt.grad, atol=atol, rtol=rtol, msg=f"grad {n} train={train}")
            for (n, bt), (_, bj) in zip(tm.named_buffers(), jm.named_buffers()):
                assert_same(bj, bt, atol=atol, rtol=rtol, msg=f"buffer {n} train={train}")
            tm.zero_grad()
            jm.zero_grad()
    return tm, jm


ACTS = [
    lambda nn: nn.ReLU(), lambda nn: nn.ReLU6(), lambda nn: nn.LeakyReLU(0.2), lambda nn: nn.PReLU(),
    lambda nn: nn.PReLU(3), lambda nn: nn.ELU(0.5), lambda nn: nn.SELU(), lambda nn: nn.CELU(0.7),
    lambda nn: nn.GELU(), lambda nn: nn.GELU("tanh"), lambda nn: nn.SiLU(), lambda nn: nn.Mish(),
    lambda nn: nn.Sigmoid(), lambda nn: nn.Tanh(), lambda nn: nn.Softplus(2.0, 1.0), lambda nn: nn.Softsign(),
    lambda nn: nn.Softshrink(0.3), lambda nn: nn.Hardshrink(0.3), lambda nn: nn.Tanhshrink(),
    lambda nn: nn.Hardtanh(-0.5, 0.7), lambda nn: nn.Hardsigmoid(), lambda nn: nn.Hardswish(),
    lambda nn: nn.LogSigmoid(), lambda nn: nn.Softmax(1), lambda nn: nn.LogSoftmax(-1), lambda nn: nn.Softmin(1),
    lambda nn: nn.Softmax2d(), lambda nn: nn.GLU(2), lambda nn: nn.Threshold(0.1, 20.0), lambda nn: nn.Identity(),
    lambda nn: nn.Flatten(), lambda nn: nn.Flatten(0, 1), lambda nn: nn.Unflatten(2, (2, 2)),
]


@pytest.mark.parametrize("i", range(len(ACTS)))
def test_activation(i):
    check(ACTS[i], X3, modes=(True,))


def test_inplace_activations_on_nonleaf():
    for build in (lambda nn: nn.ReLU(inplace=True), lambda nn: nn.LeakyReLU(0.1, inplace=True),
                  lambda nn: nn.ELU(inplace=True), lambda nn: nn.Hardtanh(inplace=True),
                  lambda nn: nn.SiLU(inplace=True)):
        xt = X3.clone().requires_grad_(True)
        xj = to_j(X3).requires_grad_(True)
        yt = build(torch.nn)(xt * 1.0)
        yj = build(jnn)(xj * 1.0)
        assert_same(yj, yt)
        yt.sum().backward()
        yj.sum().backward()
        assert_same(xj.grad, xt.grad)


def test_rrelu_eval_and_train_bounds():
    check(lambda nn: nn.RReLU(0.1, 0.3), X3, modes=(False,))
    m = jnn.RReLU(0.1, 0.3)
    x = -jtorch.ones(1000)
    y = m(x)
    assert float(y.max()) <= -0.1 + 1e-6 and float(y.min()) >= -0.3 - 1e-6
    assert abs(float(y.mean()) + 0.2) < 0.02


def test_linear_family():
    check(lambda nn: nn.Linear(4, 3), X3)
    check(lambda nn: nn.Linear(4, 3, bias=False), X3[0])
    check(lambda nn: nn.Linear(4, 3), X3[0, 0])
    check(lambda nn: nn.Bilinear(4, 4, 2), X3, X3 * 0.5)


def test_linear_errors():
    et, ej = same_error(lambda: torch.nn.Linear(5, 2)(torch.ones(4, 3)), lambda: jnn.Linear(5, 2)(jtorch.ones(4, 3)))
    assert str(et) == str(ej)
    et, ej = same_error(lambda: torch.nn.Linear(5, 2)(torch.ones(2, 4, 3)),
                        lambda: jnn.Linear(5, 2)(jtorch.ones(2, 4, 3)))
    assert str(et) == str(ej)
    same_error(lambda: torch.nn.Linear(3, 2)(torch.ones(4, 3, dtype=torch.float64)),
               lambda: jnn.Linear(3, 2)(jtorch.ones(4, 3, dtype=jtorch.float64)))


def test_norm_layers():
    check(lambda nn: nn.LayerNorm(4), X3)
    check(lambda nn: nn.LayerNorm((3, 4), elementwise_affine=False), X3)
    check(lambda nn: nn.LayerNorm(4, bias=False, eps=1e-3), X3)
    check(lambda nn: nn.GroupNorm(3, 3), X3)
    check(lambda nn: nn.GroupNorm(1, 3, affine=False), X3)
    check(lambda nn: nn.RMSNorm(4), X3)
    check(lambda nn: nn.RMSNorm((3, 4), eps=1e-3, elementwise_affine=False), X3)
    check(lambda nn: nn.LocalResponseNorm(2), X3)
    check(lambda nn: nn.LocalResponseNorm(3, alpha=0.1, beta=0.5, k=2.0), torch.randn(2, 5, 2, 2))


def test_norm_errors():
    et, ej = same_error(lambda: torch.nn.LayerNorm(5)(torch.ones(2, 4)), lambda: jnn.LayerNorm(5)(jtorch.ones(2, 4)))
    assert str(et) == str(ej)
    same_error(lambda: torch.nn.GroupNorm(2, 4)(torch.ones(2, 3, 2)), lambda: jnn.GroupNorm(2, 4)(jtorch.ones(2, 3, 2)))
    same_error(lambda: torch.nn.GroupNorm(2, 3), lambda: jnn.GroupNorm(2, 3))


_LP = [torch.bfloat16, torch.float16, torch.float32, torch.float64]


@pytest.mark.parametrize("xd", _LP)
@pytest.mark.parametrize("wd", _LP)
def test_layer_norm_rms_norm_mixed_param_dtypes(xd, wd):
    """A half/bfloat16 input with float32 parameters (a bf16 activation meeting an fp32 LayerNorm,
    e.g. under CPU autocast) keeps the input's dtype; other mixes raise torch's errors. rms_norm
    always returns the input's dtype, computing half types in float32 with float32's eps."""
    import warnings
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 6, generator=g).to(xd)
    w = (torch.rand(6, generator=g) + 0.5).to(wd)
    b = (torch.rand(6, generator=g) - 0.5).to(wd)
    cases = [lambda F, x, w, b: F.layer_norm(x, (6,), w, b), lambda F, x, w, b: F.layer_norm(x, (6,), None, b),
             lambda F, x, w, b: F.layer_norm(x, (6,), w, b.to(x.dtype)),
             lambda F, x, w, b: F.rms_norm(x, (6,), w), lambda F, x, w, b: F.rms_norm(x, (6,))]
    for fn in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # torch: "Mismatch dtype ... fused implementation"
            try:
                rt = fn(torch.nn.functional, x, w, b)
            except RuntimeError as e:
                ej = same_error(lambda: fn(torch.nn.functional, x, w, b),
                                lambda: fn(jnn.functional, to_j(x), to_j(w), to_j(b)))[1]
                assert str(ej) == str(e)
                continue
            rj = fn(jnn.functional, to_j(x), to_j(w), to_j(b))
        assert_same(rj, rt)


def test_batchnorm_running_stats():
    x = torch.randn(4, 3, 5)
    check(lambda nn: nn.BatchNorm1d(3), x, steps=3)
    check(lambda nn: nn.BatchNorm1d(3), x[:, :, 0], steps=2)
    check(lambda nn: nn.BatchNorm1d(3, momentum=None), x, steps=3)
    check(lambda nn: nn.BatchNorm1d(3, momentum=0.3, affine=False, eps=1e-3), x, steps=2)
    check(lambda nn: nn.BatchNorm1d(3, track_running_stats=False), x, steps=2)
    check(lambda nn: nn.BatchNorm2d(3), torch.randn(2, 3, 2, 2), steps=2)
    check(lambda nn: nn.BatchNorm3d(3), torch.randn(2, 3, 2, 1, 2), steps=1)


def test_batchnorm_errors():
    et, ej = same_error(lambda: torch.nn.BatchNorm1d(3)(torch.ones(1, 3)), lambda: jnn.BatchNorm1d(3)(jtorch.ones(1, 3)))
    assert str(et) == str(ej)
    et, ej = same_error(lambda: torch.nn.BatchNorm2d(3)(torch.ones(2, 3)), lambda: jnn.BatchNorm2d(3)(jtorch.ones(2, 3)))
    assert str(et) == str(ej)
    t, j = torch.nn.BatchNorm1d(3), jnn.BatchNorm1d(3)
    et, ej = same_error(lambda: t.load_state_dict({**t.state_dict(), "running_mean": torch.zeros(4)}),
                        lambda: j.load_state_dict({**j.state_dict(), "running_mean": jtorch.zeros(4)}))
    assert str(et) == str(ej)


def test_syncbatchnorm_single_process():
    tm = torch.nn.BatchNorm2d(3)
    j = jnn.SyncBatchNorm.convert_sync_batchnorm(jnn.Sequential(jnn.BatchNorm2d(3)))
    assert isinstance(j[0], jnn.SyncBatchNorm)
    x = torch.randn(2, 3, 2, 2)
    assert_same(j(to_j(x)), tm(x).detach(), atol=1e-5)
    assert_same(j[0].running_var, tm.running_var, atol=1e-6)


def test_instance_norm():
    x = torch.randn(2, 3, 5)
    check(lambda nn: nn.InstanceNorm1d(3), x)
    check(lambda nn: nn.InstanceNorm1d(3, affine=True, track_running_stats=True), x, steps=2)
    check(lambda nn: nn.InstanceNorm1d(3), x[0])
    check(lambda nn: nn.InstanceNorm2d(3, affine=True), torch.randn(2, 3, 2, 3))


def test_dropout_family_statistics():
    x = jtorch.ones(20000)
    for p in (0.2, 0.5):
        m = jnn.Dropout(p)
        y = m(x)
        kept = float((y != 0).float().mean())
        assert abs(kept - (1 - p)) < 0.02
        np.testing.assert_allclose(float(y.max()), 1 / (1 - p), rtol=1e-6)
        m.eval()
        assert m(x) is x
    assert float(jnn.Dropout(1.0)(x).abs().sum()) == 0.0
    y = jnn.Dropout2d(0.5)(jtorch.ones(200, 50, 2, 2))
    per_channel = y.reshape(200, 50, 4)
    assert bool((per_channel.min(-1).values == per_channel.max(-1).values).all())
    assert abs(float((y != 0).float().mean()) - 0.5) < 0.03
    y = jnn.Dropout1d(0.5)(jtorch.ones(50, 3))
    assert bool(((y == 0) | (y == 2)).all())
    y = jnn.AlphaDropout(0.3)(jtorch.randn(50000))
    assert abs(float(y.mean())) < 0.03 and abs(float(y.std()) - 1) < 0.03
    y = jnn.FeatureAlphaDropout(0.3)(jtorch.randn(500, 40, 4))
    assert abs(float(y.mean())) < 0.05
    # gradients flow through the kept units with the same scale
    xg = jtorch.ones(1000, requires_grad=True)
    jnn.Dropout(0.5)(xg).sum().backward()
    assert set(np.unique(xg.grad.numpy()).tolist()) <= {0.0, 2.0}
    same_error(lambda: torch.nn.Dropout(1.5), lambda: jnn.Dropout(1.5))
    assert repr(jnn.Dropout(0.3, inplace=True)) == repr(torch.nn.Dropout(0.3, inplace=True))
    et, ej = same_error(lambda: torch.nn.functional.dropout1d(torch.ones(2), 0.5),
                        lambda: jnn.functional.dropout1d(jtorch.ones(2), 0.5))
    assert str(et) == str(ej)


def test_embedding():
    idx = torch.tensor([[1, 2, 0], [3, 0, 9]])
    check(lambda nn: nn.Embedding(10, 4), idx)
    _, jm = check(lambda nn: nn.Embedding(10, 4, padding_idx=0), idx, perturb=False)
    check(lambda nn: nn.Embedding(10, 4, scale_grad_by_freq=True), torch.tensor([1, 1, 2, 1]))
    tm, jm = check(lambda nn: nn.Embedding(10, 4, max_norm=1.0), idx)
    assert_same(jm.weight, tm.weight, atol=1e-5)
    w = torch.randn(5, 3)
    assert_same(jnn.Embedding.from_pretrained(to_j(w))(to_j(torch.tensor([4, 0]))),
                torch.nn.Embedding.from_pretrained(w)(torch.tensor([4, 0])))
    assert not jnn.Embedding.from_pretrained(to_j(w)).weight.requires_grad
    e = jnn.Embedding(6, 3, padding_idx=-1)
    assert e.padding_idx == 5 and float(e.weight[5].abs().sum()) == 0.0
    same_error(lambda: torch.nn.Embedding(3, 2)(torch.ones(2)), lambda: jnn.Embedding(3, 2)(jtorch.ones(2)))


def test_embedding_bag():
    inp = torch.tensor([1, 2, 4, 5, 4, 3, 2, 9])
    offs = torch.tensor([0, 3, 3, 6])
    for mode in ("sum", "mean", "max"):
        tm = torch.nn.EmbeddingBag(10, 3, mode=mode)
        jm = jnn.EmbeddingBag(10, 3, mode=mode)
        jm.load_state_dict({k: to_j(v) for k, v in tm.state_dict().items()})
        assert repr(jm) == repr(tm)
        yt, yj = tm(inp, offs), jm(to_j(inp), to_j(offs))
        assert_same(yj, yt, atol=1e-6)
        yt.sum().backward()
        yj.sum().backward()
        assert_same(jm.weight.grad, tm.weight.grad, atol=1e-6)
    tm = torch.nn.EmbeddingBag(10, 3, mode="sum", padding_idx=2)
    jm = jnn.EmbeddingBag(10, 3, mode="sum", padding_idx=2)
    jm.load_state_dict({k: to_j(v) for k, v in tm.state_dict().items()})
    psw = torch.rand(8)
    assert_same(jm(to_j(inp), to_j(offs), to_j(psw)), tm(inp, offs, psw), atol=1e-6)
    two_d = torch.tensor([[1, 2], [3, 4]])
    assert_same(jm(to_j(two_d)), tm(two_d), atol=1e-6)
    tm = torch.nn.EmbeddingBag(10, 3, include_last_offset=True)
    jm = jnn.EmbeddingBag(10, 3, include_last_offset=True)
    jm.load_state_dict({k: to_j(v) for k, v in tm.state_dict().items()})
    assert_same(jm(to_j(inp), to_j(torch.tensor([0, 3, 8]))), tm(inp, torch.tensor([0, 3, 8])), atol=1e-6)


def test_distance_modules():
    a, b = torch.randn(3, 4), torch.randn(3, 4)
    check(lambda nn: nn.CosineSimilarity(), a, b)
    check(lambda nn: nn.CosineSimilarity(dim=0, eps=1e-3), a, b)
    check(lambda nn: nn.PairwiseDistance(), a, b)
    check(lambda nn: nn.PairwiseDistance(p=1.0, keepdim=True), a, b)
    check(lambda nn: nn.PairwiseDistance(p=3.0), a[0], b[0])


def test_float64_module():
    check(lambda nn: nn.Sequential(nn.Linear(4, 3), nn.GELU(), nn.LayerNorm(3)).double(), X3.double())


def test_small_gpt_block_state_dict():
    def build(nn):
        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.emb = nn.Embedding(11, 8)
                self.ln1 = nn.LayerNorm(8)
                self.qkv = nn.Linear(8, 24)
                self.proj = nn.Linear(8, 8)
                self.ln2 = nn.LayerNorm(8)
                self.mlp = nn.Sequential(nn.Linear(8, 16), nn.GELU(approximate="tanh"), nn.Linear(16, 8),
                                         nn.Dropout(0.0))
                self.head = nn.Linear(8, 11, bias=False)
                self.head.weight = self.emb.weight

            def forward(self, idx):
                x = self.emb(idx)
                q, k, v = self.qkv(self.ln1(x)).chunk(3, dim=-1)
                att = (q @ k.transpose(-2, -1)) / math.sqrt(8)
                att = att.softmax(-1)
                x = x + self.proj(att @ v)
                x = x + self.mlp(self.ln2(x))
                return self.head(x)
        return build_inner(Block)

    def build_inner(cls):
        return cls()
    check(build, torch.tensor([[1, 2, 3, 4], [5, 6, 7, 10]]), atol=5e-5)


def test_default_init_statistics():
    """Each layer's default init draws from torch's distributions (bounds, mean, std over many params)."""
    torch.manual_seed(0)
    jtorch.manual_seed(0)
    cases = [(lambda nn: nn.Linear(50, 400), ["weight", "bias"]),
             (lambda nn: nn.Bilinear(20, 30, 40), ["weight", "bias"]),
             (lambda nn: nn.Embedding(300, 40), ["weight"]),
             (lambda nn: nn.PReLU(5), ["weight"]),
             (lambda nn: nn.LayerNorm(7), ["weight", "bias"]),
             (lambda nn: nn.BatchNorm1d(7), ["weight", "bias"])]
    for build, names in cases:
        tm, jm = build(torch.nn), build(jnn)
        for n in names:
            t = getattr(tm, n).detach().numpy().ravel()
            j = getattr(jm, n).detach().numpy().ravel()
            assert j.dtype == t.dtype
            n_el = t.size
            tol = 4 * (t.std() + 1e-12) / math.sqrt(n_el) + 1e-7
            assert abs(j.mean() - t.mean()) < tol + 1e-6, (n, j.mean(), t.mean())
            if t.std() > 0:
                assert abs(j.std() / t.std() - 1) < 0.1, (n, j.std(), t.std())
            if type(tm).__name__ in ("Linear", "Bilinear"):  # uniform: the same bounds
                bound = 1 / math.sqrt(tm.weight.shape[1])
                assert -bound <= j.min() and j.max() <= bound and j.max() > 0.95 * bound


def test_functional_softmax_family_and_misc():
    F, TF = jnn.functional, torch.nn.functional
    x = X3
    for name in ("softmax", "log_softmax", "softmin"):
        assert_same(getattr(F, name)(to_j(x), dim=1), getattr(TF, name)(x, dim=1))
    with pytest.warns(UserWarning):
        assert_same(F.softmax(to_j(x)), TF.softmax(x, dim=0))
    assert_same(F.softmax(to_j(x), 1, dtype=jtorch.float64), TF.softmax(x, 1, dtype=torch.float64))
    assert_same(jtorch.softmax(to_j(x), -1), torch.softmax(x, -1))
    assert_same(to_j(x).log_softmax(2), x.log_softmax(2))
    assert_same(F.normalize(to_j(x), dim=-1), TF.normalize(x, dim=-1))
    assert_same(F.normalize(to_j(x), p=1.0, dim=0), TF.normalize(x, p=1.0, dim=0))
    idx = torch.tensor([0, 3, 1])
    assert_same(F.one_hot(to_j(idx)), TF.one_hot(idx))
    assert_same(F.one_hot(to_j(idx), 5), TF.one_hot(idx, 5))
    assert_same(F.pdist(to_j(x[0])), TF.pdist(x[0]))
    assert_same(F.relu6(to_j(x) * 10), TF.relu6(x * 10))
    assert_same(jtorch.relu(to_j(x)), torch.relu(x))
    g = F.gumbel_softmax(to_j(x), tau=0.5, hard=True)
    assert bool((g.sum(-1) == 1).all()) and set(np.unique(g.numpy()).tolist()) <= {0.0, 1.0}
    s = F.gumbel_softmax(to_j(x))
    np.testing.assert_allclose(s.sum(-1).numpy(), 1, rtol=1e-5)
    et, ej = same_error(lambda: TF.glu(torch.ones(3, 3), 1), lambda: F.glu(jtorch.ones(3, 3), 1))
    assert str(et) == str(ej)
