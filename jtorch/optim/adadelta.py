"""torch.optim.Adadelta."""
from . import _functional as F
from .optimizer import _RuleOptimizer, _check_lr, _nonzero, _to_scalar

__all__ = ["Adadelta"]


class Adadelta(_RuleOptimizer):
    _capturable_msg = ("params and state_steps", False, "params and state_steps", False)
    _rule = staticmethod(F.adadelta)

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        _check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=_to_scalar(lr), rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _flags(self, group):
        return {"maximize": bool(group["maximize"]), "wd": _nonzero(group["weight_decay"])}

    def _hyper(self, group):
        return {"lr": group["lr"], "rho": group["rho"], "eps": group["eps"], "weight_decay": group["weight_decay"]}

    def _state_keys(self, group):
        return ("step", "square_avg", "acc_delta")

    def _init_state(self, p, group):
        from .._creation import zeros_like
        return {"step": self._zero_step(), "square_avg": zeros_like(p), "acc_delta": zeros_like(p)}
