import math

from . import constraints
from .distribution import Distribution
from .utils import broadcast_all
from ._common import uniform01


class GeneralizedPareto(Distribution):
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive, "concentration": constraints.real}
    has_rsample = True

    def __init__(self, loc, scale, concentration, validate_args=None):
        self.loc, self.scale, self.concentration = broadcast_all(loc, scale, concentration)
        super().__init__(self.loc.shape, validate_args=validate_args)

    def _safe_conc(self):
        from .. import isclose, zeros_like
        eq_zero = isclose(self.concentration, zeros_like(self.concentration))
        return eq_zero, self.concentration.masked_fill(eq_zero, 1.0)

    def rsample(self, sample_shape=()):
        return self.icdf(uniform01(self._extended_shape(sample_shape), self.loc.dtype))

    def log_prob(self, value):
        z = (value - self.loc) / self.scale
        eq_zero, c = self._safe_conc()
        y = 1 / c + 1
        nonzero = (y * (c * z).log1p()).where(y != 0, y)
        return -self.scale.log() - z.where(eq_zero, nonzero)

    def log_survival_function(self, value):
        z = (value - self.loc) / self.scale
        eq_zero, c = self._safe_conc()
        return (-z).where(eq_zero, -(c * z).log1p() / c)

    def log_cdf(self, value):
        return (-self.log_survival_function(value).exp()).log1p()

    def cdf(self, value):
        return self.log_cdf(value).exp()

    def icdf(self, value):
        eq_zero, c = self._safe_conc()
        logu = (-value).log1p()
        return (self.loc - self.scale * logu).where(eq_zero, self.loc + self.scale / c * (-c * logu).expm1())

    @property
    def mean(self):
        valid = self.concentration < 1
        c = self.concentration.where(valid, self.concentration.new_full((), 0.5))
        return (self.loc + self.scale / (1 - c)).masked_fill(~valid, math.nan)

    @property
    def variance(self):
        valid = self.concentration < 0.5
        c = self.concentration.where(valid, self.concentration.new_full((), 0.25))
        return (self.scale ** 2 / ((1 - c) ** 2 * (1 - 2 * c))).masked_fill(~valid, math.nan)

    def entropy(self):
        return (self.scale.log() + self.concentration + 1).broadcast_to(tuple(self._batch_shape))

    @property
    def mode(self):
        return self.loc

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        upper = (self.loc - self.scale / self.concentration).where(self.concentration < 0,
                                                                   self.loc.new_full((), math.inf))
        return constraints.interval(self.loc, upper)
