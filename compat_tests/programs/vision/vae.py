"""A convolutional VAE (after pytorch/examples vae + common conv variants): reparameterisation with
torch.randn_like, BCE reconstruction + KL term summed over the batch, Adam, ReduceLROnPlateau-free
training loop, sampling from the prior under torch.no_grad(), model.eval() reconstructions.

The reparameterisation noise comes from torch's generator, whose stream differs between
frameworks, so training losses agree statistically; the deterministic parts (eval-mode
reconstruction from the posterior mean, KL at the first batch) agree to float precision."""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import optim
from torch.utils.data import DataLoader, TensorDataset


class VAE(nn.Module):
    def __init__(self, latent_dim=8, hidden=32):
        super(VAE, self).__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 8, 4, 2, 1),    # 16 -> 8
            nn.LeakyReLU(0.2),
            nn.Conv2d(8, 16, 4, 2, 1),   # 8 -> 4
            nn.BatchNorm2d(16),
            nn.LeakyReLU(0.2),
        )
        self.fc1 = nn.Linear(16 * 4 * 4, hidden)
        self.fc_mu = nn.Linear(hidden, latent_dim)
        self.fc_logvar = nn.Linear(hidden, latent_dim)
        self.fc3 = nn.Linear(latent_dim, 16 * 4 * 4)
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(16, 8, 4, 2, 1),  # 4 -> 8
            nn.BatchNorm2d(8),
            nn.ReLU(True),
            nn.ConvTranspose2d(8, 1, 4, 2, 1),   # 8 -> 16
        )

    def encode(self, x):
        h = self.encoder(x)
        h = F.relu(self.fc1(h.view(h.size(0), -1)))
        return self.fc_mu(h), self.fc_logvar(h)

    def reparameterize(self, mu, logvar):
        if self.training:
            std = torch.exp(0.5 * logvar)
            eps = torch.randn_like(std)
            return mu + eps * std
        return mu

    def decode(self, z):
        h = F.relu(self.fc3(z)).view(-1, 16, 4, 4)
        return torch.sigmoid(self.decoder(h))

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


# Reconstruction + KL divergence losses summed over all elements and batch
def loss_function(recon_x, x, mu, logvar):
    BCE = F.binary_cross_entropy(recon_x.view(-1, 256), x.view(-1, 256), reduction='sum')
    # see Appendix B from VAE paper: Kingma and Welling. Auto-Encoding Variational Bayes. ICLR, 2014
    # 0.5 * sum(1 + log(sigma^2) - mu^2 - sigma^2)
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD, BCE, KLD


def make_data(n, rng):
    """16x16 'digits': bars and blocks in [0, 1]."""
    x = np.zeros((n, 1, 16, 16), np.float32)
    for i in range(n):
        kind = i % 3
        a, b = rng.randint(2, 10, 2)
        if kind == 0:
            x[i, 0, a:a + 6, :] = 1.0
        elif kind == 1:
            x[i, 0, :, b:b + 6] = 1.0
        else:
            x[i, 0, a:a + 5, b:b + 5] = 1.0
    x = np.clip(x * 0.9 + rng.uniform(0, 0.1, x.shape), 0, 1).astype(np.float32)
    return x


def main(argv=None):
    parser = argparse.ArgumentParser(description='VAE Example')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--epochs', type=int, default=3)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    device = torch.device("cpu")

    rng = np.random.RandomState(3)
    data = torch.from_numpy(make_data(32, rng))
    train_loader = DataLoader(TensorDataset(data), batch_size=args.batch_size, shuffle=True)

    model = VAE().to(device)
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(model.state_dict(), args.init_state)
    optimizer = optim.Adam(model.parameters(), lr=1e-3)

    # deterministic checks before training: eval mode uses the posterior mean
    model.eval()
    with torch.no_grad():
        recon0, mu0, logvar0 = model(data[:8])
        loss0, bce0, kld0 = loss_function(recon0, data[:8], mu0, logvar0)
    # a gradient through the reparameterisation with eps fixed at zero is deterministic too
    model.train()
    mu, logvar = model.encode(data[:8])
    std = torch.exp(0.5 * logvar)
    z = mu + torch.zeros_like(std) * std
    l, _, _ = loss_function(model.decode(z), data[:8], mu, logvar)
    l.backward()
    grad_norm0 = torch.sqrt(sum((p.grad ** 2).sum() for p in model.parameters())).item()
    optimizer.zero_grad()

    epoch_losses = []
    for epoch in range(1, args.epochs + 1):
        model.train()
        train_loss = 0
        for batch_idx, (data_b,) in enumerate(train_loader):
            data_b = data_b.to(device)
            optimizer.zero_grad()
            recon_batch, mu, logvar = model(data_b)
            loss, _, _ = loss_function(recon_batch, data_b, mu, logvar)
            loss.backward()
            train_loss += loss.item()
            optimizer.step()
        epoch_losses.append(train_loss / len(train_loader.dataset))
        print('====> Epoch: {} Average loss: {:.4f}'.format(epoch, epoch_losses[-1]))

    model.eval()
    with torch.no_grad():
        sample = torch.randn(16, 8).to(device)
        sample = model.decode(sample).cpu()
        recon, mu, logvar = model(data)
        eval_loss, _, _ = loss_function(recon, data, mu, logvar)
    assert sample.shape == (16, 1, 16, 16)
    assert 0.0 <= sample.min().item() and sample.max().item() <= 1.0
    return {
        'deterministic': {
            'loss0': loss0.item(), 'bce0': bce0.item(), 'kld0': kld0.item(),
            'grad_norm0': grad_norm0,
            'recon0_mean': recon0.mean().item(),
        },
        'stochastic': {
            'epoch_losses': epoch_losses,
            'eval_loss': eval_loss.item() / len(data),
            'sample_mean': sample.mean().item(),
        },
    }


if __name__ == '__main__':
    print(main())
