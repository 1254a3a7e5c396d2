"""Graph neural network programs on torch.sparse (compat_tests/programs/graph/): the
pytorch/examples GCN and Kipf's pygcn style, run under torch and under jtorch's dense-backed sparse
tensors (jtorch/_sparse.py), from the same initial weights."""
import os
import warnings

import pytest

from programs._run import run_program, assert_metrics_close

GRAPH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "programs", "graph")
PROGRAMS = {"gcn_examples": (1e-4, 1e-5), "pygcn": (1e-4, 1e-5)}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_graph_program_matches_torch(name, tmp_path):
    pytest.importorskip("torch")
    path = os.path.join(GRAPH, name + ".py")
    argv = ["--init-state", str(tmp_path / "init.pt")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # torch's sparse beta/deprecation warnings
        expected = run_program(path, "torch", argv)
    actual = run_program(path, "jtorch", argv)
    rtol, atol = PROGRAMS[name]
    assert_metrics_close(expected, actual, rtol=rtol, atol=atol)
