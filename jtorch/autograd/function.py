"""jtorch.autograd.Function: user-defined forward/backward in torch style."""

from . import anomaly
from .graph import Node, edge_of, _seq
from .grad_mode import STATE, no_grad
from . import forward_ad


class FunctionCtx:
    def __init__(self):
        self.saved_tensors_ = ()
        self.needs_input_grad = ()
        self.non_differentiable = set()
        self.materialize_grads = True
        self.dirty = ()

    def save_for_backward(self, *tensors):
        self.to_save = tensors
        self._versions = [(t, t._version) if t is not None else None for t in tensors]

    @property
    def saved_tensors(self):
        if getattr(self, "_freed", False):
            raise RuntimeError("Trying to backward through the graph a second time (or directly access saved tensors "
                               "after they have already been freed). Specify retain_graph=True if you need to backward "
                               "through the graph a second time or if you need to access saved tensors after calling "
                               "backward.")
        for item in getattr(self, "_versions", []):
            if item is not None and item[0]._version != item[1]:
                from .graph import _modified_message
                t = item[0]
                raise RuntimeError(_modified_message(t._value, t._version, item[1], t))
        return tuple(getattr(self, "to_save", ()))

    saved_variables = saved_tensors

    def mark_non_differentiable(self, *tensors):
        self.non_differentiable.update(id(t) for t in tensors)

    def mark_dirty(self, *tensors):
        self.dirty = tensors

    def set_materialize_grads(self, value):
        self.materialize_grads = value


class BackwardCFunction(Node, FunctionCtx):
    def __init__(self, cls):
        FunctionCtx.__init__(self)
        self._cls = cls
        self.seq = next(_seq)

    def name(self):
        return self._cls.__name__ + "Backward"

    def apply_grads(self, cts, create_graph):
        from .._tensor import Tensor, wrap
        import jax.numpy as jnp
        if getattr(self, "_freed", False):
            self.saved_tensors  # raises
        grads = []
        for c, meta in zip(cts, self._out_meta):
            if c is None and self.materialize_grads and meta is not None:
                c = jnp.zeros(meta[0], meta[1])
            grads.append(c if (c is None or isinstance(c, Tensor)) else wrap(c))
        with (no_grad() if not create_graph else _nullcontext()):
            res = self._cls.backward(self, *grads)
        if not isinstance(res, tuple):
            res = (res,)
        n_in = len(self._input_mask)
        if len(res) < n_in:
            raise RuntimeError(f"function {self.name()} returned an incorrect number of gradients (expected {n_in}, "
                               f"got {len(res)})")
        out = []
        for g, m, shape in zip(res, self._input_mask, self._in_shapes):
            if not m:
                continue
            if g is None:
                out.append(None)
                continue
            if not isinstance(g, Tensor):
                raise TypeError("backward must return Tensors or None")
            if tuple(g.shape) != shape:
                try:
                    g = g.sum_to_size(shape) if g.numel() != 0 else g
                except Exception:
                    raise RuntimeError(f"Function {self.name()} returned an invalid gradient at index "
                                       f"{len(out)} - got {list(g.shape)} but expected shape compatible with "
                                       f"{list(shape)}") from None
            out.append(g if create_graph else g._value)
        return out

    def release(self):
        self._freed = True


def _backward_cls(cls):
    """torch's grad_fn class of a custom Function: `<Name>Backward`, made once per Function."""
    c = cls.__dict__.get("_backward_cls")
    if c is None:
        c = type(cls.__name__ + "Backward", (BackwardCFunction,), {"__module__": __name__})
        type.__setattr__(cls, "_backward_cls", c)
    return c


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        pass


class _FunctionMeta(type):
    pass


class Function(metaclass=_FunctionMeta):
    """Subclass with static forward(ctx, *args) and backward(ctx, *grads); call with .apply()."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for your custom "
                                  "autograd.Function to use it with backward mode AD.")

    vjp = backward

    @staticmethod
    def jvp(ctx, *grad_inputs):
        raise NotImplementedError("You must implement the jvp function for custom autograd.Function to use it "
                                  "with forward mode AD.")

    @staticmethod
    def setup_context(ctx, inputs, output):
        return NotImplemented

    @classmethod
    def apply(cls, *args, **kwargs):
        from .._tensor import Tensor
        node = _backward_cls(cls)(cls)
        if anomaly.ENABLED[0]:
            anomaly.stamp(node)   # the forward traceback shown if this node's backward fails
        tensors = [a for a in args if isinstance(a, Tensor)]
        mask = [isinstance(a, Tensor) and a._requires_grad for a in args]
        node.needs_input_grad = tuple(mask)
        node._input_mask = mask
        node._in_shapes = [tuple(a.shape) if isinstance(a, Tensor) else None for a in args]
        uses_setup = cls.setup_context is not Function.setup_context and \
            type(cls.__dict__.get("setup_context")) is staticmethod
        fw_level = forward_ad.ACTIVE[0]
        fw_tangents = [forward_ad.tangent_of(a) if isinstance(a, Tensor) else None for a in args] \
            if fw_level is not None else None
        if fw_tangents is not None and all(t is None for t in fw_tangents):
            fw_tangents = None
        try:
            if fw_tangents is not None:
                forward_ad.ACTIVE[0] = None   # the forward's own ops carry no tangents: jvp() gives them
            with no_grad():
                if uses_setup:
                    out = cls.forward(*args, **kwargs)
                else:
                    out = cls.forward(node, *args, **kwargs)
        finally:
            forward_ad.ACTIVE[0] = fw_level
        if uses_setup:
            cls.setup_context(node, args, out)
        fw_out = _forward_jvp(cls, node, args, fw_tangents) if fw_tangents is not None else None
        record = STATE.enabled and any(mask)
        multi = isinstance(out, tuple)
        outs = out if multi else (out,)
        node._out_meta = [(tuple(o.shape), o._value.dtype) if isinstance(o, Tensor) else None for o in outs]
        if record:
            node.edges = [edge_of(a) for a, m in zip(args, mask) if m]
            node.n_out = len(outs)
            dirty = {id(t) for t in node.dirty}
            new_outs = []
            for i, o in enumerate(outs):
                if isinstance(o, Tensor):
                    non_diff = id(o) in node.non_differentiable  # before o is replaced by a view below
                    if any(o is a for a in args) and id(o) not in dirty:
                        if non_diff:
                            with no_grad():
                                o = o.view_as(o)
                        else:
                            o = o.view_as(o)  # an input returned as is becomes a new (view) output
                    if not non_diff and (o.dtype.is_floating_point or o.dtype.is_complex):
                        o._requires_grad = True
                        o.grad_fn = node
                        o._out_idx = i
                        if o._base is not None and id(o) not in dirty:
                            # torch forbids writing in place into a view a custom Function returned:
                            # view+inplace rebasing would bypass the Function's backward
                            o._fn_view = (cls.__name__, i)
                new_outs.append(o)
            outs = tuple(new_outs)
        if fw_out is not None:
            for o, t in zip(outs, fw_out):
                if isinstance(o, Tensor) and isinstance(t, Tensor):
                    o._fw = (fw_level, t)
        return outs if multi else outs[0]


def _forward_jvp(cls, ctx, args, tangents):
    """Forward AD through a custom Function: its jvp(ctx, *input_tangents) gives the outputs' tangents
    (a tensor input without one passes zeros, a non-tensor input None)."""
    from .._tensor import Tensor
    from .. import zeros_like
    if cls.jvp is Function.jvp:
        raise NotImplementedError("You must implement the jvp function for custom autograd.Function to use it "
                                  "with forward mode AD.")
    ins = [t if t is not None else (zeros_like(a) if isinstance(a, Tensor) else None)
           for a, t in zip(args, tangents)]
    with no_grad():
        touts = cls.jvp(ctx, *ins)
    return touts if isinstance(touts, tuple) else (touts,)


class _DelayedError(Node):
    """grad_fn of the gradients a @once_differentiable backward returns under create_graph=True:
    they require grad (so the mistake surfaces where torch reports it), and differentiating them
    raises. No edges: nothing below is reachable through it."""

    def __init__(self, msg, n_out):
        self._msg = msg
        self.n_out = n_out
        self.seq = next(_seq)

    def name(self):
        return "torch::autograd::Error"

    def apply_grads(self, cts, create_graph):
        raise RuntimeError(self._msg)


_DelayedError.__name__ = _DelayedError.__qualname__ = "Error"   # torch's grad_fn=<Error>


def once_differentiable(fn):
    import functools
    from .._tensor import Tensor

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with no_grad():
            outputs = fn(ctx, *args)
        # under create_graph=True with a grad_output that requires grad, torch marks the results
        # as differentiable-once-only instead of silently returning constants
        if not STATE.enabled or not any(isinstance(a, Tensor) and a._requires_grad for a in args):
            return outputs
        single = not isinstance(outputs, tuple)
        outs = (outputs,) if single else outputs
        err = _DelayedError("trying to differentiate twice a function that was marked with @once_differentiable",
                            len(outs))
        marked = []
        for i, o in enumerate(outs):
            if isinstance(o, Tensor):
                o = o.detach()
                o._requires_grad = True
                o.grad_fn = err
                o._out_idx = i
            marked.append(o)
        return marked[0] if single else tuple(marked)
    return wrapper


class InplaceFunction(Function):
    def __init__(self, inplace=False):
        self.inplace = inplace


class NestedIOFunction(Function):
    pass
