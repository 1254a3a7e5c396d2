"""Collects every op declaration and derives the public surface from it: `jtorch.<name>`,
`Tensor.<name>`, `Tensor.<name>_` and the Python operators (see methods.py)."""
from .registry import OPS, OpDef
from . import pointwise, reduction, shape, indexing, blas, linalg_ops, fft_ops, special_ops, sampling_ops, conv_ops, nn_ops, tail_ops  # noqa: F401  (declarations)


def resolve(name):
    """name -> (callable, OpDef or None, has method?, public?, has in-place variant?)."""
    d = OPS[name]
    if isinstance(d, OpDef):
        return d, d, d.method, d.public, d.inplace
    if d[0] == "alias":
        fn, od, _, _, inplace = resolve(d[1])
        return fn, od, d[2], d[3], inplace
    _, fn, method, public, inplace = d
    return fn, None, method, public, bool(inplace)


def public_functions():
    out = {}
    for name in OPS:
        fn, _, _, public, _ = resolve(name)
        if public:
            out[name] = fn
    return out
