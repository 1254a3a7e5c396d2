"""Shape, joining, indexing-family and matmul-family ops (shape.py, indexing.py, blas.py) vs torch."""
import torch

from opcheck import S, mk, run_table, err, F16, BF16, F32, F64, I32, I64, U8, B, C64

X = mk((3, 4))
X3 = mk((2, 3, 4))


def test_views_and_reshapes():
    run_table("reshape", [S(X, (4, 3)), S(X, (-1,)), S(X, (2, -1, 2)), S(mk(()), (1,)), S(mk((0, 4)), (4, 0)),
                          S(mk((3, 4), I64), (12,))])
    err("reshape", X, (5, 3))
    err("reshape", X, (-1, -1))
    run_table("transpose", [S(X, 0, 1), S(X3, -1, 0), S(mk(()), 0, -1)])
    err("transpose", X, 0, 2)
    run_table("t", [S(X), S(mk((4,))), S(mk(()))])
    err("t", X3)
    run_table("permute", [S(X3, (2, 0, 1)), S(X3, (-1, -2, -3))])
    err("permute", X3, (0, 1))
    run_table("squeeze", [S(mk((3, 1, 4, 1))), S(mk((3, 1, 4, 1)), 1), S(mk((3, 1, 4, 1)), (1, 3)), S(X, 0), S(mk(()))])
    run_table("unsqueeze", [S(X, 0), S(X, -1), S(mk(()), 0)])
    err("unsqueeze", X, 3)
    run_table("flatten", [S(X3), S(X3, 1), S(X3, 0, 1), S(mk(()))])
    run_table("unflatten", [S(X, 1, (2, 2)), S(X, -1, (2, -1))])
    run_table("movedim", [S(X3, 0, 2), S(X3, (0, 1), (2, 0))])
    run_table("narrow", [S(X, 1, 1, 2), S(X, 0, -2, 2)])
    err("narrow", X, 1, 3, 2)
    run_table("select", [S(X, 1, 2), S(X, 0, -1)])
    err("select", X, 0, 3)
    run_table("diagonal", [S(X), S(X, 1), S(X3, 0, 1, 2), S(X, -1, 1, 0)])
    run_table("expand", [S(mk((3, 1)), (3, 4)), S(mk((3, 1)), (2, 3, -1))], forms=("method",))
    run_table("broadcast_to", [S(mk((3, 1)), (3, 4)), S(mk(()), (2,))])
    err("broadcast_to", mk((3, 2)), (3, 4))
    run_table("unfold", [S(mk((7,)), 0, 2, 2), S(X, 1, 2, 1)], forms=("method",))
    run_table("adjoint", [S(mk((3, 4), C64)), S(X)])


def test_split_family():
    run_table("split", [S(X, 2, 1), S(X, [1, 2], 0), S(X, 3), S(mk((0, 4)), 1, 1)])
    err("split", X, [1, 1], 0)
    run_table("chunk", [S(X, 2, 1), S(X, 3), S(mk((5,)), 3), S(mk((0,)), 2)])
    run_table("tensor_split", [S(X, 3, 1), S(X, [1, 3], 1)])
    run_table("unbind", [S(X), S(X, 1)])
    err("unbind", mk(()))


def test_join():
    a, b = mk((3, 4)), mk((2, 4), F32, "pos")
    run_table("cat", [S([a, b]), S([a, mk((3, 2))], 1), S([a, mk((3, 4), I64)], -1), S([a, mk((0,))]),
                      S((mk((3, 4), I32), mk((3, 4), F16)))])
    err("cat", [a, mk((3, 2))])
    err("cat", [a, mk((4,))])
    err("cat", [])
    run_table("concat", [S([a, b])])
    run_table("concatenate", [S([a, b])])
    run_table("stack", [S([a, a]), S([a, a], 2), S([mk(()), mk(())]), S([a, mk((3, 4), I64)], -1)])
    err("stack", [a, b])
    for n in ("hstack", "vstack", "dstack", "column_stack", "row_stack"):
        run_table(n, [S([a, a]), S([mk((4,)), mk((4,))])])


def test_reorder():
    run_table("flip", [S(X, (0,)), S(X3, (0, 2)), S(mk(()), (0,))])
    run_table("fliplr", [S(X)])
    run_table("flipud", [S(X), S(mk((4,)))])
    err("fliplr", mk((3,)))
    run_table("roll", [S(X, 1), S(X, 2, 1), S(X, (1, -1), (0, 1))])
    run_table("rot90", [S(X), S(X, 2), S(X, -1, (1, 0)), S(X3, 1, (1, 2))])
    run_table("repeat", [S(X, (2, 1)), S(mk((3,)), (2, 2))], forms=("method",))
    err("repeat", X, (2,)) if hasattr(torch, "repeat") else None
    run_table("tile", [S(X, (2,)), S(X, (1, 2, 1))])
    run_table("repeat_interleave", [S(X, 2), S(X, 2, 1), S(mk((3,)), torch.tensor([1, 0, 2])),
                                    S(X, torch.tensor([1, 2, 0]), 0)])
    run_table("tril", [S(X), S(X, 1), S(X3, -1), S(mk((3, 4), I64))])
    run_table("triu", [S(X), S(X, -1), S(mk((3, 4), B))])
    err("tril", mk((3,)))
    run_table("diag", [S(mk((3,))), S(X), S(X, 1), S(mk((3,)), -1)])
    run_table("diag_embed", [S(X), S(X, 1), S(X, 0, 0, 2)])
    run_table("diagflat", [S(mk((3,))), S(X, 1)])
    run_table("diff", [S(X), S(X, 2, 0), S(X, 1, -1, mk((3, 1)), mk((3, 2)))])


def test_meshgrid_broadcast_einsum():
    a, b = mk((3,)), mk((4,))
    run_table("meshgrid", [S(a, b, indexing="ij"), S(a, b, indexing="xy"), S([a, b], indexing="ij")], forms=("fn",))
    run_table("broadcast_tensors", [S(mk((3, 1)), mk((4,))), S(mk(()), mk((2, 2)))], forms=("fn",))
    err("broadcast_tensors", mk((3,)), mk((4,)))
    run_table("einsum", [S("ij,jk->ik", mk((3, 4)), mk((4, 2))), S("ii", mk((3, 3))), S("bij->bji", X3),
                         S("i,j", a, b), S("ij,jk", [mk((3, 4)), mk((4, 2))])], forms=("fn",))


def test_gather_scatter():
    idx = mk((3, 2), I64, "idx4")
    run_table("gather", [S(X, 1, idx), S(X, 0, mk((2, 4), I64, "idx3")), S(mk((3, 4), I64), 1, idx)])
    err("gather", X, 1, idx.float())
    err("gather", X, 2, idx)
    src = mk((3, 2), F32, "pos")
    run_table("scatter", [S(X, 1, idx, src), S(X, 1, idx, 2.5), S(X, 0, mk((2, 4), I64, "idx3"), mk((2, 4))),
                          S(X, 1, idx, src, reduce="add"), S(X, 1, idx, src, reduce="multiply")])
    run_table("scatter_add", [S(X, 1, idx, src), S(X, 0, mk((2, 4), I64, "idx3"), mk((2, 4)))])
    for r in ("sum", "prod", "mean", "amax", "amin"):
        run_table("scatter_reduce", [S(X, 1, idx, src, r), S(X, 1, idx, src, r, include_self=False)])
    vi = torch.tensor([2, 0])
    # a 0-d index is one element of a 0-d or 1-d input (the one-hot Lambda of the data tutorial:
    # torch.zeros(10).scatter_(0, torch.tensor(y), value=1))
    v, i0 = mk((5,)), torch.tensor(3)
    run_table("scatter", [S(v, 0, i0, value=1.0), S(v, 0, i0, torch.tensor(2.5)), S(v, 0, i0, mk((3,))),
                          S(mk(()), 0, torch.tensor(0), torch.tensor(2.5)), S(v, 0, i0, 2.0, reduce="add")])
    run_table("scatter_add", [S(v, 0, i0, torch.tensor(2.5)), S(v, 0, i0, mk((3,)))])
    run_table("scatter_reduce", [S(v, 0, i0, torch.tensor(2.5), "amax"), S(v, 0, i0, mk((3,)), "prod")])
    run_table("gather", [S(v, 0, i0), S(mk(()), 0, torch.tensor(0))])
    err("scatter", X, 1, i0, 1.0)
    err("scatter_add", X, 1, torch.tensor([1]), mk((1,)))
    run_table("index_select", [S(X, 0, vi), S(X, 1, torch.tensor([3, 3, 0])), S(mk((3,)), 0, vi)])
    err("index_select", X, 0, torch.tensor([[0]]))
    run_table("index_add", [S(X, 0, vi, mk((2, 4))), S(X, 1, torch.tensor([1, 3]), mk((3, 2)), alpha=2.0)])
    run_table("index_copy", [S(X, 0, vi, mk((2, 4))), S(X, 1, torch.tensor([1, 3]), mk((3, 2)))])
    run_table("index_fill", [S(X, 0, vi, -1.0), S(X, 1, torch.tensor([1, 3]), 2)])
    for r in ("prod", "mean", "amax", "amin"):
        run_table("index_reduce", [S(X, 0, vi, mk((2, 4)), r), S(X, 0, vi, mk((2, 4)), r, include_self=False)])
    run_table("index_put", [S(X, (vi,), torch.tensor(1.5)), S(X, (vi, torch.tensor([1, 3])), torch.tensor([1.0, 2.0])),
                            S(X, (vi,), mk((4,)), True)])
    run_table("take", [S(X, torch.tensor([0, 11, 5])), S(X, torch.tensor([[1, -1]]))])
    err("take", X, torch.tensor([12]))
    run_table("take_along_dim", [S(X, idx, 1), S(X, torch.tensor([0, 5]))])


def test_masked():
    m = mk((3, 4), B)
    run_table("masked_fill", [S(X, m, -1.0), S(X, mk((4,), B), 2), S(mk((3, 4), I64), m, 7), S(X, m, torch.tensor(3.0))])
    err("masked_fill", X, m.float(), 1.0)
    err("masked_fill", X, m, torch.tensor([1.0, 2.0]))
    run_table("masked_select", [S(X, m), S(X, mk((4,), B)), S(mk((3, 4), I64), m)], forms=("fn", "method"))
    run_table("masked_scatter", [S(X, m, mk((3, 4), F32, "pos")), S(X, mk((4,), B), mk((12,)))],
              forms=("fn", "method", "inplace"))
    run_table("nonzero", [S(X > 0), S(mk((3, 4), I64)), S(mk((0,))), S(torch.tensor(1.0)), S(X > 0, as_tuple=True)],
              forms=("fn", "method"))
    run_table("argwhere", [S(X > 0), S(mk((3, 4), I64))], forms=("fn", "method"))


def test_blas():
    a, b = mk((3, 4)), mk((4, 2))
    run_table("mm", [S(a, b), S(mk((3, 4), F64), mk((4, 2), F64)), S(mk((0, 4)), b), S(mk((3, 4), I64), mk((4, 2), I64))])
    err("mm", a, mk((3, 2)))
    err("mm", a, mk((4,)))
    err("mm", a, mk((4, 2), F64))
    run_table("bmm", [S(X3, mk((2, 4, 5)))])
    err("bmm", X3, mk((3, 4, 5)))
    run_table("matmul", [S(a, b), S(mk((4,)), mk((4,))), S(a, mk((4,))), S(mk((3,)), a), S(X3, b),
                         S(mk((2, 1, 3, 4)), mk((5, 4, 2)))])
    err("matmul", a, mk((3, 2)))
    err("matmul", mk(()), a)
    run_table("addmm", [S(mk((3, 2)), a, b), S(mk((2,)), a, b, beta=0.5, alpha=2.0)])
    run_table("addmv", [S(mk((3,)), a, mk((4,))), S(mk((3,)), a, mk((4,)), beta=2, alpha=0.5)])
    run_table("addr", [S(mk((3, 4)), mk((3,)), mk((4,)))])
    run_table("baddbmm", [S(mk((2, 3, 5)), X3, mk((2, 4, 5)), alpha=0.5)])
    run_table("addbmm", [S(mk((3, 5)), X3, mk((2, 4, 5)))])
    run_table("outer", [S(mk((3,)), mk((4,))), S(mk((3,), I64), mk((4,)))])
    run_table("ger", [S(mk((3,)), mk((4,)))])
    run_table("dot", [S(mk((4,)), mk((4,), F32, "pos")), S(mk((4,), I64), mk((4,), I64))])
    err("dot", mk((4,)), mk((3,)))
    err("dot", mk((4,)), mk((4,), F64))
    run_table("vdot", [S(mk((4,), C64), mk((4,), C64)), S(mk((4,)), mk((4,)))])
    run_table("inner", [S(a, mk((2, 4))), S(mk((4,)), mk((4,)))])
    run_table("mv", [S(a, mk((4,)))])
    run_table("tensordot", [S(X3, mk((3, 4, 2))), S(a, b, 1), S(a, mk((4, 3)), ([1, 0], [0, 1]))], forms=("fn",))
    run_table("kron", [S(mk((2, 2)), mk((2, 3))), S(mk((2,)), mk((3,)))])
    run_table("cross", [S(mk((4, 3)), mk((4, 3))), S(mk((3, 4)), mk((3, 4)), 0)])
    run_table("chain_matmul", [S(a, b, mk((2, 3)))], forms=("fn",))
    run_table("trace", [S(a), S(mk((3, 3), I64))])
    run_table("block_diag", [S(mk((2, 2)), mk((1, 3))), S(mk((2,)), mk(()))], forms=("fn",))
