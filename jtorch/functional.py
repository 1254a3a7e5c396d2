"""torch.functional: the Python-level functions torch defines in torch/functional.py, the same
objects as jtorch.<name>."""
__all__ = ["atleast_1d", "atleast_2d", "atleast_3d", "align_tensors", "broadcast_shapes", "broadcast_tensors",
           "cartesian_prod", "block_diag", "cdist", "chain_matmul", "einsum", "istft", "lu", "norm", "meshgrid",
           "pca_lowrank", "split", "stft", "svd_lowrank", "tensordot", "unique", "unique_consecutive",
           "unravel_index"]


def __getattr__(name):
    if name in __all__:
        import jtorch
        return getattr(jtorch, name)
    raise AttributeError(f"module 'jtorch.functional' has no attribute '{name}'")
