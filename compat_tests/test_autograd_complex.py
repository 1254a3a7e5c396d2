"""Gradients w.r.t. complex inputs follow torch's convention (the conjugate Wirtinger derivative),
not jax's (its conjugate). Compared with torch on the same inputs."""
import pytest
import torch

import jtorch
from oracle import assert_same, to_j

CASES = {
    "mul": lambda t, z, w: (z * w).abs().sum(),
    "abs": lambda t, z, w: t.abs(z).sum() + (w.abs() ** 2).sum(),
    "exp": lambda t, z, w: (t.exp(z) * w).real.sum() + t.exp(w).imag.sum(),
    "matmul": lambda t, z, w: (z.reshape(3, 1) @ w.reshape(1, 3)).abs().sum(),
    "real_z_conj_w": lambda t, z, w: t.real(z * t.conj(w)).sum(),
    "view_as_real": lambda t, z, w: (t.view_as_real(z) * t.view_as_real(w) ** 2).sum(),
    "div_sqrt": lambda t, z, w: (t.sqrt(z) / (w + 3)).abs().sum(),
    "mixed_real_complex": lambda t, z, w: (z.abs() * w).real.sum(),  # real intermediate feeding complex math
}


@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
@pytest.mark.parametrize("name", list(CASES))
def test_complex_grads_match_torch(name, dtype):
    f = CASES[name]
    g = torch.Generator().manual_seed(0)
    z = torch.randn(3, dtype=dtype, generator=g).requires_grad_()
    w = torch.randn(3, dtype=dtype, generator=g).requires_grad_()
    zj, wj = to_j(z), to_j(w)
    f(torch, z, w).backward()
    f(jtorch, zj, wj).backward()
    assert_same(zj.grad, z.grad, rtol=1e-5, atol=1e-5, msg=f"{name} dz")
    assert_same(wj.grad, w.grad, rtol=1e-5, atol=1e-5, msg=f"{name} dw")


def test_complex_output_with_explicit_grad_output():
    # a complex root with a complex grad_output: the cotangent enters in torch's convention
    g = torch.Generator().manual_seed(1)
    z = torch.randn(4, dtype=torch.complex128, generator=g).requires_grad_()
    v = torch.randn(4, dtype=torch.complex128, generator=g)
    zj = to_j(z)
    (gt,) = torch.autograd.grad(torch.sin(z) * z, z, v)
    (gj,) = jtorch.autograd.grad(jtorch.sin(zj) * zj, zj, to_j(v))
    assert_same(gj, gt)


def test_real_input_complex_intermediate():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 3, dtype=torch.float64, generator=g).requires_grad_()
    xj = to_j(x)
    for t, a in ((torch, x), (jtorch, xj)):
        c = t.view_as_complex(a.reshape(3, 2).contiguous() if t is torch else a.reshape(3, 2))
        ((c * (1 - 2j)).exp().imag.sum()).backward()
    assert_same(xj.grad, x.grad)


def test_complex_double_backward():
    g = torch.Generator().manual_seed(3)
    z = torch.randn(3, dtype=torch.complex128, generator=g).requires_grad_()
    zj = to_j(z)
    res = []
    for t, a in ((torch, z), (jtorch, zj)):
        (gz,) = t.autograd.grad((a * a * a.conj()).abs().sum(), a, create_graph=True)
        (ggz,) = t.autograd.grad(gz.abs().sum(), a)
        res.append((gz.detach(), ggz))
    assert_same(res[1][0], res[0][0])
    assert_same(res[1][1], res[0][1])


def test_func_grad_and_vjp_complex():
    g = torch.Generator().manual_seed(4)
    z = torch.randn(3, dtype=torch.complex64, generator=g)
    v = torch.randn(3, dtype=torch.complex64, generator=g)

    def f(t):
        return lambda a: (a * a.exp()).abs().sum()
    assert_same(jtorch.func.grad(f(jtorch))(to_j(z)), torch.func.grad(f(torch))(z), rtol=1e-5, atol=1e-5)
    _, pull_t = torch.func.vjp(torch.tanh, z)
    _, pull_j = jtorch.func.vjp(jtorch.tanh, to_j(z))
    assert_same(pull_j(to_j(v))[0], pull_t(v)[0], rtol=1e-5, atol=1e-5)


def test_compiled_function_complex_grad():
    # jtorch.compile's one-node backward uses the same conversion
    g = torch.Generator().manual_seed(5)
    z = torch.randn(3, dtype=torch.complex64, generator=g).requires_grad_()
    zj = to_j(z)

    def f(t):
        return lambda a: (a * a.exp()).abs().sum()
    f(torch)(z).backward()
    jtorch.compile(f(jtorch))(zj).backward()
    assert_same(zj.grad, z.grad, rtol=1e-5, atol=1e-5)
