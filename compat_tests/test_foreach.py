"""torch._foreach_* vs torch: in-place forms update every tensor (and return them), out-of-place
forms return new lists; list arguments are zipped, scalars and single tensors shared."""
import pytest
import torch

import jtorch
from oracle import assert_same, to_j

SHAPES = [(3,), (2, 4), ()]


def _lists(seed):
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(s, generator=g) + 0.5 for s in SHAPES]


CASES = {
    "lerp_scalar": ("_foreach_lerp_", lambda a, b: (b, 0.1)),
    "lerp_list": ("_foreach_lerp_", lambda a, b: (b, b)),
    "mul_scalar": ("_foreach_mul_", lambda a, b: (0.99,)),
    "mul_tensor": ("_foreach_mul_", lambda a, b: (b[0].sum(),)),
    "add_alpha": ("_foreach_add_", lambda a, b: (b,), {"alpha": -0.5}),
    "addcmul_value": ("_foreach_addcmul_", lambda a, b: (b, b), {"value": 0.3}),
    "addcdiv_scalarlist": ("_foreach_addcdiv_", lambda a, b: (b, b, [1.0, 2.0, 3.0])),
    "sub": ("_foreach_sub", lambda a, b: (b,)),
    "div_list": ("_foreach_div", lambda a, b: ([2.0, 4.0, 8.0],)),
    "maximum": ("_foreach_maximum", lambda a, b: (b,)),
    "sqrt": ("_foreach_sqrt", lambda a, b: ()),
    "neg_": ("_foreach_neg_", lambda a, b: ()),
    "norm": ("_foreach_norm", lambda a, b: ()),
    "norm_inf": ("_foreach_norm", lambda a, b: (float("inf"),)),
    "copy_": ("_foreach_copy_", lambda a, b: (b,)),
    "zero_": ("_foreach_zero_", lambda a, b: ()),
    "pow_scalar": ("_foreach_pow", lambda a, b: (2,)),
    "clamp_min_": ("_foreach_clamp_min_", lambda a, b: (0.8,)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_foreach_matches_torch(case):
    name, make, *kw = CASES[case]
    kw = kw[0] if kw else {}
    ta, tb = _lists(0), _lists(1)
    ja, jb = [to_j(t) for t in ta], [to_j(t) for t in tb]
    tr = getattr(torch, name)(ta, *make(ta, tb), **kw)
    jr = getattr(jtorch, name)(ja, *[to_j(x) if isinstance(x, torch.Tensor) else
                                     [to_j(y) for y in x] if isinstance(x, list) and isinstance(x[0], torch.Tensor)
                                     else x for x in make(ja, jb)], **kw)
    assert len(jr) == len(tr)
    for j, t in zip(jr, tr):
        assert_same(j, t)
    if name.endswith("_"):
        assert all(r is a for r, a in zip(jr, ja)) == all(r is a for r, a in zip(tr, ta))
    for j, t in zip(ja, ta):   # in-place forms wrote through; out-of-place left self alone
        assert_same(j, t)


def test_foreach_ema_update_and_errors():
    ema, model = jtorch.nn.Linear(3, 2), jtorch.nn.Linear(3, 2)
    ema.requires_grad_(False)
    before = [p.clone() for p in ema.parameters()]
    with jtorch.no_grad():
        jtorch._foreach_lerp_(list(ema.parameters()), list(model.parameters()), 0.25)
    for e, b, m in zip(ema.parameters(), before, model.parameters()):
        assert jtorch.allclose(e, b + 0.25 * (m - b))
    with pytest.raises(AttributeError):
        jtorch._foreach_not_an_op_
    with pytest.raises(AttributeError):
        jtorch._foreach_norm_      # torch has no in-place norm
    with pytest.raises(RuntimeError, match="same number of tensors"):
        jtorch._foreach_add([jtorch.ones(1)], [jtorch.ones(1), jtorch.ones(1)])
