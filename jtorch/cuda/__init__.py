"""jtorch.cuda: the accelerator JAX sees as a GPU (or, with JTORCH_CUDA_ALIAS=tpu, the TPU)."""
from .._device import accelerator_devices, device as _device
from .. import _device as _dev_mod

_current = [0]


def is_available():
    return len(accelerator_devices()) > 0


def device_count():
    return len(accelerator_devices())


def current_device():
    if not is_available():
        raise AssertionError("Torch not compiled with CUDA enabled")
    return _current[0]


def set_device(device):
    idx = device if isinstance(device, int) else (_device(device).index or 0)
    if idx >= device_count():
        raise RuntimeError("CUDA error: invalid device ordinal")
    _current[0] = idx


def get_device_name(device=None):
    devs = accelerator_devices()
    if not devs:
        raise AssertionError("Torch not compiled with CUDA enabled")
    idx = 0 if device is None else (device if isinstance(device, int) else (_device(device).index or 0))
    return devs[idx].device_kind


def get_device_capability(device=None):
    devs = accelerator_devices()
    d = devs[0 if device is None else device if isinstance(device, int) else 0]
    cc = getattr(d, "compute_capability", None)
    if cc:
        major, minor = str(cc).split(".")
        return int(major), int(minor)
    return (0, 0)


def get_device_properties(device=None):
    class _Props:
        pass
    p = _Props()
    p.name = get_device_name(device)
    p.major, p.minor = get_device_capability(device)
    stats = _stats(device)
    p.total_memory = stats.get("bytes_limit", 0)
    p.multi_processor_count = getattr(accelerator_devices()[0], "core_count", 0)
    return p


def synchronize(device=None):
    import jax
    for d in accelerator_devices():
        jax.device_put(0, d).block_until_ready()


def is_bf16_supported(including_emulation=True):
    return is_available()


from .memory import *  # noqa: F401,F403  (the memory statistics live in jtorch.cuda.memory)
from .memory import _stats, _record_memory_history, _dump_snapshot, _snapshot  # noqa: F401
from . import memory  # noqa: F401


def memory_usage(device=None):
    """Percent of device memory in use (torch reads it from NVML; here from JAX's statistics)."""
    free, total = mem_get_info(device)
    return int(round(100 * (total - free) / total)) if total else 0


def utilization(device=None):
    return 0  # XLA exposes no busy-time counter


def manual_seed(seed):
    pass


def manual_seed_all(seed):
    pass


def _seed_all(seed):
    pass


def seed():
    pass


def seed_all():
    pass


def get_rng_state(device="cuda"):
    from .._random import get_rng_state as g
    return g()


def get_rng_state_all():
    return [get_rng_state() for _ in range(max(device_count(), 1))]


def set_rng_state(state, device="cuda"):
    from .._random import set_rng_state as s
    s(state)


def set_rng_state_all(states):
    if states:
        set_rng_state(states[0])


class device:
    """Context manager selecting the current CUDA device."""

    def __init__(self, device):
        self.idx = device if isinstance(device, int) else (_device(device).index or 0) if device is not None else -1

    def __enter__(self):
        self.prev = _current[0]
        if self.idx >= 0:
            _current[0] = self.idx

    def __exit__(self, *exc):
        _current[0] = self.prev


class Stream:
    def __init__(self, device=None, priority=0, **kwargs):
        self.device = device

    def synchronize(self):
        synchronize()

    def wait_stream(self, other):
        pass

    def wait_event(self, event):
        pass

    def record_event(self, event=None):
        return event or Event()

    def query(self):
        return True


class Event:
    def __init__(self, enable_timing=False, blocking=False, interprocess=False):
        self.t = None

    def record(self, stream=None):
        import time
        synchronize()
        self.t = time.perf_counter()

    def synchronize(self):
        synchronize()

    def elapsed_time(self, end):
        return (end.t - self.t) * 1000.0

    def query(self):
        return True

    def wait(self, stream=None):
        pass


def current_stream(device=None):
    return Stream(device)


def default_stream(device=None):
    return Stream(device)


class stream:
    def __init__(self, s):
        self.s = s

    def __enter__(self):
        return self.s

    def __exit__(self, *exc):
        pass


def is_initialized():
    return is_available()


def init():
    pass


def __getattr__(name):
    if name == "amp":
        import importlib
        return importlib.import_module(".amp", __name__)
    if name.endswith("Tensor"):   # torch.cuda.FloatTensor ...: legacy constructors / isinstance targets
        from .._legacy_types import CUDA_TYPES
        if name in CUDA_TYPES:
            return CUDA_TYPES[name]
    raise AttributeError(f"module 'jtorch.cuda' has no attribute '{name}'")
