"""Knowledge distillation (Hinton et al.), written like the PyTorch "Knowledge Distillation
Tutorial" and common KD repos: a frozen teacher in eval mode under torch.no_grad() /
torch.inference_mode(), a student trained on soft targets with F.kl_div(reduction='batchmean')
scaled by T^2 (both log_target=False and log_target=True spellings), nn.KLDivLoss, a hard-label
cross-entropy with label smoothing, and feature (hint) distillation through an MSE on a
cosine-embedding regressor."""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Teacher(nn.Module):
    def __init__(self, d_in=20, n_classes=5):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(d_in, 64), nn.ReLU(), nn.Dropout(0.1),
            nn.Linear(64, 64), nn.ReLU(),
        )
        self.head = nn.Linear(64, n_classes)

    def forward(self, x, return_features=False):
        f = self.body(x)
        out = self.head(f)
        return (out, f) if return_features else out


class Student(nn.Module):
    def __init__(self, d_in=20, n_classes=5):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(d_in, 16), nn.ReLU())
        self.head = nn.Linear(16, n_classes)
        self.regressor = nn.Linear(16, 64)  # hint layer mapping to the teacher's feature size

    def forward(self, x, return_features=False):
        f = self.body(x)
        out = self.head(f)
        return (out, self.regressor(f)) if return_features else out


def distillation_loss(student_logits, teacher_logits, T):
    soft_targets = F.softmax(teacher_logits / T, dim=-1)
    soft_prob = F.log_softmax(student_logits / T, dim=-1)
    return F.kl_div(soft_prob, soft_targets, reduction='batchmean') * (T ** 2)


def distillation_loss_log_target(student_logits, teacher_logits, T):
    return F.kl_div(F.log_softmax(student_logits / T, dim=1), F.log_softmax(teacher_logits / T, dim=1),
                    reduction='batchmean', log_target=True) * T * T


def manual_kd(student_logits, teacher_logits, T):
    # the tutorial's hand-written version: sum(p * (log p - log q)) / batch
    soft_targets = F.softmax(teacher_logits / T, dim=-1)
    soft_prob = F.log_softmax(student_logits / T, dim=-1)
    return torch.sum(soft_targets * (soft_targets.log() - soft_prob)) / soft_prob.size()[0] * (T ** 2)


def make_data(n, rng, d=20, k=5):
    centers = rng.normal(0, 2.0, size=(k, d))
    y = rng.randint(0, k, n)
    x = centers[y] + rng.normal(0, 1.5, size=(n, d))
    return x.astype(np.float32), y.astype(np.int64)


def evaluate(model, x, y):
    model.eval()
    with torch.inference_mode():
        logits = model(x)
        acc = (logits.argmax(1) == y).float().mean().item()
        loss = F.cross_entropy(logits, y).item()
    return loss, acc, logits


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--init-state', default=None)
    parser.add_argument('--epochs', type=int, default=4)
    parser.add_argument('--T', type=float, default=2.0)
    parser.add_argument('--alpha', type=float, default=0.7)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)

    x_np, y_np = make_data(96, rng)
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    teacher, student = Teacher(), Student()
    if args.init_state:
        if os.path.exists(args.init_state):
            st = torch.load(args.init_state)
            teacher.load_state_dict(st['teacher'])
            student.load_state_dict(st['student'])
        else:
            torch.save({'teacher': teacher.state_dict(), 'student': student.state_dict()}, args.init_state)

    # 1. pre-train the teacher (no dropout randomness: teacher.eval() disables it but the forward is
    #    still differentiable -- people do train in eval mode to freeze BN/dropout)
    teacher.eval()
    t_opt = torch.optim.SGD(teacher.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    teacher_losses = []
    for epoch in range(args.epochs * 2):
        for i in range(0, 96, 32):
            t_opt.zero_grad()
            loss = F.cross_entropy(teacher(x[i:i + 32]), y[i:i + 32], label_smoothing=0.1)
            loss.backward()
            t_opt.step()
        teacher_losses.append(loss.item())
    for p in teacher.parameters():
        p.requires_grad_(False)
    t_loss, t_acc, t_logits = evaluate(teacher, x, y)
    assert not t_logits.requires_grad

    # 2. distil into the student
    kl_module = nn.KLDivLoss(reduction='batchmean', log_target=True)
    s_opt = torch.optim.Adam(student.parameters(), lr=1e-2)
    kd_losses, kd_alt, hint_losses, ce_losses = [], [], [], []
    for epoch in range(args.epochs):
        student.train()
        for i in range(0, 96, 32):
            xb, yb = x[i:i + 32], y[i:i + 32]
            with torch.no_grad():
                teacher_logits, teacher_feat = teacher(xb, return_features=True)
            student_logits, student_hint = student(xb, return_features=True)
            kd = distillation_loss(student_logits, teacher_logits, args.T)
            kd2 = distillation_loss_log_target(student_logits, teacher_logits, args.T)
            kd3 = kl_module(F.log_softmax(student_logits / args.T, -1),
                            F.log_softmax(teacher_logits / args.T, -1)) * args.T ** 2
            kd4 = manual_kd(student_logits, teacher_logits, args.T)
            hint = F.mse_loss(student_hint, teacher_feat)
            ce = F.cross_entropy(student_logits, yb)
            loss = args.alpha * kd + (1 - args.alpha) * ce + 0.1 * hint
            s_opt.zero_grad()
            loss.backward()
            s_opt.step()
            kd_losses.append(kd.item())
            kd_alt.append([kd2.item(), kd3.item(), kd4.item()])
            hint_losses.append(hint.item())
            ce_losses.append(ce.item())

    s_loss, s_acc, s_logits = evaluate(student, x, y)
    # gradient of the KD loss w.r.t. the student logits equals (q - p) * T / batch
    student.train()
    with torch.no_grad():
        tl = teacher(x[:8])
    sl = student(x[:8]).detach().requires_grad_()
    distillation_loss(sl, tl, args.T).backward()
    expected = (F.softmax(sl / args.T, -1) - F.softmax(tl / args.T, -1)) * args.T / 8
    kd_grad_err = (sl.grad - expected).abs().max().item()
    # per-sample KL with reduction='none' and a plain 'sum'
    kl_none = F.kl_div(F.log_softmax(s_logits, 1), F.softmax(t_logits, 1), reduction='none').sum(1)
    kl_sum = F.kl_div(F.log_softmax(s_logits, 1), F.softmax(t_logits, 1), reduction='sum')
    agreement = (s_logits.argmax(1) == t_logits.argmax(1)).float().mean().item()
    return {
        'teacher_losses': teacher_losses, 'teacher_eval': [t_loss, t_acc],
        'kd_losses': kd_losses, 'kd_alt': kd_alt, 'hint_losses': hint_losses, 'ce_losses': ce_losses,
        'student_eval': [s_loss, s_acc], 'kd_grad_err_small': kd_grad_err < 1e-6,
        'kl_none_head': kl_none[:5].tolist(), 'kl_sum': kl_sum.item(), 'agreement': agreement,
    }


if __name__ == '__main__':
    print(main())
