"""jtorch.signal.windows: torch.signal.windows' window functions (computed in float64 on the host,
then returned in the requested dtype, like scipy.signal.windows which torch follows)."""
import math

import numpy as np

__all__ = ["bartlett", "blackman", "cosine", "exponential", "gaussian", "general_cosine", "general_hamming",
           "hamming", "hann", "kaiser", "nuttall"]


def _check(name, M, dtype):
    import jtorch
    if M < 0:
        raise ValueError(f"{name} requires non-negative window length, got M={M}")
    dtype = dtype or jtorch.get_default_dtype()
    if not dtype.is_floating_point:
        raise ValueError(f"{name} expects float32 or float64 dtypes, got: {dtype}")
    return dtype


def _out(arr, dtype, device, requires_grad):
    import jtorch
    return jtorch.tensor(np.asarray(arr, np.float64), dtype=dtype, device=device, requires_grad=requires_grad)


def _trivial(M, dtype, device, requires_grad):
    import jtorch
    if M == 0:
        return jtorch.empty((0,), dtype=dtype, device=device, requires_grad=requires_grad)
    return jtorch.ones((1,), dtype=dtype, device=device, requires_grad=requires_grad)


def general_cosine(M, *, a, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    dtype = _check("general_cosine", M, dtype)
    if M <= 1:
        return _trivial(M, dtype, device, requires_grad)
    if a is None:
        raise TypeError("Coefficients must be a list/tuple")
    if hasattr(a, "tolist"):
        a = a.tolist()
    if not isinstance(a, (list, tuple)):
        raise TypeError("Coefficients must be a list/tuple")
    if not a:
        raise ValueError("Coefficients cannot be empty")
    const = 2 * math.pi / (M - 1 if sym else M)
    k = np.arange(M, dtype=np.float64) * const
    w = sum((-1) ** i * c * np.cos(i * k) for i, c in enumerate(a))
    return _out(w, dtype, device, requires_grad)


def general_hamming(M, *, alpha=0.54, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    return general_cosine(M, a=[alpha, 1.0 - alpha], sym=sym, dtype=dtype, device=device,
                          requires_grad=requires_grad)


def hamming(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    return general_hamming(M, sym=sym, dtype=dtype, device=device, requires_grad=requires_grad)


def hann(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    return general_hamming(M, alpha=0.5, sym=sym, dtype=dtype, device=device, requires_grad=requires_grad)


def blackman(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    return general_cosine(M, a=[0.42, 0.5, 0.08], sym=sym, dtype=dtype, device=device, requires_grad=requires_grad)


def nuttall(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    return general_cosine(M, a=[0.3635819, 0.4891775, 0.1365995, 0.0106411], sym=sym, dtype=dtype, device=device,
                          requires_grad=requires_grad)


def bartlett(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    dtype = _check("bartlett", M, dtype)
    if M <= 1:
        return _trivial(M, dtype, device, requires_grad)
    const = 2 / (M - 1 if sym else M)
    k = np.linspace(-1, -1 + (M - 1) * const, M)
    return _out(1 - np.abs(k), dtype, device, requires_grad)


def cosine(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    dtype = _check("cosine", M, dtype)
    if M <= 1:
        return _trivial(M, dtype, device, requires_grad)
    const = math.pi / (M + 1 if not sym and M > 1 else M)
    k = np.linspace(0.5 * const, (0.5 + (M - 1)) * const, M)
    return _out(np.sin(k), dtype, device, requires_grad)


def exponential(M, *, center=None, tau=1.0, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    dtype = _check("exponential", M, dtype)
    if tau <= 0:
        raise ValueError(f"Tau must be positive, got: {tau} instead.")
    if sym and center is not None:
        raise ValueError("Center must be None for symmetric windows")
    if M <= 1:
        return _trivial(M, dtype, device, requires_grad)
    if center is None:
        center = (M if not sym and M > 1 else M - 1) / 2.0
    k = np.linspace(-center / tau, (-center + (M - 1)) / tau, M)
    return _out(np.exp(-np.abs(k)), dtype, device, requires_grad)


def gaussian(M, *, std=1.0, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    dtype = _check("gaussian", M, dtype)
    if std <= 0:
        raise ValueError(f"Standard deviation must be positive, got: {std} instead.")
    if M <= 1:
        return _trivial(M, dtype, device, requires_grad)
    start = -(M if not sym and M > 1 else M - 1) / 2.0
    const = 1 / (std * math.sqrt(2))
    k = np.linspace(start * const, (start + (M - 1)) * const, M)
    return _out(np.exp(-k ** 2), dtype, device, requires_grad)


def kaiser(M, *, beta=12.0, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    dtype = _check("kaiser", M, dtype)
    if beta < 0:
        raise ValueError(f"beta must be non-negative, got: {beta} instead.")
    if M <= 1:
        return _trivial(M, dtype, device, requires_grad)
    n = M if sym else M + 1
    alpha = (n - 1) / 2.0
    k = np.arange(n, dtype=np.float64)
    w = np.i0(beta * np.sqrt(np.clip(1 - ((k - alpha) / alpha) ** 2, 0, None))) / np.i0(beta)
    return _out(w[:M], dtype, device, requires_grad)
