"""jtorch.distributions vs torch.distributions: densities, moments, entropies, KL, sample statistics."""
import numpy as np
import pytest
import torch

import jtorch
from oracle import to_j, assert_same

T, J = torch.distributions, jtorch.distributions
torch.manual_seed(0)


def _params():
    g = torch.Generator().manual_seed(0)
    pos = torch.rand(3, generator=g) + 0.5
    pos2 = torch.rand(3, generator=g) + 0.5
    loc = torch.randn(3, generator=g)
    probs = torch.rand(3, generator=g) * 0.8 + 0.1
    simplex = torch.softmax(torch.randn(2, 4, generator=g), -1)
    A = torch.randn(3, 3, generator=g)
    cov = A @ A.T + 3 * torch.eye(3)
    return dict(pos=pos, pos2=pos2, loc=loc, probs=probs, simplex=simplex, cov=cov)


P = _params()
CASES = [
    ("Normal", lambda m, p: m.Normal(p["loc"], p["pos"]), lambda p: p["loc"] + 0.3),
    ("LogNormal", lambda m, p: m.LogNormal(p["loc"], p["pos"]), lambda p: p["pos2"]),
    ("Uniform", lambda m, p: m.Uniform(p["loc"], p["loc"] + p["pos"]), lambda p: p["loc"] + 0.1),
    ("Exponential", lambda m, p: m.Exponential(p["pos"]), lambda p: p["pos2"]),
    ("Laplace", lambda m, p: m.Laplace(p["loc"], p["pos"]), lambda p: p["pos2"]),
    ("Gamma", lambda m, p: m.Gamma(p["pos"], p["pos2"]), lambda p: p["pos2"]),
    ("Beta", lambda m, p: m.Beta(p["pos"], p["pos2"]), lambda p: p["probs"]),
    ("Dirichlet", lambda m, p: m.Dirichlet(p["simplex"] * 5), lambda p: p["simplex"]),
    ("Bernoulli", lambda m, p: m.Bernoulli(probs=p["probs"]), lambda p: (p["probs"] > 0.5).float()),
    ("Categorical", lambda m, p: m.Categorical(probs=p["simplex"]), lambda p: torch.tensor([1, 3])),
    ("Poisson", lambda m, p: m.Poisson(p["pos"] * 3), lambda p: torch.tensor([0.0, 2.0, 5.0])),
    ("Binomial", lambda m, p: m.Binomial(10, probs=p["probs"]), lambda p: torch.tensor([0.0, 3.0, 10.0])),
    ("MultivariateNormal", lambda m, p: m.MultivariateNormal(p["loc"], p["cov"]), lambda p: p["pos"]),
    ("OneHotCategorical", lambda m, p: m.OneHotCategorical(probs=p["simplex"]),
     lambda p: torch.nn.functional.one_hot(torch.tensor([0, 2]), 4).float()),
]


def _j(p):
    return {k: to_j(v) for k, v in p.items()}


@pytest.mark.parametrize("name,make,value", CASES, ids=[c[0] for c in CASES])
def test_density_moments_entropy(name, make, value):
    td, jd = make(T, P), make(J, _j(P))
    v = value(P)
    assert tuple(jd.batch_shape) == tuple(td.batch_shape)
    assert tuple(jd.event_shape) == tuple(td.event_shape)
    assert_same(jd.log_prob(to_j(v)), td.log_prob(v), rtol=1e-4, atol=1e-5)
    for attr in ("mean", "variance", "entropy"):
        try:
            tv = getattr(td, attr)
            tv = tv() if callable(tv) else tv
        except NotImplementedError:
            continue
        jv = getattr(jd, attr)
        jv = jv() if callable(jv) else jv
        assert_same(jv, tv, rtol=1e-4, atol=1e-5, msg=f"{name}.{attr}")


@pytest.mark.parametrize("name,make,value", CASES, ids=[c[0] for c in CASES])
def test_sample_statistics(name, make, value):
    jd = make(J, _j(P))
    td = make(T, P)
    n = 4000
    s = jd.sample((n,))
    assert tuple(s.shape) == (n,) + tuple(td.batch_shape) + tuple(td.event_shape)
    if name in ("Categorical",):
        emp = np.stack([(s.numpy() == k).mean(0) for k in range(4)], -1)
        np.testing.assert_allclose(emp, td.probs.numpy(), atol=0.05)
        return
    m = s.double().mean(0).numpy()
    tm = td.mean.double().numpy()
    sd = np.sqrt(td.variance.double().numpy())
    np.testing.assert_allclose(m, tm, atol=float(5 * sd.max() / np.sqrt(n)) + 1e-3)


def test_rsample_gradients_match_expectation():
    loc = jtorch.tensor([0.5, -1.0], requires_grad=True)
    scale = jtorch.tensor([1.0, 2.0], requires_grad=True)
    x = J.Normal(loc, scale).rsample((20000,))
    (x.mean(0).sum()).backward()
    np.testing.assert_allclose(loc.grad.numpy(), [1.0, 1.0], atol=1e-5)
    # d E[x^2]/d scale = 2*scale for a Normal
    scale.grad = None
    x = J.Normal(loc.detach(), scale).rsample((20000,))
    (x.pow(2).mean(0).sum()).backward()
    np.testing.assert_allclose(scale.grad.numpy(), [2.0, 4.0], rtol=0.05)
    # Gamma: d E[x]/d concentration = 1/rate (implicit reparameterisation)
    c = jtorch.tensor([2.0, 5.0], requires_grad=True)
    J.Gamma(c, jtorch.tensor([2.0, 2.0])).rsample((20000,)).mean(0).sum().backward()
    np.testing.assert_allclose(c.grad.numpy(), [0.5, 0.5], rtol=0.05)


KL_PAIRS = [
    ("Normal", lambda m, p: (m.Normal(p["loc"], p["pos"]), m.Normal(p["loc"] * 0.5, p["pos2"]))),
    ("Categorical", lambda m, p: (m.Categorical(probs=p["simplex"]), m.Categorical(probs=p["simplex"].flip(-1)))),
    ("Bernoulli", lambda m, p: (m.Bernoulli(probs=p["probs"]), m.Bernoulli(probs=1 - p["probs"]))),
    ("Exponential", lambda m, p: (m.Exponential(p["pos"]), m.Exponential(p["pos2"]))),
    ("Gamma", lambda m, p: (m.Gamma(p["pos"], p["pos2"]), m.Gamma(p["pos2"], p["pos"]))),
    ("Beta", lambda m, p: (m.Beta(p["pos"], p["pos2"]), m.Beta(p["pos2"], p["pos"]))),
    ("Dirichlet", lambda m, p: (m.Dirichlet(p["simplex"] * 3), m.Dirichlet(p["simplex"].flip(-1) * 2))),
    ("Laplace", lambda m, p: (m.Laplace(p["loc"], p["pos"]), m.Laplace(p["loc"] + 1, p["pos2"]))),
    ("Poisson", lambda m, p: (m.Poisson(p["pos"]), m.Poisson(p["pos2"]))),
    ("MultivariateNormal", lambda m, p: (m.MultivariateNormal(p["loc"], p["cov"]),
                                         m.MultivariateNormal(p["loc"] * 0, p["cov"] * 2))),
    ("Independent", lambda m, p: (m.Independent(m.Normal(p["loc"], p["pos"]), 1),
                                  m.Independent(m.Normal(p["loc"] * 2, p["pos2"]), 1))),
]


@pytest.mark.parametrize("name,make", KL_PAIRS, ids=[k[0] for k in KL_PAIRS])
def test_kl_divergence(name, make):
    tp, tq = make(T, P)
    jp, jq = make(J, _j(P))
    assert_same(J.kl_divergence(jp, jq), T.kl_divergence(tp, tq), rtol=1e-4, atol=1e-5)


def test_transformed_and_independent():
    base_t = T.Normal(P["loc"], P["pos"])
    base_j = J.Normal(to_j(P["loc"]), to_j(P["pos"]))
    tt = T.TransformedDistribution(base_t, [T.transforms.AffineTransform(1.0, 2.0), T.transforms.ExpTransform()])
    jt = J.TransformedDistribution(base_j, [J.transforms.AffineTransform(1.0, 2.0), J.transforms.ExpTransform()])
    v = P["pos2"] * 3
    assert_same(jt.log_prob(to_j(v)), tt.log_prob(v), rtol=1e-4, atol=1e-5)
    ti, ji = T.Independent(base_t, 1), J.Independent(base_j, 1)
    assert tuple(ji.event_shape) == tuple(ti.event_shape) and tuple(ji.batch_shape) == tuple(ti.batch_shape)
    assert_same(ji.log_prob(to_j(v)), ti.log_prob(v), rtol=1e-5, atol=1e-6)


def test_validation_errors():
    with pytest.raises(ValueError):
        T.Normal(torch.tensor([0.0]), torch.tensor([-1.0]))
    with pytest.raises(ValueError):
        J.Normal(jtorch.tensor([0.0]), jtorch.tensor([-1.0]))
    with pytest.raises(ValueError):
        J.Categorical()
