"""Pure jnp building blocks whose derivative at a kink or tie is torch's, not JAX's.

JAX differentiates `maximum`/`minimum`/`clip` at a tie as half to each side and `abs` at 0 as 1, and
`sqrt(sum(x*x))` at a zero vector as nan. torch's backward formulas pick a side instead: relu's
gradient at 0 is 0, clamp passes the gradient on its boundaries, hardtanh does not, abs' gradient
at 0 is sign(0) = 0, a norm's gradient at a zero vector is 0. Those points are common in real
programs (a ReLU after a zero-initialised residual BatchNorm, an L1 loss on an exact match, a
normalised zero vector), so every op with such a kink builds on these helpers.
"""
import jax
import jax.numpy as jnp


def relu(x):
    """torch's clamp_min(x, 0) (nan and -0.0 pass through); gradient 1 where x > 0, else 0."""
    return jnp.where(x > 0, x, jax.lax.stop_gradient(jnp.where(x < 0, jnp.zeros((), x.dtype), x)))


def clamp_min(x, lo):
    """torch.clamp(x, min=lo): x gets the gradient where x >= lo, lo where x < lo (neither at a nan
    x); a nan bound gives nan."""
    return jnp.where((x >= lo) & (lo == lo), x, jnp.where(x != x, jax.lax.stop_gradient(x), lo))


def clamp_max(x, hi):
    """torch.clamp(x, max=hi): x gets the gradient where x <= hi, hi where x > hi."""
    return jnp.where((x <= hi) & (hi == hi), x, jnp.where(x != x, jax.lax.stop_gradient(x), hi))


def hardtanh(x, lo, hi):
    """clip(x, lo, hi) whose gradient is 0 on the boundaries too (torch's hardtanh_backward)."""
    return jnp.where(x <= lo, lo, jnp.where(x >= hi, hi, x))


@jax.custom_jvp
def abs(x):
    return jnp.abs(x)


@abs.defjvp
def _abs_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    if jnp.iscomplexobj(x):
        return jax.jvp(jnp.abs, (x,), (t,))
    # torch: grad * sgn(x), with sgn(0) = sgn(nan) = 0. The primal is this abs again, not jnp.abs:
    # higher-order derivatives differentiate this rule, and jnp.abs'(0) would be 1 there
    return abs(x), jnp.where(x > 0, t, jnp.where(x < 0, -t, jnp.zeros_like(t)))


def sqrt_at_zero(s):
    """sqrt(s) for s >= 0 whose gradient at s == 0 is 0 instead of inf, so a norm built on it has
    gradient 0 at a zero vector (torch masks norm == 0 in its norm backward)."""
    pos = s > 0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, s, 1)), jnp.zeros((), s.dtype))


def pow_root_at_zero(s, p):
    """s ** (1/p) for s >= 0 with gradient 0 at s == 0 (p-norms, as sqrt_at_zero)."""
    pos = s > 0
    return jnp.where(pos, jnp.where(pos, s, 1) ** (1.0 / p), jnp.zeros((), s.dtype))
