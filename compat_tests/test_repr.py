"""repr/str of tensors compared with torch's exact output."""
import pytest
import torch

import jtorch
from oracle import to_j

CASES = {
    "float": lambda: torch.tensor([1.0, 2.0]),
    "float-frac": lambda: torch.tensor([[1.123456789, 2.5], [300.25, -4.0]]),
    "sci-small": lambda: torch.tensor([1.5e-5, 2.0]),
    "sci-large": lambda: torch.tensor([1e10, 1.0]),
    "int-valued-float": lambda: torch.tensor([100.0, -3.0, 0.0]),
    "0-dim float": lambda: torch.tensor(3.0),
    "0-dim int": lambda: torch.tensor(-7),
    "0-dim bool": lambda: torch.tensor(True),
    "empty int64": lambda: torch.tensor([], dtype=torch.int64),
    "empty float": lambda: torch.zeros(0),
    "empty 2d": lambda: torch.zeros(2, 0),
    "int64": lambda: torch.tensor([[1, -20], [300, 4]]),
    "int32": lambda: torch.tensor([1, 2], dtype=torch.int32),
    "uint8": lambda: torch.tensor([1, 255], dtype=torch.uint8),
    "bool": lambda: torch.tensor([[True, False], [False, True]]),
    "float16": lambda: torch.tensor([1.0, 2.5], dtype=torch.float16),
    "bfloat16": lambda: torch.tensor([1.0, 2.5], dtype=torch.bfloat16),
    "float64": lambda: torch.tensor([[1.123456789, 2.5], [300.25, -4.0]], dtype=torch.float64),
    "complex": lambda: torch.tensor([1 + 2j, 3 - 1j]),
    "complex128": lambda: torch.tensor([1.5 + 2j], dtype=torch.complex128),
    "nan-inf": lambda: torch.tensor([float("nan"), float("inf"), -1.5]),
    "large-summarised": lambda: torch.arange(2000.0),
    "large-2d": lambda: torch.arange(4000).reshape(2000, 2),
    "large-float-2d": lambda: torch.arange(40).reshape(20, 2) * 1.5,
    "3d": lambda: torch.arange(24).reshape(2, 3, 4),
    "negative-zero": lambda: torch.tensor([-0.0, 1.0]),
    "requires_grad": lambda: torch.tensor([1.0, 2.0], requires_grad=True),
    "grad_fn": lambda: torch.tensor([1.0, 2.0], requires_grad=True) * 2,
    "grad_fn-sum": lambda: (torch.tensor([1.0, 2.0], requires_grad=True) * 2).sum(),
    "grad_fn-float16": lambda: torch.tensor([1.0, 2.0], dtype=torch.float16, requires_grad=True) + 1,
}


@pytest.mark.parametrize("name", list(CASES))
def test_repr_matches_torch(name):
    t = CASES[name]()
    if t.grad_fn is not None:
        dt = jtorch.float16 if "float16" in name else jtorch.float32
        jl = jtorch.tensor([1.0, 2.0], dtype=dt, requires_grad=True)
        j = {"grad_fn": lambda: jl * 2, "grad_fn-sum": lambda: (jl * 2).sum(),
             "grad_fn-float16": lambda: jl + 1}[name]()
    else:
        j = to_j(t)
    assert repr(j) == repr(t)
    assert str(j) == str(t)


def test_printoptions():
    try:
        torch.set_printoptions(precision=2)
        jtorch.set_printoptions(precision=2)
        t = torch.tensor([1.23456, 2.5])
        assert repr(to_j(t)) == repr(t)
    finally:
        torch.set_printoptions(profile="default")
        jtorch.set_printoptions(profile="default")
