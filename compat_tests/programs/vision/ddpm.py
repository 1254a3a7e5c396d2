"""A tiny DDPM (after lucidrains/denoising-diffusion-pytorch and the annotated diffusion blog):
sinusoidal time embedding, ResNet blocks with GroupNorm + SiLU and a time MLP, nn.Upsample /
strided-conv down, linear beta schedule with torch.linspace / cumprod / F.pad, `extract` via gather,
q_sample, noise-prediction MSE loss, EMA of the weights with copy.deepcopy, and deterministic DDIM
sampling (eta = 0) from a fixed starting noise.

Training draws t and the noise with torch.randint / torch.randn_like (torch's random stream, which
jtorch does not reproduce), so the training losses are compared statistically; the loss at fixed
(t, noise), its gradient norm and DDIM sampling with the initial weights are deterministic."""
import argparse
import copy
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def exists(x):
    return x is not None


class SinusoidalPositionEmbeddings(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, time):
        device = time.device
        half_dim = self.dim // 2
        embeddings = math.log(10000) / (half_dim - 1)
        embeddings = torch.exp(torch.arange(half_dim, device=device) * -embeddings)
        embeddings = time[:, None] * embeddings[None, :]
        embeddings = torch.cat((embeddings.sin(), embeddings.cos()), dim=-1)
        return embeddings


class Block(nn.Module):
    def __init__(self, dim, dim_out, groups=4):
        super().__init__()
        self.proj = nn.Conv2d(dim, dim_out, 3, padding=1)
        self.norm = nn.GroupNorm(groups, dim_out)
        self.act = nn.SiLU()

    def forward(self, x, scale_shift=None):
        x = self.proj(x)
        x = self.norm(x)
        if exists(scale_shift):
            scale, shift = scale_shift
            x = x * (scale + 1) + shift
        x = self.act(x)
        return x


class ResnetBlock(nn.Module):
    def __init__(self, dim, dim_out, *, time_emb_dim=None, groups=4):
        super().__init__()
        self.mlp = (
            nn.Sequential(nn.SiLU(), nn.Linear(time_emb_dim, dim_out * 2))
            if exists(time_emb_dim)
            else None
        )
        self.block1 = Block(dim, dim_out, groups=groups)
        self.block2 = Block(dim_out, dim_out, groups=groups)
        self.res_conv = nn.Conv2d(dim, dim_out, 1) if dim != dim_out else nn.Identity()

    def forward(self, x, time_emb=None):
        scale_shift = None
        if exists(self.mlp) and exists(time_emb):
            time_emb = self.mlp(time_emb)
            time_emb = time_emb[:, :, None, None]  # rearrange "b c -> b c 1 1"
            scale_shift = time_emb.chunk(2, dim=1)

        h = self.block1(x, scale_shift=scale_shift)
        h = self.block2(h)
        return h + self.res_conv(x)


class Unet(nn.Module):
    def __init__(self, dim=8, channels=1):
        super().__init__()
        time_dim = dim * 4
        self.time_mlp = nn.Sequential(
            SinusoidalPositionEmbeddings(dim),
            nn.Linear(dim, time_dim),
            nn.GELU(),
            nn.Linear(time_dim, time_dim),
        )
        self.init_conv = nn.Conv2d(channels, dim, 1, padding=0)
        self.down1 = ResnetBlock(dim, dim, time_emb_dim=time_dim)
        self.downsample = nn.Conv2d(dim, dim * 2, 4, 2, 1)
        self.mid = ResnetBlock(dim * 2, dim * 2, time_emb_dim=time_dim)
        self.upsample = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                      nn.Conv2d(dim * 2, dim, 3, padding=1))
        self.up1 = ResnetBlock(dim * 2, dim, time_emb_dim=time_dim)
        self.final_conv = nn.Conv2d(dim, channels, 1)

    def forward(self, x, time):
        x = self.init_conv(x)
        t = self.time_mlp(time)
        h = self.down1(x, t)
        x = self.downsample(h)
        x = self.mid(x, t)
        x = self.upsample(x)
        x = torch.cat((x, h), dim=1)
        x = self.up1(x, t)
        return self.final_conv(x)


def linear_beta_schedule(timesteps):
    beta_start = 0.0001
    beta_end = 0.02
    return torch.linspace(beta_start, beta_end, timesteps)


def extract(a, t, x_shape):
    batch_size = t.shape[0]
    out = a.gather(-1, t.cpu())
    return out.reshape(batch_size, *((1,) * (len(x_shape) - 1))).to(t.device)


class Diffusion:
    def __init__(self, timesteps=50):
        self.timesteps = timesteps
        self.betas = linear_beta_schedule(timesteps=timesteps)
        alphas = 1. - self.betas
        self.alphas_cumprod = torch.cumprod(alphas, axis=0)
        self.alphas_cumprod_prev = F.pad(self.alphas_cumprod[:-1], (1, 0), value=1.0)
        self.sqrt_alphas_cumprod = torch.sqrt(self.alphas_cumprod)
        self.sqrt_one_minus_alphas_cumprod = torch.sqrt(1. - self.alphas_cumprod)

    # forward diffusion (using the nice property)
    def q_sample(self, x_start, t, noise=None):
        if noise is None:
            noise = torch.randn_like(x_start)
        sqrt_alphas_cumprod_t = extract(self.sqrt_alphas_cumprod, t, x_start.shape)
        sqrt_one_minus_alphas_cumprod_t = extract(self.sqrt_one_minus_alphas_cumprod, t, x_start.shape)
        return sqrt_alphas_cumprod_t * x_start + sqrt_one_minus_alphas_cumprod_t * noise

    def p_losses(self, denoise_model, x_start, t, noise=None, loss_type="l2"):
        if noise is None:
            noise = torch.randn_like(x_start)
        x_noisy = self.q_sample(x_start=x_start, t=t, noise=noise)
        predicted_noise = denoise_model(x_noisy, t)
        if loss_type == 'l1':
            loss = F.l1_loss(noise, predicted_noise)
        elif loss_type == 'l2':
            loss = F.mse_loss(noise, predicted_noise)
        elif loss_type == "huber":
            loss = F.smooth_l1_loss(noise, predicted_noise)
        else:
            raise NotImplementedError()
        return loss

    @torch.no_grad()
    def ddim_sample(self, model, x, steps=10):
        times = torch.linspace(-1, self.timesteps - 1, steps=steps + 1).long().flip(0)
        for time, time_next in zip(times[:-1].tolist(), times[1:].tolist()):
            t = torch.full((x.shape[0],), time, dtype=torch.long)
            pred_noise = model(x, t)
            alpha = self.alphas_cumprod[time]
            x_start = (x - (1 - alpha).sqrt() * pred_noise) / alpha.sqrt()
            x_start = x_start.clamp(-1., 1.)
            if time_next < 0:
                x = x_start
                continue
            alpha_next = self.alphas_cumprod[time_next]
            x = x_start * alpha_next.sqrt() + (1 - alpha_next).sqrt() * pred_noise
        return x


class EMA:
    def __init__(self, model, beta=0.9):
        self.beta = beta
        self.ema_model = copy.deepcopy(model)
        self.ema_model.requires_grad_(False)

    @torch.no_grad()
    def update(self, model):
        for ema_p, p in zip(self.ema_model.parameters(), model.parameters()):
            ema_p.data.mul_(self.beta).add_(p.data, alpha=1 - self.beta)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--steps', type=int, default=6)
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(0)

    rng = np.random.RandomState(4)
    yy, xx = np.mgrid[:8, :8]
    data = np.stack([np.where((yy - cy) ** 2 + (xx - cx) ** 2 < 6, 1.0, -1.0)
                     for cy, cx in rng.uniform(2, 6, (32, 2))])[:, None].astype(np.float32)
    data = torch.from_numpy(data)

    model = Unet(dim=8, channels=1)
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(model.state_dict(), args.init_state)
    diffusion = Diffusion(timesteps=50)

    # deterministic: loss at fixed t and noise, its gradient, DDIM sampling with the initial weights
    t_fixed = torch.from_numpy(rng.randint(0, 50, args.batch_size)).long()
    noise_fixed = torch.from_numpy(rng.randn(args.batch_size, 1, 8, 8).astype(np.float32))
    deterministic = {}
    for loss_type in ('l1', 'l2', 'huber'):
        model.zero_grad()
        loss = diffusion.p_losses(model, data[:args.batch_size], t_fixed, noise_fixed, loss_type=loss_type)
        loss.backward()
        gn = torch.stack([p.grad.norm() for p in model.parameters() if p.grad is not None]).norm()
        deterministic[loss_type] = [loss.item(), gn.item()]
    model.zero_grad()
    x_T = torch.from_numpy(rng.randn(4, 1, 8, 8).astype(np.float32))
    model.eval()
    sample = diffusion.ddim_sample(model, x_T.clone())
    deterministic['ddim_mean'] = sample.mean().item()
    deterministic['ddim_abs_mean'] = sample.abs().mean().item()
    deterministic['alphas_cumprod_last'] = diffusion.alphas_cumprod[-1].item()

    model.train()
    ema = EMA(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for step in range(args.steps):
        i = (step * args.batch_size) % len(data)
        batch = data[i:i + args.batch_size]
        optimizer.zero_grad()
        t = torch.randint(0, diffusion.timesteps, (batch.shape[0],), device=batch.device).long()
        loss = diffusion.p_losses(model, batch, t, loss_type="huber")
        loss.backward()
        optimizer.step()
        ema.update(model)
        losses.append(loss.item())
    print('losses', ['%.4f' % l for l in losses])
    ema.ema_model.eval()
    ema_sample = diffusion.ddim_sample(ema.ema_model, x_T.clone())
    assert ema_sample.shape == (4, 1, 8, 8)
    assert all(not p.requires_grad for p in ema.ema_model.parameters())
    return {
        'deterministic': deterministic,
        'stochastic': {
            'mean_loss': float(np.mean(losses)),
            'ema_sample_abs_mean': ema_sample.abs().mean().item(),
        },
    }


if __name__ == '__main__':
    print(main())
