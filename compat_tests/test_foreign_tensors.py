"""torch.Tensor values met by jtorch (torchvision transforms and datasets return them): adopted as
jtorch tensors by tensor()/as_tensor(), DataLoader collation and ops (jtorch/_foreign.py)."""
import numpy as np
import pytest
import torch

import jtorch
from oracle import assert_same


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64, torch.bool, torch.bfloat16,
                                   torch.float16, torch.uint8])
def test_tensor_and_as_tensor_adopt_torch_tensors(dtype):
    t = (torch.arange(6).reshape(2, 3) % 3).to(dtype)
    for make in (jtorch.tensor, jtorch.as_tensor):
        j = make(t)
        assert isinstance(j, jtorch.Tensor)
        assert_same(j, t)
    g = torch.ones(2, requires_grad=True) * 2   # a non-leaf that requires grad: adopted as a value
    assert_same(jtorch.tensor(g), g.detach())
    assert jtorch.as_tensor(t, dtype=jtorch.float64).dtype is jtorch.float64


def test_ops_adopt_torch_tensor_arguments():
    a = torch.randn(3, 4, generator=torch.Generator().manual_seed(0))
    lin = jtorch.nn.Linear(4, 2)
    w, b = torch.from_numpy(lin.weight.detach().numpy()), torch.from_numpy(lin.bias.detach().numpy())
    assert_same(lin(a), torch.nn.functional.linear(a, w, b).detach(), atol=1e-6)
    assert_same(jtorch.ones(3, 4) + a, 1 + a)
    assert_same(jtorch.cat([jtorch.zeros(1, 4), a]), torch.cat([torch.zeros(1, 4), a]))
    x = jtorch.ones(3, 4, requires_grad=True)
    (x * a).sum().backward()
    assert_same(x.grad, a)
    with pytest.raises(TypeError):   # anything else is still torch's TypeError
        jtorch.add(jtorch.ones(2), object())


def test_dataloader_collates_a_torch_dataset():
    class Images(torch.utils.data.Dataset):   # what a torchvision dataset with ToTensor() yields
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return torch.full((1, 2, 2), float(i)), i, {"mask": torch.tensor([i % 2 == 0])}

    tb = next(iter(torch.utils.data.DataLoader(Images(), batch_size=3)))
    jb = next(iter(jtorch.utils.data.DataLoader(Images(), batch_size=3)))
    assert_same(jb[0], tb[0])
    assert_same(jb[1], tb[1])
    assert_same(jb[2]["mask"], tb[2]["mask"])
    src = torch.ones(2, dtype=torch.float64)
    conv = jtorch.utils.data.default_convert(src)
    assert isinstance(conv, jtorch.Tensor)
    assert_same(conv, torch.utils.data.default_convert(src))


def test_real_torch_functions_run_jtorch_on_jtorch_tensors():
    # a program whose `import torch.nn.functional as F` stayed on real torch (partly swapped imports):
    # torch's override protocol hands the call to jtorch, so training is jtorch's and equals torch's
    import torch.nn.functional as TF
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(8, 5, generator=g), torch.randint(0, 3, (8,), generator=g)
    tm = torch.nn.Sequential(torch.nn.Linear(5, 6), torch.nn.Linear(6, 3))
    jm = jtorch.nn.Sequential(jtorch.nn.Linear(5, 6), jtorch.nn.Linear(6, 3))
    jm.load_state_dict({k: jtorch.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    losses = []
    for m, xx, yy, lib in ((tm, x, y, torch), (jm, jtorch.tensor(x.numpy()), jtorch.tensor(y.numpy()), jtorch)):
        opt = lib.optim.SGD(m.parameters(), lr=0.1)
        run = []
        for _ in range(3):
            opt.zero_grad()
            h = TF.gelu(m[0](xx))                     # real torch functions in both runs
            loss = TF.cross_entropy(TF.dropout(m[1](h), 0.0), yy)
            loss.backward()
            opt.step()
            run.append(float(loss))
        losses.append(run)
    assert isinstance(loss, jtorch.Tensor)
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5)
    assert_same(torch.cat([jtorch.ones(1, 2), jtorch.zeros(1, 2)]), torch.cat([torch.ones(1, 2), torch.zeros(1, 2)]))
    assert_same(jtorch.ones(2, 3).mean(), torch.ones(2, 3).mean())


def test_torch_parameters_are_refused_not_silently_frozen():
    lin = torch.nn.Linear(3, 2)   # a real torch module fed jtorch tensors would never train: refuse it
    with pytest.raises(TypeError, match="requires grad"):
        lin(jtorch.ones(1, 3))
