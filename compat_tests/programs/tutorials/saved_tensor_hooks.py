"""Hooks for autograd saved tensors (pytorch.org/tutorials/intermediate/autograd_saved_tensors_hooks_tutorial.html):
grad_fn._saved_self / _saved_result, _raw_saved_self.register_hooks, the
torch.autograd.graph.saved_tensors_hooks context (pack / unpack called once per saved tensor),
saving to disk through temporary files, torch.autograd.graph.save_on_cpu, and the
pack-hook-returns-a-copy pitfall. The tutorial's torch.randn inputs are drawn with numpy."""
import argparse
import os
import tempfile
import uuid

import numpy as np
import torch
import torch.nn as nn


class SelfDeletingTempFile():
    def __init__(self, tmp_dir):
        self.name = os.path.join(tmp_dir, str(uuid.uuid4()))

    def __del__(self):
        if os.path.exists(self.name):
            os.remove(self.name)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)
    rng = np.random.RandomState(0)
    out = {}

    x = torch.from_numpy(rng.randn(5).astype(np.float32)).requires_grad_()
    y = x.pow(2)
    out['saved_self'] = [x.equal(y.grad_fn._saved_self), x is y.grad_fn._saved_self]
    x = torch.from_numpy(rng.randn(5).astype(np.float32)).requires_grad_()
    y = x.exp()
    out['saved_result'] = [y.equal(y.grad_fn._saved_result), y is y.grad_fn._saved_result]

    calls = []

    def pack_hook(x):
        calls.append(("pack", x.sum().item()))
        return x

    def unpack_hook(x):
        calls.append(("unpack", x.sum().item()))
        return x

    x = torch.from_numpy(rng.randn(5).astype(np.float32)).requires_grad_()
    y = x.pow(2)
    y.grad_fn._raw_saved_self.register_hooks(pack_hook, unpack_hook)
    y.sum().backward()
    out['raw_saved_hooks'] = list(calls)
    calls.clear()

    a = torch.ones(5, requires_grad=True)
    b = torch.ones(5, requires_grad=True) * 2
    with torch.autograd.graph.saved_tensors_hooks(pack_hook, unpack_hook):
        y = a * b
    y.sum().backward()
    out['context_hooks'] = list(calls)
    calls.clear()

    # pack hooks that modify the saved value change the gradient
    def pack_scaled(x):
        return x * 4

    def unpack_plain(x):
        return x

    a = torch.ones(5, requires_grad=True)
    b = torch.ones(5, requires_grad=True) * 2
    with torch.autograd.graph.saved_tensors_hooks(pack_scaled, unpack_plain):
        y = a * b
    y.sum().backward()
    out['scaled_grad'] = a.grad.tolist()

    # Saving tensors to disk
    with tempfile.TemporaryDirectory() as tmp_dir:
        def pack_hook_disk(tensor):
            temp_file = SelfDeletingTempFile(tmp_dir)
            torch.save(tensor, temp_file.name)
            return temp_file

        def unpack_hook_disk(temp_file):
            return torch.load(temp_file.name, weights_only=True)

        class Model(nn.Module):
            def forward(self, x):
                with torch.autograd.graph.saved_tensors_hooks(pack_hook_disk, unpack_hook_disk):
                    # ... compute output
                    output = x.pow(2).sin()
                return output

        model = Model()
        x = torch.from_numpy(rng.randn(5).astype(np.float32)).requires_grad_()
        model(x).sum().backward()
        out['disk_grad'] = x.grad.tolist()
        out['disk_files_left'] = len(os.listdir(tmp_dir))

    x = torch.from_numpy(rng.randn(5).astype(np.float32)).requires_grad_()
    with torch.autograd.graph.save_on_cpu(pin_memory=False):
        y = (x * x).exp()
    y.sum().backward()
    out['save_on_cpu'] = x.grad.tolist()
    return out


if __name__ == '__main__':
    print(main())
