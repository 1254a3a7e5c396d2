"""torch's saved-tensor version check, against torch: a tensor an op's backward needs, written in
place before backward, raises "one of the variables needed for gradient computation has been
modified by an inplace operation" -- and tensors an op does not save may be written freely.
Each snippet must raise RuntimeError in both libraries (with the same message) or in neither."""
import warnings

import pytest
import torch

import jtorch


def _leaf(lib):
    return lib.tensor([1.0, 2.0, 3.0], requires_grad=True)


def _mid(lib):
    """A non-leaf that requires grad (a leaf may not be written in place at all)."""
    return _leaf(lib) * 2


def _const(lib):
    return lib.tensor([2.0, 2.0, 2.0])


def _custom_function(lib):
    class Scale(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, s):
            ctx.save_for_backward(s)
            return x * s

        @staticmethod
        def backward(ctx, g):
            (s,) = ctx.saved_tensors
            return g * s, None
    return Scale.apply


def _backward(y):
    y.sum().backward()


CASES = {
    # --- saved inputs, requiring grad or not
    "mul_saves_other_without_grad": lambda L: [a := _leaf(L), w := _const(L), y := a * w, w.add_(1), _backward(y)],
    "mul_saves_self_only_if_other_needs_grad": lambda L: [h := _mid(L), y := h * _const(L), h.add_(1), _backward(y)],
    "mul_both_need_grad": lambda L: [a := _leaf(L), h := a * 2, y := h * a, h.add_(1), _backward(y)],
    "div_saves_divisor": lambda L: [a := _leaf(L), w := _const(L), y := a / w, w.add_(1), _backward(y)],
    "div_saves_numerator_for_divisor_grad": lambda L: [h := _mid(L), w := _const(L), y := w / h, w.add_(1),
                                                       _backward(y)],
    "matmul_saves_other": lambda L: [a := L.ones(2, 2, requires_grad=True), m := L.ones(2, 2), y := a @ m,
                                     m.add_(1), _backward(y)],
    "sin_saves_input": lambda L: [h := _mid(L), y := h.sin(), h.add_(1), _backward(y)],
    "sin_result_is_free": lambda L: [y := _leaf(L).sin(), y.add_(1), _backward(y)],
    "var_saves_input": lambda L: [h := _mid(L), y := h.var(), h.add_(1), y.backward()],
    "gather_saves_index": lambda L: [a := _leaf(L), i := L.tensor([0, 2]), y := a.gather(0, i), i.add_(0),
                                     _backward(y)],
    "where_saves_condition": lambda L: [a := _leaf(L), c := L.tensor([True, False, True]), y := L.where(c, a * a, a),
                                        c.logical_not_(), _backward(y)],
    "two_step_intermediate": lambda L: [h := _mid(L), y := h ** 2, h.mul_(2), _backward(y)],
    # --- saved results
    "exp_saves_result": lambda L: [y := _leaf(L).exp(), y.add_(1), _backward(y)],
    "exp_input_is_free": lambda L: [h := _mid(L), y := h.exp(), h.add_(1), _backward(y)],
    "sigmoid_saves_result": lambda L: [y := _leaf(L).sigmoid(), y.mul_(2), _backward(y)],
    "tanh_result_written_through_view": lambda L: [y := _leaf(L).tanh(), y[0].mul_(2), _backward(y)],
    "relu_saves_result": lambda L: [y := _leaf(L).relu(), y.add_(1), _backward(y)],
    "softmax_saves_result": lambda L: [y := _leaf(L).softmax(0), y.add_(1), _backward(y)],
    "prod_saves_input_and_result": lambda L: [h := _mid(L), y := h.prod(), h.add_(1), y.backward()],
    "norm_saves_result": lambda L: [y := _leaf(L).norm(), y.mul_(2), y.backward()],
    "pow_scalar_exponent_result_is_free": lambda L: [y := _leaf(L).pow(2), y.add_(1), _backward(y)],
    "pow_tensor_exponent_saves_result": lambda L: [y := _leaf(L).pow(L.full((3,), 2.0)), y.add_(1), _backward(y)],
    "std_mean_saves_std_not_mean": lambda L: [r := L.std_mean(_leaf(L)), r[1].add_(1), (r[0] + r[1]).backward()],
    "exp_inplace_then_written": lambda L: [h := _mid(L), h.exp_(), h.mul_(2), _backward(h)],
    "sin_inplace_then_written": lambda L: [h := _mid(L), h.sin_(), h.mul_(2), _backward(h)],
    "relu_inplace_functional_then_written": lambda L: [h := _mid(L), L.nn.functional.relu(h, inplace=True),
                                                       h.add_(1), _backward(h)],
    # --- ops that save nothing
    "add_saves_nothing": lambda L: [h := _mid(L), y := h + 1, h.add_(1), _backward(y)],
    "add_other_without_grad": lambda L: [w := L.ones(3), y := _leaf(L) + w, w.add_(1), _backward(y)],
    "cat_saves_nothing": lambda L: [h := _mid(L), w := L.ones(3), y := L.cat([h, w]), h.add_(1), w.add_(1),
                                    _backward(y)],
    "sum_and_mean_save_nothing": lambda L: [h := _mid(L), y := h.sum() + h.mean(), h.add_(1), y.backward()],
    "to_dtype_saves_nothing": lambda L: [h := _mid(L), y := h.double(), h.add_(1), _backward(y)],
    "linear_bias_not_saved": lambda L: [x := L.ones(2, 3, requires_grad=True), b := L.ones(2),
                                        y := L.nn.functional.linear(x, L.ones(2, 3), b), b.add_(1), _backward(y)],
    # --- views, detach, .data, no_grad
    "saved_written_through_view": lambda L: [a := _leaf(L), w := _const(L), y := a * w, w[1:].mul_(3), _backward(y)],
    "saved_view_base_written": lambda L: [a := _leaf(L), w := L.full((4,), 2.0), y := a * w[:3], w.add_(1),
                                          _backward(y)],
    "detach_shares_the_version": lambda L: [a := _leaf(L), w := _const(L), y := a * w, w.detach().add_(1),
                                            _backward(y)],
    "data_escape_input": lambda L: [a := _leaf(L), w := _const(L), y := a * w, w.data.add_(1), _backward(y)],
    "data_escape_result": lambda L: [y := _leaf(L).exp(), y.data.add_(1), _backward(y)],
    "no_grad_write_still_counts": lambda L: [a := _leaf(L), w := _const(L), y := a * w, _no_grad_add(L, w),
                                             _backward(y)],
    "no_grad_write_to_saved_leaf": lambda L: [a := _leaf(L), y := a * a, _no_grad_add(L, a), _backward(y)],
    "no_grad_write_to_unsaved": lambda L: [h := _mid(L), y := h + 1, _no_grad_add(L, h), _backward(y)],
    "leaf_inplace_raises_at_the_op": lambda L: [a := _leaf(L), y := a * a, a.add_(1)],
    "retain_graph_then_written": lambda L: [a := _leaf(L), w := _const(L), y := (a * w).sum(),
                                            y.backward(retain_graph=True), w.add_(1), y.backward()],
    "custom_function_saved_tensor": lambda L: [a := _leaf(L), w := _const(L), y := _custom_function(L)(a, w),
                                               w.add_(1), _backward(y)],
}


def _no_grad_add(lib, t):
    with lib.no_grad():
        t.add_(1)


def _outcome(fn, lib):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fn(lib)
        except RuntimeError as e:
            return str(e)
    return None


@pytest.mark.parametrize("name", list(CASES))
def test_saved_tensor_version_check_matches_torch(name):
    et, ej = _outcome(CASES[name], torch), _outcome(CASES[name], jtorch)
    assert (et is None) == (ej is None), f"torch: {et!r}\njtorch: {ej!r}"
    assert ej == et


def test_cases_cover_both_outcomes():
    raised = [n for n, f in CASES.items() if _outcome(f, torch) is not None]
    assert 10 < len(raised) < len(CASES) - 10


def test_training_steps_with_inplace_writes_do_not_raise():
    """Writes torch makes between forward and backward (BatchNorm running stats, ReLU(inplace=True))
    and parameter updates under no_grad between steps never invalidate what a backward needs."""
    F = jtorch.nn.functional
    w = jtorch.randn(3, 4, requires_grad=True)
    rm, rv = jtorch.zeros(4), jtorch.ones(4)
    x = jtorch.randn(5, 3)
    for _ in range(2):
        h1 = F.relu(F.batch_norm(x @ w, rm, rv, training=True), inplace=True)
        h2 = F.relu(F.batch_norm((x * 2) @ w, rm, rv, training=True), inplace=True)   # stats written again
        (h1.sum() + h2.tanh().sum()).backward()
        with jtorch.no_grad():
            w.sub_(0.1 * w.grad)
        w.grad = None
    assert float(rm.abs().sum()) > 0 and w._version == 2   # the stats were written; two updates of w
