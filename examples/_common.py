"""Small shared pieces for the examples: device choice, a progress bar, checkpoints, loss plots."""
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


def save_checkpoint(path, **state):
    torch.save(state, path)


def load_checkpoint(path, map_location="cpu"):
    return torch.load(path, map_location=map_location, weights_only=True)


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
