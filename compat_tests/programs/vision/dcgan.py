"""DCGAN (after pytorch/examples/dcgan): ConvTranspose2d generator, strided-conv discriminator,
weights_init by classname, BCELoss, torch.full labels with one-sided label smoothing, .detach()
for the D step, two Adam optimizers with betas=(0.5, 0.999), fixed noise for progress images,
checkpointing both nets. Latent noise comes from a numpy stream (so both frameworks see the same
noise); a torch.randn fixed-noise batch is checked statistically only."""
import argparse
import os
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim

nz, ngf, ndf, nc = 16, 8, 8, 1


# custom weights initialization called on netG and netD
def weights_init(m):
    classname = m.__class__.__name__
    if classname.find('Conv') != -1:
        torch.nn.init.normal_(m.weight, 0.0, 0.02)
    elif classname.find('BatchNorm') != -1:
        torch.nn.init.normal_(m.weight, 1.0, 0.02)
        torch.nn.init.zeros_(m.bias)


class Generator(nn.Module):
    def __init__(self, ngpu=1):
        super(Generator, self).__init__()
        self.ngpu = ngpu
        self.main = nn.Sequential(
            # input is Z, going into a convolution
            nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            # state size. (ngf*4) x 4 x 4
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            # state size. (ngf*2) x 8 x 8
            nn.ConvTranspose2d(ngf * 2, nc, 4, 2, 1, bias=False),
            nn.Tanh()
            # state size. (nc) x 16 x 16
        )

    def forward(self, input):
        output = self.main(input)
        return output


class Discriminator(nn.Module):
    def __init__(self, ngpu=1):
        super(Discriminator, self).__init__()
        self.ngpu = ngpu
        self.main = nn.Sequential(
            # input is (nc) x 16 x 16
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            # state size. (ndf) x 8 x 8
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            # state size. (ndf*2) x 4 x 4
            nn.Conv2d(ndf * 2, 1, 4, 1, 0, bias=False),
            nn.Sigmoid()
        )

    def forward(self, input):
        output = self.main(input)
        return output.view(-1, 1).squeeze(1)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--batchSize', type=int, default=8)
    parser.add_argument('--niter', type=int, default=5)
    parser.add_argument('--lr', type=float, default=0.0002)
    parser.add_argument('--beta1', type=float, default=0.5)
    parser.add_argument('--init-state', default=None)
    opt = parser.parse_args(argv)

    torch.manual_seed(999)
    device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    rng = np.random.RandomState(7)
    # "real" images: smooth blobs in [-1, 1] like normalised MNIST
    yy, xx = np.mgrid[:16, :16]
    real_images = np.stack([np.tanh(2 - ((yy - c) ** 2 + (xx - c2) ** 2) / 8.0)
                            for c, c2 in rng.uniform(4, 12, (32, 2))])[:, None].astype(np.float32)
    dataset = torch.from_numpy(real_images)

    netG = Generator().to(device)
    netG.apply(weights_init)
    netD = Discriminator().to(device)
    netD.apply(weights_init)
    if opt.init_state:
        if os.path.exists(opt.init_state):
            state = torch.load(opt.init_state)
            netG.load_state_dict(state['G'])
            netD.load_state_dict(state['D'])
        else:
            torch.save({'G': netG.state_dict(), 'D': netD.state_dict()}, opt.init_state)

    criterion = nn.BCELoss()

    fixed_noise = torch.randn(opt.batchSize, nz, 1, 1, device=device)
    real_label = 0.9  # one-sided label smoothing
    fake_label = 0.

    # setup optimizer
    optimizerD = optim.Adam(netD.parameters(), lr=opt.lr, betas=(opt.beta1, 0.999))
    optimizerG = optim.Adam(netG.parameters(), lr=opt.lr, betas=(opt.beta1, 0.999))

    history = {'lossD': [], 'lossG': [], 'D_x': [], 'D_G_z1': [], 'D_G_z2': []}
    for i in range(opt.niter):
        j = (i * opt.batchSize) % len(dataset)
        ############################
        # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
        ###########################
        # train with real
        netD.zero_grad()
        real_cpu = dataset[j:j + opt.batchSize].to(device)
        batch_size = real_cpu.size(0)
        label = torch.full((batch_size,), real_label, dtype=real_cpu.dtype, device=device)

        output = netD(real_cpu)
        errD_real = criterion(output, label)
        errD_real.backward()
        D_x = output.mean().item()

        # train with fake
        noise = torch.from_numpy(rng.randn(batch_size, nz, 1, 1).astype(np.float32)).to(device)
        fake = netG(noise)
        label.fill_(fake_label)
        output = netD(fake.detach())
        errD_fake = criterion(output, label)
        errD_fake.backward()
        D_G_z1 = output.mean().item()
        errD = errD_real + errD_fake
        optimizerD.step()

        ############################
        # (2) Update G network: maximize log(D(G(z)))
        ###########################
        netG.zero_grad()
        label.fill_(1.0)  # fake labels are real for generator cost
        output = netD(fake)
        errG = criterion(output, label)
        errG.backward()
        D_G_z2 = output.mean().item()
        optimizerG.step()

        print('[%d/%d] Loss_D: %.4f Loss_G: %.4f D(x): %.4f D(G(z)): %.4f / %.4f'
              % (i, opt.niter, errD.item(), errG.item(), D_x, D_G_z1, D_G_z2))
        for k, v in zip(history, (errD.item(), errG.item(), D_x, D_G_z1, D_G_z2)):
            history[k].append(v)

    with torch.no_grad():
        fake = netG(fixed_noise).detach().cpu()
    assert fake.shape == (opt.batchSize, nc, 16, 16)
    assert fake.abs().max().item() <= 1.0

    # do checkpointing
    with tempfile.TemporaryDirectory() as outf:
        torch.save(netG.state_dict(), '%s/netG_epoch_%d.pth' % (outf, 0))
        torch.save(netD.state_dict(), '%s/netD_epoch_%d.pth' % (outf, 0))
        netG2 = Generator()
        netG2.load_state_dict(torch.load('%s/netG_epoch_%d.pth' % (outf, 0)))
    netG.eval()
    netG2.eval()
    probe = torch.from_numpy(rng.randn(4, nz, 1, 1).astype(np.float32))
    with torch.no_grad():
        a, b = netG(probe), netG2(probe)
    assert torch.equal(a, b)
    history['eval_probe_mean'] = a.mean().item()
    history['eval_probe_std'] = a.std().item()
    history['bn_running_var'] = netG.main[1].running_var[:4].tolist()
    return history


if __name__ == '__main__':
    print(main())
