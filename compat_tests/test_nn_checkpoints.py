"""Models built in torch, saved with torch.save(state_dict) to a file, loaded with jtorch.load into the same
model written against jtorch.nn: same keys, same outputs, same gradients (ResNet-style CNN, LSTM language
model, small GPT on nn.TransformerEncoder)."""
import numpy as np
import pytest
import torch

import jtorch
from oracle import to_j, assert_same


def resnet(nn, width=8, classes=5):
    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.shortcut = nn.Sequential()
            if stride != 1 or cin != cout:
                self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            y = nn.functional.relu(self.bn1(self.conv1(x)))
            return nn.functional.relu(self.bn2(self.conv2(y)) + self.shortcut(x))

    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                                      nn.ReLU(inplace=True))
            self.layers = nn.Sequential(Block(width, width, 1), Block(width, 2 * width, 2))
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(2 * width, classes)

        def forward(self, x):
            return self.fc(self.pool(self.layers(self.stem(x))).flatten(1))

    return ResNet()


def lstm_lm(nn, vocab=20, emb=12, hidden=16):
    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab, emb, padding_idx=0)
            self.drop = nn.Dropout(0.2)
            self.rnn = nn.LSTM(emb, hidden, num_layers=2, dropout=0.2, batch_first=True)
            self.head = nn.Linear(hidden, vocab)

        def forward(self, tokens):
            out, _ = self.rnn(self.drop(self.embed(tokens)))
            return self.head(self.drop(out))

    return LM()


def small_gpt(nn, vocab=23, d=16, heads=2, layers=2, block=8):
    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(vocab, d)
            self.pos = nn.Embedding(block, d)
            layer = nn.TransformerEncoderLayer(d, heads, 4 * d, dropout=0.1, activation="gelu", batch_first=True,
                                               norm_first=True)
            self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
            self.ln_f = nn.LayerNorm(d)
            self.head = nn.Linear(d, vocab, bias=False)

        def forward(self, idx):
            T = idx.shape[1]
            pos = self.pos.weight[:T]
            mask = nn.Transformer.generate_square_subsequent_mask(T)
            h = self.blocks(self.tok(idx) + pos, mask=mask, is_causal=True)
            return self.head(self.ln_f(h))

    return GPT()


def _inputs(name):
    g = torch.Generator().manual_seed(1)
    if name == "resnet":
        return torch.randn(4, 3, 8, 8, generator=g)
    vocab = 20 if name == "lstm_lm" else 23
    return torch.randint(0, vocab, (3, 8), generator=g)


def _sync_dropout_free(mod, train):
    """Train mode with dropout would draw different masks in the two libraries: zero every dropout rate."""
    mod.train(train)
    if train:
        for m in mod.modules():
            if type(m).__name__ == "Dropout":
                m.p = 0.0
            if type(m).__name__ in ("LSTM", "MultiheadAttention"):   # a float rate, not a module
                m.dropout = 0.0


@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
@pytest.mark.parametrize("name,build", [("resnet", resnet), ("lstm_lm", lstm_lm), ("small_gpt", small_gpt)])
def test_torch_checkpoint_loads_into_jtorch_model(tmp_path, name, build, train):
    torch.manual_seed(0)
    tm = build(torch.nn)
    if name == "resnet":   # non-trivial running statistics in the checkpoint
        with torch.no_grad():
            tm.train()
            for _ in range(2):
                tm(torch.randn(4, 3, 8, 8) * 2 + 1)
    path = tmp_path / f"{name}.pt"
    torch.save(tm.state_dict(), path)

    jm = build(jtorch.nn)
    sd = jtorch.load(path)
    assert list(sd.keys()) == list(tm.state_dict().keys()) == list(jm.state_dict().keys())
    for k, v in tm.state_dict().items():
        assert isinstance(sd[k], jtorch.Tensor) and sd[k].dtype is to_j(v).dtype, k
    assert repr(jm.load_state_dict(sd)) == "<All keys matched successfully>"

    _sync_dropout_free(tm, train)
    _sync_dropout_free(jm, train)
    x = _inputs(name)
    tout, jout = tm(x), jm(to_j(x))
    assert_same(jout, tout, rtol=1e-4, atol=1e-5)

    g = torch.Generator().manual_seed(2)
    w = torch.randn(tout.shape, generator=g)
    (tout * w).sum().backward()
    (jout * to_j(w)).sum().backward()
    jp = dict(jm.named_parameters())
    for k, p in tm.named_parameters():
        if p.grad is None:
            assert jp[k].grad is None or not np.any(jp[k].grad.numpy()), k
        else:
            assert_same(jp[k].grad, p.grad, rtol=1e-4, atol=1e-5, msg=k)
    if train:   # BatchNorm's running statistics moved the same way
        for (k, tv), jv in zip(tm.state_dict().items(), jm.state_dict().values()):
            assert_same(jv, tv, rtol=1e-4, atol=1e-6, msg=k)


def test_jtorch_checkpoint_loads_into_torch_model(tmp_path):
    """The way back: jtorch.save(state_dict) is read by torch.load (weights_only) into the torch model."""
    jtorch.manual_seed(0)
    jm = lstm_lm(jtorch.nn).eval()
    path = tmp_path / "lm.pt"
    jtorch.save(jm.state_dict(), path)
    tm = lstm_lm(torch.nn).eval()
    tm.load_state_dict(torch.load(path, weights_only=True))
    x = _inputs("lstm_lm")
    assert_same(jm(to_j(x)), tm(x), rtol=1e-4, atol=1e-5)
