"""Transpose sinking for compiled steps on XLA:CPU: elementwise work between channels-last ops
moves into their layout, so the transposes around it cancel.

Convolution, batch norm and pooling compute channels-last between an explicit transpose in and out
(channels_last.py); the tensors between them stay NCHW. One consumer in NCHW is enough to keep a
transpose alive in XLA's program: `relu(bn(x))` feeds the next pool (channels-last) *and* relu's
backward mask (NCHW), and XLA:CPU does not move a transpose below an elementwise op with several
users. A CNN step kept ~10 full-size activation transposes and copies that the hand-written NHWC
Flax program does not have.

This pass re-evaluates the traced step's jaxpr (nested jit calls inlined) and rewrites
    op(transpose(a, p), transpose(b, p), scalar)  ->  transpose(op(a, b, scalar), p)
for elementwise ops, and transpose(transpose(a, p), q) -> transpose(a, p∘q) (nothing when that is
the identity). Every NCHW elementwise op on channels-last producers is thereby computed
channels-last, and the transposes left over are dead or cancel. Values are unchanged (transposes
are exact); only the order of data movement differs.
"""
import warnings

import jax
from jax import lax
from jax._src import core, source_info_util
import numpy as np

# primitives that apply the same scalar function at every position of same-shaped operands
ELEMENTWISE = frozenset("""
    add add_any sub mul div rem max min neg sign abs floor ceil round is_finite exp exp2 log log1p expm1
    tanh logistic sqrt rsqrt cbrt sin cos tan asin acos atan atan2 sinh cosh asinh acosh atanh erf erfc
    erf_inv lgamma digamma pow integer_pow square reciprocal select_n clamp gt lt ge le eq ne and or not
    xor convert_element_type reduce_precision copy nextafter imag real conj stop_gradient
""".split())

_INLINE = ("jit", "pjit", "closed_call", "core_call")


def sink_transposes(fn):
    """fn(*arrays) -> pytree, evaluated with elementwise ops moved below transposes. Call it
    while tracing (inside jax.jit): the rewritten ops land in the enclosing trace."""
    def wrapped(*args):
        closed, out_shape = jax.make_jaxpr(fn, return_shape=True)(*args)
        flat = jax.tree_util.tree_leaves(args)
        try:
            outs = _Sinker().run(closed.jaxpr, closed.consts, flat)
        except Exception as e:  # noqa: BLE001  (jax-internal API drift: run the program as traced)
            _warn_once(e)
            outs = core.eval_jaxpr(closed.jaxpr, closed.consts, *flat)
        return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(out_shape), outs)
    return wrapped


_WARNED = []


def _warn_once(e):
    if not _WARNED:
        _WARNED.append(e)
        warnings.warn(f"jtorch.compile: transpose sinking skipped ({type(e).__name__}: {e}); the step runs "
                      f"unchanged. Set jtorch._dynamo.config.sink_transposes = False to silence this.",
                      RuntimeWarning, stacklevel=3)


def _unspecified(shardings):
    return all(type(s).__name__ == "UnspecifiedValue" for s in shardings)


class _Sinker:
    def __init__(self):
        self.trans = {}   # id(value) -> (value, source, perm): value == transpose(source, perm)
        self.splats = {}  # id(value) -> (value, scalar): value == broadcast_in_dim(scalar, shape, ())

    def _source(self, x):
        hit = self.trans.get(id(x))
        return (hit[1], hit[2]) if hit is not None and hit[0] is x else (None, None)

    def _transpose(self, x, perm):
        src, p1 = self._source(x)
        if src is not None:
            x, perm = src, tuple(p1[i] for i in perm)
        if perm == tuple(range(len(perm))):
            return x
        out = lax.transpose(x, perm)
        self.trans[id(out)] = (out, x, perm)
        return out

    def _sunk(self, eqn, invals):
        """The elementwise op on the operands' sources, then one transpose; None unless every
        array operand is a transpose by one permutation or a splat (a broadcast scalar)."""
        perm, shape, srcs = None, None, []
        for x in invals:
            if np.ndim(x) == 0 or self._splat(x) is not None:
                srcs.append(x)
                continue
            src, p = self._source(x)
            if src is None or (perm is not None and p != perm):
                return None
            perm, shape = p, src.shape
            srcs.append(src)
        if perm is None:
            return None
        srcs = [lax.broadcast_in_dim(self._splat(x), shape, ()) if np.ndim(x) and self._splat(x) is not None
                else x for x in srcs]
        params = dict(eqn.params)
        if "sharding" in params:   # convert_element_type: a sharding names the result's layout
            params["sharding"] = None
        return self._transpose(eqn.primitive.bind(*srcs, **params), perm)

    def _splat(self, x):
        hit = self.splats.get(id(x))
        return hit[1] if hit is not None and hit[0] is x else None

    def run(self, jaxpr, consts, args):
        env = {}

        def read(v):
            return v.val if isinstance(v, core.Literal) else env[v]

        for v, x in zip(jaxpr.constvars, consts):
            env[v] = x
        for v, x in zip(jaxpr.invars, args):
            env[v] = x
        for eqn in jaxpr.eqns:
            invals = [read(v) for v in eqn.invars]
            name = eqn.primitive.name
            ans = None
            if name in _INLINE and "jaxpr" in eqn.params and _unspecified(
                    eqn.params.get("in_shardings", ())) and _unspecified(eqn.params.get("out_shardings", ())):
                inner = eqn.params["jaxpr"]
                if isinstance(inner, core.ClosedJaxpr):
                    ans = self.run(inner.jaxpr, inner.consts, invals)
                else:
                    ans = self.run(inner, (), invals)
            elif name == "transpose":
                ans = self._transpose(invals[0], tuple(eqn.params["permutation"]))
            elif name in ELEMENTWISE and not eqn.effects:
                ans = self._sunk(eqn, invals)
            if ans is None:
                with source_info_util.user_context(eqn.source_info.traceback,
                                                   name_stack=source_info_util.current_name_stack()
                                                   + eqn.source_info.name_stack), eqn.ctx.manager:
                    ans = eqn.primitive.bind(*invals, **eqn.primitive.get_bind_params(eqn.params))
            if name == "broadcast_in_dim" and np.ndim(invals[0]) == 0 and len(invals) == 1:
                self.splats[id(ans)] = (ans, invals[0])
            if eqn.primitive.multiple_results:
                for v, x in zip(eqn.outvars, ans):
                    env[v] = x
            else:
                env[eqn.outvars[0]] = ans
        return [read(v) for v in jaxpr.outvars]
