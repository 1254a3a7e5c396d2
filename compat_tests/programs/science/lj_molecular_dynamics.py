"""Differentiable molecular dynamics of a Lennard-Jones cluster in a periodic box (the style of
"MD in PyTorch" / torchmd tutorials): pairwise displacement with the minimum-image convention
(torch.remainder / torch.round), a cutoff via masked_fill on the distance matrix, the potential
energy summed over torch.triu_indices pairs, forces as -torch.autograd.grad(E, pos), velocity
Verlet in float64 with energy-conservation bookkeeping, a radial distribution function via
torch.histc, and a learned pair potential (a small MLP in r) fitted to the LJ forces (force
matching with create_graph=True so the loss on forces trains the energy model)."""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn


def minimum_image(dr, box):
    return dr - box * torch.round(dr / box)


def pair_distances(pos, box):
    n = pos.shape[0]
    i, j = torch.triu_indices(n, n, offset=1)
    dr = minimum_image(pos[i] - pos[j], box)
    return dr.norm(dim=-1), i, j


def lj_energy(pos, box, eps=1.0, sigma=1.0, rc=2.5):
    r, _, _ = pair_distances(pos, box)
    sr6 = (sigma / r) ** 6
    e = 4 * eps * (sr6 ** 2 - sr6)
    shift = 4 * eps * ((sigma / rc) ** 12 - (sigma / rc) ** 6)
    e = torch.where(r < rc, e - shift, torch.zeros_like(e))
    return e.sum()


def forces(energy_fn, pos, create_graph=False):
    if not pos.requires_grad:
        pos = pos.detach().requires_grad_(True)
    e = energy_fn(pos)
    f = -torch.autograd.grad(e, pos, create_graph=create_graph)[0]
    return e, f


def velocity_verlet(pos, vel, box, dt, steps, mass=1.0):
    e, f = forces(lambda p: lj_energy(p, box), pos)
    energies = []
    for _ in range(steps):
        vel = vel + 0.5 * dt * f / mass
        pos = torch.remainder(pos + dt * vel, box)
        e, f = forces(lambda p: lj_energy(p, box), pos)
        vel = vel + 0.5 * dt * f / mass
        kin = 0.5 * mass * (vel ** 2).sum()
        energies.append((e.item(), kin.item(), (e + kin).item()))
    return pos.detach(), vel, energies


class PairNet(nn.Module):
    def __init__(self, hidden=32):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(1, hidden), nn.Softplus(), nn.Linear(hidden, hidden), nn.Softplus(),
                                 nn.Linear(hidden, 1))

    def forward(self, pos, box, rc=2.5):
        r, _, _ = pair_distances(pos, box)
        mask = r < rc
        e = self.net(r.unsqueeze(-1)).squeeze(-1) * (1 - (r / rc) ** 2) ** 2
        return e.masked_fill(~mask, 0.0).sum()


def lattice(n_side, spacing, rng):
    g = np.arange(n_side) * spacing
    pos = np.stack(np.meshgrid(g, g, g, indexing='ij'), -1).reshape(-1, 3)
    return pos + 0.05 * rng.randn(*pos.shape)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--steps', type=int, default=30)
    parser.add_argument('--fit-iters', type=int, default=25)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)
    torch.set_default_dtype(torch.float64)

    box = 3 * 1.2
    pos0 = torch.from_numpy(lattice(3, 1.2, rng))
    vel0 = torch.from_numpy(rng.randn(27, 3) * 0.3)
    vel0 = vel0 - vel0.mean(0, keepdim=True)     # zero total momentum

    e0, f0 = forces(lambda p: lj_energy(p, box), pos0)
    net_force = f0.sum(0).abs().max().item()      # Newton's third law: forces sum to zero
    pos, vel, energies = velocity_verlet(pos0, vel0, box, dt=0.002, steps=args.steps)
    total = np.array([e[2] for e in energies])
    drift = float(np.abs(total - total[0]).max() / abs(total[0]))

    r, _, _ = pair_distances(pos, box)
    rdf = torch.histc(r, bins=10, min=0.5, max=2.5)

    # force matching: a learned pair potential trained on LJ forces (float32 model)
    torch.set_default_dtype(torch.float32)
    model = PairNet()
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(model.state_dict(), args.init_state)
    configs = [torch.from_numpy(lattice(3, 1.2, rng)).float() for _ in range(4)]
    targets = [forces(lambda p: lj_energy(p, box), c.double())[1].float() for c in configs]
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    fit_losses = []
    for it in range(args.fit_iters):
        opt.zero_grad()
        loss = 0
        for c, t in zip(configs, targets):
            _, f_pred = forces(lambda p: model(p, box), c, create_graph=True)
            loss = loss + ((f_pred - t) ** 2).mean()
        loss = loss / len(configs)
        loss.backward()
        opt.step()
        fit_losses.append(loss.item())
    return {
        'e0': e0.item(), 'f0_norm': f0.norm().item(), 'net_force_small': net_force < 1e-9,
        'energies': [list(e) for e in energies[::6]],
        'drift_small': drift < 1e-2, 'final_pos': pos[:3].flatten().tolist(),
        'rdf': rdf.tolist(), 'dtype': str(pos.dtype),
        'fit_losses': fit_losses[::4] + [fit_losses[-1]],
    }


if __name__ == '__main__':
    print(main())
