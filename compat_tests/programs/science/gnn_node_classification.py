"""Node classification with hand-written message passing (the "GCN from scratch" / PyG-free
tutorials): a 2-layer GCN with symmetric degree normalisation D^-1/2 (A + I) D^-1/2 built from an
edge_index and index_add_ / scatter_add_, and a GraphSAGE model with mean and max neighbourhood
aggregation through Tensor.scatter_reduce(include_self=False). Trained full-batch with Adam on a
stochastic-block-model graph with train/val/test masks, dropout, weight decay, NLL on log_softmax,
and evaluated with argmax accuracy; the matrix form of the GCN propagation (a dense adjacency built
with index_put_(accumulate=True), or with --sparse pygcn's torch.sparse_coo_tensor + torch.sparse.mm)
is checked against the scatter form."""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def add_self_loops(edge_index, num_nodes):
    loop = torch.arange(num_nodes, dtype=torch.long, device=edge_index.device)
    loop = loop.unsqueeze(0).repeat(2, 1)
    return torch.cat([edge_index, loop], dim=1)


def gcn_norm(edge_index, num_nodes):
    edge_index = add_self_loops(edge_index, num_nodes)
    row, col = edge_index[0], edge_index[1]
    deg = torch.zeros(num_nodes, dtype=torch.float32)
    deg.scatter_add_(0, col, torch.ones(col.size(0)))
    deg_inv_sqrt = deg.pow(-0.5)
    deg_inv_sqrt[deg_inv_sqrt == float('inf')] = 0
    norm = deg_inv_sqrt[row] * deg_inv_sqrt[col]
    return edge_index, norm


class GCNConv(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.lin = nn.Linear(in_channels, out_channels, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x, edge_index, norm):
        x = self.lin(x)
        row, col = edge_index
        msg = x[row] * norm.view(-1, 1)       # message from source j = row to target i = col
        out = torch.zeros_like(x).index_add_(0, col, msg)
        return out + self.bias


class GCN(nn.Module):
    def __init__(self, in_dim, hidden, n_classes, dropout=0.5):
        super().__init__()
        self.conv1 = GCNConv(in_dim, hidden)
        self.conv2 = GCNConv(hidden, n_classes)
        self.dropout = dropout

    def forward(self, x, edge_index, norm):
        x = F.dropout(x, p=self.dropout, training=self.training)
        x = F.relu(self.conv1(x, edge_index, norm))
        x = F.dropout(x, p=self.dropout, training=self.training)
        x = self.conv2(x, edge_index, norm)
        return F.log_softmax(x, dim=1)


class SAGEConv(nn.Module):
    def __init__(self, in_channels, out_channels, aggr='mean'):
        super().__init__()
        self.aggr = aggr
        self.lin_l = nn.Linear(in_channels, out_channels)
        self.lin_r = nn.Linear(in_channels, out_channels, bias=False)

    def forward(self, x, edge_index):
        src, dst = edge_index
        index = dst.unsqueeze(-1).expand(-1, x.size(1))
        out = torch.zeros(x.size(0), x.size(1), dtype=x.dtype)
        reduce = 'mean' if self.aggr == 'mean' else 'amax'
        out = out.scatter_reduce(0, index, x[src], reduce=reduce, include_self=False)
        out = self.lin_l(out) + self.lin_r(x)
        return F.normalize(out, p=2., dim=-1)


class GraphSAGE(nn.Module):
    def __init__(self, in_dim, hidden, n_classes):
        super().__init__()
        self.conv1 = SAGEConv(in_dim, hidden, aggr='mean')
        self.conv2 = SAGEConv(hidden, hidden, aggr='max')
        self.classifier = nn.Linear(hidden, n_classes)

    def forward(self, x, edge_index):
        h = F.elu(self.conv1(x, edge_index))
        h = F.elu(self.conv2(h, edge_index))
        return self.classifier(h)


def make_sbm(rng, n_per=30, n_classes=3, p_in=0.15, p_out=0.01, feat_dim=16):
    n = n_per * n_classes
    y = np.repeat(np.arange(n_classes), n_per)
    probs = np.where(y[:, None] == y[None, :], p_in, p_out)
    upper = np.triu(rng.rand(n, n) < probs, 1)
    adj = upper | upper.T
    src, dst = np.nonzero(adj)
    centers = rng.randn(n_classes, feat_dim)
    x = centers[y] * 0.6 + rng.randn(n, feat_dim)
    perm = rng.permutation(n)
    train_mask = np.zeros(n, bool); train_mask[perm[:30]] = True
    val_mask = np.zeros(n, bool); val_mask[perm[30:50]] = True
    test_mask = np.zeros(n, bool); test_mask[perm[50:]] = True
    return (x.astype(np.float32), np.stack([src, dst]).astype(np.int64), y.astype(np.int64),
            train_mask, val_mask, test_mask)


def accuracy(logits, y, mask):
    pred = logits[mask].argmax(dim=1)
    return (pred == y[mask]).sum().item() / int(mask.sum())


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--epochs', type=int, default=40)
    parser.add_argument('--sparse', action='store_true')
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(42)
    rng = np.random.RandomState(7)
    x, edge_index, y, train_mask, val_mask, test_mask = make_sbm(rng)
    x, edge_index, y = torch.from_numpy(x), torch.from_numpy(edge_index), torch.from_numpy(y)
    train_mask, val_mask, test_mask = map(torch.from_numpy, (train_mask, val_mask, test_mask))
    N = x.size(0)

    ei, norm = gcn_norm(edge_index, N)
    # the same propagation as a matrix product: pygcn-style sparse adjacency, or a dense one
    # accumulated with index_put_ (duplicate edges add up)
    if args.sparse:
        A_hat = torch.sparse_coo_tensor(torch.stack([ei[1], ei[0]]), norm, (N, N)).coalesce()
        dense_prop = torch.sparse.mm(A_hat, x)
    else:
        A_hat = torch.zeros(N, N).index_put_((ei[1], ei[0]), norm, accumulate=True)
        dense_prop = A_hat @ x
    scatter_prop = torch.zeros_like(x).index_add_(0, ei[1], x[ei[0]] * norm.unsqueeze(1))
    prop_err = (dense_prop - scatter_prop).abs().max().item()
    degree = torch.bincount(edge_index[0], minlength=N)

    gcn = GCN(x.size(1), 16, 3)
    sage = GraphSAGE(x.size(1), 16, 3)
    if args.init_state:
        if os.path.exists(args.init_state):
            state = torch.load(args.init_state)
            gcn.load_state_dict(state['gcn'])
            sage.load_state_dict(state['sage'])
        else:
            torch.save({'gcn': gcn.state_dict(), 'sage': sage.state_dict()}, args.init_state)

    # deterministic first step (eval mode: no dropout) for both models
    gcn.eval()
    out0 = gcn(x, ei, norm)
    loss0 = F.nll_loss(out0[train_mask], y[train_mask])
    loss0.backward()
    gcn_grad0 = [p.grad.norm().item() for p in gcn.parameters()]
    gcn.zero_grad()

    opt = torch.optim.Adam(gcn.parameters(), lr=0.01, weight_decay=5e-4)
    gcn_losses = []
    for epoch in range(args.epochs):
        gcn.train()
        opt.zero_grad()
        out = gcn(x, ei, norm)
        loss = F.nll_loss(out[train_mask], y[train_mask])
        loss.backward()
        opt.step()
        gcn_losses.append(loss.item())
    gcn.eval()
    with torch.no_grad():
        out = gcn(x, ei, norm)
    gcn_acc = [accuracy(out, y, m) for m in (train_mask, val_mask, test_mask)]

    sage_opt = torch.optim.AdamW(sage.parameters(), lr=0.01)
    crit = nn.CrossEntropyLoss()
    sage_losses = []
    best_val, best_state = -1.0, None
    for epoch in range(args.epochs):
        sage.train()
        sage_opt.zero_grad()
        logits = sage(x, edge_index)
        loss = crit(logits[train_mask], y[train_mask])
        loss.backward()
        sage_opt.step()
        sage_losses.append(loss.item())
        sage.eval()
        with torch.no_grad():
            val_acc = accuracy(sage(x, edge_index), y, val_mask)
        if val_acc > best_val:
            best_val = val_acc
            best_state = {k: v.clone() for k, v in sage.state_dict().items()}
    sage.load_state_dict(best_state)
    with torch.no_grad():
        logits = sage(x, edge_index)
    sage_acc = [accuracy(logits, y, m) for m in (train_mask, val_mask, test_mask)]
    return {
        'num_edges': int(edge_index.size(1)), 'prop_err_small': prop_err < 1e-5,
        'deg_hist': torch.bincount(degree).tolist(),
        'norm_sum': norm.sum().item(),
        'loss0': loss0.item(), 'gcn_grad0': gcn_grad0,
        'sage_losses': sage_losses[::5] + [sage_losses[-1]],
        'sage_best_val': best_val, 'sage_acc': sage_acc,
        'sage_logits': logits[:3].flatten().tolist(),
        'stochastic': {'gcn_losses': [sum(gcn_losses[:10]) / 10, sum(gcn_losses[-10:]) / 10],
                       'gcn_acc_train': gcn_acc[0]},
    }


if __name__ == '__main__':
    print(main())
