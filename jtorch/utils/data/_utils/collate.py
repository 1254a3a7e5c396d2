"""default_collate / default_convert with torch's rules: samples' tensors, numpy arrays and numbers
become batched jtorch tensors (Python ints -> int64, floats -> float64, bools -> bool), dicts,
namedtuples and sequences are collated field by field, strings and bytes are left as lists.

`collate(batch, collate_fn_map=...)` is the extensible core, as torch's: the map sends a type (or
a tuple of types) to a function `fn(batch, *, collate_fn_map)`.
"""
import collections.abc
import copy
import re

import numpy as np

__all__ = ["collate", "default_collate", "default_convert", "default_collate_fn_map", "collate_tensor_fn",
           "collate_numpy_array_fn", "collate_numpy_scalar_fn", "collate_float_fn", "collate_int_fn",
           "collate_str_fn"]

np_str_obj_array_pattern = re.compile(r"[SaUO]")

default_collate_err_msg_format = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or "
                                  "lists; found {}")


def _jt():
    import jtorch
    return jtorch


def _wrap_np(arr):
    """A numpy array as a jtorch tensor (same dtype, on the CPU)."""
    from ...._tensor import wrap
    import jax.numpy as jnp
    return wrap(jnp.asarray(arr))


def _stack_tensors(batch):
    """torch.stack(batch): for CPU tensors that need no gradient and agree on shape and dtype, one
    host-side np.stack and a single transfer (no per-batch-size XLA compile); otherwise jtorch.stack,
    which also raises torch's errors for mismatched shapes."""
    first = batch[0]
    shape, dtype = first.shape, first.dtype
    fast = True
    arrays = []
    for t in batch:
        if t._requires_grad or t.is_meta or t.shape != shape or t.dtype is not dtype:
            fast = False
            break
        a = t._value
        try:
            dev = a.devices()
        except AttributeError:  # a tracer (collating inside jtorch.compile)
            fast = False
            break
        if len(dev) != 1 or next(iter(dev)).platform != "cpu":
            fast = False
            break
        arrays.append(a)
    if fast:
        return _wrap_np(np.stack([np.asarray(a) for a in arrays]))
    return _jt().stack(batch, 0)


def collate(batch, *, collate_fn_map=None):
    elem = batch[0]
    elem_type = type(elem)
    if collate_fn_map is not None:
        if elem_type in collate_fn_map:
            return collate_fn_map[elem_type](batch, collate_fn_map=collate_fn_map)
        for collate_type in collate_fn_map:
            if isinstance(elem, collate_type):
                return collate_fn_map[collate_type](batch, collate_fn_map=collate_fn_map)
    if isinstance(elem, collections.abc.Mapping):
        try:
            if isinstance(elem, collections.abc.MutableMapping):
                clone = copy.copy(elem)
                clone.update({key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map) for key in elem})
                return clone
            return elem_type({key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map) for key in elem})
        except TypeError:
            return {key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return elem_type(*(collate(samples, collate_fn_map=collate_fn_map) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        it = iter(batch)
        elem_size = len(next(it))
        if not all(len(e) == elem_size for e in it):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = list(zip(*batch))
        if isinstance(elem, tuple):
            return [collate(samples, collate_fn_map=collate_fn_map) for samples in transposed]
        try:
            if isinstance(elem, collections.abc.MutableSequence):
                clone = copy.copy(elem)
                for i, samples in enumerate(transposed):
                    clone[i] = collate(samples, collate_fn_map=collate_fn_map)
                return clone
            return elem_type([collate(samples, collate_fn_map=collate_fn_map) for samples in transposed])
        except TypeError:
            return [collate(samples, collate_fn_map=collate_fn_map) for samples in transposed]
    from ...._foreign import is_foreign, to_numpy
    if is_foreign(elem):   # torch tensors (torchvision transforms, a torch Dataset): batched as jtorch tensors
        return _wrap_np(np.stack([to_numpy(b) for b in batch]))
    raise TypeError(default_collate_err_msg_format.format(elem_type))


def collate_tensor_fn(batch, *, collate_fn_map=None):
    return _stack_tensors(list(batch))


def collate_numpy_array_fn(batch, *, collate_fn_map=None):
    elem = batch[0]
    if np_str_obj_array_pattern.search(elem.dtype.str) is not None:
        raise TypeError(default_collate_err_msg_format.format(elem.dtype))
    if all(b.shape == elem.shape and b.dtype == elem.dtype for b in batch):
        return _wrap_np(np.stack(batch))
    jt = _jt()
    return collate([jt.as_tensor(b) for b in batch], collate_fn_map=collate_fn_map)


def collate_numpy_scalar_fn(batch, *, collate_fn_map=None):
    return _jt().as_tensor(np.array(batch))


def collate_float_fn(batch, *, collate_fn_map=None):
    try:  # torch.tensor(batch, dtype=torch.float64); the host array is the fast way to it
        return _wrap_np(np.array(batch, dtype=np.float64))
    except (TypeError, ValueError, OverflowError):
        jt = _jt()
        return jt.tensor(list(batch), dtype=jt.float64)


def collate_int_fn(batch, *, collate_fn_map=None):
    # torch.tensor(batch): all bools -> bool, all ints -> int64, else torch's inference (default float)
    if all(type(b) is int for b in batch):
        try:
            return _wrap_np(np.array(batch, dtype=np.int64))
        except OverflowError:
            pass
    elif all(type(b) is bool for b in batch):
        return _wrap_np(np.array(batch, dtype=np.bool_))
    return _jt().tensor(list(batch))


def collate_str_fn(batch, *, collate_fn_map=None):
    return batch


def _build_default_map():
    from ...._tensor import Tensor
    return {Tensor: collate_tensor_fn, np.ndarray: collate_numpy_array_fn, np.memmap: collate_numpy_array_fn,
            (np.bool_, np.number, np.object_): collate_numpy_scalar_fn, float: collate_float_fn,
            int: collate_int_fn, str: collate_str_fn, bytes: collate_str_fn}


default_collate_fn_map = _build_default_map()


def default_collate(batch):
    """Collate a list of samples into a batch (see the module docstring)."""
    return collate(batch, collate_fn_map=default_collate_fn_map)


def default_convert(data):
    """Convert numpy arrays and scalars (also inside containers) to jtorch tensors, without batching."""
    from ...._tensor import Tensor
    elem_type = type(data)
    if isinstance(data, Tensor):
        return data
    from ...._foreign import is_foreign
    if is_foreign(data):
        return _jt().as_tensor(data)
    if elem_type.__module__ == "numpy" and elem_type.__name__ not in ("str_", "string_", "bytes_"):
        if elem_type.__name__ == "ndarray" and np_str_obj_array_pattern.search(data.dtype.str) is not None:
            return data
        return _jt().as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        try:
            if isinstance(data, collections.abc.MutableMapping):
                clone = copy.copy(data)
                clone.update({key: default_convert(data[key]) for key in data})
                return clone
            return elem_type({key: default_convert(data[key]) for key in data})
        except TypeError:
            return {key: default_convert(data[key]) for key in data}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return elem_type(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        try:
            if isinstance(data, collections.abc.MutableSequence):
                clone = copy.copy(data)
                for i, d in enumerate(data):
                    clone[i] = default_convert(d)
                return clone
            return elem_type([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data
