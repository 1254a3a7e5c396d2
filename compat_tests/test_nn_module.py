"""nn.Module's API against torch's: registration, traversal, state_dict keys and error text, modes,
conversions keeping Parameter identity, hooks, repr, deepcopy/pickle, containers."""
import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch

import jtorch
import jtorch.nn as jnn
from oracle import to_j, assert_same, same_error


def _pair(build):
    """Build the same model in torch and jtorch (build gets the nn module) and copy torch's weights."""
    t = build(torch.nn)
    j = build(jnn)
    j.load_state_dict({k: to_j(v) for k, v in t.state_dict().items()})
    return t, j


class _Net:
    @staticmethod
    def make(nn):
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(4, 6)
                self.act = nn.ReLU()
                self.block = nn.Sequential(nn.Linear(6, 6), nn.Tanh(), nn.LayerNorm(6))
                self.bn = nn.BatchNorm1d(6)
                self.head = nn.Linear(6, 3, bias=False)
                self.register_buffer("scale", (torch if nn is torch.nn else jtorch).ones(3))
                self.register_buffer("tmp", (torch if nn is torch.nn else jtorch).zeros(2), persistent=False)

            def forward(self, x):
                return self.head(self.bn(self.block(self.act(self.fc1(x))))) * self.scale
        return Net()


def test_parameter_basics():
    p = jnn.Parameter(jtorch.ones(2))
    tp = torch.nn.Parameter(torch.ones(2))
    assert isinstance(p, jtorch.Tensor) and isinstance(p, jnn.Parameter)
    assert p.requires_grad and p.is_leaf
    assert repr(p) == repr(tp)
    assert repr(jnn.Parameter(jtorch.ones(2), requires_grad=False)) == \
        repr(torch.nn.Parameter(torch.ones(2), requires_grad=False))
    same_error(lambda: torch.nn.Parameter(torch.ones(2, dtype=torch.long)),
               lambda: jnn.Parameter(jtorch.ones(2, dtype=jtorch.long)))
    assert not isinstance(p * 2, jnn.Parameter)
    e = jnn.Parameter()
    assert tuple(e.shape) == (0,)


def test_buffer_marker():
    class M(jnn.Module):
        def __init__(self):
            super().__init__()
            self.a = jnn.Buffer(jtorch.ones(2))
            self.b = jnn.Buffer(jtorch.zeros(1), persistent=False)
    m = M()
    assert list(m.state_dict()) == ["a"]
    assert [n for n, _ in m.named_buffers()] == ["a", "b"]


def test_registration_and_traversal_names():
    t = _Net.make(torch.nn)
    j = _Net.make(jnn)
    assert [n for n, _ in j.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in j.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert [n for n, _ in j.named_modules()] == [n for n, _ in t.named_modules()]
    assert [n for n, _ in j.named_children()] == [n for n, _ in t.named_children()]
    assert list(j.state_dict()) == list(t.state_dict())
    assert [n for n, _ in j.named_parameters(prefix="m", recurse=False)] == \
        [n for n, _ in t.named_parameters(prefix="m", recurse=False)]
    assert j.get_submodule("block.2") is j.block[2]
    assert j.get_parameter("block.0.weight") is j.block[0].weight
    assert j.get_buffer("bn.running_mean") is j.bn.running_mean
    same_error(lambda: t.get_submodule("nope"), lambda: j.get_submodule("nope"))
    same_error(lambda: t.get_parameter("scale"), lambda: j.get_parameter("scale"))


def test_tied_weights_counted_once():
    for nn in (torch.nn, jnn):
        a = nn.Linear(3, 3)
        s = nn.Sequential(a, nn.ReLU(), a)
        assert len(list(s.parameters())) == 2
        assert len(list(s.named_parameters(remove_duplicate=False))) == 4
        emb = nn.Embedding(5, 3)
        head = nn.Linear(3, 5, bias=False)
        head.weight = emb.weight
        m = nn.ModuleDict({"emb": emb, "head": head})
        assert [n for n, _ in m.named_parameters()] == ["emb.weight"]
        assert list(m.state_dict()) == ["emb.weight", "head.weight"]


def test_setattr_errors_match_torch():
    t, j = torch.nn.Linear(2, 2), jnn.Linear(2, 2)
    et, ej = same_error(lambda: setattr(t, "weight", torch.ones(2, 2)), lambda: setattr(j, "weight", jtorch.ones(2, 2)))
    assert str(et) == str(ej)
    for name in ("a.b", ""):
        et, ej = same_error(lambda: t.register_buffer(name, None), lambda: j.register_buffer(name, None))
        assert str(et) == str(ej)
        et, ej = same_error(lambda: t.register_parameter(name, None), lambda: j.register_parameter(name, None))
        assert str(et) == str(ej)
    et, ej = same_error(lambda: t.register_buffer("weight", None), lambda: j.register_buffer("weight", None))
    assert str(et) == str(ej)
    et, ej = same_error(lambda: t.nothere, lambda: j.nothere)
    assert str(et) == str(ej)
    et, ej = same_error(lambda: t.register_parameter("w2", torch.ones(1)),
                        lambda: j.register_parameter("w2", jtorch.ones(1)))
    assert str(et) == str(ej)
    et, ej = same_error(lambda: t.add_module("x", 3), lambda: j.add_module("x", 3))
    assert str(et) == str(ej)

    class Early(jnn.Module):
        def __init__(self):
            self.w = jnn.Parameter(jtorch.ones(1))

    class TEarly(torch.nn.Module):
        def __init__(self):
            self.w = torch.nn.Parameter(torch.ones(1))
    et, ej = same_error(TEarly, Early)
    assert str(et) == str(ej)
    # reassigning a parameter slot to None and deleting attributes
    j.bias = None
    assert j.bias is None and "bias" in j._parameters
    del j.weight
    assert "weight" not in j._parameters


def test_forward_and_grads_match():
    torch.manual_seed(0)   # the weights too: a random draw once gave a 1.7e-5 bias-gradient difference
    t, j = _pair(_Net.make)
    x = torch.randn(5, 4, generator=torch.Generator().manual_seed(0))   # fixed data: no order-dependent inputs
    for train in (True, False):
        t.train(train)
        j.train(train)
        xt = x.clone().requires_grad_(True)
        xj = to_j(x).requires_grad_(True)
        yt, yj = t(xt), j(xj)
        assert_same(yj, yt, atol=1e-5)
        # a weighted loss: sum() through train-mode BatchNorm has a zero gradient (pure round-off)
        w = torch.linspace(-1, 2, yt.numel()).reshape(yt.shape)
        (yt * w).sum().backward()
        (yj * to_j(w)).sum().backward()
        assert_same(xj.grad, xt.grad, atol=1e-5, rtol=1e-4)
        for (n, pt), (_, pj) in zip(t.named_parameters(), j.named_parameters()):
            assert_same(pj.grad, pt.grad, atol=1e-5, rtol=1e-4, msg=n)
        assert_same(j.bn.running_mean, t.bn.running_mean)
        assert_same(j.bn.running_var, t.bn.running_var)
        assert_same(j.bn.num_batches_tracked, t.bn.num_batches_tracked)
        t.zero_grad()
        j.zero_grad()
        assert all(p.grad is None for p in j.parameters())


def test_train_eval_flags():
    j = _Net.make(jnn)
    j.eval()
    assert all(not m.training for m in j.modules())
    j.train()
    assert all(m.training for m in j.modules())
    same_error(lambda: torch.nn.Linear(1, 1).train("yes"), lambda: jnn.Linear(1, 1).train("yes"))
    j.requires_grad_(False)
    assert not any(p.requires_grad for p in j.parameters())


def test_zero_grad_set_to_none_false():
    j = jnn.Linear(2, 2)
    j(jtorch.ones(1, 2)).sum().backward()
    j.zero_grad(set_to_none=False)
    assert j.weight.grad is not None and float(j.weight.grad.abs().sum()) == 0.0


def test_state_dict_load_errors_text():
    t, j = torch.nn.Linear(3, 2), jnn.Linear(3, 2)
    bad_t = {"weight": torch.ones(3, 3), "foo": torch.ones(1)}
    bad_j = {"weight": jtorch.ones(3, 3), "foo": jtorch.ones(1)}
    et, ej = same_error(lambda: t.load_state_dict(bad_t), lambda: j.load_state_dict(bad_j))
    assert str(et) == str(ej)
    rt = t.load_state_dict({"weight": torch.ones(2, 3)}, strict=False)
    rj = j.load_state_dict({"weight": jtorch.ones(2, 3)}, strict=False)
    assert rj.missing_keys == rt.missing_keys and rj.unexpected_keys == rt.unexpected_keys
    assert repr(j.load_state_dict(j.state_dict())) == repr(t.load_state_dict(t.state_dict()))
    et, ej = same_error(lambda: t.load_state_dict([1]), lambda: j.load_state_dict([1]))
    assert str(et) == str(ej).replace("jtorch", "torch")
    # nested modules name the full key
    t2, j2 = torch.nn.Sequential(torch.nn.Linear(2, 2)), jnn.Sequential(jnn.Linear(2, 2))
    et, ej = same_error(lambda: t2.load_state_dict({"0.weight": torch.ones(1, 2), "0.bias": torch.ones(2)}),
                        lambda: j2.load_state_dict({"0.weight": jtorch.ones(1, 2), "0.bias": jtorch.ones(2)}))
    assert str(et) == str(ej)


def test_state_dict_values_and_keep_vars_and_assign():
    j = jnn.Linear(3, 2)
    sd = j.state_dict()
    assert not sd["weight"].requires_grad and not isinstance(sd["weight"], jnn.Parameter)
    assert sd._metadata[""] == {"version": 1}
    kv = j.state_dict(keep_vars=True)
    assert kv["weight"] is j.weight
    w = j.weight
    j.load_state_dict({"weight": jtorch.zeros(2, 3), "bias": jtorch.zeros(2)})
    assert j.weight is w and float(w.abs().sum()) == 0.0  # in place, identity kept
    new = jtorch.ones(2, 3)
    j.load_state_dict({"weight": new, "bias": jtorch.zeros(2)}, assign=True)
    assert isinstance(j.weight, jnn.Parameter) and j.weight.requires_grad and j.weight is not w
    # dtype is converted to the parameter's
    j.load_state_dict({"weight": jtorch.ones(2, 3, dtype=jtorch.float64), "bias": jtorch.zeros(2)})
    assert j.weight.dtype is jtorch.float32


def test_torch_state_dict_loads_and_matches():
    t, j = _pair(_Net.make)
    for (k, vt), (k2, vj) in zip(t.state_dict().items(), j.state_dict().items()):
        assert k == k2
        assert_same(vj, vt)


def test_batchnorm_old_checkpoint_without_num_batches_tracked():
    j = jnn.BatchNorm1d(3)
    sd = {k: v for k, v in j.state_dict().items() if k != "num_batches_tracked"}
    from collections import OrderedDict as OD
    sd = OD(sd)
    sd._metadata = {"": {"version": 1}}
    assert repr(j.load_state_dict(sd)) == "<All keys matched successfully>"


def test_state_dict_hooks():
    j = jnn.Linear(2, 2)
    seen = []
    j.register_state_dict_pre_hook(lambda m, prefix, keep_vars: seen.append("pre"))
    j.register_state_dict_post_hook(lambda m, sd, prefix, meta: seen.append("post"))
    j.state_dict()
    assert seen == ["pre", "post"]
    j.register_load_state_dict_pre_hook(lambda m, sd, *a: seen.append("lpre"))
    j.register_load_state_dict_post_hook(lambda m, keys: seen.append("lpost"))
    j.load_state_dict(j.state_dict())
    assert seen[-2:] == ["lpre", "lpost"]


def test_extra_state():
    class M(jnn.Module):
        def __init__(self):
            super().__init__()
            self.v = 1

        def get_extra_state(self):
            return {"v": self.v}

        def set_extra_state(self, s):
            self.v = s["v"]
    m = M()
    sd = m.state_dict()
    assert list(sd) == ["_extra_state"]
    m2 = M()
    m2.v = 5
    m2.load_state_dict({"_extra_state": {"v": 7}})
    assert m2.v == 7


def test_to_keeps_parameter_identity():
    j = _Net.make(jnn)
    params = list(j.parameters())
    j(jtorch.randn(3, 4)).sum().backward()
    j.double()
    assert list(j.parameters()) == params or all(a is b for a, b in zip(j.parameters(), params))
    assert all(p.dtype is jtorch.float64 for p in j.parameters())
    assert all(p.grad.dtype is jtorch.float64 for p in j.parameters())
    assert j.bn.num_batches_tracked.dtype is jtorch.int64
    assert j.bn.running_mean.dtype is jtorch.float64
    j.to(jtorch.float32)
    assert all(p.dtype is jtorch.float32 for p in j.parameters())
    j.to("cpu")
    j.half()
    assert j.fc1.weight.dtype is jtorch.float16
    j.float().cpu()
    assert all(a is b for a, b in zip(j.parameters(), params))
    # an optimizer-style update on the same objects after the move is seen by the module
    with jtorch.no_grad():
        params[0].zero_()
    assert float(j.fc1.weight.abs().sum()) == 0.0
    with pytest.raises(TypeError):
        j.to(jtorch.int64)


def test_apply_and_children():
    j = _Net.make(jnn)
    names = []
    j.apply(lambda m: names.append(type(m).__name__))
    t = _Net.make(torch.nn)
    tnames = []
    t.apply(lambda m: tnames.append(type(m).__name__))
    assert names == tnames


def test_repr_matches_torch():
    t, j = _Net.make(torch.nn), _Net.make(jnn)
    assert repr(j) == repr(t)
    for build in (lambda nn: nn.ModuleList([nn.Linear(2, 2) for _ in range(3)] + [nn.ReLU()]),
                  lambda nn: nn.ModuleDict({"a": nn.ReLU(), "b": nn.Sequential(nn.Identity())}),
                  lambda nn: nn.ParameterList([nn.Parameter((torch if nn is torch.nn else jtorch).ones(2)),
                                               nn.Parameter((torch if nn is torch.nn else jtorch).ones(2, 3))]),
                  lambda nn: nn.ParameterDict({"a": nn.Parameter((torch if nn is torch.nn else jtorch).ones(2))}),
                  lambda nn: nn.ModuleList()):
        assert repr(build(jnn)) == repr(build(torch.nn))


def test_forward_hooks():
    calls = []
    for nn, lib in ((torch.nn, torch), (jnn, jtorch)):
        m = nn.Linear(2, 2)
        log = []
        h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 2,))
        h2 = m.register_forward_hook(lambda mod, args, out: out + 1)
        h3 = m.register_forward_pre_hook(lambda mod, args, kwargs: log.append(("kw", len(args), dict(kwargs))),
                                         with_kwargs=True)
        h4 = m.register_forward_hook(lambda mod, args, kwargs, out: log.append("post"), with_kwargs=True,
                                     prepend=True)
        with lib.no_grad():
            m.weight.copy_(lib.eye(2))
            m.bias.zero_()
        y = m(lib.ones(1, 2))
        calls.append((y.tolist(), log))
        for h in (h1, h2, h3, h4):
            h.remove()
        assert y.tolist() == [[3.0, 3.0]]
        assert m(lib.ones(1, 2)).tolist() == [[1.0, 1.0]]
    assert calls[0] == calls[1]


def test_forward_hook_always_call():
    for nn in (torch.nn, jnn):
        class Bad(nn.Module):
            def forward(self, x):
                raise ValueError("boom")
        m = Bad()
        seen = []
        m.register_forward_hook(lambda mod, a, o: seen.append(o), always_call=True)
        with pytest.raises(ValueError):
            m(1)
        assert seen == [None]


def test_global_forward_hook():
    from jtorch.nn.modules import module as jm
    seen = []
    h = jm.register_module_forward_hook(lambda m, a, o: seen.append(type(m).__name__))
    try:
        jnn.Sequential(jnn.ReLU())(jtorch.ones(1))
    finally:
        h.remove()
    jnn.ReLU()(jtorch.ones(1))
    assert seen == ["ReLU", "Sequential"]


def test_full_backward_hooks_match_torch():
    res = []
    for nn, lib, conv in ((torch.nn, torch, lambda x: x), (jnn, jtorch, to_j)):
        m = nn.Linear(3, 2)
        with lib.no_grad():
            m.weight.copy_(conv(torch.arange(6.).reshape(2, 3) / 10))
            m.bias.zero_()
        got = {}

        def pre(mod, gout):
            got["pre"] = [g.tolist() for g in gout]
            return (gout[0] * 2,)

        def hook(mod, gin, gout):
            got["gin"] = [None if g is None else g.tolist() for g in gin]
            got["gout"] = [g.tolist() for g in gout]
            return (gin[0] * 10,)
        m.register_full_backward_pre_hook(pre)
        m.register_full_backward_hook(hook)
        x = conv(torch.tensor([[1., 2., 3.]])).requires_grad_(True)
        m(x).sum().backward()
        got["xgrad"] = x.grad.tolist()
        got["wgrad"] = m.weight.grad.tolist()
        res.append(got)
    for k in res[0]:
        np.testing.assert_allclose(np.array(res[1][k], dtype=float), np.array(res[0][k], dtype=float), rtol=1e-6,
                                   err_msg=k)


def test_backward_hook_input_without_grad():
    res = []
    for nn, lib in ((torch.nn, torch), (jnn, jtorch)):
        m = nn.Linear(2, 2)
        got = []
        m.register_full_backward_hook(lambda mod, gin, gout: got.append((gin, len(gout))))
        m(lib.ones(1, 2)).sum().backward()
        res.append([(tuple(g is None for g in gin), n) for gin, n in got])
    assert res[0] == res[1]


def test_deepcopy_and_pickle():
    t, j = _pair(_Net.make)
    j.eval()
    x = jtorch.randn(2, 4)
    c = copy.deepcopy(j)
    assert c.fc1.weight is not j.fc1.weight and isinstance(c.fc1.weight, jnn.Parameter)
    assert_same(c(x), j(x).detach()) if False else np.testing.assert_allclose(c(x).detach().numpy(),
                                                                            j(x).detach().numpy())
    # tied weights stay tied in the copy
    a = jnn.Linear(2, 2)
    s = jnn.Sequential(a, a)
    s2 = copy.deepcopy(s)
    assert s2[0].weight is s2[1].weight
    seq = jnn.Sequential(jnn.Linear(4, 3), jnn.BatchNorm1d(3)).eval()
    p = pickle.loads(pickle.dumps(seq))
    np.testing.assert_allclose(p(x).detach().numpy(), seq(x).detach().numpy())
    assert isinstance(p[0].weight, jnn.Parameter) and p[0].weight.requires_grad
    assert p[1].num_batches_tracked.dtype is jtorch.int64


def test_sequential_api():
    for nn in (torch.nn, jnn):
        s = nn.Sequential(nn.ReLU(), nn.Tanh(), nn.Sigmoid())
        assert type(s[1:]).__name__ == "Sequential" and len(s[1:]) == 2
        assert isinstance(s[-1], nn.Sigmoid)
        s.append(nn.Identity())
        s.insert(0, nn.ELU())
        assert [type(m).__name__ for m in s] == ["ELU", "ReLU", "Tanh", "Sigmoid", "Identity"]
        del s[1]
        assert list(s._modules) == ["0", "1", "2", "3"]
        s2 = s + nn.Sequential(nn.ReLU())
        assert len(s2) == 5
        s.extend([nn.ReLU()])
        assert len(s) == 5
        s[0] = nn.GELU()
        assert isinstance(s[0], nn.GELU)
        assert isinstance(s.pop(0), nn.GELU) and len(s) == 4
        od = nn.Sequential(OrderedDict([("a", nn.ReLU()), ("b", nn.Tanh())]))
        assert list(od._modules) == ["a", "b"] and isinstance(od.b, nn.Tanh)
        with pytest.raises(IndexError):
            s[10]


def test_modulelist_moduledict_api():
    for nn in (torch.nn, jnn):
        ml = nn.ModuleList([nn.ReLU(), nn.Tanh()])
        ml.append(nn.Sigmoid())
        ml.extend([nn.Identity()])
        ml.insert(1, nn.ELU())
        assert [type(m).__name__ for m in ml] == ["ReLU", "ELU", "Tanh", "Sigmoid", "Identity"]
        del ml[0]
        assert list(ml._modules) == ["0", "1", "2", "3"]
        assert isinstance(ml[1:], nn.ModuleList)
        md = nn.ModuleDict({"b": nn.ReLU(), "a": nn.Tanh()})
        assert list(md.keys()) == ["b", "a"]
        md["c"] = nn.Identity()
        assert "c" in md and len(md) == 3
        assert isinstance(md.pop("b"), nn.ReLU)
        md.update([("z", nn.ReLU())])
        assert list(md) == ["a", "c", "z"]


def test_parameterlist_dict_api():
    pl_t = torch.nn.ParameterList([torch.nn.Parameter(torch.ones(2)), torch.zeros(3)])
    pl_j = jnn.ParameterList([jnn.Parameter(jtorch.ones(2)), jtorch.zeros(3)])
    assert [n for n, _ in pl_j.named_parameters()] == [n for n, _ in pl_t.named_parameters()]
    assert isinstance(pl_j[1], jnn.Parameter)
    pl_j.append(jtorch.ones(1))
    assert len(pl_j) == 3
    pd_t = torch.nn.ParameterDict({"b": torch.ones(2), "a": torch.ones(1)})
    pd_j = jnn.ParameterDict({"b": jtorch.ones(2), "a": jtorch.ones(1)})
    assert list(pd_j.keys()) == list(pd_t.keys())
    assert [n for n, _ in pd_j.named_parameters()] == [n for n, _ in pd_t.named_parameters()]
    assert isinstance(pd_j["a"], jnn.Parameter)
    assert list(pd_j.state_dict()) == list(pd_t.state_dict())


def test_lazy_linear():
    m = jnn.LazyLinear(3)
    y = m(jtorch.randn(2, 5))
    assert tuple(y.shape) == (2, 3)
    assert type(m) is jnn.Linear and tuple(m.weight.shape) == (3, 5) and m.in_features == 5
    # loading a state dict materialises a lazy module
    m2 = jnn.LazyLinear(3)
    m2.load_state_dict(m.state_dict())
    np.testing.assert_allclose(m2.weight.detach().numpy(), m.weight.detach().numpy())


def test_missing_forward():
    et, ej = same_error(lambda: torch.nn.Module()(1), lambda: jnn.Module()(1))
    assert str(et) == str(ej)


def test_dir_and_delattr():
    j = jnn.Linear(2, 2)
    assert "weight" in dir(j) and "bias" in dir(j)
    j.foo = 3
    del j.foo
    assert not hasattr(j, "foo")
