"""Creation functions vs torch: values, dtypes, shapes, errors; random ones by shape/dtype/range/statistics
and reproducibility with manual_seed / Generator (streams differ from torch's by design)."""
import numpy as np
import pytest
import torch

import jtorch
from oracle import assert_same, same_error, jdtype


DET = [
    ("zeros", (2, 3), {}), ("zeros", ((2, 3),), {"dtype": "int32"}), ("ones", (4,), {"dtype": "bool"}),
    ("ones", ([2, 0],), {}), ("full", ((2, 2), 1.5), {}), ("full", ((2,), 3), {}), ("full", ((2,), True), {}),
    ("full", ((2,), 7), {"dtype": "float16"}), ("arange", (5,), {}), ("arange", (1, 2.5, 0.5), {}),
    ("arange", (0, 10, 3), {"dtype": "float64"}), ("arange", (5.0,), {}), ("arange", (10, 0, -3), {}),
    ("linspace", (0, 1, 5), {}), ("linspace", (-2, 2, 1), {}), ("linspace", (0, 10, 4), {"dtype": "int64"}),
    ("logspace", (0, 2, 3), {}), ("logspace", (0, 3, 4), {"base": 2.0}), ("eye", (3,), {}), ("eye", (2, 4), {}),
    ("eye", (3,), {"dtype": "int64"}), ("tril_indices", (3, 4), {}), ("tril_indices", (4, 3, -1), {}),
    ("triu_indices", (3, 3, 1), {}), ("empty", (2, 3), {"shape_only": True}),
]


@pytest.mark.parametrize("name,args,kw", DET, ids=[f"{n}{a}" for n, a, _ in DET])
def test_deterministic(name, args, kw):
    kw = dict(kw)
    shape_only = kw.pop("shape_only", False)
    tk = {k: getattr(torch, v) if k == "dtype" else v for k, v in kw.items()}
    jk = {k: getattr(jtorch, v) if k == "dtype" else v for k, v in kw.items()}
    t, j = getattr(torch, name)(*args, **tk), getattr(jtorch, name)(*args, **jk)
    if shape_only:
        assert tuple(j.shape) == tuple(t.shape) and j.dtype is jdtype(t.dtype)
    else:
        assert_same(j, t)


def test_like_and_new():
    t = torch.tensor([[1, 2], [3, 4]], dtype=torch.int32)
    j = jtorch.tensor([[1, 2], [3, 4]], dtype=jtorch.int32)
    for n in ("zeros_like", "ones_like"):
        assert_same(getattr(jtorch, n)(j), getattr(torch, n)(t))
        assert_same(getattr(jtorch, n)(j, dtype=jtorch.float64), getattr(torch, n)(t, dtype=torch.float64))
    assert_same(jtorch.full_like(j, 7), torch.full_like(t, 7))
    assert_same(jtorch.full_like(j, 2.5, dtype=jtorch.float32), torch.full_like(t, 2.5, dtype=torch.float32))
    e = jtorch.empty_like(j)
    assert e.shape == j.shape and e.dtype is j.dtype
    assert_same(j.new_zeros(3), t.new_zeros(3))
    assert_same(j.new_ones((2, 1)), t.new_ones((2, 1)))
    assert_same(j.new_full((2,), 5), t.new_full((2,), 5))
    assert_same(j.new_tensor([1.5, 2]), t.new_tensor([1.5, 2]))
    assert_same(jtorch.Tensor([1, 2]), torch.Tensor([1, 2]))
    assert tuple(jtorch.Tensor(2, 3).shape) == (2, 3)


def test_as_tensor_from_numpy():
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    assert_same(jtorch.from_numpy(a), torch.from_numpy(a))
    assert_same(jtorch.as_tensor(a), torch.as_tensor(a))
    assert_same(jtorch.as_tensor([1, 2.5]), torch.as_tensor([1, 2.5]))
    assert_same(jtorch.as_tensor(a, dtype=jtorch.float64), torch.as_tensor(a, dtype=torch.float64))
    j = jtorch.tensor([1.0, 2.0])
    assert jtorch.as_tensor(j) is j
    assert_same(jtorch.tensor(np.float32(2.5)), torch.tensor(np.float32(2.5)))


def test_creation_errors():
    same_error(lambda: torch.zeros(-1), lambda: jtorch.zeros(-1))
    same_error(lambda: torch.arange(0, 10, 0), lambda: jtorch.arange(0, 10, 0))
    same_error(lambda: torch.arange(0, 10, -1), lambda: jtorch.arange(0, 10, -1))
    same_error(lambda: torch.linspace(0, 1, -1), lambda: jtorch.linspace(0, 1, -1))
    same_error(lambda: torch.randint(5, 2, (3,)), lambda: jtorch.randint(5, 2, (3,)))
    same_error(lambda: torch.tensor([1, "a"]), lambda: jtorch.tensor([1, "a"]))


def test_random_shapes_dtypes_ranges():
    jtorch.manual_seed(0)
    for name, args, kw, tdt in [("rand", (2, 3), {}, torch.float32), ("randn", (4,), {"dtype": jtorch.float64}, torch.float64),
                                ("randint", (0, 5, (3, 3)), {}, torch.int64), ("randint", (5, (2,)), {"dtype": jtorch.int32}, torch.int32),
                                ("randperm", (6,), {}, torch.int64), ("rand", ((2, 2),), {}, torch.float32)]:
        j = getattr(jtorch, name)(*args, **kw)
        tk = {k: getattr(torch, v.name) for k, v in kw.items()}
        t = getattr(torch, name)(*args, **tk)
        assert j.shape == t.shape and j.dtype is jdtype(t.dtype) and t.dtype == tdt, name
    r = jtorch.randint(3, 7, (1000,))
    assert int(r.min()) >= 3 and int(r.max()) <= 6 and len(set(r.tolist())) == 4
    assert sorted(jtorch.randperm(10).tolist()) == list(range(10))
    u = jtorch.rand(20000)
    assert 0 <= float(u.min()) and float(u.max()) < 1 and abs(float(u.mean()) - 0.5) < 0.02
    n = jtorch.randn(20000)
    assert abs(float(n.mean())) < 0.03 and abs(float(n.std()) - 1) < 0.03
    nm = jtorch.normal(2.0, 3.0, (20000,))
    assert abs(float(nm.mean()) - 2) < 0.1 and abs(float(nm.std()) - 3) < 0.1
    b = jtorch.bernoulli(jtorch.full((20000,), 0.3))
    assert abs(float(b.mean()) - 0.3) < 0.02 and b.dtype is jtorch.float32
    m = jtorch.multinomial(jtorch.tensor([0.0, 1.0, 3.0]), 4000, replacement=True)
    cnt = jtorch.bincount(m, minlength=3).tolist()
    assert cnt[0] == 0 and abs(cnt[2] / 4000 - 0.75) < 0.03
    p = jtorch.poisson(jtorch.full((20000,), 4.0))
    assert abs(float(p.mean()) - 4) < 0.1
    for f in (jtorch.rand_like, jtorch.randn_like):
        x = f(jtorch.zeros(2, 3, dtype=jtorch.float64))
        assert x.shape == (2, 3) and x.dtype is jtorch.float64


def test_seeding_and_generators():
    jtorch.manual_seed(123)
    a = jtorch.randn(5)
    jtorch.manual_seed(123)
    assert jtorch.equal(a, jtorch.randn(5))
    assert jtorch.initial_seed() == 123
    st = jtorch.get_rng_state()
    x = jtorch.rand(3)
    jtorch.set_rng_state(st)
    assert jtorch.equal(x, jtorch.rand(3))
    g1, g2 = jtorch.Generator().manual_seed(7), jtorch.Generator().manual_seed(7)
    assert g1.initial_seed() == 7
    for fn in (lambda g: jtorch.rand(4, generator=g), lambda g: jtorch.randn(4, generator=g),
               lambda g: jtorch.randint(0, 100, (4,), generator=g), lambda g: jtorch.randperm(8, generator=g),
               lambda g: jtorch.normal(0.0, 1.0, (3,), generator=g),
               lambda g: jtorch.multinomial(jtorch.ones(5), 2, generator=g)):
        assert jtorch.equal(fn(g1), fn(g2))
    jtorch.manual_seed(5)
    y1 = jtorch.rand(3, generator=jtorch.Generator().manual_seed(1))
    assert not jtorch.equal(jtorch.rand(3), y1)


@pytest.mark.parametrize("n", [5, 100_000])  # large aligned buffers are the ones jax may alias
def test_tensor_copies_its_data(n):
    """torch.tensor copies numpy / torch memory; a later in-place write to the source must not show
    through (jnp.asarray would alias an aligned host buffer). from_numpy / as_tensor are snapshots
    too in jtorch (jax arrays cannot share memory both ways), so deterministically unaffected."""
    a = np.arange(n, dtype=np.float32)
    src = torch.arange(n, dtype=torch.float32)
    made = [jtorch.tensor(a), jtorch.tensor(src.numpy()), jtorch.from_numpy(a), jtorch.as_tensor(a),
            jtorch.Tensor(a)]
    a[0] = 5
    src.add_(1)
    assert [t[0].item() for t in made] == [0.0] * len(made)
