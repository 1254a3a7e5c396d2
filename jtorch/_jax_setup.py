"""JAX configuration jtorch needs before any array exists.

- 64-bit types: torch has int64/float64, so x64 mode is on; every jtorch op passes explicit
  dtypes, so float32 stays float32.
- New arrays default to the CPU, as torch's do; `.to('cuda')` moves them.
"""
import os

import jax

jax.config.update("jax_enable_x64", True)
if os.environ.get("JTORCH_DEFAULT_DEVICE_KEEP") != "1":
    try:
        jax.config.update("jax_default_device", jax.devices("cpu")[0])
    except RuntimeError:
        pass
