"""Cholesky on a matrix that is not positive-definite: torch.linalg.cholesky / torch.cholesky /
cholesky_ex(check_errors=True) raise torch.linalg.LinAlgError naming the failing leading minor,
and cholesky_ex's info is that minor's order (LAPACK potrf's), not just a failure flag.
Code such as GPyTorch's psd_safe_cholesky relies on both to add jitter and retry. Also the
torch.linalg namespace's spellings of main-namespace ops (torch.linalg.matmul)."""
import numpy as np
import pytest
import torch

import jtorch
from oracle import assert_same, to_j

NOT_PD = [
    [[1.0, 2.0], [2.0, 1.0]],
    [[4.0, 2.0, 0.0], [2.0, 5.0, 0.0], [0.0, 0.0, -1.0]],
    [[4.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]],   # singular: a zero pivot
    [[float("nan"), 0.0], [0.0, 1.0]],
    [[-1.0]],
]


@pytest.mark.parametrize("A", NOT_PD)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cholesky_ex_info_is_order_of_failing_minor(A, dtype):
    t = torch.tensor(A, dtype=dtype)
    assert_same(jtorch.linalg.cholesky_ex(to_j(t)).info, torch.linalg.cholesky_ex(t).info)


def test_cholesky_ex_info_batched_and_upper():
    rng = np.random.default_rng(0)
    B = rng.standard_normal((3, 4, 4))
    A = B @ B.transpose(0, 2, 1) + 4 * np.eye(4)
    A[1, 2, 2] = -50.0
    A[2, 0, 0] = -1.0
    t = torch.tensor(A)
    for upper in (False, True):
        rt = torch.linalg.cholesky_ex(t, upper=upper)
        rj = jtorch.linalg.cholesky_ex(to_j(t), upper=upper)
        assert_same(rj.info, rt.info)
        assert_same(rj.L[0], rt.L[0])   # the positive-definite element is factorised as usual


@pytest.mark.parametrize("call", [
    lambda m, A: m.linalg.cholesky(A),
    lambda m, A: m.linalg.cholesky(A, upper=True),
    lambda m, A: m.cholesky(A),
    lambda m, A: A.cholesky(),
    lambda m, A: m.linalg.cholesky_ex(A, check_errors=True),
    lambda m, A: m.linalg.cholesky(A.expand(2, 2, 2)),
])
def test_cholesky_not_positive_definite_raises_linalg_error(call):
    A = torch.tensor([[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(torch.linalg.LinAlgError) as et:
        call(torch, A)
    with pytest.raises(jtorch.linalg.LinAlgError) as ej:
        call(jtorch, to_j(A))
    assert isinstance(ej.value, RuntimeError)
    assert str(ej.value) == str(et.value)


def test_cholesky_positive_definite_still_differentiable():
    A = torch.tensor([[4.0, 2.0], [2.0, 5.0]], dtype=torch.float64, requires_grad=True)
    Aj = to_j(A)
    torch.linalg.cholesky(A).sum().backward()
    jtorch.linalg.cholesky(Aj).sum().backward()
    assert_same(Aj.grad, A.grad)
    # cholesky_ex without check_errors never raises; its info is 0
    assert jtorch.linalg.cholesky_ex(to_j(A)).info.item() == 0


def test_linalg_matmul_is_matmul():
    rng = np.random.default_rng(0)
    a = torch.tensor(rng.standard_normal((2, 3, 4)), dtype=torch.float32)
    b = torch.tensor(rng.standard_normal((4, 5)), dtype=torch.float32)
    assert_same(jtorch.linalg.matmul(to_j(a), to_j(b)), torch.linalg.matmul(a, b))
    out_t, out_j = torch.empty(2, 3, 5), jtorch.empty(2, 3, 5)
    torch.linalg.matmul(a, b, out=out_t)
    jtorch.linalg.matmul(to_j(a), to_j(b), out=out_j)
    assert_same(out_j, out_t)
