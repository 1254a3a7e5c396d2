"""pytorch/examples mnist_forward_forward (Hinton's Forward-Forward algorithm): nn.Linear
subclasses with their own Adam and a `train(x_pos, x_neg)` method that shadows Module.train, label
overlay written with `x_[:, :classes] *= 0.0` and `x_[range(n), y] = x.max()`, goodness from
x.norm(2, 1, keepdim=True), per-layer training with log1p(exp(...)), prediction by argmax of the
summed goodness. MNIST is replaced by synthetic 64-pixel digits; negative labels come from numpy
so both runs see the same ones."""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn
from torch.optim import Adam

args = None
device = torch.device("cpu")


def get_y_neg(y, rng):
    y_neg = y.clone()
    for idx, y_samp in enumerate(y):
        allowed_indices = list(range(10))
        allowed_indices.remove(y_samp.item())
        y_neg[idx] = torch.tensor(allowed_indices)[int(rng.randint(len(allowed_indices)))].item()
    return y_neg.to(device)


def overlay_y_on_x(x, y, classes=10):
    x_ = x.clone()
    x_[:, :classes] *= 0.0
    x_[range(x.shape[0]), y] = x.max()
    return x_


class Net(torch.nn.Module):
    def __init__(self, dims):
        super().__init__()
        self.layers = []
        for d in range(len(dims) - 1):
            self.layers = self.layers + [Layer(dims[d], dims[d + 1]).to(device)]

    def predict(self, x):
        goodness_per_label = []
        for label in range(10):
            h = overlay_y_on_x(x, label)
            goodness = []
            for layer in self.layers:
                h = layer(h)
                goodness = goodness + [h.pow(2).mean(1)]
            goodness_per_label += [sum(goodness).unsqueeze(1)]
        goodness_per_label = torch.cat(goodness_per_label, 1)
        return goodness_per_label.argmax(1)

    def train(self, x_pos, x_neg):
        losses = []
        h_pos, h_neg = x_pos, x_neg
        for i, layer in enumerate(self.layers):
            h_pos, h_neg, layer_losses = layer.train(h_pos, h_neg)
            losses.append(layer_losses)
        return losses


class Layer(nn.Linear):
    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__(in_features, out_features, bias, device, dtype)
        self.relu = torch.nn.ReLU()
        self.opt = Adam(self.parameters(), lr=args.lr)
        self.threshold = args.threshold
        self.num_epochs = args.epochs

    def forward(self, x):
        x_direction = x / (x.norm(2, 1, keepdim=True) + 1e-4)
        return self.relu(torch.mm(x_direction, self.weight.T) + self.bias.unsqueeze(0))

    def train(self, x_pos, x_neg):
        losses = []
        for i in range(self.num_epochs):
            g_pos = self.forward(x_pos).pow(2).mean(1)
            g_neg = self.forward(x_neg).pow(2).mean(1)
            loss = torch.log1p(torch.exp(torch.cat([-g_pos + self.threshold, g_neg - self.threshold]))).mean()
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            if i % args.log_interval == 0:
                losses.append(loss.item())
        return self.forward(x_pos).detach(), self.forward(x_neg).detach(), losses


def main(argv=None):
    global args
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--lr", type=float, default=0.03)
    parser.add_argument("--threshold", type=float, default=2)
    parser.add_argument("--log-interval", type=int, default=5)
    parser.add_argument("--init-state", default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(1)
    rng = np.random.RandomState(0)
    n = 200
    y_np = rng.randint(0, 10, n)
    protos = rng.rand(10, 64) > 0.6
    x_np = (protos[y_np] + 0.3 * rng.randn(n, 64)).astype(np.float32)
    x_np = (x_np - 0.1307) / 0.3081
    x, y = torch.from_numpy(x_np).to(device), torch.from_numpy(y_np).to(device)

    net = Net([64, 50, 50])
    if args.init_state:
        state = {f"{i}.{k}": v for i, l in enumerate(net.layers) for k, v in l.state_dict().items()}
        if os.path.exists(args.init_state):
            saved = torch.load(args.init_state)
            for i, l in enumerate(net.layers):
                l.load_state_dict({k: saved[f"{i}.{k}"] for k in l.state_dict()})
        else:
            torch.save(state, args.init_state)
    x_pos = overlay_y_on_x(x, y)
    y_neg = get_y_neg(y, rng)
    x_neg = overlay_y_on_x(x, y_neg)
    losses = net.train(x_pos, x_neg)
    train_error = 1.0 - net.predict(x).eq(y).float().mean().item()
    return {"losses": losses, "train_error": train_error, "x_neg_sum": x_neg.sum().item()}


if __name__ == "__main__":
    print(main())
