"""Bad input to the main layers: torch's exception type, and torch's message (which names the shapes)
wherever torch's text is deterministic."""
import pytest
import torch

import jtorch
import jtorch.nn as jnn
from oracle import same_error, to_j

# (name, build(nn), input shape(s) or callable(torch_module, lib) -> result)
_FLOAT_CASES = [
    ("linear_in_features", lambda nn: nn.Linear(4, 3), [(2, 5)]),
    ("linear_batched_in_features", lambda nn: nn.Linear(4, 3), [(2, 6, 5)]),
    ("linear_scalar", lambda nn: nn.Linear(4, 3), [()]),
    ("conv2d_channels", lambda nn: nn.Conv2d(3, 8, 3), [(2, 4, 8, 8)]),
    ("conv2d_rank", lambda nn: nn.Conv2d(3, 8, 3), [(3, 8)]),
    ("conv2d_rank5", lambda nn: nn.Conv2d(3, 8, 3), [(1, 2, 3, 8, 8)]),
    ("conv2d_too_small", lambda nn: nn.Conv2d(3, 8, 5), [(1, 3, 4, 4)]),
    ("conv2d_groups_channels", lambda nn: nn.Conv2d(4, 8, 3, groups=2), [(1, 6, 5, 5)]),
    ("batchnorm1d_channels", lambda nn: nn.BatchNorm1d(3), [(4, 5)]),
    ("batchnorm2d_channels", lambda nn: nn.BatchNorm2d(3), [(2, 4, 5, 5)]),
    ("batchnorm2d_rank", lambda nn: nn.BatchNorm2d(3), [(2, 3, 5)]),
    ("batchnorm1d_rank", lambda nn: nn.BatchNorm1d(3), [(2, 3, 5, 5)]),
    ("batchnorm3d_rank", lambda nn: nn.BatchNorm3d(3), [(2, 3, 5, 5)]),
    ("batchnorm_single_value", lambda nn: nn.BatchNorm1d(3), [(1, 3)]),
    ("layernorm_shape", lambda nn: nn.LayerNorm(6), [(2, 5)]),
    ("lstm_input_size", lambda nn: nn.LSTM(3, 4), [(5, 2, 4)]),
    ("lstm_rank", lambda nn: nn.LSTM(3, 4), [(5, 2, 3, 1)]),
    ("lstm_batch_first_input_size", lambda nn: nn.LSTM(3, 4, batch_first=True), [(2, 5, 2)]),
    ("gru_hidden_shape", lambda nn: nn.GRU(3, 4), [(5, 2, 3), (1, 3, 4)]),
    ("lstm_hidden_shape", lambda nn: nn.LSTM(3, 4, num_layers=2), [(5, 2, 3), ((1, 2, 4), (2, 2, 4))]),
    ("lstmcell_input_size", lambda nn: nn.LSTMCell(3, 4), [(2, 5)]),
    ("mha_embed_dim", lambda nn: nn.MultiheadAttention(8, 2), [(3, 2, 6), (3, 2, 6), (3, 2, 6)]),
]


def _make(shape, lib):
    if isinstance(shape[0], tuple) if shape else False:
        return tuple(_make(s, lib) for s in shape)
    return lib.ones(*shape) if shape else lib.tensor(1.0)


@pytest.mark.parametrize("name,build,shapes", _FLOAT_CASES, ids=[c[0] for c in _FLOAT_CASES])
def test_layer_bad_input(name, build, shapes):
    tm, jm = build(torch.nn), build(jnn)
    tin = [_make(s, torch) for s in shapes]
    jin = [_make(s, jtorch) for s in shapes]
    et, ej = same_error(lambda: tm(*tin), lambda: jm(*jin))
    assert str(ej) == str(et)


def test_embedding_bad_index():
    t, j = torch.nn.Embedding(5, 3), jnn.Embedding(5, 3)
    et, ej = same_error(lambda: t(torch.tensor([1, 5])), lambda: j(jtorch.tensor([1, 5])))
    assert str(ej) == str(et)
    et, ej = same_error(lambda: t(torch.tensor([1.0])), lambda: j(jtorch.tensor([1.0])))


@pytest.mark.parametrize("build", [lambda nn: nn.Conv2d(3, 4, 3), lambda nn: nn.LSTM(3, 4, num_layers=2),
                                   lambda nn: nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)),
                                   lambda nn: nn.Embedding(10, 4), lambda nn: nn.MultiheadAttention(8, 2)],
                         ids=["conv2d", "lstm", "linear_bn", "embedding", "mha"])
def test_state_dict_shape_mismatch_message(build):
    """Every wrong-shape key is listed with both shapes, in torch's words; missing/unexpected keys too."""
    tm, jm = build(torch.nn), build(jnn)
    sd_t = {k: torch.zeros(*(s + 1 for s in v.shape)) if v.is_floating_point() else v
            for k, v in tm.state_dict().items()}
    sd_j = {k: to_j(v) for k, v in sd_t.items()}
    et, ej = same_error(lambda: tm.load_state_dict(sd_t), lambda: jm.load_state_dict(sd_j))
    assert "size mismatch" in str(et)
    assert str(ej) == str(et)
    first = next(iter(sd_t))
    sd_t2 = {k: v for k, v in tm.state_dict().items() if k != first}
    sd_t2["extra.weight"] = torch.zeros(1)
    sd_j2 = {k: to_j(v) for k, v in sd_t2.items()}
    et, ej = same_error(lambda: tm.load_state_dict(sd_t2), lambda: jm.load_state_dict(sd_j2))
    assert str(ej) == str(et)
    # strict=False still refuses a wrong shape
    et, ej = same_error(lambda: tm.load_state_dict(sd_t, strict=False), lambda: jm.load_state_dict(sd_j, strict=False))
    assert str(ej) == str(et)
