"""Kernels: a pure jax function of flat leaves, its cached jit, and its cached jitted backward.

Every op call ends here. A kernel is keyed by everything that changes the trace (the op, its
static arguments, the structure of its inputs, the compute dtype), so each distinct call pattern
is traced once and afterwards costs one cached `jax.jit` dispatch. The backward of a kernel is
another kernel — `vjp` of the forward, jitted — so higher-order gradients come for free.
"""
import jax
import jax.numpy as jnp
import numpy as np

_KERNELS = {}


def _is_diff_dtype(x):
    return jnp.issubdtype(x.dtype, jnp.inexact)


class Kernel:
    __slots__ = ("key", "fn", "jfwd", "name", "_bwd", "n_leaves", "_reads", "_node_cls")

    def __init__(self, key, fn, name):
        self.key = key
        self.fn = fn
        self.name = name
        self.jfwd = jax.jit(fn)
        self._bwd = {}
        self._reads = {}   # what backward reads, for the saved-tensor version check (autograd/saved.py)
        self._node_cls = None   # the grad_fn class its autograd nodes get (autograd/graph.py)

    def backward_kernel(self, mask):
        """The kernel computing grads of the leaves in `mask` from (leaves..., cotangents...)."""
        k = self._bwd.get(mask)
        if k is None:
            k = self._bwd[mask] = Kernel(("vjp", self.key, mask), _make_vjp(self.fn, mask), self.name + "Backward")
        return k


def conj_complex(x):
    """Conjugate complex arrays, pass everything else through (None, float0, real arrays)."""
    if x is not None and hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.complexfloating):
        return jnp.conj(x)
    return x


def torch_pullback(pull, cts):
    """Apply a jax vjp `pull` to cotangents in torch's convention.

    For complex values torch's gradient is the conjugate Wirtinger derivative, jax's is its
    conjugate: torch_grad = conj(jax_vjp(conj(torch_cotangent))). Every vjp the autograd engine
    runs goes through here, so complex gradients match torch for all ops at once; for real
    dtypes both conjugations are the identity (and are not traced)."""
    cts = jax.tree_util.tree_map(conj_complex, cts)
    return jax.tree_util.tree_map(conj_complex, pull(cts))


def _make_vjp(fn, mask):
    n = len(mask)
    diff = [i for i, m in enumerate(mask) if m]

    def vjp_fn(*args):
        leaves, cts = list(args[:n]), args[n:]

        def f(*d):
            full = list(leaves)
            for i, v in zip(diff, d):
                full[i] = v
            return fn(*full)

        out, pull = jax.vjp(f, *[leaves[i] for i in diff])
        multi = isinstance(out, (tuple, list))
        outs = out if multi else (out,)
        fixed = []
        for o, c in zip(outs, cts):
            if not jnp.issubdtype(o.dtype, jnp.inexact):
                fixed.append(np.zeros(o.shape, jax.dtypes.float0))
            elif c is None:
                fixed.append(jnp.zeros_like(o))
            else:
                fixed.append(c.astype(o.dtype) if c.dtype != o.dtype else c)
        return tuple(torch_pullback(pull, type(out)(fixed) if multi else fixed[0]))

    return vjp_fn


def get_kernel(key, make_fn, name):
    k = _KERNELS.get(key)
    if k is None:
        k = _KERNELS[key] = Kernel(key, make_fn(), name)
    return k


def clear_cache():
    _KERNELS.clear()
