"""jtorch.distributions: torch.distributions' classes on jtorch ops (rsample differentiable)."""
from . import constraints, transforms
from .distribution import Distribution
from .normal import Normal, LogNormal
from .uniform import Uniform
from .exponential import Exponential
from .laplace import Laplace
from .gamma import Gamma, Chi2
from .beta import Beta
from .dirichlet import Dirichlet
from .bernoulli import Bernoulli, Geometric
from .categorical import Categorical, OneHotCategorical
from .poisson import Poisson, Binomial
from .multivariate_normal import MultivariateNormal
from .independent import Independent
from .transformed_distribution import TransformedDistribution, RelaxedOneHotCategorical
from .transforms import (Transform, ExpTransform, SigmoidTransform, TanhTransform, AffineTransform, PowerTransform,
                         SoftmaxTransform, ComposeTransform)
from .kl import kl_divergence, register_kl
