import math

from . import constraints
from .distribution import Distribution
from .utils import broadcast_all, lazy_property


def _log_i0(x):
    from .. import special
    return special.i0e(x).log() + x


def _log_i1(x):
    from .. import special
    return special.i1e(x).log() + x


class VonMises(Distribution):
    """Circular normal on [-pi, pi); sampled by Best & Fisher's rejection method (in float64, as torch)."""
    arg_constraints = {"loc": constraints.real, "concentration": constraints.positive}
    support = constraints.real
    has_rsample = False

    def __init__(self, loc, concentration, validate_args=None):
        self.loc, self.concentration = broadcast_all(loc, concentration)
        super().__init__(self.loc.shape, validate_args=validate_args)

    def log_prob(self, value):
        return self.concentration * (value - self.loc).cos() - math.log(2 * math.pi) - _log_i0(self.concentration)

    @lazy_property
    def _proposal_r(self):
        from .. import float64
        kappa = self.concentration.detach().to(float64)
        tau = 1 + (1 + 4 * kappa ** 2).sqrt()
        rho = (tau - (2 * tau).sqrt()) / (2 * kappa)
        r = (1 + rho ** 2) / (2 * rho)
        return r.where(kappa >= 1e-5, 1 / kappa + kappa)

    def sample(self, sample_shape=()):
        from .. import float64, zeros
        from ..autograd.grad_mode import no_grad
        from ._common import uniform01
        with no_grad():
            shape = tuple(self._extended_shape(sample_shape))
            loc = self.loc.detach().to(float64)
            kappa = self.concentration.detach().to(float64)
            r = self._proposal_r
            x = zeros(shape, dtype=float64)
            done = zeros(shape, dtype=bool)
            while not bool(done.all()):
                u1, u2, u3 = uniform01((3,) + shape, float64).unbind()
                z = (math.pi * u1).cos()
                f = (1 + r * z) / (r + z)
                c = kappa * (r - f)
                accept = ((c * (2 - c) - u2) > 0) | ((c / u2).log() + 1 - c >= 0)
                x = ((u3 - 0.5).sign() * f.acos()).where(accept & ~done, x)
                done = done | accept
            return ((x + math.pi + loc) % (2 * math.pi) - math.pi).to(self.loc.dtype)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @lazy_property
    def variance(self):
        return 1 - (_log_i1(self.concentration) - _log_i0(self.concentration)).exp()
