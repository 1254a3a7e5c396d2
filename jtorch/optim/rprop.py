"""torch.optim.Rprop (resilient backpropagation)."""
from . import _functional as F
from .optimizer import _RuleOptimizer, _check_lr, _to_scalar, _full_like

__all__ = ["Rprop"]


class Rprop(_RuleOptimizer):
    _capturable_msg = ("params and state_steps", True, "params and state_steps", True)
    _rule = staticmethod(F.rprop)

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False, foreach=None,
                 maximize=False, differentiable=False):
        _check_lr(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = dict(lr=_to_scalar(lr), etas=etas, step_sizes=step_sizes, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _hyper(self, group):
        em, ep = group["etas"]
        smin, smax = group["step_sizes"]
        return {"etaminus": em, "etaplus": ep, "step_size_min": smin, "step_size_max": smax}

    def _state_keys(self, group):
        return ("step", "prev", "step_size")

    def _init_state(self, p, group):
        from .._creation import zeros_like
        return {"step": self._zero_step(), "prev": zeros_like(p), "step_size": _full_like(p, group["lr"])}
