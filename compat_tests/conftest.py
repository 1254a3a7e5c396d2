import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=1")

import random  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _fixed_seeds():
    """Every test starts from the same random state, whatever ran before it on its worker: data a
    test draws without a generator is then the same in every run and every test order."""
    random.seed(0)
    np.random.seed(0)
    try:
        import torch
        torch.manual_seed(0)
    except ImportError:
        pass
    import jtorch
    jtorch.manual_seed(0)
    yield
