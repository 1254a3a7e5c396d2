"""Tensors of the real torch library met by jtorch (torchvision transforms and datasets return them,
a checkpoint or a helper library may hand one over). jtorch adopts them as values: a host copy
becomes a jtorch tensor, with no autograd link to the torch graph. Adoption happens only at the
edges: tensor()/as_tensor(), DataLoader collation, and an op whose arguments were refused (the
retry is off the hot path). jtorch never imports torch; it recognises the type by its module."""
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
    from ._tensor import Tensor
    like = next((v for v in leaves if isinstance(v, Tensor)), None)
    return [adopt(v, like) if is_foreign(v) else v for v in leaves]
