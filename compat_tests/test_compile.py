"""jtorch.compile: whole training steps as one jax.jit program, checked against torch eager
(same initial weights, same data: losses and weights must agree step by step) and, where the
random streams differ from torch's (dropout), against jtorch's own eager run of the same code."""
import re
import warnings

import numpy as np
import pytest
import torch

import jtorch
from oracle import to_j, assert_same

N_STEPS = 12


def _seed(nn, seed):
    (jtorch if nn is jtorch.nn else torch).manual_seed(seed)


def _mlp(nn, seed=0, p_drop=None):
    _seed(nn, seed)
    if p_drop is not None:
        return nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Dropout(p_drop), nn.Linear(32, 4))
    return nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 4))


def _pair(build):
    """The same model in torch and jtorch (torch's initial weights copied)."""
    tm = build(torch.nn)
    jm = build(jtorch.nn)
    jm.load_state_dict({k: to_j(v) for k, v in tm.state_dict().items()})
    return tm, jm


def _data(n=16, d=8, k=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    y = torch.randn(n, k, generator=g)
    return x, y


def _train(lib, model, opt, x, y, steps, compiled, sched=None, clip=None):
    def step(x, y):
        opt.zero_grad(set_to_none=True)
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        if clip is not None:
            lib.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        return loss
    f = jtorch.compile(step) if compiled else step
    losses = []
    for _ in range(steps):
        losses.append(f(x, y))
        if sched is not None:
            sched.step()
    return losses, f


def _check_same_training(tl, jl, tm, jm, atol=2e-5):
    for a, b in zip(jl, tl):
        assert_same(a, b.detach(), atol=atol, rtol=1e-4)
    for (n, a), (_, b) in zip(jm.named_parameters(), tm.named_parameters()):
        assert_same(a.detach(), b.detach(), atol=atol, rtol=1e-4, msg=n)


def test_mlp_sgd_momentum_step_matches_torch():
    tm, jm = _pair(_mlp)
    x, y = _data()
    to = torch.optim.SGD(tm.parameters(), lr=0.05, momentum=0.9)
    jo = jtorch.optim.SGD(jm.parameters(), lr=0.05, momentum=0.9)
    tl, _ = _train(torch, tm, to, x, y, N_STEPS, False)
    jl, f = _train(jtorch, jm, jo, to_j(x), to_j(y), N_STEPS, True)
    _check_same_training(tl, jl, tm, jm)
    # the momentum buffers are primed (zero, flagged fresh) before the first trace: one program
    assert f.trace_count == 1
    for p, q in zip(jm.parameters(), tm.parameters()):
        assert_same(jo.state[p]["momentum_buffer"], to.state[q]["momentum_buffer"], atol=2e-5, rtol=1e-4)
    # nothing traced is left behind in user objects
    for p in jm.parameters():
        assert not isinstance(p._data, jtorch._compile.jax.core.Tracer)
        assert not isinstance(p.grad._data, jtorch._compile.jax.core.Tracer)


@pytest.mark.parametrize("nesterov,dampening", [(False, 0.0), (True, 0.0), (False, 0.3)])
def test_sgd_momentum_compiles_once_and_matches_torch(nesterov, dampening):
    """torch's first momentum step is buf = grad, later ones buf = momentum*buf + (1-dampening)*grad;
    the compiled step primes the buffer so all steps are one program, with torch's math each step."""
    tm, jm = _pair(_mlp)
    x, y = _data()
    kw = dict(lr=0.05, momentum=0.9, nesterov=nesterov, dampening=dampening, weight_decay=0.01)
    to = torch.optim.SGD(tm.parameters(), **kw)
    jo = jtorch.optim.SGD(jm.parameters(), **kw)
    tl, _ = _train(torch, tm, to, x, y, 3, False)
    jl, f = _train(jtorch, jm, jo, to_j(x), to_j(y), 3, True)
    _check_same_training(tl, jl, tm, jm, atol=1e-6)
    assert f.trace_count == 1, f.trace_count
    for p, q in zip(jm.parameters(), tm.parameters()):
        assert list(jo.state[p]) == list(to.state[q]) == ["momentum_buffer"]
        assert_same(jo.state[p]["momentum_buffer"], to.state[q]["momentum_buffer"], atol=1e-6, rtol=1e-5)
    # eager steps after the compiled ones continue torch's recurrence (the fresh flags are spent)
    for lib, m, o, xx, yy in ((torch, tm, to, x, y), (jtorch, jm, jo, to_j(x), to_j(y))):
        o.zero_grad()
        ((m(xx) - yy) ** 2).mean().backward()
        o.step()
    _check_same_training([], [], tm, jm, atol=1e-6)


def test_adam_lr_scheduler_and_clip_grad_norm_without_recompiling():
    tm, jm = _pair(_mlp)
    x, y = _data()
    to = torch.optim.Adam(tm.parameters(), lr=0.02)
    jo = jtorch.optim.Adam(jm.parameters(), lr=0.02)
    ts = torch.optim.lr_scheduler.LambdaLR(to, lambda e: 1.0 / (1 + e))
    js = jtorch.optim.lr_scheduler.LambdaLR(jo, lambda e: 1.0 / (1 + e))
    tl, _ = _train(torch, tm, to, x * 5, y, N_STEPS, False, sched=ts, clip=0.5)
    jl, f = _train(jtorch, jm, jo, to_j(x * 5), to_j(y), N_STEPS, True, sched=js, clip=0.5)
    _check_same_training(tl, jl, tm, jm)
    # a new lr every step, yet one program for all steps: the lr is an input, not a constant, and
    # Adam's state is created ahead of the first trace (no separate first-step program)
    assert f.trace_count == 1, f.trace_count
    assert jo.param_groups[0]["lr"] == to.param_groups[0]["lr"]
    for p, q in zip(jm.parameters(), tm.parameters()):
        for k, v in to.state[q].items():
            assert_same(jo.state[p][k], v, atol=2e-5, rtol=1e-4, msg=k)


def test_gradient_accumulation():
    tm, jm = _pair(_mlp)
    x, y = _data()
    to = torch.optim.SGD(tm.parameters(), lr=0.1)
    jo = jtorch.optim.SGD(jm.parameters(), lr=0.1)

    def make(lib, model):
        def fwd_bwd(x, y):
            loss = ((model(x) - y) ** 2).mean() / 2
            loss.backward()
            return loss
        return fwd_bwd

    tf = make(torch, tm)
    jf = jtorch.compile(make(jtorch, jm))
    for i in range(8):
        sl = slice((i % 2) * 8, (i % 2) * 8 + 8)
        tloss = tf(x[sl], y[sl])
        jloss = jf(to_j(x[sl]), to_j(y[sl]))
        assert_same(jloss, tloss.detach(), atol=1e-5)
        if i % 2 == 1:
            for a, b in zip(jm.parameters(), tm.parameters()):
                assert_same(a.grad, b.grad, atol=1e-5, rtol=1e-4)
            to.step()
            jo.step()
            to.zero_grad()
            jo.zero_grad()
    _check_same_training([], [], tm, jm)
    # .grad absent (first micro-batch) and present (second): two programs, reused afterwards
    assert jf.trace_count == 2


def test_compiled_module_forward_and_eager_backward():
    tm, jm = _pair(_mlp)
    x, _ = _data()
    cm = jtorch.compile(jm)
    out = cm(to_j(x))
    assert_same(out, tm(x).detach(), atol=1e-6)
    assert out.grad_fn is not None and out.grad_fn.name() == "CompiledFunctionBackward"
    # backward through the single compiled node gives torch's grads
    (out ** 2).sum().backward()
    (tm(x) ** 2).sum().backward()
    for (n, a), (_, b) in zip(jm.named_parameters(), tm.named_parameters()):
        assert_same(a.grad, b.grad, atol=1e-5, rtol=1e-5, msg=n)
    # it behaves like the module: attributes, state_dict under torch's `_orig_mod.` prefix, parameters
    assert cm._orig_mod is jm and cm.training and cm.__getattr__("0") is jm[0]
    with pytest.raises(TypeError):  # as torch's OptimizedModule: no __getitem__
        cm[0]
    assert list(cm.state_dict().keys()) == ["_orig_mod." + k for k in tm.state_dict().keys()]
    assert repr(cm) == repr(torch.compile(tm))   # Module's repr, the model as child `_orig_mod`
    assert [p is q for p, q in zip(cm.parameters(), jm.parameters())] == [True] * 4
    # the seed's loop: eager optimizer on the compiled forward
    to = torch.optim.Adam(tm.parameters(), lr=1e-2)
    jo = jtorch.optim.Adam(jm.parameters(), lr=1e-2)
    for _ in range(5):
        for m, o, xx, lib in ((tm, to, x, torch), (cm, jo, to_j(x), jtorch)):
            o.zero_grad()
            loss = (m(xx) ** 2).mean()
            loss.backward()
            o.step()
    _check_same_training([], [], tm, jm)
    assert cm.trace_count == 1


def test_module_compile_method_and_no_grad_forward():
    tm, jm = _pair(_mlp)
    x, _ = _data()
    jm.compile()
    with jtorch.no_grad():
        out = jm(to_j(x))
    assert out.grad_fn is None and not out.requires_grad
    assert_same(out, tm(x).detach(), atol=1e-6)
    out = jm(to_j(x))
    assert out.requires_grad


def _cnn(nn, p_drop=0.0):
    _seed(nn, 0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(p_drop),
                         nn.Flatten(), nn.Linear(4 * 6 * 6, 3))


def test_cnn_batchnorm_matches_torch_and_eval_mode():
    tm, jm = _pair(_cnn)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(8, 3, 6, 6, generator=g)
    y = torch.randn(8, 3, generator=g)
    to = torch.optim.SGD(tm.parameters(), lr=0.05, momentum=0.9)
    jo = jtorch.optim.SGD(jm.parameters(), lr=0.05, momentum=0.9)
    tl, _ = _train(torch, tm, to, x, y, 6, False)
    jl, f = _train(jtorch, jm, jo, to_j(x), to_j(y), 6, True)
    _check_same_training(tl, jl, tm, jm, atol=5e-5)
    bn_t, bn_j = tm[1], jm[1]
    assert_same(bn_j.running_mean, bn_t.running_mean, atol=1e-5)
    assert_same(bn_j.running_var, bn_t.running_var, atol=1e-5)
    assert_same(bn_j.num_batches_tracked, bn_t.num_batches_tracked)
    # eval mode: a different program (training flag is guarded), running stats used, not updated
    tm.eval()
    jm.eval()
    ce = jtorch.compile(lambda x: jm(x))
    assert_same(ce(to_j(x)), tm(x).detach(), atol=5e-5)
    assert_same(bn_j.num_batches_tracked, bn_t.num_batches_tracked)


def test_compiled_cnn_module_batchnorm_eager_backward():
    """A compiled module in an eager loop: one node per forward, BatchNorm stats updated as torch."""
    tm, jm = _pair(_cnn)
    cm = jtorch.compile(jm)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(8, 3, 6, 6, generator=g)
    for _ in range(2):
        out_t, out_j = tm(x), cm(to_j(x))
        assert_same(out_j, out_t.detach(), atol=1e-5)
        (out_t ** 2).mean().backward()
        (out_j ** 2).mean().backward()
    for (n, a), (_, b) in zip(jm.named_parameters(), tm.named_parameters()):
        assert_same(a.grad, b.grad, atol=1e-5, rtol=1e-4, msg=n)
    assert_same(jm[1].running_mean, tm[1].running_mean, atol=1e-6)
    assert_same(jm[1].running_var, tm[1].running_var, atol=1e-6)
    assert_same(jm[1].num_batches_tracked, tm[1].num_batches_tracked)


def test_dropout_same_as_eager():
    """Dropout draws from jtorch's generator: the compiled step must consume it exactly as eager."""
    x = jtorch.randn(16, 8)
    y = jtorch.randn(16, 4)
    results = []
    for compiled in (False, True):
        jm = _mlp(jtorch.nn, p_drop=0.5)
        jo = jtorch.optim.Adam(jm.parameters(), lr=1e-2)
        jtorch.manual_seed(123)
        losses, _ = _train(jtorch, jm, jo, x, y, 3, compiled)
        results.append(([float(v) for v in losses], [p.detach().numpy() for p in jm.parameters()],
                        jtorch.get_rng_state().numpy()))
    (le, we, rnge), (lc, wc, rngc) = results
    np.testing.assert_allclose(lc, le, rtol=1e-5)
    for a, b in zip(wc, we):
        np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_array_equal(rngc, rnge)


def test_autocast_and_grad_scaler_inside_step():
    tm, jm = _pair(_mlp)
    x, y = _data()

    def make(lib, model):
        opt = lib.optim.SGD(model.parameters(), lr=0.05)
        scaler = lib.amp.GradScaler("cpu", init_scale=2.0 ** 10, growth_interval=2)

        def step(x, y):
            opt.zero_grad()
            with lib.autocast("cpu", dtype=lib.bfloat16):
                loss = ((model(x).float() - y) ** 2).mean()
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            return loss
        return step, scaler

    ts, tsc = make(torch, tm)
    js, jsc = make(jtorch, jm)
    js = jtorch.compile(js)
    tl = [ts(x, y) for _ in range(5)]
    jl = [js(to_j(x), to_j(y)) for _ in range(5)]
    for a, b in zip(jl, tl):
        assert_same(a, b.detach(), atol=2e-2, rtol=2e-2)  # bf16 matmuls
    assert jsc.get_scale() == tsc.get_scale() == 4096.0  # the scale grew twice, inside the compiled step
    assert js.trace_count == 1   # optimizer and scaler state primed: one program from the first call


def test_item_in_branch_falls_back_with_one_warning():
    w = jtorch.ones(3, requires_grad=True)

    def f(x):
        y = (x * w).sum()
        if y.item() > 0:  # data-dependent Python control flow
            return y * 2
        return y

    cf = jtorch.compile(f)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        a = cf(jtorch.tensor([1.0, 2.0, 3.0]))
        b = cf(jtorch.tensor([-1.0, -2.0, -3.0]))
    msgs = [str(r.message) for r in rec if "jtorch.compile" in str(r.message)]
    assert len(msgs) == 1, msgs
    assert re.search(r"test_compile\.py:\d+", msgs[0]), msgs[0]
    assert_same(a.detach(), torch.tensor(12.0))
    assert_same(b.detach(), torch.tensor(-6.0))
    a.backward()
    assert_same(w.grad, torch.tensor([2.0, 4.0, 6.0]))


def test_fullgraph_raises_on_untraceable():
    def f(x):
        print(x)
        return x + 1

    cf = jtorch.compile(f, fullgraph=True)
    with pytest.raises(RuntimeError, match="print"):
        cf(jtorch.ones(2))
    with pytest.raises(RuntimeError):
        jtorch.compile(lambda x: x[x > 0], fullgraph=True)(jtorch.ones(2))


def test_exception_inside_leaves_no_tracers():
    jm = _mlp(jtorch.nn)
    jo = jtorch.optim.Adam(jm.parameters(), lr=0.1)
    before = [p.detach().numpy().copy() for p in jm.parameters()]

    def step(x):
        jo.zero_grad()
        jm(x).sum().backward()
        jo.step()
        raise ValueError("boom")

    cf = jtorch.compile(step)
    with pytest.raises(ValueError, match="boom"):
        cf(jtorch.ones(2, 8))
    # the eager rerun that reproduced the error took one real step; no tracer anywhere
    for p in jm.parameters():
        assert isinstance(p._data, jtorch._compile.jax.Array) and not isinstance(p._data,
                                                                                 jtorch._compile.jax.core.Tracer)
        assert not isinstance(p.grad._data, jtorch._compile.jax.core.Tracer)
    for st in jo.state.values():
        for v in st.values():
            assert not isinstance(v._data, jtorch._compile.jax.core.Tracer)
    assert any(not np.allclose(p.detach().numpy(), b) for p, b in zip(jm.parameters(), before))


def test_recompile_limit_and_reset():
    w = jtorch.ones(1)
    cf = jtorch.compile(lambda x: (x * w).sum())
    old = jtorch._dynamo.config.cache_size_limit
    jtorch._dynamo.config.cache_size_limit = 2
    try:
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            outs = [cf(jtorch.ones(n)) for n in range(1, 5)]
        assert [float(o) for o in outs] == [1.0, 2.0, 3.0, 4.0]
        assert any("recompile limit" in str(r.message) for r in rec)
        assert cf.trace_count == 3  # 2 compiled + the refused third
    finally:
        jtorch._dynamo.config.cache_size_limit = old
    jtorch.compiler.reset()
    assert cf.trace_count == 0
    assert float(cf(jtorch.ones(7))) == 7.0 and cf.trace_count == 1


def test_inplace_on_argument_and_outputs_structure():
    def f(x, d):
        x.add_(1)
        return {"a": x * d["s"], "n": 3, "t": (x.sum(), None)}

    cf = jtorch.compile(f)
    x = jtorch.zeros(3)
    r = cf(x, {"s": 2.0})
    assert_same(x, torch.ones(3))
    assert x._version >= 1
    assert r["n"] == 3 and r["t"][1] is None
    assert_same(r["a"], torch.full((3,), 2.0))
    assert_same(r["t"][0], torch.tensor(3.0))


def test_compile_api_surface():
    assert jtorch.compile(disable=True)(len) is len
    with pytest.raises(RuntimeError):
        jtorch.compile(lambda x: x, mode="bogus")
    assert not jtorch.compiler.is_compiling()
    seen = None

    @jtorch.compile
    def f(x):
        nonlocal seen
        seen = jtorch.compiler.is_compiling()
        return x * 2

    assert_same(f(jtorch.ones(2)), torch.full((2,), 2.0))
    assert seen is True
    jtorch._dynamo.mark_dynamic(jtorch.ones(2), 0)
    assert jtorch._dynamo.config.cache_size_limit == 8

    @jtorch.compiler.disable
    def eager_only(x):
        return x + 1

    g = jtorch.compile(lambda x: eager_only(x) * 2)
    with pytest.warns(UserWarning, match="disable"):
        assert_same(g(jtorch.ones(2)), torch.full((2,), 4.0))


class _Block:
    """A pre-LN transformer block written against either library's namespace."""

    @staticmethod
    def build(nn, F, vocab=32, d=16, heads=2, layers=2, seq=8):
        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
                self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
                self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

            def forward(self, x):
                B, T, C = x.shape
                q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
                q, k, v = (t.view(B, T, heads, C // heads).transpose(1, 2) for t in (q, k, v))
                a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
                x = x + self.proj(a.transpose(1, 2).reshape(B, T, C))
                return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))

        class GPT(nn.Module):
            def __init__(self):
                super().__init__()
                self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(seq, d)
                self.blocks = nn.ModuleList([Block() for _ in range(layers)])
                self.ln, self.head = nn.LayerNorm(d), nn.Linear(d, vocab)

            def forward(self, idx):
                B, T = idx.shape
                import jtorch as jt
                lib = jt if isinstance(idx, jt.Tensor) else torch
                x = self.tok(idx) + self.pos(lib.arange(T))
                for b in self.blocks:
                    x = b(x)
                return self.head(self.ln(x))

        _seed(nn, 0)
        return GPT()


@pytest.mark.slow
def test_small_gpt_adamw_matches_torch():
    import torch.nn.functional as TF
    import jtorch.nn.functional as JF
    tm = _Block.build(torch.nn, TF)
    jm = _Block.build(jtorch.nn, JF)
    assert jm is not None
    jm.load_state_dict({k: to_j(v) for k, v in tm.state_dict().items()})
    g = torch.Generator().manual_seed(0)
    idx = torch.randint(0, 32, (4, 8), generator=g)
    tgt = torch.randint(0, 32, (4, 8), generator=g)
    to = torch.optim.AdamW(tm.parameters(), lr=3e-3)
    jo = jtorch.optim.AdamW(jm.parameters(), lr=3e-3)

    def make(lib, model, opt):
        def step(idx, tgt):
            opt.zero_grad()
            logits = model(idx)
            loss = lib.nn.functional.cross_entropy(logits.view(-1, 32), tgt.view(-1))
            loss.backward()
            opt.step()
            return loss
        return step

    ts, js = make(torch, tm, to), jtorch.compile(make(jtorch, jm, jo))
    ji, jt = to_j(idx), to_j(tgt)
    tl = [ts(idx, tgt) for _ in range(6)]
    jl = [js(ji, jt) for _ in range(6)]
    for a, b in zip(jl, tl):
        assert_same(a, b.detach(), atol=5e-5, rtol=1e-4)
    for (n, a), (_, b) in zip(jm.named_parameters(), tm.named_parameters()):
        if n.endswith("qkv.bias"):
            # the key bias gets a gradient that is zero up to rounding (softmax ignores a shift per query);
            # Adam turns that noise into full-size steps, so it follows no reproducible trajectory
            a, b = a[:16].detach(), b[:16].detach()  # the query part
        assert_same(a.detach(), b.detach(), atol=5e-5, rtol=1e-4, msg=n)
    assert js.trace_count == 1   # AdamW state primed before the first trace: one whole-step program


def test_primed_optimizer_state_matches_torch_for_unused_params():
    """jtorch.compile creates Adam's state before the first trace; a parameter that never gets a
    gradient must end up without state, as in torch, and the rest must match torch's state_dict."""
    def build(nn):
        m = nn.ModuleDict({"used": nn.Linear(4, 3), "unused": nn.Linear(4, 3)})
        return m
    tm, jm = _pair(build)
    x, y = _data(n=8, d=4, k=3)
    to = torch.optim.AdamW(tm.parameters(), lr=0.01)
    jo = jtorch.optim.AdamW(jm.parameters(), lr=0.01)

    def make(lib, m, opt):
        def step(x, y):
            opt.zero_grad(set_to_none=True)
            loss = ((m["used"](x) - y) ** 2).mean()
            loss.backward()
            opt.step()
            return loss
        return step
    ts, js = make(torch, tm, to), jtorch.compile(make(jtorch, jm, jo))
    xj, yj = to_j(x), to_j(y)
    for _ in range(3):
        assert_same(js(xj, yj), ts(x, y).detach(), atol=1e-5, rtol=1e-4)
    assert len(jo.state) == len(to.state) == 2
    tsd, jsd = to.state_dict(), jo.state_dict()
    assert sorted(jsd["state"]) == sorted(tsd["state"])
    for i in tsd["state"]:
        for k, v in tsd["state"][i].items():
            assert_same(jsd["state"][i][k], v, atol=1e-6, rtol=1e-5)
    for (n, a), (_, b) in zip(jm.named_parameters(), tm.named_parameters()):
        assert_same(a.detach(), b.detach(), atol=1e-5, rtol=1e-4, msg=n)
    assert js.trace_count <= 2


@pytest.mark.parametrize("opt_name,kw", [("AdamW", {}), ("SGD", {"momentum": 0.9}), ("RMSprop", {})])
def test_zero_grad_after_step_keeps_lazily_created_optimizer_state(opt_name, kw):
    # `backward(); step(); zero_grad(set_to_none=True)`: every .grad is None when the call returns,
    # yet each parameter was stepped, so the state made by the first step must survive it
    tm, jm = _pair(_mlp)
    x, y = _data()
    losses = {}
    for lib, m, xx, yy in ((torch, tm, x, y), (jtorch, jm, to_j(x), to_j(y))):
        opt = getattr(lib.optim, opt_name)(m.parameters(), lr=1e-2, **kw)

        def step(xx, yy):
            loss = lib.nn.functional.mse_loss(m(xx), yy)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            return loss
        f = jtorch.compile(step) if lib is jtorch else step
        losses[lib.__name__] = [float(f(xx, yy)) for _ in range(5)]
        if opt_name != "SGD":
            assert [float(s["step"]) for s in opt.state.values()] == [5.0] * 4
    np.testing.assert_allclose(losses["jtorch"], losses["torch"], rtol=1e-5)
    for (n, a), (_, b) in zip(jm.named_parameters(), tm.named_parameters()):
        assert_same(a.detach(), b.detach(), atol=1e-5, rtol=1e-5, msg=n)
