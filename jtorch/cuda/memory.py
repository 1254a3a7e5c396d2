"""torch.cuda.memory: memory statistics of the accelerator, read from the JAX device's memory_stats().

XLA owns the allocator, so there is no cache to empty and no per-allocation history; every
function still runs (on a CPU-only host too, where torch itself often crashes) and returns 0 or
empty statistics, so monitoring code written for CUDA keeps working unchanged."""
import warnings

from .._device import accelerator_devices, device as _device

__all__ = ["memory_allocated", "max_memory_allocated", "memory_reserved", "max_memory_reserved", "memory_cached",
           "max_memory_cached", "reset_peak_memory_stats", "reset_max_memory_allocated", "reset_max_memory_cached",
           "reset_accumulated_memory_stats", "empty_cache", "mem_get_info", "memory_summary", "memory_stats",
           "memory_stats_as_nested_dict", "memory_snapshot", "list_gpu_processes", "set_per_process_memory_fraction",
           "get_per_process_memory_fraction", "caching_allocator_alloc", "caching_allocator_delete",
           "get_allocator_backend", "host_memory_stats"]

# XLA's peak counter cannot be reset; a reset remembers the peak seen so far, and later "max"
# queries report the current use until a new, higher peak is reached.
_peak_floor = {}
_fraction = {}


def _index(device):
    if device is None:
        return 0
    if isinstance(device, int):
        return device
    return _device(device).index or 0


def _stats(device=None):
    devs = accelerator_devices()
    idx = _index(device)
    if not devs or idx >= len(devs):
        return {}
    try:
        return dict(devs[idx].memory_stats() or {})
    except Exception:  # backends without allocator statistics
        return {}


def memory_stats(device=None):
    """torch's key names for the common counters, plus the backend's raw ones."""
    s = _stats(device)
    if not s:
        return {}
    out = dict(s)
    out["allocated_bytes.all.current"] = memory_allocated(device)
    out["allocated_bytes.all.peak"] = max_memory_allocated(device)
    out["reserved_bytes.all.current"] = memory_reserved(device)
    out["reserved_bytes.all.peak"] = max_memory_reserved(device)
    out["num_alloc_retries"] = 0
    out["num_ooms"] = int(s.get("num_ooms", 0))
    return out


def memory_stats_as_nested_dict(device=None):
    nested = {}
    for k, v in memory_stats(device).items():
        d = nested
        *path, leaf = k.split(".")
        for p in path:
            d = d.setdefault(p, {})
        if isinstance(d, dict):
            d[leaf] = v
    return nested


def memory_allocated(device=None):
    return int(_stats(device).get("bytes_in_use", 0))


def max_memory_allocated(device=None):
    s = _stats(device)
    peak, cur = int(s.get("peak_bytes_in_use", 0)), int(s.get("bytes_in_use", 0))
    floor = _peak_floor.get(_index(device))
    if floor is not None and peak <= floor:
        return cur
    return peak


def memory_reserved(device=None):
    s = _stats(device)
    return int(s.get("bytes_reserved", s.get("bytes_in_use", 0)))


def max_memory_reserved(device=None):
    s = _stats(device)
    return max(int(s.get("peak_bytes_reserved", 0)), max_memory_allocated(device))


def memory_cached(device=None):
    warnings.warn("`torch.cuda.memory_cached` has been renamed to `torch.cuda.memory_reserved`", FutureWarning,
                  stacklevel=2)
    return memory_reserved(device)


def max_memory_cached(device=None):
    warnings.warn("`torch.cuda.max_memory_cached` has been renamed to `torch.cuda.max_memory_reserved`",
                  FutureWarning, stacklevel=2)
    return max_memory_reserved(device)


def reset_peak_memory_stats(device=None):
    _peak_floor[_index(device)] = int(_stats(device).get("peak_bytes_in_use", 0))


def reset_max_memory_allocated(device=None):
    reset_peak_memory_stats(device)


def reset_max_memory_cached(device=None):
    reset_peak_memory_stats(device)


def reset_accumulated_memory_stats(device=None):
    pass  # XLA keeps no resettable cumulative counters


def empty_cache():
    pass  # XLA frees buffers when their arrays die; there is no cache to release


def mem_get_info(device=None):
    """(free, total) bytes; (0, 0) where the backend reports no limit (CPU)."""
    s = _stats(device)
    total = int(s.get("bytes_limit", 0))
    return max(total - int(s.get("bytes_in_use", 0)), 0), total


def memory_summary(device=None, abbreviated=False):
    s = memory_stats(device)
    width = 60
    lines = ["|" + "=" * width + "|",
             "|" + " jtorch memory summary (from the JAX device's memory_stats)".ljust(width) + "|",
             "|" + "=" * width + "|"]
    if not s:
        lines.append("|" + " no accelerator statistics (CPU host, or backend without them)".ljust(width) + "|")
    for k in sorted(s):
        lines.append(f"| {k:<40} {s[k]:>17} |")
    lines.append("|" + "=" * width + "|")
    return "\n".join(lines)


def memory_snapshot(mempool_id=None):
    return []  # no per-segment view of XLA's allocator


def list_gpu_processes(device=None):
    devs = accelerator_devices()
    if not devs:
        return "no accelerator visible to JAX"
    d = devs[_index(device)]
    return f"{d.device_kind} ({d}): {memory_allocated(device) / 2**20:.2f} MB in use by this process"


def set_per_process_memory_fraction(fraction, device=None):
    if not isinstance(fraction, float):
        raise TypeError("Invalid type for fraction argument, must be `float`")
    if not 0 <= fraction <= 1:
        raise ValueError(f"Invalid fraction value: {fraction}. Allowed range: 0~1")
    # XLA reads its memory fraction once at start-up (XLA_PYTHON_CLIENT_MEM_FRACTION); record it only
    _fraction[_index(device)] = fraction


def get_per_process_memory_fraction(device=None):
    return _fraction.get(_index(device), 1.0)


def caching_allocator_alloc(size, device=None, stream=None):
    raise RuntimeError("jtorch.cuda.caching_allocator_alloc: XLA manages device memory; raw allocations "
                       "are not available (create a tensor instead)")


def caching_allocator_delete(mem_ptr):
    pass


def get_allocator_backend():
    return "xla"


def host_memory_stats():
    return {}


def _record_memory_history(enabled="all", *args, **kwargs):
    pass  # no allocation history in XLA; use jtorch.profiler or jax.profiler for traces


def _snapshot(device=None):
    return {"segments": [], "device_traces": []}


def _dump_snapshot(filename="dump_snapshot.pickle"):
    import pickle
    with open(filename, "wb") as f:
        pickle.dump(_snapshot(), f)
