"""pytorch/examples time_sequence_prediction: two stacked LSTMCells in float64 learning sine waves,
trained with LBFGS (closure re-evaluating the loss), then predicting the future autoregressively
under torch.no_grad(). The sine data is generated the way generate_sine_wave.py does, saved with
torch.save and read back with torch.load(weights_only=False)."""
import argparse
import os
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim


class Sequence(nn.Module):
    def __init__(self):
        super(Sequence, self).__init__()
        self.lstm1 = nn.LSTMCell(1, 51)
        self.lstm2 = nn.LSTMCell(51, 51)
        self.linear = nn.Linear(51, 1)
        self.dummy_param = nn.Parameter(torch.empty(0))

    def forward(self, input, future=0):
        outputs = []
        device = self.dummy_param.device
        h_t = torch.zeros(input.size(0), 51, dtype=torch.double).to(device)
        c_t = torch.zeros(input.size(0), 51, dtype=torch.double).to(device)
        h_t2 = torch.zeros(input.size(0), 51, dtype=torch.double).to(device)
        c_t2 = torch.zeros(input.size(0), 51, dtype=torch.double).to(device)

        for input_t in input.split(1, dim=1):
            h_t, c_t = self.lstm1(input_t, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        for i in range(future):
            h_t, c_t = self.lstm1(output, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        outputs = torch.cat(outputs, dim=1)
        return outputs


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--steps', type=int, default=1)
    parser.add_argument('--init-state', default=None)
    opt = parser.parse_args(argv)
    device = torch.device('cpu')
    np.random.seed(2)
    T, L, N = 20, 24, 8
    x = np.empty((N, L), 'int64')
    x[:] = np.array(range(L)) + np.random.randint(-4 * T, 4 * T, N).reshape(N, 1)
    data = np.sin(x / 1.0 / T).astype('float64')
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, 'traindata.pt')
        torch.save(data, open(path, 'wb'))
        data = torch.from_numpy(torch.load(path, weights_only=False)).to(device)
    np.random.seed(0)
    torch.manual_seed(0)
    input = data[3:, :-1]
    target = data[3:, 1:]
    test_input = data[:3, :-1]
    test_target = data[:3, 1:]
    seq = Sequence().to(device).double()
    if opt.init_state:
        if os.path.exists(opt.init_state):
            seq.load_state_dict(torch.load(opt.init_state))
        else:
            torch.save(seq.state_dict(), opt.init_state)
    criterion = nn.MSELoss().to(device)
    optimizer = optim.LBFGS(seq.parameters(), lr=0.8)
    losses, test_losses = [], []
    for i in range(opt.steps):
        def closure():
            optimizer.zero_grad()
            out = seq(input)
            loss = criterion(out, target)
            losses.append(loss.item())
            loss.backward()
            return loss
        optimizer.step(closure)
        with torch.no_grad():
            future = 10
            pred = seq(test_input, future=future)
            loss = criterion(pred[:, :-future], test_target)
            test_losses.append(loss.item())
            y = pred.cpu().detach().numpy()
    return {'losses': losses, 'test_losses': test_losses, 'pred_tail': y[:, -3:].tolist(),
            'n_iter': optimizer.state[optimizer._params[0]]['n_iter']}


if __name__ == '__main__':
    print(main())
