"""MobileNetV2/V3-style network (after torchvision.models.mobilenetv2/v3): inverted residuals with
depthwise convs (groups=), Squeeze-and-Excitation with hardsigmoid, Hardswish / ReLU6, BatchNorm
with custom eps/momentum, _make_divisible, Dropout head, normalisation constants as buffers,
tensor-op data augmentation (random horizontal flip, pad + random crop by indexing), SGD with
nesterov + label smoothing, clip_grad_norm_, MultiStepLR, forward_pre_hook, channels_last."""
import argparse
import os
from functools import partial

import numpy as np
import torch
from torch import nn, Tensor
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


def _make_divisible(v, divisor, min_value=None):
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    # Make sure that round down does not go down by more than 10%.
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class ConvBNActivation(nn.Sequential):
    def __init__(self, in_planes, out_planes, kernel_size=3, stride=1, groups=1, norm_layer=None,
                 activation_layer=None):
        padding = (kernel_size - 1) // 2
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        if activation_layer is None:
            activation_layer = nn.ReLU6
        super().__init__(
            nn.Conv2d(in_planes, out_planes, kernel_size, stride, padding, groups=groups, bias=False),
            norm_layer(out_planes),
            activation_layer(inplace=True)
        )
        self.out_channels = out_planes


class SqueezeExcitation(nn.Module):
    def __init__(self, input_channels, squeeze_factor=4):
        super().__init__()
        squeeze_channels = _make_divisible(input_channels // squeeze_factor, 8)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)

    def _scale(self, input: Tensor, inplace: bool) -> Tensor:
        scale = F.adaptive_avg_pool2d(input, 1)
        scale = self.fc1(scale)
        scale = self.relu(scale)
        scale = self.fc2(scale)
        return F.hardsigmoid(scale, inplace=inplace)

    def forward(self, input: Tensor) -> Tensor:
        scale = self._scale(input, True)
        return scale * input


class SEBlock(nn.Module):
    """The classic SE block (Hu et al.) with Linear layers and sigmoid."""

    def __init__(self, channel, reduction=4):
        super(SEBlock, self).__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(
            nn.Linear(channel, channel // reduction, bias=False),
            nn.ReLU(inplace=True),
            nn.Linear(channel // reduction, channel, bias=False),
            nn.Sigmoid()
        )

    def forward(self, x):
        b, c, _, _ = x.size()
        y = self.avg_pool(x).view(b, c)
        y = self.fc(y).view(b, c, 1, 1)
        return x * y.expand_as(x)


class InvertedResidual(nn.Module):
    def __init__(self, inp, oup, stride, expand_ratio, use_se=False, use_hs=False, norm_layer=None):
        super(InvertedResidual, self).__init__()
        self.stride = stride
        assert stride in [1, 2]
        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = self.stride == 1 and inp == oup
        act = nn.Hardswish if use_hs else nn.ReLU6

        layers = []
        if expand_ratio != 1:
            # pw
            layers.append(ConvBNActivation(inp, hidden_dim, kernel_size=1, norm_layer=norm_layer,
                                           activation_layer=act))
        layers.append(
            # dw
            ConvBNActivation(hidden_dim, hidden_dim, stride=stride, groups=hidden_dim,
                             norm_layer=norm_layer, activation_layer=act))
        if use_se == 'v3':
            layers.append(SqueezeExcitation(hidden_dim))
        elif use_se:
            layers.append(SEBlock(hidden_dim))
        layers.extend([
            # pw-linear
            nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False),
            norm_layer(oup),
        ])
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        if self.use_res_connect:
            return x + self.conv(x)
        else:
            return self.conv(x)


class MobileNet(nn.Module):
    def __init__(self, num_classes=4, width_mult=0.5, dropout=0.2):
        super(MobileNet, self).__init__()
        norm_layer = partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)
        input_channel = _make_divisible(16 * width_mult, 4)
        # t, c, n, s, se, hs
        setting = [
            [1, 16, 1, 1, False, False],
            [4, 24, 2, 2, 'v3', True],
            [3, 32, 2, 2, True, True],
        ]
        self.register_buffer('mean', torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer('std', torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        features = [ConvBNActivation(3, input_channel, stride=2, norm_layer=norm_layer,
                                     activation_layer=nn.Hardswish)]
        for t, c, n, s, se, hs in setting:
            output_channel = _make_divisible(c * width_mult, 4)
            for i in range(n):
                stride = s if i == 0 else 1
                features.append(InvertedResidual(input_channel, output_channel, stride, expand_ratio=t,
                                                 use_se=se, use_hs=hs, norm_layer=norm_layer))
                input_channel = output_channel
        self.last_channel = 64
        features.append(ConvBNActivation(input_channel, self.last_channel, kernel_size=1,
                                         norm_layer=norm_layer))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(self.last_channel, num_classes),
        )

        # weight initialization
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out')
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        x = (x - self.mean) / self.std
        x = self.features(x)
        # Cannot use "squeeze" as batch-size can be 1
        x = nn.functional.adaptive_avg_pool2d(x, (1, 1))
        x = torch.flatten(x, 1)
        x = self.classifier(x)
        return x


def augment(images, rng, pad=2):
    """Random horizontal flip + random crop with zero padding, done with tensor ops; the random
    choices come from a numpy RandomState (as in many data pipelines)."""
    n, c, h, w = images.shape
    flip = torch.from_numpy(rng.rand(n) < 0.5)
    images = torch.where(flip[:, None, None, None], images.flip(3), images)
    padded = F.pad(images, (pad, pad, pad, pad), mode='constant', value=0.)
    out = torch.empty_like(images)
    offsets = rng.randint(0, 2 * pad + 1, size=(n, 2))
    for i, (dy, dx) in enumerate(offsets):
        out[i] = padded[i, :, dy:dy + h, dx:dx + w]
    return out


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--epochs', type=int, default=2)
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(0)

    rng = np.random.RandomState(11)
    n = 32
    y_np = rng.randint(0, 4, n)
    x_np = rng.uniform(0, 1, (n, 3, 16, 16)).astype(np.float32) * 0.5
    for i, c in enumerate(y_np):
        x_np[i, c % 3, :, :8 if c < 3 else 16] += 0.5
    loader = DataLoader(TensorDataset(torch.from_numpy(x_np), torch.from_numpy(y_np)),
                        batch_size=args.batch_size, shuffle=False)

    model = MobileNet(num_classes=4, dropout=0.0)
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(model.state_dict(), args.init_state)
    assert 'mean' in model.state_dict() and 'mean' not in dict(model.named_parameters())

    calls = []
    model.features[1].register_forward_pre_hook(lambda mod, inp: calls.append(tuple(inp[0].shape)))

    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=4e-5)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[3, 6], gamma=0.1)
    losses, grad_norms = [], []
    for epoch in range(args.epochs):
        model.train()
        for images, target in loader:
            images = augment(images, rng)
            output = model(images)
            loss = criterion(output, target)
            optimizer.zero_grad()
            loss.backward()
            grad_norms.append(nn.utils.clip_grad_norm_(model.parameters(), 2.0).item())
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
        print('epoch', epoch, ['%.4f' % l for l in losses[-4:]])

    model.eval()
    correct = 0
    with torch.no_grad():
        for images, target in loader:
            output = model(images.contiguous(memory_format=torch.channels_last))
            correct += (output.argmax(dim=1) == target).sum().item()
    depthwise = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.groups > 1]
    return {
        'losses': losses,
        'grad_norms': grad_norms,
        'acc': correct / n,
        'lr': optimizer.param_groups[0]['lr'],
        'n_depthwise': len(depthwise),
        'dw_weight_shape': list(depthwise[0].weight.shape),
        'hook_calls': len(calls),
        'n_params': sum(p.numel() for p in model.parameters()),
        'bn_running_mean': model.features[0][1].running_mean[:3].tolist(),
    }


if __name__ == '__main__':
    print(main())
