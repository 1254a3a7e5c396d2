"""Vector-quantised autoencoder (VQ-VAE, after zalandoresearch/pytorch-vq-vae and rosinality) and
metric learning heads: a codebook nn.Embedding, nearest codes via the expanded squared distance
and torch.cdist + argmin, one-hot encodings with scatter_, straight-through gradients
(x + (q - x).detach()), commitment loss, EMA codebook updates with index_add_ / laplace
smoothing under torch.no_grad, perplexity, and a triplet / contrastive stage on the encodings with
nn.TripletMarginLoss, TripletMarginWithDistanceLoss, CosineEmbeddingLoss, MarginRankingLoss and
batch-hard mining with masks."""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class VectorQuantizerEMA(nn.Module):
    def __init__(self, num_embeddings, embedding_dim, commitment_cost, decay, epsilon=1e-5):
        super().__init__()
        self._embedding_dim = embedding_dim
        self._num_embeddings = num_embeddings
        self._embedding = nn.Embedding(self._num_embeddings, self._embedding_dim)
        self._embedding.weight.data.normal_()
        self._commitment_cost = commitment_cost
        self.register_buffer('_ema_cluster_size', torch.zeros(num_embeddings))
        self._ema_w = nn.Parameter(torch.Tensor(num_embeddings, self._embedding_dim))
        self._ema_w.data.normal_()
        self._decay = decay
        self._epsilon = epsilon

    def forward(self, inputs):
        inputs = inputs.permute(0, 2, 3, 1).contiguous()             # BCHW -> BHWC
        input_shape = inputs.shape
        flat_input = inputs.view(-1, self._embedding_dim)
        distances = (torch.sum(flat_input ** 2, dim=1, keepdim=True)
                     + torch.sum(self._embedding.weight ** 2, dim=1)
                     - 2 * torch.matmul(flat_input, self._embedding.weight.t()))
        encoding_indices = torch.argmin(distances, dim=1).unsqueeze(1)
        encodings = torch.zeros(encoding_indices.shape[0], self._num_embeddings, device=inputs.device)
        encodings.scatter_(1, encoding_indices, 1)
        quantized = torch.matmul(encodings, self._embedding.weight).view(input_shape)
        if self.training:
            self._ema_cluster_size = self._ema_cluster_size * self._decay + \
                (1 - self._decay) * torch.sum(encodings, 0)
            n = torch.sum(self._ema_cluster_size.data)
            self._ema_cluster_size = ((self._ema_cluster_size + self._epsilon)
                                      / (n + self._num_embeddings * self._epsilon) * n)
            dw = torch.matmul(encodings.t(), flat_input)
            self._ema_w = nn.Parameter(self._ema_w * self._decay + (1 - self._decay) * dw)
            self._embedding.weight = nn.Parameter(self._ema_w / self._ema_cluster_size.unsqueeze(1))
        e_latent_loss = F.mse_loss(quantized.detach(), inputs)
        loss = self._commitment_cost * e_latent_loss
        quantized = inputs + (quantized - inputs).detach()
        avg_probs = torch.mean(encodings, dim=0)
        perplexity = torch.exp(-torch.sum(avg_probs * torch.log(avg_probs + 1e-10)))
        return loss, quantized.permute(0, 3, 1, 2).contiguous(), perplexity, encoding_indices.view(input_shape[:-1])


class Model(nn.Module):
    def __init__(self, hidden=16, codes=12, dim=4):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(1, hidden, 4, 2, 1), nn.ReLU(), nn.Conv2d(hidden, dim, 3, 1, 1))
        self.vq = VectorQuantizerEMA(codes, dim, commitment_cost=0.25, decay=0.9)
        self.dec = nn.Sequential(nn.ConvTranspose2d(dim, hidden, 4, 2, 1), nn.ReLU(), nn.Conv2d(hidden, 1, 3, 1, 1))

    def forward(self, x):
        z = self.enc(x)
        vq_loss, q, perplexity, idx = self.vq(z)
        return self.dec(q), vq_loss, perplexity, idx, z


def batch_hard_triplet(emb, labels, margin=0.3):
    dist = torch.cdist(emb, emb, p=2)
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    eye = torch.eye(len(labels), dtype=torch.bool)
    hardest_pos = (dist * (same & ~eye).float()).max(dim=1).values
    hardest_neg = dist.masked_fill(same, float('inf')).min(dim=1).values
    return F.relu(hardest_pos - hardest_neg + margin).mean()


def make_data(rng, n=24):
    x = np.zeros((n, 1, 8, 8), np.float32)
    y = np.arange(n) % 3
    for i in range(n):
        if y[i] == 0:
            x[i, 0, 2:6, 2:6] = 1
        elif y[i] == 1:
            x[i, 0, :, 3:5] = 1
        else:
            x[i, 0, 3:5, :] = 1
    x += rng.normal(0, 0.1, x.shape).astype(np.float32)
    return torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--init-state', default=None)
    parser.add_argument('--steps', type=int, default=6)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)
    model = Model()
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(model.state_dict(), args.init_state)
    x, y = make_data(rng)
    # codebook lookup via cdist must agree with the expanded-distance argmin
    with torch.no_grad():
        z = model.enc(x).permute(0, 2, 3, 1).reshape(-1, 4)
        idx_cdist = torch.cdist(z, model.vq._embedding.weight).argmin(dim=1)
        _, _, _, idx_vq, _ = model.eval()(x)
    model.train()
    lookup_agree = (idx_cdist == idx_vq.flatten()).float().mean().item()

    # parameters are re-created each step by the EMA update (as in the original code), so the
    # optimizer only gets the encoder / decoder parameters
    opt = torch.optim.Adam(list(model.enc.parameters()) + list(model.dec.parameters()), lr=2e-3, amsgrad=True)
    recon_losses, vq_losses, perps = [], [], []
    for step in range(args.steps):
        recon, vq_loss, perp, idx, _ = model(x)
        recon_error = F.mse_loss(recon, x)
        loss = recon_error + vq_loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        recon_losses.append(recon_error.item())
        vq_losses.append(vq_loss.item())
        perps.append(perp.item())
    code_usage = torch.bincount(idx.flatten(), minlength=12).tolist()
    cluster = model.vq._ema_cluster_size.tolist()

    # metric learning on pooled encodings
    head = nn.Sequential(nn.Flatten(), nn.Linear(4 * 4 * 4, 8))
    with torch.no_grad():
        head[1].weight.copy_(torch.from_numpy(rng.normal(0, 0.2, size=(8, 64)).astype(np.float32)))
        head[1].bias.zero_()
    hopt = torch.optim.SGD(head.parameters(), lr=0.1)
    triplet = nn.TripletMarginLoss(margin=1.0, p=2, swap=True)
    cos_triplet = nn.TripletMarginWithDistanceLoss(distance_function=lambda a, b: 1 - F.cosine_similarity(a, b),
                                                   margin=0.5)
    cos_emb = nn.CosineEmbeddingLoss(margin=0.2)
    ranking = nn.MarginRankingLoss(margin=0.1)
    anchor_idx = torch.arange(0, 24, 3)
    metric = []
    for step in range(4):
        with torch.no_grad():
            feats = model.enc(x)
        emb = head(feats)
        a, p, n = emb[anchor_idx], emb[anchor_idx + 3 - 24 * (anchor_idx + 3 >= 24).long()], emb[anchor_idx + 1]
        l1 = triplet(a, p, n)
        l2 = cos_triplet(a, p, n)
        target = torch.where(y[anchor_idx] == y[anchor_idx + 1], 1, -1)
        l3 = cos_emb(a, n, target)
        l4 = ranking((a - n).norm(dim=1), (a - p).norm(dim=1), torch.ones(len(anchor_idx)))
        l5 = batch_hard_triplet(F.normalize(emb, dim=1), y)
        loss = l1 + l2 + l3 + l4 + l5
        hopt.zero_grad()
        loss.backward()
        hopt.step()
        metric.append([l1.item(), l2.item(), l3.item(), l4.item(), l5.item()])
    return {
        'lookup_agree': lookup_agree,
        'recon_losses': recon_losses, 'vq_losses': vq_losses, 'perplexity': perps,
        'code_usage': code_usage, 'cluster': cluster, 'metric': metric,
        'pairwise': F.pairwise_distance(emb[:4], emb[4:8]).tolist(),
    }


if __name__ == '__main__':
    print(main())
