"""Gaussian mixture model fitted by expectation-maximisation in torch (the "GMM from scratch in
PyTorch" gists / pycave-style code): k-means++-style initialisation with torch.cdist and argmin,
the E-step with batched MultivariateNormal(loc[K, D], covariance_matrix[K, D, D]).log_prob over a
broadcast [N, 1, D] sample tensor and torch.logsumexp responsibilities, the M-step with
torch.einsum for weighted means and covariances (plus a ridge on the diagonal), the average log
likelihood per iteration, BIC, hard assignments and the adjusted purity against the true labels,
and a diagonal-covariance variant through Independent(Normal). Everything is float64 and
deterministic."""
import argparse
import math
import os

import numpy as np
import torch
from torch.distributions import Independent, MultivariateNormal, Normal


def kmeans_pp_init(X, K, rng):
    idx = [int(rng.randint(len(X)))]
    for _ in range(1, K):
        d2 = torch.cdist(X, X[idx]).min(dim=1).values ** 2
        probs = (d2 / d2.sum()).numpy()
        idx.append(int(rng.choice(len(X), p=probs)))
    return X[idx].clone()


def kmeans(X, centers, iters=10):
    for _ in range(iters):
        assign = torch.cdist(X, centers).argmin(dim=1)
        onehot = torch.nn.functional.one_hot(assign, centers.shape[0]).to(X.dtype)
        counts = onehot.sum(0).clamp_min(1)
        centers = (onehot.T @ X) / counts.unsqueeze(1)
    return centers, assign


class GaussianMixture:
    def __init__(self, K, D, reg=1e-6):
        self.K, self.D, self.reg = K, D, reg

    def init_params(self, X, centers):
        N = X.shape[0]
        self.mu = centers.clone()
        assign = torch.cdist(X, centers).argmin(1)
        resp = torch.nn.functional.one_hot(assign, self.K).to(X.dtype)
        self.m_step(X, torch.log(resp.clamp_min(1e-12)))

    def e_step(self, X):
        comp = MultivariateNormal(self.mu, covariance_matrix=self.cov)
        log_p = comp.log_prob(X.unsqueeze(1)) + torch.log(self.pi)     # [N, K]
        log_norm = torch.logsumexp(log_p, dim=1, keepdim=True)
        return log_p - log_norm, log_norm.mean()

    def m_step(self, X, log_resp):
        resp = log_resp.exp()
        nk = resp.sum(0) + 10 * torch.finfo(X.dtype).eps
        self.pi = nk / nk.sum()
        self.mu = torch.einsum('nk,nd->kd', resp, X) / nk.unsqueeze(1)
        diff = X.unsqueeze(1) - self.mu.unsqueeze(0)                  # [N, K, D]
        self.cov = torch.einsum('nk,nkd,nke->kde', resp, diff, diff) / nk.view(-1, 1, 1)
        self.cov = self.cov + self.reg * torch.eye(self.D, dtype=X.dtype)

    def fit(self, X, iters=30, tol=1e-8):
        lls = []
        for i in range(iters):
            log_resp, ll = self.e_step(X)
            self.m_step(X, log_resp)
            lls.append(ll.item())
            if i > 0 and abs(lls[-1] - lls[-2]) < tol:
                break
        return lls

    def bic(self, X):
        _, ll = self.e_step(X)
        n_params = self.K * (self.D + self.D * (self.D + 1) / 2) + self.K - 1
        return -2 * ll.item() * X.shape[0] + n_params * math.log(X.shape[0])


def make_data(rng):
    means = np.array([[0.0, 0.0], [4.0, 4.0], [-3.0, 5.0]])
    covs = [np.array([[1.0, 0.6], [0.6, 1.0]]), np.array([[0.5, 0.0], [0.0, 1.5]]),
            np.array([[1.2, -0.7], [-0.7, 0.8]])]
    ns = [120, 80, 100]
    X = np.concatenate([rng.multivariate_normal(m, c, n) for m, c, n in zip(means, covs, ns)])
    y = np.concatenate([np.full(n, i) for i, n in enumerate(ns)])
    perm = rng.permutation(len(X))
    return X[perm], y[perm]


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--iters', type=int, default=30)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)
    Xn, yn = make_data(rng)
    X, y = torch.from_numpy(Xn), torch.from_numpy(yn)

    centers0 = kmeans_pp_init(X, 3, rng)
    if args.init_state:
        if os.path.exists(args.init_state):
            centers0 = torch.load(args.init_state)
        else:
            torch.save(centers0, args.init_state)
    centers, km_assign = kmeans(X, centers0)

    gmm = GaussianMixture(3, 2)
    gmm.init_params(X, centers)
    lls = gmm.fit(X, iters=args.iters)
    log_resp, _ = gmm.e_step(X)
    assign = log_resp.argmax(1)
    # purity: fraction of points whose cluster's majority label matches theirs
    purity = sum(torch.bincount(y[assign == k], minlength=3).max().item() for k in range(3)) / len(y)
    order = torch.argsort(gmm.mu[:, 0])

    # diagonal-covariance log-likelihood of the fitted means with Independent(Normal)
    diag = Independent(Normal(gmm.mu, gmm.cov.diagonal(dim1=-2, dim2=-1).sqrt()), 1)
    ll_diag = torch.logsumexp(diag.log_prob(X.unsqueeze(1)) + gmm.pi.log(), 1).mean().item()
    return {
        'centers0': centers0.flatten().tolist(), 'kmeans_centers': centers[torch.argsort(centers[:, 0])].flatten().tolist(),
        'kmeans_sizes': torch.bincount(km_assign, minlength=3).sort().values.tolist(),
        'lls': lls[:5] + [lls[-1]], 'n_iter': len(lls),
        'pi': gmm.pi[order].tolist(), 'mu': gmm.mu[order].flatten().tolist(),
        'cov': gmm.cov[order].flatten().tolist(),
        'bic': gmm.bic(X), 'purity': purity, 'll_diag': ll_diag,
        'resp_row0': log_resp[0].exp()[order].tolist(),
    }


if __name__ == '__main__':
    print(main())
