"""gradcheck: compare analytical gradients with central finite differences (float64 advised)."""
import numpy as np


class GradcheckError(RuntimeError):
    pass


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, nondet_tol=0.0,
              check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False, fast_mode=False,
              masked=None, **kwargs):
    from .. import autograd
    from .._tensor import Tensor
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    out = func(*inputs)
    outs = (out,) if isinstance(out, Tensor) else tuple(out)
    for oi, o in enumerate(outs):
        if not o.requires_grad:
            continue
        flat_o = o.reshape(-1)
        for k in range(flat_o.numel()):
            analytical = autograd.grad(flat_o[k], [inputs[i] for i in diff], retain_graph=True, allow_unused=True)
            for a, i in zip(analytical, diff):
                x = inputs[i]
                base = np.asarray(x.detach()._value).astype(np.float64)
                num = np.zeros(base.size)
                for j in range(base.size):
                    for sgn in (1, -1):
                        pert = base.copy().reshape(-1)
                        pert[j] += sgn * eps
                        xs = list(inputs)
                        from .. import tensor as _t
                        xs[i] = _t(pert.reshape(base.shape), dtype=x.dtype)
                        with autograd.no_grad():
                            r = func(*xs)
                        r = (r,) if isinstance(r, Tensor) else tuple(r)
                        num[j] += sgn * float(np.asarray(r[oi]._value).reshape(-1)[k]) / (2 * eps)
                an = np.zeros(base.size) if a is None else np.asarray(a._value).reshape(-1).astype(np.float64)
                if not np.allclose(an, num, atol=atol, rtol=rtol):
                    if raise_exception:
                        raise GradcheckError(f"Jacobian mismatch for output {oi} with respect to input {i},\n"
                                             f"numerical:{num}\nanalytical:{an}\n")
                    return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, **kw):
    from .. import autograd
    from .._tensor import Tensor
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)

    def first(*xs):
        out = func(*xs)
        outs = (out,) if isinstance(out, Tensor) else tuple(out)
        diff = [x for x in xs if isinstance(x, Tensor) and x.requires_grad]
        gs = autograd.grad([o.sum() for o in outs], diff, create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)
    return gradcheck(first, inputs, **kw)
