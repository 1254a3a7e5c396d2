"""autograd.Function, autograd.functional and gradcheck against torch."""
import numpy as np
import pytest
import torch

import jtorch
from oracle import assert_same, same_error, to_j

rng = np.random.default_rng(2)
X = torch.tensor(rng.standard_normal((3, 4)), dtype=torch.float64)
Y = torch.tensor(rng.standard_normal((3, 4)), dtype=torch.float64)
V = torch.tensor(rng.standard_normal(3), dtype=torch.float64)


def make_functions(lib):
    class Exp(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            out = x.exp()
            ctx.save_for_backward(out)
            return out

        @staticmethod
        def backward(ctx, g):
            (out,) = ctx.saved_tensors
            return g * out

    class ScaledMul(lib.autograd.Function):  # setup_context style, non-tensor arg, needs_input_grad
        @staticmethod
        def forward(x, y, scale):
            return x * y * scale

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, y, scale = inputs
            ctx.save_for_backward(x, y)
            ctx.scale = scale

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            gx = g * y * ctx.scale if ctx.needs_input_grad[0] else None
            gy = g * x * ctx.scale if ctx.needs_input_grad[1] else None
            return gx, gy, None

    class SortWithIdx(lib.autograd.Function):  # two outputs, one non-differentiable
        @staticmethod
        def forward(ctx, x):
            vals, idx = x.sort(dim=-1)
            ctx.mark_non_differentiable(idx)
            ctx.save_for_backward(idx)
            return vals, idx

        @staticmethod
        def backward(ctx, gv, gi):
            (idx,) = ctx.saved_tensors
            return lib.zeros_like(gv).scatter(-1, idx, gv)

    class TwoOut(lib.autograd.Function):  # set_materialize_grads(False): unused output grad is None
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g1, g2):
            ctx.seen_none = g2 is None
            r = g1 * 2
            if g2 is not None:
                r = r + g2 * 3
            return r

    class Cube(lib.autograd.Function):  # differentiable backward: double backward works
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x ** 2

    class OnceCube(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        @lib.autograd.function.once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x ** 2

    return Exp, ScaledMul, SortWithIdx, TwoOut, Cube, OnceCube


FT = make_functions(torch)
FJ = make_functions(jtorch)


def both(fn, *arrays):
    tl = [a.clone().requires_grad_(True) for a in arrays]
    jl = [to_j(a, requires_grad=True) for a in arrays]
    rt = fn(torch, FT, *tl)
    rj = fn(jtorch, FJ, *jl)
    if rt is not None:
        assert_same(rj, rt)
    for a, b in zip(jl, tl):
        assert (a.grad is None) == (b.grad is None)
        if b.grad is not None:
            assert_same(a.grad, b.grad)
    return rj, rt


def test_function_basic_and_name():
    def f(lib, F, x):
        y = F[0].apply(x)
        assert y.grad_fn.name() == "ExpBackward"
        (y * y).sum().backward()
        return y
    both(f, X)


def test_setup_context_needs_input_grad():
    def f(lib, F, x, y):
        y2 = y.detach()
        out = F[1].apply(x, y2, 2.5)
        out.sum().backward()
        return out
    both(f, X, Y)


def test_non_differentiable_output():
    def f(lib, F, x):
        vals, idx = F[2].apply(x)
        assert vals.requires_grad and not idx.requires_grad
        (vals * lib.arange(4, dtype=vals.dtype)).sum().backward()
        return vals, idx
    both(f, X)


def test_set_materialize_grads():
    def f(lib, F, x):
        a, b = F[3].apply(x)
        a.sum().backward()
        assert a.grad_fn.seen_none
    both(f, X)


def test_function_double_backward():
    def f(lib, F, x):
        y = F[4].apply(x).sum()
        (g,) = lib.autograd.grad(y, x, create_graph=True)
        g.sum().backward()
        return g
    both(f, V)


def test_once_differentiable():
    def f(lib, F, x):
        y = F[5].apply(x).sum()
        (g,) = lib.autograd.grad(y, x, create_graph=True)
        assert not g.requires_grad or g.grad_fn is not None
        return g
    both(f, V)


def test_once_differentiable_double_backward_raises():
    """With a grad_output that requires grad, a @once_differentiable backward's result requires
    grad through an `Error` node, and differentiating it again raises torch's message."""
    def f(lib, F, x):
        w = lib.ones(3, dtype=lib.float64, requires_grad=True)
        (g,) = lib.autograd.grad(F[5].apply(x), x, grad_outputs=w, create_graph=True)
        assert g.requires_grad and g.grad_fn.name() == "torch::autograd::Error"
        assert type(g.grad_fn).__name__ == "Error"
        g.sum().backward()
    t = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64, requires_grad=True)
    et, ej = same_error(lambda: f(torch, FT, t), lambda: f(jtorch, FJ, to_j(t, requires_grad=True)))
    assert str(ej) == str(et)
    # without create_graph the result is a plain tensor
    def g(lib, F, x):
        w = lib.ones(3, dtype=lib.float64, requires_grad=True)
        (gr,) = lib.autograd.grad(F[5].apply(x), x, grad_outputs=w)
        assert not gr.requires_grad
        return gr
    both(g, V)


def test_saved_tensor_modified_error_in_function():
    def f(lib, F):
        x = lib.ones(3, requires_grad=True)
        h = x * 2
        y = F[4].apply(h)
        h.add_(1)
        y.sum().backward()
    same_error(lambda: f(torch, FT), lambda: f(jtorch, FJ))


def test_wrong_number_of_grads():
    def make(lib):
        class Bad(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, y):
                return x * y

            @staticmethod
            def backward(ctx, g):
                return g
        return Bad
    bt, bj = make(torch), make(jtorch)
    same_error(lambda: bt.apply(torch.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)).sum().backward(),
               lambda: bj.apply(jtorch.ones(2, requires_grad=True), jtorch.ones(2, requires_grad=True)).sum().backward())


# ---------------------------------------------------------------------------- functional
def fn(lib):
    return lambda x, y: (x.sin() * y + x ** 2).sum(0)


def sfn(lib):
    return lambda x: (x.exp() * x).sum() + (x ** 3).prod()


def test_functional_jacobian_hessian():
    assert_same(jtorch.autograd.functional.jacobian(fn(jtorch), (to_j(X), to_j(Y))),
                torch.autograd.functional.jacobian(fn(torch), (X, Y)))
    assert_same(jtorch.autograd.functional.jacobian(sfn(jtorch), to_j(V)),
                torch.autograd.functional.jacobian(sfn(torch), V))
    assert_same(jtorch.autograd.functional.hessian(sfn(jtorch), to_j(V)),
                torch.autograd.functional.hessian(sfn(torch), V))


def test_functional_vjp_jvp_hvp():
    u = torch.ones(4, dtype=torch.float64) * 0.7
    assert_same(jtorch.autograd.functional.vjp(fn(jtorch), (to_j(X), to_j(Y)), to_j(u)),
                torch.autograd.functional.vjp(fn(torch), (X, Y), u))
    assert_same(jtorch.autograd.functional.jvp(fn(jtorch), (to_j(X), to_j(Y)), (to_j(Y), to_j(X))),
                torch.autograd.functional.jvp(fn(torch), (X, Y), (Y, X)))
    assert_same(jtorch.autograd.functional.hvp(sfn(jtorch), to_j(V), to_j(V * 2)),
                torch.autograd.functional.hvp(sfn(torch), V, V * 2))
    assert_same(jtorch.autograd.functional.vhp(sfn(jtorch), to_j(V), to_j(V * 2)),
                torch.autograd.functional.vhp(sfn(torch), V, V * 2))


# ---------------------------------------------------------------------------- gradcheck
def test_gradcheck():
    x = to_j(V, requires_grad=True)
    assert jtorch.autograd.gradcheck(lambda t: (t.sin() * t).cumsum(0), (x,))
    assert jtorch.autograd.gradgradcheck(lambda t: (t ** 3).sum(), (x,))

    def make(lib):
        class WrongGrad(lib.autograd.Function):
            @staticmethod
            def forward(ctx, t):
                return t * 2

            @staticmethod
            def backward(ctx, g):
                return g * 3
        return WrongGrad
    assert not jtorch.autograd.gradcheck(make(jtorch).apply, (x,), raise_exception=False)
    assert not torch.autograd.gradcheck(make(torch).apply, (V.clone().requires_grad_(),), raise_exception=False)
    et, ej = same_error(lambda: torch.autograd.gradcheck(make(torch).apply, (V.clone().requires_grad_(),)),
                        lambda: jtorch.autograd.gradcheck(make(jtorch).apply, (x,)))
    assert type(ej).__name__ == "GradcheckError"


def test_mark_dirty_inplace_function():
    def mk(lib):
        class Double_(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                x.mul_(2)
                ctx.mark_dirty(x)
                return x

            @staticmethod
            def backward(ctx, g):
                return g * 2
        return Double_

    def f(lib, F, a):
        h = a * 3
        out = mk(lib).apply(h)
        assert out is h and out.grad_fn.name() == "Double_Backward"
        (out * out).sum().backward()
        return out
    both(f, V)


def test_create_graph_grads_of_linear_ops_do_not_require_grad():
    # the grad of y.sum() (or a view, index, mean) w.r.t. x is a constant: under create_graph it
    # requires grad only through the incoming cotangent, so a custom backward that stashes forward
    # tensors on ctx (the double-backward tutorial's SinhBad) gives a grad that does not require grad
    def run(lib):
        class SinhBad(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.expx, ctx.expnegx = lib.exp(x), lib.exp(-x)
                return (ctx.expx - ctx.expnegx) / 2

            @staticmethod
            def backward(ctx, grad_out):
                return grad_out * (ctx.expx + ctx.expnegx) / 2
        x = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)
        out = []
        for f in (lambda x: x.sum(), lambda x: (x + 1).mean(), lambda x: x[1:].sum(),
                  lambda x: x.view(3, 1).t().sum(), lambda x: SinhBad.apply(x).sum(),
                  lambda x: (x * x).sum(), lambda x: x.exp().sum()):
            g, = lib.autograd.grad(f(x), x, create_graph=True)
            out.append((g.requires_grad, g.detach().tolist()))
        # a cotangent that requires grad still makes the grad of a linear op require grad
        v = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64, requires_grad=True)
        g, = lib.autograd.grad(x * 1.0, x, grad_outputs=v, create_graph=True)
        out.append((g.requires_grad, g.detach().tolist()))
        g2, = lib.autograd.grad((g * g).sum(), v)
        out.append(g2.tolist())
        return out
    oj, ot = run(jtorch), run(torch)
    assert [o[0] for o in oj[:-1]] == [o[0] for o in ot[:-1]]
    for a, b in zip(oj[:-1], ot[:-1]):
        np.testing.assert_allclose(a[1], b[1], rtol=1e-12)
    np.testing.assert_allclose(oj[-1], ot[-1], rtol=1e-12)


def _view_functions(lib):
    class Ident(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    class Flat(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.view(-1)

        @staticmethod
        def backward(ctx, g):
            return g.view(2, 2)
    return Ident, Flat


@pytest.mark.parametrize("which", [0, 1])
def test_inplace_on_custom_function_view_output_raises(which):
    """A view a custom Function returns (an input as is, or x.view()) may not be written in place:
    torch refuses, since view+inplace rebasing would bypass the Function's backward (jtorch used to
    return a wrong gradient for the .view() case)."""
    def f(lib):
        x = lib.ones(2, 2, requires_grad=True)
        y = _view_functions(lib)[which].apply(x * 1)
        y.mul_(2)
    et, ej = same_error(lambda: f(torch), lambda: f(jtorch))
    assert str(ej) == str(et)
    # no grad needed: nothing recorded, the write is allowed
    for lib in (torch, jtorch):
        _view_functions(lib)[which].apply(lib.ones(2, 2) * 1).mul_(2)


def test_full_backward_hook_then_inplace_relu_raises():
    """The Grad-CAM pitfall: a full backward hook on a layer followed by ReLU(inplace=True)."""
    def f(lib):
        torch.manual_seed(0)
        m = lib.nn.Sequential(lib.nn.Linear(3, 3), lib.nn.ReLU(inplace=True), lib.nn.Linear(3, 1))
        m[0].register_full_backward_hook(lambda mod, gi, go: None)
        m(lib.ones(2, 3)).sum().backward()
    et, ej = same_error(lambda: f(torch), lambda: f(jtorch))
    assert str(ej) == str(et)


def test_checkpoint_view_output_written_in_place():
    """Non-reentrant checkpoint returns ordinary tensors: writing into an output that is a view (or
    the input returned as is) rebases onto the checkpoint node and the gradient is torch's."""
    from torch.utils.checkpoint import checkpoint as tck
    from jtorch.utils.checkpoint import checkpoint as jck
    for fn in (lambda t: (t * 2).t(), lambda t: t):
        grads = []
        for lib, ck in ((torch, tck), (jtorch, jck)):
            x = lib.ones(2, 3, requires_grad=True)
            y = ck(fn, x * 1, use_reentrant=False)
            y.mul_(3)
            (y * lib.arange(6.0).view(y.shape)).sum().backward()
            grads.append(x.grad)
        assert_same(grads[1], grads[0])
