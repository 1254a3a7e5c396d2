"""`.safetensors` files for jtorch: the API of `safetensors.torch`, on jtorch tensors.

    from jtorch.safetensors import load_file, save_file, safe_open
    sd = load_file("model.safetensors")            # Hugging Face weights -> jtorch tensors

The format is small and documented (https://github.com/huggingface/safetensors): an 8-byte
little-endian header length N, N bytes of JSON {name: {"dtype", "shape", "data_offsets"},
"__metadata__": {str: str}} padded with spaces, then the tensors' raw little-endian bytes packed
back to back. It is read and written here directly (numpy, no torch, no Rust extension), so every
jtorch dtype works (BF16 and F8 included). Files are memory-mapped when read from a path.
"""
import json
import os
import struct
import sys

import numpy as np

from . import _dtype as D

__all__ = ["save", "save_file", "load", "load_file", "safe_open", "save_model", "load_model"]

_CODES = {D.float64: "F64", D.float32: "F32", D.float16: "F16", D.bfloat16: "BF16", D.int64: "I64",
          D.int32: "I32", D.int16: "I16", D.int8: "I8", D.uint8: "U8", D.bool_: "BOOL", D.uint16: "U16",
          D.uint32: "U32", D.uint64: "U64", D.float8_e4m3fn: "F8_E4M3", D.float8_e5m2: "F8_E5M2",
          D.complex64: "C64", D.complex128: "C128"}
_BY_CODE = {v: k for k, v in _CODES.items()}
_MAX_HEADER = 100_000_000


class SafetensorError(Exception):
    """Raised for a malformed .safetensors file (the safetensors package's exception name)."""


# ---------------------------------------------------------------------------------------------- save
def _host_bytes(name, t):
    from ._tensor import Tensor
    if not isinstance(t, Tensor):
        raise ValueError(f"Key `{name}` is invalid, expected torch.Tensor but received {type(t)}")
    if t.dtype not in _CODES:
        raise ValueError(f"jtorch.safetensors: dtype {t.dtype} of `{name}` has no safetensors code")
    if t._base is not None and t._vchain and not t.is_contiguous():
        raise ValueError(
            f"You are trying to save a non contiguous tensor: `{name}` which is not allowed. It either means you"
            " are trying to save tensors which are reference of each other in which case it's recommended to save"
            " only the full tensors, and reslice at load time, or simply call `.contiguous()` on your tensor to"
            " pack it before saving.")
    a = np.ascontiguousarray(np.asarray(t.detach()._value))
    if a.dtype.byteorder == ">" or (a.dtype.byteorder == "=" and sys.byteorder == "big"):
        a = a.byteswap().view(a.dtype.newbyteorder("<"))
    return a.reshape(-1).view(np.uint8)


def _check_shared(tensors):
    groups = {}
    for k, v in tensors.items():
        root = getattr(v, "_base", None)
        root = v if root is None else root
        groups.setdefault(id(root), []).append(k)
    failing = [set(names) for names in groups.values() if len(names) > 1]
    if failing:
        raise RuntimeError(
            f"\n            Some tensors share memory, this will lead to duplicate memory on disk and potential "
            f"differences when loading them again: {failing}.\n            A potential way to correctly save your "
            f"model is to use `save_model`.\n            More information at "
            f"https://huggingface.co/docs/safetensors/torch_shared_tensors\n            ")


def _serialize(tensors, metadata):
    if not isinstance(tensors, dict):
        raise ValueError(f"Expected a dict of [str, torch.Tensor] but received {type(tensors)}")
    _check_shared(tensors)
    if metadata is not None:
        if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                      for k, v in metadata.items()):
            raise ValueError("metadata must be a dict of str to str")
    # the reference writer packs by dtype alignment (largest first), then by name
    items = sorted(tensors.items(), key=lambda kv: (-kv[1].dtype.itemsize, kv[0]))
    header, chunks, off = {}, [], 0
    if metadata:
        header["__metadata__"] = dict(metadata)
    for k, v in items:
        if not isinstance(k, str):
            raise ValueError(f"Key `{k}` is invalid, expected a str")
        b = _host_bytes(k, v)
        header[k] = {"dtype": _CODES[v.dtype], "shape": [int(s) for s in v.shape],
                     "data_offsets": [off, off + int(b.size)]}
        chunks.append(b)
        off += int(b.size)
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((-len(hb)) % 8)
    return [struct.pack("<Q", len(hb)), hb] + chunks


def save(tensors, metadata=None):
    """The .safetensors bytes of a dict of tensors."""
    return b"".join(bytes(memoryview(c)) if not isinstance(c, bytes) else c for c in _serialize(tensors, metadata))


def save_file(tensors, filename, metadata=None):
    """Write a dict of tensors to a .safetensors file (atomically: temp file, fsync, rename)."""
    chunks = _serialize(tensors, metadata)
    from .serialization import _atomic_write, _SpooledOutput
    buf = _SpooledOutput()
    for c in chunks:
        buf.write(c)
    _atomic_write(os.fspath(filename), buf)


# ---------------------------------------------------------------------------------------------- load
def _parse(buf, where):
    """header dict, metadata, data start: validated as the reference reader does."""
    n = buf.size if isinstance(buf, np.ndarray) else len(buf)
    if n < 8:
        raise SafetensorError(f"Error while deserializing header: HeaderTooSmall ({where})")
    (hlen,) = struct.unpack("<Q", bytes(buf[:8]))
    if hlen > _MAX_HEADER:
        raise SafetensorError("Error while deserializing header: HeaderTooLarge")
    if 8 + hlen > n:
        raise SafetensorError("Error while deserializing header: InvalidHeaderLength")
    try:
        header = json.loads(bytes(buf[8:8 + hlen]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorError(f"Error while deserializing header: InvalidHeaderDeserialization ({e})") from None
    if not isinstance(header, dict):
        raise SafetensorError("Error while deserializing header: InvalidHeaderDeserialization")
    meta = header.pop("__metadata__", None)
    start = 8 + hlen
    ends = []
    for k, info in header.items():
        try:
            dt = _BY_CODE[info["dtype"]]
            shape = [int(s) for s in info["shape"]]
            b, e = (int(x) for x in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise SafetensorError(f"Error while deserializing header: invalid entry for `{k}`") from None
        numel = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if e - b != numel * dt.itemsize or b < 0 or e < b:
            raise SafetensorError(f"Error while deserializing header: TensorInvalidInfo for `{k}`")
        if start + e > n:
            raise SafetensorError(f"Error while deserializing header: MetadataIncompleteBuffer (`{k}` is truncated)")
        ends.append((b, e))
    ends.sort()
    pos = 0
    for b, e in ends:
        if b != pos:
            raise SafetensorError("Error while deserializing header: InvalidOffset")
        pos = e
    if start + pos != n:
        raise SafetensorError("Error while deserializing header: MetadataIncompleteBuffer")
    return header, meta, start


def _make_tensor(buf, start, info, device):
    from ._tensor import wrap
    from ._device import as_device, jax_device
    import jax
    dt = _BY_CODE[info["dtype"]]
    b, e = info["data_offsets"]
    shape = tuple(int(s) for s in info["shape"])
    arr = np.asarray(buf[start + b:start + e]).view(dt.np).reshape(shape)
    if sys.byteorder == "big":
        arr = arr.byteswap()
    dev = as_device(device if not isinstance(device, int) else f"cuda:{device}")
    return wrap(jax.device_put(np.array(arr, copy=True), jax_device(dev)))


def load(data):
    """Tensors from .safetensors bytes."""
    buf = np.frombuffer(data, np.uint8)
    header, _, start = _parse(buf, "bytes")
    return {k: _make_tensor(buf, start, v, "cpu") for k, v in header.items()}


def _open_map(filename):
    filename = os.fspath(filename)
    if os.path.getsize(filename) == 0:
        return np.zeros(0, np.uint8)
    return np.memmap(filename, dtype=np.uint8, mode="r")


def load_file(filename, device="cpu"):
    """Tensors from a .safetensors file, on `device`."""
    buf = _open_map(filename)
    header, _, start = _parse(buf, os.fspath(filename))
    return {k: _make_tensor(buf, start, v, device) for k, v in header.items()}


class _Slice:
    def __init__(self, f, name):
        self._f, self._name = f, name

    def get_shape(self):
        return list(self._f._header[self._name]["shape"])

    def get_dtype(self):
        return self._f._header[self._name]["dtype"]

    def __getitem__(self, idx):
        # read only the rows the index names (memory-mapped), then index like a tensor
        info = self._f._header[self._name]
        dt = _BY_CODE[info["dtype"]]
        b, e = info["data_offsets"]
        arr = np.asarray(self._f._buf[self._f._start + b:self._f._start + e]).view(dt.np).reshape(info["shape"])
        part = np.array(arr[idx], copy=True)
        from ._tensor import wrap
        from ._device import jax_device
        import jax
        return wrap(jax.device_put(part, jax_device(self._f._device)))


class safe_open:
    """`with safe_open(path, framework="pt", device="cpu") as f: f.get_tensor(name)` (lazy, mmap)."""

    def __init__(self, filename, framework="pt", device="cpu"):
        from ._device import as_device
        if framework not in ("pt", "torch", "jtorch", "np", "numpy"):
            raise ValueError(f"jtorch.safetensors.safe_open: framework {framework!r} is not supported")
        self._framework = framework
        self._buf = _open_map(filename)
        self._header, self._meta, self._start = _parse(self._buf, os.fspath(filename))
        self._device = as_device(device if not isinstance(device, int) else f"cuda:{device}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._buf = None

    def keys(self):
        return sorted(self._header)

    def offset_keys(self):
        return sorted(self._header, key=lambda k: self._header[k]["data_offsets"][0])

    def metadata(self):
        return self._meta

    def get_tensor(self, name):
        if name not in self._header:
            raise SafetensorError(f"File does not contain tensor {name}")
        t = _make_tensor(self._buf, self._start, self._header[name], self._device)
        if self._framework in ("np", "numpy"):
            return np.asarray(t._value)
        return t

    def get_slice(self, name):
        if name not in self._header:
            raise SafetensorError(f"File does not contain tensor {name}")
        return _Slice(self, name)


# ------------------------------------------------------------------------------------- whole models
def _dedupe(state_dict):
    """Drop all but one name of tensors that share memory (tied weights), as save_model does."""
    seen, keep, dropped = {}, {}, []
    for k in sorted(state_dict):
        v = state_dict[k]
        root = v._base if v._base is not None else v
        key = (id(root), tuple(v.shape), v.dtype)
        if key in seen:
            dropped.append(k)
            continue
        seen[key] = k
        keep[k] = v
    return keep, dropped


def save_model(model, filename, metadata=None, force_contiguous=False):
    sd, dropped = _dedupe(model.state_dict())
    if force_contiguous:
        sd = {k: v.contiguous() for k, v in sd.items()}
    if dropped:
        metadata = dict(metadata or {})
    try:
        save_file({k: v.detach().clone() if v._base is not None and v._vchain else v for k, v in sd.items()},
                  filename, metadata)
    except RuntimeError as e:
        raise ValueError(str(e)) from None


def load_model(model, filename, strict=True, device="cpu"):
    sd = load_file(filename, device=device)
    own = model.state_dict()
    _, dropped = _dedupe(own)
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [m for m in missing if m not in dropped]
    if strict and (missing or unexpected):
        raise RuntimeError(f"Error(s) in loading state_dict for {type(model).__name__}:\n"
                           f"    Missing key(s) in state_dict: {missing}\n    Unexpected key(s) in state_dict: "
                           f"{unexpected}")
    return missing, unexpected
