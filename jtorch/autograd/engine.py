"""The backward engine: walk the graph from the roots in reverse topological order, sum
cotangents per node output, run each node's backward, and deliver grads to leaves (or, for
autograd.grad, to the requested inputs).

Ordering: every node gets a sequence number when it is created, and a node is always created
after the nodes its edges point to, so running nodes by decreasing sequence number is a reverse
topological order — no dependency counting needed. AccumulateGrad nodes (no number) run right
after the last node that feeds them, as in torch.

Speed: the engine does no eager jnp work on the common path (each eager jnp op costs ~15 µs):
the implicit ones-gradient is a cached constant, cotangent sums and `.grad` accumulation use one
cached jitted add, and each node's backward is one cached jitted vjp call with arrays only.
"""
import os

import jax
import jax.numpy as jnp

from .graph import AccumulateGrad, OpNode, edge_of
from . import anomaly
from .grad_mode import STATE

_INF = float("inf")
_jadd = jax.jit(lambda a, b: a + b)
_ONES = {}


def _ones_like(a):
    """A cached ones array like `a` (jax arrays are immutable, so sharing one is safe)."""
    if isinstance(a, jax.core.Tracer):
        return jnp.ones(a.shape, a.dtype)
    key = (a.shape, a.dtype, a.sharding)
    o = _ONES.get(key)
    if o is None:
        if len(_ONES) > 64:
            _ONES.clear()
        o = jnp.ones(a.shape, a.dtype)
        if a.committed:  # an uncommitted seed stays uncommitted: it must combine with arrays on any devices
            o = jax.device_put(o, a.sharding)
        _ONES[key] = o
    return o


def _add(a, b, create_graph):
    if create_graph:
        return _as_tensor(a) + _as_tensor(b)
    return _jadd(a, b)


def _as_tensor(g):
    from .._tensor import Tensor, wrap
    return g if isinstance(g, Tensor) else wrap(g)


def _size_str(shape):
    return f"torch.Size([{', '.join(map(str, shape))}])"


def _root_grads(roots, grads, create_graph):
    from .._tensor import Tensor, wrap
    buffers = {}
    for i, (t, g) in enumerate(zip(roots, grads)):
        if not t._requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        a = t._value
        if g is None:
            if a.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if a.dtype.kind == "c":
                raise RuntimeError(f"grad can be implicitly created only for real scalar outputs but got "
                                   f"{t.dtype}")
            g = _ones_like(a)
            if create_graph:
                g = wrap(g)
        else:
            if isinstance(g, Tensor):
                ga = g._value
            else:
                ga = jnp.asarray(g, a.dtype)
                g = wrap(ga)
            if ga.shape != a.shape:
                raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of {_size_str(ga.shape)} and "
                                   f"output[{i}] has a shape of {_size_str(a.shape)}.")
            if ga.dtype != a.dtype and not create_graph:
                ga = ga.astype(a.dtype)
            g = g if create_graph else ga
        node, idx = edge_of(t)
        buf = buffers.get(node)
        if buf is None:
            buf = buffers[node] = [None] * node.n_out
        buf[idx] = g if buf[idx] is None else _add(buf[idx], g, create_graph)
    return buffers


def run_backward(roots, grads, retain_graph, create_graph, inputs=None, accumulate=True, allow_unused=True):
    """Backpropagate from `roots`. With `inputs`, returns their grads (autograd.grad, or
    backward(inputs=...) which accumulates only into those)."""
    create_graph = bool(create_graph)
    buffers = _root_grads(roots, grads, create_graph)

    # Discover the reachable graph, giving AccumulateGrad nodes a slot after their last feeder.
    key = {}
    stack = []
    for n in buffers:
        key[n] = n.seq if n.seq >= 0 else _INF
        stack.append(n)
    while stack:
        n = stack.pop()
        s = n.seq
        for e in n.edges:
            if e is None:
                continue
            c = e[0]
            k = key.get(c)
            if c.seq >= 0:
                if k is None:
                    key[c] = c.seq
                    stack.append(c)
            elif k is None or s - 0.5 < k:
                if k is None:
                    stack.append(c)
                key[c] = s - 0.5
    order = sorted(key, key=key.__getitem__, reverse=True) if len(key) > 1 else list(key)

    if _FUSE_AFTER is not None and inputs is None and not create_graph and not anomaly.ENABLED[0] \
            and len(order) <= _FUSE_MAX_NODES:
        if _try_fused(order, buffers, retain_graph):
            return None

    targets = None
    needed = None
    if inputs is not None:
        targets = {}
        for i, t in enumerate(inputs):
            if not t._requires_grad:
                raise RuntimeError("One of the differentiated Tensors does not require grad")
            targets.setdefault(edge_of(t), []).append(i)
        # Only run nodes from which a target is reachable (torch prunes the same way).
        tnodes = {e[0] for e in targets}
        needed = set()
        for n in reversed(order):
            if n in tnodes or any(e is not None and e[0] in needed for e in n.edges):
                needed.add(n)
    captured = [None] * (len(inputs) if inputs is not None else 0)

    prev_enabled = STATE.enabled
    STATE.enabled = create_graph
    try:
        for node in order:
            cts = buffers.pop(node, None)
            if cts is None:
                continue
            if needed is not None and node not in needed:
                continue
            is_acc = type(node) is AccumulateGrad
            if node._tensor_hooks or node._retain or (is_acc and node.variable._leaf_hooks):
                cts = _run_tensor_hooks(node, cts, create_graph, is_acc)
            if targets is not None:
                for idx, c in enumerate(cts):
                    slots = targets.get((node, idx))
                    if slots:
                        for slot in slots:
                            captured[slot] = c
                            if accumulate and c is not None:
                                _accumulate(inputs[slot], c, create_graph)
            if is_acc:
                if accumulate and inputs is None and cts[0] is not None:
                    _accumulate(node.variable, cts[0], create_graph)
                continue
            if needed is not None and not any(e is not None and e[0] in needed for e in node.edges):
                continue  # a captured input with no other input below it: torch does not run it
            if node._pre_hooks:
                for fn in list(node._pre_hooks.values()):
                    r = fn(tuple(_as_tensor(c) if c is not None else None for c in cts))
                    if r is not None:
                        cts = [_unwrap(x, create_graph) for x in r]
            if anomaly.ENABLED[0]:
                grads = anomaly.apply_grads(node, cts, create_graph)
            else:
                grads = node.apply_grads(cts, create_graph)
            if node._post_hooks:
                for fn in list(node._post_hooks.values()):
                    r = fn(tuple(_as_tensor(g) if g is not None else None for g in grads),
                           tuple(_as_tensor(c) if c is not None else None for c in cts))
                    if r is not None:
                        grads = [_unwrap(x, create_graph) for x in r]
            if anomaly.ENABLED[0] and anomaly.CHECK_NAN[0]:
                anomaly.check(node, grads)
            if not retain_graph:
                node.release()
            for e, g in zip(node.edges, grads):
                if g is None or e is None:
                    continue
                child, idx = e
                buf = buffers.get(child)
                if buf is None:
                    buf = buffers[child] = [None] * child.n_out
                    buf[idx] = g
                elif buf[idx] is None:
                    buf[idx] = g
                else:
                    buf[idx] = _add(buf[idx], g, create_graph)
    finally:
        STATE.enabled = prev_enabled
    if inputs is not None:
        return [(_as_tensor(c) if c is not None else None) for c in captured]
    return None


def _unwrap(x, create_graph):
    if x is None or create_graph:
        return x
    from .._tensor import Tensor
    return x._value if isinstance(x, Tensor) else x


def _run_tensor_hooks(node, cts, create_graph, is_acc):
    cts = list(cts)
    hooks = {0: node.variable._leaf_hooks} if is_acc else node._tensor_hooks
    if hooks:
        for idx, fns in hooks.items():
            if not fns:
                continue
            for fn in list(fns.values()):
                if cts[idx] is None:
                    continue
                r = fn(_as_tensor(cts[idx]))
                if r is not None:
                    cts[idx] = _unwrap(r, create_graph)
    ret = node._retain
    if ret:
        for idx, ref in ret.items():
            t = ref()
            if t is not None and cts[idx] is not None:
                g = _as_tensor(cts[idx])
                if not create_graph:
                    g = g.detach() if g._requires_grad else g
                t._grad = g if t._grad is None else t._grad + g
    return cts


def _accumulate(t, g, create_graph):
    """AccumulateGrad: .grad = g (first time) or .grad += g (in place; out of place under create_graph)."""
    from .._tensor import Tensor, wrap
    cur = t._grad
    if create_graph:
        g = _as_tensor(g)
        t._grad = g if cur is None else cur + g
    else:
        if isinstance(g, Tensor):
            g = g._value
        if cur is None:
            t._grad = wrap(g)
        elif cur._requires_grad:
            t._grad = wrap(_jadd(cur._value, g))
        else:
            cur._set_value(_jadd(cur._value, g))
    post = t._post_acc_hooks
    if post:
        for fn in list(post.values()):
            fn(t)


# ---------------------------------------------------------------------------- fused backward
# A training loop builds the same graph every step. After a graph (topology, kernels, shapes)
# has been seen _FUSE_AFTER times, its whole backward -- every node's vjp, the cotangent sums and
# the .grad accumulation -- runs as ONE cached jitted program instead of one dispatch per node.
# Graphs with hooks, retain_grad, custom Functions, anomaly mode, create_graph or inputs= take
# the node-by-node path above.
# Opt-in (JTORCH_FUSED_BACKWARD=1): compiling costs ~0.1-1 s per distinct graph, and on CPU it
# measured no faster than the per-node path (docs/benchmarks.md), whose dispatch overlaps the
# compute; it is meant for accelerators, where per-kernel launch overhead dominates.
_FUSE_AFTER = 10 if os.environ.get("JTORCH_FUSED_BACKWARD", "0") == "1" else None  # None: off
_FUSE_MAX_NODES = 600
_FUSED = {}


def _try_fused(order, buffers, retain_graph):
    pos = {n: i for i, n in enumerate(order)}
    sig = []
    arrays = []
    shapes = []
    accs = []
    curs = []
    for n in order:
        t = type(n)
        if t.__base__ is OpNode or t is OpNode:   # registry-op nodes (named subclasses, graph.node_class)
            if n._tensor_hooks or n._retain or n._pre_hooks or n._post_hooks or n.arrays is None:
                return False
            if n.saved:
                n.check_saved()
            sig.append((n.kernel.backward_kernel(n.mask), n.n_out, tuple([(pos[e[0]], e[1]) for e in n.edges])))
            arrs = n.arrays
            arrays.append(arrs)
            for a in arrs:
                sh = getattr(a, "shape", None)
                shapes.append(type(a) if sh is None else (sh, a.dtype))
        elif t is AccumulateGrad:
            v = n.variable
            if v._leaf_hooks or n._tensor_hooks or n._pre_hooks or n._post_hooks:
                return False
            cur = v._grad
            sig.append(cur is not None)
            accs.append((v, cur))
            if cur is not None:
                a = cur._value
                curs.append(a)
                shapes.append((a.shape, a.dtype))
        else:
            return False
    root_spec = []
    roots = []
    for node, buf in buffers.items():
        root_spec.append((pos[node], tuple([c is not None for c in buf])))
        roots.append(buf)
        for c in buf:
            if c is not None:
                shapes.append((c.shape, c.dtype))
    key = (tuple(sig), tuple(root_spec), tuple(shapes))
    ent = _FUSED.get(key)
    if ent is None:
        if len(_FUSED) > 512:
            _FUSED.clear()
        _FUSED[key] = [1, None]
        return False
    if ent[1] is None:
        ent[0] += 1
        if ent[0] < _FUSE_AFTER:
            return False
        ent[1] = jax.jit(_make_fused(key[0], key[1]))
    new = ent[1](arrays, roots, curs)
    buffers.clear()
    if not retain_graph:
        for n in order:
            n.release()
    from .._tensor import wrap
    for (v, cur), g in zip(accs, new):
        if g is None:
            continue
        if cur is None or cur._requires_grad:
            v._grad = wrap(g)
        else:
            cur._set_value(g)
        post = v._post_acc_hooks
        if post:
            for fn in list(post.values()):
                fn(v)
    return True


def _make_fused(sig, root_spec):
    n_outs = [1 if type(s) is bool else s[1] for s in sig]

    def run(arrays, roots, curs):
        bufs = [None] * len(sig)
        for (p, _), vals in zip(root_spec, roots):
            bufs[p] = list(vals)
        out = []
        ai = ci = 0
        for i, s in enumerate(sig):
            b = bufs[i]
            if type(s) is bool:
                g = b[0] if b is not None else None
                if s:
                    cur = curs[ci]
                    ci += 1
                    g = None if g is None else cur + g
                out.append(g)
                continue
            bk, _, edges = s
            arrs = arrays[ai]
            ai += 1
            if b is None:
                continue
            grads = bk.fn(*arrs, *b)
            for (c, idx), g in zip(edges, grads):
                bc = bufs[c]
                if bc is None:
                    bc = bufs[c] = [None] * n_outs[c]
                bc[idx] = g if bc[idx] is None else bc[idx] + g
        return out
    return run
