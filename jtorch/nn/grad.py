"""torch.nn.grad: gradients of conv1d/2d/3d with respect to the input or the weight.

A convolution is linear in each argument, so each gradient is the vector-Jacobian product of a conv at a
zero point of the wanted argument's shape; recorded with create_graph so the result stays differentiable
in the other arguments (double backward), as torch's."""
from . import functional as F

__all__ = ["conv1d_input", "conv1d_weight", "conv2d_input", "conv2d_weight", "conv3d_input", "conv3d_weight"]


def _grad_input(conv, input_size, weight, grad_output, stride, padding, dilation, groups):
    from .. import zeros, enable_grad, autograd
    with enable_grad():
        x = zeros(tuple(input_size), dtype=weight.dtype, device=weight.device, requires_grad=True)
        out = conv(x, weight, None, stride, padding, dilation, groups)
        return autograd.grad(out, x, grad_output, create_graph=weight.requires_grad or grad_output.requires_grad)[0]


def _grad_weight(conv, input, weight_size, grad_output, stride, padding, dilation, groups):
    from .. import zeros, enable_grad, autograd
    with enable_grad():
        w = zeros(tuple(weight_size), dtype=input.dtype, device=input.device, requires_grad=True)
        out = conv(input, w, None, stride, padding, dilation, groups)
        return autograd.grad(out, w, grad_output, create_graph=input.requires_grad or grad_output.requires_grad)[0]


def conv1d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    return _grad_input(F.conv1d, input_size, weight, grad_output, stride, padding, dilation, groups)


def conv1d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    return _grad_weight(F.conv1d, input, weight_size, grad_output, stride, padding, dilation, groups)


def conv2d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    return _grad_input(F.conv2d, input_size, weight, grad_output, stride, padding, dilation, groups)


def conv2d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    return _grad_weight(F.conv2d, input, weight_size, grad_output, stride, padding, dilation, groups)


def conv3d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    return _grad_input(F.conv3d, input_size, weight, grad_output, stride, padding, dilation, groups)


def conv3d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    return _grad_weight(F.conv3d, input, weight_size, grad_output, stride, padding, dilation, groups)
