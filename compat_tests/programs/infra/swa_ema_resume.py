"""Training-loop infrastructure from real training scripts: linear warmup + cosine decay through
SequentialLR, a ChainedScheduler, OneCycleLR and ReduceLROnPlateau, stochastic weight averaging
(torch.optim.swa_utils: AveragedModel, SWALR, update_bn) and an EMA of the weights (AveragedModel
with get_ema_multi_avg_fn, and a hand-written EMA with torch._foreach ops). Mid-way, the whole
training state (model, optimizer, schedulers, SWA/EMA models, step) is saved with torch.save to a
BytesIO buffer and to a file, reloaded into freshly constructed objects, and training continues;
the resumed run must end exactly where an uninterrupted run ends."""
import argparse
import copy
import io
import os
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim.lr_scheduler import (ChainedScheduler, CosineAnnealingLR, ExponentialLR, LinearLR,
                                      MultiplicativeLR, OneCycleLR, ReduceLROnPlateau, SequentialLR)
from torch.optim.swa_utils import SWALR, AveragedModel, get_ema_multi_avg_fn, update_bn
from torch.utils.data import DataLoader, TensorDataset


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 32)
        self.bn1 = nn.BatchNorm1d(32)
        self.fc2 = nn.Linear(32, 32)
        self.bn2 = nn.BatchNorm1d(32)
        self.out = nn.Linear(32, 3)

    def forward(self, x):
        x = F.relu(self.bn1(self.fc1(x)))
        x = F.relu(self.bn2(self.fc2(x)))
        return self.out(x)


class EMA:
    """timm-style ModelEmaV2, with foreach ops on the parameter/buffer lists."""

    def __init__(self, model, decay=0.9):
        self.module = copy.deepcopy(model)
        self.module.eval()
        self.decay = decay

    @torch.no_grad()
    def update(self, model):
        ema_v = [v for v in self.module.state_dict().values() if v.dtype.is_floating_point]
        model_v = [v for v in model.state_dict().values() if v.dtype.is_floating_point]
        torch._foreach_mul_(ema_v, self.decay)
        torch._foreach_add_(ema_v, model_v, alpha=1.0 - self.decay)

    def state_dict(self):
        return self.module.state_dict()

    def load_state_dict(self, sd):
        self.module.load_state_dict(sd)


def make_loader(rng):
    x = rng.normal(size=(64, 8)).astype(np.float32)
    w = rng.normal(size=(8, 3))
    y = (x @ w + 0.3 * rng.normal(size=(64, 3))).argmax(1)
    ds = TensorDataset(torch.from_numpy(x), torch.from_numpy(y.astype(np.int64)))
    return DataLoader(ds, batch_size=16, shuffle=False, drop_last=False)


def build(init_state):
    model = Net()
    model.load_state_dict(init_state)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
    warmup = LinearLR(optimizer, start_factor=0.1, total_iters=4)
    cosine = CosineAnnealingLR(optimizer, T_max=12, eta_min=1e-3)
    scheduler = SequentialLR(optimizer, schedulers=[warmup, cosine], milestones=[4])
    swa_model = AveragedModel(model)
    swa_scheduler = SWALR(optimizer, swa_lr=0.05, anneal_epochs=3, anneal_strategy='cos')
    ema_model = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.95), use_buffers=True)
    ema = EMA(model, decay=0.9)
    return model, optimizer, scheduler, swa_model, swa_scheduler, ema_model, ema


def train(init_state, loader, epochs, swa_start, resume_at=None, ckpt_path=None):
    model, optimizer, scheduler, swa_model, swa_scheduler, ema_model, ema = build(init_state)
    history = []
    epoch = 0
    while epoch < epochs:
        if resume_at is not None and epoch == resume_at:
            # save everything, throw the objects away, rebuild and reload
            state = {
                'epoch': epoch,
                'model': model.state_dict(),
                'optimizer': optimizer.state_dict(),
                'scheduler': scheduler.state_dict(),
                'swa_model': swa_model.state_dict(),
                'swa_scheduler': swa_scheduler.state_dict(),
                'ema_model': ema_model.state_dict(),
                'ema': ema.state_dict(),
                'history': history,
            }
            buf = io.BytesIO()
            torch.save(state, buf)
            torch.save(state, ckpt_path)
            del model, optimizer, scheduler, swa_model, swa_scheduler, ema_model, ema, state
            buf.seek(0)
            from_buf = torch.load(buf, weights_only=False)
            ckpt = torch.load(ckpt_path, map_location='cpu', weights_only=False)
            assert from_buf['epoch'] == ckpt['epoch']
            fresh = Net().state_dict()  # a different init; everything must come from the checkpoint
            model, optimizer, scheduler, swa_model, swa_scheduler, ema_model, ema = build(fresh)
            model.load_state_dict(ckpt['model'])
            optimizer.load_state_dict(ckpt['optimizer'])
            scheduler.load_state_dict(ckpt['scheduler'])
            swa_model.load_state_dict(ckpt['swa_model'])
            swa_scheduler.load_state_dict(ckpt['swa_scheduler'])
            ema_model.load_state_dict(ckpt['ema_model'])
            ema.load_state_dict(ckpt['ema'])
            history = list(ckpt['history'])
            epoch = ckpt['epoch']
            resume_at = None
        model.train()
        total = 0.0
        for x, y in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            ema_model.update_parameters(model)
            ema.update(model)
            total += loss.item()
        if epoch >= swa_start:
            swa_model.update_parameters(model)
            swa_scheduler.step()
        else:
            scheduler.step()
        history.append([total / len(loader), optimizer.param_groups[0]['lr']])
        epoch += 1
    update_bn(loader, swa_model)
    return model, swa_model, ema_model, ema, optimizer, history


def evaluate(model, loader):
    model.eval()
    correct, loss = 0, 0.0
    with torch.no_grad():
        for x, y in loader:
            out = model(x)
            loss += F.cross_entropy(out, y, reduction='sum').item()
            correct += (out.argmax(1) == y).sum().item()
    return loss / 64, correct / 64


def flat(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--init-state', default=None)
    parser.add_argument('--epochs', type=int, default=10)
    parser.add_argument('--swa-start', type=int, default=6)
    parser.add_argument('--resume-at', type=int, default=7)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)
    loader = make_loader(rng)
    init = Net().state_dict()
    if args.init_state:
        if os.path.exists(args.init_state):
            init = torch.load(args.init_state)
        else:
            torch.save(init, args.init_state)

    m1, swa1, emam1, ema1, opt1, hist1 = train(init, loader, args.epochs, args.swa_start)
    with tempfile.TemporaryDirectory() as d:
        m2, swa2, emam2, ema2, opt2, hist2 = train(init, loader, args.epochs, args.swa_start,
                                                    resume_at=args.resume_at, ckpt_path=os.path.join(d, 'ckpt.pth'))
    resume_diffs = [
        (flat(m1) - flat(m2)).abs().max().item(),
        (flat(swa1) - flat(swa2)).abs().max().item(),
        (flat(emam1) - flat(emam2)).abs().max().item(),
        (flat(ema1.module) - flat(ema2.module)).abs().max().item(),
        (swa1.module.bn1.running_var - swa2.module.bn1.running_var).abs().max().item(),
    ]
    momentum_diff = max((opt1.state[p]['momentum_buffer'] - opt2.state[q]['momentum_buffer']).abs().max().item()
                        for p, q in zip(m1.parameters(), m2.parameters()))

    # OneCycleLR per batch, then ReduceLROnPlateau + ChainedScheduler on an Adam run
    model = Net()
    model.load_state_dict(init)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    onecycle = OneCycleLR(opt, max_lr=0.05, total_steps=3 * len(loader), pct_start=0.3,
                          anneal_strategy='cos', div_factor=10.0, final_div_factor=100.0)
    onecycle_lrs, onecycle_betas = [], []
    for epoch in range(3):
        for x, y in loader:
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
            onecycle.step()
            onecycle_lrs.append(onecycle.get_last_lr()[0])
            onecycle_betas.append(opt.param_groups[0]['betas'][0])
    plateau = ReduceLROnPlateau(opt, mode='min', factor=0.5, patience=1, threshold=1e-2)
    chained = ChainedScheduler([ExponentialLR(opt, gamma=0.9), MultiplicativeLR(opt, lr_lambda=lambda e: 0.95)])
    plateau_lrs = []
    for epoch in range(6):
        val_loss, _ = evaluate(model, loader)
        plateau.step(val_loss if epoch < 2 else 10.0)  # stall after two epochs
        plateau_lrs.append(opt.param_groups[0]['lr'])
    chained_lrs = []
    for _ in range(3):
        opt.step()
        chained.step()
        chained_lrs.append(chained.get_last_lr()[0])

    return {
        'history': hist1,
        'history_resumed_equal': hist1 == hist2,
        'resume_diffs_zero': [d < 1e-6 for d in resume_diffs],
        'momentum_equal': momentum_diff < 1e-6,
        'eval_model': list(evaluate(m1, loader)),
        'eval_swa': list(evaluate(swa1, loader)),
        'eval_ema': list(evaluate(emam1, loader)),
        'eval_ema_manual': list(evaluate(ema1.module, loader)),
        'swa_n_averaged': swa1.n_averaged.item(),
        'swa_bn_mean': swa1.module.bn2.running_mean[:4].tolist(),
        'ema_norm': flat(emam1).norm().item(),
        'onecycle_lrs': onecycle_lrs, 'onecycle_betas': onecycle_betas,
        'plateau_lrs': plateau_lrs, 'chained_lrs': chained_lrs,
    }


if __name__ == '__main__':
    print(main())
