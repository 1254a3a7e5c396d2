"""Skip-gram word2vec with negative sampling (the common GitHub layout): sparse embeddings trained
with SparseAdam, unigram^0.75 noise distribution, subsampled context windows, and a nearest-neighbour
check with normalized embeddings."""
import argparse
import os
from collections import Counter

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim


class SkipGramModel(nn.Module):
    def __init__(self, emb_size, emb_dimension):
        super(SkipGramModel, self).__init__()
        self.emb_size = emb_size
        self.emb_dimension = emb_dimension
        self.u_embeddings = nn.Embedding(emb_size, emb_dimension, sparse=True)
        self.v_embeddings = nn.Embedding(emb_size, emb_dimension, sparse=True)
        initrange = 1.0 / self.emb_dimension
        nn.init.uniform_(self.u_embeddings.weight.data, -initrange, initrange)
        nn.init.constant_(self.v_embeddings.weight.data, 0)

    def forward(self, pos_u, pos_v, neg_v):
        emb_u = self.u_embeddings(pos_u)
        emb_v = self.v_embeddings(pos_v)
        emb_neg_v = self.v_embeddings(neg_v)
        score = torch.sum(torch.mul(emb_u, emb_v), dim=1)
        score = torch.clamp(score, max=10, min=-10)
        score = -F.logsigmoid(score)
        neg_score = torch.bmm(emb_neg_v, emb_u.unsqueeze(2)).squeeze()
        neg_score = torch.clamp(neg_score, max=10, min=-10)
        neg_score = -torch.sum(F.logsigmoid(-neg_score), dim=1)
        return torch.mean(score + neg_score)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--epochs', type=int, default=3)
    parser.add_argument('--window', type=int, default=2)
    parser.add_argument('--neg', type=int, default=4)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)
    topics = [["king", "queen", "prince", "royal", "crown"], ["dog", "cat", "puppy", "kitten", "pet"],
              ["car", "road", "engine", "wheel", "drive"]]
    corpus = []
    for _ in range(60):
        t = topics[rng.randint(3)]
        corpus.extend(t[i] for i in rng.randint(0, 5, size=6))
    counts = Counter(corpus)
    id2word = sorted(counts)
    word2id = {w: i for i, w in enumerate(id2word)}
    ids = np.array([word2id[w] for w in corpus])
    freq = np.array([counts[w] for w in id2word], dtype=np.float64) ** 0.75
    noise = freq / freq.sum()

    pairs = []
    for i, c in enumerate(ids):
        w = rng.randint(1, args.window + 1)
        for j in range(max(0, i - w), min(len(ids), i + w + 1)):
            if j != i:
                pairs.append((c, ids[j]))
    pairs = np.array(pairs)

    model = SkipGramModel(len(id2word), 8)
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(model.state_dict(), args.init_state)
    optimizer = optim.SparseAdam(list(model.parameters()), lr=0.05)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    batch_size = 128
    losses = []
    for epoch in range(args.epochs):
        order = rng.permutation(len(pairs))
        running = 0.0
        for k in range(0, len(order) - batch_size + 1, batch_size):
            batch = pairs[order[k:k + batch_size]]
            pos_u = torch.LongTensor(batch[:, 0])
            pos_v = torch.LongTensor(batch[:, 1])
            neg_v = torch.from_numpy(rng.choice(len(id2word), size=(batch_size, args.neg), p=noise)).long()
            optimizer.zero_grad()
            loss = model.forward(pos_u, pos_v, neg_v)
            loss.backward()
            optimizer.step()
            running = running * 0.9 + loss.item() * 0.1
            losses.append(loss.item())
        scheduler.step()
    emb = F.normalize(model.u_embeddings.weight.detach(), dim=1)
    sims = emb @ emb.t()
    sims.fill_diagonal_(-1)
    nearest = {w: id2word[sims[word2id[w]].argmax().item()] for w in ["king", "dog", "car"]}
    same_topic = sum(any(w in t and nearest[w] in t for t in topics) for w in nearest)
    return {'losses': losses, 'nearest': nearest, 'same_topic': same_topic,
            'lr': scheduler.get_last_lr()[0]}


if __name__ == '__main__':
    print(main())
