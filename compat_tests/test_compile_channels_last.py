"""Convolution, batch norm and pooling inside jtorch.compile on the CPU backend compute channels-last
(jtorch/_ops/channels_last.py) while tensors stay NC*: values, gradients and running statistics
must still be torch's."""
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
