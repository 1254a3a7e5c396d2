"""biject_to / transform_to: the registries mapping a constraint to a Transform from unconstrained space.

biject_to(c) gives bijections (for HMC-style reparameterisation); transform_to(c) only needs to land in c
(so simplex -> SoftmaxTransform, not the stick-breaking bijection)."""
import numbers

from . import constraints, transforms

__all__ = ["ConstraintRegistry", "biject_to", "transform_to"]


class ConstraintRegistry:
    def __init__(self):
        self._registry = {}

    def register(self, constraint, factory=None):
        if factory is None:
            return lambda factory: self.register(constraint, factory)
        if isinstance(constraint, constraints.Constraint):
            constraint = type(constraint)
        if not isinstance(constraint, type) or not issubclass(constraint, constraints.Constraint):
            raise TypeError(f"Expected constraint to be either a Constraint subclass or instance, but got "
                            f"{constraint}")
        self._registry[constraint] = factory
        return factory

    def __call__(self, constraint):
        try:
            factory = self._registry[type(constraint)]
        except KeyError:
            raise NotImplementedError(f"Cannot transform {type(constraint).__name__} constraints") from None
        return factory(constraint)


biject_to = ConstraintRegistry()
transform_to = ConstraintRegistry()


def _is_num(x, v):
    return isinstance(x, numbers.Number) and x == v


def _both(constraint):
    def deco(factory):
        biject_to.register(constraint, factory)
        transform_to.register(constraint, factory)
        return factory
    return deco


@_both(constraints.real)
def _to_real(c):
    return transforms.identity_transform


@biject_to.register(constraints.independent)
def _biject_to_independent(c):
    return transforms.IndependentTransform(biject_to(c.base_constraint), c.reinterpreted_batch_ndims)


@transform_to.register(constraints.independent)
def _transform_to_independent(c):
    return transforms.IndependentTransform(transform_to(c.base_constraint), c.reinterpreted_batch_ndims)


@_both(constraints.positive)
@_both(constraints.nonnegative)
def _to_positive(c):
    # positive/nonnegative are greater_than(0) / greater_than_eq(0) instances: honour their bound
    if _is_num(c.lower_bound, 0):
        return transforms.ExpTransform()
    return transforms.ComposeTransform([transforms.ExpTransform(), transforms.AffineTransform(c.lower_bound, 1)])


@_both(constraints.less_than)
def _to_less_than(c):
    return transforms.ComposeTransform([transforms.ExpTransform(), transforms.AffineTransform(c.upper_bound, -1)])


@_both(constraints.interval)
@_both(constraints.half_open_interval)
def _to_interval(c):
    if _is_num(c.lower_bound, 0) and _is_num(c.upper_bound, 1):
        return transforms.SigmoidTransform()
    return transforms.ComposeTransform([transforms.SigmoidTransform(),
                                        transforms.AffineTransform(c.lower_bound, c.upper_bound - c.lower_bound)])


@biject_to.register(constraints.simplex)
def _biject_to_simplex(c):
    return transforms.StickBreakingTransform()


@transform_to.register(constraints.simplex)
def _transform_to_simplex(c):
    return transforms.SoftmaxTransform()


@transform_to.register(constraints.lower_cholesky)
def _to_lower_cholesky(c):
    return transforms.LowerCholeskyTransform()


@transform_to.register(constraints.positive_definite)
@transform_to.register(constraints.positive_semidefinite)
def _to_positive_definite(c):
    return transforms.PositiveDefiniteTransform()


@_both(constraints.corr_cholesky)
def _to_corr_cholesky(c):
    return transforms.CorrCholeskyTransform()


@biject_to.register(constraints.cat)
def _biject_to_cat(c):
    return transforms.CatTransform([biject_to(x) for x in c.cseq], c.dim, c.lengths)


@transform_to.register(constraints.cat)
def _transform_to_cat(c):
    return transforms.CatTransform([transform_to(x) for x in c.cseq], c.dim, c.lengths)


@biject_to.register(constraints.stack)
def _biject_to_stack(c):
    return transforms.StackTransform([biject_to(x) for x in c.cseq], c.dim)


@transform_to.register(constraints.stack)
def _transform_to_stack(c):
    return transforms.StackTransform([transform_to(x) for x in c.cseq], c.dim)
