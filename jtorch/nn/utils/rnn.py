"""PackedSequence and the pad/pack helpers (torch.nn.utils.rnn).

A PackedSequence stores time-major rows: for each step t, `batch_sizes[t]` rows of the sequences
still running (sorted by decreasing length). Packing and unpacking are gathers with index tables
computed on the host from `batch_sizes`/`lengths` (which torch also keeps on the CPU).
"""
from collections import namedtuple

import numpy as np

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
           "unpad_sequence", "pack_sequence", "unpack_sequence"]


def _jt():
    import jtorch
    return jtorch


class PackedSequence(namedtuple("PackedSequence_", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is not None:
            if batch_sizes.device.type != "cpu":
                raise ValueError("batch_sizes should always be on CPU. Instances of PackedSequence should never be "
                                 "created manually. They should be instantiated by functions like pack_sequence and "
                                 "pack_padded_sequences in nn.utils.rnn. "
                                 "https://pytorch.org/docs/stable/nn.html#torch.nn.utils.rnn.pack_sequence")
            return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)
        if not (isinstance(data, (list, tuple)) and len(data) == 2):
            raise TypeError("PackedSequence(data, batch_sizes) expects data and batch_sizes")
        return super().__new__(cls, data[0], data[1], sorted_indices, unsorted_indices)

    def _apply(self, fn):
        return type(self)(fn(self.data), self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        kw = {k: v for k, v in kwargs.items() if k in ("device",)}
        dev = data.device
        si = None if self.sorted_indices is None else self.sorted_indices.to(dev)
        ui = None if self.unsorted_indices is None else self.unsorted_indices.to(dev)
        del kw
        return type(self)(data, self.batch_sizes, si, ui)

    def cuda(self, *args, **kwargs):
        return self.to(*(("cuda",) + args), **kwargs)

    def cpu(self, *args, **kwargs):
        return self.to("cpu")

    def double(self):
        return self._apply(lambda t: t.double())

    def float(self):
        return self._apply(lambda t: t.float())

    def half(self):
        return self._apply(lambda t: t.half())

    def bfloat16(self):
        return self._apply(lambda t: t.bfloat16())

    def long(self):
        return self._apply(lambda t: t.long())

    def int(self):
        return self._apply(lambda t: t.int())

    def short(self):
        return self._apply(lambda t: t.short())

    def char(self):
        return self._apply(lambda t: t.char())

    def byte(self):
        return self._apply(lambda t: t.byte())

    @property
    def is_cuda(self):
        return self.data.is_cuda

    def is_pinned(self):
        return False


def invert_permutation(permutation):
    if permutation is None:
        return None
    jt = _jt()
    p = np.asarray(permutation.tolist(), dtype=np.int64)
    out = np.empty_like(p)
    out[p] = np.arange(p.size)
    return jt.tensor(out, dtype=jt.int64, device=permutation.device)


def _lengths_np(lengths):
    if hasattr(lengths, "_is_jtorch_tensor") or hasattr(lengths, "tolist"):
        return np.asarray(lengths.tolist(), dtype=np.int64).reshape(-1)
    return np.asarray(list(lengths), dtype=np.int64).reshape(-1)


def _batch_sizes_from_lengths(lengths):
    """lengths sorted in decreasing order -> batch_sizes (number of sequences alive at each step)."""
    T = int(lengths[0]) if lengths.size else 0
    return np.array([(lengths > t).sum() for t in range(T)], dtype=np.int64)


def _packed_rows(batch_sizes):
    """(t, b) of each packed row, in packed order."""
    ts, bs = [], []
    for t, n in enumerate(batch_sizes):
        ts.extend([t] * int(n))
        bs.extend(range(int(n)))
    return np.asarray(ts, np.int64), np.asarray(bs, np.int64)


def _pack_padded_time_major(padded, batch_sizes):
    """(T, B, *) padded (batch already sorted) -> packed data rows."""
    jt = _jt()
    ts, bs = _packed_rows(batch_sizes)
    return padded[jt.tensor(ts), jt.tensor(bs)]


def _unpack_to_time_major(data, batch_sizes, padding_value=0.0, total_length=None):
    """packed data rows -> (T, B, *) padded in sorted batch order."""
    jt = _jt()
    T = len(batch_sizes)
    B = int(batch_sizes[0]) if T else 0
    Tout = T if total_length is None else total_length
    index = np.full((Tout, B), data.shape[0], dtype=np.int64)  # default: the padding row
    row = 0
    for t, n in enumerate(batch_sizes):
        index[t, :int(n)] = np.arange(row, row + int(n))
        row += int(n)
    pad_row = jt.full((1,) + tuple(data.shape[1:]), padding_value, dtype=data.dtype, device=data.device)
    ext = jt.cat([data, pad_row])
    return ext[jt.tensor(index)]


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    jt = _jt()
    ln = _lengths_np(lengths)
    if enforce_sorted:
        if ln.size > 1 and np.any(ln[:-1] < ln[1:]):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                               "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to "
                               "sidestep this requirement if you do not need ONNX exportability.")
        sorted_indices = None
    else:
        order = np.argsort(-ln, kind="stable")
        ln = ln[order]
        sorted_indices = jt.tensor(order, dtype=jt.int64, device=input.device)
        input = input.index_select(0 if batch_first else 1, sorted_indices)
    if ln.size and ln.min() <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' that "
                           "is <= 0")
    if batch_first:
        input = input.transpose(0, 1)
    if ln.size and ln[0] > input.shape[0]:
        raise RuntimeError(f"Expected sequence length to be larger than or equal to the longest sequence in the "
                           f"batch, but got {input.shape[0]} and {ln[0]}")
    bsz = _batch_sizes_from_lengths(ln)
    data = _pack_padded_time_major(input, bsz)
    return PackedSequence(data, jt.tensor(bsz, dtype=jt.int64), sorted_indices, None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    jt = _jt()
    bsz = _lengths_np(sequence.batch_sizes)
    max_len = len(bsz)
    if total_length is not None:
        if total_length < max_len:
            raise ValueError(f"Expected total_length to be at least the length of the longest sequence in input, but "
                             f"got total_length={total_length} and max sequence length being {max_len}")
    padded = _unpack_to_time_major(sequence.data, bsz, padding_value, total_length)
    B = int(bsz[0]) if max_len else 0
    lengths = np.array([(bsz > b).sum() for b in range(B)], dtype=np.int64)
    if sequence.unsorted_indices is not None:
        ui = sequence.unsorted_indices
        padded = padded.index_select(1, ui)
        lengths = lengths[np.asarray(ui.tolist(), dtype=np.int64)]
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, jt.tensor(lengths, dtype=jt.int64)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    jt = _jt()
    from .. import _functional_conv as F
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    if hasattr(sequences, "_is_jtorch_tensor"):
        sequences = sequences.unbind(0)
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    max_len = max(s.shape[0] for s in sequences)
    outs = []
    for s in sequences:
        extra = max_len - s.shape[0]
        pads = [0, 0] * (s.dim() - 1) + ([0, extra] if padding_side == "right" else [extra, 0])
        outs.append(F.pad(s, pads, "constant", padding_value) if extra else s)
    out = jt.stack(outs, 0 if batch_first else 1)
    return out


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    ln = _lengths_np(lengths)
    return [padded_sequences[i, :int(n)] for i, n in enumerate(ln)]


def pack_sequence(sequences, enforce_sorted=True):
    lengths = [v.size(0) for v in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
