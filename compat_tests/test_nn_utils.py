"""nn.utils against torch: gradient clipping (all norms, foreach, non-finite errors), parameter/vector
conversion, parametrizations (weight_norm, spectral_norm) with torch's state_dict keys, the deprecated
hook-based weight_norm/spectral_norm, functional_call."""
import math

import numpy as np
import pytest
import torch

import jtorch
import jtorch.nn as jnn
from oracle import to_j, assert_same, same_error


def _pair_with_grads():
    torch.manual_seed(0)
    t = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))
    j = jnn.Sequential(jnn.Linear(4, 5), jnn.Tanh(), jnn.Linear(5, 2))
    j.load_state_dict({k: to_j(v) for k, v in t.state_dict().items()})
    x = torch.randn(3, 4) * 3
    (t(x) ** 2).sum().backward()
    (j(to_j(x)) ** 2).sum().backward()
    return t, j


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
def test_clip_grad_norm(norm_type):
    for max_norm in (0.5, 1e6):
        t, j = _pair_with_grads()
        nt = torch.nn.utils.clip_grad_norm_(t.parameters(), max_norm, norm_type)
        nj = jnn.utils.clip_grad_norm_(j.parameters(), max_norm, norm_type, foreach=True)
        assert_same(nj, nt, rtol=1e-5)
        for pt, pj in zip(t.parameters(), j.parameters()):
            assert_same(pj.grad, pt.grad, rtol=1e-5, atol=1e-6)


def test_clip_grad_norm_single_tensor_and_empty():
    p = jnn.Parameter(jtorch.ones(3))
    p.grad = jtorch.full((3,), 4.0)
    n = jnn.utils.clip_grad_norm_(p, 1.0)
    tp = torch.nn.Parameter(torch.ones(3))
    tp.grad = torch.full((3,), 4.0)
    assert_same(n, torch.nn.utils.clip_grad_norm_(tp, 1.0))
    assert_same(p.grad, tp.grad)
    assert_same(jnn.utils.clip_grad_norm_([], 1.0), torch.nn.utils.clip_grad_norm_([], 1.0))


def test_clip_grad_norm_nonfinite():
    for lib, nn in ((torch, torch.nn), (jtorch, jnn)):
        p = nn.Parameter(lib.ones(2))
        p.grad = lib.tensor([float("inf"), 1.0])
        assert math.isinf(float(nn.utils.clip_grad_norm_([p], 1.0)))
    tp = torch.nn.Parameter(torch.ones(2))
    tp.grad = torch.tensor([float("nan"), 1.0])
    jp = jnn.Parameter(jtorch.ones(2))
    jp.grad = jtorch.tensor([float("nan"), 1.0])
    et, ej = same_error(lambda: torch.nn.utils.clip_grad_norm_([tp], 1.0, error_if_nonfinite=True),
                        lambda: jnn.utils.clip_grad_norm_([jp], 1.0, error_if_nonfinite=True))
    assert str(et) == str(ej)


def test_clip_grad_value_and_total_norm():
    t, j = _pair_with_grads()
    torch.nn.utils.clip_grad_value_(t.parameters(), 0.3)
    jnn.utils.clip_grad_value_(j.parameters(), 0.3)
    for pt, pj in zip(t.parameters(), j.parameters()):
        assert_same(pj.grad, pt.grad)
    grads_t = [p.grad for p in t.parameters()]
    grads_j = [p.grad for p in j.parameters()]
    assert_same(jnn.utils.get_total_norm(grads_j, 2.0), torch.nn.utils.get_total_norm(grads_t, 2.0), rtol=1e-5)


def test_parameters_vector_roundtrip():
    t, j = _pair_with_grads()
    vt = torch.nn.utils.parameters_to_vector(t.parameters())
    vj = jnn.utils.parameters_to_vector(j.parameters())
    assert_same(vj, vt)
    ps = list(j.parameters())
    jnn.utils.vector_to_parameters(vj * 2, j.parameters())
    torch.nn.utils.vector_to_parameters(vt * 2, t.parameters())
    assert all(a is b for a, b in zip(ps, j.parameters()))
    for pt, pj in zip(t.parameters(), j.parameters()):
        assert_same(pj, pt)
    same_error(lambda: torch.nn.utils.vector_to_parameters([1], t.parameters()),
               lambda: jnn.utils.vector_to_parameters([1], j.parameters()))


def _load_and_compare(tm, jm, x, train_steps=1):
    sd = tm.state_dict()
    assert list(jm.state_dict()) == list(sd)
    jm.load_state_dict({k: to_j(v) for k, v in sd.items()})
    for _ in range(train_steps):
        xt = x.clone().requires_grad_(True)
        xj = to_j(x).requires_grad_(True)
        yt, yj = tm(xt), jm(xj)
        assert_same(yj, yt, atol=1e-5)
        yt.sum().backward()
        yj.sum().backward()
        assert_same(xj.grad, xt.grad, atol=1e-5)
        for (n, pt), (_, pj) in zip(tm.named_parameters(), jm.named_parameters()):
            assert_same(pj.grad, pt.grad, atol=1e-5, msg=n)
        for (n, bt), (_, bj) in zip(tm.named_buffers(), jm.named_buffers()):
            assert_same(bj, bt, atol=1e-5, msg=n)
        tm.zero_grad()
        jm.zero_grad()


def test_parametrizations_weight_norm():
    tm = torch.nn.utils.parametrizations.weight_norm(torch.nn.Linear(4, 3))
    jm = jnn.utils.parametrizations.weight_norm(jnn.Linear(4, 3))
    assert repr(jm) == repr(tm)
    _load_and_compare(tm, jm, torch.randn(2, 4))
    tm = torch.nn.utils.parametrizations.weight_norm(torch.nn.Linear(4, 3), dim=None)
    jm = jnn.utils.parametrizations.weight_norm(jnn.Linear(4, 3), dim=None)
    _load_and_compare(tm, jm, torch.randn(2, 4))
    # remove keeps the current weight
    w = jm.weight.detach().numpy()
    jnn.utils.parametrize.remove_parametrizations(jm, "weight")
    assert type(jm) is jnn.Linear and isinstance(jm.weight, jnn.Parameter)
    np.testing.assert_allclose(jm.weight.detach().numpy(), w, rtol=1e-6)


def test_parametrizations_spectral_norm():
    tm = torch.nn.utils.parametrizations.spectral_norm(torch.nn.Linear(4, 3))
    jm = jnn.utils.parametrizations.spectral_norm(jnn.Linear(4, 3))
    _load_and_compare(tm, jm, torch.randn(2, 4), train_steps=2)
    tm.eval()
    jm.eval()
    _load_and_compare(tm, jm, torch.randn(2, 4), train_steps=1)
    # the spectral norm of the effective weight is ~1 after a few power iterations
    jm.train()
    for _ in range(30):
        jm(jtorch.ones(1, 4))
    s = np.linalg.svd(jm.weight.detach().numpy(), compute_uv=False)
    assert abs(s[0] - 1) < 1e-3


def test_register_parametrization_custom():
    class Sym(jnn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).transpose(0, 1)

        def right_inverse(self, A):
            return A.triu()

    class TSym(torch.nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).transpose(0, 1)

        def right_inverse(self, A):
            return A.triu()
    tm = torch.nn.Linear(3, 3)
    jm = jnn.Linear(3, 3)
    torch.nn.utils.parametrize.register_parametrization(tm, "weight", TSym())
    jnn.utils.parametrize.register_parametrization(jm, "weight", Sym())
    assert jnn.utils.parametrize.is_parametrized(jm) and jnn.utils.parametrize.is_parametrized(jm, "weight")
    assert jnn.utils.parametrize.type_before_parametrizations(jm) is jnn.Linear
    assert [n for n, _ in jm.named_parameters()] == [n for n, _ in tm.named_parameters()]
    _load_and_compare(tm, jm, torch.randn(2, 3))
    w = jm.weight.numpy(force=True) if hasattr(jm.weight, "numpy") else None
    np.testing.assert_allclose(w, w.T)
    # assignment goes through right_inverse
    jm.weight = jtorch.arange(9.).reshape(3, 3)
    np.testing.assert_allclose(jm.parametrizations.weight.original.detach().numpy(),
                               np.triu(np.arange(9.).reshape(3, 3)))
    with jnn.utils.parametrize.cached():
        assert jm.weight is jm.weight


def test_deprecated_weight_norm_and_spectral_norm():
    tm = torch.nn.utils.weight_norm(torch.nn.Linear(4, 3))
    jm = jnn.utils.weight_norm(jnn.Linear(4, 3))
    _load_and_compare(tm, jm, torch.randn(2, 4))
    jnn.utils.remove_weight_norm(jm)
    assert list(jm.state_dict()) == ["bias", "weight"]
    tm = torch.nn.utils.spectral_norm(torch.nn.Linear(4, 3))
    jm = jnn.utils.spectral_norm(jnn.Linear(4, 3))
    _load_and_compare(tm, jm, torch.randn(2, 4), train_steps=2)


def test_functional_call():
    t, j = _pair_with_grads()
    x = torch.randn(2, 4)
    new_t = {k: v * 2 for k, v in t.state_dict().items()}
    new_j = {k: to_j(v) for k, v in new_t.items()}
    yt = torch.func.functional_call(t, new_t, (x,))
    yj = jnn.utils.stateless.functional_call(j, new_j, (to_j(x),))
    assert_same(yj, yt, atol=1e-5)
    # the module's own parameters are restored afterwards
    assert_same(j(to_j(x)), t(x), atol=1e-5)
    # gradients flow to the given tensors
    w = to_j(new_t["0.weight"]).requires_grad_(True)
    jnn.utils.stateless.functional_call(j, {"0.weight": w}, to_j(x)).sum().backward()
    assert w.grad is not None and tuple(w.grad.shape) == (5, 4)
    with pytest.raises(RuntimeError):
        jnn.utils.stateless.functional_call(j, {"nope": w}, (to_j(x),), strict=True)
