"""torch._dynamo shim: the knobs and helpers torch scripts reach for, mapped onto jtorch.compile."""
from .._compile import config, reset, disable, is_compiling, compile as _compile


def optimize(backend="inductor", *, nopython=False, dynamic=None, disable=False, **kwargs):
    def deco(fn):
        return _compile(fn, fullgraph=nopython, dynamic=dynamic, disable=disable)
    return deco


def allow_in_graph(fn):
    return fn


def disallow_in_graph(fn):
    return fn


def mark_dynamic(t, index, *, min=None, max=None):
    pass


def maybe_mark_dynamic(t, index):
    pass


def mark_static(t, index=None):
    pass


def mark_static_address(t, guard=True):
    pass


def assume_constant_result(fn):
    return fn


def list_backends(exclude_tags=("debug", "experimental")):
    return ["inductor"]


def explain(fn, *args, **kwargs):
    raise NotImplementedError("jtorch._dynamo.explain is not available: jtorch.compile traces the whole function "
                              "with jax.jit (no graph breaks to explain)")


def run(fn=None):
    return fn


__all__ = ["config", "reset", "disable", "optimize", "allow_in_graph", "disallow_in_graph", "mark_dynamic",
           "maybe_mark_dynamic", "mark_static", "mark_static_address", "is_compiling", "list_backends"]
