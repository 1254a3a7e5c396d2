"""The errors a user meets first keep torch's exception types and say what to do next; the
jtorch.cuda memory utilities run on any host."""
import warnings

import pytest
import torch

import jtorch
from oracle import same_error


@pytest.mark.parametrize("mod_name, attr", [("", "foo_bar"), ("nn", "Lineer"), ("nn.functional", "relu7")])
def test_missing_attribute_type_matches_torch_and_says_what_to_do(mod_name, attr):
    def get(root):
        mod = root
        for part in filter(None, mod_name.split(".")):
            mod = getattr(mod, part)
        return getattr(mod, attr)
    _, ej = same_error(lambda: get(torch), lambda: get(jtorch))
    msg = str(ej)
    full = ".".join(filter(None, ["torch", mod_name, attr]))
    assert "docs/compatibility.md" in msg and f"missing: {full}" in msg
    assert msg.startswith(f"module 'jtorch{'.' + mod_name if mod_name else ''}' has no attribute '{attr}'")


def test_missing_attribute_suggests_close_names_and_hasattr_is_false():
    with pytest.raises(AttributeError, match="Did you mean: 'Linear'"):
        jtorch.nn.Lineer
    assert not hasattr(jtorch, "definitely_not_a_torch_function")
    assert hasattr(torch, "matmul") and hasattr(jtorch, "matmul")
    with pytest.raises(AttributeError) as e:
        jtorch._private_probe
    assert "compatibility" not in str(e.value)  # private/dunder probes stay terse


@pytest.mark.skipif(jtorch.cuda.is_available(), reason="needs a host without a JAX GPU")
@pytest.mark.parametrize("make", [lambda m: m.zeros(2, device="cuda"), lambda m: m.ones(2).cuda(),
                                  lambda m: m.ones(2).to("cuda"), lambda m: m.nn.Linear(2, 2).to("cuda")])
def test_cuda_without_gpu_raises_torch_type_with_install_hint(make):
    if torch.cuda.is_available():
        pytest.skip("torch sees a GPU here")
    _, ej = same_error(lambda: make(torch), lambda: make(jtorch))
    assert "Torch not compiled with CUDA enabled" in str(ej) and "jax[cuda12]" in str(ej)


def test_compile_fallback_warning_names_line_and_fix():
    def step(x):
        if x.sum() > 0:  # data-dependent Python control flow: cannot be traced
            return x * 2
        return x

    f = jtorch.compile(step)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = f(jtorch.ones(3))
    assert out.tolist() == [2.0, 2.0, 2.0]  # still correct: it ran eagerly
    msgs = [str(x.message) for x in w if "jtorch.compile" in str(x.message)]
    assert len(msgs) == 1, msgs
    line = step.__code__.co_firstlineno + 1
    assert f"test_user_errors.py:{line}" in msgs[0]
    assert "torch.where" in msgs[0] and "fullgraph=True" in msgs[0]


MEMORY_FUNCS = ["memory_allocated", "max_memory_allocated", "memory_reserved", "max_memory_reserved",
                "memory_cached", "max_memory_cached", "memory_stats", "empty_cache"]


@pytest.mark.parametrize("name", MEMORY_FUNCS)
def test_cuda_memory_functions_match_torch_on_cpu_host(name):
    if jtorch.cuda.is_available() or torch.cuda.is_available():
        pytest.skip("compares CPU-only hosts")
    with warnings.catch_warnings(record=True) as wt:
        warnings.simplefilter("always")
        t = getattr(torch.cuda, name)()
    with warnings.catch_warnings(record=True) as wj:
        warnings.simplefilter("always")
        j = getattr(jtorch.cuda, name)()
    assert [type(x.message) for x in wj] == [type(x.message) for x in wt]  # deprecated names warn, as torch
    assert type(j) is type(t) or (isinstance(t, dict) and isinstance(j, dict))
    assert j == t


def test_cuda_memory_utilities_never_crash():
    c = jtorch.cuda
    dev = "cuda" if c.is_available() else None
    for name in ["reset_peak_memory_stats", "reset_max_memory_allocated", "reset_max_memory_cached",
                 "reset_accumulated_memory_stats", "empty_cache"]:
        assert getattr(c, name)() is None
    assert isinstance(c.memory_allocated(dev), int) and c.memory_allocated(dev) >= 0
    assert c.max_memory_allocated(dev) >= 0 and c.max_memory_reserved(dev) >= 0
    free, total = c.mem_get_info()
    assert 0 <= free <= total or total == 0
    assert isinstance(c.memory_stats(), dict) and isinstance(c.memory_stats_as_nested_dict(), dict)
    assert isinstance(c.memory_summary(), str) and "memory summary" in c.memory_summary()
    assert c.memory_snapshot() == []
    assert isinstance(c.list_gpu_processes(), str)
    assert 0 <= c.memory_usage() <= 100 and c.utilization() >= 0
    c.set_per_process_memory_fraction(0.5)
    assert c.get_per_process_memory_fraction() == 0.5
    c.set_per_process_memory_fraction(1.0)
    with pytest.raises(ValueError):
        c.set_per_process_memory_fraction(1.5)
    c.memory._record_memory_history()
    import jtorch.cuda.memory as m
    assert m.memory_allocated is c.memory_allocated
    if c.is_available():  # with a device: statistics come from JAX, under torch's key names
        x = jtorch.ones(1024, 1024, device="cuda")
        assert c.memory_allocated() >= x.numel() * 4
        assert c.memory_stats()["allocated_bytes.all.current"] == c.memory_allocated()
