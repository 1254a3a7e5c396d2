"""jtorch.optim.from_optax: an optax transformation as a torch-style optimizer, compared with torch's own."""
import copy

import numpy as np
import optax
import pytest
import torch

import jtorch
from oracle import to_j, assert_same
from test_optim import _problem, _loss


def _pair(tcls, tkw, transform):
    W, b, X, Y = _problem()
    tp = [W.clone().requires_grad_(), b.clone().requires_grad_()]
    jp = [to_j(W).requires_grad_(), to_j(b).requires_grad_()]
    return (tp, tcls(tp, **tkw), X, Y), (jp, jtorch.optim.from_optax(jp, transform), to_j(X), to_j(Y))


@pytest.mark.parametrize("tcls,tkw,transform", [
    (torch.optim.Adam, dict(lr=0.01), optax.inject_hyperparams(optax.adam)(learning_rate=0.01)),
    (torch.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True),
     optax.inject_hyperparams(optax.sgd)(learning_rate=0.05, momentum=0.9, nesterov=True)),
    (torch.optim.RMSprop, dict(lr=0.01, alpha=0.99, eps=1e-8),
     optax.inject_hyperparams(optax.rmsprop)(learning_rate=0.01, decay=0.99, eps=1e-8, eps_in_sqrt=False)),
])
def test_from_optax_matches_torch_with_scheduler(tcls, tkw, transform):
    (tp, to, X, Y), (jp, jo, jX, jY) = _pair(tcls, tkw, transform)
    assert jo.param_groups[0]["lr"] == pytest.approx(tkw["lr"])
    ts = torch.optim.lr_scheduler.StepLR(to, step_size=10, gamma=0.5)
    js = jtorch.optim.lr_scheduler.StepLR(jo, step_size=10, gamma=0.5)
    for i in range(40):
        for M, P, o, x, y in ((torch, tp, to, X, Y), (jtorch, jp, jo, jX, jY)):
            o.zero_grad()
            _loss(M, P, x, y).backward()
            o.step()
        ts.step()
        js.step()
        assert js.get_last_lr() == ts.get_last_lr()
        for a, c in zip(jp, tp):
            scale = float(c.abs().max())
            assert_same(a.detach(), c.detach(), rtol=2e-5, atol=2e-5 * scale, msg=f"step {i}")
    # the optax state holds the lr the last step used (before the last scheduler step)
    assert jo.state[jp[0]]["optax_state"].hyperparams["learning_rate"].item() == pytest.approx(tkw["lr"] * 0.5 ** 3)


def test_from_optax_state_dict_round_trip_and_identity():
    tr = optax.inject_hyperparams(optax.adamw)(learning_rate=0.01, weight_decay=0.1)
    W, b, X, Y = _problem()
    jp = [to_j(W).requires_grad_(), to_j(b).requires_grad_()]
    jp2 = [to_j(W).requires_grad_(), to_j(b).requires_grad_()]
    jX, jY = to_j(X), to_j(Y)
    o, o2 = jtorch.optim.from_optax(jp, tr), jtorch.optim.from_optax(jp2, tr)
    assert o.param_groups[0]["weight_decay"] == pytest.approx(0.1)
    ids = [id(p) for p in jp]
    for P, opt in ((jp, o), (jp2, o2)):
        for _ in range(3):
            opt.zero_grad()
            _loss(jtorch, P, jX, jY).backward()
            opt.step()
    sd = copy.deepcopy(o.state_dict())
    assert list(sd["state"].keys()) == [0] and sd["param_groups"][0]["params"] == [0, 1]
    o3 = jtorch.optim.from_optax(jp2, tr)
    o3.load_state_dict(sd)
    for opt, P in ((o, jp), (o3, jp2)):
        opt.param_groups[0]["lr"] = 0.02
        for _ in range(3):
            opt.zero_grad()
            _loss(jtorch, P, jX, jY).backward()
            opt.step()
    for a, c in zip(jp, jp2):
        np.testing.assert_allclose(np.asarray(a.detach()._value), np.asarray(c.detach()._value), rtol=1e-6)
    assert [id(p) for p in jp] == ids and all(p.is_leaf for p in jp)
    # a plain (non-injectable) transform works too, with no lr in the group
    o4 = jtorch.optim.from_optax(jp, optax.sgd(0.1))
    assert "lr" not in o4.param_groups[0]
    before = np.asarray(jp[0].detach()._value).copy()
    jp[0].grad = jtorch.ones(4, 3)
    jp[1].grad = None
    o4.step()
    np.testing.assert_allclose(np.asarray(jp[0].detach()._value), before - 0.1, rtol=1e-6)
