"""pytorch/examples programs (compat_tests/programs/examples/), kept close to the originals with
datasets replaced by generated data: run under torch and under swapped imports from the same
initial weights, metrics compared."""
import os

import pytest

from programs._run import run_program, assert_metrics_close

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "programs", "examples")
PROGRAMS = {
    # float64 LSTMCells + LBFGS: equal to float64 rounding
    "time_sequence_prediction": (1e-6, 1e-8),
    "forward_forward": (1e-4, 1e-6),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_example_program_matches_torch(name, tmp_path):
    pytest.importorskip("torch")
    path = os.path.join(EXAMPLES, name + ".py")
    argv = ["--init-state", str(tmp_path / "init.pt")]
    expected = run_program(path, "torch", argv)
    actual = run_program(path, "jtorch", argv)
    rtol, atol = PROGRAMS[name]
    assert_metrics_close(expected, actual, rtol=rtol, atol=atol)
