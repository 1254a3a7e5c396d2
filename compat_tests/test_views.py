"""Views with torch's aliasing: writes through a view reach the base and vice versa; _version counts."""
import numpy as np
import pytest
import torch

import jtorch
from oracle import assert_same, to_j

VIEWS = {
    "view": lambda x: x.view(4, 3),
    "reshape": lambda x: x.reshape(2, 6),
    "transpose": lambda x: x.transpose(0, 1),
    "t": lambda x: x.t(),
    "permute": lambda x: x.permute(1, 0),
    "squeeze": lambda x: x[None].squeeze(0),
    "unsqueeze": lambda x: x.unsqueeze(1),
    "expand": lambda x: x[:1].expand(3, 4),
    "narrow": lambda x: x.narrow(1, 1, 2),
    "select": lambda x: x.select(0, 1),
    "slice": lambda x: x[1:, ::2],
    "int-index": lambda x: x[1],
    "ellipsis-none": lambda x: x[..., None, 1],
    "split": lambda x: x.split(2, dim=1)[1],
    "chunk": lambda x: x.chunk(2, dim=1)[0],
    "unbind": lambda x: x.unbind(1)[2],
    "diagonal": lambda x: x.diagonal(),
    "unflatten": lambda x: x.unflatten(1, (2, 2)),
    "movedim": lambda x: x.movedim(0, 1),
    "T": lambda x: x.T,
    "mT": lambda x: x.mT,
    "view_as": lambda x: x.view_as(torch.zeros(12) if isinstance(x, torch.Tensor) else jtorch.zeros(12)),
    "detach": lambda x: x.detach(),
    "data": lambda x: x.data,
    "flatten": lambda x: x.flatten(),
    "chain": lambda x: x.t()[1:].unsqueeze(0)[0, :, 1],
}


def _pair():
    t = torch.arange(12.0).reshape(3, 4)
    return t, to_j(t)


@pytest.mark.parametrize("name", list(VIEWS))
def test_write_through_view_and_base(name):
    f = VIEWS[name]
    t, j = _pair()
    tv, jv = f(t), f(j)
    assert_same(jv, tv)
    # write through the view -> visible in the base
    if name != "expand":     # torch forbids in-place writes to an expanded view with overlap only for some ops
        tv.mul_(-1)
        jv.mul_(-1)
        assert_same(j, t, msg=f"{name}: base after writing through view")
        assert_same(jv, tv)
    # write to the base -> visible in the view
    t.add_(100)
    j.add_(100)
    assert_same(jv, tv, msg=f"{name}: view after writing to base")
    t[0, 0] = -5
    j[0, 0] = -5
    assert_same(jv, tv, msg=f"{name}: view after setitem on base")
    if name != "data":   # known divergence: torch's .data has its own version counter; jtorch's shares the base's
        assert j._version == t._version, f"{name}: _version {j._version} != torch {t._version}"
        assert jv._version == tv._version


def test_setitem_through_view_and_copy():
    t, j = _pair()
    t[:, 1][1:] = 7.0
    j[:, 1][1:] = 7.0
    assert_same(j, t)
    t.t()[2].copy_(torch.tensor([1.0, 2.0, 3.0]))
    j.t()[2].copy_(jtorch.tensor([1.0, 2.0, 3.0]))
    assert_same(j, t)
    p, jp = torch.zeros(3), jtorch.zeros(3)
    p.data.copy_(torch.ones(3))
    jp.data.copy_(jtorch.ones(3))
    assert_same(jp, p)
    r, jr = t.reshape(12), j.reshape(12)     # reshape of a contiguous tensor is a view
    r[0] = 42.0
    jr[0] = 42.0
    assert_same(j, t)
    nc, jnc = t.t().reshape(12), j.t().reshape(12)   # reshape of a non-contiguous one copies (torch)
    assert_same(jnc, nc)


def test_version_counter():
    t, j = _pair()
    seq = [lambda x: x.add_(1), lambda x: x.mul_(2), lambda x: x.__setitem__(0, 1.0), lambda x: x.zero_(),
           lambda x: x.fill_(3.0), lambda x: x.clamp_(0, 1), lambda x: x[1].sub_(1)]
    for op in seq:
        op(t)
        op(j)
        assert j._version == t._version
    assert_same(j, t)
    assert j.detach()._version == t.detach()._version
    c, jc = t.clone(), j.clone()
    assert jc._version == c._version == 0


def _factorizations(n, k):
    if k == 1:
        yield (n,)
        return
    for a in range(1, n + 1):
        if n % a == 0:
            for rest in _factorizations(n // a, k - 1):
                yield (a,) + rest


NONCONTIG = {
    "t": (lambda x: x.t(), (2, 3)),
    "t-unsqueeze": (lambda x: x.t().unsqueeze(0), (2, 3)),
    "t-unsqueeze-mid": (lambda x: x.t().unsqueeze(1), (2, 3)),
    "expand": (lambda x: x.unsqueeze(-1).expand(2, 3, 2), (2, 3)),
    "expand-lead": (lambda x: x.expand(2, 2, 3), (2, 3)),
    "slice-step": (lambda x: x[:, ::2], (2, 4, 2)),
    "narrow": (lambda x: x[:, 1:], (2, 3, 2)),
    "narrow-rows": (lambda x: x[1:], (3, 2, 2)),
    **{f"permute{p}": (lambda x, p=p: x.permute(p), (2, 3, 2)) for p in
       [(0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)]},
}


@pytest.mark.parametrize("name", list(NONCONTIG))
def test_view_of_non_contiguous_allowed_or_refused_as_torch(name):
    f, shape = NONCONTIG[name]
    t = torch.arange(float(np.prod(shape))).reshape(shape)
    tv, jv = f(t), f(to_j(t))
    assert jv.stride() == tv.stride() or 1 in tv.shape
    n = tv.numel()
    targets = [s for k in (1, 2, 3) for s in _factorizations(n, k)] + [(-1,), (1, -1), (-1, 1, 1)]
    for shape2 in targets:
        try:
            tr = tv.view(shape2)
        except RuntimeError as e:
            assert "view size is not compatible" in str(e)
            with pytest.raises(RuntimeError, match=r"view size is not compatible with input tensor's size and "
                                                   r"stride .*Use \.reshape\(\.\.\.\) instead\."):
                jv.view(shape2)
            continue
        jr = jv.view(shape2)
        assert_same(jr, tr, msg=f"{name}.view{shape2}")
        if tr.numel() and name != "expand" and name != "expand-lead":   # write through the allowed view
            tr[(0,) * tr.dim()] = -1.0
            jr[(0,) * jr.dim()] = -1.0
            assert_same(jv, tv, msg=f"{name}.view{shape2} write-through")


def test_view_error_cases_match_torch():
    t = torch.arange(6.0).reshape(2, 3)
    j = to_j(t)
    for lib, x in ((torch, t), (jtorch, j)):
        with pytest.raises(RuntimeError, match="view size is not compatible"):
            x.t().view(-1)
        with pytest.raises(RuntimeError, match="view size is not compatible"):
            x.t().view(2, 3)
        with pytest.raises(RuntimeError, match="view size is not compatible"):
            x.t().view_as(lib.zeros(6))
    assert_same(j.t().view(3, 2, 1), t.t().view(3, 2, 1))
    assert_same(j.t().reshape(-1), t.t().reshape(-1))       # reshape copies instead
    assert_same(j.t().contiguous().view(-1), t.t().contiguous().view(-1))
    # channels_last: row-major dims are not adjacent in memory
    c = torch.arange(24.0).reshape(1, 2, 3, 4).contiguous(memory_format=torch.channels_last)
    jc = to_j(c).contiguous(memory_format=jtorch.channels_last)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        c.view(-1)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        jc.view(-1)
    assert_same(jc.view(1, 2, 12), c.view(1, 2, 12))


def test_strides_after_a_reshape_torch_copies():
    # torch's reshape of a non-viewable layout is a contiguous copy: later views and strides follow it
    x = torch.arange(24.0).reshape(2, 3, 4)
    j = to_j(x)
    for f in (lambda a: a.permute(2, 0, 1).reshape(8, 3), lambda a: a.permute(2, 0, 1).reshape(8, 3).t(),
              lambda a: a.permute(2, 0, 1).reshape(4, 6), lambda a: a.transpose(0, 2).reshape(-1)[2:]):
        tv, jv = f(x), f(j)
        assert jv.stride() == tv.stride() and jv.is_contiguous() == tv.is_contiguous()
        for shape in ((-1,), (2, -1), (-1, 2)):
            try:
                tr = tv.view(shape)
            except RuntimeError:
                with pytest.raises(RuntimeError, match="view size is not compatible"):
                    jv.view(shape)
                continue
            assert_same(jv.view(shape), tr)


def test_storage_offset_of_views():
    x = torch.arange(24.0).reshape(2, 3, 4)
    j = to_j(x)
    z = torch.arange(6.0).reshape(2, 3) * (1 + 1j)
    jz = to_j(z)
    for f, a, ja in ((lambda v: v[1], x, j), (lambda v: v[:, 1:, 2:], x, j), (lambda v: v.t()[1], x[0], j[0]),
                     (lambda v: v.reshape(-1)[5:].view(19), x, j), (lambda v: v.diagonal(1, 1, 2), x, j),
                     (lambda v: torch.view_as_real(v[1, 1:]) if isinstance(v, torch.Tensor) else
                      jtorch.view_as_real(v[1, 1:]), z, jz)):
        assert f(ja).storage_offset() == f(a).storage_offset()
        assert f(ja).stride() == f(a).stride()


def test_view_as_real_writes_through():
    z = torch.tensor([1.0 + 2j, 3 - 1j, 0.5 + 0.5j])
    jz = to_j(z)
    r, jr = torch.view_as_real(z), jtorch.view_as_real(jz)
    assert jr.stride() == r.stride()
    r.add_(1)
    jr.add_(1)
    assert_same(jz, z)
    assert jz._version == z._version
    r[1, 1] = 7.0
    jr[1, 1] = 7.0
    assert_same(jz, z)
    z.mul_(2)
    jz.mul_(2)
    assert_same(jr, r)
    # of a non-contiguous complex view
    z2 = torch.arange(6.0).reshape(2, 3) * (1 + 1j)
    jz2 = to_j(z2)
    r2, jr2 = torch.view_as_real(z2.t()), jtorch.view_as_real(jz2.t())
    assert jr2.stride() == r2.stride()
    r2[0].zero_()
    jr2[0].zero_()
    assert_same(jz2, z2)


def test_view_as_complex_round_trip_and_checks():
    x = torch.arange(12.0).reshape(3, 2, 2)
    jx = to_j(x)
    c, jc = torch.view_as_complex(x), jtorch.view_as_complex(jx)
    assert_same(jc, c)
    assert jc.stride() == c.stride()
    c.mul_(1j)
    jc.mul_(1j)
    assert_same(jx, x)
    back, jback = torch.view_as_real(c), jtorch.view_as_real(jc)
    back.sub_(1)
    jback.sub_(1)
    assert_same(jx, x)
    assert_same(jc, c)
    ct, jct = torch.view_as_complex(x.transpose(0, 1)), jtorch.view_as_complex(jx.transpose(0, 1))
    assert jct.stride() == ct.stride()
    ct.add_(1)
    jct.add_(1)
    assert_same(jx, x)
    bad = [lambda m, v: m.view_as_complex(v[:, :, :1].expand(3, 2, 2)),          # last stride 0
           lambda m, v: m.view_as_complex(v.reshape(-1)[1:7].view(3, 2)),        # odd offset
           lambda m, v: m.view_as_complex(v.reshape(4, 3)[:, :2]),               # odd stride
           lambda m, v: m.view_as_complex(v.int()),
           lambda m, v: m.view_as_complex(v[..., :1])]
    for f in bad:
        with pytest.raises(RuntimeError) as te:
            f(torch, x)
        with pytest.raises(RuntimeError) as je:
            f(jtorch, jx)
        assert str(je.value) == str(te.value)


def test_view_as_real_inplace_autograd():
    def run(lib):
        w = lib.tensor([1.0 + 2j, 3 - 1j, 0.5 + 0.5j], requires_grad=True)
        z = w * 2
        r = lib.view_as_real(z)
        r.mul_(lib.tensor([1.0, 3.0]))
        loss = (z.abs() ** 2).sum() + lib.view_as_complex(r).real.sum()
        loss.backward()
        return z.detach(), w.grad
    assert_same(run(jtorch), run(torch))


@pytest.mark.parametrize("make", [
    lambda x: x.t().reshape(-1), lambda x: x.t().flatten(), lambda x: x[:, :2].reshape(-1),
    lambda x: x.t().reshape(3, 2), lambda x: x.reshape(-1), lambda x: x.unsqueeze(0).transpose(0, 1).flatten(),
    lambda x: x[:, 1:].flatten(0, 1), lambda x: x.t()[::2].reshape(-1), lambda x: x.expand(2, 2, 3).reshape(4, 3),
])
def test_reshape_copies_exactly_where_torch_does(make):
    # reshape/flatten of a view that strides cannot express is a copy in torch: writing into the
    # result must leave the source alone; a viewable reshape still writes through
    results = []
    for lib in (torch, jtorch):
        x = lib.arange(6.0).reshape(2, 3)
        y = make(x)
        y[(0,) * y.ndim] = 100.0
        y[(-1,) * y.ndim] = -1.0
        results.append((x.tolist(), y.tolist()))
    assert results[0] == results[1]


def test_copying_reshape_keeps_gradients():
    t = torch.arange(6.0).reshape(2, 3).requires_grad_()
    j = jtorch.arange(6.0).reshape(2, 3).requires_grad_()
    for x, lib in ((t, torch), (j, jtorch)):
        y = x.t().reshape(-1)
        (y * lib.arange(6.0)).sum().backward()
    assert_same(j.grad, t.grad)
