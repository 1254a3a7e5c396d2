"""torch.mtia: jtorch drives no mtia backend (JAX runs on CPU, NVIDIA GPUs and TPUs), so it reports none."""


def is_available():
    return False


def device_count():
    return 0


def synchronize(device=None):
    pass


def manual_seed(seed):
    pass


def manual_seed_all(seed):
    pass


def seed():
    pass


def empty_cache():
    pass


def is_initialized():
    return False


def current_device():
    raise RuntimeError("jtorch: no mtia device is available")


def __getattr__(name):
    from .._unsupported import Unsupported
    if name.startswith("_"):
        raise AttributeError(f"module 'jtorch.mtia' has no attribute '{name}'")
    raise Unsupported(f"jtorch: torch.mtia.{name} is not supported: jtorch has no mtia backend (see docs/unsupported.md)")
