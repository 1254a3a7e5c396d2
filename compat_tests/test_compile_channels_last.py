"""Convolution, batch norm and pooling inside jtorch.compile on the CPU backend compute channels-last
(jtorch/_ops/channels_last.py) while tensors stay NC*: values, gradients and running statistics
must still be torch's."""
import numpy as np
import pytest
import torch

import jtorch
from jtorch._ops import channels_last
from oracle import to_j, assert_same

pytestmark = pytest.mark.skipif(not channels_last.on_cpu(), reason="channels-last compute is CPU-only")


def _conv2d(F, x, w, b):
    return F.conv2d(x, w, b, stride=2, padding=1, dilation=2, groups=2)


def _conv2d_same_unbatched(F, x, w, b):
    return F.conv2d(x[0], w, None, padding="same", groups=2)


def _conv1d(F, x, w, b):
    return F.conv1d(x.flatten(2), w.flatten(2), b, stride=2, padding=2, groups=2)


def _conv3d(F, x, w, b):
    return F.conv3d(x.unsqueeze(2).expand(-1, -1, 3, -1, -1), w.unsqueeze(2), b, padding=(1, 0, 1), groups=2)


def _pools(F, x, w, b):
    y = F.conv2d(x, w, b, padding=1, groups=2)
    return (F.max_pool2d(y, 3, 2, 1, ceil_mode=True).sum() + F.avg_pool2d(y, 3, 2, 1, count_include_pad=False).sum()
            + F.avg_pool2d(y, 2, divisor_override=3).sum() + F.avg_pool3d(y.unsqueeze(1), 2).sum())


def _conv_bn_relu_pool(F, x, w, b, bn):
    y = F.relu(bn(F.conv2d(x, w, b, padding=1, groups=2)))
    return F.max_pool2d(y, 2)


@pytest.mark.parametrize("fn", [_conv2d, _conv2d_same_unbatched, _conv1d, _conv3d, _pools])
def test_compiled_conv_and_pooling_match_torch(fn, monkeypatch):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, 9, 8, generator=g)
    w = torch.randn(6, 2, 3, 3, generator=g)
    b = torch.randn(6, generator=g)
    tx, tw, tb = (t.clone().requires_grad_() for t in (x, w, b))
    jx, jw, jb = (to_j(t).requires_grad_() for t in (x, w, b))
    seen = []   # the ops asked for channels-last compute (wanted() checks the backend only when compiling)
    monkeypatch.setattr(channels_last, "on_cpu", lambda: seen.append(True) or True)

    def step(x, w, b):
        out = fn(jtorch.nn.functional, x, w, b)
        (out * out).sum().backward()
        return out

    out_t = fn(torch.nn.functional, tx, tw, tb)
    (out_t * out_t).sum().backward()
    out_j = jtorch.compile(step)(jx, jw, jb)
    assert seen   # the compiled trace took the channels-last path
    assert_same(out_j, out_t.detach(), atol=1e-4, rtol=1e-5)
    for j, t, n in ((jx, tx, "x"), (jw, tw, "w"), (jb, tb, "b")):
        if t.grad is not None:
            assert_same(j.grad, t.grad, atol=1e-3, rtol=1e-4, msg=n)


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_compiled_batchnorm_train_and_eval_match_torch(dims):
    g = torch.Generator().manual_seed(1)
    shape = (4, 3) + (5, 4, 3)[:dims - 1] if dims > 1 else (6, 3)
    x = torch.randn(*shape, generator=g) * 3 + 1
    tbn = (torch.nn.BatchNorm1d if dims < 3 else torch.nn.BatchNorm2d)(3)
    jbn = (jtorch.nn.BatchNorm1d if dims < 3 else jtorch.nn.BatchNorm2d)(3)
    with torch.no_grad():
        tbn.weight.copy_(torch.tensor([1.5, -0.5, 2.0]))
        tbn.bias.copy_(torch.tensor([0.1, 0.2, -0.3]))
    jbn.load_state_dict({k: to_j(v) for k, v in tbn.state_dict().items()})
    tx, jx = x.clone().requires_grad_(), to_j(x).requires_grad_()

    def step(x):
        out = jbn(x)
        (out * out.detach().sin()).sum().backward()
        return out

    out_t = tbn(tx)
    (out_t * out_t.detach().sin()).sum().backward()
    out_j = jtorch.compile(step)(jx)
    assert_same(out_j, out_t.detach(), atol=1e-5)
    assert_same(jx.grad, tx.grad, atol=1e-5, rtol=1e-4)
    assert_same(jbn.weight.grad, tbn.weight.grad, atol=1e-4, rtol=1e-4)
    assert_same(jbn.running_mean, tbn.running_mean, atol=1e-6)
    assert_same(jbn.running_var, tbn.running_var, atol=1e-5)
    tbn.eval()
    jbn.eval()
    assert_same(jtorch.compile(lambda x: jbn(x))(to_j(x)), tbn(x).detach(), atol=1e-5)


def test_compiled_cnn_layer_matches_eager_and_torch():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, 4, 8, 8, generator=g)
    w = torch.randn(6, 2, 3, 3, generator=g)
    b = torch.randn(6, generator=g)
    tbn, jbn = torch.nn.BatchNorm2d(6), jtorch.nn.BatchNorm2d(6)
    tw, tb = tw_, tb_ = w.clone().requires_grad_(), b.clone().requires_grad_()
    jw, jb = to_j(w).requires_grad_(), to_j(b).requires_grad_()
    out_t = _conv_bn_relu_pool(torch.nn.functional, x, tw_, tb_, tbn)
    out_t.sum().backward()

    def step(x):
        out = _conv_bn_relu_pool(jtorch.nn.functional, x, jw, jb, jbn)
        out.sum().backward()
        return out
    out_j = jtorch.compile(step)(to_j(x))
    assert_same(out_j, out_t.detach(), atol=1e-4)
    assert_same(jw.grad, tw.grad, atol=1e-3, rtol=1e-4)
    assert_same(jb.grad, tb.grad, atol=1e-3, rtol=1e-4)
    assert_same(jbn.running_var, tbn.running_var, atol=1e-4, rtol=1e-5)


def test_sink_transposes_moves_elementwise_ops_into_the_producers_layout():
    # bn-like NHWC op -> NCHW relu -> NHWC pool, differentiated: the relu, its backward mask and the
    # splat zeros must run channels-last so only the input transpose and the output transpose remain
    import jax
    import jax.numpy as jnp
    from jax import lax
    from jtorch._ops.sink_transposes import sink_transposes
    to_nhwc, to_nchw = (0, 2, 3, 1), (0, 3, 1, 2)

    def layer(x):   # x NCHW
        h = jnp.transpose(x, to_nhwc) * 1.5 + 0.25                        # "batch norm", channels-last
        r = jnp.where(jnp.transpose(h, to_nchw) > 0, jnp.transpose(h, to_nchw), jnp.zeros((2, 3, 4, 4)))
        p = lax.reduce_window(jnp.transpose(r, to_nhwc), -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
        return jnp.transpose(p, to_nchw)

    def step(x):
        y, vjp = jax.vjp(layer, x)
        return y, vjp(jnp.cos(y))[0]

    def n_transposes(f, x):   # live ones: XLA drops the rest
        jaxpr = jax.make_jaxpr(f)(x).jaxpr
        used = {id(v) for e in jaxpr.eqns for v in e.invars} | {id(v) for v in jaxpr.outvars}
        return sum(e.primitive.name == "transpose" and id(e.outvars[0]) in used for e in jaxpr.eqns)

    x = jax.random.normal(jax.random.PRNGKey(0), (2, 3, 4, 4))
    sunk = sink_transposes(step)
    for a, b in zip(jax.jit(step)(x), jax.jit(sunk)(x)):
        assert np.array_equal(np.asarray(a), np.asarray(b))
    before, after = n_transposes(step, x), n_transposes(sunk, x)
    assert after < before
    assert after <= 3   # into the pool, the output, the gradient out of the pool's backward


def test_compiled_cnn_step_same_with_and_without_transpose_sinking(monkeypatch):
    # the compiled step, with and without the pass, against torch's eager training from the same weights
    from jtorch._compile import config
    g = torch.Generator().manual_seed(3)
    x = torch.randn(4, 3, 8, 8, generator=g)
    y = torch.randint(0, 5, (4,), generator=g)

    def build(nn):
        return nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(6, 8, 3, padding=1), nn.BatchNorm2d(8), nn.LeakyReLU(0.1),
                             nn.AvgPool2d(2), nn.Flatten(), nn.Linear(32, 5))
    torch.manual_seed(0)
    tmodel = build(torch.nn)
    init = {k: v.clone() for k, v in tmodel.state_dict().items()}
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1, momentum=0.9)
    tlosses = []
    for _ in range(3):
        topt.zero_grad()
        loss = torch.nn.functional.cross_entropy(tmodel(x), y)
        loss.backward()
        topt.step()
        tlosses.append(float(loss))
    results = []
    for sink in (False, True):
        monkeypatch.setattr(config, "sink_transposes", sink)
        model = build(jtorch.nn)
        model.load_state_dict({k: to_j(v) for k, v in init.items()})
        opt = jtorch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

        @jtorch.compile
        def step(x, y):
            opt.zero_grad()
            loss = jtorch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss
        losses = [float(step(to_j(x), to_j(y))) for _ in range(3)]
        results.append((losses, [p.detach().clone() for p in model.parameters()]))
        np.testing.assert_allclose(losses, tlosses, rtol=1e-4)
        for a, b in zip(model.parameters(), tmodel.parameters()):
            assert_same(a.detach(), b.detach(), rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-5)
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6)
