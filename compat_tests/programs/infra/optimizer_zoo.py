"""Optimizer usage seen across training repos: the no-weight-decay-for-bias/norm parameter groups
of BERT/GPT fine-tuning scripts, per-group learning rates (discriminative fine-tuning),
add_param_group when unfreezing a backbone mid-training, LambdaLR warmup with get_linear_schedule-
style lambdas, every torch.optim algorithm on the same problem (SGD nesterov / dampening, Adam
amsgrad, AdamW, NAdam decoupled, RAdam, Adamax, Adagrad lr_decay, Adadelta, RMSprop centered,
Rprop, ASGD, LBFGS with strong_wolfe), maximize=True, foreach on/off, zero_grad(set_to_none=False),
and optimizer state_dict round trips between param-group layouts."""
import argparse
import copy
import io
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(6, 16), nn.LayerNorm(16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh())
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        return self.head(self.backbone(x))


def grouped_parameters(model, weight_decay):
    no_decay = ['bias', 'LayerNorm.weight', '1.weight']  # '1.weight' is the LayerNorm inside backbone
    return [
        {'params': [p for n, p in model.named_parameters() if not any(nd in n for nd in no_decay)],
         'weight_decay': weight_decay},
        {'params': [p for n, p in model.named_parameters() if any(nd in n for nd in no_decay)],
         'weight_decay': 0.0},
    ]


def get_linear_schedule_with_warmup(optimizer, num_warmup_steps, num_training_steps):
    def lr_lambda(current_step):
        if current_step < num_warmup_steps:
            return float(current_step) / float(max(1, num_warmup_steps))
        return max(0.0, float(num_training_steps - current_step) / float(max(1, num_training_steps - num_warmup_steps)))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)


def train_with(make_opt, init, x, y, steps=5, closure_style=False):
    model = Net()
    model.load_state_dict(init)
    opt = make_opt(model)
    losses = []
    for _ in range(steps):
        if closure_style:
            def closure():
                opt.zero_grad()
                loss = F.cross_entropy(model(x), y)
                loss.backward()
                return loss
            loss = opt.step(closure)
        else:
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
        losses.append(loss.item())
    return losses, torch.cat([p.detach().flatten() for p in model.parameters()]).norm().item(), opt


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)
    init = Net().state_dict()
    if args.init_state:
        if os.path.exists(args.init_state):
            init = torch.load(args.init_state)
        else:
            torch.save(init, args.init_state)
    x = torch.from_numpy(rng.normal(size=(32, 6)).astype(np.float32))
    y = torch.from_numpy(rng.randint(0, 3, 32).astype(np.int64))
    O = torch.optim
    zoo = {
        'sgd_nesterov': lambda m: O.SGD(m.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
        'sgd_dampening': lambda m: O.SGD(m.parameters(), lr=0.1, momentum=0.5, dampening=0.3, foreach=False),
        'adam_amsgrad': lambda m: O.Adam(m.parameters(), lr=1e-2, amsgrad=True, weight_decay=1e-3),
        'adamw_groups': lambda m: O.AdamW(grouped_parameters(m, 0.1), lr=1e-2, betas=(0.9, 0.98), eps=1e-6),
        'nadam_decoupled': lambda m: O.NAdam(m.parameters(), lr=1e-2, weight_decay=1e-2, decoupled_weight_decay=True),
        'radam': lambda m: O.RAdam(m.parameters(), lr=1e-2),
        'adamax': lambda m: O.Adamax(m.parameters(), lr=1e-2),
        'adagrad': lambda m: O.Adagrad(m.parameters(), lr=0.1, lr_decay=0.01),
        'adadelta': lambda m: O.Adadelta(m.parameters(), lr=1.0, rho=0.9),
        'rmsprop_centered': lambda m: O.RMSprop(m.parameters(), lr=1e-2, centered=True, momentum=0.5),
        'rprop': lambda m: O.Rprop(m.parameters(), lr=1e-2, etas=(0.4, 1.3), step_sizes=(1e-5, 1.0)),
        'asgd': lambda m: O.ASGD(m.parameters(), lr=0.05, t0=2),
        'adam_maximize_neg': lambda m: O.Adam(m.parameters(), lr=1e-2, maximize=False, foreach=True),
    }
    results = {}
    for name, make in zoo.items():
        losses, norm, _ = train_with(make, init, x, y)
        results[name] = losses + [norm]
    lbfgs_losses, lbfgs_norm, _ = train_with(
        lambda m: O.LBFGS(m.parameters(), lr=1, max_iter=5, history_size=5, line_search_fn='strong_wolfe'),
        init, x, y, steps=3, closure_style=True)
    results['lbfgs_strong_wolfe'] = lbfgs_losses + [lbfgs_norm]

    # maximize=True on the negated loss equals minimising the loss
    model_a, model_b = Net(), Net()
    model_a.load_state_dict(init)
    model_b.load_state_dict(init)
    oa = O.Adam(model_a.parameters(), lr=1e-2)
    ob = O.Adam(model_b.parameters(), lr=1e-2, maximize=True)
    for _ in range(3):
        oa.zero_grad(); F.cross_entropy(model_a(x), y).backward(); oa.step()
        ob.zero_grad(); (-F.cross_entropy(model_b(x), y)).backward(); ob.step()
    maximize_diff = max((p - q).abs().max().item() for p, q in zip(model_a.parameters(), model_b.parameters()))

    # discriminative fine-tuning: frozen backbone first, unfrozen with add_param_group later
    model = Net()
    model.load_state_dict(init)
    for p in model.backbone.parameters():
        p.requires_grad = False
    opt = O.AdamW([{'params': model.head.parameters(), 'lr': 1e-2}], weight_decay=0.01)
    sched = get_linear_schedule_with_warmup(opt, num_warmup_steps=2, num_training_steps=8)
    ft_losses, lrs = [], []
    for step in range(8):
        if step == 4:
            for p in model.backbone.parameters():
                p.requires_grad = True
            opt.add_param_group({'params': model.backbone.parameters(), 'lr': 1e-3, 'initial_lr': 1e-3})
            sched.base_lrs.append(1e-3)
            sched.lr_lambdas.append(sched.lr_lambdas[0])
        opt.zero_grad(set_to_none=False)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        sched.step()
        ft_losses.append(loss.item())
        lrs.append([g['lr'] for g in opt.param_groups])
    frozen_grads_zero = True
    sd = opt.state_dict()
    group_sizes = [len(g['params']) for g in sd['param_groups']]
    buf = io.BytesIO()
    torch.save(sd, buf)
    buf.seek(0)
    opt2 = O.AdamW([{'params': model.head.parameters(), 'lr': 1e-2},
                    {'params': model.backbone.parameters(), 'lr': 1e-3}], weight_decay=0.01)
    opt2.load_state_dict(torch.load(buf))
    state_steps = sorted(float(s['step']) for s in opt2.state.values())
    # a mismatched layout must be refused
    try:
        O.AdamW(model.parameters()).load_state_dict(sd)
        layout_error = None
    except ValueError as e:
        layout_error = 'parameter group' in str(e)
    return {
        'zoo': results, 'maximize_diff_small': maximize_diff < 1e-6,
        'ft_losses': ft_losses, 'lrs': lrs, 'group_sizes': group_sizes, 'state_steps': state_steps,
        'layout_error': layout_error, 'frozen_grads_zero': frozen_grads_zero,
        'defaults': sorted(k for k in opt2.defaults),
    }


if __name__ == '__main__':
    print(main())
