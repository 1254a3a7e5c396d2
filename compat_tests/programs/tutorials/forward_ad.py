"""Forward-mode Automatic Differentiation (pytorch.org/tutorials/intermediate/forward_ad_usage.html):
torch.autograd.forward_ad dual levels (make_dual / unpack_dual, tangents gone after the level
exits), dual parameters swapped into an nn.Linear with delattr/setattr, functional_call with dual
tensors, and an autograd.Function with a jvp staticmethod checked by
gradcheck(check_forward_ad=True). The tutorial's torch.randn data is drawn with numpy."""
import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.autograd.forward_ad as fwAD
from torch.func import functional_call


class Fn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, foo):
        result = torch.exp(foo)
        # Tensors stored in ``ctx`` can be used in the subsequent forward grad
        # computation.
        ctx.result = result
        return result

    @staticmethod
    def jvp(ctx, gI):
        gO = gI * ctx.result
        # If the tensor stored in`` ctx`` will not also be used in the backward pass,
        # one can manually free it using ``del``
        del ctx.result
        return gO


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--init-state', default=None)  # no trained weights: every input is drawn
    args = parser.parse_args(argv)
    rng = np.random.RandomState(0)

    def randn(*shape, dtype=np.float32):
        return torch.from_numpy(rng.randn(*shape).astype(dtype))

    out = {}
    # ---- Forward-mode automatic differentiation
    primal = randn(10, 10)
    tangent = randn(10, 10)

    def fn(x, y):
        return x ** 2 + y ** 2

    with fwAD.dual_level():
        dual_input = fwAD.make_dual(primal, tangent)
        assert fwAD.unpack_dual(dual_input).tangent is tangent
        dual_input_alt = fwAD.make_dual(primal, tangent.T)
        assert fwAD.unpack_dual(dual_input_alt).tangent is not tangent
        plain_tensor = randn(10, 10)
        dual_output = fn(dual_input, plain_tensor)
        jvp_out = fwAD.unpack_dual(dual_output).tangent
    assert fwAD.unpack_dual(dual_output).tangent is None
    assert torch.allclose(jvp_out, 2 * primal * tangent)
    out['fwad_jvp'] = jvp_out.sum().item()

    model = nn.Linear(5, 5)
    input = randn(16, 5)
    with torch.no_grad():
        model.weight.copy_(randn(5, 5))
        model.bias.copy_(randn(5))
    params = {name: p for name, p in model.named_parameters()}
    tangents = {name: torch.from_numpy(rng.rand(*p.shape).astype(np.float32)) for name, p in params.items()}

    with fwAD.dual_level():
        for name, p in params.items():
            delattr(model, name)
            setattr(model, name, fwAD.make_dual(p, tangents[name]))
        out_dual = model(input)
        jvp_module = fwAD.unpack_dual(out_dual).tangent
    assert torch.allclose(jvp_module, input @ tangents['weight'].T + tangents['bias'], atol=1e-5)

    # Using functional_call
    model = nn.Linear(5, 5)
    dual_params = {}
    with fwAD.dual_level():
        for name, p in params.items():
            # Using the same ``tangents`` from the above section
            dual_params[name] = fwAD.make_dual(p, tangents[name])
        out_dual = functional_call(model, dual_params, input)
        jvp_fc = fwAD.unpack_dual(out_dual).tangent
    # Check our results
    assert torch.allclose(jvp_fc, jvp_module)
    out['fwad_module'] = jvp_fc.sum().item()

    fn = Fn.apply
    primal = randn(10, 10, dtype=np.float64).requires_grad_()
    tangent = randn(10, 10, dtype=np.float64)
    with fwAD.dual_level():
        dual_input = fwAD.make_dual(primal, tangent)
        dual_output = fn(dual_input)
        jvp_fn = fwAD.unpack_dual(dual_output).tangent
    assert torch.allclose(jvp_fn, tangent * primal.exp())
    out['fwad_custom'] = jvp_fn.sum().item()
    # It is important to use ``autograd.gradcheck`` to verify that your
    # custom autograd Function computes the gradients correctly. By default,
    # ``gradcheck`` only checks the backward-mode (reverse-mode) AD gradients. Specify
    # ``check_forward_ad=True`` to also check forward grads. If you did not
    # implement the backward formula for your function, you can also tell ``gradcheck``
    # to skip the tests that require backward-mode AD by specifying
    # ``check_backward_ad=False``, ``check_undefined_grad=False``, and
    # ``check_batched_grad=False``.
    out['gradcheck'] = torch.autograd.gradcheck(Fn.apply, (primal,), check_forward_ad=True,
                                                check_backward_ad=False, check_undefined_grad=False,
                                                check_batched_grad=False)

    return out


if __name__ == '__main__':
    print(main())
