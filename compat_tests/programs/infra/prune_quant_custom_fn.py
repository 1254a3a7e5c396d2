"""Model-compression script (pruning tutorial + QAT-from-scratch repos): magnitude pruning with
torch.nn.utils.prune (l1_unstructured, ln_structured, random_unstructured-free global_unstructured,
custom_from_mask, prune.remove, weight_orig / weight_mask buffers and the forward pre-hook),
fake quantisation with custom autograd Functions (straight-through estimator, ctx.save_for_backward,
ctx.needs_input_grad, ctx.mark_non_differentiable, once_differentiable, the setup_context style),
torch.fake_quantize_per_tensor_affine, and gradcheck on a custom double-precision Function."""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.nn.utils.prune as prune
from torch.autograd import Function
from torch.autograd.function import once_differentiable


class RoundSTE(Function):
    @staticmethod
    def forward(ctx, x, scale, zero_point, qmin, qmax):
        q = torch.clamp(torch.round(x / scale) + zero_point, qmin, qmax)
        ctx.save_for_backward(x)
        ctx.bounds = ((qmin - zero_point) * scale, (qmax - zero_point) * scale)
        return (q - zero_point) * scale

    @staticmethod
    def backward(ctx, grad_output):
        x, = ctx.saved_tensors
        lo, hi = ctx.bounds
        mask = (x >= lo) & (x <= hi)          # clipped straight-through estimator
        grad_x = grad_output * mask.to(grad_output.dtype) if ctx.needs_input_grad[0] else None
        return grad_x, None, None, None, None


class SignWithIndex(Function):
    """Binarisation returning the (non-differentiable) sign pattern as a second output."""

    @staticmethod
    def forward(x):
        return x.sign(), (x > 0).to(torch.int64)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, = inputs
        ctx.save_for_backward(x)
        ctx.mark_non_differentiable(output[1])

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_sign, grad_idx):
        x, = ctx.saved_tensors
        return grad_sign * (x.abs() <= 1).to(grad_sign.dtype)


class LogCosh(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x + F.softplus(-2.0 * x) - np.log(2.0)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * torch.tanh(x)


class QuantLinear(nn.Linear):
    def __init__(self, *a, bits=4, **k):
        super().__init__(*a, **k)
        self.qmax = 2 ** (bits - 1) - 1

    def forward(self, x):
        scale = self.weight.detach().abs().max() / self.qmax
        wq = RoundSTE.apply(self.weight, scale, 0, -self.qmax - 1, self.qmax)
        return F.linear(x, wq, self.bias)


class LeNetish(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 3)
        self.conv2 = nn.Conv2d(6, 8, 3)
        self.fc1 = nn.Linear(8 * 2 * 2, 24)
        self.fc2 = QuantLinear(24, 4, bits=4)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(-1, int(x.nelement() / x.shape[0]))
        x = F.relu(self.fc1(x))
        return self.fc2(x)


def sparsity(t):
    return float(torch.sum(t == 0)) / float(t.nelement())


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--init-state', default=None)
    parser.add_argument('--steps', type=int, default=5)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)

    model = LeNetish()
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(model.state_dict(), args.init_state)
    x = torch.from_numpy(rng.normal(size=(16, 1, 14, 14)).astype(np.float32))
    y = torch.from_numpy((np.arange(16) % 4).astype(np.int64))

    # local pruning
    prune.l1_unstructured(model.conv1, name='weight', amount=0.3)
    prune.l1_unstructured(model.conv1, name='bias', amount=2)
    prune.ln_structured(model.conv2, name='weight', amount=0.25, n=2, dim=0)
    buffer_names = sorted(n for n, _ in model.conv1.named_buffers())
    param_names = sorted(n for n, _ in model.conv1.named_parameters())
    n_pre_hooks = len(model.conv1._forward_pre_hooks)
    # iterative pruning on the same tensor: a PruningContainer
    prune.l1_unstructured(model.conv1, name='weight', amount=0.2)
    conv1_sparsity = sparsity(model.conv1.weight)
    conv2_zero_filters = int((model.conv2.weight.flatten(1).abs().sum(1) == 0).sum())
    # global pruning across layers
    parameters_to_prune = ((model.fc1, 'weight'), (model.fc2, 'weight'))
    prune.global_unstructured(parameters_to_prune, pruning_method=prune.L1Unstructured, amount=0.4)
    global_sparsity = (float(torch.sum(model.fc1.weight == 0) + torch.sum(model.fc2.weight == 0)) /
                       float(model.fc1.weight.nelement() + model.fc2.weight.nelement()))
    mask = torch.from_numpy((rng.uniform(size=(24,)) > 0.5).astype(np.float32))
    prune.custom_from_mask(model.fc1, name='bias', mask=mask)
    state_keys = sorted(model.state_dict().keys())

    # train with masks in place: pruned weights stay zero, their grads are zero
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(args.steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    masked_grad_zero = bool((model.conv1.weight_orig.grad[model.conv1.weight_mask == 0] == 0).all())
    still_sparse = sparsity(model.conv1.weight)
    fc2_unique = torch.unique(torch.round(model.fc2.weight / (model.fc2.weight.abs().max() / 7))).numel()

    # make pruning permanent
    for m, n in [(model.conv1, 'weight'), (model.conv1, 'bias'), (model.conv2, 'weight'),
                 (model.fc1, 'weight'), (model.fc1, 'bias'), (model.fc2, 'weight')]:
        prune.remove(m, n)
    final_keys = sorted(model.state_dict().keys())
    is_pruned = prune.is_pruned(model)
    with torch.no_grad():
        logits = model(x)

    # custom Functions
    t = torch.from_numpy(rng.normal(size=(6, 5)).astype(np.float32) * 2).requires_grad_()
    s, idx = SignWithIndex.apply(t)
    (s * torch.arange(5.0)).sum().backward()
    sign_grad = t.grad.clone()
    idx_requires_grad = idx.requires_grad
    double_backward_error = None
    t.grad = None
    s2, _ = SignWithIndex.apply(t)
    # a differentiable upstream gradient (e.g. a learned loss weighting) under create_graph
    upstream = torch.full_like(s2, 0.5, requires_grad=True)
    g, = torch.autograd.grad(s2, t, grad_outputs=upstream, create_graph=True)
    try:
        g.sum().backward()
    except RuntimeError as e:
        double_backward_error = 'once_differentiable' in str(e)
    xd = torch.from_numpy(rng.normal(size=(4, 3))).requires_grad_()
    gradcheck_ok = torch.autograd.gradcheck(LogCosh.apply, (xd,), eps=1e-6, atol=1e-4)
    lc = LogCosh.apply(xd)
    ref = torch.log(torch.cosh(xd))
    # torch's built-in fake quant (per tensor) with its own STE
    w = torch.from_numpy(rng.normal(size=(5, 5)).astype(np.float32)).requires_grad_()
    fq = torch.fake_quantize_per_tensor_affine(w, 0.1, 0, -8, 7)
    (fq * torch.linspace(0, 1, 25).view(5, 5)).sum().backward()
    return {
        'buffer_names': buffer_names, 'param_names': param_names, 'n_pre_hooks': n_pre_hooks,
        'conv1_sparsity': conv1_sparsity, 'conv2_zero_filters': conv2_zero_filters,
        'global_sparsity': global_sparsity, 'state_keys': state_keys,
        'losses': losses, 'masked_grad_zero': masked_grad_zero, 'still_sparse': still_sparse,
        'fc2_levels_le_16': fc2_unique <= 16,
        'final_keys': final_keys, 'is_pruned': is_pruned, 'logits': logits.sum(0).tolist(),
        'sign_grad': sign_grad.sum(0).tolist(), 'idx_requires_grad': idx_requires_grad,
        'idx_sum': idx.sum().item(), 'double_backward_error': double_backward_error,
        'gradcheck_ok': gradcheck_ok, 'logcosh_err': (lc - ref).abs().max().item() < 1e-10,
        'fq': fq.sum().item(), 'fq_grad': w.grad.sum().item(),
    }


if __name__ == '__main__':
    print(main())
