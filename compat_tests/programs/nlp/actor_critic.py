"""One-step-return actor-critic (pytorch/examples actor_critic.py style) on a numpy grid walk.
Actions are drawn with numpy from the policy's probabilities, so both runs follow one trajectory."""
import argparse
import os
from collections import namedtuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.distributions import Categorical

SavedAction = namedtuple('SavedAction', ['log_prob', 'value'])


class GridWalk:
    """Walk on a line of 7 cells; reward +1 at the right end, -1 at the left end."""

    def __init__(self, n=7):
        self.n = n

    def reset(self):
        self.pos = self.n // 2
        return self._obs()

    def _obs(self):
        obs = np.zeros(self.n, dtype=np.float32)
        obs[self.pos] = 1.0
        return obs

    def step(self, action):
        self.pos += 1 if action == 1 else -1
        if self.pos == self.n - 1:
            return self._obs(), 1.0, True
        if self.pos == 0:
            return self._obs(), -1.0, True
        return self._obs(), -0.01, False


class Policy(nn.Module):
    def __init__(self, n_obs, n_actions):
        super(Policy, self).__init__()
        self.affine1 = nn.Linear(n_obs, 32)
        self.action_head = nn.Linear(32, n_actions)
        self.value_head = nn.Linear(32, 1)
        self.saved_actions = []
        self.rewards = []

    def forward(self, x):
        x = F.relu(self.affine1(x))
        action_prob = F.softmax(self.action_head(x), dim=-1)
        state_values = self.value_head(x)
        return action_prob, state_values


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--gamma', type=float, default=0.9)
    parser.add_argument('--episodes', type=int, default=8)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)
    env = GridWalk()
    model = Policy(7, 2)
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(model.state_dict(), args.init_state)
    optimizer = optim.Adam(model.parameters(), lr=3e-2)
    eps = np.finfo(np.float32).eps.item()

    def select_action(state):
        state = torch.from_numpy(state).float()
        probs, state_value = model(state)
        m = Categorical(probs)
        p = np.squeeze(probs.detach().numpy()).astype(np.float64)
        action = rng.choice(2, p=p / p.sum())
        action = torch.tensor(action)
        model.saved_actions.append(SavedAction(m.log_prob(action), state_value))
        return action.item()

    def finish_episode():
        R = 0
        saved_actions = model.saved_actions
        policy_losses = []
        value_losses = []
        returns = []
        for r in model.rewards[::-1]:
            R = r + args.gamma * R
            returns.insert(0, R)
        returns = torch.tensor(returns)
        if len(returns) > 1:
            returns = (returns - returns.mean()) / (returns.std() + eps)
        for (log_prob, value), R in zip(saved_actions, returns):
            advantage = R - value.item()
            policy_losses.append(-log_prob * advantage)
            value_losses.append(F.smooth_l1_loss(value, torch.tensor([R])))
        optimizer.zero_grad()
        loss = torch.stack(policy_losses).sum() + torch.stack(value_losses).sum()
        loss.backward()
        optimizer.step()
        del model.rewards[:]
        del model.saved_actions[:]
        return loss.item()

    ep_rewards, losses, lengths = [], [], []
    for i_episode in range(args.episodes):
        state = env.reset()
        ep_reward = 0
        for t in range(1, 40):
            action = select_action(state)
            state, reward, done = env.step(action)
            model.rewards.append(reward)
            ep_reward += reward
            if done:
                break
        lengths.append(t)
        ep_rewards.append(ep_reward)
        losses.append(finish_episode())
    with torch.no_grad():
        probs, values = model(torch.eye(7))
    return {'ep_rewards': ep_rewards, 'losses': losses, 'lengths': lengths,
            'final_probs': probs[:, 1].tolist(), 'values': values.squeeze(1).tolist()}


if __name__ == '__main__':
    print(main())
