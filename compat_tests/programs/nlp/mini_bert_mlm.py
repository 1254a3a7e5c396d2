"""A tiny BERT-style masked language model written the way HuggingFace-like repos write it:
extended attention masks with finfo.min, GELU(tanh), pre-computed position_ids buffer, MLM masking
with bernoulli probability matrices (drawn with numpy here so runs are comparable), ignore_index
-100 labels, AdamW with a linear warmup/decay schedule, and bf16 autocast on CPU for evaluation."""
import argparse
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Config:
    vocab_size = 40
    hidden_size = 32
    num_attention_heads = 4
    intermediate_size = 64
    num_hidden_layers = 2
    max_position_embeddings = 32
    layer_norm_eps = 1e-12
    hidden_dropout_prob = 0.0
    initializer_range = 0.02
    pad_token_id = 0
    mask_token_id = 3


class Embeddings(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(2, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.register_buffer("position_ids", torch.arange(config.max_position_embeddings).expand((1, -1)),
                             persistent=False)
        self.register_buffer("token_type_ids", torch.zeros(self.position_ids.size(), dtype=torch.long),
                             persistent=False)

    def forward(self, input_ids):
        seq_length = input_ids.size(1)
        position_ids = self.position_ids[:, :seq_length]
        token_type_ids = self.token_type_ids[:, :seq_length].expand(input_ids.shape[0], seq_length)
        embeddings = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        embeddings = embeddings + self.position_embeddings(position_ids)
        return self.dropout(self.LayerNorm(embeddings))


class SelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.num_attention_heads = config.num_attention_heads
        self.attention_head_size = int(config.hidden_size / config.num_attention_heads)
        self.all_head_size = self.num_attention_heads * self.attention_head_size
        self.query = nn.Linear(config.hidden_size, self.all_head_size)
        self.key = nn.Linear(config.hidden_size, self.all_head_size)
        self.value = nn.Linear(config.hidden_size, self.all_head_size)
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def transpose_for_scores(self, x):
        new_x_shape = x.size()[:-1] + (self.num_attention_heads, self.attention_head_size)
        x = x.view(new_x_shape)
        return x.permute(0, 2, 1, 3)

    def forward(self, hidden_states, attention_mask=None):
        query_layer = self.transpose_for_scores(self.query(hidden_states))
        key_layer = self.transpose_for_scores(self.key(hidden_states))
        value_layer = self.transpose_for_scores(self.value(hidden_states))
        attention_scores = torch.matmul(query_layer, key_layer.transpose(-1, -2))
        attention_scores = attention_scores / math.sqrt(self.attention_head_size)
        if attention_mask is not None:
            attention_scores = attention_scores + attention_mask
        attention_probs = nn.functional.softmax(attention_scores, dim=-1)
        context_layer = torch.matmul(attention_probs, value_layer)
        context_layer = context_layer.permute(0, 2, 1, 3).contiguous()
        new_context_layer_shape = context_layer.size()[:-2] + (self.all_head_size,)
        context_layer = context_layer.view(new_context_layer_shape)
        return self.LayerNorm(self.dense(context_layer) + hidden_states), attention_probs


class Layer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.attention = SelfAttention(config)
        self.intermediate = nn.Linear(config.hidden_size, config.intermediate_size)
        self.output = nn.Linear(config.intermediate_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states, attention_mask):
        attention_output, probs = self.attention(hidden_states, attention_mask)
        h = F.gelu(self.intermediate(attention_output), approximate='tanh')
        return self.LayerNorm(self.output(h) + attention_output), probs


class BertForMaskedLM(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.embeddings = Embeddings(config)
        self.layer = nn.ModuleList([Layer(config) for _ in range(config.num_hidden_layers)])
        self.transform = nn.Sequential(nn.Linear(config.hidden_size, config.hidden_size), nn.GELU(),
                                       nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps))
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))
        self.decoder.bias = self.bias
        self.apply(self._init_weights)
        self.decoder.weight = self.embeddings.word_embeddings.weight  # tie_weights()

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(mean=0.0, std=self.config.initializer_range)
            if module.bias is not None:
                module.bias.data.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.data.normal_(mean=0.0, std=self.config.initializer_range)
            if module.padding_idx is not None:
                module.weight.data[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            module.bias.data.zero_()
            module.weight.data.fill_(1.0)

    def get_extended_attention_mask(self, attention_mask, dtype):
        extended_attention_mask = attention_mask[:, None, None, :]
        extended_attention_mask = extended_attention_mask.to(dtype=dtype)  # fp16 compatibility
        return (1.0 - extended_attention_mask) * torch.finfo(dtype).min

    def forward(self, input_ids, attention_mask=None, labels=None, output_attentions=False):
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        hidden_states = self.embeddings(input_ids)
        ext = self.get_extended_attention_mask(attention_mask, hidden_states.dtype)
        all_attentions = ()
        for layer_module in self.layer:
            hidden_states, probs = layer_module(hidden_states, ext)
            if output_attentions:
                all_attentions = all_attentions + (probs,)
        prediction_scores = self.decoder(self.transform(hidden_states))
        masked_lm_loss = None
        if labels is not None:
            loss_fct = nn.CrossEntropyLoss()  # -100 index = padding token
            masked_lm_loss = loss_fct(prediction_scores.view(-1, self.config.vocab_size), labels.view(-1))
        return {'loss': masked_lm_loss, 'logits': prediction_scores, 'attentions': all_attentions}


def mask_tokens(inputs, special_tokens_mask, rng, config, mlm_probability=0.15):
    """DataCollatorForLanguageModeling.torch_mask_tokens, with the coin flips drawn by numpy."""
    labels = inputs.clone()
    probability_matrix = torch.full(labels.shape, mlm_probability)
    probability_matrix.masked_fill_(special_tokens_mask, value=0.0)
    masked_indices = torch.from_numpy(rng.rand(*labels.shape) < probability_matrix.numpy())
    labels[~masked_indices] = -100
    indices_replaced = torch.from_numpy(rng.rand(*labels.shape) < 0.8) & masked_indices
    inputs[indices_replaced] = config.mask_token_id
    indices_random = torch.from_numpy(rng.rand(*labels.shape) < 0.5) & masked_indices & ~indices_replaced
    random_words = torch.from_numpy(rng.randint(4, config.vocab_size, size=labels.shape))
    inputs[indices_random] = random_words[indices_random]
    return inputs, labels


def get_linear_schedule_with_warmup(optimizer, num_warmup_steps, num_training_steps, last_epoch=-1):
    def lr_lambda(current_step: int):
        if current_step < num_warmup_steps:
            return float(current_step) / float(max(1, num_warmup_steps))
        return max(0.0, float(num_training_steps - current_step) / float(max(1, num_training_steps - num_warmup_steps)))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda, last_epoch)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--steps', type=int, default=10)
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(42)
    config = Config()
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    model = BertForMaskedLM(config).to(device)
    if args.init_state:
        if os.path.exists(args.init_state):
            missing, unexpected = model.load_state_dict(torch.load(args.init_state), strict=True)
            assert not missing and not unexpected
        else:
            torch.save(model.state_dict(), args.init_state)

    no_decay = ["bias", "LayerNorm.weight"]
    optimizer_grouped_parameters = [
        {"params": [p for n, p in model.named_parameters() if not any(nd in n for nd in no_decay)],
         "weight_decay": 0.01},
        {"params": [p for n, p in model.named_parameters() if any(nd in n for nd in no_decay)],
         "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(optimizer_grouped_parameters, lr=1e-3, eps=1e-6)
    scheduler = get_linear_schedule_with_warmup(optimizer, 2, args.steps)

    rng = np.random.RandomState(0)
    B, T = 6, 12
    losses, lrs = [], []
    for step in range(args.steps):
        lengths = rng.randint(5, T + 1, size=B)
        input_ids = torch.zeros(B, T, dtype=torch.long)
        attention_mask = torch.zeros(B, T, dtype=torch.long)
        for b, L in enumerate(lengths):
            body = (np.arange(L - 2) * 3 + b + rng.randint(0, 2)) % (config.vocab_size - 4) + 4
            input_ids[b, :L] = torch.tensor([1] + body.tolist() + [2])  # [CLS] ... [SEP]
            attention_mask[b, :L] = 1
        special = (input_ids == 0) | (input_ids == 1) | (input_ids == 2)
        input_ids, labels = mask_tokens(input_ids, special, rng, config)
        input_ids, labels, attention_mask = input_ids.to(device), labels.to(device), attention_mask.to(device)
        model.train()
        outputs = model(input_ids, attention_mask=attention_mask, labels=labels)
        loss = outputs['loss']
        if torch.isnan(loss):  # a batch with no masked token
            continue
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        model.zero_grad()
        losses.append(loss.item())
        lrs.append(scheduler.get_last_lr()[0])

    model.eval()
    eval_ids = torch.tensor([[1, 5, 8, 3, 14, 2, 0, 0], [1, 9, 12, 15, 3, 21, 24, 2]])
    eval_mask = (eval_ids != 0).long()
    with torch.no_grad():
        out = model(eval_ids, attention_mask=eval_mask, output_attentions=True)
        with torch.autocast(device_type='cpu', dtype=torch.bfloat16):
            out_bf16 = model(eval_ids, attention_mask=eval_mask)
    mask_pos = (eval_ids == config.mask_token_id).nonzero(as_tuple=True)
    top = out['logits'][mask_pos].topk(3, dim=-1)
    att = out['attentions'][0]
    return {'losses': losses, 'lrs': lrs, 'top_ids': top.indices.tolist(),
            'top_vals': top.values.tolist(),
            'pad_attention': att[0, :, :, 6:].abs().max().item(),
            'bf16_dtype': str(out_bf16['logits'].dtype),
            'bf16_close': (out_bf16['logits'].float() - out['logits']).abs().max().item() < 0.5,
            'tied': model.decoder.weight.data_ptr() == model.embeddings.word_embeddings.weight.data_ptr()}


if __name__ == '__main__':
    print(main())
