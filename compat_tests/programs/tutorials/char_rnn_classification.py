"""NLP From Scratch: Classifying Names with a Character-Level RNN
(pytorch.org/tutorials/intermediate/char_rnn_classification_tutorial.html), with the names files
replaced by generated 'languages' (each its own letter distribution) and the download removed:
unicodeToAscii, letterToTensor/lineToTensor one-hot encoding, an RNN nn.Module with i2h/h2h/h2o
Linear layers and LogSoftmax, hand-written SGD (p.data.add_(p.grad.data, alpha=-lr)), random
training examples, categoryFromOutput via topk, evaluate() and a normalised confusion matrix,
predict() with topk(n, 1, True)."""
import argparse
import os
import random
import string
import time
import math
import unicodedata

import torch
import torch.nn as nn
import torch.nn.functional as F

all_letters = string.ascii_letters + " .,;'"
n_letters = len(all_letters)


# Turn a Unicode string to plain ASCII, thanks to https://stackoverflow.com/a/518232/2809427
def unicodeToAscii(s):
    return ''.join(
        c for c in unicodedata.normalize('NFD', s)
        if unicodedata.category(c) != 'Mn'
        and c in all_letters
    )


def make_names(rng):
    """Build {language: [names]} with a characteristic alphabet and ending per language."""
    languages = {
        'Arabic': ('aehklmrsd', 'a'), 'Czech': ('čkřvnošz', 'ová'), 'English': ('tehnrsdl', 'son'),
        'Italian': ('aeiolnrct', 'ini'), 'Japanese': ('akimotsu', 'ko'), 'Polish': ('szkwcyń', 'ski'),
    }
    category_lines = {}
    for lang, (letters, suffix) in languages.items():
        names = []
        for _ in range(30):
            n = rng.randint(2, 5)
            name = ''.join(rng.choice(letters) for _ in range(n)) + suffix
            names.append(unicodeToAscii(name.capitalize()))
        category_lines[lang] = names
    return category_lines


# Find letter index from all_letters, e.g. "a" = 0
def letterToIndex(letter):
    return all_letters.find(letter)


# Just for demonstration, turn a letter into a <1 x n_letters> Tensor
def letterToTensor(letter):
    tensor = torch.zeros(1, n_letters)
    tensor[0][letterToIndex(letter)] = 1
    return tensor


# Turn a line into a <line_length x 1 x n_letters>,
# or an array of one-hot letter vectors
def lineToTensor(line):
    tensor = torch.zeros(len(line), 1, n_letters)
    for li, letter in enumerate(line):
        tensor[li][0][letterToIndex(letter)] = 1
    return tensor


class RNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super(RNN, self).__init__()

        self.hidden_size = hidden_size

        self.i2h = nn.Linear(input_size, hidden_size)
        self.h2h = nn.Linear(hidden_size, hidden_size)
        self.h2o = nn.Linear(hidden_size, output_size)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, input, hidden):
        hidden = F.tanh(self.i2h(input) + self.h2h(hidden))
        output = self.h2o(hidden)
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
    parser.add_argument('--n-iters', type=int, default=400)
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    random.seed(0)
    category_lines = make_names(random.Random(1))
    all_categories = list(category_lines)
    n_categories = len(all_categories)
    assert unicodeToAscii('Ślusàrski') == 'Slusarski'

    det = {}
    det['letter_J'] = letterToTensor('J').argmax().item()
    det['line_shape'] = list(lineToTensor('Jones').size())

    n_hidden = 128
    rnn = RNN(n_letters, n_hidden, n_categories)
    if args.init_state:
        if os.path.exists(args.init_state):
            rnn.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(rnn.state_dict(), args.init_state)

    input = letterToTensor('A')
    hidden = torch.zeros(1, n_hidden)
    output, next_hidden = rnn(input, hidden)
    input = lineToTensor('Albert')
    output, next_hidden = rnn(input[0], hidden)
    det['first_output'] = output[0].tolist()

    def categoryFromOutput(output):
        top_n, top_i = output.topk(1)
        category_i = top_i[0].item()
        return all_categories[category_i], category_i

    def randomChoice(l):
        return l[random.randint(0, len(l) - 1)]

    def randomTrainingExample():
        category = randomChoice(all_categories)
        line = randomChoice(category_lines[category])
        category_tensor = torch.tensor([all_categories.index(category)], dtype=torch.long)
        line_tensor = lineToTensor(line)
        return category, line, category_tensor, line_tensor

    criterion = nn.NLLLoss()
    learning_rate = 0.005  # If you set this too high, it might explode. If too low, it might not learn

    def train(category_tensor, line_tensor):
        hidden = rnn.initHidden()

        rnn.zero_grad()

        for i in range(line_tensor.size()[0]):
            output, hidden = rnn(line_tensor[i], hidden)

        loss = criterion(output, category_tensor)
        loss.backward()

        # Add parameters' gradients to their values, multiplied by learning rate
        for p in rnn.parameters():
            p.data.add_(p.grad.data, alpha=-learning_rate)

        return output, loss.item()

    n_iters = args.n_iters
    print_every = 100
    plot_every = 50
    current_loss = 0
    all_losses = []
    start = time.time()
    for iter in range(1, n_iters + 1):
        category, line, category_tensor, line_tensor = randomTrainingExample()
        output, loss = train(category_tensor, line_tensor)
        current_loss += loss

        if iter % print_every == 0:
            guess, guess_i = categoryFromOutput(output)
            correct = '✓' if guess == category else '✗ (%s)' % category
            print('%d %d%% (%s) %.4f %s / %s %s' % (iter, iter / n_iters * 100, timeSince(start),
                                                    loss, line, guess, correct))

        if iter % plot_every == 0:
            all_losses.append(current_loss / plot_every)
            current_loss = 0
    det['all_losses'] = all_losses

    # Keep track of correct guesses in a confusion matrix
    confusion = torch.zeros(n_categories, n_categories)
    n_confusion = 200

    # Just return an output given a line
    def evaluate(line_tensor):
        hidden = rnn.initHidden()

        for i in range(line_tensor.size()[0]):
            output, hidden = rnn(line_tensor[i], hidden)

        return output

    # Go through a bunch of examples and record which are correctly guessed
    eval_loss = 0.0
    for i in range(n_confusion):
        category, line, category_tensor, line_tensor = randomTrainingExample()
        output = evaluate(line_tensor)
        eval_loss += criterion(output, category_tensor).item()
        guess, guess_i = categoryFromOutput(output)
        category_i = all_categories.index(category)
        confusion[category_i][guess_i] += 1

    # Normalize by dividing every row by its sum
    for i in range(n_categories):
        confusion[i] = confusion[i] / confusion[i].sum()
    det['eval_loss'] = eval_loss / n_confusion
    det['confusion_diag'] = confusion.diag().tolist()

    def predict(input_line, n_predictions=3):
        print('\n> %s' % input_line)
        with torch.no_grad():
            output = evaluate(lineToTensor(input_line))

            # Get top N categories
            topv, topi = output.topk(n_predictions, 1, True)
            predictions = []

            for i in range(n_predictions):
                value = topv[0][i].item()
                category_index = topi[0][i].item()
                print('(%.2f) %s' % (value, all_categories[category_index]))
                predictions.append([value, all_categories[category_index]])
        return predictions

    det['predict_dovesky'] = predict('Dovesky')
    det['predict_satoshi'] = predict('Satoshi')
    return det


if __name__ == '__main__':
    print(main())
