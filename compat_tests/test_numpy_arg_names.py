"""torch's argument parser accepts numpy's parameter spellings (axis= for dim=, keepdims= for
keepdim=, x=/a=/x1= for input=, x2= for other=); third-party code relies on it, e.g.
`torch.cumprod(alphas, axis=0)` in diffusion-model schedules, `x.sum(axis=1, keepdims=True)`."""
import pytest
import torch

import jtorch
from oracle import assert_same, to_j

CASES = {
    "sum": lambda T, x: T.sum(x, axis=0),
    "sum_keepdims": lambda T, x: T.sum(x, axis=1, keepdims=True),
    "mean_method": lambda T, x: x.mean(axis=(0, 1)),
    "cumprod": lambda T, x: T.cumprod(x, axis=0),
    "cumsum_method": lambda T, x: x.cumsum(axis=1),
    "cat": lambda T, x: T.cat([x, x], axis=0),
    "stack": lambda T, x: T.stack([x, x], axis=1),
    "argmax": lambda T, x: T.argmax(x, axis=1),
    "max": lambda T, x: T.max(x, axis=1).values,
    "min_method_keepdims": lambda T, x: x.min(axis=1, keepdims=True).values,
    "amax": lambda T, x: x.amax(axis=1),
    "std": lambda T, x: T.std(x, axis=0),
    "var_keepdims": lambda T, x: x.var(axis=0, keepdims=True),
    "softmax": lambda T, x: T.softmax(x, axis=1),
    "unsqueeze": lambda T, x: x.unsqueeze(axis=0),
    "any_keepdims": lambda T, x: (x > 3).any(axis=1, keepdims=True),
    "sort": lambda T, x: T.sort(x, axis=1).values,
    "gather": lambda T, x: x.gather(axis=1, index=T.tensor([[0], [1]])),
    "sum_input_x": lambda T, x: T.sum(x=x, axis=0),
    "add_x1_x2": lambda T, x: T.add(x1=x, x2=x),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_numpy_parameter_names(name):
    xt = torch.tensor([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]])
    assert_same(CASES[name](jtorch, to_j(xt)), CASES[name](torch, xt))


def test_unknown_keyword_still_raises():
    with pytest.raises(TypeError, match="unexpected keyword argument 'axes'"):
        jtorch.sum(jtorch.ones(2), axes=0)
    with pytest.raises(TypeError):
        jtorch.ones(2).max(axes=0)
