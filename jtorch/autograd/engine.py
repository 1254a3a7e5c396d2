"""The backward engine: walk the graph from the roots in reverse topological order, sum
cotangents per node output, run each node's backward, and deliver grads to leaves (or, for
autograd.grad, to the requested inputs)."""
import heapq

import jax.numpy as jnp

from .graph import AccumulateGrad, edge_of
from . import anomaly
from .grad_mode import STATE


def _add(a, b, create_graph):
    if a is None:
        return b
    return a + b


def _as_tensor(g):
    from .._tensor import Tensor, wrap
    return g if isinstance(g, Tensor) else wrap(g)


def run_backward(roots, grads, retain_graph, create_graph, inputs=None, accumulate=True, allow_unused=True):
    """Returns the captured grads for `inputs` when accumulate=False (autograd.grad)."""
    from .._tensor import Tensor
    root_items = []
    for t, g in zip(roots, grads):
        if not t._requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
        if g is None:
            if t.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            g = jnp.ones(t._value.shape, t._value.dtype)
        elif isinstance(g, Tensor):
            if tuple(g.shape) != tuple(t.shape):
                raise RuntimeError(f"Mismatch in shape: grad_output[0] has a shape of {tuple(g.shape)} and "
                                   f"output[0] has a shape of {tuple(t.shape)}.")
            g = g if create_graph else g._value
        else:
            g = jnp.asarray(g)
        if create_graph:
            g = _as_tensor(g)
        root_items.append((edge_of(t), g))

    # Targets: where grads are captured instead of (or besides) accumulated.
    targets = {}
    if inputs is not None:
        for i, t in enumerate(inputs):
            if not t._requires_grad:
                raise RuntimeError("One of the differentiated Tensors does not require grad")
            targets.setdefault(edge_of(t), []).append(i)

    # Discover the graph: dependency counts for every reachable node.
    deps = {}
    order = []
    seen = set()
    stack = [e[0] for e, _ in root_items]
    for n in stack:
        seen.add(n)
    while stack:
        n = stack.pop()
        order.append(n)
        for e in n.edges:
            if e is None:
                continue
            c = e[0]
            deps[c] = deps.get(c, 0) + 1
            if c not in seen:
                seen.add(c)
                stack.append(c)

    needed = None
    if inputs is not None:
        # Only run nodes from which a target is reachable (torch prunes the same way).
        target_nodes = {e[0] for e in targets}
        needed = set()
        for n in reversed(_topo(order, deps)):
            if n in target_nodes or any(e is not None and e[0] in needed for e in n.edges):
                needed.add(n)

    buffers = {}
    for (node, idx), g in root_items:
        buf = buffers.get(node)
        if buf is None:
            buf = buffers[node] = [None] * getattr(node, "n_out", 1)
        buf[idx] = _add(buf[idx], g, create_graph)

    captured = [None] * (len(inputs) if inputs is not None else 0)
    ready = [(-getattr(n, "seq", -1), id(n), n) for n in buffers if deps.get(n, 0) == 0]
    heapq.heapify(ready)
    prev_enabled = STATE.enabled
    STATE.enabled = bool(create_graph)
    try:
        while ready:
            _, _, node = heapq.heappop(ready)
            cts = buffers.pop(node, None)
            if cts is None:
                continue
            cts = _run_tensor_hooks(node, cts, create_graph)
            if targets:
                for idx, c in enumerate(cts):
                    for slot in targets.get((node, idx), ()):
                        captured[slot] = c
            if isinstance(node, AccumulateGrad):
                if accumulate and (inputs is None or (node, 0) in targets):
                    _accumulate(node.variable, cts[0], create_graph)
                continue
            if needed is not None and node not in needed:
                grads = [None] * len(node.edges)
            else:
                pre = node.__dict__.get("_pre_hooks")
                if pre:
                    for fn in list(pre.values()):
                        r = fn(tuple(_as_tensor(c) if c is not None else None for c in cts))
                        if r is not None:
                            cts = [x if create_graph else (x._value if x is not None else None) for x in r]
                grads = node.apply_grads(cts, create_graph)
                post = node.__dict__.get("_post_hooks")
                if post:
                    for fn in list(post.values()):
                        r = fn(tuple(_as_tensor(g) if g is not None else None for g in grads),
                               tuple(_as_tensor(c) if c is not None else None for c in cts))
                        if r is not None:
                            grads = [x if create_graph else (x._value if x is not None else None) for x in r]
                if anomaly.ENABLED[0] and anomaly.CHECK_NAN[0]:
                    anomaly.check(node, grads)
                if not retain_graph:
                    node.release()
            for e, g in zip(node.edges, grads):
                if e is None:
                    continue
                child, idx = e
                if g is not None:
                    buf = buffers.get(child)
                    if buf is None:
                        buf = buffers[child] = [None] * getattr(child, "n_out", 1)
                    buf[idx] = _add(buf[idx], g, create_graph)
                d = deps[child] - 1
                deps[child] = d
                if d == 0 and child in buffers:
                    heapq.heappush(ready, (-getattr(child, "seq", -1), id(child), child))
    finally:
        STATE.enabled = prev_enabled
    if inputs is not None:
        return [(_as_tensor(c) if c is not None else None) for c in captured]
    return None


def _topo(order, deps):
    """Reverse-topological (roots first) ordering of the discovered nodes."""
    d = dict(deps)
    indeg = {n: d.get(n, 0) for n in order}
    out = []
    q = [n for n in order if indeg[n] == 0]
    while q:
        n = q.pop()
        out.append(n)
        for e in n.edges:
            if e is None:
                continue
            indeg[e[0]] -= 1
            if indeg[e[0]] == 0:
                q.append(e[0])
    return out


def _run_tensor_hooks(node, cts, create_graph):
    hooks = node.__dict__.get("_tensor_hooks")
    if hooks:
        cts = list(cts)
        for idx, fns in hooks.items():
            for fn in list(fns.values()):
                if cts[idx] is None:
                    continue
                r = fn(_as_tensor(cts[idx]))
                if r is not None:
                    cts[idx] = r if create_graph else r._value
    ret = node.__dict__.get("_retain")
    if ret:
        for idx, ref in ret.items():
            t = ref()
            if t is not None and cts[idx] is not None:
                g = _as_tensor(cts[idx])
                t.grad = g if t.grad is None else t.grad + g
    return cts


def _accumulate(t, g, create_graph):
    from .._tensor import Tensor, wrap
    if isinstance(g, Tensor) and not create_graph:
        g = g._value
    if t.grad is None:
        t.grad = g if isinstance(g, Tensor) else wrap(g)
    elif create_graph or t.grad._requires_grad:
        t.grad = t.grad + _as_tensor(g)
    else:
        gt = t.grad
        gt._set_value(gt._value + (g._value if isinstance(g, Tensor) else g))
    post = t.__dict__.get("_post_acc_hooks")
    if post:
        for fn in list(post.values()):
            fn(t)
