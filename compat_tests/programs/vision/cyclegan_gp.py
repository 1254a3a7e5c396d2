"""GAN building blocks from CycleGAN/pix2pix and WGAN-GP / SNGAN repos: a ResnetGenerator
(ReflectionPad2d, InstanceNorm2d, ConvTranspose2d with output_padding, Tanh), a PatchGAN
discriminator with spectral_norm, LSGAN (MSE) and hinge adversarial losses, L1 cycle and identity
losses, the WGAN-GP gradient penalty through torch.autograd.grad(create_graph=True), init_weights
by classname with init.normal_/xavier_normal_, LambdaLR linear decay, set_requires_grad helper,
itertools.chain over two generators' parameters. All noise and interpolation factors come from
numpy, so both frameworks see the same numbers."""
import argparse
import functools
import itertools
import os

import numpy as np
import torch
import torch.nn as nn
from torch.nn import init
from torch.nn.utils import spectral_norm


def init_weights(net, init_type='normal', init_gain=0.02):
    def init_func(m):  # define the initialization function
        classname = m.__class__.__name__
        if hasattr(m, 'weight') and (classname.find('Conv') != -1 or classname.find('Linear') != -1):
            if init_type == 'normal':
                init.normal_(m.weight.data, 0.0, init_gain)
            elif init_type == 'xavier':
                init.xavier_normal_(m.weight.data, gain=init_gain)
            if hasattr(m, 'bias') and m.bias is not None:
                init.constant_(m.bias.data, 0.0)
        elif classname.find('BatchNorm2d') != -1:
            init.normal_(m.weight.data, 1.0, init_gain)
            init.constant_(m.bias.data, 0.0)

    net.apply(init_func)  # apply the initialization function <init_func>


class ResnetBlock(nn.Module):
    def __init__(self, dim, norm_layer, use_dropout, use_bias):
        super(ResnetBlock, self).__init__()
        conv_block = [nn.ReflectionPad2d(1),
                      nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=use_bias),
                      norm_layer(dim), nn.ReLU(True)]
        if use_dropout:
            conv_block += [nn.Dropout(0.5)]
        conv_block += [nn.ReflectionPad2d(1),
                       nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=use_bias),
                       norm_layer(dim)]
        self.conv_block = nn.Sequential(*conv_block)

    def forward(self, x):
        out = x + self.conv_block(x)  # add skip connections
        return out


class ResnetGenerator(nn.Module):
    def __init__(self, input_nc, output_nc, ngf=8, norm_layer=nn.BatchNorm2d, use_dropout=False, n_blocks=2):
        super(ResnetGenerator, self).__init__()
        if type(norm_layer) == functools.partial:
            use_bias = norm_layer.func == nn.InstanceNorm2d
        else:
            use_bias = norm_layer == nn.InstanceNorm2d

        model = [nn.ReflectionPad2d(3),
                 nn.Conv2d(input_nc, ngf, kernel_size=7, padding=0, bias=use_bias),
                 norm_layer(ngf),
                 nn.ReLU(True)]

        n_downsampling = 2
        for i in range(n_downsampling):  # add downsampling layers
            mult = 2 ** i
            model += [nn.Conv2d(ngf * mult, ngf * mult * 2, kernel_size=3, stride=2, padding=1, bias=use_bias),
                      norm_layer(ngf * mult * 2),
                      nn.ReLU(True)]

        mult = 2 ** n_downsampling
        for i in range(n_blocks):       # add ResNet blocks
            model += [ResnetBlock(ngf * mult, norm_layer=norm_layer, use_dropout=use_dropout, use_bias=use_bias)]

        for i in range(n_downsampling):  # add upsampling layers
            mult = 2 ** (n_downsampling - i)
            model += [nn.ConvTranspose2d(ngf * mult, int(ngf * mult / 2),
                                         kernel_size=3, stride=2,
                                         padding=1, output_padding=1,
                                         bias=use_bias),
                      norm_layer(int(ngf * mult / 2)),
                      nn.ReLU(True)]
        model += [nn.ReflectionPad2d(3)]
        model += [nn.Conv2d(ngf, output_nc, kernel_size=7, padding=0)]
        model += [nn.Tanh()]

        self.model = nn.Sequential(*model)

    def forward(self, input):
        return self.model(input)


class NLayerDiscriminator(nn.Module):
    def __init__(self, input_nc, ndf=8, n_layers=2, use_sn=True):
        super(NLayerDiscriminator, self).__init__()
        sn = spectral_norm if use_sn else (lambda m: m)
        kw, padw = 4, 1
        sequence = [sn(nn.Conv2d(input_nc, ndf, kernel_size=kw, stride=2, padding=padw)), nn.LeakyReLU(0.2, True)]
        nf_mult = 1
        for n in range(1, n_layers):  # gradually increase the number of filters
            nf_mult_prev = nf_mult
            nf_mult = min(2 ** n, 8)
            sequence += [
                sn(nn.Conv2d(ndf * nf_mult_prev, ndf * nf_mult, kernel_size=kw, stride=2, padding=padw)),
                nn.LeakyReLU(0.2, True)
            ]
        sequence += [sn(nn.Conv2d(ndf * nf_mult, 1, kernel_size=kw, stride=1, padding=padw))]  # 1 channel map
        self.model = nn.Sequential(*sequence)

    def forward(self, input):
        return self.model(input)


def set_requires_grad(nets, requires_grad=False):
    if not isinstance(nets, list):
        nets = [nets]
    for net in nets:
        if net is not None:
            for param in net.parameters():
                param.requires_grad = requires_grad


def cal_gradient_penalty(netD, real_data, fake_data, alpha, constant=1.0, lambda_gp=10.0):
    alpha = alpha.expand(real_data.shape[0], real_data.nelement() // real_data.shape[0]).contiguous().view(*real_data.shape)
    interpolatesv = alpha * real_data + ((1 - alpha) * fake_data)
    interpolatesv.requires_grad_(True)
    disc_interpolates = netD(interpolatesv)
    gradients = torch.autograd.grad(outputs=disc_interpolates, inputs=interpolatesv,
                                    grad_outputs=torch.ones(disc_interpolates.size()),
                                    create_graph=True, retain_graph=True, only_inputs=True)
    gradients = gradients[0].view(real_data.size(0), -1)  # flat the data
    gradient_penalty = (((gradients + 1e-16).norm(2, dim=1) - constant) ** 2).mean() * lambda_gp
    return gradient_penalty, gradients


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--n_epochs', type=int, default=1)
    parser.add_argument('--n_epochs_decay', type=int, default=1)
    parser.add_argument('--steps', type=int, default=2)
    parser.add_argument('--init-state', default=None)
    opt = parser.parse_args(argv)
    torch.manual_seed(0)

    norm_layer = functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)
    netG_A = ResnetGenerator(3, 3, norm_layer=norm_layer)
    netG_B = ResnetGenerator(3, 3, norm_layer=nn.BatchNorm2d)
    netD_A = NLayerDiscriminator(3, use_sn=True)
    netD_B = NLayerDiscriminator(3, use_sn=False)
    for net, kind in ((netG_A, 'normal'), (netG_B, 'xavier'), (netD_A, 'normal'), (netD_B, 'normal')):
        init_weights(net, kind)
    nets = {'G_A': netG_A, 'G_B': netG_B, 'D_A': netD_A, 'D_B': netD_B}
    if opt.init_state:
        if os.path.exists(opt.init_state):
            states = torch.load(opt.init_state)
            for k, m in nets.items():
                m.load_state_dict(states[k])
        else:
            torch.save({k: m.state_dict() for k, m in nets.items()}, opt.init_state)

    rng = np.random.RandomState(9)
    yy, xx = np.mgrid[:16, :16] / 16.0
    A = np.stack([np.stack([np.sin(6 * xx + p), np.cos(6 * yy + p), xx * yy])
                  for p in rng.uniform(0, 3, 8)]).astype(np.float32)
    B = np.stack([np.stack([(xx > q), (yy > q), (xx + yy > 2 * q)]) * 1.6 - 0.8
                  for q in rng.uniform(0.2, 0.8, 8)]).astype(np.float32)
    real_A_all, real_B_all = torch.from_numpy(A), torch.from_numpy(B)

    criterionGAN = nn.MSELoss()  # lsgan
    criterionCycle = torch.nn.L1Loss()
    criterionIdt = torch.nn.L1Loss()
    optimizer_G = torch.optim.Adam(itertools.chain(netG_A.parameters(), netG_B.parameters()), lr=2e-4,
                                   betas=(0.5, 0.999))
    optimizer_D = torch.optim.Adam(itertools.chain(netD_A.parameters(), netD_B.parameters()), lr=2e-4,
                                   betas=(0.5, 0.999))

    def lambda_rule(epoch):
        lr_l = 1.0 - max(0, epoch + 1 - opt.n_epochs) / float(opt.n_epochs_decay + 1)
        return lr_l
    schedulers = [torch.optim.lr_scheduler.LambdaLR(o, lr_lambda=lambda_rule) for o in (optimizer_G, optimizer_D)]

    hist = {k: [] for k in ('G', 'cycle', 'idt', 'D_A', 'D_B', 'gp', 'lr')}
    for epoch in range(opt.n_epochs + opt.n_epochs_decay):
        for it in range(opt.steps):
            j = (it * 4) % 8
            real_A, real_B = real_A_all[j:j + 4], real_B_all[j:j + 4]
            fake_B = netG_A(real_A)
            rec_A = netG_B(fake_B)
            fake_A = netG_B(real_B)
            rec_B = netG_A(fake_A)

            # G_A and G_B
            set_requires_grad([netD_A, netD_B], False)
            optimizer_G.zero_grad()
            idt_A = netG_A(real_B)
            loss_idt_A = criterionIdt(idt_A, real_B) * 10.0 * 0.5
            idt_B = netG_B(real_A)
            loss_idt_B = criterionIdt(idt_B, real_A) * 10.0 * 0.5
            pred = netD_A(fake_B)
            loss_G_A = criterionGAN(pred, torch.ones_like(pred))     # lsgan
            loss_G_B = -netD_B(fake_A).mean()                        # hinge generator loss
            loss_cycle_A = criterionCycle(rec_A, real_A) * 10.0
            loss_cycle_B = criterionCycle(rec_B, real_B) * 10.0
            loss_G = loss_G_A + loss_G_B + loss_cycle_A + loss_cycle_B + loss_idt_A + loss_idt_B
            loss_G.backward()
            optimizer_G.step()

            # D_A and D_B
            set_requires_grad([netD_A, netD_B], True)
            optimizer_D.zero_grad()
            pred_real = netD_A(real_B)
            pred_fake = netD_A(fake_B.detach())
            loss_D_A = (criterionGAN(pred_real, torch.ones_like(pred_real)) +
                        criterionGAN(pred_fake, torch.zeros_like(pred_fake))) * 0.5
            loss_D_A.backward()
            # hinge loss + gradient penalty for D_B
            d_real = netD_B(real_A)
            d_fake = netD_B(fake_A.detach())
            loss_D_B = torch.relu(1.0 - d_real).mean() + torch.relu(1.0 + d_fake).mean()
            alpha = torch.from_numpy(rng.rand(4, 1).astype(np.float32))
            gp, _ = cal_gradient_penalty(netD_B, real_A, fake_A.detach(), alpha)
            (loss_D_B + gp).backward()
            optimizer_D.step()

            for k, v in (('G', loss_G), ('cycle', loss_cycle_A + loss_cycle_B), ('idt', loss_idt_A + loss_idt_B),
                         ('D_A', loss_D_A), ('D_B', loss_D_B), ('gp', gp)):
                hist[k].append(v.item())
        for s in schedulers:
            s.step()
        hist['lr'].append(optimizer_G.param_groups[0]['lr'])
        print('epoch %d G %.4f D_A %.4f D_B %.4f gp %.5f' % (epoch, hist['G'][-1], hist['D_A'][-1],
                                                           hist['D_B'][-1], hist['gp'][-1]))
    sn_keys = sorted(k for k in netD_A.state_dict() if 'weight_' in k)
    hist['sn_keys'] = sn_keys[:3]
    with torch.no_grad():
        netG_B.eval()
        hist['eval_out_mean'] = netG_B(real_B_all).mean().item()
        hist['sn_sigma_proxy'] = netD_A.model[0].weight.flatten(1).norm(dim=1).max().item()
    return hist


if __name__ == '__main__':
    print(main())
