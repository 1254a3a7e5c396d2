"""Graph neural networks without PyG, as in "GCN/GAT from scratch" repos: a normalised adjacency
as torch.sparse_coo_tensor (coalesce, torch.sparse.mm, to_dense), degree normalisation with
torch.bincount / index_add_, message passing by index_select + scatter_add_ and
Tensor.scatter_reduce_ (mean / amax), a GAT layer with edge softmax (scatter-based max
subtraction), global mean pooling per graph with torch_scatter-style segment sums, and
node classification with masked nll_loss."""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def normalized_adjacency(edge_index, num_nodes, sparse=True):
    """D^-1/2 (A + I) D^-1/2 (Kipf & Welling), as a sparse COO tensor or, for small graphs, dense."""
    self_loops = torch.arange(num_nodes).unsqueeze(0).repeat(2, 1)
    ei = torch.cat([edge_index, self_loops], dim=1)
    row, col = ei
    deg = torch.bincount(row, minlength=num_nodes).float()
    dinv = deg.pow(-0.5)
    dinv[torch.isinf(dinv)] = 0
    vals = dinv[row] * dinv[col]
    if not sparse:
        return torch.zeros(num_nodes, num_nodes).index_put_((row, col), vals, accumulate=True)
    adj = torch.sparse_coo_tensor(ei, vals, (num_nodes, num_nodes)).coalesce()
    return adj


class GCNLayer(nn.Module):
    def __init__(self, d_in, d_out):
        super().__init__()
        self.linear = nn.Linear(d_in, d_out, bias=False)
        self.bias = nn.Parameter(torch.zeros(d_out))

    def forward(self, x, adj):
        h = self.linear(x)
        return (torch.sparse.mm(adj, h) if adj.is_sparse else adj @ h) + self.bias


class SAGELayer(nn.Module):
    """GraphSAGE with mean / max aggregation through scatter_reduce."""

    def __init__(self, d_in, d_out, aggr='mean'):
        super().__init__()
        self.lin_self = nn.Linear(d_in, d_out)
        self.lin_neigh = nn.Linear(d_in, d_out, bias=False)
        self.aggr = aggr

    def forward(self, x, edge_index):
        src, dst = edge_index
        msg = x.index_select(0, src)
        out = torch.zeros_like(x)
        idx = dst.unsqueeze(-1).expand_as(msg)
        reduce = 'mean' if self.aggr == 'mean' else 'amax'
        out = out.scatter_reduce(0, idx, msg, reduce=reduce, include_self=False)
        return self.lin_self(x) + self.lin_neigh(out)


class GATLayer(nn.Module):
    def __init__(self, d_in, d_out, heads=2):
        super().__init__()
        self.heads, self.d_out = heads, d_out
        self.W = nn.Linear(d_in, heads * d_out, bias=False)
        self.a_src = nn.Parameter(torch.empty(1, heads, d_out))
        self.a_dst = nn.Parameter(torch.empty(1, heads, d_out))
        nn.init.xavier_uniform_(self.a_src)
        nn.init.xavier_uniform_(self.a_dst)

    def forward(self, x, edge_index):
        n = x.size(0)
        h = self.W(x).view(n, self.heads, self.d_out)
        src, dst = edge_index
        alpha = (h * self.a_src).sum(-1)[src] + (h * self.a_dst).sum(-1)[dst]   # E, H
        alpha = F.leaky_relu(alpha, 0.2)
        # edge softmax over incoming edges of each destination node
        amax = torch.full((n, self.heads), float('-inf')).scatter_reduce(
            0, dst.unsqueeze(-1).expand(-1, self.heads), alpha, reduce='amax', include_self=True)
        alpha = (alpha - amax[dst]).exp()
        denom = torch.zeros(n, self.heads).index_add_(0, dst, alpha)
        alpha = alpha / denom[dst].clamp(min=1e-16)
        out = torch.zeros(n, self.heads, self.d_out).scatter_add_(
            0, dst.view(-1, 1, 1).expand(-1, self.heads, self.d_out), alpha.unsqueeze(-1) * h[src])
        return out.reshape(n, -1), alpha


class Net(nn.Module):
    def __init__(self, d_in, hidden, n_classes):
        super().__init__()
        self.gcn = GCNLayer(d_in, hidden)
        self.sage = SAGELayer(hidden, hidden, aggr='mean')
        self.sage_max = SAGELayer(hidden, hidden, aggr='max')
        self.gat = GATLayer(hidden, hidden // 2, heads=2)
        self.cls = nn.Linear(hidden, n_classes)

    def forward(self, x, adj, edge_index):
        h = F.relu(self.gcn(x, adj))
        h = F.dropout(h, p=0.0, training=self.training)
        h = F.relu(self.sage(h, edge_index)) + F.relu(self.sage_max(h, edge_index))
        h, att = self.gat(h, edge_index)
        h = F.elu(h)
        return F.log_softmax(self.cls(h), dim=1), h, att


def make_graphs(rng, n_graphs=3, nodes_per=10, d=6):
    xs, edges, ys, batch = [], [], [], []
    offset = 0
    for g in range(n_graphs):
        comm = np.arange(nodes_per) % 2
        for i in range(nodes_per):
            for j in range(i + 1, nodes_per):
                p = 0.6 if comm[i] == comm[j] else 0.08
                if rng.rand() < p:
                    edges.append((i + offset, j + offset))
                    edges.append((j + offset, i + offset))
        feat = rng.normal(size=(nodes_per, d)) + comm[:, None] * 0.8
        xs.append(feat)
        ys.append(comm)
        batch.append(np.full(nodes_per, g))
        offset += nodes_per
    x = torch.from_numpy(np.concatenate(xs).astype(np.float32))
    edge_index = torch.from_numpy(np.array(edges, dtype=np.int64).T.copy())
    y = torch.from_numpy(np.concatenate(ys).astype(np.int64))
    b = torch.from_numpy(np.concatenate(batch).astype(np.int64))
    return x, edge_index, y, b


def global_mean_pool(h, batch, num_graphs):
    sums = torch.zeros(num_graphs, h.size(1)).index_add_(0, batch, h)
    counts = torch.bincount(batch, minlength=num_graphs).clamp(min=1).unsqueeze(1)
    return sums / counts


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--init-state', default=None)
    parser.add_argument('--epochs', type=int, default=12)
    parser.add_argument('--dense-adj', action='store_true')
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)

    x, edge_index, y, batch = make_graphs(rng)
    n = x.size(0)
    adj = normalized_adjacency(edge_index, n, sparse=not args.dense_adj)
    train_mask = torch.from_numpy(rng.rand(n) < 0.5)
    test_mask = ~train_mask

    model = Net(6, 16, 2)
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(model.state_dict(), args.init_state)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    losses = []
    for epoch in range(args.epochs):
        model.train()
        optimizer.zero_grad()
        out, _, _ = model(x, adj, edge_index)
        loss = F.nll_loss(out[train_mask], y[train_mask])
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        out, h, att = model(x, adj, edge_index)
        pred = out.argmax(dim=1)
        test_acc = (pred[test_mask] == y[test_mask]).sum().item() / int(test_mask.sum())
        pooled = global_mean_pool(h, batch, 3)
    # attention sums to one over each node's incoming edges
    att_sum = torch.zeros(n, 2).index_add_(0, edge_index[1], att)
    has_in = torch.bincount(edge_index[1], minlength=n) > 0
    if adj.is_sparse:
        dense = adj.to_dense()
        nnz, adj_sum, indices = adj._nnz(), torch.sparse.sum(adj).item(), adj.indices()
    else:
        dense = adj
        nnz, adj_sum, indices = int((adj != 0).sum()), adj.sum().item(), adj.nonzero().t()
    return {
        'adj_nnz': nnz, 'adj_sum': adj_sum,
        'adj_sym_err': (dense - dense.t()).abs().max().item(),
        'adj_indices_head': indices[:, :6].tolist(),
        'losses': losses, 'test_acc': test_acc,
        'pooled': pooled.sum(1).tolist(),
        'att_norm_err_small': (att_sum[has_in] - 1).abs().max().item() < 1e-5,
        'gcn_grad': model.gcn.linear.weight.grad.norm().item(),
        'gat_grad': model.gat.a_src.grad.norm().item(),
        'sage_max_grad': model.sage_max.lin_neigh.weight.grad.norm().item(),
    }


if __name__ == '__main__':
    print(main())
