from . import constraints
from .distribution import Distribution
from .transforms import ComposeTransform, Transform


class TransformedDistribution(Distribution):
    arg_constraints = {}

    def __init__(self, base_distribution, transforms, validate_args=None):
        self.transforms = [transforms] if isinstance(transforms, Transform) else list(transforms)
        self.base_dist = base_distribution
        super().__init__(base_distribution.batch_shape, base_distribution.event_shape, validate_args=validate_args)

    @property
    def has_rsample(self):
        return self.base_dist.has_rsample

    @property
    def support(self):
        return self.transforms[-1].codomain if self.transforms else self.base_dist.support

    def sample(self, sample_shape=()):
        x = self.base_dist.sample(sample_shape)
        for t in self.transforms:
            x = t(x)
        return x

    def rsample(self, sample_shape=()):
        x = self.base_dist.rsample(sample_shape)
        for t in self.transforms:
            x = t(x)
        return x

    def log_prob(self, value):
        event_dim = len(self.event_shape)
        lp = 0.0
        y = value
        for t in reversed(self.transforms):
            x = t.inv(y)
            ladj = t.log_abs_det_jacobian(x, y)
            for _ in range(event_dim - t.event_dim):
                ladj = ladj.sum(-1)
            lp = lp - ladj
            y = x
        return lp + self.base_dist.log_prob(y)


class RelaxedOneHotCategorical(Distribution):
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        from .categorical import Categorical
        from .. import tensor
        self._categorical = Categorical(probs, logits)
        self.temperature = temperature if hasattr(temperature, "shape") else tensor(float(temperature))
        super().__init__(self._categorical.batch_shape, self._categorical.param_shape[-1:], validate_args)

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def probs(self):
        return self._categorical.probs

    def rsample(self, sample_shape=()):
        from ._common import uniform01
        shape = self._extended_shape(sample_shape)
        u = uniform01(shape, self.logits.dtype)
        gumbels = -((-u.log()).log())
        scores = (self.logits + gumbels) / self.temperature
        return (scores - scores.logsumexp(-1, keepdim=True)).exp()

    def log_prob(self, value):
        import math
        K = self._categorical._num_events
        t = self.temperature
        log_scale = (t.new_full((), float(K)).lgamma() if hasattr(t, "new_full") else math.lgamma(K)) - \
            t.log().mul(-(K - 1))
        score = self.logits - value.log().mul(t)
        score = (score - score.logsumexp(-1, keepdim=True)).sum(-1)
        return score + log_scale - value.log().sum(-1)
