"""torch.quasirandom.SobolEngine on scipy's Sobol generator (same Joe-Kuo direction numbers, so
unscrambled sequences equal torch's; scrambled ones are a different random scramble)."""
from . import _dtype as D


class SobolEngine:
    MAXBIT = 30
    MAXDIM = 21201

    def __init__(self, dimension, scramble=False, seed=None):
        if dimension > self.MAXDIM or dimension < 1:
            raise ValueError(f"Supported range of dimensionality for SobolEngine is [1, {self.MAXDIM}]")
        from scipy.stats import qmc
        self.dimension, self.scramble, self.seed = dimension, scramble, seed
        self._engine = qmc.Sobol(dimension, scramble=scramble, seed=seed)
        self.num_generated = 0

    def _wrap(self, arr, out, dtype):
        import jtorch
        dt = D.to_dtype(dtype) if dtype is not None else D.get_default_dtype()
        t = jtorch.tensor(arr, dtype=dt)
        if out is not None:
            out.resize_(tuple(t.shape)).copy_(t)
            return out
        return t

    def draw(self, n=1, out=None, dtype=None):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # scipy's power-of-two balance hint; torch draws any n
            arr = self._engine.random(n)
        self.num_generated += n
        return self._wrap(arr, out, dtype)

    def draw_base2(self, m, out=None, dtype=None):
        n = 2 ** m
        total = self.num_generated + n
        if total & (total - 1):
            raise ValueError(f"The balance properties of Sobol' points require n to be a power of 2. "
                             f"{self.num_generated} points have been previously generated, then: "
                             f"n={self.num_generated}+2**{m}={total}. If you still want to do this, please use "
                             f"'SobolEngine.draw()' instead.")
        return self.draw(n, out, dtype)

    def reset(self):
        self._engine.reset()
        self.num_generated = 0
        return self

    def fast_forward(self, n):
        self._engine.fast_forward(n)
        self.num_generated += n
        return self

    def __repr__(self):
        fmt = [f"dimension={self.dimension}"]
        if self.scramble:
            fmt += ["scramble=True"]
        if self.seed is not None:
            fmt += [f"seed={self.seed}"]
        return self.__class__.__name__ + "(" + ", ".join(fmt) + ")"
