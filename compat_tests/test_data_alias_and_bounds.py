"""`.data` (shares storage, own version counter, outside autograd) and eager index-bounds
checks (embedding, nll_loss / cross_entropy targets, gather / scatter / index_select), each
against torch."""
import pytest
import torch
import torch.nn.functional as TF

import jtorch
import jtorch.nn.functional as JF
from oracle import assert_same, same_error


# ---------------------------------------------------------------------------- .data
def _data_writes(lib):
    w = lib.ones(3, requires_grad=True)
    h = w * 2
    y = (h * h).sum()
    d = h.data
    d.add_(1)
    d[0] = 5
    return h, d, y, w


def test_data_shares_storage_but_not_version_counter():
    ht, dt, yt, wt = _data_writes(torch)
    hj, dj, yj, wj = _data_writes(jtorch)
    assert hj.tolist() == ht.tolist() == [5.0, 3.0, 3.0]     # storage shared: writes reach h
    assert hj._version == ht._version == 0                    # h's counter untouched
    assert dj._version == dt._version == 2                    # .data counts its own writes
    assert dj.requires_grad is dt.requires_grad is False and dj.grad_fn is None and dj.is_leaf
    yt.backward()
    yj.backward()          # no "modified by an inplace operation" error, as in torch
    assert wj.grad is not None and wt.grad is not None


def test_detach_still_shares_the_version_counter():
    def f(lib):
        p = lib.ones(2, requires_grad=True)
        z = (p * p).sum()
        p.detach().add_(1)
        z.backward()
    et, ej = same_error(lambda: f(torch), lambda: f(jtorch))
    assert str(ej) == str(et)


def test_data_of_parameter_update_like_old_optimizers():
    for lib in (torch, jtorch):
        x = lib.zeros(3, requires_grad=True)
        x.data.copy_(lib.arange(3.0))
        x.data.mul_(2)
        assert x.tolist() == [0.0, 2.0, 4.0] and x._version == 0 and x.is_leaf and x.requires_grad


def test_data_write_gradient_divergence_is_pinned():
    """Known divergence: torch's backward then reads the *modified* storage (the .data footgun);
    jtorch's nodes hold the arrays forward saw, so the gradient is the one of the forward."""
    w = jtorch.ones(3, requires_grad=True)
    y = (w * w).sum()
    w.data.add_(1)
    y.backward()
    assert w.grad.tolist() == [2.0, 2.0, 2.0]   # torch: [4.0, 4.0, 4.0]


# ---------------------------------------------------------------------------- bounds
CASES = {
    "embedding_high": lambda t, F: F.embedding(t.tensor([0, 5]), t.ones(5, 2)),
    "embedding_negative": lambda t, F: F.embedding(t.tensor([-1]), t.ones(5, 2)),
    "embedding_module": lambda t, F: t.nn.Embedding(5, 2)(t.tensor([[1, 7]])),
    "nll_high": lambda t, F: F.nll_loss(t.zeros(2, 3), t.tensor([0, 3])),
    "nll_negative": lambda t, F: F.nll_loss(t.zeros(2, 3), t.tensor([0, -2])),
    "cross_entropy_high": lambda t, F: F.cross_entropy(t.zeros(2, 3), t.tensor([0, 3])),
    "cross_entropy_negative": lambda t, F: F.cross_entropy(t.zeros(2, 3), t.tensor([0, -1])),
    "cross_entropy_spatial": lambda t, F: F.cross_entropy(t.zeros(2, 3, 4), t.tensor([[0, 1, 2, 5], [0, 0, 0, 0]])),
    "cross_entropy_module": lambda t, F: t.nn.CrossEntropyLoss()(t.zeros(2, 3), t.tensor([4, 0])),
    "gather_high": lambda t, F: t.gather(t.zeros(2, 3), 1, t.tensor([[0, 3]])),
    "gather_negative": lambda t, F: t.gather(t.zeros(2, 3), 1, t.tensor([[0, -1]])),
    "gather_dim0_method": lambda t, F: t.zeros(2, 3).gather(0, t.tensor([[0, 2, 1]])),
    "scatter_high": lambda t, F: t.zeros(2, 3).scatter(1, t.tensor([[3]]), 1.0),
    "scatter_add_high": lambda t, F: t.zeros(2, 3).scatter_add(1, t.tensor([[3]]), t.ones(1, 1)),
    "scatter_reduce_negative": lambda t, F: t.zeros(2, 3).scatter_reduce(1, t.tensor([[-1]]), t.ones(1, 1), "sum"),
    "index_select_high": lambda t, F: t.index_select(t.zeros(2, 3), 1, t.tensor([3])),
    "index_select_negative": lambda t, F: t.index_select(t.zeros(2, 3), 1, t.tensor([-1])),
}


@pytest.mark.parametrize("name", list(CASES))
def test_out_of_range_index_raises_like_torch(name):
    f = CASES[name]
    et, ej = same_error(lambda: f(torch, TF), lambda: f(jtorch, JF))
    assert str(ej) == str(et)


IN_RANGE = {
    "nll_ignore_index": lambda t, F: F.nll_loss(t.zeros(2, 3), t.tensor([0, -100])),
    "cross_entropy_custom_ignore": lambda t, F: F.cross_entropy(t.zeros(2, 3), t.tensor([2, 7]), ignore_index=7),
    "cross_entropy_probabilities": lambda t, F: F.cross_entropy(t.zeros(2, 3), t.full((2, 3), 1 / 3)),
    "gather_edges": lambda t, F: t.gather(t.arange(6.0).reshape(2, 3), 1, t.tensor([[0, 2], [2, 0]])),
    "index_select_edges": lambda t, F: t.index_select(t.arange(6.0).reshape(2, 3), 1, t.tensor([2, 0])),
}


@pytest.mark.parametrize("name", list(IN_RANGE))
def test_in_range_indices_still_work(name):
    f = IN_RANGE[name]
    assert_same(f(jtorch, JF), f(torch, TF))


def test_bounds_are_not_checked_on_traced_values():
    # under jtorch.compile the index is a tracer: no host read, no error, the kernel runs
    f = jtorch.compile(lambda x, i: jtorch.gather(x, 1, i))
    x = jtorch.arange(6.0).reshape(2, 3)
    assert f(x, jtorch.tensor([[0, 2], [1, 1]])).tolist() == [[0.0, 2.0], [4.0, 4.0]]
