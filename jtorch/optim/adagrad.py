"""torch.optim.Adagrad."""
from . import _functional as F
from .optimizer import _RuleOptimizer, _check_lr, _check_fused_foreach, _nonzero, _to_scalar

__all__ = ["Adagrad"]


class Adagrad(_RuleOptimizer):
    _rule = staticmethod(F.adagrad)

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        _check_lr(lr)
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = dict(lr=_to_scalar(lr), lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        _check_fused_foreach(foreach, fused, differentiable)
        # torch creates Adagrad's state eagerly, in the constructor
        for group in self.param_groups:
            for p in group["params"]:
                st = self.state[p]
                if len(st) == 0:
                    st.update(self._init_state(p, group))

    def _flags(self, group):
        return {"maximize": bool(group["maximize"]), "wd": _nonzero(group["weight_decay"])}

    def _hyper(self, group):
        return {"lr": group["lr"], "lr_decay": group["lr_decay"], "eps": group["eps"],
                "weight_decay": group["weight_decay"]}

    def _state_keys(self, group):
        return ("step", "sum")

    def _init_state(self, p, group):
        from .._creation import full_like
        iv = group["initial_accumulator_value"]
        return {"step": self._zero_step(), "sum": full_like(p, complex(iv, iv) if p.is_complex() else iv)}

    def share_memory(self):
        pass
