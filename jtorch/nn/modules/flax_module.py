"""FlaxModule: a Flax module (linen or nnx) used as a jtorch submodule.

The Flax variables become jtorch Parameters (the `params` collection / `nnx.Param`) and buffers
(every other collection: `batch_stats`, ...), registered under nested child modules so that
`state_dict()` names read like `flax.params.Dense_0.kernel`. `forward` calls Flax's apply inside
ONE jtorch kernel: its backward is `jax.vjp` of that apply, so `loss.backward()` fills `.grad`,
`jtorch.optim` trains the variables, and `jtorch.compile` traces through it like any op.
"""
import weakref

import jax
import jax.numpy as jnp

from ..._tensor import Tensor, wrap
from ...autograd.grad_mode import no_grad
from ..parameter import Parameter
from .module import Module

__all__ = ["FlaxModule"]

_CACHES = {}  # id(FlaxModule) -> (kernels by call signature, output treedefs by call signature)


class _Collection(Module):
    """A plain container: one level of a Flax variable tree."""

    def forward(self, *args, **kwargs):
        raise RuntimeError("a FlaxModule variable container is not callable; call the FlaxModule")


def _safe(name):
    return str(name).replace(".", "_") or "_"


def _key_name(k):
    for attr in ("key", "name", "idx"):
        if hasattr(k, attr):
            return str(getattr(k, attr))
    return str(k)


def _seed_from_jtorch():
    # Derive Flax's PRNG key from jtorch's generator, so jtorch.manual_seed governs init and dropout
    # (the draw is an op on the generator's lifted state, so it also works inside jtorch.compile).
    from ... import randint, int64
    return randint(0, 2 ** 31 - 1, (), dtype=int64)


class FlaxModule(Module):
    """Wrap a Flax module so it runs as part of a jtorch model.

    `FlaxModule(linen_module, *example_inputs, variables=None, rng_collections=(), **kwargs)`:
    with `variables=None` the module is initialised by `linen_module.init` on the example inputs
    (tensors or arrays), seeded from jtorch's generator. `forward(*args, **kwargs)` calls
    `linen_module.apply`; Tensor arguments are traced inputs, everything else is static (a new
    value compiles a new kernel, as with `jax.jit` static arguments). In `train()` mode the
    non-`params` collections are passed as `mutable` and their updated values written back into
    the buffers (BatchNorm statistics); `rng_collections=("dropout",)` feeds a fresh key, drawn
    from jtorch's generator, each call in train mode.

    `FlaxModule(nnx_module)`: an already-initialised `flax.nnx` module; `forward` merges the
    current variables, calls it, and writes back any variable the call changed.
    """

    def __init__(self, flax_module, *example_inputs, variables=None, rng_collections=(), **kwargs):
        super().__init__()
        self._rng_collections = tuple(rng_collections)
        # Kernels and output structures live outside the module's attributes: jtorch.compile guards
        # the containers it can reach from a compiled function, and a kernel built while tracing
        # must not count as a user-visible change of module state.
        self._cache()
        try:
            from flax import nnx
        except ImportError:  # pragma: no cover - flax is a dependency
            nnx = None
        if nnx is not None and isinstance(flax_module, nnx.Module):
            if example_inputs or variables is not None:
                raise TypeError("FlaxModule(nnx_module): an nnx module is already initialised; pass no example "
                                "inputs or variables")
            self._kind = "nnx"
            graphdef, state = nnx.split(flax_module)
            self._graphdef = graphdef
            leaves, self._treedef = jax.tree_util.tree_flatten_with_path(state)
            self._is_param = self._nnx_param_mask(nnx, flax_module, leaves)
        else:
            if not hasattr(flax_module, "init") or not hasattr(flax_module, "apply"):
                raise TypeError(f"FlaxModule expects a flax.linen.Module or flax.nnx.Module, got "
                                f"{type(flax_module).__name__}")
            self._kind = "linen"
            if variables is None:
                rngs = {"params": jax.random.key(_seed_from_jtorch()._value)}
                for c in self._rng_collections:
                    rngs[c] = jax.random.key(_seed_from_jtorch()._value)
                from ...utils.jax import to_jax
                variables = flax_module.init(rngs, *to_jax(list(example_inputs)), **to_jax(kwargs))
            leaves, self._treedef = jax.tree_util.tree_flatten_with_path(dict(variables))
            self._is_param = [_key_name(path[0]) == "params" for path, _ in leaves]
            self._collections = sorted({_key_name(path[0]) for path, _ in leaves})
        object.__setattr__(self, "_flax_module", flax_module)  # not a jtorch submodule: keep it out of _modules
        self._slots = []  # (owner container, leaf name) per flat leaf, in the tree's order
        self._opaque = {}  # leaves with no torch dtype (PRNG keys of nnx.Rngs): kept as jax arrays
        for i, (path, leaf) in enumerate(leaves):
            if len(path) > 1 and isinstance(path[-1], jax.tree_util.GetAttrKey) and path[-1].name in ("value",
                                                                                                 "raw_value"):
                path = path[:-1]  # nnx wraps each array in a Variable: name the variable, not its `.value`
            owner = self
            for k in path[:-1]:
                name = _safe(_key_name(k))
                child = owner._modules.get(name)
                if child is None:
                    child = _Collection()
                    owner.add_module(name, child)
                owner = child
            leaf_name = _safe(_key_name(path[-1]))
            arr = jnp.asarray(leaf)
            if jax.dtypes.issubdtype(arr.dtype, jax.dtypes.prng_key):
                self._opaque[i] = arr
                self._slots.append((None, None))
                continue
            if self._is_param[i] and jnp.issubdtype(arr.dtype, jnp.inexact):
                owner.register_parameter(leaf_name, Parameter(wrap(arr)))
            else:
                owner.register_buffer(leaf_name, wrap(arr))
            self._slots.append((owner, leaf_name))

    @staticmethod
    def _nnx_param_mask(nnx, module, leaves):
        _, params, _ = nnx.split(module, nnx.Param, ...)
        param_paths = {tuple(map(_key_name, p)) for p, _ in jax.tree_util.tree_flatten_with_path(params)[0]}
        return [tuple(map(_key_name, p)) in param_paths for p, _ in leaves]

    def _cache(self):
        c = _CACHES.get(id(self))
        if c is None:  # first use, or a copy (deepcopy, pickle) of a FlaxModule
            c = _CACHES[id(self)] = ({}, {})
            weakref.finalize(self, _CACHES.pop, id(self), None)
        return c

    def extra_repr(self):
        n = sum(p.numel() for p in self.parameters())
        return f"flax.{self._kind} {type(self._flax_module).__name__}, {n} parameters"

    @property
    def flax_module(self):
        return self._flax_module

    def _leaf_tensors(self):
        out = []
        for owner, name in self._slots:
            if owner is None:
                out.append(None)
            else:
                t = owner._parameters.get(name)
                out.append(t if t is not None else owner._buffers[name])
        return out

    def variables(self):
        """The current variables as Flax's pytree of jax arrays (linen: the `variables` dict;
        nnx: the `nnx.State`)."""
        arrays = [self._opaque[i] if t is None else t.detach()._value for i, t in enumerate(self._leaf_tensors())]
        return jax.tree_util.tree_unflatten(self._treedef, arrays)

    def _kernel(self, key, n_leaves, args_def, kwargs, mutable, use_rng):
        kernels, out_defs = self._cache()
        k = kernels.get(key)
        if k is not None:
            return k
        from ..._ops.kernel import Kernel
        treedef, module, kind = self._treedef, self._flax_module, self._kind
        graphdef = getattr(self, "_graphdef", None)
        rng_cols, is_param, opaque = self._rng_collections, list(self._is_param), set(self._opaque)
        out_def = out_defs.setdefault(key, [])

        def fn(*flat):
            leaves = list(flat[:n_leaves])
            rest = flat[n_leaves:]
            if use_rng:
                seed, rest = rest[0], rest[1:]
            args = jax.tree_util.tree_unflatten(args_def, list(rest))
            variables = jax.tree_util.tree_unflatten(treedef, leaves)
            if kind == "linen":
                call_kw = dict(kwargs)
                if use_rng:
                    base = jax.random.key(seed)
                    call_kw["rngs"] = {c: jax.random.fold_in(base, j) for j, c in enumerate(rng_cols)}
                if mutable:
                    out, new_vars = module.apply(variables, *args, mutable=mutable, **call_kw)
                    merged = dict(variables)
                    merged.update(new_vars)
                    new_leaves = jax.tree_util.tree_leaves(merged)
                else:
                    out = module.apply(variables, *args, **call_kw)
                    new_leaves = leaves
            else:
                from flax import nnx
                m = nnx.merge(graphdef, variables)
                out = m(*args, **dict(kwargs))
                new_leaves = jax.tree_util.tree_leaves(nnx.state(m))
            flat_out, odef = jax.tree_util.tree_flatten(out)
            out_def[:] = [odef, len(flat_out)]
            # the state that changed comes back after the outputs (opaque keys stay put)
            changed = [nl for i, nl in enumerate(new_leaves) if i not in opaque and not is_param[i]]
            return tuple(flat_out) + tuple(changed)

        k = Kernel(("FlaxModule", id(self)) + key, fn, "FlaxModule")
        kernels[key] = k
        return k

    def forward(self, *args, **kwargs):
        from ..._ops.dispatch import run_kernel_recorded
        from ...utils.jax import from_jax
        flat_args, args_def = jax.tree_util.tree_flatten(list(args), is_leaf=lambda x: isinstance(x, Tensor))
        tensor_pos = [i for i, a in enumerate(flat_args) if isinstance(a, (Tensor, jax.Array))]
        if len(tensor_pos) != len(flat_args):
            raise TypeError("FlaxModule.forward: positional arguments must be tensors (or pytrees of tensors); "
                            "pass static options as keyword arguments")
        for v in kwargs.values():
            if isinstance(v, Tensor):
                raise TypeError("FlaxModule.forward: pass tensors positionally; keyword arguments are static")
        try:
            kw_key = tuple(sorted(kwargs.items()))
            hash(kw_key)
        except TypeError:
            raise TypeError("FlaxModule.forward: keyword arguments must be hashable static values") from None
        has_state = not all(self._is_param[i] for i in range(len(self._slots)) if i not in self._opaque)
        if self._kind == "linen":
            mutable = tuple(c for c in self._collections if c != "params") if (self.training and has_state) else ()
        else:
            mutable = has_state
        use_rng = self._kind == "linen" and self.training and bool(self._rng_collections)
        n_leaves = len(self._slots)
        key = (args_def, kw_key, mutable, use_rng, self.training)
        kern = self._kernel(key, n_leaves, args_def, kwargs, list(mutable) if self._kind == "linen" else mutable,
                            use_rng)
        leaves = self._leaf_tensors()
        items = [self._opaque.get(i) if t is None else t for i, t in enumerate(leaves)]
        if use_rng:
            items.append(_seed_from_jtorch())
        items += [a if isinstance(a, Tensor) else from_jax(a) for a in flat_args]
        res = run_kernel_recorded(kern, items)
        res = res if isinstance(res, list) else [res]
        odef, n_out = self._cache()[1][key]
        outs, new_state = res[:n_out], res[n_out:]
        if new_state:
            state_tensors = [t for i, t in enumerate(leaves) if i not in self._opaque and not self._is_param[i]]
            with no_grad():
                for t, v in zip(state_tensors, new_state):
                    t.copy_(v)
        return jax.tree_util.tree_unflatten(odef, outs)

    def train(self, mode=True):
        super().train(mode)
        if getattr(self, "_kind", None) == "nnx":
            # nnx keeps train/eval as static attributes (BatchNorm.use_running_average, Dropout.deterministic)
            # in the graph definition: switch them on the nnx module and take the new graphdef
            from flax import nnx
            m = self._flax_module
            (m.train if mode else m.eval)()
            self._graphdef = nnx.split(m)[0]
            self._cache()[0].clear()
        return self
