import math
import warnings

from . import constraints
from .chi2 import Chi2
from .exp_family import ExponentialFamily
from .transforms import vec_to_tril_matrix
from .utils import lazy_property
from ._common import std_normal

_LOG_2 = math.log(2)


def _mvdigamma(x, p):
    from .. import arange
    return (x.unsqueeze(-1) - arange(p, dtype=x.dtype) / 2).digamma().sum(-1)


class Wishart(ExponentialFamily):
    arg_constraints = {"covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite,
                       "scale_tril": constraints.lower_cholesky, "df": constraints.greater_than(0)}
    support = constraints.positive_definite
    has_rsample = True
    _mean_carrier_measure = 0
    _expand_skip = ("_dist_chi2",)

    def __init__(self, df, covariance_matrix=None, precision_matrix=None, scale_tril=None, validate_args=None):
        import numpy as np
        from .. import linalg, tensor
        from .._tensor import Tensor
        if (covariance_matrix is not None) + (scale_tril is not None) + (precision_matrix is not None) != 1:
            raise AssertionError("Exactly one of covariance_matrix or precision_matrix or scale_tril may be "
                                 "specified.")
        param = next(p for p in (covariance_matrix, precision_matrix, scale_tril) if p is not None)
        if param.dim() < 2:
            raise ValueError("scale_tril must be at least two-dimensional, with optional leading batch dimensions")
        if isinstance(df, Tensor):
            batch_shape = tuple(np.broadcast_shapes(tuple(param.shape[:-2]), tuple(df.shape)))
            self.df = df.expand(batch_shape)
        else:
            batch_shape = tuple(param.shape[:-2])
            self.df = tensor(float(df), dtype=param.dtype)
        p = param.shape[-1]
        if bool((self.df <= p - 1).any()):
            raise ValueError(f"Value of df={df} expected to be greater than ndim - 1 = {p - 1}.")
        full = batch_shape + (p, p)
        if scale_tril is not None:
            self.scale_tril = param.expand(full)
            self._unbroadcasted_scale_tril = scale_tril
        elif covariance_matrix is not None:
            self.covariance_matrix = param.expand(full)
            self._unbroadcasted_scale_tril = linalg.cholesky(covariance_matrix)
        else:
            self.precision_matrix = param.expand(full)
            self._unbroadcasted_scale_tril = linalg.cholesky(linalg.inv(precision_matrix))
        if bool((self.df < p).any()):
            warnings.warn("Low df values detected. Singular samples are highly likely to occur for ndim - 1 < df < "
                          "ndim.", stacklevel=2)
        super().__init__(batch_shape, param.shape[-2:], validate_args=validate_args)

    @property
    def _dist_chi2(self):
        from .. import arange
        p = self._event_shape[-1]
        return Chi2(self.df.unsqueeze(-1) - arange(p, dtype=self._unbroadcasted_scale_tril.dtype).expand(
            tuple(self._batch_shape) + (-1,)))

    def _mat(self, m):
        return m.expand(tuple(self._batch_shape) + tuple(self._event_shape))

    scale_tril = lazy_property(lambda self: self._mat(self._unbroadcasted_scale_tril))
    covariance_matrix = lazy_property(lambda self: self._mat(self._unbroadcasted_scale_tril @
                                                             self._unbroadcasted_scale_tril.mT))

    @lazy_property
    def precision_matrix(self):
        from .. import cholesky_solve, eye
        return self._mat(cholesky_solve(eye(self._event_shape[-1], dtype=self._unbroadcasted_scale_tril.dtype),
                                        self._unbroadcasted_scale_tril))

    def _df_mat(self):
        return self.df.reshape(tuple(self._batch_shape) + (1, 1))

    @property
    def mean(self):
        return self._df_mat() * self.covariance_matrix

    @property
    def mode(self):
        factor = self.df - self.covariance_matrix.shape[-1] - 1
        factor = factor.masked_fill(factor <= 0, math.nan)
        return factor.reshape(tuple(self._batch_shape) + (1, 1)) * self.covariance_matrix

    @property
    def variance(self):
        V = self.covariance_matrix
        d = V.diagonal(dim1=-2, dim2=-1)
        return self._df_mat() * (V.pow(2) + d.unsqueeze(-1) * d.unsqueeze(-2))

    def rsample(self, sample_shape=()):
        """Bartlett decomposition: L A A^T L^T with chi-distributed diagonal and normal lower part."""
        from .. import finfo
        p = self._event_shape[-1]
        chi = self._dist_chi2.rsample(sample_shape).sqrt()
        chi = chi.clamp(min=finfo(chi.dtype).eps)
        normals = std_normal(tuple(sample_shape) + tuple(self._batch_shape) + (p * (p - 1) // 2,), chi.dtype)
        noise = chi.diag_embed() + vec_to_tril_matrix(normals, diag=-1)
        chol = self._unbroadcasted_scale_tril @ noise
        return chol @ chol.mT

    def log_prob(self, value):
        from .. import cholesky_solve, linalg, mvlgamma
        nu, p = self.df, self._event_shape[-1]
        half_logdet = self._unbroadcasted_scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        return (-nu * (p * _LOG_2 / 2 + half_logdet) - mvlgamma(nu / 2, p=p)
                + (nu - p - 1) / 2 * linalg.slogdet(value).logabsdet
                - cholesky_solve(value, self._unbroadcasted_scale_tril).diagonal(dim1=-2, dim2=-1).sum(-1) / 2)

    def entropy(self):
        from .. import mvlgamma
        nu, p = self.df, self._event_shape[-1]
        half_logdet = self._unbroadcasted_scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        return ((p + 1) * (p * _LOG_2 / 2 + half_logdet) + mvlgamma(nu / 2, p=p)
                - (nu - p - 1) / 2 * _mvdigamma(nu / 2, p=p) + nu * p / 2)

    @property
    def _natural_params(self):
        p = self._event_shape[-1]
        return -self.precision_matrix / 2, (self.df - p - 1) / 2

    def _log_normalizer(self, x, y):
        from .. import linalg, mvlgamma
        p = self._event_shape[-1]
        return (y + (p + 1) / 2) * (-linalg.slogdet(-2 * x).logabsdet + _LOG_2 * p) + mvlgamma(y + (p + 1) / 2, p=p)
