"""Adversarial Example Generation (pytorch.org/tutorials/beginner/fgsm_tutorial.html), with MNIST
replaced by generated 28x28 digits and the pretrained LeNet download replaced by a short training
run: data.requires_grad = True, F.nll_loss, model.zero_grad(), data.grad.data, the fgsm_attack
(sign, clamp), denorm / re-normalise around the attack, accuracy per epsilon.

The 'pretrained' LeNet is trained with dropout (torch's generator, whose stream differs between
frameworks) and a shuffled loader, so its losses are only checked for progress; like the tutorial, the
attack then loads the pretrained weights from a file: the torch run writes them next to
--init-state and the jtorch run reads them, so every attack metric is deterministic. The test
loader is shuffled too, which does not change the per-epsilon counts."""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.utils.data import DataLoader, TensorDataset

# LeNet Model definition
class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.dropout2(x)
        x = self.fc2(x)
        output = F.log_softmax(x, dim=1)
        return output


def make_digits(n, rng):
    """Ten stroke patterns (bars / boxes / diagonals) with jitter and noise, then
    transforms.Normalize((0.1307,), (0.3081,)) done by hand."""
    x = np.zeros((n, 1, 28, 28), np.float32)
    y = rng.randint(0, 10, n)
    for i, c in enumerate(y):
        o = rng.randint(-2, 3)
        if c < 4:
            x[i, 0, 6 + 4 * c + o: 10 + 4 * c + o, 4:24] = 1
        elif c < 8:
            x[i, 0, 4:24, 6 + 4 * (c - 4) + o: 10 + 4 * (c - 4) + o] = 1
        elif c == 8:
            np.fill_diagonal(x[i, 0, 2 + o:, 2:], 1)
            np.fill_diagonal(x[i, 0, 3 + o:, 2:], 1)
        else:
            x[i, 0, 8 + o:20 + o, 8:20] = 1
            x[i, 0, 11 + o:17 + o, 11:17] = 0
    x = np.clip(x + rng.uniform(0, 0.2, x.shape), 0, 1).astype(np.float32)
    return (x - 0.1307) / 0.3081, y.astype(np.int64)


# FGSM attack code
def fgsm_attack(image, epsilon, data_grad):
    # Collect the element-wise sign of the data gradient
    sign_data_grad = data_grad.sign()
    # Create the perturbed image by adjusting each pixel of the input image
    perturbed_image = image + epsilon*sign_data_grad
    # Adding clipping to maintain [0,1] range
    perturbed_image = torch.clamp(perturbed_image, 0, 1)
    # Return the perturbed image
    return perturbed_image


# restores the tensors to their original scale
def denorm(batch, mean=[0.1307], std=[0.3081]):
    """
    Convert a batch of tensors to their original scale.

    Args:
        batch (torch.Tensor): Batch of normalized tensors.
        mean (torch.Tensor or list): Mean used for normalization.
        std (torch.Tensor or list): Standard deviation used for normalization.

    Returns:
        torch.Tensor: batch of tensors without normalization applied to them.
    """
    if isinstance(mean, list):
        mean = torch.tensor(mean).to(device)
    if isinstance(std, list):
        std = torch.tensor(std).to(device)

    return batch * std.view(1, -1, 1, 1) + mean.view(1, -1, 1, 1)


def normalize(batch, mean=(0.1307,), std=(0.3081,)):
    # transforms.Normalize((0.1307,), (0.3081,)) on a tensor batch
    mean = torch.as_tensor(mean, dtype=batch.dtype, device=batch.device).view(1, -1, 1, 1)
    std = torch.as_tensor(std, dtype=batch.dtype, device=batch.device).view(1, -1, 1, 1)
    return (batch - mean) / std


def test( model, device, test_loader, epsilon ):

    # Accuracy counter
    correct = 0
    adv_examples = []
    grad_abs_sum = 0.0

    # Loop over all examples in test set
    for data, target in test_loader:

        # Send the data and label to the device
        data, target = data.to(device), target.to(device)

        # Set requires_grad attribute of tensor. Important for Attack
        data.requires_grad = True

        # Forward pass the data through the model
        output = model(data)
        init_pred = output.max(1, keepdim=True)[1] # get the index of the max log-probability

        # If the initial prediction is wrong, don't bother attacking, just move on
        if init_pred.item() != target.item():
            continue

        # Calculate the loss
        loss = F.nll_loss(output, target)

        # Zero all existing gradients
        model.zero_grad()

        # Calculate gradients of model in backward pass
        loss.backward()

        # Collect ``datagrad``
        data_grad = data.grad.data
        grad_abs_sum += data_grad.abs().sum().item()

        # Restore the data to its original scale
        data_denorm = denorm(data)

        # Call FGSM Attack
        perturbed_data = fgsm_attack(data_denorm, epsilon, data_grad)

        # Reapply normalization
        perturbed_data_normalized = normalize(perturbed_data)

        # Re-classify the perturbed image
        output = model(perturbed_data_normalized)

        # Check for success
        final_pred = output.max(1, keepdim=True)[1] # get the index of the max log-probability
        if final_pred.item() == target.item():
            correct += 1
            # Special case for saving 0 epsilon examples
            if epsilon == 0 and len(adv_examples) < 5:
                adv_ex = perturbed_data.squeeze().detach().cpu().numpy()
                adv_examples.append( (init_pred.item(), final_pred.item(), adv_ex) )
        else:
            # Save some adv examples for visualization later
            if len(adv_examples) < 5:
                adv_ex = perturbed_data.squeeze().detach().cpu().numpy()
                adv_examples.append( (init_pred.item(), final_pred.item(), adv_ex) )

    # Calculate final accuracy for this epsilon
    final_acc = correct/float(len(test_loader))
    print(f"Epsilon: {epsilon}\tTest Accuracy = {correct} / {len(test_loader)} = {final_acc}")

    # Return the accuracy and an adversarial example
    return final_acc, adv_examples, grad_abs_sum


device = torch.device("cpu")


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--init-state', default=None)
    args = parser.parse_args(argv)

    epsilons = [0, .05, .1, .15, .2, .3]
    torch.manual_seed(42)
    rng = np.random.RandomState(0)
    x_train, y_train = make_digits(96, rng)
    x_test, y_test = make_digits(30, rng)
    train_loader = DataLoader(TensorDataset(torch.from_numpy(x_train), torch.from_numpy(y_train)),
                              batch_size=32, shuffle=True)
    # MNIST Test dataset and dataloader declaration
    test_loader = DataLoader(TensorDataset(torch.from_numpy(x_test), torch.from_numpy(y_test)),
                             batch_size=1, shuffle=True)

    # Initialize the network
    model = Net().to(device)
    pretrained_model = None
    if args.init_state:
        pretrained_model = os.path.splitext(args.init_state)[0] + "_lenet_mnist_model.pth"
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state, weights_only=True))
        else:
            torch.save(model.state_dict(), args.init_state)

    # "pretraining": a few epochs of pytorch/examples' mnist train()
    optimizer = optim.Adadelta(model.parameters(), lr=1.0)
    train_losses = []
    for epoch in range(2):
        model.train()
        for batch_idx, (data, target) in enumerate(train_loader):
            data, target = data.to(device), target.to(device)
            optimizer.zero_grad()
            output = model(data)
            loss = F.nll_loss(output, target)
            loss.backward()
            optimizer.step()
            train_losses.append(loss.item())
    # the losses themselves depend on the dropout masks and batch order: only check progress
    assert np.mean(train_losses[-3:]) < np.mean(train_losses[:3]), train_losses
    if pretrained_model is not None:
        if not os.path.exists(pretrained_model):
            torch.save(model.state_dict(), pretrained_model)
        # Load the pretrained model
        model.load_state_dict(torch.load(pretrained_model, map_location=device, weights_only=True))

    # Set the model in evaluation mode. In this case this is for the Dropout layers
    model.eval()

    accuracies = []
    examples = []
    grad_sums = []

    # Run test for each epsilon
    for eps in epsilons:
        acc, ex, gsum = test(model, device, test_loader, eps)
        accuracies.append(acc)
        examples.append(ex)
        grad_sums.append(gsum)

    # the attacked images of a fixed order (the loader above is shuffled)
    model.zero_grad()
    data = torch.from_numpy(x_test[:8]).clone()
    data.requires_grad = True
    loss = F.nll_loss(model(data), torch.from_numpy(y_test[:8]))
    loss.backward()
    perturbed = fgsm_attack(denorm(data), 0.1, data.grad.data)
    with torch.no_grad():
        adv_loss = F.nll_loss(model(normalize(perturbed)), torch.from_numpy(y_test[:8])).item()

    return {
        'deterministic': {
            'accuracies': accuracies,
            'n_examples': [len(e) for e in examples],
            'grad_abs_sum': sum(grad_sums),
            'clean_loss': loss.item(),
            'adv_loss': adv_loss,
            'perturbed_mean': perturbed.mean().item(),
        },
    }


if __name__ == '__main__':
    print(main())
