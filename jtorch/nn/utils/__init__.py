"""jtorch.nn.utils: gradient clipping, parameter/vector conversion, parametrizations, functional_call."""
from .clip_grad import clip_grad_norm_, clip_grad_norm, clip_grad_value_, get_total_norm, clip_grads_with_norm_
from .convert_parameters import parameters_to_vector, vector_to_parameters
from . import parametrize, parametrizations, stateless  # noqa: F401
from . import rnn  # noqa: F401  (PackedSequence, pad/pack helpers)
from .weight_norm import weight_norm, remove_weight_norm
from .spectral_norm import spectral_norm, remove_spectral_norm
from .fusion import fuse_conv_bn_eval, fuse_conv_bn_weights, fuse_linear_bn_eval, fuse_linear_bn_weights
from .memory_format import convert_conv2d_weight_memory_format, convert_conv3d_weight_memory_format
from . import fusion, memory_format  # noqa: F401


def skip_init(module_cls, *args, **kwargs):
    """Build a module (jtorch's parameter initialisation is cheap, so it simply runs)."""
    if "device" not in module_cls.__init__.__code__.co_varnames:
        raise RuntimeError(f"Module must support a 'device' arg to skip initialization")
    return module_cls(*args, **kwargs)
