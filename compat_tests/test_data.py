"""jtorch.utils.data against torch.utils.data, in one process (no worker processes here; those are in
test_data_workers.py): datasets, samplers, collation and single-process DataLoader behaviour."""
import collections
import warnings

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import jtorch
import jtorch.utils.data as jud
from oracle import assert_same, same_error, to_j

Point = collections.namedtuple("Point", "x y")


def same_struct(j, t, path="batch"):
    """A collated jtorch structure equals torch's: container types, keys, tensor dtypes and values."""
    if isinstance(t, torch.Tensor):
        assert_same(j, t, msg=path)
    elif isinstance(t, tuple) and hasattr(t, "_fields"):
        assert type(j).__name__ == type(t).__name__ and j._fields == t._fields, path
        for f in t._fields:
            same_struct(getattr(j, f), getattr(t, f), f"{path}.{f}")
    elif isinstance(t, dict):
        assert type(j) is type(t) and list(j) == list(t), f"{path}: {type(j)} {list(j)} vs {type(t)} {list(t)}"
        for k in t:
            same_struct(j[k], t[k], f"{path}[{k!r}]")
    elif isinstance(t, (list, tuple)):
        assert type(j) is type(t) and len(j) == len(t), f"{path}: {type(j).__name__} vs {type(t).__name__}"
        for i, (a, b) in enumerate(zip(j, t)):
            same_struct(a, b, f"{path}[{i}]")
    elif isinstance(t, np.ndarray):
        assert isinstance(j, np.ndarray) and j.dtype == t.dtype
        np.testing.assert_array_equal(j, t)
    else:
        assert type(j) is type(t) and j == t, f"{path}: {j!r} != {t!r}"


# --------------------------------------------------------------------------- collation
def _samples(lib):
    """The same batch of samples for torch (lib=torch) and jtorch."""
    def T(x):
        return x if lib is torch else to_j(x)
    base = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    return [
        {"x": T(base + i), "label": i, "w": 0.5 * i, "flag": bool(i % 2), "name": f"s{i}", "raw": b"r",
         "np": np.full((2,), i, np.int16), "npf": np.float32(i) / 2, "nested": {"t": (i, 1.5), "p": Point(i, 2.0)},
         "lst": [i, T(torch.tensor(i, dtype=torch.int32))]}
        for i in range(3)
    ]


def test_default_collate_nested_matches_torch():
    same_struct(jud.default_collate(_samples(jtorch)), tud.default_collate(_samples(torch)))


@pytest.mark.parametrize("batch", [
    [1, 2, 3], [1.5, 2.0], [True, False], [1, 2.5], [np.float64(1.5), np.float64(2)], [np.int32(1), np.int32(4)],
    [np.array(1.5), np.array(2.5)], [np.zeros((2, 2), np.float32), np.ones((2, 2), np.float32)],
    [(1, "a"), (2, "b")], [[1, 2], [3, 4]], ["a", "b"], [Point(1, 2.0), Point(3, 4.0)],
])
def test_default_collate_values_and_dtypes(batch):
    same_struct(jud.default_collate(batch), tud.default_collate(batch))


def test_default_collate_tensors():
    g = torch.Generator().manual_seed(0)
    for dt in (torch.float32, torch.float64, torch.int64, torch.bool, torch.bfloat16):
        ts = [torch.randn(2, 3, generator=g).to(dt) for _ in range(4)]
        same_struct(jud.default_collate([to_j(t) for t in ts]), tud.default_collate(ts))
    # 0-dim tensors and tensors that need a grad go through jtorch.stack (a tracked op)
    ts = [torch.tensor(float(i)) for i in range(3)]
    same_struct(jud.default_collate([to_j(t) for t in ts]), tud.default_collate(ts))
    jts = [jtorch.ones(2, requires_grad=True) for _ in range(2)]
    out = jud.default_collate(jts)
    out.sum().backward()
    assert out.requires_grad and jts[0].grad.tolist() == [1.0, 1.0]


def test_default_collate_errors():
    same_error(lambda: tud.default_collate([[1, 2], [3]]), lambda: jud.default_collate([[1, 2], [3]]))
    same_error(lambda: tud.default_collate([object()]), lambda: jud.default_collate([object()]))
    arr = [np.array(["a"]), np.array(["b"])]
    et, ej = same_error(lambda: tud.default_collate(arr), lambda: jud.default_collate(arr))
    assert str(ej) == str(et)
    tb = [torch.ones(2), torch.ones(3)]
    et, ej = same_error(lambda: tud.default_collate(tb), lambda: jud.default_collate([to_j(t) for t in tb]))
    assert "stack expects each tensor to be equal size" in str(ej)


def test_default_convert_matches_torch():
    data = [np.zeros(2), (np.float32(1), "a"), {"k": np.arange(3)}, Point(np.int64(2), 3), np.array(["s"]), 7, "x"]
    for d in data:
        same_struct(jud.default_convert(d), tud.default_convert(d))


def test_collate_fn_map_is_extensible():
    from jtorch.utils.data._utils.collate import collate, default_collate_fn_map

    class Box:
        def __init__(self, v):
            self.v = v
    fmap = {**default_collate_fn_map, Box: lambda batch, *, collate_fn_map: sum(b.v for b in batch)}
    out = collate([{"b": Box(1), "n": 1}, {"b": Box(2), "n": 2}], collate_fn_map=fmap)
    assert out["b"] == 3 and out["n"].tolist() == [1, 2]


# --------------------------------------------------------------------------- datasets
def _tensor_ds(lib):
    x = torch.arange(24, dtype=torch.float32).reshape(6, 4)
    y = torch.arange(6) % 3
    if lib is torch:
        return tud.TensorDataset(x, y)
    return jud.TensorDataset(to_j(x), to_j(y))


def test_tensor_dataset():
    jd, td = _tensor_ds(jtorch), _tensor_ds(torch)
    assert len(jd) == len(td) == 6
    same_struct(jd[4], td[4])
    same_struct(jd[-1], td[-1])
    same_struct(jd.__getitems__([5, 0, 2]), [td[5], td[0], td[2]])
    same_error(lambda: tud.TensorDataset(torch.ones(2), torch.ones(3)),
               lambda: jud.TensorDataset(jtorch.ones(2), jtorch.ones(3)))


def test_concat_subset_stack_chain():
    a, b = list(range(5)), list(range(10, 13))
    jc, tc = jud.ConcatDataset([a, b]), tud.ConcatDataset([a, b])
    assert len(jc) == len(tc) and [jc[i] for i in range(-8, 8)] == [tc[i] for i in range(-8, 8)]
    assert jc.cumulative_sizes == tc.cumulative_sizes
    same_error(lambda: tc[-9], lambda: jc[-9])
    same_error(lambda: tud.ConcatDataset([]), lambda: jud.ConcatDataset([]))

    class TIt(tud.IterableDataset):
        def __iter__(self):
            return iter(range(3))

        def __len__(self):
            return 3

    class JIt(jud.IterableDataset):
        def __iter__(self):
            return iter(range(3))

        def __len__(self):
            return 3
    same_error(lambda: tud.ConcatDataset([TIt()]), lambda: jud.ConcatDataset([JIt()]))
    assert list(JIt() + JIt()) == list(TIt() + TIt()) and len(JIt() + JIt()) == 6
    assert isinstance(JIt() + JIt(), jud.ChainDataset)
    plus = jud.TensorDataset(jtorch.ones(2)) + jud.TensorDataset(jtorch.zeros(3))
    assert isinstance(plus, jud.ConcatDataset) and len(plus) == 5

    js, ts = jud.Subset(jc, [7, 0, 3]), tud.Subset(tc, [7, 0, 3])
    assert len(js) == len(ts) and [js[i] for i in range(3)] == [ts[i] for i in range(3)]
    assert js.__getitems__([2, 0]) == ts.__getitems__([2, 0])

    jst, tst = jud.StackDataset(a, [x * 2 for x in a]), tud.StackDataset(a, [x * 2 for x in a])
    assert jst[3] == tst[3] and len(jst) == len(tst) and jst.__getitems__([1, 4]) == tst.__getitems__([1, 4])
    jst, tst = jud.StackDataset(p=a, q=a), tud.StackDataset(p=a, q=a)
    assert jst[2] == tst[2] and jst.__getitems__([0, 2]) == tst.__getitems__([0, 2])
    for args, kw in [((a, b), {}), ((a,), {"q": a}), ((), {})]:
        same_error(lambda: tud.StackDataset(*args, **kw), lambda: jud.StackDataset(*args, **kw))


@pytest.mark.parametrize("n,lengths", [(10, [0.3, 0.3, 0.4]), (5, [0.5, 0.5]), (11, [0.1] * 10), (7, [3, 4]),
                                       (3, [0.0, 1.0])])
def test_random_split_lengths_match_torch(n, lengths):
    with warnings.catch_warnings(record=True) as wt:
        warnings.simplefilter("always")
        ts = tud.random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings(record=True) as wj:
        warnings.simplefilter("always")
        js = jud.random_split(range(n), lengths, generator=jtorch.Generator().manual_seed(0))
    assert [len(s) for s in js] == [len(s) for s in ts]
    assert [str(w.message) for w in wj] == [str(w.message) for w in wt]
    got = sorted(i for s in js for i in s)
    assert got == list(range(n)), "the splits partition the dataset"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = jud.random_split(range(n), lengths, generator=jtorch.Generator().manual_seed(0))
    assert [list(s) for s in again] == [list(s) for s in js], "same generator seed, same split"


def test_random_split_errors():
    same_error(lambda: tud.random_split(range(5), [2, 2]), lambda: jud.random_split(range(5), [2, 2]))
    same_error(lambda: tud.random_split(range(5), [0.5, 0.6]), lambda: jud.random_split(range(5), [0.5, 0.6]))


# --------------------------------------------------------------------------- samplers
def test_sequential_and_batch_sampler():
    assert list(jud.SequentialSampler(range(7))) == list(tud.SequentialSampler(range(7)))
    for bs in (1, 3, 7, 9):
        for dl in (False, True):
            jb, tb = jud.BatchSampler(range(7), bs, dl), tud.BatchSampler(range(7), bs, dl)
            assert list(jb) == list(tb) and len(jb) == len(tb)
    for args in [(range(3), 0, False), (range(3), True, False), (range(3), 2, 1)]:
        same_error(lambda: tud.BatchSampler(*args), lambda: jud.BatchSampler(*args))


def test_random_sampler():
    g = jtorch.Generator().manual_seed(3)
    s = list(jud.RandomSampler(range(20), generator=g))
    assert sorted(s) == list(range(20)) and s != list(range(20))
    assert list(jud.RandomSampler(range(20), generator=jtorch.Generator().manual_seed(3))) == s
    # num_samples beyond the length without replacement: whole permutations, then a partial one (torch's rule)
    s = list(jud.RandomSampler(range(5), num_samples=12, generator=g))
    assert len(s) == 12 and sorted(s[:5]) == sorted(s[5:10]) == list(range(5)) and len(set(s[10:])) == 2
    s = list(jud.RandomSampler(range(4), replacement=True, num_samples=4000, generator=g))
    counts = np.bincount(s, minlength=4) / 4000
    assert len(s) == 4000 and min(s) >= 0 and max(s) <= 3 and np.all(np.abs(counts - 0.25) < 0.04)
    jtorch.manual_seed(0)
    a = list(jud.RandomSampler(range(30)))
    b = list(jud.RandomSampler(range(30)))
    assert sorted(a) == list(range(30)) and a != b, "without a generator each epoch draws a fresh order"
    for kw in [dict(replacement=1), dict(num_samples=0), dict(num_samples=2.5)]:
        same_error(lambda: tud.RandomSampler(range(3), **kw), lambda: jud.RandomSampler(range(3), **kw))
    same_error(lambda: tud.RandomSampler([]), lambda: jud.RandomSampler([]))
    assert len(jud.RandomSampler(range(3), num_samples=7)) == len(tud.RandomSampler(range(3), num_samples=7))


def test_subset_random_sampler():
    idx = [3, 9, 4, 20]
    s = list(jud.SubsetRandomSampler(idx, generator=jtorch.Generator().manual_seed(1)))
    assert sorted(s) == sorted(idx) and len(jud.SubsetRandomSampler(idx)) == len(tud.SubsetRandomSampler(idx))


def test_weighted_random_sampler_statistics():
    w = [1.0, 2.0, 0.0, 5.0]
    n = 8000
    js = list(jud.WeightedRandomSampler(w, n, generator=jtorch.Generator().manual_seed(0)))
    ts = list(tud.WeightedRandomSampler(w, n, generator=torch.Generator().manual_seed(0)))
    fj, ft = np.bincount(js, minlength=4) / n, np.bincount(ts, minlength=4) / n
    expected = np.array(w) / sum(w)
    assert fj[2] == 0 and np.all(np.abs(fj - expected) < 0.03) and np.all(np.abs(fj - ft) < 0.04)
    s = list(jud.WeightedRandomSampler(w, 3, replacement=False, generator=jtorch.Generator().manual_seed(1)))
    assert sorted(s) == [0, 1, 3]
    assert len(jud.WeightedRandomSampler(w, 5)) == 5
    for args, kw in [((w, 0), {}), ((w, 2), {"replacement": 1}), (([[1.0, 2.0]], 2), {})]:
        same_error(lambda: tud.WeightedRandomSampler(*args, **kw), lambda: jud.WeightedRandomSampler(*args, **kw))


@pytest.mark.parametrize("n,replicas,drop_last", [(10, 3, False), (10, 3, True), (4, 3, False), (2, 5, False),
                                                  (12, 4, True)])
def test_distributed_sampler(n, replicas, drop_last):
    ds = list(range(n))
    per_rank = []
    for rank in range(replicas):
        js = jud.DistributedSampler(ds, replicas, rank, shuffle=False, drop_last=drop_last)
        ts = tud.DistributedSampler(ds, replicas, rank, shuffle=False, drop_last=drop_last)
        assert list(js) == list(ts) and len(js) == len(ts) and js.total_size == ts.total_size
        sh = jud.DistributedSampler(ds, replicas, rank, shuffle=True, seed=7, drop_last=drop_last)
        per_rank.append(list(sh))
        assert len(per_rank[-1]) == len(ts)
    flat = [i for r in per_rank for i in r]
    if drop_last:
        assert len(set(flat)) == len(flat), "drop_last: ranks get disjoint indices"
    else:
        assert set(flat) == set(ds), "every index is served by some rank"


def test_distributed_sampler_epochs_and_errors():
    s = jud.DistributedSampler(range(50), 2, 0, seed=1)
    e0 = list(s)
    assert list(s) == e0, "same epoch, same order"
    s.set_epoch(1)
    e1 = list(s)
    assert e1 != e0 and len(e1) == len(e0)
    other = jud.DistributedSampler(range(50), 2, 1, seed=1)
    other.set_epoch(1)
    assert not set(e1) & set(other), "both ranks draw the same permutation for an epoch"
    same_error(lambda: tud.DistributedSampler(range(3), 2, 2), lambda: jud.DistributedSampler(range(3), 2, 2))


# --------------------------------------------------------------------------- DataLoader (single process)
def _compare_loaders(jl, tl):
    jb, tb = list(jl), list(tl)
    assert len(jb) == len(tb) == len(jl) == len(tl)
    for a, b in zip(jb, tb):
        same_struct(a, b)


def test_dataloader_map_dataset_matches_torch():
    jd, td = _tensor_ds(jtorch), _tensor_ds(torch)
    for kw in [dict(batch_size=4), dict(batch_size=4, drop_last=True), dict(batch_size=None), dict(batch_size=6)]:
        _compare_loaders(jud.DataLoader(jd, **kw), tud.DataLoader(td, **kw))
    py = [{"a": i, "b": [float(i), np.float32(i)], "s": str(i)} for i in range(5)]
    _compare_loaders(jud.DataLoader(py, batch_size=2), tud.DataLoader(py, batch_size=2))
    _compare_loaders(jud.DataLoader(py, batch_size=None), tud.DataLoader(py, batch_size=None))
    bs = [[4, 0], [1], [2, 3]]
    _compare_loaders(jud.DataLoader(py, batch_sampler=bs), tud.DataLoader(py, batch_sampler=bs))
    _compare_loaders(jud.DataLoader(py, sampler=[4, 2, 0], batch_size=2), tud.DataLoader(py, sampler=[4, 2, 0],
                                                                                         batch_size=2))
    cf = lambda b: len(b)  # noqa: E731
    assert list(jud.DataLoader(py, batch_size=2, collate_fn=cf)) == list(tud.DataLoader(py, batch_size=2,
                                                                                      collate_fn=cf))


def test_dataloader_shuffle_and_generator():
    jl = jud.DataLoader(range(20), batch_size=5, shuffle=True, generator=jtorch.Generator().manual_seed(4))
    a = [i for b in jl for i in b.tolist()]
    jl2 = jud.DataLoader(range(20), batch_size=5, shuffle=True, generator=jtorch.Generator().manual_seed(4))
    assert sorted(a) == list(range(20)) and a == [i for b in jl2 for i in b.tolist()]
    b = [i for b in jl for i in b.tolist()]
    assert a != b, "the generator advances between epochs"


def test_dataloader_iterable_dataset():
    class TIt(tud.IterableDataset):
        def __iter__(self):
            return iter(range(7))

        def __len__(self):
            return 7

    class JIt(jud.IterableDataset):
        def __iter__(self):
            return iter(range(7))

        def __len__(self):
            return 7
    for kw in [dict(batch_size=3), dict(batch_size=3, drop_last=True), dict(batch_size=None)]:
        _compare_loaders(jud.DataLoader(JIt(), **kw), tud.DataLoader(TIt(), **kw))
    assert jud.get_worker_info() is None


def test_dataloader_argument_errors():
    class TIt(tud.IterableDataset):
        def __iter__(self):
            return iter(range(2))

    class JIt(jud.IterableDataset):
        def __iter__(self):
            return iter(range(2))
    cases = [dict(num_workers=-1), dict(timeout=-1), dict(prefetch_factor=2), dict(persistent_workers=True),
             dict(sampler=[0, 1], shuffle=True), dict(batch_sampler=[[0]], batch_size=2),
             dict(batch_size=None, drop_last=True), dict(multiprocessing_context="spawn"),
             dict(num_workers=1, multiprocessing_context="nope"), dict(num_workers=1, multiprocessing_context=3)]
    for kw in cases:
        et, ej = same_error(lambda: tud.DataLoader(range(4), **kw), lambda: jud.DataLoader(range(4), **kw))
        assert str(ej) == str(et), kw
    for kw in [dict(shuffle=True), dict(sampler=[0]), dict(batch_sampler=[[0]])]:
        et, ej = same_error(lambda: tud.DataLoader(TIt(), **kw), lambda: jud.DataLoader(JIt(), **kw))
        assert str(ej) == str(et)
    jl, tl = jud.DataLoader(range(4)), tud.DataLoader(range(4))
    for attr in ("batch_size", "sampler", "dataset"):
        same_error(lambda: setattr(tl, attr, 3), lambda: setattr(jl, attr, 3))
    for attr in ("prefetch_factor", "generator", "pin_memory_device", "in_order", "multiprocessing_context",
                 "timeout", "num_workers", "drop_last"):
        assert getattr(jl, attr) == getattr(tl, attr), attr


def test_dataloader_len():
    for n, bs, dl in [(10, 3, False), (10, 3, True), (9, 3, False), (1, 5, True)]:
        assert len(jud.DataLoader(range(n), batch_size=bs, drop_last=dl)) == \
            len(tud.DataLoader(range(n), batch_size=bs, drop_last=dl))


def test_pin_memory_without_accelerator_warns_like_torch():
    if jtorch.cuda.is_available():
        pytest.skip("an accelerator is present")
    with warnings.catch_warnings(record=True) as wt:
        warnings.simplefilter("always")
        tb = list(tud.DataLoader([1, 2, 3], batch_size=2, pin_memory=True))
    with warnings.catch_warnings(record=True) as wj:
        warnings.simplefilter("always")
        jb = list(jud.DataLoader([1, 2, 3], batch_size=2, pin_memory=True))
    same_struct(jb, tb)
    assert [str(w.message) for w in wj] == [str(w.message) for w in wt]


def test_pin_memory_moves_batches_to_device():
    from jtorch.utils.data.dataloader import _to_device
    import jax
    dev = jax.devices("cpu")[0]
    out = _to_device({"a": [jtorch.ones(2), "s"], "p": Point(jtorch.zeros(1), 3)}, dev)
    assert isinstance(out["a"][0], jtorch.Tensor) and out["a"][1] == "s" and isinstance(out["p"], Point)


def test_utils_namespace_is_lazy():
    import importlib
    import jtorch.utils as ju
    assert ju.data is importlib.import_module("jtorch.utils.data")
    with pytest.raises(AttributeError):
        ju.not_a_submodule  # noqa: B018
    for name in tud.__all__:
        if name in ("DFIterDataPipe", "DataChunk", "IterDataPipe", "MapDataPipe", "functional_datapipe",
                    "argument_validation", "runtime_validation", "runtime_validation_disabled", "guaranteed_datapipes_determinism",
                    "non_deterministic"):
            continue
        assert hasattr(jud, name), name


def test_torch_random_sampler_seeding_recipe_runs():
    """torch's RandomSampler seeds its permutation with int(torch.empty((), dtype=torch.int64).random_()), then
    torch.randperm(n, generator=...); custom samplers copy that recipe, so it must run in jtorch (random_() on
    int64 used to overflow). The drawn values differ from torch's (JAX threefry streams, not mt19937/Philox):
    only the ranges and the permutation structure are compared."""
    for M in (torch, jtorch):
        g = M.Generator().manual_seed(0)
        seeds = [int(M.empty((), dtype=M.int64).random_(generator=g).item()) for _ in range(20)]
        assert all(0 <= s < 2 ** 63 for s in seeds) and len(set(seeds)) == 20 and max(seeds) > 2 ** 60
        g2 = M.Generator()
        g2.manual_seed(seeds[0])
        perm = M.randperm(10, generator=g2).tolist()
        assert sorted(perm) == list(range(10))
        for dt, hi in [(M.int8, 127), (M.uint8, 255), (M.bool, 1)]:
            v = M.empty(4000, dtype=dt).random_(generator=g)
            assert v.dtype == dt and int(v.min()) == 0 and int(v.max()) == hi, dt
        assert int(M.empty(4000, dtype=M.int16).random_(generator=g).min()) >= 0
