"""Views share their base: a view is its root base plus a chain of view steps, each step
(op, static args, input structure, output index) hashable, so reading a view (`view_fn`) and
writing through one (`scatter_fn`) are cached jitted functions of the chain.

Writing through any selection view needs no per-op inverse: the view of an iota over the
base's positions names the base elements the view shows, and a scatter puts the new values
there (XLA folds the iota to constants)."""
import functools
import math

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
        if _reinterprets(chain):
            return _scatter_reinterpreted(f)

        def scatter(base, v):
            pos = f(jnp.arange(base.size).reshape(base.shape))
            v = jnp.broadcast_to(jnp.asarray(v, base.dtype), pos.shape)
            return base.reshape(-1).at[pos.reshape(-1)].set(v.reshape(-1)).reshape(base.shape)
        return scatter
    return get_kernel(("scatter", chain), make, "CopySlices")


# view_as_real / view_as_complex: the view's elements are not the base's elements
_REINTERPRET = frozenset({"view_as_real", "view_as_complex"})


def _reinterprets(chain):
    return any(step[0].name in _REINTERPRET for step in chain)


def _real_iota(shape, cplx):
    """Positions of a base's elements counted in real scalars (float64, exact below 2**53): a
    complex element k is the pair (2k, 2k+1), so view_as_real/view_as_complex move positions
    exactly as they move values."""
    n = math.prod(shape)
    if not cplx:
        return jnp.arange(n, dtype=jnp.float64).reshape(shape)
    k = jnp.arange(n, dtype=jnp.float64).reshape(shape) * 2
    return jax.lax.complex(k, k + 1)


def _split_complex(a):
    if jnp.iscomplexobj(a):
        return jnp.concatenate([jnp.real(a).reshape(-1), jnp.imag(a).reshape(-1)])
    return a.reshape(-1)


def _scatter_reinterpreted(f):
    def scatter(base, v):
        cplx = jnp.iscomplexobj(base)
        pos = f(_real_iota(base.shape, cplx))
        v = jnp.broadcast_to(jnp.asarray(v), pos.shape)
        # interleaved: real scalar 2k is complex element k's real part, 2k+1 its imaginary part
        flat = jnp.stack([jnp.real(base), jnp.imag(base)], axis=-1).reshape(-1) if cplx else base.reshape(-1)
        idx = _split_complex(pos).astype(jnp.int64)
        flat = flat.at[idx].set(_split_complex(v).astype(flat.dtype))
        if cplx:
            pairs = flat.reshape(base.shape + (2,))
            return jax.lax.complex(pairs[..., 0], pairs[..., 1]).astype(base.dtype)
        return flat.reshape(base.shape)
    return scatter


def _chain_name(chain):
    if not chain:
        return "AliasBackward"
    return chain[-1][0].name


def view_strides_ok(shape, strides, new_shape):
    """torch's rule for .view of a strided tensor: the old dims fall into chunks, each a run of
    dims laid out one after another in memory (size-1 dims join any run); the new shape must split
    into consecutive groups of dims, one group per chunk with the same number of elements, so no
    new dim straddles two chunks."""
    if not shape or 0 in shape:
        return True
    nd = len(new_shape) - 1
    d = len(shape) - 1
    while d >= 0:
        # grow the chunk leftwards while the next dim continues its memory layout
        inner, numel = strides[d], shape[d]
        while d > 0 and (shape[d - 1] == 1 or strides[d - 1] == numel * inner):
            d -= 1
            numel *= shape[d]
        got = 1
        while nd >= 0 and (got < numel or new_shape[nd] == 1):
            got *= new_shape[nd]
            nd -= 1
        if got != numel:
            return False
        d -= 1
    return nd == -1


def check_view(t, shape):
    """Tensor.view on a tensor that may not be laid out row-major: torch's error where the
    requested shape cannot be expressed with strides over the same memory."""
    from ._ops.shape import infer_shape
    new = infer_shape(shape, t.numel())
    if not view_strides_ok(tuple(t.shape), t.stride(), new):
        raise RuntimeError("view size is not compatible with input tensor's size and stride (at least one dimension "
                           "spans across two contiguous subspaces). Use .reshape(...) instead.")


def strides_of(t):
    """torch-style strides (in elements) of a tensor, views included."""
    if t._base is None or not t._vchain:
        return _contiguous(tuple(t.shape))
    return _chain_layout(tuple(t._base.shape), t._base.is_complex(), t._vchain)[0]


def offset_of(t):
    """torch's storage_offset (in elements of t's dtype) of a view."""
    if t._base is None or not t._vchain:
        return 0
    return _chain_layout(tuple(t._base.shape), t._base.is_complex(), t._vchain)[1]


@functools.lru_cache(maxsize=4096)
def _chain_layout(base_shape, base_complex, chain):
    """(strides, storage offset) of the view a chain makes of a base, as torch lays it out.

    The chain is followed step by step over the base's element positions. A step whose result
    is not a strided layout of them is a reshape that torch performs as a copy (jtorch keeps it a
    view): from there on positions restart as a fresh contiguous tensor's, as torch's copy's.
    Cached on the base's shape and the chain: .view()/.stride() of a view run it once."""
    import numpy as np
    reinterpret = _reinterprets(chain)
    with jax.ensure_compile_time_eval():   # concrete even while jtorch.compile traces
        if reinterpret:   # counted in real scalars (see _real_iota)
            pos = _real_iota(base_shape, base_complex)
        else:
            pos = jnp.arange(math.prod(base_shape)).reshape(base_shape)
        layout = None
        for step in chain:
            pos = view_kernel((step,)).jfwd(pos)
            p = np.asarray(pos)
            cplx = np.iscomplexobj(p)
            # a complex element is where its real part is, two real scalars apart
            unit = 2 if reinterpret and cplx else 1
            layout = _strided(np.rint(p.real).astype(np.int64) if reinterpret else p, unit)
            if layout is None:   # torch copied here
                shape = p.shape
                pos = _real_iota(shape, cplx) if reinterpret else jnp.arange(math.prod(shape)).reshape(shape)
                layout = (_contiguous(shape), 0)
    return layout


def _contiguous(shape):
    st, acc = [], 1
    for s in reversed(shape):
        st.append(acc)
        acc *= max(s, 1)
    return tuple(reversed(st))


def _strided(pos, unit):
    """(strides, offset) when integer positions `pos` are offset + sum(index * stride) over the
    dims, else None. torch reports the contiguous stride for size-1 dims."""
    import numpy as np
    shape = pos.shape
    if pos.size == 0:
        return _contiguous(shape), 0
    first = pos[(0,) * len(shape)]
    expect = np.full(shape, first, dtype=np.int64)
    out = list(_contiguous(shape))
    for d, s in enumerate(shape):
        if s <= 1:
            continue
        idx1 = [0] * len(shape)
        idx1[d] = 1
        sd = int(pos[tuple(idx1)] - first)
        out[d] = sd // unit
        expect = expect + (np.arange(s, dtype=np.int64) * sd).reshape([s if i == d else 1 for i in range(len(shape))])
    if not np.array_equal(expect, pos):
        return None
    return tuple(out), int(first) // unit
