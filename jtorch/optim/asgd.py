"""torch.optim.ASGD (averaged SGD): the average lives in state['ax']."""
import jax.numpy as jnp

from . import _functional as F
from .. import _dtype
from .optimizer import _RuleOptimizer, _check_lr, _nonzero, _to_scalar, _scalar_dtype
from .._tensor import Tensor

__all__ = ["ASGD"]


class ASGD(_RuleOptimizer):
    _capturable_msg = ("params, mus, etas, and state_steps", True, "params, mus, etas, and state_steps", False)
    _rule = staticmethod(F.asgd)

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None,
                 maximize=False, differentiable=False, capturable=False):
        _check_lr(lr)
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=_to_scalar(lr), lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _flags(self, group):
        return {"maximize": bool(group["maximize"]), "wd": _nonzero(group["weight_decay"]),
                "scalar_f64": _scalar_dtype() is _dtype.float64, "foreach": bool(group.get("foreach"))}

    def _hyper(self, group):
        return {"lr": group["lr"], "lambd": group["lambd"], "alpha": group["alpha"], "t0": group["t0"],
                "weight_decay": group["weight_decay"]}

    def _state_keys(self, group):
        return ("step", "eta", "mu", "ax")

    def _init_state(self, p, group):
        from .._creation import zeros_like, zeros, ones, tensor
        lr = group["lr"]
        dt = _scalar_dtype()
        if isinstance(lr, Tensor):
            eta = lr.detach().clone().to(dt)
        elif isinstance(lr, (int, float)):
            eta = tensor(float(lr), dtype=dt)
        else:   # a traced lr (jtorch.compile lifts group['lr'])
            from .._tensor import wrap
            eta = wrap(jnp.asarray(lr).astype(jnp.float64 if dt is _dtype.float64 else jnp.float32))
        return {"step": zeros((), dtype=dt), "eta": eta, "mu": ones((), dtype=dt), "ax": zeros_like(p)}
