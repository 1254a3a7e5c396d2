"""The torch.func tutorials (pytorch.org/tutorials/intermediate/): per-sample gradients
(autograd.grad loop vs vmap(grad(functional_call))), model ensembling (stack_module_state, a
'meta' base model, vmap with in_dims), Jacobians/Hessians (vjp + vmap, jacrev with argnums, jacfwd,
hessian, batched jacobians with movedim, hvp via jvp(grad)) and torch.func.jvp over a module's
parameters (the forward-mode AD tutorial's functorch part; its torch.autograd.forward_ad part is
programs/tutorials/forward_ad.py).
The tutorials' torch.randn data is drawn with numpy here so both runs see the same inputs;
sizes are reduced."""
import argparse
import copy
import os
from functools import partial

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call, vmap, grad, vjp, jvp, jacrev, jacfwd, hessian
from torch.func import stack_module_state

device = 'cpu'


class SimpleCNN(nn.Module):
    def __init__(self):
        super(SimpleCNN, self).__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, 1)
        self.conv2 = nn.Conv2d(8, 16, 3, 1)
        self.fc1 = nn.Linear(16 * 6 * 6, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.fc2(x)
        output = F.log_softmax(x, dim=1)
        return output


class SimpleMLP(nn.Module):
    def __init__(self):
        super(SimpleMLP, self).__init__()
        self.fc1 = nn.Linear(256, 32)
        self.fc2 = nn.Linear(32, 32)
        self.fc3 = nn.Linear(32, 10)

    def forward(self, x):
        x = x.flatten(1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.fc2(x)
        x = F.relu(x)
        x = self.fc3(x)
        return x


def loss_fn(predictions, targets):
    return F.nll_loss(predictions, targets)


def predict(weight, bias, x):
    return F.linear(x, weight, bias).tanh()


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    rng = np.random.RandomState(0)

    def randn(*shape, dtype=np.float32):
        return torch.from_numpy(rng.randn(*shape).astype(dtype))

    num_models = 4
    model = SimpleCNN().to(device=device)
    models = [SimpleMLP().to(device) for _ in range(num_models)]
    if args.init_state:
        if os.path.exists(args.init_state):
            state = torch.load(args.init_state)
            model.load_state_dict(state['cnn'])
            for m, s in zip(models, state['mlps']):
                m.load_state_dict(s)
        else:
            torch.save({'cnn': model.state_dict(), 'mlps': [m.state_dict() for m in models]},
                       args.init_state)
    out = {}

    # ---- Per-sample gradients
    batch_size = 8
    data = randn(batch_size, 1, 16, 16)
    targets = torch.from_numpy(rng.randint(0, 10, batch_size))

    predictions = model(data)  # move the entire mini-batch through the model
    loss = loss_fn(predictions, targets)
    loss.backward()  # back propagate the 'average' gradient of this mini-batch
    out['batch_loss'] = loss.item()

    def compute_grad(sample, target):
        sample = sample.unsqueeze(0)  # prepend batch dimension for processing
        target = target.unsqueeze(0)

        prediction = model(sample)
        loss = loss_fn(prediction, target)

        return torch.autograd.grad(loss, list(model.parameters()))

    def compute_sample_grads(data, targets):
        """ manually process each sample with per sample gradient """
        sample_grads = [compute_grad(data[i], targets[i]) for i in range(batch_size)]
        sample_grads = zip(*sample_grads)
        sample_grads = [torch.stack(shards) for shards in sample_grads]
        return sample_grads

    per_sample_grads = compute_sample_grads(data, targets)
    assert per_sample_grads[1].shape == (batch_size, 8)

    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def compute_loss(params, buffers, sample, target):
        batch = sample.unsqueeze(0)
        targets = target.unsqueeze(0)

        predictions = functional_call(model, (params, buffers), (batch,))
        loss = loss_fn(predictions, targets)
        return loss

    ft_compute_grad = grad(compute_loss)
    ft_compute_sample_grad = vmap(ft_compute_grad, in_dims=(None, None, 0, 0))
    ft_per_sample_grads = ft_compute_sample_grad(params, buffers, data, targets)
    for per_sample_grad, ft_per_sample_grad in zip(per_sample_grads, ft_per_sample_grads.values()):
        assert torch.allclose(per_sample_grad, ft_per_sample_grad, atol=3e-3, rtol=1e-5)
    out['per_sample_grad_norms'] = [g.flatten(1).norm(dim=1).tolist()
                                    for g in ft_per_sample_grads.values()][:2]
    # the mean of the per-sample gradients is the batch gradient
    out['mean_vs_batch'] = max((g.mean(0) - p.grad).abs().max().item()
                               for g, p in zip(per_sample_grads, model.parameters())) < 1e-5

    # ---- Model ensembling
    data = randn(10, 16, 1, 16, 16)
    minibatches = data[:num_models]
    predictions_diff_minibatch_loop = [model(minibatch) for model, minibatch in zip(models, minibatches)]
    minibatch = data[0]
    predictions2 = [model(minibatch) for model in models]

    params, buffers = stack_module_state(models)
    base_model = copy.deepcopy(models[0])
    base_model = base_model.to('meta')

    def fmodel(params, buffers, x):
        return functional_call(base_model, (params, buffers), (x,))

    print([p.size(0) for p in params.values()])  # show the leading 'num_models' dimension
    assert minibatches.shape == (num_models, 16, 1, 16, 16)  # verify minibatch has leading dimension of size 'num_models'
    predictions1_vmap = vmap(fmodel)(params, buffers, minibatches)
    # verify the ``vmap`` predictions match the
    assert torch.allclose(predictions1_vmap, torch.stack(predictions_diff_minibatch_loop), atol=1e-3, rtol=1e-5)
    predictions2_vmap = vmap(fmodel, in_dims=(0, 0, None))(params, buffers, minibatch)
    assert torch.allclose(predictions2_vmap, torch.stack(predictions2), atol=1e-3, rtol=1e-5)
    out['ensemble'] = [predictions1_vmap.sum().item(), predictions2_vmap.abs().mean().item()]
    assert all(p.requires_grad for p in params.values())

    # ---- Jacobians, Hessians, hvp, vhp
    D = 8
    weight = randn(D, D)
    bias = randn(D)
    x = randn(D)  # feature vector

    def compute_jac(xp):
        jacobian_rows = [torch.autograd.grad(predict(weight, bias, xp), xp, vec)[0]
                         for vec in unit_vectors]
        return torch.stack(jacobian_rows)

    xp = x.clone().requires_grad_()
    unit_vectors = torch.eye(D)
    jacobian = compute_jac(xp)
    assert jacobian.shape == (D, D)

    _, vjp_fn = vjp(partial(predict, weight, bias), x)
    ft_jacobian, = vmap(vjp_fn)(unit_vectors)
    # let's confirm both methods compute the same result
    assert torch.allclose(ft_jacobian, jacobian)
    ft_jacobian = jacrev(predict, argnums=2)(weight, bias, x)
    assert torch.allclose(ft_jacobian, jacobian)
    ft_jac_weight, ft_jac_bias = jacrev(predict, argnums=(0, 1))(weight, bias, x)
    jacfwd_jac = jacfwd(predict, argnums=2)(weight, bias, x)
    assert torch.allclose(jacfwd_jac, jacobian, atol=1e-6)
    out['jacobian'] = [jacobian.sum().item(), ft_jac_weight.abs().sum().item(), ft_jac_bias.sum().item()]

    hess0 = jacrev(jacrev(predict, argnums=2), argnums=2)(weight, bias, x)
    hess1 = hessian(predict, argnums=2)(weight, bias, x)
    hess2 = jacfwd(jacrev(predict, argnums=2), argnums=2)(weight, bias, x)
    assert torch.allclose(hess0, hess1, atol=1e-5) and torch.allclose(hess1, hess2, atol=1e-5)
    out['hessian'] = [hess1.sum().item(), hess1.abs().max().item()]

    batch_size = 4
    Din = 6
    Dout = 5
    weight = randn(Dout, Din)
    bias = randn(Dout)
    x = randn(batch_size, Din)

    compute_batch_jacobian = vmap(jacrev(predict, argnums=2), in_dims=(None, None, 0))
    batch_jacobian0 = compute_batch_jacobian(weight, bias, x)

    def predict_with_output_summed(weight, bias, x):
        return predict(weight, bias, x).sum(0)

    batch_jacobian1 = jacrev(predict_with_output_summed, argnums=2)(weight, bias, x).movedim(1, 0)
    assert torch.allclose(batch_jacobian0, batch_jacobian1)
    compute_batch_hessian = vmap(hessian(predict, argnums=2), in_dims=(None, None, 0))
    batch_hess = compute_batch_hessian(weight, bias, x)
    assert batch_hess.shape == (batch_size, Dout, Din, Din)
    out['batch'] = [batch_jacobian0.sum().item(), batch_hess.sum().item()]

    def hvp(f, primals, tangents):
        return jvp(grad(f), primals, tangents)[1]

    def f(x):
        return x.sin().sum()

    x = randn(64)
    tangent = randn(64)
    result = hvp(f, (x,), (tangent,))
    assert torch.allclose(result, tangent * -x.sin(), atol=1e-6)
    out['hvp'] = result.sum().item()

    # functorch jvp over a module's parameters
    primal0, tangent0, primal1, tangent1 = randn(10, 10), randn(10, 10), randn(10, 10), randn(10, 10)

    def fn(x, y):
        return x ** 2 + y ** 2

    primal_out, tangent_out = jvp(fn, (primal0, primal1), (tangent0, tangent1))
    out['func_jvp'] = [primal_out.sum().item(), tangent_out.sum().item()]

    model = nn.Linear(5, 5)
    with torch.no_grad():
        model.weight.copy_(randn(5, 5))
        model.bias.copy_(randn(5))

    input = randn(16, 5)
    tangents = {name: torch.from_numpy(rng.rand(*p.shape).astype(np.float32))
                for name, p in model.named_parameters()}

    def func(params, input):
        return functional_call(model, params, input)

    params = {name: p for name, p in model.named_parameters()}
    _, jvp_out = jvp(lambda params: func(params, input), (params,), (tangents,))
    out['func_jvp_module'] = jvp_out.sum().item()
    return out


if __name__ == '__main__':
    print(main())
