"""A torchvision-style ResNet-18 (BasicBlock, downsample Sequential, kaiming init) trained on a
tiny synthetic image set: SGD + momentum, StepLR, TensorDataset + DataLoader, forward hooks,
state_dict save/load, eval accuracy."""
import argparse
import os
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


def conv3x3(in_planes, out_planes, stride=1, groups=1, dilation=1):
    """3x3 convolution with padding"""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride,
                     padding=dilation, groups=groups, bias=False, dilation=dilation)


def conv1x1(in_planes, out_planes, stride=1):
    """1x1 convolution"""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, norm_layer=None):
        super(BasicBlock, self).__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x

        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)

        out = self.conv2(out)
        out = self.bn2(out)

        if self.downsample is not None:
            identity = self.downsample(x)

        out += identity
        out = self.relu(out)

        return out


class ResNet(nn.Module):

    def __init__(self, block, layers, num_classes=1000, zero_init_residual=False, width=64,
                 norm_layer=None):
        super(ResNet, self).__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        self._norm_layer = norm_layer

        self.inplanes = width
        self.dilation = 1
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, width, layers[0])
        self.layer2 = self._make_layer(block, width * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(block, width * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(block, width * 8, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(width * 8 * block.expansion, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, BasicBlock):
                    nn.init.constant_(m.bn2.weight, 0)

    def _make_layer(self, block, planes, blocks, stride=1):
        norm_layer = self._norm_layer
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                norm_layer(planes * block.expansion),
            )

        layers = []
        layers.append(block(self.inplanes, planes, stride, downsample, norm_layer))
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, norm_layer=norm_layer))

        return nn.Sequential(*layers)

    def _forward_impl(self, x):
        x = self.conv1(x)
        x = self.bn1(x)
        x = self.relu(x)
        x = self.maxpool(x)

        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)

        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        x = self.fc(x)

        return x

    def forward(self, x):
        return self._forward_impl(x)


def resnet18(**kwargs):
    return ResNet(BasicBlock, [2, 2, 2, 2], **kwargs)


def make_data(n, num_classes, rng):
    # class-dependent colour blobs so the net can learn something in a few steps
    y = rng.randint(0, num_classes, size=n)
    x = rng.randn(n, 3, 32, 32).astype(np.float32) * 0.5
    for i, c in enumerate(y):
        x[i, c % 3, 8 * (c // 3):8 * (c // 3) + 12, :] += 1.5
    return x, y.astype(np.int64)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--epochs', type=int, default=2)
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--lr', type=float, default=0.05)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    num_classes = 4
    rng = np.random.RandomState(0)
    xtr, ytr = make_data(32, num_classes, rng)
    xte, yte = make_data(16, num_classes, rng)
    train_set = TensorDataset(torch.from_numpy(xtr), torch.from_numpy(ytr))
    test_set = TensorDataset(torch.tensor(xte), torch.tensor(yte))
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=False, drop_last=True)
    test_loader = DataLoader(test_set, batch_size=args.batch_size)

    model = resnet18(num_classes=num_classes, width=8, zero_init_residual=True)
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(model.state_dict(), args.init_state)
    model = model.to(device)

    # feature hook, the way people grab intermediate activations
    features = {}

    def get_activation(name):
        def hook(model, input, output):
            features[name] = output.detach()
        return hook

    handle = model.layer3.register_forward_hook(get_activation('layer3'))

    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)

    train_losses, lrs = [], []
    for epoch in range(args.epochs):
        model.train()
        running_loss, correct, total = 0.0, 0, 0
        for batch_idx, (inputs, targets) in enumerate(train_loader):
            inputs, targets = inputs.to(device), targets.to(device)
            optimizer.zero_grad()
            outputs = model(inputs)
            loss = criterion(outputs, targets)
            loss.backward()
            optimizer.step()

            running_loss += loss.item()
            _, predicted = outputs.max(1)
            total += targets.size(0)
            correct += predicted.eq(targets).sum().item()
            train_losses.append(loss.item())
        scheduler.step()
        lrs.append(scheduler.get_last_lr()[0])
        print('Epoch %d | Loss: %.3f | Acc: %.3f%% (%d/%d)'
              % (epoch, running_loss / (batch_idx + 1), 100. * correct / total, correct, total))

    feat_shape = list(features['layer3'].shape)
    handle.remove()

    def evaluate(net):
        net.eval()
        test_loss, correct, total = 0, 0, 0
        logits = []
        with torch.no_grad():
            for inputs, targets in test_loader:
                outputs = net(inputs)
                test_loss += criterion(outputs, targets).item() * targets.size(0)
                correct += outputs.argmax(1).eq(targets).sum().item()
                total += targets.size(0)
                logits.append(outputs)
        return test_loss / total, correct / total, torch.cat(logits)

    test_loss, test_acc, logits = evaluate(model)

    # checkpoint round trip into a fresh model
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, 'resnet18.pth')
        torch.save({'epoch': args.epochs, 'state_dict': model.state_dict(),
                    'optimizer': optimizer.state_dict()}, path)
        ckpt = torch.load(path, map_location='cpu')
    model2 = resnet18(num_classes=num_classes, width=8)
    model2.load_state_dict(ckpt['state_dict'])
    _, _, logits2 = evaluate(model2)
    assert torch.allclose(logits, logits2)
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    bn = model.layer1[0].bn1
    return {
        'n_params': n_params,
        'train_losses': train_losses,
        'lrs': lrs,
        'test_loss': test_loss,
        'test_acc': test_acc,
        'feat_shape': feat_shape,
        'logits_sum': logits.abs().sum().item(),
        'running_mean': bn.running_mean.tolist()[:4],
        'running_var': bn.running_var.tolist()[:4],
        'num_batches_tracked': int(bn.num_batches_tracked),
        'momentum_buf_keys': len(ckpt['optimizer']['state']),
    }


if __name__ == '__main__':
    print(main())
