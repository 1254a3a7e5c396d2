"""jtorch.compile: torch-style code (a module's forward, or a whole training step with
`loss.backward()` and `opt.step()`) traced into ONE `jax.jit` program.

How it works (see docs/architecture.md, "Compilation"):
1. Discovery (cached in a `_Plan`, re-done only when a cheap structural guard fails): walk the
   function's closure, the globals it names, bound `self`, its arguments, and from there modules,
   optimizers (param_groups and state), generators and plain containers; every Tensor found is
   *state*. The guard re-checks, per call, the containers and Python scalars met on the way
   (`module.training`, a replaced parameter, optimizer state created on the first step...).
2. Tracing (`_Tracer.run`, inside `jax.jit`): each state Tensor's `_data` (and each existing
   `.grad`) is swapped for a tracer, float hyper-parameters of optimizer param_groups (`lr`) are
   swapped for traced scalars, the user's Python runs (ops are jitted kernels that inline, the
   autograd engine runs on tracers), then the new value of every state tensor, every `.grad`
   and every tensor newly attached to a discovered container (Adam's moments, a rebound buffer)
   becomes an output. Everything swapped in is restored in a `finally`.
3. Calling: state buffers are donated (only when nothing else holds them), results are written
   back into the same Tensor objects with a version bump, new tensors are attached.
4. A compiled forward whose outputs require grad (a compiled Module called in an eager
   training loop) records ONE autograd node; its backward applies the vjp residuals the jitted
   forward returned.
5. Code that cannot be traced (`.item()`, `print(t)`, data-dependent shapes, Python state
   mutated in the function) runs eagerly instead, with one warning naming the user's line;
   `fullgraph=True` raises instead.
"""
import functools
import itertools
import os
import sys
import types
import warnings
import weakref

import jax
import jax.numpy as jnp

from ._tensor import Tensor, wrap, UntraceableError
from .autograd.grad_mode import STATE
from .autograd import graph as _graph
from ._ops import autocast_state
from ._ops import channels_last as _cl
from ._ops.sink_transposes import sink_transposes


class _Config:
    """jtorch._dynamo.config: the knobs torch code sets (most are accepted and ignored)."""
    cache_size_limit = 8
    recompile_limit = 8          # torch >= 2.6 spelling of cache_size_limit
    accumulated_cache_size_limit = 256
    suppress_errors = False
    verbose = False
    automatic_dynamic_shapes = True
    assume_static_by_default = True
    capture_scalar_outputs = False
    optimize_ddp = True
    # jtorch's own: on XLA:CPU, move elementwise ops below transposes in a traced step so the
    # transposes around channels-last convolution/batch norm/pooling cancel (_ops/sink_transposes.py)
    sink_transposes = True


config = _Config()

_COMPILING = [0]
TRACE_DEVICE = [None]  # the device of the traced program's data (what Tensor.device says while tracing)
_REGISTRY = weakref.WeakSet()
_NEG = itertools.count(-(1 << 40), -(1 << 20))  # version stamps used while tracing (never valid outside)
_MISS = object()

_TRACE_ERRORS = (UntraceableError,) + tuple(
    getattr(jax.errors, n) for n in ("ConcretizationTypeError", "TracerArrayConversionError",
                                     "TracerBoolConversionError", "TracerIntegerConversionError",
                                     "NonConcreteBooleanIndexError", "UnexpectedTracerError")
    if hasattr(jax.errors, n))

_JTORCH_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_JAX_DIR = os.path.dirname(os.path.abspath(jax.__file__)) + os.sep


def is_compiling():
    return _COMPILING[0] > 0


def reset():
    """Forget every compiled program (torch.compiler.reset / torch._dynamo.reset)."""
    for cf in list(_REGISTRY):
        cf._reset()


class _Fallback(Exception):
    """Internal: the function cannot be compiled as it is (reason in args[0])."""


class _CacheLimit(Exception):
    pass


# ============================================================================ discovery
_SKIP_MODULES = ("jax", "jaxlib", "numpy", "builtins", "jtorch.autograd", "jtorch._ops", "jtorch._dtype",
                 "jtorch._device", "jtorch._compile", "typing", "abc", "threading", "logging", "enum", "warnings",
                 "weakref", "_thread", "io", "torch", "flax", "optax")
_SKIP_FUNCS = ("jtorch.", "jax", "numpy", "functools", "torch.", "flax", "optax")
_SCALARS = (bool, int, float, str, type(None))


def _code_names(code, out):
    out.update(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            _code_names(c, out)
    return out


class _Plan:
    """What one compiled function touches: the state tensors, the containers they live in, and
    the guard that says whether that picture still holds."""

    def __init__(self, roots, lift_keys, max_objects=200000):
        self.tensors = []        # state tensors (view bases), in discovery order
        self._tid = {}
        self.dicts = []          # every dict met (snapshotted while tracing)
        self.lists = []          # every list met
        self.guard_obj = []      # [d, k, v]: d[k] is v   (containers and tensors)
        self.guard_len = []      # (container, len)
        self.guard_scalar = []   # (d, k, v): Python scalars that change the trace
        self.hp_locs = []        # (group dict, key, index or None): lifted optimizer hyper-parameters
        self.modules = []
        self.optimizers = []     # torch-style optimizers met (their lazily created state is primed)
        self.primables = []      # other objects with lazily created state (GradScaler: _compile_prime())
        self._seen = set()
        self._rel = set()
        self._scalar_dicts = set()
        self._budget = max_objects
        self._lift_keys = lift_keys
        for r in roots:
            self._visit(r, 0)
        self._guard_index = {(id(g[0]), _hk(g[1])): i for i, g in enumerate(self.guard_obj)}
        del self._seen, self._rel, self._scalar_dicts
        self.sig = (tuple(map(id, self.tensors)), tuple((id(d), _hk(k), type(v), v) for d, k, v in self.guard_scalar),
                    tuple((id(d), _hk(k), i) for d, k, i in self.hp_locs))
        self.modes = {}
        self.dead = {}           # static key -> the incoming .grad arrays are never read
        self.jit_a = None
        self.jit_a_keep = None
        self.jit_b = None

    def _add_tensor(self, t):
        b = t._base if t._base is not None else t
        if id(b) not in self._tid:
            self._tid[id(b)] = len(self.tensors)
            self.tensors.append(b)

    def _visit(self, obj, depth):
        if isinstance(obj, Tensor):
            self._add_tensor(obj)
            return True
        if isinstance(obj, _SCALARS) or isinstance(obj, (type, types.ModuleType, complex, bytes)):
            return False
        oid = id(obj)
        if oid in self._seen:
            return oid in self._rel
        self._seen.add(oid)
        self._budget -= 1
        if depth > 80 or self._budget < 0:
            return False
        rel = False
        if isinstance(obj, dict):
            self.dicts.append(obj)
            scal = []
            for k, v in list(obj.items()):
                if isinstance(k, Tensor):
                    self._add_tensor(k)
                    rel = True
                if isinstance(v, _SCALARS):
                    scal.append((obj, k, v))
                elif self._visit(v, depth + 1):
                    rel = True
                    self.guard_obj.append([obj, k, v])
            self.guard_len.append((obj, len(obj)))   # new entries (lazily created state) change the plan
            if rel or id(obj) in self._scalar_dicts:
                self.guard_scalar.extend(scal)
        elif isinstance(obj, (list, tuple)):
            if isinstance(obj, list):
                self.lists.append(obj)
            for i, v in enumerate(obj):
                if self._visit(v, depth + 1):
                    rel = True
                    if isinstance(obj, list):
                        self.guard_obj.append([obj, i, v])
            if isinstance(obj, list):
                self.guard_len.append((obj, len(obj)))
        elif isinstance(obj, (set, frozenset)):
            for v in list(obj):
                rel = self._visit(v, depth + 1) or rel
        elif isinstance(obj, types.FunctionType):
            if (obj.__globals__.get("__name__") or "").startswith(_SKIP_FUNCS):
                return False  # library code: its module globals are not the user's state
            if obj.__closure__:
                for c in obj.__closure__:
                    try:
                        v = c.cell_contents
                    except ValueError:
                        continue
                    rel = self._visit(v, depth + 1) or rel
            g = obj.__globals__
            for n in _code_names(obj.__code__, set()):
                v = g.get(n, _MISS)
                if v is not _MISS:
                    rel = self._visit(v, depth + 1) or rel
            for v in (obj.__defaults__ or ()):
                rel = self._visit(v, depth + 1) or rel
            if obj.__kwdefaults__:
                rel = self._visit(obj.__kwdefaults__, depth + 1) or rel
        elif isinstance(obj, types.MethodType):
            rel = self._visit(obj.__self__, depth + 1)
            rel = self._visit(obj.__func__, depth + 1) or rel
        elif isinstance(obj, functools.partial):
            rel = self._visit(obj.func, depth + 1)
            rel = self._visit(obj.args, depth + 1) or rel
            rel = self._visit(obj.keywords, depth + 1) or rel
        elif isinstance(obj, CompiledFunction):
            rel = self._visit(obj._fn, depth + 1)
        elif isinstance(obj, _graph.Node):
            return False
        else:
            mod = type(obj).__module__ or ""
            if mod.startswith(_SKIP_MODULES):
                return False
            d = getattr(obj, "__dict__", None)
            if d is None:
                return False
            if "_parameters" in d and "_modules" in d:
                self.modules.append(obj)
                self._scalar_dicts.add(id(d))
            if hasattr(type(obj), "_compile_prime"):
                self.primables.append(obj)
            pg = d.get("param_groups")
            if isinstance(pg, list) and "state" in d:
                self.optimizers.append(obj)
                st = d.get("state")
                if isinstance(st, dict):
                    for v in list(st.values()):
                        self._scalar_dicts.add(id(v))
                for g in pg:
                    if isinstance(g, dict):
                        self._scalar_dicts.add(id(g))
                        for k in self._lift_keys:
                            v = g.get(k)
                            if type(v) is float:
                                self.hp_locs.append((g, k, None))
                            elif type(v) is tuple:
                                self.hp_locs.extend((g, k, i) for i, x in enumerate(v) if type(x) is float)
            rel = self._visit(d, depth + 1)
            if rel:
                # a plain object holding state: its attributes are guarded through its __dict__
                pass
        if rel:
            self._rel.add(oid)
        return rel

    def finish(self):
        # lifted hyper-parameters are not guarded as constants
        hp = {(id(g), k) for g, k, _ in self.hp_locs}
        if hp:
            self.guard_scalar = [(d, k, v) for d, k, v in self.guard_scalar if (id(d), k) not in hp]
            self.sig = (self.sig[0], tuple((id(d), _hk(k), type(v), v) for d, k, v in self.guard_scalar), self.sig[2])
        return self

    def check(self):
        """The per-call guard: True while the discovered picture still holds."""
        for d, k, v in self.guard_obj:
            try:
                if d[k] is not v:
                    return False
            except (KeyError, IndexError):
                return False
        for c, n in self.guard_len:
            if len(c) != n:
                return False
        for d, k, v in self.guard_scalar:
            x = d.get(k, _MISS)
            if x is not v and (type(x) is not type(v) or x != v):
                return False
        for g, k, i in self.hp_locs:
            x = g.get(k)
            if (type(x) is not float) if i is None else (type(x) is not tuple or type(x[i]) is not float):
                return False
        return True

    def hparams(self):
        return tuple(g[k] if i is None else g[k][i] for g, k, i in self.hp_locs)

    def replace_tensor(self, old, new):
        i = self._tid.pop(id(old), None)
        if i is not None:
            self.tensors[i] = new
            self._tid[id(new)] = i

    def update_guard(self, d, k, v):
        i = self._guard_index.get((id(d), _hk(k)))
        if i is not None:
            self.guard_obj[i][2] = v


def _grads_dead(jaxpr, n_state, n_grads, n_before_gin):
    """True when the grad inputs (invars n_state .. n_state+n_grads) feed no equation and reach the
    outputs only as their own unchanged pass-through (the write-back of a detached .grad)."""
    gv = jaxpr.invars[n_state:n_state + n_grads]
    ids = {id(v) for v in gv}
    for e in jaxpr.eqns:
        if any(id(v) in ids for v in e.invars):
            return False
    for k, v in enumerate(jaxpr.outvars):
        if id(v) in ids:
            i = k - n_before_gin
            if not (0 <= i < n_grads and gv[i] is v):
                return False
    return True


def _hk(k):
    return id(k) if isinstance(k, Tensor) else k


# ============================================================================ tracing
class _Record:
    """What one trace found; carried out of jax.jit as the aux data of the output pytree."""
    __slots__ = ("out_tree", "out_static", "out_is_arr", "out_rg", "modified", "grad_kinds", "gin_mod",
                 "replays", "arg_mod", "needs_node", "diff_out", "n_state", "new_state")

    def __hash__(self):
        return id(self)

    def __eq__(self, other):
        return self is other


class _Out:
    __slots__ = ("rec", "children")

    def __init__(self, rec, children):
        self.rec, self.children = rec, children


jax.tree_util.register_pytree_node(_Out, lambda o: (o.children, o.rec), lambda rec, ch: _Out(rec, tuple(ch)))


class _Call:
    """Per-call objects the trace needs (the jit signature carries only arrays and statics)."""
    __slots__ = ("args_tree", "arg_tensors", "arg_views", "leaves", "gslots", "gobjs")


def _is_tracer(x):
    return isinstance(x, jax.core.Tracer)


def _tensors_in(obj, out, seen, depth=0):
    """Tensors inside a new object attached during tracing (a new optimizer-state dict...)."""
    if isinstance(obj, Tensor):
        out.append(obj)
        return
    if isinstance(obj, _SCALARS) or id(obj) in seen or depth > 20:
        return
    seen.add(id(obj))
    if isinstance(obj, dict):
        for v in obj.values():
            _tensors_in(v, out, seen, depth + 1)
    elif isinstance(obj, (list, tuple, set)):
        for v in obj:
            _tensors_in(v, out, seen, depth + 1)
    elif _is_tracer(obj):
        raise _Fallback("a traced value that is not a Tensor was stored in Python state")
    else:
        d = getattr(obj, "__dict__", None)
        if d is not None and not isinstance(obj, (types.FunctionType, type, types.ModuleType)):
            _tensors_in(d, out, seen, depth + 1)


def _run_traced(cf, plan, call, state_arrays, grad_arrays, arg_arrays, hp):
    """Run the user's function with tracers swapped into every piece of state; returns _Out.
    Restores every Tensor, container and hyper-parameter it touched, whatever happens."""
    S = plan.tensors
    rec = _Record()
    tsnap = []      # (tensor, dict copy, vc list, vc value before, installed stamp)
    installed = {}  # id(tensor) -> installed tracer
    csnap = [(d, dict(d)) for d in plan.dicts]
    lsnap = [(l, list(l)) for l in plan.lists]
    prev_device = TRACE_DEVICE[0]
    TRACE_DEVICE[0] = _device_of(S, call)
    _COMPILING[0] += 1
    prev_enabled = STATE.enabled

    def install(t, arr):
        vc = t._vc
        stamp = None
        tsnap.append((t, dict(t.__dict__), vc, vc[0] if vc is not None else None))
        if vc is not None:
            stamp = next(_NEG)
            vc[0] = stamp
        t._data = arr
        installed[id(t)] = (arr, stamp)

    try:
        for t, a in zip(S, state_arrays):
            install(t, a)
        gi = 0
        for g in call.gobjs:
            if g is not None:
                if id(g) in installed:
                    raise _Fallback("a .grad tensor is also used as state")
                install(g, grad_arrays[gi])
                gi += 1
        leaves = list(call.leaves)
        ai = 0
        for pos, t in call.arg_tensors:
            if id(t) in installed:
                leaves[pos] = t
                ai += 1
                continue
            if pos in call.arg_views:
                nt = wrap(arg_arrays[ai])
                nt._requires_grad = t._requires_grad
                leaves[pos] = nt
            else:
                install(t, arg_arrays[ai])
                leaves[pos] = t
            ai += 1
        for (g, k, i), v in zip(plan.hp_locs, hp):
            if i is None:
                g[k] = v
            else:
                tup = list(g[k])
                tup[i] = v
                g[k] = tuple(tup)
        args, kwargs = jax.tree_util.tree_unflatten(call.args_tree, leaves)
        out = cf._fn(*args, **kwargs)
        STATE.enabled = prev_enabled

        # ---- outputs
        flat, tree = jax.tree_util.tree_flatten(out)
        rec.out_tree = tree
        out_arrays, is_arr, static, rg = [], [], [], []
        for x in flat:
            if isinstance(x, Tensor):
                out_arrays.append(x._value)
                is_arr.append(True)
                static.append(None)
                rg.append(bool(x._requires_grad))
            elif _is_tracer(x) or isinstance(x, jax.Array):
                out_arrays.append(x)
                is_arr.append(2)
                static.append(None)
                rg.append(False)
            else:
                is_arr.append(False)
                static.append(x)
                rg.append(False)
        rec.out_is_arr, rec.out_static, rec.out_rg = tuple(is_arr), tuple(static), tuple(rg)

        # ---- state
        rec.n_state = len(S)
        st_out, modified = [], []
        for i, t in enumerate(S):
            d = t.__dict__
            arr, stamp = installed[id(t)]
            if d.get("_base") is not None:
                raise _Fallback("a state tensor became a view inside the compiled function")
            cur = d.get("_data")
            st_out.append(cur)
            if cur is not arr:
                vc = d.get("_vc")
                delta = 1 if vc is None or stamp is None else max(1, vc[0] - stamp)
                modified.append((i, delta))
        rec.modified = tuple(modified)

        # ---- grads: pre-existing .grad objects keep identity; new ones are created after the call
        gin_out, gin_mod, gkinds, gnew = [], [], [], []
        for g in call.gobjs:
            if g is not None:
                arr, stamp = installed[id(g)]
                cur = g.__dict__.get("_data")
                gin_out.append(cur)
                gin_mod.append(cur is not arr)
        backward_ran = any(gin_mod)
        for slot, (p, g0) in enumerate(zip(call.gslots, call.gobjs)):
            g1 = p.__dict__.get("_grad")
            if g1 is None:
                gkinds.append((0, None))
                backward_ran = backward_ran or g0 is not None
            elif g1 is g0:
                gkinds.append((1, None))
            else:
                gkinds.append((2, len(gnew)))
                gnew.append(g1._value)
                backward_ran = True
        gids = {id(p) for p in call.gslots}
        for p in S:
            if id(p) not in gids and p.__dict__.get("_grad") is not None and \
                    _is_tracer(p.__dict__["_grad"]._data):
                raise _Fallback("a .grad was set on a tensor that does not require grad")
        rec.grad_kinds, rec.gin_mod = tuple(gkinds), tuple(gin_mod)

        # ---- argument tensors changed in place
        arg_out, arg_mod = [], []
        for pos, t in call.arg_tensors:
            if pos in call.arg_views or id(t) not in installed or id(t) in plan._tid:
                continue
            arr, stamp = installed[id(t)]
            cur = t.__dict__.get("_data")
            if cur is not arr:
                vc = t.__dict__.get("_vc")
                delta = 1 if vc is None or stamp is None else max(1, vc[0] - stamp)
                arg_mod.append((pos, len(arg_out), delta))
                arg_out.append(cur)
        rec.arg_mod = tuple(arg_mod)

        # ---- containers: rebound / new entries are replayed after the call
        replays, new_arrays = [], []
        for l, snap in lsnap:
            if len(l) != len(snap) or any(a is not b for a, b in zip(l, snap)):
                raise _Fallback("a Python list was changed inside the compiled function (that would happen only "
                                "once, while tracing)")
        hp_keys = {(id(g), k) for g, k, _ in plan.hp_locs}
        reach = None
        for d, snap in csnap:
            if len(d) == len(snap) and all(d.get(k, _MISS) is v for k, v in snap.items()):
                continue
            if reach is None:  # what is still reachable now (a dict replaced by a new one does not matter)
                reach = {id(x) for x in _Plan(plan.roots, ()).dicts}
            if id(d) not in reach:
                continue
            for k in snap:
                if k not in d:
                    if (id(d), k) in hp_keys:
                        continue
                    replays.append(("del", d, k, None))
            for k, v in d.items():
                if snap.get(k, _MISS) is v or (id(d), k) in hp_keys:
                    continue
                old = snap.get(k, _MISS)
                if isinstance(v, Tensor):
                    if id(v) in installed or id(v) in plan._tid:
                        replays.append(("obj", d, k, v))
                    else:
                        if v._base is not None:
                            raise _Fallback("a view created inside the compiled function was stored")
                        replays.append(("tensor", d, k, (v, len(new_arrays), old)))
                        new_arrays.append(v._value)
                elif isinstance(v, _SCALARS):
                    if isinstance(old, _SCALARS) and type(old) is type(v) and old == v:
                        continue
                    if isinstance(v, (bool, str, type(None))):  # a flag set to a constant: replayable
                        replays.append(("obj", d, k, v))
                        continue
                    raise _Fallback(f"Python state {_describe(d, k)} was changed inside the compiled function "
                                    f"(it would only change once, while tracing)")
                elif _is_tracer(v):
                    raise _Fallback(f"a traced value was stored in {_describe(d, k)}")
                else:
                    ts = []
                    _tensors_in(v, ts, set())
                    fresh = [t for t in ts if id(t) not in installed and id(t) not in plan._tid]
                    if fresh and old is not _MISS and not isinstance(old, (dict, list)):
                        raise _Fallback(f"{_describe(d, k)} was replaced inside the compiled function")
                    idx = []
                    for t in fresh:
                        if t._base is not None:
                            raise _Fallback("a view created inside the compiled function was stored")
                        idx.append((t, len(new_arrays)))
                        new_arrays.append(t._value)
                    replays.append(("tree", d, k, (v, tuple(idx))))
        rec.replays = tuple(replays)
        # state created by this call (first-step optimizer state, a lazily made buffer): the next call
        # must re-discover, whatever the guard says
        rec.new_state = any(r[0] == "tree" or (r[0] == "tensor" and not isinstance(r[3][2], Tensor)) for r in replays)

        rec.needs_node = bool(prev_enabled and not backward_ran and any(rg))
        rec.diff_out = tuple(i for i, (a, r) in enumerate(zip(is_arr, rg)) if a is True and r)
        # positions among out_arrays
        pos, j = {}, 0
        for i, a in enumerate(is_arr):
            if a:
                pos[i] = j
                j += 1
        rec.diff_out = tuple(pos[i] for i in rec.diff_out)
        return _Out(rec, (tuple(out_arrays), tuple(st_out), tuple(gin_out), tuple(gnew), tuple(arg_out),
                          tuple(new_arrays)))
    finally:
        STATE.enabled = prev_enabled
        for t, d, vc, v in reversed(tsnap):
            t.__dict__.clear()
            t.__dict__.update(d)
            if vc is not None:
                vc[0] = v
        for d, snap in csnap:
            if len(d) != len(snap) or any(d.get(k, _MISS) is not v for k, v in snap.items()):
                d.clear()
                d.update(snap)
        for l, snap in lsnap:
            if len(l) != len(snap) or any(a is not b for a, b in zip(l, snap)):
                l[:] = snap
        _COMPILING[0] -= 1
        TRACE_DEVICE[0] = prev_device


def _device_of(S, call):
    """The device of the first concrete array among the arguments and the state."""
    from ._device import from_jax_device
    for t in [t for _, t in call.arg_tensors] + list(S):
        a = t.__dict__.get("_data")
        if a is not None and not _is_tracer(a) and hasattr(a, "devices"):
            try:
                return from_jax_device(min(a.devices(), key=lambda d: d.id))   # (sharded: its first device)
            except Exception:  # noqa: BLE001
                continue
    return None


def _concretize(t, arr):
    d = t.__dict__
    for k in ("grad_fn", "_out_idx", "_accum", "_retains_grad"):
        d.pop(k, None)
    vc = d.get("_vc")
    if vc is not None and vc[0] < 0:
        d["_vc"] = [0]
    t._data = arr


def _has_tracer(v):
    return _is_tracer(v) or (isinstance(v, Tensor) and _is_tracer(v.__dict__.get("_data")))


def _describe(d, k):
    return f"[{k!r}]" if not isinstance(k, str) else f"'{k}'"


# ============================================================================ the compiled node
class CompiledFunctionBackward(_graph.Node):
    """One autograd node for a whole compiled forward: its backward applies the vjp residuals
    the jitted forward returned (one jitted call)."""

    def __init__(self, pullback, edges, saved, n_out, out_dtypes):
        self.pullback = pullback
        self.edges = edges
        self.saved = saved
        self.n_out = n_out
        self.out_dtypes = out_dtypes
        self.seq = next(_graph._seq)

    def name(self):
        return "CompiledFunctionBackward"

    def apply_grads(self, cts, create_graph):
        if self.pullback is None:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved tensors after they "
                "have already been freed). Saved intermediate values of the graph are freed when you call "
                ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
                "graph a second time or if you need to access saved tensors after calling backward.")
        for vc, ver, shape, dt in self.saved:
            if vc[0] != ver:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an inplace "
                    f"operation: [{dt} {list(shape)}] is at version {vc[0]}; expected version {ver} instead. Hint: "
                    "enable anomaly detection to find the operation that failed to compute its gradient, with "
                    "torch.autograd.set_detect_anomaly(True).")
        if create_graph:
            raise RuntimeError("jtorch.compile: double backward (create_graph=True) through a compiled region is "
                               "not supported; run that part eagerly")
        full = []
        for c, (shape, dt) in zip(cts, self.out_dtypes):
            if c is None:
                full.append(jnp.zeros(shape, dt))
            else:
                c = c._value if isinstance(c, Tensor) else c
                full.append(c if c.dtype == dt else c.astype(dt))
        return list(_apply_pullback(self.pullback, tuple(full)))

    def release(self):
        self.pullback = None


@jax.jit
def _apply_pullback(pb, cts):
    from ._ops.kernel import torch_pullback  # torch's complex-gradient convention
    return torch_pullback(pb, cts)


# ============================================================================ CompiledFunction
def _user_frame(tb):
    """(file, line) of the innermost frame of user code in a traceback."""
    best = None
    while tb is not None:
        f = tb.tb_frame.f_code.co_filename
        af = os.path.abspath(f)
        if not af.startswith(_JTORCH_DIR) and not af.startswith(_JAX_DIR) and "site-packages/jax" not in af:
            best = (f, tb.tb_lineno)
        tb = tb.tb_next
    return best


def _autocast_key():
    a = autocast_state.ACTIVE[0]
    if a is None:
        return None
    return (type(a).__name__, getattr(a, "device_type", None), str(getattr(a, "dtype", None)),
            str(getattr(a, "compute_dtype", None)))


# What to do about a fallback, appended to its warning (the user meets this before any doc).
_FIX_HINT = ("To compile it: keep tensor values out of Python control flow (use torch.where / masks instead of "
             "`if tensor:`), move .item(), .tolist(), print and numpy conversions out of the compiled function, "
             "or compile a smaller function around the tensor math; fullgraph=True turns this warning into an error. "
             "See docs/user_guide.md, 'Compiling'.")


class CompiledFunction:
    """The callable jtorch.compile returns for a function."""

    def __init__(self, fn, fullgraph=False, dynamic=None, mode=None, options=None, backend=None, roots=()):
        self._fn = fn
        self._roots = tuple(roots)
        self._fullgraph = fullgraph
        self._mode = mode
        self._plans = {}
        self._plan = None
        self._lift_keys = ("lr",)
        self._hp_bake = False
        self._eager_keys = set()
        self._warned = False
        self._limit_warned = False
        self.trace_count = 0        # jit traces (compilations) so far
        self._abstract = False
        self._n_fallbacks = 0
        self._call = None
        self._primed = None         # optimizer state created ahead of the first trace
        self._gradless = set()      # ids of parameters seen to get no gradient (never primed again)
        functools.update_wrapper(self, fn, updated=())
        _REGISTRY.add(self)

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return functools.partial(self.__call__, obj)

    def _reset(self):
        self._plans.clear()
        self._plan = None
        self._eager_keys.clear()
        self.trace_count = 0
        self._warned = self._limit_warned = False

    # ------------------------------------------------------------------ per call
    def __call__(self, *args, **kwargs):
        if _COMPILING[0] or _DISABLED[0]:
            return self._fn(*args, **kwargs)
        res = self._call_compiled(args, kwargs)
        if self._primed:
            primed, self._primed = self._primed, None
            self._unprime(primed)
        return res

    def _call_compiled(self, args, kwargs):
        leaves, tree = jax.tree_util.tree_flatten((args, kwargs))
        arg_tensors, arg_views, statics, others = [], set(), [], []
        for i, x in enumerate(leaves):
            if isinstance(x, Tensor):
                arg_tensors.append((i, x))
                if x._base is not None:
                    arg_views.add(i)
                statics.append((x._requires_grad, i in arg_views, type(x._data) is jax.ShapeDtypeStruct))
            elif isinstance(x, _SCALARS):
                statics.append(x)
            else:
                others.append(x)
                statics.append(("obj", id(x)))
        plan = self._plan
        if plan is None or plan.other_ids != tuple(map(id, others)) or not plan.check():
            plan = self._make_plan(others)
        S = plan.tensors
        # grads of everything that requires grad
        gslots = [t for t in S if t._requires_grad] + [t for _, t in arg_tensors if t._requires_grad
                                                       and id(t) not in plan._tid]
        gobjs = [p._grad for p in gslots]
        call = _Call()
        call.args_tree, call.leaves, call.arg_tensors, call.arg_views = tree, leaves, arg_tensors, arg_views
        call.gslots, call.gobjs = gslots, gobjs
        state_arrays = [t._data for t in S]
        grad_arrays = [g._value for g in gobjs if g is not None]
        arg_arrays = [t._value for _, t in arg_tensors]
        hp = plan.hparams()
        if self._hp_bake:
            static_hp, hp = hp, ()
        else:
            static_hp = None
        static = (tuple(statics), tree, tuple(t._requires_grad for t in S),
                  tuple(g is not None for g in gobjs), STATE.enabled, STATE.inference, _autocast_key(), static_hp)
        key = (plan.sig, static)
        if key in self._eager_keys:
            return self._fn(*args, **kwargs)
        mode = plan.modes.get(static)
        try:
            if mode is None:
                mode = self._decide(plan, call, state_arrays, grad_arrays, arg_arrays, hp, static)
            if grad_arrays and plan.dead.get(static):
                # the function resets every incoming .grad before using it (zero_grad(set_to_none=True)
                # at the top of a step): run the program traced without them, the one the first call
                # (grads still None) compiled, instead of compiling a second whole step
                call.gobjs = gobjs = [None] * len(gobjs)
                grad_arrays = []
                static = static[:3] + (tuple(False for _ in gobjs),) + static[4:]
                mode = plan.modes.get(static)
                if mode is None:
                    mode = self._decide(plan, call, state_arrays, grad_arrays, arg_arrays, hp, static)
            if mode == "A":
                return self._call_a(plan, call, state_arrays, grad_arrays, arg_arrays, hp, static)
            return self._call_b(plan, call, state_arrays, grad_arrays, arg_arrays, hp, static)
        except _CacheLimit:
            self._eager_keys.add(key)
            return self._fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001
            if isinstance(e, ValueError) and mode in ("A", "B") and \
                    _replicate_onto_mesh(state_arrays, grad_arrays, arg_arrays):
                # state committed to one device met arguments sharded over a mesh (shard_batch): the
                # single-device arrays go onto the mesh, replicated, once (the write-back keeps them there)
                fn = self._call_a if mode == "A" else self._call_b
                return fn(plan, call, state_arrays, grad_arrays, arg_arrays, hp, static)
            if plan.hp_locs and not self._hp_bake:
                # maybe only the traced hyper-parameters (lr...) were the problem: bake them and retry
                self._hp_bake = True
                self._plan = None
                n = self._n_fallbacks
                res = self(*args, **kwargs)
                if self._n_fallbacks != n:   # not the hyper-parameters' fault
                    self._hp_bake = False
                    self._plan = None
                return res
            return self._fallback(e, key, args, kwargs)

    def _fallback(self, e, key, args, kwargs):
        self._n_fallbacks += 1
        if isinstance(e, (_TRACE_ERRORS + (_Fallback,))):
            if self._fullgraph:
                raise RuntimeError(f"jtorch.compile(fullgraph=True): {e}") from e
            self._eager_keys.add(key)
            self._warn(e)
            return self._fn(*args, **kwargs)
        # any other error while tracing: the eager run tells whether it is the user's own error
        if self._fullgraph:
            raise e
        self._eager_keys.add(key)
        res = self._fn(*args, **kwargs)
        self._warn(e)
        return res

    def _warn(self, e):
        if self._warned:
            return
        self._warned = True
        where = _user_frame(e.__traceback__)
        loc = f"{where[0]}:{where[1]}" if where else getattr(self._fn, "__qualname__", repr(self._fn))
        msg = str(e).split("\n")[0]
        warnings.warn(f"jtorch.compile: {getattr(self._fn, '__qualname__', 'function')} runs eagerly: it cannot be "
                      f"traced at {loc}: {msg}. {_FIX_HINT}", UserWarning, stacklevel=4)

    def _prime_optimizers(self, opts):
        """Create optimizers' per-parameter state (Adam's moments...) before the first trace.
        torch creates it lazily inside the first step(); traced, that first step would be its own
        program (no state in, new state out), so the first call would compile the whole step twice.
        Primed state equals what step() would create (same _init_state). Parameters that turn out
        to get no gradient lose their primed state again after the call, as in torch."""
        from .optim.optimizer import _RuleOptimizer
        primed = []
        for opt in opts:
            if not isinstance(opt, _RuleOptimizer) or (type(opt)._init_state is _RuleOptimizer._init_state and
                                                      type(opt)._prime_state is _RuleOptimizer._prime_state):
                continue
            for g in opt.param_groups:
                for p in g["params"]:
                    if isinstance(p, Tensor) and p._requires_grad and not opt.state.get(p) and \
                            id(p) not in self._gradless:
                        st = opt._prime_state(p, g)
                        if st:   # (stateless rules, SGD without momentum: torch keeps no state entry)
                            opt.state[p].update(st)
                            primed.append((opt, p))
                            opt.__dict__.setdefault("_stepped", set())
        return primed

    def _unprime(self, primed):
        # a parameter keeps its primed state if step() updated it (it had a .grad then); its .grad
        # after the call says nothing: `step(); zero_grad(set_to_none=True)` leaves None there
        stepped = {}
        for opt, _ in primed:
            stepped.setdefault(id(opt), opt.__dict__.pop("_stepped", None) or set())
        for opt, p in primed:
            if id(p) not in stepped[id(opt)]:
                opt.state.pop(p, None)
                opt.__dict__.get("_fresh", {}).pop(p, None)
                self._gradless.add(id(p))
                self._plan = None

    def _make_plan(self, others):
        from . import _random
        roots = [self._fn, _random.default_generator] + list(self._roots) + list(others)
        p = _Plan(roots, () if self._hp_bake else self._lift_keys).finish()
        if (p.optimizers or p.primables) and not self._hp_bake:
            primed = self._prime_optimizers(p.optimizers)
            made = [o._compile_prime() for o in p.primables]
            if primed or any(made):
                self._primed = primed
                p = _Plan(roots, self._lift_keys).finish()
        p.roots = roots
        p.other_ids = tuple(map(id, others))
        old = self._plans.get((p.sig, p.other_ids))
        if old is not None:
            old.guard_obj, old.guard_len, old.guard_scalar = p.guard_obj, p.guard_len, p.guard_scalar
            old._guard_index, old.dicts, old.lists = p._guard_index, p.dicts, p.lists
            old.hp_locs, old.roots = p.hp_locs, p.roots
            p = old
        else:
            self._plans[(p.sig, p.other_ids)] = p
        self._plan = p
        return p

    # ------------------------------------------------------------------ tracing entry points
    def _pure(self, plan):
        def pure(state_arrays, grad_arrays, arg_arrays, hp, static):
            if not self._abstract:
                self.trace_count += 1
                limit = config.recompile_limit if config.recompile_limit != 8 else config.cache_size_limit
                if self.trace_count > limit:
                    if not self._limit_warned:
                        self._limit_warned = True
                        warnings.warn(
                            f"jtorch.compile: {getattr(self._fn, '__qualname__', 'function')} hit the recompile "
                            f"limit (jtorch._dynamo.config.cache_size_limit = {limit}); new "
                            f"shapes, flags or state now run eagerly. Recompiles come from changing input shapes, "
                            f"dtypes, requires_grad, train/eval mode, or Python values the function reads.",
                            UserWarning, stacklevel=5)
                    raise _CacheLimit()
            if static[-1] is not None:
                hp = static[-1]
            call = self._call
            run = functools.partial(_run_traced, self, plan, call)
            if config.sink_transposes and _cl.on_cpu():
                run = sink_transposes(run)
            return run(state_arrays, grad_arrays, arg_arrays, hp)
        return pure

    def _decide(self, plan, call, state_arrays, grad_arrays, arg_arrays, hp, static):
        """Trace once to learn whether the outputs need an autograd node (mode B) or not (A).
        The trace goes through mode A's own jit, whose trace cache the real call then hits: a
        mode-A function (a whole training step) is traced once, not twice."""
        if not STATE.enabled:
            mode = "A"
        else:
            fn = self._jit_a_for(plan, state_arrays, grad_arrays)
            self._call = call
            try:
                traced = fn.trace(tuple(state_arrays), tuple(grad_arrays), tuple(arg_arrays), hp, static)
            finally:
                self._call = None
            out = traced.out_info
            mode = "B" if out.rec.needs_node else "A"
            if grad_arrays:
                # dead: never read, and every .grad slot that had one ends up replaced or None
                # (a function that keeps the incoming grads, like a forward, is not reset)
                plan.dead[static] = all(k != 1 for (k, _), g in zip(out.rec.grad_kinds, call.gobjs)
                                        if g is not None) and \
                    _grads_dead(traced.jaxpr.jaxpr, len(state_arrays), len(grad_arrays),
                                len(jax.tree_util.tree_leaves(out.children[:2])))
            if mode == "B" or plan.dead.get(static):
                self.trace_count -= 1   # that trace is not the program that will run
        plan.modes[static] = mode
        return mode

    def _jit_a_for(self, plan, state_arrays, grad_arrays):
        if _donatable(state_arrays) and _donatable(grad_arrays):
            if plan.jit_a is None:
                plan.jit_a = jax.jit(self._pure(plan), static_argnums=(4,), donate_argnums=(0, 1))
            return plan.jit_a
        if plan.jit_a_keep is None:
            plan.jit_a_keep = jax.jit(self._pure(plan), static_argnums=(4,))
        return plan.jit_a_keep

    def _call_a(self, plan, call, state_arrays, grad_arrays, arg_arrays, hp, static):
        fn = self._jit_a_for(plan, state_arrays, grad_arrays)
        self._call = call
        try:
            out = fn(tuple(state_arrays), tuple(grad_arrays), tuple(arg_arrays), hp, static)
        finally:
            self._call = None
        del state_arrays, grad_arrays
        rec = out.rec
        user, st, gin, gnew, aout, new = out.children
        self._write_back(plan, call, rec, st, gin, gnew, aout, new)
        return self._outputs(rec, user)

    def _write_back(self, plan, call, rec, st, gin, gnew, aout, new):
        S = plan.tensors
        for t, a in zip(S, st):
            t._data = a
        for i, delta in rec.modified:
            _bump(S[i], delta)
        gi = 0
        for g in call.gobjs:
            if g is not None:
                if g._base is None:
                    g._data = gin[gi]
                    if rec.gin_mod[gi]:
                        _bump(g, 1)
                elif rec.gin_mod[gi]:
                    g._set_value(gin[gi])
                gi += 1
        for p, (kind, j) in zip(call.gslots, rec.grad_kinds):
            if kind == 0:
                p._grad = None
            elif kind == 2:
                p._grad = wrap(gnew[j])
        for pos, j, delta in rec.arg_mod:
            t = call.leaves[pos]
            t._data = aout[j]
            _bump(t, delta)
        for kind, d, k, v in rec.replays:
            if kind == "del":
                d.pop(k, None)
            elif kind == "obj":
                d[k] = v
                plan.update_guard(d, k, v)
            elif kind == "tensor":
                proto, j, old = v
                t = _fresh_like(proto, new[j])
                d[k] = t
                if isinstance(old, Tensor):
                    plan.replace_tensor(old, t)
                plan.update_guard(d, k, t)
            else:  # a new subtree holding tensors created while tracing (first-step optimizer state...)
                obj, idx = v
                for t, j in idx:
                    _concretize(t, new[j])
                d[k] = obj
        if rec.new_state:
            self._plan = None

    def _outputs(self, rec, user):
        it = iter(user)
        flat = []
        for i, (a, s) in enumerate(zip(rec.out_is_arr, rec.out_static)):
            if a is True:
                flat.append(wrap(next(it)))
            elif a:
                flat.append(next(it))
            else:
                flat.append(s)
        return jax.tree_util.tree_unflatten(rec.out_tree, flat)

    def _call_b(self, plan, call, state_arrays, grad_arrays, arg_arrays, hp, static):
        S = plan.tensors
        # differentiable inputs: state and argument tensors that require grad (floating)
        srg = static[2]
        diff_s = tuple(i for i, r in enumerate(srg) if r)
        diff_a = tuple(j for j, (pos, t) in enumerate(call.arg_tensors) if t._requires_grad and id(t) not in plan._tid)
        if plan.jit_b is None:
            pure = self._pure(plan)

            def fwd(diff, state_arrays, arg_arrays, grad_arrays, hp, static, diff_s, diff_a):
                def f(*d):
                    st, ar = list(state_arrays), list(arg_arrays)
                    for i, v in zip(diff_s, d):
                        st[i] = v
                    for j, v in zip(diff_a, d[len(diff_s):]):
                        ar[j] = v
                    o = pure(tuple(st), grad_arrays, tuple(ar), hp, static)
                    user = o.children[0]
                    return tuple(user[i] for i in o.rec.diff_out), o
                outs, pb, aux = jax.vjp(f, *diff, has_aux=True)
                return outs, pb, aux
            plan.jit_b = jax.jit(fwd, static_argnums=(5, 6, 7))
        diff = tuple([state_arrays[i] for i in diff_s] + [arg_arrays[j] for j in diff_a])
        st_nd = tuple(None if i in diff_s else a for i, a in enumerate(state_arrays))
        ar_nd = tuple(None if j in diff_a else a for j, a in enumerate(arg_arrays))
        self._call = call
        try:
            outs, pb, aux = plan.jit_b(diff, st_nd, ar_nd, tuple(grad_arrays), hp, static, diff_s, diff_a)
        finally:
            self._call = None
        rec = aux.rec
        user, st, gin, gnew, aout, new = aux.children
        # edges and saved versions, from the Tensors themselves
        dts = [S[i] for i in diff_s] + [call.arg_tensors[j][1] for j in diff_a]
        edges, saved = [], []
        for t in dts:
            edges.append(_graph.edge_of(t))
            vc = t._vc
            if vc is None:
                vc = t._vc = [0]
            saved.append((vc, vc[0], t.shape, t.dtype))
        self._write_back(plan, call, rec, st, gin, gnew, aout, new)
        res_flat = []
        it = iter(user)
        out_tensors = []
        for a, s in zip(rec.out_is_arr, rec.out_static):
            if a is True:
                t = wrap(next(it))
                out_tensors.append(t)
                res_flat.append(t)
            elif a:
                res_flat.append(next(it))
            else:
                res_flat.append(s)
        node = CompiledFunctionBackward(pb, edges, saved, len(outs),
                                        [(o.shape, o.dtype) for o in outs])
        for k, i in enumerate(rec.diff_out):
            t = out_tensors[i]
            t._requires_grad = True
            t.grad_fn = node
            t._out_idx = k
        return jax.tree_util.tree_unflatten(rec.out_tree, res_flat)


def _replicate_onto_mesh(*lists):
    """jax.jit refused operands on different devices of one platform: replicate the single-device
    ones onto the mesh of the sharded ones, in place in the lists. False if that was not it."""
    from ._ops.placement import unify_devices
    flat = [a for lst in lists for a in lst]
    if not unify_devices(flat):
        return False
    i = 0
    for lst in lists:
        lst[:] = flat[i:i + len(lst)]
        i += len(lst)
    return True


def _fresh_like(proto, arr):
    t = object.__new__(type(proto))
    d = {k: v for k, v in proto.__dict__.items() if k not in _TENSOR_STATE}
    t.__dict__.update(d)
    t._data = arr
    if proto._requires_grad and proto.grad_fn is None:
        t._requires_grad = True
    return t


_TENSOR_STATE = {"_data", "_base", "_vchain", "_vc", "_synced", "_view_grad", "_requires_grad", "grad_fn",
                 "_out_idx", "_accum", "_grad", "_retains_grad", "_post_acc_hooks"}


def _bump(t, delta):
    vc = t._vc
    if vc is None:
        t._vc = [delta]
    else:
        vc[0] += delta


def _calibrate():
    a = jnp.zeros(())
    t = wrap(a)
    del a
    arrs = [t._data]
    for x in arrs:
        return sys.getrefcount(x)


_RC = None


def _donatable(arrs):
    """True when each array is held only by its one Tensor (so donating it deletes nothing
    anyone else can still see)."""
    global _RC
    if _RC is None:
        _RC = _calibrate()
    rc = _RC
    seen = set()
    for x in arrs:
        if sys.getrefcount(x) > rc or id(x) in seen:
            return False
        seen.add(id(x))
    return True


# ============================================================================ public entry points
_DISABLED = [False]


def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None, options=None,
            disable=False):
    """torch.compile: returns a compiled callable (a wrapper module for an nn.Module)."""
    if model is None:
        def deco(m):
            return compile(m, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode, options=options,
                           disable=disable)
        return deco
    if mode is not None and options is not None:
        raise RuntimeError("Either mode or options can be specified, but both can't be specified at the same time.")
    if mode is not None and mode not in ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"):
        raise RuntimeError(f"Unrecognized mode={mode}, should be one of: default, reduce-overhead, max-autotune, "
                           "max-autotune-no-cudagraphs")
    if not callable(model):
        raise RuntimeError("compile() expects a callable (a function or an nn.Module)")
    if disable:
        return model
    if _is_module(model):
        return _optimized_module(model, fullgraph=fullgraph, dynamic=dynamic, mode=mode, options=options,
                                 backend=backend)
    return CompiledFunction(model, fullgraph=fullgraph, dynamic=dynamic, mode=mode, options=options, backend=backend)


def _is_module(obj):
    d = getattr(obj, "__dict__", None)
    return d is not None and "_parameters" in d and "_modules" in d and not isinstance(obj, type)


_OPT_CLS = [None]


def _optimized_module(mod, **kw):
    cls = _OPT_CLS[0]
    if cls is None:
        from .nn.modules.module import Module
        cls = _OPT_CLS[0] = _make_optimized_module_class(Module)
    return cls(mod, **kw)


def _make_optimized_module_class(Module):
    class OptimizedModule(Module):
        """What compile(module) returns: behaves like the module (attributes, state_dict under the
        `_orig_mod.` prefix as torch's), calling it runs the compiled call."""
        _jtorch_compiled = True

        def __init__(self, mod, **kw):
            Module.__init__(self)
            self._orig_mod = mod
            self.__dict__["_compiled_call"] = CompiledFunction(_call_module(mod), roots=(mod,), **kw)

        def __call__(self, *args, **kwargs):
            return self._compiled_call(*args, **kwargs)

        def forward(self, *args, **kwargs):
            return self._compiled_call(*args, **kwargs)

        def __getattr__(self, name):
            try:
                return Module.__getattr__(self, name)
            except AttributeError:
                return getattr(self.__dict__["_modules"]["_orig_mod"], name)

        @property
        def trace_count(self):
            return self._compiled_call.trace_count

    return OptimizedModule


def _call_module(mod):
    def call(*args, **kwargs):
        return mod(*args, **kwargs)
    call.__qualname__ = f"{type(mod).__name__}.forward"
    return call


def disable(fn=None, recursive=True):
    """torch.compiler.disable: the function always runs eagerly. Called while jtorch.compile is
    tracing, it makes the enclosing compiled function run eagerly (one program cannot be split)."""
    if fn is None:
        return functools.partial(disable, recursive=recursive)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if _COMPILING[0]:
            raise UntraceableError(f"{getattr(fn, '__qualname__', fn)} is marked jtorch.compiler.disable")
        return fn(*args, **kwargs)
    wrapper._jtorch_disabled = True
    return wrapper
