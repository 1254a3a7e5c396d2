"""Default initialisation draws from torch's distributions: for each parameter and buffer of the main layers,
values pooled over enough instances (>= 8192 samples) have torch's quantiles, mean, std and bounds.
RNG streams differ between the libraries, so this compares distributions, never values."""
import numpy as np
import pytest
import torch

import jtorch

MIN_SAMPLES = 8192
MAX_SAMPLES = 65536   # init draws are iid: a prefix is a fair sample, and keeps the sorting cheap


def ks_statistic(a, b):
    """Two-sample Kolmogorov-Smirnov distance: the largest gap between the empirical CDFs."""
    grid = np.concatenate([a, b])
    fa = np.searchsorted(np.sort(a), grid, side="right") / a.size
    fb = np.searchsorted(np.sort(b), grid, side="right") / b.size
    return np.abs(fa - fb).max()


def ks_critical(n, m, alpha=1e-6):
    """The KS distance two samples of one distribution exceed with probability alpha (asymptotic)."""
    return np.sqrt(-np.log(alpha / 2) * (n + m) / (2 * n * m))

LAYERS = {
    "Linear": lambda nn: nn.Linear(32, 1024),
    "Conv2d": lambda nn: nn.Conv2d(4, 1024, 3),
    "Embedding": lambda nn: nn.Embedding(1000, 16),
    "LSTM": lambda nn: nn.LSTM(16, 512),
    "MultiheadAttention": lambda nn: nn.MultiheadAttention(64, 4),
    "BatchNorm2d": lambda nn: nn.BatchNorm2d(32),
    "LayerNorm": lambda nn: nn.LayerNorm(64),
}


def _pooled(nn, build, to_numpy):
    """name -> all values of that tensor over as many fresh instances as the smallest tensor needs."""
    first = build(nn)
    random = [t.numel() for t in first.state_dict().values() if t.dtype.is_floating_point and float(t.std()) > 0]
    n_inst = max(1, -(-MIN_SAMPLES // min(random))) if random else 1
    pools = {}
    for i in range(n_inst):
        m = first if i == 0 else build(nn)
        for k, v in m.state_dict().items():
            pools.setdefault(k, []).append(to_numpy(v).ravel())
    return {k: np.concatenate(v)[:MAX_SAMPLES] for k, v in pools.items()}


@pytest.mark.parametrize("layer", list(LAYERS))
def test_default_init_distribution(layer):
    torch.manual_seed(0)
    jtorch.manual_seed(0)
    tp = _pooled(torch.nn, LAYERS[layer], lambda t: t.detach().numpy())
    jp = _pooled(jtorch.nn, LAYERS[layer], lambda t: t.detach().numpy())
    assert list(jp) == list(tp)
    for name, t in tp.items():
        j = jp[name][: t.size]
        assert j.dtype == t.dtype, name
        if t.std() == 0:     # constants (ones, zeros, counters) are exact
            np.testing.assert_array_equal(j, t, err_msg=name)
            continue
        assert j.size >= MIN_SAMPLES, name
        std = t.std()
        d = ks_statistic(j, t)
        assert d < ks_critical(j.size, t.size), (name, d)
        # Thresholds ~4 standard errors of the difference between two samples of n >= 8192.
        assert abs(j.mean() - t.mean()) < 6 * std / np.sqrt(t.size), (name, j.mean(), t.mean())
        assert abs(j.std() / std - 1) < 0.05, (name, j.std(), std)
        # Uniform initialisers: jtorch's support is torch's (never beyond its bound, reaching close to it).
        bound = np.abs(t).max()
        if np.abs(np.quantile(t, [0.01, 0.99])).min() > 0.9 * bound:
            assert np.abs(j).max() <= bound * (1 + 1e-3) + 1e-7 and np.abs(j).max() > 0.99 * bound, name
