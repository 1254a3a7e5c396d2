"""Audio front-end and a temporal convolutional network, as in keyword-spotting / TCN repos that do
not depend on torchaudio: torch.stft with a hann_window (power spectrogram, return_complex=True),
a mel filterbank built by hand (HTK mel scale, triangular filters via torch.linspace / clamp),
log-mel features with amplitude-to-dB, per-utterance normalisation, torch.istft round trip, and a
TCN of dilated causal Conv1d layers (left padding with F.pad, weight_norm-free residual blocks),
trained on synthetic tones."""
import argparse
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def hz_to_mel(f):
    return 2595.0 * math.log10(1.0 + f / 700.0)


def mel_filterbank(n_fft, n_mels, sample_rate, f_min=0.0, f_max=None):
    f_max = f_max or sample_rate / 2
    n_freqs = n_fft // 2 + 1
    all_freqs = torch.linspace(0, sample_rate // 2, n_freqs)
    m_pts = torch.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2)
    f_pts = 700.0 * (10 ** (m_pts / 2595.0) - 1.0)
    f_diff = f_pts[1:] - f_pts[:-1]                                  # n_mels + 1
    slopes = f_pts.unsqueeze(0) - all_freqs.unsqueeze(1)             # n_freqs, n_mels + 2
    down = -1.0 * slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    fb = torch.max(torch.zeros(1), torch.min(down, up))
    return fb                                                        # n_freqs, n_mels


class LogMel(nn.Module):
    def __init__(self, sample_rate=8000, n_fft=128, hop_length=32, n_mels=20):
        super().__init__()
        self.n_fft, self.hop_length = n_fft, hop_length
        self.register_buffer('window', torch.hann_window(n_fft))
        self.register_buffer('fb', mel_filterbank(n_fft, n_mels, sample_rate))

    def forward(self, wav):
        spec = torch.stft(wav, n_fft=self.n_fft, hop_length=self.hop_length, win_length=self.n_fft,
                          window=self.window, center=True, pad_mode='reflect', normalized=False,
                          onesided=True, return_complex=True)
        power = spec.abs().pow(2.0)                                   # B, F, T
        mel = torch.matmul(power.transpose(-1, -2), self.fb).transpose(-1, -2)
        log_mel = 10.0 * torch.log10(torch.clamp(mel, min=1e-10))
        log_mel = torch.max(log_mel, log_mel.amax(dim=(-2, -1), keepdim=True) - 80.0)  # top_db
        mean = log_mel.mean(dim=-1, keepdim=True)
        std = log_mel.std(dim=-1, keepdim=True)
        return (log_mel - mean) / (std + 1e-5)


class Chomp1d(nn.Module):
    def __init__(self, chomp_size):
        super().__init__()
        self.chomp_size = chomp_size

    def forward(self, x):
        return x[:, :, :-self.chomp_size].contiguous()


class TemporalBlock(nn.Module):
    """locuslab/TCN block; the first conv pads causally with F.pad, the second with Chomp1d."""

    def __init__(self, n_in, n_out, kernel_size, dilation, dropout=0.0):
        super().__init__()
        self.left_pad = (kernel_size - 1) * dilation
        self.conv1 = nn.Conv1d(n_in, n_out, kernel_size, dilation=dilation)
        # no bias before BatchNorm (it would be cancelled by the normalisation)
        self.conv2 = nn.Conv1d(n_out, n_out, kernel_size, padding=self.left_pad, dilation=dilation, bias=False)
        self.chomp2 = Chomp1d(self.left_pad)
        self.bn = nn.BatchNorm1d(n_out)
        self.dropout = nn.Dropout(dropout)
        self.downsample = nn.Conv1d(n_in, n_out, 1) if n_in != n_out else None

    def forward(self, x):
        out = F.relu(self.conv1(F.pad(x, (self.left_pad, 0))))
        out = self.dropout(out)
        out = F.relu(self.bn(self.chomp2(self.conv2(out))))
        res = x if self.downsample is None else self.downsample(x)
        return F.relu(out + res)


class TCN(nn.Module):
    def __init__(self, n_mels=20, channels=(16, 16, 24), kernel_size=3, n_classes=3):
        super().__init__()
        layers = []
        for i, ch in enumerate(channels):
            layers.append(TemporalBlock(n_mels if i == 0 else channels[i - 1], ch, kernel_size, dilation=2 ** i))
        self.network = nn.Sequential(*layers)
        self.fc = nn.Linear(channels[-1], n_classes)

    def forward(self, x):
        h = self.network(x)
        return self.fc(h[:, :, -1]), h


def synth(n, rng, sr=8000, length=2048):
    t = np.arange(length) / sr
    freqs = [300.0, 900.0, 2000.0]
    wavs, labels = [], []
    for i in range(n):
        k = i % 3
        f = freqs[k] * rng.uniform(0.95, 1.05)
        w = 0.6 * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
        w += 0.2 * np.sin(2 * np.pi * 2 * f * t)
        w *= np.hanning(length) ** 0.25
        w += rng.normal(0, 0.05, length)
        wavs.append(w)
        labels.append(k)
    return np.stack(wavs).astype(np.float32), np.array(labels, np.int64)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--init-state', default=None)
    parser.add_argument('--epochs', type=int, default=6)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)

    frontend = LogMel()
    model = TCN()
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(model.state_dict(), args.init_state)

    wav_np, y_np = synth(12, rng)
    wav, y = torch.from_numpy(wav_np), torch.from_numpy(y_np)

    fb = frontend.fb
    feats = frontend(wav)
    # istft round trip with the same window
    spec = torch.stft(wav, 128, hop_length=32, window=torch.hann_window(128), return_complex=True)
    recon = torch.istft(spec, 128, hop_length=32, window=torch.hann_window(128), length=wav.shape[-1])
    roundtrip_err = (recon - wav).abs().max().item()
    # causality: perturbing the future must not change earlier outputs
    model.eval()
    with torch.no_grad():
        _, h1 = model(feats[:2])
        pert = feats[:2].clone()
        pert[:, :, 40:] += 1.0
        _, h2 = model(pert)
    causal_err = (h1[:, :, :40] - h2[:, :, :40]).abs().max().item()
    future_change = (h1[:, :, 40:] - h2[:, :, 40:]).abs().max().item()

    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    losses = []
    for epoch in range(args.epochs):
        for i in range(0, 12, 6):
            logits, _ = model(feats[i:i + 6])
            loss = F.cross_entropy(logits, y[i:i + 6])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        sched.step()
    model.eval()
    with torch.no_grad():
        logits, _ = model(feats)
    # gradient through the front-end: d loss / d waveform (stft + mel are differentiable)
    wav_g = wav[:3].clone().requires_grad_(True)
    out, _ = model(frontend(wav_g))
    out.logsumexp(dim=1).sum().backward()
    return {
        'fb_shape': list(fb.shape), 'fb_sum': fb.sum().item(), 'fb_colmax': fb.max(dim=0).values.tolist(),
        'feat_shape': list(feats.shape), 'feat_absmean': feats.abs().mean().item(),
        'feat_head': feats[0, :, 10].tolist(),
        'roundtrip_small': roundtrip_err < 1e-4,
        'causal_err': causal_err, 'future_changes': future_change > 1e-3,
        'losses': losses, 'logits': logits.sum(0).tolist(),
        'acc': (logits.argmax(1) == y).float().mean().item(),
        'wav_grad_norm': wav_g.grad.norm().item(),
        'bn_running': model.network[0].bn.running_mean.tolist()[:4],
    }


if __name__ == '__main__':
    print(main())
