"""The shipped examples run end to end with --tiny (few steps, little data): DataLoader, progress
bar, lr scheduler, checkpoint save + --resume, loss plot. The MLP (the README's example) is in the
default run; the others take longer on 2 cores and are marked slow. The seed snippets (torch code,
unmodified) run through `jtorch run`."""
import os
import runpy
import subprocess
import sys

import pytest

import jtorch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")


def _run_example(name, out, *flags):
    """Run examples/<name> in this process (warm kernel caches keep it fast), as `python name ...`."""
    argv, path = sys.argv, list(sys.path)
    sys.argv = [name, "--tiny", "--out", str(out), *flags]
    sys.path.insert(0, EXAMPLES)
    try:
        runpy.run_path(os.path.join(EXAMPLES, name), run_name="__main__")
    finally:
        sys.argv, sys.path[:] = argv, path


def _plot_written(out, png):
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return True
    return os.path.getsize(os.path.join(out, png)) > 1000


def _checkpoint(out, name):
    return jtorch.load(os.path.join(out, name), weights_only=True)


def test_mlp_example_trains_checkpoints_and_resumes(tmp_path, capsys):
    _run_example("mlp_classifier.py", tmp_path)
    state = _checkpoint(tmp_path, "mlp.pt")
    assert set(state) >= {"model", "opt", "sched", "epoch", "losses"}
    assert state["epoch"] == 0 and len(state["losses"]) > 0
    assert state["sched"]["last_epoch"] == len(state["losses"])  # the scheduler stepped once per batch
    assert _plot_written(tmp_path, "mlp_loss.png")
    _run_example("mlp_classifier.py", tmp_path, "--resume")
    assert "resumed from" in capsys.readouterr().out


@pytest.mark.slow
def test_lstm_example_resume_continues_training(tmp_path, capsys):
    _run_example("lstm_sequence.py", tmp_path, "--epochs", "1")
    first = _checkpoint(tmp_path, "lstm.pt")
    _run_example("lstm_sequence.py", tmp_path, "--epochs", "2", "--resume")
    second = _checkpoint(tmp_path, "lstm.pt")
    assert "resumed from" in capsys.readouterr().out
    assert second["epoch"] == 1 and len(second["losses"]) == 2 * len(first["losses"])
    assert second["losses"][:len(first["losses"])] == first["losses"]
    assert second["sched"]["last_epoch"] == 2 and second["opt"]["state"]
    assert _plot_written(tmp_path, "lstm_loss.png")


@pytest.mark.slow
def test_cnn_batchnorm_example(tmp_path):
    _run_example("cnn_batchnorm.py", tmp_path)
    state = _checkpoint(tmp_path, "cnn.pt")
    assert any(k.endswith("running_mean") for k in state["model"])  # BatchNorm statistics are saved
    assert _plot_written(tmp_path, "cnn_loss.png")


@pytest.mark.slow
def test_char_gpt_example(tmp_path):
    _run_example("char_gpt.py", tmp_path)
    state = _checkpoint(tmp_path, "char_gpt.pt")
    assert state["step"] == 29 and len(state["losses"]) == 30
    assert _plot_written(tmp_path, "char_gpt_loss.png")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(n for n in os.listdir(os.path.join(EXAMPLES, "seed")) if n.endswith(".py")))
def test_seed_snippet_runs_unmodified(name):
    r = subprocess.run([sys.executable, "-m", "jtorch", "run", os.path.join(EXAMPLES, "seed", name)],
                       capture_output=True, text=True, timeout=600, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT))
    assert r.returncode == 0, r.stderr[-3000:]
