"""Which tensors a node's backward reads: torch's saved-variable version check.

torch raises "one of the variables needed for gradient computation has been modified by an
inplace operation" when a tensor its backward formula saved was written in place before backward.
What is saved comes from each op's formula (mul's grad for x saves y; add, sum, view, cat save
nothing). jtorch derives backwards with jax.vjp, so it reads the same fact off the vjp: the
backward kernel for a grad mask is traced once, dead code is eliminated, and the forward inputs
still used are the ones it needs. Ops whose torch formula reads the *result* declare it in the
registry (`saves_result`): "only" for exp, tanh, sigmoid, softmax... (the input is then not saved,
so writing it is fine, as in torch), True for prod, norm, logsumexp... (result and inputs).

`record` notes the version of every tensor input (and of saved outputs); only backward, once per
(kernel, mask), decides which of them count, so graphs that never run backward pay no trace."""
import jax
import jax.numpy as jnp


def output_plan(kernel, arrays, n_out):
    """(outputs saved, whether inputs are saved) for a registry kernel, from its declaration."""
    opdef = kernel.key[0] if type(kernel.key) is tuple and kernel.key else None
    decl = getattr(opdef, "saves_result", False)
    if callable(decl):
        decl = decl(arrays)
    if not decl:
        return (), True
    if decl is True or decl == "only":
        return tuple(range(n_out)), decl is True
    return tuple(decl), True


def inputs_read(kernel, mask, arrays):
    """Indices of kernel inputs whose values the backward for `mask` reads (cached)."""
    cache = kernel._reads
    got = cache.get(mask)
    if got is None:
        got = cache[mask] = _analyse(kernel, mask, arrays)
    return got


def _spec(a):
    if a is None or type(a) in (bool, int, float, complex):
        return a
    return jax.ShapeDtypeStruct(a.shape, a.dtype, weak_type=getattr(a, "weak_type", False))


def _analyse(kernel, mask, arrays):
    if any(m and not _inexact(a) for m, a in zip(mask, arrays)):
        return _fallback(mask)
    try:
        from jax.interpreters import partial_eval as pe
        specs = [_spec(a) for a in arrays]
        outs = jax.eval_shape(kernel.fn, *specs)
        outs = outs if isinstance(outs, (tuple, list)) else (outs,)
        cts = [jax.ShapeDtypeStruct(o.shape, o.dtype) if jnp.issubdtype(o.dtype, jnp.inexact) else None
               for o in outs]
        closed = jax.make_jaxpr(kernel.backward_kernel(mask).fn)(*specs, *cts)
        _, used = pe.dce_jaxpr(closed.jaxpr, [True] * len(closed.jaxpr.outvars))
    except Exception:   # an op jax cannot trace abstractly: keep the inputs that need grad
        return _fallback(mask)
    read = set()
    pos = 0
    for i, a in enumerate(arrays):
        n = len(jax.tree_util.tree_leaves(a))
        if any(used[pos:pos + n]):
            read.add(i)
        pos += n
    return frozenset(read)


def _inexact(a):
    return hasattr(a, "dtype") and jnp.issubdtype(a.dtype, jnp.inexact)


def _fallback(mask):
    return frozenset(i for i, m in enumerate(mask) if m)
