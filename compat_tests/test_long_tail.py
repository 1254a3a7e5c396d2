"""The long tail of torch's namespace (issue 10): constants, legacy types, memory formats, torch.X_
functions, ATen spellings (dropout/batch_norm/lstm_cell ...), windows, predicates, jit/hub/library
shims, and the coverage of dir(torch) / dir(torch.Tensor) by implemented or listed-unsupported names."""
import math
import os
import warnings

import numpy as np
import pytest
import torch

import jtorch
from oracle import to_j, assert_same, same_error

torch.manual_seed(0)


def _pair(*shape, dtype=torch.float32, low=-2.0, high=2.0):
    t = (torch.rand(*shape, dtype=torch.float64) * (high - low) + low).to(dtype)
    return t, to_j(t)


# ------------------------------------------------------------------ constants, dtypes, layouts
@pytest.mark.parametrize("name", ["pi", "e", "inf", "nan", "newaxis", "TYPE_CHECKING", "has_lapack", "has_spectral"])
def test_constants(name):
    a, b = getattr(jtorch, name), getattr(torch, name)
    assert (a == b) or (isinstance(a, float) and math.isnan(a) and math.isnan(b))


@pytest.mark.parametrize("name", ["float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu"])
def test_float8_variants(name):
    t = torch.tensor([0.5, 1.0, 2.0, 4.0]).to(getattr(torch, name))
    j = jtorch.tensor([0.5, 1.0, 2.0, 4.0]).to(getattr(jtorch, name))
    assert repr(getattr(jtorch, name)) == repr(getattr(torch, name))
    assert getattr(jtorch, name).is_signed == getattr(torch, name).is_signed
    np.testing.assert_array_equal(j.float().numpy(), t.float().numpy())
    same_error(lambda: torch.promote_types(getattr(torch, name), torch.float32),
               lambda: jtorch.promote_types(getattr(jtorch, name), jtorch.float32))


def test_layout_and_memory_format_objects():
    for n in ["strided", "sparse_coo", "sparse_csr", "jagged", "channels_last", "channels_last_3d",
              "contiguous_format", "preserve_format", "legacy_contiguous_format"]:
        assert repr(getattr(jtorch, n)) == repr(getattr(torch, n))
    assert isinstance(jtorch.strided, jtorch.layout) and isinstance(jtorch.channels_last, jtorch.memory_format)
    assert jtorch.zeros(2).layout is jtorch.strided


@pytest.mark.parametrize("shape,fmt", [((2, 3, 4, 5), "channels_last"), ((2, 3, 4, 5, 6), "channels_last_3d"),
                                       ((2, 1, 4, 5), "channels_last"), ((2, 3, 1, 1), "channels_last"),
                                       ((2, 3, 4, 5), "contiguous_format"), ((2, 3), "preserve_format")])
@pytest.mark.parametrize("how", ["to", "contiguous"])
def test_memory_format_tag(shape, fmt, how):
    t, j = torch.rand(*shape), jtorch.rand(*shape)
    tt = getattr(t, how)(memory_format=getattr(torch, fmt))
    jj = getattr(j, how)(memory_format=getattr(jtorch, fmt))
    assert jj.stride() == tt.stride()
    for f in ["channels_last", "channels_last_3d", "contiguous_format", "preserve_format"]:
        assert jj.is_contiguous(memory_format=getattr(jtorch, f)) == tt.is_contiguous(memory_format=getattr(torch, f)), f
    assert jj.is_contiguous() == tt.is_contiguous()
    back_t, back_j = tt.contiguous(), jj.contiguous()
    assert back_j.stride() == back_t.stride() and back_j.is_contiguous() == back_t.is_contiguous()
    np.testing.assert_array_equal(jj.numpy(), j.numpy())


def test_memory_format_rank_errors():
    same_error(lambda: torch.zeros(2, 3).contiguous(memory_format=torch.channels_last),
               lambda: jtorch.zeros(2, 3).contiguous(memory_format=jtorch.channels_last))
    same_error(lambda: torch.zeros(2, 3, 4, 5).to(memory_format=torch.channels_last_3d),
               lambda: jtorch.zeros(2, 3, 4, 5).to(memory_format=jtorch.channels_last_3d))


# ------------------------------------------------------------------ legacy tensor types and storages
@pytest.mark.parametrize("name", ["FloatTensor", "DoubleTensor", "HalfTensor", "BFloat16Tensor", "LongTensor",
                                  "IntTensor", "ShortTensor", "CharTensor", "ByteTensor", "BoolTensor"])
def test_legacy_tensor_types(name):
    T, J = getattr(torch, name), getattr(jtorch, name)
    assert_same(J([1, 0, 1]), T([1, 0, 1]))
    assert tuple(J(2, 3).shape) == (2, 3) and J(2, 3).dtype is to_j(T(2, 3).dtype)
    assert J.dtype is to_j(T.dtype) and J.is_cuda == T.is_cuda
    for other in ["FloatTensor", "LongTensor", "BoolTensor"]:
        assert isinstance(J([1]), getattr(jtorch, other)) == isinstance(T([1]), getattr(torch, other))
    assert issubclass(J, jtorch.Tensor) == issubclass(T, torch.Tensor)
    assert jtorch.ones(2).type(J).dtype is to_j(torch.ones(2).type(T).dtype)
    assert J([1]).type() == T([1]).type()
    assert isinstance(J([1]), getattr(jtorch.cuda, name)) == isinstance(T([1]), getattr(torch.cuda, name))


def test_storage_classes():
    assert jtorch.Storage is jtorch.FloatStorage and torch.Storage is torch.FloatStorage
    for n in ["FloatStorage", "LongStorage", "ByteStorage", "BoolStorage", "TypedStorage", "UntypedStorage"]:
        assert isinstance(getattr(jtorch, n), type)
    t, j = torch.arange(6.), jtorch.arange(6.)
    assert j.untyped_storage().nbytes() == t.untyped_storage().nbytes()
    assert j[2:].untyped_storage().data_ptr() == j.untyped_storage().data_ptr()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert j.storage().tolist() == t.storage().tolist()
        assert j.storage_type().__name__ == t.storage_type().__name__


# ------------------------------------------------------------------ torch.X_ in-place functions
@pytest.mark.parametrize("name,args,low", [
    ("abs_", (), -2), ("exp_", (), -2), ("sqrt_", (), 0.1), ("clamp_", (-0.5, 0.5), -2), ("clamp_min_", (0.0,), -2),
    ("clip_", (-1, 1), -2), ("sigmoid_", (), -2), ("tanh_", (), -2), ("fill_", (3.0,), -2), ("zero_", (), -2),
    ("neg_", (), -2), ("round_", (), -2), ("log1p_", (), 0), ("rsqrt_", (), 0.1), ("relu_", (), -2),
    ("nan_to_num_", (), -2), ("logit_", (), 0.1), ("frac_", (), -2), ("deg2rad_", (), -2), ("xlogy_", (2.0,), 0.1)])
def test_inplace_functions(name, args, low):
    t, j = _pair(3, 4, low=low, high=0.9 if name == "logit_" else 2.0)
    rt, rj = getattr(torch, name)(t, *args), getattr(jtorch, name)(j, *args)
    assert rj is j and rt is t
    assert_same(j, t)


def test_inplace_functions_that_change_shape_or_index():
    t, j = _pair(6)
    assert_same(jtorch.as_strided_(j, (2, 2), (1, 2)), torch.as_strided_(t, (2, 2), (1, 2)))
    assert_same(j, t)
    t, j = _pair(4)
    idx = torch.tensor([1, 3])
    torch.index_put_(t, (idx,), torch.tensor(5.0), accumulate=True)
    jtorch.index_put_(j, (to_j(idx),), jtorch.tensor(5.0), accumulate=True)
    assert_same(j, t)
    a, ja = _pair(2)
    m, jm = _pair(2, 3)
    v, jv = _pair(3)
    assert_same(jtorch.addmv_(ja, jm, jv, beta=0.5), torch.addmv_(a, m, v, beta=0.5), atol=1e-6)


@pytest.mark.parametrize("name,args", [("celu_", (1.5,)), ("selu_", ()), ("threshold_", (0.1, 20.0))])
def test_activation_inplace(name, args):
    t, j = _pair(5)
    getattr(torch, name)(t, *args)
    getattr(jtorch, name)(j, *args)
    assert_same(j, t)


def test_detach_functions():
    t, j = _pair(3)
    t.requires_grad_(), j.requires_grad_()
    assert not jtorch.detach(j * 2).requires_grad and not torch.detach(t * 2).requires_grad
    y = j * 2
    jtorch.detach_(y)
    assert y.grad_fn is None and not y.requires_grad


# ------------------------------------------------------------------ ATen spellings of nn ops
def test_dropout_spellings_eval_and_stats():
    t, j = _pair(4, 6, 5)
    for name in ["dropout", "alpha_dropout", "feature_dropout", "feature_alpha_dropout"]:
        assert_same(getattr(jtorch, name)(j, 0.3, False), getattr(torch, name)(t, 0.3, False))
    out = jtorch.dropout(jtorch.ones(4000), 0.25, True)
    assert abs(float((out == 0).float().mean()) - 0.25) < 0.05 and float(out.max()) == pytest.approx(1 / 0.75)
    fo = jtorch.feature_dropout(jtorch.ones(50, 40, 3), 0.5, True)
    per_channel = fo.numpy().std(-1)
    assert (per_channel == 0).all()  # whole channels dropped or kept
    o, m = jtorch.native_dropout(jtorch.ones(1000), 0.5, True)
    to, tm = torch.native_dropout(torch.ones(1000), 0.5, True)
    assert m.dtype is to_j(tm.dtype) and o.dtype is to_j(to.dtype)
    np.testing.assert_array_equal(o.numpy(), m.float().numpy() * 2)


def test_norm_spellings():
    t, j = _pair(3, 4, 5)
    w, jw = _pair(4)
    b, jb = _pair(4)
    rm, rv = torch.zeros(4), torch.ones(4)
    jrm, jrv = to_j(rm), to_j(rv)
    assert_same(jtorch.batch_norm(j, jw, jb, jrm, jrv, True, 0.1, 1e-5, False),
                torch.batch_norm(t, w, b, rm, rv, True, 0.1, 1e-5, False))
    assert_same(jrm, rm), assert_same(jrv, rv)
    assert_same(jtorch.instance_norm(j, jw, jb, None, None, True, 0.1, 1e-5, False),
                torch.instance_norm(t, w, b, None, None, True, 0.1, 1e-5, False))
    assert_same(jtorch.layer_norm(j, [5]), torch.layer_norm(t, [5]))
    assert_same(jtorch.group_norm(j, 2, jw, jb), torch.group_norm(t, 2, w, b))
    w5, jw5 = _pair(5)
    assert_same(jtorch.native_layer_norm(j, [5], jw5, None, 1e-5), torch.native_layer_norm(t, [5], w5, None, 1e-5),
                atol=1e-5)
    assert_same(jtorch.native_batch_norm(j, jw, jb, jrm, jrv, True, 0.1, 1e-5),
                torch.native_batch_norm(t, w, b, rm, rv, True, 0.1, 1e-5), atol=1e-5)
    assert_same(jtorch.native_batch_norm(j, jw, jb, jrm, jrv, False, 0.1, 1e-5),
                torch.native_batch_norm(t, w, b, rm, rv, False, 0.1, 1e-5), atol=1e-5)
    assert_same(jtorch.native_group_norm(j.reshape(3, 4, 5), jw, jb, 3, 4, 5, 2, 1e-5),
                torch.native_group_norm(t, w, b, 3, 4, 5, 2, 1e-5), atol=1e-5)
    assert_same(jtorch.frobenius_norm(j, (1, 2)), torch.frobenius_norm(t, (1, 2)))
    assert_same(jtorch.nuclear_norm(j[0]), torch.nuclear_norm(t[0]), atol=1e-5)
    assert_same(jtorch.norm_except_dim(j, 2, 1), torch.norm_except_dim(t, 2, 1))


def test_sync_batch_norm_kernels():
    """SyncBatchNorm's kernels are CUDA-only in torch: check them against torch's batch norm on CPU."""
    t, j = _pair(6, 3, 4)
    dims = (0, 2)
    mean, var = t.mean(dims), t.var(dims, unbiased=False)
    js = jtorch.batch_norm_stats(j, 1e-5)
    assert_same(js, (mean, (var + 1e-5).rsqrt()), atol=1e-5)
    w, jw = _pair(3)
    assert_same(jtorch.batch_norm_elemt(j, jw, None, js[0], js[1], 1e-5),
                torch.batch_norm(t, w, None, mean, var, False, 0.1, 1e-5, False), atol=1e-5)
    # two "processes" holding 4 and 2 samples: gathered stats equal the whole batch's
    parts = [jtorch.batch_norm_stats(j[:4], 1e-5), jtorch.batch_norm_stats(j[4:], 1e-5)]
    jrm, jrv = jtorch.zeros(3), jtorch.ones(3)
    g = jtorch.batch_norm_gather_stats_with_counts(j, jtorch.stack([p[0] for p in parts]),
                                                   jtorch.stack([p[1] for p in parts]), jrm, jrv, 0.1, 1e-5,
                                                   jtorch.tensor([16.0, 8.0]))
    assert_same(g, (mean, (var + 1e-5).rsqrt()), atol=1e-5)
    rm, rv = torch.zeros(3), torch.ones(3)
    torch.batch_norm_update_stats(t, rm, rv, 0.1)
    assert_same(jrm, rm, atol=1e-5), assert_same(jrv, rv, atol=1e-5)
    rm, rv = torch.zeros(3), torch.ones(3)
    jrm, jrv = to_j(rm), to_j(rv)
    assert_same(jtorch.batch_norm_update_stats(j, jrm, jrv, 0.1), torch.batch_norm_update_stats(t, rm, rv, 0.1),
                atol=1e-5)
    assert_same(jrv, rv, atol=1e-5)
    # backward: reduce + elemt give batch norm's input gradient (and weight/bias gradients)
    gout, jgout = _pair(6, 3, 4)
    tt, ww, bb = t.clone().requires_grad_(), w.clone().requires_grad_(), torch.zeros(3, requires_grad=True)
    torch.batch_norm(tt, ww, bb, None, None, True, 0.1, 1e-5, False).backward(gout)
    jr = jtorch.batch_norm_backward_reduce(jgout, j, js[0], js[1], jw, True, True, True)
    assert_same(jr[2], ww.grad, atol=1e-4), assert_same(jr[3], bb.grad, atol=1e-4)
    gi = jtorch.batch_norm_backward_elemt(jgout, j, js[0], js[1], jw, jr[0], jr[1], jtorch.tensor([24], dtype=jtorch.int32))
    assert_same(gi, tt.grad, atol=1e-4)


@pytest.mark.parametrize("cell,gates", [("lstm_cell", 4), ("gru_cell", 3), ("rnn_tanh_cell", 1), ("rnn_relu_cell", 1)])
def test_rnn_cells(cell, gates):
    x, jx = _pair(2, 3)
    h, jh = _pair(2, 4)
    wi, jwi = _pair(gates * 4, 3)
    wh, jwh = _pair(gates * 4, 4)
    bi, jbi = _pair(gates * 4)
    hx, jhx = ((h, h * 0.5), (jh, jh * 0.5)) if cell == "lstm_cell" else (h, jh)
    assert_same(getattr(jtorch, cell)(jx, jhx, jwi, jwh, jbi, None), getattr(torch, cell)(x, hx, wi, wh, bi, None),
                atol=1e-5)


@pytest.mark.parametrize("fn,nstate", [("lstm", 2), ("gru", 1), ("rnn_tanh", 1)])
@pytest.mark.parametrize("bidirectional,batch_first", [(False, False), (True, True)])
def test_rnn_layers(fn, nstate, bidirectional, batch_first):
    mod = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn_tanh": torch.nn.RNN}[fn](
        3, 4, num_layers=2, bidirectional=bidirectional, batch_first=batch_first)
    params = list(mod._flat_weights)
    x = torch.randn(2, 5, 3)
    ndir = 2 if bidirectional else 1
    hx = [torch.randn(2 * ndir, 2 if batch_first else 5, 4) for _ in range(nstate)]
    targs = (hx if nstate == 2 else hx[0], params, True, 2, 0.0, False, bidirectional, batch_first)
    jargs = ([to_j(h) for h in hx] if nstate == 2 else to_j(hx[0]), [to_j(p.detach()) for p in params], True, 2,
             0.0, False, bidirectional, batch_first)
    with torch.no_grad():
        ref = getattr(torch, fn)(x, *targs)
    assert_same(getattr(jtorch, fn)(to_j(x), *jargs), ref, atol=1e-5)


# ------------------------------------------------------------------ windows
@pytest.mark.parametrize("name,kw", [("hann_window", {}), ("hamming_window", {}), ("hamming_window", {"alpha": 0.5}),
                                     ("blackman_window", {}), ("bartlett_window", {}), ("kaiser_window", {}),
                                     ("kaiser_window", {"beta": 5.0})])
@pytest.mark.parametrize("n", [0, 1, 7, 10])
@pytest.mark.parametrize("periodic", [True, False])
def test_windows(name, kw, n, periodic):
    assert_same(getattr(jtorch, name)(n, periodic, **kw), getattr(torch, name)(n, periodic, **kw), atol=1e-6)


def test_window_dtype_and_errors():
    assert_same(jtorch.hann_window(6, dtype=jtorch.float64), torch.hann_window(6, dtype=torch.float64))
    same_error(lambda: torch.hann_window(4, dtype=torch.int64), lambda: jtorch.hann_window(4, dtype=jtorch.int64))


# ------------------------------------------------------------------ predicates and queries
def test_predicates():
    t, j = _pair(2, 3)
    for name, args in [("is_conj", ()), ("is_neg", ()), ("is_signed", ()), ("is_inference", ()),
                       ("get_device", ()), ("is_distributed", ()), ("cudnn_is_acceptable", ())]:
        assert getattr(jtorch, name)(j, *args) == getattr(torch, name)(t, *args), name
    assert jtorch.is_same_size(j, j[:1]) == torch.is_same_size(t, t[:1])
    assert jtorch.is_same_size(j, j + 1) == torch.is_same_size(t, t + 1)
    assert jtorch.is_signed(jtorch.zeros(1, dtype=jtorch.uint8)) == torch.is_signed(torch.zeros(1, dtype=torch.uint8))
    for name in ["is_conj", "is_neg", "is_inference", "is_xla", "is_mps", "is_xpu", "is_sparse_csr"]:
        v = getattr(j, name)
        assert (v() if callable(v) else v) == (getattr(t, name)() if callable(getattr(t, name)) else getattr(t, name))
    assert j.is_nonzero() == t.is_nonzero() if t.numel() == 1 else True
    assert jtorch.ones(1).is_nonzero() and not jtorch.zeros(1).is_nonzero()
    same_error(lambda: t.is_nonzero(), lambda: j.is_nonzero())
    assert j.dense_dim() == t.dense_dim() and j.sparse_dim() == t.sparse_dim()
    assert j.output_nr == t.output_nr and j.name == t.name


def test_misc_module_functions():
    assert jtorch.get_deterministic_debug_mode() == torch.get_deterministic_debug_mode()
    jtorch.set_deterministic_debug_mode("warn")
    assert jtorch.get_deterministic_debug_mode() == 1 and jtorch.are_deterministic_algorithms_enabled()
    jtorch.set_deterministic_debug_mode(0)
    assert jtorch.get_deterministic_debug_mode() == 0
    assert jtorch.is_warn_always_enabled() == torch.is_warn_always_enabled()
    jtorch.set_warn_always(True)
    assert jtorch.is_warn_always_enabled()
    jtorch.set_warn_always(False)
    assert isinstance(jtorch.set_flush_denormal(False), bool)
    assert jtorch.get_device_module("cpu") is jtorch.cpu
    jtorch.set_anomaly_enabled(True)
    assert jtorch.is_anomaly_enabled()
    jtorch.set_anomaly_enabled(False)
    assert jtorch.sym_max(2, 5) == torch.sym_max(2, 5) and jtorch.sym_int(3.7) == torch.sym_int(3.7)
    assert jtorch.sym_float(2) == torch.sym_float(2) and jtorch.sym_not(True) == torch.sym_not(True)
    assert jtorch.sym_ite(True, 1, 2) == torch.sym_ite(True, 1, 2) and jtorch.sym_sum([1, 2]) == torch.sym_sum([1, 2])
    assert jtorch.math is math and jtorch.os is os and jtorch.torch is jtorch
    assert jtorch.windows is jtorch.signal.windows
    assert issubclass(jtorch.OutOfMemoryError, RuntimeError)


def test_autocast_switches():
    with pytest.warns(DeprecationWarning, match="get_autocast_dtype"):
        jtorch.get_autocast_cpu_dtype()
    assert jtorch.get_autocast_cpu_dtype() is to_j(torch.get_autocast_cpu_dtype())
    assert jtorch.get_autocast_gpu_dtype() is to_j(torch.get_autocast_gpu_dtype())
    assert jtorch.get_autocast_dtype("cpu") is to_j(torch.get_autocast_dtype("cpu"))
    assert jtorch.is_autocast_cpu_enabled() == torch.is_autocast_cpu_enabled()
    jtorch.set_autocast_enabled("cpu", True)
    try:
        assert jtorch.is_autocast_cpu_enabled()
        out = jtorch.mm(jtorch.ones(2, 2), jtorch.ones(2, 2))
        assert out.dtype is jtorch.bfloat16  # autocast really is on
    finally:
        jtorch.set_autocast_enabled("cpu", False)
    assert not jtorch.is_autocast_cpu_enabled()
    assert jtorch.mm(jtorch.ones(2, 2), jtorch.ones(2, 2)).dtype is jtorch.float32
    n = jtorch.autocast_increment_nesting()
    assert jtorch.autocast_decrement_nesting() == n - 1


def test_removed_linalg_names_raise_like_torch():
    for name in ["matrix_rank", "eig", "symeig"]:
        same_error(lambda: getattr(torch, name)(torch.eye(2)), lambda: getattr(jtorch, name)(jtorch.eye(2)))
    for name in ["lstsq", "solve"]:
        same_error(lambda: getattr(torch, name)(torch.eye(2), torch.eye(2)),
                   lambda: getattr(jtorch, name)(jtorch.eye(2), jtorch.eye(2)))
    for name in ["lstsq", "solve", "eig", "symeig"]:
        same_error(lambda: getattr(torch.eye(2), name)(torch.eye(2)),
                   lambda: getattr(jtorch.eye(2), name)(jtorch.eye(2)))


# ------------------------------------------------------------------ buffers, files, sampling
def test_frombuffer_and_from_file(tmp_path):
    buf = bytearray(np.arange(10, dtype=np.float32).tobytes())
    assert_same(jtorch.frombuffer(buf, dtype=jtorch.float32), torch.frombuffer(buf, dtype=torch.float32))
    assert_same(jtorch.frombuffer(buf, dtype=jtorch.int16, count=3, offset=4),
                torch.frombuffer(buf, dtype=torch.int16, count=3, offset=4))
    same_error(lambda: torch.frombuffer(buf, dtype=torch.float64, offset=4),
               lambda: jtorch.frombuffer(buf, dtype=jtorch.float64, offset=4))
    p = str(tmp_path / "f.bin")
    np.arange(6, dtype=np.float64).tofile(p)
    assert_same(jtorch.from_file(p, size=6, dtype=jtorch.float64), torch.from_file(p, size=6, dtype=torch.float64))
    with pytest.raises(NotImplementedError):
        jtorch.from_file(p, shared=True, size=6, dtype=jtorch.float64)


def test_binomial_statistics():
    count = jtorch.full((4000,), 10.0)
    prob = jtorch.full((4000,), 0.3)
    s = jtorch.binomial(count, prob)
    assert s.dtype is jtorch.float32 and s.shape == (4000,)
    assert abs(float(s.mean()) - 3.0) < 0.15 and float(s.max()) <= 10 and float(s.min()) >= 0
    assert torch.binomial(torch.full((2,), 10.0), torch.full((2,), 0.3)).dtype == torch.float32


def test_tensor_long_tail_methods():
    t, j = _pair(3, 4)
    assert_same(j.new(2, 3).zero_(), t.new(2, 3).zero_())
    assert_same(j.new([1, 2]), t.new([1, 2]))
    assert_same(jtorch.zeros(2, dtype=jtorch.int32).new([1, 2]), torch.zeros(2, dtype=torch.int32).new([1, 2]))
    assert tuple(j.new().shape) == tuple(t.new().shape)
    jc, tc = j.abs() + 0.5, t.abs() + 0.5   # away from the poles at 0, -1, ...: float32 there is noise
    assert_same(jc.polygamma(1), tc.polygamma(1), rtol=1e-5)
    assert_same((-jc).polygamma(1), (-tc).polygamma(1), rtol=1e-3)
    assert_same(jc.clone().polygamma_(2), tc.clone().polygamma_(2), rtol=1e-4)
    assert_same(jc.clone().igamma_(jc), tc.clone().igamma_(tc), rtol=1e-5)
    assert_same(jc.clone().igammac_(jc), tc.clone().igammac_(tc), rtol=1e-5)
    assert_same(j.narrow_copy(1, 1, 2), t.narrow_copy(1, 1, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_same(j.resize(4, 3), t.resize(4, 3))
        assert_same(j.resize_as(j.reshape(2, 6)), t.resize_as(t.reshape(2, 6)))
    assert_same(j.unsafe_split_with_sizes([1, 2]), t.unsafe_split_with_sizes([1, 2]))
    assert_same(jtorch.unsafe_split_with_sizes(j, [1, 2]), torch.unsafe_split_with_sizes(t, [1, 2]))

    class Sub(jtorch.Tensor):
        pass
    s = j.as_subclass(Sub)
    assert type(s) is Sub and np.array_equal(s.numpy(), j.numpy())
    m = j.clone().map_(j, lambda a, b: a * b + 1)
    tm = t.clone().map_(t, lambda a, b: a * b + 1)
    assert_same(m, tm)
    m2 = j.clone().map2_(j, j, lambda a, b, c: a + b * c)
    assert_same(m2, t.clone().map2_(t, t, lambda a, b, c: a + b * c))
    x = jtorch.zeros(2)
    x.set_(j)
    assert_same(x, t)
    assert j.is_set_to(j) and not j.is_set_to(j.clone())
    assert j.to_dense() is j and j.const_data_ptr() == j.data_ptr()
    assert j.grad_dtype is jtorch.float32
    assert list(reversed(j))[0].tolist() == list(reversed(t))[0].tolist()
    tau = torch.rand(3)
    assert_same(j.mT.orgqr(to_j(tau)), t.mT.orgqr(tau), atol=1e-5)
    assert_same(jtorch.orgqr(j.mT, to_j(tau)), torch.orgqr(t.mT, tau), atol=1e-5)
    same_error(lambda: t.orgqr(tau), lambda: j.orgqr(to_j(tau)))


def test_aten_spellings():
    t, j = _pair(2, 3, 8, 8)
    w, jw = _pair(4, 3, 3, 3)
    assert_same(jtorch.convolution(j, jw, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1),
                torch.convolution(t, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1), atol=1e-5)
    wt, jwt = _pair(3, 2, 3, 3)
    assert_same(jtorch.convolution(j, jwt, None, [2, 2], [1, 1], [1, 1], True, [1, 1], 1),
                torch.convolution(t, wt, None, [2, 2], [1, 1], [1, 1], True, [1, 1], 1), atol=1e-5)
    x, jx = _pair(7, 2, 3)
    k, jk = _pair(3, 3, 5)
    b, jb = _pair(5)
    assert_same(jtorch.conv_tbc(jx, jk, jb, 1), torch.conv_tbc(x, k, b, 1), atol=1e-5)
    th, jth = _pair(2, 2, 3)
    assert_same(jtorch.affine_grid_generator(jth, [2, 1, 4, 5], False),
                torch.affine_grid_generator(th, [2, 1, 4, 5], False), atol=1e-6)
    p, jp = _pair(2, 3, 9)
    assert_same(jtorch.max_pool1d_with_indices(jp, 3, 2), torch.max_pool1d_with_indices(p, 3, 2))
    c, jc = _pair(1, 6, 2, 2)
    assert_same(jtorch.native_channel_shuffle(jc, 3), torch.native_channel_shuffle(c, 3))
    assert_same(jtorch.select_copy(j, 1, 2), torch.select_copy(t, 1, 2))
    assert_same(jtorch.slice_copy(j, 2, 1, 7, 2), torch.slice_copy(t, 2, 1, 7, 2))
    assert_same(jtorch.rrelu(jx), torch.rrelu(x))
    wgt, jwgt = _pair(10, 4)
    idx = torch.tensor([1, 2, 4, 5, 4, 3, 2, 9])
    offs = torch.tensor([0, 4])
    for mode in (0, 1, 2):
        tr = torch.embedding_bag(wgt, idx, offs, False, mode)
        jr = jtorch.embedding_bag(jwgt, to_j(idx), to_j(offs), False, mode)
        assert_same(jr, tr, atol=1e-6)
    rw, jrw = _pair(10, 4, low=-3, high=3)
    torch.embedding_renorm_(rw, idx, 1.0, 2.0)
    jtorch.embedding_renorm_(jrw, to_j(idx), 1.0, 2.0)
    assert_same(jrw, rw, atol=1e-5)
    data = torch.arange(12.).reshape(6, 2)
    for red in ["sum", "mean", "max", "min", "prod"]:
        lengths = torch.tensor([2, 0, 4])
        assert_same(jtorch.segment_reduce(to_j(data), red, lengths=to_j(lengths)),
                    torch.segment_reduce(data, red, lengths=lengths))
        assert_same(jtorch.segment_reduce(to_j(data), red, lengths=to_j(lengths), initial=1.0),
                    torch.segment_reduce(data, red, lengths=lengths, initial=1.0))
    sym = torch.randn(8, 8, dtype=torch.float64)
    sym = sym @ sym.T + torch.eye(8, dtype=torch.float64)
    E, _ = torch.lobpcg(sym, k=2)
    jE, jV = jtorch.lobpcg(to_j(sym), k=2)
    assert_same(jE, E, atol=1e-5)
    same_error(lambda: torch.lobpcg(sym, k=3), lambda: jtorch.lobpcg(to_j(sym), k=3))


def test_fake_quantize():
    t, j = _pair(3, 4, low=-3, high=3)
    t.requires_grad_(), j.requires_grad_()
    rt = torch.fake_quantize_per_tensor_affine(t, 0.1, 3, -20, 20)
    rj = jtorch.fake_quantize_per_tensor_affine(j, 0.1, 3, -20, 20)
    assert_same(rj, rt, atol=1e-6)
    rt.sum().backward(), rj.sum().backward()
    assert_same(j.grad, t.grad)
    sc, zp = torch.tensor([0.1, 0.2, 0.05]), torch.tensor([0, 1, -2], dtype=torch.int32)
    assert_same(jtorch.fake_quantize_per_channel_affine(j.detach().T, to_j(sc), to_j(zp), 1, -10, 10),
                torch.fake_quantize_per_channel_affine(t.detach().T, sc, zp, 1, -10, 10), atol=1e-6)


def test_sobol_matches_torch_unscrambled():
    te, je = torch.quasirandom.SobolEngine(3), jtorch.quasirandom.SobolEngine(3)
    assert_same(je.draw(5), te.draw(5))
    assert_same(je.draw(3, dtype=jtorch.float64), te.draw(3, dtype=torch.float64))
    assert je.num_generated == te.num_generated


# ------------------------------------------------------------------ control flow
def test_cond_and_while_loop_eager_and_compiled():
    x = jtorch.tensor([1.0, 2.0])
    tx = torch.tensor([1.0, 2.0])
    f_t, f_f = (lambda a: a * 2), (lambda a: a - 1)
    assert_same(jtorch.cond(x.sum() > 2, f_t, f_f, (x,)), torch.cond(tx.sum() > 2, f_t, f_f, (tx,)))
    assert_same(jtorch.cond(False, f_t, f_f, (x,)), torch.cond(False, f_t, f_f, (tx,)))

    @jtorch.compile
    def g(a):
        return jtorch.cond(a.sum() > 2, f_t, f_f, (a,))
    assert_same(g(x), tx * 2)
    assert_same(g(x * 0), tx * 0 - 1)
    out = jtorch.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, a * 2), (jtorch.tensor(0), x))
    assert int(out[0]) == 3 and out[1].tolist() == [8.0, 16.0]

    @jtorch.compile
    def h(a):
        return jtorch.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, v * 2), (jtorch.tensor(0), a))[1]
    assert h(x).tolist() == [8.0, 16.0]


# ------------------------------------------------------------------ jit, hub, library, accelerator, futures
def test_jit_passthroughs():
    @jtorch.jit.script
    def f(x):
        return x + 1

    class M(jtorch.nn.Module):
        @jtorch.jit.ignore
        def helper(self):
            return 1

        @jtorch.jit.unused
        def other(self):
            return 2

        def forward(self, x):
            return x * self.helper()
    m = jtorch.jit.script(M())
    assert isinstance(m, M) and jtorch.jit.trace(m, (jtorch.ones(1),)) is m
    assert f(jtorch.ones(1)).tolist() == [2.0]
    assert not jtorch.jit.is_scripting() and not jtorch.jit.is_tracing()
    assert jtorch.jit.annotate(list, [1]) == [1]
    fut = jtorch.jit.fork(lambda a: a * 3, jtorch.ones(2))
    assert jtorch.jit.wait(fut).tolist() == [3.0, 3.0] and jtorch.wait(jtorch.fork(lambda: 5)) == 5
    assert isinstance(fut, jtorch.futures.Future) and jtorch.Future is jtorch.futures.Future
    chained = fut.then(lambda fu: fu.wait().sum())
    assert float(chained.wait()) == 6.0



def test_jit_save_load_round_trip(tmp_path):
    # the traced/scripted module is saved as itself (no TorchScript inside): jtorch.jit.load returns a
    # module computing what the original computes, `scripted.save` works, extra files come back as bytes
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    jm = jtorch.nn.Sequential(jtorch.nn.Linear(3, 4), jtorch.nn.ReLU(), jtorch.nn.Linear(4, 2))
    jm.load_state_dict({k: to_j(v) for k, v in tm.state_dict().items()})
    x = torch.randn(5, 3)
    ts, js = torch.jit.trace(tm, x), jtorch.jit.trace(jm, to_j(x))
    ts.save(str(tmp_path / "t.pt"))
    js.save(str(tmp_path / "j.pt"))
    t_extra, j_extra = {"meta.txt": ""}, {"meta.txt": ""}
    torch.jit.save(torch.jit.script(tm), str(tmp_path / "t2.pt"), _extra_files={"meta.txt": "v1"})
    jtorch.jit.save(jtorch.jit.script(jm), str(tmp_path / "j2.pt"), _extra_files={"meta.txt": "v1"})
    for tpath, jpath, te, je in (("t.pt", "j.pt", None, None), ("t2.pt", "j2.pt", t_extra, j_extra)):
        tl = torch.jit.load(str(tmp_path / tpath), _extra_files=te)
        jl = jtorch.jit.load(str(tmp_path / jpath), _extra_files=je)
        assert_same(jl(to_j(x)), tl(x).detach(), atol=1e-6)
    assert j_extra == t_extra
    with pytest.raises(RuntimeError, match="jtorch.jit.save"):
        jtorch.save({"a": 1}, str(tmp_path / "plain.pt"))
        jtorch.jit.load(str(tmp_path / "plain.pt"))


def test_hub_local_and_cache(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "hubconf.py").write_text("def tiny(scale=1):\n    'a tiny model'\n    return scale * 2\n")
    assert jtorch.hub.load(str(repo), "tiny", source="local", scale=3) == 6
    assert "tiny" in jtorch.hub.list(str(repo), source="local")
    assert jtorch.hub.help(str(repo), "tiny", source="local") == "a tiny model"
    with pytest.raises(NotImplementedError):
        jtorch.hub.load("owner/repo", "tiny")
    jtorch.hub.set_dir(str(tmp_path / "hub"))
    try:
        assert jtorch.hub.get_dir() == str(tmp_path / "hub")
        src = tmp_path / "w.pt"
        torch.save({"w": torch.arange(3.)}, str(src))
        sd = jtorch.hub.load_state_dict_from_url(src.as_uri(), file_name="w.pt")  # file:// needs no network
        assert sd["w"].tolist() == [0.0, 1.0, 2.0]
        assert os.path.exists(tmp_path / "hub" / "checkpoints" / "w.pt")
        import urllib.error
        with pytest.raises(urllib.error.URLError, match="place it at"):
            jtorch.hub.download_url_to_file((tmp_path / "missing.pt").as_uri(), str(tmp_path / "x.pt"))
    finally:
        jtorch.hub._hub_dir[0] = None


def test_library_custom_op_and_ops_namespace():
    @jtorch.library.custom_op("mylib::scale2", mutates_args=())
    def scale2(x: jtorch.Tensor) -> jtorch.Tensor:
        return x * 2

    @scale2.register_fake
    def _(x):
        return jtorch.empty_like(x)
    x = jtorch.ones(3, requires_grad=True)
    y = jtorch.ops.mylib.scale2(x)
    y.sum().backward()
    assert y.tolist() == [2.0] * 3 and x.grad.tolist() == [2.0] * 3

    @jtorch.library.custom_op("mylib::sq", mutates_args=())
    def sq(x: jtorch.Tensor) -> jtorch.Tensor:
        return x * x

    def setup(ctx, inputs, kwargs, output):
        ctx.x = inputs[0]
    sq.register_autograd(lambda ctx, g: g * 10, setup_context=setup)  # a deliberately custom backward
    x = jtorch.ones(2, requires_grad=True)
    sq(x).sum().backward()
    assert x.grad.tolist() == [10.0, 10.0]
    assert jtorch.ops.aten.add.Tensor(jtorch.ones(1), 2).tolist() == [3.0]
    with pytest.raises(AttributeError):
        jtorch.ops.mylib.nope


def test_accelerator_and_device_modules():
    assert jtorch.accelerator.is_available() == (jtorch.cuda.is_available() or jtorch.accelerator.device_count() > 0)
    assert (jtorch.accelerator.current_accelerator() is None) == (not jtorch.accelerator.is_available())
    for m in ["mps", "xpu", "mtia"]:
        mod = getattr(jtorch, m)
        assert mod.device_count() == 0
    assert not jtorch.xpu.is_available()
    s = jtorch.Stream()
    e0, e1 = jtorch.Event(enable_timing=True), jtorch.Event(enable_timing=True)
    e0.record(), s.synchronize(), e1.record()
    assert e0.elapsed_time(e1) >= 0 and s.query()


def test_modules_that_mirror_torch():
    assert jtorch.version.__version__ >= "2.0" and jtorch.version.cuda is None
    assert jtorch.torch_version.TorchVersion("2.13.0") > (2, 1)
    assert jtorch.functional.einsum is jtorch.einsum
    assert jtorch.return_types.max is type(jtorch.max(jtorch.ones(2, 2), 0))
    assert type(jtorch.max(jtorch.ones(2, 2), 0)).__name__ == type(torch.max(torch.ones(2, 2), 0)).__name__
    with jtorch.random.fork_rng():
        a = jtorch.rand(3)
    assert not jtorch.overrides.has_torch_function((jtorch.ones(1),))
    assert jtorch.overrides.handle_torch_function(lambda a: a + 1, (), 1) == 2
    assert jtorch.multiprocessing.get_context is not None and callable(jtorch.multiprocessing.spawn)
    assert jtorch.GradScaler is jtorch.amp.GradScaler
    assert callable(jtorch.vmap) and jtorch.vmap(lambda v: v * 2)(jtorch.ones(2, 3)).shape == (2, 3)


# ------------------------------------------------------------------ unsupported names and coverage
@pytest.mark.parametrize("name", ["sparse_csc_tensor", "quantize_per_tensor_dynamic", "cudnn_convolution", "qint8",
                                  "complex32", "SymInt", "parse_ir", "DispatchKey", "fx", "nested"])
def test_unsupported_names_raise_clearly(name):
    assert not hasattr(jtorch, name)
    with pytest.raises(NotImplementedError, match=f"torch.{name} is not supported.*docs/unsupported.md"):
        getattr(jtorch, name)
    with pytest.raises(AttributeError):
        getattr(jtorch, name)
    assert getattr(jtorch, name, "default") == "default"


def test_unsupported_tensor_methods_and_plain_misses():
    x = jtorch.ones(2)
    assert not hasattr(x, "sparse_mask")
    with pytest.raises(NotImplementedError, match="Tensor.q_scale is not supported"):
        x.q_scale()
    with pytest.raises(AttributeError, match="'Tensor' object has no attribute 'definitely_not_a_method'"):
        x.definitely_not_a_method
    with pytest.raises(AttributeError, match="has no attribute 'definitely_not_torch'"):
        jtorch.definitely_not_torch
    same_error(lambda: torch.ones(2).indices(), lambda: x.indices())  # both: not available for strided tensors


def _has(obj, name):
    try:
        return hasattr(obj, name)
    except Exception:  # noqa: BLE001  (a lazily imported submodule failing to import counts as present)
        return True


@pytest.mark.parametrize("owner", ["torch", "Tensor"])
def test_dir_coverage(owner):
    """Every public name of torch (torch.Tensor) is implemented in jtorch or listed as unsupported."""
    from jtorch._unsupported_names import TORCH, TENSOR
    t_obj, j_obj, listed = (torch, jtorch, TORCH) if owner == "torch" else (torch.Tensor, jtorch.Tensor, TENSOR)
    names = [n for n in dir(t_obj) if not n.startswith("_")]
    uncovered = [n for n in names if not _has(j_obj, n) and n not in listed]
    implemented = sum(1 for n in names if n not in listed and n not in uncovered)
    print(f"\n{owner}: {len(names)} names, {implemented} implemented, {len(names) - implemented - len(uncovered)} "
          f"listed unsupported, uncovered: {uncovered}")
    assert (len(names) - len(uncovered)) / len(names) >= 0.98, uncovered
    listed_present = [n for n in listed if _has(j_obj, n)]
    assert not listed_present, f"implemented but still listed as unsupported (rerun tools/gen_unsupported.py): " \
                               f"{listed_present}"
