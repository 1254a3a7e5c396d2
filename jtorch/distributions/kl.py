"""kl_divergence with torch's double-dispatch registry."""
import math

_KL = {}


def register_kl(type_p, type_q):
    def deco(fn):
        _KL[(type_p, type_q)] = fn
        return fn
    return deco


def kl_divergence(p, q):
    for (tp, tq), fn in _KL.items():
        if type(p) is tp and type(q) is tq:
            return fn(p, q)
    for (tp, tq), fn in _KL.items():
        if isinstance(p, tp) and isinstance(q, tq):
            return fn(p, q)
    raise NotImplementedError(f"No KL(p || q) is implemented for p type {type(p).__name__} and q type "
                              f"{type(q).__name__}")


def _register_all():
    from .normal import Normal
    from .categorical import Categorical, OneHotCategorical
    from .bernoulli import Bernoulli
    from .uniform import Uniform
    from .exponential import Exponential
    from .laplace import Laplace
    from .gamma import Gamma
    from .beta import Beta
    from .dirichlet import Dirichlet
    from .poisson import Poisson
    from .independent import Independent
    from .multivariate_normal import MultivariateNormal

    @register_kl(Normal, Normal)
    def _kl_normal_normal(p, q):
        var_ratio = (p.scale / q.scale).pow(2)
        t1 = ((p.loc - q.loc) / q.scale).pow(2)
        return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())

    @register_kl(Categorical, Categorical)
    def _kl_cat_cat(p, q):
        t = p.probs * (p.logits - q.logits)
        t = t.masked_fill(q.probs == 0, float("inf"))
        t = t.masked_fill(p.probs == 0, 0.0)
        return t.sum(-1)

    @register_kl(OneHotCategorical, OneHotCategorical)
    def _kl_ohc(p, q):
        return _kl_cat_cat(p._categorical, q._categorical)

    @register_kl(Bernoulli, Bernoulli)
    def _kl_bern(p, q):
        from ..nn.functional import softplus
        t1 = p.probs * (softplus(-q.logits) - softplus(-p.logits))
        t2 = (1 - p.probs) * (softplus(q.logits) - softplus(p.logits))
        return t1 + t2

    @register_kl(Uniform, Uniform)
    def _kl_unif(p, q):
        r = ((q.high - q.low) / (p.high - p.low)).log()
        return r.masked_fill((q.low > p.low) | (q.high < p.high), float("inf"))

    @register_kl(Exponential, Exponential)
    def _kl_exp(p, q):
        rr = q.rate / p.rate
        return rr - rr.log() - 1

    @register_kl(Laplace, Laplace)
    def _kl_lap(p, q):
        sr = p.scale / q.scale
        ld = (p.loc - q.loc).abs()
        return -sr.log() + ld / q.scale + sr * (-ld / p.scale).exp() - 1

    @register_kl(Gamma, Gamma)
    def _kl_gamma(p, q):
        t1 = q.concentration * (p.rate / q.rate).log()
        t2 = q.concentration.lgamma() - p.concentration.lgamma()
        t3 = (p.concentration - q.concentration) * p.concentration.digamma()
        t4 = (q.rate - p.rate) * (p.concentration / p.rate)
        return t1 + t2 + t3 + t4

    @register_kl(Beta, Beta)
    def _kl_beta(p, q):
        sp = p.concentration1 + p.concentration0
        sq = q.concentration1 + q.concentration0
        t1 = q.concentration1.lgamma() + q.concentration0.lgamma() + sp.lgamma()
        t2 = p.concentration1.lgamma() + p.concentration0.lgamma() + sq.lgamma()
        t3 = (p.concentration1 - q.concentration1) * p.concentration1.digamma()
        t4 = (p.concentration0 - q.concentration0) * p.concentration0.digamma()
        t5 = (sq - sp) * sp.digamma()
        return t1 - t2 + t3 + t4 + t5

    @register_kl(Dirichlet, Dirichlet)
    def _kl_dir(p, q):
        sp = p.concentration.sum(-1)
        sq = q.concentration.sum(-1)
        t1 = sp.lgamma() - sq.lgamma()
        t2 = (p.concentration.lgamma() - q.concentration.lgamma()).sum(-1)
        t3 = p.concentration - q.concentration
        t4 = p.concentration.digamma() - sp.digamma().unsqueeze(-1)
        return t1 - t2 + (t3 * t4).sum(-1)

    @register_kl(Poisson, Poisson)
    def _kl_pois(p, q):
        return p.rate * (p.rate.log() - q.rate.log()) - (p.rate - q.rate)

    @register_kl(Independent, Independent)
    def _kl_ind(p, q):
        r = kl_divergence(p.base_dist, q.base_dist)
        for _ in range(p.reinterpreted_batch_ndims):
            r = r.sum(-1)
        return r

    @register_kl(MultivariateNormal, MultivariateNormal)
    def _kl_mvn(p, q):
        from .. import linalg
        n = p.event_shape[0]
        Lp, Lq = p._unbroadcasted_scale_tril, q._unbroadcasted_scale_tril
        half_term1 = Lq.diagonal(dim1=-2, dim2=-1).log().sum(-1) - Lp.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        M = linalg.solve_triangular(Lq, Lp, upper=False)
        term2 = M.pow(2).sum((-2, -1))
        d = linalg.solve_triangular(Lq, (q.loc - p.loc).unsqueeze(-1), upper=False).squeeze(-1)
        term3 = d.pow(2).sum(-1)
        return half_term1 + 0.5 * (term2 + term3 - n)


_register_all()
