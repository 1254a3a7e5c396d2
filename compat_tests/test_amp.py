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


# ---- issue 8 audit additions ----------------------------------------------------------------------

def test_autocast_aliases_and_defaults_match_torch():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch: deprecation + "CUDA is not available"
        pairs = [(torch.autocast("cpu"), jtorch.autocast("cpu")),
                 (torch.amp.autocast("cpu"), jtorch.amp.autocast("cpu")),
                 (torch.cpu.amp.autocast(), jtorch.cpu.amp.autocast()),
                 (torch.cuda.amp.autocast(), jtorch.cuda.amp.autocast()),
                 (torch.autocast("cuda"), jtorch.autocast("cuda"))]
    for t, j in pairs:
        assert j.device_type == t.device
        assert j.fast_dtype is jdtype(t.fast_dtype), (type(t), t.fast_dtype, j.fast_dtype)
    assert jtorch.amp.get_autocast_dtype("cpu") is jdtype(torch.get_autocast_dtype("cpu"))
    assert jtorch.amp.get_autocast_dtype("cuda") is jdtype(torch.get_autocast_dtype("cuda"))
    # XLA/TPU autocast defaults to bfloat16 (torch_xla's default); no torch oracle for xla on this box
    assert jtorch.autocast("xla").fast_dtype is jtorch.bfloat16 and jtorch.autocast("tpu").fast_dtype is jtorch.bfloat16
    with pytest.raises(RuntimeError):
        jtorch.autocast("nonsense")
    with pytest.raises(RuntimeError):
        torch.autocast("nonsense")

    # the deprecated aliases work as decorators too
    @jtorch.cpu.amp.autocast()
    def f(x):
        return x @ x.T
    assert f(to_j(A)).dtype is jtorch.bfloat16


def test_nesting_and_is_autocast_enabled_per_device_vs_torch():
    def trace(lib):
        out = []
        a, b = (A, B) if lib is torch else (to_j(A), to_j(B))
        out.append((lib.is_autocast_enabled("cpu"), lib.is_autocast_enabled("cuda")))
        with lib.autocast("cpu", dtype=lib.bfloat16):
            out.append((lib.is_autocast_enabled("cpu"), lib.is_autocast_enabled("cuda"), str((a @ b).dtype)))
            with lib.autocast("cpu", enabled=False):
                out.append((lib.is_autocast_enabled("cpu"), str((a @ b).dtype)))
                with lib.autocast("cpu", dtype=lib.float16):
                    out.append((lib.is_autocast_enabled("cpu"), str((a @ b).dtype)))
                out.append(str((a @ b).dtype))
            out.append(str((a @ b).dtype))
        out.append((lib.is_autocast_enabled("cpu"), str((a @ b).dtype)))
        return out
    assert trace(jtorch) == trace(torch)


# torch's documented CUDA autocast lists ("CUDA Ops that can autocast to float16 / float32 / promote to the
# widest input type", docs/source/amp.rst). jtorch applies a region's device_type table to every op in the
# region, so these run here on CPU tensors (torch itself would disable autocast('cuda') without a GPU).
X16 = torch.randn(4, 4, generator=g).abs() + 0.5
CUDA_DOC_OPS = [
    # name, fn(m, F, a) where a["f"] is float32 data and a["h"] the same in float16, expected out dtype
    ("__matmul__", lambda m, F, a: a["f"] @ a["f"], "float16"),
    ("addbmm", lambda m, F, a: m.addbmm(a["f"], a["f"][None], a["f"][None]), "float16"),
    ("addmm", lambda m, F, a: m.addmm(a["f"], a["f"], a["f"]), "float16"),
    ("addmv", lambda m, F, a: m.addmv(a["f"][0], a["f"], a["f"][0]), "float16"),
    ("addr", lambda m, F, a: m.addr(a["f"], a["f"][0], a["f"][1]), "float16"),
    ("baddbmm", lambda m, F, a: m.baddbmm(a["f"][None], a["f"][None], a["f"][None]), "float16"),
    ("bmm", lambda m, F, a: m.bmm(a["f"][None], a["f"][None]), "float16"),
    ("chain_matmul", lambda m, F, a: m.linalg.multi_dot([a["f"], a["f"], a["f"]]), "float16"),
    ("conv1d", lambda m, F, a: F.conv1d(a["f"][None], a["f"][:, :, None]), "float16"),
    ("conv2d", lambda m, F, a: F.conv2d(a["f"][None, None], a["f"][None, None, :2, :2]), "float16"),
    ("conv_transpose1d", lambda m, F, a: F.conv_transpose1d(a["f"][None], a["f"][:, :, None]), "float16"),
    ("linear", lambda m, F, a: F.linear(a["f"], a["f"]), "float16"),
    ("matmul", lambda m, F, a: m.matmul(a["f"], a["f"]), "float16"),
    ("mm", lambda m, F, a: m.mm(a["f"], a["f"]), "float16"),
    ("mv", lambda m, F, a: m.mv(a["f"], a["f"][0]), "float16"),
    ("prelu", lambda m, F, a: F.prelu(a["f"], a["f"][0, :1]), "float16"),
    ("__pow__", lambda m, F, a: a["h"] ** 2, "float32"),
    ("__rdiv__", lambda m, F, a: 1 / a["h"], "float32"),
    ("__rpow__", lambda m, F, a: 2 ** a["h"], "float32"),
    ("acos", lambda m, F, a: (a["h"] * 0.1).acos(), "float32"),
    ("asin", lambda m, F, a: (a["h"] * 0.1).asin(), "float32"),
    ("binary_cross_entropy_with_logits", lambda m, F, a: F.binary_cross_entropy_with_logits(a["h"], a["h"] * 0),
     "float32"),
    ("cosh", lambda m, F, a: a["h"].cosh(), "float32"),
    ("cdist", lambda m, F, a: m.cdist(a["h"], a["h"]), "float32"),
    ("cosine_similarity", lambda m, F, a: F.cosine_similarity(a["h"], a["h"]), "float32"),
    ("cross_entropy", lambda m, F, a: F.cross_entropy(a["h"], a["t"]), "float32"),
    ("cumprod", lambda m, F, a: a["h"].cumprod(0), "float32"),
    ("cumsum", lambda m, F, a: a["h"].cumsum(0), "float32"),
    ("dist", lambda m, F, a: m.dist(a["h"], a["h"] * 2), "float32"),
    ("erfinv", lambda m, F, a: (a["h"] * 0.1).erfinv(), "float32"),
    ("exp", lambda m, F, a: a["h"].exp(), "float32"),
    ("expm1", lambda m, F, a: a["h"].expm1(), "float32"),
    ("group_norm", lambda m, F, a: F.group_norm(a["h"], 2), "float32"),
    ("kl_div", lambda m, F, a: F.kl_div(a["h"], a["h"], reduction="batchmean"), "float32"),
    ("l1_loss", lambda m, F, a: F.l1_loss(a["h"], a["h"] * 2), "float32"),
    ("layer_norm", lambda m, F, a: F.layer_norm(a["h"], (4,)), "float32"),
    ("log", lambda m, F, a: a["h"].log(), "float32"),
    ("log_softmax", lambda m, F, a: F.log_softmax(a["h"], -1), "float32"),
    ("log10", lambda m, F, a: a["h"].log10(), "float32"),
    ("log1p", lambda m, F, a: a["h"].log1p(), "float32"),
    ("log2", lambda m, F, a: a["h"].log2(), "float32"),
    ("mse_loss", lambda m, F, a: F.mse_loss(a["h"], a["h"] * 2), "float32"),
    ("nll_loss", lambda m, F, a: F.nll_loss(a["h"], a["t"]), "float32"),
    ("norm", lambda m, F, a: a["h"].norm(), "float32"),
    ("normalize", lambda m, F, a: F.normalize(a["h"]), "float32"),
    ("pdist", lambda m, F, a: F.pdist(a["h"]), "float32"),
    ("pow", lambda m, F, a: m.pow(a["h"], 2), "float32"),
    ("prod", lambda m, F, a: a["h"].prod(), "float32"),
    ("reciprocal", lambda m, F, a: a["h"].reciprocal(), "float32"),
    ("rsqrt", lambda m, F, a: a["h"].rsqrt(), "float32"),
    ("sinh", lambda m, F, a: a["h"].sinh(), "float32"),
    ("smooth_l1_loss", lambda m, F, a: F.smooth_l1_loss(a["h"], a["h"] * 2), "float32"),
    ("softmax", lambda m, F, a: F.softmax(a["h"], -1), "float32"),
    ("softmin", lambda m, F, a: F.softmin(a["h"], -1), "float32"),
    ("softplus", lambda m, F, a: F.softplus(a["h"]), "float32"),
    ("sum", lambda m, F, a: a["h"].sum(), "float32"),
    ("renorm", lambda m, F, a: a["h"].renorm(2, 0, 1.0), "float32"),
    ("tan", lambda m, F, a: (a["h"] * 0.1).tan(), "float32"),
    ("addcdiv", lambda m, F, a: m.addcdiv(a["f"], a["h"], a["h"]), "float32"),
    ("addcmul", lambda m, F, a: m.addcmul(a["h"], a["f"], a["h"]), "float32"),
    ("atan2", lambda m, F, a: m.atan2(a["h"], a["f"]), "float32"),
    ("cross", lambda m, F, a: m.linalg.cross(a["h"][:, :3], a["f"][:, :3]), "float32"),
    ("dot", lambda m, F, a: m.dot(a["h"][0], a["f"][0]), "float32"),
    ("scatter_add", lambda m, F, a: a["h"].scatter_add(0, a["t"][None].expand(4, 4) * 0, a["f"]), "float32"),
    ("tensordot", lambda m, F, a: m.tensordot(a["h"], a["f"], 1), "float32"),
    ("unlisted relu keeps fp16", lambda m, F, a: F.relu(a["h"]), "float16"),
    ("unlisted add keeps fp16", lambda m, F, a: a["h"] + a["h"], "float16"),
]


@pytest.mark.parametrize("name,fn,expected", CUDA_DOC_OPS, ids=[o[0] for o in CUDA_DOC_OPS])
def test_cuda_autocast_table_matches_torch_docs(name, fn, expected):
    a = {"f": to_j(X16), "h": to_j(X16.half()), "t": to_j(torch.tensor([0, 2, 1, 3]))}
    with jtorch.autocast("cuda", dtype=jtorch.float16):
        out = fn(jtorch, jtorch.nn.functional, a)
    assert out.dtype is getattr(jtorch, expected), f"{name}: {out.dtype}, torch's CUDA list says {expected}"


CPU_MORE = [
    ("conv1d", lambda m, F, a: F.conv1d(a["f"][None], a["f"][:, :, None])),
    ("conv_transpose2d", lambda m, F, a: F.conv_transpose2d(a["f"][None, None], a["f"][None, None, :2, :2])),
    ("mv_not_listed", lambda m, F, a: m.mv(a["f"], a["f"][0])),
    ("addbmm", lambda m, F, a: m.addbmm(a["f"], a["f"][None], a["f"][None])),
    ("prod", lambda m, F, a: (a["f"] @ a["f"]).prod()),
    ("rdiv", lambda m, F, a: 1 / (a["f"] @ a["f"])),
    ("pow", lambda m, F, a: (a["f"] @ a["f"]) ** 2),
    ("binary_cross_entropy_with_logits", lambda m, F, a: F.binary_cross_entropy_with_logits(a["f"] @ a["f"],
                                                                                            a["f"] * 0)),
    ("nll_loss", lambda m, F, a: F.nll_loss(a["f"] @ a["f"], a["t"])),
    ("cdist", lambda m, F, a: m.cdist(a["f"] @ a["f"], a["f"])),
    ("scaled_dot_product_attention", lambda m, F, a: F.scaled_dot_product_attention(a["f"][None], a["f"][None],
                                                                                    a["f"][None])),
    ("softmax_bf16_in", lambda m, F, a: F.softmax(a["f"] @ a["f"], -1)),
    ("cumsum", lambda m, F, a: (a["f"] @ a["f"]).cumsum(0)),
    ("einsum", lambda m, F, a: m.einsum("ij,jk->ik", a["f"], a["f"])),
    ("multi_dot", lambda m, F, a: m.linalg.multi_dot([a["f"], a["f"], a["f"]])),
    ("chain_matmul", lambda m, F, a: m.chain_matmul(a["f"], a["f"], a["f"])),
    ("vecdot", lambda m, F, a: m.linalg.vecdot(a["f"], a["f"])),
    ("vector_norm_bf16_in", lambda m, F, a: m.linalg.vector_norm(a["f"] @ a["f"])),
    ("normalize_bf16_in", lambda m, F, a: F.normalize(a["f"] @ a["f"])),
    # composite in ATen (mm inside), so lowered on CPU; grid_sample is on CPU's fp32 list
    ("tensordot", lambda m, F, a: m.tensordot(a["f"], a["f"], dims=1)),
    ("inner", lambda m, F, a: m.inner(a["f"], a["f"])),
    ("grid_sample_fp32", lambda m, F, a: F.grid_sample(a["f"][None, None].bfloat16(),
                                                       a["f"][None, :2, :2, None].expand(1, 2, 2, 2).bfloat16() / 20,
                                                       align_corners=False)),
]


@pytest.mark.parametrize("name,fn", CPU_MORE, ids=[o[0] for o in CPU_MORE])
def test_autocast_cpu_more_ops_vs_torch(name, fn):
    ta = {"f": X16, "t": torch.tensor([0, 2, 1, 3])}
    ja = {k: to_j(v) for k, v in ta.items()}
    with torch.autocast("cpu", dtype=torch.bfloat16):
        t = fn(torch, torch.nn.functional, ta)
    with jtorch.autocast("cpu", dtype=jtorch.bfloat16):
        j = fn(jtorch, jtorch.nn.functional, ja)
    assert j.dtype is jdtype(t.dtype), f"{name}: {j.dtype} vs torch {t.dtype}"
    assert_same(j, t, rtol=3e-2, atol=3e-2)


def _clip_run(mod, inject):
    m = mod.nn.Linear(3, 2)
    with mod.no_grad():
        m.weight.copy_(mod.tensor([[0.1, -0.2, 0.3], [0.5, 0.4, -0.1]]))
        m.bias.zero_()
    opt = mod.optim.SGD(m.parameters(), lr=0.1)
    scaler = mod.amp.GradScaler("cpu", init_scale=256.0, growth_interval=2)
    x = mod.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]])
    norms = []
    for step in range(6):
        opt.zero_grad()
        loss = (m(x) ** 2).sum() * 10
        scaler.scale(loss).backward()
        if step in inject:
            m.bias.grad.fill_(float("nan"))
        scaler.unscale_(opt)
        norms.append(float(mod.nn.utils.clip_grad_norm_(m.parameters(), 1.0)))
        scaler.step(opt)
        scaler.update()
    return norms, m.weight.detach().numpy().copy(), scaler.get_scale(), scaler.state_dict()


def test_grad_scaler_unscale_then_clip_and_state_dict_roundtrip():
    tn, tw, ts, tsd = _clip_run(torch, {3})
    jn, jw, js, jsd = _clip_run(jtorch, {3})
    np.testing.assert_allclose(jn, tn, rtol=1e-5, equal_nan=True)  # norms of the *unscaled* grads
    np.testing.assert_allclose(jw, tw, rtol=1e-5)
    assert js == ts and jsd == tsd
    # double unscale_ raises as in torch; load_state_dict restores scale and growth tracker
    for lib in (torch, jtorch):
        p = lib.nn.Parameter(lib.ones(2))
        opt = lib.optim.SGD([p], lr=0.1)
        s = lib.amp.GradScaler("cpu")
        s.scale(p.sum()).backward()
        s.unscale_(opt)
        with pytest.raises(RuntimeError):
            s.unscale_(opt)
    s = jtorch.amp.GradScaler("cpu")
    s.load_state_dict(tsd)
    assert s.get_scale() == ts and s.state_dict() == tsd


def test_global_policy_and_per_module_override():
    jtorch.manual_seed(0)
    m = jtorch.nn.Sequential(jtorch.nn.Linear(8, 16), jtorch.nn.ReLU(), jtorch.nn.Linear(16, 2))
    inner = []
    m[0].register_forward_hook(lambda mod, a, o: inner.append(o.dtype))
    glob = jtorch.amp.Policy(param_dtype=jtorch.float32, compute_dtype=jtorch.bfloat16, output_dtype=jtorch.float16)
    try:
        jtorch.amp.set_global_policy(glob)
        assert jtorch.amp.get_global_policy() is glob
        out = m(jtorch.randn(4, 8))
        assert out.dtype is jtorch.float16 and inner == [jtorch.bfloat16]
        # a module with its own policy keeps it
        own = jtorch.amp.apply_policy(jtorch.nn.Linear(8, 2), jtorch.amp.Policy("float32"))
        assert own(jtorch.randn(4, 8)).dtype is jtorch.float32
        out.float().sum().backward()
        assert all(p.grad.dtype is jtorch.float32 for p in m.parameters())
    finally:
        jtorch.amp.set_global_policy(None)
    assert m(jtorch.randn(4, 8)).dtype is jtorch.float32  # removed: plain float32 again


def test_pure_bfloat16_training_matches_torch():
    def run(lib):
        lib.manual_seed(0)
        m = lib.nn.Linear(8, 1)
        with lib.no_grad():
            m.weight.copy_(lib.linspace(-0.5, 0.5, 8).reshape(1, 8))
            m.bias.zero_()
        m = m.bfloat16()
        opt = lib.optim.SGD(m.parameters(), lr=0.05)
        x = lib.linspace(-1, 1, 64 * 8).reshape(64, 8).bfloat16()
        y = (x.float() @ lib.arange(8.0).reshape(8, 1) / 8).bfloat16()
        losses = []
        for _ in range(10):
            loss = ((m(x) - y) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.float().item())
        return losses, m.weight.dtype
    tl, tdt = run(torch)
    jl, jdt = run(jtorch)
    assert jdt is jdtype(tdt) is jtorch.bfloat16
    np.testing.assert_allclose(jl, tl, rtol=3e-2)


def test_autocast_inside_compile_gives_eager_dtypes():
    a, b = to_j(A), to_j(B)

    def f(x, y):
        with jtorch.autocast("cpu", dtype=jtorch.bfloat16):
            h = x @ y
            return h, jtorch.nn.functional.softmax(h, -1), h.sum(), jtorch.nn.functional.mse_loss(h, h * 0)
    eager = f(a, b)
    compiled = jtorch.compile(f)(a, b)
    assert [t.dtype for t in compiled] == [t.dtype for t in eager]
    for c, e in zip(compiled, eager):
        np.testing.assert_allclose(c.float().numpy(), e.float().numpy(), rtol=1e-2, atol=1e-2)
