"""torch.return_types: the namedtuple types ops return (max -> (values, indices) ...), made by the
op registry when each op is declared."""


def __getattr__(name):
    from ._ops.registry import _RETURN_TYPES
    for (opname, _), t in _RETURN_TYPES.items():
        if opname == name:
            return t
    raise AttributeError(f"module 'jtorch.return_types' has no attribute '{name}'")


def __dir__():
    from ._ops.registry import _RETURN_TYPES
    return sorted({k[0] for k in _RETURN_TYPES})
