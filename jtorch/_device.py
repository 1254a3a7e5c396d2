"""torch.device over JAX devices.

`cpu` is JAX's CPU backend, `cuda[:N]` JAX's GPU backend, `tpu[:N]`/`xla[:N]` the TPU (or, for
`xla`, the default accelerator backend), `meta` carries shapes only. With the opt-in
JTORCH_CUDA_ALIAS=tpu (or `jtorch.backends.set_cuda_alias('tpu')`) the name `cuda` means the TPU,
so a CUDA script runs unmodified on a TPU host.
"""
import os
import functools
import jax

_CUDA_ALIAS = [os.environ.get("JTORCH_CUDA_ALIAS") or None]
_PLATFORM_TO_TYPE = {"cpu": "cpu", "gpu": "cuda", "cuda": "cuda", "rocm": "cuda", "tpu": "tpu"}


class device:
    __slots__ = ("type", "index")

    def __init__(self, type, index=None):
        if isinstance(type, device):
            self.type, self.index = type.type, type.index
            return
        if isinstance(type, int):
            type, index = "cuda", type
        if not isinstance(type, str):
            raise TypeError(f"device() received an invalid combination of arguments - got ({type!r})")
        if ":" in type:
            if index is not None:
                raise RuntimeError(f"type (string) must not include an index because index was passed explicitly: {type}")
            type, _, idx = type.partition(":")
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{type}:{idx}'")
            index = int(idx)
        if type not in ("cpu", "cuda", "tpu", "xla", "meta", "mps"):
            raise RuntimeError(
                f"Expected one of cpu, cuda, xla, tpu, meta, mps device type at start of device string: {type}")
        if index is not None and index < 0:
            raise RuntimeError(f"Device index must not be negative")
        self.type, self.index = type, index

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash((self.type, self.index))

    def __reduce__(self):
        return (device, (self.type, self.index))

    def __enter__(self):
        # `with torch.device(...)`: factory functions default to this device until exit (nestable)
        from . import _creation_defaults
        _DEVICE_CTX_STACK.append(_creation_defaults.get_default_device())
        _creation_defaults.set_default_device(self)
        return self

    def __exit__(self, *exc):
        from . import _creation_defaults
        _creation_defaults.set_default_device(_DEVICE_CTX_STACK.pop())


_DEVICE_CTX_STACK = []


def as_device(d):
    if d is None or isinstance(d, device):
        return d
    return device(d)


@functools.lru_cache(maxsize=None)
def _backend_devices(platform):
    try:
        return tuple(jax.devices(platform))
    except RuntimeError:
        return ()


def accelerator_devices():
    """The JAX devices that `cuda` names: GPUs, or with the TPU alias the TPUs."""
    if _CUDA_ALIAS[0] == "tpu":
        return _backend_devices("tpu") or _backend_devices("gpu")
    return _backend_devices("gpu")


def jax_device(d):
    """The jax.Device for a jtorch device; raises torch's errors for devices that are not there."""
    t, i = d.type, d.index or 0
    if t == "cpu":
        devs = _backend_devices("cpu")
    elif t == "cuda":
        devs = accelerator_devices()
        if not devs:
            raise AssertionError("Torch not compiled with CUDA enabled (jtorch: no JAX GPU backend is "
                                 "available; install jax[cuda12] or set JTORCH_CUDA_ALIAS=tpu on a TPU host)")
    elif t == "tpu":
        devs = _backend_devices("tpu")
        if not devs:
            raise RuntimeError("jtorch: no TPU is available to JAX on this machine (on a TPU VM install "
                               "jax[tpu]: pip install -e \".[tpu]\"; elsewhere use 'cpu' or 'cuda')")
    elif t == "xla":
        devs = tuple(jax.devices())
    elif t == "meta":
        return None
    else:
        raise RuntimeError(f"jtorch: device type '{t}' is not supported")
    if i >= len(devs):
        if t == "cuda":
            raise RuntimeError(f"CUDA error: invalid device ordinal (device {i} requested, {len(devs)} available)")
        raise RuntimeError(f"jtorch: {t}:{i} requested but only {len(devs)} {t} device(s) are available")
    return devs[i]


def from_jax_device(jd):
    """The jtorch device that a jax.Device is shown as."""
    plat = jd.platform
    if plat == "cpu":
        return device("cpu")
    if plat == "tpu":
        if _CUDA_ALIAS[0] == "tpu":
            return device("cuda", accelerator_devices().index(jd))
        return device("tpu", _backend_devices("tpu").index(jd))
    return device(_PLATFORM_TO_TYPE.get(plat, plat), jd.id if plat != "cpu" else None)


CPU = device("cpu")
