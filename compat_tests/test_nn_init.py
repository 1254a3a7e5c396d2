"""nn.init against torch: fan computation, gains, and the distribution each initialiser draws from
(moments and bounds over many elements); in-place writes keep the Parameter object."""
import math

import numpy as np
import pytest
import torch

import jtorch
import jtorch.nn as jnn
from oracle import to_j, same_error


@pytest.mark.parametrize("shape", [(3, 5), (4, 2, 3), (6, 3, 2, 2), (2, 3, 1, 2, 2)])
def test_fan_in_fan_out(shape):
    t = torch.empty(shape)
    j = jtorch.empty(shape)
    assert jnn.init._calculate_fan_in_and_fan_out(j) == torch.nn.init._calculate_fan_in_and_fan_out(t)
    for mode in ("fan_in", "fan_out"):
        assert jnn.init._calculate_correct_fan(j, mode) == torch.nn.init._calculate_correct_fan(t, mode)


def test_fan_errors():
    et, ej = same_error(lambda: torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(3)),
                        lambda: jnn.init._calculate_fan_in_and_fan_out(jtorch.empty(3)))
    assert str(et) == str(ej)
    same_error(lambda: torch.nn.init.kaiming_uniform_(torch.empty(3, 3), mode="fan_x"),
               lambda: jnn.init.kaiming_uniform_(jtorch.empty(3, 3), mode="fan_x"))


def test_calculate_gain():
    for nl in ("linear", "conv2d", "sigmoid", "tanh", "relu", "selu", "conv_transpose3d"):
        assert jnn.init.calculate_gain(nl) == torch.nn.init.calculate_gain(nl)
    for p in (None, 0.2, 3):
        assert jnn.init.calculate_gain("leaky_relu", p) == torch.nn.init.calculate_gain("leaky_relu", p)
    same_error(lambda: torch.nn.init.calculate_gain("nope"), lambda: jnn.init.calculate_gain("nope"))
    same_error(lambda: torch.nn.init.calculate_gain("leaky_relu", True),
               lambda: jnn.init.calculate_gain("leaky_relu", True))


SHAPE = (200, 100)


def _stats(fn_t, fn_j, bounded=None):
    t = torch.empty(SHAPE)
    j = jnn.Parameter(jtorch.empty(SHAPE))
    ident = j
    fn_t(t)
    out = fn_j(j)
    assert out is ident and j is ident
    a, b = j.detach().numpy().ravel(), t.numpy().ravel()
    n = a.size
    assert abs(a.mean() - b.mean()) < 5 * b.std() / math.sqrt(n) + 1e-6, (a.mean(), b.mean())
    assert abs(a.std() / b.std() - 1) < 0.03, (a.std(), b.std())
    if bounded is not None:
        assert a.min() >= -bounded - 1e-6 and a.max() <= bounded + 1e-6 and a.max() > 0.99 * bounded
    return a, b


def test_uniform_normal_constant():
    _stats(lambda t: torch.nn.init.uniform_(t, -0.3, 0.5), lambda j: jnn.init.uniform_(j, -0.3, 0.5))
    _stats(lambda t: torch.nn.init.normal_(t, 0.5, 2.0), lambda j: jnn.init.normal_(j, 0.5, 2.0))
    j = jnn.init.constant_(jtorch.empty(2, 3), 0.25)
    assert float(j.sum()) == 1.5
    assert float(jnn.init.ones_(jtorch.empty(2)).sum()) == 2.0
    assert float(jnn.init.zeros_(jtorch.ones(2)).sum()) == 0.0
    np.testing.assert_array_equal(jnn.init.eye_(jtorch.empty(3, 4)).numpy(), torch.nn.init.eye_(torch.empty(3, 4)))
    for groups in (1, 2):
        np.testing.assert_array_equal(jnn.init.dirac_(jtorch.empty(4, 2, 3, 3), groups).numpy(),
                                      torch.nn.init.dirac_(torch.empty(4, 2, 3, 3), groups).numpy())


def test_trunc_normal():
    a, b = _stats(lambda t: torch.nn.init.trunc_normal_(t, 0.1, 0.5, -0.4, 0.9),
                  lambda j: jnn.init.trunc_normal_(j, 0.1, 0.5, -0.4, 0.9))
    assert a.min() >= -0.4 and a.max() <= 0.9


def test_xavier_kaiming():
    bound = math.sqrt(6 / sum(SHAPE)) * 2.0
    _stats(lambda t: torch.nn.init.xavier_uniform_(t, gain=2.0), lambda j: jnn.init.xavier_uniform_(j, gain=2.0),
           bounded=bound)
    _stats(lambda t: torch.nn.init.xavier_normal_(t), lambda j: jnn.init.xavier_normal_(j))
    _stats(lambda t: torch.nn.init.kaiming_uniform_(t, a=math.sqrt(5)),
           lambda j: jnn.init.kaiming_uniform_(j, a=math.sqrt(5)), bounded=1 / math.sqrt(SHAPE[1]))
    _stats(lambda t: torch.nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"),
           lambda j: jnn.init.kaiming_normal_(j, mode="fan_out", nonlinearity="relu"))


def test_orthogonal_and_sparse():
    for shape in ((6, 4), (4, 6), (3, 2, 2)):
        j = jnn.init.orthogonal_(jtorch.empty(shape), gain=1.5)
        m = j.numpy().reshape(shape[0], -1)
        if m.shape[0] <= m.shape[1]:
            np.testing.assert_allclose(m @ m.T, 2.25 * np.eye(m.shape[0]), atol=1e-5)
        else:
            np.testing.assert_allclose(m.T @ m, 2.25 * np.eye(m.shape[1]), atol=1e-5)
    s = jnn.init.sparse_(jtorch.empty(10, 20), 0.3).numpy()
    assert ((s == 0).sum(0) == 3).all()


def test_init_runs_without_grad_and_keeps_requires_grad():
    p = jnn.Parameter(jtorch.ones(3, 3))
    jnn.init.kaiming_uniform_(p)
    assert p.requires_grad and p.is_leaf and p.grad_fn is None


def test_generator_argument_is_reproducible():
    g1 = jtorch.Generator().manual_seed(3)
    g2 = jtorch.Generator().manual_seed(3)
    a = jnn.init.normal_(jtorch.empty(5), generator=g1)
    b = jnn.init.normal_(jtorch.empty(5), generator=g2)
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_deprecated_aliases_warn():
    with pytest.warns(FutureWarning):
        jnn.init.uniform(jtorch.empty(2))
