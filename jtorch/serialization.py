"""jtorch.save / jtorch.load in PyTorch's own checkpoint format, both ways.

The format (what torch.save writes by default): an uncompressed zip archive `<name>/...` with
    data.pkl                 the object, pickled (protocol 2); every tensor is a call of
                             torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
                             requires_grad, hooks) and every storage a *persistent id*
                             ('storage', torch.FloatStorage, key, location, numel)
    data/<key>               the storage's raw little-endian bytes, 64-byte aligned
    byteorder, version, .format_version, .storage_alignment, .data/serialization_id
jtorch writes this pickle itself (never importing torch): a pure-Python Pickler that names
torch's globals (`torch._utils _rebuild_tensor_v2`, `torch FloatStorage`, `torch float32`,
`torch Size`, `torch device`) and its own zip writer. Views of one base share one storage with
their offset and strides, as torch's views do. Loading maps torch's names back onto jtorch's
objects; `weights_only=True` (the default) goes through the restricted unpickler in
jtorch/_weights_only_unpickler.py. The legacy (pre-1.6, non-zip) format loads and saves too.

A save to a path is atomic: the archive is written to a temporary file in the same directory,
fsynced, then renamed over the target, so an exception or crash midway never leaves a truncated
file there (and an existing file stays intact).
"""
import collections
import contextlib
import io
import os
import pickle
import struct
import sys
import tempfile
import zlib

import numpy as np

from . import _dtype as D
from ._device import device as _device_cls
from . import storage as S
from ._weights_only_unpickler import Unpickler as _WeightsOnlyUnpickler, weights_only_error, _fix_name

__all__ = ["save", "load", "add_safe_globals", "get_safe_globals", "clear_safe_globals", "safe_globals",
           "get_unsafe_globals_in_checkpoint",
           "default_restore_location", "LoadEndianness", "get_default_load_endianness",
           "set_default_load_endianness"]

DEFAULT_PROTOCOL = 2
MAGIC_NUMBER = 0x1950a86a20f9469cfc6c
PROTOCOL_VERSION = 1001
_ALIGN = 64
_ZIP64_LIMIT = 0xFFFFFFFF   # sizes/offsets at or past this need zip64 records
_ZIP64_COUNT = 0xFFFF       # as does an entry count at or past this
_VIEW_TRACE_LIMIT = 1 << 26  # views of bases larger than this are saved as copies (see _view_layout)

# ---------------------------------------------------------------------------------------------
# safe globals (torch.serialization.add_safe_globals & co.)
_SAFE_GLOBALS = []


def _global_name(entry):
    if isinstance(entry, tuple):
        obj, name = entry
        return name, obj
    obj = entry
    return f"{obj.__module__}.{obj.__qualname__}", obj


def add_safe_globals(safe_globals):
    """Allow these globals (classes, functions, or (obj, "module.name") pairs) in weights_only loads."""
    if not isinstance(safe_globals, (list, tuple, set)):
        raise TypeError("add_safe_globals expects a list of globals")
    for g in safe_globals:
        if g not in _SAFE_GLOBALS:
            _SAFE_GLOBALS.append(g)


def get_safe_globals():
    return list(_SAFE_GLOBALS)


def clear_safe_globals():
    _SAFE_GLOBALS.clear()


class safe_globals(contextlib.ContextDecorator):
    """Context manager: the given globals are allowed in weights_only loads inside the block."""

    def __init__(self, safe_globals):
        self.safe_globals = list(safe_globals)

    def __enter__(self):
        self._saved = list(_SAFE_GLOBALS)
        add_safe_globals(self.safe_globals)

    def __exit__(self, *exc):
        _SAFE_GLOBALS[:] = self._saved


def _user_globals():
    return dict(_global_name(g) for g in _SAFE_GLOBALS)


def get_unsafe_globals_in_checkpoint(f):
    """The globals a checkpoint names that a weights_only load would refuse (read, never run)."""
    import pickletools
    import zipfile
    from ._weights_only_unpickler import allowed_globals
    opened = open(os.fspath(f), "rb") if isinstance(f, (str, os.PathLike)) else None
    fh = opened or f
    try:
        start = fh.tell()
        if fh.read(4) != b"PK\x03\x04":
            raise ValueError("Expected input to be a checkpoint returned by torch.save")
        fh.seek(start)
        with zipfile.ZipFile(fh) as zf:
            pkl = next(n for n in zf.namelist() if n.endswith("data.pkl"))
            data = zf.read(pkl)
    finally:
        if opened is not None:
            opened.close()
        else:
            f.seek(start)
    found, strings, memo = [], [], {}
    for op, arg, _pos in pickletools.genops(data):
        if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8"):
            strings.append(arg)
        if op.name in ("BINPUT", "LONG_BINPUT", "PUT") and strings:
            memo[arg] = strings[-1]
        elif op.name in ("BINGET", "LONG_BINGET", "GET") and arg in memo:
            strings.append(memo[arg])
        if op.name == "GLOBAL":
            found.append(tuple(arg.split(" ", 1)))
        elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
            found.append((strings[-2], strings[-1]))
    allowed, user = allowed_globals(), _user_globals()
    out = []
    for module, name in found:
        full = ".".join(_fix_name(module, name))
        if full not in allowed and full not in user and ("j" + full) not in user and full not in out:
            out.append(full)
    return out


class LoadEndianness:
    NATIVE = 1
    LITTLE = 2
    BIG = 3


_load_endianness = [None]


def get_default_load_endianness():
    return _load_endianness[0]


def set_default_load_endianness(endianness):
    _load_endianness[0] = endianness


# ---------------------------------------------------------------------------------------------
# saving
class _G:
    """A global written under torch's name (`torch._utils _rebuild_tensor_v2`) without torch."""
    __slots__ = ("module", "name")

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __repr__(self):
        return f"{self.module}.{self.name}"

    def __call__(self, *args):  # pickle wants a callable; it is only ever written, never called
        raise TypeError(f"{self!r} is a placeholder for torch's global")


_REBUILD_V2 = _G("torch._utils", "_rebuild_tensor_v2")
_REBUILD_V3 = _G("torch._utils", "_rebuild_tensor_v3")
_REBUILD_PARAM = _G("torch._utils", "_rebuild_parameter")
_REBUILD_META = _G("torch._utils", "_rebuild_meta_tensor_no_storage")
_SIZE = _G("torch", "Size")
_DEVICE = _G("torch", "device")
_UNTYPED = _G("torch.storage", "UntypedStorage")
_ODICT = collections.OrderedDict


_STORAGE_GLOBALS = {}


def _storage_global(name):
    g = _STORAGE_GLOBALS.get(name)
    if g is None:
        g = _STORAGE_GLOBALS[name] = _G("torch", name)
    return g


class _StorageRef:
    """One storage to write: a root tensor's whole value as bytes, under a key."""
    __slots__ = ("key", "arr", "dtype", "location")

    def __init__(self, key, arr, dtype, location):
        self.key, self.arr, self.dtype, self.location = key, arr, dtype, location

    def type_global(self):
        name = S.LEGACY_BY_DTYPE.get(self.dtype)
        return _storage_global(name) if name is not None else _UNTYPED

    def numel(self):
        # typed (legacy) storages count elements; UntypedStorage counts bytes
        nb = int(self.arr.nbytes)
        return nb // self.dtype.itemsize if self.dtype in S.LEGACY_BY_DTYPE else nb


class _PlainTensor:
    """The data of a Parameter, pickled as a plain tensor (torch's _rebuild_parameter(data, ...))."""
    __slots__ = ("t",)

    def __init__(self, t):
        self.t = t


def _location(t):
    d = t.device
    if d.type == "cuda":
        return f"cuda:{d.index or 0}"
    return "cpu"  # tpu/xla/meta tensors are written as CPU storages (torch has no such location)


def _contig_strides(shape):
    st, acc = [], 1
    for s in reversed(shape):
        st.append(acc)
        acc *= max(int(s), 1)
    return tuple(reversed(st))


def _parameter_cls_if_loaded():
    m = sys.modules.get("jtorch.nn.parameter")
    return getattr(m, "Parameter", None) if m is not None else None


def _host_array(t):
    a = np.asarray(t._value)
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    return np.ascontiguousarray(a)


def _view_layout(t, root):
    """(offset, strides) of view t inside root's flat storage, or None if it is not strided there."""
    if t.dtype is not root.dtype:
        return None
    if not t._vchain:
        return (0, _contig_strides(t.shape)) if tuple(t.shape) == tuple(root.shape) else None
    n = root.numel()
    if n > _VIEW_TRACE_LIMIT:
        return None  # finding the layout costs an index array as large as the base: save a copy instead
    try:
        import jax.numpy as jnp
        from ._views import view_kernel
        iota = jnp.arange(n, dtype=np.int32 if n < 2 ** 31 else np.int64).reshape(tuple(root.shape))
        pos = np.asarray(view_kernel(t._vchain).jfwd(iota)).astype(np.int64)
    except Exception:  # noqa: BLE001  (a chain the iota trick cannot follow: save a copy instead)
        return None
    shape = tuple(t.shape)
    if pos.shape != shape:
        return None
    if pos.size == 0:
        return 0, _contig_strides(shape)
    offset = int(pos.reshape(-1)[0])
    strides = []
    cs = _contig_strides(shape)
    for d, s in enumerate(shape):
        if s <= 1:
            strides.append(cs[d])
            continue
        idx = [0] * len(shape)
        idx[d] = 1
        strides.append(int(pos[tuple(idx)]) - offset)
    if any(st < 0 for st in strides):
        return None
    expect = np.full(shape, offset, np.int64)
    for d, (s, st) in enumerate(zip(shape, strides)):
        if s > 1:
            expect = expect + (np.arange(s, dtype=np.int64) * st).reshape([s if i == d else 1
                                                                          for i in range(len(shape))])
    if not np.array_equal(expect, pos):
        return None
    return offset, tuple(strides)


class _Pickler(pickle._Pickler):
    """Pure-Python pickler that writes tensors, dtypes, Size and device under torch's names."""

    def __init__(self, file, protocol, legacy=False):
        super().__init__(file, protocol)
        self.storages = {}      # (id(root), dtype) -> _StorageRef
        self.order = []         # _StorageRef in key order
        self._keep = []         # keep roots alive while pickling (ids must stay unique)
        self.legacy = legacy
        from ._tensor import Tensor, Size
        self._Tensor, self._Size = Tensor, Size
        self._Param = _parameter_cls_if_loaded()

    # -- storages as persistent ids ----------------------------------------------------------
    def persistent_id(self, obj):
        if type(obj) is _StorageRef:
            if self.legacy:
                return ("storage", obj.type_global(), obj.key, obj.location, obj.numel(), None)
            return ("storage", obj.type_global(), obj.key, obj.location, obj.numel())
        if isinstance(obj, (S.UntypedStorage, S.TypedStorage)):
            return self.persistent_id(self._storage_of_storage(obj))
        return None

    def _storage_of_storage(self, st):
        key = (id(st), None)
        ref = self.storages.get(key)
        if ref is None:
            dt = st.dtype if isinstance(st, S.TypedStorage) else D.uint8
            arr = np.ascontiguousarray(st._bytes).view(dt.np)
            ref = self._new_ref(key, arr, dt, "cuda:0" if st.device.type == "cuda" else "cpu")
            self._keep.append(st)
        return ref

    def _new_ref(self, key, arr, dtype, location):
        name = str(len(self.order))  # unique per archive (an id() could be reused once arr is freed)
        ref = _StorageRef(name, np.ascontiguousarray(arr).reshape(-1).view(np.uint8), dtype, location)
        self.storages[key] = ref
        self.order.append(ref)
        return ref

    def _storage_for(self, t):
        """(storage ref, offset, strides) for tensor t: views of one root share the root's storage."""
        root = t._base if t._base is not None else t
        layout = _view_layout(t, root) if root is not t else (0, _contig_strides(t.shape))
        if layout is None:
            root, layout = t, (0, _contig_strides(t.shape))
            key = (id(t), "copy")
        else:
            key = (id(root), t.dtype)
        ref = self.storages.get(key)
        if ref is None:
            self._keep.append(root)
            ref = self._new_ref(key, _host_array(root).reshape(-1), t.dtype, _location(root))
        return ref, layout

    def _tensor_reduce(self, t, requires_grad):
        if self.legacy and t.dtype not in S.LEGACY_BY_DTYPE:
            raise RuntimeError(f"the legacy (non-zip) checkpoint format cannot hold {t.dtype} tensors (torch cannot "
                               f"write or read them there either); save with the default zip format")
        if t.is_meta:
            return (_REBUILD_META, (t.dtype, _size_of(t), _contig_strides(t.shape), requires_grad))
        ref, (offset, strides) = self._storage_for(t)
        size = self._Size(tuple(int(s) for s in t.shape))
        if t.dtype in S.LEGACY_BY_DTYPE:
            return (_REBUILD_V2, (ref, offset, size, strides, requires_grad, _ODICT()))
        return (_REBUILD_V3, (ref, offset, size, strides, requires_grad, _ODICT(), t.dtype))

    def reducer_override(self, obj):
        t = type(obj)
        if t is _G or t is D.dtype:
            return "global"
        if isinstance(obj, self._Tensor):
            rg = bool(obj._requires_grad)
            if self._Param is not None and isinstance(obj, self._Param):
                return (_REBUILD_PARAM, (_PlainTensor(obj), rg, _ODICT()))
            return self._tensor_reduce(obj, rg)
        if t is _PlainTensor:
            return self._tensor_reduce(obj.t, False)
        if isinstance(obj, self._Size):
            return (_SIZE, (tuple(int(s) for s in obj),))
        if t is _device_cls:
            return (_DEVICE, (obj.type,) if obj.index is None else (obj.type, obj.index))
        return NotImplemented

    def save_global(self, obj, name=None):
        t = type(obj)
        if t is _G:
            module, name = obj.module, obj.name
        elif t is D.dtype:
            module, name = "torch", obj.name
        else:
            return super().save_global(obj, name)
        self.write(pickle.GLOBAL + module.encode("utf-8") + b"\n" + name.encode("utf-8") + b"\n")
        self.memoize(obj)


def _size_of(t):
    from ._tensor import Size
    return Size(tuple(int(s) for s in t.shape))


class _ZipWriter:
    """A minimal writer of stored (uncompressed) zip archives with 64-byte aligned records, the
    layout torch's PyTorchStreamWriter produces (zip64 records where sizes need them)."""

    def __init__(self, f):
        self.f = f
        self.pos = 0
        self.entries = []

    def _write(self, b):
        self.f.write(b)
        self.pos += len(b) if isinstance(b, (bytes, bytearray)) else memoryview(b).nbytes

    def write_record(self, name, data):
        name_b = name.encode("utf-8")
        mv = memoryview(data).cast("B") if not isinstance(data, (bytes, bytearray)) else memoryview(data)
        size = mv.nbytes
        crc = zlib.crc32(mv) & 0xFFFFFFFF
        offset = self.pos
        zip64 = size >= _ZIP64_LIMIT or offset >= _ZIP64_LIMIT
        extra = struct.pack("<HHQQ", 1, 16, size, size) if zip64 else b""
        hdr_len = 30 + len(name_b) + len(extra)
        pad = (-(offset + hdr_len + 4)) % _ALIGN
        extra += b"FB" + struct.pack("<H", pad) + b"Z" * pad
        s32 = 0xFFFFFFFF if zip64 else size
        self._write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45 if zip64 else 20, 0, 0, 0, 0x21, crc, s32, s32,
                                len(name_b), len(extra)) + name_b + extra)
        self._write(mv)
        self.entries.append((name_b, crc, size, offset))

    def finish(self):
        cd_start = self.pos
        for name_b, crc, size, offset in self.entries:
            big = size >= _ZIP64_LIMIT or offset >= _ZIP64_LIMIT
            extra = struct.pack("<HHQQQ", 1, 24, size, size, offset) if big else b""
            s32 = 0xFFFFFFFF if big else size
            o32 = 0xFFFFFFFF if big else offset
            self._write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45 if big else 20, 45 if big else 20, 0, 0, 0,
                                    0x21, crc, s32, s32, len(name_b), len(extra), 0, 0, 0, 0, o32)
                        + name_b + extra)
        cd_size = self.pos - cd_start
        n = len(self.entries)
        if n >= _ZIP64_COUNT or cd_start >= _ZIP64_LIMIT or cd_size >= _ZIP64_LIMIT:
            eocd64 = self.pos
            self._write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, cd_size, cd_start))
            self._write(struct.pack("<IIQI", 0x07064B50, 0, eocd64, 1))
            n16 = n if n < _ZIP64_COUNT else 0xFFFF
            self._write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n16, n16,
                                    cd_size if cd_size < _ZIP64_LIMIT else 0xFFFFFFFF,
                                    cd_start if cd_start < _ZIP64_LIMIT else 0xFFFFFFFF, 0))
        else:
            self._write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, cd_size, cd_start, 0))


def _pickle_obj(obj, protocol, legacy=False):
    buf = io.BytesIO()
    p = _Pickler(buf, protocol, legacy=legacy)
    p.dump(obj)
    return buf.getvalue(), p.order


def _write_zip(f, name, obj, protocol, disable_byteorder=False):
    data_pkl, storages = _pickle_obj(obj, protocol)   # fails here, before a byte is written
    w = _ZipWriter(f)
    w.write_record(f"{name}/data.pkl", data_pkl)
    w.write_record(f"{name}/.format_version", b"1")
    w.write_record(f"{name}/.storage_alignment", b"64")
    if not disable_byteorder:
        w.write_record(f"{name}/byteorder", b"little")
    for ref in storages:
        w.write_record(f"{name}/data/{ref.key}", ref.arr)
    w.write_record(f"{name}/version", b"3\n")
    w.write_record(f"{name}/.data/serialization_id", str(int.from_bytes(os.urandom(16), "little")).zfill(40)
                   .encode())
    w.finish()


def _write_legacy(f, obj, protocol):
    data_pkl, storages = _pickle_obj(obj, protocol, legacy=True)
    out = io.BytesIO()
    pickle.dump(MAGIC_NUMBER, out, protocol=protocol)
    pickle.dump(PROTOCOL_VERSION, out, protocol=protocol)
    pickle.dump({"protocol_version": PROTOCOL_VERSION, "little_endian": True,
                 "type_sizes": {"short": 2, "int": 4, "long": 4}}, out, protocol=protocol)
    f.write(out.getvalue())
    f.write(data_pkl)
    f.write(pickle.dumps([r.key for r in storages], protocol=protocol))
    for r in storages:
        f.write(struct.pack("<q", r.numel()))
        f.write(memoryview(np.ascontiguousarray(r.arr)).cast("B"))


def save(obj, f, pickle_module=pickle, pickle_protocol=DEFAULT_PROTOCOL, _use_new_zipfile_serialization=True,
         _disable_byteorder_record=False):
    """torch.save: write obj in PyTorch's checkpoint format (zip by default) to a path or file object."""
    if pickle_protocol not in (2, 3, 4, 5):
        # protocol 0/1 cannot express the pure-Python pickler's output for torch readers reliably
        raise ValueError(f"jtorch.save supports pickle_protocol 2 to 5, got {pickle_protocol}")

    def write(fh, name):
        if _use_new_zipfile_serialization:
            _write_zip(fh, name, obj, pickle_protocol, _disable_byteorder_record)
        else:
            _write_legacy(fh, obj, pickle_protocol)

    if isinstance(f, (str, os.PathLike)):
        path = os.fspath(f)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        name = os.path.splitext(os.path.basename(path))[0] or "archive"
        # pickle first: an unpicklable object raises before any file is created or touched
        buf = _SpooledOutput()
        write(buf, _archive_name(name))
        _atomic_write(path, buf)
    else:
        if not hasattr(f, "write"):
            raise AttributeError(f"'{type(f).__name__}' object has no attribute 'write'")
        buf = _SpooledOutput()
        write(buf, "archive")
        buf.copy_to(f)
        if hasattr(f, "flush"):
            f.flush()


def _archive_name(name):
    # torch keeps the file's stem; keep it to characters every zip reader accepts
    return "".join(c if (c.isalnum() or c in "._-") else "_" for c in name) or "archive"


class _SpooledOutput:
    """Collects the archive's chunks (numpy storages by reference) so nothing touches the target
    before the whole object has been pickled."""

    def __init__(self):
        self.chunks = []

    def write(self, b):
        self.chunks.append(b)
        return len(b) if isinstance(b, (bytes, bytearray)) else memoryview(b).nbytes

    def copy_to(self, f):
        for c in self.chunks:
            f.write(c)


def _atomic_write(path, buf):
    path = os.path.realpath(path)  # write through a symlink, as open() would, instead of replacing it
    d = os.path.dirname(path)
    if not os.path.isdir(d):
        raise RuntimeError(f"Parent directory {d} does not exist.")
    if os.path.isdir(path):
        raise RuntimeError(f"open file failed with strerror: Is a directory ({path})")
    try:
        fd, tmp = tempfile.mkstemp(dir=d, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    except PermissionError:
        # a writable file in a read-only directory: no temporary file possible, write in place
        with open(path, "wb") as fh:
            buf.copy_to(fh)
        return
    try:
        with os.fdopen(fd, "wb") as fh:
            buf.copy_to(fh)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            mode = os.stat(path).st_mode & 0o7777
        except FileNotFoundError:
            um = os.umask(0)
            os.umask(um)
            mode = 0o666 & ~um
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dfd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


# ---------------------------------------------------------------------------------------------
# loading: rebuild functions (torch._utils.* names map here)
REBUILD_FUNCTIONS = ("_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_parameter",
                     "_rebuild_parameter_with_state", "_rebuild_meta_tensor_no_storage",
                     "_rebuild_device_tensor_from_numpy", "_rebuild_sparse_tensor", "_rebuild_nested_tensor",
                     "_rebuild_sparse_csr_tensor", "_rebuild_qtensor", "_rebuild_wrapper_subclass",
                     "_rebuild_xla_tensor", "_rebuild_mtia_tensor", "_rebuild_device_tensor_from_cpu_tensor")


def _parameter_class():
    try:
        from .nn.parameter import Parameter
        return Parameter
    except Exception:  # noqa: BLE001  (jtorch.nn not there: a Parameter loads as a tensor needing grad)
        return None


def _param_placeholder():
    return _parameter_class() or _ParameterFallback


_param_placeholder._resolve_lazily = True  # the weights-only allow-list resolves it at load time


class _ParameterFallback:
    def __new__(cls, data=None, requires_grad=True):
        return _rebuild_parameter(data, requires_grad, None)


def _tensor_from_storage(storage, offset, size, stride, dtype):
    from ._tensor import wrap
    from ._device import jax_device
    import jax
    size = tuple(int(s) for s in size)
    stride = tuple(int(s) for s in stride)
    if dtype is None:
        dtype = storage.dtype
    raw = storage._bytes
    isz = dtype.itemsize
    n = int(np.prod(size, dtype=np.int64)) if size else 1
    if n > 0:
        last = offset + sum((s - 1) * st for s, st in zip(size, stride))
        if offset < 0 or (last + 1) * isz > raw.size or any(st < 0 for st in stride):
            raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage offset {offset}, "
                               f"and itemsize {isz} requiring a storage size of {(last + 1) * isz} are out of bounds "
                               f"for storage of size {raw.size}")
    usable = np.ascontiguousarray(raw[: (raw.size // isz) * isz])
    if n == 0:
        arr = np.zeros(size, dtype.np)
    else:
        # stride on opaque items of the right width (numpy's as_strided rejects ml_dtypes such as
        # float8), copy out, then reinterpret as the dtype
        flat = usable.view(np.dtype((np.void, isz)))
        arr = np.lib.stride_tricks.as_strided(flat[offset:], shape=size, strides=tuple(st * isz for st in stride))
        arr = np.array(arr, copy=True, order="C").view(dtype.np)
    dev = storage.device
    if dev.type == "meta":
        from . import _creation
        return _creation.empty(size, dtype=dtype, device="meta")
    return wrap(jax.device_put(arr, jax_device(dev)))


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _tensor_from_storage(storage, storage_offset, size, stride, None)


def _set_requires_grad(t, requires_grad):
    if requires_grad and (t.dtype.is_floating_point or t.dtype.is_complex):
        t._requires_grad = True
    return t


def _apply_metadata(t, metadata):
    # torch pickles lazy conj/neg views with their bits in `metadata`; jtorch resolves them
    if metadata:
        from ._tensor import wrap
        import jax.numpy as jnp
        a = t._value
        if metadata.get("conj"):
            a = jnp.conj(a)
        if metadata.get("neg"):
            a = -a
        t = wrap(a)
    return t


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None):
    t = _apply_metadata(_tensor_from_storage(storage, storage_offset, size, stride, None), metadata)
    return _set_requires_grad(t, requires_grad)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype, metadata=None):
    t = _apply_metadata(_tensor_from_storage(storage, storage_offset, size, stride, dtype), metadata)
    return _set_requires_grad(t, requires_grad)


def _rebuild_parameter(data, requires_grad, backward_hooks):
    P = _parameter_class()
    if P is not None:
        return P(data, requires_grad)
    return _set_requires_grad(data, requires_grad)


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    p = _rebuild_parameter(data, requires_grad, backward_hooks)
    _set_state(p, state)
    return p


def _set_state(obj, state):
    """A tensor's Python attributes (t.foo = ...) from a checkpoint; never dunders or jtorch's
    own internals, whatever the pickle says."""
    if not state:
        return obj
    from ._tensor import _STATE_KEYS
    items = []
    if isinstance(state, tuple) and len(state) == 2:
        for src in state:
            if isinstance(src, dict):
                items.extend(src.items())
    elif isinstance(state, dict):
        items.extend(state.items())
    for k, v in items:
        if not isinstance(k, str) or k.startswith("__") or k in _STATE_KEYS or k == "_data":
            continue
        setattr(obj, k, v)
    return obj


def _rebuild_from_type_v2(func, new_type, args, state):
    ret = func(*args)
    from ._tensor import Tensor
    if new_type is not None and isinstance(new_type, type) and type(ret) is not new_type \
            and issubclass(new_type, Tensor) and new_type is not Tensor:
        t = object.__new__(new_type)
        t.__dict__.update(ret.__dict__)
        ret = t
    return _set_state(ret, state)


def _rebuild_meta_tensor_no_storage(dtype, size, stride, requires_grad):
    from . import _creation
    t = _creation.empty(tuple(size), dtype=dtype, device="meta")
    return _set_requires_grad(t, requires_grad)


def _rebuild_device_tensor_from_numpy(data, dtype, device, requires_grad):
    from ._tensor import wrap
    from ._device import jax_device, as_device
    import jax
    t = wrap(jax.device_put(np.asarray(data).astype(dtype.np), jax_device(as_device(device))))
    return _set_requires_grad(t, requires_grad)


def _rebuild_device_tensor_from_cpu_tensor(data, dtype, device, requires_grad):
    t = data.to(device=device, dtype=dtype)
    return _set_requires_grad(t, requires_grad)


def _unsupported(kind):
    def f(*args, **kwargs):
        raise RuntimeError(f"jtorch.load: {kind} tensors are not supported by jtorch")
    f.__name__ = "_rebuild_" + kind
    return f


_rebuild_sparse_tensor = _unsupported("sparse")
_rebuild_sparse_csr_tensor = _unsupported("sparse_csr")
_rebuild_nested_tensor = _unsupported("nested")
_rebuild_qtensor = _unsupported("quantized")
_rebuild_wrapper_subclass = _unsupported("wrapper subclass")
_rebuild_xla_tensor = _unsupported("xla")
_rebuild_mtia_tensor = _unsupported("mtia")


# ---------------------------------------------------------------------------------------------
# loading: map_location and storages
def default_restore_location(storage, location):
    return storage._with_device(_parse_location(location))


def _parse_location(location):
    if isinstance(location, _device_cls):
        return location
    loc = str(location)
    if loc.startswith("cuda"):
        from . import cuda
        if not cuda.is_available():
            raise RuntimeError("Attempting to deserialize object on a CUDA device but torch.cuda.is_available() is "
                               "False. If you are running on a CPU-only machine, please use torch.load with "
                               "map_location=torch.device('cpu') to map your storages to the CPU.")
    try:
        return _device_cls(loc)
    except RuntimeError:
        raise RuntimeError(f"don't know how to restore data location of {type(location).__name__} (tagged with "
                           f"{location})") from None


def _restore(map_location):
    if map_location is None:
        return default_restore_location
    if isinstance(map_location, dict):
        def restore(storage, location):
            loc = map_location.get(location, location)
            return default_restore_location(storage, loc)
        return restore
    if isinstance(map_location, (str, bytes)):
        dev = _parse_location(map_location.decode() if isinstance(map_location, bytes) else map_location)
        return lambda storage, location: storage._with_device(dev)
    if isinstance(map_location, _device_cls):
        dev = _parse_location(map_location)
        return lambda storage, location: storage._with_device(dev)
    if callable(map_location):
        def restore(storage, location):
            r = map_location(storage, location)
            if r is None:
                r = default_restore_location(storage, location)
            return r
        return restore
    raise TypeError(f"map_location must be None, a str, a torch.device, a dict or a callable, got "
                    f"{type(map_location).__name__}")


def _storage_dtype(storage_type):
    if isinstance(storage_type, type) and issubclass(storage_type, S.TypedStorage) and storage_type.dtype:
        return storage_type.dtype
    if isinstance(storage_type, type) and issubclass(storage_type, S.UntypedStorage):
        return None
    if isinstance(storage_type, D.dtype):
        return storage_type
    raise RuntimeError(f"jtorch.load: unsupported storage type {storage_type!r}")


def _make_storage(raw, dtype, location, restore, swap=False):
    st = S.UntypedStorage(raw, device="cpu")
    if swap and dtype is not None and dtype.itemsize > 1:
        st = S.UntypedStorage(np.ascontiguousarray(raw).view(dtype.np).byteswap().view(np.uint8), device="cpu")
    if dtype is not None:
        st = S.TypedStorage(wrap_storage=st, dtype=dtype)
    out = restore(st, location)
    if isinstance(out, S.UntypedStorage) and dtype is not None:
        out = S.TypedStorage(wrap_storage=out, dtype=dtype)
    return out


# ---------------------------------------------------------------------------------------------
# loading: unpicklers
_TORCH_REDIRECTS = None


def _torch_redirects():
    global _TORCH_REDIRECTS
    if _TORCH_REDIRECTS is None:
        from ._weights_only_unpickler import allowed_globals
        _TORCH_REDIRECTS = {k: v for k, v in allowed_globals().items() if k.startswith("torch")}
    return _TORCH_REDIRECTS


class _FullUnpickler(pickle.Unpickler):
    """weights_only=False: any global, with torch's names mapped onto jtorch's objects."""

    def find_class(self, module, name):
        module, name = _fix_name(module, name)
        full = f"{module}.{name}"
        red = _torch_redirects().get(full)
        if red is not None:
            if getattr(red, "_resolve_lazily", False):
                return red()
            return red
        if module == "torch" or module.startswith("torch."):
            import importlib
            try:
                mod = importlib.import_module("j" + module)
                return getattr(mod, name)
            except (ImportError, AttributeError):
                raise pickle.UnpicklingError(
                    f"jtorch.load: the checkpoint needs {full}, which jtorch does not provide "
                    f"(looked for j{full})") from None
        return super().find_class(module, name)


def _unpickler(data_file, weights_only, persistent_load, pickle_module, encoding):
    if weights_only:
        return _WeightsOnlyUnpickler(data_file, persistent_load=persistent_load, user_globals=_user_globals(),
                                     encoding=encoding)
    if pickle_module is not None and pickle_module is not pickle:
        u = pickle_module.Unpickler(data_file, encoding=encoding)
        u.persistent_load = persistent_load
        return u
    u = _FullUnpickler(data_file, encoding=encoding)
    u.persistent_load = persistent_load
    return u


def _unpickle(u, weights_only):
    try:
        return u.load()
    except pickle.UnpicklingError as e:
        if weights_only and not str(e).startswith("Weights only load failed"):
            raise weights_only_error(f"\n\n{e}") from None
        raise


def _load_zip(zf, restore, weights_only, pickle_module, encoding, mmap_file=None):
    names = zf.namelist()
    if not names:
        raise RuntimeError("PytorchStreamReader failed locating file data.pkl: file not found")
    prefix = names[0].split("/", 1)[0] if "/" in names[0] else ""
    pre = prefix + "/" if prefix else ""
    nameset = set(names)

    def read(rec):
        full = pre + rec
        if full not in nameset:
            raise RuntimeError(f"PytorchStreamReader failed locating file {rec}: file not found")
        try:
            return zf.read(full)
        except Exception as e:  # noqa: BLE001  (bad CRC, truncated member...)
            raise RuntimeError(f"PytorchStreamReader failed reading file {rec}: invalid header or archive is "
                               f"corrupted ({e})") from None

    swap = False
    if pre + "byteorder" in nameset:
        order = read("byteorder").decode().strip()
        if order not in ("little", "big"):
            raise RuntimeError(f"Unknown endianness type: {order}")
        swap = (order != sys.byteorder)
    elif _load_endianness[0] == LoadEndianness.BIG:
        swap = sys.byteorder == "little"
    data_pkl = read("data.pkl")
    loaded = {}

    def raw_record(key):
        rec = f"data/{key}"
        if mmap_file is not None and pre + rec in nameset:
            info = zf.getinfo(pre + rec)
            if info.compress_type == 0:
                return _mmap_member(mmap_file, info)
        return np.frombuffer(read(rec), np.uint8)

    def persistent_load(pid):
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            raise pickle.UnpicklingError(f"jtorch.load: unknown persistent id {pid!r}")
        _, storage_type, key, location, numel = pid[:5]
        dtype = _storage_dtype(storage_type)
        cache_key = (key, dtype)
        st = loaded.get(cache_key)
        if st is None:
            st = _make_storage(raw_record(key), dtype, location, restore, swap)
            loaded[cache_key] = st
        return st

    u = _unpickler(io.BytesIO(data_pkl), weights_only, persistent_load, pickle_module, encoding)
    return _unpickle(u, weights_only)


def _mmap_member(mm, info):
    off = info.header_offset
    hdr = bytes(mm[off:off + 30])
    if hdr[:4] != b"PK\x03\x04":
        raise RuntimeError(f"PytorchStreamReader failed reading file {info.filename}: invalid header or archive is "
                           f"corrupted")
    nlen, elen = struct.unpack("<HH", hdr[26:30])
    start = off + 30 + nlen + elen
    if start + info.file_size > mm.size:
        raise RuntimeError(f"PytorchStreamReader failed reading file {info.filename}: file is truncated")
    return mm[start:start + info.file_size]


def _load_legacy(f, restore, weights_only, pickle_module, encoding):
    """The pre-1.6 format: magic, protocol, sys info, the object pickle, its storage keys, the data."""
    def small(what):
        u = _WeightsOnlyUnpickler(f, encoding=encoding)
        try:
            return u.load()
        except EOFError:
            raise
        except Exception as e:  # noqa: BLE001
            if isinstance(e, pickle.UnpicklingError) and weights_only:
                raise
            raise RuntimeError(f"Invalid {what} in checkpoint; corrupt file? ({e})") from None

    magic = small("magic number")
    if magic != MAGIC_NUMBER:
        raise RuntimeError("Invalid magic number; corrupt file?")
    proto = small("protocol version")
    if proto != PROTOCOL_VERSION:
        raise RuntimeError(f"Invalid protocol version: {proto}")
    sys_info = small("system info")
    little = sys_info.get("little_endian", True) if isinstance(sys_info, dict) else True
    swap = little != (sys.byteorder == "little")
    main_start = f.tell()
    # skip the main pickle without running it: the storages' bytes come after it
    import pickletools
    try:
        for _op, _arg, _pos in pickletools.genops(f):
            pass
    except Exception as e:  # noqa: BLE001
        raise RuntimeError(f"jtorch.load: corrupt legacy checkpoint ({e})") from None
    keys = small("storage key list")
    if not isinstance(keys, list):
        raise RuntimeError("jtorch.load: corrupt legacy checkpoint (bad storage key list)")
    # the typed storages' element sizes are in the main pickle's persistent ids: collect them first
    f.seek(main_start)
    elsize = {}

    def scan_pid(pid):
        _, storage_type, key, location, numel = pid[:5]
        dt = _storage_dtype(storage_type)
        elsize[str(key)] = dt.itemsize if dt is not None else 1
        return None

    class _Scan(_WeightsOnlyUnpickler):
        def find_class(self, module, name):
            module, name = _fix_name(module, name)
            if module == "torch" and name in S.LEGACY_CLASSES:
                return S.LEGACY_CLASSES[name]
            if f"{module}.{name}" in ("torch.storage.UntypedStorage", "torch.UntypedStorage"):
                return S.UntypedStorage
            return _Anything

    try:
        _Scan(f, persistent_load=scan_pid, encoding=encoding).load()
    except Exception:  # noqa: BLE001  (only the ids matter; anything else is checked by the real load)
        pass
    f.seek(main_start)
    for _ in pickletools.genops(f):
        pass
    small("storage key list")
    raws = {}
    for key in keys:
        hdr = f.read(8)
        if len(hdr) != 8:
            raise RuntimeError("jtorch.load: legacy checkpoint is truncated (storage data missing)")
        (n,) = struct.unpack("<q" if little else ">q", hdr)
        nbytes = n * elsize.get(str(key), 1)
        raw = f.read(nbytes)
        if len(raw) != nbytes:
            raise RuntimeError("jtorch.load: legacy checkpoint is truncated (storage data missing)")
        raws[str(key)] = np.frombuffer(raw, np.uint8)
    end = f.tell()
    loaded = {}

    def persistent_load(pid):
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            raise pickle.UnpicklingError(f"jtorch.load: unknown persistent id {pid!r}")
        _, storage_type, key, location, numel = pid[:5]
        view_meta = pid[5] if len(pid) > 5 else None
        dtype = _storage_dtype(storage_type)
        st = loaded.get(str(key))
        if st is None:
            if str(key) not in raws:
                raise RuntimeError(f"jtorch.load: storage {key} is missing from the checkpoint")
            st = _make_storage(raws[str(key)], dtype, location, restore, swap)
            loaded[str(key)] = st
        if view_meta is not None:
            view_key, offset, view_size = view_meta
            isz = dtype.itemsize if dtype is not None else 1
            sub = S.UntypedStorage(st._bytes[offset * isz:(offset + view_size) * isz], device=st.device)
            st = S.TypedStorage(wrap_storage=sub, dtype=dtype) if dtype is not None else sub
        return st

    f.seek(main_start)
    u = _unpickler(f, weights_only, persistent_load, pickle_module, encoding)
    result = _unpickle(u, weights_only)
    f.seek(end)
    return result


class _Anything:
    """Stands for every object while the legacy loader scans a pickle for its storage ids: it
    accepts any construction, item, append or state, and runs nothing."""

    def __init__(self, *a, **k):
        pass

    def __call__(self, *a, **k):
        return self

    def __setstate__(self, state):
        pass

    def __setitem__(self, k, v):
        pass

    def append(self, v):
        pass

    def extend(self, vs):
        pass


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None, **pickle_load_args):
    """torch.load: read a checkpoint written by torch.save or jtorch.save into jtorch objects."""
    if weights_only is None:
        env = os.environ.get("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "0") not in ("0", "")
        weights_only = not env and (pickle_module is None or pickle_module is pickle)
    elif weights_only and pickle_module is not None and pickle_module is not pickle:
        raise RuntimeError("Can not safely load weights when explicit pickle_module is specified")
    encoding = pickle_load_args.pop("encoding", "utf-8")
    if pickle_load_args:
        raise TypeError(f"load() got an unexpected keyword argument '{next(iter(pickle_load_args))}'")
    restore = _restore(map_location)
    opened = None
    if isinstance(f, (str, os.PathLike, bytes)):
        opened = open(os.fspath(f), "rb")
        fh = opened
    else:
        fh = f
        if not (hasattr(fh, "read") and hasattr(fh, "seek")):
            raise AttributeError(f"'{type(f).__name__}' object has no attribute 'read' or 'seek'")
        try:
            fh.tell()
            seekable = fh.seekable() if hasattr(fh, "seekable") else True
        except (OSError, io.UnsupportedOperation):
            seekable = False
        if not seekable:
            fh = io.BytesIO(fh.read())
    try:
        start = fh.tell()
        head = fh.read(4)
        fh.seek(start)
        if not head:
            raise EOFError("Ran out of input")
        if head == b"PK\x03\x04":
            import zipfile
            mm = None
            if mmap:
                if opened is None:
                    raise ValueError("f must be a file path in order to use the mmap argument")
                try:
                    mm = np.memmap(opened.name, dtype=np.uint8, mode="r")
                except (ValueError, OSError):
                    mm = None
            try:
                zf = zipfile.ZipFile(fh)
            except (zipfile.BadZipFile, OSError, EOFError, struct.error, ValueError) as e:
                raise RuntimeError("PytorchStreamReader failed reading zip archive: failed finding central "
                                   "directory. This is an internal miniz error. If you are seeing this error, there is "
                                   "a high likelihood that your checkpoint file is corrupted. This can happen if the "
                                   "checkpoint was not saved properly, was transferred incorrectly, or the file was "
                                   f"modified after saving. ({e})") from None
            if mm is not None and start != 0:
                mm = None
            with zf:
                return _load_zip(zf, restore, weights_only, pickle_module, encoding, mmap_file=mm)
        if mmap:
            raise RuntimeError("mmap can only be used with files saved with `torch.save(_use_new_zipfile_serialization"
                               "=True), please torch.save your checkpoint with this option in order to use mmap.")
        return _load_legacy(fh, restore, weights_only, pickle_module, encoding)
    finally:
        if opened is not None:
            opened.close()
