"""Mixed-precision training boilerplate from current training scripts, on CPU: torch.autocast
(device_type='cpu', dtype=torch.bfloat16) around the forward, torch.amp.GradScaler with
scale/unscale_/step/update and gradient clipping on the unscaled grads, gradient accumulation
(loss / accum_steps, no_sync-free), channels_last memory format on model and inputs,
torch.set_float32_matmul_precision and cudnn.benchmark flags, autocast-disabled islands
(torch.autocast(..., enabled=False)) for a numerically sensitive loss, and dtype checks of what
autocast produces (matmul/conv in bf16, softmax/log_softmax/layer_norm/losses in float32).
bfloat16 keeps 8 bits of mantissa, so the comparison tolerance is loose."""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvAttnNet(nn.Module):
    def __init__(self, n_classes=4):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.SiLU(),
                                  nn.Conv2d(16, 16, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(16), nn.SiLU())
        self.norm = nn.LayerNorm(16)
        self.attn = nn.MultiheadAttention(16, 2, batch_first=True)
        self.head = nn.Linear(16, n_classes)

    def forward(self, x):
        f = self.stem(x)                            # B, 16, 4, 4
        tokens = f.flatten(2).transpose(1, 2)       # B, 16, 16
        h = self.norm(tokens)
        a, _ = self.attn(h, h, h, need_weights=False)
        tokens = tokens + a
        return self.head(tokens.mean(1))


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--init-state', default=None)
    parser.add_argument('--steps', type=int, default=6)
    parser.add_argument('--accum', type=int, default=2)
    parser.add_argument('--amp', type=int, default=1)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    torch.backends.cudnn.benchmark = True
    torch.set_float32_matmul_precision('high')
    rng = np.random.RandomState(0)
    device_type = 'cpu'
    amp_dtype = torch.bfloat16

    model = ConvAttnNet()
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(model.state_dict(), args.init_state)
    model = model.to(memory_format=torch.channels_last)
    x = torch.from_numpy(rng.normal(size=(16, 3, 8, 8)).astype(np.float32)).to(memory_format=torch.channels_last)
    y = torch.from_numpy((np.arange(16) % 4).astype(np.int64))
    cl = x.is_contiguous(memory_format=torch.channels_last)

    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05)
    scaler = torch.amp.GradScaler(device_type, enabled=bool(args.amp), init_scale=2.0 ** 10, growth_interval=2)
    dtypes = {}
    losses, grad_norms, scales = [], [], []
    for step in range(args.steps):
        for micro in range(args.accum):
            xb, yb = x[micro::args.accum], y[micro::args.accum]
            with torch.autocast(device_type=device_type, dtype=amp_dtype, enabled=bool(args.amp)):
                logits = model(xb)
                conv_out = model.stem[0](xb)
                probs = F.softmax(logits, dim=-1)
                with torch.autocast(device_type=device_type, enabled=False):
                    # keep the loss in float32 explicitly
                    loss = F.cross_entropy(logits.float(), yb, label_smoothing=0.1) / args.accum
                if step == 0 and micro == 0:
                    dtypes = {'logits': str(logits.dtype), 'conv': str(conv_out.dtype), 'probs': str(probs.dtype),
                              'loss': str(loss.dtype),
                              'ln': str(model.norm(conv_out.flatten(2).transpose(1, 2)).dtype),
                              'mm': str(torch.mm(xb.flatten(1), xb.flatten(1).t()).dtype),
                              'autocast_on': torch.is_autocast_enabled(device_type)}
            scaler.scale(loss).backward()
            losses.append(loss.item() * args.accum)
        scaler.unscale_(optimizer)
        grad_norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0).item())
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        scales.append(scaler.get_scale())

    model.eval()
    with torch.no_grad(), torch.autocast(device_type=device_type, dtype=amp_dtype, enabled=bool(args.amp)):
        eval_logits = model(x)
    acc = (eval_logits.float().argmax(1) == y).float().mean().item()
    param_dtypes = sorted({str(p.dtype) for p in model.parameters()})
    grad_dtype_ok = all(p.grad is None for p in model.parameters())
    return {
        'channels_last': cl, 'dtypes': dtypes, 'losses': losses, 'grad_norms': grad_norms, 'scales': scales,
        'eval_logits_mean': eval_logits.float().mean().item(), 'eval_dtype': str(eval_logits.dtype),
        'acc': acc, 'param_dtypes': param_dtypes, 'grads_cleared': grad_dtype_ok,
        'bn_running_var': model.stem[1].running_var[:4].tolist(),
    }


if __name__ == '__main__':
    print(main())
