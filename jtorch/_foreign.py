"""Meeting the real torch library (jtorch never imports it; it recognises torch's types by module).

Torch tensors met by jtorch (torchvision transforms and datasets return them) are adopted as
values: a host copy becomes a jtorch tensor, with no autograd link to torch's graph. That happens
at the edges only: tensor()/as_tensor(), DataLoader collation, and an op whose arguments were
refused (the retry is off the hot path). A torch tensor that requires grad (a torch module's
parameter) is refused instead: adopting it would silently stop it from training.

jtorch tensors met by real torch functions (a program whose imports were only partly swapped,
`import torch.nn as nn, torch.nn.functional as F`, leaves F on torch) reach
`Tensor.__torch_function__`, torch's override protocol for foreign tensor types: the call runs
jtorch's function of the same name."""
import numpy as np


def is_foreign(x):
    t = type(x)
    return t.__module__.partition(".")[0] == "torch" and hasattr(t, "detach") and hasattr(t, "numpy")


def to_numpy(x):
    x = x.detach()
    if getattr(x.device, "type", "cpu") != "cpu":
        x = x.cpu()
    name = str(x.dtype)
    if name == "torch.bfloat16":   # numpy has no bfloat16: move the bits
        import ml_dtypes
        return x.view(_torch_dtype(x, "int16")).numpy().view(ml_dtypes.bfloat16).copy()
    return np.array(x.numpy(), copy=True)


def _torch_dtype(x, name):
    import sys
    return getattr(sys.modules[type(x).__module__.partition(".")[0]], name)


def adopt(x, like=None):
    """x as a jtorch tensor (on `like`'s device when given)."""
    from ._creation import tensor
    t = tensor(to_numpy(x))
    return t if like is None or like.device == t.device else t.to(like.device)


def adopt_leaves(leaves):
    """The op's flat arguments with torch tensors adopted, or None when there are none."""
    if not any(is_foreign(v) for v in leaves):
        return None
    for v in leaves:
        if is_foreign(v) and v.requires_grad:
            raise TypeError(f"a real torch tensor that requires grad (shape {list(v.shape)}) was passed to a jtorch "
                            "op: torch modules and parameters cannot train inside jtorch; build the model with "
                            "jtorch (import jtorch as torch)")
    from ._tensor import Tensor
    like = next((v for v in leaves if isinstance(v, Tensor)), None)
    return [adopt(v, like) if is_foreign(v) else v for v in leaves]


# torch modules whose functions live in a jtorch namespace of another name
_NAMESPACES = {"torch._C._nn": "nn.functional", "torch._C._linalg": "linalg", "torch._C._fft": "fft",
               "torch._C._special": "special", "torch.functional": "", "torch": "", "torch.nn.functional":
               "nn.functional", "torch.nn.init": "nn.init", "torch.linalg": "linalg", "torch.fft": "fft",
               "torch.special": "special"}
_PREFIX = {"linalg": "linalg_", "fft": "fft_", "special": "special_"}


def _equivalent(func):
    """jtorch's counterpart of a real torch function, Tensor method or attribute getter, or None."""
    import jtorch
    qual = getattr(func, "__qualname__", "") or ""
    if qual.startswith(("TensorBase.", "Tensor.")):          # Tensor methods
        name = qual.rpartition(".")[2]
        return lambda self, *a, **k: getattr(self, name)(*a, **k)
    if getattr(func, "__name__", "") == "__get__":            # Tensor attributes (x.shape, x.T)
        attr = getattr(getattr(func, "__self__", None), "__name__", None)
        return None if attr is None else (lambda self, *a, **k: getattr(self, attr))
    space = _NAMESPACES.get(getattr(func, "__module__", None) or "")
    if space is None:
        return None
    name = func.__name__
    if space in _PREFIX and name.startswith(_PREFIX[space]):
        name = name[len(_PREFIX[space]):]
    obj = jtorch
    for part in filter(None, space.split(".")):
        obj = getattr(obj, part)
    found = getattr(obj, name, None)
    if found is None and space == "":
        found = getattr(jtorch.nn.functional, name, None)
    return found


def torch_function(cls, func, types, args=(), kwargs=None):
    """Tensor.__torch_function__: real torch called with jtorch tensors runs jtorch's function."""
    target = _equivalent(func)
    if target is None:
        return NotImplemented
    return target(*args, **(kwargs or {}))
