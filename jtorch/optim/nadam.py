"""torch.optim.NAdam (Dozat's momentum-decay schedule, state['mu_product'])."""
from . import _functional as F
from .adam import _check_betas
from .optimizer import _RuleOptimizer, _check_lr, _nonzero, _to_scalar, _scalar_dtype

__all__ = ["NAdam"]


class NAdam(_RuleOptimizer):
    _capturable_msg = ("params, mu_products and state_steps", True, "params, mu_products, and state_steps", False)
    _rule = staticmethod(F.nadam)

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        _check_lr(lr)
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        _check_betas(betas)
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        defaults = dict(lr=_to_scalar(lr), betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                        maximize=maximize, foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def _flags(self, group):
        return {"maximize": bool(group["maximize"]), "wd": _nonzero(group["weight_decay"]),
                "decoupled": bool(group["decoupled_weight_decay"])}

    def _hyper(self, group):
        b1, b2 = group["betas"]
        return {"lr": group["lr"], "beta1": b1, "beta2": b2, "eps": group["eps"],
                "weight_decay": group["weight_decay"], "momentum_decay": group["momentum_decay"]}

    def _state_keys(self, group):
        return ("step", "mu_product", "exp_avg", "exp_avg_sq")

    def _init_state(self, p, group):
        from .._creation import zeros_like, tensor
        dt = _scalar_dtype()
        return {"step": tensor(0.0, dtype=dt), "mu_product": tensor(1.0, dtype=dt), "exp_avg": zeros_like(p),
                "exp_avg_sq": zeros_like(p)}
