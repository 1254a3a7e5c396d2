"""SimCLR-style contrastive pre-training (after sthalles/SimCLR and the "SimCLR in PyTorch"
tutorials): two augmented views per image made with tensor ops (random crop via roll + flip +
colour jitter + gaussian noise, driven by numpy so both runs see the same views), an encoder with a
projection head, F.normalize, the cosine-similarity matrix, masking the diagonal with an eye mask
(masked_fill), NT-Xent through F.cross_entropy, plus the equivalent F.cosine_similarity formulation
and a linear-probe evaluation on frozen features."""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Encoder(nn.Module):
    def __init__(self, feat_dim=32, proj_dim=16):
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(32, feat_dim),
        )
        self.projector = nn.Sequential(
            nn.Linear(feat_dim, feat_dim), nn.ReLU(inplace=True), nn.Linear(feat_dim, proj_dim))

    def forward(self, x):
        h = self.backbone(x)
        z = self.projector(h)
        return h, z


def augment(x, rng):
    """Tensor-op augmentations with numpy-drawn parameters."""
    n = x.shape[0]
    out = []
    for i in range(n):
        img = x[i]
        dx, dy = rng.randint(-3, 4, 2)
        img = torch.roll(img, shifts=(int(dx), int(dy)), dims=(1, 2))
        if rng.rand() < 0.5:
            img = torch.flip(img, dims=[2])
        b = float(rng.uniform(0.7, 1.3))
        c = float(rng.uniform(0.7, 1.3))
        mean = img.mean(dim=(1, 2), keepdim=True)
        img = ((img - mean) * c + mean) * b
        if rng.rand() < 0.3:  # random grayscale
            gray = (0.299 * img[0] + 0.587 * img[1] + 0.114 * img[2]).unsqueeze(0)
            img = gray.expand(3, -1, -1)
        out.append(img)
    views = torch.stack(out)
    noise = torch.from_numpy(rng.normal(0, 0.05, size=tuple(views.shape)).astype(np.float32))
    return (views + noise).clamp(-2.0, 2.0)


def info_nce_loss(features, batch_size, n_views=2, temperature=0.5):
    """sthalles/SimCLR formulation: logits = positives first, then negatives; label 0."""
    labels = torch.cat([torch.arange(batch_size) for _ in range(n_views)], dim=0)
    labels = (labels.unsqueeze(0) == labels.unsqueeze(1)).float()
    features = F.normalize(features, dim=1)
    similarity_matrix = torch.matmul(features, features.T)
    mask = torch.eye(labels.shape[0], dtype=torch.bool)
    labels = labels[~mask].view(labels.shape[0], -1)
    similarity_matrix = similarity_matrix[~mask].view(similarity_matrix.shape[0], -1)
    positives = similarity_matrix[labels.bool()].view(labels.shape[0], -1)
    negatives = similarity_matrix[~labels.bool()].view(similarity_matrix.shape[0], -1)
    logits = torch.cat([positives, negatives], dim=1)
    labels = torch.zeros(logits.shape[0], dtype=torch.long)
    logits = logits / temperature
    return F.cross_entropy(logits, labels), logits


def nt_xent(z1, z2, temperature=0.5):
    """The other common formulation: masked_fill the diagonal with -inf, targets i <-> i+N."""
    n = z1.shape[0]
    z = torch.cat([z1, z2], dim=0)
    sim = F.cosine_similarity(z.unsqueeze(1), z.unsqueeze(0), dim=2) / temperature
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool), float('-inf'))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(sim, targets)


def make_data(n, rng):
    x = rng.normal(0, 0.2, size=(n, 3, 12, 12)).astype(np.float32)
    y = np.arange(n) % 3
    for i in range(n):
        if y[i] == 0:
            x[i, 0, 3:9, 3:9] += 1.0
        elif y[i] == 1:
            x[i, 1, :, 4:8] += 1.0
        else:
            x[i, 2, 4:8, :] += 1.0
    return x, y.astype(np.int64)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--init-state', default=None)
    parser.add_argument('--epochs', type=int, default=3)
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--temperature', type=float, default=0.5)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)

    x_np, y_np = make_data(24, rng)
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    model = Encoder()
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(model.state_dict(), args.init_state)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs * 3, eta_min=0)

    losses, alt_losses, top1s = [], [], []
    for epoch in range(args.epochs):
        perm = rng.permutation(len(x))
        for start in range(0, len(x), args.batch_size):
            idx = torch.from_numpy(perm[start:start + args.batch_size])
            batch = x[idx]
            v1, v2 = augment(batch, rng), augment(batch, rng)
            images = torch.cat([v1, v2], dim=0)
            _, z = model(images)
            loss, logits = info_nce_loss(z, batch.shape[0], temperature=args.temperature)
            with torch.no_grad():
                alt = nt_xent(z[:batch.shape[0]], z[batch.shape[0]:], args.temperature)
            top1 = (logits.argmax(dim=1) == 0).float().mean() * 100
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            alt_losses.append(alt.item())
            top1s.append(top1.item())
        scheduler.step()

    # linear probe on frozen features
    model.eval()
    with torch.no_grad():
        feats, _ = model(x)
    feats = (feats - feats.mean(0)) / (feats.std(0) + 1e-6)
    probe = nn.Linear(feats.shape[1], 3)
    with torch.no_grad():
        probe.weight.copy_(torch.from_numpy(rng.normal(0, 0.1, size=(3, feats.shape[1])).astype(np.float32)))
        probe.bias.zero_()
    popt = torch.optim.SGD(probe.parameters(), lr=0.5)
    for _ in range(30):
        popt.zero_grad()
        pl = F.cross_entropy(probe(feats), y)
        pl.backward()
        popt.step()
    acc = (probe(feats).argmax(1) == y).float().mean().item()
    # alignment / uniformity (Wang & Isola) on the normalised projections
    with torch.no_grad():
        _, z = model(x)
        zn = F.normalize(z, p=2, dim=-1)
        uniformity = torch.pdist(zn, p=2).pow(2).mul(-2).exp().mean().log().item()
    return {
        'losses': losses, 'alt_losses': alt_losses, 'top1': top1s,
        'lr': scheduler.get_last_lr(),
        'probe_loss': pl.item(), 'probe_acc': acc, 'uniformity': uniformity,
    }


if __name__ == '__main__':
    print(main())
