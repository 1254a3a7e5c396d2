"""A spectrally-normalised GAN on 2-D mixture-of-Gaussians data (SN-GAN / WGAN toy scripts):
discriminator layers wrapped in torch.nn.utils.parametrizations.spectral_norm, generator layers in
parametrizations.weight_norm, hinge losses, nn.utils.clip_grad_value_ on the generator, a
parameters_to_vector / vector_to_parameters round trip (as in TRPO-style flat-parameter updates),
parametrize.cached(), remove_parametrizations to bake the weights, and the parametrized
state_dict (original0 / original1 / _u / _v) saved and reloaded.

The generator's latent noise is drawn with numpy, so both runs see the same batches. Spectral
norm's power iteration starts from torch-RNG vectors at construction, so the initial state (which
includes _u/_v) is shared through --init-state."""
import argparse
import io
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import clip_grad_value_, parameters_to_vector, vector_to_parameters
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm, weight_norm


class Generator(nn.Module):
    def __init__(self, z_dim=4, hidden=32):
        super().__init__()
        self.net = nn.Sequential(
            weight_norm(nn.Linear(z_dim, hidden)), nn.LeakyReLU(0.2),
            weight_norm(nn.Linear(hidden, hidden), dim=0), nn.LeakyReLU(0.2),
            nn.Linear(hidden, 2),
        )

    def forward(self, z):
        return self.net(z)


class Discriminator(nn.Module):
    def __init__(self, hidden=32):
        super().__init__()
        self.net = nn.Sequential(
            spectral_norm(nn.Linear(2, hidden)), nn.LeakyReLU(0.2),
            spectral_norm(nn.Linear(hidden, hidden), n_power_iterations=2), nn.LeakyReLU(0.2),
            spectral_norm(nn.Linear(hidden, 1)),
        )

    def forward(self, x):
        return self.net(x).view(-1)


class ConvD(nn.Module):
    """Conv discriminator head: spectral_norm on Conv2d (dim 0 of a 4-D weight)."""

    def __init__(self):
        super().__init__()
        self.conv = spectral_norm(nn.Conv2d(1, 4, 3, padding=1))
        self.tconv = weight_norm(nn.ConvTranspose2d(4, 2, 4, 2, 1))

    def forward(self, x):
        return self.tconv(F.leaky_relu(self.conv(x), 0.2))


def sample_real(n, rng):
    centers = np.array([[np.cos(a), np.sin(a)] for a in np.linspace(0, 2 * np.pi, 8, endpoint=False)]) * 2
    idx = rng.randint(0, 8, n)
    return (centers[idx] + 0.05 * rng.normal(size=(n, 2))).astype(np.float32)


def top_singular(w):
    return torch.linalg.matrix_norm(w.flatten(1), ord=2).item()


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--init-state', default=None)
    parser.add_argument('--steps', type=int, default=12)
    parser.add_argument('--batch-size', type=int, default=32)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)

    G, D, C = Generator(), Discriminator(), ConvD()
    if args.init_state:
        if os.path.exists(args.init_state):
            st = torch.load(args.init_state)
            G.load_state_dict(st['G'])
            D.load_state_dict(st['D'])
            C.load_state_dict(st['C'])
        else:
            torch.save({'G': G.state_dict(), 'D': D.state_dict(), 'C': C.state_dict()}, args.init_state)
    d_keys = sorted(D.state_dict().keys())
    g_keys = sorted(G.state_dict().keys())

    opt_g = torch.optim.Adam(G.parameters(), lr=2e-3, betas=(0.5, 0.9))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-3, betas=(0.5, 0.9))
    d_losses, g_losses, sigmas, g_grad_max = [], [], [], []
    for step in range(args.steps):
        real = torch.from_numpy(sample_real(args.batch_size, rng))
        z = torch.from_numpy(rng.normal(size=(args.batch_size, 4)).astype(np.float32))
        fake = G(z)
        # hinge loss for D
        d_loss = F.relu(1.0 - D(real)).mean() + F.relu(1.0 + D(fake.detach())).mean()
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        # generator step
        g_loss = -D(fake).mean()
        opt_g.zero_grad()
        g_loss.backward()
        clip_grad_value_(G.parameters(), clip_value=0.01)
        g_grad_max.append(max(p.grad.abs().max().item() for p in G.parameters()))
        opt_g.step()
        d_losses.append(d_loss.item())
        g_losses.append(g_loss.item())
        # the parametrized weight has spectral norm ~1 after power iteration
        sigmas.append(top_singular(D.net[0].weight.detach()))

    # eval mode: spectral_norm stops updating u/v; weights are deterministic functions of the params
    D.eval()
    with torch.no_grad():
        u_before = D.net[2].parametrizations.weight[0]._u.clone()
        eval_scores = D(torch.from_numpy(sample_real(16, rng)))
        u_after = D.net[2].parametrizations.weight[0]._u
    u_frozen = bool(torch.equal(u_before, u_after))
    # cached(): the parametrization is evaluated once inside the context
    with parametrize.cached():
        w1 = D.net[2].weight
        w2 = D.net[2].weight
    cached_same = w1 is w2

    # weight_norm: weight == g * v / ||v|| along dim 0
    lin = G.net[2]
    g = lin.parametrizations.weight.original0
    v = lin.parametrizations.weight.original1
    wn_err = (lin.weight - g * v / v.norm(dim=1, keepdim=True)).abs().max().item()

    # flat parameter vector round trip (TRPO/ES style update)
    vec = parameters_to_vector(G.parameters())
    n_params = vec.numel()
    direction = torch.from_numpy(rng.normal(size=n_params).astype(np.float32))
    z = torch.from_numpy(rng.normal(size=(64, 4)).astype(np.float32))
    with torch.no_grad():
        out0 = G(z)
        vector_to_parameters(vec + 0.01 * direction, G.parameters())
        out1 = G(z)
        vector_to_parameters(vec, G.parameters())
        out2 = G(z)
    restore_err = (out0 - out2).abs().max().item()
    perturb_delta = (out1 - out0).abs().mean().item()

    # state_dict round trip through a buffer keeps the parametrization structure
    buf = io.BytesIO()
    torch.save(D.state_dict(), buf)
    buf.seek(0)
    D2 = Discriminator()
    D2.load_state_dict(torch.load(buf))
    D2.eval()
    with torch.no_grad():
        reload_err = (D2(torch.zeros(4, 2) + 0.5) - D(torch.zeros(4, 2) + 0.5)).abs().max().item()

    # bake the weights and drop the parametrizations
    parametrize.remove_parametrizations(D.net[0], 'weight', leave_parametrized=True)
    baked_is_param = isinstance(D.net[0].weight, nn.Parameter)
    still_parametrized = parametrize.is_parametrized(D.net[2])

    # conv spectral norm / transposed-conv weight norm
    x = torch.from_numpy(rng.normal(size=(2, 1, 6, 6)).astype(np.float32))
    y = C(x)
    y.square().mean().backward()
    conv_grads = [C.conv.parametrizations.weight.original.grad.norm().item(),
                  C.tconv.parametrizations.weight.original0.grad.norm().item(),
                  C.tconv.parametrizations.weight.original1.grad.norm().item()]

    with torch.no_grad():
        samples = G(torch.from_numpy(rng.normal(size=(256, 4)).astype(np.float32)))
    radius = samples.norm(dim=1).mean().item()
    return {
        'd_keys': d_keys, 'g_keys': g_keys,
        'd_losses': d_losses, 'g_losses': g_losses, 'sigmas': sigmas,
        'g_grad_max': g_grad_max,
        'eval_scores': eval_scores[:6].tolist(), 'u_frozen': u_frozen, 'cached_same': cached_same,
        'wn_err_small': wn_err < 1e-5, 'n_params': n_params,
        'restore_err': restore_err, 'perturb_delta': perturb_delta, 'reload_err': reload_err,
        'baked_is_param': baked_is_param, 'still_parametrized': still_parametrized,
        'conv_out': [list(y.shape), y.abs().sum().item()], 'conv_grads': conv_grads,
        'radius': radius,
    }


if __name__ == '__main__':
    print(main())
