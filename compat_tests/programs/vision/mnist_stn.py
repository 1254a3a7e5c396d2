"""pytorch/examples' MNIST net extended with a Spatial Transformer (after the PyTorch STN
tutorial): F.affine_grid + F.grid_sample, localisation net whose last Linear is initialised to the
identity transform (weight.data.zero_(), bias.data.copy_), F.max_pool2d / F.relu / F.dropout /
nn.Dropout2d, log_softmax + nll_loss (reduction='sum' for the test loss), Adadelta + StepLR,
torch.backends.cudnn flags, test loop with pred.eq(target.view_as(pred)), a .numpy() confusion
matrix, torch.save / load of the state_dict.

Dropout draws from torch's random stream (different in jtorch), so the training trajectory is
compared statistically; everything before training and in eval mode is deterministic."""
import argparse
import os
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.optim.lr_scheduler import StepLR
from torch.utils.data import DataLoader, TensorDataset


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5)
        self.conv2 = nn.Conv2d(6, 10, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(10 * 2 * 2, 24)
        self.fc2 = nn.Linear(24, 10)

        # Spatial transformer localization-network
        self.localization = nn.Sequential(
            nn.Conv2d(1, 4, kernel_size=5),
            nn.MaxPool2d(2, stride=2),
            nn.ReLU(True),
            nn.Conv2d(4, 6, kernel_size=3),
            nn.MaxPool2d(2, stride=2),
            nn.ReLU(True)
        )

        # Regressor for the 3 * 2 affine matrix
        self.fc_loc = nn.Sequential(
            nn.Linear(6 * 3 * 3, 16),
            nn.ReLU(True),
            nn.Linear(16, 3 * 2)
        )

        # Initialize the weights/bias with identity transformation
        self.fc_loc[2].weight.data.zero_()
        self.fc_loc[2].bias.data.copy_(torch.tensor([1, 0, 0, 0, 1, 0], dtype=torch.float))

    # Spatial transformer network forward function
    def stn(self, x):
        xs = self.localization(x)
        xs = xs.view(-1, 6 * 3 * 3)
        theta = self.fc_loc(xs)
        theta = theta.view(-1, 2, 3)

        grid = F.affine_grid(theta, x.size(), align_corners=False)
        x = F.grid_sample(x, grid, align_corners=False)

        return x

    def forward(self, x):
        # transform the input
        x = self.stn(x)

        # Perform the usual forward pass
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = x.view(-1, 10 * 2 * 2)
        x = F.relu(self.fc1(x))
        x = F.dropout(x, training=self.training)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


def train(args, model, device, train_loader, optimizer, epoch, losses):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if batch_idx % args.log_interval == 0:
            print('Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}'.format(
                epoch, batch_idx * len(data), len(train_loader.dataset),
                100. * batch_idx / len(train_loader), loss.item()))


def test(model, device, test_loader):
    model.eval()
    test_loss = 0
    correct = 0
    confusion = np.zeros((10, 10), dtype=np.int64)
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction='sum').item()  # sum up batch loss
            pred = output.argmax(dim=1, keepdim=True)  # get the index of the max log-probability
            correct += pred.eq(target.view_as(pred)).sum().item()
            for t, p in zip(target.numpy(), pred.view(-1).numpy()):
                confusion[t, p] += 1

    test_loss /= len(test_loader.dataset)
    print('\nTest set: Average loss: {:.4f}, Accuracy: {}/{} ({:.0f}%)\n'.format(
        test_loss, correct, len(test_loader.dataset),
        100. * correct / len(test_loader.dataset)))
    return test_loss, correct, confusion


def make_digits(n, rng):
    """20x20 fake digits: class k is a bar at angle k * 18 degrees, randomly shifted."""
    yy, xx = np.mgrid[:20, :20] - 9.5
    y = rng.randint(0, 10, n)
    x = np.zeros((n, 1, 20, 20), np.float32)
    for i, k in enumerate(y):
        a = np.deg2rad(k * 18)
        dy, dx = rng.uniform(-2, 2, 2)
        d = np.abs((xx - dx) * np.sin(a) - (yy - dy) * np.cos(a))
        x[i, 0] = (d < 1.5) * 1.0
    x = (x - 0.1307) / 0.3081
    return x.astype(np.float32), y.astype(np.int64)


def main(argv=None):
    parser = argparse.ArgumentParser(description='PyTorch MNIST Example')
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--epochs', type=int, default=2)
    parser.add_argument('--lr', type=float, default=1.0)
    parser.add_argument('--gamma', type=float, default=0.7)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--log-interval', type=int, default=2)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    use_cuda = torch.cuda.is_available()
    torch.manual_seed(args.seed)
    torch.backends.cudnn.benchmark = True
    device = torch.device("cuda" if use_cuda else "cpu")

    train_kwargs = {'batch_size': args.batch_size}
    test_kwargs = {'batch_size': 32}
    if use_cuda:
        train_kwargs.update({'num_workers': 1, 'pin_memory': True, 'shuffle': True})

    rng = np.random.RandomState(8)
    xtr, ytr = make_digits(64, rng)
    xte, yte = make_digits(32, rng)
    train_loader = DataLoader(TensorDataset(torch.from_numpy(xtr), torch.from_numpy(ytr)), **train_kwargs)
    test_loader = DataLoader(TensorDataset(torch.from_numpy(xte), torch.from_numpy(yte)), **test_kwargs)

    model = Net().to(device)
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(model.state_dict(), args.init_state)

    # deterministic: eval before training, and one eval-mode gradient through the STN
    loss0, correct0, _ = test(model, device, test_loader)
    model.eval()
    data, target = next(iter(train_loader))
    model.fc_loc[2].bias.data.add_(torch.tensor([0.1, 0.05, 0.0, -0.05, 0.1, 0.0]))  # not the identity
    F.nll_loss(model(data), target).backward()
    grads0 = {n: p.grad.norm().item() for n, p in model.named_parameters() if p.grad is not None}
    theta_grad = model.fc_loc[2].bias.grad.tolist()
    model.zero_grad()

    optimizer = optim.Adadelta(model.parameters(), lr=args.lr)
    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
    losses = []
    for epoch in range(1, args.epochs + 1):
        train(args, model, device, train_loader, optimizer, epoch, losses)
        test_loss, correct, confusion = test(model, device, test_loader)
        scheduler.step()

    with tempfile.TemporaryDirectory() as d:
        torch.save(model.state_dict(), os.path.join(d, "mnist_cnn.pt"))
        model2 = Net()
        model2.load_state_dict(torch.load(os.path.join(d, "mnist_cnn.pt"), weights_only=True))
    assert test(model2, device, test_loader)[1] == correct
    assert confusion.sum() == len(yte)
    return {
        'deterministic': {'loss0': loss0, 'correct0': correct0, 'grads0': grads0, 'theta_grad': theta_grad,
                          'lr': optimizer.param_groups[0]['lr']},
        'stochastic': {'mean_train_loss': float(np.mean(losses)), 'test_loss': test_loss},
    }


if __name__ == '__main__':
    print(main())
