"""torch.amp.GradScaler: dynamic loss scaling; steps with inf/NaN gradients are skipped.

The scale and growth tracker are tensors and the skip decision is made functionally when the
found-inf flag is a tracer, so a scaled step also runs inside jtorch.compile."""
import warnings
from enum import Enum

import jax
import jax.numpy as jnp

from .._tensor import Tensor, wrap


class OptState(Enum):
    READY = 0
    UNSCALED = 1
    STEPPED = 2


class GradScaler:
    def __init__(self, device="cuda", init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        self._device = str(device)
        self._enabled = enabled
        if enabled and self._device.startswith("cuda"):
            from .. import cuda
            if not cuda.is_available():
                warnings.warn("torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  Disabling.")
                self._enabled = False
        if self._enabled:
            if growth_factor <= 1.0:
                raise ValueError("The growth factor must be > 1.0.")
            if backoff_factor >= 1.0:
                raise ValueError("The backoff factor must be < 1.0.")
        self._init_scale = init_scale
        self._growth_factor = growth_factor
        self._backoff_factor = backoff_factor
        self._growth_interval = growth_interval
        self._scale = None
        self._growth_tracker = None
        self._per_optimizer_states = {}

    # -- scale ------------------------------------------------------------------------------
    def _lazy_init(self):
        if self._scale is None:
            self._scale = wrap(jnp.asarray(self._init_scale, jnp.float32))
            self._growth_tracker = wrap(jnp.asarray(0, jnp.int32))

    def _compile_prime(self):
        """jtorch.compile: create the scale tensors before the first trace (one program, not two)."""
        if self._enabled and self._scale is None:
            self._lazy_init()
            return True
        return False

    def scale(self, outputs):
        if not self._enabled:
            return outputs
        self._lazy_init()
        if isinstance(outputs, Tensor):
            return outputs * self._scale.to(outputs.device)
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        if isinstance(outputs, dict):
            return {k: self.scale(v) for k, v in outputs.items()}
        raise ValueError("outputs must be a Tensor or an iterable of Tensors")

    def _state(self, optimizer):
        st = self._per_optimizer_states.get(id(optimizer))
        if st is None:
            st = self._per_optimizer_states[id(optimizer)] = {"stage": OptState.READY, "found_inf": None}
        return st

    def unscale_(self, optimizer):
        if not self._enabled:
            return
        self._lazy_init()
        st = self._state(optimizer)
        if st["stage"] is OptState.UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update().")
        if st["stage"] is OptState.STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        grads = [p.grad for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
        inv = 1.0 / self._scale._value
        found = jnp.zeros((), jnp.float32)
        if grads:
            new, found = _unscale(inv, [g._value for g in grads])
            for g, v in zip(grads, new):
                g._set_value(v)
        st["found_inf"] = found
        st["stage"] = OptState.UNSCALED

    def step(self, optimizer, *args, **kwargs):
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        self._lazy_init()
        st = self._state(optimizer)
        if st["stage"] is OptState.STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if st["stage"] is OptState.READY:
            self.unscale_(optimizer)
        found = st["found_inf"]
        st["stage"] = OptState.STEPPED
        if isinstance(found, jax.core.Tracer):
            return _masked_step(optimizer, found, args, kwargs)
        if float(found) == 0.0:
            return optimizer.step(*args, **kwargs)
        return None

    def update(self, new_scale=None):
        if not self._enabled:
            return
        self._lazy_init()
        if new_scale is not None:
            v = new_scale._value if isinstance(new_scale, Tensor) else new_scale
            self._scale._set_value(jnp.asarray(v, jnp.float32))
        else:
            founds = [s["found_inf"] for s in self._per_optimizer_states.values() if s["found_inf"] is not None]
            if not founds:
                raise AssertionError("No inf checks were recorded prior to update.")
            found = sum(founds[1:], founds[0])
            scale, tracker = _update_scale(self._scale._value, self._growth_tracker._value, found,
                                           self._growth_factor, self._backoff_factor, self._growth_interval)
            self._scale._set_value(scale)
            self._growth_tracker._set_value(tracker)
        self._per_optimizer_states = {}

    # -- accessors ----------------------------------------------------------------------------
    def get_scale(self):
        if not self._enabled:
            return 1.0
        return self._init_scale if self._scale is None else float(self._scale._value)

    def get_growth_factor(self):
        return self._growth_factor

    def set_growth_factor(self, v):
        self._growth_factor = v

    def get_backoff_factor(self):
        return self._backoff_factor

    def set_backoff_factor(self, v):
        self._backoff_factor = v

    def get_growth_interval(self):
        return self._growth_interval

    def set_growth_interval(self, v):
        self._growth_interval = v

    def is_enabled(self):
        return self._enabled

    def _get_growth_tracker(self):
        return 0 if self._growth_tracker is None else int(self._growth_tracker._value)

    def state_dict(self):
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": self._get_growth_tracker()}

    def load_state_dict(self, state_dict):
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved from a disabled "
                               "instance of GradScaler.")
        self._init_scale = state_dict["scale"]
        self._growth_factor = state_dict["growth_factor"]
        self._backoff_factor = state_dict["backoff_factor"]
        self._growth_interval = state_dict["growth_interval"]
        self._scale = wrap(jnp.asarray(state_dict["scale"], jnp.float32))
        self._growth_tracker = wrap(jnp.asarray(state_dict["_growth_tracker"], jnp.int32))

    def __getstate__(self):
        st = self.__dict__.copy()
        st["_per_optimizer_states"] = {}
        return st


@jax.jit
def _unscale(inv, grads):
    new = [(g.astype(jnp.float32) * inv).astype(g.dtype) for g in grads]
    bad = jnp.zeros((), bool)
    for g in new:
        bad = bad | ~jnp.all(jnp.isfinite(g))
    return new, bad.astype(jnp.float32)


@jax.jit
def _update_scale(scale, tracker, found, growth, backoff, interval):
    inf = found > 0
    t1 = jnp.where(inf, 0, tracker + 1)
    grow = t1 >= interval
    new_scale = jnp.where(inf, scale * backoff, jnp.where(grow, scale * growth, scale))
    return new_scale.astype(jnp.float32), jnp.where(grow, 0, t1).astype(jnp.int32)


def _masked_step(optimizer, found, args, kwargs):
    """Under tracing: run the step, then keep the old values wherever found_inf is set."""
    tensors = [p for g in optimizer.param_groups for p in g["params"]]
    for st in optimizer.state.values():
        tensors += [v for v in st.values() if isinstance(v, Tensor)]
    before = {id(t): t._value for t in tensors}
    ret = optimizer.step(*args, **kwargs)
    after = [p for g in optimizer.param_groups for p in g["params"]]
    for st in optimizer.state.values():
        after += [v for v in st.values() if isinstance(v, Tensor)]
    skip = found > 0
    for t in after:
        old = before.get(id(t))
        if old is not None and old.shape == t._value.shape:
            t._set_value(jnp.where(skip, old, t._value))
    return ret
