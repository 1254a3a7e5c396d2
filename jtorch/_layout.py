"""torch.layout and torch.memory_format objects.

jtorch tensors are jax arrays: XLA chooses physical layouts, so a memory format is only a tag.
`x.contiguous(memory_format=torch.channels_last)` / `x.to(memory_format=...)` return a copy tagged
with the format, so `is_contiguous(memory_format=...)` and `stride()` answer as torch would for
that tensor; results of later ops are untagged (row-major), where torch often propagates
channels_last. Values never depend on the tag.
"""
from ._memory_format import memory_format, contiguous_format, preserve_format, channels_last, channels_last_3d


class layout:
    """torch.layout: strided is the only layout jtorch tensors have; the sparse/jagged objects
    exist so code can name them (creating such tensors raises NotImplementedError)."""
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return "torch." + self.name

    def __reduce__(self):
        return self.name


strided = layout("strided")
sparse_coo = layout("sparse_coo")
sparse_csr = layout("sparse_csr")
sparse_csc = layout("sparse_csc")
sparse_bsr = layout("sparse_bsr")
sparse_bsc = layout("sparse_bsc")
jagged = layout("jagged")
_mkldnn = layout("_mkldnn")

# the memory_format objects are _memory_format.py's; the rank a channels-last format needs is kept here
legacy_contiguous_format = contiguous_format  # the same object in torch
_RANK = {channels_last: 4, channels_last_3d: 5}


def rank_of(fmt):
    """The tensor rank a channels-last format requires (None for the row-major formats)."""
    return _RANK.get(fmt)


LAYOUTS = {"strided": strided, "sparse_coo": sparse_coo, "sparse_csr": sparse_csr, "sparse_csc": sparse_csc,
           "sparse_bsr": sparse_bsr, "sparse_bsc": sparse_bsc, "jagged": jagged}
MEMORY_FORMATS = {"contiguous_format": contiguous_format, "preserve_format": preserve_format,
                  "legacy_contiguous_format": legacy_contiguous_format, "channels_last": channels_last,
                  "channels_last_3d": channels_last_3d}


def check_rank(t, fmt):
    """torch's error for channels_last on a tensor of the wrong rank."""
    r = _RANK.get(fmt)
    if r is not None and t.ndim != r:
        raise RuntimeError(f"required rank {r} tensor to use {repr(fmt)[6:]} format")


def channels_last_strides(shape):
    """Strides of an N C (D) H W tensor stored with C innermost (torch's channels_last order)."""
    n = len(shape)
    order = [1] + list(range(n - 1, 1, -1)) + [0]   # innermost first: C, W, H, (D), N
    st, acc = [0] * n, 1
    for d in order:
        st[d] = acc
        acc *= max(shape[d], 1)
    return tuple(st)


def as_format(t, fmt):
    """A copy of t tagged with a channels-last format (preserve/contiguous: untagged)."""
    check_rank(t, fmt)
    if fmt is None or fmt is preserve_format:
        return t
    tag = fmt if fmt in _RANK else None
    if getattr(t, "_memfmt", None) is tag:
        return t
    out = t.clone()
    if tag is not None:
        out._memfmt = tag
    return out


def is_contiguous_as(t, fmt, row_major):
    """is_contiguous(memory_format=fmt) given whether t is row-major contiguous."""
    tag = getattr(t, "_memfmt", None)
    if fmt not in _RANK:   # contiguous / legacy / preserve: row-major
        return row_major if tag is None else _trivially_both(t)
    if _RANK[fmt] != t.ndim:
        return False
    return tag is fmt or (row_major and _trivially_both(t))


def _trivially_both(t):
    # both formats give the same strides once size-1 dims (whose stride never matters) are ignored
    shape = tuple(t.shape)
    if len(shape) not in (4, 5):
        return False
    row, acc = [0] * len(shape), 1
    for d in range(len(shape) - 1, -1, -1):
        row[d] = acc
        acc *= max(shape[d], 1)
    cl = channels_last_strides(shape)
    return all(a == b for a, b, s in zip(row, cl, shape) if s != 1)
