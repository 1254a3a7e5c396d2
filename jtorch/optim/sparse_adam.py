"""torch.optim.SparseAdam ("lazy Adam"): torch's constructor checks and update. jtorch has no sparse tensors:
Embedding(sparse=True) / EmbeddingBag(sparse=True) give a dense gradient and mark their weight, and SparseAdam
treats the rows of such a gradient that hold a nonzero value as the rows a sparse gradient would carry: only
those rows' moments decay and only those rows move. Any other dense gradient raises torch's error."""
import math

from .optimizer import Optimizer
from .._tensor import Tensor

__all__ = ["SparseAdam"]


class SparseAdam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, maximize=maximize))
        complex_params = [[i, j] for i, g in enumerate(self.param_groups) for j, p in enumerate(g["params"])
                          if p.is_complex()]
        if complex_params:
            raise ValueError(f"Complex params at indices {complex_params}: SparseAdam does not support complex "
                             "parameters")

    def step(self, closure=None):
        loss = None
        if closure is not None:
            from ..autograd.grad_mode import enable_grad
            with enable_grad():
                loss = closure()
        from ..autograd.grad_mode import no_grad
        from .. import _creation
        for group in self.param_groups:
            for p in group["params"]:
                if p._grad is not None and not getattr(p, "_sparse_rows_grad", False):
                    raise RuntimeError("SparseAdam does not support dense gradients, please consider Adam instead")
        with no_grad():
            for group in self.param_groups:
                beta1, beta2 = group["betas"]
                for p in group["params"]:
                    if p._grad is None:
                        continue
                    grad = -p._grad if group["maximize"] else p._grad
                    rows = (grad != 0).reshape(grad.shape[0], -1).any(1).reshape((-1,) + (1,) * (grad.dim() - 1))
                    state = self.state[p]
                    if len(state) == 0:
                        state["step"] = 0
                        state["exp_avg"] = _creation.zeros_like(p)
                        state["exp_avg_sq"] = _creation.zeros_like(p)
                    state["step"] += 1
                    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                    exp_avg.copy_(exp_avg.where(~rows, exp_avg * beta1 + grad * (1 - beta1)))
                    exp_avg_sq.copy_(exp_avg_sq.where(~rows, exp_avg_sq * beta2 + grad * grad * (1 - beta2)))
                    step = state["step"]
                    step_size = group["lr"] * math.sqrt(1 - beta2 ** step) / (1 - beta1 ** step)
                    update = exp_avg / (exp_avg_sq.sqrt() + group["eps"])
                    p.sub_((update * step_size).where(rows, 0.0))
        return loss
