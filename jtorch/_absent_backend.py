"""torch.mps / torch.xpu / torch.mtia: device backends jtorch does not drive (JAX runs on CPU, NVIDIA
GPUs and TPUs). Each module reports no devices; anything else it is asked for raises Unsupported."""


def install(namespace, backend):
    """Fill a backend module's globals with the "no such device" API."""
    def current_device():
        raise RuntimeError(f"jtorch: no {backend} device is available")

    def __getattr__(name):
        from ._unsupported import Unsupported
        if name.startswith("_"):
            raise AttributeError(f"module 'jtorch.{backend}' has no attribute '{name}'")
        raise Unsupported(f"jtorch: torch.{backend}.{name} is not supported: jtorch has no {backend} backend "
                          f"(see docs/unsupported.md)")

    def nothing(*args, **kwargs):
        return None

    namespace.update(
        is_available=lambda: False, device_count=lambda: 0, is_initialized=lambda: False,
        synchronize=nothing, manual_seed=nothing, manual_seed_all=nothing, seed=nothing, empty_cache=nothing,
        current_device=current_device, __getattr__=__getattr__)
