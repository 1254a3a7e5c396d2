#!/usr/bin/env python3
"""The full OpInfo sweep: every entry of torch's op_db through jtorch, forward and gradient.

    python tools/opinfo_sweep.py [--out docs/opinfo_results.json] [--samples 3] [--only NAME ...]

Takes long on 2 cores (XLA compiles each new shape); CI runs a fixed sample instead
(compat_tests/test_opinfo_sample.py). Afterwards run tools/gen_compat_table.py."""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "compat_tests"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "docs", "opinfo_results.json"))
    ap.add_argument("--samples", type=int, default=3)
    ap.add_argument("--only", nargs="*")
    a = ap.parse_args()
    import opinfo_harness as H
    results = {}
    if os.path.exists(a.out) and a.only:
        results = json.load(open(a.out))
    t0 = time.time()
    db = H.op_db()
    for i, o in enumerate(db):
        oid = H.opinfo_id(o)
        if a.only and oid not in a.only and o.name not in a.only:
            continue
        t = time.time()
        r = H.check_opinfo(o, max_samples=a.samples)
        r["seconds"] = round(time.time() - t, 2)
        results[oid] = r
        print(f"[{i + 1}/{len(db)}] {oid}: {r['forward']} | {r['grad']} ({r['seconds']}s)", flush=True)
        if i % 20 == 0:
            json.dump(results, open(a.out, "w"), indent=1, sort_keys=True)
    json.dump(results, open(a.out, "w"), indent=1, sort_keys=True)
    fw = sum(1 for r in results.values() if r["forward"] == "pass")
    print(f"forward pass {fw}/{len(results)}; total {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
