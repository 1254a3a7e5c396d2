"""Autograd failure modes and hygiene, against torch: anomaly mode (NaN in backward names the
node, warns with the forward line), backward errors with torch's types and messages, and the
graph being freed (no growth over 10,000 training steps, intermediates collectable)."""
import gc
import warnings
import weakref

import pytest
import torch

import jtorch
from oracle import same_error


def _quiet(fn):
    def run(*a):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*a)
    return run


# ---------------------------------------------------------------------------- anomaly mode
def _div_zero(lib):
    a = lib.zeros(2, requires_grad=True)
    (a / a).sum().backward()


def _sqrt_grad(lib):
    a = lib.tensor([-1.0, 1.0], requires_grad=True)
    lib.autograd.grad(a.sqrt().sum(), a)


def _mm_nan(lib):
    a = lib.ones(2, 2, requires_grad=True)
    b = lib.tensor([[float("nan"), 1.0], [1.0, 1.0]])
    (a @ b).sum().backward()


def _custom_function_nan(lib):
    class Scale(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * float("nan")
    a = lib.ones(2, requires_grad=True)
    Scale.apply(a).sum().backward()


NAN_CASES = {"div": _div_zero, "sqrt_autograd_grad": _sqrt_grad, "mm": _mm_nan, "custom_function": _custom_function_nan}


@pytest.mark.parametrize("name", list(NAN_CASES))
def test_detect_anomaly_nan_names_the_backward_node(name):
    f = NAN_CASES[name]

    def under_context(lib):
        with lib.autograd.detect_anomaly():
            f(lib)
    et, ej = same_error(_quiet(lambda: under_context(torch)), _quiet(lambda: under_context(jtorch)))
    assert str(ej) == str(et)
    assert "returned nan values" in str(ej)


def test_set_detect_anomaly_function_form_and_check_nan_false():
    def on(lib):
        lib.autograd.set_detect_anomaly(True)
        try:
            _sqrt_grad(lib)
        finally:
            lib.autograd.set_detect_anomaly(False)
    et, ej = same_error(_quiet(lambda: on(torch)), _quiet(lambda: on(jtorch)))
    assert str(ej) == str(et) == "Function 'SqrtBackward0' returned nan values in its 0th output."
    for lib in (torch, jtorch):
        assert not lib.is_anomaly_enabled()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with lib.autograd.detect_anomaly(check_nan=False):
                a = lib.tensor([-1.0, 1.0], requires_grad=True)
                a.sqrt().sum().backward()   # NaN grads, but no check: no error
        assert bool(a.grad.isnan()[0])


def test_anomaly_warns_with_forward_traceback_for_any_backward_error():
    a = jtorch.ones(3, requires_grad=True)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        with jtorch.autograd.detect_anomaly():
            h = a * 2
            y = (h * h).sum()  # forward line named in the warning
            h.add_(1)
            with pytest.raises(RuntimeError, match="Good luck!"):
                y.backward()
    text = "\n".join(str(r.message) for r in rec)
    assert "Error detected in MulBackward0" in text and "forward line named in the warning" in text


def test_anomaly_warning_for_custom_function_points_at_apply_line():
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        with jtorch.autograd.detect_anomaly():
            with pytest.raises(RuntimeError, match="returned nan values"):
                _custom_function_nan(jtorch)
    text = "\n".join(str(r.message) for r in rec)
    assert "Error detected in ScaleBackward" in text and "Scale.apply(a)" in text


# ---------------------------------------------------------------------------- backward errors
def _twice(lib):
    a = lib.ones(2, 3, requires_grad=True)
    y = (a * a).sum()
    y.backward()
    y.backward()


def _grad_twice(lib):
    a = lib.ones(2, 3, requires_grad=True)
    y = a.exp().sum()
    lib.autograd.grad(y, a)
    lib.autograd.grad(y, a)


def _saved_modified(lib):
    a = lib.ones(2, 3, requires_grad=True)
    h = a * 2
    y = (h * h).sum()
    h.mul_(3)
    y.backward()


def _saved_modified_through_view(lib):
    a = lib.ones(2, 3, requires_grad=True)
    h = a * 2
    y = (h * h).sum()
    h[0].add_(3)
    y.backward()


def _saved_modified_anomaly(lib):
    with lib.autograd.detect_anomaly():
        _saved_modified(lib)


ERRORS = {
    "backward_twice": _twice,
    "autograd_grad_twice": _grad_twice,
    "non_scalar": lambda lib: (lib.ones(3, requires_grad=True) * 2).backward(),
    "complex_scalar_implicit": lambda lib: (lib.ones(1, dtype=lib.complex64, requires_grad=True) * 2).sum().backward(),
    "no_grad_fn": lambda lib: lib.ones(3).sum().backward(),
    "inplace_on_leaf": lambda lib: lib.ones(3, requires_grad=True).add_(1),
    "inplace_on_view_of_leaf": lambda lib: lib.ones(3, requires_grad=True)[:2].mul_(2),
    "saved_tensor_modified": _saved_modified,
    "saved_tensor_modified_through_view": _saved_modified_through_view,
    "saved_tensor_modified_anomaly_hint": _saved_modified_anomaly,
    "fewer_grads_than_roots": lambda lib: lib.autograd.backward(
        [(lib.ones(3, requires_grad=True) * 2).sum(), lib.ones(3, requires_grad=True).sum()], [lib.ones(())]),
    "unused_input": lambda lib: lib.autograd.grad((lib.ones(3, requires_grad=True) * 2).sum(),
                                                  [lib.ones(3, requires_grad=True), lib.ones(2, requires_grad=True)]),
    "grad_shape_mismatch": lambda lib: (lib.ones(3, requires_grad=True) * 2).sum().backward(lib.ones(2)),
    # x[index] = v on a leaf: through a view (int / None / partial slice) or into x itself
    "setitem_leaf_int": lambda lib: lib.ones(3, 3, requires_grad=True).__setitem__(0, 2.0),
    "setitem_leaf_int_and_list": lambda lib: lib.ones(3, 3, requires_grad=True).__setitem__((0, [1]), 2.0),
    "setitem_leaf_partial_slice": lambda lib: lib.ones(3, 3, requires_grad=True).__setitem__(
        (Ellipsis, slice(1, 3)), 2.0),
    "setitem_leaf_full_slice": lambda lib: lib.ones(3, 3, requires_grad=True).__setitem__(
        (slice(0, 3), [1]), 2.0),
    "setitem_leaf_mask": lambda lib: lib.ones(3, requires_grad=True).__setitem__(lib.tensor([True, False, True]),
                                                                                  2.0),
    "assign_grad_wrong_size": lambda lib: setattr(lib.nn.Parameter(lib.ones(2)), "grad", lib.ones(3)),
    "int_factory_requires_grad": lambda lib: lib.zeros(2, dtype=lib.long, requires_grad=True),
    "int_requires_grad_method": lambda lib: lib.zeros(2, dtype=lib.long).requires_grad_(),
    "int_requires_grad_setter": lambda lib: setattr(lib.zeros(2, dtype=lib.long), "requires_grad", True),
}


def test_deepcopy_parameter_drops_grad_like_torch():
    """copy.deepcopy(Parameter) / deepcopy(model) after backward: torch builds fresh Parameters
    without .grad (a plain tensor's deepcopy keeps its grad)."""
    import copy
    for lib in (torch, jtorch):
        m = lib.nn.Linear(2, 1)
        m(lib.ones(1, 2)).sum().backward()
        assert m.weight.grad is not None
        c = copy.deepcopy(m)
        assert c.weight.grad is None and c.bias.grad is None and isinstance(c.weight, lib.nn.Parameter)
        t = lib.ones(2, requires_grad=True)
        t.grad = lib.ones(2)
        assert copy.deepcopy(t).grad is not None


@pytest.mark.parametrize("name", list(ERRORS))
def test_backward_errors_match_torch(name):
    f = ERRORS[name]
    et, ej = same_error(_quiet(lambda: f(torch)), _quiet(lambda: f(jtorch)))
    assert str(ej) == str(et)


def test_extra_grad_outputs_are_ignored_like_torch():
    for lib in (torch, jtorch):
        a = lib.ones(3, requires_grad=True)
        (g,) = lib.autograd.grad([(a * 2).sum()], [a], [lib.ones(()), lib.ones(())])
        assert g.tolist() == [2.0, 2.0, 2.0]


# ---------------------------------------------------------------------------- the graph is freed
def test_intermediates_collectable_after_backward_while_loss_alive():
    a = jtorch.randn(4, 4, requires_grad=True)
    h = a.tanh()
    z = h * h
    y = z.sum()
    node = z.grad_fn
    held = node.arrays          # the arrays the MulBackward node saved for backward
    ref_h, ref_z = weakref.ref(h), weakref.ref(z)
    ref_arrays = [weakref.ref(x) for x in held if hasattr(x, "shape")]
    del h, z, held
    assert ref_h() is None and ref_z() is None   # Python tensors die at once; the node keeps arrays
    assert all(r() is not None for r in ref_arrays)
    y.backward()
    gc.collect()
    assert node.arrays is None
    assert all(r() is None for r in ref_arrays)  # saved arrays freed by backward, y still alive
    assert y.grad_fn.next_functions[0][0] is node


def _rss_bytes():
    with open("/proc/self/statm") as f:
        import os
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.parametrize("steps", [500, pytest.param(10_000, marks=pytest.mark.slow)])  # 10k: ~30-90 s
def test_no_growth_over_training_steps(steps):
    """10,000 tiny steps (forward, backward, SGD update): Python heap, live objects, live jax
    arrays and RSS stay flat, so every step's graph is freed."""
    import jax
    import tracemalloc
    w = jtorch.randn(4, 4, requires_grad=True)
    b = jtorch.zeros(4, requires_grad=True)
    x = jtorch.randn(2, 4)

    def step():
        w.grad = b.grad = None
        loss = ((x @ w + b).tanh() ** 2).mean()
        loss.backward()
        with jtorch.no_grad():
            w.sub_(w.grad * 0.01)
            b.sub_(b.grad * 0.01)
    for _ in range(300):   # warm caches (kernels, ones-constants)
        step()
    gc.collect()
    n_arrays = len(jax.live_arrays())
    n_objects = len(gc.get_objects())
    rss0 = _rss_bytes()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for _ in range(steps):
        step()
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    assert grown < 100_000, grown
    assert len(gc.get_objects()) - n_objects < 200
    assert len(jax.live_arrays()) <= n_arrays + 2
    assert _rss_bytes() - rss0 < 20 * 2 ** 20   # a leak of one small graph per step would be >> 20 MiB
