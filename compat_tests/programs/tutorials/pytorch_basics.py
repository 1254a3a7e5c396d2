"""The "Learn the Basics" series and the 60-minute blitz (pytorch.org/tutorials/beginner/basics/,
beginner/blitz/), with FashionMNIST / torchvision replaced by generated 28x28 images and a custom
Dataset: tensor creation / attributes / indexing / joining / out= arithmetic / in-place ops, a
custom Dataset with transform and a one-hot target_transform (Lambda + scatter_), DataLoader,
NeuralNetwork (nn.Flatten + nn.Sequential), nn.Softmax, a layer-by-layer walkthrough,
autograd basics (binary_cross_entropy_with_logits, grad_fn, torch.no_grad, detach, Jacobian-vector
products with retain_graph and accumulation), train_loop/test_loop, saving and loading weights,
whole models and checkpoints, and the blitz's LeNet: out.backward(grad), grad_fn.next_functions,
manual SGD with f.data.sub_(f.grad.data * learning_rate), Q.backward(gradient=...), freezing
parameters for finetuning. torch.randn / torch.rand inputs are drawn with numpy.

DataLoader(shuffle=True) draws from torch's generator; with --no-shuffle every metric is
deterministic, otherwise the shuffled training is "stochastic"."""
import argparse
import os
import tempfile

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F
import torch.optim as optim
from torch.utils.data import Dataset, DataLoader

device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"


class CustomImageDataset(Dataset):
    """The tutorial's CustomImageDataset, reading from in-memory arrays instead of image files."""
    def __init__(self, images, labels, transform=None, target_transform=None):
        self.img_labels = labels
        self.images = images
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self):
        return len(self.img_labels)

    def __getitem__(self, idx):
        image = self.images[idx]
        label = int(self.img_labels[idx])
        if self.transform:
            image = self.transform(image)
        if self.target_transform:
            label = self.target_transform(label)
        return image, label


def ToTensor():
    # torchvision.transforms.ToTensor on a uint8 HxW image: a float CxHxW tensor in [0, 1]
    return lambda img: torch.from_numpy(img).float().div(255).unsqueeze(0)


def Lambda(fn):
    return fn


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28*28, 64),
            nn.ReLU(),
            nn.Linear(64, 64),
            nn.ReLU(),
            nn.Linear(64, 10),
        )

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits


class Net(nn.Module):

    def __init__(self):
        super(Net, self).__init__()
        # 1 input image channel, 6 output channels, 5x5 square convolution
        # kernel
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        # an affine operation: y = Wx + b
        self.fc1 = nn.Linear(16 * 5 * 5, 120)  # 5*5 from image dimension
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, input):
        # Convolution layer C1: 1 input image channel, 6 output channels,
        # 5x5 square convolution, it uses RELU activation function, and
        # outputs a Tensor with size (N, 6, 28, 28), where N is the size of the batch
        c1 = F.relu(self.conv1(input))
        # Subsampling layer S2: 2x2 grid, purely functional,
        # this layer does not have any parameter, and outputs a (N, 6, 14, 14) Tensor
        s2 = F.max_pool2d(c1, (2, 2))
        # Convolution layer C3: 6 input channels, 16 output channels,
        # 5x5 square convolution, it uses RELU activation function, and
        # outputs a (N, 16, 10, 10) Tensor
        c3 = F.relu(self.conv2(s2))
        # Subsampling layer S4: 2x2 grid, purely functional,
        # this layer does not have any parameter, and outputs a (N, 16, 5, 5) Tensor
        s4 = F.max_pool2d(c3, 2)
        # Flatten operation: purely functional, outputs a (N, 400) Tensor
        s4 = torch.flatten(s4, 1)
        # Fully connected layer F5: (N, 400) Tensor input,
        # and outputs a (N, 120) Tensor, it uses RELU activation function
        f5 = F.relu(self.fc1(s4))
        # Fully connected layer F6: (N, 120) Tensor input,
        # and outputs a (N, 84) Tensor, it uses RELU activation function
        f6 = F.relu(self.fc2(f5))
        # Gaussian layer OUTPUT: (N, 84) Tensor input, and
        # outputs a (N, 10) Tensor
        output = self.fc3(f6)
        return output


def train_loop(dataloader, model, loss_fn, optimizer, batch_size):
    size = len(dataloader.dataset)
    # Set the model to training mode - important for batch normalization and dropout layers
    # Unnecessary in this situation but added for best practices
    model.train()
    losses = []
    for batch, (X, y) in enumerate(dataloader):
        # Compute prediction and loss
        pred = model(X)
        loss = loss_fn(pred, y)

        # Backpropagation
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

        losses.append(loss.item())
        if batch % 2 == 0:
            loss, current = loss.item(), batch * batch_size + len(X)
            print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")
    return losses


def test_loop(dataloader, model, loss_fn):
    # Set the model to evaluation mode - important for batch normalization and dropout layers
    # Unnecessary in this situation but added for best practices
    model.eval()
    size = len(dataloader.dataset)
    num_batches = len(dataloader)
    test_loss, correct = 0, 0

    # Evaluating the model with torch.no_grad() ensures that no gradients are computed during test mode
    # also serves to reduce unnecessary gradient computations and memory usage for tensors with requires_grad=True
    with torch.no_grad():
        for X, y in dataloader:
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()

    test_loss /= num_batches
    correct /= size
    print(f"Test Error: \n Accuracy: {(100*correct):>0.1f}%, Avg loss: {test_loss:>8f} \n")
    return test_loss, correct


def make_images(n, rng):
    """uint8 28x28 'clothes': class c is a filled rectangle whose size and place depend on c."""
    y = rng.randint(0, 10, n)
    imgs = rng.randint(0, 40, (n, 28, 28)).astype(np.uint8)
    for i, c in enumerate(y):
        h, w = 6 + 2 * (c % 5), 8 + 3 * (c // 5)
        top, left = 2 + c, 4 + (c % 3) * 4
        imgs[i, top:top + h, left:left + w] = 200 + rng.randint(0, 55)
    return imgs, y


def grad_fn_name(fn):
    return None if fn is None else type(fn).__name__


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--init-state', default=None)
    parser.add_argument('--no-shuffle', action='store_true')
    args = parser.parse_args(argv)
    shuffle = not args.no_shuffle

    torch.manual_seed(0)
    rng = np.random.RandomState(0)
    det, sto = {}, {}

    # ---- Tensors
    data = [[1, 2], [3, 4]]
    x_data = torch.tensor(data)
    np_array = np.array(data)
    x_np = torch.from_numpy(np_array)
    x_ones = torch.ones_like(x_data)  # retains the properties of x_data
    x_rand = torch.rand_like(x_data, dtype=torch.float)  # overrides the datatype of x_data
    assert x_rand.dtype == torch.float32 and x_rand.shape == (2, 2)
    shape = (2, 3,)
    rand_tensor = torch.rand(shape)
    ones_tensor = torch.ones(shape)
    zeros_tensor = torch.zeros(shape)
    det['creation'] = [x_np.dtype == torch.int64, x_ones.tolist(), str(ones_tensor.dtype),
                       zeros_tensor.sum().item(), list(rand_tensor.shape)]
    tensor = torch.from_numpy(rng.rand(3, 4).astype(np.float32))
    det['attributes'] = [list(tensor.shape), str(tensor.dtype), str(tensor.device)]
    if torch.accelerator.is_available():
        tensor = tensor.to(torch.accelerator.current_accelerator())
    tensor = torch.ones(4, 4)
    print(f"First row: {tensor[0]}")
    print(f"First column: {tensor[:, 0]}")
    print(f"Last column: {tensor[..., -1]}")
    tensor[:, 1] = 0
    t1 = torch.cat([tensor, tensor, tensor], dim=1)
    # This computes the matrix multiplication between two tensors. y1, y2, y3 will have the same value
    # ``tensor.T`` returns the transpose of a tensor
    y1 = tensor @ tensor.T
    y2 = tensor.matmul(tensor.T)
    y3 = torch.rand_like(y1)
    torch.matmul(tensor, tensor.T, out=y3)
    # This computes the element-wise product. z1, z2, z3 will have the same value
    z1 = tensor * tensor
    z2 = tensor.mul(tensor)
    z3 = torch.rand_like(tensor)
    torch.mul(tensor, tensor, out=z3)
    agg = tensor.sum()
    agg_item = agg.item()
    tensor.add_(5)
    t = torch.ones(5)
    n = t.numpy()
    det['tensor_ops'] = [t1.shape[1], y1.tolist() == y2.tolist() == y3.tolist(),
                         z1.tolist() == z2.tolist() == z3.tolist(), agg_item, type(agg_item).__name__,
                         tensor.tolist(), n.tolist()]

    # ---- Datasets & DataLoaders
    train_imgs, train_labels = make_images(96, rng)
    test_imgs, test_labels = make_images(48, rng)
    training_data = CustomImageDataset(train_imgs, train_labels, transform=ToTensor())
    test_data = CustomImageDataset(test_imgs, test_labels, transform=ToTensor())
    onehot = CustomImageDataset(train_imgs, train_labels, transform=ToTensor(), target_transform=Lambda(
        lambda y: torch.zeros(10, dtype=torch.float).scatter_(0, torch.tensor(y), value=1)))
    img, target = onehot[0]
    det['dataset'] = [len(training_data), list(img.shape), target.tolist(), round(img.mean().item(), 6)]
    train_dataloader = DataLoader(training_data, batch_size=16, shuffle=shuffle)
    test_dataloader = DataLoader(test_data, batch_size=16, shuffle=shuffle)
    train_features, train_labels_b = next(iter(DataLoader(training_data, batch_size=16)))
    det['batch'] = [list(train_features.size()), list(train_labels_b.size()), str(train_labels_b.dtype)]

    # ---- Build the model
    model = NeuralNetwork().to(device)
    net = Net()
    frozen = NeuralNetwork()
    w = torch.randn(5, 3, requires_grad=True)
    b = torch.randn(3, requires_grad=True)
    if args.init_state:
        if os.path.exists(args.init_state):
            state = torch.load(args.init_state)
            model.load_state_dict(state['model'])
            net.load_state_dict(state['net'])
            frozen.load_state_dict(state['frozen'])
            with torch.no_grad():
                w.copy_(state['w'])
                b.copy_(state['b'])
        else:
            torch.save({'model': model.state_dict(), 'net': net.state_dict(), 'frozen': frozen.state_dict(),
                        'w': w.detach(), 'b': b.detach()}, args.init_state)
    X = torch.from_numpy(rng.rand(1, 28, 28).astype(np.float32))
    logits = model(X)
    pred_probab = nn.Softmax(dim=1)(logits)
    y_pred = pred_probab.argmax(1)
    det['model'] = [pred_probab.sum().item(), y_pred.item(), logits.tolist()]
    input_image = torch.from_numpy(rng.rand(3, 28, 28).astype(np.float32))
    flatten = nn.Flatten()
    flat_image = flatten(input_image)
    layer1 = nn.Linear(in_features=28*28, out_features=20)
    with torch.no_grad():
        layer1.weight.copy_(torch.from_numpy(rng.randn(20, 784).astype(np.float32) * 0.03))
        layer1.bias.zero_()
    hidden1 = layer1(flat_image)
    hidden1 = nn.ReLU()(hidden1)
    seq_modules = nn.Sequential(flatten, layer1, nn.ReLU(), nn.Linear(20, 10))
    logits = seq_modules(input_image)
    det['walkthrough'] = [list(flat_image.size()), list(hidden1.size()), (hidden1 > 0).sum().item(),
                          list(logits.shape)]
    det['named_parameters'] = [[name, list(param.size())] for name, param in model.named_parameters()]

    # ---- Automatic differentiation
    x = torch.ones(5)  # input tensor
    y = torch.zeros(3)  # expected output
    z = torch.matmul(x, w)+b
    loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
    print(f"Gradient function for z = {z.grad_fn}")
    print(f"Gradient function for loss = {loss.grad_fn}")
    loss.backward()
    det['autograd'] = [loss.item(), w.grad.tolist(), b.grad.tolist(), grad_fn_name(z.grad_fn),
                       grad_fn_name(loss.grad_fn)]
    z = torch.matmul(x, w)+b
    requires = [z.requires_grad]
    with torch.no_grad():
        z = torch.matmul(x, w)+b
    requires.append(z.requires_grad)
    z = torch.matmul(x, w)+b
    z_det = z.detach()
    requires.append(z_det.requires_grad)
    det['requires_grad'] = requires
    inp = torch.eye(4, 5, requires_grad=True)
    out = (inp+1).pow(2).t()
    out.backward(torch.ones_like(out), retain_graph=True)
    first = inp.grad.tolist()
    out.backward(torch.ones_like(out), retain_graph=True)
    second = inp.grad.tolist()
    inp.grad.zero_()
    out.backward(torch.ones_like(out), retain_graph=True)
    det['jacobian_products'] = [first, second, inp.grad.tolist()]

    # ---- Optimizing model parameters
    learning_rate = 1e-1
    batch_size = 16
    epochs = 3
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
    trained = sto if shuffle else det
    history = []
    for t in range(epochs):
        print(f"Epoch {t+1}\n-------------------------------")
        train_loop(train_dataloader, model, loss_fn, optimizer, batch_size)
        history.append(list(test_loop(test_dataloader, model, loss_fn)))
    print("Done!")
    trained['history'] = history

    # ---- Save and load the model
    with tempfile.TemporaryDirectory() as d:
        torch.save(model.state_dict(), os.path.join(d, 'model_weights.pth'))
        model2 = NeuralNetwork()
        model2.load_state_dict(torch.load(os.path.join(d, 'model_weights.pth'), weights_only=True))
        model2.eval()
        torch.save(model, os.path.join(d, 'model.pth'))
        model3 = torch.load(os.path.join(d, 'model.pth'), weights_only=False)
        EPOCH = 5
        PATH = os.path.join(d, "model.pt")
        LOSS = 0.4
        torch.save({
            'epoch': EPOCH,
            'model_state_dict': model.state_dict(),
            'optimizer_state_dict': optimizer.state_dict(),
            'loss': LOSS,
        }, PATH)
        model4 = NeuralNetwork()
        optimizer4 = optim.SGD(model4.parameters(), lr=0.001)
        checkpoint = torch.load(PATH, weights_only=True)
        model4.load_state_dict(checkpoint['model_state_dict'])
        optimizer4.load_state_dict(checkpoint['optimizer_state_dict'])
        epoch = checkpoint['epoch']
        loss = checkpoint['loss']
        model4.train()
    with torch.no_grad():
        ref = model(train_features)
        same = [torch.equal(ref, m(train_features)) for m in (model2, model3, model4)]
    det['save_load'] = same + [epoch, loss, optimizer4.param_groups[0]['lr'], type(model3).__name__]

    # ---- Blitz: neural networks
    params = list(net.parameters())
    det['net_params'] = [len(params), list(params[0].size())]
    input = torch.from_numpy(rng.randn(1, 1, 32, 32).astype(np.float32))
    out = net(input)
    net.zero_grad()
    out.backward(torch.from_numpy(rng.randn(1, 10).astype(np.float32)))
    det['blitz_backward'] = [out.tolist(), net.conv1.bias.grad.tolist()]
    output = net(input)
    target = torch.from_numpy(rng.randn(10).astype(np.float32))  # a dummy target, for example
    target = target.view(1, -1)  # make it the same shape as output
    criterion = nn.MSELoss()
    loss = criterion(output, target)
    det['grad_fn_chain'] = [grad_fn_name(loss.grad_fn),
                            grad_fn_name(loss.grad_fn.next_functions[0][0]),  # Linear
                            grad_fn_name(loss.grad_fn.next_functions[0][0].next_functions[0][0])]  # ReLU
    net.zero_grad()     # zeroes the gradient buffers of all parameters
    before = net.conv1.bias.grad
    loss.backward()
    det['conv1_bias_grad'] = [None if before is None else before.tolist(), net.conv1.bias.grad.tolist()]
    learning_rate = 0.01
    for f in net.parameters():
        f.data.sub_(f.grad.data * learning_rate)
    # create your optimizer
    optimizer = optim.SGD(net.parameters(), lr=0.01)
    # in your training loop:
    for _ in range(3):
        optimizer.zero_grad()   # zero the gradient buffers
        output = net(input)
        loss = criterion(output, target)
        loss.backward()
        optimizer.step()    # Does the update
    det['blitz_loss'] = loss.item()

    # ---- Blitz: autograd
    a = torch.tensor([2., 3.], requires_grad=True)
    b = torch.tensor([6., 4.], requires_grad=True)
    Q = 3*a**3 - b**2
    external_grad = torch.tensor([1., 1.])
    Q.backward(gradient=external_grad)
    det['blitz_autograd'] = [(9*a**2 == a.grad).tolist(), (-2*b == b.grad).tolist()]
    x = torch.from_numpy(rng.rand(5, 5).astype(np.float32))
    y = torch.from_numpy(rng.rand(5, 5).astype(np.float32))
    z = torch.from_numpy(rng.rand(5, 5).astype(np.float32)).requires_grad_(True)
    a = x + y
    b = x + z
    det['exclusion'] = [a.requires_grad, b.requires_grad]
    # Freeze all the parameters in the network
    for param in frozen.parameters():
        param.requires_grad = False
    frozen.linear_relu_stack[4] = nn.Linear(64, 10)
    with torch.no_grad():
        frozen.linear_relu_stack[4].weight.copy_(torch.from_numpy(rng.randn(10, 64).astype(np.float32) * 0.1))
        frozen.linear_relu_stack[4].bias.zero_()
    # Optimize only the classifier
    optimizer = optim.SGD(frozen.parameters(), lr=1e-2, momentum=0.9)
    for _ in range(2):
        optimizer.zero_grad()
        loss = loss_fn(frozen(train_features), train_labels_b)
        loss.backward()
        optimizer.step()
    det['finetune'] = [loss.item(), [p.grad is None for p in frozen.parameters()],
                       frozen.linear_relu_stack[4].weight.abs().sum().item()]

    result = {'deterministic': det}
    if sto:
        result['stochastic'] = sto
    return result


if __name__ == '__main__':
    print(main())
