"""torch.autograd.functional: jacobian, hessian, vjp, jvp, hvp, vhp — built on the graph engine."""
from .grad_mode import enable_grad


def _as_tuple(x):
    from .._tensor import Tensor
    return (x,) if isinstance(x, Tensor) else tuple(x), isinstance(x, Tensor)


def _prep(inputs, create_graph=False):
    """Inputs the function is differentiated at. With create_graph, an input that requires grad
    stays connected to its own graph (a view of it, as torch's _grad_preprocess), so the result
    can be differentiated w.r.t. whatever produced the input (a Jacobian penalty, i-ResNet's
    log-determinant); otherwise a detached leaf."""
    ins, single = _as_tuple(inputs)
    return tuple(i.view_as(i) if create_graph and i.requires_grad else i.detach().requires_grad_(True)
                 for i in ins), single


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    from . import grad
    from .. import zeros_like
    ins, single = _prep(inputs, create_graph)
    with enable_grad():
        out = func(*ins)
        outs, osingle = _as_tuple(out)
        vs = _as_tuple(v)[0] if v is not None else (None,) * len(outs)
        gs = grad(outs, ins, vs, create_graph=create_graph, allow_unused=True)
    gs = tuple(g if g is not None else zeros_like(i) for g, i in zip(gs, ins))
    o = outs[0] if osingle else outs
    return (o if create_graph else _detach(o)), (gs[0] if single else gs)


def _detach(o):
    return o.detach() if hasattr(o, "detach") else tuple(x.detach() for x in o)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    from . import grad
    from .. import zeros, stack
    ins, single = _prep(inputs, create_graph)
    with enable_grad():
        out = func(*ins)
        outs, osingle = _as_tuple(out)
        jac = []
        for o in outs:
            flat = o.reshape(-1)
            rows = [[] for _ in ins]
            for k in range(flat.numel()):
                gs = grad(flat[k], ins, retain_graph=True, create_graph=create_graph, allow_unused=True)
                for r, g, i in zip(rows, gs, ins):
                    r.append(g if g is not None else zeros(i.shape, dtype=i.dtype))
            per_in = []
            for r, i in zip(rows, ins):
                j = stack(r).reshape(tuple(o.shape) + tuple(i.shape)) if r else zeros(tuple(o.shape) + tuple(i.shape))
                per_in.append(j if create_graph else j.detach())
            jac.append(per_in[0] if single else tuple(per_in))
    return jac[0] if osingle else tuple(jac)


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    ins, single = _as_tuple(inputs)

    def g(*xs):
        from . import grad
        with enable_grad():
            out = func(*xs)
            gs = grad(out, xs, create_graph=True, allow_unused=True)
        return gs[0] if single else gs
    return jacobian(g, inputs, create_graph=create_graph)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    # double-vjp trick: J v = d/du [ (J^T u) . v ]
    from . import grad
    from .. import zeros_like
    ins, single = _prep(inputs, create_graph)
    vs = _as_tuple(v)[0] if v is not None else tuple(zeros_like(i) + 1 for i in ins)
    with enable_grad():
        out = func(*ins)
        outs, osingle = _as_tuple(out)
        us = tuple(zeros_like(o).requires_grad_(True) for o in outs)
        gs = grad(outs, ins, us, create_graph=True, allow_unused=True)
        dot = sum((g * vv).sum() for g, vv in zip(gs, vs) if g is not None)
        jv = grad(dot, us, create_graph=create_graph, allow_unused=True)
    jv = tuple(j if j is not None else zeros_like(o) for j, o in zip(jv, outs))
    jv = tuple(j if create_graph else j.detach() for j in jv)
    return _detach(outs[0] if osingle else outs), (jv[0] if osingle else jv)


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    from . import grad
    ins, single = _prep(inputs, create_graph)
    vs = _as_tuple(v)[0]
    with enable_grad():
        out = func(*ins)
        gs = grad(out, ins, create_graph=True)
        dot = sum((g * vv).sum() for g, vv in zip(gs, vs))
        hv = grad(dot, ins, create_graph=create_graph)
    hv = tuple(h if create_graph else h.detach() for h in hv)
    return out.detach(), (hv[0] if single else hv)


hvp = vhp  # the Hessian is symmetric for twice-differentiable scalar functions
