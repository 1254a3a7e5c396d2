"""jtorch.optim through PyTorch's own OptimizerInfo database (optiminfo_harness.py).

Default run: every optimizer's base configs (optim_inputs_func, float32, no cliquey variants; steps,
state_dict, load_state_dict of torch's state) and every error input. The float64, cliquey-flag,
param-group, complex and flag-probe sweeps are marked slow (tools/optiminfo_sweep.py runs everything)."""
import pytest
import torch

import optiminfo_harness as H

_INFOS = {i.name: i for i in H.infos()}


def _ids(cases):
    return [f"{n}-{d}" for n, d, _ in cases]


def _cases(dtype, cliquey):
    return [(n, desc, kw) for n, i in _INFOS.items() for desc, kw in H.configs(i, dtype, cliquey=cliquey)]


def _check(r):
    assert r["status"] in ("pass", "known", "intended"), f"{r['optim']} [{r['kind']}] {r['desc']}: {r['detail']}"


_BASE = _cases(torch.float32, cliquey=False)


@pytest.mark.parametrize("name,desc,kw", _BASE, ids=_ids(_BASE))
def test_config(name, desc, kw):
    # LBFGS runs up to 20 closures per step: one step (plus the ones after load_state_dict) is enough here
    _check(H.check_config(_INFOS[name], desc, kw, torch.float32, steps=1 if name == "LBFGS" else 3,
                          check_load=True))


_ERR = [(n, ei.optimizer_error_input.desc, ei) for n, i in _INFOS.items() for ei in H.error_inputs(i)]


@pytest.mark.parametrize("name,desc,ei", _ERR, ids=_ids(_ERR))
def test_error_input(name, desc, ei):
    r = H.check_error_input(_INFOS[name], ei)
    if r["status"] == "skip":
        pytest.skip(r["detail"])
    _check(r)


def test_new_optimizers_exported():
    import jtorch
    for name in _INFOS:
        assert hasattr(jtorch.optim, name), name


def test_harness_detects_a_wrong_update():
    """The comparison is live: a jtorch Adam with a different lr must fail it."""
    info = _INFOS["Adam"]
    real = H.conv_kwargs
    H.conv_kwargs = lambda kw: {**real(kw), "lr": 2e-3}
    try:
        r = H.check_config(info, "default", {}, torch.float32, steps=2)
    finally:
        H.conv_kwargs = real
    assert r["status"] == "fail" and "param" in r["detail"]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(_INFOS))
def test_full_sweep(name):
    """float64 + foreach/fused/differentiable variants, param groups, complex, flag probes."""
    info = _INFOS[name]
    bad = []
    for dt in (torch.float32, torch.float64):
        for desc, kw in H.configs(info, dt, cliquey=True):
            bad.append(H.check_config(info, desc, kw, dt, check_load=dt == torch.float64))
    for desc, kw in H.configs(info, torch.float32, cliquey=False):
        if info.supports_param_groups:
            bad.append(H.check_groups(info, desc, kw))
        bad.append(H.check_complex(info, desc, kw))
    bad += [H.check_flag(info, f) for f in H.flag_probes(info)]
    bad = [r for r in bad if r["status"] not in ("pass", "known", "intended")]
    assert not bad, [(r["kind"], r["dtype"], r["desc"], r["detail"]) for r in bad]
