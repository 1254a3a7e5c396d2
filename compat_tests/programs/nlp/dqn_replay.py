"""DQN with experience replay and a target network (PyTorch's DQN tutorial style) on a numpy chain MDP."""
import argparse
import copy
import math
import os
import random
from collections import namedtuple, deque

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
import torch.nn.functional as F

Transition = namedtuple('Transition', ('state', 'action', 'next_state', 'reward'))


class ReplayMemory(object):
    def __init__(self, capacity):
        self.memory = deque([], maxlen=capacity)

    def push(self, *args):
        """Save a transition"""
        self.memory.append(Transition(*args))

    def sample(self, batch_size):
        return random.sample(self.memory, batch_size)

    def __len__(self):
        return len(self.memory)


class DQN(nn.Module):
    def __init__(self, n_observations, n_actions):
        super(DQN, self).__init__()
        self.layer1 = nn.Linear(n_observations, 32)
        self.layer2 = nn.Linear(32, 32)
        self.layer3 = nn.Linear(32, n_actions)

    def forward(self, x):
        x = F.relu(self.layer1(x))
        x = F.relu(self.layer2(x))
        return self.layer3(x)


class Chain:
    """A 6-state chain: action 1 moves right (reward 1 at the end), action 0 resets to the start."""

    def __init__(self, n=6):
        self.n = n

    def reset(self):
        self.s = 0
        return self.obs()

    def obs(self):
        return np.eye(self.n, dtype=np.float32)[self.s]

    def step(self, a):
        if a == 1:
            self.s += 1
        else:
            self.s = 0
            return self.obs(), 0.05, False
        if self.s == self.n - 1:
            return self.obs(), 1.0, True
        return self.obs(), 0.0, False


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--episodes', type=int, default=12)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    BATCH_SIZE, GAMMA, EPS_START, EPS_END, EPS_DECAY, TAU, LR = 16, 0.9, 0.9, 0.05, 50, 0.005, 1e-3
    random.seed(0)
    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    env = Chain()
    n_actions, n_observations = 2, env.n

    policy_net = DQN(n_observations, n_actions).to(device)
    if args.init_state:
        if os.path.exists(args.init_state):
            policy_net.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(policy_net.state_dict(), args.init_state)
    target_net = DQN(n_observations, n_actions).to(device)
    target_net.load_state_dict(policy_net.state_dict())
    hard_copy = copy.deepcopy(policy_net)  # a frozen snapshot, compared at the end

    optimizer = optim.AdamW(policy_net.parameters(), lr=LR, amsgrad=True)
    memory = ReplayMemory(1000)
    steps_done = 0

    def select_action(state):
        nonlocal steps_done
        sample = random.random()
        eps_threshold = EPS_END + (EPS_START - EPS_END) * math.exp(-1. * steps_done / EPS_DECAY)
        steps_done += 1
        if sample > eps_threshold:
            with torch.no_grad():
                return policy_net(state).max(1)[1].view(1, 1)
        else:
            return torch.tensor([[random.randrange(n_actions)]], device=device, dtype=torch.long)

    losses = []

    def optimize_model():
        if len(memory) < BATCH_SIZE:
            return
        transitions = memory.sample(BATCH_SIZE)
        batch = Transition(*zip(*transitions))
        non_final_mask = torch.tensor(tuple(map(lambda s: s is not None, batch.next_state)), device=device,
                                      dtype=torch.bool)
        non_final_next_states = torch.cat([s for s in batch.next_state if s is not None])
        state_batch = torch.cat(batch.state)
        action_batch = torch.cat(batch.action)
        reward_batch = torch.cat(batch.reward)
        state_action_values = policy_net(state_batch).gather(1, action_batch)
        next_state_values = torch.zeros(BATCH_SIZE, device=device)
        with torch.no_grad():
            next_state_values[non_final_mask] = target_net(non_final_next_states).max(1)[0]
        expected_state_action_values = (next_state_values * GAMMA) + reward_batch
        criterion = nn.SmoothL1Loss()
        loss = criterion(state_action_values, expected_state_action_values.unsqueeze(1))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_value_(policy_net.parameters(), 100)
        optimizer.step()
        losses.append(loss.item())

    durations = []
    for i_episode in range(args.episodes):
        state = env.reset()
        state = torch.tensor(state, dtype=torch.float32, device=device).unsqueeze(0)
        for t in range(30):
            action = select_action(state)
            observation, reward, terminated = env.step(action.item())
            reward = torch.tensor([reward], device=device)
            next_state = None if terminated else torch.tensor(observation, dtype=torch.float32,
                                                              device=device).unsqueeze(0)
            memory.push(state, action, next_state, reward)
            state = next_state
            optimize_model()
            # Soft update of the target network's weights: θ′ ← τ θ + (1 −τ )θ′
            target_net_state_dict = target_net.state_dict()
            policy_net_state_dict = policy_net.state_dict()
            for key in policy_net_state_dict:
                target_net_state_dict[key] = policy_net_state_dict[key] * TAU + target_net_state_dict[key] * (1 - TAU)
            target_net.load_state_dict(target_net_state_dict)
            if terminated:
                break
        durations.append(t + 1)
    with torch.no_grad():
        q = policy_net(torch.eye(env.n, device=device))
        q_target = target_net(torch.eye(env.n, device=device))
        drift = sum((p - p0).abs().sum().item() for p, p0 in zip(policy_net.parameters(), hard_copy.parameters()))
    assert all(not p.requires_grad or p.grad is None for p in hard_copy.parameters())
    return {'losses': losses, 'durations': durations, 'q': q.tolist(), 'q_target': q_target.tolist(),
            'greedy': q.argmax(dim=1).tolist(), 'drift': drift}


if __name__ == '__main__':
    print(main())
