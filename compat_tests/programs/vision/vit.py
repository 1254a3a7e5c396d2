"""A small Vision Transformer (after lucidrains/vit-pytorch and timm, einops-free): Conv2d patch
embedding, cls token and position embedding as nn.Parameter, pre-norm blocks with either
nn.MultiheadAttention, hand-written attention (masked_fill for a key padding mask) or
F.scaled_dot_product_attention, GELU MLP, trunc_normal_ init, AdamW with no-decay parameter
groups, OneCycleLR, label-smoothed cross entropy, gradient clipping."""
import argparse
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class PatchEmbed(nn.Module):
    """ Image to Patch Embedding
    """

    def __init__(self, img_size=16, patch_size=4, in_chans=3, embed_dim=32):
        super().__init__()
        self.num_patches = (img_size // patch_size) * (img_size // patch_size)
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x):
        B, C, H, W = x.shape
        x = self.proj(x).flatten(2).transpose(1, 2)  # B, N, D
        return x


class Attention(nn.Module):
    def __init__(self, dim, num_heads=4, qkv_bias=True, attn_drop=0., proj_drop=0., impl='manual'):
        super().__init__()
        self.num_heads = num_heads
        head_dim = dim // num_heads
        self.scale = head_dim ** -0.5
        self.impl = impl
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x, mask=None):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]   # make torchscript happy (cannot use tensor as tuple)

        if self.impl == 'sdpa':
            attn_mask = None if mask is None else mask[:, None, None, :]
            x = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask,
                                               dropout_p=self.attn_drop.p if self.training else 0.)
        else:
            attn = (q @ k.transpose(-2, -1)) * self.scale
            if mask is not None:
                attn = attn.masked_fill(~mask[:, None, None, :], float('-inf'))
            attn = attn.softmax(dim=-1)
            attn = self.attn_drop(attn)
            x = attn @ v
        x = x.transpose(1, 2).reshape(B, N, C)
        x = self.proj(x)
        x = self.proj_drop(x)
        return x


class Mlp(nn.Module):
    def __init__(self, in_features, hidden_features=None, act_layer=nn.GELU, drop=0.):
        super().__init__()
        hidden_features = hidden_features or in_features
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = act_layer()
        self.fc2 = nn.Linear(hidden_features, in_features)
        self.drop = nn.Dropout(drop)

    def forward(self, x):
        x = self.fc1(x)
        x = self.act(x)
        x = self.drop(x)
        x = self.fc2(x)
        x = self.drop(x)
        return x


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio=2., impl='manual', drop=0.):
        super().__init__()
        self.impl = impl
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        if impl == 'mha':
            self.attn = nn.MultiheadAttention(dim, num_heads, dropout=drop, batch_first=True)
        else:
            self.attn = Attention(dim, num_heads=num_heads, impl=impl, attn_drop=drop)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(in_features=dim, hidden_features=int(dim * mlp_ratio), drop=drop)

    def forward(self, x, mask=None):
        h = self.norm1(x)
        if self.impl == 'mha':
            kpm = None if mask is None else ~mask
            h, _ = self.attn(h, h, h, key_padding_mask=kpm, need_weights=False)
        else:
            h = self.attn(h, mask)
        x = x + h
        x = x + self.mlp(self.norm2(x))
        return x


class VisionTransformer(nn.Module):
    def __init__(self, img_size=16, patch_size=4, in_chans=3, num_classes=5, embed_dim=32, depth=2,
                 num_heads=4, impl='manual', drop_rate=0.):
        super().__init__()
        self.num_classes = num_classes
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        num_patches = self.patch_embed.num_patches

        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, embed_dim))
        self.pos_drop = nn.Dropout(p=drop_rate)
        self.blocks = nn.ModuleList([Block(embed_dim, num_heads, impl=impl, drop=drop_rate)
                                     for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.head = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()

        nn.init.trunc_normal_(self.pos_embed, std=.02)
        nn.init.trunc_normal_(self.cls_token, std=.02)
        self.apply(self._init_weights)

    def _init_weights(self, m):
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.LayerNorm):
            nn.init.constant_(m.bias, 0)
            nn.init.constant_(m.weight, 1.0)

    def no_weight_decay(self):
        return {'pos_embed', 'cls_token'}

    def forward_features(self, x, mask=None):
        B = x.shape[0]
        x = self.patch_embed(x)
        cls_tokens = self.cls_token.expand(B, -1, -1)  # stole cls_tokens impl from Phil Wang, thanks
        x = torch.cat((cls_tokens, x), dim=1)
        x = x + self.pos_embed
        x = self.pos_drop(x)
        if mask is not None:  # the cls token is never masked
            mask = torch.cat([torch.ones(B, 1, dtype=torch.bool, device=x.device), mask], dim=1)
        for blk in self.blocks:
            x = blk(x, mask)
        x = self.norm(x)
        return x[:, 0]

    def forward(self, x, mask=None):
        x = self.forward_features(x, mask)
        x = self.head(x)
        return x


def param_groups_weight_decay(model, weight_decay=1e-5, no_weight_decay_list=()):
    no_weight_decay_list = set(no_weight_decay_list)
    decay = []
    no_decay = []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if param.ndim <= 1 or name.endswith(".bias") or name in no_weight_decay_list:
            no_decay.append(param)
        else:
            decay.append(param)
    return [
        {'params': no_decay, 'weight_decay': 0.},
        {'params': decay, 'weight_decay': weight_decay}]


def make_data(n, rng, num_classes=5):
    y = rng.randint(0, num_classes, n)
    x = rng.randn(n, 3, 16, 16).astype(np.float32) * 0.3
    for i, c in enumerate(y):
        x[i, :, (c * 3):(c * 3) + 4, :] += 1.0  # a horizontal band whose position is the class
    return x, y


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--steps', type=int, default=6)
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(0)

    rng = np.random.RandomState(5)
    x_np, y_np = make_data(48, rng)
    x, y = torch.tensor(x_np), torch.tensor(y_np, dtype=torch.long)
    # a key padding mask that hides the last two patches of every other image
    mask = torch.ones(8, 16, dtype=torch.bool)
    mask[::2, -2:] = False

    models = {impl: VisionTransformer(impl=impl) for impl in ('manual', 'sdpa', 'mha')}
    if args.init_state:
        if os.path.exists(args.init_state):
            states = torch.load(args.init_state)
            for k, m in models.items():
                m.load_state_dict(states[k])
        else:
            torch.save({k: m.state_dict() for k, m in models.items()}, args.init_state)

    out = {}
    for impl, model in models.items():
        groups = param_groups_weight_decay(model, 0.05, model.no_weight_decay())
        optimizer = torch.optim.AdamW(groups, lr=3e-3, betas=(0.9, 0.999))
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=args.steps,
                                                        pct_start=0.3)
        criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
        losses, lrs = [], []
        model.train()
        for step in range(args.steps):
            i = (step * args.batch_size) % len(x)
            xb, yb = x[i:i + args.batch_size], y[i:i + args.batch_size]
            logits = model(xb, mask if step % 2 else None)
            loss = criterion(logits, yb)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
            lrs.append(scheduler.get_last_lr()[0])
        model.eval()
        with torch.no_grad():
            logits = model(x)
            acc = logits.argmax(1).eq(y).sum().item() / len(y)
            masked_logits = model(x[:8], mask)
        out[impl] = {'losses': losses, 'lrs': lrs, 'acc': acc,
                     'logit_mean': logits.mean().item(), 'masked_logit_std': masked_logits.std().item(),
                     'n_decay': len(groups[1]['params']), 'n_no_decay': len(groups[0]['params'])}
        print(impl, ['%.4f' % l for l in losses], acc)
    return out


if __name__ == '__main__':
    print(main())
