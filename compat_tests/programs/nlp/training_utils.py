"""General training-loop utilities seen across GitHub repos: device selection, cudnn/deterministic
flags, a custom autograd.Function, gradient accumulation, AMP guarded by device, set_grad_enabled
train/val phases, tqdm, ReduceLROnPlateau, best-model deepcopy, checkpoint save + resume."""
import argparse
import copy
import os
import random
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

try:
    from tqdm import tqdm
except ImportError:  # pragma: no cover
    def tqdm(x, **kwargs):
        return x


def set_seed(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    os.environ['PYTHONHASHSEED'] = str(seed)


class ClampedSwish(torch.autograd.Function):
    """x * sigmoid(x) with a hand-written backward and a saved tensor."""

    @staticmethod
    def forward(ctx, input, beta=1.0):
        sig = torch.sigmoid(beta * input)
        ctx.save_for_backward(input, sig)
        ctx.beta = beta
        return input * sig

    @staticmethod
    def backward(ctx, grad_output):
        input, sig = ctx.saved_tensors
        grad_input = None
        if ctx.needs_input_grad[0]:
            grad_input = grad_output * (sig + ctx.beta * input * sig * (1 - sig))
        return grad_input, None


class StraightThroughRound(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.round(x)

    @staticmethod
    def backward(ctx, g):
        return g


class Swish(nn.Module):
    def __init__(self, beta=1.0):
        super().__init__()
        self.beta = beta

    def forward(self, x):
        return ClampedSwish.apply(x, self.beta)


class Net(nn.Module):
    def __init__(self, d_in, d_hidden, n_classes):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(d_in, d_hidden), nn.LayerNorm(d_hidden), Swish(),
            nn.Linear(d_hidden, d_hidden), nn.BatchNorm1d(d_hidden), Swish(),
        )
        self.head = nn.Linear(d_hidden, n_classes)

    def forward(self, x):
        h = self.body(x)
        h = h + 0.01 * (StraightThroughRound.apply(h * 4) / 4 - h)
        return self.head(h)


def train(args, resume_from=None):
    set_seed(args.seed)
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.deterministic = False
    torch.use_deterministic_algorithms(True, warn_only=True)
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    use_amp = device.type == 'cuda'

    rng = np.random.RandomState(args.seed)
    X = rng.randn(96, 10).astype(np.float32)
    w = rng.randn(10, 3).astype(np.float32)
    y = (X @ w).argmax(1)
    train_ds = TensorDataset(torch.from_numpy(X[:64]), torch.from_numpy(y[:64]).long())
    val_ds = TensorDataset(torch.from_numpy(X[64:]), torch.from_numpy(y[64:]).long())
    loaders = {'train': DataLoader(train_ds, batch_size=8, shuffle=False, drop_last=True),
               'val': DataLoader(val_ds, batch_size=16)}

    model = Net(10, 32, 3).to(device)
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(model.state_dict(), args.init_state)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode='min', factor=0.5, patience=0)
    scaler = torch.amp.GradScaler(device.type, enabled=use_amp)
    start_epoch, history = 0, []
    best_loss, best_model_wts = float('inf'), copy.deepcopy(model.state_dict())

    if resume_from is not None and os.path.isfile(resume_from):
        print(f"=> loading checkpoint '{resume_from}'")
        checkpoint = torch.load(resume_from, map_location=device, weights_only=False)
        start_epoch = checkpoint['epoch'] + 1
        model.load_state_dict(checkpoint['state_dict'])
        optimizer.load_state_dict(checkpoint['optimizer'])
        scheduler.load_state_dict(checkpoint['scheduler'])
        scaler.load_state_dict(checkpoint['scaler'])
        best_loss = checkpoint['best_loss']
        history = checkpoint['history']
        torch.set_rng_state(checkpoint['rng_state'])

    accum_steps = 2
    for epoch in range(start_epoch, args.epochs):
        since = time.time()
        record = {}
        for phase in ['train', 'val']:
            model.train() if phase == 'train' else model.eval()
            running_loss, running_corrects = 0.0, 0
            optimizer.zero_grad()
            pbar = tqdm(loaders[phase], desc=f'{phase} {epoch}', leave=False, disable=True)
            for i, (inputs, labels) in enumerate(pbar):
                inputs, labels = inputs.to(device, non_blocking=True), labels.to(device)
                with torch.set_grad_enabled(phase == 'train'):
                    with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=use_amp):
                        outputs = model(inputs)
                        loss = F.cross_entropy(outputs, labels)
                    _, preds = torch.max(outputs, 1)
                    if phase == 'train':
                        scaler.scale(loss / accum_steps).backward()
                        if (i + 1) % accum_steps == 0:
                            scaler.unscale_(optimizer)
                            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=2.0)
                            scaler.step(optimizer)
                            scaler.update()
                            optimizer.zero_grad(set_to_none=True)
                running_loss += loss.item() * inputs.size(0)
                running_corrects += torch.sum(preds == labels.data)
                pbar.set_postfix(loss=f'{loss.item():.4f}')
            epoch_loss = running_loss / len(loaders[phase].dataset)
            epoch_acc = running_corrects.double() / len(loaders[phase].dataset)
            record[phase] = {'loss': epoch_loss, 'acc': epoch_acc.item()}
            if phase == 'val':
                scheduler.step(epoch_loss)
                if epoch_loss < best_loss:
                    best_loss = epoch_loss
                    best_model_wts = copy.deepcopy(model.state_dict())
        record['lr'] = optimizer.param_groups[0]['lr']
        record['time_ok'] = time.time() - since >= 0
        history.append(record)
        torch.save({'epoch': epoch, 'state_dict': model.state_dict(), 'optimizer': optimizer.state_dict(),
                    'scheduler': scheduler.state_dict(), 'scaler': scaler.state_dict(), 'best_loss': best_loss,
                    'history': history, 'rng_state': torch.get_rng_state()}, args.checkpoint)
        if args.stop_after is not None and epoch == args.stop_after:
            break
    model.load_state_dict(best_model_wts)
    return model, history, best_loss


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--epochs', type=int, default=4)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--init-state', default=None)
    parser.add_argument('--checkpoint', default=None)
    parser.add_argument('--stop-after', type=int, default=None)
    args = parser.parse_args(argv)
    if args.checkpoint is None:
        args.checkpoint = (args.init_state or 'init.pt') + '.ckpt.pth.tar'

    # gradcheck the custom Function in double precision
    inp = torch.randn(6, 3, dtype=torch.double, requires_grad=True)
    ok = torch.autograd.gradcheck(lambda t: ClampedSwish.apply(t, 1.5), (inp,), eps=1e-6, atol=1e-4)

    # full run, then a run interrupted after epoch 1 and resumed from its checkpoint
    model, history, best = train(args)
    args.stop_after = 1
    train(args)
    args.stop_after = None
    model2, history2, best2 = train(args, resume_from=args.checkpoint)
    assert len(history2) == len(history)
    model.eval()
    with torch.no_grad(), torch.inference_mode():
        x = torch.linspace(-2, 2, 30).reshape(3, 10)
        out = model(x)
    return {'gradcheck': ok, 'history': history, 'best': best, 'resumed_history': history2,
            'resumed_best': best2, 'out': out.tolist(),
            'bn_running_var': model.body[4].running_var.sum().item(),
            'num_batches_tracked': int(model.body[4].num_batches_tracked)}


if __name__ == '__main__':
    print(main())
