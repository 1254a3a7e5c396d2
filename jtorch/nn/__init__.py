"""jtorch.nn: torch.nn's modules, parameters, functional, init and utils on jtorch."""
from .parameter import Parameter, Buffer, UninitializedParameter, UninitializedBuffer
from .modules import *  # noqa: F401,F403
from .modules import Module
import importlib as _importlib

# `from .modules import *` also brings the modules package's own submodules (modules.utils, ...):
# bind nn's real submodules explicitly so nn.utils is jtorch.nn.utils, not jtorch.nn.modules.utils.
for _name in ("functional", "init", "parameter", "modules", "utils"):
    globals()[_name] = _importlib.import_module("." + _name, __name__)
del _name
from . import parallel  # noqa: F401  (DistributedDataParallel; added by the lead)
from .modules.flax_module import FlaxModule  # noqa: F401  (Flax modules inside jtorch models)
from .parallel import DataParallel  # noqa: F401
from . import attention, grad  # noqa: F401  (sdpa_kernel/SDPBackend; conv input/weight gradients)


def factory_kwargs(kwargs):
    if kwargs is None:
        return {}
    simple_keys = {"device", "dtype", "memory_format"}
    expected_keys = simple_keys | {"factory_kwargs"}
    if not kwargs.keys() <= expected_keys:
        raise TypeError(f"unexpected kwargs {kwargs.keys() - expected_keys}")
    r = dict(kwargs.get("factory_kwargs", {}))
    for k in simple_keys:
        if k in kwargs:
            if k in r:
                raise TypeError(f"{k} specified twice, in **kwargs and in factory_kwargs")
            r[k] = kwargs[k]
    return r


def __getattr__(name):  # a torch name jtorch lacks: say where to look and what to file
    import sys as _sys
    from .._missing import missing_attribute
    raise missing_attribute(_sys.modules[__name__], name)
