"""The dynamic autograd graph: one Node per recorded op, edges to the inputs' Nodes.

An OpNode keeps its kernel and the input arrays (jax arrays are immutable, so what backward
reads is exactly what forward saw). Its backward is the kernel's cached, jitted vjp. Versions of
the saved inputs are checked as torch does, so a tensor modified in place after being used
raises torch's error instead of differentiating against the wrong story.
"""
import itertools
import weakref

_seq = itertools.count()


class Node:
    """Base of graph nodes; the public face is torch's `grad_fn` (name(), next_functions, hooks)."""
    _freed = False
    edges = ()
    _metadata = None

    def name(self):
        return type(self).__name__

    @property
    def next_functions(self):
        return tuple((e[0], e[1]) if e is not None else (None, 0) for e in self.edges)

    @property
    def metadata(self):
        if self._metadata is None:
            self._metadata = {}
        return self._metadata

    def register_hook(self, fn):
        """fn(grad_inputs, grad_outputs) after this node ran; may return new grad_inputs."""
        return _add_hook(self, "_post_hooks", fn)

    def register_prehook(self, fn):
        """fn(grad_outputs) before this node runs; may return new grad_outputs."""
        return _add_hook(self, "_pre_hooks", fn)

    def __repr__(self):
        return f"<{self.name()} object at {hex(id(self))}>"

    def __call__(self, *grads):
        return self.apply_grads(list(grads), create_graph=False)


class RemovableHandle:
    _ids = itertools.count()

    def __init__(self, store):
        self._store = weakref.ref(store) if not isinstance(store, dict) else (lambda s=store: s)
        self.id = next(self._ids)

    def remove(self):
        s = self._store()
        if s is not None:
            s.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _add_hook(obj, attr, fn):
    d = obj.__dict__.get(attr)
    if d is None:
        d = {}
        setattr(obj, attr, d)
    h = RemovableHandle(d)
    d[h.id] = fn
    return h


def edge_of(t):
    """The (node, output index) a gradient for tensor t flows into."""
    if t.grad_fn is not None:
        return (t.grad_fn, t._out_idx)
    acc = t._accum
    if acc is None or acc.variable is not t:
        acc = t._accum = AccumulateGrad(t)
    return (acc, 0)


class AccumulateGrad(Node):
    def __init__(self, variable):
        self.variable = variable
        self.seq = -1

    def name(self):
        return "torch::autograd::AccumulateGrad"


class OpNode(Node):
    def __init__(self, kernel, arrays, mask, edges, saved, n_out):
        self.kernel = kernel
        self.arrays = arrays
        self.mask = mask
        self.edges = edges
        self.saved = saved  # [(version counter, version)] of non-linear inputs
        self.n_out = n_out
        self.seq = next(_seq)

    def name(self):
        n = self.kernel.name
        return n if n.endswith("Backward") else _camel(n) + "Backward0"

    def check_saved(self):
        if self.arrays is None:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved tensors after "
                "they have already been freed). Saved intermediate values of the graph are freed when you call "
                ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
                "graph a second time or if you need to access saved tensors after calling backward.")
        for vc, ver, shape, dt in self.saved:
            if vc[0] != ver:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an inplace "
                    f"operation: [{dt} {list(shape)}], which is output 0 of {self.name()}, is at version "
                    f"{vc[0]}; expected version {ver} instead. Hint: enable anomaly detection to find the "
                    "operation that failed to compute its gradient, with torch.autograd.set_detect_anomaly(True).")

    def apply_grads(self, cts, create_graph):
        """cts: one cotangent (array, Tensor or None) per output. Returns one grad per edge."""
        self.check_saved()
        bk = self.kernel.backward_kernel(self.mask)
        if create_graph:
            from .._ops.dispatch import run_kernel_recorded
            from .._tensor import Tensor, wrap
            prim = []
            for a, m, e in zip(self.arrays, self.mask, self._all_edges()):
                if m and e is not None:
                    t = wrap(a)
                    t._requires_grad = True
                    t.grad_fn, t._out_idx = _as_fn(e)
                    prim.append(t)
                else:
                    prim.append(a)
            return run_kernel_recorded(bk, prim + list(cts))
        cts = [c._value if hasattr(c, "_value") else c for c in cts]
        return list(bk.jfwd(*self.arrays, *cts))

    def _all_edges(self):
        it = iter(self.edges)
        return [next(it) if m else None for m in self.mask]

    def release(self):
        self.arrays = None


def _as_fn(edge):
    node, idx = edge
    if isinstance(node, AccumulateGrad):
        return None, 0
    return node, idx


def _camel(name):
    return "".join(p[:1].upper() + p[1:] for p in name.strip("_").split("_"))


def record(kernel, arrays, leaves, outs, linear, inplace_self=None):
    """Attach an OpNode to the outputs of a kernel call whose inputs need grad."""
    from .._tensor import Tensor
    mask = []
    edges = []
    saved = []
    for v in leaves:
        if isinstance(v, Tensor) and v._requires_grad:
            mask.append(True)
            edges.append(edge_of(v))
            if not linear and v is not inplace_self:
                vc = v._vc
                if vc is None:
                    vc = v._vc = [0]
                saved.append((vc, vc[0], v.shape, v.dtype))
        else:
            mask.append(False)
    node = OpNode(kernel, arrays, tuple(mask), edges, saved, len(outs))
    from . import anomaly
    if anomaly.ENABLED[0]:
        anomaly.stamp(node)
    for i, o in enumerate(outs):
        if o._value.dtype.kind in "fcV":  # float, complex (bfloat16 is kind 'V')
            o._requires_grad = True
            o.grad_fn = node
            o._out_idx = i
    return node
