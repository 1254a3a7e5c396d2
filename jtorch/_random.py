"""Random numbers: a Generator holds a JAX PRNG key in a uint32 Tensor that each draw splits and
replaces, so the key lifts like any buffer under jtorch.compile. Streams differ from torch's
(documented); distributions and statistics are the same."""
import time

import jax
import jax.numpy as jnp
import numpy as np

from . import _dtype as D
from ._ops.kernel import get_kernel


def _key_from_seed(seed):
    seed = int(seed) & 0xFFFFFFFFFFFFFFFF
    return jnp.asarray(np.array([seed >> 32, seed & 0xFFFFFFFF], dtype=np.uint32))


class Generator:
    def __init__(self, device="cpu"):
        from ._tensor import wrap
        from ._device import as_device
        self.device = as_device(device)
        self._seed = 67280421310721
        self._state_t = None  # the key Tensor, made on first use: importing jtorch must not start XLA

    @property
    def _state(self):
        if self._state_t is None:
            from ._tensor import wrap
            self._state_t = wrap(_key_from_seed(self._seed))
        return self._state_t

    @_state.setter
    def _state(self, t):
        self._state_t = t

    def manual_seed(self, seed):
        if not isinstance(seed, int):
            seed = int(seed)
        self._seed = seed
        if self._state_t is not None:
            self._state_t._set_value(_key_from_seed(seed))
        return self

    def seed(self):
        s = int(time.time_ns()) & 0xFFFFFFFFFFFF
        self.manual_seed(s)
        return s

    def initial_seed(self):
        return self._seed

    def get_state(self):
        from ._tensor import wrap
        return wrap(jnp.asarray(np.asarray(self._state._value).view(np.uint8)))

    def set_state(self, new_state):
        arr = np.asarray(new_state._value if hasattr(new_state, "_value") else new_state).astype(np.uint8)
        if arr.size != 8:
            raise RuntimeError("jtorch: RNG state must be the 8 bytes returned by get_state()")
        self._state._set_value(jnp.asarray(arr.view(np.uint32)))
        return self

    def clone_state(self):
        g = Generator(self.device)
        g._seed = self._seed
        g._state._set_value(self._state._value)
        return g

    def __getstate__(self):
        return {"device": self.device, "seed": self._seed, "state": np.asarray(self._state._value)}

    def __setstate__(self, st):
        from ._tensor import wrap
        self.device, self._seed = st["device"], st["seed"]
        self._state = wrap(jnp.asarray(st["state"]))


default_generator = Generator()


def manual_seed(seed):
    default_generator.manual_seed(seed)
    try:
        from . import cuda
        cuda._seed_all(seed)
    except ImportError:
        pass
    return default_generator


def seed():
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state):
    default_generator.set_state(state)


def _make_sampler(kind, shape, dtype):
    npd = dtype.np

    def f(key, *p):
        key, sub = jax.random.split(key)
        if kind == "uniform":
            low, high = p
            fd = npd if jnp.issubdtype(npd, jnp.floating) else np.float32
            x = jax.random.uniform(sub, shape, fd)
            out = (low + x * (high - low)).astype(npd)
        elif kind == "normal":
            mean, std = p
            if jnp.issubdtype(npd, jnp.complexfloating):
                out = (jax.random.normal(sub, shape, npd) * std + mean)
            else:
                out = (jax.random.normal(sub, shape, npd if npd != jnp.float16 else np.float32) * std + mean).astype(npd)
        elif kind == "randint":
            low, high = p
            out = jax.random.randint(sub, shape, low, high, dtype=np.int64).astype(npd)
        elif kind == "perm":
            out = jax.random.permutation(sub, shape[0]).astype(npd)
        elif kind == "bernoulli":
            (prob,) = p
            out = jax.random.bernoulli(sub, prob, shape).astype(npd)
        elif kind == "exponential":
            (lambd,) = p
            out = (jax.random.exponential(sub, shape, np.float32 if npd in (jnp.float16, jnp.bfloat16) else npd) / lambd).astype(npd)
        elif kind == "cauchy":
            median, sigma = p
            out = (median + sigma * jax.random.cauchy(sub, shape, np.float32)).astype(npd)
        elif kind == "log_normal":
            mean, std = p
            out = jnp.exp(mean + std * jax.random.normal(sub, shape, np.float32)).astype(npd)
        elif kind == "geometric":
            (prob,) = p
            out = jax.random.geometric(sub, prob, shape).astype(npd)
        elif kind == "poisson":
            (rate,) = p
            out = jax.random.poisson(sub, rate, shape).astype(npd)
        elif kind == "gamma":
            (alpha,) = p
            out = jax.random.gamma(sub, alpha, shape, np.float32 if npd != np.float64 else npd).astype(npd)
        elif kind == "categorical":
            logits, = p
            out = jax.random.categorical(sub, logits, axis=-1, shape=shape).astype(npd)
        elif kind == "choice_noreplace":
            logits, = p  # Gumbel top-k: sampling without replacement proportional to weights
            g = jax.random.gumbel(sub, logits.shape, np.float32)
            out = jax.lax.top_k(logits + g, shape[-1])[1].astype(npd)
        else:
            raise ValueError(kind)
        return key, out
    return f


# Samplers whose values are i.i.d. per element with scalar parameters: a draw of n values can be
# the first n of a longer draw. Compiling threefry for every new parameter shape costs ~0.1-0.5 s
# (a model's init touches dozens of shapes), so the first few eager draws of a shape take a
# power-of-two sized draw (one compile per size class) plus a cheap slice; a shape drawn often
# (dropout masks, noise in a loop) gets its own exact kernel and no slice.
_BUCKETED = frozenset({"uniform", "normal", "bernoulli", "exponential", "cauchy", "log_normal"})
_EXACT_AFTER = 3
_BUCKET_MAX = 1 << 22
_draws_seen = {}


def _bucketed(kind, shape, dtype, key, params):
    if kind not in _BUCKETED or isinstance(key, jax.core.Tracer) or any(hasattr(p, "shape") for p in params):
        return False
    n = 1
    for s in shape:
        n *= s
    if not 0 < n <= _BUCKET_MAX:
        return False
    k = (kind, shape, dtype)
    seen = _draws_seen.get(k, 0)
    if seen >= _EXACT_AFTER:
        return False
    _draws_seen[k] = seen + 1
    return True


def draw(kind, shape, dtype, generator=None, *params):
    """One random draw; advances the generator's key."""
    g = generator if generator is not None else default_generator
    shape = tuple(int(s) for s in shape)
    params = tuple(p._value if hasattr(p, "_value") else p for p in params)
    key = g._state._value
    if _bucketed(kind, shape, dtype, key, params):
        n = int(np.prod(shape))
        size = 1 << (n - 1).bit_length()
        k = get_kernel(("rng", kind, (size,), dtype), lambda: _make_sampler(kind, (size,), dtype), kind)
        new_key, flat = k.jfwd(key, *params)
        from ._creation import host_side_ok
        if host_side_ok(n):   # slicing on the host compiles nothing (see host_side_ok)
            out = jax.device_put(np.array(np.asarray(flat)[:n].reshape(shape)))   # an owned copy
        else:
            take = get_kernel(("rng_take", size, shape), lambda: (lambda a: a[:n].reshape(shape)), "rng_take")
            out = take.jfwd(flat)
    else:
        k = get_kernel(("rng", kind, shape, dtype), lambda: _make_sampler(kind, shape, dtype), kind)
        new_key, out = k.jfwd(key, *params)
    g._state._set_value(new_key)
    return out


def next_key(generator=None):
    """A fresh subkey (as a jtorch uint32 Tensor) for samplers declared as registry ops."""
    from ._tensor import wrap
    g = generator if generator is not None else default_generator
    k = get_kernel(("rng", "split"), lambda: (lambda key: tuple(jax.random.split(key))), "split")
    new_key, sub = k.jfwd(g._state._value)
    g._state._set_value(new_key)
    return wrap(sub)
