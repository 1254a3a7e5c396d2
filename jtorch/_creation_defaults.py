"""Process-wide defaults for where new tensors go (torch.set_default_device)."""
_default_device = [None]


def get_default_device():
    return _default_device[0]


def set_default_device(d):
    from ._device import as_device
    _default_device[0] = as_device(d)
