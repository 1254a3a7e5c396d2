"""gradcheck / gradgradcheck: compare analytical gradients (the engine's vector-Jacobian
products, one per output element) with central finite differences. Use float64 inputs."""
import numpy as np


class GradcheckError(RuntimeError):
    pass


def _as_tuple(x):
    from .._tensor import Tensor
    return (x,) if isinstance(x, Tensor) else tuple(x)


def _numerical(func, inputs, i, eps):
    """d outputs / d inputs[i] by central differences: list (per output) of [out_numel, in_numel]."""
    from .. import tensor
    from .grad_mode import no_grad
    x = inputs[i]
    base = np.asarray(x.detach()._value)
    cols = []
    for j in range(base.size):
        vals = []
        for sgn in (1, -1):
            pert = base.copy().reshape(-1)
            pert[j] += sgn * eps
            xs = list(inputs)
            xs[i] = tensor(pert.reshape(base.shape), dtype=x.dtype).requires_grad_(x.requires_grad)
            outs = _as_tuple(func(*xs))
            with no_grad():
                vals.append([np.asarray(o.detach()._value, dtype=np.float64).reshape(-1) for o in outs])
        cols.append([(p - m) / (2 * eps) for p, m in zip(*vals)])
    return [np.stack([c[k] for c in cols], axis=1) if cols else np.zeros((0, 0)) for k in range(len(cols[0]))] \
        if cols else []


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, nondet_tol=0.0,
              check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
              check_batched_forward_grad=False, check_forward_ad=False, check_backward_ad=True,
              fast_mode=False, masked=None):
    from .. import autograd
    from .._tensor import Tensor
    inputs = _as_tuple(inputs)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    outs = _as_tuple(func(*inputs))
    for i in diff:
        num = _numerical(func, inputs, i, eps)
        x = inputs[i]
        if check_forward_ad and not _forward_ok(func, inputs, i, outs, num, atol, rtol, raise_exception):
            return False
        if not check_backward_ad:
            continue
        for oi, o in enumerate(outs):
            if not (o.dtype.is_floating_point or o.dtype.is_complex):
                continue
            flat = o.reshape(-1)
            an = np.zeros((flat.numel(), x.numel()))
            if o.requires_grad:
                for k in range(flat.numel()):
                    (g,) = autograd.grad(flat[k], [x], retain_graph=True, allow_unused=True)
                    if g is not None:
                        an[k] = np.asarray(g.detach()._value, dtype=np.float64).reshape(-1)
            if not np.allclose(an, num[oi], atol=atol, rtol=rtol):
                if raise_exception:
                    raise GradcheckError(f"Jacobian mismatch for output {oi} with respect to input {i},\n"
                                         f"numerical:{num[oi]}\nanalytical:{an}\n")
                return False
    return True


def _forward_ok(func, inputs, i, outs, num, atol, rtol, raise_exception):
    """The Jacobian column by column from forward-mode AD (one-hot tangents on input i) against the
    numerical one."""
    from . import forward_ad as fwAD
    from .. import zeros_like
    x = inputs[i]
    cols = [np.zeros((o.numel(), x.numel())) for o in outs]
    for k in range(x.numel()):
        t = zeros_like(x).detach().reshape(-1)
        t[k] = 1.0
        with fwAD.dual_level():
            args = list(inputs)
            args[i] = fwAD.make_dual(x.detach(), t.reshape(x.shape))
            res = _as_tuple(func(*args))
            for oi, o in enumerate(res):
                tan = fwAD.unpack_dual(o).tangent
                if tan is not None:
                    cols[oi][:, k] = np.asarray(tan.detach()._value, dtype=np.float64).reshape(-1)
    for oi, (an, o) in enumerate(zip(cols, outs)):
        if not (o.dtype.is_floating_point or o.dtype.is_complex):
            continue
        if not np.allclose(an, num[oi], atol=atol, rtol=rtol):
            if raise_exception:
                raise GradcheckError(f"Jacobian computed with forward mode mismatch for output {oi} with respect "
                                     f"to input {i},\nnumerical:{num[oi]}\nanalytical:{an}\n")
            return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3, gen_non_contig_grad_outputs=False,
                  raise_exception=True, nondet_tol=0.0, check_undefined_grad=True, check_grad_dtypes=False,
                  check_batched_grad=False, check_fwd_over_rev=False, check_rev_over_rev=True, fast_mode=False,
                  masked=False):
    """gradcheck of the first derivative (with fixed grad_outputs) w.r.t. the inputs."""
    from .. import autograd, ones_like
    from .._tensor import Tensor
    inputs = _as_tuple(inputs)
    outs0 = _as_tuple(func(*inputs))
    if grad_outputs is None:
        grad_outputs = tuple(ones_like(o).detach() for o in outs0)
    grad_outputs = _as_tuple(grad_outputs)

    def first(*xs):
        outs = _as_tuple(func(*xs))
        diff = [x for x in xs if isinstance(x, Tensor) and x.requires_grad]
        gs = autograd.grad(outs, diff, grad_outputs, create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)
    return gradcheck(first, inputs, eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception)
