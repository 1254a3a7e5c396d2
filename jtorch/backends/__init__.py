"""jtorch.backends: torch.backends' flags, accepted; the ones with a meaning on XLA are mapped
(allow_tf32 -> jax's default matmul precision)."""
import contextlib
import types

import jax


def _set_tf32(flag):
    jax.config.update("jax_default_matmul_precision", "tensorfloat32" if flag else "highest")


class _Flag:
    def __init__(self, default, on_set=None):
        self.value, self.on_set = default, on_set

    def __get__(self, obj, objtype=None):
        return self.value

    def __set__(self, obj, v):
        self.value = v
        if self.on_set:
            self.on_set(v)


class _Matmul:
    allow_tf32 = _Flag(False, _set_tf32)
    allow_fp16_reduced_precision_reduction = _Flag(True)
    allow_bf16_reduced_precision_reduction = _Flag(True)
    fp32_precision = _Flag("ieee")


class _CudaBackend:
    matmul = _Matmul()

    @staticmethod
    def is_built():
        from .. import cuda
        return cuda.is_available()

    @staticmethod
    def flash_sdp_enabled():
        return True

    @staticmethod
    def mem_efficient_sdp_enabled():
        return True

    @staticmethod
    def math_sdp_enabled():
        return True

    @staticmethod
    def enable_flash_sdp(flag):
        pass

    @staticmethod
    def enable_mem_efficient_sdp(flag):
        pass

    @staticmethod
    def enable_math_sdp(flag):
        pass

    @staticmethod
    @contextlib.contextmanager
    def sdp_kernel(**kw):
        yield

    preferred_linalg_library = staticmethod(lambda backend=None: None)


class _Cudnn:
    enabled = _Flag(True)
    benchmark = _Flag(False)
    deterministic = _Flag(False)
    allow_tf32 = _Flag(True)

    @staticmethod
    def is_available():
        from .. import cuda
        return cuda.is_available()

    @staticmethod
    def version():
        return None

    @contextlib.contextmanager
    def flags(self, enabled=False, benchmark=False, deterministic=False, allow_tf32=True):
        yield


cuda = _CudaBackend()
cudnn = _Cudnn()
mps = types.SimpleNamespace(is_available=lambda: False, is_built=lambda: False)
mkldnn = types.SimpleNamespace(is_available=lambda: False, enabled=False)
mkl = types.SimpleNamespace(is_available=lambda: False)
openmp = types.SimpleNamespace(is_available=lambda: True)
cpu = types.SimpleNamespace(get_cpu_capability=lambda: "DEFAULT")
opt_einsum = types.SimpleNamespace(is_available=lambda: True, enabled=True, strategy="auto")


class _Mha:
    """torch.backends.mha: whether the native MHA / TransformerEncoder fast path may run. In jtorch
    it gates the one observable effect of that path (padded positions of TransformerEncoder's
    output are zero, see nn/modules/transformer.py)."""
    _enabled = True

    def get_fastpath_enabled(self):
        return self._enabled

    def set_fastpath_enabled(self, value):
        type(self)._enabled = bool(value)


mha = _Mha()


def set_cuda_alias(target):
    """Make the name 'cuda' mean another accelerator (e.g. 'tpu'), as JTORCH_CUDA_ALIAS=tpu does."""
    from .. import _device
    _device._CUDA_ALIAS[0] = target
    _device._backend_devices.cache_clear()
