"""jtorch.utils: torch.utils' subpackages, imported on first use (data, checkpoint, ...)."""
import importlib as _importlib

_SUBMODULES = {"data", "checkpoint", "hooks", "dlpack", "benchmark", "tensorboard", "cpp_extension", "_pytree",
               "model_zoo", "flop_counter", "mobile_optimizer", "bottleneck", "collect_env", "backcompat",
               "deterministic", "throughput_benchmark", "weak", "show_pickle", "file_baton", "jit",
               "jax"}


def __getattr__(name):
    if name in _SUBMODULES:
        try:
            return _importlib.import_module("." + name, __name__)
        except ModuleNotFoundError as e:
            if e.name == f"{__name__}.{name}":
                raise AttributeError(f"module 'jtorch.utils' has no attribute '{name}' (not implemented in jtorch yet)")
            raise
    raise AttributeError(f"module 'jtorch.utils' has no attribute '{name}'")


def __dir__():
    return sorted(set(globals()) | _SUBMODULES)
