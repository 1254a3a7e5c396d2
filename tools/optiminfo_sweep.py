#!/usr/bin/env python3
"""The full OptimizerInfo sweep: every entry of torch's optim_db through jtorch.optim.

    python tools/optiminfo_sweep.py [--out docs/optiminfo_results.json] [--only Adam SGD ...]

For each optimizer: every optim_inputs_func config with its foreach/fused/differentiable variants in
float32 and float64 (steps, state_dict and a torch state_dict loaded and continued), the base configs
with two param groups and on complex64 parameters, every optim_error_inputs_func entry, and a
flag=True probe for each of foreach/fused/capturable/differentiable (torch's TypeError where its
constructor has no such argument).
A few minutes on 2 cores; CI runs a subset (compat_tests/test_optiminfo.py). Afterwards run
tools/gen_compat_table.py."""
import argparse
import json
import os
import sys
import time
from collections import Counter

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "compat_tests"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "docs", "optiminfo_results.json"))
    ap.add_argument("--only", nargs="*")
    a = ap.parse_args()
    import optiminfo_harness as H
    t0 = time.time()

    def log(r):
        if r["status"] != "pass":
            print(f"{r['status']:8} {r['optim']:10} {r['dtype']:9} {r['kind']:7} {r['desc'][:50]:50} "
                  f"{r['detail'][:160]}", flush=True)

    records = H.run_all(only=a.only, log=log)
    old = {}
    if a.only and os.path.exists(a.out):
        old = json.load(open(a.out)).get("optimizers", {})
    per = dict(old)
    for name in sorted({r["optim"] for r in records}):
        rs = [r for r in records if r["optim"] == name]
        per[name] = {"counts": dict(Counter(r["status"] for r in rs)),
                     "by_kind": {k: dict(Counter(r["status"] for r in rs if r["kind"] == k))
                                 for k in sorted({r["kind"] for r in rs})},
                     "not_passing": [r for r in rs if r["status"] != "pass"]}
    import torch
    out = {"torch": torch.__version__, "seconds": round(time.time() - t0, 1), "optimizers": per}
    json.dump(out, open(a.out, "w"), indent=1, sort_keys=True)
    total = Counter(r["status"] for r in records)
    print(f"{dict(total)} in {time.time() - t0:.0f}s -> {a.out}")


if __name__ == "__main__":
    main()
