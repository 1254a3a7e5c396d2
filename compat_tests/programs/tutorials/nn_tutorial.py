"""What is torch.nn really? (pytorch.org/tutorials/beginner/nn_tutorial.html), with MNIST replaced
by small generated 28x28 'digits' and the download removed. Stages as in the tutorial:
logistic regression from scratch (weights.requires_grad_(), in-place updates under torch.no_grad()),
then F.cross_entropy, nn.Module + nn.Parameter, nn.Linear, optim.SGD, TensorDataset, DataLoader,
fit()/loss_batch(), a CNN with F.avg_pool2d, nn.Sequential with a Lambda layer, WrappedDataLoader
and nn.AdaptiveAvgPool2d.

DataLoader(shuffle=True) draws from torch's generator, whose stream differs between frameworks;
with --no-shuffle every metric is deterministic, otherwise the shuffled fits are "stochastic"."""
import argparse
import math
import os

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch import optim
from torch.utils.data import DataLoader, TensorDataset


def make_data(n, protos, rng):
    """10 classes, each a random binary prototype plus noise, flattened to 784 like MNIST."""
    y = rng.randint(0, 10, n)
    x = protos[y] * 0.8 + rng.uniform(0, 0.3, (n, 28, 28)).astype(np.float32)
    return x.reshape(n, 784).astype(np.float32), y.astype(np.int64)


def log_softmax(x):
    return x - x.exp().sum(-1).log().unsqueeze(-1)


def nll(input, target):
    return -input[range(target.shape[0]), target].mean()


def accuracy(out, yb):
    preds = torch.argmax(out, dim=1)
    return (preds == yb).float().mean()


class Mnist_Logistic(nn.Module):
    def __init__(self):
        super().__init__()
        self.weights = nn.Parameter(torch.randn(784, 10) / math.sqrt(784))
        self.bias = nn.Parameter(torch.zeros(10))

    def forward(self, xb):
        return xb @ self.weights + self.bias


class Mnist_Logistic_Linear(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(784, 10)

    def forward(self, xb):
        return self.lin(xb)


class Mnist_CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, kernel_size=3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(16, 16, kernel_size=3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(16, 10, kernel_size=3, stride=2, padding=1)

    def forward(self, xb):
        xb = xb.view(-1, 1, 28, 28)
        xb = F.relu(self.conv1(xb))
        xb = F.relu(self.conv2(xb))
        xb = F.relu(self.conv3(xb))
        xb = F.avg_pool2d(xb, 4)
        return xb.view(-1, xb.size(1))


class Lambda(nn.Module):
    def __init__(self, func):
        super().__init__()
        self.func = func

    def forward(self, x):
        return self.func(x)


def preprocess(x, y):
    return x.view(-1, 1, 28, 28), y


class WrappedDataLoader:
    def __init__(self, dl, func):
        self.dl = dl
        self.func = func

    def __len__(self):
        return len(self.dl)

    def __iter__(self):
        for b in self.dl:
            yield (self.func(*b))


def get_data(train_ds, valid_ds, bs, shuffle=True):
    return (
        DataLoader(train_ds, batch_size=bs, shuffle=shuffle),
        DataLoader(valid_ds, batch_size=bs * 2),
    )


def loss_batch(model, loss_func, xb, yb, opt=None):
    loss = loss_func(model(xb), yb)

    if opt is not None:
        loss.backward()
        opt.step()
        opt.zero_grad()

    return loss.item(), len(xb)


def fit(epochs, model, loss_func, opt, train_dl, valid_dl):
    history = []
    for epoch in range(epochs):
        model.train()
        for xb, yb in train_dl:
            loss_batch(model, loss_func, xb, yb, opt)

        model.eval()
        with torch.no_grad():
            losses, nums = zip(
                *[loss_batch(model, loss_func, xb, yb) for xb, yb in valid_dl]
            )
        val_loss = np.sum(np.multiply(losses, nums)) / np.sum(nums)

        print(epoch, val_loss)
        history.append(float(val_loss))
    return history


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--init-state', default=None)
    parser.add_argument('--no-shuffle', action='store_true')
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    rng = np.random.RandomState(0)
    protos = (rng.uniform(0, 1, (10, 28, 28)) > 0.7).astype(np.float32)
    x_train, y_train = make_data(256, protos, rng)
    x_valid, y_valid = make_data(128, protos, rng)
    x_train, y_train, x_valid, y_valid = map(
        torch.tensor, (x_train, y_train, x_valid, y_valid)
    )
    n, c = x_train.shape
    dev = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    dev = torch.device("cpu")

    # every model of every stage, created up front so both runs can share initial weights
    weights = torch.randn(784, 10) / math.sqrt(784)
    weights.requires_grad_()
    bias = torch.zeros(10, requires_grad=True)
    logistic = Mnist_Logistic()
    linear = Mnist_Logistic_Linear()
    cnn = Mnist_CNN()
    seq = nn.Sequential(
        Lambda(lambda x: x.view(-1, 1, 28, 28)),
        nn.Conv2d(1, 16, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 16, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 10, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.AvgPool2d(4),
        Lambda(lambda x: x.view(x.size(0), -1)),
    )
    seq2 = nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 16, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 10, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        Lambda(lambda x: x.view(x.size(0), -1)),
    )
    if args.init_state:
        if os.path.exists(args.init_state):
            state = torch.load(args.init_state)
            with torch.no_grad():
                weights.copy_(state['weights'])
            for name, m in [('logistic', logistic), ('linear', linear), ('cnn', cnn),
                            ('seq', seq), ('seq2', seq2)]:
                m.load_state_dict(state[name])
        else:
            torch.save({'weights': weights.detach().clone(), 'logistic': logistic.state_dict(),
                        'linear': linear.state_dict(), 'cnn': cnn.state_dict(),
                        'seq': seq.state_dict(), 'seq2': seq2.state_dict()}, args.init_state)

    det, sto = {}, {}

    # --- Neural net from scratch
    def model(xb):
        return log_softmax(xb @ weights + bias)

    bs = 64
    xb = x_train[0:bs]
    preds = model(xb)
    loss_func = nll
    yb = y_train[0:bs]
    det['scratch_loss0'] = loss_func(preds, yb).item()
    det['scratch_acc0'] = accuracy(preds, yb).item()

    lr = 0.5
    epochs = 2
    for epoch in range(epochs):
        for i in range((n - 1) // bs + 1):
            start_i = i * bs
            end_i = start_i + bs
            xb = x_train[start_i:end_i]
            yb = y_train[start_i:end_i]
            pred = model(xb)
            loss = loss_func(pred, yb)

            loss.backward()
            with torch.no_grad():
                weights -= weights.grad * lr
                bias -= bias.grad * lr
                weights.grad.zero_()
                bias.grad.zero_()
    det['scratch_loss'] = loss_func(model(xb), yb).item()
    det['scratch_acc'] = accuracy(model(xb), yb).item()
    det['scratch_bias'] = bias.detach().tolist()

    # --- Using torch.nn.functional
    loss_func = F.cross_entropy

    def model(xb):
        return xb @ weights + bias
    det['functional_loss'] = loss_func(model(xb), yb).item()

    # --- Refactor using nn.Module
    model = logistic
    det['module_loss0'] = loss_func(model(xb), yb).item()

    def fit_manual():
        for epoch in range(epochs):
            for i in range((n - 1) // bs + 1):
                start_i = i * bs
                end_i = start_i + bs
                xb = x_train[start_i:end_i]
                yb = y_train[start_i:end_i]
                pred = model(xb)
                loss = loss_func(pred, yb)

                loss.backward()
                with torch.no_grad():
                    for p in model.parameters():
                        p -= p.grad * lr
                    model.zero_grad()

    fit_manual()
    det['module_loss'] = loss_func(model(xb), yb).item()

    # --- Refactor using nn.Linear and optim
    model = linear
    opt = optim.SGD(model.parameters(), lr=lr)
    det['linear_loss0'] = loss_func(model(xb), yb).item()
    train_ds = TensorDataset(x_train, y_train)
    for epoch in range(epochs):
        for i in range((n - 1) // bs + 1):
            xb, yb = train_ds[i * bs: i * bs + bs]
            pred = model(xb)
            loss = loss_func(pred, yb)

            loss.backward()
            opt.step()
            opt.zero_grad()
    det['linear_loss'] = loss_func(model(xb), yb).item()

    # --- DataLoader + validation + fit()
    valid_ds = TensorDataset(x_valid, y_valid)
    shuffle = not args.no_shuffle
    train_dl, valid_dl = get_data(train_ds, valid_ds, bs, shuffle=shuffle)
    model = Mnist_Logistic_Linear()
    model.load_state_dict(linear.state_dict())
    opt = optim.SGD(model.parameters(), lr=lr)
    trained = sto if shuffle else det
    trained['fit_linear'] = fit(epochs, model, loss_func, opt, train_dl, valid_dl)

    # --- Switch to CNN
    lr = 0.1
    model = cnn
    with torch.no_grad():
        det['cnn_valid0'] = loss_func(model(x_valid), y_valid).item()
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    trained['fit_cnn'] = fit(epochs, model, loss_func, opt, train_dl, valid_dl)

    # --- nn.Sequential with Lambda
    model = seq
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    with torch.no_grad():
        det['seq_valid0'] = loss_func(model(x_valid), y_valid).item()
    trained['fit_seq'] = fit(epochs, model, loss_func, opt, train_dl, valid_dl)

    # --- Wrapping DataLoader, AdaptiveAvgPool2d, device moves
    train_dl, valid_dl = get_data(train_ds, valid_ds, bs, shuffle=shuffle)
    train_dl = WrappedDataLoader(train_dl, preprocess)
    valid_dl = WrappedDataLoader(valid_dl, preprocess)
    model = seq2
    model.to(dev)
    with torch.no_grad():
        det['seq2_valid0'] = loss_func(model(x_valid.view(-1, 1, 28, 28)), y_valid).item()
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    trained['fit_seq2'] = fit(epochs, model, loss_func, opt, train_dl, valid_dl)
    assert len(train_dl) == 4
    with torch.no_grad():
        out = model(x_valid.view(-1, 1, 28, 28).to(dev))
    if not shuffle:  # an argmax count: too coarse for the loose comparison of shuffled runs
        det['seq2_valid_acc'] = accuracy(out, y_valid).item()

    result = {'deterministic': det}
    if sto:
        result['stochastic'] = sto
    return result


if __name__ == '__main__':
    print(main())
