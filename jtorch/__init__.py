"""jtorch: PyTorch's API on JAX. `import jtorch as torch` and the script runs on CPU, GPU or TPU."""
from . import _jax_setup  # noqa: F401  (x64, default device; before any array exists)

from ._dtype import (dtype, bool_ as bool, uint8, uint16, uint32, uint64, int8, int16, int32, int64, float16,
                     bfloat16, float32, float64, complex64, complex128, float8_e4m3fn, float8_e5m2,
                     get_default_dtype, set_default_dtype, promote_types, can_cast, finfo, iinfo)
from ._dtype import ALIASES as _ALIASES
from ._device import device
from ._memory_format import memory_format, contiguous_format, preserve_format, channels_last, channels_last_3d
from ._creation_defaults import get_default_device, set_default_device
from ._tensor import Tensor, Size
from . import _ops
from ._ops import methods as _methods
from ._ops.dispatch import result_type as _result_type_leaves
from ._creation import (tensor, as_tensor, asarray, from_numpy, from_dlpack, zeros, ones, empty, full, zeros_like,
                        ones_like, empty_like, full_like, arange, linspace, logspace, eye, tril_indices, triu_indices,
                        rand, randn, randint, randperm, rand_like, randn_like, randint_like, normal, bernoulli,
                        poisson, multinomial, empty_strided)
from ._creation import range_ as range  # noqa: A001  (torch.range, deprecated but used)
from ._random import Generator, manual_seed, seed, initial_seed, get_rng_state, set_rng_state, default_generator
from ._tensor_str import set_printoptions, get_printoptions
from .autograd.grad_mode import (no_grad, enable_grad, set_grad_enabled, inference_mode, is_grad_enabled,
                                 is_inference_mode_enabled)
from . import autograd
from .autograd.anomaly import is_anomaly_enabled, is_anomaly_check_nan_enabled
from . import cuda

half, float, double, long, int, short, cfloat, cdouble, chalf = (float16, float32, float64, int64, int32, int16,
                                                                  complex64, complex128, complex64)
_methods.install()
globals().update(_ops.public_functions())
del _methods
from . import _tensor_long_tail  # noqa: E402
_tensor_long_tail.install()
from . import _sparse  # noqa: E402
_sparse.install()
from ._sparse import sparse_coo_tensor, sparse_csr_tensor, smm  # noqa: E402
spmm = _sparse.mm

# torch has Python builtins shadowed in its namespace too (torch.float, torch.int, torch.bool).
import builtins as _builtins  # noqa: E402

__version__ = "2.13.0+jtorch.0.1"


from ._alias import install_as_torch  # noqa: E402


def is_tensor(obj):
    return isinstance(obj, Tensor)


def is_storage(obj):
    return False


def is_floating_point(input):
    return input.dtype.is_floating_point


def is_complex(input):
    return input.dtype.is_complex


def is_nonzero(input):
    if input.numel() != 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return _builtins.bool(input.item())


def numel(input):
    return input.numel()


def result_type(tensor1, tensor2):
    return _result_type_leaves([tensor1, tensor2], [True, True])


def typename(obj):
    return obj.type() if isinstance(obj, Tensor) else type(obj).__name__


def get_num_threads():
    import os
    return os.cpu_count() or 1


def set_num_threads(n):
    pass


def get_num_interop_threads():
    return 1


def set_num_interop_threads(n):
    pass


def set_float32_matmul_precision(precision):
    import jax
    jax.config.update("jax_default_matmul_precision", {"highest": "highest", "high": "high", "medium": "bfloat16"}[precision])
    _matmul_precision[0] = precision


_matmul_precision = ["highest"]


def get_float32_matmul_precision():
    return _matmul_precision[0]


def use_deterministic_algorithms(mode, *, warn_only=False):
    _deterministic[0] = _builtins.bool(mode)
    _deterministic[1] = _builtins.bool(mode) and _builtins.bool(warn_only)


_deterministic = [False, False]  # enabled, warn_only


def are_deterministic_algorithms_enabled():
    return _deterministic[0]


def is_deterministic_algorithms_warn_only_enabled():
    return _deterministic[1]


def is_autocast_enabled(device_type=None):
    try:
        from .amp.autocast_mode import is_autocast_enabled as f
        return f(device_type)
    except ImportError:
        return False


def set_default_tensor_type(t):
    set_default_dtype({"torch.FloatTensor": float32, "torch.DoubleTensor": float64}.get(t, t) if isinstance(t, str)
                      else t)


def _lazy(name):
    import importlib
    try:
        return importlib.import_module("." + name, __name__)
    except ModuleNotFoundError as e:
        if e.name == __name__ + "." + name:
            from ._unsupported import TORCH, missing
            if name in TORCH:
                raise missing(name) from None
            raise AttributeError(f"module 'jtorch' has no attribute '{name}' (torch.{name} is not implemented "
                                 "in jtorch yet)") from None
        raise


# the long tail (constants, legacy types, torch.abs_, torch.dropout, windows ...): never shadows a name above
from . import _long_tail, _legacy_types  # noqa: E402
for _n in _long_tail.__all__:
    globals().setdefault(_n, getattr(_long_tail, _n))
for _n, _v in _legacy_types.CPU_TYPES.items():
    globals().setdefault(_n, _v)
from ._dtype import float8_e4m3fnuz, float8_e5m2fnuz, float8_e8m0fnu  # noqa: E402
from .amp import GradScaler  # noqa: E402
del _n, _v

_STDLIB = {"builtins", "ctypes", "functools", "glob", "importlib", "inspect", "math", "os", "platform", "sys",
           "textwrap", "threading", "warnings"}  # modules torch's namespace re-exports by accident; same objects

_LAZY = {"nn", "optim", "utils", "amp", "func", "distributions", "linalg", "fft", "special", "backends", "jit",
         "compiler", "distributed", "testing", "profiler", "onnx", "hub", "multiprocessing", "library", "export",
         "overrides", "types", "_dynamo", "serialization", "random", "cpu", "mps", "xla", "sparse", "masked", "quantization",
         "ao", "futures", "package", "version", "signal", "accelerator", "xpu", "mtia", "functional", "return_types",
         "torch_version", "quasirandom"}


def __getattr__(name):
    if name in _LAZY:
        return _lazy(name)
    if name == "compile":
        from ._compile import compile as c
        return c
    if name in ("save", "load"):
        from . import serialization as s
        return getattr(s, name)
    if name in ("autocast",):
        from .amp import autocast
        return autocast
    import sys as _sys
    if name == "ops":
        from .library import ops
        return ops
    if name == "torch":
        return _sys.modules[__name__]
    if name == "windows":
        from .signal import windows
        return windows
    if name == "Future":
        from .futures import Future
        return Future
    if name in _STDLIB:
        import importlib
        return importlib.import_module(name)
    if name.startswith("_foreach_"):
        from ._foreach import get
        fn = get(name)
        if fn is not None:
            globals()[name] = fn
            return fn
    from ._unsupported import TORCH, missing
    if name in TORCH:
        raise missing(name)
    from ._missing import missing_attribute
    raise missing_attribute(_sys.modules[__name__], name)
