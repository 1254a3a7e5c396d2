"""Text classification with nn.EmbeddingBag and offsets (the torchtext tutorial's model), with a
hand-rolled vocabulary and tokenizer instead of torchtext."""
import argparse
import os
import re
import time
from collections import Counter

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

WORDS = {0: "goal match team score league coach player season".split(),
         1: "market stock price bank trade profit shares invest".split(),
         2: "code software chip data cloud robot network model".split()}
FILLER = "the a of in on and to with for is was".split()


def make_corpus(n, rng):
    data = []
    for _ in range(n):
        label = int(rng.randint(0, 3))
        words = [WORDS[label][i] for i in rng.randint(0, 8, size=rng.randint(2, 6))]
        words += [FILLER[i] for i in rng.randint(0, len(FILLER), size=rng.randint(1, 6))]
        rng.shuffle(words)
        data.append((label + 1, " ".join(words).capitalize() + "."))  # AG_NEWS-style labels start at 1
    return data


def basic_english(line):
    return re.findall(r"[a-z]+", line.lower())


class TextClassificationModel(nn.Module):
    def __init__(self, vocab_size, embed_dim, num_class):
        super(TextClassificationModel, self).__init__()
        self.embedding = nn.EmbeddingBag(vocab_size, embed_dim, sparse=False)
        self.fc = nn.Linear(embed_dim, num_class)
        self.init_weights()

    def init_weights(self):
        initrange = 0.5
        self.embedding.weight.data.uniform_(-initrange, initrange)
        self.fc.weight.data.uniform_(-initrange, initrange)
        self.fc.bias.data.zero_()

    def forward(self, text, offsets):
        embedded = self.embedding(text, offsets)
        return self.fc(embedded)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--epochs', type=int, default=4)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    rng = np.random.RandomState(0)
    train_iter, test_iter = make_corpus(120, rng), make_corpus(40, rng)

    counter = Counter()
    for _, text in train_iter:
        counter.update(basic_english(text))
    itos = ["<unk>"] + sorted(counter, key=lambda w: (-counter[w], w))
    stoi = {w: i for i, w in enumerate(itos)}
    text_pipeline = lambda x: [stoi.get(tok, 0) for tok in basic_english(x)]
    label_pipeline = lambda x: int(x) - 1

    def collate_batch(batch):
        label_list, text_list, offsets = [], [], [0]
        for (_label, _text) in batch:
            label_list.append(label_pipeline(_label))
            processed_text = torch.tensor(text_pipeline(_text), dtype=torch.int64)
            text_list.append(processed_text)
            offsets.append(processed_text.size(0))
        label_list = torch.tensor(label_list, dtype=torch.int64)
        offsets = torch.tensor(offsets[:-1]).cumsum(dim=0)
        text_list = torch.cat(text_list)
        return label_list.to(device), text_list.to(device), offsets.to(device)

    model = TextClassificationModel(len(itos), 16, 3).to(device)
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(model.state_dict(), args.init_state)
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=5.0)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1.0, gamma=0.1)
    train_dataloader = DataLoader(train_iter, batch_size=16, shuffle=False, collate_fn=collate_batch)
    test_dataloader = DataLoader(test_iter, batch_size=16, shuffle=False, collate_fn=collate_batch)

    def train(dataloader):
        model.train()
        total_acc, total_count, losses = 0, 0, []
        for idx, (label, text, offsets) in enumerate(dataloader):
            optimizer.zero_grad()
            predicted_label = model(text, offsets)
            loss = criterion(predicted_label, label)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.1)
            optimizer.step()
            total_acc += (predicted_label.argmax(1) == label).sum().item()
            total_count += label.size(0)
            losses.append(loss.item())
        return total_acc / total_count, losses

    def evaluate(dataloader):
        model.eval()
        total_acc, total_count = 0, 0
        with torch.no_grad():
            for idx, (label, text, offsets) in enumerate(dataloader):
                predicted_label = model(text, offsets)
                total_acc += (predicted_label.argmax(1) == label).sum().item()
                total_count += label.size(0)
        return total_acc / total_count

    total_accu = None
    history = []
    for epoch in range(1, args.epochs + 1):
        epoch_start_time = time.time()
        train_acc, losses = train(train_dataloader)
        accu_val = evaluate(test_dataloader)
        if total_accu is not None and total_accu > accu_val:
            scheduler.step()
        else:
            total_accu = accu_val
        history.append({'train_acc': train_acc, 'losses': losses, 'val_acc': accu_val,
                        'lr': scheduler.get_last_lr()[0]})
        print(f"| end of epoch {epoch:3d} | time: {time.time() - epoch_start_time:5.2f}s | valid accuracy {accu_val:8.3f} ")

    def predict(text):
        with torch.no_grad():
            text = torch.tensor(text_pipeline(text))
            output = model(text, torch.tensor([0]))
            return output.argmax(1).item() + 1

    bag = nn.EmbeddingBag.from_pretrained(model.embedding.weight.detach(), mode='max')
    ids = torch.tensor([[1, 2, 3], [4, 5, 6]])
    return {'history': history, 'predict': predict("The coach saw the team score a goal."),
            'vocab': len(itos), 'max_bag': bag(ids).sum().item()}


if __name__ == '__main__':
    print(main())
