"""Small shared pieces for the examples: device choice, a progress bar, checkpoints, loss plots."""
import argparse
import os
import sys
import time

import jtorch as torch


def default_device():
    if torch.cuda.is_available():
        return "cuda"
    return "cpu"


def progress(iterable, total=None, desc=""):
    """tqdm when installed, else a one-line text bar."""
    try:
        from tqdm import tqdm
        return tqdm(iterable, total=total, desc=desc, leave=False, file=sys.stdout)
    except ImportError:
        return _Bar(iterable, total, desc)


class _Bar:
    def __init__(self, it, total, desc):
        self.it, self.total, self.desc = it, total, desc

    def __iter__(self):
        n = self.total or len(self.it)
        t0 = time.time()
        for i, x in enumerate(self.it):
            yield x
            if i % max(n // 20, 1) == 0 or i == n - 1:
                print(f"\r{self.desc} {i + 1}/{n} ({time.time() - t0:.1f}s)", end="", flush=True)
        print("\r", end="")


def example_args(description, tiny=None, **defaults):
    """The flags every example takes: --epochs/--steps (defaults given by the example; `tiny`
    holds the smaller defaults --tiny uses unless the flag is given), --resume, --tiny (a few
    steps on a small data set: the smoke test CI runs) and --out."""
    p = argparse.ArgumentParser(description=description)
    for name, value in defaults.items():
        p.add_argument("--" + name.replace("_", "-"), type=type(value), default=None, help=f"default {value}")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    p.add_argument("--tiny", action="store_true", help="a few steps on little data (smoke test)")
    p.add_argument("--out", default=None, help="where checkpoints and plots go (default examples/out)")
    args = p.parse_args()
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, (tiny or {}).get(name, value) if args.tiny else value)
    if args.out:
        os.environ["JTORCH_EXAMPLES_OUT"] = args.out
    return args


def save_checkpoint(path, **state):
    """Write model/optimizer/scheduler state dicts (and anything else) in PyTorch's file format;
    written to a temporary name first so an interrupted save never leaves a broken checkpoint."""
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path, map_location="cpu"):
    return torch.load(path, map_location=map_location, weights_only=True)


def resume(path, model, opt=None, sched=None, map_location="cpu"):
    """Load a checkpoint written by `save_checkpoint(model=..., opt=..., sched=..., ...)` into the
    given objects; returns the checkpoint dict (its "epoch"/"step", "losses", ...), or None when
    there is no checkpoint yet."""
    if not os.path.exists(path):
        print(f"(no checkpoint at {path}: starting from scratch)")
        return None
    state = load_checkpoint(path, map_location)
    model.load_state_dict(state["model"])
    if opt is not None and "opt" in state:
        opt.load_state_dict(state["opt"])
    if sched is not None and "sched" in state:
        sched.load_state_dict(state["sched"])
    if "rng" in state:
        torch.set_rng_state(state["rng"])
    print(f"resumed from {path}")
    return state


def plot_losses(losses, path, title):
    """Write the loss curve to a PNG (skipped with a note if matplotlib is missing)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no loss plot)")
        return
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(losses)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print("loss curve:", path)


def out_dir():
    d = os.environ.get("JTORCH_EXAMPLES_OUT", os.path.join(os.path.dirname(__file__), "out"))
    os.makedirs(d, exist_ok=True)
    return d
