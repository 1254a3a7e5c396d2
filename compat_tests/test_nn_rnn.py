"""RNN/LSTM/GRU (layers, directions, batch_first, proj_size, PackedSequence), cells and
nn.utils.rnn helpers vs torch."""
import numpy as np
import pytest
import torch
import torch.nn as tnn

import jtorch
import jtorch.nn as jnn
from oracle import to_j, assert_same, same_error
from nn_compare import compare_module, copy_state

CASES = [("LSTM", dict(num_layers=2, bidirectional=True)), ("GRU", dict(batch_first=True, bias=False)),
         ("RNN", dict(nonlinearity="relu", num_layers=2)), ("LSTM", dict(proj_size=3, batch_first=True)),
         ("GRU", dict(bidirectional=True))]


@pytest.mark.parametrize("name,kw", CASES)
def test_rnn_modules(name, kw):
    torch.manual_seed(0)
    t = getattr(tnn, name)(4, 5, **kw)
    j = getattr(jnn, name)(4, 5, **kw)
    assert repr(j) == repr(t)
    assert [n for n, _ in j.named_parameters()] == [n for n, _ in t.named_parameters()]
    x = torch.randn(3, 6, 4)
    compare_module(t, j, [x])
    # with an explicit initial state
    D = 2 if kw.get("bidirectional") else 1
    L = kw.get("num_layers", 1)
    h0 = torch.randn(L * D, 6 if not kw.get("batch_first") else 3, kw.get("proj_size") or 5)
    if name == "LSTM":
        c0 = torch.randn(L * D, h0.shape[1], 5)
        hx = (h0, c0)
        t2 = lambda x, h, c: t(x, (h, c))  # noqa: E731
        j2 = lambda x, h, c: j(x, (h, c))  # noqa: E731
        from nn_compare import compare_fn
        compare_fn(t2, j2, [x, h0, c0])
    else:
        compare_module(t, j, [x, h0])


def test_rnn_unbatched_and_eval_dropout():
    torch.manual_seed(1)
    t, j = tnn.GRU(4, 5, num_layers=2, dropout=0.5), jnn.GRU(4, 5, num_layers=2, dropout=0.5)
    compare_module(t, j, [torch.randn(6, 4)], train=False)
    t, j = tnn.LSTM(4, 5), jnn.LSTM(4, 5)
    compare_module(t, j, [torch.randn(6, 4)])
    # dropout between layers in train mode: still runs, right shapes, stochastic
    j = jnn.LSTM(4, 5, num_layers=2, dropout=0.5).train()
    out, (h, c) = j(jtorch.randn(6, 2, 4))
    assert tuple(out.shape) == (6, 2, 5) and tuple(h.shape) == (2, 2, 5)


@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_packed_sequence_input(name):
    torch.manual_seed(2)
    t = getattr(tnn, name)(4, 5, bidirectional=True, num_layers=2)
    j = getattr(jnn, name)(4, 5, bidirectional=True, num_layers=2)
    copy_state(t, j)
    seqs = [torch.randn(n, 4, requires_grad=True) for n in (3, 5, 2)]
    jseqs = [to_j(s, requires_grad=True) for s in seqs]
    tp = tnn.utils.rnn.pack_sequence(seqs, enforce_sorted=False)
    jp = jnn.utils.rnn.pack_sequence(jseqs, enforce_sorted=False)
    assert_same(jp.batch_sizes, tp.batch_sizes)
    assert_same(jp.sorted_indices, tp.sorted_indices)
    to, th = t(tp)
    jo, jh = j(jp)
    assert isinstance(jo, jnn.utils.rnn.PackedSequence)
    assert_same(jo.data, to.data, rtol=1e-5, atol=1e-6)
    assert_same(jh, th, rtol=1e-5, atol=1e-6)
    tpad, tl = tnn.utils.rnn.pad_packed_sequence(to, batch_first=True)
    jpad, jl = jnn.utils.rnn.pad_packed_sequence(jo, batch_first=True)
    assert_same(jpad, tpad, rtol=1e-5, atol=1e-6)
    assert_same(jl, tl)
    w = torch.randn(tpad.shape)
    (tpad * w).sum().backward()
    (jpad * to_j(w)).sum().backward()
    for a, b in zip(jseqs, seqs):
        assert_same(a.grad, b.grad, rtol=1e-4, atol=1e-5)
    for n, p in t.named_parameters():
        assert_same(dict(j.named_parameters())[n].grad, p.grad, rtol=1e-4, atol=1e-5, msg=n)


@pytest.mark.parametrize("cell,kw", [("LSTMCell", {}), ("GRUCell", {}), ("RNNCell", dict(nonlinearity="relu")),
                                     ("RNNCell", dict(bias=False))])
def test_cells(cell, kw):
    torch.manual_seed(3)
    t = getattr(tnn, cell)(4, 5, **kw)
    j = getattr(jnn, cell)(4, 5, **kw)
    assert repr(j) == repr(t)
    compare_module(t, j, [torch.randn(3, 4)])
    if cell == "LSTMCell":
        from nn_compare import compare_fn
        copy_state(t, j)
        compare_fn(lambda x, h, c: t(x, (h, c)), lambda x, h, c: j(x, (h, c)),
                   [torch.randn(4), torch.randn(5), torch.randn(5)])
    else:
        compare_module(t, j, [torch.randn(3, 4), torch.randn(3, 5)])


def test_rnn_default_init():
    torch.manual_seed(0)
    j = jnn.LSTM(16, 64, num_layers=2)
    bound = 1 / 8
    for n, p in j.named_parameters():
        a = np.asarray(p.detach()._value)
        assert np.abs(a).max() <= bound + 1e-7, n
        assert abs(a.std() - bound / 3 ** 0.5) < 0.15 * bound, n


def test_rnn_errors():
    for tf, jf in [
        (lambda: tnn.RNN(3, 4)(torch.randn(5, 2, 4)), lambda: jnn.RNN(3, 4)(jtorch.randn(5, 2, 4))),
        (lambda: tnn.LSTM(3, 4)(torch.randn(5, 2, 3), (torch.randn(1, 3, 4), torch.randn(1, 2, 4))),
         lambda: jnn.LSTM(3, 4)(jtorch.randn(5, 2, 3), (jtorch.randn(1, 3, 4), jtorch.randn(1, 2, 4)))),
        (lambda: tnn.GRU(3, 4)(torch.randn(5, 2, 3), torch.randn(1, 3, 4)),
         lambda: jnn.GRU(3, 4)(jtorch.randn(5, 2, 3), jtorch.randn(1, 3, 4))),
        (lambda: tnn.GRU(3, 4)(torch.randn(5, 2, 3, 1)), lambda: jnn.GRU(3, 4)(jtorch.randn(5, 2, 3, 1))),
        (lambda: tnn.LSTMCell(3, 4)(torch.randn(2, 5)), lambda: jnn.LSTMCell(3, 4)(jtorch.randn(2, 5))),
        (lambda: tnn.GRUCell(3, 4)(torch.randn(2, 3), torch.randn(3, 4)),
         lambda: jnn.GRUCell(3, 4)(jtorch.randn(2, 3), jtorch.randn(3, 4))),
    ]:
        et, ej = same_error(tf, jf)
        assert str(ej) == str(et)
    for kw in [dict(dropout=2), dict(proj_size=5), dict(num_layers=0)]:
        same_error(lambda: tnn.LSTM(3, 4, **kw), lambda: jnn.LSTM(3, 4, **kw))
    same_error(lambda: tnn.GRU(3, 4, proj_size=2), lambda: jnn.GRU(3, 4, proj_size=2))


def test_rnn_utils():
    torch.manual_seed(4)
    seqs = [torch.randn(n, 3) for n in (4, 2, 3)]
    js = [to_j(s) for s in seqs]
    U, JU = tnn.utils.rnn, jnn.utils.rnn
    for bf in (False, True):
        assert_same(JU.pad_sequence(js, batch_first=bf, padding_value=-1.0),
                    U.pad_sequence(seqs, batch_first=bf, padding_value=-1.0))
    assert_same(JU.pad_sequence(js, batch_first=True, padding_side="left"),
                U.pad_sequence(seqs, batch_first=True, padding_side="left"))
    padded = U.pad_sequence(seqs, batch_first=True)
    tp = U.pack_padded_sequence(padded, torch.tensor([4, 2, 3]), batch_first=True, enforce_sorted=False)
    jp = JU.pack_padded_sequence(to_j(padded), jtorch.tensor([4, 2, 3]), batch_first=True, enforce_sorted=False)
    for a, b in zip(jp, tp):
        assert_same(a, b)
    tpad, tl = U.pad_packed_sequence(tp, padding_value=9.0, total_length=6)
    jpad, jl = JU.pad_packed_sequence(jp, padding_value=9.0, total_length=6)
    assert_same(jpad, tpad)
    assert_same(jl, tl)
    for a, b in zip(JU.unpad_sequence(jpad, jl), U.unpad_sequence(tpad, tl)):
        assert_same(a, b)
    for a, b in zip(JU.unpack_sequence(jp), U.unpack_sequence(tp)):
        assert_same(a, b)
    sp = U.pack_sequence(sorted(seqs, key=len, reverse=True))
    jsp = JU.pack_sequence(sorted(js, key=len, reverse=True))
    assert jsp.sorted_indices is None and sp.sorted_indices is None
    assert_same(jsp.data, sp.data)
    same_error(lambda: U.pack_sequence(seqs), lambda: JU.pack_sequence(js))
    same_error(lambda: U.pad_packed_sequence(tp, total_length=2), lambda: JU.pad_packed_sequence(jp, total_length=2))


def make_lm(nn):
    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(11, 6)
            self.rnn = nn.LSTM(6, 8, num_layers=2, batch_first=True)
            self.head = nn.Linear(8, 11)

        def forward(self, idx):
            y, _ = self.rnn(self.emb(idx))
            return self.head(y)
    return LM()


def test_lstm_language_model_state_dict():
    torch.manual_seed(5)
    t, j = make_lm(tnn), make_lm(jnn)
    idx = torch.randint(0, 11, (2, 7))
    compare_module(t, j, [idx])
