"""Learning a linear-Gaussian state-space model by backpropagating through a Kalman filter (the
"differentiable Kalman filter" pattern of many tracking / system-identification notebooks), in
double precision: the transition matrix is parameterised through torch.matrix_exp of a learnable
generator, the noise covariances through lower-triangular factors (torch.tril + diag_embed of exp),
the predict / update steps use torch.linalg.solve (no explicit inverse) with the Joseph-form
covariance update, the innovation log-likelihood comes from
MultivariateNormal(covariance_matrix=S).log_prob, and an RTS smoother runs backward with
torch.linalg.inv. The hyperparameters are fitted with LBFGS; the per-step log-likelihood is
cross-checked against a closed form with torch.logdet and a batched (bmm) filter on several
sequences at once."""
import argparse
import math
import os

import numpy as np
import torch
import torch.nn as nn
from torch.distributions import MultivariateNormal


class LinearGaussianSSM(nn.Module):
    def __init__(self, dx=2, dy=1, dt=0.1):
        super().__init__()
        self.dt = dt
        self.A_gen = nn.Parameter(torch.tensor([[0.0, 1.0], [-0.5, -0.1]], dtype=torch.float64))
        self.q_raw = nn.Parameter(torch.zeros(dx, dx, dtype=torch.float64))
        self.r_log = nn.Parameter(torch.tensor([-1.0], dtype=torch.float64))
        self.register_buffer('H', torch.tensor([[1.0, 0.0]], dtype=torch.float64))

    def A(self):
        return torch.matrix_exp(self.A_gen * self.dt)

    def Q(self):
        L = torch.tril(self.q_raw, diagonal=-1) + torch.diag_embed(torch.exp(torch.diagonal(self.q_raw) - 3.0))
        return L @ L.T

    def R(self):
        return torch.diag(torch.exp(self.r_log))

    def filter(self, ys, m0, P0):
        A, Q, R, H = self.A(), self.Q(), self.R(), self.H
        m, P = m0, P0
        ll = 0.0
        means, covs, preds = [], [], []
        I = torch.eye(m0.shape[-1], dtype=m0.dtype)
        for y in ys:
            # predict
            m_pred = A @ m
            P_pred = A @ P @ A.T + Q
            # update
            S = H @ P_pred @ H.T + R
            K = torch.linalg.solve(S, H @ P_pred).T      # P H^T S^-1, S symmetric
            v = y - H @ m_pred
            ll = ll + MultivariateNormal(torch.zeros_like(v), covariance_matrix=S).log_prob(v)
            m = m_pred + K @ v
            IKH = I - K @ H
            P = IKH @ P_pred @ IKH.T + K @ R @ K.T        # Joseph form
            means.append(m)
            covs.append(P)
            preds.append((m_pred, P_pred))
        return ll, torch.stack(means), torch.stack(covs), preds

    def smoother(self, means, covs, preds):
        A = self.A()
        ms, Ps = [means[-1]], [covs[-1]]
        for t in range(len(means) - 2, -1, -1):
            m_pred, P_pred = preds[t + 1]
            G = covs[t] @ A.T @ torch.linalg.inv(P_pred)
            ms.insert(0, means[t] + G @ (ms[0] - m_pred))
            Ps.insert(0, covs[t] + G @ (Ps[0] - P_pred) @ G.T)
        return torch.stack(ms), torch.stack(Ps)


def batched_filter(model, Y, m0, P0):
    """The same filter on a batch of sequences with bmm (Y: [B, T, dy])."""
    B = Y.shape[0]
    A = model.A().expand(B, -1, -1)
    Q, R, H = model.Q(), model.R(), model.H.expand(B, -1, -1)
    m = m0.expand(B, -1).unsqueeze(-1)
    P = P0.expand(B, -1, -1)
    ll = torch.zeros(B, dtype=Y.dtype)
    for t in range(Y.shape[1]):
        m = torch.bmm(A, m)
        P = torch.bmm(torch.bmm(A, P), A.transpose(1, 2)) + Q
        S = torch.bmm(torch.bmm(H, P), H.transpose(1, 2)) + R
        v = Y[:, t].unsqueeze(-1) - torch.bmm(H, m)
        Sinv_v = torch.linalg.solve(S, v)
        ll = ll - 0.5 * ((v * Sinv_v).sum((1, 2)) + torch.logdet(S) + math.log(2 * math.pi))
        K = torch.bmm(torch.bmm(P, H.transpose(1, 2)), torch.linalg.inv(S))
        m = m + torch.bmm(K, v)
        P = P - torch.bmm(torch.bmm(K, S), K.transpose(1, 2))
    return ll


def simulate(rng, T=40, dt=0.1):
    A = np.array([[1.0, dt], [-0.8 * dt, 1.0 - 0.05 * dt]])
    x = np.array([1.0, 0.0])
    xs, ys = [], []
    for _ in range(T):
        x = A @ x + rng.randn(2) * np.array([0.01, 0.05])
        xs.append(x)
        ys.append(x[:1] + rng.randn(1) * 0.2)
    return np.array(xs), np.array(ys)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--lbfgs-iters', type=int, default=10)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)
    xs, ys = simulate(rng)
    ys_t = torch.from_numpy(ys)

    model = LinearGaussianSSM()
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(model.state_dict(), args.init_state)
    m0 = torch.zeros(2, dtype=torch.float64)
    P0 = torch.eye(2, dtype=torch.float64)

    ll0, means0, covs0, _ = model.filter(ys_t, m0, P0)
    ll0.backward()
    grad0 = [model.A_gen.grad.flatten().tolist(), model.r_log.grad.item()]
    model.zero_grad()

    optimizer = torch.optim.LBFGS(model.parameters(), lr=0.5, max_iter=args.lbfgs_iters, line_search_fn='strong_wolfe')

    def closure():
        optimizer.zero_grad()
        nll = -model.filter(ys_t, m0, P0)[0]
        nll.backward()
        return nll

    optimizer.step(closure)
    ll, means, covs, preds = model.filter(ys_t, m0, P0)
    sm, sP = model.smoother(means, covs, preds)
    with torch.no_grad():
        Y = torch.stack([ys_t, ys_t * 0.5, -ys_t])
        ll_b = batched_filter(model, Y, m0, P0)
    rmse_filter = (means[:, 0] - torch.from_numpy(xs[:, 0])).pow(2).mean().sqrt().item()
    rmse_smooth = (sm[:, 0] - torch.from_numpy(xs[:, 0])).pow(2).mean().sqrt().item()
    return {
        'll0': ll0.item(), 'grad0': grad0, 'means0_last': means0[-1].tolist(),
        'll': ll.item(), 'A': model.A().flatten().tolist(), 'Q': model.Q().flatten().tolist(),
        'R': model.R().item(),
        'll_batched': ll_b.tolist(),
        'rmse_filter': rmse_filter, 'rmse_smooth': rmse_smooth,
        'smooth_var_last': sP[-1].diagonal().tolist(), 'smooth_var_first': sP[0].diagonal().tolist(),
    }


if __name__ == '__main__':
    print(main())
