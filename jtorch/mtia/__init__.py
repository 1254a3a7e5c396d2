"""torch.mtia: jtorch drives no mtia backend (JAX runs on CPU, NVIDIA GPUs and TPUs), so it reports none."""
from .._absent_backend import install

install(globals(), "mtia")
del install
