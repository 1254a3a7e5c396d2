"""Second-order methods with torch.autograd.functional (the style of statistics / optimisation
notebooks): a Bayesian logistic regression whose MAP estimate is found by Newton's method with
torch.autograd.functional.hessian and jacobian, a Laplace approximation
MultivariateNormal(loc=MAP, precision_matrix=H) used for the predictive probit approximation,
Hessian-vector products (hvp, vhp) for a conjugate-gradient Newton step on the Rosenbrock function,
vjp / jvp of a vector field, jacobian(vectorize=True) and create_graph=True on a small network, and
a Newton solver for a nonlinear system (jacobian + torch.linalg.solve) in float64."""
import argparse
import math
import os

import numpy as np
import torch
import torch.nn as nn
from torch.autograd.functional import hessian, hvp, jacobian, jvp, vhp, vjp
from torch.distributions import MultivariateNormal, Normal


def log_posterior(w, X, y, prior_prec=1.0):
    logits = X @ w
    ll = -torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction='sum')
    return ll - 0.5 * prior_prec * (w ** 2).sum()


def rosenbrock(x):
    return ((1 - x[:-1]) ** 2 + 100 * (x[1:] - x[:-1] ** 2) ** 2).sum()


def conjugate_gradient(Av, b, iters=20, tol=1e-10):
    x = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    rs = r @ r
    for _ in range(iters):
        Ap = Av(p)
        alpha = rs / (p @ Ap)
        x = x + alpha * p
        r = r - alpha * Ap
        rs_new = r @ r
        if rs_new.sqrt() < tol:
            break
        p = r + (rs_new / rs) * p
        rs = rs_new
    return x


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--newton-iters', type=int, default=8)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)

    # --- Bayesian logistic regression: Newton MAP + Laplace ---
    X = torch.from_numpy(np.c_[np.ones(80), rng.randn(80, 2)])
    true_w = torch.tensor([0.5, 2.0, -1.0], dtype=torch.float64)
    y = torch.from_numpy((rng.rand(80) < torch.sigmoid(X @ true_w).numpy()).astype(np.float64))
    w = torch.zeros(3, dtype=torch.float64)
    lps = []
    for it in range(args.newton_iters):
        f = lambda w_: log_posterior(w_, X, y)
        g = jacobian(f, w)
        H = hessian(f, w)
        w = w - torch.linalg.solve(H, g)
        lps.append(f(w).item())
    H = -hessian(lambda w_: log_posterior(w_, X, y), w)
    laplace = MultivariateNormal(loc=w, precision_matrix=H)
    x_new = torch.tensor([[1.0, 0.5, 0.5], [1.0, -1.0, 2.0]], dtype=torch.float64)
    mu = x_new @ w
    var = (x_new @ laplace.covariance_matrix * x_new).sum(-1)
    probit = torch.sigmoid(mu / torch.sqrt(1 + math.pi * var / 8))
    lp_map = laplace.log_prob(w).item()
    ent = laplace.entropy().item()

    # --- Rosenbrock: Newton-CG with Hessian-vector products ---
    x = torch.tensor([-1.2, 1.0, -0.5, 0.8], dtype=torch.float64)
    rb = []
    for it in range(12):
        g = jacobian(rosenbrock, x)
        step = conjugate_gradient(lambda v: hvp(rosenbrock, x, v)[1], -g)
        # backtracking line search
        t = 1.0
        while rosenbrock(x + t * step) > rosenbrock(x) + 1e-4 * t * (g @ step) and t > 1e-8:
            t *= 0.5
        x = x + t * step
        rb.append(rosenbrock(x).item())
    v = torch.tensor([1.0, -1.0, 0.5, 2.0], dtype=torch.float64)
    f_val, hv = hvp(rosenbrock, x, v)
    _, vh = vhp(rosenbrock, x, v)
    H_rb = hessian(rosenbrock, x)

    # --- vector field: vjp / jvp / jacobian, vectorize and create_graph ---
    def field(z):
        return torch.stack([z[0] * z[1], torch.sin(z[1]) + z[2] ** 2, torch.exp(-z[0]) * z[2]])
    z = torch.tensor([0.3, -0.7, 1.1], dtype=torch.float64)
    out, vjp_val = vjp(field, z, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    _, jvp_val = jvp(field, z, torch.tensor([0.5, 0.0, -1.0], dtype=torch.float64))
    J = jacobian(field, z)
    J_vec = jacobian(field, z, vectorize=True)

    net = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    if args.init_state:
        if os.path.exists(args.init_state):
            net.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(net.state_dict(), args.init_state)
    # a Jacobian-norm penalty that trains the network (create_graph=True)
    Jn = jacobian(net, z, create_graph=True)
    penalty = (Jn ** 2).sum()
    penalty.backward()
    jac_pen_grad = net[0].weight.grad.norm().item()

    # --- Newton's method for a nonlinear system F(u) = 0 ---
    def F_sys(u):
        return torch.stack([u[0] ** 2 + u[1] ** 2 - 4, torch.exp(u[0]) + u[1] - 1])
    u = torch.tensor([1.0, -1.0], dtype=torch.float64)
    for _ in range(10):
        u = u - torch.linalg.solve(jacobian(F_sys, u), F_sys(u))
    return {
        'newton_lps': lps, 'w_map': w.tolist(), 'laplace_cov': laplace.covariance_matrix.flatten().tolist(),
        'probit': probit.tolist(), 'laplace_lp_map': lp_map, 'laplace_entropy': ent,
        'rosenbrock': rb, 'x_final': x.tolist(), 'hvp': hv.tolist(), 'vhp': vh.tolist(),
        'hess_sym': bool(torch.allclose(H_rb, H_rb.T)), 'hv_matches': bool(torch.allclose(H_rb @ v, hv)),
        'field': out.tolist(), 'vjp': vjp_val.tolist(), 'jvp': jvp_val.tolist(),
        'jacobian': J.flatten().tolist(), 'jac_vectorized_same': bool(torch.allclose(J, J_vec)),
        'jac_penalty': penalty.item(), 'jac_penalty_grad': jac_pen_grad,
        'newton_root': u.tolist(), 'residual_small': F_sys(u).abs().max().item() < 1e-10,
    }


if __name__ == '__main__':
    print(main())
