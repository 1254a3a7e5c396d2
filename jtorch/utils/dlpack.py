"""torch.utils.dlpack: zero-copy exchange with other array libraries (jax, numpy, cupy, torch)."""


def to_dlpack(tensor):
    return tensor._value.__dlpack__()


def from_dlpack(ext):
    import jax.numpy as jnp
    from .._tensor import wrap
    return wrap(jnp.from_dlpack(ext))
