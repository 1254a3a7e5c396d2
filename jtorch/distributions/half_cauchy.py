import math

from ._folded import _Folded
from .cauchy import Cauchy


class HalfCauchy(_Folded):
    def __init__(self, scale, validate_args=None):
        super().__init__(Cauchy(0, scale, validate_args=False), validate_args=validate_args)

    @property
    def mean(self):
        return self.scale.new_full(tuple(self._extended_shape()), math.inf)

    @property
    def variance(self):
        return self.base_dist.variance
