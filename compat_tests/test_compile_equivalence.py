"""Compiled and eager runs of the same training give the same losses and weights over 100 steps:
an MLP, a CNN with BatchNorm and dropout, an LSTM and a small GPT (issue 6). The eager run is
itself checked against torch elsewhere; here compile must not change the story, including the
dropout draws (same generator stream) and BatchNorm running statistics."""
import numpy as np
import pytest

import jtorch
import jtorch.nn as nn
import jtorch.nn.functional as F

STEPS = 100


class _CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1, bias=False)  # a bias before BN gets no gradient
        self.bn = nn.BatchNorm2d(4)
        self.drop = nn.Dropout(0.2)
        self.fc = nn.Linear(4 * 4 * 4, 3)

    def forward(self, x):
        h = F.max_pool2d(F.relu(self.bn(self.conv(x))), 2)
        return self.fc(self.drop(h.flatten(1)))


class _LSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(11, 6)
        self.lstm = nn.LSTM(6, 8, num_layers=2, batch_first=True, dropout=0.1)
        self.out = nn.Linear(8, 11)

    def forward(self, x):
        return self.out(self.lstm(self.emb(x))[0])


class _GPT(nn.Module):
    def __init__(self, vocab=13, d=16, T=8):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(T, d)
        layer = nn.TransformerEncoderLayer(d, 2, 32, dropout=0.1, batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, 2)
        self.ln, self.head = nn.LayerNorm(d), nn.Linear(d, vocab)
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(T))

    def forward(self, x):
        h = self.tok(x) + self.pos(jtorch.arange(x.shape[1]))
        return self.head(self.ln(self.blocks(h, mask=self.mask, is_causal=True)))


def _case(name):
    g = np.random.default_rng(0)
    if name == "mlp":
        model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Dropout(0.1), nn.Linear(16, 2))
        x, y = jtorch.tensor(g.normal(size=(8, 6)), dtype=jtorch.float32), jtorch.tensor(g.integers(0, 2, 8))
        loss = lambda out: F.cross_entropy(out, y)
        opt = lambda ps: jtorch.optim.SGD(ps, lr=0.05, momentum=0.9)
    elif name == "cnn":
        model = _CNN()
        x, y = jtorch.tensor(g.normal(size=(4, 3, 8, 8)), dtype=jtorch.float32), jtorch.tensor(g.integers(0, 3, 4))
        loss = lambda out: F.cross_entropy(out, y)
        opt = lambda ps: jtorch.optim.Adam(ps, lr=1e-2)
    elif name == "lstm":
        model = _LSTM()
        seq = jtorch.tensor(g.integers(0, 11, (3, 7)))
        x, y = seq[:, :-1], seq[:, 1:]
        loss = lambda out: F.cross_entropy(out.reshape(-1, 11), y.reshape(-1))
        opt = lambda ps: jtorch.optim.AdamW(ps, lr=1e-2)
    else:
        model = _GPT()
        seq = jtorch.tensor(g.integers(0, 13, (2, 9)))
        x, y = seq[:, :-1], seq[:, 1:]
        loss = lambda out: F.cross_entropy(out.reshape(-1, 13), y.reshape(-1))
        opt = lambda ps: jtorch.optim.AdamW(ps, lr=3e-3)
    return model, x, loss, opt


def _run(name, compiled):
    jtorch.manual_seed(0)
    model, x, loss_of, make_opt = _case(name)
    opt = make_opt(model.parameters())
    sched = jtorch.optim.lr_scheduler.CosineAnnealingLR(opt, STEPS)

    def step(x):
        opt.zero_grad(set_to_none=True)
        loss = loss_of(model(x))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss
    f = jtorch.compile(step) if compiled else step
    losses = []
    for _ in range(STEPS):
        losses.append(f(x))
        sched.step()
    state = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    return np.array([float(v) for v in losses]), state, f


@pytest.mark.parametrize("name", ["mlp", "cnn", pytest.param("lstm", marks=pytest.mark.slow),
                                  pytest.param("gpt", marks=pytest.mark.slow)])
def test_compiled_equals_eager_over_100_steps(name):
    le, se, _ = _run(name, False)
    lc, sc, f = _run(name, True)
    assert f.trace_count <= 2, f.trace_count          # no retrace per step (lr changes every step)
    assert le[-1] < le[0]                              # it trains
    np.testing.assert_allclose(lc, le, rtol=2e-4, atol=2e-5)
    assert sc.keys() == se.keys()
    for k in se:
        a, b = sc[k], se[k]
        if k.endswith("in_proj_bias"):
            # the key bias gets a gradient that is zero up to rounding (softmax ignores a shift per
            # query); Adam turns that noise into full-size steps: compare the query and value parts
            a, b = np.delete(a, np.s_[16:32]), np.delete(b, np.s_[16:32])
        np.testing.assert_allclose(a, b, rtol=2e-3, atol=2e-4, err_msg=k)
