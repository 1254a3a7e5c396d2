"""detect_anomaly / set_detect_anomaly: remember where each node was created, and fail loudly on
a NaN produced in backward, naming the forward op and the line that made it."""
import os
import traceback
import warnings

ENABLED = [False]
CHECK_NAN = [True]


_PKG = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def stamp(node):
    """Remember the forward call's stack, ending at the user's line (jtorch's own frames dropped)."""
    frames = traceback.extract_stack()
    while frames and frames[-1].filename.startswith(_PKG):
        frames.pop()
    node.metadata["traceback_"] = traceback.format_list(frames)


def _warn_forward_trace(node):
    tb = "".join((node._metadata or {}).get("traceback_", []))
    if tb:
        warnings.warn(f"Error detected in {node.name()}. Traceback of forward call that caused the error:\n{tb}",
                      stacklevel=3)


def apply_grads(node, cts, create_graph):
    """A node's backward under anomaly mode: any error it raises (a saved tensor modified in place,
    a shape error in a custom Function...) first warns with the forward traceback, as torch does."""
    try:
        return node.apply_grads(cts, create_graph)
    except Exception:
        _warn_forward_trace(node)
        raise


def check(node, grads):
    import jax.numpy as jnp
    for i, g in enumerate(grads):
        if g is None:
            continue
        a = g._value if getattr(g, "_is_jtorch_tensor", False) else g
        if jnp.issubdtype(a.dtype, jnp.inexact) and bool(jnp.isnan(a).any()):
            _warn_forward_trace(node)
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th output.")


class detect_anomaly:
    def __init__(self, check_nan=True):
        self.check_nan = check_nan

    def __enter__(self):
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime and should only be "
                      "enabled for debugging.", stacklevel=2)
        self.prev = (ENABLED[0], CHECK_NAN[0])
        ENABLED[0], CHECK_NAN[0] = True, self.check_nan

    def __exit__(self, *exc):
        ENABLED[0], CHECK_NAN[0] = self.prev

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def w(*a, **k):
            with detect_anomaly(self.check_nan):
                return fn(*a, **k)
        return w


class set_detect_anomaly:
    def __init__(self, mode, check_nan=True):
        self.prev = (ENABLED[0], CHECK_NAN[0])
        ENABLED[0], CHECK_NAN[0] = bool(mode), check_nan

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        ENABLED[0], CHECK_NAN[0] = self.prev


def is_anomaly_enabled():
    return ENABLED[0]


def is_anomaly_check_nan_enabled():
    return CHECK_NAN[0]
