"""torch.random: the global generator's seeding and state, and fork_rng."""
import contextlib

from ._random import manual_seed, seed, initial_seed, get_rng_state, set_rng_state, default_generator  # noqa: F401


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, _caller="fork_rng", _devices_kw="devices", device_type="cuda"):
    """Restore the global generator's state on exit (jtorch has one generator for every device)."""
    if not enabled:
        yield
        return
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)


__all__ = ["manual_seed", "seed", "initial_seed", "get_rng_state", "set_rng_state", "fork_rng"]
