"""NLP From Scratch: Translation with a Sequence to Sequence Network and Attention
(pytorch.org/tutorials/intermediate/seq2seq_translation_tutorial.html), with the eng-fra file
replaced by a generated toy language pair and the download removed: Lang vocabularies,
normalizeString (unicodedata + re), EncoderRNN (Embedding + GRU, batch_first), BahdanauAttention
(Wa/Ua/Va, F.softmax, torch.bmm), AttnDecoderRNN with teacher forcing from target_tensor and greedy
decoding (topk, detach), NLLLoss on the log_softmax outputs, two Adam optimisers, TensorDataset +
RandomSampler DataLoader, evaluate() turning indices back into words.

RandomSampler draws from torch's generator (its stream differs between frameworks): with
--sequential the training is deterministic, otherwise training losses are "stochastic"."""
from __future__ import unicode_literals, print_function, division
import argparse
from io import open
import os
import random
import re
import time
import math
import unicodedata

import numpy as np
import torch
import torch.nn as nn
from torch import optim
import torch.nn.functional as F
from torch.utils.data import TensorDataset, DataLoader, RandomSampler, SequentialSampler

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

SOS_token = 0
EOS_token = 1
MAX_LENGTH = 7


class Lang:
    def __init__(self, name):
        self.name = name
        self.word2index = {}
        self.word2count = {}
        self.index2word = {0: "SOS", 1: "EOS"}
        self.n_words = 2  # Count SOS and EOS

    def addSentence(self, sentence):
        for word in sentence.split(' '):
            self.addWord(word)

    def addWord(self, word):
        if word not in self.word2index:
            self.word2index[word] = self.n_words
            self.word2count[word] = 1
            self.index2word[self.n_words] = word
            self.n_words += 1
        else:
            self.word2count[word] += 1


# Turn a Unicode string to plain ASCII, thanks to
# https://stackoverflow.com/a/518232/2809427
def unicodeToAscii(s):
    return ''.join(
        c for c in unicodedata.normalize('NFD', s)
        if unicodedata.category(c) != 'Mn'
    )


# Lowercase, trim, and remove non-letter characters
def normalizeString(s):
    s = unicodeToAscii(s.lower().strip())
    s = re.sub(r"([.!?])", r" \1", s)
    s = re.sub(r"[^a-zA-Z!?]+", r" ", s)
    return s.strip()


def make_pairs(rng):
    """French-like source / English target sentences from small phrase tables."""
    subj = [("je suis", "i am"), ("il est", "he is"), ("elle est", "she is"), ("nous sommes", "we are")]
    adj = [("très ", "very "), ("", "")]
    word = [("fatigué", "tired"), ("content", "happy"), ("grand", "tall"), ("prêt", "ready"),
            ("malade", "sick"), ("occupé", "busy")]
    pairs = []
    for _ in range(64):
        s, a, w = rng.choice(subj), rng.choice(adj), rng.choice(word)
        pairs.append([normalizeString(f"{s[0]} {a[0]}{w[0]} ."), normalizeString(f"{s[1]} {a[1]}{w[1]} .")])
    return pairs


def prepareData(rng):
    pairs = make_pairs(rng)
    input_lang, output_lang = Lang('fra'), Lang('eng')
    print("Read %s sentence pairs" % len(pairs))
    for pair in pairs:
        input_lang.addSentence(pair[0])
        output_lang.addSentence(pair[1])
    print("Counted words:")
    print(input_lang.name, input_lang.n_words)
    print(output_lang.name, output_lang.n_words)
    return input_lang, output_lang, pairs


class EncoderRNN(nn.Module):
    def __init__(self, input_size, hidden_size, dropout_p=0.1):
        super(EncoderRNN, self).__init__()
        self.hidden_size = hidden_size

        self.embedding = nn.Embedding(input_size, hidden_size)
        self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True)
        self.dropout = nn.Dropout(dropout_p)

    def forward(self, input):
        embedded = self.dropout(self.embedding(input))
        output, hidden = self.gru(embedded)
        return output, hidden


class BahdanauAttention(nn.Module):
    def __init__(self, hidden_size):
        super(BahdanauAttention, self).__init__()
        self.Wa = nn.Linear(hidden_size, hidden_size)
        self.Ua = nn.Linear(hidden_size, hidden_size)
        self.Va = nn.Linear(hidden_size, 1)

    def forward(self, query, keys):
        scores = self.Va(torch.tanh(self.Wa(query) + self.Ua(keys)))
        scores = scores.squeeze(2).unsqueeze(1)

        weights = F.softmax(scores, dim=-1)
        context = torch.bmm(weights, keys)

        return context, weights


class AttnDecoderRNN(nn.Module):
    def __init__(self, hidden_size, output_size, dropout_p=0.1):
        super(AttnDecoderRNN, self).__init__()
        self.embedding = nn.Embedding(output_size, hidden_size)
        self.attention = BahdanauAttention(hidden_size)
        self.gru = nn.GRU(2 * hidden_size, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, output_size)
        self.dropout = nn.Dropout(dropout_p)

    def forward(self, encoder_outputs, encoder_hidden, target_tensor=None):
        batch_size = encoder_outputs.size(0)
        decoder_input = torch.empty(batch_size, 1, dtype=torch.long, device=device).fill_(SOS_token)
        decoder_hidden = encoder_hidden
        decoder_outputs = []
        attentions = []

        for i in range(MAX_LENGTH):
            decoder_output, decoder_hidden, attn_weights = self.forward_step(
                decoder_input, decoder_hidden, encoder_outputs
            )
            decoder_outputs.append(decoder_output)
            attentions.append(attn_weights)

            if target_tensor is not None:
                # Teacher forcing: Feed the target as the next input
                decoder_input = target_tensor[:, i].unsqueeze(1)  # Teacher forcing
            else:
                # Without teacher forcing: use its own predictions as the next input
                _, topi = decoder_output.topk(1)
                decoder_input = topi.squeeze(-1).detach()  # detach from history as input

        decoder_outputs = torch.cat(decoder_outputs, dim=1)
        decoder_outputs = F.log_softmax(decoder_outputs, dim=-1)
        attentions = torch.cat(attentions, dim=1)

        return decoder_outputs, decoder_hidden, attentions

    def forward_step(self, input, hidden, encoder_outputs):
        embedded = self.dropout(self.embedding(input))

        query = hidden.permute(1, 0, 2)
        context, attn_weights = self.attention(query, encoder_outputs)
        input_gru = torch.cat((embedded, context), dim=2)

        output, hidden = self.gru(input_gru, hidden)
        output = self.out(output)

        return output, hidden, attn_weights


def indexesFromSentence(lang, sentence):
    return [lang.word2index[word] for word in sentence.split(' ')]


def tensorFromSentence(lang, sentence):
    indexes = indexesFromSentence(lang, sentence)
    indexes.append(EOS_token)
    return torch.tensor(indexes, dtype=torch.long, device=device).view(1, -1)


def get_dataloader(batch_size, input_lang, output_lang, pairs, sequential=False):
    n = len(pairs)
    input_ids = np.zeros((n, MAX_LENGTH), dtype=np.int32)
    target_ids = np.zeros((n, MAX_LENGTH), dtype=np.int32)

    for idx, (inp, tgt) in enumerate(pairs):
        inp_ids = indexesFromSentence(input_lang, inp)
        tgt_ids = indexesFromSentence(output_lang, tgt)
        inp_ids.append(EOS_token)
        tgt_ids.append(EOS_token)
        input_ids[idx, :len(inp_ids)] = inp_ids
        target_ids[idx, :len(tgt_ids)] = tgt_ids

    train_data = TensorDataset(torch.LongTensor(input_ids).to(device),
                               torch.LongTensor(target_ids).to(device))

    train_sampler = SequentialSampler(train_data) if sequential else RandomSampler(train_data)
    train_dataloader = DataLoader(train_data, sampler=train_sampler, batch_size=batch_size)
    return train_dataloader


def train_epoch(dataloader, encoder, decoder, encoder_optimizer,
                decoder_optimizer, criterion):

    total_loss = 0
    for data in dataloader:
        input_tensor, target_tensor = data

        encoder_optimizer.zero_grad()
        decoder_optimizer.zero_grad()

        encoder_outputs, encoder_hidden = encoder(input_tensor)
        decoder_outputs, _, _ = decoder(encoder_outputs, encoder_hidden, target_tensor)

        loss = criterion(
            decoder_outputs.view(-1, decoder_outputs.size(-1)),
            target_tensor.view(-1)
        )
        loss.backward()

        encoder_optimizer.step()
        decoder_optimizer.step()

        total_loss += loss.item()

    return total_loss / len(dataloader)


def asMinutes(s):
    m = math.floor(s / 60)
    s -= m * 60
    return '%dm %ds' % (m, s)


def timeSince(since, percent):
    now = time.time()
    s = now - since
    es = s / (percent)
    rs = es - s
    return '%s (- %s)' % (asMinutes(s), asMinutes(rs))


def train(train_dataloader, encoder, decoder, n_epochs, learning_rate=0.001,
          print_every=100, plot_every=100):
    start = time.time()
    plot_losses = []
    print_loss_total = 0  # Reset every print_every
    plot_loss_total = 0  # Reset every plot_every

    encoder_optimizer = optim.Adam(encoder.parameters(), lr=learning_rate)
    decoder_optimizer = optim.Adam(decoder.parameters(), lr=learning_rate)
    criterion = nn.NLLLoss()

    for epoch in range(1, n_epochs + 1):
        loss = train_epoch(train_dataloader, encoder, decoder, encoder_optimizer, decoder_optimizer, criterion)
        print_loss_total += loss
        plot_loss_total += loss

        if epoch % print_every == 0:
            print_loss_avg = print_loss_total / print_every
            print_loss_total = 0
            print('%s (%d %d%%) %.4f' % (timeSince(start, epoch / n_epochs),
                                        epoch, epoch / n_epochs * 100, print_loss_avg))

        if epoch % plot_every == 0:
            plot_loss_avg = plot_loss_total / plot_every
            plot_losses.append(plot_loss_avg)
            plot_loss_total = 0
    return plot_losses


def evaluate(encoder, decoder, sentence, input_lang, output_lang):
    with torch.no_grad():
        input_tensor = tensorFromSentence(input_lang, sentence)

        encoder_outputs, encoder_hidden = encoder(input_tensor)
        decoder_outputs, decoder_hidden, decoder_attn = decoder(encoder_outputs, encoder_hidden)

        _, topi = decoder_outputs.topk(1)
        decoded_ids = topi.squeeze()

        decoded_words = []
        for idx in decoded_ids:
            if idx.item() == EOS_token:
                decoded_words.append('<EOS>')
                break
            decoded_words.append(output_lang.index2word[idx.item()])
    return decoded_words, decoder_attn


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--init-state', default=None)
    parser.add_argument('--sequential', action='store_true')
    parser.add_argument('--epochs', type=int, default=6)
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    input_lang, output_lang, pairs = prepareData(random.Random(0))

    hidden_size = 32
    batch_size = 16

    train_dataloader = get_dataloader(batch_size, input_lang, output_lang, pairs, args.sequential)

    # dropout_p=0: dropout masks come from torch's generator
    encoder = EncoderRNN(input_lang.n_words, hidden_size, dropout_p=0.0).to(device)
    decoder = AttnDecoderRNN(hidden_size, output_lang.n_words, dropout_p=0.0).to(device)
    if args.init_state:
        if os.path.exists(args.init_state):
            state = torch.load(args.init_state)
            encoder.load_state_dict(state['encoder'])
            decoder.load_state_dict(state['decoder'])
        else:
            torch.save({'encoder': encoder.state_dict(), 'decoder': decoder.state_dict()}, args.init_state)

    det, sto = {}, {}
    # one teacher-forced forward/backward on the first pairs: deterministic in any mode
    inp, tgt = next(iter(get_dataloader(8, input_lang, output_lang, pairs, sequential=True)))
    enc_out, enc_hidden = encoder(inp)
    dec_out, _, attn = decoder(enc_out, enc_hidden, tgt)
    loss0 = F.nll_loss(dec_out.view(-1, dec_out.size(-1)), tgt.view(-1))
    loss0.backward()
    det['loss0'] = loss0.item()
    det['attn0_row'] = attn[0, 0].tolist()
    det['grad0_Va'] = decoder.attention.Va.weight.grad.norm().item()
    det['grad0_embedding'] = encoder.embedding.weight.grad.norm().item()
    encoder.zero_grad()
    decoder.zero_grad()

    trained = det if args.sequential else sto
    # lr 0.01 instead of the tutorial's 0.001: its 80 epochs are a few here
    trained['plot_losses'] = train(train_dataloader, encoder, decoder, args.epochs,
                                   learning_rate=0.01, print_every=2, plot_every=2)

    encoder.eval()
    decoder.eval()
    translations = []
    for pair in pairs[:4]:
        output_words, attentions = evaluate(encoder, decoder, pair[0], input_lang, output_lang)
        output_sentence = ' '.join(output_words)
        print('>', pair[0])
        print('=', pair[1])
        print('<', output_sentence)
        translations.append(output_sentence)
    if args.sequential:
        det['translations'] = translations
        det['attn_final'] = attentions[0, 0].tolist()
    result = {'deterministic': det}
    if sto:
        result['stochastic'] = sto
    return result


if __name__ == '__main__':
    print(main())
