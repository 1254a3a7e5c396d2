"""DistributedDataParallel: every rank runs the module on its shard of the batch; after backward the
gradients are averaged across ranks (one collective for all grads, like torch's buckets), so all
ranks take the same optimizer step and train to the same weights as full-batch training."""
import contextlib

import numpy as np

from ..modules.module import Module


class DistributedDataParallel(Module):
    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 init_sync=True, process_group=None, bucket_cap_mb=None, find_unused_parameters=False,
                 check_reduction=False, gradient_as_bucket_view=False, static_graph=False, delay_all_reduce_named_params=None,
                 param_to_hook_all_reduce=None, mixed_precision=None, device_mesh=None):
        super().__init__()
        from ... import distributed as dist
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.process_group = process_group
        self.require_backward_grad_sync = True
        self._params = [p for p in module.parameters() if p.requires_grad]
        self._expected = set(id(p) for p in self._params)
        self._seen = set()
        if dist.is_initialized() and dist.get_world_size() > 1 and init_sync:
            self._sync_module_states()
        for p in self._params:
            p.register_post_accumulate_grad_hook(self._on_grad)

    def _world(self):
        from ... import distributed as dist
        return dist.get_world_size() if dist.is_initialized() else 1

    def _sync_module_states(self):
        from ... import distributed as dist
        for t in list(self.module.parameters()) + list(self.module.buffers()):
            dist.broadcast(t.data, 0)

    def forward(self, *inputs, **kwargs):
        if self.broadcast_buffers and self._world() > 1:
            from ... import distributed as dist
            for b in self.module.buffers():
                dist.broadcast(b.data, 0)
        out = self.module(*inputs, **kwargs)
        self._seen = set()
        if self.find_unused_parameters and self.require_backward_grad_sync:
            self._expected = _reachable_params(out, self._params)
        return out

    def _on_grad(self, p):
        if not self.require_backward_grad_sync:
            return
        self._seen.add(id(p))
        if self._expected and self._seen >= self._expected:
            self._seen = set()
            self._allreduce_grads()

    def _allreduce_grads(self):
        world = self._world()
        if world == 1:
            return
        from ... import distributed as dist
        import jax.numpy as jnp
        grads = [p.grad for p in self._params]
        flat = [np.asarray(g.detach().float()._value).reshape(-1) if g is not None
                else np.zeros(p.numel(), np.float32) for g, p in zip(grads, self._params)]
        sizes = [f.size for f in flat]
        from ... import from_numpy
        buf = from_numpy(np.concatenate(flat).astype(np.float32))
        dist.all_reduce(buf, dist.ReduceOp.SUM)
        avg = np.asarray(buf._value) / world
        off = 0
        for p, n in zip(self._params, sizes):
            v = jnp.asarray(avg[off:off + n].reshape(tuple(p.shape))).astype(p._value.dtype)
            off += n
            if p.grad is None:
                from ..._tensor import wrap
                p.grad = wrap(v)
            else:
                p.grad._set_value(v)

    @contextlib.contextmanager
    def no_sync(self):
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules["module"], name)


def _reachable_params(out, params):
    """The parameters whose AccumulateGrad nodes the output's graph reaches (torch's unused-param search)."""
    from ..._tensor import Tensor
    from ...autograd.graph import AccumulateGrad
    roots = []

    def collect(o):
        if isinstance(o, Tensor):
            if o.grad_fn is not None:
                roots.append(o.grad_fn)
        elif isinstance(o, (list, tuple)):
            for v in o:
                collect(v)
        elif isinstance(o, dict):
            for v in o.values():
                collect(v)
    collect(out)
    seen, stack, found = set(), list(roots), set()
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if isinstance(n, AccumulateGrad):
            found.add(id(n.variable))
            continue
        for e in n.edges:
            if e is not None:
                stack.append(e[0])
    return found & set(id(p) for p in params)
