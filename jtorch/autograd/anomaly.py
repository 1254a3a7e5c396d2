"""detect_anomaly / set_detect_anomaly: remember where each node was created, and fail loudly on
a NaN produced in backward, naming the forward op and the line that made it."""
import traceback
import warnings

ENABLED = [False]
CHECK_NAN = [True]


def stamp(node):
    node.metadata["traceback_"] = traceback.format_stack()[:-3]


def check(node, grads):
    import jax.numpy as jnp
    for i, g in enumerate(grads):
        if g is None:
            continue
        a = g._value if getattr(g, "_is_jtorch_tensor", False) else g
        if jnp.issubdtype(a.dtype, jnp.inexact) and bool(jnp.isnan(a).any()):
            tb = "".join((node._metadata or {}).get("traceback_", []))
            if tb:
                warnings.warn(f"Error detected in {node.name()}. Traceback of forward call that caused the error:\n{tb}",
                              stacklevel=2)
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
