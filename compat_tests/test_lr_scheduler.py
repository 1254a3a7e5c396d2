"""jtorch.optim.lr_scheduler against torch's: 300 steps of the same lr (and momentum) sequence."""
import warnings

import numpy as np
import pytest
import torch

import jtorch
from oracle import same_error

STEPS = 300


def _opt(M, name="SGD", groups=2, **kw):
    ps = [M.zeros(2, requires_grad=True) for _ in range(groups)]
    opt_cls = getattr(M.optim, name)
    base = dict(lr=0.1, momentum=0.9) if name == "SGD" else dict(lr=0.1)
    base.update(kw)
    return opt_cls([{"params": [p], "lr": 0.1 * (i + 1)} for i, p in enumerate(ps)], **base)


def _mk(M, spec):
    kind, kw = spec
    S = M.optim.lr_scheduler
    if kind == "Sequential":
        o = _opt(M)
        s1 = S.LinearLR(o, start_factor=0.1, total_iters=20)
        s2 = S.CosineAnnealingLR(o, T_max=50, eta_min=1e-3)
        s3 = S.StepLR(o, step_size=30, gamma=0.5)
        return o, S.SequentialLR(o, [s1, s2, s3], milestones=[20, 120])
    if kind == "Chained":
        o = _opt(M)
        return o, S.ChainedScheduler([S.ConstantLR(o, factor=0.5, total_iters=10), S.ExponentialLR(o, gamma=0.99),
                                      S.MultiStepLR(o, milestones=[50, 100, 100], gamma=0.3)])
    if kind == "OneCycleLR":
        o = _opt(M, kw.pop("opt", "SGD"))
        return o, S.OneCycleLR(o, **kw)
    if kind == "CyclicLR":
        o = _opt(M, kw.pop("opt", "SGD"))
        return o, S.CyclicLR(o, **kw)
    o = _opt(M)
    kw = dict(kw)
    if kind in ("LambdaLR", "MultiplicativeLR"):
        kw["lr_lambda"] = kw["lr_lambda"]
    return o, getattr(S, kind)(o, **kw)


SPECS = [
    ("LambdaLR", dict(lr_lambda=lambda e: 0.97 ** e)),
    ("LambdaLR", dict(lr_lambda=[lambda e: 1 / (e + 1), lambda e: e // 30])),
    ("MultiplicativeLR", dict(lr_lambda=lambda e: 0.99)),
    ("StepLR", dict(step_size=30, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[30, 80, 80, 200], gamma=0.5)),
    ("ConstantLR", dict(factor=0.25, total_iters=40)),
    ("LinearLR", dict(start_factor=0.05, end_factor=0.8, total_iters=100)),
    ("ExponentialLR", dict(gamma=0.98)),
    ("PolynomialLR", dict(total_iters=150, power=2.0)),
    ("CosineAnnealingLR", dict(T_max=40, eta_min=1e-4)),
    ("CosineAnnealingWarmRestarts", dict(T_0=10, T_mult=2, eta_min=1e-3)),
    ("CosineAnnealingWarmRestarts", dict(T_0=25)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=20, mode="triangular2")),
    ("CyclicLR", dict(base_lr=[0.01, 0.02], max_lr=0.2, step_size_up=15, step_size_down=35, mode="exp_range",
                      gamma=0.99)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=10, opt="Adam", scale_fn=lambda x: 0.5 ** x)),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=STEPS)),
    ("OneCycleLR", dict(max_lr=[0.5, 1.0], epochs=10, steps_per_epoch=30, anneal_strategy="linear",
                        three_phase=True, opt="AdamW")),
    ("Sequential", {}),
    ("Chained", {}),
]


def _snapshot(o):
    out = []
    for g in o.param_groups:
        out.append(g["lr"])
        if "momentum" in g:
            out.append(g["momentum"])
        if "betas" in g:
            out.append(g["betas"][0])
    return out


@pytest.mark.parametrize("spec", SPECS, ids=[f"{s[0]}-{i}" for i, s in enumerate(SPECS)])
def test_lr_sequence(spec):
    (to, ts), (jo, js) = _mk(torch, (spec[0], dict(spec[1]))), _mk(jtorch, (spec[0], dict(spec[1])))
    assert ts.get_last_lr() == pytest.approx(js.get_last_lr(), rel=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(STEPS if spec[0] != "OneCycleLR" else ts.total_steps - 1):
            to.step()
            jo.step()
            ts.step()
            js.step()
            np.testing.assert_allclose(js.get_last_lr(), ts.get_last_lr(), rtol=1e-12, atol=0, err_msg=f"step {i}")
            np.testing.assert_allclose(_snapshot(jo), _snapshot(to), rtol=1e-12, atol=0, err_msg=f"step {i}")
    tsd, jsd = ts.state_dict(), js.state_dict()
    assert set(tsd) == set(jsd)


def test_reduce_lr_on_plateau():
    rng = np.random.default_rng(0)
    metrics = np.concatenate([np.linspace(1, 0.5, 50), 0.5 + 0.01 * rng.standard_normal(250)])
    for kw in [dict(), dict(mode="max", factor=0.5, patience=3, threshold_mode="abs", cooldown=2, min_lr=[1e-3, 0.01]),
               dict(patience=0, threshold=0.1, eps=1e-3)]:
        to, jo = _opt(torch), _opt(jtorch)
        ts = torch.optim.lr_scheduler.ReduceLROnPlateau(to, **kw)
        js = jtorch.optim.lr_scheduler.ReduceLROnPlateau(jo, **kw)
        for m in metrics:
            ts.step(torch.tensor(float(m)))
            js.step(jtorch.tensor(float(m)))
            assert js.get_last_lr() == ts.get_last_lr()
            assert (js.best, js.num_bad_epochs, js.cooldown_counter) == (ts.best, ts.num_bad_epochs, ts.cooldown_counter)


def test_closed_form_epoch_argument():
    for kind, kw in [("StepLR", dict(step_size=3, gamma=0.5)), ("ExponentialLR", dict(gamma=0.9)),
                     ("CosineAnnealingLR", dict(T_max=10)), ("MultiStepLR", dict(milestones=[2, 5])),
                     ("CosineAnnealingWarmRestarts", dict(T_0=3, T_mult=2)), ("PolynomialLR", dict(total_iters=8)),
                     ("LinearLR", dict(total_iters=6)), ("ConstantLR", dict(total_iters=4))]:
        (to, ts), (jo, js) = _mk(torch, (kind, dict(kw))), _mk(jtorch, (kind, dict(kw)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for e in [1, 4, 2, 9, 7, 15]:
                ts.step(e)
                js.step(e)
                np.testing.assert_allclose(js.get_last_lr(), ts.get_last_lr(), rtol=1e-12)


def test_state_dict_resume_and_warnings():
    to, jo = _opt(torch), _opt(jtorch)
    ts = torch.optim.lr_scheduler.StepLR(to, step_size=3)
    js = jtorch.optim.lr_scheduler.StepLR(jo, step_size=3)
    with warnings.catch_warnings(record=True) as wt:
        warnings.simplefilter("always")
        ts.step()
    with warnings.catch_warnings(record=True) as wj:
        warnings.simplefilter("always")
        js.step()
    assert [str(w.message)[:40] for w in wj] == [str(w.message)[:40] for w in wt]
    assert "before `optimizer.step()`" in str(wj[0].message)
    for _ in range(5):
        to.step(), jo.step(), ts.step(), js.step()
    sd = js.state_dict()
    assert sd.keys() == ts.state_dict().keys()
    jo2 = _opt(jtorch)
    jo2.load_state_dict(jo.state_dict())
    js2 = jtorch.optim.lr_scheduler.StepLR(jo2, step_size=3)
    js2.load_state_dict(sd)
    for _ in range(7):
        ts.step(), js.step(), js2.step()
        assert js.get_last_lr() == js2.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-12)
    same_error(lambda: torch.optim.lr_scheduler.StepLR(_opt(torch), 3, last_epoch=4),
               lambda: jtorch.optim.lr_scheduler.StepLR(_opt(jtorch), 3, last_epoch=4))


def test_tensor_lr_filled_in_place():
    tp, jp = torch.zeros(2, requires_grad=True), jtorch.zeros(2, requires_grad=True)
    to = torch.optim.Adam([tp], lr=torch.tensor(0.1))
    jo = jtorch.optim.Adam([jp], lr=jtorch.tensor(0.1))
    tl, jl = to.param_groups[0]["lr"], jo.param_groups[0]["lr"]
    ts = torch.optim.lr_scheduler.ExponentialLR(to, gamma=0.5)
    js = jtorch.optim.lr_scheduler.ExponentialLR(jo, gamma=0.5)
    for _ in range(3):
        to.step(), jo.step(), ts.step(), js.step()
    assert jo.param_groups[0]["lr"] is jl and isinstance(js.get_last_lr()[0], jtorch.Tensor)
    assert float(jl) == pytest.approx(float(tl))


def test_constructor_errors():
    cases = [lambda M, o: M.optim.lr_scheduler.ConstantLR(o, factor=2.0),
             lambda M, o: M.optim.lr_scheduler.LinearLR(o, start_factor=0),
             lambda M, o: M.optim.lr_scheduler.LambdaLR(o, lr_lambda=[lambda e: 1.0]),
             lambda M, o: M.optim.lr_scheduler.MultiplicativeLR(o, lr_lambda=[1.0, 2.0]),
             lambda M, o: M.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=0),
             lambda M, o: M.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=0),
             lambda M, o: M.optim.lr_scheduler.OneCycleLR(o, max_lr=0.1),
             lambda M, o: M.optim.lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=10, pct_start=2.0),
             lambda M, o: M.optim.lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=10, anneal_strategy="x"),
             lambda M, o: M.optim.lr_scheduler.CyclicLR(o, 0.1, 1.0, mode="nope"),
             lambda M, o: M.optim.lr_scheduler.CyclicLR(M.optim.Adagrad(o.param_groups[0]["params"]), 0.1, 1.0),
             lambda M, o: M.optim.lr_scheduler.ReduceLROnPlateau(o, factor=1.0),
             lambda M, o: M.optim.lr_scheduler.ReduceLROnPlateau(o, mode="x"),
             lambda M, o: M.optim.lr_scheduler.ReduceLROnPlateau(o, min_lr=[0.1]),
             lambda M, o: M.optim.lr_scheduler.StepLR(object(), 3),
             lambda M, o: M.optim.lr_scheduler.SequentialLR(o, [], []),
             lambda M, o: M.optim.lr_scheduler.SequentialLR(o, [M.optim.lr_scheduler.StepLR(o, 2)], [3]),
             lambda M, o: M.optim.lr_scheduler.ChainedScheduler([M.optim.lr_scheduler.ReduceLROnPlateau(o)])]
    for fn in cases:
        et, ej = same_error(lambda: fn(torch, _opt(torch)), lambda: fn(jtorch, _opt(jtorch)))
        if "which is different" not in str(et):
            assert str(et) == str(ej)
    with pytest.raises(ValueError, match="Tried to step"):
        o = _opt(jtorch)
        s = jtorch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=3)
        for _ in range(4):
            o.step(), s.step()


def _models(M, seed=0):
    g = torch.Generator().manual_seed(seed)
    w1, b1, w2, b2 = torch.randn(8, 4, generator=g), torch.randn(8, generator=g), torch.randn(2, 8, generator=g), \
        torch.randn(2, generator=g)
    m = M.nn.Sequential(M.nn.Linear(4, 8), M.nn.BatchNorm1d(8), M.nn.Linear(8, 2))
    conv = (lambda x: x.clone()) if M is torch else (lambda x: __import__("oracle").to_j(x))
    with M.no_grad():
        for p, v in zip(m.parameters(), [w1, b1, torch.ones(8), torch.zeros(8), w2, b2]):
            p.copy_(conv(v))
    return m


def test_swa_utils():
    from oracle import to_j, assert_same
    g = torch.Generator().manual_seed(1)
    X = torch.randn(16, 4, generator=g)
    Y = torch.randn(16, 2, generator=g)
    res = {}
    for M in (torch, jtorch):
        conv = (lambda x: x) if M is torch else to_j
        model = _models(M)
        swa = M.optim.swa_utils.AveragedModel(model)
        ema = M.optim.swa_utils.AveragedModel(model, multi_avg_fn=M.optim.swa_utils.get_ema_multi_avg_fn(0.9))
        ema2 = M.optim.swa_utils.AveragedModel(model, avg_fn=M.optim.swa_utils.get_ema_avg_fn(0.8), use_buffers=True)
        opt = M.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        sched = M.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)
        swa_sched = M.optim.swa_utils.SWALR(opt, swa_lr=0.01, anneal_epochs=3)
        lrs = []
        for epoch in range(12):
            for i in range(0, 16, 4):
                opt.zero_grad()
                loss = ((model(conv(X[i:i + 4])) - conv(Y[i:i + 4])) ** 2).mean()
                loss.backward()
                opt.step()
            if epoch >= 6:
                swa.update_parameters(model)
                ema.update_parameters(model)
                ema2.update_parameters(model)
                swa_sched.step()
            else:
                sched.step()
            lrs.append(opt.param_groups[0]["lr"])
        M.optim.swa_utils.update_bn([(conv(X[i:i + 4]), 0) for i in range(0, 16, 4)], swa)
        res[M] = (lrs, list(swa.parameters()), list(ema.parameters()), list(ema2.parameters()),
                  list(swa.buffers()), int(swa.n_averaged))
    t, j = res[torch], res[jtorch]
    np.testing.assert_allclose(j[0], t[0], rtol=1e-12)
    for k in (1, 2, 3, 4):
        for a, c in zip(j[k], t[k]):
            assert_same(a.detach(), c.detach(), rtol=1e-5, atol=1e-5)
    assert j[5] == t[5] == 6
    same_error(lambda: torch.optim.swa_utils.get_ema_avg_fn(1.5), lambda: jtorch.optim.swa_utils.get_ema_avg_fn(1.5))
    same_error(lambda: torch.optim.swa_utils.SWALR(_opt(torch), 0.1, anneal_epochs=-1),
               lambda: jtorch.optim.swa_utils.SWALR(_opt(jtorch), 0.1, anneal_epochs=-1))


def _close_tree(j, t, path="sd"):
    """Two scheduler state_dicts are equal: same keys and structure, numbers within 1e-12 relative."""
    if isinstance(t, dict):
        assert sorted(map(str, j)) == sorted(map(str, t)), (path, list(j), list(t))
        for k in t:
            _close_tree(j[k], t[k], f"{path}[{k!r}]")
    elif isinstance(t, (list, tuple)):
        assert len(j) == len(t), path
        for i, (a, b) in enumerate(zip(j, t)):
            _close_tree(a, b, f"{path}[{i}]")
    elif isinstance(t, float) and not isinstance(t, bool):
        assert j == pytest.approx(t, rel=1e-12, abs=1e-15), (path, j, t)
    elif callable(t):
        assert callable(j), path
    else:
        assert j == t, (path, j, t)


@pytest.mark.parametrize("spec", SPECS, ids=[f"{s[0]}-{i}" for i, s in enumerate(SPECS)])
def test_state_dict_equal_and_resumes_across_libraries(tmp_path, spec):
    """Halfway through, the scheduler's state_dict equals torch's; torch's (via torch.save -> jtorch.load) resumes
    a fresh jtorch scheduler and jtorch's (via jtorch.save -> torch.load) a fresh torch one: both then follow
    torch's uninterrupted lr sequence."""
    (to, ts), (jo, js) = _mk(torch, (spec[0], dict(spec[1]))), _mk(jtorch, (spec[0], dict(spec[1])))
    half = (ts.total_steps - 1 if spec[0] == "OneCycleLR" else STEPS) // 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(half):
            to.step(), jo.step(), ts.step(), js.step()
        _close_tree(js.state_dict(), ts.state_dict())
        torch.save({"o": to.state_dict(), "s": ts.state_dict()}, tmp_path / "t.pt")
        jtorch.save({"o": jo.state_dict(), "s": js.state_dict()}, tmp_path / "j.pt")
        (to2, ts2), (jo2, js2) = _mk(torch, (spec[0], dict(spec[1]))), _mk(jtorch, (spec[0], dict(spec[1])))
        jck, tck = jtorch.load(tmp_path / "t.pt"), torch.load(tmp_path / "j.pt")
        jo2.load_state_dict(jck["o"])
        js2.load_state_dict(jck["s"])
        to2.load_state_dict(tck["o"])
        ts2.load_state_dict(tck["s"])
        for i in range(half):
            for o, s in ((to, ts), (jo2, js2), (to2, ts2)):
                o.step()
                s.step()
            np.testing.assert_allclose(js2.get_last_lr(), ts.get_last_lr(), rtol=1e-12, err_msg=f"step {i}")
            np.testing.assert_allclose(ts2.get_last_lr(), ts.get_last_lr(), rtol=1e-12, err_msg=f"step {i}")
            np.testing.assert_allclose(_snapshot(jo2), _snapshot(to), rtol=1e-12, err_msg=f"step {i}")


def test_reduce_lr_on_plateau_state_dict_across_libraries():
    to, jo = _opt(torch), _opt(jtorch)
    kw = dict(mode="max", factor=0.5, patience=2, cooldown=1)
    ts = torch.optim.lr_scheduler.ReduceLROnPlateau(to, **kw)
    js = jtorch.optim.lr_scheduler.ReduceLROnPlateau(jo, **kw)
    metrics = [1.0, 0.9, 0.9, 0.8, 1.1, 1.0, 1.0, 1.0, 0.7, 0.7, 0.7, 0.7, 0.7]
    for m in metrics[:6]:
        ts.step(m)
        js.step(m)
    _close_tree(js.state_dict(), ts.state_dict())
    js2 = jtorch.optim.lr_scheduler.ReduceLROnPlateau(jo, **kw)
    js2.load_state_dict(ts.state_dict())
    for m in metrics[6:]:
        ts.step(m)
        js2.step(m)
        assert js2.get_last_lr() == ts.get_last_lr()
