"""torch.compiler: reset(), is_compiling(), disable, and friends, for jtorch.compile."""
from .._compile import reset, is_compiling, disable, compile as _compile


def is_dynamo_compiling():
    return is_compiling()


def is_exporting():
    return False


def allow_in_graph(fn):
    return fn


def assume_constant_result(fn):
    return fn


def cudagraph_mark_step_begin():
    pass


def list_backends(exclude_tags=("debug", "experimental")):
    return ["inductor"]


def set_stance(stance="default", *, skip_guard_eval_unsafe=False, force_backend=None):
    pass


__all__ = ["reset", "is_compiling", "is_dynamo_compiling", "disable", "allow_in_graph", "assume_constant_result",
           "list_backends", "cudagraph_mark_step_begin", "is_exporting"]
