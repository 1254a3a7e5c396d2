"""jtorch.distributions vs torch.distributions: densities, moments, cdf/icdf, entropies, shapes, expand,
sample statistics, rsample gradients, KL pairs, transforms, biject_to/transform_to, validation errors."""
import math
import warnings

import numpy as np
import pytest
import torch

import jtorch
from oracle import to_j, assert_same

T, J = torch.distributions, jtorch.distributions


def _params():
    g = torch.Generator().manual_seed(0)
    pos = torch.rand(3, generator=g) + 0.5
    pos2 = torch.rand(3, generator=g) + 0.5
    loc = torch.randn(3, generator=g)
    probs = torch.rand(3, generator=g) * 0.8 + 0.1
    simplex = torch.softmax(torch.randn(2, 4, generator=g), -1)
    A = torch.randn(3, 3, generator=g)
    cov = A @ A.T + 3 * torch.eye(3)
    W = torch.randn(3, 2, generator=g) * 0.5
    big = torch.tensor([2.5, 4.5, 7.0])
    return dict(pos=pos, pos2=pos2, loc=loc, probs=probs, simplex=simplex, cov=cov, W=W, big=big,
                cb=torch.tensor([0.2, 0.4995, 0.8]), conc=torch.tensor([-0.3, 0.0, 0.4]))


P = _params()
OH = torch.nn.functional.one_hot(torch.tensor([0, 2]), 4).float()
# name, constructor (module, params), a value in the support
CASES = [
    ("Normal", lambda m, p: m.Normal(p["loc"], p["pos"]), lambda p: p["loc"] + 0.3),
    ("LogNormal", lambda m, p: m.LogNormal(p["loc"], p["pos"]), lambda p: p["pos2"]),
    ("Uniform", lambda m, p: m.Uniform(p["loc"], p["loc"] + p["pos"]), lambda p: p["loc"] + 0.1),
    ("Exponential", lambda m, p: m.Exponential(p["pos"]), lambda p: p["pos2"]),
    ("Laplace", lambda m, p: m.Laplace(p["loc"], p["pos"]), lambda p: p["pos2"]),
    ("Gamma", lambda m, p: m.Gamma(p["pos"], p["pos2"]), lambda p: p["pos2"]),
    ("Chi2", lambda m, p: m.Chi2(p["big"]), lambda p: p["pos2"]),
    ("Beta", lambda m, p: m.Beta(p["pos"], p["pos2"]), lambda p: p["probs"]),
    ("Dirichlet", lambda m, p: m.Dirichlet(p["simplex"] * 5), lambda p: p["simplex"]),
    ("Bernoulli", lambda m, p: m.Bernoulli(probs=p["probs"]), lambda p: (p["probs"] > 0.5).float()),
    ("BernoulliLogits", lambda m, p: m.Bernoulli(logits=p["loc"]), lambda p: (p["probs"] > 0.5).float()),
    ("Geometric", lambda m, p: m.Geometric(probs=p["probs"]), lambda p: torch.tensor([0.0, 2.0, 5.0])),
    ("Categorical", lambda m, p: m.Categorical(probs=p["simplex"]), lambda p: torch.tensor([1, 3])),
    ("Poisson", lambda m, p: m.Poisson(p["pos"] * 3), lambda p: torch.tensor([0.0, 2.0, 5.0])),
    ("Binomial", lambda m, p: m.Binomial(10, probs=p["probs"]), lambda p: torch.tensor([0.0, 3.0, 10.0])),
    ("NegativeBinomial", lambda m, p: m.NegativeBinomial(p["big"], probs=p["probs"]),
     lambda p: torch.tensor([0.0, 3.0, 10.0])),
    ("Multinomial", lambda m, p: m.Multinomial(6, probs=p["simplex"]),
     lambda p: torch.tensor([[1.0, 2.0, 3.0, 0.0], [0.0, 0.0, 6.0, 0.0]])),
    ("MultivariateNormal", lambda m, p: m.MultivariateNormal(p["loc"], p["cov"]), lambda p: p["pos"]),
    ("MultivariateNormalPrec", lambda m, p: m.MultivariateNormal(p["loc"], precision_matrix=p["cov"]),
     lambda p: p["pos"]),
    ("LowRankMultivariateNormal", lambda m, p: m.LowRankMultivariateNormal(p["loc"], p["W"], p["pos"]),
     lambda p: p["pos2"]),
    ("OneHotCategorical", lambda m, p: m.OneHotCategorical(probs=p["simplex"]), lambda p: OH),
    ("OneHotCategoricalStraightThrough", lambda m, p: m.OneHotCategoricalStraightThrough(probs=p["simplex"]),
     lambda p: OH),
    ("Cauchy", lambda m, p: m.Cauchy(p["loc"], p["pos"]), lambda p: p["pos2"]),
    ("HalfCauchy", lambda m, p: m.HalfCauchy(p["pos"]), lambda p: p["pos2"]),
    ("HalfNormal", lambda m, p: m.HalfNormal(p["pos"]), lambda p: p["pos2"]),
    ("Gumbel", lambda m, p: m.Gumbel(p["loc"], p["pos"]), lambda p: p["pos2"]),
    ("Weibull", lambda m, p: m.Weibull(p["pos"], p["big"]), lambda p: p["pos2"]),
    ("Pareto", lambda m, p: m.Pareto(p["pos"] * 0.5, p["big"]), lambda p: p["pos2"] + 0.5),
    ("Kumaraswamy", lambda m, p: m.Kumaraswamy(p["big"], p["pos2"] + 1), lambda p: p["probs"]),
    ("InverseGamma", lambda m, p: m.InverseGamma(p["big"], p["pos2"]), lambda p: p["pos2"]),
    ("StudentT", lambda m, p: m.StudentT(p["big"], p["loc"], p["pos"]), lambda p: p["pos2"]),
    ("FisherSnedecor", lambda m, p: m.FisherSnedecor(p["big"] * 2, p["big"] + 3), lambda p: p["pos2"]),
    ("GeneralizedPareto", lambda m, p: m.GeneralizedPareto(p["loc"], p["pos"], p["conc"]),
     lambda p: p["loc"] + 0.2),
    ("ContinuousBernoulli", lambda m, p: m.ContinuousBernoulli(probs=p["cb"]), lambda p: p["probs"]),
    ("LogisticNormal", lambda m, p: m.LogisticNormal(p["loc"], p["pos"]),
     lambda p: torch.tensor([0.1, 0.2, 0.3, 0.4])),
    ("RelaxedBernoulli", lambda m, p: m.RelaxedBernoulli(torch.tensor(0.7), probs=p["probs"]),
     lambda p: p["probs"] * 0.9),
    ("RelaxedOneHotCategorical", lambda m, p: m.RelaxedOneHotCategorical(torch.tensor(0.7), probs=p["simplex"]),
     lambda p: p["simplex"].flip(-1)),
    ("VonMises", lambda m, p: m.VonMises(p["loc"], p["big"]), lambda p: p["pos"]),
    ("Wishart", lambda m, p: m.Wishart(torch.tensor(5.0), p["cov"]), lambda p: p["cov"] * 0.5 + torch.eye(3)),
    ("LKJCholesky", lambda m, p: m.LKJCholesky(3, torch.tensor(1.5)),
     lambda p: torch.linalg.cholesky(torch.tensor([[1.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 1.0]]))),
    ("MixtureSameFamily", lambda m, p: m.MixtureSameFamily(m.Categorical(probs=p["simplex"][0, :3]),
                                                           m.Normal(p["loc"], p["pos"])), lambda p: p["pos2"]),
    ("Independent", lambda m, p: m.Independent(m.Normal(p["loc"], p["pos"]), 1), lambda p: p["pos2"]),
    ("TransformedAffineExp", lambda m, p: m.TransformedDistribution(
        m.Normal(p["loc"], p["pos"]), [m.transforms.AffineTransform(1.0, 2.0), m.transforms.ExpTransform()]),
     lambda p: p["pos2"] * 3),
]
IDS = [c[0] for c in CASES]


def _j(p):
    return {k: to_j(v) for k, v in p.items()}


def _call(obj, attr, *args):
    """getattr + call, returning (value, None) or (None, exception type) so both sides compare."""
    try:
        v = getattr(obj, attr)
        return (v(*args) if callable(v) else v), None
    except (NotImplementedError, AttributeError) as e:
        return None, type(e)


@pytest.mark.parametrize("name,make,value", CASES, ids=IDS)
def test_values_vs_torch(name, make, value):
    td, jd = make(T, P), make(J, _j(P))
    v = value(P)
    assert tuple(jd.batch_shape) == tuple(td.batch_shape) and tuple(jd.event_shape) == tuple(td.event_shape)
    assert jd.has_rsample == td.has_rsample, name
    assert_same(jd.log_prob(to_j(v)), td.log_prob(v), rtol=1e-4, atol=1e-5, msg=f"{name}.log_prob")
    for attr in ("mean", "mode", "variance", "stddev", "entropy"):
        tv, terr = _call(td, attr)
        if terr is not None:
            continue
        jv, jerr = _call(jd, attr)
        assert jerr is None, f"{name}.{attr} raised {jerr} but torch gives a value"
        assert_same(jv, tv, rtol=1e-4, atol=1e-5, msg=f"{name}.{attr}")
    tc, terr = _call(td, "cdf", v)
    if terr is None:
        assert_same(jd.cdf(to_j(v)), tc, rtol=1e-4, atol=1e-5, msg=f"{name}.cdf")
        ti, terr = _call(td, "icdf", tc)
        if terr is None:
            assert_same(jd.icdf(to_j(tc)), ti, rtol=1e-3, atol=1e-4, msg=f"{name}.icdf")


@pytest.mark.parametrize("name,make,value", CASES, ids=IDS)
def test_expand_and_support(name, make, value):
    td, jd = make(T, P), make(J, _j(P))
    shape = (2,) + tuple(td.batch_shape)
    te, je = td.expand(shape), jd.expand(shape)
    assert type(je).__name__ == type(te).__name__
    assert tuple(je.batch_shape) == tuple(te.batch_shape) and tuple(je.event_shape) == tuple(te.event_shape)
    v = value(P)
    try:
        tl = te.log_prob(v)
    except ValueError:  # value not broadcastable with the expanded batch shape: both refuse it
        with pytest.raises(ValueError):
            je.log_prob(to_j(v))
    else:
        assert_same(je.log_prob(to_j(v)), tl, rtol=1e-4, atol=1e-5, msg=f"{name}.expand.log_prob")
    assert type(jd.support).__name__ == type(td.support).__name__
    assert bool(jd.support.check(to_j(v)).all()) == bool(td.support.check(v).all())


def _sample_ok(name, td, s, n):
    s = s.double().numpy()
    if name in ("Categorical",):
        emp = np.stack([(s == k).mean(0) for k in range(4)], -1)
        np.testing.assert_allclose(emp, td.probs.numpy(), atol=0.05)
        return
    if name in ("LKJCholesky",):  # E[L L^T] is the identity's off-diagonal mean 0, diagonal 1
        c = s @ np.swapaxes(s, -1, -2)
        np.testing.assert_allclose(c.mean(0), np.eye(3), atol=0.05)
        return
    try:
        tm = td.mean.double().numpy()
        var = td.variance.double().numpy()
    except NotImplementedError:  # no closed form in torch: compare with torch's own samples
        torch.manual_seed(0)
        ts = td.sample((n,)).double().numpy()
        tol = 5 * np.sqrt((s.var(0) + ts.var(0)) / n) + 2e-3
        np.testing.assert_array_less(np.abs(s.mean(0) - ts.mean(0)), tol)
        return
    finite = np.isfinite(tm) & np.isfinite(var)
    if name == "VonMises":  # circular: compare the mean direction
        np.testing.assert_allclose(np.arctan2(np.sin(s).mean(0), np.cos(s).mean(0)), tm, atol=0.05)
        return
    m = s.mean(0)
    # heavy-tailed (finite variance but large kurtosis) get a looser multiple of the standard error
    k = 8 if name in ("StudentT", "FisherSnedecor", "InverseGamma", "Pareto", "Wishart", "GeneralizedPareto") else 5
    tol = k * np.sqrt(np.where(finite, var, 0) / n) + 2e-3
    np.testing.assert_array_less(np.abs(np.where(finite, m - tm, 0)), tol)


@pytest.mark.parametrize("name,make,value", CASES, ids=IDS)
def test_sample_statistics(name, make, value):
    if name in ("Cauchy", "HalfCauchy"):
        pytest.skip("no finite mean; shapes checked in test_sample_shapes_and_grad")
    jtorch.manual_seed(0)
    jd, td = make(J, _j(P)), make(T, P)
    n = 4000
    s = jd.sample((n,))
    assert tuple(s.shape) == (n,) + tuple(td.batch_shape) + tuple(td.event_shape)
    assert s.dtype is jtorch.int64 if name == "Categorical" else s.dtype is jtorch.float32
    assert bool(jd.support.check(s).all()), f"{name}: samples outside the support"
    _sample_ok(name, td, s, n)


REPARAM = [c for c in CASES if c[1](T, P).has_rsample and c[0] not in ("OneHotCategoricalStraightThrough",)]


@pytest.mark.parametrize("name,make,value", REPARAM, ids=[c[0] for c in REPARAM])
def test_rsample_gradient_matches_torch(name, make, value):
    """E[d mean(rsample) / d theta]: jtorch's pathwise gradient vs torch's, each averaged over 8000 draws
    (the noise streams differ, the expectations must not)."""
    n = 8000
    tp = {k: v.clone().requires_grad_() for k, v in P.items()}
    torch.manual_seed(1)
    ts = make(T, tp).rsample((n,))
    jtorch.manual_seed(1)
    jp = {k: to_j(v, requires_grad=True) for k, v in P.items()}
    js = make(J, jp).rsample((n,))
    # heavy tails make the sample mean's gradient noisy: compare a bounded statistic of the sample instead
    try:
        (ts.tanh().mean(0).sum()).backward()
        (js.tanh().mean(0).sum()).backward()
    except RuntimeError:  # torch's Wishart.rsample breaks its own backward (in-place on a saved mask):
        for v in tp.values():  # there, compare with the gradient of torch's closed-form mean
            v.grad = None
        make(T, tp).mean.sum().backward()
        js.mean(0).sum().backward()
    used = [k for k in P if tp[k].grad is not None]
    assert used and all(jp[k].grad is not None for k in used), f"{name}: gradients reach {used} in torch"
    for k in used:
        tg, jg = tp[k].grad.numpy(), jp[k].grad.numpy()
        np.testing.assert_allclose(jg, tg, rtol=0.1, atol=0.02 + 0.05 * np.abs(tg).max(), err_msg=f"{name} d/d{k}")


def test_rsample_deterministic_pathwise():
    # same noise on both sides: Normal/LowRankMVN rsample is affine in the noise, gradient exact
    loc = jtorch.tensor([0.5, -1.0], requires_grad=True)
    scale = jtorch.tensor([1.0, 2.0], requires_grad=True)
    jtorch.manual_seed(3)
    x = J.Normal(loc, scale).rsample((5,))
    jtorch.manual_seed(3)
    eps = J.Normal(jtorch.zeros(2), jtorch.ones(2)).sample((5,))
    x.pow(2).sum().backward()
    np.testing.assert_allclose(loc.grad.numpy(), (2 * x.detach()).sum(0).numpy(), rtol=1e-5)
    np.testing.assert_allclose(scale.grad.numpy(), (2 * x.detach() * eps).sum(0).numpy(), rtol=1e-5)
    # Straight-through: forward is one-hot, backward is d probs
    p = jtorch.tensor([0.2, 0.3, 0.5], requires_grad=True)
    s = J.OneHotCategoricalStraightThrough(probs=p).rsample()
    assert sorted(s.detach().tolist()) == [0.0, 0.0, 1.0]
    (s * jtorch.tensor([1.0, 2.0, 3.0])).sum().backward()
    tp = torch.tensor([0.2, 0.3, 0.5], requires_grad=True)
    (T.OneHotCategoricalStraightThrough(probs=tp).rsample() * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-6)  # through probs' normalisation


def test_cauchy_samples():
    jtorch.manual_seed(0)
    s = J.Cauchy(jtorch.tensor(1.0), jtorch.tensor(2.0)).sample((8000,)).numpy()
    np.testing.assert_allclose(np.median(s), 1.0, atol=0.15)  # median = loc, IQR = 2 * scale
    np.testing.assert_allclose(np.subtract(*np.percentile(s, [75, 25])), 4.0, rtol=0.1)
    assert (J.HalfCauchy(jtorch.tensor(1.0)).sample((100,)) >= 0).all()


KL_PAIRS = [
    ("Normal", lambda m, p: (m.Normal(p["loc"], p["pos"]), m.Normal(p["loc"] * 0.5, p["pos2"]))),
    ("Categorical", lambda m, p: (m.Categorical(probs=p["simplex"]), m.Categorical(probs=p["simplex"].flip(-1)))),
    ("OneHotCategorical", lambda m, p: (m.OneHotCategorical(probs=p["simplex"]),
                                        m.OneHotCategorical(probs=p["simplex"].flip(-1)))),
    ("Bernoulli", lambda m, p: (m.Bernoulli(probs=p["probs"]), m.Bernoulli(probs=1 - p["probs"]))),
    ("Binomial", lambda m, p: (m.Binomial(5, p["probs"]), m.Binomial(5, 1 - p["probs"]))),
    ("Geometric", lambda m, p: (m.Geometric(p["probs"]), m.Geometric(1 - p["probs"]))),
    ("Exponential", lambda m, p: (m.Exponential(p["pos"]), m.Exponential(p["pos2"]))),
    ("Gamma", lambda m, p: (m.Gamma(p["pos"], p["pos2"]), m.Gamma(p["pos2"], p["pos"]))),
    ("Beta", lambda m, p: (m.Beta(p["pos"], p["pos2"]), m.Beta(p["pos2"], p["pos"]))),
    ("Dirichlet", lambda m, p: (m.Dirichlet(p["simplex"] * 3), m.Dirichlet(p["simplex"].flip(-1) * 2))),
    ("Laplace", lambda m, p: (m.Laplace(p["loc"], p["pos"]), m.Laplace(p["loc"] + 1, p["pos2"]))),
    ("Poisson", lambda m, p: (m.Poisson(p["pos"]), m.Poisson(p["pos2"]))),
    ("Gumbel", lambda m, p: (m.Gumbel(p["loc"], p["pos"]), m.Gumbel(p["loc"] + 1, p["pos2"]))),
    ("HalfNormal", lambda m, p: (m.HalfNormal(p["pos"]), m.HalfNormal(p["pos2"]))),
    ("Pareto", lambda m, p: (m.Pareto(p["pos"], p["big"]), m.Pareto(p["pos2"], p["pos"]))),
    ("Cauchy", lambda m, p: (m.Cauchy(p["loc"], p["pos"]), m.Cauchy(p["loc"] + 1, p["pos2"]))),
    ("Uniform", lambda m, p: (m.Uniform(p["loc"], p["loc"] + p["pos"]), m.Uniform(p["loc"] - 1, p["loc"] + 2))),
    ("ContinuousBernoulli", lambda m, p: (m.ContinuousBernoulli(p["cb"]), m.ContinuousBernoulli(p["probs"]))),
    ("MultivariateNormal", lambda m, p: (m.MultivariateNormal(p["loc"], p["cov"]),
                                         m.MultivariateNormal(p["loc"] * 0, p["cov"] * 2))),
    ("LowRankMVN", lambda m, p: (m.LowRankMultivariateNormal(p["loc"], p["W"], p["pos"]),
                                 m.LowRankMultivariateNormal(p["loc"] * 0, p["W"].flip(0), p["pos2"]))),
    ("MVN_LowRank", lambda m, p: (m.MultivariateNormal(p["loc"], p["cov"]),
                                  m.LowRankMultivariateNormal(p["loc"] * 0, p["W"], p["pos2"]))),
    ("LowRank_MVN", lambda m, p: (m.LowRankMultivariateNormal(p["loc"], p["W"], p["pos"]),
                                  m.MultivariateNormal(p["loc"] * 0, p["cov"]))),
    ("Independent", lambda m, p: (m.Independent(m.Normal(p["loc"], p["pos"]), 1),
                                  m.Independent(m.Normal(p["loc"] * 2, p["pos2"]), 1))),
    ("LogNormal(transformed)", lambda m, p: (m.LogNormal(p["loc"], p["pos"]), m.LogNormal(p["loc"], p["pos2"]))),
    ("Wishart(expfamily)", lambda m, p: (m.Wishart(torch.tensor(5.0), p["cov"]),
                                         m.Wishart(torch.tensor(6.0), p["cov"] * 2))),
    ("Exponential_Gamma", lambda m, p: (m.Exponential(p["pos"]), m.Gamma(p["pos2"], p["pos"]))),
    ("Gamma_Exponential", lambda m, p: (m.Gamma(p["pos2"], p["pos"]), m.Exponential(p["pos"]))),
    ("Gamma_Normal", lambda m, p: (m.Gamma(p["pos2"], p["pos"]), m.Normal(p["loc"], p["pos"]))),
    ("Gamma_Gumbel", lambda m, p: (m.Gamma(p["pos2"], p["pos"]), m.Gumbel(p["loc"], p["pos"]))),
    ("Beta_Normal", lambda m, p: (m.Beta(p["pos"], p["pos2"]), m.Normal(p["loc"], p["pos"]))),
    ("Beta_Gamma", lambda m, p: (m.Beta(p["pos"], p["pos2"]), m.Gamma(p["pos2"], p["pos"]))),
    ("Beta_Exponential", lambda m, p: (m.Beta(p["pos"], p["pos2"]), m.Exponential(p["pos"]))),
    ("Beta_Uniform", lambda m, p: (m.Beta(p["pos"], p["pos2"]), m.Uniform(p["loc"] * 0 - 1, p["pos"] + 1))),
    ("Beta_ContinuousBernoulli", lambda m, p: (m.Beta(p["pos"], p["pos2"]), m.ContinuousBernoulli(p["cb"]))),
    ("Normal_Gumbel", lambda m, p: (m.Normal(p["loc"], p["pos"]), m.Gumbel(p["loc"], p["pos2"]))),
    ("Normal_Laplace", lambda m, p: (m.Normal(p["loc"], p["pos"]), m.Laplace(p["loc"] + 1, p["pos2"]))),
    ("Normal_Beta_inf", lambda m, p: (m.Normal(p["loc"], p["pos"]), m.Beta(p["pos"], p["pos2"]))),
    ("Laplace_Normal", lambda m, p: (m.Laplace(p["loc"], p["pos"]), m.Normal(p["loc"] + 1, p["pos2"]))),
    ("Gumbel_Normal", lambda m, p: (m.Gumbel(p["loc"], p["pos"]), m.Normal(p["loc"], p["pos2"]))),
    ("Exponential_Normal", lambda m, p: (m.Exponential(p["pos"]), m.Normal(p["loc"], p["pos2"]))),
    ("Exponential_Gumbel", lambda m, p: (m.Exponential(p["pos"]), m.Gumbel(p["loc"], p["pos2"]))),
    ("Uniform_Normal", lambda m, p: (m.Uniform(p["loc"], p["loc"] + p["pos"]), m.Normal(p["loc"], p["pos2"]))),
    ("Uniform_Gumbel", lambda m, p: (m.Uniform(p["loc"], p["loc"] + p["pos"]), m.Gumbel(p["loc"], p["pos2"]))),
    ("Uniform_Exponential", lambda m, p: (m.Uniform(p["pos"], p["pos"] + 1), m.Exponential(p["pos2"]))),
    ("Uniform_Gamma", lambda m, p: (m.Uniform(p["pos"], p["pos"] + 1), m.Gamma(p["pos2"], p["pos"]))),
    ("Uniform_Beta", lambda m, p: (m.Uniform(p["probs"] * 0.5, p["probs"] * 0.5 + 0.3), m.Beta(p["pos"], p["pos2"]))),
    ("Uniform_Pareto", lambda m, p: (m.Uniform(p["pos"] + 1, p["pos"] + 2), m.Pareto(p["pos"], p["big"]))),
    ("Pareto_Exponential", lambda m, p: (m.Pareto(p["pos"], p["big"]), m.Exponential(p["pos2"]))),
    ("Pareto_Gamma", lambda m, p: (m.Pareto(p["pos"], p["big"]), m.Gamma(p["pos2"], p["pos"]))),
    ("Pareto_Normal", lambda m, p: (m.Pareto(p["pos"], p["big"]), m.Normal(p["loc"], p["pos2"]))),
    ("ContinuousBernoulli_Normal", lambda m, p: (m.ContinuousBernoulli(p["cb"]), m.Normal(p["loc"], p["pos2"]))),
    ("ContinuousBernoulli_Exponential", lambda m, p: (m.ContinuousBernoulli(p["cb"]), m.Exponential(p["pos2"]))),
    ("Bernoulli_Poisson", lambda m, p: (m.Bernoulli(p["probs"]), m.Poisson(p["pos"]))),
    ("Poisson_Binomial_inf", lambda m, p: (m.Poisson(p["pos"]), m.Binomial(5, p["probs"]))),
]


@pytest.mark.parametrize("name,make", KL_PAIRS, ids=[k[0] for k in KL_PAIRS])
def test_kl_divergence(name, make):
    tp, tq = make(T, P)
    jp, jq = make(J, _j(P))
    assert_same(J.kl_divergence(jp, jq), T.kl_divergence(tp, tq), rtol=1e-4, atol=1e-5, msg=name)


def test_kl_registry_dispatch_and_errors():
    with pytest.raises(NotImplementedError):
        J.kl_divergence(J.Normal(0.0, 1.0), J.Categorical(jtorch.ones(3)))

    class MyNormal(J.Normal):
        pass

    @J.register_kl(MyNormal, J.Normal)
    def _kl_mine(p, q):
        return p.loc * 0 + 42.0

    assert float(J.kl_divergence(MyNormal(0.0, 1.0), J.Normal(0.0, 2.0))) == 42.0
    # subclass without its own entry uses the parent's
    assert float(J.kl_divergence(J.Normal(0.0, 1.0), MyNormal(0.0, 1.0))) == 0.0
    with pytest.raises(TypeError):
        J.register_kl(int, J.Normal)


T_CASES = [
    ("Exp", lambda m, mod: m.ExpTransform(), lambda: torch.randn(3)),
    ("Sigmoid", lambda m, mod: m.SigmoidTransform(), lambda: torch.randn(3)),
    ("Tanh", lambda m, mod: m.TanhTransform(), lambda: torch.randn(3) * 0.5),
    ("Softplus", lambda m, mod: m.SoftplusTransform(), lambda: torch.randn(3)),
    ("Abs", lambda m, mod: m.AbsTransform(), lambda: torch.randn(3)),
    ("Affine", lambda m, mod: m.AffineTransform(mod.tensor([1.0, 2.0, 3.0]), mod.tensor([0.5, -2.0, 3.0])),
     lambda: torch.randn(3)),
    ("AffineEvent", lambda m, mod: m.AffineTransform(1.0, mod.tensor([0.5, -2.0, 3.0]), event_dim=1),
     lambda: torch.randn(2, 3)),
    ("Power", lambda m, mod: m.PowerTransform(mod.tensor(2.5)), lambda: torch.rand(3) + 0.1),
    ("Softmax", lambda m, mod: m.SoftmaxTransform(), lambda: torch.randn(2, 4)),
    ("StickBreaking", lambda m, mod: m.StickBreakingTransform(), lambda: torch.randn(2, 3)),
    ("CorrCholesky", lambda m, mod: m.CorrCholeskyTransform(), lambda: torch.randn(2, 6)),
    ("LowerCholesky", lambda m, mod: m.LowerCholeskyTransform(), lambda: torch.randn(2, 3, 3)),
    ("PositiveDefinite", lambda m, mod: m.PositiveDefiniteTransform(), lambda: torch.randn(3, 3)),
    ("Reshape", lambda m, mod: m.ReshapeTransform((2, 3), (6,)), lambda: torch.randn(4, 2, 3)),
    ("Independent", lambda m, mod: m.IndependentTransform(m.ExpTransform(), 1), lambda: torch.randn(2, 3)),
    ("Compose", lambda m, mod: m.ComposeTransform([m.AffineTransform(0.5, 2.0), m.SigmoidTransform()]),
     lambda: torch.randn(3)),
    ("Inverse", lambda m, mod: m.ExpTransform().inv, lambda: torch.rand(3) + 0.1),
    ("Cat", lambda m, mod: m.CatTransform([m.ExpTransform(), m.SigmoidTransform()], dim=0, lengths=[2, 1]),
     lambda: torch.randn(3, 2)),
    ("Stack", lambda m, mod: m.StackTransform([m.ExpTransform(), m.TanhTransform()], dim=1), lambda: torch.randn(3, 2)),
    ("CumulativeDistribution", lambda m, mod: m.CumulativeDistributionTransform(
        mod.distributions.Normal(0.5, 2.0)), lambda: torch.randn(3)),
]


@pytest.mark.parametrize("name,make,x", T_CASES, ids=[c[0] for c in T_CASES])
def test_transforms(name, make, x):
    torch.manual_seed(0)
    xt = x()
    tt, jt = make(T.transforms, torch), make(J.transforms, jtorch)
    yt = tt(xt)
    yj = jt(to_j(xt))
    assert_same(yj, yt, rtol=1e-5, atol=1e-5, msg=f"{name} forward")
    assert jt.bijective == tt.bijective and jt.domain.event_dim == tt.domain.event_dim and \
        jt.codomain.event_dim == tt.codomain.event_dim
    assert tuple(jt.forward_shape(tuple(xt.shape))) == tuple(tt.forward_shape(xt.shape))
    assert tuple(jt.inverse_shape(tuple(yt.shape))) == tuple(tt.inverse_shape(yt.shape))
    if name not in ("Abs", "Softmax", "PositiveDefinite"):
        assert_same(jt.inv(yj), tt.inv(yt), rtol=1e-4, atol=1e-4, msg=f"{name} inverse")
    if name not in ("Abs", "Softmax", "LowerCholesky", "PositiveDefinite", "Cat"):
        assert_same(jt.log_abs_det_jacobian(to_j(xt), yj), tt.log_abs_det_jacobian(xt, yt), rtol=1e-4, atol=1e-4,
                    msg=f"{name} log_abs_det_jacobian")
    if name == "Cat":  # torch's CatTransform.log_abs_det_jacobian needs same event_dim parts
        assert_same(jt.log_abs_det_jacobian(to_j(xt), yj), tt.log_abs_det_jacobian(xt, yt), rtol=1e-4, atol=1e-4)
    # torch's sign is defined for bijective elementwise transforms only
    ts, terr = _call(tt, "sign")
    if terr is None:
        js = jt.sign
        assert (js == ts) if isinstance(ts, int) else bool((to_j(ts) == js).all())


def test_transform_caching_equality_and_grad():
    t = J.transforms.ExpTransform(cache_size=1)
    x = jtorch.randn(3)
    y = t(x)
    assert t(x) is y and t.inv(y) is x
    assert J.transforms.ExpTransform() == J.transforms.ExpTransform()
    assert J.transforms.AffineTransform(1.0, 2.0) == J.transforms.AffineTransform(1.0, 2.0)
    assert J.transforms.AffineTransform(1.0, 2.0) != J.transforms.AffineTransform(1.0, 3.0)
    assert J.transforms.ExpTransform().inv.inv == J.transforms.ExpTransform()
    with pytest.raises(ValueError):
        J.transforms.Transform(cache_size=2)
    with pytest.raises(ValueError):
        J.transforms.ReshapeTransform((2, 3), (5,))
    # gradient through a composed transform equals torch's
    xt = torch.randn(2, 3, requires_grad=True)
    xj = to_j(xt.detach(), requires_grad=True)
    T.transforms.StickBreakingTransform()(xt).pow(2).sum().backward()
    J.transforms.StickBreakingTransform()(xj).pow(2).sum().backward()
    assert_same(xj.grad, xt.grad, rtol=1e-5, atol=1e-6)


CONSTRAINTS = [
    ("real", lambda c: c.real), ("positive", lambda c: c.positive), ("nonnegative", lambda c: c.nonnegative),
    ("unit_interval", lambda c: c.unit_interval), ("interval", lambda c: c.interval(-2.0, 3.0)),
    ("half_open_interval", lambda c: c.half_open_interval(0.0, 2.0)), ("greater_than", lambda c: c.greater_than(1.5)),
    ("greater_than_eq", lambda c: c.greater_than_eq(-1.0)), ("less_than", lambda c: c.less_than(0.5)),
    ("simplex", lambda c: c.simplex), ("real_vector", lambda c: c.real_vector),
    ("lower_cholesky", lambda c: c.lower_cholesky), ("corr_cholesky", lambda c: c.corr_cholesky),
    ("positive_definite", lambda c: c.positive_definite),
    ("independent_positive", lambda c: c.independent(c.positive, 1)),
    ("cat", lambda c: c.cat([c.real, c.positive], dim=-1, lengths=[1, 2])),
    ("stack", lambda c: c.stack([c.real, c.positive, c.unit_interval], dim=-1)),
]


@pytest.mark.parametrize("name,make", CONSTRAINTS, ids=[c[0] for c in CONSTRAINTS])
def test_biject_to_transform_to_and_checks(name, make):
    tc, jc = make(T.constraints), make(J.constraints)
    ev = tc.event_dim
    shape = {0: (2, 3), 1: (2, 3), 2: (2, 3, 3)}[ev]
    for reg in ("biject_to", "transform_to"):
        treg, jreg = getattr(T, reg), getattr(J, reg)
        try:
            tt = treg(tc)
        except NotImplementedError:
            with pytest.raises(NotImplementedError):
                jreg(jc)
            continue
        jt = jreg(jc)
        torch.manual_seed(0)
        u = torch.randn(tuple(tt.inverse_shape(shape)))
        yt, yj = tt(u), jt(to_j(u))
        assert_same(yj, yt, rtol=1e-4, atol=1e-5, msg=f"{reg}({name})")
        assert bool(jc.check(yj).all()) and bool(tc.check(yt).all())
        assert jc.check(yj).shape == tc.check(yt).shape
    bad = -torch.ones(shape)
    assert_same(jc.check(to_j(bad)), tc.check(bad), msg=f"{name}.check(bad)")


def test_validation_errors_match_torch():
    bad = [
        lambda m, mod: m.Normal(mod.tensor([0.0]), mod.tensor([-1.0])),
        lambda m, mod: m.Beta(mod.tensor([0.0]), mod.tensor([1.0])),
        lambda m, mod: m.Categorical(),
        lambda m, mod: m.Categorical(probs=mod.tensor([0.5, 0.5]), logits=mod.tensor([0.0, 0.0])),
        lambda m, mod: m.Uniform(mod.tensor([1.0]), mod.tensor([0.0])),
        lambda m, mod: m.Dirichlet(mod.tensor(1.0)),
        lambda m, mod: m.MultivariateNormal(mod.zeros(2), mod.eye(2), scale_tril=mod.eye(2)),
        lambda m, mod: m.Independent(m.Normal(mod.zeros(2), mod.ones(2)), 2),
        lambda m, mod: m.LKJCholesky(1),
        lambda m, mod: m.Normal(0.0, 1.0).log_prob(mod.tensor([float("nan")])),
        lambda m, mod: m.Exponential(mod.tensor([1.0])).log_prob(mod.tensor([-1.0])),
        lambda m, mod: m.Categorical(mod.ones(2, 3) / 3).log_prob(mod.tensor([3, 0])),
        lambda m, mod: m.Normal(mod.zeros(3), 1.0).log_prob(mod.zeros(2)),
        lambda m, mod: m.Dirichlet(mod.ones(3)).log_prob(mod.tensor([0.5, 0.6, 0.1])),
        lambda m, mod: m.Normal(mod.zeros(2), mod.ones(2)).log_prob(0.5),
    ]
    for i, f in enumerate(bad):
        with pytest.raises(Exception) as te:
            f(T, torch)
        with pytest.raises(Exception) as je:
            f(J, jtorch)
        assert je.type is te.type, f"case {i}: jtorch raised {je.type.__name__}, torch {te.type.__name__}"
    # validate_args=False turns checks off, on both sides
    J.Normal(jtorch.tensor([0.0]), jtorch.tensor([-1.0]), validate_args=False)
    assert J.Exponential(jtorch.tensor([1.0]), validate_args=False).log_prob(jtorch.tensor([-1.0])).shape == (1,)


def test_enumerate_support_and_misc():
    for name, make in [("Bernoulli", lambda m, p: m.Bernoulli(p["probs"])),
                       ("Categorical", lambda m, p: m.Categorical(p["simplex"])),
                       ("OneHotCategorical", lambda m, p: m.OneHotCategorical(p["simplex"])),
                       ("Binomial", lambda m, p: m.Binomial(3, p["probs"]))]:
        td, jd = make(T, P), make(J, _j(P))
        for expand in (True, False):
            assert_same(jd.enumerate_support(expand), td.enumerate_support(expand), msg=name)
    d = J.Normal(jtorch.zeros(2), jtorch.ones(2))
    assert isinstance(d, J.ExponentialFamily)
    assert_same(d.perplexity(), T.Normal(torch.zeros(2), torch.ones(2)).perplexity())
    # generic ExponentialFamily entropy (Bregman) equals the closed form
    assert_same(J.ExponentialFamily.entropy(J.Gamma(to_j(P["pos"]), to_j(P["pos2"]))),
                T.Gamma(P["pos"], P["pos2"]).entropy(), rtol=1e-5, atol=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert tuple(J.Normal(0.0, 1.0).sample_n(4).shape) == (4,)
    assert math.isclose(float(J.Normal(0.0, 1.0).cdf(jtorch.tensor(0.0))), 0.5)
