"""pytorch/examples-style GCN (Kipf & Welling) on a synthetic citation graph: sparse COO adjacency
built with torch.sparse_coo_tensor, self-loops via torch.eye + sparse, symmetric normalisation with
torch.diag(...).to_sparse() matmuls, features row-normalised the same way, torch.mm / torch.spmm
layers, log_softmax + NLLLoss on a train mask, Adam with weight decay, eval accuracy on masks."""
import argparse
import os

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F
from torch.optim import Adam


class GraphConv(nn.Module):
    def __init__(self, input_dim, output_dim, use_bias=False):
        super(GraphConv, self).__init__()
        self.kernel = nn.Parameter(torch.Tensor(input_dim, output_dim))
        nn.init.xavier_normal_(self.kernel)
        self.bias = None
        if use_bias:
            self.bias = nn.Parameter(torch.Tensor(output_dim))
            nn.init.zeros_(self.bias)

    def forward(self, input_tensor, adj_mat):
        support = torch.mm(input_tensor, self.kernel)
        output = torch.spmm(adj_mat, support)
        if self.bias is not None:
            output = output + self.bias
        return output


class GCN(nn.Module):
    def __init__(self, input_dim, hidden_dim, output_dim, use_bias=True, dropout_p=0.0):
        super(GCN, self).__init__()
        self.gc1 = GraphConv(input_dim, hidden_dim, use_bias=use_bias)
        self.gc2 = GraphConv(hidden_dim, output_dim, use_bias=use_bias)
        self.dropout = nn.Dropout(dropout_p)

    def forward(self, input_tensor, adj_mat):
        x = self.gc1(input_tensor, adj_mat)
        x = F.relu(x)
        x = self.dropout(x)
        x = self.gc2(x, adj_mat)
        return F.log_softmax(x, dim=1)


def make_graph(rng, n=60, classes=3, feats=20):
    labels = rng.randint(0, classes, n)
    edges = []
    for i in range(n):
        for j in range(i + 1, n):
            p = 0.25 if labels[i] == labels[j] else 0.02
            if rng.rand() < p:
                edges.append((i, j))
                edges.append((j, i))
    content = (rng.rand(n, feats) < 0.15).astype(np.int32)
    for i, c in enumerate(labels):
        content[i, c * 5:(c * 5) + 3] = 1
    return content, np.array(edges, dtype=np.int32), labels


def load_graph(rng):
    content, edges, labels = make_graph(rng)
    features = torch.FloatTensor(content.astype(np.int32))
    scale_vector = torch.sum(features, dim=1)
    scale_vector = 1 / scale_vector
    scale_vector[scale_vector == float('inf')] = 0
    scale_vector = torch.diag(scale_vector).to_sparse()
    features = scale_vector @ features
    labels = torch.LongTensor(labels)
    V, E = len(labels), edges.shape[0]
    adj_mat = torch.sparse_coo_tensor(edges.T, torch.ones(E), (V, V), dtype=torch.int64)
    adj_mat = torch.eye(V) + adj_mat
    degree_mat = torch.sum(adj_mat, dim=1)
    degree_mat = torch.sqrt(1 / degree_mat)
    degree_mat[degree_mat == float('inf')] = 0
    degree_mat = torch.diag(degree_mat).to_sparse()
    adj_mat = degree_mat @ adj_mat @ degree_mat
    return features.to_sparse(), labels, adj_mat.to_sparse()


def test(model, criterion, input, target, mask):
    model.eval()
    with torch.no_grad():
        output = model(*input)
        output, target = output[mask], target[mask]
        loss = criterion(output, target)
        acc = (output.argmax(dim=1) == target).float().sum() / len(target)
    return loss.item(), acc.item()


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--epochs', type=int, default=30)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(42)
    rng = np.random.RandomState(0)
    features, labels, adj_mat = load_graph(rng)
    idx = torch.from_numpy(rng.permutation(len(labels)))
    idx_test, idx_val, idx_train = idx[:15], idx[15:30], idx[30:]
    gcn = GCN(features.shape[1], 16, int(labels.max().item()) + 1, True, 0.0)
    if args.init_state:
        if os.path.exists(args.init_state):
            gcn.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(gcn.state_dict(), args.init_state)
    optimizer = Adam(gcn.parameters(), lr=0.01, weight_decay=5e-4)
    criterion = nn.NLLLoss()
    history = []
    for epoch in range(args.epochs):
        gcn.train()
        optimizer.zero_grad()
        output = gcn(features, adj_mat)
        loss = criterion(output[idx_train], labels[idx_train])
        loss.backward()
        optimizer.step()
        history.append(test(gcn, criterion, (features, adj_mat), labels, idx_val))
    loss_test, acc_test = test(gcn, criterion, (features, adj_mat), labels, idx_test)
    return {'val': [list(h) for h in history], 'loss_test': loss_test, 'acc_test': acc_test,
            'adj_nnz': adj_mat._nnz(), 'adj_layout': str(adj_mat.layout), 'feat_nnz': features._nnz(),
            'adj_row0': adj_mat.to_dense()[0, :8].tolist()}


if __name__ == '__main__':
    print(main())
