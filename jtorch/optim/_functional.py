"""Pure update rules of the built-in optimizers, and the driver that runs them per param group.

Each rule is `rule(p, g, st, h, **flags) -> (p, st)` on ONE parameter's jax arrays:
  p, g  the parameter and its gradient (complex ones arrive as real views [..., 2], like torch's
        view_as_real), st a dict of state arrays named as torch names them (None where torch has
        not created the buffer yet), h a dict of float64 0-dim hyperparameters (lr, betas...),
  flags static Python values (maximize, nesterov, amsgrad, "weight decay is nonzero"...).
The math is torch's single-tensor formula, op for op: scalar factors are computed in float64 (torch
computes them as Python floats) and cast to the tensor's dtype where they meet a tensor, as torch's
kernels do with Python scalars. `group_step` maps a rule over all parameters of a group inside one
cached jax.jit, so one optimizer step is one XLA program per group; hyperparameters are dynamic
arguments, so editing `group['lr']` never recompiles.
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np

F64 = jnp.float64


def _c(x, like):
    """A float64 scalar, cast to the dtype of the tensor it meets."""
    return jnp.asarray(x).astype(like.dtype)


def _lerp(a, b, w):
    """torch.lerp(a, b, w) for a scalar weight, with torch's two-branch formula."""
    wc = _c(w, a)
    return jnp.where(jnp.abs(w) < 0.5, a + wc * (b - a), b - (b - a) * _c(1 - w, a))


def _addcmul(x, v, t1, t2):
    return x + _c(v, x) * t1 * t2


def _addcdiv(x, v, t1, t2):
    return x + _c(v, x) * t1 / t2


def _inc(step):
    return step + jnp.ones((), step.dtype)


# ---------------------------------------------------------------------------------------- rules
def sgd(p, g, st, h, *, maximize, wd, momentum, nesterov):
    if maximize:
        g = -g
    if wd:
        g = g + _c(h["weight_decay"], p) * p
    if momentum:
        buf = st["momentum_buffer"]
        if buf is None:
            buf = g
        else:
            buf = buf * _c(h["momentum"], buf) + _c(1 - h["dampening"], g) * g
        st = {"momentum_buffer": buf}
        g = g + _c(h["momentum"], g) * buf if nesterov else buf
    return p + _c(-h["lr"], p) * g, st


def adam(p, g, st, h, *, maximize, wd, amsgrad, decoupled):
    if maximize:
        g = -g
    step = _inc(st["step"])
    lr, b1, b2 = h["lr"], h["beta1"], h["beta2"]
    if wd:
        if decoupled:
            p = p * _c(1 - lr * h["weight_decay"], p)
        else:
            g = g + _c(h["weight_decay"], p) * p
    m = _lerp(st["exp_avg"], g, 1 - b1)
    v = _addcmul(st["exp_avg_sq"] * _c(b2, g), 1 - b2, g, g)
    s = step.astype(F64)
    bc1 = 1 - b1 ** s
    bc2 = 1 - b2 ** s
    step_size = lr / bc1
    bc2_sqrt = jnp.sqrt(bc2)
    new = {"step": step, "exp_avg": m, "exp_avg_sq": v}
    if amsgrad:
        vmax = jnp.maximum(st["max_exp_avg_sq"], v)
        new["max_exp_avg_sq"] = vmax
        v = vmax
    denom = jnp.sqrt(v) / _c(bc2_sqrt, v) + _c(h["eps"], v)
    return _addcdiv(p, -step_size, m, denom), new


def adagrad(p, g, st, h, *, maximize, wd):
    step = _inc(st["step"])
    if maximize:
        g = -g
    if wd:
        g = g + _c(h["weight_decay"], p) * p
    clr = h["lr"] / (1 + (step.astype(F64) - 1) * h["lr_decay"])
    s = _addcmul(st["sum"], 1.0, g, g)
    std = jnp.sqrt(s) + _c(h["eps"], s)
    return _addcdiv(p, -clr, g, std), {"step": step, "sum": s}


def adadelta(p, g, st, h, *, maximize, wd):
    step = _inc(st["step"])
    if maximize:
        g = -g
    if wd:
        g = g + _c(h["weight_decay"], p) * p
    rho, eps = h["rho"], h["eps"]
    sq = _addcmul(st["square_avg"] * _c(rho, g), 1 - rho, g, g)
    std = jnp.sqrt(sq + _c(eps, sq))
    delta = jnp.sqrt(st["acc_delta"] + _c(eps, sq))
    delta = delta / std * g
    acc = _addcmul(st["acc_delta"] * _c(rho, g), 1 - rho, delta, delta)
    return p + _c(-h["lr"], p) * delta, {"step": step, "square_avg": sq, "acc_delta": acc}


def adamax(p, g, st, h, *, maximize, wd):
    if maximize:
        g = -g
    step = _inc(st["step"])
    if wd:
        g = g + _c(h["weight_decay"], p) * p
    b1 = h["beta1"]
    m = _lerp(st["exp_avg"], g, 1 - b1)
    e = jnp.maximum(st["exp_inf"] * _c(h["beta2"], g), jnp.abs(g) + _c(h["eps"], g))
    clr = h["lr"] / (1 - b1 ** step.astype(F64))
    return _addcdiv(p, -clr, m, e), {"step": step, "exp_avg": m, "exp_inf": e}


def asgd(p, g, st, h, *, maximize, wd):
    if maximize:
        g = -g
    step = _inc(st["step"])
    if wd:
        g = g + _c(h["weight_decay"], p) * p
    lr, lambd = h["lr"], h["lambd"]
    eta = st["eta"].astype(F64)
    p = p * _c(1 - lambd * eta, p)
    p = p + _c(-eta, p) * g
    mu, ax = st["mu"], st["ax"]
    ax = jnp.where(mu != 1, ax + (p - ax) * mu.astype(ax.dtype), p)
    s = step.astype(F64)
    new_eta = (lr / ((1 + lambd * lr * s) ** h["alpha"])).astype(st["eta"].dtype)
    new_mu = (1 / jnp.maximum(1.0, s - h["t0"])).astype(mu.dtype)
    return p, {"step": step, "eta": new_eta, "mu": new_mu, "ax": ax}


def nadam(p, g, st, h, *, maximize, wd, decoupled):
    if maximize:
        g = -g
    step = _inc(st["step"])
    s = step.astype(F64)
    lr, b1, b2 = h["lr"], h["beta1"], h["beta2"]
    bc2 = 1 - b2 ** s
    if wd:
        if decoupled:
            p = p * _c(1 - lr * h["weight_decay"], p)
        else:
            g = g + _c(h["weight_decay"], p) * p
    md = h["momentum_decay"]
    mu = b1 * (1.0 - 0.5 * (0.96 ** (s * md)))
    mu_next = b1 * (1.0 - 0.5 * (0.96 ** ((s + 1) * md)))
    mu_product = st["mu_product"] * _c(mu, st["mu_product"])
    m = _lerp(st["exp_avg"], g, 1 - b1)
    v = _addcmul(st["exp_avg_sq"] * _c(b2, g), 1 - b2, g, g)
    denom = jnp.sqrt(v / _c(bc2, v)) + _c(h["eps"], v)
    mp = mu_product.astype(F64)
    mpn = mp * mu_next
    p = _addcdiv(p, -lr * (1.0 - mu) / (1.0 - mp), g, denom)
    p = _addcdiv(p, (-lr * mu_next) / (1.0 - mpn), m, denom)
    return p, {"step": step, "mu_product": mu_product, "exp_avg": m, "exp_avg_sq": v}


def radam(p, g, st, h, *, maximize, wd, decoupled):
    if maximize:
        g = -g
    step = _inc(st["step"])
    s = step.astype(F64)
    lr, b1, b2 = h["lr"], h["beta1"], h["beta2"]
    if wd:
        if decoupled:
            p = p * _c(1 - lr * h["weight_decay"], p)
        else:
            g = g + _c(h["weight_decay"], p) * p
    m = _lerp(st["exp_avg"], g, 1 - b1)
    v = _addcmul(st["exp_avg_sq"] * _c(b2, g), 1 - b2, g, g)
    bc1 = 1 - b1 ** s
    bc2 = 1 - b2 ** s
    bcm = m / _c(bc1, m)
    rho_inf = 2 / (1 - b2) - 1
    rho_t = rho_inf - 2 * s * (b2 ** s) / bc2
    rect = jnp.sqrt(jnp.maximum((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t), 0.0))
    adaptive = _c(bc2 ** 0.5, v) / (jnp.sqrt(v) + _c(h["eps"], v))
    base = bcm * _c(lr, m)
    upd = jnp.where(rho_t > 5.0, base * adaptive * _c(rect, m), base)
    return p - upd, {"step": step, "exp_avg": m, "exp_avg_sq": v}


def rmsprop(p, g, st, h, *, maximize, wd, centered, momentum):
    step = _inc(st["step"])
    if maximize:
        g = -g
    if wd:
        g = g + _c(h["weight_decay"], p) * p
    alpha = h["alpha"]
    sq = _addcmul(st["square_avg"] * _c(alpha, g), 1 - alpha, g, g)
    new = {"step": step, "square_avg": sq}
    if centered:
        ga = _lerp(st["grad_avg"], g, 1 - alpha)
        new["grad_avg"] = ga
        avg = jnp.sqrt(_addcmul(sq, -1.0, ga, ga))
    else:
        avg = jnp.sqrt(sq)
    avg = avg + _c(h["eps"], avg)
    if momentum:
        buf = _addcdiv(st["momentum_buffer"] * _c(h["momentum"], g), 1.0, g, avg)
        new["momentum_buffer"] = buf
        return p + _c(-h["lr"], p) * buf, new
    return _addcdiv(p, -h["lr"], g, avg), new


def rprop(p, g, st, h, *, maximize):
    if maximize:
        g = -g
    step = _inc(st["step"])
    sign = jnp.sign(g * st["prev"])
    etaminus = _c(h["etaminus"], g)
    sign = jnp.where(sign > 0, _c(h["etaplus"], g), sign)
    sign = jnp.where(sign < 0, etaminus, sign)
    sign = jnp.where(sign == 0, jnp.ones((), g.dtype), sign)
    ss = jnp.clip(st["step_size"] * sign, _c(h["step_size_min"], g), _c(h["step_size_max"], g))
    g = jnp.where(sign == etaminus, jnp.zeros((), g.dtype), g)
    p = p + -jnp.sign(g) * ss
    return p, {"step": step, "prev": g, "step_size": ss}


# ---------------------------------------------------------------------------------------- driver
def _real(x):
    if x is not None and jnp.iscomplexobj(x):
        return jnp.stack([x.real, x.imag], -1)
    return x


def _back(x, like):
    if like is not None and jnp.iscomplexobj(like):
        return jax.lax.complex(x[..., 0], x[..., 1]).astype(like.dtype)
    return x if like is None else x.astype(like.dtype)


@functools.lru_cache(maxsize=None)
def _group_fn(rule, flags, scalar_keys):
    kw = dict(flags)

    def run(params, grads, states, scalars, tensor_hyper):
        hyper = {k: scalars[i] for i, k in enumerate(scalar_keys)}
        hyper.update({k: jnp.asarray(v).astype(F64).reshape(()) for k, v in tensor_hyper.items()})
        out_p, out_s = [], []
        for p, g, st in zip(params, grads, states):
            rst = {k: _real(v) for k, v in st.items()}
            np_, nst = rule(_real(p), _real(g), rst, hyper, **kw)
            out_p.append(_back(np_, p))
            out_s.append({k: _back(v, st.get(k) if st.get(k) is not None else p if v.ndim else None)
                          for k, v in nst.items()})
        return out_p, out_s

    return jax.jit(run)


def group_step(rule, flags, params, grads, states, hyper):
    """Run `rule` over a group's arrays in one jitted program; returns (new params, new states).

    `hyper` maps names to Python numbers or arrays. The numbers travel as ONE float64 vector (one
    host-to-device copy per step, whatever their count); their values never enter the cache key.
    """
    keys, vals, tens = [], [], {}
    for k, v in hyper.items():
        if isinstance(v, (int, float)):
            keys.append(k)
            vals.append(v)
        else:
            tens[k] = v
    fn = _group_fn(rule, tuple(sorted(flags.items())), tuple(keys))
    return fn(params, grads, states, np.asarray(vals, dtype=np.float64), tens)
