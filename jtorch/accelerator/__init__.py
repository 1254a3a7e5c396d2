"""torch.accelerator: the current accelerator is JAX's GPU/TPU backend if there is one."""


def _accel_type():
    from .. import cuda
    if cuda.is_available():
        return "cuda"
    import jax
    try:
        return "xla" if jax.devices("tpu") else None
    except RuntimeError:
        return None


def current_accelerator(check_available=False):
    t = _accel_type()
    if t is None:
        return None
    from .._device import device
    return device(t)


def is_available():
    return _accel_type() is not None


def device_count():
    t = _accel_type()
    if t is None:
        return 0
    import jax
    return len(jax.devices())


_index = [0]


def current_device_index():
    return _index[0]


current_device_idx = current_device_index


def set_device_index(device):
    _index[0] = device if isinstance(device, int) else (getattr(device, "index", None) or 0)


set_device_idx = set_device_index


def synchronize(device=None):
    import jax.numpy as jnp
    (jnp.zeros(()) + 0).block_until_ready()


def current_stream(device=None):
    from .._long_tail import Stream
    return Stream(current_accelerator() or "cpu")


def set_stream(stream):
    pass


class device_index:
    def __init__(self, device):
        self.idx = device

    def __enter__(self):
        self.prev = _index[0]
        if self.idx is not None:
            _index[0] = self.idx

    def __exit__(self, *exc):
        _index[0] = self.prev
        return False
