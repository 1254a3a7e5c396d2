"""Autograd against real torch: backward, grad_fn, errors, in-place/views, autograd.grad,
higher-order grads, grad modes, hooks, anomaly detection, memory."""
import gc
import threading
import warnings
import weakref

import numpy as np
import pytest
import torch

import jtorch
from oracle import assert_same, same_error, to_j

rng = np.random.default_rng(0)
A = rng.standard_normal((3, 4)).astype(np.float32)
B = rng.standard_normal((3, 4)).astype(np.float32)
V = rng.standard_normal(4).astype(np.float32)


def leaves(lib, *arrays, dtype=None):
    return [lib.tensor(a, requires_grad=True, dtype=dtype) for a in arrays]


def run_both(fn, *arrays, dtype=None):
    """fn(lib, *leaf_tensors) for torch and jtorch; compares what it returns and the leaves' grads."""
    tl = leaves(torch, *arrays, dtype=dtype)
    jl = leaves(jtorch, *arrays, dtype=None if dtype is None else to_j(dtype))
    rt = fn(torch, *tl)
    rj = fn(jtorch, *jl)
    if rt is not None:
        assert_same(rj, rt)
    for a, b in zip(jl, tl):
        if b.grad is None:
            assert a.grad is None
        else:
            assert_same(a.grad, b.grad, rtol=1e-5, atol=1e-6)
    return rj, rt


# ---------------------------------------------------------------------------- basics
def test_seed_example():
    a = jtorch.tensor(2.0, requires_grad=True)
    b = jtorch.tensor(3.0, requires_grad=True)
    c = a * b + b
    c.backward()
    assert a.grad.item() == 3.0 and b.grad.item() == 3.0


def test_accumulation_and_shared_use():
    def f(lib, a, b):
        for _ in range(3):
            (a * b + a * a).sum().backward()
        y = a.exp()
        (y * y + y).mean().backward()
    run_both(f, A, B)


def test_broadcast_grads():
    def f(lib, a, v):
        ((a * v + v) ** 2).sum().backward()
    run_both(f, A, V)


def test_backward_with_gradient_and_nonscalar():
    def f(lib, a):
        y = a * 2 + a.sin()
        y.backward(lib.ones_like(y) * 0.5)
    run_both(f, A)


def test_is_leaf_and_requires_grad_rules():
    for lib in (torch, jtorch):
        a = lib.ones(2, requires_grad=True)
        b = lib.ones(2)
        c = a * b
        assert a.is_leaf and b.is_leaf and not c.is_leaf
        assert c.requires_grad and not (b * 2).requires_grad
        assert c.grad_fn is not None and b.grad_fn is None and a.grad_fn is None
        with lib.no_grad():
            d = a * 2
        assert d.is_leaf and not d.requires_grad
        assert not (a > 0).requires_grad
        assert a.detach().is_leaf and not a.detach().requires_grad
    same_error(lambda: torch.ones(2, dtype=torch.long).requires_grad_(),
               lambda: jtorch.ones(2, dtype=jtorch.long).requires_grad_())
    same_error(lambda: (torch.ones(2, requires_grad=True) * 2).requires_grad_(False),
               lambda: (jtorch.ones(2, requires_grad=True) * 2).requires_grad_(False))


NAME_CASES = [
    ("mul", lambda lib, a, b: a * b),
    ("add", lambda lib, a, b: a + b),
    ("sub", lambda lib, a, b: a - b),
    ("div", lambda lib, a, b: a / b),
    ("neg", lambda lib, a, b: -a),
    ("sum", lambda lib, a, b: a.sum()),
    ("mean", lambda lib, a, b: a.mean()),
    ("exp", lambda lib, a, b: a.exp()),
    ("log", lambda lib, a, b: a.abs().log()),
    ("tanh", lambda lib, a, b: a.tanh()),
    ("sigmoid", lambda lib, a, b: a.sigmoid()),
    ("relu", lambda lib, a, b: a.relu()),
    ("pow", lambda lib, a, b: a ** 2),
    ("sqrt", lambda lib, a, b: a.abs().sqrt()),
    ("mm", lambda lib, a, b: a @ b.t()),
    ("t", lambda lib, a, b: a.t()),
    ("view", lambda lib, a, b: a.view(12)),
    ("reshape", lambda lib, a, b: a.reshape(4, 3)),
    ("transpose", lambda lib, a, b: a.transpose(0, 1)),
    ("permute", lambda lib, a, b: a.permute(1, 0)),
    ("unsqueeze", lambda lib, a, b: a.unsqueeze(0)),
    ("select", lambda lib, a, b: a[0]),
    ("slice", lambda lib, a, b: a[:, 1:]),
    ("cat", lambda lib, a, b: lib.cat([a, b])),
    ("stack", lambda lib, a, b: lib.stack([a, b])),
    ("softmax", lambda lib, a, b: lib.softmax(a, -1)),
    ("log_softmax", lambda lib, a, b: lib.log_softmax(a, -1)),
    ("clone", lambda lib, a, b: a.clone()),
    ("expand", lambda lib, a, b: a[:1].expand(3, 4)),
    ("max", lambda lib, a, b: a.max()),
    ("where", lambda lib, a, b: lib.where(a > 0, a, b)),
    ("abs", lambda lib, a, b: a.abs()),
    ("to", lambda lib, a, b: a.double()),
    ("mul_scalar", lambda lib, a, b: a * 2),
    ("rsub", lambda lib, a, b: 1 - a),
    ("where_const", lambda lib, a, b: lib.where(a > 0, a, b.detach())),
    ("add_alpha", lambda lib, a, b: lib.add(a, b.detach(), alpha=2)),
    ("clamp", lambda lib, a, b: a.clamp(0, 1)),
    ("pow_tensor", lambda lib, a, b: a.abs() ** b),
    ("rpow", lambda lib, a, b: 2 ** a),
    ("gather", lambda lib, a, b: a.gather(1, lib.tensor([[0], [1], [2]]))),
    ("index", lambda lib, a, b: a[lib.tensor([0, 2])]),
    ("masked_fill", lambda lib, a, b: a.masked_fill(a > 0, 1.0)),
    ("lerp", lambda lib, a, b: lib.lerp(a, b.detach(), 0.3)),
]


@pytest.mark.parametrize("case", NAME_CASES, ids=[c[0] for c in NAME_CASES])
def test_grad_fn_names(case):
    _, f = case
    ta, tb = leaves(torch, A, B)
    ja, jb = leaves(jtorch, A, B)
    tn, jn = f(torch, ta, tb).grad_fn, f(jtorch, ja, jb).grad_fn
    assert jn.name() == tn.name()
    # next_functions: same length, same node kinds (None where torch has None)
    tnf = [(n.name() if n is not None else None, i) for n, i in tn.next_functions]
    jnf = [(n.name() if n is not None else None, i) for n, i in jn.next_functions]
    assert jnf == tnf


def test_next_functions():
    for lib in (torch, jtorch):
        a, b = leaves(lib, A, B)
        y = (a * b).sum()
        nf = y.grad_fn.next_functions
        assert len(nf) == 1 and nf[0][1] == 0
        mul = nf[0][0]
        assert mul.name() == "MulBackward0"
        names = [(n.name() if n is not None else None, i) for n, i in mul.next_functions]
        assert names == [("torch::autograd::AccumulateGrad", 0)] * 2
        assert mul.next_functions[0][0].variable is a
        c = a * 2  # constant operand: torch lists only the tensor inputs it differentiates
        assert c.grad_fn.next_functions[0][0].variable is a


def test_retain_grad():
    def f(lib, a, b):
        h = a * b
        h.retain_grad()
        assert h.retains_grad
        y = (h.tanh() * 3).sum()
        y.backward()
        return h.grad
    run_both(f, A, B)
    # non-leaf .grad without retain_grad warns (torch's UserWarning) and is None
    for lib in (torch, jtorch):
        a = lib.ones(2, requires_grad=True)
        h = a * 2
        h.sum().backward()
        with pytest.warns(UserWarning):
            assert h.grad is None


def test_detach_and_detach_():
    def f(lib, a, b):
        d = (a * 2).detach()
        assert not d.requires_grad and d.is_leaf
        y = a * 3
        y.detach_()
        assert not y.requires_grad and y.grad_fn is None
        ((a * d).sum() + (b * y).sum()).backward()
    run_both(f, A, B)
    # detach shares storage: an in-place change shows through
    for lib in (torch, jtorch):
        a = lib.zeros(3)
        d = a.detach()
        d.add_(1)
        assert a.tolist() == [1.0, 1.0, 1.0]


# ---------------------------------------------------------------------------- errors
def test_error_backward_twice():
    def f(lib):
        a = lib.tensor(A, requires_grad=True)
        y = (a * a).sum()
        y.backward()
        y.backward()
    et, ej = same_error(lambda: f(torch), lambda: f(jtorch))
    assert "second time" in str(ej)


def test_backward_twice_with_retain_graph():
    def f(lib, a):
        y = (a * a).sum()
        y.backward(retain_graph=True)
        y.backward()
    run_both(f, A)


def test_error_nonscalar_backward():
    et, ej = same_error(lambda: (torch.ones(3, requires_grad=True) * 2).backward(),
                        lambda: (jtorch.ones(3, requires_grad=True) * 2).backward())
    assert str(ej) == str(et)


def test_error_no_grad_tensor_backward():
    et, ej = same_error(lambda: torch.ones(()).backward(), lambda: jtorch.ones(()).backward())
    assert str(ej) == str(et)


def test_error_gradient_shape_mismatch():
    et, ej = same_error(lambda: (torch.ones(3, requires_grad=True) * 2).backward(torch.ones(2)),
                        lambda: (jtorch.ones(3, requires_grad=True) * 2).backward(jtorch.ones(2)))
    assert str(ej) == str(et)


def test_error_inplace_on_leaf():
    et, ej = same_error(lambda: torch.ones(3, requires_grad=True).add_(1),
                        lambda: jtorch.ones(3, requires_grad=True).add_(1))
    assert str(ej) == str(et)

    def g(lib):
        a = lib.ones(3, 2, requires_grad=True)
        a[0] = 5
    same_error(lambda: g(torch), lambda: g(jtorch))
    # allowed under no_grad (how optimizers update parameters)
    for lib in (torch, jtorch):
        a = lib.ones(3, requires_grad=True)
        with lib.no_grad():
            a.add_(1)
            a[0] = 7
        assert a.tolist() == [7.0, 2.0, 2.0] and a.requires_grad and a.is_leaf


def test_error_saved_tensor_modified_inplace():
    def f(lib):
        a = lib.tensor(A, requires_grad=True)
        h = a * 2
        y = (h * h).sum()
        h.add_(1)
        y.backward()
    et, ej = same_error(lambda: f(torch), lambda: f(jtorch))
    assert "modified by an inplace operation" in str(ej)
    assert "is at version 1; expected version 0 instead" in str(ej)


def test_inplace_after_linear_use_is_fine():
    def f(lib, a):
        h = a * 2
        y = (h + 1).sum()
        h.add_(1)
        y.backward()
    run_both(f, A)


def test_error_numpy_requires_grad():
    et, ej = same_error(lambda: torch.ones(2, requires_grad=True).numpy(),
                        lambda: jtorch.ones(2, requires_grad=True).numpy())
    assert str(ej) == str(et)
    assert jtorch.ones(2, requires_grad=True).detach().numpy().tolist() == [1.0, 1.0]


# ---------------------------------------------------------------------------- in-place & views
def test_inplace_ops_in_graph():
    def f(lib, a, b):
        h = a * b
        h.add_(a)
        h.mul_(2).sub_(b)
        h.tanh_()
        h.sum().backward()
    run_both(f, A, B)


def test_write_through_view_column():
    def f(lib, a, y):
        x = a.clone()
        x[:, 0] = y[:, 1] * 2
        (x * x).sum().backward()
    run_both(f, A, B)


def test_masked_assign():
    def f(lib, a, b):
        out = a * b
        out[out > 0] = 0
        (out * 3).sum().backward()
        return out
    run_both(f, A, B)


def test_inplace_through_view_add():
    def f(lib, a, b):
        x = a * 1
        v = x[1:, :2]
        v.mul_(b[1:, :2])
        v += 1
        (x ** 2).sum().backward()
        return x
    run_both(f, A, B)


def test_kv_cache_write():
    T = 3
    K = rng.standard_normal((2, T, 4)).astype(np.float32)

    def f(lib, k, w):
        cache = lib.zeros(2, T, 4)
        for t in range(T):
            cache[:, t] = k[:, t] * w
            att = (cache[:, : t + 1] * k[:, t:t + 1]).sum()
        (att + cache.pow(2).sum()).backward()
        return cache
    run_both(f, K, V)


def test_data_copy_():
    def f(lib, p, b):
        with lib.no_grad():
            pass
        p.data.copy_(b * 0 + 1.5)  # writes through to p, outside autograd
        (p * b).sum().backward()
        return p.detach()
    run_both(f, A, B)


def test_view_of_leaf_then_inplace_errors():
    def f(lib):
        a = lib.ones(3, 2, requires_grad=True)
        a[0].mul_(2)
    same_error(lambda: f(torch), lambda: f(jtorch))


def test_view_sees_base_inplace():
    def f(lib, a):
        x = a * 1
        v = x[0]
        x.mul_(3)
        (v * v).sum().backward()
        return v
    run_both(f, A)


# ---------------------------------------------------------------------------- autograd.grad
def test_grad_basic_and_grad_outputs():
    def f(lib, a, b):
        y = a * b.exp()
        g = lib.autograd.grad(y, (a, b), grad_outputs=lib.ones_like(y) * 2)
        assert a.grad is None
        return g
    run_both(f, A, B)


def test_grad_allow_unused_and_materialize():
    def f(lib):
        a, b = leaves(lib, A, B)
        lib.autograd.grad((a * 2).sum(), (a, b))
    same_error(lambda: f(torch), lambda: f(jtorch))

    def g(lib, a, b):
        r1 = lib.autograd.grad((a * 2).sum(), (a, b), allow_unused=True)
        assert r1[1] is None
        r2 = lib.autograd.grad((a * 2).sum(), (a, b), materialize_grads=True)
        return r1[0], r2[0], r2[1]
    run_both(g, A, B)


def test_grad_nonleaf_input():
    def f(lib, a):
        h = a.sin()
        y = (h * h).sum()
        return lib.autograd.grad(y, [h, a])
    run_both(f, A)


def test_gradient_penalty_create_graph():
    def f(lib, a, w):
        out = (a @ w.t()).tanh().sum()
        (g,) = lib.autograd.grad(out, a, create_graph=True)
        assert g.requires_grad
        pen = ((g.norm(2, dim=1) - 1) ** 2).mean()
        pen.backward()
        return g
    run_both(f, A, B, dtype=torch.float64)


def test_hessian_vector_product():
    def f(lib, x, v):
        y = (x ** 3).sum() + (x.sin() * x).sum()
        (g,) = lib.autograd.grad(y, x, create_graph=True)
        (hv,) = lib.autograd.grad(g, x, grad_outputs=v)
        return g, hv
    run_both(f, A, B, dtype=torch.float64)


def test_double_backward_to_leaf():
    def f(lib, x):
        y = (x ** 3).sum()
        (g,) = lib.autograd.grad(y, x, create_graph=True)
        g.sum().backward()
        return g
    run_both(f, V)


def test_backward_create_graph_accumulates_graph():
    def f(lib, x):
        (x ** 3).sum().backward(create_graph=True)
        g = x.grad
        assert g.requires_grad
        x.grad = None
        g.sum().backward()
    run_both(f, V, dtype=torch.float64)


def test_backward_inputs():
    def f(lib, a, b):
        (a * b).sum().backward(inputs=[a])
        assert b.grad is None
    run_both(f, A, B)


# ---------------------------------------------------------------------------- grad modes
def test_grad_modes():
    for lib in (torch, jtorch):
        a = lib.ones(2, requires_grad=True)
        with lib.no_grad():
            assert not lib.is_grad_enabled()
            with lib.enable_grad():
                assert (a * 2).requires_grad
            assert not (a * 2).requires_grad
        assert lib.is_grad_enabled()
        with lib.set_grad_enabled(False):
            assert not (a * 2).requires_grad
        lib.set_grad_enabled(False)
        assert not lib.is_grad_enabled()
        lib.set_grad_enabled(True)
        with lib.inference_mode():
            assert lib.is_inference_mode_enabled() and not (a * 2).requires_grad
        with lib.inference_mode(False):
            assert (a * 2).requires_grad

        @lib.no_grad()
        def f(x):
            return x * 2

        @lib.enable_grad()
        def g(x):
            return x * 2

        @lib.inference_mode()
        def h(x):
            return x * 2
        assert not f(a).requires_grad and not h(a).requires_grad
        with lib.no_grad():
            assert g(a).requires_grad

        @lib.no_grad()
        def gen(x):
            yield x * 2
            yield x * 3
        assert not any(t.requires_grad for t in gen(a))
        assert lib.is_grad_enabled()


def test_grad_mode_thread_local():
    seen = []

    def worker():
        seen.append(jtorch.is_grad_enabled())
    with jtorch.no_grad():
        th = threading.Thread(target=worker)
        th.start()
        th.join()
        assert not jtorch.is_grad_enabled()
    assert seen == [True]


# ---------------------------------------------------------------------------- hooks
def test_tensor_hooks():
    def f(lib, a, b):
        calls = []
        h1 = a.register_hook(lambda g: calls.append("a") or g * 2)
        h = a * b
        h.register_hook(lambda g: g + 1)
        hd = h.register_hook(lambda g: calls.append("h"))
        hd.remove()
        (h * h).sum().backward()
        h1.remove()
        (a * 1).sum().backward()
        assert calls == ["a"]
    run_both(f, A, B)


def test_post_accumulate_grad_hook():
    def f(lib, a):
        seen = []
        hd = a.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.clone()))
        (a * 3).sum().backward()
        (a * 3).sum().backward()
        hd.remove()
        (a * 3).sum().backward()
        assert len(seen) == 2
        return seen[1]
    run_both(f, A)
    same_error(lambda: (torch.ones(2, requires_grad=True) * 2).register_post_accumulate_grad_hook(print),
               lambda: (jtorch.ones(2, requires_grad=True) * 2).register_post_accumulate_grad_hook(print))


def test_hook_on_no_grad_tensor_errors():
    same_error(lambda: torch.ones(2).register_hook(print), lambda: jtorch.ones(2).register_hook(print))


def test_node_hooks():
    def f(lib, a, b):
        y = a * b
        seen = []
        y.grad_fn.register_prehook(lambda go: seen.append(len(go)) or (go[0] * 3,))
        y.grad_fn.register_hook(lambda gi, go: (gi[0] * 0 + 1, gi[1]))
        y.sum().backward()
        assert seen == [1]
    run_both(f, A, B)


# ---------------------------------------------------------------------------- anomaly
def test_detect_anomaly_nan():
    def f(lib):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with lib.autograd.detect_anomaly():
                w = lib.tensor([-1.0], requires_grad=True)
                lib.sqrt(w).sum().backward()
    et, ej = same_error(lambda: f(torch), lambda: f(jtorch))
    assert str(ej) == str(et) == "Function 'SqrtBackward0' returned nan values in its 0th output."
    assert not jtorch.is_anomaly_enabled() if hasattr(jtorch, "is_anomaly_enabled") else True


def test_set_detect_anomaly_flags():
    for lib in (torch, jtorch):
        assert not lib.is_anomaly_enabled()
        lib.autograd.set_detect_anomaly(True)
        assert lib.is_anomaly_enabled()
        lib.autograd.set_detect_anomaly(False)
        assert not lib.is_anomaly_enabled()
        with lib.autograd.set_detect_anomaly(True):
            assert lib.is_anomaly_enabled()
        assert not lib.is_anomaly_enabled()


# ---------------------------------------------------------------------------- memory
def test_graph_freed_and_tensors_collectable():
    a = jtorch.randn(8, 8, requires_grad=True)
    h = a * 2
    y = (h * h).sum()
    node = y.grad_fn
    refs = [weakref.ref(h), weakref.ref(y), weakref.ref(node)]
    y.backward()
    del h, y, node
    assert all(r() is None for r in refs)  # freed by refcount alone (no cycles)
    x = jtorch.randn(4, requires_grad=True)
    (x * x).sum().backward()
    rx = weakref.ref(x)
    del x
    assert rx() is None


@pytest.mark.parametrize("steps", [600, pytest.param(10000, marks=pytest.mark.slow)])
def test_no_memory_growth_training_loop(steps):
    """Python heap (tracemalloc), live Python objects and live jax arrays stay flat over a
    training loop: each step's graph is freed after backward."""
    import jax
    import tracemalloc
    w = jtorch.randn(16, 16, requires_grad=True)
    x = jtorch.randn(8, 16)

    def step():
        w.grad = None
        h = x @ w
        loss = (h.tanh() ** 2).mean()
        loss.backward()
        with jtorch.no_grad():
            w.sub_(w.grad * 0.01)

    for _ in range(200):
        step()
    gc.collect()
    n_arrays = len(jax.live_arrays())
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    n0 = len(gc.get_objects())
    for _ in range(steps):
        step()
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    assert grown < 100_000, grown
    assert len(gc.get_objects()) - n0 < 200
    assert len(jax.live_arrays()) <= n_arrays + 2


def test_fused_backward_matches_torch(monkeypatch):
    """A graph seen several times runs as one compiled backward; grads stay torch's, with
    accumulation, set-to-none, retain_graph and a saved-tensor error all behaving the same."""
    from jtorch.autograd import engine
    W = rng.standard_normal((4, 5)).astype(np.float32)

    def f(lib, a, w):
        out = []
        for i in range(6):
            if i == 3:
                a.grad = None
            h = (a @ w).relu()
            loss = (h * h.sigmoid()).mean() + (a.exp() * 0.1).sum()
            loss.backward(retain_graph=(i == 5))
            out.append(a.grad.clone())
        loss.backward()
        out.append(w.grad.clone())
        return out
    monkeypatch.setattr(engine, "_FUSE_AFTER", 3)
    engine._FUSED.clear()
    run_both(f, A, W)
    assert any(v[1] is not None for v in engine._FUSED.values())

    def g(lib, a, w):
        for i in range(5):
            h = a @ w
            y = (h * h).sum()
            if i == 4:
                h.add_(1)
            y.backward()
    same_error(lambda: g(torch, *leaves(torch, A, W)), lambda: g(jtorch, *leaves(jtorch, A, W)))


def test_anomaly_warning_names_forward_line():
    w = jtorch.tensor([-1.0], requires_grad=True)
    with pytest.warns(UserWarning) as rec:
        with jtorch.autograd.detect_anomaly():
            y = jtorch.sqrt(w)  # the forward line the warning must show
            with pytest.raises(RuntimeError, match="SqrtBackward0"):
                y.sum().backward()
    text = "\n".join(str(r.message) for r in rec)
    assert "Error detected in SqrtBackward0" in text and "the forward line the warning must show" in text


def test_backward_inside_no_grad_and_multiple_roots():
    def f(lib, a, b):
        y1 = (a * b).sum()
        y2 = a.exp()
        with lib.no_grad():
            lib.autograd.backward([y1, y2], [None, lib.ones_like(y2) * 0.5])
        g = lib.autograd.grad([(a * a).sum(), (b * a).sum()], [a, b])
        return g
    run_both(f, A, B)


def test_grad_outputs_with_none_and_multi_output_op():
    def f(lib, a):
        vals, idx = a.max(1)
        parts = a.split(2, dim=1)
        return lib.autograd.grad([vals.sum(), parts[1]], [a], grad_outputs=[None, lib.ones_like(parts[1])])
    run_both(f, A)


def test_grad_is_grads_batched():
    def f(lib, v):
        y = v.sin() * 2
        return lib.autograd.grad(y, v, lib.eye(4), is_grads_batched=True)
    run_both(f, V)


def test_grad_wrt_nonleaf_does_not_consume_graph_below():
    def f(lib, a):
        h = a * a
        h.register_hook(lambda g: g * 10)
        g1 = lib.autograd.grad((h * 3).sum(), h)
        g2 = lib.autograd.grad((h * 3).sum(), a)  # h's own node must still be intact
        return g1, g2
    run_both(f, V)


@pytest.mark.parametrize("fname", ["jacobian", "hessian", "vjp", "jvp", "vhp", "hvp"])
def test_autograd_functional_create_graph_keeps_input_graph(fname):
    # with create_graph=True an input that requires grad is not detached (torch's _grad_preprocess):
    # a Jacobian penalty / i-ResNet log-determinant backpropagates into what produced the input
    def run(lib):
        AF = lib.autograd.functional
        w = lib.tensor([[0.3, -1.2], [0.8, 0.5]], dtype=lib.float64, requires_grad=True)
        x = (w * 2).sum(0)                       # a non-leaf input that depends on w

        def f(v):
            return (v.sin() * v.roll(1)).sum() if fname in ("hessian", "vhp", "hvp") else v.tanh() * v[0]
        v = lib.tensor([1.0, -0.5], dtype=lib.float64)
        if fname in ("jacobian", "hessian"):
            res = getattr(AF, fname)(f, x, create_graph=True)
        elif fname == "vjp":
            res = AF.vjp(f, x, v, create_graph=True)[1]
        else:
            res = getattr(AF, fname)(f, x, v, create_graph=True)[1]
        res.pow(2).sum().backward()
        return res.detach(), w.grad
    (rt, gt), (rj, gj) = run(torch), run(jtorch)
    assert_same(rj, rt)
    assert_same(gj, gt)


def test_autograd_functional_without_create_graph_is_detached():
    x = jtorch.tensor([0.5, -1.0], requires_grad=True)
    j = jtorch.autograd.functional.jacobian(lambda v: v.exp(), x * 2)
    assert not j.requires_grad
