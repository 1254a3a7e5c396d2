"""grad_fn node names and classes as torch's: type(y.grad_fn).__name__ == y.grad_fn.name() ==
'MulBackward0'; next_functions of leaves are AccumulateGrad."""
import pytest
import torch

import jtorch
from oracle import to_j


def _x(lib, *shape):
    g = torch.Generator().manual_seed(0)
    t = torch.rand(*shape, generator=g) + 0.5
    return (t if lib is torch else to_j(t)).requires_grad_(True)


def _nn(lib):
    return lib.nn.functional


CASES = {
    "mul": lambda L: _x(L, 3) * 2,
    "mul-tensor": lambda L: _x(L, 3) * _x(L, 3),
    "add": lambda L: _x(L, 3) + _x(L, 3),
    "add-scalar": lambda L: _x(L, 3) + 1,
    "sub": lambda L: _x(L, 3) - _x(L, 3),
    "rsub": lambda L: 1 - _x(L, 3),
    "div": lambda L: _x(L, 3) / _x(L, 3),
    "neg": lambda L: -_x(L, 3),
    "exp": lambda L: _x(L, 3).exp(),
    "log": lambda L: _x(L, 3).log(),
    "pow": lambda L: _x(L, 3) ** 2,
    "pow-tensor": lambda L: _x(L, 3) ** _x(L, 3),
    "rpow": lambda L: 2 ** _x(L, 3),
    "sqrt": lambda L: _x(L, 3).sqrt(),
    "sin": lambda L: _x(L, 3).sin(),
    "tanh": lambda L: _x(L, 3).tanh(),
    "sigmoid": lambda L: _x(L, 3).sigmoid(),
    "relu": lambda L: _x(L, 3).relu(),
    "F.relu": lambda L: _nn(L).relu(_x(L, 3)),
    "gelu": lambda L: _nn(L).gelu(_x(L, 3)),
    "abs": lambda L: _x(L, 3).abs(),
    "clamp": lambda L: _x(L, 3).clamp(0.6, 1.0),
    "sum": lambda L: _x(L, 3).sum(),
    "sum-dim": lambda L: _x(L, 2, 3).sum(1),
    "mean": lambda L: _x(L, 3).mean(),
    "mean-dim": lambda L: _x(L, 2, 3).mean(1),
    "prod": lambda L: _x(L, 3).prod(),
    "max": lambda L: _x(L, 3).max(),
    "amax": lambda L: _x(L, 2, 3).amax(1),
    "mm": lambda L: L.mm(_x(L, 2, 3), _x(L, 3, 4)),
    "bmm": lambda L: L.bmm(_x(L, 2, 2, 3), _x(L, 2, 3, 4)),
    "matmul-2d": lambda L: _x(L, 2, 3) @ _x(L, 3, 4),
    "matmul-dot": lambda L: _x(L, 3) @ _x(L, 3),
    "matmul-mv": lambda L: _x(L, 2, 3) @ _x(L, 3),
    "matmul-3d": lambda L: _x(L, 5, 2, 3) @ _x(L, 3, 4),
    "matmul-batched": lambda L: _x(L, 5, 2, 3) @ _x(L, 5, 3, 4),
    "linear-bias": lambda L: _nn(L).linear(_x(L, 2, 3), _x(L, 4, 3), _x(L, 4)),
    "linear-nobias": lambda L: _nn(L).linear(_x(L, 2, 3), _x(L, 4, 3)),
    "linear-3d-bias": lambda L: _nn(L).linear(_x(L, 5, 2, 3), _x(L, 4, 3), _x(L, 4)),
    "linear-3d-nobias": lambda L: _nn(L).linear(_x(L, 5, 2, 3), _x(L, 4, 3)),
    "view": lambda L: _x(L, 2, 3).view(6),
    "reshape": lambda L: _x(L, 2, 3).reshape(6),
    "flatten": lambda L: _x(L, 2, 3).flatten(),
    "t": lambda L: _x(L, 2, 3).t(),
    "transpose": lambda L: _x(L, 2, 3).transpose(0, 1),
    "permute": lambda L: _x(L, 2, 3).permute(1, 0),
    "unsqueeze": lambda L: _x(L, 3).unsqueeze(0),
    "expand": lambda L: _x(L, 1, 3).expand(2, 3),
    "clone": lambda L: _x(L, 3).clone(),
    "select": lambda L: _x(L, 2, 3)[0],
    "slice": lambda L: _x(L, 4)[1:3],
    "cat": lambda L: L.cat([_x(L, 3), _x(L, 3)]),
    "stack": lambda L: L.stack([_x(L, 3), _x(L, 3)]),
    "softmax": lambda L: _x(L, 2, 3).softmax(-1),
    "F.softmax": lambda L: _nn(L).softmax(_x(L, 2, 3), dim=-1),
    "log_softmax": lambda L: _nn(L).log_softmax(_x(L, 2, 3), dim=-1),
    "nll_loss": lambda L: _nn(L).nll_loss(_x(L, 2, 3), L.tensor([0, 2])),
    "cross_entropy": lambda L: _nn(L).cross_entropy(_x(L, 2, 3), L.tensor([0, 2])),
    "cross_entropy-smoothing": lambda L: _nn(L).cross_entropy(_x(L, 2, 3), L.tensor([0, 2]), label_smoothing=0.1),
    "cross_entropy-probs": lambda L: _nn(L).cross_entropy(_x(L, 2, 3), L.ones(2, 3) / 3),
    "cross_entropy-probs-sum": lambda L: _nn(L).cross_entropy(_x(L, 2, 3), L.ones(2, 3) / 3, reduction="sum"),
    "cross_entropy-2d": lambda L: _nn(L).cross_entropy(_x(L, 2, 3, 2, 2), L.zeros(2, 2, 2, dtype=L.long)),
    "nll_loss-2d": lambda L: _nn(L).nll_loss(_x(L, 2, 3, 2, 2), L.zeros(2, 2, 2, dtype=L.long)),
    "mse_loss": lambda L: _nn(L).mse_loss(_x(L, 3), _x(L, 3)),
    "to-double": lambda L: _x(L, 3).double(),
    "sum-dim1": lambda L: _x(L, 2, 3).sum(dim=1, keepdim=True),
    "prod-dim": lambda L: _x(L, 2, 3).prod(1),
    "linear-1d-bias": lambda L: _nn(L).linear(_x(L, 3), _x(L, 4, 3), _x(L, 4)),
    "linear-1d-nobias": lambda L: _nn(L).linear(_x(L, 3), _x(L, 4, 3)),
    "matmul-vm": lambda L: _x(L, 3) @ _x(L, 3, 4),
    "matmul-2d-3d": lambda L: _x(L, 2, 3) @ _x(L, 5, 3, 4),
    "matmul-2d-3d-rhs-grad": lambda L: _x(L, 2, 3).detach() @ _x(L, 5, 3, 4),
    "pow-tensor-scalar-base": lambda L: L.pow(2.0, _x(L, 3)),
    "clamp-tensor": lambda L: _x(L, 3).clamp(min=L.zeros(3)),
    "where": lambda L: L.where(L.tensor([True, False, True]), _x(L, 3), _x(L, 3)),
    "masked_fill": lambda L: _x(L, 3).masked_fill(L.tensor([True, False, True]), 0.0),
    "layer_norm": lambda L: _nn(L).layer_norm(_x(L, 2, 3), (3,)),
    "embedding": lambda L: _nn(L).embedding(L.tensor([0, 2]), _x(L, 4, 3)),
    "conv2d": lambda L: _nn(L).conv2d(_x(L, 1, 2, 5, 5), _x(L, 3, 2, 3, 3), _x(L, 3)),
    "conv_transpose1d": lambda L: _nn(L).conv_transpose1d(_x(L, 1, 2, 5), _x(L, 2, 3, 3)),
    "max_pool1d": lambda L: _nn(L).max_pool1d(_x(L, 1, 2, 4), 2),
    "max_pool2d": lambda L: _nn(L).max_pool2d(_x(L, 1, 1, 4, 4), 2),
    "avg_pool2d": lambda L: _nn(L).avg_pool2d(_x(L, 1, 1, 4, 4), 2),
    "adaptive_avg_pool2d-1": lambda L: _nn(L).adaptive_avg_pool2d(_x(L, 1, 2, 4, 4), 1),
    "adaptive_avg_pool2d-2": lambda L: _nn(L).adaptive_avg_pool2d(_x(L, 1, 2, 4, 4), 2),
    "batch_norm": lambda L: _nn(L).batch_norm(_x(L, 2, 3, 4), L.zeros(3), L.ones(3), _x(L, 3), _x(L, 3), True),
    "group_norm": lambda L: _nn(L).group_norm(_x(L, 2, 4, 3), 2),
    "squeeze-all": lambda L: _x(L, 1, 3).squeeze(),
    "squeeze-dim": lambda L: _x(L, 1, 3).squeeze(0),
    "squeeze-dims": lambda L: _x(L, 1, 1, 3).squeeze((0, 1)),
    "narrow": lambda L: _x(L, 4).narrow(0, 1, 2),
    "log1p": lambda L: _x(L, 3).log1p(),
    "div-floor": lambda L: L.div(_x(L, 3), 2, rounding_mode="floor"),
    "pad-constant": lambda L: _nn(L).pad(_x(L, 1, 2, 3), (1, 1)),
    "pad-reflect": lambda L: _nn(L).pad(_x(L, 1, 2, 3), (1, 1), mode="reflect"),
    "pad-circular": lambda L: _nn(L).pad(_x(L, 1, 1, 3, 3), (1, 1, 1, 1), mode="circular"),
    "interpolate-nearest": lambda L: _nn(L).interpolate(_x(L, 1, 1, 2, 2), scale_factor=2),
    "interpolate-bilinear": lambda L: _nn(L).interpolate(_x(L, 1, 1, 2, 2), scale_factor=2, mode="bilinear"),
    "interpolate-linear": lambda L: _nn(L).interpolate(_x(L, 1, 1, 3), scale_factor=2, mode="linear"),
    "setitem-basic": lambda L: _setitem(_x(L, 3, 3) * 1, (slice(None), 1), 0.0),
    "setitem-advanced": lambda L: _setitem(_x(L, 3) * 1, L.tensor([0, 2]), 0.0),
}


def _setitem(t, index, value):
    t[index] = value
    return t


@pytest.mark.parametrize("name", list(CASES))
def test_grad_fn_name_and_class(name):
    t, j = CASES[name](torch), CASES[name](jtorch)
    tn = type(t.grad_fn).__name__
    assert type(j.grad_fn).__name__ == tn, f"{name}: {type(j.grad_fn).__name__} != torch {tn}"
    assert j.grad_fn.name() == t.grad_fn.name()   # torch qualifies some: torch::autograd::CopySlices
    assert f"grad_fn=<{tn}>" in repr(j)
    assert isinstance(j.grad_fn, jtorch.autograd.graph.Node)


def _walk(fn, depth=0):
    out = [(depth, type(fn).__name__, fn.name())]
    for nxt, _ in fn.next_functions:
        if nxt is not None:
            out += _walk(nxt, depth + 1)
    return out


def test_next_functions_names():
    def chain(L):
        x, w = _x(L, 2, 3), _x(L, 3)
        return ((x * w).exp() - x.t().t()).relu().mean(1).sum()
    t, j = chain(torch), chain(jtorch)
    assert _walk(j.grad_fn) == _walk(t.grad_fn)


def _walk_all(fn, depth=0):
    if fn is None:
        return [(depth, None)]
    out = [(depth, type(fn).__name__)]
    for nxt, _ in fn.next_functions:
        out += _walk_all(nxt, depth + 1)
    return out


def test_linear_next_functions_as_torch():
    # jtorch's linear is one fused node; its next_functions show torch's decomposition: addmm(bias,
    # input, TBackward0(weight)), mm without bias, views / unsqueeze around it for N-D / 1-D input
    # (the blitz tutorial walks loss.grad_fn.next_functions[0][0].next_functions[0][0])
    def chains(L):
        lin = L.nn.Linear(3, 4)
        out = []
        for shape in ((2, 3), (2, 5, 3), (3,)):
            x = _x(L, *shape) * 2
            out.append(lin(x).relu().sum())
            out.append(L.nn.functional.linear(x, lin.weight).sum())
        out.append(lin(L.ones(2, 3)).sum())   # input without grad: a None slot
        lin.weight.requires_grad_(False)
        out.append(lin(_x(L, 2, 3) * 2).sum())   # no TBackward0 for a frozen weight
        return out
    for t, j in zip(chains(torch), chains(jtorch)):
        assert _walk_all(j.grad_fn) == _walk_all(t.grad_fn)


def test_node_classes_are_shared_and_repr():
    a, b = _x(jtorch, 3) * 2, _x(jtorch, 4) * 3
    assert type(a.grad_fn) is type(b.grad_fn)
    assert repr(type(a.grad_fn)) == "<class 'MulBackward0'>"
    assert "grad_fn=<MulBackward0>" in repr(a)
    # the name stays after backward frees the node's saved inputs
    p = _x(jtorch, 3) ** 2
    p.sum().backward()
    assert p.grad_fn.name() == "PowBackward0"


def test_names_after_in_place_through_a_view():
    for f in (lambda v: v[0].add_(1), lambda v: v.t().mul_(2)):
        out = []
        for L in (torch, jtorch):
            b = _x(L, 2, 3) * 1
            v = b[:]
            w = f(v)
            out.append((type(w.grad_fn).__name__, type(b.grad_fn).__name__, b.grad_fn.name()))
        assert out[1] == out[0]


def test_custom_function_node_class():
    def make(L):
        class Double(L.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return g * 2
        return Double
    tD, jD = make(torch), make(jtorch)
    t, j = tD.apply(_x(torch, 3)), jD.apply(_x(jtorch, 3))
    assert type(j.grad_fn).__name__ == type(t.grad_fn).__name__ == "DoubleBackward"
    assert j.grad_fn.name() == t.grad_fn.name()
    assert type(jD.apply(_x(jtorch, 2)).grad_fn) is type(j.grad_fn)
