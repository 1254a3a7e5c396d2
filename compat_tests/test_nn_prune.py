"""nn.utils.prune against torch on the same weights: masks, forward values, grads w.r.t. weight_orig,
iterative pruning through PruningContainer, state_dict keys, remove(), random methods' mask
structure, and torch's exception types for bad arguments."""
import numpy as np
import pytest
import torch
import torch.nn.utils.prune as tprune

import jtorch
import jtorch.nn as jnn
import jtorch.nn.utils.prune as jprune
from oracle import to_j, to_np, assert_same, same_error


def _distinct(shape, seed):
    """Weights whose absolute values (and slice norms) are all distinct, so top-k has no ties."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    mags = (rng.permutation(n) + 1.0) / n
    signs = rng.choice([-1.0, 1.0], size=n)
    return torch.tensor((mags * signs).reshape(shape), dtype=torch.float32)


def _linear_pair(seed=0, fin=6, fout=5):
    t = torch.nn.Linear(fin, fout)
    with torch.no_grad():
        t.weight.copy_(_distinct((fout, fin), seed))
    j = jnn.Linear(fin, fout)
    j.load_state_dict({k: to_j(v) for k, v in t.state_dict().items()})
    return t, j


def _conv_pair(seed=0):
    t = torch.nn.Conv2d(3, 4, 3)
    with torch.no_grad():
        t.weight.copy_(_distinct(tuple(t.weight.shape), seed))
    j = jnn.Conv2d(3, 4, 3)
    j.load_state_dict({k: to_j(v) for k, v in t.state_dict().items()})
    return t, j


def _check_pruned(t, j, x, name="weight"):
    """Same mask, same pruned attribute, same forward, same grad w.r.t. name_orig, same state_dict."""
    assert_same(getattr(j, name + "_mask"), getattr(t, name + "_mask"), msg="mask")
    assert isinstance(getattr(j, name + "_orig"), jnn.Parameter)
    assert name not in dict(j.named_parameters())
    assert list(j.state_dict().keys()) == list(t.state_dict().keys())
    out_t, out_j = t(x), j(to_j(x))
    assert_same(out_j, out_t, msg="forward")
    (out_t ** 2).sum().backward()
    (out_j ** 2).sum().backward()
    assert_same(getattr(j, name + "_orig").grad, getattr(t, name + "_orig").grad, msg="grad orig")


def test_l1_unstructured_float_and_int_amount():
    x = torch.randn(4, 6)
    for amount in (0.3, 7, 0, 1.0):
        t, j = _linear_pair()
        assert tprune.l1_unstructured(t, "weight", amount=amount) is t
        assert jprune.l1_unstructured(j, "weight", amount=amount) is j
        _check_pruned(t, j, x)
        assert jprune.is_pruned(j) and tprune.is_pruned(t)
        assert not jprune.is_pruned(jnn.Linear(2, 2))


def test_l1_unstructured_importance_scores():
    t, j = _linear_pair()
    scores = _distinct((5, 6), 7)
    tprune.l1_unstructured(t, "weight", amount=0.5, importance_scores=scores)
    jprune.l1_unstructured(j, "weight", amount=0.5, importance_scores=to_j(scores))
    _check_pruned(t, j, torch.randn(2, 6))


@pytest.mark.parametrize("n,dim", [(2, 0), (1, 1), (float("inf"), -1)])
def test_ln_structured(n, dim):
    t, j = _conv_pair()
    tprune.ln_structured(t, "weight", amount=0.5, n=n, dim=dim)
    jprune.ln_structured(j, "weight", amount=0.5, n=n, dim=dim)
    _check_pruned(t, j, torch.randn(1, 3, 5, 5))


def test_custom_from_mask_and_identity():
    t, j = _linear_pair()
    mask = torch.rand(5, 6) > 0.4
    tprune.custom_from_mask(t, "weight", mask=mask)
    jprune.custom_from_mask(j, "weight", mask=to_j(mask))
    tprune.identity(t, "bias")
    jprune.identity(j, "bias")
    _check_pruned(t, j, torch.randn(3, 6))
    assert_same(j.bias_mask, t.bias_mask)
    assert_same(j.bias_orig.grad, t.bias_orig.grad)


def test_global_unstructured():
    t1, j1 = _linear_pair(1)
    t2, j2 = _linear_pair(2, 5, 3)
    tprune.l1_unstructured(t1, "weight", amount=4)  # an already-pruned entry joins the global pool
    jprune.l1_unstructured(j1, "weight", amount=4)
    tprune.global_unstructured([(t1, "weight"), (t2, "weight")], tprune.L1Unstructured, amount=0.4)
    jprune.global_unstructured([(j1, "weight"), (j2, "weight")], jprune.L1Unstructured, amount=0.4)
    x = torch.randn(2, 6)
    for t, j in ((t1, j1), (t2, j2)):
        assert_same(j.weight_mask, t.weight_mask)
    tm, jm = torch.nn.Sequential(t1, t2), jnn.Sequential(j1, j2)
    out_t, out_j = tm(x), jm(to_j(x))
    assert_same(out_j, out_t)
    out_t.sum().backward()
    out_j.sum().backward()
    assert_same(j1.weight_orig.grad, t1.weight_orig.grad)
    assert_same(j2.weight_orig.grad, t2.weight_orig.grad)
    assert isinstance(j1._forward_pre_hooks[next(iter(j1._forward_pre_hooks))], jprune.PruningContainer)
    same_error(lambda: tprune.global_unstructured([(t1, "weight")], tprune.LnStructured, amount=1, n=2),
               lambda: jprune.global_unstructured([(j1, "weight")], jprune.LnStructured, amount=1, n=2))


def test_iterative_pruning_uses_container():
    t, j = _conv_pair(3)
    tprune.l1_unstructured(t, "weight", amount=0.2)
    jprune.l1_unstructured(j, "weight", amount=0.2)
    tprune.ln_structured(t, "weight", amount=1, n=2, dim=0)
    jprune.ln_structured(j, "weight", amount=1, n=2, dim=0)
    tprune.l1_unstructured(t, "weight", amount=10)  # counted among the entries still unpruned
    jprune.l1_unstructured(j, "weight", amount=10)
    hooks = [h for h in j._forward_pre_hooks.values() if isinstance(h, jprune.BasePruningMethod)]
    assert len(hooks) == 1 and isinstance(hooks[0], jprune.PruningContainer) and len(hooks[0]) == 3
    assert [type(m).__name__ for m in hooks[0]] == ["L1Unstructured", "LnStructured", "L1Unstructured"]
    _check_pruned(t, j, torch.randn(1, 3, 5, 5))


def test_remove_makes_pruning_permanent():
    t, j = _linear_pair()
    for m, p in ((t, tprune), (j, jprune)):
        p.l1_unstructured(m, "weight", amount=0.5)
        p.random_unstructured(m, "bias", amount=2)
    orig_j = j.weight_orig
    tprune.remove(t, "weight")
    jprune.remove(j, "weight")
    assert j.weight is orig_j and isinstance(j.weight, jnn.Parameter)
    assert list(j.state_dict().keys()) == list(t.state_dict().keys())
    assert [n for n, _ in j.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert_same(j.weight, t.weight)
    jprune.remove(j, "bias")
    assert not jprune.is_pruned(j) and not j._forward_pre_hooks
    assert int((j.bias == 0).sum()) >= 2
    same_error(lambda: tprune.remove(t, "weight"), lambda: jprune.remove(j, "weight"))


def test_random_methods_mask_structure():
    t, j = _conv_pair()
    for m, p in ((t, tprune), (j, jprune)):
        p.random_unstructured(m, "bias", amount=0.5)
        p.random_structured(m, "weight", amount=2, dim=1)
    assert int(j.bias_mask.sum()) == int(t.bias_mask.sum()) == 2
    wm = to_np(j.weight_mask)
    kept = wm.sum(axis=(0, 2, 3))
    assert sorted(kept.tolist()) == sorted(t.weight_mask.sum(dim=(0, 2, 3)).tolist())
    assert set(np.unique(wm).tolist()) == {0.0, 1.0} and (wm == wm[:1, :, :1, :1]).all()
    x = torch.randn(1, 3, 5, 5)
    expected = jnn.functional.conv2d(to_j(x), j.weight_orig * j.weight_mask, j.bias_orig * j.bias_mask)
    np.testing.assert_allclose(to_np(j(to_j(x))), to_np(expected), rtol=1e-6, atol=1e-6)


def test_prune_method_and_compute_mask():
    w = _distinct((4, 5), 4)
    mt = tprune.L1Unstructured(amount=0.4).prune(w)
    mj = jprune.L1Unstructured(amount=0.4).prune(to_j(w))
    assert_same(mj, mt)
    dm = (torch.rand(4, 5) > 0.3).float()
    assert_same(jprune.LnStructured(1, n=1, dim=0).compute_mask(to_j(w), to_j(dm)),
                tprune.LnStructured(1, n=1, dim=0).compute_mask(w, dm))
    assert jprune.LnStructured.PRUNING_TYPE == "structured"
    assert jprune.CustomFromMask.PRUNING_TYPE == "global"
    assert jprune.Identity.PRUNING_TYPE == "unstructured"


@pytest.mark.parametrize("amount", [-1, 1.5, -0.1, "a", 31, 0.5])
def test_bad_amount_and_arguments(amount):
    t, j = _linear_pair()
    if amount == 0.5:  # valid amount; a structured method on a 1-D tensor is rejected instead
        same_error(lambda: tprune.ln_structured(t, "bias", amount=amount, n=2, dim=0),
                   lambda: jprune.ln_structured(j, "bias", amount=amount, n=2, dim=0))
        same_error(lambda: tprune.ln_structured(t, "weight", amount=amount, n=2, dim=2),
                   lambda: jprune.ln_structured(j, "weight", amount=amount, n=2, dim=2))
        same_error(lambda: tprune.l1_unstructured(t, "weight", amount, importance_scores=torch.ones(2)),
                   lambda: jprune.l1_unstructured(j, "weight", amount, importance_scores=jtorch.ones(2)))
    else:
        same_error(lambda: tprune.l1_unstructured(t, "weight", amount=amount),
                   lambda: jprune.l1_unstructured(j, "weight", amount=amount))
        same_error(lambda: tprune.random_structured(t, "weight", amount=amount, dim=0),
                   lambda: jprune.random_structured(j, "weight", amount=amount, dim=0))
    # A failed first pruning restores the parameter (torch re-registers it last, so order follows torch).
    assert list(j.state_dict().keys()) == list(t.state_dict().keys())
    assert sorted(j.state_dict().keys()) == ["bias", "weight"]
    assert isinstance(j.weight, jnn.Parameter) and not jprune.is_pruned(j)
