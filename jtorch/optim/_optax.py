"""`jtorch.optim.from_optax`: any optax GradientTransformation as a torch-style optimizer.

    opt = jtorch.optim.from_optax(model.parameters(), optax.inject_hyperparams(optax.adamw)(learning_rate=1e-3))
    sched = jtorch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=100)   # edits param_groups[0]['lr']

Each param group keeps its own optax state (a pytree whose leaves are jtorch Tensors, stored in
`optimizer.state[first parameter of the group]['optax_state']`, so `state_dict()` carries it). A step
runs `transform.update` + `optax.apply_updates` for the whole group in one jitted call and writes
the new values into the same Parameter objects. When the transform was built with
`optax.inject_hyperparams`, its numeric hyperparameters appear in each param group (`learning_rate`
is exposed as torch's `lr`) and are fed back into the optax state at every step as dynamic values,
so schedulers and manual edits never recompile. Parameters whose `.grad` is None get a zero gradient
(an optax state is one pytree over the whole group, so they cannot be skipped individually); a group
where no parameter has a gradient is skipped.
"""
import jax
import jax.numpy as jnp

from .._tensor import Tensor, wrap
from .optimizer import Optimizer

__all__ = ["from_optax", "OptaxOptimizer"]

_LR = "learning_rate"


def _hyperparams_of(state):
    h = getattr(state, "hyperparams", None)
    return h if isinstance(h, dict) else None


def _wrap_leaf(x):
    return wrap(jnp.asarray(x))


def _to_group_key(k):
    return "lr" if k == _LR else k


class OptaxOptimizer(Optimizer):
    def __init__(self, params, transform):
        self.transform = transform
        probe = _hyperparams_of(transform.init([]))
        self._hyper_names = tuple(k for k, v in (probe or {}).items() if not callable(v))
        defaults = {_to_group_key(k): float(probe[k]) for k in self._hyper_names}
        super().__init__(params, defaults)
        self._jit = jax.jit(self._update)

    def _update(self, params, grads, state, hyper):
        h = _hyperparams_of(state)
        if h is not None and hyper:
            state = state._replace(hyperparams={**h, **{k: jnp.asarray(v).astype(jnp.asarray(h[k]).dtype)
                                                        for k, v in hyper.items()}})
        import optax
        updates, state = self.transform.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    def step(self, closure=None):
        loss = None
        if closure is not None:
            from ..autograd.grad_mode import enable_grad
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            ps = group["params"]
            if not ps or all(p._grad is None for p in ps):
                continue
            st = self.state[ps[0]]
            values = [p._value for p in ps]
            if "optax_state" not in st:
                st["optax_state"] = jax.tree.map(_wrap_leaf, self.transform.init(values))
            grads = [p._grad._value if p._grad is not None else jnp.zeros_like(p._value) for p in ps]
            state = jax.tree.map(lambda t: t._value, st["optax_state"], is_leaf=lambda x: isinstance(x, Tensor))
            hyper = {k: (group[_to_group_key(k)]._value if isinstance(group[_to_group_key(k)], Tensor)
                         else float(group[_to_group_key(k)])) for k in self._hyper_names}
            new_values, new_state = self._jit(values, grads, state, hyper)
            for p, v in zip(ps, new_values):
                p._set_value(v)
            leaves = jax.tree.leaves(st["optax_state"], is_leaf=lambda x: isinstance(x, Tensor))
            new_leaves = jax.tree.leaves(new_state)
            if len(leaves) == len(new_leaves):
                for t, v in zip(leaves, new_leaves):
                    t._set_value(v)
            else:
                st["optax_state"] = jax.tree.map(_wrap_leaf, new_state)
        return loss


def from_optax(params, transform):
    """Wrap an optax GradientTransformation as a `jtorch.optim.Optimizer` over `params`."""
    return OptaxOptimizer(params, transform)
