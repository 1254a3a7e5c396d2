"""jtorch.utils.tensorboard.SummaryWriter against torch's: both write a run, the event files are
read back with TensorBoard's loader and compared summary by summary (tags, steps, values)."""
import glob
import os

import numpy as np
import pytest
import torch

import jtorch

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader  # noqa: E402


def _events(logdir):
    out = {}
    for path in sorted(glob.glob(os.path.join(logdir, "**", "events.out.tfevents.*"), recursive=True)):
        run = os.path.relpath(os.path.dirname(path), logdir)
        for ev in EventFileLoader(path).Load():
            for v in ev.summary.value:
                out.setdefault((run, v.tag), []).append((ev.step, v))
    return out


def _write(lib, logdir):
    from importlib import import_module
    SummaryWriter = import_module(lib.__name__ + ".utils.tensorboard").SummaryWriter
    rng = np.random.default_rng(0)
    with SummaryWriter(log_dir=logdir) as w:
        for step in range(3):
            w.add_scalar("loss/train", lib.tensor(1.0 / (step + 1)), step)
            w.add_scalar("lr", 0.1 * step, step, new_style=True)
            w.add_scalars("metrics", {"a": step, "b": lib.tensor(2.0 * step)}, step)
            w.add_histogram("weights", lib.tensor(rng.standard_normal(200).astype(np.float32)), step)
            w.add_histogram("few", np.array([1.0, 2.0, 2.5, 10.0]), step, bins=4, max_bins=3)
        w.add_text("notes", "hello *tensorboard*", 0)
        w.add_image("img", lib.tensor(rng.random((3, 4, 5)).astype(np.float32)), 0)
        w.add_image("img_u8", (rng.random((4, 5, 1)) * 255).astype(np.uint8), 0, dataformats="HWC")
        w.add_hparams({"lr": 0.1, "opt": "adam", "bs": 32}, {"hp/acc": 0.5}, run_name="hp")


def test_summary_writer_matches_torch(tmp_path):
    _write(torch, str(tmp_path / "t"))
    _write(jtorch, str(tmp_path / "j"))
    te, je = _events(str(tmp_path / "t")), _events(str(tmp_path / "j"))
    assert sorted(te) == sorted(je)
    for key in te:
        assert [s for s, _ in te[key]] == [s for s, _ in je[key]], key
        for (_, tv), (_, jv) in zip(te[key], je[key]):
            if tv.HasField("image"):   # same size and pixels (PNG bytes may differ by encoder settings)
                from PIL import Image
                import io
                ti = np.asarray(Image.open(io.BytesIO(tv.image.encoded_image_string)))
                ji = np.asarray(Image.open(io.BytesIO(jv.image.encoded_image_string)))
                assert ti.shape == ji.shape and np.array_equal(ti, ji), key
                continue
            assert tv == jv, key


def test_add_graph_warns_and_unsupported_raise(tmp_path):
    from jtorch.utils.tensorboard import SummaryWriter
    w = SummaryWriter(log_dir=str(tmp_path))
    with pytest.warns(UserWarning, match="add_graph"):
        w.add_graph(jtorch.nn.Linear(2, 2), jtorch.ones(1, 2))
    with pytest.raises(NotImplementedError):
        w.add_embedding(jtorch.ones(3, 2))
    w.close()
