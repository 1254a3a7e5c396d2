"""torch.optim.swa_utils: AveragedModel (SWA / EMA weight averaging), SWALR, update_bn.

The default SWA average and the EMA "multi" average update all parameters of the averaged model
in one jitted program (like torch's foreach kernels) and write the results back in place.
"""
import itertools
import math
import warnings
from copy import deepcopy

import jax
import jax.numpy as jnp

from .._tensor import Tensor
from ..autograd.grad_mode import no_grad
from ..nn import Module
from .lr_scheduler import LRScheduler, _per_group

__all__ = ["AveragedModel", "update_bn", "SWALR", "get_ema_multi_avg_fn", "get_swa_multi_avg_fn", "get_ema_avg_fn",
           "get_swa_avg_fn"]


@jax.jit
def _lerp_all(avg, cur, w):
    w = jnp.asarray(w, jnp.float64)
    out = []
    for a, c in zip(avg, cur):
        wa = w.astype(a.dtype)
        out.append(jnp.where(jnp.abs(w) < 0.5, a + wa * (c - a), c - (c - a) * (1 - w).astype(a.dtype)))
    return out


@jax.jit
def _swa_all(avg, cur, n):
    return [a + (c - a) / (n + 1).astype(a.dtype) for a, c in zip(avg, cur)]


def _write(tensors, arrays):
    for t, a in zip(tensors, arrays):
        t._set_value(a)


def get_ema_multi_avg_fn(decay=0.999):
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")

    def ema_update(ema_param_list, current_param_list, _):
        with no_grad():
            if ema_param_list[0].is_floating_point() or ema_param_list[0].is_complex():
                _write(ema_param_list, _lerp_all([p._value for p in ema_param_list],
                                                 [p._value for p in current_param_list], 1 - decay))
            else:
                for e, m in zip(ema_param_list, current_param_list):
                    e.copy_(e * decay + m * (1 - decay))
    return ema_update


def get_swa_multi_avg_fn():
    def swa_update(averaged_param_list, current_param_list, num_averaged):
        with no_grad():
            n = num_averaged._value if isinstance(num_averaged, Tensor) else jnp.asarray(num_averaged)
            if averaged_param_list[0].is_floating_point() or averaged_param_list[0].is_complex():
                _write(averaged_param_list, _swa_all([p._value for p in averaged_param_list],
                                                     [p._value for p in current_param_list], n))
            else:
                for a, c in zip(averaged_param_list, current_param_list):
                    a.add_((c - a) / (num_averaged + 1))
    return swa_update


def get_ema_avg_fn(decay=0.999):
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")

    def ema_update(ema_param, current_param, num_averaged):
        with no_grad():
            return decay * ema_param + (1 - decay) * current_param
    return ema_update


def get_swa_avg_fn():
    def swa_update(averaged_param, current_param, num_averaged):
        with no_grad():
            return averaged_param + (current_param - averaged_param) / (num_averaged + 1)
    return swa_update


class AveragedModel(Module):
    """Keeps a running (SWA) or exponential (EMA) average of a model's parameters."""

    def __init__(self, model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        from .. import tensor, long
        self.register_buffer("n_averaged", tensor(0, dtype=long, device=device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def update_parameters(self, model):
        if self.use_buffers:
            mine = list(itertools.chain(self.module.parameters(), self.module.buffers()))
            theirs = list(itertools.chain(model.parameters(), model.buffers()))
        else:
            mine, theirs = list(self.parameters()), list(model.parameters())
        pairs = [(a.detach(), m.detach().to(a.device)) for a, m in zip(mine, theirs)]
        first = int(self.n_averaged.item()) == 0
        if first:
            for a, m in pairs:
                a.copy_(m)
        else:
            if self.avg_fn is None:
                # group by dtype/device (torch's foreach grouping), one jitted update per group
                groups = {}
                for a, m in pairs:
                    groups.setdefault((a.dtype, str(a.device)), []).append((a, m))
                fn = self.multi_avg_fn or get_swa_multi_avg_fn()
                for lst in groups.values():
                    fn([a for a, _ in lst], [m for _, m in lst], self.n_averaged)
            else:
                for a, m in pairs:
                    a.copy_(self.avg_fn(a, m, self.n_averaged))
        if not self.use_buffers:
            for b_swa, b_model in zip(self.module.buffers(), model.buffers()):
                b_swa.detach().copy_(b_model.detach().to(b_swa.device))
        self.n_averaged.add_(1)


def update_bn(loader, model, device=None):
    """Recompute BatchNorm running statistics with one pass over `loader` (cumulative average)."""
    from ..nn.modules.batchnorm import _BatchNorm
    with no_grad():
        momenta = {}
        for m in model.modules():
            if isinstance(m, _BatchNorm):
                m.reset_running_stats()
                momenta[m] = m.momentum
        if not momenta:
            return
        was_training = model.training
        model.train()
        for m in momenta:
            m.momentum = None
        for inp in loader:
            if isinstance(inp, (list, tuple)):
                inp = inp[0]
            if device is not None:
                inp = inp.to(device)
            model(inp)
        for m, mom in momenta.items():
            m.momentum = mom
        model.train(was_training)


class SWALR(LRScheduler):
    """Anneals each group's lr to a fixed `swa_lr` over `anneal_epochs` (cosine or linear)."""

    def __init__(self, optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos", last_epoch=-1):
        for lr, g in zip(_per_group("swa_lr", optimizer, swa_lr), optimizer.param_groups):
            g["swa_lr"] = lr
        if anneal_strategy not in ["cos", "linear"]:
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        self._set_anneal_func(anneal_strategy)
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _linear_anneal(t):
        return t

    @staticmethod
    def _cosine_anneal(t):
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr, swa_lr, alpha):
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self):
        if not self._get_lr_called_within_step:
            warnings.warn("To get the last learning rate computed by the scheduler, please use `get_last_lr()`.",
                          UserWarning, stacklevel=2)
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        span = max(1, self.anneal_epochs)
        prev_alpha = self.anneal_func(max(0, min(1, (step - 1) / span)))
        prev = [self._get_initial_lr(g["lr"], g["swa_lr"], prev_alpha) for g in self.optimizer.param_groups]
        alpha = self.anneal_func(max(0, min(1, step / span)))
        return [g["swa_lr"] * alpha + lr * (1 - alpha) for g, lr in zip(self.optimizer.param_groups, prev)]

    def _set_anneal_func(self, strategy):
        self._anneal_strategy = strategy
        self.anneal_func = self._cosine_anneal if strategy == "cos" else self._linear_anneal

    def state_dict(self):
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "anneal_func")}

    def load_state_dict(self, state_dict):
        self.__dict__.update(state_dict)
        self._set_anneal_func(self._anneal_strategy)
