"""torch.optim.SGD."""
from . import _functional as F
from .optimizer import _RuleOptimizer, _check_lr, _check_fused_foreach, _nonzero, _to_scalar

__all__ = ["SGD"]


class SGD(_RuleOptimizer):
    """Stochastic gradient descent with momentum, dampening, Nesterov and L2 weight decay (torch's formulas)."""
    _rule = staticmethod(F.sgd)

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *, maximize=False,
                 foreach=None, differentiable=False, fused=None):
        _check_lr(lr)
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=_to_scalar(lr), momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach, differentiable=differentiable,
                        fused=fused)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        _check_fused_foreach(foreach, fused, differentiable)
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("nesterov", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("differentiable", False)
            group.setdefault("fused", False)

    def _flags(self, group):
        return {"maximize": bool(group["maximize"]), "wd": _nonzero(group["weight_decay"]),
                "momentum": _nonzero(group["momentum"]), "nesterov": bool(group["nesterov"])}

    def _hyper(self, group):
        return {"lr": group["lr"], "weight_decay": group["weight_decay"], "momentum": group["momentum"],
                "dampening": group["dampening"]}

    def _state_keys(self, group):
        return ("momentum_buffer",) if _nonzero(group["momentum"]) else ()

    def _prime_state(self, p, group):
        # torch creates the buffer in the first step (buf = grad): traced, that first step would be
        # a program of its own. jtorch.compile primes a zero buffer plus a "fresh" flag instead, so
        # one program serves every step and the flagged first step still computes buf = grad.
        if not _nonzero(group["momentum"]):
            return {}
        from .._creation import tensor, zeros_like
        self.__dict__.setdefault("_fresh", {})[p] = tensor(True)
        return {"momentum_buffer": zeros_like(p)}
