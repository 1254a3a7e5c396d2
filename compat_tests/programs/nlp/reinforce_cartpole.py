"""REINFORCE on a numpy CartPole (pytorch/examples reinforcement_learning/reinforce.py style).

Actions are sampled with torch.distributions.Categorical, so the torch and jtorch runs take
different trajectories; the program also reports the policy-gradient loss of a fixed rollout."""
import argparse
import math
import os
from itertools import count

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.distributions import Categorical


class CartPoleEnv:
    """The classic cart-pole dynamics (gym's CartPole-v1), without gym."""

    def __init__(self, seed=0):
        self.gravity, self.masscart, self.masspole, self.length = 9.8, 1.0, 0.1, 0.5
        self.total_mass = self.masspole + self.masscart
        self.polemass_length = self.masspole * self.length
        self.force_mag, self.tau = 10.0, 0.02
        self.theta_threshold_radians = 12 * 2 * math.pi / 360
        self.x_threshold = 2.4
        self.np_random = np.random.RandomState(seed)
        self.state = None

    def reset(self):
        self.state = self.np_random.uniform(low=-0.05, high=0.05, size=(4,))
        return np.array(self.state, dtype=np.float32), {}

    def step(self, action):
        x, x_dot, theta, theta_dot = self.state
        force = self.force_mag if action == 1 else -self.force_mag
        costheta, sintheta = math.cos(theta), math.sin(theta)
        temp = (force + self.polemass_length * theta_dot ** 2 * sintheta) / self.total_mass
        thetaacc = (self.gravity * sintheta - costheta * temp) / (
            self.length * (4.0 / 3.0 - self.masspole * costheta ** 2 / self.total_mass))
        xacc = temp - self.polemass_length * thetaacc * costheta / self.total_mass
        x = x + self.tau * x_dot
        x_dot = x_dot + self.tau * xacc
        theta = theta + self.tau * theta_dot
        theta_dot = theta_dot + self.tau * thetaacc
        self.state = (x, x_dot, theta, theta_dot)
        terminated = bool(x < -self.x_threshold or x > self.x_threshold
                          or theta < -self.theta_threshold_radians or theta > self.theta_threshold_radians)
        return np.array(self.state, dtype=np.float32), 1.0, terminated, False, {}


class Policy(nn.Module):
    def __init__(self):
        super(Policy, self).__init__()
        self.affine1 = nn.Linear(4, 64)
        self.dropout = nn.Dropout(p=0.0)
        self.affine2 = nn.Linear(64, 2)
        self.saved_log_probs = []
        self.rewards = []

    def forward(self, x):
        x = self.affine1(x)
        x = self.dropout(x)
        x = F.relu(x)
        action_scores = self.affine2(x)
        return F.softmax(action_scores, dim=1)


def main(argv=None):
    parser = argparse.ArgumentParser(description='PyTorch REINFORCE example')
    parser.add_argument('--gamma', type=float, default=0.99, metavar='G')
    parser.add_argument('--seed', type=int, default=543, metavar='N')
    parser.add_argument('--episodes', type=int, default=6)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)

    env = CartPoleEnv(args.seed)
    torch.manual_seed(args.seed)
    policy = Policy()
    if args.init_state:
        if os.path.exists(args.init_state):
            policy.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(policy.state_dict(), args.init_state)
    optimizer = optim.Adam(policy.parameters(), lr=1e-2)
    eps = np.finfo(np.float32).eps.item()

    def select_action(state):
        state = torch.from_numpy(state).float().unsqueeze(0)
        probs = policy(state)
        m = Categorical(probs)
        action = m.sample()
        policy.saved_log_probs.append(m.log_prob(action))
        return action.item()

    def finish_episode():
        R = 0
        policy_loss = []
        returns = []
        for r in policy.rewards[::-1]:
            R = r + args.gamma * R
            returns.insert(0, R)
        returns = torch.tensor(returns)
        returns = (returns - returns.mean()) / (returns.std() + eps)
        for log_prob, R in zip(policy.saved_log_probs, returns):
            policy_loss.append(-log_prob * R)
        optimizer.zero_grad()
        policy_loss = torch.cat(policy_loss).sum()
        policy_loss.backward()
        optimizer.step()
        del policy.rewards[:]
        del policy.saved_log_probs[:]
        return policy_loss.item()

    # deterministic part: the loss and gradient of the initial policy on a fixed rollout
    rng = np.random.RandomState(0)
    states = torch.tensor(rng.randn(20, 4).astype(np.float32))
    actions = torch.tensor(rng.randint(0, 2, size=20))
    fixed_returns = torch.tensor(rng.rand(20).tolist())
    dist = Categorical(probs=policy(states))
    fixed_loss = -(dist.log_prob(actions) * fixed_returns).mean() - 0.01 * dist.entropy().mean()
    fixed_grad = torch.autograd.grad(fixed_loss, policy.affine2.weight)[0]
    logits_dist = Categorical(logits=torch.log(policy(states)))
    fixed = {'loss': fixed_loss.item(), 'grad_norm': fixed_grad.norm().item(),
             'entropy': dist.entropy().sum().item(), 'logits_entropy': logits_dist.entropy().sum().item(),
             'probs_sum': dist.probs.sum().item()}

    running_reward = 10
    ep_rewards, ep_losses = [], []
    for i_episode in count(1):
        state, _ = env.reset()
        ep_reward = 0
        for t in range(1, 200):
            action = select_action(state)
            assert action in (0, 1)
            state, reward, done, _, _ = env.step(action)
            policy.rewards.append(reward)
            ep_reward += reward
            if done:
                break
        running_reward = 0.05 * ep_reward + (1 - 0.05) * running_reward
        ep_losses.append(finish_episode())
        ep_rewards.append(ep_reward)
        if i_episode >= args.episodes:
            break
    return {'fixed': fixed, 'n_episodes': len(ep_rewards),
            'losses_finite': all(math.isfinite(l) for l in ep_losses),
            'rewards_positive': all(r >= 1 for r in ep_rewards)}


if __name__ == '__main__':
    print(main())
