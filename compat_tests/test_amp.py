"""Mixed precision vs torch: per-op output dtypes under autocast('cpu'), GradScaler's scale
sequence with injected overflows, dtype policies, bfloat16 training."""
import numpy as np
import pytest
import torch

import jtorch
from oracle import to_j, assert_same, jdtype

g = torch.Generator().manual_seed(0)
A = torch.randn(4, 8, generator=g)
B = torch.randn(8, 5, generator=g)
BA = torch.randn(2, 4, 8, generator=g)
BB = torch.randn(2, 8, 3, generator=g)
W = torch.randn(5, 8, generator=g)
IMG = torch.randn(1, 2, 6, 6, generator=g)
K = torch.randn(3, 2, 3, 3, generator=g)
TGT = torch.tensor([0, 2, 1, 4])

OPS = [
    ("matmul", lambda m, F, a: m.matmul(a["A"], a["B"])),
    ("mm", lambda m, F, a: m.mm(a["A"], a["B"])),
    ("bmm", lambda m, F, a: m.bmm(a["BA"], a["BB"])),
    ("addmm", lambda m, F, a: m.addmm(a["B"][0], a["A"], a["B"])),
    ("baddbmm", lambda m, F, a: m.baddbmm(a["BB"][:, :4] * 0, a["BA"], a["BB"])),
    ("linear", lambda m, F, a: F.linear(a["A"], a["W"])),
    ("conv2d", lambda m, F, a: F.conv2d(a["IMG"], a["K"])),
    ("softmax", lambda m, F, a: F.softmax(a["A"] @ a["B"], -1)),
    ("log_softmax", lambda m, F, a: F.log_softmax(a["A"] @ a["B"], -1)),
    ("layer_norm", lambda m, F, a: F.layer_norm(a["A"] @ a["B"], (5,))),
    ("exp", lambda m, F, a: (a["A"] @ a["B"]).exp()),
    ("sum", lambda m, F, a: (a["A"] @ a["B"]).sum()),
    ("relu", lambda m, F, a: F.relu(a["A"] @ a["B"])),
    ("cross_entropy", lambda m, F, a: F.cross_entropy(a["A"] @ a["B"], a["TGT"])),
    ("mse_loss", lambda m, F, a: F.mse_loss(a["A"] @ a["B"], a["A"][:, :5])),
    ("cat_promote", lambda m, F, a: m.cat([a["A"] @ a["B"], a["A"][:, :5]])),
    ("add_mixed", lambda m, F, a: (a["A"] @ a["B"]) + a["A"][:, :5]),
    ("float64_untouched", lambda m, F, a: m.matmul(a["A"].double(), a["B"].double())),
]


@pytest.mark.parametrize("name,fn", OPS, ids=[o[0] for o in OPS])
def test_autocast_cpu_dtypes_match_torch(name, fn):
    ta = dict(A=A, B=B, BA=BA, BB=BB, W=W, IMG=IMG, K=K, TGT=TGT)
    ja = {k: to_j(v) for k, v in ta.items()}
    with torch.autocast("cpu", dtype=torch.bfloat16):
        t = fn(torch, torch.nn.functional, ta)
    with jtorch.autocast("cpu", dtype=jtorch.bfloat16):
        j = fn(jtorch, jtorch.nn.functional, ja)
    assert j.dtype is jdtype(t.dtype), f"{name}: {j.dtype} vs torch {t.dtype}"
    assert_same(j, t, rtol=2e-2, atol=2e-2)


def test_autocast_nesting_disable_decorator_and_grads():
    a = to_j(A).requires_grad_()
    with jtorch.autocast("cpu"):
        assert jtorch.is_autocast_enabled("cpu")
        assert (a @ to_j(B)).dtype is jtorch.bfloat16
        with jtorch.autocast("cpu", enabled=False):
            assert not jtorch.is_autocast_enabled("cpu")
            assert (a @ to_j(B)).dtype is jtorch.float32
        y = a @ to_j(B)
    assert not jtorch.is_autocast_enabled("cpu")
    y.float().sum().backward()
    assert a.grad.dtype is jtorch.float32  # grads reach float32 leaves in float32

    @jtorch.autocast("cpu")
    def f(x):
        return x @ x.T
    assert f(to_j(A)).dtype is jtorch.bfloat16
    # torch does the same
    ta = A.clone().requires_grad_()
    with torch.autocast("cpu"):
        ty = ta @ B
    ty.float().sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=2e-2, atol=2e-2)


def test_cuda_autocast_lists_without_gpu():
    # the CUDA op lists: low precision for matmul-like ops, float32 for softmax/losses/exp on CUDA
    a, b = to_j(A), to_j(B)
    with jtorch.autocast("cuda", dtype=jtorch.float16):
        assert (a @ b).dtype is jtorch.float16
        assert jtorch.nn.functional.softmax(a @ b, -1).dtype is jtorch.float32
        assert (a @ b).exp().dtype is jtorch.float32
        assert jtorch.nn.functional.relu(a @ b).dtype is jtorch.float16


def _scaler_run(mod, scaler, inject):
    m = mod.nn.Linear(3, 1)
    with mod.no_grad():
        m.weight.copy_(mod.tensor([[0.1, -0.2, 0.3]]))
        m.bias.zero_()
    opt = mod.optim.SGD(m.parameters(), lr=0.01)
    x = mod.tensor([[1.0, 2.0, 3.0]])
    scales = []
    for step in range(12):
        opt.zero_grad()
        loss = m(x).sum()
        scaler.scale(loss).backward()
        if step in inject:
            m.weight.grad.fill_(float("inf"))
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
    return scales, m.weight.detach().numpy().copy()


def test_grad_scaler_sequence_matches_torch():
    inject = {2, 3, 7}
    ts, tw = _scaler_run(torch, torch.amp.GradScaler("cpu", init_scale=1024.0, growth_interval=3), inject)
    js, jw = _scaler_run(jtorch, jtorch.amp.GradScaler("cpu", init_scale=1024.0, growth_interval=3), inject)
    assert js == ts
    np.testing.assert_allclose(jw, tw, rtol=1e-6)


def test_grad_scaler_state_dict_and_disabled():
    s = jtorch.amp.GradScaler("cpu", init_scale=8.0)
    t = torch.amp.GradScaler("cpu", init_scale=8.0)
    x = jtorch.ones(1, requires_grad=True)
    s.scale(x * 2)
    t.scale(torch.ones(1) * 2)
    assert s.state_dict() == t.state_dict()
    off = jtorch.amp.GradScaler("cpu", enabled=False)
    y = jtorch.ones(2)
    assert off.scale(y) is y and off.get_scale() == 1.0 and off.state_dict() == {}


def test_policy_bf16_compute_fp32_params():
    jtorch.manual_seed(0)
    m = jtorch.nn.Sequential(jtorch.nn.Linear(8, 16), jtorch.nn.ReLU(), jtorch.nn.Linear(16, 2))
    pol = jtorch.amp.Policy(param_dtype=jtorch.float32, compute_dtype=jtorch.bfloat16, output_dtype=jtorch.float32)
    jtorch.amp.apply_policy(m, pol)
    x = jtorch.randn(4, 8)
    out = m(x)
    assert out.dtype is jtorch.float32
    with pol:
        h = m[0](x.bfloat16())
    assert h.dtype is jtorch.bfloat16
    out.sum().backward()
    assert all(p.grad.dtype is jtorch.float32 and p.dtype is jtorch.float32 for p in m.parameters())


def test_pure_bfloat16_training_decreases_loss():
    jtorch.manual_seed(0)
    m = jtorch.nn.Linear(8, 1).bfloat16()
    opt = jtorch.optim.SGD(m.parameters(), lr=0.05)
    x = jtorch.randn(64, 8).bfloat16()
    y = (x.float() @ jtorch.arange(8.0).reshape(8, 1) / 8).bfloat16()
    first = None
    for _ in range(30):
        loss = ((m(x) - y) ** 2).mean()
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert m.weight.dtype is jtorch.bfloat16 and loss.dtype is jtorch.bfloat16
    assert loss.item() < 0.5 * first
