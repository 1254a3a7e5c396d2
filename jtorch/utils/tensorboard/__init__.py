"""torch.utils.tensorboard: SummaryWriter on TensorBoard's own event writer and protos.

As in torch, the `tensorboard` package is required (`pip install tensorboard`); jtorch tensors,
numpy arrays and Python numbers are accepted wherever torch takes a tensor. Scalars, scalar groups,
histograms, text, images, figures and hparams are written as torch writes them (TensorBoard shows
the same runs); add_graph writes nothing (jtorch has no TorchScript graph: it warns), and
add_embedding, add_mesh, add_video and the PR-curve family raise NotImplementedError.
"""
try:
    import tensorboard  # noqa: F401
except ImportError as e:   # torch's own message
    raise ImportError("TensorBoard logging requires TensorBoard version 1.15 or above") from e

from .writer import FileWriter, SummaryWriter  # noqa: F401,E402

__all__ = ["FileWriter", "SummaryWriter"]
