"""torch.overrides: jtorch has no __torch_function__ dispatch, so no argument ever overrides a
function: the helpers answer accordingly and handle_torch_function just calls the function."""


def has_torch_function(relevant_args):
    return False


def has_torch_function_unary(obj):
    return False


def has_torch_function_variadic(*args):
    return False


def handle_torch_function(public_api, relevant_args, *args, **kwargs):
    return public_api(*args, **kwargs)


def is_tensor_like(inp):
    from ._tensor import Tensor
    return type(inp) is Tensor or hasattr(inp, "__torch_function__")


def is_tensor_method_or_property(func):
    from ._tensor import Tensor
    return getattr(Tensor, getattr(func, "__name__", ""), None) is func


def get_ignored_functions():
    return set()


def get_overridable_functions():
    return {}


def get_testing_overrides():
    return {}


def wrap_torch_function(dispatcher):
    return lambda f: f


class TorchFunctionMode:
    """Modes intercept every torch function through __torch_function__, which jtorch does not have."""

    def __enter__(self):
        raise NotImplementedError("jtorch: torch.overrides.TorchFunctionMode is not supported: jtorch ops do not "
                                  "dispatch through __torch_function__ (see docs/unsupported.md)")

    def __exit__(self, *exc):
        return False
