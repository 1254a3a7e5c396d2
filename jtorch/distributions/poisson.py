from . import constraints
from .distribution import Distribution
from .utils import broadcast_all


class Poisson(Distribution):
    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer

    def __init__(self, rate, validate_args=None):
        (self.rate,) = broadcast_all(rate)
        super().__init__(self.rate.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.rate

    @property
    def mode(self):
        return self.rate.floor()

    @property
    def variance(self):
        return self.rate

    def sample(self, sample_shape=()):
        from .._ops.registry import OPS
        from ._common import key
        return OPS["_sample_poisson"](key(), self.rate.detach(), tuple(self._extended_shape(sample_shape)))

    def log_prob(self, value):
        from .. import special
        return special.xlogy(value, self.rate) - self.rate - (value + 1).lgamma()


class Binomial(Distribution):
    arg_constraints = {"total_count": constraints.nonnegative_integer, "probs": constraints.unit_interval}
    has_enumerate_support = True

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        from .utils import logits_to_probs
        if probs is None:
            probs = logits_to_probs(logits, is_binary=True)
        self.total_count, self.probs = broadcast_all(total_count, probs)
        self.total_count = self.total_count.to(self.probs.dtype)
        super().__init__(self.probs.shape, validate_args=validate_args)

    @property
    def support(self):
        return constraints.integer_interval(0, self.total_count)

    @property
    def logits(self):
        from .utils import probs_to_logits
        return probs_to_logits(self.probs, is_binary=True)

    @property
    def mean(self):
        return self.total_count * self.probs

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        from .._ops.registry import OPS
        from ._common import key
        return OPS["_sample_binomial"](key(), self.total_count.detach(), self.probs.detach(),
                                       tuple(self._extended_shape(sample_shape)))

    def log_prob(self, value):
        n = self.total_count
        log_factorial_n = (n + 1).lgamma()
        log_factorial_k = (value + 1).lgamma()
        log_factorial_nmk = (n - value + 1).lgamma()
        logits = self.logits
        normalize_term = n * (logits.clamp(min=0) + (-logits.abs()).exp().log1p()) - n * logits.clamp(min=0) * 0
        normalize_term = n * ((-logits.abs()).exp().log1p() + logits.clamp(min=0))
        return log_factorial_n - log_factorial_k - log_factorial_nmk + value * logits - normalize_term


def _binomial_entropy(self):
    from .. import arange
    n = int(self.total_count.max().item())
    if not bool((self.total_count == n).all()):
        raise NotImplementedError("Inhomogeneous total count not supported by `entropy`.")
    k = arange(n + 1, dtype=self.probs.dtype).reshape((-1,) + (1,) * len(self.batch_shape))
    lp = self.log_prob(k)
    return -(lp.exp() * lp).sum(0)


def _binomial_enumerate(self, expand=True):
    from .. import arange
    n = int(self.total_count.max().item())
    values = arange(n + 1, dtype=self.probs.dtype).reshape((-1,) + (1,) * len(self.batch_shape))
    return values.expand((-1,) + tuple(self.batch_shape)) if expand else values


Binomial.entropy = _binomial_entropy
Binomial.enumerate_support = _binomial_enumerate
