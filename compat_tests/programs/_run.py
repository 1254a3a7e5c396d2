"""Run a third-party-style PyTorch program twice: as written (real torch) and with its imports
swapped for jtorch, the way /work/shared/tools/swap_torch_imports.py swaps them (same rules,
copied here so the tests do not depend on a path outside the repository).

A program is a plain torch script that defines `main(argv=None)` returning a dict of metrics
(floats, ints, lists of them, nested dicts). It is executed in this process (warm kernel caches
keep the jtorch run fast) as a fresh module, then `main(argv)` is called. Process-wide torch
settings a script may flip (deterministic algorithms, cudnn.benchmark, default dtype, grad mode)
are restored afterwards so one program cannot leak into the rest of the test session.

Equal starting weights: programs take `--init-state PATH`; the torch run saves its freshly
initialised state_dict there, the jtorch run loads it (jtorch reads torch's checkpoint format).
"""
import importlib
import math
import re
import sys
import types

SWAP_RULES = [
    (re.compile(r"^(\s*)import torch(\.[\w.]+)? as (\w+)", re.M), r"\1import jtorch\2 as \3"),
    (re.compile(r"^(\s*)import torch\b(?!\.)", re.M), r"\1import jtorch as torch"),
    (re.compile(r"^(\s*)import torch\.([\w.]+)\s*$", re.M), r"\1import jtorch.\2; torch = __import__('jtorch')"),
    (re.compile(r"^(\s*)from torch(\.[\w.]+)? import", re.M), r"\1from jtorch\2 import"),
]


def swap_imports(source):
    for pattern, repl in SWAP_RULES:
        source = pattern.sub(repl, source)
    return source


def _global_state(lib):
    state = {"default_dtype": lib.get_default_dtype(), "grad": lib.is_grad_enabled()}
    try:
        state["deterministic"] = lib.are_deterministic_algorithms_enabled()
        state["det_warn_only"] = lib.is_deterministic_algorithms_warn_only_enabled()
    except AttributeError:
        pass
    try:
        state["cudnn_benchmark"] = lib.backends.cudnn.benchmark
        state["cudnn_deterministic"] = lib.backends.cudnn.deterministic
    except AttributeError:
        pass
    return state


def _restore_global_state(lib, state):
    lib.set_default_dtype(state["default_dtype"])
    lib.set_grad_enabled(state["grad"])
    if "deterministic" in state:
        lib.use_deterministic_algorithms(state["deterministic"], warn_only=state["det_warn_only"])
    if "cudnn_benchmark" in state:
        lib.backends.cudnn.benchmark = state["cudnn_benchmark"]
        lib.backends.cudnn.deterministic = state["cudnn_deterministic"]


def load_program(path, backend):
    """Execute the program file as a fresh module; backend is "torch" or "jtorch"."""
    with open(path) as f:
        source = f.read()
    if backend == "jtorch":
        source = swap_imports(source)  # line-for-line, so tracebacks point at the original file
    name = f"_compat_program_{backend}_{abs(hash(path))}"
    mod = types.ModuleType(name)
    mod.__file__ = path
    sys.modules[name] = mod  # dataclasses / pickle look classes up through sys.modules
    exec(compile(source, path, "exec"), mod.__dict__)
    return mod


def run_program(path, backend, argv=()):
    """Run `main(argv)` of the program under torch or jtorch; returns its metrics dict."""
    lib = importlib.import_module(backend)
    saved = _global_state(lib)
    old_argv = sys.argv
    sys.argv = [path, *map(str, argv)]
    try:
        mod = load_program(path, backend)
        return mod.main([str(a) for a in argv])
    finally:
        sys.argv = old_argv
        sys.modules.pop(f"_compat_program_{backend}_{abs(hash(path))}", None)
        _restore_global_state(lib, saved)


def assert_metrics_close(expected, actual, rtol=1e-4, atol=1e-5, path="metrics"):
    """Recursively compare two metric structures (dicts, lists, numbers, strings, bools)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: expected a dict, got {type(actual).__name__}"
        assert set(expected) == set(actual), f"{path}: keys {sorted(expected)} != {sorted(actual)}"
        for k in expected:
            assert_metrics_close(expected[k], actual[k], rtol, atol, f"{path}[{k!r}]")
    elif isinstance(expected, (list, tuple)):
        assert isinstance(actual, (list, tuple)), f"{path}: expected a list, got {type(actual).__name__}"
        assert len(expected) == len(actual), f"{path}: length {len(expected)} != {len(actual)}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            assert_metrics_close(e, a, rtol, atol, f"{path}[{i}]")
    elif isinstance(expected, (bool, str)) or expected is None:
        assert expected == actual, f"{path}: {expected!r} != {actual!r}"
    elif isinstance(expected, (int, float)):
        assert isinstance(actual, (int, float)) and not isinstance(actual, bool), \
            f"{path}: expected a number, got {type(actual).__name__} ({actual!r})"
        if math.isnan(expected):
            assert math.isnan(actual), f"{path}: expected nan, got {actual}"
        else:
            assert math.isclose(expected, actual, rel_tol=rtol, abs_tol=atol), \
                f"{path}: torch {expected!r} vs jtorch {actual!r} (rtol={rtol}, atol={atol})"
    else:
        raise TypeError(f"{path}: unsupported metric type {type(expected).__name__}")


def assert_program_metrics_close(expected, actual, rtol, atol, stochastic=(0.05, 1e-3)):
    """A program's metrics under torch and jtorch: the deterministic ones within (rtol, atol); those
    filed under "stochastic" (they depend on torch's random stream, which jtorch does not
    reproduce bit for bit) within the looser `stochastic` (rtol, atol)."""
    exp, act = dict(expected), dict(actual)
    exp_sto, act_sto = exp.pop("stochastic", None), act.pop("stochastic", None)
    assert_metrics_close(exp, act, rtol=rtol, atol=atol)
    assert (exp_sto is None) == (act_sto is None)
    if exp_sto is not None:
        assert_metrics_close(exp_sto, act_sto, rtol=stochastic[0], atol=stochastic[1], path="stochastic")
