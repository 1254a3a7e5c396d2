from . import constraints
from .gamma import Gamma


class Chi2(Gamma):
    arg_constraints = {"df": constraints.positive}

    def __init__(self, df, validate_args=None):
        from .utils import broadcast_all
        (df,) = broadcast_all(df)
        super().__init__(0.5 * df, df.new_full((), 0.5), validate_args=validate_args)

    @property
    def df(self):
        return self.concentration * 2
