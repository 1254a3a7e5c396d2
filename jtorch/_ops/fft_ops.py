"""torch.fft (registered as fft_<name>, exposed by jtorch/fft) on jnp.fft."""
import jax.numpy as jnp

from .registry import op


def _F(name, **kw):
    return op("fft_" + name, method=False, public=False, **kw)


def _c(x):
    if jnp.issubdtype(x.dtype, jnp.complexfloating):
        return x
    if x.dtype == jnp.float64:
        return x.astype(jnp.complex128)
    return x.astype(jnp.complex64)


def _r(x):
    if jnp.issubdtype(x.dtype, jnp.floating):
        return x if x.dtype in (jnp.float32, jnp.float64) else x.astype(jnp.float32)
    return x.astype(jnp.float32)


def _out(x, like):
    want = jnp.complex128 if like.dtype in (jnp.float64, jnp.complex128) else jnp.complex64
    return x.astype(want) if jnp.iscomplexobj(x) else x.astype(jnp.float64 if like.dtype in (jnp.float64, jnp.complex128) else jnp.float32)


for _name, _f, _real_in in (("fft", jnp.fft.fft, False), ("ifft", jnp.fft.ifft, False), ("rfft", jnp.fft.rfft, True),
                            ("irfft", jnp.fft.irfft, False), ("hfft", jnp.fft.hfft, False),
                            ("ihfft", jnp.fft.ihfft, True)):
    def _mk(f, real_in, name):
        def impl(input, n=None, dim=-1, norm=None):
            x = _r(input) if real_in else _c(input)
            return _out(f(x, n=n, axis=dim, norm=norm), input)
        impl.__name__ = "fft_" + name
        return impl
    _F(_name, static=("n", "dim", "norm"))(_mk(_f, _real_in, _name))

for _name, _f, _real_in, _default in (("fft2", jnp.fft.fft2, False, (-2, -1)), ("ifft2", jnp.fft.ifft2, False, (-2, -1)),
                                      ("rfft2", jnp.fft.rfft2, True, (-2, -1)), ("irfft2", jnp.fft.irfft2, False, (-2, -1)),
                                      ("fftn", jnp.fft.fftn, False, None), ("ifftn", jnp.fft.ifftn, False, None),
                                      ("rfftn", jnp.fft.rfftn, True, None), ("irfftn", jnp.fft.irfftn, False, None)):
    def _mk2(f, real_in, name, default):
        def impl(input, s=None, dim=default, norm=None):
            x = _r(input) if real_in else _c(input)
            return _out(f(x, s=s, axes=dim, norm=norm), input)
        impl.__name__ = "fft_" + name
        return impl
    _F(_name, static=("s", "dim", "norm"))(_mk2(_f, _real_in, _name, _default))


@_F("fftshift", static=("dim",), linear=True)
def fft_fftshift(input, dim=None):
    return jnp.fft.fftshift(input, axes=dim)


@_F("ifftshift", static=("dim",), linear=True)
def fft_ifftshift(input, dim=None):
    return jnp.fft.ifftshift(input, axes=dim)
