"""Single-image super-resolution (after pytorch/examples/super_resolution ESPCN and SRCNN-style
repos): a torch.utils.data.Dataset subclass producing (low-res, high-res) pairs with
F.interpolate(mode='bicubic') / F.avg_pool2d, sub-pixel convolution with nn.PixelShuffle (and
PixelUnshuffle for a space-to-depth variant), orthogonal_ init with calculate_gain, Adam + MSELoss,
PSNR via 10 * log10, nn.Upsample(mode='bilinear') baseline, inference_mode, a Subset split and
.numpy() post-processing."""
import argparse
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.nn.init as init
from torch.utils.data import Dataset, DataLoader, Subset


class Net(nn.Module):
    def __init__(self, upscale_factor):
        super(Net, self).__init__()

        self.relu = nn.ReLU()
        self.conv1 = nn.Conv2d(1, 16, (5, 5), (1, 1), (2, 2))
        self.conv2 = nn.Conv2d(16, 16, (3, 3), (1, 1), (1, 1))
        self.conv3 = nn.Conv2d(16, 8, (3, 3), (1, 1), (1, 1))
        self.conv4 = nn.Conv2d(8, upscale_factor ** 2, (3, 3), (1, 1), (1, 1))
        self.pixel_shuffle = nn.PixelShuffle(upscale_factor)

        self._initialize_weights()

    def forward(self, x):
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        x = self.relu(self.conv3(x))
        x = self.pixel_shuffle(self.conv4(x))
        return x

    def _initialize_weights(self):
        init.orthogonal_(self.conv1.weight, init.calculate_gain('relu'))
        init.orthogonal_(self.conv2.weight, init.calculate_gain('relu'))
        init.orthogonal_(self.conv3.weight, init.calculate_gain('relu'))
        init.orthogonal_(self.conv4.weight)


class SpaceToDepthNet(nn.Module):
    """Unshuffle the low-res input further, process, shuffle back up (a cheap SR variant)."""

    def __init__(self, upscale_factor):
        super().__init__()
        self.unshuffle = nn.PixelUnshuffle(2)
        self.body = nn.Sequential(
            nn.Conv2d(4, 32, 3, padding=1), nn.PReLU(32),
            nn.Conv2d(32, 4 * upscale_factor ** 2, 3, padding=1))
        self.shuffle = nn.PixelShuffle(2 * upscale_factor)
        self.upsample = nn.Upsample(scale_factor=upscale_factor, mode='bilinear', align_corners=False)

    def forward(self, x):
        return self.upsample(x) + self.shuffle(self.body(self.unshuffle(x)))


class SRDataset(Dataset):
    def __init__(self, n, size, upscale_factor, seed=0):
        super(SRDataset, self).__init__()
        rng = np.random.RandomState(seed)
        yy, xx = np.mgrid[:size, :size] / size
        self.images = []
        for _ in range(n):
            f1, f2, p = rng.uniform(1, 4), rng.uniform(1, 4), rng.uniform(0, 6.28)
            img = 0.5 + 0.25 * np.sin(2 * math.pi * f1 * xx + p) + 0.25 * np.cos(2 * math.pi * f2 * yy)
            self.images.append(img.astype(np.float32))
        self.upscale_factor = upscale_factor

    def __getitem__(self, index):
        target = torch.from_numpy(self.images[index]).unsqueeze(0)
        if index % 2:
            input = F.avg_pool2d(target.unsqueeze(0), self.upscale_factor).squeeze(0)
        else:
            size = target.shape[-1] // self.upscale_factor
            input = F.interpolate(target.unsqueeze(0), size=(size, size), mode='bicubic',
                                  align_corners=False).squeeze(0).clamp(0, 1)
        return input, target

    def __len__(self):
        return len(self.images)


def main(argv=None):
    parser = argparse.ArgumentParser(description='PyTorch Super Res Example')
    parser.add_argument('--upscale_factor', type=int, default=2)
    parser.add_argument('--batchSize', type=int, default=4)
    parser.add_argument('--nEpochs', type=int, default=2)
    parser.add_argument('--lr', type=float, default=0.001)
    parser.add_argument('--init-state', default=None)
    opt = parser.parse_args(argv)

    torch.manual_seed(123)
    device = torch.device("cpu")

    full_set = SRDataset(16, 16, opt.upscale_factor)
    train_set = Subset(full_set, range(0, 12))
    test_set = Subset(full_set, range(12, 16))
    training_data_loader = DataLoader(dataset=train_set, batch_size=opt.batchSize, shuffle=False)
    testing_data_loader = DataLoader(dataset=test_set, batch_size=opt.batchSize, shuffle=False)

    models = {'espcn': Net(upscale_factor=opt.upscale_factor).to(device),
              's2d': SpaceToDepthNet(upscale_factor=opt.upscale_factor).to(device)}
    if opt.init_state:
        if os.path.exists(opt.init_state):
            states = torch.load(opt.init_state)
            for k, m in models.items():
                m.load_state_dict(states[k])
        else:
            torch.save({k: m.state_dict() for k, m in models.items()}, opt.init_state)
    criterion = nn.MSELoss()

    results = {}
    for name, model in models.items():
        optimizer = torch.optim.Adam(model.parameters(), lr=opt.lr)
        losses = []
        for epoch in range(1, opt.nEpochs + 1):
            epoch_loss = 0
            for iteration, batch in enumerate(training_data_loader, 1):
                input, target = batch[0].to(device), batch[1].to(device)

                optimizer.zero_grad()
                loss = criterion(model(input), target)
                epoch_loss += loss.item()
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
            print("===> {} Epoch {} Complete: Avg. Loss: {:.6f}".format(
                name, epoch, epoch_loss / len(training_data_loader)))

        avg_psnr = 0
        with torch.inference_mode():
            for batch in testing_data_loader:
                input, target = batch[0].to(device), batch[1].to(device)
                prediction = model(input)
                mse = criterion(prediction, target)
                psnr = 10 * math.log10(1 / mse.item())
                avg_psnr += psnr
        out_img = prediction[0].cpu().numpy()
        out_img = (out_img * 255.0).clip(0, 255).astype(np.uint8)
        results[name] = {'losses': losses, 'psnr': avg_psnr / len(testing_data_loader),
                         'out_shape': list(out_img.shape), 'out_mean': float(out_img.mean())}
        print("===> {} Avg. PSNR: {:.4f} dB".format(name, results[name]['psnr']))

    # bicubic / bilinear upsampling baselines
    lr_img, hr_img = test_set[0]
    for mode in ('bicubic', 'bilinear', 'nearest'):
        kw = {} if mode == 'nearest' else {'align_corners': False}
        up = F.interpolate(lr_img[None], scale_factor=opt.upscale_factor, mode=mode, **kw)
        results['baseline_' + mode] = 10 * math.log10(1 / F.mse_loss(up[0], hr_img).item())
    return results


if __name__ == '__main__':
    print(main())
