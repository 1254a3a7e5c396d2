"""jtorch.save / jtorch.load against real torch.save / torch.load (and .safetensors both ways).

Every test crosses the boundary: what jtorch writes is read by real torch (weights_only=True, its
default) and what torch writes is read by jtorch; values are compared bit for bit."""
import collections
import io
import os
import pathlib
import pickle
import struct
import zipfile

import numpy as np
import pytest
import torch

import jtorch
from oracle import assert_same, same_error, to_j

# every dtype both libraries share (torch name, numpy dtype via jtorch)
DTYPES = ["bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64", "float16", "bfloat16",
          "float32", "float64", "complex64", "complex128", "float8_e4m3fn", "float8_e5m2"]


def _raw(n, name, seed):
    jd = getattr(jtorch, name)
    rng = np.random.default_rng(seed)
    if name == "bool":
        return rng.integers(0, 2, n).astype(bool)
    return np.frombuffer(rng.bytes(n * jd.itemsize), jd.np).copy()


def _pair(name, shape=(2, 3), seed=0):
    """The same random bits as a torch tensor and a jtorch tensor."""
    n = int(np.prod(shape))
    a = _raw(n, name, seed).reshape(shape)
    t = torch.frombuffer(bytearray(a.tobytes()), dtype=getattr(torch, name)).reshape(shape) if n else \
        torch.empty(shape, dtype=getattr(torch, name))
    return t, jtorch.from_numpy(a)


def _bits_t(t):
    return t.detach().reshape(-1).contiguous().view(torch.uint8).numpy().tobytes()


def _bits_j(j):
    return np.ascontiguousarray(np.asarray(j.detach()._value)).reshape(-1).view(np.uint8).tobytes()


def assert_bits(j, t, msg=""):
    """jtorch tensor j and torch tensor t: same dtype, shape, bits and requires_grad."""
    assert isinstance(j, jtorch.Tensor), f"{msg}: got {type(j).__name__}"
    assert isinstance(t, torch.Tensor), f"{msg}: got {type(t).__name__}"
    assert repr(j.dtype) == str(t.dtype), f"{msg}: dtype {j.dtype} != {t.dtype}"
    assert tuple(j.shape) == tuple(t.shape), f"{msg}: shape {tuple(j.shape)} != {tuple(t.shape)}"
    assert _bits_j(j) == _bits_t(t), f"{msg}: values differ"
    assert j.requires_grad == t.requires_grad, f"{msg}: requires_grad {j.requires_grad} != {t.requires_grad}"


def assert_tree(j, t, path="obj"):
    """Structures equal recursively; tensors bit-equal; container types kept."""
    if isinstance(t, torch.Tensor):
        assert_bits(j, t, path)
    elif isinstance(t, dict):
        assert type(j).__name__ == type(t).__name__, f"{path}: {type(j).__name__} != {type(t).__name__}"
        assert list(j.keys()) == list(t.keys()), f"{path}: keys differ"
        for k in t:
            assert_tree(j[k], t[k], f"{path}[{k!r}]")
    elif isinstance(t, torch.Size):
        assert isinstance(j, jtorch.Size) and tuple(j) == tuple(t), path
    elif isinstance(t, (list, tuple)):
        assert type(j) is type(t) and len(j) == len(t), f"{path}: {type(j).__name__}/{type(t).__name__}"
        for i, (a, b) in enumerate(zip(j, t)):
            assert_tree(a, b, f"{path}[{i}]")
    elif isinstance(t, torch.dtype):
        assert repr(j) == str(t), path
    elif isinstance(t, torch.device):
        assert isinstance(j, jtorch.device) and str(j) == str(t), path
    else:
        assert type(j) is type(t) and (j == t or (j != j and t != t)), f"{path}: {j!r} != {t!r}"


@pytest.fixture
def pairs():
    return {name: _pair(name, seed=i) for i, name in enumerate(DTYPES)}


# ------------------------------------------------------------------------------- both directions
def test_jtorch_save_torch_load_every_dtype(tmp_path, pairs):
    p = tmp_path / "j.pt"
    jtorch.save({k: j for k, (t, j) in pairs.items()}, p)
    out = torch.load(p)  # weights_only=True: torch's default
    assert list(out) == DTYPES
    for k, (t, j) in pairs.items():
        assert_bits(j, out[k], k)


def test_torch_save_jtorch_load_every_dtype(tmp_path, pairs):
    p = tmp_path / "t.pt"
    torch.save({k: t for k, (t, j) in pairs.items()}, p)
    out = jtorch.load(p)
    for k, (t, j) in pairs.items():
        assert_bits(out[k], t, k)


def test_round_trip_jtorch_torch_jtorch(tmp_path, pairs):
    obj = {k: j for k, (t, j) in pairs.items()}
    jtorch.save(obj, tmp_path / "a.pt")
    torch.save(torch.load(tmp_path / "a.pt"), tmp_path / "b.pt")
    back = jtorch.load(tmp_path / "b.pt")
    for k, (t, j) in pairs.items():
        assert_bits(back[k], t, k)
        assert _bits_j(back[k]) == _bits_j(j)


def test_round_trip_torch_jtorch_torch(tmp_path):
    obj = collections.OrderedDict(w=torch.randn(3, 4), b=torch.zeros(4, dtype=torch.float64), n=torch.tensor(7),
                                  h=torch.randn(2, 2).to(torch.bfloat16))
    torch.save(obj, tmp_path / "a.pt")
    jtorch.save(jtorch.load(tmp_path / "a.pt"), tmp_path / "b.pt")
    back = torch.load(tmp_path / "b.pt")
    assert type(back) is collections.OrderedDict
    for k in obj:
        assert torch.equal(back[k], obj[k]) and back[k].dtype == obj[k].dtype


def test_containers_and_python_values(tmp_path):
    t_obj = {
        "od": collections.OrderedDict([("z", torch.ones(2)), ("a", torch.arange(3))]),
        "nested": [1, (2.5, "s", [torch.zeros(1, 2)]), {"k": None, "b": True}],
        "size": torch.Size([3, 4]), "dtype": torch.bfloat16, "dev": torch.device("cpu"),
        "scalar0d": torch.tensor(3.25, dtype=torch.float64), "empty": torch.zeros(0, 3),
        "set": {1, 2}, "bytes": b"\x00\xffab", "complex": 1 + 2j, "big": 2 ** 70, "tuple": (), "inf": float("inf"),
    }
    torch.save(t_obj, tmp_path / "t.pt")
    assert_tree(jtorch.load(tmp_path / "t.pt"), t_obj)
    # and what jtorch writes from the jtorch equivalent, torch reads identically
    j_obj = jtorch.load(tmp_path / "t.pt")
    jtorch.save(j_obj, tmp_path / "j.pt")
    assert_tree(j_obj, torch.load(tmp_path / "j.pt"))


def test_requires_grad_and_parameters(tmp_path):
    pytest.importorskip("jtorch.nn.parameter")
    from jtorch.nn.parameter import Parameter
    j = {"p": Parameter(jtorch.ones(2, 2)), "frozen": Parameter(jtorch.ones(2), requires_grad=False),
         "leaf": jtorch.ones(3).requires_grad_(), "plain": jtorch.ones(3)}
    jtorch.save(j, tmp_path / "j.pt")
    t = torch.load(tmp_path / "j.pt")
    assert type(t["p"]) is torch.nn.Parameter and t["p"].requires_grad
    assert type(t["frozen"]) is torch.nn.Parameter and not t["frozen"].requires_grad
    assert type(t["leaf"]) is torch.Tensor and t["leaf"].requires_grad
    assert not t["plain"].requires_grad
    torch.save(t, tmp_path / "t.pt")
    back = jtorch.load(tmp_path / "t.pt")
    assert type(back["p"]) is Parameter and back["p"].requires_grad
    assert type(back["frozen"]) is Parameter and not back["frozen"].requires_grad
    assert type(back["leaf"]) is jtorch.Tensor and back["leaf"].requires_grad and back["leaf"].is_leaf
    assert not back["plain"].requires_grad


def test_same_object_twice_stays_one_object(tmp_path):
    x = jtorch.randn(3)
    jtorch.save([x, x], tmp_path / "j.pt")
    t = torch.load(tmp_path / "j.pt")
    assert t[0] is t[1]
    y = torch.randn(3)
    torch.save([y, y], tmp_path / "t.pt")
    j = jtorch.load(tmp_path / "t.pt")
    assert j[0] is j[1]


# ---------------------------------------------------------------------------------------- views
def test_views_share_storage_in_torch(tmp_path):
    x = jtorch.arange(24, dtype=jtorch.float32).reshape(4, 6)
    views = {"x": x, "rows": x[1:3], "step": x[:, 1::2], "col": x[:, 2], "t": x.t(), "det": x.detach(),
             "other": jtorch.ones(2)}
    jtorch.save(views, tmp_path / "v.pt")
    t = torch.load(tmp_path / "v.pt")
    tx = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    ref = {"x": tx, "rows": tx[1:3], "step": tx[:, 1::2], "col": tx[:, 2], "t": tx.t(), "det": tx}
    for k, r in ref.items():
        assert torch.equal(t[k], r), k
        assert t[k].untyped_storage().data_ptr() == t["x"].untyped_storage().data_ptr(), k
        assert t[k].stride() == r.stride() and t[k].storage_offset() == r.storage_offset(), k
    assert t["other"].untyped_storage().data_ptr() != t["x"].untyped_storage().data_ptr()
    with zipfile.ZipFile(tmp_path / "v.pt") as z:
        assert sorted(n for n in z.namelist() if "/data/" in n) == ["v/data/0", "v/data/1"]
    t["rows"][0, 0] = 100.0  # torch's views really alias
    assert t["x"][1, 0] == 100.0


def test_torch_views_load_with_offsets_and_strides(tmp_path):
    x = torch.arange(60, dtype=torch.int32).reshape(3, 4, 5)
    views = {"x": x, "a": x[1:, ::2, 1:4], "b": x.permute(2, 0, 1), "c": x[2, 3], "d": x[..., -1],
             "e": x.reshape(12, 5)[5:7], "f": x.flatten()[7:8].view(())}
    torch.save(views, tmp_path / "t.pt")
    out = jtorch.load(tmp_path / "t.pt")
    for k, v in views.items():
        assert_bits(out[k], v, k)


def test_view_alone_saves_torchs_whole_storage(tmp_path):
    x = jtorch.arange(10.0)
    jtorch.save(x[7:9], tmp_path / "v.pt")
    t = torch.load(tmp_path / "v.pt")
    assert torch.equal(t, torch.tensor([7.0, 8.0])) and t.storage_offset() == 7
    assert t.untyped_storage().nbytes() == 40  # torch keeps the whole storage of a view too


# --------------------------------------------------------------------------------- map_location
def test_map_location_forms(tmp_path):
    torch.save({"w": torch.ones(2)}, tmp_path / "t.pt")
    seen = []

    def fn(storage, loc):
        seen.append(loc)
        return storage

    for ml in [None, "cpu", jtorch.device("cpu"), {"cpu": "cpu"}, fn, lambda s, loc: None]:
        out = jtorch.load(tmp_path / "t.pt", map_location=ml)
        assert out["w"].device == jtorch.device("cpu")
        assert_bits(out["w"], torch.ones(2))
    assert seen == ["cpu"]


def _save_with_location(obj, path, location):
    from jtorch import serialization as S
    old = S._location
    S._location = lambda t: location
    try:
        jtorch.save(obj, path)
    finally:
        S._location = old


@pytest.mark.skipif(jtorch.cuda.is_available(), reason="checks the CPU-only error")
def test_cuda_checkpoint_on_cpu_machine(tmp_path):
    p = tmp_path / "c.pt"
    _save_with_location({"w": jtorch.ones(2)}, p, "cuda:0")
    with zipfile.ZipFile(p) as z:
        assert b"cuda:0" in z.read("c/data.pkl")
    et, ej = same_error(lambda: torch.load(p), lambda: jtorch.load(p))
    assert "torch.cuda.is_available() is False" in str(ej)
    for ml in ["cpu", {"cuda:0": "cpu"}, lambda s, loc: s.cpu(), jtorch.device("cpu")]:
        t = torch.load(p, map_location=ml if not isinstance(ml, jtorch.device) else "cpu")
        j = jtorch.load(p, map_location=ml)
        assert_bits(j["w"], t["w"])
        assert j["w"].device.type == "cpu"


# ------------------------------------------------------------------------------- weights_only
class _Marker:
    """A pickle that runs code when loaded: creates a file."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    p = tmp_path / "evil.pt"
    torch.save({"w": torch.ones(2), "x": _Marker(marker)}, p)
    et, ej = same_error(lambda: torch.load(p), lambda: jtorch.load(p))
    assert isinstance(ej, pickle.UnpicklingError)
    assert str(ej).startswith("Weights only load failed")
    assert "system" in str(ej) and "weights_only" in str(ej)
    assert not marker.exists()
    # the same via jtorch.save (jtorch writes arbitrary objects like torch does)
    p2 = tmp_path / "evil2.pt"
    jtorch.save({"x": _Marker(marker)}, p2)
    with pytest.raises(pickle.UnpicklingError, match="^Weights only load failed"):
        jtorch.load(p2)
    assert not marker.exists()


def test_malicious_legacy_and_raw_pickles(tmp_path):
    marker = tmp_path / "pwned"
    p = tmp_path / "evil_legacy.pt"
    torch.save({"x": _Marker(marker)}, p, _use_new_zipfile_serialization=False)
    with pytest.raises(pickle.UnpicklingError, match="^Weights only load failed"):
        jtorch.load(p)
    # a hand-made data.pkl calling builtins.eval inside a valid archive
    evil = b"\x80\x02cbuiltins\neval\nX\x1e\x00\x00\x00__import__('os').system('true')\x85R."
    p3 = tmp_path / "raw.pt"
    with zipfile.ZipFile(p3, "w") as z:
        z.writestr("raw/data.pkl", evil)
        z.writestr("raw/version", "3\n")
    with pytest.raises(pickle.UnpicklingError, match="eval"):
        jtorch.load(p3)
    assert not marker.exists()


class Payload:
    def __init__(self, t, note):
        self.t, self.note = t, note


def test_weights_only_false_and_safe_globals(tmp_path):
    p = tmp_path / "obj.pt"
    jtorch.save({"obj": Payload(jtorch.arange(3), "hi")}, p)
    with pytest.raises(pickle.UnpicklingError, match="Payload"):
        jtorch.load(p)
    out = jtorch.load(p, weights_only=False)
    assert isinstance(out["obj"], Payload) and out["obj"].note == "hi"
    assert isinstance(out["obj"].t, jtorch.Tensor) and out["obj"].t.tolist() == [0, 1, 2]
    with jtorch.serialization.safe_globals([Payload]):
        assert Payload in jtorch.serialization.get_safe_globals()
        assert jtorch.load(p)["obj"].t.tolist() == [0, 1, 2]
    assert Payload not in jtorch.serialization.get_safe_globals()
    jtorch.serialization.add_safe_globals([Payload])
    try:
        assert jtorch.load(p)["obj"].note == "hi"
    finally:
        jtorch.serialization.clear_safe_globals()
    assert jtorch.serialization.get_unsafe_globals_in_checkpoint(p) == \
        torch.serialization.get_unsafe_globals_in_checkpoint(p) == [f"{__name__}.Payload"]
    # real torch reads the same file with its own allow-list mechanism
    with torch.serialization.safe_globals([Payload]):
        t = torch.load(p)
    assert isinstance(t["obj"].t, torch.Tensor) and t["obj"].t.tolist() == [0, 1, 2]


# ---------------------------------------------------------------------------------- atomicity
def test_failed_save_leaves_existing_file_intact(tmp_path):
    p = tmp_path / "ckpt.pt"
    jtorch.save({"w": jtorch.ones(3)}, p)
    before = p.read_bytes()
    bad = {"w": jtorch.zeros(3), "deep": [1, {"x": jtorch.ones(2), "f": lambda: 0}]}
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        jtorch.save(bad, p)
    assert p.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["ckpt.pt"]  # no temporary file left behind
    q = tmp_path / "new.pt"
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        jtorch.save(bad, q)
    assert not q.exists()
    buf = io.BytesIO()
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        jtorch.save(bad, buf)
    assert buf.getvalue() == b""
    assert torch.equal(torch.load(p)["w"], torch.ones(3))


def test_save_path_errors_and_symlinks(tmp_path):
    same_error(lambda: torch.save(torch.ones(1), tmp_path / "nodir" / "x.pt"),
               lambda: jtorch.save(jtorch.ones(1), tmp_path / "nodir" / "x.pt"))
    same_error(lambda: torch.save(torch.ones(1), tmp_path), lambda: jtorch.save(jtorch.ones(1), tmp_path))
    same_error(lambda: torch.load(tmp_path / "missing.pt"), lambda: jtorch.load(tmp_path / "missing.pt"))
    target = tmp_path / "real.pt"
    target.write_bytes(b"old")
    link = tmp_path / "link.pt"
    link.symlink_to(target)
    jtorch.save(jtorch.arange(3), link)
    assert link.is_symlink() and torch.load(target).tolist() == [0, 1, 2]


def test_failure_during_write_keeps_target(tmp_path, monkeypatch):
    p = tmp_path / "ckpt.pt"
    jtorch.save({"w": jtorch.ones(3)}, p)
    before = p.read_bytes()
    from jtorch import serialization as S

    def boom(fd):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(S.os, "fsync", boom)
    with pytest.raises(OSError, match="simulated"):
        jtorch.save({"w": jtorch.zeros(1000)}, p)
    assert p.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["ckpt.pt"]


# ------------------------------------------------------------------------------ corrupt files
def test_truncated_and_corrupt_files(tmp_path):
    p = tmp_path / "c.pt"
    jtorch.save({"w": jtorch.arange(1000.0)}, p)
    data = p.read_bytes()
    half = tmp_path / "half.pt"
    half.write_bytes(data[: len(data) // 2])
    et, ej = same_error(lambda: torch.load(half), lambda: jtorch.load(half))
    assert isinstance(ej, RuntimeError) and "central directory" in str(ej)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    same_error(lambda: torch.load(empty), lambda: jtorch.load(empty))
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"garbage garbage")
    same_error(lambda: torch.load(junk), lambda: jtorch.load(junk))
    # a flipped byte inside the storage record: the CRC catches it
    with zipfile.ZipFile(p) as z:
        info = z.getinfo("c/data/0")
    off = info.header_offset + 30 + len(info.filename) + struct.unpack("<H", data[info.header_offset + 28:
                                                                                 info.header_offset + 30])[0]
    bad = bytearray(data)
    bad[off + 5] ^= 0xFF
    flip = tmp_path / "flip.pt"
    flip.write_bytes(bytes(bad))
    with pytest.raises(RuntimeError, match="data/0"):
        jtorch.load(flip)
    # a storage record missing from the archive
    miss = tmp_path / "miss.pt"
    with zipfile.ZipFile(p) as zi, zipfile.ZipFile(miss, "w") as zo:
        for n in zi.namelist():
            if not n.endswith("data/0"):
                zo.writestr(n, zi.read(n))
    same_error(lambda: torch.load(miss), lambda: jtorch.load(miss))


# ------------------------------------------------------------------ file objects, legacy, mmap
def test_file_objects_and_pathlike(tmp_path):
    buf = io.BytesIO()
    jtorch.save({"a": jtorch.arange(4)}, buf)
    buf.seek(0)
    assert torch.load(buf)["a"].tolist() == [0, 1, 2, 3]
    buf.seek(0)
    assert jtorch.load(buf)["a"].tolist() == [0, 1, 2, 3]
    with open(tmp_path / "f.pt", "wb") as fh:
        jtorch.save([jtorch.ones(1)], fh)
    with open(tmp_path / "f.pt", "rb") as fh:
        assert jtorch.load(fh)[0].tolist() == [1.0]
    jtorch.save(jtorch.ones(2), str(tmp_path / "s.pt"))
    assert torch.load(str(tmp_path / "s.pt")).tolist() == [1.0, 1.0]
    assert jtorch.load(pathlib.Path(tmp_path / "s.pt"), mmap=True).tolist() == [1.0, 1.0]


def test_legacy_format_both_ways(tmp_path):
    x = torch.arange(10, dtype=torch.float64)
    obj = {"x": x, "v": x[2:5], "i": torch.tensor([1, 2], dtype=torch.int16), "b": torch.ones(2, dtype=torch.bool)}
    torch.save(obj, tmp_path / "t.pt", _use_new_zipfile_serialization=False)
    assert_tree(jtorch.load(tmp_path / "t.pt"), obj)
    # storages of several element sizes behind nested containers (their sizes come from the pickle)
    nested = {"sd": collections.OrderedDict(w=torch.randn(3, dtype=torch.float64)),
              "lst": [torch.arange(4, dtype=torch.int8), (torch.ones(2, dtype=torch.complex64),)],
              "later": torch.arange(3, dtype=torch.int16)}
    torch.save(nested, tmp_path / "n.pt", _use_new_zipfile_serialization=False)
    assert_tree(jtorch.load(tmp_path / "n.pt"), nested)
    j = {"x": jtorch.arange(6.0), "h": jtorch.ones(3, dtype=jtorch.bfloat16)}
    j["v"] = j["x"][1:4]
    jtorch.save(j, tmp_path / "j.pt", _use_new_zipfile_serialization=False)
    assert not zipfile.is_zipfile(tmp_path / "j.pt")
    t = torch.load(tmp_path / "j.pt")
    assert_tree(j, t)
    assert t["v"].untyped_storage().data_ptr() == t["x"].untyped_storage().data_ptr()
    # many storages: every one gets its own key (host copies are freed while pickling)
    legacy = [d for d in DTYPES if d not in ("uint16", "uint32", "uint64", "float8_e4m3fn", "float8_e5m2")]
    many = {f"t{i}": _pair(legacy[i % len(legacy)], shape=(i % 4 + 1,), seed=i) for i in range(24)}
    jtorch.save({k: j for k, (t, j) in many.items()}, tmp_path / "m.pt", _use_new_zipfile_serialization=False)
    out = torch.load(tmp_path / "m.pt")
    for k, (t, j) in many.items():
        assert_bits(j, out[k], k)
    # dtypes newer than the legacy format: torch writes files it cannot read back; jtorch refuses to write
    with pytest.raises(RuntimeError, match="legacy"):
        jtorch.save(jtorch.zeros(2, dtype=jtorch.uint16), tmp_path / "u.pt", _use_new_zipfile_serialization=False)
    torch.save(torch.zeros(2, dtype=torch.uint16), tmp_path / "u.pt", _use_new_zipfile_serialization=False)
    with pytest.raises(AttributeError):
        torch.load(tmp_path / "u.pt")


def test_mmap_load_matches(tmp_path):
    obj = {"w": torch.randn(5, 7), "b": torch.arange(3)}
    torch.save(obj, tmp_path / "t.pt")
    assert_tree(jtorch.load(tmp_path / "t.pt", mmap=True), obj)
    # jtorch's records are 64-byte aligned as torch's, so torch can mmap them
    jtorch.save(jtorch.load(tmp_path / "t.pt"), tmp_path / "j.pt")
    assert_tree(jtorch.load(tmp_path / "t.pt"), torch.load(tmp_path / "j.pt", mmap=True))


def test_zip64_records_read_by_torch(tmp_path, monkeypatch):
    # lower the zip64 thresholds so the >4 GiB code path runs on a tiny file
    from jtorch import serialization as S
    monkeypatch.setattr(S, "_ZIP64_LIMIT", 100)
    monkeypatch.setattr(S, "_ZIP64_COUNT", 3)
    x = torch.randn(64)
    obj = {"x": to_j(x), "y": to_j(x)[3:9], "z": jtorch.arange(5)}
    jtorch.save(obj, tmp_path / "z.pt")
    data = (tmp_path / "z.pt").read_bytes()
    assert b"PK\x06\x06" in data and b"PK\x06\x07" in data
    out = torch.load(tmp_path / "z.pt")
    assert torch.equal(out["x"], x) and torch.equal(out["y"], x[3:9]) and out["z"].tolist() == list(range(5))
    assert_tree(jtorch.load(tmp_path / "z.pt"), out)


def test_conj_and_neg_views_from_torch(tmp_path):
    x = torch.tensor([1 + 2j, 3 - 1j])
    obj = {"c": x.conj(), "n": torch._neg_view(torch.ones(2)), "cn": torch._neg_view(x.conj())}
    torch.save(obj, tmp_path / "t.pt")
    out = jtorch.load(tmp_path / "t.pt")
    for k, v in obj.items():
        assert_bits(out[k], v.resolve_conj().resolve_neg(), k)


# ------------------------------------------------------------------ training checkpoints
def test_optimizer_state_dict_from_torch(tmp_path):
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(3, 2))
    opt = torch.optim.AdamW([w], lr=1e-3)
    w.sum().backward()
    opt.step()
    ckpt = {"model": {"w": w.detach()}, "optim": opt.state_dict(), "epoch": 3}
    torch.save(ckpt, tmp_path / "t.pt")
    out = jtorch.load(tmp_path / "t.pt")
    assert_tree(out, ckpt)
    jtorch.save(out, tmp_path / "j.pt")
    assert_tree(out, torch.load(tmp_path / "j.pt"))


def test_rng_state_round_trip(tmp_path):
    jtorch.manual_seed(123)
    jtorch.randn(4)
    jtorch.save({"rng": jtorch.get_rng_state()}, tmp_path / "r.pt")
    expected = jtorch.randn(5).tolist()
    jtorch.randn(7)  # move on
    jtorch.set_rng_state(jtorch.load(tmp_path / "r.pt")["rng"])
    assert jtorch.randn(5).tolist() == expected


def test_module_state_dict_round_trip(tmp_path):
    nn = pytest.importorskip("jtorch.nn")
    if not hasattr(nn, "Linear"):
        pytest.skip("jtorch.nn.Linear not available yet")
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    torch.save(tm.state_dict(), tmp_path / "t.pt")
    jm = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    jm.load_state_dict(jtorch.load(tmp_path / "t.pt"))
    x = torch.randn(5, 4)
    assert_same(jm(to_j(x)), tm(x).detach())
    jtorch.save(jm.state_dict(), tmp_path / "j.pt")
    tm2 = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    tm2.load_state_dict(torch.load(tmp_path / "j.pt"))
    assert torch.equal(tm2(x), tm(x))


# -------------------------------------------------------------------------------- safetensors
def test_safetensors_both_ways(tmp_path):
    st = pytest.importorskip("safetensors.torch")
    from safetensors import safe_open as t_safe_open
    from jtorch import safetensors as js
    names = [n for n in DTYPES if n != "complex128"]
    pairs = {n: _pair(n, shape=(3, 2), seed=i) for i, n in enumerate(names)}
    js.save_file({k: j for k, (t, j) in pairs.items()}, tmp_path / "j.safetensors", metadata={"format": "pt"})
    out = st.load_file(str(tmp_path / "j.safetensors"))
    for k, (t, j) in pairs.items():
        assert_bits(j, out[k], k)
    with t_safe_open(str(tmp_path / "j.safetensors"), "pt") as f:
        assert f.metadata() == {"format": "pt"}
    st.save_file({k: t for k, (t, j) in pairs.items()} | {"s": torch.tensor(2.0), "e": torch.zeros(0, 4)},
                 str(tmp_path / "t.safetensors"), metadata={"k": "v"})
    back = js.load_file(tmp_path / "t.safetensors")
    for k, (t, j) in pairs.items():
        assert_bits(back[k], t, k)
    assert_bits(back["s"], torch.tensor(2.0))
    assert_bits(back["e"], torch.zeros(0, 4))
    with js.safe_open(tmp_path / "t.safetensors", framework="pt") as f:
        assert f.metadata() == {"k": "v"} and "float32" in f.keys()
        assert_bits(f.get_slice("float32")[1:], pairs["float32"][0][1:])
    assert_bits(js.load(st.save({"q": torch.arange(3)}))["q"], torch.arange(3))
    assert torch.equal(st.load(js.save({"q": jtorch.arange(3)}))["q"], torch.arange(3))


def test_safetensors_errors(tmp_path):
    pytest.importorskip("safetensors.torch")
    import safetensors.torch as st
    from jtorch import safetensors as js
    x, tx1 = jtorch.ones(4), torch.ones(4)
    et, ej = same_error(lambda: st.save({"a": tx1, "b": tx1[1:]}), lambda: js.save({"a": x, "b": x[1:]}))
    assert "share memory" in str(ej)
    tx = torch.ones(4, 4)
    same_error(lambda: st.save({"a": tx.t()}), lambda: js.save({"a": jtorch.ones(4, 4).t()}))
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(js.save({"a": jtorch.ones(8)})[:-4])
    with pytest.raises(js.SafetensorError):
        js.load_file(bad)


def _train(steps, w, opt, sched, noise=True):
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        x = jtorch.randn(4, 3) if noise else jtorch.ones(4, 3)
        loss = ((x * w).sum(1) - 1.0).pow(2).mean()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    return losses


def test_resume_from_checkpoint_equals_uninterrupted_run(tmp_path):
    optim = pytest.importorskip("jtorch.optim")
    from jtorch.nn.parameter import Parameter

    def fresh():
        w = Parameter(jtorch.zeros(3))
        opt = optim.Adam([w], lr=0.1)
        return w, opt, optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)

    jtorch.manual_seed(0)
    w, opt, sched = fresh()
    _train(3, w, opt, sched)
    ckpt = {"model": {"w": w}, "optim": opt.state_dict(), "sched": sched.state_dict(),
            "rng": jtorch.get_rng_state(), "cuda_rng": jtorch.cuda.get_rng_state_all()}
    jtorch.save(ckpt, tmp_path / "ckpt.pt")
    straight = _train(4, w, opt, sched)
    w_straight = w.detach().clone()

    w2, opt2, sched2 = fresh()
    jtorch.manual_seed(999)  # the checkpoint's RNG state must win
    ck = jtorch.load(tmp_path / "ckpt.pt")
    with jtorch.no_grad():
        w2.copy_(ck["model"]["w"])
    opt2.load_state_dict(ck["optim"])
    sched2.load_state_dict(ck["sched"])
    jtorch.set_rng_state(ck["rng"])
    jtorch.cuda.set_rng_state_all(ck["cuda_rng"])
    resumed = _train(4, w2, opt2, sched2)
    assert resumed == straight
    assert w2.detach().tolist() == w_straight.tolist()

    # the same checkpoint resumes in real torch: its Adam continues where jtorch's stopped
    t = torch.load(tmp_path / "ckpt.pt")
    tw = torch.nn.Parameter(t["model"]["w"].detach().clone())
    topt = torch.optim.Adam([tw], lr=0.1)
    topt.load_state_dict(t["optim"])
    tsched = torch.optim.lr_scheduler.StepLR(topt, step_size=2, gamma=0.5)
    tsched.load_state_dict(t["sched"])
    w3, opt3, sched3 = fresh()
    with jtorch.no_grad():
        w3.copy_(ck["model"]["w"])
    opt3.load_state_dict(jtorch.load(tmp_path / "ckpt.pt")["optim"])
    sched3.load_state_dict(ck["sched"])
    _train(3, w3, opt3, sched3, noise=False)
    for _ in range(3):
        topt.zero_grad()
        (((torch.ones(4, 3) * tw).sum(1) - 1.0).pow(2).mean()).backward()
        topt.step()
        tsched.step()
    assert_same(w3.detach(), tw.detach(), rtol=1e-5, atol=1e-6)


def test_whole_module_pickles_weights_only_false(tmp_path):
    nn = pytest.importorskip("jtorch.nn")
    if not hasattr(nn, "Linear"):
        pytest.skip("jtorch.nn.Linear not available yet")
    from jtorch.nn.parameter import Parameter
    x = torch.randn(2, 3)
    # a whole torch module, pickled by torch: jtorch maps torch.nn.* onto jtorch.nn.*
    tm = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh())
    torch.save(tm, tmp_path / "t.pt")
    same_error(lambda: torch.load(tmp_path / "t.pt"), lambda: jtorch.load(tmp_path / "t.pt"))
    jm = jtorch.load(tmp_path / "t.pt", weights_only=False)
    assert isinstance(jm, nn.Sequential) and isinstance(jm[0].weight, Parameter)
    assert_same(jm(to_j(x)), tm(x).detach())
    # a whole jtorch module, pickled by jtorch
    jtorch.save(jm, tmp_path / "j.pt")
    jm2 = jtorch.load(tmp_path / "j.pt", weights_only=False)
    assert type(jm2) is type(jm) and jm2[0].weight.requires_grad
    assert_same(jm2(to_j(x)), tm(x).detach())


def test_safetensors_model_helpers(tmp_path):
    st = pytest.importorskip("safetensors.torch")
    nn = pytest.importorskip("jtorch.nn")
    if not hasattr(nn, "Linear"):
        pytest.skip("jtorch.nn.Linear not available yet")
    from jtorch import safetensors as js
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    st.save_model(tm, str(tmp_path / "t.safetensors"))
    jm = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    missing, unexpected = js.load_model(jm, tmp_path / "t.safetensors")
    assert list(missing) == [] and list(unexpected) == []
    x = torch.randn(5, 3)
    assert_same(jm(to_j(x)), tm(x).detach())
    js.save_model(jm, tmp_path / "j.safetensors")
    tm2 = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    st.load_model(tm2, str(tmp_path / "j.safetensors"))
    assert torch.equal(tm2(x), tm(x))


# ------------------------------------------------------------- atomic save, object failing mid-pickle
class _ExplodesWhenPickled:
    def __reduce__(self):
        raise RuntimeError("refusing to be pickled (simulated failure mid-save)")


def test_reduce_raising_mid_save_keeps_old_checkpoint(tmp_path):
    """The failing object comes after a large tensor, so the failure happens mid-save: the old file stays
    byte-identical and no partial file is left (torch.save itself would leave a truncated target here)."""
    p = tmp_path / "ckpt.pt"
    jtorch.save({"epoch": 1, "w": jtorch.arange(5.0)}, p)
    before = p.read_bytes()
    obj = {"big": jtorch.ones(300_000), "epoch": 2, "boom": _ExplodesWhenPickled()}
    tobj = {"big": torch.ones(300_000), "epoch": 2, "boom": _ExplodesWhenPickled()}
    et, ej = same_error(lambda: torch.save(tobj, tmp_path / "torch_target.pt"), lambda: jtorch.save(obj, p))
    assert str(ej) == str(et)
    assert p.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["ckpt.pt", "torch_target.pt"]
    assert torch.load(p)["epoch"] == 1 and jtorch.load(p)["w"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]


# -------------------------------------------------- whole-training checkpoint incl. GradScaler
def _scaled_steps(M, model, opt, sched, scaler, xs, inf_at=()):
    for i, x in enumerate(xs):
        opt.zero_grad()
        loss = ((model(x) - 1.0) ** 2).mean()
        if i in inf_at:
            loss = loss * float("inf")   # overflowing step: skipped by scaler.step, scale backs off
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        sched.step()


def test_training_checkpoint_with_grad_scaler_resumes_and_loads_in_torch(tmp_path):
    """model + optimizer + scheduler + GradScaler + CPU and CUDA RNG states: a resumed run equals the
    uninterrupted one bit for bit, and torch resumes the same checkpoint to the same parameters."""
    def fresh(M):
        model = M.nn.Sequential(M.nn.Linear(3, 4), M.nn.Tanh(), M.nn.Linear(4, 1))
        opt = M.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        return model, opt, M.optim.lr_scheduler.StepLR(opt, 2, 0.5), \
            M.amp.GradScaler("cpu", init_scale=2.0 ** 10, growth_interval=2)

    def data(n):  # drawn from jtorch's RNG during training: the checkpoint's RNG state decides them
        return [jtorch.randn(5, 3) for _ in range(n)]
    jtorch.manual_seed(0)
    model, opt, sched, scaler = fresh(jtorch)
    _scaled_steps(jtorch, model, opt, sched, scaler, data(3), inf_at=(1,))
    jtorch.save({"model": model.state_dict(), "optim": opt.state_dict(), "sched": sched.state_dict(),
                 "scaler": scaler.state_dict(), "rng": jtorch.get_rng_state(),
                 "cuda_rng": jtorch.cuda.get_rng_state_all(), "step": 3}, tmp_path / "ckpt.pt")
    xs = data(5)
    _scaled_steps(jtorch, model, opt, sched, scaler, xs, inf_at=(2,))
    straight = [p.detach().clone() for p in model.parameters()]

    jtorch.manual_seed(1234)  # the checkpoint's RNG state must win
    m2, o2, s2, sc2 = fresh(jtorch)
    ck = jtorch.load(tmp_path / "ckpt.pt")
    m2.load_state_dict(ck["model"])
    o2.load_state_dict(ck["optim"])
    s2.load_state_dict(ck["sched"])
    sc2.load_state_dict(ck["scaler"])
    jtorch.set_rng_state(ck["rng"])
    jtorch.cuda.set_rng_state_all(ck["cuda_rng"])
    _scaled_steps(jtorch, m2, o2, s2, sc2, data(5), inf_at=(2,))
    for a, b in zip(m2.parameters(), straight):
        assert a.detach().tolist() == b.tolist()
    assert sc2.state_dict() == scaler.state_dict() and o2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]

    # real torch resumes the jtorch checkpoint on the same data: same parameters, same scaler state
    tck = torch.load(tmp_path / "ckpt.pt")
    tm, to, ts, tsc = fresh(torch)
    tm.load_state_dict(tck["model"])
    to.load_state_dict(tck["optim"])
    ts.load_state_dict(tck["sched"])
    tsc.load_state_dict(tck["scaler"])
    _scaled_steps(torch, tm, to, ts, tsc, [torch.from_numpy(np.asarray(x._value).copy()) for x in xs], inf_at=(2,))
    for a, b in zip(straight, tm.parameters()):
        assert_same(a, b.detach(), rtol=1e-5, atol=1e-6)
    assert tsc.state_dict() == scaler.state_dict()


# ------------------------------------------------------------------ Hugging Face style checkpoints
def test_hf_style_sharded_safetensors_and_bin(tmp_path):
    """What transformers writes: bf16 weights in shards + model.safetensors.index.json (tied lm_head dropped
    from the files), and pytorch_model.bin (torch.save of a state_dict whose tied weights share storage).
    The loading code transformers users write (safe_open per shard, load_state_dict strict=False) works."""
    st = pytest.importorskip("safetensors.torch")
    import json

    class TM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(11, 6)
            self.block = torch.nn.Linear(6, 6)
            self.lm_head = torch.nn.Linear(6, 11, bias=False)
            self.lm_head.weight = self.embed.weight   # tied

        def forward(self, ids):
            return self.lm_head(torch.tanh(self.block(self.embed(ids))))

    class JM(jtorch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = jtorch.nn.Embedding(11, 6)
            self.block = jtorch.nn.Linear(6, 6)
            self.lm_head = jtorch.nn.Linear(6, 11, bias=False)
            self.lm_head.weight = self.embed.weight

        def forward(self, ids):
            return self.lm_head(jtorch.tanh(self.block(self.embed(ids))))

    torch.manual_seed(0)
    tm = TM().to(torch.bfloat16)
    sd = {k: v for k, v in tm.state_dict().items() if k != "lm_head.weight"}
    shards = {"model-00001-of-00002.safetensors": ["embed.weight"],
              "model-00002-of-00002.safetensors": ["block.weight", "block.bias"]}
    weight_map = {}
    for fname, keys in shards.items():
        st.save_file({k: sd[k].contiguous() for k in keys}, str(tmp_path / fname), metadata={"format": "pt"})
        weight_map.update({k: fname for k in keys})
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))

    from jtorch.safetensors import safe_open
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    state = {}
    for fname in sorted(set(index["weight_map"].values())):
        with safe_open(tmp_path / fname, framework="pt", device="cpu") as f:
            assert f.metadata() == {"format": "pt"}
            for k in f.keys():
                state[k] = f.get_tensor(k)
    jm = JM().to(jtorch.bfloat16)
    missing, unexpected = jm.load_state_dict(state, strict=False)
    assert list(missing) == ["lm_head.weight"] and list(unexpected) == []
    assert jm.lm_head.weight is jm.embed.weight
    ids = torch.tensor([[1, 4, 9], [0, 10, 3]])
    assert_same(jm(to_j(ids)).float(), tm(ids).detach().float(), rtol=2e-2, atol=2e-2)
    for k in sd:
        assert_bits(jm.state_dict()[k], sd[k], k)

    torch.save(tm.state_dict(), tmp_path / "pytorch_model.bin")
    bin_sd = jtorch.load(tmp_path / "pytorch_model.bin", map_location="cpu", weights_only=True)
    assert list(bin_sd) == list(tm.state_dict())
    # (the two tied entries share one storage in the file; jtorch loads them as two equal tensors)
    assert_bits(bin_sd["lm_head.weight"], tm.embed.weight.detach())
    assert_bits(bin_sd["embed.weight"], tm.embed.weight.detach())
    jm2 = JM().to(jtorch.bfloat16)
    jm2.load_state_dict(bin_sd)
    assert jm2(to_j(ids)).tolist() == jm(to_j(ids)).tolist()
    assert jm2.lm_head.weight is jm2.embed.weight
