"""µs per eager op on small tensors (32x32 float32): jtorch vs torch eager vs the bare cached
`jax.jit` call of the same jnp function, side by side. jtorch's own overhead is the ratio
jtorch / bare-jit (goal: <= 1.3x).

    python benchmarks/eager_ops.py            # prints a markdown table
    python benchmarks/eager_ops.py --md FILE  # also rewrites the "Eager op dispatch" section of FILE
"""
import argparse
import os
import platform
import sys
import timeit

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import jtorch  # noqa: E402

try:
    import torch
except ImportError:  # torch is optional: only the oracle column needs it
    torch = None

N = 32


def cases():
    """(name, jtorch fn, torch fn or None, bare jnp fn, arg builder)."""
    return [
        ("a + b", lambda a, b: a + b, lambda a, b: a + b, lambda a, b: a + b),
        ("a - b", lambda a, b: a - b, lambda a, b: a - b, lambda a, b: a - b),
        ("a * b", lambda a, b: a * b, lambda a, b: a * b, lambda a, b: a * b),
        ("a / b", lambda a, b: a / b, lambda a, b: a / b, lambda a, b: a / b),
        ("a + 1.0", lambda a, b: a + 1.0, lambda a, b: a + 1.0, lambda a, b: a + 1.0),
        ("add(a, b, alpha=2)", lambda a, b: jtorch.add(a, b, alpha=2),
         lambda a, b: torch.add(a, b, alpha=2), lambda a, b: a + 2 * b),
        ("-a", lambda a, b: -a, lambda a, b: -a, lambda a, b: -a),
        ("a.exp()", lambda a, b: a.exp(), lambda a, b: a.exp(), lambda a: jnp.exp(a)),
        ("a.tanh()", lambda a, b: a.tanh(), lambda a, b: a.tanh(), lambda a: jnp.tanh(a)),
        ("a.sigmoid()", lambda a, b: a.sigmoid(), lambda a, b: a.sigmoid(), lambda a: jax.nn.sigmoid(a)),
        ("a.sum()", lambda a, b: a.sum(), lambda a, b: a.sum(), lambda a: jnp.sum(a)),
        ("a.mean(1)", lambda a, b: a.mean(1), lambda a, b: a.mean(1), lambda a: jnp.mean(a, axis=1)),
        ("a.amax(-1)", lambda a, b: a.amax(-1), lambda a, b: a.amax(-1), lambda a: jnp.max(a, axis=-1)),
        ("a @ b", lambda a, b: a @ b, lambda a, b: a @ b, lambda a, b: a @ b),
        ("where(a > 0, a, b)", lambda a, b: jtorch.where(a > 0, a, b), lambda a, b: torch.where(a > 0, a, b),
         lambda a, b: jnp.where(a > 0, a, b)),
        ("cat([a, b])", lambda a, b: jtorch.cat([a, b]), lambda a, b: torch.cat([a, b]),
         lambda a, b: jnp.concatenate([a, b])),
        ("a.clamp(0, 1)", lambda a, b: a.clamp(0, 1), lambda a, b: a.clamp(0, 1), lambda a: jnp.clip(a, 0, 1)),
    ]


def _time(fn, number, repeat=7):
    fn()
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def measure(number=2000):
    rng = np.random.default_rng(0)
    an, bn = rng.standard_normal((N, N), np.float32), rng.standard_normal((N, N), np.float32)
    ja, jb = jtorch.from_numpy(an), jtorch.from_numpy(bn)
    xa, xb = jnp.asarray(an), jnp.asarray(bn)
    ta, tb = (torch.from_numpy(an), torch.from_numpy(bn)) if torch is not None else (None, None)
    rows = []
    for name, jf, tf, bare in cases():
        nargs = bare.__code__.co_argcount if hasattr(bare, "__code__") else 1
        jitted = jax.jit(bare)
        bargs = (xa, xb)[:nargs]
        t_bare = _time(lambda: jitted(*bargs), number)
        t_j = _time(lambda: jf(ja, jb), number)
        t_t = _time(lambda: tf(ta, tb), number) if torch is not None else float("nan")
        rows.append((name, t_j, t_t, t_bare))
    return rows


def dispatch_overhead(number=20000):
    """jtorch's own Python cost per op: every cached kernel's jitted call is replaced by a stub that
    returns its (precomputed) result, so what is left is bind + promote + cache lookup + wrap.
    Less sensitive to a busy machine than the end-to-end ratio."""
    from jtorch._ops.kernel import _KERNELS
    a, b = jtorch.randn(N, N), jtorch.randn(N, N)
    cs = cases()
    for _, jf, _, _ in cs:
        jf(a, b)
    saved = {}
    for k in list(_KERNELS.values()):
        saved[k] = k.jfwd
        k.jfwd = (lambda real: (lambda *xs, _c=[]: _c[0] if _c else (_c.append(real(*xs)) or _c[0])))(k.jfwd)
    try:
        for _, jf, _, _ in cs:
            jf(a, b)

        def stub(*xs):
            return None
        base = _time(lambda: stub(a, b), number)
        return [max(_time(lambda: jf(a, b), number) - base, 0.0) for _, jf, _, _ in cs]
    finally:
        for k, f in saved.items():
            k.jfwd = f


def table(rows, over=None):
    out = ["| op (32x32 float32) | jtorch µs | torch eager µs | bare jax.jit µs | jtorch / bare jit | "
           "jtorch dispatch overhead µs | (bare + overhead) / bare |",
           "|---|---|---|---|---|---|---|"]
    over = over or [float("nan")] * len(rows)
    for (name, tj, tt, tb), ov in zip(rows, over):
        out.append(f"| `{name}` | {tj:.1f} | {tt:.1f} | {tb:.1f} | {tj / tb:.2f}x | {ov:.1f} | {(tb + ov) / tb:.2f}x |")
    r = [tj / tb for _, tj, _, tb in rows]
    r2 = [(tb + ov) / tb for (_, _, _, tb), ov in zip(rows, over)]
    out.append(f"| geometric mean | | | | {float(np.exp(np.mean(np.log(r)))):.2f}x | | "
               f"{float(np.exp(np.mean(np.log(r2)))):.2f}x |")
    return "\n".join(out)


SECTION = "## Eager op dispatch (benchmarks/eager_ops.py)"


def write_md(path, text):
    body = (f"{SECTION}\n\nµs per call, min over repeats; {platform.machine()} CPU, {os.cpu_count()} cores, "
            f"jax {jax.__version__}" + (f", torch {torch.__version__}" if torch is not None else "") +
            ". `bare jax.jit` is the cached jitted jnp function called directly: the floor jtorch adds its "
            "Python dispatch to (bind args, dtype promotion, kernel-cache lookup, wrap the result). "
            "`dispatch overhead` reruns jtorch with every kernel's jitted call replaced by a stub returning "
            "its cached result, so it isolates jtorch's own Python work per op.\n\n"
            + text + "\n\n"
            "Reading it: jtorch's own dispatch costs ~1.5-3.5 µs per op (the hot path in `_ops/dispatch.py`: "
            "positional Tensor/scalar args, defaults such as `alpha=1` baked into the kernel instead of "
            "being passed to jit, the kernel keyed directly by the operands' dtype signature so "
            "`result_type` only runs when a kernel is built). Measured end to end, `jtorch / bare jit` "
            "is higher than `(bare + overhead) / bare`: interleaving the Python path with jax's C++ "
            "dispatch costs more than the sum of both measured alone. Ops with a validation hook "
            "(`sub`'s bool check, integer division by zero) or list arguments (`cat`) take the general "
            "path. `where(a > 0, a, b)` is two ops (`gt` then `where`).\n")
    old = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    if SECTION in old:
        start = old.index(SECTION)
        nxt = old.find("\n## ", start + len(SECTION))
        new = old[:start] + body + (old[nxt + 1:] if nxt != -1 else "")
    else:
        new = old.rstrip("\n") + "\n\n" + body
    with open(path, "w") as f:
        f.write(new)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--md", help="markdown file whose eager-dispatch section is rewritten")
    p.add_argument("--number", type=int, default=2000)
    a = p.parse_args()
    txt = table(measure(a.number), dispatch_overhead())
    print(txt)
    if a.md:
        write_md(a.md, txt)
