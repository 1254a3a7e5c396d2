"""Third-party-style programs that use torch.compile the way recent code does (compiled module,
compiled whole training step with autocast and gradient accumulation), in
compat_tests/programs/compiled/. The reference is torch *eager* (`--no-compile`): Inductor takes
minutes per model on a 2-core CPU, and compiled results must equal eager ones anyway. The jtorch
run compiles. Both start from the same weights (programs/_run.py)."""
import os

import pytest

from programs._run import run_program, assert_metrics_close

COMPILED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "programs", "compiled")

# (program, extra argv, rtol, atol)
PROGRAMS = [
    ("cifar_cnn_compiled", [], 1e-3, 1e-5),
    ("gpt_train_step_compiled", [], 1e-3, 1e-5),
    # bf16 autocast: torch and XLA round bf16 matmuls differently; the trajectories stay within 1 %
    ("gpt_train_step_compiled", ["--dtype", "bfloat16"], 1e-2, 1e-3),
    ("lstm_classifier_compiled", [], 1e-3, 1e-5),
]


@pytest.mark.slow
@pytest.mark.parametrize("name,extra,rtol,atol", PROGRAMS, ids=[" ".join([p[0]] + p[1]) for p in PROGRAMS])
def test_compiled_program_matches_torch_eager(name, extra, rtol, atol, tmp_path):
    pytest.importorskip("torch")
    path = os.path.join(COMPILED, name + ".py")
    argv = ["--init-state", str(tmp_path / "init.pt"), *extra]
    expected = run_program(path, "torch", argv + ["--no-compile"])
    actual = run_program(path, "jtorch", argv)
    assert_metrics_close(expected, actual, rtol=rtol, atol=atol)
