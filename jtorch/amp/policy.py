"""Dtype policies (DeepMind jmp's model): param dtype, compute dtype, output dtype.

    policy = jtorch.amp.Policy(param_dtype=jtorch.float32, compute_dtype=jtorch.bfloat16,
                               output_dtype=jtorch.float32)
    jtorch.amp.apply_policy(model, policy)   # float32 master weights, bfloat16 math

Compute-dtype regions reuse the dispatcher's autocast hook: every op with floating inputs runs in
the compute dtype (float64 excepted), casting inside the op's kernel, so gradients reach the
parameters in their own dtype.
"""
from .. import _dtype as D
from .._ops import autocast_state


class Policy:
    def __init__(self, param_dtype=None, compute_dtype=None, output_dtype=None):
        self.param_dtype = D.to_dtype(param_dtype) if param_dtype is not None else D.float32
        self.compute_dtype = D.to_dtype(compute_dtype) if compute_dtype is not None else self.param_dtype
        self.output_dtype = D.to_dtype(output_dtype) if output_dtype is not None else self.compute_dtype

    @classmethod
    def from_string(cls, spec):
        """jmp-style: 'params=float32,compute=bfloat16,output=float32' or 'bfloat16'."""
        if "=" not in spec:
            return cls(spec, spec, spec)
        kw = dict(p.split("=") for p in spec.split(","))
        return cls(kw.get("params", kw.get("param")), kw.get("compute"), kw.get("output"))

    def __repr__(self):
        return (f"Policy(param_dtype={self.param_dtype}, compute_dtype={self.compute_dtype}, "
                f"output_dtype={self.output_dtype})")

    def cast_to_compute(self, x):
        return _cast_tree(x, self.compute_dtype)

    def cast_to_param(self, x):
        return _cast_tree(x, self.param_dtype)

    def cast_to_output(self, x):
        return _cast_tree(x, self.output_dtype)

    def __enter__(self):
        self._prev = autocast_state.ACTIVE[0]
        if self.compute_dtype is not None:
            autocast_state.ACTIVE[0] = _ComputeAll(self.compute_dtype)
        return self

    def __exit__(self, *exc):
        autocast_state.ACTIVE[0] = self._prev


class _ComputeAll:
    __slots__ = ("dtype", "device_type")

    def __init__(self, dtype):
        self.dtype, self.device_type = dtype, "policy"

    def cast_dtype(self, opdef, leaves):
        if opdef.name.startswith("_to_dtype"):
            return None
        return self.dtype


def _cast_tree(x, dt):
    from .._tensor import Tensor
    if isinstance(x, Tensor):
        return x.to(dt) if x.dtype.is_floating_point and x.dtype is not dt else x
    if isinstance(x, (list, tuple)):
        return type(x)(_cast_tree(v, dt) for v in x)
    if isinstance(x, dict):
        return {k: _cast_tree(v, dt) for k, v in x.items()}
    return x


_global = [None]
_global_state = {"handles": (), "depth": 0, "entered": []}


def set_global_policy(policy):
    """Make `policy` apply to every module call that has no policy of its own (None removes it).

    It acts at the outermost module call only: parameters of the called module tree are cast to
    param_dtype once, the inputs to compute_dtype, every op runs in compute_dtype, and outputs come
    back in output_dtype. Implemented with global module hooks (torch's register_module_forward_*)."""
    from ..nn.modules.module import register_module_forward_pre_hook, register_module_forward_hook
    for h in _global_state["handles"]:
        h.remove()
    _global_state["handles"] = ()
    _global[0] = policy
    if policy is None:
        return

    def pre(mod, args):
        st = _global_state
        st["depth"] += 1
        if st["depth"] > 1 or getattr(mod, "_jtorch_policy", None) is not None:
            st["entered"].append(False)
            return None
        _cast_params(mod, policy.param_dtype)
        policy.__enter__()
        st["entered"].append(True)
        return policy.cast_to_compute(args)

    def post(mod, args, out):
        st = _global_state
        st["depth"] -= 1
        if st["entered"].pop():
            policy.__exit__(None, None, None)
            return policy.cast_to_output(out)
        return None
    _global_state["handles"] = (register_module_forward_pre_hook(pre),
                                register_module_forward_hook(post, always_call=True))


def get_global_policy():
    return _global[0]


def _cast_params(module, dtype):
    for p in module.parameters():
        if p.dtype.is_floating_point and p.dtype is not dtype:
            p.data = p.data.to(dtype)


def apply_policy(module, policy):
    """Cast the module's floating parameters to policy.param_dtype and run its forward with the
    compute dtype, returning outputs in the output dtype. Returns the module."""
    _cast_params(module, policy.param_dtype)
    module._jtorch_policy = policy

    def pre(mod, args, kwargs):
        policy.__enter__()
        return policy.cast_to_compute(args), kwargs

    def post(mod, args, kwargs, out):
        policy.__exit__(None, None, None)
        return policy.cast_to_output(out)
    module._policy_handles = (module.register_forward_pre_hook(pre, with_kwargs=True),
                              module.register_forward_hook(post, with_kwargs=True, always_call=True))
    return module
