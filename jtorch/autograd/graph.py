"""The dynamic autograd graph: one Node per recorded op, edges to the inputs' Nodes.

An OpNode keeps its kernel and the input arrays (jax arrays are immutable, so what backward
reads is exactly what forward saw). Its backward is the kernel's cached, jitted vjp. Versions of
the saved inputs are checked as torch does, so a tensor modified in place after being used
raises torch's error instead of differentiating against the wrong story.

Ownership (no reference cycles, so a graph dies by refcount as soon as its last output does):
outputs -> grad_fn -> edges -> input nodes -> ... -> AccumulateGrad -> leaf tensor. A leaf
points back at its AccumulateGrad only through a weak reference (`t._accum`), as torch does;
hooks on a leaf live on the leaf itself (`t._leaf_hooks`), hooks on a non-leaf on its node.
"""
import itertools
import re
import weakref

from . import anomaly

_seq = itertools.count()


class Node:
    """Base of graph nodes; the public face is torch's `grad_fn` (name(), next_functions, hooks)."""
    _freed = False
    edges = ()
    n_out = 1
    seq = -1
    _metadata = None
    _pre_hooks = None
    _post_hooks = None
    _tensor_hooks = None
    _retain = None

    def name(self):
        return type(self).__name__

    @property
    def next_functions(self):
        return tuple((e[0], e[1]) if e is not None else (None, 0) for e in self._all_edges())

    def _all_edges(self):
        return self.edges

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
        from .._tensor import Tensor, wrap
        res = self.apply_grads([g._value if isinstance(g, Tensor) else g for g in grads], create_graph=False)
        return tuple(wrap(r) if r is not None and not isinstance(r, Tensor) else r for r in res)

    def release(self):
        pass


class RemovableHandle:
    _ids = itertools.count()

    def __init__(self, store):
        self._store = store
        self.id = next(self._ids)

    def remove(self):
        self._store.pop(self.id, None)

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
    fn = t.grad_fn
    if fn is not None:
        return (fn, t._out_idx)
    r = t._accum
    acc = r() if r is not None else None
    if acc is None:
        acc = AccumulateGrad(t)
        t._accum = weakref.ref(acc)
    return (acc, 0)


class AccumulateGrad(Node):
    def __init__(self, variable):
        self.variable = variable

    def name(self):
        return "torch::autograd::AccumulateGrad"


class OpNode(Node):
    linear = False

    def __init__(self, kernel, arrays, mask, edges, saved, n_out, linear=False):
        self.kernel = kernel
        self.arrays = arrays
        self.mask = mask
        self.edges = edges
        # [(version counter, version at record time, input index, weakref to the Tensor)] of the tensor
        # inputs of non-linear ops; saved outputs: (counter, 0, ~output index, (shape, dtype))
        self.saved = saved
        self.n_out = n_out
        self.seq = next(_seq)
        if linear:
            self.linear = True

    def name(self):
        t = type(self)
        if t is OpNode:
            return _node_name(self.kernel, self.arrays)
        n = t.__name__
        return "torch::autograd::CopySlices" if n == "CopySlices" else n   # torch qualifies this one

    def check_saved(self):
        if self.arrays is None:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved tensors after "
                "they have already been freed). Saved intermediate values of the graph are freed when you call "
                ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
                "graph a second time or if you need to access saved tensors after calling backward.")
        reads = None
        for vc, ver, i, ref in self.saved:
            now = vc[0] if len(vc) == 1 else vc[0] - vc[1]   # writes through .data do not count
            if now != ver:
                if i < 0:   # a saved output (exp's result): torch names this node as its producer
                    raise RuntimeError(_modified_message(_ShapeDtype(*ref), now, ver, None, (self, ~i)))
                if reads is None:   # which inputs the backward reads: decided only when one changed
                    from .saved import inputs_read
                    reads = inputs_read(self.kernel, self.mask, self.arrays)
                if i in reads:
                    raise RuntimeError(_modified_message(self.arrays[i], now, ver, ref()))

    def apply_grads(self, cts, create_graph):
        """cts: one cotangent per output (jax arrays, or Tensors when create_graph; None where no
        gradient flowed). Returns one grad per edge."""
        arrays = self.arrays
        if arrays is None or self.saved:
            self.check_saved()
        bk = self.kernel.backward_kernel(self.mask)
        if create_graph:
            return _apply_recorded(self, bk, arrays, cts)
        return bk.jfwd(*arrays, *cts)

    def _all_edges(self):
        it = iter(self.edges)
        full = [next(it) if m else None for m in self.mask]
        if self.kernel.name == "linear":
            return _linear_edges(self.name(), full)
        keep = self._shown_inputs()
        return full if keep is None else [e for e, k in zip(full, keep) if k]

    def _is_rsub(self):
        a = self.arrays
        return a is not None and len(a) > 1 and type(a[0]) in (int, float, complex)

    def _shown_inputs(self):
        """Which kernel inputs torch lists in next_functions: the float tensors and the Python-number
        operands (`a * 2`), not bool/int tensors (`where`'s condition, indices) nor attributes
        such as `alpha`. Only for registry kernels whose inputs are still held; else all."""
        key, arrays = self.kernel.key, self.arrays
        if arrays is None or not (isinstance(key, tuple) and len(key) >= 3 and hasattr(key[0], "operand_mask")):
            return None
        # torch wraps a Python number into a tensor input only for the arithmetic ops
        wrap_scalars = key[0].name in _SCALAR_INPUT_OPS and not self._is_rsub()
        opm = []
        for is_op, n in zip(key[0].operand_mask, key[2]):
            if n != -2:  # -2: a default baked into the trace, not a kernel input
                opm.extend([is_op] * (1 if n < 0 else n))
        if len(opm) != len(arrays):
            return None
        keep = []
        for a, is_op, m in zip(arrays, opm, self.mask):
            if m:
                keep.append(True)
            elif hasattr(a, "dtype"):
                keep.append(a.dtype.kind in "fcV")
            else:
                keep.append(wrap_scalars and bool(is_op) and type(a) in (int, float, complex))
        return keep

    def release(self):
        # torch frees saved tensors; linear ops save none, so their nodes can run again
        if not self.linear:
            self.arrays = None


class _ShownNode(Node):
    """A node of torch's graph where jtorch runs one fused op (linear's weight transpose and the
    reshapes around its addmm): listed in next_functions so graph walks see torch's structure
    (the blitz tutorial's loss.grad_fn.next_functions[0][0]...), never run by the engine."""

    def __init__(self, edges):
        self.edges = tuple(edges)


_SHOWN_CLASSES = {}


def _shown(name, *edges):
    """An edge to a display node `name` over `edges`; None where torch's graph has none (the
    wrapped input does not require grad)."""
    if all(e is None for e in edges):
        return None
    c = _SHOWN_CLASSES.get(name)
    if c is None:
        c = _SHOWN_CLASSES[name] = type(name, (_ShownNode,), {"__module__": "builtins"})
    return (c(edges), 0)


def _linear_edges(name, full):
    """torch's decomposition of F.linear(input, weight, bias), by the node's name: addmm(bias,
    input, weight.t()) on 2-D input, mm without bias, views (or unsqueeze / squeeze for 1-D)
    around them otherwise."""
    e_in, e_w = full[0], full[1]
    e_b = full[2] if len(full) > 2 else None
    w_t = _shown("TBackward0", e_w)
    if name == "AddmmBackward0":
        return [e_b, e_in, w_t]
    if name == "MmBackward0":
        return [e_in, w_t]
    if name == "ViewBackward0":
        return [_shown("AddmmBackward0", e_b, _shown("ViewBackward0", e_in), w_t)]
    if name == "UnsafeViewBackward0":
        return [_shown("MmBackward0", _shown("ViewBackward0", e_in), w_t)]
    if name == "SqueezeBackward4":
        return [_shown("MmBackward0", _shown("UnsqueezeBackward0", e_in), w_t)]
    return full


class _ShapeDtype:
    def __init__(self, shape, dtype):
        self.shape, self.dtype = shape, dtype


def _modified_message(a, version, expected, tensor, producer_of_output=None):
    """torch's message for a saved tensor modified in place: its type and shape, the node that
    now produces it (as torch names it: "Mul" for MulBackward0), the versions and a hint. A saved
    output is named as output `idx` of the node that saved it: `producer_of_output` (node, idx)."""
    from .. import _dtype as D
    dt = D._BY_NP.get(a.dtype) or D.from_np(a.dtype)
    # torch prints the legacy type name where one exists (torch.FloatTensor), else CPU<Name>Type
    tname = {"float32": "torch.FloatTensor", "float64": "torch.DoubleTensor", "float16": "torch.HalfTensor",
             "int64": "torch.LongTensor", "int32": "torch.IntTensor", "int16": "torch.ShortTensor",
             "int8": "torch.CharTensor", "uint8": "torch.ByteTensor", "bfloat16": "CPUBFloat16Type",
             "complex64": "CPUComplexFloatType", "complex128": "CPUComplexDoubleType",
             "bool": "CPUBoolType"}.get(dt.name, dt.name)
    producer = ""
    fn, idx = producer_of_output or (getattr(tensor, "grad_fn", None), getattr(tensor, "_out_idx", 0))
    if fn is not None:
        n = fn.name()
        if not n.startswith("torch::"):
            n = re.sub(r"Backward0?$", "", n).replace("Backward", "")
        producer = f", which is output {idx} of {n},"
    if anomaly.ENABLED[0]:
        hint = ("the backtrace further above shows the operation that failed to compute its gradient. The variable "
                "in question was changed in there or anywhere later. Good luck!")
    else:
        hint = ("enable anomaly detection to find the operation that failed to compute its gradient, with "
                "torch.autograd.set_detect_anomaly(True, check_nan=False).")
    return ("one of the variables needed for gradient computation has been modified by an inplace operation: "
            f"[{tname} [{', '.join(map(str, a.shape))}]]{producer} is at version {version}; expected "
            f"version {expected} instead. Hint: {hint}")


def _apply_recorded(node, bk, arrays, cts):
    """create_graph=True: run the backward kernel as a recorded op whose inputs are the forward
    inputs (edges: the forward node's edges) and the cotangents, so it can be differentiated."""
    from .._tensor import Tensor, wrap
    from .grad_mode import STATE
    ct_arrays = []
    ct_mask = []
    ct_edges = []
    for c in cts:
        if isinstance(c, Tensor):
            ct_arrays.append(c._value)
            if c._requires_grad:
                ct_mask.append(True)
                ct_edges.append(edge_of(c))
                continue
        else:
            ct_arrays.append(c)
        ct_mask.append(False)
    args = list(arrays) + ct_arrays
    res = bk.jfwd(*args)
    outs = [wrap(r) for r in res]
    if STATE.enabled:
        if node.linear:
            # a linear op's backward reads only the cotangents: its grads require grad through them
            # alone (torch: the grad of y.sum() is a plain ones tensor, a SinhBad-style custom
            # backward over it does not require grad)
            if not any(ct_mask):
                return outs
            mask = (False,) * len(arrays) + tuple(ct_mask)
            edges = ct_edges
        else:
            mask = tuple(node.mask) + tuple(ct_mask)
            edges = list(node.edges) + ct_edges
        new = (bk._node_cls or _class_for(bk, args, mask))(bk, args, mask, edges, (), len(outs))
        for i, o in enumerate(outs):
            o._requires_grad = True
            o.grad_fn = new
            o._out_idx = i
    return outs


_SCALAR_INPUT_OPS = frozenset(["mul", "div", "add", "sub", "true_divide", "remainder", "fmod"])


def _node_name(kernel, arrays, mask=None):
    """torch's autograd node name for a kernel called on these inputs (MulBackward0, ...)."""
    n = kernel.name
    if n.endswith("Backward"):
        return n
    key = kernel.key
    if type(key) is tuple and key and isinstance(key[0], str):
        if key[0] == "view":   # a view re-read from its base after an in-place write: torch's as_strided
            return "AsStridedBackward0"
        return _NAMES.get(n) or (_camel(n) + "Backward0")
    if n in ("_index_view", "_index_dyn"):
        return _index_view_name(kernel.key[1][0])
    if n == "sub" and arrays is not None and len(arrays) > 1 and type(arrays[0]) in (int, float, complex):
        return "RsubBackward1"
    if arrays is not None and n in ("pow", "clamp"):  # torch numbers its overloads by argument kinds
        arr = [hasattr(x, "dtype") for x in arrays]
        if n == "clamp":
            return "ClampBackward0" if any(arr[1:]) else "ClampBackward1"
        return "PowBackward2" if not arr[0] else ("PowBackward1" if len(arr) > 1 and arr[1] else "PowBackward0")
    if arrays is not None and n in _BY_INPUTS:
        return _BY_INPUTS[n](kernel, arrays, mask)
    if n in _BY_STATIC:
        opdef = kernel.key[0]
        r = _BY_STATIC[n](dict(zip(opdef.static, kernel.key[1])), kernel.key)
        if r is not None:
            return r
    return _NAMES.get(n) or (_camel(n) + "Backward0")


# ops whose torch node depends on the inputs' ranks, which one kernel serves several of (a Python
# number or a tensor operand, as in pow/rsub/clamp, already makes a separate kernel)
_PER_CALL = frozenset(["linear", "matmul", "cross_entropy", "nll_loss", "_interpolate"])
_CLASSES = {}


def node_class(name):
    """The grad_fn class named as torch's node (type(y.grad_fn).__name__ == 'MulBackward0'):
    made once per name, a subclass of OpNode so isinstance checks hold."""
    c = _CLASSES.get(name)
    if c is None:
        c = _CLASSES[name] = type(name, (OpNode,), {"__module__": "builtins", "__slots__": ()})
    return c


_PER_CALL_CLASSES = {}   # (kernel, operand ranks, grad mask) -> class, for the _PER_CALL ops


def _class_for(kernel, arrays, mask):
    c = kernel._node_cls
    if c is not None:
        return c
    if kernel.name not in _PER_CALL:
        c = kernel._node_cls = node_class(_node_name(kernel, arrays, mask))
        return c
    # the per-call names depend only on the operands' ranks (a missing operand: None) and the mask
    key = (kernel, tuple(getattr(a, "ndim", None) for a in arrays), tuple(mask))
    c = _PER_CALL_CLASSES.get(key)
    if c is None:
        c = _PER_CALL_CLASSES[key] = node_class(_node_name(kernel, arrays, mask))
    return c


def _linear_name(kernel, arrays, mask):
    # torch's linear: addmm (bias) or mm on 2-D input; 1-D and N-D inputs are reshaped around it
    bias = len(arrays) > 2 and hasattr(arrays[2], "dtype")
    nd = arrays[0].ndim
    if nd == 2:
        return "AddmmBackward0" if bias else "MmBackward0"
    if nd == 1 and not bias:
        return "SqueezeBackward4"
    return "ViewBackward0" if bias else "UnsafeViewBackward0"


def _matmul_name(kernel, arrays, mask):
    # torch's matmul dispatches on the ranks to dot/mv/mm, or folds batches and views back
    a, b = arrays[0].ndim, arrays[1].ndim
    if a <= 2 and b <= 2:
        return {(1, 1): "DotBackward0", (2, 1): "MvBackward0", (1, 2): "SqueezeBackward4"}.get((a, b), "MmBackward0")
    if a == 2 and mask is not None and mask[0]:   # the 2-D operand is expanded and copied
        return "CloneBackward0"
    return "UnsafeViewBackward0"


def _nll_name(kernel, arrays, mask):
    # torch's last node of the loss: 4-D inputs run nll_loss2d; cross_entropy's label smoothing
    # adds two terms, its probability targets end in a sum's negation (divided, for 'mean')
    opdef, static = kernel.key[0], kernel.key[1]
    if opdef.name == "cross_entropy":
        if arrays[1].shape == arrays[0].shape:
            return "DivBackward1" if static[opdef.static.index("reduction")] == "mean" else "NegBackward0"
        if static[opdef.static.index("label_smoothing")] > 0:
            return "AddBackward0"
    return "NllLoss2DBackward0" if arrays[0].ndim == 4 else "NllLossBackward0"


def _interpolate_name(kernel, arrays, mask):
    st = dict(zip(kernel.key[0].static, kernel.key[1]))
    mode, n = st["mode"], arrays[0].ndim - 2
    # jtorch.nn.functional passes bilinear/trilinear as "linear" and bicubic as "cubic"
    linear = {1: "Linear", 2: "Bilinear", 3: "Trilinear"}.get(n)
    base = {"nearest": "Nearest", "nearest-exact": "NearestExact", "linear": linear, "bilinear": "Bilinear",
            "cubic": "Bicubic", "bicubic": "Bicubic", "trilinear": "Trilinear"}.get(mode)
    if base is None or not 1 <= n <= 3:
        return "InterpolateBackward0"
    return f"Upsample{base}{n}D{'Aa' if st.get('antialias') else ''}Backward0"


def _squeeze_name(st, key):
    d = st["dim"]
    return "SqueezeBackward0" if d is None else ("SqueezeBackward2" if isinstance(d, tuple) else "SqueezeBackward1")


def _adaptive_avg_name(k):
    def name(st, key):
        o = st["output_size"]
        o = o if isinstance(o, tuple) else (o,) * k
        return "MeanBackward1" if all(v == 1 for v in o) else f"AdaptiveAvgPool{k}DBackward0"
    return name


def _pad_name(st, key):
    mode, k = st["mode"], len(st["pad"]) // 2
    return {"constant": "ConstantPadNdBackward0", "reflect": f"ReflectionPad{k}DBackward0",
            "replicate": f"ReplicationPad{k}DBackward0", "circular": "CopySlices"}.get(mode)


# ops whose torch node depends on static arguments (a dim given or not, a mode): fn(static by name, key)
_BY_STATIC = {
    "sum": lambda st, key: "SumBackward1" if st["dim"] is not None else None,   # the overload with a dim
    "mean": lambda st, key: "MeanBackward1" if st["dim"] is not None else None,
    "prod": lambda st, key: "ProdBackward1" if st["dim"] is not None else None,
    "squeeze": _squeeze_name,
    "div": lambda st, key: "DivBackward2" if st["rounding_mode"] is not None else None,
    "adaptive_avg_pool2d": _adaptive_avg_name(2), "adaptive_avg_pool3d": _adaptive_avg_name(3),
    "_pad": _pad_name,
    # a basic-index assignment writes through a view of the base (CopySlices); tensor indices: index_put
    "_index_put": lambda st, key: "IndexPutBackward0" if key[2][1] else "CopySlices",
}

_BY_INPUTS = {"_interpolate": _interpolate_name, "linear": _linear_name, "matmul": _matmul_name,
              "cross_entropy": _nll_name, "nll_loss": _nll_name}


def _index_view_name(spec):
    # torch applies basic indexing item by item; the last non-trivial step names the node
    for s in reversed(spec):
        if s is None:
            return "UnsqueezeBackward0"
        if isinstance(s, int) or s == "I":
            return "SelectBackward0"
        if isinstance(s, tuple) and (s[0] == "S" or (s[0] == "s" and s[1:] != (None, None, None))):
            return "SliceBackward0"
    return "AliasBackward0"


def _camel(name):
    return "".join(p[:1].upper() + p[1:] for p in name.strip("_").split("_"))


# torch's grad_fn names where the registry's op name differs from torch's autograd node.
_NAMES = {
    "matmul": "MmBackward0", "linear": "AddmmBackward0", "reshape": "ViewBackward0", "view": "ViewBackward0",
    "flatten": "ViewBackward0", "_index_adv": "IndexBackward0",
    "_index_put": "IndexPutBackward0", "_to_dtype": "ToCopyBackward0", "t": "TBackward0",
    "transpose": "TransposeBackward0", "rsub": "RsubBackward1", "pow": "PowBackward0",
    "_max_all": "MaxBackward1", "_min_all": "MinBackward1", "_max_dim": "MaxBackward0", "_min_dim": "MinBackward0",
    "square": "PowBackward0", "select": "SelectBackward0", "split": "SplitBackward0",
    "chunk": "SplitBackward0", "_mask_fill_where": "MaskedFillBackward0", "_fill": "FillBackward0",
    "_copy_from": "CopyBackwards", "CopySlices": "CopySlices", "_softmin": "SoftmaxBackward0",
    "softmax": "SoftmaxBackward0", "log_softmax": "LogSoftmaxBackward0", "cross_entropy": "NllLossBackward0",
    "layer_norm": "NativeLayerNormBackward0", "_batch_norm": "NativeBatchNormBackward0",
    "abs": "AbsBackward0", "gelu": "GeluBackward0", "silu": "SiluBackward0", "relu": "ReluBackward0",
    "sigmoid": "SigmoidBackward0", "tanh": "TanhBackward0", "mse_loss": "MseLossBackward0",
    "embedding": "EmbeddingBackward0", "_dropout_apply": "MulBackward0", "unbind": "UnbindBackward0",
    "expand": "ExpandBackward0", "broadcast_to": "ExpandBackward0", "permute": "PermuteBackward0",
    "squeeze": "SqueezeBackward1", "unsqueeze": "UnsqueezeBackward0", "clone": "CloneBackward0",
    "norm": "LinalgVectorNormBackward0", "linalg_norm": "LinalgVectorNormBackward0",
    "_bernoulli_sample_of": "BernoulliBackward0", "_poisson_sample_of": "PoissonBackward0",
    "linalg_matrix_norm": "LinalgVectorNormBackward0",
    "conv1d": "ConvolutionBackward0", "conv2d": "ConvolutionBackward0", "conv3d": "ConvolutionBackward0",
    "conv_transpose1d": "ConvolutionBackward0", "conv_transpose2d": "ConvolutionBackward0",
    "conv_transpose3d": "ConvolutionBackward0",
    # 1-d pooling runs the 2-d kernel on an unsqueezed input and squeezes the result
    "max_pool1d": "SqueezeBackward1", "max_pool2d": "MaxPool2DWithIndicesBackward0",
    "max_pool3d": "MaxPool3DWithIndicesBackward0", "avg_pool1d": "SqueezeBackward1",
    "avg_pool2d": "AvgPool2DBackward0", "avg_pool3d": "AvgPool3DBackward0", "adaptive_avg_pool1d": "SqueezeBackward1",
    "adaptive_max_pool1d": "SqueezeBackward1", "adaptive_max_pool2d": "AdaptiveMaxPool2DBackward0",
    "adaptive_max_pool3d": "AdaptiveMaxPool3DBackward0", "narrow": "SliceBackward0",
    "group_norm": "NativeGroupNormBackward0", "log1p": "Log1PBackward0", "outer": "MulBackward0",
    "_index_put_dyn": "CopySlices",
}


def record(kernel, arrays, leaves, outs, linear, inplace_self=None, nondiff=None):
    """Attach an OpNode to the outputs of a kernel call whose inputs need grad. Outputs at the
    positions in `nondiff` (and integer/bool outputs) stay out of the graph: requires_grad False."""
    from .._tensor import Tensor
    mask = []
    edges = []
    saved = []
    if linear:
        save_in = False
    else:
        # what torch's formula saves: the outputs an op declares (exp's result), and the inputs'
        # versions (every tensor input here; backward keeps those its vjp reads: autograd/saved.py)
        plan = kernel._reads.get(None)
        if plan is None:
            from .saved import output_plan
            plan = kernel._reads[None] = output_plan(kernel, arrays, len(outs))
        save_in = plan[1]
    for i, v in enumerate(leaves):
        if isinstance(v, Tensor):
            if v._requires_grad:
                mask.append(True)
                fn = v.grad_fn
                edges.append((fn, v._out_idx) if fn is not None else edge_of(v))
            else:
                mask.append(False)
            if save_in and v is not inplace_self:
                vc = v._vc
                if vc is None:
                    vc = v._vc = [0]
                saved.append((vc, vc[0] if len(vc) == 1 else vc[0] - vc[1], i, weakref.ref(v)))
        else:
            mask.append(False)
    if not linear and plan[0]:
        for j in plan[0]:
            o = outs[j]
            vc = o._vc = [0]   # a fresh output: version 0
            saved.append((vc, 0, ~j, (o._data.shape, o._data.dtype)))
    cls = kernel._node_cls or _class_for(kernel, arrays, mask)
    node = cls(kernel, arrays, tuple(mask), edges, saved, len(outs), linear)
    if anomaly.ENABLED[0]:
        anomaly.stamp(node)
    for i, o in enumerate(outs):
        if o._data.dtype.kind in "fcV" and (nondiff is None or i not in nondiff):  # bfloat16 is kind 'V'
            o._requires_grad = True
            o.grad_fn = node
            o._out_idx = i
    return node


class saved_tensors_hooks:
    """torch.autograd.graph.saved_tensors_hooks(pack, unpack). jtorch's nodes keep their inputs
    as immutable jax arrays (no separate saved-tensor objects), so the hooks are accepted and
    not called: results are the same as with identity-like hooks (offloading, checkpoints)."""

    def __init__(self, pack_hook, unpack_hook):
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class save_on_cpu(saved_tensors_hooks):
    def __init__(self, pin_memory=False, device_type="cuda"):
        super().__init__(lambda t: t, lambda t: t)


class disable_saved_tensors_hooks:
    def __init__(self, error_message):
        self.error_message = error_message

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def increment_version(tensor):
    tensor._bump()


def get_gradient_edge(tensor):
    return edge_of(tensor)
