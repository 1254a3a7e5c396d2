"""Samplers that need gradients through their parameters (implicit reparameterisation, as
torch's rsample): the PRNG key is an integer leaf, the parameters are differentiable leaves."""
import jax
import jax.numpy as jnp

from .registry import op


@op("_sample_gamma", static=("shape",), public=False, method=False)
def _sample_gamma(key, concentration, shape):
    c = jnp.broadcast_to(concentration, shape)
    dt = c.dtype if c.dtype in (jnp.float32, jnp.float64) else jnp.float32
    return jnp.maximum(jax.random.gamma(key, c.astype(dt), shape, dt), jnp.finfo(dt).tiny).astype(c.dtype)


@op("_sample_dirichlet", static=("shape",), public=False, method=False)
def _sample_dirichlet(key, concentration, shape):
    c = jnp.broadcast_to(concentration, shape)
    g = jax.random.gamma(key, c, shape, c.dtype)
    return g / jnp.sum(g, axis=-1, keepdims=True)


@op("_sample_beta", static=("shape",), public=False, method=False)
def _sample_beta(key, a, b, shape):
    a, b = jnp.broadcast_to(a, shape), jnp.broadcast_to(b, shape)
    k1, k2 = jax.random.split(key)
    x = jax.random.gamma(k1, a, shape, a.dtype)
    y = jax.random.gamma(k2, b, shape, b.dtype)
    return x / (x + y)


@op("_sample_std_normal", static=("shape", "dtype"), public=False, method=False, differentiable=False)
def _sample_std_normal(key, shape, dtype):
    return jax.random.normal(key, shape, dtype.np)


@op("_sample_uniform", static=("shape", "dtype"), public=False, method=False, differentiable=False)
def _sample_uniform(key, shape, dtype):
    return jax.random.uniform(key, shape, dtype.np, minval=jnp.finfo(dtype.np).tiny, maxval=1.0)


@op("_sample_poisson", static=("shape",), public=False, method=False, differentiable=False)
def _sample_poisson(key, rate, shape):
    return jax.random.poisson(key, jnp.broadcast_to(rate, shape), shape).astype(rate.dtype)


@op("_sample_binomial", static=("shape",), public=False, method=False, differentiable=False)
def _sample_binomial(key, total_count, probs, shape):
    return jax.random.binomial(key, jnp.broadcast_to(total_count, shape), jnp.broadcast_to(probs, shape),
                               shape).astype(probs.dtype)


@op("_sample_categorical", static=("shape",), public=False, method=False, differentiable=False)
def _sample_categorical(key, logits, shape):
    return jax.random.categorical(key, logits, axis=-1, shape=shape).astype(jnp.int64)


def _sample_of(sample, input):
    """A sample already drawn from `input` (its probabilities / rates), tied to it in the graph:
    torch's bernoulli(p) and poisson(rate) outputs require grad, with a zero derivative."""
    return sample


for _kind in ("bernoulli", "poisson"):   # two names only so grad_fn reads BernoulliBackward0 / PoissonBackward0
    op(f"_{_kind}_sample_of", public=False, method=False)(_sample_of)
