"""jtorch.func (torch.func): composable function transforms, mapped straight onto jax's.

Each transform functionalizes the user's call: inside the jax transform the traced arrays are
wrapped as jtorch Tensors, the user's function runs with graph recording off (jax does the
differentiation / batching, not the eager autograd engine), and the results are unwrapped.
Inputs and outputs may be pytrees (tuples, lists, dicts) of Tensors, as in torch.func.
A transform call whose inputs (or closed-over Tensors) require grad is recorded in the eager graph
as one node (`_differentiable`), so its results backpropagate like torch.func's.
"""
import contextlib
import functools
import types

import jax
import jax.numpy as jnp
import numpy as np

from .._tensor import Tensor, wrap
from ..autograd.grad_mode import STATE
from .._ops.kernel import Kernel, _make_vjp, conj_complex, torch_pullback

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "vmap", "functional_call",
           "stack_module_state", "linearize"]


def _is_t(x):
    return isinstance(x, Tensor)


class _KeepOrder(dict):
    """A dict as a jax pytree node that keeps insertion order: jax flattens dicts in sorted key
    order and rebuilds them sorted, while torch.func's pytrees keep the user's order (a grad of
    named_parameters() comes back in named_parameters() order)."""
    __slots__ = ()


jax.tree_util.register_pytree_node(
    _KeepOrder, lambda d: (tuple(d.values()), tuple(d.keys())),
    lambda keys, vals: _KeepOrder(zip(keys, vals)))


def _keep(tree):
    """tree with every plain dict replaced by a _KeepOrder (leaves untouched)."""
    return jax.tree_util.tree_map(
        lambda x: _KeepOrder((k, _keep(v)) for k, v in x.items()) if type(x) is dict else x,
        tree, is_leaf=lambda x: type(x) is dict or _is_t(x))


def _unkeep(tree):
    """The inverse of _keep: plain dicts again, in the kept order."""
    return jax.tree_util.tree_map(
        lambda x: {k: _unkeep(v) for k, v in x.items()} if type(x) is _KeepOrder else x,
        tree, is_leaf=lambda x: type(x) is _KeepOrder or _is_t(x))


def _to_arrays(tree):
    return jax.tree_util.tree_map(lambda x: x._value if _is_t(x) else x, _keep(tree), is_leaf=_is_t)


def _to_tensors(tree):
    return _unkeep(jax.tree_util.tree_map(
        lambda x: wrap(x) if isinstance(x, (jax.Array, jax.core.Tracer)) else x, tree))


@contextlib.contextmanager
def _no_record():
    prev = STATE.enabled
    STATE.enabled = False
    try:
        yield
    finally:
        STATE.enabled = prev


class _TransformKernel(Kernel):
    """A whole transform call as one autograd node. Not jitted (the user's function changes from
    call to call). With `diff` (the input positions that require grad) the forward runs once under
    jax.vjp, so a first-order backward applies the stored pullback without running the user's
    function again (no repeated side effects, no second trace); only a higher-order backward
    differentiates `fn` itself (_make_vjp), which recomputes."""
    __slots__ = ("_pull", "_diff", "_outs")

    def __init__(self, fn, name, diff=None):
        super().__init__(("func", name), fn, name)
        self._pull = None
        self._diff = diff
        self._outs = None
        self.jfwd = fn if diff is None else self._forward

    def _forward(self, *arrays):
        diff = self._diff

        def f(*d):
            full = list(arrays)
            for i, v in zip(diff, d):
                full[i] = v
            return self.fn(*full)
        out, self._pull = jax.vjp(f, *[arrays[i] for i in diff])
        self._outs = [(o.shape, o.dtype) for o in out]
        return out

    def _pulled(self, mask):
        pos = [self._diff.index(i) for i, m in enumerate(mask) if m]
        n, pull, outs = len(mask), self._pull, self._outs

        def apply(*args):
            cts = []
            for (shape, dtype), c in zip(outs, args[n:]):
                if not jnp.issubdtype(dtype, jnp.inexact):
                    cts.append(np.zeros(shape, jax.dtypes.float0))
                elif c is None:
                    cts.append(jnp.zeros(shape, dtype))
                else:
                    cts.append(c.astype(dtype) if c.dtype != dtype else c)
            grads = torch_pullback(pull, tuple(cts))
            return tuple(grads[j] for j in pos)
        return apply

    def backward_kernel(self, mask):
        k = self._bwd.get(mask)
        if k is None:
            k = self._bwd[mask] = _TransformKernel(_make_vjp(self.fn, mask), self.name + "Backward")
            if self._pull is not None and all(i in self._diff for i, m in enumerate(mask) if m):
                k.jfwd = self._pulled(mask)   # same values; k.fn stays differentiable for create_graph
        return k


def _captured_tensors(obj, out, seen, depth=0):
    """The Tensors a function closes over: closure cells, default arguments, referenced module
    globals, bound methods' self, functools.partial arguments, and nn.Module parameters, searched
    a few levels deep (a transform wrapping another one closes over the inner function)."""
    if depth > 6 or id(obj) in seen:
        return
    seen.add(id(obj))
    if _is_t(obj):
        out.append(obj)
        return
    from ..nn.modules.module import Module
    if isinstance(obj, Module):
        out.extend(obj.parameters())
        return
    if isinstance(obj, (list, tuple)):
        for v in obj[:64]:
            if _is_t(v) or isinstance(v, Module):
                _captured_tensors(v, out, seen, depth + 1)
        return
    if isinstance(obj, functools.partial):
        for v in (obj.func, *obj.args, *obj.keywords.values()):
            _captured_tensors(v, out, seen, depth + 1)
        return
    if isinstance(obj, types.MethodType):
        _captured_tensors(obj.__self__, out, seen, depth + 1)
        _captured_tensors(obj.__func__, out, seen, depth + 1)
        return
    if isinstance(obj, types.FunctionType):
        for v in (*(obj.__defaults__ or ()), *(obj.__kwdefaults__ or {}).values()):   # def f(x, w=w)
            if _is_t(v) or isinstance(v, Module):
                _captured_tensors(v, out, seen, depth + 1)
        for cell in obj.__closure__ or ():
            try:
                v = cell.cell_contents
            except ValueError:   # an empty cell
                continue
            _captured_tensors(v, out, seen, depth + 1)
        g = obj.__globals__
        for name in obj.__code__.co_names:
            v = g.get(name)
            if v is not None and (_is_t(v) or isinstance(v, (Module, types.FunctionType, list, tuple))):
                _captured_tensors(v, out, seen, depth + 1)


def _differentiable(name, call, func):
    """Connect a transform to eager autograd, as torch.func's transforms are: when a Tensor the
    call uses requires grad -- an argument (MAML's meta-parameters passed to vmap(task_loss)) or a
    Tensor `func` closes over (vmap(model)(x), jacrev(model)(x) in a training loss) -- the call is
    recorded as one node whose backward is the vjp of the whole (jax-traced) call. Closed-over
    Tensors become inputs of that trace by swapping their data for the traced value while it runs."""
    from .._ops.dispatch import run_kernel_recorded
    from ..autograd import graph

    def wrapper(*args, **kwargs):
        if not STATE.enabled:
            return call(*args, **kwargs)
        leaves, treedef = jax.tree_util.tree_flatten(_keep((args, kwargs)), is_leaf=_is_t)
        tpos = [i for i, x in enumerate(leaves) if _is_t(x)]
        found = []
        _captured_tensors(func, found, set())
        arg_ids = {id(leaves[i]) for i in tpos}
        captured, ids = [], set()
        for t in found:   # leaf tensors with data only: a view's data is derived from its base's; a
            # meta module (the ensembling recipe's functional_call skeleton) has none
            if t._requires_grad and t._base is None and id(t) not in arg_ids and id(t) not in ids \
                    and isinstance(t._data, jax.Array) and not isinstance(t._data, jax.core.Tracer):
                ids.add(id(t))
                captured.append(t)
        if not captured and not any(leaves[i]._requires_grad for i in tpos):
            return call(*args, **kwargs)
        out_struct = []
        n = len(tpos)

        def fn(*arrays):
            full = list(leaves)
            for i, a in zip(tpos, arrays):
                full[i] = wrap(a)
            a, kw = _unkeep(jax.tree_util.tree_unflatten(treedef, full))
            saved = [t._data for t in captured]
            try:
                for t, v in zip(captured, arrays[n:]):
                    t._data = v
                with _no_record():
                    out = call(*a, **kw)
            finally:
                for t, v in zip(captured, saved):
                    t._data = v
            flat, tdef = jax.tree_util.tree_flatten(_keep(out), is_leaf=_is_t)
            out_struct[:] = [tdef, flat]
            return tuple(x._value for x in flat if _is_t(x))

        from ..nn.utils.stateless import SWAPPED_LOG
        SWAPPED_LOG.append(set())
        try:
            items = [leaves[i] for i in tpos] + captured
            arrays = [t._value for t in items]
            if any(type(a) is jax.ShapeDtypeStruct for a in arrays):   # meta inputs: shapes only
                res = run_kernel_recorded(_TransformKernel(fn, name), items)
            else:
                kern = _TransformKernel(fn, name, [i for i, t in enumerate(items) if t._requires_grad])
                res = [wrap(r) for r in kern.jfwd(*arrays)]
                # not linear: the backward reads the inputs, so a create_graph backward depends on them
                graph.record(kern, arrays, items, res, False)
        finally:
            swapped = SWAPPED_LOG.pop()
        res = res if isinstance(res, list) else [res]
        if all(id(t) in swapped for t in captured) and not any(leaves[i]._requires_grad for i in tpos):
            # the per-sample-gradient recipe: functional_call(model, detached_params) replaced every
            # captured parameter, so (as in torch) the result does not require grad
            res = [r.detach() for r in res]
        res = iter(res)
        tdef, flat = out_struct
        return _unkeep(jax.tree_util.tree_unflatten(tdef, [next(res) if _is_t(x) else x for x in flat]))
    return wrapper


def _argnums_tuple(argnums, n):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums:
        raise RuntimeError("argnums must be non-empty")
    for i in nums:
        if not isinstance(i, int) or not -n <= i < n:
            raise RuntimeError(f"Got argnum={i}, but only {n} positional inputs")
    return tuple(i % n for i in nums)


def _pure(func, args, kwargs, nums, has_aux, check=None):
    """A jax function of the differentiated args (as arrays) running `func` on Tensors."""
    def f(*diff):
        a = list(args)
        for i, v in zip(nums, diff):
            a[i] = _to_tensors(v)
        with _no_record():
            out = func(*a, **kwargs)
        if has_aux:
            if not isinstance(out, tuple) or len(out) != 2:
                raise RuntimeError("has_aux=True: the function must return a tuple (output, aux)")
            out, aux = out
            if check is not None:
                check(out)
            return _to_arrays(out), _to_arrays(aux)
        if check is not None:
            check(out)
        return _to_arrays(out)
    return f


def _scalar_check(name):
    def check(out):
        if not _is_t(out):
            raise RuntimeError(f"{name}(f)(*args): Expected f(*args) to return a Tensor, got {type(out)}")
        if out.ndim != 0:
            raise RuntimeError(f"{name}(f)(*args): Expected f(*args) to return a scalar Tensor, got tensor with "
                               f"{out.ndim} dims. Maybe you wanted to use the vjp or jacrev APIs instead?")
    return check


def grad_and_value(func, argnums=0, has_aux=False):
    """Returns (grad, value) or, with has_aux, (grad, (value, aux))."""
    def wrapper(*args, **kwargs):
        nums = _argnums_tuple(argnums, len(args))
        f = _pure(func, args, kwargs, nums, has_aux, _scalar_check("grad_and_value"))
        diff = [_to_arrays(args[i]) for i in nums]
        val, g = jax.value_and_grad(f, argnums=tuple(range(len(nums))), has_aux=has_aux)(*diff)
        g = _to_tensors(jax.tree_util.tree_map(conj_complex, g))  # torch's complex convention
        g = g[0] if isinstance(argnums, int) else tuple(g)
        if has_aux:
            v, aux = val
            return g, (_to_tensors(v), _to_tensors(aux))
        return g, _to_tensors(val)
    return _differentiable("grad", wrapper, func)


def grad(func, argnums=0, has_aux=False):
    """torch.func.grad: the gradient of a scalar-valued function w.r.t. args[argnums]."""
    gv = grad_and_value(func, argnums, has_aux)

    def wrapper(*args, **kwargs):
        g, val = gv(*args, **kwargs)
        return (g, val[1]) if has_aux else g
    return wrapper


def vjp(func, *primals, has_aux=False):
    """Returns (output, vjp_fn[, aux]); vjp_fn(cotangents) gives one grad per primal (a tuple)."""
    nums = tuple(range(len(primals)))
    f = _pure(func, primals, {}, nums, has_aux)
    res = jax.vjp(f, *[_to_arrays(p) for p in primals], has_aux=has_aux)
    out, pull = res[0], res[1]

    def vjp_fn(*cts):
        ct = cts[0] if len(cts) == 1 else cts
        return tuple(_to_tensors(torch_pullback(pull, _to_arrays(ct))))
    if has_aux:
        return _to_tensors(out), vjp_fn, _to_tensors(res[2])
    return _to_tensors(out), vjp_fn


def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    """Returns (output, jvp_out[, aux])."""
    if not isinstance(primals, tuple) or not isinstance(tangents, tuple):
        raise RuntimeError("jvp(f, primals, tangents): Expected primals and tangents to be tuples")
    if len(primals) != len(tangents):
        raise RuntimeError("jvp(f, primals, tangents): Expected primals and tangents to have the same length")
    nums = tuple(range(len(primals)))
    f = _pure(func, primals, {}, nums, has_aux)
    ps = tuple(_to_arrays(p) for p in primals)
    ts = tuple(_to_arrays(t) for t in tangents)
    if has_aux:
        out, tout, aux = jax.jvp(f, ps, ts, has_aux=True)
        return _to_tensors(out), _to_tensors(tout), _to_tensors(aux)
    out, tout = jax.jvp(f, ps, ts)
    return _to_tensors(out), _to_tensors(tout)


def _jac(jaxfn, func, argnums, has_aux):
    def wrapper(*args, **kwargs):
        nums = _argnums_tuple(argnums, len(args))
        f = _pure(func, args, kwargs, nums, has_aux)
        diff = [_to_arrays(args[i]) for i in nums]
        res = jaxfn(f, argnums=tuple(range(len(nums))), has_aux=has_aux)(*diff)
        jac, aux = res if has_aux else (res, None)
        # jax gives, per output leaf, a tuple over argnums; torch drops the tuple for an int argnums
        jac = jax.tree_util.tree_map(lambda t: t[0], jac, is_leaf=lambda x: isinstance(x, tuple)) \
            if isinstance(argnums, int) else jac
        jac = _to_tensors(jac)
        return (jac, _to_tensors(aux)) if has_aux else jac
    return _differentiable(jaxfn.__name__, wrapper, func)


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None, _preallocate_and_copy=False):
    return _jac(jax.jacrev, func, argnums, has_aux)


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    return _jac(jax.jacfwd, func, argnums, has_aux)


def hessian(func, argnums=0):
    return jacfwd(jacrev(func, argnums), argnums)


def linearize(func, *primals):
    nums = tuple(range(len(primals)))
    f = _pure(func, primals, {}, nums, False)
    out, lin = jax.linearize(f, *[_to_arrays(p) for p in primals])

    def jvp_fn(*tangents):
        return _to_tensors(lin(*[_to_arrays(t) for t in tangents]))
    return _to_tensors(out), jvp_fn


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """torch.func.vmap: inside, func sees per-example Tensors (the batch dim removed)."""
    def wrapper(*args, **kwargs):
        dims = in_dims
        if isinstance(dims, list):
            dims = tuple(dims)
        if isinstance(dims, tuple) and len(dims) != len(args):
            raise ValueError(f"vmap(f, in_dims={in_dims}, ...)(<inputs>): in_dims is not compatible with the "
                             f"structure of `inputs`. in_dims has structure {len(dims)} but inputs has "
                             f"{len(args)} elements")
        per_arg = dims if isinstance(dims, tuple) else (dims,) * len(args)
        # non-Tensor arguments are closed over (torch requires in_dim None for them)
        batched, static = [], {}
        for i, (a, d) in enumerate(zip(args, per_arg)):
            leaves = jax.tree_util.tree_leaves(a, is_leaf=_is_t)
            if d is None or not any(_is_t(x) for x in leaves):
                if d is not None and not isinstance(d, tuple) and leaves and not any(_is_t(x) for x in leaves):
                    raise ValueError(f"vmap(f, in_dims={in_dims}, ...)(<inputs>): Got in_dim={d} for an input "
                                     f"but the input is of type {type(a)}. We cannot vmap over non-Tensor "
                                     "arguments, please use None as the respective in_dim")
                static[i] = a
            else:
                batched.append((i, d))
        idx = [i for i, _ in batched]

        def f(*bs):
            a = [None] * len(args)
            for i, v in static.items():
                a[i] = v
            for i, v in zip(idx, bs):
                a[i] = _to_tensors(v)
            with _no_record():
                out = func(*a, **kwargs)
            return _to_arrays(out)
        out = jax.vmap(f, in_axes=_keep(tuple(d for _, d in batched)), out_axes=_keep(out_dims))(
            *[_to_arrays(args[i]) for i in idx])
        return _to_tensors(out)
    return _differentiable("vmap", wrapper, func)


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights=True,
                    strict=False):
    """Call `module` with its parameters/buffers replaced by the given tensors (restored after).
    One implementation, torch.nn.utils.stateless's, as in torch."""
    from ..nn.utils.stateless import functional_call as _stateless_call
    return _stateless_call(module, parameter_and_buffer_dicts, args, kwargs, tie_weights=tie_weights, strict=strict)


def stack_module_state(models):
    """(params, buffers): each name maps to the models' tensors stacked on a new leading dim."""
    models = list(models)
    if not models:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    from .. import stack
    from ..autograd.grad_mode import no_grad
    params, buffers = {}, {}
    with no_grad():
        for name, _ in models[0].named_parameters():
            ps = [dict(m.named_parameters())[name] for m in models]
            params[name] = stack([p.detach() for p in ps]).requires_grad_(ps[0].requires_grad)
        for name, _ in models[0].named_buffers():
            buffers[name] = stack([dict(m.named_buffers())[name] for m in models])
    return params, buffers
