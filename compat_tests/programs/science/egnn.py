"""An E(n)-equivariant graph neural network (Satorras et al. 2021, after the reference egnn_clean.py):
edge messages from squared distances, coordinate updates x_i += C * sum_j (x_i - x_j) phi_x(m_ij)
aggregated with unsorted_segment_sum (Tensor.new_full + scatter_add_ on an expanded index) and
unsorted_segment_mean, a fully-connected edge list built with itertools, a batched graph via index
offsets, and a regression task (predicting a rotation-invariant property of point clouds). The
script checks equivariance: rotating / translating the input (a random orthogonal matrix from
torch.linalg.qr of numpy data) rotates the coordinate output and leaves the node features
unchanged, and trains with Adam + MSE."""
import argparse
import itertools
import os

import numpy as np
import torch
from torch import nn


def unsorted_segment_sum(data, segment_ids, num_segments):
    result_shape = (num_segments, data.size(1))
    result = data.new_full(result_shape, 0)  # Init empty result tensor.
    segment_ids = segment_ids.unsqueeze(-1).expand(-1, data.size(1))
    result.scatter_add_(0, segment_ids, data)
    return result


def unsorted_segment_mean(data, segment_ids, num_segments):
    result_shape = (num_segments, data.size(1))
    segment_ids = segment_ids.unsqueeze(-1).expand(-1, data.size(1))
    result = data.new_full(result_shape, 0)  # Init empty result tensor.
    count = data.new_full(result_shape, 0)
    result.scatter_add_(0, segment_ids, data)
    count.scatter_add_(0, segment_ids, torch.ones_like(data))
    return result / count.clamp(min=1)


class E_GCL(nn.Module):
    def __init__(self, input_nf, output_nf, hidden_nf, act_fn=nn.SiLU(), residual=True, attention=False,
                 normalize=False, coords_agg='mean', tanh=False):
        super(E_GCL, self).__init__()
        input_edge = input_nf * 2
        self.residual = residual
        self.attention = attention
        self.normalize = normalize
        self.coords_agg = coords_agg
        self.tanh = tanh
        self.epsilon = 1e-8
        edge_coords_nf = 1
        self.edge_mlp = nn.Sequential(nn.Linear(input_edge + edge_coords_nf, hidden_nf), act_fn,
                                      nn.Linear(hidden_nf, hidden_nf), act_fn)
        self.node_mlp = nn.Sequential(nn.Linear(hidden_nf + input_nf, hidden_nf), act_fn,
                                      nn.Linear(hidden_nf, output_nf))
        layer = nn.Linear(hidden_nf, 1, bias=False)
        torch.nn.init.xavier_uniform_(layer.weight, gain=0.001)
        coord_mlp = [nn.Linear(hidden_nf, hidden_nf), act_fn, layer]
        if self.tanh:
            coord_mlp.append(nn.Tanh())
        self.coord_mlp = nn.Sequential(*coord_mlp)
        if self.attention:
            self.att_mlp = nn.Sequential(nn.Linear(hidden_nf, 1), nn.Sigmoid())

    def edge_model(self, source, target, radial):
        out = torch.cat([source, target, radial], dim=1)
        out = self.edge_mlp(out)
        if self.attention:
            out = out * self.att_mlp(out)
        return out

    def node_model(self, x, edge_index, edge_attr):
        row, col = edge_index
        agg = unsorted_segment_sum(edge_attr, row, num_segments=x.size(0))
        agg = torch.cat([x, agg], dim=1)
        out = self.node_mlp(agg)
        if self.residual:
            out = x + out
        return out, agg

    def coord_model(self, coord, edge_index, coord_diff, edge_feat):
        row, col = edge_index
        trans = coord_diff * self.coord_mlp(edge_feat)
        if self.coords_agg == 'sum':
            agg = unsorted_segment_sum(trans, row, num_segments=coord.size(0))
        elif self.coords_agg == 'mean':
            agg = unsorted_segment_mean(trans, row, num_segments=coord.size(0))
        else:
            raise Exception('Wrong coords_agg parameter' % self.coords_agg)
        coord = coord + agg
        return coord

    def coord2radial(self, edge_index, coord):
        row, col = edge_index
        coord_diff = coord[row] - coord[col]
        radial = torch.sum(coord_diff ** 2, 1).unsqueeze(1)
        if self.normalize:
            norm = torch.sqrt(radial).detach() + self.epsilon
            coord_diff = coord_diff / norm
        return radial, coord_diff

    def forward(self, h, edge_index, coord):
        row, col = edge_index
        radial, coord_diff = self.coord2radial(edge_index, coord)
        edge_feat = self.edge_model(h[row], h[col], radial)
        coord = self.coord_model(coord, edge_index, coord_diff, edge_feat)
        h, agg = self.node_model(h, edge_index, edge_feat)
        return h, coord


class EGNN(nn.Module):
    def __init__(self, in_node_nf, hidden_nf, out_node_nf, n_layers=3, attention=True, normalize=True, tanh=True):
        super(EGNN, self).__init__()
        self.hidden_nf = hidden_nf
        self.n_layers = n_layers
        self.embedding_in = nn.Linear(in_node_nf, self.hidden_nf)
        self.embedding_out = nn.Linear(self.hidden_nf, out_node_nf)
        for i in range(0, n_layers):
            self.add_module("gcl_%d" % i, E_GCL(self.hidden_nf, self.hidden_nf, self.hidden_nf,
                                                 attention=attention, normalize=normalize, tanh=tanh))

    def forward(self, h, x, edges):
        h = self.embedding_in(h)
        for i in range(0, self.n_layers):
            h, x = self._modules["gcl_%d" % i](h, edges, x)
        h = self.embedding_out(h)
        return h, x


def get_edges_batch(n_nodes, batch_size):
    rows, cols = [], []
    for i, j in itertools.permutations(range(n_nodes), 2):
        rows.append(i)
        cols.append(j)
    edges = [torch.LongTensor(rows), torch.LongTensor(cols)]
    if batch_size > 1:
        rows, cols = [], []
        for i in range(batch_size):
            rows.append(edges[0] + n_nodes * i)
            cols.append(edges[1] + n_nodes * i)
        edges = [torch.cat(rows), torch.cat(cols)]
    return edges


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--steps', type=int, default=25)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)
    n_nodes, batch_size, n_feat = 5, 8, 1

    model = EGNN(in_node_nf=n_feat, hidden_nf=16, out_node_nf=1, n_layers=2)
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(model.state_dict(), args.init_state)
    edges = get_edges_batch(n_nodes, batch_size)

    # equivariance check on one batch
    h = torch.ones(batch_size * n_nodes, n_feat)
    x = torch.from_numpy(rng.randn(batch_size * n_nodes, 3).astype(np.float32))
    Q, _ = torch.linalg.qr(torch.from_numpy(rng.randn(3, 3).astype(np.float32)))
    t = torch.from_numpy(rng.randn(1, 3).astype(np.float32))
    with torch.no_grad():
        h1, x1 = model(h, x, edges)
        h2, x2 = model(h, x @ Q.T + t, edges)
    equiv_err = (x1 @ Q.T + t - x2).abs().max().item()
    inv_err = (h1 - h2).abs().max().item()

    # regression: predict the radius of gyration of each cloud from node outputs (sum-pooled)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch_idx = torch.arange(batch_size).repeat_interleave(n_nodes)
    losses = []
    for step in range(args.steps):
        pos = torch.from_numpy(rng.randn(batch_size * n_nodes, 3).astype(np.float32))
        pos = pos * torch.from_numpy(rng.uniform(0.5, 2.0, (batch_size, 1)).astype(np.float32)).repeat_interleave(n_nodes, 0)
        center = unsorted_segment_mean(pos, batch_idx, batch_size)
        rg = ((pos - center[batch_idx]) ** 2).sum(1)
        target = unsorted_segment_mean(rg.unsqueeze(1), batch_idx, batch_size).squeeze(1)
        out, _ = model(h, pos, edges)
        pred = torch.zeros(batch_size).index_add_(0, batch_idx, out.squeeze(1))
        loss = nn.functional.mse_loss(pred, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return {
        'n_edges': int(edges[0].numel()), 'h1': h1[:3].squeeze(1).tolist(), 'x1': x1[:2].flatten().tolist(),
        'equivariant': equiv_err < 1e-4, 'invariant': inv_err < 1e-4,
        'orthogonal': bool(torch.allclose(Q @ Q.T, torch.eye(3), atol=1e-5)),
        'losses': losses[::4] + [losses[-1]],
    }


if __name__ == '__main__':
    print(main())
