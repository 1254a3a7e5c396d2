"""Activation checkpointing: the forward keeps no intermediates; backward re-runs the function
(with the same RNG state) and differentiates it, trading compute for memory as torch does."""
from ..autograd.function import Function
from ..autograd.grad_mode import enable_grad, no_grad


def _detach_inputs(args):
    from .._tensor import Tensor
    out = []
    for a in args:
        if isinstance(a, Tensor):
            d = a.detach()
            d.requires_grad = a.requires_grad
            out.append(d)
        else:
            out.append(a)
    return out


class CheckpointFunction(Function):
    @staticmethod
    def forward(ctx, run_function, preserve_rng_state, kwargs, *args):
        from .. import get_rng_state
        ctx.run_function, ctx.kwargs = run_function, kwargs
        ctx.rng = get_rng_state() if preserve_rng_state else None
        ctx.inputs = args
        with no_grad():
            out = run_function(*args, **kwargs)
        # torch's (non-reentrant) checkpoint hands back ordinary tensors that may be written in place
        # (h = checkpoint(block, h); h.mul_(s)): an output that is a view (block ends in .t() / .view())
        # or an input returned as is becomes a fresh tensor on the same immutable array, so the write
        # rebases onto this node instead of being refused as a custom Function's view output
        return tuple(_plain(o, args) for o in out) if isinstance(out, tuple) else _plain(out, args)

    @staticmethod
    def backward(ctx, *grads):
        from .. import get_rng_state, set_rng_state, autograd
        from .._tensor import Tensor
        inputs = _detach_inputs(ctx.inputs)
        saved = None
        if ctx.rng is not None:
            saved = get_rng_state()
            set_rng_state(ctx.rng)
        try:
            with enable_grad():
                out = ctx.run_function(*inputs, **ctx.kwargs)
        finally:
            if saved is not None:
                set_rng_state(saved)
        outs = out if isinstance(out, tuple) else (out,)
        pairs = [(o, g) for o, g in zip(outs, grads) if isinstance(o, Tensor) and o.requires_grad and g is not None]
        if pairs:
            autograd.backward([o for o, _ in pairs], [g for _, g in pairs])
        return (None, None, None) + tuple(i.grad if isinstance(i, Tensor) and i.requires_grad else None
                                          for i in inputs)


def _plain(t, inputs):
    from .._tensor import Tensor, wrap
    if isinstance(t, Tensor) and (t._base is not None or any(t is a for a in inputs)):
        return wrap(t._value)
    return t


def checkpoint(function, *args, use_reentrant=None, context_fn=None, determinism_check="default", debug=False,
               preserve_rng_state=True, **kwargs):
    return CheckpointFunction.apply(function, preserve_rng_state, kwargs, *args)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    fns = list(functions.children()) if hasattr(functions, "children") else list(functions)
    size = max(len(fns) // segments, 1)

    def run(start, end):
        def f(x):
            for fn in fns[start:end]:
                x = fn(x)
            return x
        return f
    x = input
    for start in range(0, len(fns), size):
        x = checkpoint(run(start, min(start + size, len(fns))), x)
    return x
