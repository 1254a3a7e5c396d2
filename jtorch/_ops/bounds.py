"""Eager index-bounds checks with torch's errors. XLA clamps (or fills) out-of-range gather and
scatter indices silently, where torch raises; so in eager mode the index is checked on the host
before the kernel runs: one small cached jitted reduction and a two-scalar transfer per call.
Under jtorch.compile the values are not known and nothing is checked (as with CUDA's asserts)."""
import functools

import jax
import jax.numpy as jnp


@functools.partial(jax.jit, static_argnums=(3,))
def _first_bad(idx, hi, skip, has_skip):
    """(any index outside [0, hi) -- other than `skip` when has_skip --, the first such index)."""
    flat = idx.reshape(-1)
    bad = (flat < 0) | (flat >= hi)
    if has_skip:
        bad = bad & (flat != skip)
    k = jnp.argmax(bad)
    return bad[k], flat[k]


def first_out_of_range(index, size, skip=None):
    """The first value of the integer Tensor `index` outside [0, size) (ignoring `skip`), or None.
    None too when the index is traced, empty or not an integer tensor (the op reports those)."""
    a = getattr(index, "_value", None)
    if a is None or isinstance(a, jax.core.Tracer) or a.size == 0 or not jnp.issubdtype(a.dtype, jnp.integer):
        return None
    bad, val = _first_bad(a, size, 0 if skip is None else skip, skip is not None)
    return int(val) if bool(bad) else None


def _dim_size(input, dim):
    shape = tuple(input.shape)
    if not shape:
        return 1
    if not isinstance(dim, int) or not -len(shape) <= dim < len(shape):
        return None   # the op raises torch's dim error itself
    return shape[dim]


def _index_out_of_range(b):
    """(first bad index value, size of input's `dim`) for ops indexing input along `dim`, or None."""
    x, dim = b["input"], b["dim"]
    n = _dim_size(x, dim)
    if n is None or not hasattr(x, "_value"):
        return None
    v = first_out_of_range(b["index"], n)
    return None if v is None else (v, n)


def check_gather_scatter(b):
    """gather / scatter / scatter_add / scatter_reduce: index in [0, input.size(dim))."""
    bad = _index_out_of_range(b)
    if bad is not None:
        raise RuntimeError(f"index {bad[0]} is out of bounds for dimension {b['dim'] % max(b['input'].ndim, 1)} "
                           f"with size {bad[1]}")


def check_index_select(b):
    bad = _index_out_of_range(b)
    if bad is not None:
        raise RuntimeError(f"INDICES element is out of DATA bounds, id={bad[0]} axis_dim={bad[1]}")


def check_class_target(b):
    """nll_loss / cross_entropy with class-index targets: each in [0, C) or ignore_index."""
    x, t = b["input"], b["target"]
    if not hasattr(x, "_value") or x.ndim == 0:
        return
    n = x.shape[1] if x.ndim > 1 else x.shape[0]
    v = first_out_of_range(t, n, b.get("ignore_index", -100))
    if v is not None:
        raise IndexError(f"Target {v} is out of bounds.")
