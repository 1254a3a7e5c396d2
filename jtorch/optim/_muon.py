"""torch.optim.Muon: momentum, then Newton-Schulz orthogonalization of the update (in bfloat16, as torch)."""
from . import _functional as F
from .optimizer import _RuleOptimizer, _to_scalar
from .. import _dtype
from .._tensor import Tensor

__all__ = ["Muon"]

EPS = 1e-7
DEFAULT_A, DEFAULT_B, DEFAULT_C = 3.4445, -4.7750, 2.0315
DEFAULT_NS_STEPS = 5


class Muon(_RuleOptimizer):
    _rule = staticmethod(F.muon)

    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=(DEFAULT_A, DEFAULT_B, DEFAULT_C), eps=EPS, ns_steps=DEFAULT_NS_STEPS,
                 adjust_lr_fn=None):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 <= momentum:
            raise ValueError(f"momentum should be >= 0 but is: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
        if adjust_lr_fn is not None and adjust_lr_fn not in ("original", "match_rms_adamw"):
            raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")
        defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                        ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps, adjust_lr_fn=adjust_lr_fn)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim != 2:
                    raise ValueError(f"Muon only supports 2D parameters whereas we found a parameter with size: "
                                     f"{p.size()}")

    def _step_group(self, group):
        for p in group["params"]:
            if p._grad is None:
                continue
            if p.is_complex():
                raise RuntimeError("Muon does not support complex parameters")
            if p._grad.ndim != 2:
                raise ValueError("Param gradient must be a 2D matrix")
        if group["ns_steps"] >= 100:
            raise ValueError("Number of steps must be less than 100 for computational efficiency")
        if len(group["ns_coefficients"]) != 3:
            raise ValueError("Coefficients must be a tuple of exactly 3 values")
        super()._step_group(group)

    def _flags(self, group):
        lr = group["lr"]
        return {"nesterov": bool(group["nesterov"]), "ns_steps": int(group["ns_steps"]),
                "adjust_lr_fn": group["adjust_lr_fn"],
                "lr_f32": isinstance(lr, Tensor) and lr.dtype is _dtype.float32}

    def _hyper(self, group):
        a, b, c = group["ns_coefficients"]
        return {"lr": _to_scalar(group["lr"]), "weight_decay": group["weight_decay"], "momentum": group["momentum"],
                "eps": group["eps"], "a": a, "b": b, "c": c}

    def _state_keys(self, group):
        return ("momentum_buffer",)

    def _init_state(self, p, group):
        from .._creation import zeros_like
        return {"momentum_buffer": zeros_like(p._grad)}
