from . import constraints
from .exp_family import ExponentialFamily


class Dirichlet(ExponentialFamily):
    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration, validate_args=None):
        if concentration.dim() < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        super().__init__(concentration.shape[:-1], concentration.shape[-1:], validate_args=validate_args)

    @property
    def mean(self):
        return self.concentration / self.concentration.sum(-1, True)

    @property
    def variance(self):
        c0 = self.concentration.sum(-1, True)
        return self.concentration * (c0 - self.concentration) / (c0.pow(2) * (c0 + 1))

    def rsample(self, sample_shape=()):
        from .._ops.registry import OPS
        from ._common import key
        return OPS["_sample_dirichlet"](key(), self.concentration, tuple(self._extended_shape(sample_shape)))

    def log_prob(self, value):
        from .. import special
        c = self.concentration
        return special.xlogy(c - 1.0, value).sum(-1) + c.sum(-1).lgamma() - c.lgamma().sum(-1)

    def entropy(self):
        k = self.concentration.size(-1)
        a0 = self.concentration.sum(-1)
        return (self.concentration.lgamma().sum(-1) - a0.lgamma() - (k - a0) * a0.digamma() -
                ((self.concentration - 1.0) * self.concentration.digamma()).sum(-1))

    @property
    def mode(self):
        cm1 = (self.concentration - 1).clamp(min=0.0)
        mode = cm1 / cm1.sum(-1, True)
        from .. import nn
        mask = (self.concentration < 1).all(-1)
        # torch takes argmax over the all-NaN row there, which is index 0
        onehot = nn.functional.one_hot(mask.long() * 0, self.concentration.shape[-1]).to(mode.dtype)
        return mode.where(~mask.unsqueeze(-1), onehot)

    @property
    def _natural_params(self):
        return (self.concentration,)

    def _log_normalizer(self, x):
        return x.lgamma().sum(-1) - x.sum(-1).lgamma()

    _mean_carrier_measure = 0
