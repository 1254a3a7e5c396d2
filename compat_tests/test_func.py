"""jtorch.func (grad, vjp, jvp, jacrev, jacfwd, hessian, vmap, functional_call,
stack_module_state) against torch.func on the same inputs."""
import numpy as np
import pytest
import torch
import torch.func as tf

import jtorch
import jtorch.func as jf
from oracle import assert_same, same_error, to_j

rng = np.random.default_rng(1)
X = torch.tensor(rng.standard_normal((3, 4)), dtype=torch.float64)
W = torch.tensor(rng.standard_normal((4, 2)), dtype=torch.float64)
V3 = torch.tensor(rng.standard_normal(3), dtype=torch.float64)


def f_scalar(lib):
    return lambda x, w: ((x @ w).tanh() ** 2).sum() + x.sin().mean()


def f_vec(lib):
    return lambda x: (x.exp() * x.sum()).sin()


def test_grad_argnums():
    for argnums in (0, 1, (0, 1)):
        rt = tf.grad(f_scalar(torch), argnums=argnums)(X, W)
        rj = jf.grad(f_scalar(jtorch), argnums=argnums)(to_j(X), to_j(W))
        assert_same(rj, rt)


def test_grad_and_value_has_aux():
    def f(lib):
        return lambda x: ((x ** 2).sum(), {"m": x.mean(), "n": x.abs()})
    gt, (vt, at) = tf.grad_and_value(f(torch), has_aux=True)(X)
    gj, (vj, aj) = jf.grad_and_value(f(jtorch), has_aux=True)(to_j(X))
    assert_same(gj, gt)
    assert_same(vj, vt)
    assert_same(aj["m"], at["m"])
    assert_same(aj["n"], at["n"])
    gt, at = tf.grad(f(torch), has_aux=True)(X)
    gj, aj = jf.grad(f(jtorch), has_aux=True)(to_j(X))
    assert_same(gj, gt)


def test_grad_of_grad_and_nonscalar_error():
    def f(lib):
        return lambda x: (x ** 3).sum()
    rt = tf.grad(lambda x: tf.grad(f(torch))(x).sum())(V3)
    rj = jf.grad(lambda x: jf.grad(f(jtorch))(x).sum())(to_j(V3))
    assert_same(rj, rt)
    same_error(lambda: tf.grad(lambda x: x * 2)(V3), lambda: jf.grad(lambda x: x * 2)(to_j(V3)))


def test_grad_closure_over_tensor_and_dict_input():
    def f(p, x):
        return ((x @ p["w"]) + p["b"]).relu().sum()
    pt = {"w": W, "b": torch.ones(2, dtype=torch.float64)}
    pj = to_j(pt)
    rt = tf.grad(f)(pt, X)
    rj = jf.grad(f)(pj, to_j(X))
    assert_same(rj["w"], rt["w"])
    assert_same(rj["b"], rt["b"])


def test_vjp_jvp():
    ot, fn = tf.vjp(f_vec(torch), X)
    oj, fj = jf.vjp(f_vec(jtorch), to_j(X))
    assert_same(oj, ot)
    ct = torch.ones_like(ot) * 0.5
    assert_same(fj(to_j(ct)), fn(ct))
    tan = torch.full_like(X, 0.3)
    assert_same(jf.jvp(f_vec(jtorch), (to_j(X),), (to_j(tan),)), tf.jvp(f_vec(torch), (X,), (tan,)))


def test_jacrev_jacfwd_hessian():
    assert_same(jf.jacrev(f_vec(jtorch))(to_j(X)), tf.jacrev(f_vec(torch))(X))
    assert_same(jf.jacfwd(f_vec(jtorch))(to_j(X)), tf.jacfwd(f_vec(torch))(X))
    rt = tf.jacrev(f_scalar(torch), argnums=(0, 1))(X, W)
    rj = jf.jacrev(f_scalar(jtorch), argnums=(0, 1))(to_j(X), to_j(W))
    assert_same(rj, rt)

    def g(lib):
        return lambda v: (v.sin() * v ** 2).sum()
    assert_same(jf.hessian(g(jtorch))(to_j(V3)), tf.hessian(g(torch))(V3))


def test_vmap():
    def f(x, w):
        return (x @ w).softmax(-1)
    assert_same(jf.vmap(f, in_dims=(0, None))(to_j(X), to_j(W)), tf.vmap(f, in_dims=(0, None))(X, W))
    assert_same(jf.vmap(f, in_dims=(1, None), out_dims=1)(to_j(X.t().contiguous()), to_j(W)),
                tf.vmap(f, in_dims=(1, None), out_dims=1)(X.t().contiguous(), W))
    # per-example gradients: vmap(grad)
    def loss(w, x):
        return ((x @ w) ** 2).sum()
    assert_same(jf.vmap(jf.grad(loss), in_dims=(None, 0))(to_j(W), to_j(X)),
                tf.vmap(tf.grad(loss), in_dims=(None, 0))(W, X))
    # nested vmap and a scalar argument closed over
    def h(x, s):
        return x * s
    assert_same(jf.vmap(jf.vmap(h, (0, None)), (0, None))(to_j(X), 2.0), tf.vmap(tf.vmap(h, (0, None)), (0, None))(X, 2.0))


def test_functional_call_and_restore():
    def make(lib):
        lib.manual_seed(0)
        m = lib.nn.Sequential(lib.nn.Linear(4, 3), lib.nn.Tanh(), lib.nn.Linear(3, 2))
        return m
    mt = make(torch).double()
    mj = make(jtorch)
    # same weights in both
    with torch.no_grad():
        sd = {k: to_j(v) for k, v in mt.state_dict().items()}
    mj.load_state_dict(sd)
    mj = mj.double()
    new_t = {k: v.detach() * 2 for k, v in mt.named_parameters()}
    new_j = {k: to_j(v) for k, v in new_t.items()}
    rt = tf.functional_call(mt, new_t, (X,))
    rj = jf.functional_call(mj, new_j, (to_j(X),))
    assert_same(rj, rt)
    # the module's own parameters are back
    assert_same(mj(to_j(X)), mt(X))
    assert isinstance(mj[0].weight, jtorch.nn.Parameter)

    # grads w.r.t. the dict through functional_call (the torch.func idiom)
    def loss(lib, fn, m):
        return lambda p, x: fn(m, p, (x,)).pow(2).sum()
    gt = tf.grad(loss(torch, tf.functional_call, mt))(new_t, X)
    gj = jf.grad(loss(jtorch, jf.functional_call, mj))(new_j, to_j(X))
    for k in gt:
        assert_same(gj[k], gt[k])

    # restored even when the call raises
    with pytest.raises(RuntimeError):
        jf.functional_call(mj, new_j, (jtorch.ones(3, 3, dtype=jtorch.float64),))
    assert mj[0].weight is dict(mj.named_parameters())["0.weight"]
    assert_same(mj(to_j(X)), mt(X))


def test_functional_call_autograd():
    """Eager autograd through functional_call reaches the given tensors, not the module's."""
    lin_t = torch.nn.Linear(4, 2).double()
    lin_j = jtorch.nn.Linear(4, 2).double()
    wt = W.t().clone().requires_grad_(True)
    wj = to_j(W.t().clone(), requires_grad=True)
    tf.functional_call(lin_t, {"weight": wt, "bias": torch.zeros(2, dtype=torch.float64)}, X).sum().backward()
    jf.functional_call(lin_j, {"weight": wj, "bias": jtorch.zeros(2, dtype=jtorch.float64)}, to_j(X)).sum().backward()
    assert_same(wj.grad, wt.grad)
    assert lin_j.weight.grad is None


def test_stack_module_state_ensemble():
    torch.manual_seed(0)
    models_t = [torch.nn.Linear(4, 2).double() for _ in range(3)]
    models_j = [jtorch.nn.Linear(4, 2).double() for _ in range(3)]
    for a, b in zip(models_j, models_t):
        a.load_state_dict({k: to_j(v) for k, v in b.state_dict().items()})
    pt, bt = tf.stack_module_state(models_t)
    pj, bj = jf.stack_module_state(models_j)
    for k in pt:
        assert_same(pj[k], pt[k])
        assert pj[k].requires_grad == pt[k].requires_grad and pj[k].is_leaf
    base_t, base_j = models_t[0], models_j[0]

    def ens(fc, m):
        return lambda p, b, x: fc(m, (p, b), (x,))
    rt = tf.vmap(ens(tf.functional_call, base_t), in_dims=(0, 0, None))(pt, bt, X)
    rj = jf.vmap(ens(jf.functional_call, base_j), in_dims=(0, 0, None))(pj, bj, to_j(X))
    assert_same(rj, rt)


# --- transforms inside an eager-autograd graph (torch.func lifts requires-grad inputs) ---

def _outer_grads(lib, func_mod, x, w, case):
    x = x.clone().requires_grad_(True)
    w = w.clone().requires_grad_(True)
    if case == "vmap_arg":      # MAML: meta-parameters passed to a vmapped task loss
        out = func_mod.vmap(lambda p, xi: ((xi @ p).tanh() ** 2).sum(), in_dims=(None, 0))(w, x)
    elif case == "grad_arg":    # an inner gradient step that stays differentiable
        g = func_mod.grad(lambda p, xx: ((xx @ p).sin() ** 2).sum())(w, x)
        out = ((w - 0.1 * g) ** 2).sum(0)
    elif case == "vmap_closure":  # vmap over a function closing over a requires-grad tensor
        out = func_mod.vmap(lambda xi: (xi @ w).tanh())(x).sum(1)
    elif case == "jacrev_closure":  # input-Jacobian penalty on a model's weights
        out = func_mod.jacrev(lambda xi: (xi @ w).sin())(x[0]).pow(2).sum(0)
    elif case == "vmap_jacrev":
        out = func_mod.vmap(func_mod.jacrev(lambda xi: (xi @ w).sin()))(x).sum((1, 2))
    assert out.requires_grad and out.grad_fn is not None
    out.pow(2).sum().backward()
    return out, x.grad, w.grad


@pytest.mark.parametrize("case", ["vmap_arg", "grad_arg", "vmap_closure", "jacrev_closure", "vmap_jacrev"])
def test_transform_output_backpropagates_to_outer_graph(case):
    rt = _outer_grads(torch, tf, X, W, case)
    rj = _outer_grads(jtorch, jf, to_j(X), to_j(W), case)
    for a, b in zip(rj, rt):
        if b is None:
            assert a is None
        else:
            assert_same(a.detach(), b.detach())


def test_transform_of_module_trains_its_parameters():
    torch.manual_seed(0)
    lt = torch.nn.Linear(4, 2).double()
    lj = jtorch.nn.Linear(4, 2).double()
    lj.load_state_dict({k: to_j(v) for k, v in lt.state_dict().items()})
    for lib, fm, lin, x in ((torch, tf, lt, X), (jtorch, jf, lj, to_j(X))):
        fm.vmap(lin)(x).sum().backward()
    assert_same(lj.weight.grad, lt.weight.grad)
    assert_same(lj.bias.grad, lt.bias.grad)


def test_transform_with_no_grad_inputs_stays_out_of_graph():
    x = to_j(X)
    out = jf.vmap(lambda v: v.sin())(x)
    assert not out.requires_grad and out.grad_fn is None
    with jtorch.no_grad():
        out = jf.vmap(lambda v: v.sin())(x.requires_grad_())
    assert not out.requires_grad


def test_ensemble_over_meta_skeleton_module():
    # torch.func's model-ensembling recipe: stack_module_state + functional_call on a 'meta' copy
    torch.manual_seed(0)
    ts = [torch.nn.Linear(3, 2) for _ in range(3)]
    x = torch.randn(4, 3)
    res = []
    for lib, fm, models in ((torch, tf, ts), (jtorch, jf, None)):
        if models is None:
            models = [jtorch.nn.Linear(3, 2) for _ in range(3)]
            for m, t in zip(models, ts):
                m.load_state_dict({k: to_j(v) for k, v in t.state_dict().items()})
        params, buffers = fm.stack_module_state(models)
        import copy
        base = copy.deepcopy(models[0]).to("meta")
        out = fm.vmap(lambda p, b, xx: fm.functional_call(base, (p, b), (xx,)), in_dims=(0, 0, None))(
            params, buffers, x if lib is torch else to_j(x))
        out.sum().backward()
        res.append((out, params["weight"].grad))
    assert res[1][0].device.type == "cpu"
    assert_same(res[1][0].detach(), res[0][0].detach())
    assert_same(res[1][1], res[0][1])


def test_per_sample_grads_with_detached_params_do_not_require_grad():
    # torch.func's per-sample-gradient recipe closes over a model whose parameters require grad but
    # calls it through functional_call with detached copies: the result is not part of any graph
    torch.manual_seed(0)
    mt = torch.nn.Linear(3, 1)
    mj = jtorch.nn.Linear(3, 1)
    mj.load_state_dict({k: to_j(v) for k, v in mt.state_dict().items()})
    x = torch.randn(4, 3)
    outs = []
    for fm, m, xx in ((tf, mt, x), (jf, mj, to_j(x))):
        params = {k: v.detach() for k, v in m.named_parameters()}
        g = fm.vmap(fm.grad(lambda p, xi: fm.functional_call(m, p, (xi,)).sum()), in_dims=(None, 0))(params, xx)
        outs.append(g["weight"])
    assert outs[1].requires_grad == outs[0].requires_grad == False
    assert_same(outs[1], outs[0])


def test_dict_pytrees_keep_insertion_order():
    # torch.func's pytrees keep a dict's insertion order (the per-sample-gradient recipe zips
    # grads.values() with model.parameters()); jax's sort the keys
    def run(lib, func):
        x = lib.tensor(np.arange(6.0).reshape(2, 3))
        p = {"w": lib.tensor([1.0, 2.0, 3.0]), "b": lib.tensor(0.5), "a": lib.tensor([1.0, -1.0, 2.0])}

        def loss(p, x):
            return ((x * p["w"] + p["b"]) * p["a"]).sum()

        def two(x):
            return {"z": x.sin(), "y": x.cos()}
        g = func.grad(loss)(p, x[0])
        psg = func.vmap(func.grad(loss), in_dims=(None, 0))(p, x)
        jac = func.jacrev(loss)(p, x[0])
        vm = func.vmap(two)(x)
        _, vjp_fn = func.vjp(two, x)
        gv = func.grad(lambda p: loss(p, x[0]))({k: v.requires_grad_() for k, v in p.items()})
        return [list(d) for d in (g, psg, jac, vm, gv)], [g, psg, jac, vm]
    (kt, vt), (kj, vj) = run(torch, tf), run(jtorch, jf)
    assert kj == kt == [["w", "b", "a"]] * 3 + [["z", "y"], ["w", "b", "a"]]
    for dj, dt in zip(vj, vt):
        for k in dt:
            assert_same(dj[k], dt[k])


def test_transform_node_runs_function_once_and_supports_double_backward():
    # the recorded transform keeps its pullback: backward does not re-run the user's function
    # (side effects such as an evaluation counter happen once, as in torch); a create_graph
    # backward stays differentiable
    res = []
    for lib, fm in ((torch, tf), (jtorch, jf)):
        calls = [0]
        w = lib.tensor([[0.3, -1.2], [0.8, 0.5]], dtype=lib.float64, requires_grad=True)
        x = lib.tensor([[1.0, 2.0], [-0.5, 0.25], [0.1, 0.0]], dtype=lib.float64)

        def f(xi, w=w):
            calls[0] += 1
            return (xi @ w).sin().sum()
        out = fm.vmap(f)(x)
        g, = lib.autograd.grad(out.pow(2).sum(), w, create_graph=True)
        n_calls = calls[0]   # (a second-order backward re-traces f in jtorch: not counted)
        h, = lib.autograd.grad(g.pow(2).sum(), w)
        res.append((n_calls, g.detach(), h))
    assert res[1][0] == res[0][0] == 1
    assert_same(res[1][1], res[0][1])
    assert_same(res[1][2], res[0][2])


def test_numpy_inside_a_transform_is_a_clear_error():
    # torch.func runs eagerly, so the torch.func tutorial's NumpySin (np.sin(x.cpu().numpy())
    # inside an autograd.Function) works there; jtorch's transforms trace with JAX, where the
    # values do not exist yet: a RuntimeError naming the cause, not a raw JAX traceback
    def f(x):
        return jtorch.tensor(np.sin(x.numpy())).sum() + x.sum()
    x = to_j(V3)
    for transform in (jf.grad, jf.vmap):
        with pytest.raises(RuntimeError, match=r"Tensor.numpy\(\) needs a concrete value.*jtorch.func"):
            transform(f)(x)
    with pytest.raises(RuntimeError, match="converting a tensor to a numpy array"):
        jf.grad(lambda x: (x * float(np.asarray(x).sum())).sum())(x)
    assert np.allclose(f(x).item(), np.sin(V3.numpy()).sum() + V3.numpy().sum())   # eager: fine
