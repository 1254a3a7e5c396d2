"""torch.distributions.Distribution: the base class.

Shared behaviour lives here so each distribution stays short:
- argument validation against `arg_constraints` (ValueError as torch), on by default like torch;
- `log_prob`/`cdf` of every subclass validate their value automatically (`__init_subclass__`);
- a generic `expand`: tensors shaped like batch_shape + (...) are expanded, sub-distributions are
  expanded recursively, everything else is copied (`_expand_skip` names attributes to copy as is).
"""
import functools
import warnings

from . import constraints
from .utils import lazy_property
from ..autograd.grad_mode import no_grad


def _validating(fn):
    @functools.wraps(fn)
    def wrapper(self, value, *args, **kwargs):
        if self._validate_args:
            self._validate_sample(value)
        return fn(self, value, *args, **kwargs)
    wrapper._validates = True
    return wrapper


class Distribution:
    has_rsample = False
    has_enumerate_support = False
    _validate_args = __debug__
    _expand_skip = ()

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        for name in ("log_prob", "cdf"):
            fn = cls.__dict__.get(name)
            if fn is not None and not getattr(fn, "_validates", False):
                setattr(cls, name, _validating(fn))

    @staticmethod
    def set_default_validate_args(value):
        if value not in (True, False):
            raise ValueError
        Distribution._validate_args = value

    def __init__(self, batch_shape=(), event_shape=(), validate_args=None):
        from .._tensor import Size
        self._batch_shape = Size(batch_shape)
        self._event_shape = Size(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            try:
                arg_constraints = self.arg_constraints
            except NotImplementedError:
                arg_constraints = {}
                warnings.warn(f"{self.__class__} does not define `arg_constraints`. Please set `arg_constraints = "
                              "{}` or initialize the distribution with `validate_args=False` to turn off validation.")
            for param, constraint in arg_constraints.items():
                if constraints.is_dependent(constraint):
                    continue
                if param not in self.__dict__ and isinstance(getattr(type(self), param, None), lazy_property):
                    continue  # not given: computed lazily from the other parameterisation
                value = getattr(self, param)
                if not bool(constraint.check(value).all()):
                    raise ValueError(
                        f"Expected parameter {param} ({type(value).__name__} of shape {tuple(value.shape)}) of "
                        f"distribution {self!r} to satisfy the constraint {constraint!r}, but found invalid "
                        f"values:\n{value}")

    @property
    def arg_constraints(self):
        raise NotImplementedError

    @property
    def support(self):
        raise NotImplementedError

    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def event_shape(self):
        return self._event_shape

    def expand(self, batch_shape, _instance=None):
        from .._tensor import Size
        new = self.__new__(type(self)) if _instance is None else _instance
        batch_shape = Size(batch_shape)
        self._expand_attrs(new, batch_shape)
        Distribution.__init__(new, batch_shape, self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _expand_attrs(self, new, batch_shape):
        """Copy attributes onto `new`, expanding those that carry this distribution's batch shape."""
        from .._tensor import Tensor
        nb, old = len(self._batch_shape), tuple(self._batch_shape)
        for k, v in self.__dict__.items():
            if k in ("_batch_shape", "_event_shape", "_validate_args") or k in new.__dict__:
                continue
            if k not in self._expand_skip and isinstance(v, Tensor) and v.dim() >= nb and tuple(v.shape[:nb]) == old:
                v = v.expand(tuple(batch_shape) + tuple(v.shape[nb:]))
            elif k not in self._expand_skip and isinstance(v, Distribution) and tuple(v.batch_shape[:nb]) == old:
                v = v.expand(tuple(batch_shape) + tuple(v.batch_shape[nb:]))
            new.__dict__[k] = v

    @property
    def mean(self):
        raise NotImplementedError(f"{self.__class__} does not implement mean")

    @property
    def mode(self):
        raise NotImplementedError(f"{self.__class__} does not implement mode")

    @property
    def variance(self):
        raise NotImplementedError(f"{self.__class__} does not implement variance")

    @property
    def stddev(self):
        return self.variance.sqrt()

    def sample(self, sample_shape=()):
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=()):
        raise NotImplementedError(f"{self.__class__} does not implement rsample")

    def sample_n(self, n):
        warnings.warn("sample_n will be deprecated. Use .sample((n,)) instead", UserWarning)
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
        if not isinstance(sample_shape, (tuple, list)):
            sample_shape = tuple(sample_shape)
        return Size(tuple(sample_shape) + tuple(self._batch_shape) + tuple(self._event_shape))

    def _validate_sample(self, value):
        from .._tensor import Tensor
        if not isinstance(value, Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        shape = tuple(value.shape)
        ev = tuple(self._event_shape)
        if shape[len(shape) - len(ev):] != ev or len(shape) < len(ev):
            raise ValueError(f"The right-most size of value must match event_shape: {value.shape} vs "
                             f"{self._event_shape}.")
        expected = tuple(self._batch_shape) + ev
        for i, j in zip(reversed(shape), reversed(expected)):
            if i != 1 and j != 1 and i != j:
                raise ValueError(f"Value is not broadcastable with batch_shape+event_shape: {value.shape} vs "
                                 f"{expected}.")
        try:
            support = self.support
        except NotImplementedError:
            warnings.warn(f"{self.__class__} does not define `support` to enable sample validation.")
            return
        if constraints.is_dependent(support):
            return
        if not bool(support.check(value).all()):
            raise ValueError("Expected value argument "
                             f"({type(value).__name__} of shape {tuple(value.shape)}) to be within the support "
                             f"({support!r}) of the distribution {self!r}, but found invalid values:\n{value}")

    def _get_checked_instance(self, cls, _instance=None):
        if _instance is None and type(self).__init__ != cls.__init__:
            raise NotImplementedError(f"Subclass {self.__class__.__name__} of {cls.__name__} that defines a custom "
                                      "__init__ method must also define a custom .expand() method.")
        return self.__new__(type(self)) if _instance is None else _instance

    def __repr__(self):
        try:
            names = [k for k in self.arg_constraints if k in self.__dict__]
        except NotImplementedError:
            names = []
        args = ", ".join(f"{p}: {self.__dict__[p] if self.__dict__[p].numel() == 1 else self.__dict__[p].size()}"
                         for p in names)
        return type(self).__name__ + "(" + args + ")"
