"""Parametrizations Tutorial (pytorch.org/tutorials/intermediate/parametrizations.html):
register_parametrization with Symmetric / Skew modules on Linear and Conv2d weights, the
parametrizations.weight.original tensor and the module's repr, parametrize.cached(), chained
parametrizations (Skew then CayleyMap with torch.linalg.solve, Skew then MatrixExponential,
Symmetric then MatrixExponential checked with eigvalsh), right_inverse for initialisation
(layer.weight = X), remove_parametrizations with leave_parametrized True / False, and a few SGD
steps on an orthogonal-by-construction layer. torch.rand inputs are drawn with numpy."""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.utils.parametrize as parametrize


def symmetric(X):
    return X.triu() + X.triu(1).transpose(-1, -2)


class Symmetric(nn.Module):
    def forward(self, X):
        return X.triu() + X.triu(1).transpose(-1, -2)


class Skew(nn.Module):
    def forward(self, X):
        A = X.triu(1)
        return A - A.transpose(-1, -2)

    def right_inverse(self, A):
        # We assume that A is skew-symmetric
        # We take the upper-triangular elements, as these are those used in the forward
        return A.triu(1)


class NoisyParametrization(nn.Module):
    calls = 0

    def forward(self, X):
        print("Computing the Parametrization")
        NoisyParametrization.calls += 1
        return X


class CayleyMap(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.register_buffer("Id", torch.eye(n))

    def forward(self, X):
        # (I + X)(I - X)^{-1}
        return torch.linalg.solve(self.Id - X, self.Id + X)

    def right_inverse(self, A):
        # A = (I + X)(I - X)^{-1}  =>  X = (A - I)(A + I)^{-1}
        return torch.linalg.solve(A + self.Id, self.Id - A).T


class MatrixExponential(nn.Module):
    def forward(self, X):
        return torch.matrix_exp(X)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)

    layers = {'sym': nn.Linear(3, 3), 'cnn': nn.Conv2d(in_channels=5, out_channels=8, kernel_size=3),
              'noisy': nn.Linear(4, 4), 'cayley': nn.Linear(3, 3), 'orth': nn.Linear(3, 3),
              'spd': nn.Linear(3, 3), 'skew': nn.Linear(3, 3), 'train': nn.Linear(4, 4)}
    if args.init_state:
        if os.path.exists(args.init_state):
            state = torch.load(args.init_state)
            for k, m in layers.items():
                m.load_state_dict(state[k])
        else:
            torch.save({k: m.state_dict() for k, m in layers.items()}, args.init_state)
    out = {}

    layer = layers['sym']
    raw = layer.weight.detach().clone()
    parametrize.register_parametrization(layer, "weight", Symmetric())
    A = layer.weight
    assert torch.allclose(A, A.T)  # A is symmetric
    print(A)  # Quick visual check
    out['symmetric'] = [A.tolist(), torch.equal(A, symmetric(raw)), type(layer).__name__,
                        parametrize.is_parametrized(layer), parametrize.is_parametrized(layer, "bias")]
    print(f"Unparametrized:\n{layer}")
    out['repr'] = repr(layer)
    out['original_equal'] = torch.equal(layer.parametrizations.weight.original, raw)
    out['param_names'] = [n for n, _ in layer.named_parameters()]
    out['state_dict_keys'] = list(layer.state_dict().keys())

    cnn = layers['cnn']
    parametrize.register_parametrization(cnn, "weight", Skew())
    # Print a few kernels
    print(cnn.weight[0, 1])
    print(cnn.weight[2, 2])
    out['skew_cnn'] = [cnn.weight[0, 1].tolist(), cnn.weight[2, 2].abs().sum().item()]

    layer = layers['noisy']
    parametrize.register_parametrization(layer, "weight", NoisyParametrization())
    NoisyParametrization.calls = 0
    print("Here, layer.weight is recomputed every time we call it")
    foo = layer.weight + layer.weight.T
    bar = layer.weight.sum()
    uncached = NoisyParametrization.calls
    with parametrize.cached():
        print("Here, it is computed just the first time layer.weight is called")
        foo = layer.weight + layer.weight.T
        bar = layer.weight.sum()
    out['calls'] = [uncached, NoisyParametrization.calls - uncached]

    layer = layers['cayley']
    parametrize.register_parametrization(layer, "weight", Skew())
    parametrize.register_parametrization(layer, "weight", CayleyMap(3))
    X = layer.weight
    out['cayley'] = [torch.dist(X.T @ X, torch.eye(3)).item() < 1e-5, X.tolist()]

    layer_orthogonal = layers['orth']
    parametrize.register_parametrization(layer_orthogonal, "weight", Skew())
    parametrize.register_parametrization(layer_orthogonal, "weight", MatrixExponential())
    X = layer_orthogonal.weight
    print(torch.dist(X.T @ X, torch.eye(3)))         # X is orthogonal
    print(torch.dist(X @ X.T, torch.eye(3)))         # X is orthogonal
    print(torch.det(X))                              # X has determinant 1
    out['orthogonal'] = [torch.dist(X.T @ X, torch.eye(3)).item() < 1e-5, torch.det(X).item(), X.tolist()]

    layer_spd = layers['spd']
    parametrize.register_parametrization(layer_spd, "weight", Symmetric())
    parametrize.register_parametrization(layer_spd, "weight", MatrixExponential())
    X = layer_spd.weight
    print(torch.dist(X, X.T))                        # X is symmetric
    print((torch.linalg.eigvalsh(X) > 0.).all())  # X is positive definite
    out['spd'] = [torch.dist(X, X.T).item() < 1e-5, bool((torch.linalg.eigvalsh(X) > 0.).all()),
                  torch.linalg.eigvalsh(X).tolist()]

    layer = layers['skew']
    parametrize.register_parametrization(layer, "weight", Skew())
    X = torch.from_numpy(rng.rand(3, 3).astype(np.float32))
    X = X - X.T                             # X is now skew-symmetric
    layer.weight = X                        # Initialize layer.weight to be X
    print(torch.dist(layer.weight, X))      # layer.weight == X
    out['right_inverse'] = [torch.dist(layer.weight, X).item(),
                            layer.parametrizations.weight.original.tolist()]
    try:
        layer_orthogonal.weight = torch.eye(3)  # MatrixExponential has no right_inverse
    except RuntimeError as e:
        out['no_right_inverse'] = 'right_inverse' in str(e)
    # CayleyMap has one: initialise the Cayley-parametrised layer to a rotation
    c, s = np.cos(0.3), np.sin(0.3)
    R = torch.tensor([[c, -s, 0.], [s, c, 0.], [0., 0., 1.]], dtype=torch.float32)
    layers['cayley'].weight = R
    out['cayley_init'] = torch.dist(layers['cayley'].weight, R).item() < 1e-5

    # training through a parametrization: the weight stays orthogonal
    layer = layers['train']
    parametrize.register_parametrization(layer, "weight", Skew())
    parametrize.register_parametrization(layer, "weight", MatrixExponential())
    opt = torch.optim.SGD(layer.parameters(), lr=0.1)
    x = torch.from_numpy(rng.randn(8, 4).astype(np.float32))
    y = torch.from_numpy(rng.randn(8, 4).astype(np.float32))
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = ((layer(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    W = layer.weight
    out['train'] = [losses, torch.dist(W.T @ W, torch.eye(4)).item() < 1e-4,
                    layer.parametrizations.weight.original.grad.abs().sum().item()]

    layer = layers['orth']
    kept = layer.weight.detach().clone()
    parametrize.remove_parametrizations(layer, "weight")
    out['removed'] = [torch.allclose(layer.weight, kept), type(layer.weight).__name__,
                      parametrize.is_parametrized(layer), [n for n, _ in layer.named_parameters()]]
    layer = layers['spd']
    original = layer.parametrizations.weight.original.detach().clone()
    parametrize.remove_parametrizations(layer, "weight", leave_parametrized=False)
    out['removed_unparametrized'] = torch.equal(layer.weight.detach(), original)
    return out


if __name__ == '__main__':
    print(main())
