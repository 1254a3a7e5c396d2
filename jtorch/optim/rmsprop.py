"""torch.optim.RMSprop (centered, momentum)."""
from . import _functional as F
from .optimizer import _RuleOptimizer, _check_lr, _nonzero, _to_scalar

__all__ = ["RMSprop"]


class RMSprop(_RuleOptimizer):
    _capturable_msg = ("params and state_steps", True, "params and state_steps", True)
    _rule = staticmethod(F.rmsprop)

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        _check_lr(lr)
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = dict(lr=_to_scalar(lr), momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach, maximize=maximize,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _flags(self, group):
        return {"maximize": bool(group["maximize"]), "wd": _nonzero(group["weight_decay"]),
                "centered": bool(group["centered"]), "momentum": bool(group["momentum"] > 0)}

    def _hyper(self, group):
        return {"lr": group["lr"], "alpha": group["alpha"], "eps": group["eps"], "momentum": group["momentum"],
                "weight_decay": group["weight_decay"]}

    def _state_keys(self, group):
        return (("step", "square_avg") + (("momentum_buffer",) if group["momentum"] > 0 else ())
                + (("grad_avg",) if group["centered"] else ()))

    def _init_state(self, p, group):
        from .._creation import zeros_like
        st = {"step": self._zero_step(), "square_avg": zeros_like(p)}
        if group["momentum"] > 0:
            st["momentum_buffer"] = zeros_like(p)
        if group["centered"]:
            st["grad_avg"] = zeros_like(p)
        return st
