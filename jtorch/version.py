"""torch.version: build facts. jtorch is pure Python on JAX: no CUDA/HIP build of its own."""
from .torch_version import TorchVersion

__version__ = TorchVersion("2.13.0+jtorch.0.1")
debug = False
cuda = None
hip = None
xpu = None
git_version = "jtorch"
