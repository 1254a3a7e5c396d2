"""NLP From Scratch: Generating Names with a Character-Level RNN
(pytorch.org/tutorials/intermediate/char_rnn_generation_tutorial.html), with the names files
replaced by generated ones and the download removed: a conditional RNN that concatenates the
category one-hot, the input letter and the hidden state (torch.cat), i2h/i2o/o2o Linear layers,
dropout (0 here so the runs are deterministic) and LogSoftmax; NLLLoss summed over the sequence
into `loss = torch.Tensor([0])`, target_line_tensor.unsqueeze_(-1), hand-written SGD, and greedy
sampling with topk, indexing a Python string with the resulting 0-d tensor."""
import argparse
import os
import random
import string
import time
import math

import torch
import torch.nn as nn

all_letters = string.ascii_letters + " .,;'-"
n_letters = len(all_letters) + 1  # Plus EOS marker


def make_names(rng):
    languages = {
        'German': ('bcehmnrstu', 'mann'), 'Russian': ('aikmnorstv', 'ov'),
        'Spanish': ('adeilnorz', 'ez'), 'Chinese': ('aghinouwz', 'ng'),
    }
    category_lines = {}
    for lang, (letters, suffix) in languages.items():
        names = []
        for _ in range(25):
            n = rng.randint(1, 4)
            names.append((''.join(rng.choice(letters) for _ in range(n)) + suffix).capitalize())
        category_lines[lang] = names
    return category_lines


class RNN(nn.Module):
    def __init__(self, n_categories, input_size, hidden_size, output_size, dropout=0.1):
        super(RNN, self).__init__()
        self.hidden_size = hidden_size

        self.i2h = nn.Linear(n_categories + input_size + hidden_size, hidden_size)
        self.i2o = nn.Linear(n_categories + input_size + hidden_size, output_size)
        self.o2o = nn.Linear(hidden_size + output_size, output_size)
        self.dropout = nn.Dropout(dropout)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, category, input, hidden):
        input_combined = torch.cat((category, input, hidden), 1)
        hidden = self.i2h(input_combined)
        output = self.i2o(input_combined)
        output_combined = torch.cat((hidden, output), 1)
        output = self.o2o(output_combined)
        output = self.dropout(output)
        output = self.softmax(output)
        return output, hidden

    def initHidden(self):
        return torch.zeros(1, self.hidden_size)


def timeSince(since):
    now = time.time()
    s = now - since
    m = math.floor(s / 60)
    s -= m * 60
    return '%dm %ds' % (m, s)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--init-state', default=None)
    parser.add_argument('--n-iters', type=int, default=300)
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    random.seed(0)
    category_lines = make_names(random.Random(2))
    all_categories = list(category_lines)
    n_categories = len(all_categories)

    rnn = RNN(n_categories, n_letters, 128, n_letters, dropout=0.0)
    if args.init_state:
        if os.path.exists(args.init_state):
            rnn.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(rnn.state_dict(), args.init_state)

    # Random item from a list
    def randomChoice(l):
        return l[random.randint(0, len(l) - 1)]

    # Get a random category and random line from that category
    def randomTrainingPair():
        category = randomChoice(all_categories)
        line = randomChoice(category_lines[category])
        return category, line

    # One-hot vector for category
    def categoryTensor(category):
        li = all_categories.index(category)
        tensor = torch.zeros(1, n_categories)
        tensor[0][li] = 1
        return tensor

    # One-hot matrix of first to last letters (not including EOS) for input
    def inputTensor(line):
        tensor = torch.zeros(len(line), 1, n_letters)
        for li in range(len(line)):
            letter = line[li]
            tensor[li][0][all_letters.find(letter)] = 1
        return tensor

    # ``LongTensor`` of second letter to end (EOS) for target
    def targetTensor(line):
        letter_indexes = [all_letters.find(line[li]) for li in range(1, len(line))]
        letter_indexes.append(n_letters - 1)  # EOS
        return torch.LongTensor(letter_indexes)

    # Make category, input, and target tensors from a random category, line pair
    def randomTrainingExample():
        category, line = randomTrainingPair()
        category_tensor = categoryTensor(category)
        input_line_tensor = inputTensor(line)
        target_line_tensor = targetTensor(line)
        return category_tensor, input_line_tensor, target_line_tensor

    criterion = nn.NLLLoss()

    learning_rate = 0.005  # the tutorial's 0.0005 needs ~100k iterations

    def train(category_tensor, input_line_tensor, target_line_tensor):
        target_line_tensor.unsqueeze_(-1)
        hidden = rnn.initHidden()

        rnn.zero_grad()

        loss = torch.Tensor([0])  # you can also just simply use ``loss = 0``

        for i in range(input_line_tensor.size(0)):
            output, hidden = rnn(category_tensor, input_line_tensor[i], hidden)
            l = criterion(output, target_line_tensor[i])
            loss += l

        loss.backward()

        for p in rnn.parameters():
            p.data.add_(p.grad.data, alpha=-learning_rate)

        return output, loss.item() / input_line_tensor.size(0)

    n_iters = args.n_iters
    print_every = 100
    plot_every = 25
    all_losses = []
    total_loss = 0  # Reset every ``plot_every`` ``iters``

    start = time.time()

    for iter in range(1, n_iters + 1):
        output, loss = train(*randomTrainingExample())
        total_loss += loss

        if iter % print_every == 0:
            print('%s (%d %d%%) %.4f' % (timeSince(start), iter, iter / n_iters * 100, loss))

        if iter % plot_every == 0:
            all_losses.append(total_loss / plot_every)
            total_loss = 0

    max_length = 20

    # Sample from a category and starting letter
    def sample(category, start_letter='A'):
        with torch.no_grad():  # no need to track history in sampling
            category_tensor = categoryTensor(category)
            input = inputTensor(start_letter)
            hidden = rnn.initHidden()

            output_name = start_letter
            logp = 0.0

            for i in range(max_length):
                output, hidden = rnn(category_tensor, input[0], hidden)
                topv, topi = output.topk(1)
                logp += topv.item()
                topi = topi[0][0]
                if topi == n_letters - 1:
                    break
                else:
                    letter = all_letters[topi]
                    output_name += letter
                input = inputTensor(letter)

            return output_name, logp

    # Get multiple samples from one category and multiple starting letters
    def samples(category, start_letters='ABC'):
        out = []
        for start_letter in start_letters:
            name, logp = sample(category, start_letter)
            print(name)
            out.append([name, logp])
        return out

    return {
        'all_losses': all_losses,
        'samples_russian': samples('Russian', 'RUS'),
        'samples_german': samples('German', 'GER'),
        'samples_chinese': samples('Chinese', 'CHI'),
    }


if __name__ == '__main__':
    print(main())
