from . import constraints
from .exp_family import ExponentialFamily
from .utils import broadcast_all


class Beta(ExponentialFamily):
    arg_constraints = {"concentration1": constraints.positive, "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args=None):
        self.concentration1, self.concentration0 = broadcast_all(concentration1, concentration0)
        super().__init__(self.concentration1.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self):
        from .. import stack
        from .dirichlet import Dirichlet
        return Dirichlet(stack([self.concentration1, self.concentration0], -1), validate_args=False).mode[..., 0]

    @property
    def variance(self):
        t = self.concentration1 + self.concentration0
        return self.concentration1 * self.concentration0 / (t.pow(2) * (t + 1))

    def rsample(self, sample_shape=()):
        from .._ops.registry import OPS
        from ._common import key
        return OPS["_sample_beta"](key(), self.concentration1, self.concentration0,
                                   tuple(self._extended_shape(sample_shape)))

    def log_prob(self, value):
        from .. import special
        a, b = self.concentration1, self.concentration0
        return special.xlogy(a - 1, value) + special.xlog1py(b - 1, -value) - (a.lgamma() + b.lgamma() - (a + b).lgamma())

    def entropy(self):
        a, b = self.concentration1, self.concentration0
        t = a + b
        return (a.lgamma() + b.lgamma() - t.lgamma()) - (a - 1) * a.digamma() - (b - 1) * b.digamma() + \
            (t - 2) * t.digamma()

    @property
    def _natural_params(self):
        return (self.concentration1, self.concentration0)

    def _log_normalizer(self, x, y):
        return x.lgamma() + y.lgamma() - (x + y).lgamma()

    _mean_carrier_measure = 0
