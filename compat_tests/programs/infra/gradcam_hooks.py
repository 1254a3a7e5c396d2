"""Feature extraction and Grad-CAM on a small CNN, the way pytorch-grad-cam / "extract intermediate
features" snippets do it: forward hooks found through named_modules(), a full backward hook on the
target layer, tensor.register_hook on an activation, handle.remove(), and a feature-extractor built
from forward hooks that returns a dict of activations."""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class SmallCNN(nn.Module):
    def __init__(self, num_classes=4):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(inplace=True),
            nn.Conv2d(16, 16, 3, padding=1),
            nn.ReLU(),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.classifier = nn.Linear(16, num_classes)

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


class FeatureExtractor:
    """Collects the outputs of the named layers on every forward pass."""

    def __init__(self, model, layers):
        self.model = model
        self.features = {}
        self.handles = []
        modules = dict(model.named_modules())
        for name in layers:
            self.handles.append(modules[name].register_forward_hook(self._save(name)))

    def _save(self, name):
        def hook(module, inp, out):
            self.features[name] = out.detach().clone()
        return hook

    def __call__(self, x):
        self.features = {}
        out = self.model(x)
        return out, self.features

    def remove(self):
        for h in self.handles:
            h.remove()


class GradCAM:
    def __init__(self, model, target_layer):
        self.model = model
        self.activations = None
        self.gradients = None
        self.fwd_handle = target_layer.register_forward_hook(self.save_activation)
        self.bwd_handle = target_layer.register_full_backward_hook(self.save_gradient)

    def save_activation(self, module, input, output):
        self.activations = output.detach()

    def save_gradient(self, module, grad_input, grad_output):
        # grad_output is a tuple with the gradient w.r.t. the module's output
        self.gradients = grad_output[0].detach()

    def __call__(self, x, class_idx=None):
        self.model.zero_grad()
        logits = self.model(x)
        if class_idx is None:
            class_idx = logits.argmax(dim=1)
        one_hot = torch.zeros_like(logits)
        one_hot.scatter_(1, class_idx.view(-1, 1), 1.0)
        (logits * one_hot).sum().backward()
        weights = self.gradients.mean(dim=(2, 3), keepdim=True)
        cam = F.relu((weights * self.activations).sum(dim=1, keepdim=True))
        cam = F.interpolate(cam, size=x.shape[-2:], mode='bilinear', align_corners=False)
        b = cam.shape[0]
        flat = cam.view(b, -1)
        mn = flat.min(dim=1, keepdim=True)[0]
        mx = flat.max(dim=1, keepdim=True)[0]
        cam = ((flat - mn) / (mx - mn + 1e-8)).view_as(cam)
        return cam, logits, class_idx

    def remove(self):
        self.fwd_handle.remove()
        self.bwd_handle.remove()


def make_images(n, rng):
    x = rng.normal(0, 0.3, size=(n, 3, 16, 16)).astype(np.float32)
    for i in range(n):
        r, c = rng.randint(0, 10, 2)
        x[i, i % 3, r:r + 6, c:c + 6] += 1.5
    return x


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--init-state', default=None)
    parser.add_argument('--steps', type=int, default=6)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)

    model = SmallCNN()
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(model.state_dict(), args.init_state)

    x = torch.from_numpy(make_images(8, rng))
    y = torch.from_numpy((np.arange(8) % 4).astype(np.int64))

    # a few training steps so BatchNorm running stats and weights move
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    # count forward calls of every ReLU with a hook that returns None
    calls = {}

    def counter(name):
        def hook(m, i, o):
            calls[name] = calls.get(name, 0) + 1
        return hook

    count_handles = [m.register_forward_hook(counter(n)) for n, m in model.named_modules()
                     if isinstance(m, nn.ReLU)]
    losses = []
    for _ in range(args.steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    for h in count_handles:
        h.remove()
    model(x)  # hooks removed: counts must not move
    relu_calls = [calls[k] for k in sorted(calls)]

    model.eval()
    extractor = FeatureExtractor(model, ['features.3', 'features.6', 'avgpool'])
    with torch.no_grad():
        out, feats = extractor(x)
    extractor.remove()
    feat_stats = {k: [list(v.shape), v.mean().item(), v.abs().sum().item()] for k, v in sorted(feats.items())}

    # forward pre-hook that rescales the input, and a forward hook that replaces the output
    def pre_hook(module, inputs):
        return (inputs[0] * 0.5,)

    def replace_out(module, inputs, output):
        return output + 1.0

    h1 = model.classifier.register_forward_pre_hook(pre_hook)
    h2 = model.classifier.register_forward_hook(replace_out)
    with torch.no_grad():
        hooked = model(x)
    h1.remove()
    h2.remove()
    with torch.no_grad():
        unhooked = model(x)
    hook_delta = (hooked - unhooked).abs().sum().item()

    # Grad-CAM on the last conv layer
    target = dict(model.named_modules())['features.7']
    cam_extractor = GradCAM(model, target)
    cam, logits, cls = cam_extractor(x)
    cam_extractor.remove()

    # tensor.register_hook: capture (and rescale) the gradient of an intermediate activation
    grads = {}
    feats_t = model.features(x)
    feats_t.register_hook(lambda g: grads.__setitem__('feat', g.clone()))
    pooled = model.avgpool(feats_t).flatten(1)
    pooled.register_hook(lambda g: g * 2.0)  # doubles the gradient flowing upstream
    logits2 = model.classifier(pooled)
    model.zero_grad()
    logits2.gather(1, cls.view(-1, 1)).sum().backward()
    cls_grad_norm = model.classifier.weight.grad.norm().item()
    conv_grad_norm = model.features[0].weight.grad.norm().item()

    # input gradient saliency map with retain_grad
    inp = x.clone().requires_grad_(True)
    score = model(inp).max(dim=1).values.sum()
    score.backward()
    saliency = inp.grad.abs().amax(dim=1)

    return {
        'losses': losses,
        'relu_calls': relu_calls,
        'features': feat_stats,
        'hook_delta': hook_delta,
        'cam_shape': list(cam.shape),
        'cam_sum': cam.sum().item(),
        'cam_row_means': cam.mean(dim=(1, 2, 3)).tolist(),
        'pred': cls.tolist(),
        'act_grad_sum': grads['feat'].abs().sum().item(),
        'cls_grad_norm': cls_grad_norm,
        'conv_grad_norm': conv_grad_norm,
        'saliency_sum': saliency.sum().item(),
        'n_hooks_left': len(target._forward_hooks) + len(target._backward_hooks),
    }


if __name__ == '__main__':
    print(main())
