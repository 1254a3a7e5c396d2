#!/usr/bin/env python3
"""Device check for scaled_dot_product_attention on CUDA: jtorch's cuDNN flash path against its XLA
path (sdpa_kernel MATH) and against torch, forward and gradients, bf16 and fp16, causal or not.
Prints one line per case and the max abs differences; exits 1 if any case is off."""
import sys

import numpy as np


def main():
    import torch
    import jtorch
    from jtorch.nn.attention import SDPBackend, sdpa_kernel
    dev = "cuda" if jtorch.cuda.is_available() else "cpu"
    bad = 0
    for dt in ("bfloat16", "float16"):
        for causal in (True, False):
            for shape in ((2, 4, 128, 64), (1, 12, 1024, 64), (2, 2, 96, 128)):
                rng = np.random.default_rng(0)
                arrs = [rng.standard_normal(shape).astype(np.float32) for _ in range(4)]

                def run(mod, ctx=None):
                    q, k, v = (mod.tensor(a, device=dev).to(getattr(mod, dt)).requires_grad_() for a in arrs[:3])
                    g = mod.tensor(arrs[3], device=dev).to(getattr(mod, dt))
                    with (ctx or _null()):
                        o = mod.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal)
                    o.backward(g)
                    return [t.detach().float().cpu().numpy() for t in (o, q.grad, k.grad, v.grad)]
                j = run(jtorch)
                jm = run(jtorch, sdpa_kernel([SDPBackend.MATH]))
                t = run(torch)
                d_math = max(float(np.abs(a - b).max()) for a, b in zip(j, jm))
                d_torch = max(float(np.abs(a - b).max()) for a, b in zip(j, t))
                d_ref = max(float(np.abs(a - b).max()) for a, b in zip(jm, t))
                tol = 0.05 if dt == "bfloat16" else 0.01
                ok = d_torch <= max(tol, 2 * d_ref)
                bad += not ok
                print(f"{'ok ' if ok else 'BAD'} {dt} causal={causal} {shape}: |fused-math| {d_math:.3g} "
                      f"|fused-torch| {d_torch:.3g} |math-torch| {d_ref:.3g}", flush=True)
    sys.exit(1 if bad else 0)


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


if __name__ == "__main__":
    main()
