"""torch.optim.Adafactor (factored second moments; torch's defaults, validation and update rule)."""
from . import _functional as F
from .optimizer import _RuleOptimizer, _nonzero, _to_scalar
from .._tensor import Tensor

__all__ = ["Adafactor"]


class Adafactor(_RuleOptimizer):
    _rule = staticmethod(F.adafactor)

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *,
                 foreach=None, maximize=False):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize)
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("foreach", None)

    def _step_group(self, group):
        for p in group["params"]:
            if p._grad is not None and p.is_complex():
                raise RuntimeError("Adafactor does not support complex parameters")
        super()._step_group(group)

    def _flags(self, group):
        return {"maximize": bool(group["maximize"]), "wd": _nonzero(group["weight_decay"])}

    def _hyper(self, group):
        eps1, eps2 = group["eps"]
        h = {"lr": _to_scalar(group["lr"]), "beta2_decay": group["beta2_decay"], "eps2": eps2, "d": group["d"],
             "weight_decay": group["weight_decay"]}
        if eps1 is not None:   # None: the parameter dtype's machine epsilon, chosen inside the rule
            h["eps1"] = eps1
        return h

    def _state_keys(self, group):
        return ("step", "row_var", "col_var", "variance")

    def _init_state(self, p, group):
        from .._creation import zeros, zeros_like
        st = {"step": self._zero_step()}
        if p.dim() > 1:
            shape = list(p.shape)
            st["row_var"] = zeros(shape[:-1] + [1], dtype=p.dtype, device=p.device)
            st["col_var"] = zeros(shape[:-2] + [1, shape[-1]], dtype=p.dtype, device=p.device)
        else:
            st["variance"] = zeros_like(p)
        return st
