"""torch.mps: jtorch drives no mps backend (JAX runs on CPU, NVIDIA GPUs and TPUs), so it reports none."""
from .._absent_backend import install

install(globals(), "mps")
del install
