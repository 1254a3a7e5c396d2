"""kl_divergence with torch's double-dispatch registry (most specific registered pair wins)."""
import math
import warnings

from .distribution import Distribution
from .utils import _sum_rightmost, euler_constant as _EG

_KL_REGISTRY = {}
_KL_MEMOIZE = {}
_INF = math.inf


def register_kl(type_p, type_q):
    if not isinstance(type_p, type) or not issubclass(type_p, Distribution):
        raise TypeError(f"Expected type_p to be a Distribution subclass but got {type_p}")
    if not isinstance(type_q, type) or not issubclass(type_q, Distribution):
        raise TypeError(f"Expected type_q to be a Distribution subclass but got {type_q}")

    def decorator(fun):
        _KL_REGISTRY[type_p, type_q] = fun
        _KL_MEMOIZE.clear()
        return fun
    return decorator


def _dispatch_kl(type_p, type_q):
    matches = [(sp, sq) for sp, sq in _KL_REGISTRY if issubclass(type_p, sp) and issubclass(type_q, sq)]
    if not matches:
        return NotImplemented
    mp, mq = type_p.__mro__, type_q.__mro__
    left = min(matches, key=lambda m: (mp.index(m[0]), mq.index(m[1])))
    right = min(matches, key=lambda m: (mq.index(m[1]), mp.index(m[0])))
    if _KL_REGISTRY[left] is not _KL_REGISTRY[right]:
        warnings.warn(f"Ambiguous kl_divergence({type_p.__name__}, {type_q.__name__}). Please register_kl"
                      f"({left[0].__name__}, {right[1].__name__})", RuntimeWarning)
    return _KL_REGISTRY[left]


def kl_divergence(p, q):
    key = (type(p), type(q))
    fun = _KL_MEMOIZE.get(key)
    if fun is None:
        fun = _KL_MEMOIZE[key] = _dispatch_kl(*key)
    if fun is NotImplemented:
        raise NotImplementedError(f"No KL(p || q) is implemented for p type {p.__class__.__name__} and q type "
                                  f"{q.__class__.__name__}")
    return fun(p, q)


def _inf_like(t):
    return t.new_full(tuple(t.shape), _INF)


def _x_log_x(t):
    return t * t.log()


def _batch_trace_XXT(bmat):
    n, m = bmat.size(-1), bmat.size(-2)
    flat = bmat.reshape(tuple(bmat.shape[:-2]) + (n * m,))
    return flat.pow(2).sum(-1)


def _register_all():
    from .. import erf
    from ..nn.functional import softplus
    from . import (Bernoulli, Beta, Binomial, Categorical, Cauchy, ContinuousBernoulli, Dirichlet, Exponential,
                   ExponentialFamily, Gamma, Geometric, Gumbel, HalfNormal, Independent, Laplace,
                   LowRankMultivariateNormal, MultivariateNormal, Normal, OneHotCategorical, Pareto, Poisson,
                   TransformedDistribution, Uniform)
    from .exp_family import _kl_expfamily_expfamily
    from .lowrank_multivariate_normal import _batch_lowrank_logdet, _batch_lowrank_mahalanobis
    from .. import linalg

    def mahalanobis(L, x):
        Lb = L.expand(tuple(_bshape(L.shape[:-2], x.shape[:-1])) + tuple(L.shape[-2:]))
        xb = x.expand(tuple(Lb.shape[:-1]))
        return linalg.solve_triangular(Lb, xb.unsqueeze(-1), upper=False).squeeze(-1).pow(2).sum(-1)

    def R(tp, tq):
        return register_kl(tp, tq)

    def infinite(*pairs, attr):
        def fn(p, q):
            return _inf_like(getattr(p, attr))
        for tp, tq in pairs:
            register_kl(tp, tq)(fn)

    register_kl(ExponentialFamily, ExponentialFamily)(_kl_expfamily_expfamily)

    @R(Bernoulli, Bernoulli)
    def _(p, q):
        t1 = p.probs * (softplus(-q.logits) - softplus(-p.logits))
        t1 = t1.masked_fill(q.probs == 0, _INF).masked_fill(p.probs == 0, 0)
        t2 = (1 - p.probs) * (softplus(q.logits) - softplus(p.logits))
        t2 = t2.masked_fill(q.probs == 1, _INF).masked_fill(p.probs == 1, 0)
        return t1 + t2

    @R(Beta, Beta)
    def _(p, q):
        sp, sq = p.concentration1 + p.concentration0, q.concentration1 + q.concentration0
        t1 = q.concentration1.lgamma() + q.concentration0.lgamma() + sp.lgamma()
        t2 = p.concentration1.lgamma() + p.concentration0.lgamma() + sq.lgamma()
        t3 = (p.concentration1 - q.concentration1) * p.concentration1.digamma()
        t4 = (p.concentration0 - q.concentration0) * p.concentration0.digamma()
        return t1 - t2 + t3 + t4 + (sq - sp) * sp.digamma()

    @R(Binomial, Binomial)
    def _(p, q):
        if bool((p.total_count < q.total_count).any()):
            raise NotImplementedError("KL between Binomials where q.total_count > p.total_count is not implemented")
        kl = p.total_count * (p.probs * (p.logits - q.logits) + (-p.probs).log1p() - (-q.probs).log1p())
        return kl.masked_fill(p.total_count > q.total_count, _INF)

    @R(Categorical, Categorical)
    def _kl_cat(p, q):
        t = p.probs * (p.logits - q.logits)
        t = t.masked_fill((q.probs == 0).expand_as(t), _INF).masked_fill((p.probs == 0).expand_as(t), 0)
        return t.sum(-1)

    @R(OneHotCategorical, OneHotCategorical)
    def _(p, q):
        return _kl_cat(p._categorical, q._categorical)

    @R(ContinuousBernoulli, ContinuousBernoulli)
    def _(p, q):
        return p.mean * (p.logits - q.logits) + p._cont_bern_log_norm() + (-p.probs).log1p() - \
            q._cont_bern_log_norm() - (-q.probs).log1p()

    @R(Dirichlet, Dirichlet)
    def _(p, q):
        sp, sq = p.concentration.sum(-1), q.concentration.sum(-1)
        t2 = (p.concentration.lgamma() - q.concentration.lgamma()).sum(-1)
        t4 = p.concentration.digamma() - sp.digamma().unsqueeze(-1)
        return sp.lgamma() - sq.lgamma() - t2 + ((p.concentration - q.concentration) * t4).sum(-1)

    @R(Exponential, Exponential)
    def _(p, q):
        ratio = q.rate / p.rate
        return -ratio.log() + ratio - 1

    @R(Gamma, Gamma)
    def _(p, q):
        t1 = q.concentration * (p.rate / q.rate).log()
        t2 = q.concentration.lgamma() - p.concentration.lgamma()
        t3 = (p.concentration - q.concentration) * p.concentration.digamma()
        return t1 + t2 + t3 + (q.rate - p.rate) * (p.concentration / p.rate)

    @R(Gumbel, Gumbel)
    def _(p, q):
        ct1, ct2, ct3 = p.scale / q.scale, q.loc / q.scale, p.loc / q.scale
        return -ct1.log() - ct2 + ct3 + ct1 * _EG + (ct2 + (1 + ct1).lgamma() - ct3).exp() - (1 + _EG)

    @R(Geometric, Geometric)
    def _(p, q):
        return -p.entropy() - (-q.probs).log1p() / p.probs - q.logits

    @R(Normal, Normal)
    def _kl_nn(p, q):
        var_ratio = (p.scale / q.scale).pow(2)
        t1 = ((p.loc - q.loc) / q.scale).pow(2)
        return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())

    @R(HalfNormal, HalfNormal)
    def _(p, q):
        return _kl_nn(p.base_dist, q.base_dist)

    @R(Laplace, Laplace)
    def _(p, q):
        sr = p.scale / q.scale
        d = (p.loc - q.loc).abs()
        return -sr.log() + d / q.scale + sr * (-d / p.scale).exp() - 1

    def _same_event(p, q, what):
        if tuple(p.event_shape) != tuple(q.event_shape):
            raise ValueError(f"KL-divergence between two {what} with different event shapes cannot be computed")

    @R(LowRankMultivariateNormal, LowRankMultivariateNormal)
    def _(p, q):
        _same_event(p, q, "Low Rank Multivariate Normals")
        qW, qD, pW, pD = q._unbroadcasted_cov_factor, q._unbroadcasted_cov_diag, p._unbroadcasted_cov_factor, \
            p._unbroadcasted_cov_diag
        term1 = _batch_lowrank_logdet(qW, qD, q._capacitance_tril) - _batch_lowrank_logdet(pW, pD, p._capacitance_tril)
        term3 = _batch_lowrank_mahalanobis(qW, qD, q.loc - p.loc, q._capacitance_tril)
        A = linalg.solve_triangular(q._capacitance_tril, qW.mT / qD.unsqueeze(-2), upper=False)
        term2 = (pD / qD).sum(-1) + _batch_trace_XXT(pW * qD.rsqrt().unsqueeze(-1)) - \
            _batch_trace_XXT(A * pD.sqrt().unsqueeze(-2)) - _batch_trace_XXT(A @ pW)
        return 0.5 * (term1 + term2 + term3 - p.event_shape[0])

    @R(MultivariateNormal, LowRankMultivariateNormal)
    def _(p, q):
        _same_event(p, q, "(Low Rank) Multivariate Normals")
        qW, qD = q._unbroadcasted_cov_factor, q._unbroadcasted_cov_diag
        Lp = p._unbroadcasted_scale_tril
        term1 = _batch_lowrank_logdet(qW, qD, q._capacitance_tril) - 2 * Lp.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        term3 = _batch_lowrank_mahalanobis(qW, qD, q.loc - p.loc, q._capacitance_tril)
        A = linalg.solve_triangular(q._capacitance_tril, qW.mT / qD.unsqueeze(-2), upper=False)
        term2 = _batch_trace_XXT(Lp * qD.rsqrt().unsqueeze(-1)) - _batch_trace_XXT(A @ Lp)
        return 0.5 * (term1 + term2 + term3 - p.event_shape[0])

    @R(LowRankMultivariateNormal, MultivariateNormal)
    def _(p, q):
        _same_event(p, q, "(Low Rank) Multivariate Normals")
        Lq = q._unbroadcasted_scale_tril
        pW, pD = p._unbroadcasted_cov_factor, p._unbroadcasted_cov_diag
        term1 = 2 * Lq.diagonal(dim1=-2, dim2=-1).log().sum(-1) - _batch_lowrank_logdet(pW, pD, p._capacitance_tril)
        term3 = mahalanobis(Lq, q.loc - p.loc)
        n = p.event_shape[0]
        b = tuple(_bshape(Lq.shape[:-2], pW.shape[:-2]))
        Lq = Lq.expand(b + (n, n))
        term2 = _batch_trace_XXT(linalg.solve_triangular(Lq, pW.expand(b + tuple(pW.shape[-2:])), upper=False)) + \
            _batch_trace_XXT(linalg.solve_triangular(Lq, pD.sqrt().diag_embed().expand(b + (n, n)), upper=False))
        return 0.5 * (term1 + term2 + term3 - n)

    @R(MultivariateNormal, MultivariateNormal)
    def _(p, q):
        _same_event(p, q, "Multivariate Normals")
        Lp, Lq = p._unbroadcasted_scale_tril, q._unbroadcasted_scale_tril
        half_term1 = Lq.diagonal(dim1=-2, dim2=-1).log().sum(-1) - Lp.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        n = p.event_shape[0]
        b = tuple(_bshape(Lq.shape[:-2], Lp.shape[:-2]))
        term2 = _batch_trace_XXT(linalg.solve_triangular(Lq.expand(b + (n, n)), Lp.expand(b + (n, n)), upper=False))
        return half_term1 + 0.5 * (term2 + mahalanobis(Lq, q.loc - p.loc) - n)

    @R(Pareto, Pareto)
    def _(p, q):
        alpha_ratio = q.alpha / p.alpha
        result = q.alpha * (p.scale / q.scale).log() - alpha_ratio.log() + alpha_ratio - 1
        return result.masked_fill(p.support.lower_bound < q.support.lower_bound, _INF)

    @R(Poisson, Poisson)
    def _(p, q):
        return p.rate * (p.rate.log() - q.rate.log()) - (p.rate - q.rate)

    @R(TransformedDistribution, TransformedDistribution)
    def _(p, q):
        if p.transforms != q.transforms or tuple(p.event_shape) != tuple(q.event_shape):
            raise NotImplementedError
        return kl_divergence(p.base_dist, q.base_dist)

    @R(Uniform, Uniform)
    def _(p, q):
        result = ((q.high - q.low) / (p.high - p.low)).log()
        return result.masked_fill((q.low > p.low) | (q.high < p.high), _INF)

    @R(Independent, Independent)
    def _(p, q):
        if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
            raise NotImplementedError
        return _sum_rightmost(kl_divergence(p.base_dist, q.base_dist), p.reinterpreted_batch_ndims)

    @R(Cauchy, Cauchy)
    def _(p, q):
        return ((p.scale + q.scale).pow(2) + (p.loc - q.loc).pow(2)).log() - (4 * p.scale * q.scale).log()

    # ---- cross-family pairs ----
    @R(Bernoulli, Poisson)
    def _(p, q):
        return -p.entropy() - (p.probs * q.rate.log() - q.rate)

    @R(Beta, ContinuousBernoulli)
    def _(p, q):
        return -p.entropy() - p.mean * q.logits - (-q.probs).log1p() - q._cont_bern_log_norm()

    @R(Beta, Exponential)
    def _(p, q):
        return -p.entropy() - q.rate.log() + q.rate * (p.concentration1 / (p.concentration1 + p.concentration0))

    @R(Beta, Gamma)
    def _(p, q):
        s = p.concentration1 + p.concentration0
        t2 = q.concentration.lgamma() - q.concentration * q.rate.log()
        t3 = (q.concentration - 1) * (p.concentration1.digamma() - s.digamma())
        return -p.entropy() + t2 - t3 + q.rate * p.concentration1 / s

    @R(Beta, Normal)
    def _(p, q):
        s = p.concentration1 + p.concentration0
        E = p.concentration1 / s
        var = q.scale.pow(2)
        t3 = (E * (1 - E) / (s + 1) + E.pow(2)) * 0.5
        return -p.entropy() + 0.5 * (var * 2 * math.pi).log() + (t3 - q.loc * E + q.loc.pow(2) * 0.5) / var

    @R(Beta, Uniform)
    def _(p, q):
        result = -p.entropy() + (q.high - q.low).log()
        return result.masked_fill((q.low > 0.0) | (q.high < 1.0), _INF)

    @R(ContinuousBernoulli, Exponential)
    def _(p, q):
        return -p.entropy() - q.rate.log() + q.rate * p.mean

    @R(ContinuousBernoulli, Normal)
    def _(p, q):
        t2 = 0.5 * (math.log(2.0 * math.pi) + (q.loc / q.scale).square()) + q.scale.log()
        t3 = (p.variance + p.mean.square() - 2.0 * q.loc * p.mean) / (2.0 * q.scale.square())
        return -p.entropy() + t2 + t3

    @R(ContinuousBernoulli, Uniform)
    def _(p, q):
        result = -p.entropy() + (q.high - q.low).log()
        return result.masked_fill((q.low >= 0.0) | (q.high <= 1.0), _INF)

    @R(Exponential, Gamma)
    def _(p, q):
        ratio = q.rate / p.rate
        return -q.concentration * ratio.log() + ratio + q.concentration.lgamma() + q.concentration * _EG - (1 + _EG)

    @R(Exponential, Gumbel)
    def _(p, q):
        srp = p.rate * q.scale
        lsr = q.loc / q.scale
        return srp.log() - 1 - lsr + lsr.exp() * srp / (srp + 1) + srp.reciprocal()

    @R(Exponential, Normal)
    def _(p, q):
        var, r2 = q.scale.pow(2), p.rate.pow(2)
        return 0.5 * (r2 * var * 2 * math.pi).log() - 1 + (r2.reciprocal() - q.loc / p.rate + q.loc.pow(2) * 0.5) / var

    @R(Gamma, Exponential)
    def _(p, q):
        return -p.entropy() - q.rate.log() + q.rate * p.concentration / p.rate

    @R(Gamma, Gumbel)
    def _(p, q):
        bsp = p.rate * q.scale
        lsr = q.loc / q.scale
        c = p.concentration
        t1 = (c - 1) * c.digamma() - c.lgamma() - c
        t2 = bsp.log() + c / bsp
        t3 = lsr.exp() * (1 + bsp.reciprocal()).pow(-c) - lsr
        return t1 + t2 + t3

    @R(Gamma, Normal)
    def _(p, q):
        var, b2, c = q.scale.pow(2), p.rate.pow(2), p.concentration
        t1 = 0.5 * (b2 * var * 2 * math.pi).log() - c - c.lgamma()
        t2 = 0.5 * (c.pow(2) + c) / b2
        return t1 + (c - 1) * c.digamma() + (t2 - q.loc * c / p.rate + 0.5 * q.loc.pow(2)) / var

    @R(Gumbel, Normal)
    def _(p, q):
        pr = p.scale / q.scale
        t1 = (pr / math.sqrt(2 * math.pi)).log()
        t2 = (math.pi * pr * 0.5).pow(2) / 3
        t3 = ((p.loc + p.scale * _EG - q.loc) / q.scale).pow(2) * 0.5
        return -t1 + t2 + t3 - (_EG + 1)

    @R(Laplace, Normal)
    def _(p, q):
        var = q.scale.pow(2)
        ssvr = p.scale.pow(2) / var
        t1 = 0.5 * (2 * ssvr / math.pi).log()
        return -t1 + ssvr + (0.5 * p.loc.pow(2) - p.loc * q.loc + 0.5 * q.loc.pow(2)) / var - 1

    @R(Normal, Gumbel)
    def _(p, q):
        msr = p.loc / q.scale
        vssr = (p.scale / q.scale).pow(2)
        lsr = q.loc / q.scale
        return -vssr.log() * 0.5 + msr - lsr + (-msr + 0.5 * vssr + lsr).exp() - 0.5 * (1 + math.log(2 * math.pi))

    @R(Normal, Laplace)
    def _(p, q):
        d = p.loc - q.loc
        dr = d / p.scale
        t2 = math.sqrt(2 / math.pi) * p.scale * (-0.5 * dr.pow(2)).exp()
        t3 = d * erf(math.sqrt(0.5) * dr)
        return -(p.scale / q.scale).log() + (t2 + t3) / q.scale - 0.5 * (1 + math.log(0.5 * math.pi))

    @R(Pareto, Exponential)
    def _(p, q):
        srp = p.scale * q.rate
        result = (p.alpha / srp).log() - p.alpha.reciprocal() + p.alpha * srp / (p.alpha - 1) - 1
        return result.masked_fill(p.alpha <= 1, _INF)

    @R(Pareto, Gamma)
    def _(p, q):
        common = p.scale.log() + p.alpha.reciprocal()
        t2 = q.concentration.lgamma() - q.concentration * q.rate.log()
        t4 = q.rate * p.alpha * p.scale / (p.alpha - 1)
        result = p.alpha.log() - common + t2 + (1 - q.concentration) * common + t4 - 1
        return result.masked_fill(p.alpha <= 1, _INF)

    @R(Pareto, Normal)
    def _(p, q):
        var = 2 * q.scale.pow(2)
        common = p.scale / (p.alpha - 1)
        t1 = (math.sqrt(2 * math.pi) * q.scale * p.alpha / p.scale).log()
        t3 = p.alpha * common.pow(2) / (p.alpha - 2)
        t4 = (p.alpha * common - q.loc).pow(2)
        return (t1 - p.alpha.reciprocal() + (t3 + t4) / var - 1).masked_fill(p.alpha <= 2, _INF)

    @R(Uniform, Beta)
    def _(p, q):
        w = p.high - p.low
        t2 = (q.concentration1 - 1) * (_x_log_x(p.high) - _x_log_x(p.low) - w) / w
        t3 = (q.concentration0 - 1) * (_x_log_x(1 - p.high) - _x_log_x(1 - p.low) + w) / w
        t4 = q.concentration1.lgamma() + q.concentration0.lgamma() - (q.concentration1 + q.concentration0).lgamma()
        return (t3 + t4 - w.log() - t2).masked_fill((p.high > 1.0) | (p.low < 0.0), _INF)

    @R(Uniform, ContinuousBernoulli)
    def _(p, q):
        result = -p.entropy() - p.mean * q.logits - (-q.probs).log1p() - q._cont_bern_log_norm()
        return result.masked_fill((p.high >= 1.0) | (p.low <= 0.0), _INF)

    @R(Uniform, Exponential)
    def _(p, q):
        result = q.rate * (p.high + p.low) / 2 - ((p.high - p.low) * q.rate).log()
        return result.masked_fill(p.low < 0.0, _INF)

    @R(Uniform, Gamma)
    def _(p, q):
        w = p.high - p.low
        t2 = q.concentration.lgamma() - q.concentration * q.rate.log()
        t3 = (1 - q.concentration) * (_x_log_x(p.high) - _x_log_x(p.low) - w) / w
        return (-w.log() + t2 + t3 + q.rate * (p.high + p.low) / 2).masked_fill(p.low < 0.0, _INF)

    @R(Uniform, Gumbel)
    def _(p, q):
        common = q.scale / (p.high - p.low)
        hi, lo = (p.high - q.loc) / q.scale, (p.low - q.loc) / q.scale
        return common.log() + 0.5 * (hi + lo) - common * ((-hi).exp() - (-lo).exp())

    @R(Uniform, Normal)
    def _(p, q):
        w = p.high - p.low
        t1 = (math.sqrt(math.pi * 2) * q.scale / w).log()
        return t1 + 0.5 * (w.pow(2) / 12 + ((p.high + p.low - 2 * q.loc) / 2).pow(2)) / q.scale.pow(2)

    @R(Uniform, Pareto)
    def _(p, q):
        w = p.high - p.low
        t1 = (q.alpha * q.scale.pow(q.alpha) * w).log()
        t2 = (_x_log_x(p.high) - _x_log_x(p.low) - w) / w
        return (t2 * (q.alpha + 1) - t1).masked_fill(p.low < q.support.lower_bound, _INF)

    infinite((Beta, Pareto), attr="concentration1")
    infinite((ContinuousBernoulli, Pareto), attr="probs")
    infinite((Exponential, Beta), (Exponential, ContinuousBernoulli), (Exponential, Pareto), (Exponential, Uniform),
             attr="rate")
    infinite((Gamma, Beta), (Gamma, ContinuousBernoulli), (Gamma, Pareto), (Gamma, Uniform), attr="concentration")
    for tq in (Beta, ContinuousBernoulli, Exponential, Gamma, Pareto, Uniform):
        infinite((Gumbel, tq), (Laplace, tq), (Normal, tq), attr="loc")
    infinite((Pareto, Beta), (Pareto, ContinuousBernoulli), (Pareto, Uniform), attr="scale")
    infinite((Poisson, Bernoulli), (Poisson, Binomial), attr="rate")


def _bshape(*shapes):
    import numpy as np
    return np.broadcast_shapes(*[tuple(s) for s in shapes])
