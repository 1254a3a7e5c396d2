"""JAX interop: Flax modules (linen, nnx) as jtorch submodules, jtorch modules as pure jax
functions, zero-copy tensor <-> jax.Array. Oracle: the torch module with the same weights."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import flax.linen as fnn
from flax import nnx

import jtorch
from oracle import to_j, assert_same


def _torch_linear_like(kernel, bias):
    """A torch Linear holding a Flax Dense's (in, out) kernel."""
    tl = torch.nn.Linear(kernel.shape[0], kernel.shape[1])
    with torch.no_grad():
        tl.weight.copy_(torch.from_numpy(np.asarray(kernel).T.copy()))
        tl.bias.copy_(torch.from_numpy(np.asarray(bias).copy()))
    return tl


class _FlaxHead(jtorch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = jtorch.nn.FlaxModule(fnn.Dense(5), jtorch.zeros(1, 3))
        self.head = jtorch.nn.Linear(5, 2)

    def forward(self, x):
        return self.head(jtorch.tanh(self.body(x)))


def test_linen_dense_in_jtorch_model_matches_torch_linear():
    jtorch.manual_seed(0)
    jm = _FlaxHead()
    assert sorted(jm.state_dict()) == ["body.params.bias", "body.params.kernel", "head.bias", "head.weight"]
    tm = torch.nn.Sequential(_torch_linear_like(jm.body.params.kernel.detach().numpy(),
                                                jm.body.params.bias.detach().numpy()),
                             torch.nn.Tanh(), torch.nn.Linear(5, 2))
    with torch.no_grad():
        tm[2].weight.copy_(torch.from_numpy(jm.head.weight.detach().numpy().copy()))
        tm[2].bias.copy_(torch.from_numpy(jm.head.bias.detach().numpy().copy()))
    x = torch.randn(4, 3, requires_grad=True)
    jx = to_j(x, requires_grad=True)
    ty, jy = tm(x), jm(jx)
    assert_same(jy, ty, rtol=1e-5, atol=1e-6)
    ty.pow(2).sum().backward()
    jy.pow(2).sum().backward()
    assert_same(jx.grad, x.grad, rtol=1e-5, atol=1e-6)
    assert_same(jm.body.params.kernel.grad, tm[0].weight.grad.T, rtol=1e-5, atol=1e-6)
    assert_same(jm.body.params.bias.grad, tm[0].bias.grad, rtol=1e-5, atol=1e-6)
    assert_same(jm.head.weight.grad, tm[2].weight.grad, rtol=1e-5, atol=1e-6)


def test_linen_state_dict_roundtrip_and_seeded_init():
    jtorch.manual_seed(3)
    a = _FlaxHead()
    jtorch.manual_seed(3)
    b = _FlaxHead()
    # manual_seed governs Flax's init
    np.testing.assert_array_equal(a.body.params.kernel.detach().numpy(), b.body.params.kernel.detach().numpy())
    jtorch.manual_seed(4)
    c = _FlaxHead()
    c.load_state_dict(a.state_dict())
    x = jtorch.randn(2, 3)
    np.testing.assert_array_equal(c(x).detach().numpy(), a(x).detach().numpy())


class _FlaxBN(fnn.Module):
    @fnn.compact
    def __call__(self, x, train: bool = True):
        return fnn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5)(x)


def test_linen_batchnorm_buffers_update_like_torch():
    fm = jtorch.nn.FlaxModule(_FlaxBN(), jtorch.zeros(2, 4))
    assert sorted(n for n, _ in fm.named_buffers()) == ["batch_stats.BatchNorm_0.mean", "batch_stats.BatchNorm_0.var"]
    tbn = torch.nn.BatchNorm1d(4, momentum=0.1)
    x = torch.randn(8, 4) * 3 + 1
    assert_same(fm(to_j(x)), tbn(x), rtol=1e-4, atol=1e-5)  # train mode: batch statistics
    assert_same(fm.batch_stats.BatchNorm_0.mean, tbn.running_mean, rtol=1e-5, atol=1e-6)
    fm.eval()
    tbn.eval()
    y = fm(to_j(x), train=False)
    assert y.shape == (8, 4)
    # eval: the running statistics are used and left alone
    assert_same(fm.batch_stats.BatchNorm_0.mean, tbn.running_mean, rtol=1e-5, atol=1e-6)


def test_linen_training_decreases_loss_eager_and_compiled_agree():
    def run(compiled):
        jtorch.manual_seed(0)
        model = _FlaxHead()
        opt = jtorch.optim.Adam(model.parameters(), lr=0.05)
        g = jtorch.Generator().manual_seed(1)
        x = jtorch.randn(32, 3, generator=g)
        y = jtorch.stack([x[:, 0] * 2 - x[:, 1], x[:, 2].sin()], 1)

        def step(x, y):
            loss = jtorch.nn.functional.mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss
        step = jtorch.compile(step) if compiled else step
        return [step(x, y).item() for _ in range(25)]
    eager, comp = run(False), run(True)
    assert eager[-1] < 0.3 * eager[0]
    np.testing.assert_allclose(comp, eager, rtol=1e-4, atol=1e-6)


def test_linen_dropout_rng_from_jtorch_generator():
    class Drop(fnn.Module):
        @fnn.compact
        def __call__(self, x, train: bool = True):
            return fnn.Dropout(0.5, deterministic=not train)(x)
    fm = jtorch.nn.FlaxModule(Drop(), jtorch.zeros(1, 64), rng_collections=("dropout",))
    x = jtorch.ones(4, 64)
    jtorch.manual_seed(0)
    a = fm(x)
    b = fm(x)
    jtorch.manual_seed(0)
    c = fm(x)
    assert not bool((a == b).all()) and bool((a == c).all())
    assert set(np.unique(a.numpy()).tolist()) <= {0.0, 2.0}
    fm.eval()
    np.testing.assert_array_equal(fm(x, train=False).numpy(), x.numpy())


def test_nnx_linear_matches_torch_and_trains_compiled():
    fm = jtorch.nn.FlaxModule(nnx.Linear(3, 2, rngs=nnx.Rngs(0)))
    assert sorted(n for n, _ in fm.named_parameters()) == ["bias", "kernel"]
    tl = _torch_linear_like(fm.kernel.detach().numpy(), fm.bias.detach().numpy())
    x = torch.randn(5, 3, requires_grad=True)
    jx = to_j(x, requires_grad=True)
    assert_same(fm(jx), tl(x), rtol=1e-5, atol=1e-6)
    tl(x).sum().backward()
    fm(jx).sum().backward()
    assert_same(jx.grad, x.grad, rtol=1e-5, atol=1e-6)
    assert_same(fm.kernel.grad, tl.weight.grad.T, rtol=1e-5, atol=1e-6)

    opt = jtorch.optim.SGD(fm.parameters(), lr=0.1)
    target = jtorch.tensor([[1.0, -1.0]])

    @jtorch.compile
    def step(x):
        loss = (fm(x) - target).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    xs = jx.detach()
    losses = [step(xs).item() for _ in range(15)]
    assert losses[-1] < 0.5 * losses[0]
    # the nnx module sees the trained values through variables()
    np.testing.assert_array_equal(np.asarray(fm.variables()["kernel"][...]), fm.kernel.detach().numpy())


def test_nnx_batchnorm_train_eval():
    fm = jtorch.nn.FlaxModule(nnx.BatchNorm(4, momentum=0.9, epsilon=1e-5, rngs=nnx.Rngs(0)))
    tbn = torch.nn.BatchNorm1d(4)
    x = torch.randn(8, 4) * 2 - 1
    assert_same(fm(to_j(x)), tbn(x), rtol=1e-4, atol=1e-5)
    assert_same(fm.mean, tbn.running_mean, rtol=1e-5, atol=1e-6)
    fm.eval()
    tbn.eval()
    before = fm.mean.clone()
    fm(to_j(x))
    np.testing.assert_array_equal(fm.mean.numpy(), before.numpy())


def test_module_to_jax_pure_function_grads_match_torch():
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    jm = jtorch.nn.Sequential(jtorch.nn.Linear(3, 4), jtorch.nn.BatchNorm1d(4), jtorch.nn.ReLU(),
                              jtorch.nn.Linear(4, 1))
    jm.load_state_dict({k: to_j(v) for k, v in tm.state_dict().items()})
    fn, params, buffers = jtorch.utils.jax.module_to_jax(jm, return_buffers=True)
    assert set(params) == {k for k, _ in tm.named_parameters()}
    x = torch.randn(6, 3)
    xa = jnp.asarray(x.numpy())

    def loss(p):
        out, new_b = fn(p, buffers, xa)
        return (out ** 2).mean(), new_b
    (val, new_b), grads = jax.jit(jax.value_and_grad(loss, has_aux=True))(params)
    tl = tm(x).pow(2).mean()
    tl.backward()
    np.testing.assert_allclose(float(val), tl.item(), rtol=1e-5)
    for k, tp in tm.named_parameters():
        np.testing.assert_allclose(np.asarray(grads[k]), tp.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=k)
    np.testing.assert_allclose(np.asarray(new_b["1.running_mean"]), tm[1].running_mean.numpy(), rtol=1e-5, atol=1e-7)
    # the module's own buffers are untouched (the function is pure)
    np.testing.assert_array_equal(jm[1].running_mean.numpy(), np.zeros(4, np.float32))
    # per-example outputs through vmap
    jm.eval()
    fn_eval, p, _ = jtorch.utils.jax.module_to_jax(jm)
    per = jax.vmap(lambda r: fn_eval(p, new_b, r[None])[0])(xa)  # with the updated running stats
    tm.eval()
    np.testing.assert_allclose(np.asarray(per), tm(x).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_zero_copy_to_from_jax_and_dlpack():
    t = jtorch.arange(6, dtype=jtorch.float32).reshape(2, 3)
    a = jtorch.utils.jax.to_jax(t)
    assert isinstance(a, jax.Array) and a is t._value  # the same buffer, no copy
    assert jtorch.utils.jax.from_jax(a)._value is a
    assert jnp.asarray(t).dtype == jnp.float32 and (jnp.asarray(t) == a).all()
    tree = jtorch.utils.jax.from_jax({"w": a, "n": 3})
    assert isinstance(tree["w"], jtorch.Tensor) and tree["n"] == 3
    back = jtorch.from_dlpack(a)
    np.testing.assert_array_equal(back.numpy(), t.numpy())
    np.testing.assert_array_equal(np.asarray(jax.dlpack.from_dlpack(t)), t.numpy())
    # and with real torch on the other side of DLPack
    tt = torch.from_dlpack(t)
    assert tt.dtype == torch.float32 and tt.tolist() == t.tolist()
    assert jtorch.utils.dlpack.from_dlpack(torch.ones(2)).tolist() == [1.0, 1.0]


def test_flaxmodule_bad_inputs_raise_type_error():
    with pytest.raises(TypeError, match="flax.linen.Module or flax.nnx.Module"):
        jtorch.nn.FlaxModule(object())
    fm = jtorch.nn.FlaxModule(fnn.Dense(2), jtorch.zeros(1, 3))
    with pytest.raises(TypeError, match="positional"):
        fm(jtorch.zeros(1, 3), 2.0)
