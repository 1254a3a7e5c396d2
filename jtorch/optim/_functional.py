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


def _opmath(like):
    """The dtype torch's CPU kernels compute in for a tensor of like's dtype (float32 for the half types)."""
    return jnp.float32 if like.dtype in (jnp.bfloat16, jnp.float16) else like.dtype


def _c(x, like):
    """A float64 scalar as a kernel sees a Python scalar: in the math dtype of the tensor it meets (so lr=0.1
    stays 0.1 in float32 for a bfloat16 parameter instead of rounding to bfloat16's 0.10009765625)."""
    return jnp.asarray(x).astype(_opmath(like))


_HALF_BITS = {jnp.dtype(jnp.bfloat16): (8, 7), jnp.dtype(jnp.float16): (5, 10)}


def _r(x, like):
    """Round one op's result to the tensor's dtype: each torch op on half types computes in float32 and rounds
    once, so every op boundary of torch's formula rounds here too (a no-op for float32/float64). The explicit
    reduce_precision keeps the rounding: XLA may otherwise elide a float32->bfloat16->float32 round trip
    (its default `xla_allow_excess_precision`)."""
    bits = _HALF_BITS.get(jnp.dtype(like.dtype))
    if bits is not None and x.dtype != like.dtype:
        x = jax.lax.reduce_precision(x, *bits)
    return x.astype(like.dtype)


def _c_rounded(x, like):
    """A scalar that torch's kernel first converts to the tensor's own dtype: add's alpha and an added scalar
    (measured on torch's CPU bfloat16 kernels; mul, div, addcmul, addcdiv and lerp keep it in float32)."""
    return jnp.asarray(x).astype(like.dtype).astype(_opmath(like))


# one torch op each (names after torch's; x a tensor, s a Python scalar, y a tensor)
def _add(x, y, alpha):
    return _r(x + _c_rounded(alpha, x) * y, x)


def _adds(x, s):
    return _r(x + _c_rounded(s, x), x)


def _mul(x, s):
    return _r(x * _c(s, x), x)


def _div(x, s):
    return _r(x / _c(s, x), x)


def _lerp(a, b, w):
    """torch.lerp(a, b, w) for a scalar weight, with torch's two-branch formula."""
    wc = _c(w, a)
    return _r(jnp.where(jnp.abs(w) < 0.5, a + wc * (b - a), b - (b - a) * _c(1 - w, a)), a)


def _addcmul(x, v, t1, t2):
    return _r(x + _c(v, x) * t1 * t2, x)


def _addcdiv(x, v, t1, t2):
    return _r(x + _c(v, x) * t1 / t2, x)


def _inc(step):
    return step + jnp.ones((), step.dtype)


# ---------------------------------------------------------------------------------------- rules
def sgd(p, g, st, h, *, maximize, wd, momentum, nesterov):
    if maximize:
        g = -g
    if wd:
        g = _add(g, p, h["weight_decay"])
    if momentum:
        buf = st["momentum_buffer"]
        fresh = st.get("fresh")
        if buf is None:
            buf = g
        else:
            buf = _add(_mul(buf, h["momentum"]), g, 1 - h["dampening"])
            if fresh is not None:   # a buffer primed by jtorch.compile: torch's first step is buf = grad
                buf = jnp.where(fresh, g, buf)
        st = {"momentum_buffer": buf}
        if fresh is not None:
            st["fresh"] = jnp.zeros_like(fresh)
        g = _add(g, buf, h["momentum"]) if nesterov else buf
    return _add(p, g, -h["lr"]), st


def adam(p, g, st, h, *, maximize, wd, amsgrad, decoupled):
    if maximize:
        g = -g
    step = _inc(st["step"])
    lr, b1, b2 = h["lr"], h["beta1"], h["beta2"]
    if wd:
        if decoupled:
            p = _mul(p, 1 - lr * h["weight_decay"])
        else:
            g = _add(g, p, h["weight_decay"])
    m = _lerp(st["exp_avg"], g, 1 - b1)
    v = _addcmul(_mul(st["exp_avg_sq"], b2), 1 - b2, g, g)
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
    denom = _adds(_div(jnp.sqrt(v), bc2_sqrt), h["eps"])
    return _addcdiv(p, -step_size, m, denom), new


def adagrad(p, g, st, h, *, maximize, wd):
    step = _inc(st["step"])
    if maximize:
        g = -g
    if wd:
        g = _add(g, p, h["weight_decay"])
    clr = h["lr"] / (1 + (step.astype(F64) - 1) * h["lr_decay"])
    s = _addcmul(st["sum"], 1.0, g, g)
    std = _adds(jnp.sqrt(s), h["eps"])
    return _addcdiv(p, -clr, g, std), {"step": step, "sum": s}


def adadelta(p, g, st, h, *, maximize, wd):
    step = _inc(st["step"])
    if maximize:
        g = -g
    if wd:
        g = _add(g, p, h["weight_decay"])
    rho, eps = h["rho"], h["eps"]
    sq = _addcmul(_mul(st["square_avg"], rho), 1 - rho, g, g)
    std = jnp.sqrt(_adds(sq, eps))
    delta = jnp.sqrt(_adds(st["acc_delta"], eps))
    delta = _r(_r(delta / std, delta) * g, delta)
    acc = _addcmul(_mul(st["acc_delta"], rho), 1 - rho, delta, delta)
    return _add(p, delta, -h["lr"]), {"step": step, "square_avg": sq, "acc_delta": acc}


def adamax(p, g, st, h, *, maximize, wd):
    if maximize:
        g = -g
    step = _inc(st["step"])
    if wd:
        g = _add(g, p, h["weight_decay"])
    b1 = h["beta1"]
    m = _lerp(st["exp_avg"], g, 1 - b1)
    e = jnp.maximum(_mul(st["exp_inf"], h["beta2"]), _adds(jnp.abs(g), h["eps"]))
    clr = h["lr"] / (1 - b1 ** step.astype(F64))
    return _addcdiv(p, -clr, m, e), {"step": step, "exp_avg": m, "exp_inf": e}


def asgd(p, g, st, h, *, maximize, wd, scalar_f64=False, foreach=False):
    """torch's single-tensor ASGD, or (foreach=True) its multi-tensor one, which rounds differently: the decay
    folded into the gradient (p -= eta * (g + lambd p)) and the new eta computed with step-dtype tensor ops."""
    if maximize:
        g = -g
    step = _inc(st["step"])
    if wd:
        g = _add(g, p, h["weight_decay"])
    lr, lambd = h["lr"], h["lambd"]
    mu, ax = st["mu"], st["ax"]
    sdt = F64 if scalar_f64 else jnp.float32
    if foreach:
        p = _addcmul(p, -1.0, _add(g, p, lambd), st["eta"].astype(p.dtype))
        ax = _addcmul(ax, 1.0, _r(p - ax, ax), mu.astype(ax.dtype))
    else:
        eta = st["eta"].astype(F64)
        p = _mul(p, 1 - lambd * eta)
        p = _add(p, g, -eta)
        ax = jnp.where(mu != 1, ax + (p - ax) * mu.astype(ax.dtype), p)
    s = step.astype(F64)
    # torch.as_tensor(python float) makes a default-dtype tensor that is then copied into eta/mu: after a
    # load_state_dict cast them to a float64 parameter's dtype, they still hold default-dtype-rounded values
    if foreach:   # lr / ((1 + lambd * lr * step) ** alpha) on the step tensor; lr / t is t.reciprocal() * lr
        base = 1 + (lambd * lr).astype(step.dtype) * step
        # glibc's powf is correctly rounded; XLA's float32 pow is not always: pow in float64, rounded once
        t = (base.astype(F64) ** h["alpha"]).astype(step.dtype)
        new_eta = ((1 / t) * lr.astype(step.dtype)).astype(st["eta"].dtype)
    else:
        new_eta = (lr / ((1 + lambd * lr * s) ** h["alpha"])).astype(sdt).astype(st["eta"].dtype)
    new_mu = (1 / jnp.maximum(1.0, s - h["t0"])).astype(sdt).astype(mu.dtype)
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
            p = _mul(p, 1 - lr * h["weight_decay"])
        else:
            g = _add(g, p, h["weight_decay"])
    md = h["momentum_decay"]
    mu = b1 * (1.0 - 0.5 * (0.96 ** (s * md)))
    mu_next = b1 * (1.0 - 0.5 * (0.96 ** ((s + 1) * md)))
    mu_product = _mul(st["mu_product"], mu)
    m = _lerp(st["exp_avg"], g, 1 - b1)
    v = _addcmul(_mul(st["exp_avg_sq"], b2), 1 - b2, g, g)
    denom = _adds(jnp.sqrt(_div(v, bc2)), h["eps"])
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
            p = _mul(p, 1 - lr * h["weight_decay"])
        else:
            g = _add(g, p, h["weight_decay"])
    m = _lerp(st["exp_avg"], g, 1 - b1)
    v = _addcmul(_mul(st["exp_avg_sq"], b2), 1 - b2, g, g)
    bc1 = 1 - b1 ** s
    bc2 = 1 - b2 ** s
    bcm = _div(m, bc1)
    rho_inf = 2 / (1 - b2) - 1
    rho_t = rho_inf - 2 * s * (b2 ** s) / bc2
    rect = jnp.sqrt(jnp.maximum((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t), 0.0))
    adaptive = _r(_c(bc2 ** 0.5, v) / _adds(jnp.sqrt(v), h["eps"]), v)
    base = _mul(bcm, lr)
    upd = jnp.where(rho_t > 5.0, _mul(_r(base * adaptive, base), rect), base)
    return _r(p - upd, p), {"step": step, "exp_avg": m, "exp_avg_sq": v}


def rmsprop(p, g, st, h, *, maximize, wd, centered, momentum):
    step = _inc(st["step"])
    if maximize:
        g = -g
    if wd:
        g = _add(g, p, h["weight_decay"])
    alpha = h["alpha"]
    sq = _addcmul(_mul(st["square_avg"], alpha), 1 - alpha, g, g)
    new = {"step": step, "square_avg": sq}
    if centered:
        ga = _lerp(st["grad_avg"], g, 1 - alpha)
        new["grad_avg"] = ga
        avg = jnp.sqrt(_addcmul(sq, -1.0, ga, ga))
    else:
        avg = jnp.sqrt(sq)
    avg = _adds(avg, h["eps"])
    if momentum:
        buf = _addcdiv(_mul(st["momentum_buffer"], h["momentum"]), 1.0, g, avg)
        new["momentum_buffer"] = buf
        return _add(p, buf, -h["lr"]), new
    return _addcdiv(p, -h["lr"], g, avg), new


def rprop(p, g, st, h, *, maximize):
    if maximize:
        g = -g
    step = _inc(st["step"])
    sign = jnp.sign(g * st["prev"])

    def stored(x):  # torch writes etaplus/etaminus INTO the sign tensor: they take its dtype
        return jnp.asarray(x).astype(g.dtype)
    etaminus = stored(h["etaminus"])
    sign = jnp.where(sign > 0, stored(h["etaplus"]), sign)
    sign = jnp.where(sign < 0, etaminus, sign)
    sign = jnp.where(sign == 0, jnp.ones((), g.dtype), sign)
    ss = _r(jnp.clip(_r(st["step_size"] * sign, g), _c(h["step_size_min"], g), _c(h["step_size_max"], g)), g)
    g = jnp.where(sign == etaminus, jnp.zeros((), g.dtype), g)
    p = _r(p + -jnp.sign(g) * ss, p)
    return p, {"step": step, "prev": g, "step_size": ss}


def adafactor(p, g, st, h, *, maximize, wd):
    """torch's Adafactor: factored second moment (row/col) for >=2-D tensors, a full one for vectors; the
    Python-float scalars torch computes with .item() (rho, alpha, the clipping denominator) are float64 here."""
    if maximize:
        g = -g
    step = _inc(st["step"])
    s = step.astype(F64)
    lr = h["lr"]
    eps1 = h["eps1"] if "eps1" in h else jnp.finfo(p.dtype).eps
    one_minus_beta2 = s ** h["beta2_decay"]
    rho = jnp.minimum(lr, 1 / s ** 0.5)
    alpha = jnp.maximum(h["eps2"], jnp.linalg.norm(p).astype(F64) / p.size ** 0.5) * rho
    if wd:
        p = _mul(p, 1 - lr * h["weight_decay"])
    new = {"step": step}
    if g.ndim > 1:
        def mean_sq(axis):
            n = jnp.linalg.norm(g, axis=axis, keepdims=True)
            return _div(_r(n * n, n), g.shape[axis])
        row = _lerp(st["row_var"], mean_sq(-1), one_minus_beta2)
        col = _lerp(st["col_var"], mean_sq(-2), one_minus_beta2)
        new.update(row_var=row, col_var=col)
        var = _r(row @ col, row)
        var = _r(var / jnp.maximum(jnp.mean(row, axis=-2, keepdims=True), _c(eps1, row)), var)
    else:
        var = _lerp(st["variance"], _r(g * g, g), one_minus_beta2)
        new["variance"] = var
    update = _r(jax.lax.rsqrt(jnp.maximum(var, _c(eps1 * eps1, var))) * g, g)
    denom = jnp.maximum(1.0, jnp.linalg.norm(update).astype(F64) / (update.size ** 0.5 * h["d"]))
    return _add(p, update, -alpha / denom), new


def _newton_schulz(x, a, b, c, steps, eps):
    """torch's Muon orthogonalization, in bfloat16 as torch runs it: each matmul accumulates in float32 and its
    result (addmm's beta*C + alpha*A@B included) is rounded once to bfloat16."""
    bf = jnp.bfloat16
    o = x.astype(bf)
    tall = x.shape[0] > x.shape[1]
    if tall:
        o = o.T
    f32 = jnp.float32
    n = jnp.linalg.norm(o.astype(f32)).astype(bf)
    o = (o.astype(f32) / jnp.maximum(n, jnp.asarray(eps, bf)).astype(f32)).astype(bf)

    def mm(u, v):
        return jnp.matmul(u, v, preferred_element_type=f32)
    a, b, c = (jnp.asarray(v).astype(f32) for v in (a, b, c))
    for _ in range(steps):
        gram = mm(o, o.T).astype(bf)
        upd = (b * gram.astype(f32) + c * mm(gram, gram)).astype(bf)
        o = (a * o.astype(f32) + mm(upd, o)).astype(bf)
    return o.T if tall else o


def muon(p, g, st, h, *, nesterov, ns_steps, adjust_lr_fn, lr_f32=False):
    mom = h["momentum"]
    buf = _lerp(st["momentum_buffer"], g, 1 - mom)
    upd = _lerp(g, buf, mom) if nesterov else buf
    upd = _newton_schulz(upd, h["a"], h["b"], h["c"], ns_steps, h["eps"])
    A, B = p.shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        ratio = max(1, A / B) ** 0.5
    elif adjust_lr_fn == "match_rms_adamw":
        ratio = 0.2 * max(A, B) ** 0.5
    else:
        ratio = 1.0
    lr = h["lr"]
    decay, step = 1 - lr * h["weight_decay"], lr * ratio
    if lr_f32:   # a float32 Tensor lr: torch's products with it are float32 ops (Python scalars cast first)
        f32 = jnp.float32
        lr32 = lr.astype(f32)
        decay = 1 - lr32 * jnp.asarray(h["weight_decay"]).astype(f32)
        step = lr32 * jnp.asarray(ratio, f32)
    p = _mul(p, decay)
    return _add(p, upd.astype(p.dtype), -step), {"momentum_buffer": buf}


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
    try:
        return fn(params, grads, states, np.asarray(vals, dtype=np.float64), tens)
    except ValueError:
        # parameters on one device, gradients sharded over a mesh (shard_batch / FSDP inputs): the
        # single-device arrays are replicated onto the mesh; the new parameters then stay there
        from .._ops.placement import unify_devices
        flat, tree = jax.tree_util.tree_flatten((params, grads, states, tens))
        if not unify_devices(flat):
            raise
        params, grads, states, tens = jax.tree_util.tree_unflatten(tree, flat)
        return fn(params, grads, states, np.asarray(vals, dtype=np.float64), tens)
