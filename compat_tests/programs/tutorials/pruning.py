"""Pruning Tutorial (pytorch.org/tutorials/intermediate/pruning_tutorial.html) on its LeNet:
prune.random_unstructured / l1_unstructured / ln_structured (iterative, PruningContainer history
in _forward_pre_hooks), weight_orig parameters and weight_mask buffers, state_dict keys,
prune.remove, pruning every Conv2d / Linear of a model, global_unstructured with L1Unstructured and
the sparsity report, a custom BasePruningMethod (FooBarPruningMethod), then a few training steps of
the pruned model (gradients reach weight_orig through the mask).

random_unstructured draws its mask from torch's generator (a stream that differs between
frameworks): only its counts are compared; every other mask is deterministic."""
import argparse
import os

import numpy as np
import torch
from torch import nn
import torch.nn.utils.prune as prune
import torch.nn.functional as F

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


class LeNet(nn.Module):
    def __init__(self):
        super(LeNet, self).__init__()
        # 1 input image channel, 6 output channels, 5x5 square conv kernel
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)  # 5x5 image dimension
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(-1, int(x.nelement() / x.shape[0]))
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


class FooBarPruningMethod(prune.BasePruningMethod):
    """Prune every other entry in a tensor
    """
    PRUNING_TYPE = 'unstructured'

    def compute_mask(self, t, default_mask):
        mask = default_mask.clone()
        mask.view(-1)[::2] = 0
        return mask


def foobar_unstructured(module, name):
    """Prunes tensor corresponding to parameter called `name` in `module`
    by removing every other entry in the tensors.
    Modifies module in place (and also return the modified module)
    by:
    1) adding a named buffer called `name+'_mask'` corresponding to the
    binary mask applied to the parameter `name` by the pruning method.
    The parameter `name` is replaced by its pruned version, while the
    original (unpruned) parameter is stored in a new parameter named
    `name+'_orig'`.

    Args:
        module (nn.Module): module containing the tensor to prune
        name (string): parameter name within `module` on which pruning
                will act.

    Returns:
        module (nn.Module): modified (i.e. pruned) version of the input
            module

    Examples:
        >>> m = nn.Linear(3, 4)
        >>> foobar_unstructured(m, name='bias')
    """
    FooBarPruningMethod.apply(module, name)
    return module


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(0)

    models = [LeNet().to(device=device) for _ in range(4)]
    if args.init_state:
        if os.path.exists(args.init_state):
            for m, s in zip(models, torch.load(args.init_state)):
                m.load_state_dict(s)
        else:
            torch.save([m.state_dict() for m in models], args.init_state)
    out = {}

    model = models[0]
    module = model.conv1
    out['params_before'] = [n for n, _ in module.named_parameters()]
    out['buffers_before'] = [n for n, _ in module.named_buffers()]
    prune.random_unstructured(module, name="weight", amount=0.3)
    out['params_after'] = [n for n, _ in module.named_parameters()]
    out['buffers_after'] = [n for n, _ in module.named_buffers()]
    out['random_zeros'] = int((module.weight_mask == 0).sum())
    assert torch.equal(module.weight, module.weight_orig * module.weight_mask)
    out['hooks'] = [type(h).__name__ for h in module._forward_pre_hooks.values()]
    prune.l1_unstructured(module, name="bias", amount=3)
    out['bias_mask'] = module.bias_mask.tolist()
    out['bias'] = module.bias.tolist()
    prune.ln_structured(module, name="weight", amount=0.5, n=2, dim=0)
    # channels zeroed by ln_structured (the random mask underneath decides which)
    out['zero_channels'] = int((module.weight.flatten(1).abs().sum(1) == 0).sum())
    for hook in module._forward_pre_hooks.values():
        if hook._tensor_name == "weight":  # select out the correct hook
            break
    out['history'] = [type(h).__name__ for h in hook]
    out['state_dict_keys'] = list(model.state_dict().keys())
    prune.remove(module, 'weight')
    out['params_removed'] = [n for n, _ in module.named_parameters()]
    out['buffers_removed'] = [n for n, _ in module.named_buffers()]

    new_model = models[1]
    for name, module in new_model.named_modules():
        # prune 20% of connections in all 2D-conv layers
        if isinstance(module, torch.nn.Conv2d):
            prune.l1_unstructured(module, name='weight', amount=0.2)
        # prune 40% of connections in all linear layers
        elif isinstance(module, torch.nn.Linear):
            prune.l1_unstructured(module, name='weight', amount=0.4)
    out['new_model_buffers'] = list(dict(new_model.named_buffers()).keys())  # to verify that all masks exist
    out['new_model_masks'] = [int(b.sum()) for b in new_model.buffers()]
    out['new_model_mask_fc2'] = new_model.fc2.weight_mask.flatten()[:40].tolist()

    model = models[2]
    parameters_to_prune = (
        (model.conv1, 'weight'),
        (model.conv2, 'weight'),
        (model.fc1, 'weight'),
        (model.fc2, 'weight'),
        (model.fc3, 'weight'),
    )
    prune.global_unstructured(
        parameters_to_prune,
        pruning_method=prune.L1Unstructured,
        amount=0.2,
    )
    sparsity = []
    for m in (model.conv1, model.conv2, model.fc1, model.fc2, model.fc3):
        sparsity.append(100. * float(torch.sum(m.weight == 0)) / float(m.weight.nelement()))
        print("Sparsity in weight: {:.2f}%".format(sparsity[-1]))
    total = sum(float(torch.sum(m.weight == 0)) for m, _ in parameters_to_prune)
    print("Global sparsity: {:.2f}%".format(100. * total / sum(m.weight.nelement() for m, _ in parameters_to_prune)))
    out['sparsity'] = sparsity

    model = models[3]
    foobar_unstructured(model.fc3, name='bias')
    out['foobar_mask'] = model.fc3.bias_mask.tolist()

    # train the globally pruned model: the masks stay, weight_orig learns
    model = models[2]
    rng = np.random.RandomState(0)
    x = torch.from_numpy(rng.rand(16, 1, 32, 32).astype(np.float32))
    y = torch.from_numpy(rng.randint(0, 10, 16))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(4):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    out['losses'] = losses
    out['masked_grad_zero'] = bool((model.fc1.weight_orig.grad[model.fc1.weight_mask == 0] == 0).all())
    out['fc1_still_sparse'] = float(torch.sum(model.fc1.weight == 0))
    return out


if __name__ == '__main__':
    print(main())
