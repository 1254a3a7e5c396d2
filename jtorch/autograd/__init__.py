"""jtorch.autograd: backward, grad, grad modes, anomaly detection, Function."""
from .grad_mode import (no_grad, enable_grad, set_grad_enabled, inference_mode, is_grad_enabled,
                        is_inference_mode_enabled)
from .anomaly import detect_anomaly, set_detect_anomaly, is_anomaly_enabled, is_anomaly_check_nan_enabled
from .engine import run_backward
from . import graph
from .graph import Node


def _tensors(x):
    from .._tensor import Tensor
    if x is None:
        return None
    if isinstance(x, Tensor):
        return [x]
    return list(x)


def _grads_for(tensors, grad_tensors):
    """One gradient per root; like torch, extra gradients are ignored and missing ones are an error."""
    if grad_tensors is None:
        return [None] * len(tensors)
    grads = _tensors(grad_tensors)
    if len(grads) < len(tensors):
        raise RuntimeError(f"got {len(tensors)} tensors and {len(grads)} gradients")
    return grads[:len(tensors)]


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, grad_variables=None, inputs=None):
    tensors = _tensors(tensors)
    grads = _grads_for(tensors, grad_tensors)
    if retain_graph is None:
        retain_graph = create_graph
    inputs = _tensors(inputs)
    if inputs is not None and len(inputs) == 0:
        raise RuntimeError("'inputs' argument to backward() cannot be empty.")
    run_backward(tensors, grads, retain_graph, create_graph, inputs=inputs, accumulate=True)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    from .._tensor import Tensor
    single = isinstance(inputs, Tensor)
    outputs = _tensors(outputs)
    inputs = _tensors(inputs)
    gos = _grads_for(outputs, grad_outputs)
    if retain_graph is None:
        retain_graph = create_graph
    if allow_unused is None:
        allow_unused = materialize_grads
    if is_grads_batched:
        # one backward per leading-dim slice of the grad_outputs, stacked (torch vmaps this)
        from .. import stack
        n = gos[0].shape[0]
        per = [grad(outputs, inputs, [g[i] if g is not None else None for g in gos], retain_graph=True,
                    create_graph=create_graph, allow_unused=allow_unused, materialize_grads=materialize_grads)
               for i in range(n)]
        return tuple(None if per[0][k] is None else stack([p[k] for p in per]) for k in range(len(inputs)))
    res = run_backward(outputs, gos, retain_graph, create_graph, inputs=inputs, accumulate=False)
    out = []
    for i, (g, t) in enumerate(zip(res, inputs)):
        if g is None:
            if materialize_grads:
                from .. import zeros_like
                g = zeros_like(t)
            elif not allow_unused:
                raise RuntimeError(f"The differentiated Tensor at index {i} appears to not have been used in the "
                                   "graph. Set allow_unused=True if this is the desired behavior.")
        out.append(g)
    return tuple(out)


from .function import Function, once_differentiable, FunctionCtx  # noqa: E402


class Variable:
    """torch.autograd.Variable (deprecated): Variable(t, requires_grad=...) returns a Tensor."""
    def __new__(cls, data, requires_grad=False, volatile=False):
        t = data.detach()
        if requires_grad:
            t.requires_grad_(True)
        return t
from . import functional  # noqa: E402,F401
from .gradcheck import gradcheck, gradgradcheck  # noqa: E402,F401
