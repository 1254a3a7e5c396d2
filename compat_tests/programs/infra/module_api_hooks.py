"""nn.Module plumbing that larger code bases lean on: optimizer-in-backward through
Tensor.register_post_accumulate_grad_hook, gradient-bucket hooks (DDP-comm-hook style gradient
averaging with register_hook), forward hooks with kwargs (with_kwargs=True, prepend=True,
always_call), full backward pre-hooks, global module hooks, weight tying and parameter
deduplication, non-persistent buffers, state-dict key migration with a load_state_dict pre-hook and
_version metadata, strict=False loading reporting missing/unexpected keys, get_submodule,
apply(init_fn), Module.to(torch.float64), deepcopy and whole-model torch.save/torch.load."""
import argparse
import copy
import io
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    _version = 2

    def __init__(self, d):
        super().__init__()
        self.proj = nn.Linear(d, d)  # called `fc` in version 1 checkpoints
        self.norm = nn.LayerNorm(d)
        self.register_buffer('scale', torch.ones(1) * 0.5)
        self.register_buffer('cache', torch.zeros(d), persistent=False)

    def forward(self, x, *, gate=None):
        h = self.proj(self.norm(x)) * self.scale
        if gate is not None:
            h = h * gate
        self.cache = h.detach().mean(0)
        return x + F.gelu(h)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        version = local_metadata.get('version', None)
        if version is None or version < 2:
            for suffix in ('weight', 'bias'):
                old = prefix + 'fc.' + suffix
                if old in state_dict:
                    state_dict[prefix + 'proj.' + suffix] = state_dict.pop(old)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)


class TiedLM(nn.Module):
    def __init__(self, vocab=16, d=8, n_blocks=2):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.blocks = nn.ModuleList([Block(d) for _ in range(n_blocks)])
        self.lm_head = nn.Linear(d, vocab, bias=False)
        self.lm_head.weight = self.embed.weight  # weight tying

    def forward(self, ids, gate=None):
        h = self.embed(ids)
        for b in self.blocks:
            h = b(h, gate=gate)
        return self.lm_head(h)


def init_weights(m):
    if isinstance(m, nn.Linear):
        nn.init.zeros_(m.bias) if m.bias is not None else None
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--init-state', default=None)
    parser.add_argument('--steps', type=int, default=4)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)

    model = TiedLM()
    model.apply(init_weights)
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(model.state_dict(), args.init_state)
    ids = torch.from_numpy(rng.randint(0, 16, size=(4, 6)).astype(np.int64))
    tgt = torch.roll(ids, -1, dims=1)

    n_params = sum(p.numel() for p in model.parameters())
    n_named = len(list(model.named_parameters()))
    n_named_dup = len(list(model.named_parameters(remove_duplicate=False)))
    sd_keys = list(model.state_dict().keys())
    tied = model.lm_head.weight is model.embed.weight

    # 1. optimizer in backward: one SGD per parameter, stepped from a post-accumulate-grad hook
    reference = copy.deepcopy(model)
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    opt_dict = {p: torch.optim.SGD([p], lr=0.1, momentum=0.9) for p in model.parameters()}
    hook_calls = []

    def optimizer_hook(p):
        hook_calls.append(p.shape)
        opt_dict[p].step()
        opt_dict[p].zero_grad()

    handles = [p.register_post_accumulate_grad_hook(optimizer_hook) for p in model.parameters()]
    in_bwd_losses, ref_losses = [], []
    for _ in range(args.steps):
        loss = F.cross_entropy(model(ids).view(-1, 16), tgt.view(-1))
        loss.backward()
        in_bwd_losses.append(loss.item())
        ref_opt.zero_grad()
        rl = F.cross_entropy(reference(ids).view(-1, 16), tgt.view(-1))
        rl.backward()
        ref_opt.step()
        ref_losses.append(rl.item())
    for h in handles:
        h.remove()
    in_bwd_diff = max((a - b).abs().max().item() for a, b in zip(model.parameters(), reference.parameters()))
    grads_cleared = all(p.grad is None for p in model.parameters())

    # 2. "communication hook": average gradients across two fake replicas through tensor hooks
    replica = copy.deepcopy(model)
    ids2 = torch.from_numpy(rng.randint(0, 16, size=(4, 6)).astype(np.int64))
    grad_store = {}
    for (name, p) in replica.named_parameters():
        p.register_hook(lambda g, name=name: grad_store.setdefault(name, []).append(g.clone()) or g * 0.5)
    F.cross_entropy(replica(ids).view(-1, 16), tgt.view(-1)).backward()
    F.cross_entropy(replica(ids2).view(-1, 16), torch.roll(ids2, -1, 1).view(-1)).backward()
    avg_grad_norm = torch.sqrt(sum(p.grad.pow(2).sum() for p in replica.parameters())).item()
    hooked_names = sorted(grad_store)

    # 3. forward hooks with kwargs, prepend ordering, global hooks, backward pre-hooks
    order = []
    blk = model.get_submodule('blocks.0')

    def pre_kw(module, args, kwargs):
        order.append('pre_kw')
        kwargs = dict(kwargs)
        if kwargs.get('gate') is None:
            kwargs['gate'] = torch.full((1,), 2.0)
        return args, kwargs

    def post_a(module, args, output):
        order.append('post_a')

    def post_b(module, args, kwargs, output):
        order.append('post_b:%s' % ('gate' in kwargs))
        return output * 1.0

    def bwd_pre(module, grad_output):
        order.append('bwd_pre')
        return (grad_output[0] * 3.0,)

    hs = [blk.register_forward_pre_hook(pre_kw, with_kwargs=True),
          blk.register_forward_hook(post_a),
          blk.register_forward_hook(post_b, with_kwargs=True, prepend=True),
          blk.register_full_backward_pre_hook(bwd_pre)]
    counts = {'n': 0}
    g = nn.modules.module.register_module_forward_hook(lambda m, i, o: counts.__setitem__('n', counts['n'] + 1))
    model.zero_grad()
    out = model(ids)
    out.sum().backward()
    g.remove()
    for h in hs:
        h.remove()
    hooked_out = out.sum().item()
    emb_grad_with_hooks = model.embed.weight.grad.norm().item()
    global_calls = counts['n']
    with torch.no_grad():
        plain_out = model(ids).sum().item()

    # 4. state-dict migration: a "version 1" checkpoint that names proj -> fc
    sd = model.state_dict()
    old = {k.replace('.proj.', '.fc.'): v.clone() for k, v in sd.items()}
    old_meta = copy.deepcopy(sd._metadata)
    for k in old_meta:
        if k.startswith('blocks.') and k.count('.') == 1:
            old_meta[k]['version'] = 1
    old = type(sd)(old)
    old._metadata = old_meta
    migrated = TiedLM()
    migrated.load_state_dict(old)
    migrate_err = max((a - b).abs().max().item() for a, b in zip(migrated.state_dict().values(), sd.values()))
    block_version = sd._metadata['blocks.0']['version']
    partial = {k: v for k, v in sd.items() if not k.startswith('blocks.1')}
    partial['extra.weight'] = torch.zeros(1)
    res = TiedLM().load_state_dict(partial, strict=False)
    try:
        TiedLM().load_state_dict(partial)
        strict_error = None
    except RuntimeError as e:
        strict_error = 'Missing key(s)' in str(e) and 'Unexpected key(s)' in str(e)

    # 5. dtype conversion, deepcopy and whole-module pickling
    m64 = copy.deepcopy(model).to(torch.float64)
    dtypes = sorted({str(t.dtype) for t in m64.state_dict().values()})
    out64 = m64(ids).sum().item()
    buf = io.BytesIO()
    torch.save(model, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=False)
    with torch.no_grad():
        reload_diff = (loaded(ids) - model(ids)).abs().max().item()
    still_tied = loaded.lm_head.weight is loaded.embed.weight
    return {
        'n_params': n_params, 'n_named': n_named, 'n_named_dup': n_named_dup, 'sd_keys': sd_keys, 'tied': tied,
        'in_bwd_losses': in_bwd_losses, 'ref_losses': ref_losses, 'in_bwd_diff_small': in_bwd_diff < 1e-6,
        'hook_calls': len(hook_calls), 'grads_cleared': grads_cleared,
        'avg_grad_norm': avg_grad_norm, 'hooked_names': hooked_names,
        'order': order, 'global_calls': global_calls, 'hooked_out': hooked_out, 'plain_out': plain_out,
        'emb_grad_with_hooks': emb_grad_with_hooks,
        'migrate_err': migrate_err, 'block_version': block_version,
        'missing': sorted(res.missing_keys), 'unexpected': sorted(res.unexpected_keys), 'strict_error': strict_error,
        'dtypes': dtypes, 'out64': out64, 'reload_diff': reload_diff, 'still_tied': still_tied,
    }


if __name__ == '__main__':
    print(main())
