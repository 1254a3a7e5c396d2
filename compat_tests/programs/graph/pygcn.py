"""Kipf's pygcn style: a GraphConvolution layer with uniform(-1/sqrt(out), 1/sqrt(out)) init and
torch.spmm, the adjacency normalised on the host with numpy and converted by
sparse_mx_to_torch_sparse_tensor (torch.sparse.FloatTensor(indices, values, shape)), dropout 0,
Adam, NLL on log_softmax, per-epoch validation accuracy."""
import argparse
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.nn.parameter import Parameter
from torch.nn.modules.module import Module


class GraphConvolution(Module):
    def __init__(self, in_features, out_features, bias=True):
        super(GraphConvolution, self).__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(torch.FloatTensor(in_features, out_features))
        if bias:
            self.bias = Parameter(torch.FloatTensor(out_features))
        else:
            self.register_parameter('bias', None)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1. / math.sqrt(self.weight.size(1))
        self.weight.data.uniform_(-stdv, stdv)
        if self.bias is not None:
            self.bias.data.uniform_(-stdv, stdv)

    def forward(self, input, adj):
        support = torch.mm(input, self.weight)
        output = torch.spmm(adj, support)
        if self.bias is not None:
            return output + self.bias
        return output

    def __repr__(self):
        return self.__class__.__name__ + ' (' + str(self.in_features) + ' -> ' + str(self.out_features) + ')'


class GCN(nn.Module):
    def __init__(self, nfeat, nhid, nclass, dropout):
        super(GCN, self).__init__()
        self.gc1 = GraphConvolution(nfeat, nhid)
        self.gc2 = GraphConvolution(nhid, nclass)
        self.dropout = dropout

    def forward(self, x, adj):
        x = F.relu(self.gc1(x, adj))
        x = F.dropout(x, self.dropout, training=self.training)
        x = self.gc2(x, adj)
        return F.log_softmax(x, dim=1)


def normalize(mx):
    rowsum = np.array(mx.sum(1))
    r_inv = np.power(rowsum, -1).flatten()
    r_inv[np.isinf(r_inv)] = 0.
    return np.diag(r_inv).dot(mx)


def sparse_mx_to_torch_sparse_tensor(mx):
    mx = mx.astype(np.float32)
    rows, cols = np.nonzero(mx)
    indices = torch.from_numpy(np.vstack((rows, cols)).astype(np.int64))
    values = torch.from_numpy(mx[rows, cols])
    shape = torch.Size(mx.shape)
    return torch.sparse.FloatTensor(indices, values, shape)


def accuracy(output, labels):
    preds = output.max(1)[1].type_as(labels)
    correct = preds.eq(labels).double()
    return correct.sum() / len(labels)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--epochs', type=int, default=25)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    np.random.seed(42)
    torch.manual_seed(42)
    n, nclass = 50, 3
    labels_np = np.random.randint(0, nclass, n)
    adj = (np.random.rand(n, n) < np.where(labels_np[:, None] == labels_np[None], 0.2, 0.02)).astype(np.float32)
    adj = np.maximum(adj, adj.T)
    features = normalize((np.random.rand(n, 12) < 0.2).astype(np.float32) + np.eye(nclass, 12)[labels_np])
    adj = normalize(adj + np.eye(n))
    features = torch.FloatTensor(np.array(features))
    labels = torch.LongTensor(labels_np)
    adj = sparse_mx_to_torch_sparse_tensor(adj)
    idx_train, idx_val = torch.LongTensor(range(30)), torch.LongTensor(range(30, 50))

    model = GCN(nfeat=features.shape[1], nhid=16, nclass=nclass, dropout=0.0)
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(model.state_dict(), args.init_state)
    optimizer = optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    losses, accs = [], []
    for epoch in range(args.epochs):
        model.train()
        optimizer.zero_grad()
        output = model(features, adj)
        loss_train = F.nll_loss(output[idx_train], labels[idx_train])
        loss_train.backward()
        optimizer.step()
        model.eval()
        output = model(features, adj)
        losses.append(loss_train.item())
        accs.append(accuracy(output[idx_val], labels[idx_val]).item())
    return {'losses': losses, 'val_acc': accs, 'repr': repr(model.gc1), 'adj_nnz': adj._nnz(),
            'adj_is_sparse': adj.is_sparse}


if __name__ == '__main__':
    print(main())
