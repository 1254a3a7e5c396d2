"""torch.optim.Optimizer: param_groups, per-parameter state, state_dict in torch's layout, hooks.

The update math of each optimizer lives in a pure function over one parameter's arrays (see
`_functional.py`); `_step_group` runs it for all of a group's parameters inside ONE cached
`jax.jit` program and writes the results back into the same Tensor objects (`_set_value`), so
parameters keep their identity and optimizer state tensors stay the ones `state_dict()` returned.
"""
import functools
import warnings
from collections import OrderedDict, defaultdict
from copy import deepcopy
from itertools import chain

from .._tensor import Tensor
from ..autograd.graph import RemovableHandle

__all__ = ["Optimizer", "required", "register_optimizer_step_pre_hook", "register_optimizer_step_post_hook"]

_global_optimizer_pre_hooks = OrderedDict()
_global_optimizer_post_hooks = OrderedDict()


class _RequiredParameter:
    """Singleton marking a hyperparameter every param group must give."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def register_optimizer_step_pre_hook(hook):
    h = RemovableHandle(_global_optimizer_pre_hooks)
    _global_optimizer_pre_hooks[h.id] = hook
    return h


def register_optimizer_step_post_hook(hook):
    h = RemovableHandle(_global_optimizer_post_hooks)
    _global_optimizer_post_hooks[h.id] = hook
    return h


def _typename(obj):
    if isinstance(obj, Tensor):
        return obj.type()
    m = type(obj).__module__
    return type(obj).__qualname__ if m in (None, "builtins") else f"{m}.{type(obj).__qualname__}"


def _to_scalar(x):
    """A 1-element Tensor hyperparameter -> its 0-dim form (kept a Tensor, like torch)."""
    if isinstance(x, Tensor) and x.dim() != 0:
        return x.squeeze()
    return x


def _full_like(p, value):
    """A tensor shaped and placed like p, filled with value (a number, Tensor, array or tracer)."""
    import jax.numpy as jnp
    from .._tensor import wrap
    v = jnp.asarray(_hyper_value(value))
    base = jnp.zeros_like(p._value)
    return wrap(base + (v * (1 + 1j) if jnp.iscomplexobj(base) else v).astype(base.dtype))


def _check_lr(lr):
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")


def _check_fused_foreach(foreach, fused, differentiable=False):
    if fused and differentiable:
        raise RuntimeError("`fused` does not support `differentiable`")
    if fused and foreach:
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


class Optimizer:
    """Base class for all optimizers (torch.optim.Optimizer)."""

    def __init__(self, params, defaults):
        self.defaults = defaults
        self._optimizer_step_pre_hooks = OrderedDict()
        self._optimizer_step_post_hooks = OrderedDict()
        self._optimizer_state_dict_pre_hooks = OrderedDict()
        self._optimizer_state_dict_post_hooks = OrderedDict()
        self._optimizer_load_state_dict_pre_hooks = OrderedDict()
        self._optimizer_load_state_dict_post_hooks = OrderedDict()
        self._patch_step_function()
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            "but got " + _typename(params))
        self.state = defaultdict(dict)
        self.param_groups = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for g in param_groups:
            self.add_param_group(g)
        self._warned_capturable_if_run_uncaptured = True

    # ------------------------------------------------------------------ pickling / repr
    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)
        for k in ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks", "_optimizer_state_dict_pre_hooks",
                  "_optimizer_state_dict_post_hooks", "_optimizer_load_state_dict_pre_hooks",
                  "_optimizer_load_state_dict_post_hooks"):
            if k not in self.__dict__:
                setattr(self, k, OrderedDict())
        self._patch_step_function()
        self.defaults.setdefault("differentiable", False)

    def __repr__(self):
        s = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            s += f"\nParameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    s += f"    {key}: {group[key]}\n"
        return s + ")"

    # ------------------------------------------------------------------ step hooks
    @staticmethod
    def profile_hook_step(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            self = args[0]
            for pre in chain(_global_optimizer_pre_hooks.values(), self._optimizer_step_pre_hooks.values()):
                res = pre(self, args, kwargs)
                if res is not None:
                    if isinstance(res, tuple) and len(res) == 2:
                        args, kwargs = res
                    else:
                        raise RuntimeError(f"{func} must return None or a tuple of (new_args, new_kwargs), "
                                           f"but got {res}.")
            out = func(*args, **kwargs)
            self._optimizer_step_code()
            for post in chain(self._optimizer_step_post_hooks.values(), _global_optimizer_post_hooks.values()):
                post(self, args, kwargs)
            return out
        return wrapper

    def _optimizer_step_code(self):
        """Entry point kept for parity with torch (profilers hook here)."""

    def _patch_step_function(self):
        self._zero_grad_profile_name = f"Optimizer.zero_grad#{self.__class__.__name__}.zero_grad"
        if not getattr(self.__class__.step, "hooked", None):
            self.__class__.step = self.profile_hook_step(self.__class__.step)
            self.__class__.step.hooked = True

    def register_step_pre_hook(self, hook):
        h = RemovableHandle(self._optimizer_step_pre_hooks)
        self._optimizer_step_pre_hooks[h.id] = hook
        return h

    def register_step_post_hook(self, hook):
        h = RemovableHandle(self._optimizer_step_post_hooks)
        self._optimizer_step_post_hooks[h.id] = hook
        return h

    def _register(self, store, hook, prepend):
        h = RemovableHandle(store)
        store[h.id] = hook
        if prepend:
            store.move_to_end(h.id, last=False)
        return h

    def register_state_dict_pre_hook(self, hook, prepend=False):
        return self._register(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        return self._register(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        return self._register(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        return self._register(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    # ------------------------------------------------------------------ state dict
    def state_dict(self):
        for pre in self._optimizer_state_dict_pre_hooks.values():
            pre(self)
        mapping = {}
        start = 0

        def pack(group):
            nonlocal start
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                mapping.setdefault(id(p), i)
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            return packed

        groups = [pack(g) for g in self.param_groups]
        packed_state = {(mapping[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        sd = {"state": packed_state, "param_groups": groups}
        for post in self._optimizer_state_dict_post_hooks.values():
            r = post(self, sd)
            if r is not None:
                sd = r
        return sd

    @staticmethod
    def _process_value_according_to_param_policy(param, value, param_id, param_groups, key=None):
        fused = capturable = False
        for pg in param_groups:
            if param_id in pg["params"]:
                fused = pg.get("fused", False)
                capturable = pg.get("capturable", False)
                break
        if key == "step":
            if capturable or fused:
                return value.to(dtype=_float32(), device=param.device)
            return value
        if param.is_floating_point() and (value.is_floating_point() or value.is_complex()):
            return value.to(dtype=param.dtype, device=param.device)
        return value.to(device=param.device)

    def load_state_dict(self, state_dict):
        state_dict = state_dict.copy()
        for pre in self._optimizer_load_state_dict_pre_hooks.values():
            r = pre(self, state_dict)
            if r is not None:
                state_dict = r
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match the size of "
                             "optimizer's group")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))

        def cast(param, value, param_id=None, key=None):
            if isinstance(value, Tensor):
                return Optimizer._process_value_according_to_param_policy(param, value, param_id, saved_groups,
                                                                          key)
            if isinstance(value, dict):
                return {k: cast(param, v, param_id, key=k) for k, v in value.items()}
            if isinstance(value, tuple) and hasattr(value, "_fields"):   # NamedTuple (optax states)
                return type(value)(*(cast(param, v, param_id) for v in value))
            if isinstance(value, (list, tuple)):
                return type(value)(cast(param, v, param_id) for v in value)
            return value

        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                state[id_map[k]] = cast(id_map[k], v, param_id=k)
            else:
                state[k] = v

        def update_group(group, new_group):
            new_group["params"] = group["params"]
            if "param_names" in group and "param_names" not in new_group:
                new_group["param_names"] = group["param_names"]
            return new_group

        param_groups = [update_group(g, ng) for g, ng in zip(groups, saved_groups)]
        self.__setstate__({"state": state, "param_groups": param_groups})
        for post in self._optimizer_load_state_dict_post_hooks.values():
            post(self)

    # ------------------------------------------------------------------ grads and groups
    def zero_grad(self, set_to_none=True):
        for group in self.param_groups:
            for p in group["params"]:
                g = p._grad
                if g is not None:
                    if set_to_none:
                        p._grad = None
                    else:
                        if g.grad_fn is not None:
                            g.detach_()
                        else:
                            g.requires_grad_(False)
                        g.zero_()

    def step(self, closure=None):
        raise NotImplementedError

    def add_param_group(self, param_group):
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering "
                            "of tensors in sets will change between runs. Please use a list instead.")
        else:
            param_group["params"] = list(params)
        tensors, names = [], []
        for p in param_group["params"]:
            if isinstance(p, tuple):
                names.append(p[0])
                tensors.append(p[1])
            else:
                tensors.append(p)
        param_group["params"] = tensors
        if names:
            if len(names) == len(tensors):
                param_group["param_names"] = names
            else:
                raise ValueError("all optimizer params should be with/without names. Some param names are missing")
        for p in tensors:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is " + _typename(p))
            if not self.defaults.get("differentiable", None) and not (p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter "
                                 f"{name}")
            param_group.setdefault(name, default)
        if len(tensors) != len(set(map(id, tensors))):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in future, this will "
                          "cause an error; see github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        seen = set()
        for group in self.param_groups:
            seen.update(map(id, group["params"]))
            if ("param_names" in param_group) != ("param_names" in group):
                txt = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {txt} to the optimizer")
        if not seen.isdisjoint(map(id, tensors)):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)


def _float32():
    from .. import _dtype
    return _dtype.float32


def _scalar_dtype():
    from .. import _dtype
    return _dtype.float64 if _dtype.get_default_dtype() is _dtype.float64 else _dtype.float32


def _hyper_value(v):
    """A hyperparameter as a jit argument: Python numbers as floats (dynamic, never recompile), Tensors as arrays."""
    if isinstance(v, Tensor):
        return v._value
    if isinstance(v, (int, float)):
        return float(v)
    return v  # a traced scalar: jtorch.compile lifts group['lr'] into the compiled step


def _nonzero(v):
    return v != 0 if isinstance(v, (int, float)) else True


class _RuleOptimizer(Optimizer):
    """An optimizer whose update is a pure per-parameter rule of `_functional`, run per group in one jit.

    Subclasses give `_rule`, `_flags(group)` (static Python values), `_hyper(group)` (dynamic scalars),
    `_state_keys(group)` (the state entries the rule reads) and `_init_state(p, group)` (torch's lazy
    state initialization, run the first time a parameter has a gradient).
    """
    _rule = None

    def _flags(self, group):
        return {"maximize": bool(group.get("maximize", False))}

    def _hyper(self, group):
        return {"lr": group["lr"]}

    def _state_keys(self, group):
        return ()

    def _init_state(self, p, group):
        return {}

    def _prime_state(self, p, group):
        """The state jtorch.compile creates before its first trace (see _compile._prime_optimizers):
        torch's lazily created state, so the first compiled call already has the final state structure."""
        return self._init_state(p, group)

    # torch's capturable=True device assertion, as each optimizer words it: (what, whether 'xla' is
    # listed) for the single-tensor path (torch's default on CPU), then for foreach=True
    _capturable_msg = ("params and state_steps", True, "params and state_steps", False)

    def _check_capturable(self, group, ps):
        """capturable=True asks for CUDA-graph-safe steps on an accelerator: torch asserts the
        parameters live on one (after creating the state) unless it is compiling."""
        from .._compile import is_compiling
        if is_compiling():
            return
        what, xla = self._capturable_msg[2:] if group.get("foreach") else self._capturable_msg[:2]
        devices = ["cuda", "xpu", "hpu", "privateuseone"] + (["xla"] if xla else [])
        if not all(p.device.type in devices for p in ps):
            raise AssertionError(f"If capturable=True, {what} must be on supported devices: {devices}.")

    def _zero_step(self):
        from .._creation import tensor
        return tensor(0.0, dtype=_scalar_dtype())

    def step(self, closure=None):
        loss = None
        if closure is not None:
            from ..autograd.grad_mode import enable_grad
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._step_group(group)
        return loss

    def _step_group(self, group):
        from ._functional import group_step
        from .._tensor import wrap
        ps, sts = [], []
        state = self.state
        keys = self._state_keys(group)
        differentiable = group.get("differentiable", False)
        for p in group["params"]:
            if p._grad is None:
                continue
            if differentiable and p.requires_grad and p.is_leaf:
                # torch runs a differentiable step with grad enabled: the in-place update of a leaf fails
                raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
            if keys:
                st = state[p]
                if len(st) == 0:
                    st.update(self._init_state(p, group))
            else:
                st = {}   # stateless rule (SGD without momentum): torch leaves optimizer.state empty
            ps.append(p)
            sts.append(st)
        stepped = self.__dict__.get("_stepped")
        if stepped is not None:   # jtorch.compile's first call: which primed states torch would have made
            stepped.update(id(p) for p in ps)
        if not ps:
            return
        if group.get("capturable") and not group.get("fused"):
            self._check_capturable(group, ps)
        arrays = [{k: (st[k]._value if st.get(k) is not None else None) for k in keys} for st in sts]
        fresh = self.__dict__.get("_fresh")
        if fresh:
            # state primed by jtorch.compile that the rule must treat as not created yet (SGD's
            # momentum buffer): a per-parameter flag the rule reads, cleared by the step
            flags = [fresh.get(p) for p in ps]
            for a, f in zip(arrays, flags):
                if f is not None:
                    a["fresh"] = f._value
        hyper = {k: _hyper_value(v) for k, v in self._hyper(group).items()}
        new_p, new_s = group_step(type(self)._rule, self._flags(group), [p._value for p in ps],
                                  [p._grad._value for p in ps], arrays, hyper)
        for p, v in zip(ps, new_p):
            p._set_value(v)
        if fresh:
            for f, ns in zip(flags, new_s):
                v = ns.pop("fresh", None)
                if f is not None:
                    f._set_value(v)
        for st, ns in zip(sts, new_s):
            for k, v in ns.items():
                t = st.get(k)
                if isinstance(t, Tensor):
                    t._set_value(v)
                else:
                    st[k] = wrap(v)
