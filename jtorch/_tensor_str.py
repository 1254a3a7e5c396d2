"""torch's tensor repr: `tensor([[1., 2.]], requires_grad=True)`, with its number formatting,
summarisation of large tensors, line wrapping and suffixes (device, dtype, grad_fn)."""
import math

import numpy as np

from . import _dtype as D


class _PrintOptions:
    precision = 4
    threshold = 1000
    edgeitems = 3
    linewidth = 80
    sci_mode = None


PRINT_OPTS = _PrintOptions()


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None):
    if profile == "default":
        PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth = 4, 1000, 3, 80
    elif profile == "short":
        PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth = 2, 1000, 2, 80
    elif profile == "full":
        PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth = 4, math.inf, 3, 80
    for k, v in (("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems),
                 ("linewidth", linewidth)):
        if v is not None:
            setattr(PRINT_OPTS, k, v)
    PRINT_OPTS.sci_mode = sci_mode


def get_printoptions():
    return dict(precision=PRINT_OPTS.precision, threshold=PRINT_OPTS.threshold, edgeitems=PRINT_OPTS.edgeitems,
                linewidth=PRINT_OPTS.linewidth, sci_mode=PRINT_OPTS.sci_mode)


class _Formatter:
    def __init__(self, values, dtype):
        self.floating = dtype.is_floating_point
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        v = values.reshape(-1)
        if not self.floating:
            for x in v:
                self.max_width = max(self.max_width, len(str(x.item() if hasattr(x, "item") else x)))
            return
        v = v.astype(np.float64)
        finite = v[np.isfinite(v)]
        nz = np.abs(finite[finite != 0])
        if finite.size == 0 or np.all(finite == np.ceil(finite)):
            self.int_mode = True
            if nz.size:
                mx, mn = nz.max(), nz.min()
                if mx / mn > 1000.0 or mx > 1.0e8:
                    self.sci_mode = True
        else:
            self.int_mode = False
            if nz.size:
                mx, mn = nz.max(), nz.min()
                if mx / mn > 1000.0 or mx > 1.0e8 or mn < 1.0e-4:
                    self.sci_mode = True
        if PRINT_OPTS.sci_mode is not None:
            self.sci_mode = PRINT_OPTS.sci_mode
        # torch sizes the columns from the nonzero finite values only (zeros, nan and inf don't count)
        for x in finite[finite != 0]:
            self.max_width = max(self.max_width, len(self._fmt(x)))

    def _fmt(self, x):
        p = PRINT_OPTS.precision
        if not self.floating:
            return str(x)
        if not np.isfinite(x):
            return "nan" if np.isnan(x) else ("inf" if x > 0 else "-inf")
        if self.sci_mode:
            return f"{x:.{p}e}"
        if self.int_mode:
            s = f"{x:.0f}"
            return s + "." if "inf" not in s and "nan" not in s else s
        return f"{x:.{p}f}"

    def width(self):
        return self.max_width

    def format(self, x):
        return self._fmt(x).rjust(self.max_width)


def _vals(a, dtype):
    if dtype is D.bool_:
        return a
    if dtype.is_floating_point:
        return a.astype(np.float64)
    return a


def _summarized(a, edge):
    """The values that a summarised print shows (for width computation)."""
    if a.ndim == 0:
        return a
    if a.shape[0] > 2 * edge:
        a = np.concatenate([a[:edge], a[-edge:]])
    if a.ndim == 1:
        return a
    return np.stack([_summarized(x, edge) for x in a]) if a.shape[0] else a


def _scalar_str(x, fmt, dtype):
    if dtype is D.bool_:
        return fmt.format(x)
    if dtype.is_complex:
        re, im = fmt
        r = re.format(x.real)
        i = im.format(abs(x.imag)).lstrip()
        return f"{r}{'+' if x.imag >= 0 or np.isnan(x.imag) else '-'}{i}j"
    if not dtype.is_floating_point:
        return fmt.format(x.item())
    return fmt.format(x)


def _vector_str(a, indent, fmt, dtype, summarize):
    edge = PRINT_OPTS.edgeitems
    if dtype.is_complex:
        w = fmt[0].width() + fmt[1].width() + 2
    elif dtype is D.bool_:
        w = 5
    else:
        w = fmt.width()
    per_line = max(math.floor((PRINT_OPTS.linewidth - indent) / (w + 2)), 1)
    if summarize and a.shape[0] > 2 * edge:
        items = [_scalar_str(x, fmt, dtype) for x in a[:edge]] + [" ..."] + \
                [_scalar_str(x, fmt, dtype) for x in a[-edge:]]
    else:
        items = [_scalar_str(x, fmt, dtype) for x in a]
    if dtype is D.bool_:
        items = [s.rjust(max(len(t) for t in items)) if False else s for s in items]
    lines = [items[i:i + per_line] for i in range(0, len(items), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(", ".join(line) for line in lines) + "]"


def _tensor_str(a, indent, fmt, dtype, summarize):
    if a.ndim == 0:
        return _scalar_str(a.reshape(()).item() if dtype.is_complex else a.reshape(())[()], fmt, dtype)
    if a.ndim == 1:
        return _vector_str(a, indent, fmt, dtype, summarize)
    edge = PRINT_OPTS.edgeitems
    if summarize and a.shape[0] > 2 * edge:
        parts = [_tensor_str(a[i], indent + 1, fmt, dtype, summarize) for i in range(edge)] + ["..."] + \
                [_tensor_str(a[i], indent + 1, fmt, dtype, summarize) for i in range(a.shape[0] - edge, a.shape[0])]
    else:
        parts = [_tensor_str(a[i], indent + 1, fmt, dtype, summarize) for i in range(a.shape[0])]
    sep = "," + "\n" * (a.ndim - 1) + " " * (indent + 1)
    return "[" + sep.join(parts) + "]"


class _BoolFmt:
    def __init__(self, values):
        self.w = 5 if values.size and not values.all() else 4

    def width(self):
        return self.w

    def format(self, x):
        return str(bool(x)).rjust(self.w)


def tensor_body(t, indent=7):
    a = np.asarray(t._value)
    dtype = t.dtype
    summarize = a.size > PRINT_OPTS.threshold
    shown = _summarized(a, PRINT_OPTS.edgeitems) if summarize else a
    if dtype is D.bool_:
        fmt = _BoolFmt(shown)
    elif dtype.is_complex:
        fmt = (_Formatter(np.real(shown), D.float64), _Formatter(np.abs(np.imag(shown)), D.float64))
    elif dtype.is_floating_point:
        fmt = _Formatter(shown.astype(np.float64), dtype)
    else:
        fmt = _Formatter(shown, dtype)
    if dtype.is_floating_point:
        a = a.astype(np.float64)
    return _tensor_str(a, indent, fmt, dtype, summarize)


def tensor_repr(t):
    from ._tensor import _untraceable
    import jax
    if isinstance(t._value, jax.core.Tracer):
        from ._compile import _COMPILING
        if _COMPILING[0]:
            raise _untraceable("printing a tensor")
        return f"tensor(<traced {list(t.shape)} {t.dtype}>)"
    if "_sp" in t.__dict__:
        from ._sparse import sparse_repr
        return sparse_repr(t)
    prefix = "tensor("
    if type(t).__name__ == "Parameter":
        prefix = "Parameter containing:\ntensor("
    suffixes = []
    dev = t.device
    if dev.type != "cpu":
        suffixes.append(f"device='{dev}'")
    dtype = t.dtype
    if dev.type == "meta":   # no data to show: torch prints the size and any non-default dtype
        suffixes.append(f"size={tuple(t.shape)}")
        if dtype is not D.get_default_dtype() and dtype is not D.default_complex():
            suffixes.append(f"dtype={dtype}")
        if t.grad_fn is not None:
            suffixes.append(f"grad_fn=<{type(t.grad_fn).__name__}>")
        elif t.requires_grad:
            suffixes.append("requires_grad=True")
        return prefix + "..., " + ", ".join(suffixes) + ")"
    if t.numel() == 0:
        body = "[]"
        if t.ndim != 1:
            suffixes.append(f"size={tuple(t.shape)}")
        if dtype is not D.get_default_dtype() and dtype is not D.default_complex():
            suffixes.append(f"dtype={dtype}")
    else:
        body = tensor_body(t, 7)
        if dtype not in (D.get_default_dtype(), D.int64, D.bool_, D.default_complex()):
            suffixes.append(f"dtype={dtype}")
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{type(t.grad_fn).__name__}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    s = prefix + body
    for suf in suffixes:
        s += ", " + suf
    return s + ")"
