"""scaled_dot_product_attention, MultiheadAttention, Transformer layers and a small GPT vs torch."""
import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as TF

import jtorch
import jtorch.nn as jnn
import jtorch.nn.functional as JF
from oracle import to_j, assert_same, same_error
from nn_compare import compare_module, compare_fn, copy_state

G = torch.Generator().manual_seed(0)
Q = torch.randn(2, 3, 5, 4, generator=G)
K = torch.randn(2, 3, 6, 4, generator=G)
V = torch.randn(2, 3, 6, 8, generator=G)


@pytest.mark.parametrize("case", ["plain", "causal", "causal_rect", "bool_mask", "float_mask", "scale", "gqa",
                                  "masked_row"])
def test_sdpa(case):
    q, k, v, kw = Q, K, V, {}
    if case == "causal":
        k, v, kw = Q, Q, dict(is_causal=True)
    elif case == "causal_rect":
        kw = dict(is_causal=True)
    elif case == "bool_mask":
        kw = dict(attn_mask=torch.rand(5, 6, generator=G) > 0.3)
    elif case == "float_mask":
        kw = dict(attn_mask=torch.randn(2, 1, 5, 6, generator=G))
    elif case == "scale":
        kw = dict(scale=0.3)
    elif case == "gqa":
        k, v, kw = K[:, :1], V[:, :1], dict(enable_gqa=True)
    elif case == "masked_row":
        m = torch.ones(5, 6, dtype=torch.bool)
        m[2] = False
        kw = dict(attn_mask=m)
    mask = kw.pop("attn_mask", None)
    if mask is None:
        compare_fn(lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, **kw),
                   lambda q, k, v: JF.scaled_dot_product_attention(q, k, v, **kw), [q, k, v])
    else:
        compare_fn(lambda q, k, v, m: TF.scaled_dot_product_attention(q, k, v, m, **kw),
                   lambda q, k, v, m: JF.scaled_dot_product_attention(q, k, v, m, **kw), [q, k, v, mask])


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_half_precision(dtype, causal):
    # XLA:CPU has no f16 x f16 -> f32 dot: float16 must take the math path and still match torch
    g = torch.Generator().manual_seed(1)
    q, k, v, go = (torch.randn(2, 3, 8, 16, generator=g).to(getattr(torch, dtype)) for _ in range(4))
    tq, tk, tv = (t.clone().requires_grad_() for t in (q, k, v))
    jq, jk, jv = (to_j(t, requires_grad=True) for t in (q, k, v))
    to = TF.scaled_dot_product_attention(tq, tk, tv, is_causal=causal)
    jo = JF.scaled_dot_product_attention(jq, jk, jv, is_causal=causal)
    to.backward(go)
    jo.backward(to_j(go))
    tol = dict(rtol=2e-2, atol=2e-2) if dtype == "bfloat16" else dict(rtol=5e-3, atol=5e-3)
    for j, t in ((jo, to), (jq.grad, tq.grad), (jk.grad, tk.grad), (jv.grad, tv.grad)):
        assert_same(j, t, **tol)


def test_sdpa_cudnn_request_falls_back_without_cudnn():
    # the cuDNN kernel is asked for only for CUDA operands; where cuDNN is absent the XLA path answers
    from jtorch._ops.registry import OPS
    q = to_j(Q.to(torch.bfloat16))
    a = OPS["scaled_dot_product_attention"](q, q, q, None, 0.0, True, None, False, None, _cudnn=True)
    b = JF.scaled_dot_product_attention(q, q, q, is_causal=True)
    assert_same(a, TF.scaled_dot_product_attention(Q.to(torch.bfloat16), Q.to(torch.bfloat16),
                                                   Q.to(torch.bfloat16), is_causal=True), rtol=2e-2, atol=2e-2)
    assert np.array_equal(np.asarray(a._value.astype("float32")), np.asarray(b._value.astype("float32")))


def test_sdpa_dropout_and_errors():
    jq = to_j(Q)
    out = JF.scaled_dot_product_attention(jq, jq, jq, dropout_p=0.5)
    ref = JF.scaled_dot_product_attention(jq, jq, jq)
    assert tuple(out.shape) == tuple(ref.shape)
    assert not np.allclose(np.asarray(out._value), np.asarray(ref._value))
    same_error(lambda: TF.scaled_dot_product_attention(Q, K, V, torch.ones(5, 6, dtype=torch.bool), is_causal=True),
               lambda: JF.scaled_dot_product_attention(to_j(Q), to_j(K), to_j(V), jtorch.ones(5, 6, dtype=jtorch.bool),
                                                       is_causal=True))
    same_error(lambda: TF.scaled_dot_product_attention(Q, K, V.double()),
               lambda: JF.scaled_dot_product_attention(to_j(Q), to_j(K), to_j(V.double())))


MHA_CASES = [dict(), dict(batch_first=True), dict(kdim=3, vdim=5), dict(add_bias_kv=True, add_zero_attn=True),
             dict(bias=False)]


@pytest.mark.parametrize("kw", MHA_CASES)
def test_multihead_attention(kw):
    torch.manual_seed(1)
    t, j = tnn.MultiheadAttention(8, 2, **kw), jnn.MultiheadAttention(8, 2, **kw)
    assert repr(j) == repr(t)
    L, S, N = 4, 5, 3
    bf = kw.get("batch_first", False)
    shp = (lambda a, b: (b, a)) if bf else (lambda a, b: (a, b))
    q = torch.randn(*shp(L, N), 8)
    k = torch.randn(*shp(S, N), kw.get("kdim", 8))
    v = torch.randn(*shp(S, N), kw.get("vdim", 8))
    compare_module(t, j, [q, k, v])                                             # need_weights=True, averaged
    kpm = torch.rand(N, S) > 0.7
    kpm[:, 0] = False
    am = torch.randn(L, S)
    compare_module(t, j, [q, k, v], kwargs=dict(key_padding_mask=kpm, attn_mask=am, need_weights=False))
    compare_module(t, j, [q, k, v], kwargs=dict(key_padding_mask=kpm, average_attn_weights=False))


def test_multihead_attention_self_masks_unbatched():
    torch.manual_seed(2)
    t, j = tnn.MultiheadAttention(8, 4), jnn.MultiheadAttention(8, 4)
    copy_state(t, j)
    x = torch.randn(5, 2, 8)
    causal = tnn.Transformer.generate_square_subsequent_mask(5)
    assert_same(jnn.Transformer.generate_square_subsequent_mask(5), causal)
    for need in (True, False):
        to = t(x, x, x, attn_mask=causal, need_weights=need, is_causal=True)
        jx = to_j(x)
        jo = j(jx, jx, jx, attn_mask=to_j(causal), need_weights=need, is_causal=True)
        assert_same(jo[0], to[0], rtol=1e-4, atol=1e-5)
        if need:
            assert_same(jo[1], to[1], rtol=1e-4, atol=1e-5)
    bm = torch.triu(torch.ones(5, 5, dtype=torch.bool), 1)   # bool: True = not allowed
    compare_module(t, j, [x, x, x], kwargs=dict(attn_mask=bm))
    compare_module(t, j, [x[:, 0], x[:, 0], x[:, 0]])          # unbatched
    same_error(lambda: t(x, x, x, is_causal=True), lambda: j(to_j(x), to_j(x), to_j(x), is_causal=True))


@pytest.mark.parametrize("kw", [dict(), dict(norm_first=True, activation="gelu", batch_first=True)])
def test_transformer_encoder_layer(kw):
    torch.manual_seed(3)
    t = tnn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, **kw)
    j = jnn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, **kw)
    x = torch.randn(3, 4, 8)
    mask = tnn.Transformer.generate_square_subsequent_mask(4 if kw.get("batch_first") else 3)
    compare_module(t, j, [x], kwargs=dict(src_mask=mask))
    kpm = torch.zeros(4 if not kw.get("batch_first") else 3, 3 if not kw.get("batch_first") else 4, dtype=torch.bool)
    kpm[0, -1] = True
    compare_module(t, j, [x], kwargs=dict(src_key_padding_mask=kpm))


@pytest.mark.parametrize("case", ["fast", "grad", "train", "not_left_aligned", "no_fastpath", "float_mask"])
def test_transformer_encoder_nested_fast_path_zeros_padding(case):
    """torch's TransformerEncoder runs inference (eval, no grad needed) with a left-aligned padding
    mask on nested tensors: padded output positions come back as exact zeros (before `norm`)."""
    torch.manual_seed(7)
    t = tnn.TransformerEncoder(tnn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True), 2,
                               norm=tnn.LayerNorm(8))
    j = jnn.TransformerEncoder(jnn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True), 2,
                               norm=jnn.LayerNorm(8))
    copy_state(t, j)
    x = torch.randn(3, 5, 8)
    kpm = torch.zeros(3, 5, dtype=torch.bool)
    kpm[1, 3:] = True
    kpm[2, 1:] = True
    if case == "not_left_aligned":
        kpm[0, 1] = True
    if case == "float_mask":
        kpm = torch.zeros(3, 5).masked_fill(kpm, float("-inf"))
    t.train(case == "train")
    j.train(case == "train")
    xt, xj = x.clone(), to_j(x)
    if case == "grad":
        xt.requires_grad_(True)
        xj.requires_grad_(True)
    if case == "no_fastpath":
        torch.backends.mha.set_fastpath_enabled(False)
        jtorch.backends.mha.set_fastpath_enabled(False)
    try:
        with torch.set_grad_enabled(case == "grad"), jtorch.set_grad_enabled(case == "grad"):
            rt = t(xt, src_key_padding_mask=kpm)
            rj = j(xj, src_key_padding_mask=to_j(kpm))
    finally:
        torch.backends.mha.set_fastpath_enabled(True)
        jtorch.backends.mha.set_fastpath_enabled(True)
    assert_same(rj, rt, rtol=1e-4, atol=1e-5)


def test_transformer_encoder_nested_tensor_warning():
    """torch warns at construction when enable_nested_tensor cannot take effect."""
    with pytest.warns(UserWarning, match="batch_first was not True") as wt:
        tnn.TransformerEncoder(tnn.TransformerEncoderLayer(8, 2, 16), 1)
    with pytest.warns(UserWarning, match="batch_first was not True") as wj:
        jnn.TransformerEncoder(jnn.TransformerEncoderLayer(8, 2, 16), 1)
    assert str(wj[0].message) == str(wt[0].message)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        jnn.TransformerEncoder(jnn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 1)
        jnn.TransformerEncoder(jnn.TransformerEncoderLayer(8, 1, 16, batch_first=True), 1, enable_nested_tensor=False)
    assert jnn.TransformerEncoderLayer(8, 2, activation="gelu").activation_relu_or_gelu == 2


def test_transformer_full_and_decoder():
    torch.manual_seed(4)
    t = tnn.Transformer(8, 2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=16, dropout=0.0)
    j = jnn.Transformer(8, 2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=16, dropout=0.0)
    src, tgt = torch.randn(5, 2, 8), torch.randn(4, 2, 8)
    compare_module(t, j, [src, tgt], kwargs=dict(tgt_mask=tnn.Transformer.generate_square_subsequent_mask(4)))
    same_error(lambda: t(src, torch.randn(4, 3, 8)), lambda: j(to_j(src), jtorch.randn(4, 3, 8)))
    t = tnn.TransformerDecoder(tnn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, norm_first=True), 2)
    j = jnn.TransformerDecoder(jnn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, norm_first=True), 2)
    compare_module(t, j, [tgt, src])


def make_gpt(nn, torch_mod):
    class Block(nn.Module):
        def __init__(self, d, h):
            super().__init__()
            self.ln1 = nn.LayerNorm(d)
            self.attn = nn.MultiheadAttention(d, h, batch_first=True)
            self.ln2 = nn.LayerNorm(d)
            self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

        def forward(self, x, mask):
            h = self.ln1(x)
            x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False, is_causal=True)[0]
            return x + self.mlp(self.ln2(x))

    class GPT(nn.Module):
        def __init__(self, vocab=13, d=16, h=2, n=2, T=8):
            super().__init__()
            self.tok = nn.Embedding(vocab, d)
            self.pos = nn.Embedding(T, d)
            self.blocks = nn.ModuleList([Block(d, h) for _ in range(n)])
            self.ln = nn.LayerNorm(d)
            self.head = nn.Linear(d, vocab, bias=False)

        def forward(self, idx):
            T = idx.shape[1]
            mask = torch_mod.nn.Transformer.generate_square_subsequent_mask(T)
            x = self.tok(idx) + self.pos(torch_mod.arange(T))
            for b in self.blocks:
                x = b(x, mask)
            return self.head(self.ln(x))
    return GPT()


def test_small_gpt():
    torch.manual_seed(5)
    t, j = make_gpt(tnn, torch), make_gpt(jnn, jtorch)
    idx = torch.randint(0, 13, (2, 8))
    compare_module(t, j, [idx], rtol=2e-4, atol=2e-5)


def test_small_gpt_with_encoder_layers():
    """A GPT built from TransformerEncoder + causal mask (the common nanoGPT-alike)."""
    torch.manual_seed(6)

    def build(nn):
        layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True, norm_first=True)
        return nn.ModuleDict({"emb": nn.Embedding(13, 16), "enc": nn.TransformerEncoder(layer, 2,
                                                                                          enable_nested_tensor=False),
                              "head": nn.Linear(16, 13)})
    t, j = build(tnn), build(jnn)
    copy_state(t, j)
    idx = torch.randint(0, 13, (2, 6))
    mask = tnn.Transformer.generate_square_subsequent_mask(6)
    to = t["head"](t["enc"](t["emb"](idx), mask=mask, is_causal=True))
    jo = j["head"](j["enc"](j["emb"](to_j(idx)), mask=to_j(mask), is_causal=True))
    assert_same(jo, to, rtol=2e-4, atol=2e-5)
    to.sum().backward()
    jo.sum().backward()
    for n, p in t.named_parameters():
        assert_same(dict(j.named_parameters())[n].grad, p.grad, rtol=2e-4, atol=2e-5, msg=n)
