"""torch.distributions.Distribution: the base class."""
import warnings

from . import constraints
from ..autograd.grad_mode import no_grad


class Distribution:
    has_rsample = False
    has_enumerate_support = False
    _validate_args = __debug__
    arg_constraints = {}
    support = None

    @staticmethod
    def set_default_validate_args(value):
        Distribution._validate_args = value

    def __init__(self, batch_shape=(), event_shape=(), validate_args=None):
        from .._tensor import Size
        self._batch_shape = Size(batch_shape)
        self._event_shape = Size(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            for name, c in self.arg_constraints.items():
                if isinstance(c, constraints._Dependent) or name not in self.__dict__ and \
                        isinstance(getattr(type(self), name, None), property):
                    continue
                v = getattr(self, name)
                if not bool(c.check(v).all()):
                    raise ValueError(f"Expected parameter {name} ({type(v).__name__} of shape {tuple(v.shape)}) of "
                                     f"distribution {self!r} to satisfy the constraint {c!r}, but found invalid "
                                     f"values:\n{v}")

    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def event_shape(self):
        return self._event_shape

    def expand(self, batch_shape, _instance=None):
        raise NotImplementedError

    @property
    def mean(self):
        raise NotImplementedError

    @property
    def mode(self):
        raise NotImplementedError(f"{self.__class__} does not implement mode")

    @property
    def variance(self):
        raise NotImplementedError

    @property
    def stddev(self):
        return self.variance.sqrt()

    def sample(self, sample_shape=()):
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=()):
        raise NotImplementedError

    def sample_n(self, n):
        return self.sample((n,))

    def log_prob(self, value):
        raise NotImplementedError

    def cdf(self, value):
        raise NotImplementedError

    def icdf(self, value):
        raise NotImplementedError

    def enumerate_support(self, expand=True):
        raise NotImplementedError

    def entropy(self):
        raise NotImplementedError

    def perplexity(self):
        return self.entropy().exp()

    def _extended_shape(self, sample_shape=()):
        from .._tensor import Size
        return Size(tuple(sample_shape) + tuple(self._batch_shape) + tuple(self._event_shape))

    def _validate_sample(self, value):
        if not self._validate_args or self.support is None:
            return
        if isinstance(self.support, constraints._Dependent):
            return
        if not bool(self.support.check(value).all()):
            raise ValueError("Expected value argument to be within the support "
                             f"({self.support!r}) of the distribution {self!r}, but found invalid values:\n{value}")

    def _get_checked_instance(self, cls, _instance=None):
        return _instance if _instance is not None else cls.__new__(type(self))

    def __repr__(self):
        params = ", ".join(f"{p}: {getattr(self, p).shape if hasattr(getattr(self, p, None), 'shape') else getattr(self, p)}"
                           for p in self.arg_constraints if p in self.__dict__)
        return f"{type(self).__name__}({params})"
