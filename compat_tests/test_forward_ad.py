"""torch.autograd.forward_ad (jtorch/autograd/forward_ad.py) against torch: dual tensors through
ops, views, in-place ops, modules and functional_call, custom Function.jvp, level exit, errors and
gradcheck(check_forward_ad=True)."""
import numpy as np
import pytest
import torch

import jtorch
from oracle import to_j, assert_same, same_error


def _jvp(lib, fn, primals, tangents):
    fw = lib.autograd.forward_ad
    with fw.dual_level():
        duals = [fw.make_dual(p, t) for p, t in zip(primals, tangents)]
        out = fn(lib, *duals)
        res = fw.unpack_dual(out)
        return res.primal.detach(), res.tangent


CASES = {
    "pointwise": lambda L, x, y: (x * y).sin() + x.exp() / (1 + y ** 2),
    "reductions": lambda L, x, y: x.sum(0) * y.mean() + x.softmax(-1).max(1).values.sum(),
    "matmul_views": lambda L, x, y: (x @ y.t()).reshape(-1)[::2].unsqueeze(0),
    "nn_functional": lambda L, x, y: L.nn.functional.layer_norm(L.nn.functional.gelu(x), (4,)) * y,
    "inplace": lambda L, x, y: x.clone().mul_(2).add_(y).tanh_(),
    "indexing": lambda L, x, y: L.cat([x[1:], y[:1]]) * x[:, 2:3],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_ad_through_ops_matches_torch(name):
    g = torch.Generator().manual_seed(0)
    x, y, tx, ty = (torch.randn(3, 4, generator=g, dtype=torch.float64) for _ in range(4))
    tp, tt = _jvp(torch, CASES[name], (x, y), (tx, ty))
    jp, jt = _jvp(jtorch, CASES[name], (to_j(x), to_j(y)), (to_j(tx), to_j(ty)))
    assert_same(jp, tp, atol=1e-12)
    assert_same(jt, tt, atol=1e-10)


def test_dual_parameters_in_a_module_and_functional_call():
    g = torch.Generator().manual_seed(1)
    inp = torch.randn(6, 5, generator=g)
    tangents = {"weight": torch.randn(3, 5, generator=g), "bias": torch.randn(3, generator=g)}
    results = []
    for lib in (torch, jtorch):
        fw = lib.autograd.forward_ad
        lin = lib.nn.Linear(5, 3)
        with lib.no_grad():
            lin.weight.copy_(lib.ones(3, 5) * 0.1)
            lin.bias.fill_(0.2)
        x = inp if lib is torch else to_j(inp)
        tg = tangents if lib is torch else {k: to_j(v) for k, v in tangents.items()}
        with fw.dual_level():
            duals = {k: fw.make_dual(p, tg[k]) for k, p in lin.named_parameters()}
            out = lib.func.functional_call(lin, duals, (x,))
            results.append(fw.unpack_dual(out).tangent)
    assert_same(results[1], results[0], atol=1e-6)


def test_custom_function_jvp_level_exit_and_errors():
    class Exp:
        @staticmethod
        def make(lib):
            class F(lib.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    r = x.exp()
                    ctx.result = r
                    return r

                @staticmethod
                def jvp(ctx, gx):
                    return gx * ctx.result * 2   # deliberately not exp's derivative: jvp must be used
            return F
    x = torch.randn(4, dtype=torch.float64)
    t = torch.randn(4, dtype=torch.float64)
    outs = []
    for lib, xx, tt in ((torch, x, t), (jtorch, to_j(x), to_j(t))):
        fw = lib.autograd.forward_ad
        F = Exp.make(lib)
        with fw.dual_level():
            d = fw.make_dual(xx, tt)
            assert fw.unpack_dual(d).tangent is tt
            y = F.apply(d)
            outs.append(fw.unpack_dual(y).tangent)
        assert fw.unpack_dual(y).tangent is None   # tangents end with their level
    assert_same(outs[1], outs[0])
    same_error(lambda: torch.autograd.forward_ad.make_dual(x, t),
               lambda: jtorch.autograd.forward_ad.make_dual(to_j(x), to_j(t)))
    with torch.autograd.forward_ad.dual_level(), jtorch.autograd.forward_ad.dual_level():
        same_error(lambda: torch.autograd.forward_ad.make_dual(x, t[:2]),
                   lambda: jtorch.autograd.forward_ad.make_dual(to_j(x), to_j(t[:2])))


def test_gradcheck_forward_ad():
    a = np.random.default_rng(0).standard_normal(3)
    t, j = torch.tensor(a).requires_grad_(), jtorch.tensor(a).requires_grad_()
    assert jtorch.autograd.gradcheck(lambda v: (v.sin() * v).cumsum(0), (j,), check_forward_ad=True) == \
        torch.autograd.gradcheck(lambda v: (v.sin() * v).cumsum(0), (t,), check_forward_ad=True) is True
    # a wrong jvp is caught, as torch's gradcheck catches it
    results = []
    for lib, x in ((torch, t), (jtorch, j)):
        class Bad(lib.autograd.Function):
            @staticmethod
            def forward(ctx, v):
                return v * 2

            @staticmethod
            def jvp(ctx, gv):
                return gv * 3
        results.append(lib.autograd.gradcheck(Bad.apply, (x,), check_forward_ad=True,
                                              check_backward_ad=False, check_undefined_grad=False,
                                              check_batched_grad=False, raise_exception=False))
    assert results == [False, False]
