"""digamma / lgamma / polygamma gradients (first and second order) on negative non-integer inputs,
where jax's own derivative of digamma (zeta-based trigamma) is wrong. Compared with torch."""
import numpy as np
import pytest
import torch

import jtorch
from oracle import assert_same, to_j

X = [-10.3, -5.5, -3.9, -2.5, -1.3, -0.7, -0.2, -0.01, 0.3, 1.7, 4.2]

FNS = {
    "digamma": lambda t, a: t.digamma(a),
    "lgamma": lambda t, a: t.lgamma(a),
    "polygamma1": lambda t, a: t.polygamma(1, a),
    "polygamma2": lambda t, a: t.polygamma(2, a),
    "special_digamma": lambda t, a: t.special.digamma(a),
    "special_psi": lambda t, a: t.special.psi(a),
    "special_gammaln": lambda t, a: t.special.gammaln(a),
    "method_digamma": lambda t, a: a.digamma(),
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", list(FNS))
def test_gamma_family_grads_negative_inputs(name, dtype):
    f = FNS[name]
    x = torch.tensor(X, dtype=dtype, requires_grad=True)
    xj = to_j(x)
    rtol = 1e-8 if dtype == torch.float64 else 2e-5
    res = []
    for t, a in ((torch, x), (jtorch, xj)):
        y = f(t, a)
        (g,) = t.autograd.grad(y.sum(), a, create_graph=True)
        (gg,) = t.autograd.grad(g.sum(), a)
        res.append((y.detach(), g.detach(), gg))
    for (j, tt), what in zip(zip(res[1], res[0]), ("value", "grad", "second grad")):
        assert_same(j, tt, rtol=rtol, atol=0, msg=f"{name} {what}")


def test_digamma_grad_was_badly_wrong_near_zero():
    # pins the bug: jax's d/dx digamma at -0.01 is off by many orders of magnitude
    x = torch.tensor([-0.01], dtype=torch.float64, requires_grad=True)
    xj = to_j(x)
    torch.digamma(x).backward()
    jtorch.digamma(xj).backward()
    np.testing.assert_allclose(xj.grad.numpy(), x.grad.numpy(), rtol=1e-10)
