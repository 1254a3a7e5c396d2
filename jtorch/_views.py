"""Views share their base: a view is its root base plus a chain of view steps, each step
(op, static args, input structure, output index) hashable, so reading a view (`view_fn`) and
writing through one (`scatter_fn`) are cached jitted functions of the chain.

Writing through any selection view needs no per-op inverse: the view of an iota over the
base's positions names the base elements the view shows, and a scatter puts the new values
there (XLA folds the iota to constants)."""
import jax
import jax.numpy as jnp

from ._ops.kernel import get_kernel


def _chain_apply(chain):
    steps = [(opdef.kernel_fn(static, struct, None, None), i) for (opdef, static, struct, i) in chain]

    def f(x):
        for fn, i in steps:
            x = fn(x)
            if i is not None:
                x = x[i]
        return x
    return f


def view_kernel(chain):
    return get_kernel(("view", chain), lambda: _chain_apply(chain), _chain_name(chain))


def scatter_kernel(chain):
    def make():
        f = _chain_apply(chain)

        def scatter(base, v):
            pos = f(jnp.arange(base.size).reshape(base.shape))
            v = jnp.broadcast_to(jnp.asarray(v, base.dtype), pos.shape)
            return base.reshape(-1).at[pos.reshape(-1)].set(v.reshape(-1)).reshape(base.shape)
        return scatter
    return get_kernel(("scatter", chain), make, "CopySlices")


def _chain_name(chain):
    if not chain:
        return "AliasBackward"
    return chain[-1][0].name


def strides_of(t):
    """torch-style strides (in elements) of a tensor, views included."""
    import numpy as np
    shape = tuple(t.shape)
    if t._base is None or not t._vchain:
        st, acc = [], 1
        for s in reversed(shape):
            st.append(acc)
            acc *= max(s, 1)
        return tuple(reversed(st))
    base = t._base
    pos = np.asarray(view_kernel(t._vchain).jfwd(jnp.arange(base.numel()).reshape(tuple(base.shape))))
    out = []
    for d, s in enumerate(shape):
        if s <= 1 or pos.size == 0:
            # torch reports the contiguous stride for size-1 dims
            out.append(int(np.prod(shape[d + 1:], dtype=np.int64)) if s <= 1 else 1)
            continue
        idx1 = [0] * len(shape)
        idx1[d] = 1
        out.append(int(pos[tuple(idx1)] - pos[(0,) * len(shape)]))
    return tuple(out)
