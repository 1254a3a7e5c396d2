"""Shared helper for nn layer tests: build a layer in torch and jtorch, copy torch's state_dict into
jtorch (keys must match exactly), compare outputs and input/parameter gradients."""
import numpy as np
import torch

import jtorch
from oracle import to_j, assert_same


def _flat(x):
    if isinstance(x, (list, tuple)):
        out = []
        for v in x:
            out.extend(_flat(v))
        return out
    if x is None:
        return []
    if hasattr(x, "data") and hasattr(x, "batch_sizes"):   # PackedSequence
        return [x.data]
    return [x]


def copy_state(tmod, jmod):
    sd = tmod.state_dict()
    jkeys = list(jmod.state_dict().keys())
    assert jkeys == list(sd.keys()), f"state_dict keys differ:\n jtorch {jkeys}\n torch  {list(sd.keys())}"
    jmod.load_state_dict({k: to_j(v) for k, v in sd.items()})


def compare_module(tmod, jmod, inputs, *, train=True, rtol=1e-4, atol=1e-5, kwargs=None, grads=True, seed=0):
    """inputs: torch tensors (float ones get requires_grad) or other objects passed through to both."""
    kwargs = kwargs or {}
    copy_state(tmod, jmod)
    tmod.train(train)
    jmod.train(train)
    tin, jin = [], []
    for x in inputs:
        if isinstance(x, torch.Tensor) and x.is_floating_point() and grads:
            t = x.detach().clone().requires_grad_(True)
            tin.append(t)
            jin.append(to_j(t, requires_grad=True))
        else:
            tin.append(x)
            jin.append(to_j(x) if isinstance(x, (torch.Tensor, list, tuple)) else x)
    tk = kwargs
    jk = {k: to_j(v) for k, v in kwargs.items()}
    tout = tmod(*tin, **tk)
    jout = jmod(*jin, **jk)
    tf, jf = _flat(tout), _flat(jout)
    assert len(tf) == len(jf), f"{len(jf)} outputs != torch {len(tf)}"
    for a, b in zip(jf, tf):
        assert_same(a, b, rtol=rtol, atol=atol)
    if not grads:
        return tout, jout
    g = torch.Generator().manual_seed(seed)
    tloss, jloss = 0, 0
    for a, b in zip(jf, tf):
        if b.is_floating_point() and b.requires_grad:
            w = torch.randn(b.shape, generator=g, dtype=b.dtype)
            tloss = tloss + (b * w).sum()
            jloss = jloss + (a * to_j(w)).sum()
    if isinstance(tloss, int):
        return tout, jout
    tloss.backward()
    jloss.backward()
    for tx, jx in zip(tin, jin):
        if isinstance(tx, torch.Tensor) and tx.requires_grad:
            assert_same(jx.grad, tx.grad, rtol=rtol, atol=atol, msg="input grad")
    jp = dict(jmod.named_parameters())
    for name, p in tmod.named_parameters():
        if p.grad is None:
            assert jp[name].grad is None or np.allclose(np.asarray(jp[name].grad.detach()._value), 0), name
            continue
        assert jp[name].grad is not None, f"no grad for {name}"
        assert_same(jp[name].grad, p.grad, rtol=rtol, atol=atol, msg=f"grad of {name}")
    return tout, jout


def compare_fn(tfn, jfn, inputs, *, rtol=1e-4, atol=1e-5, grads=True, seed=0, **kw):
    """Call a functional op in torch and jtorch on the same inputs; compare outputs and input grads."""
    tin, jin = [], []
    for x in inputs:
        if isinstance(x, torch.Tensor) and x.is_floating_point() and grads:
            t = x.detach().clone().requires_grad_(True)
            tin.append(t)
            jin.append(to_j(t, requires_grad=True))
        else:
            tin.append(x)
            jin.append(to_j(x) if isinstance(x, torch.Tensor) else x)
    jkw = {k: to_j(v) if isinstance(v, torch.Tensor) else v for k, v in kw.items()}
    tout = tfn(*tin, **kw)
    jout = jfn(*jin, **jkw)
    tf, jf = _flat(tout), _flat(jout)
    assert len(tf) == len(jf)
    for a, b in zip(jf, tf):
        assert_same(a, b, rtol=rtol, atol=atol)
    if grads:
        g = torch.Generator().manual_seed(seed)
        tl = jl = 0
        for a, b in zip(jf, tf):
            if b.is_floating_point():
                w = torch.randn(b.shape, generator=g, dtype=b.dtype)
                tl = tl + (b * w).sum()
                jl = jl + (a * to_j(w)).sum()
        if not isinstance(tl, int) and tl.requires_grad:
            tl.backward()
            jl.backward()
            for tx, jx in zip(tin, jin):
                if isinstance(tx, torch.Tensor) and tx.requires_grad:
                    assert_same(jx.grad, tx.grad, rtol=rtol, atol=atol, msg="input grad")
    return tout, jout
