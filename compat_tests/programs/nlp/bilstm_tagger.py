"""A BiLSTM part-of-speech tagger with packed variable-length batches (the usual GitHub recipe)."""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence
from torch.utils.data import DataLoader, Dataset

PAD_IDX = 0
TAG_PAD = -100


class TaggingDataset(Dataset):
    def __init__(self, n, vocab_size, n_tags, seed):
        rng = np.random.RandomState(seed)
        self.samples = []
        for _ in range(n):
            length = rng.randint(3, 12)
            words = rng.randint(1, vocab_size, size=length)
            tags = (words * 3 + np.roll(words, 1)) % n_tags  # tag depends on the word and its left neighbour
            self.samples.append((words.tolist(), tags.tolist()))

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        words, tags = self.samples[i]
        return torch.tensor(words, dtype=torch.long), torch.tensor(tags, dtype=torch.long)


def collate_fn(batch):
    words, tags = zip(*batch)
    lengths = torch.tensor([len(w) for w in words])
    words = pad_sequence(words, batch_first=True, padding_value=PAD_IDX)
    tags = pad_sequence(tags, batch_first=True, padding_value=TAG_PAD)
    return words, tags, lengths


class BiLSTMTagger(nn.Module):
    def __init__(self, vocab_size, embedding_dim, hidden_dim, tagset_size, num_layers=2, dropout=0.0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD_IDX)
        self.lstm = nn.LSTM(embedding_dim, hidden_dim // 2, num_layers=num_layers, bidirectional=True,
                            batch_first=True, dropout=dropout)
        self.dropout = nn.Dropout(dropout)
        self.hidden2tag = nn.Linear(hidden_dim, tagset_size)

    def forward(self, sentences, lengths):
        embeds = self.dropout(self.embedding(sentences))
        packed = pack_padded_sequence(embeds, lengths.cpu(), batch_first=True, enforce_sorted=False)
        packed_out, (h_n, c_n) = self.lstm(packed)
        lstm_out, out_lengths = pad_packed_sequence(packed_out, batch_first=True, total_length=sentences.size(1))
        assert torch.equal(out_lengths, lengths)
        return self.hidden2tag(self.dropout(lstm_out)), h_n


def main(argv=None):
    parser = argparse.ArgumentParser(description='BiLSTM tagger')
    parser.add_argument('--epochs', type=int, default=3)
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--lr', type=float, default=0.01)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    vocab_size, n_tags = 30, 5
    train_loader = DataLoader(TaggingDataset(64, vocab_size, n_tags, 0), batch_size=args.batch_size,
                              shuffle=False, collate_fn=collate_fn)
    val_loader = DataLoader(TaggingDataset(24, vocab_size, n_tags, 1), batch_size=args.batch_size,
                            collate_fn=collate_fn)

    model = BiLSTMTagger(vocab_size, 16, 32, n_tags).to(device)
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state, map_location=device))
        else:
            torch.save(model.state_dict(), args.init_state)
    criterion = nn.CrossEntropyLoss(ignore_index=TAG_PAD)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)

    history = []
    for epoch in range(args.epochs):
        model.train()
        total_loss = 0.0
        for words, tags, lengths in train_loader:
            words, tags = words.to(device), tags.to(device)
            optimizer.zero_grad()
            tag_scores, _ = model(words, lengths)
            loss = criterion(tag_scores.view(-1, tag_scores.shape[-1]), tags.view(-1))
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), max_norm=5.0)
            optimizer.step()
            total_loss += loss.item() * words.size(0)
        model.eval()
        correct = total = 0
        with torch.no_grad():
            for words, tags, lengths in val_loader:
                scores, h_n = model(words.to(device), lengths)
                preds = scores.argmax(dim=-1)
                mask = tags != TAG_PAD
                correct += (preds[mask] == tags[mask]).sum().item()
                total += mask.sum().item()
        history.append({'loss': total_loss / len(train_loader.dataset), 'val_acc': correct / total})
        print(f"epoch {epoch}: loss {history[-1]['loss']:.4f} val acc {history[-1]['val_acc']:.3f}")
    return {'history': history, 'h_n_shape': list(h_n.shape), 'h_n_sum': h_n.sum().item()}


if __name__ == '__main__':
    main()
