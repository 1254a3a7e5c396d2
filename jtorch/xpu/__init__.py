"""torch.xpu: jtorch drives no xpu backend (JAX runs on CPU, NVIDIA GPUs and TPUs), so it reports none."""
from .._absent_backend import install

install(globals(), "xpu")
del install
