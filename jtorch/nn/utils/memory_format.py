"""convert_conv{2,3}d_weight_memory_format (torch.nn.utils.memory_format).

XLA picks physical layouts itself, so a "channels_last" weight holds the same values in the same logical
shape; these walk the module tree like torch's (validating the format) and return the module unchanged."""

__all__ = ["convert_conv2d_weight_memory_format", "convert_conv3d_weight_memory_format"]


def _convert(module, memory_format, conv_types):
    from ... import memory_format as _memory_format_type
    if not isinstance(memory_format, _memory_format_type):
        raise TypeError(f"memory_format must be a torch.memory_format, got {type(memory_format).__name__}")
    if isinstance(module, conv_types):
        module.weight.data = module.weight.detach().contiguous(memory_format=memory_format)
    for child in module.children():
        _convert(child, memory_format, conv_types)
    return module


def convert_conv2d_weight_memory_format(module, memory_format):
    from ..modules.conv import Conv2d, ConvTranspose2d
    return _convert(module, memory_format, (Conv2d, ConvTranspose2d))


def convert_conv3d_weight_memory_format(module, memory_format):
    from ..modules.conv import Conv3d, ConvTranspose3d
    return _convert(module, memory_format, (Conv3d, ConvTranspose3d))
