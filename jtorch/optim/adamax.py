"""torch.optim.Adamax."""
from . import _functional as F
from .adam import _check_betas
from .optimizer import _RuleOptimizer, _check_lr, _nonzero, _to_scalar

__all__ = ["Adamax"]


class Adamax(_RuleOptimizer):
    _rule = staticmethod(F.adamax)

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        _check_lr(lr)
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        _check_betas(betas)
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=_to_scalar(lr), betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _flags(self, group):
        return {"maximize": bool(group["maximize"]), "wd": _nonzero(group["weight_decay"])}

    def _hyper(self, group):
        b1, b2 = group["betas"]
        return {"lr": group["lr"], "beta1": b1, "beta2": b2, "eps": group["eps"],
                "weight_decay": group["weight_decay"]}

    def _state_keys(self, group):
        return ("step", "exp_avg", "exp_inf")

    def _init_state(self, p, group):
        from .._creation import zeros_like
        return {"step": self._zero_step(), "exp_avg": zeros_like(p), "exp_inf": zeros_like(p)}
