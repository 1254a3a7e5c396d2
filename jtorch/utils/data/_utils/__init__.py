"""DataLoader internals: collation, fetchers, worker processes (torch.utils.data._utils' layout)."""
from . import collate, fetch, worker  # noqa: F401

MP_STATUS_CHECK_INTERVAL = 5.0
IS_WINDOWS = False
HAS_NUMPY = True
