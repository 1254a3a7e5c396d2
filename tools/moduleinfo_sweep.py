#!/usr/bin/env python3
"""The full ModuleInfo sweep: every entry of torch's module_db through jtorch (float32 forward and
gradients, float64, error inputs), compared with torch (compat_tests/moduleinfo_harness.py).

    python tools/moduleinfo_sweep.py [--out docs/moduleinfo_results.json] [--only nn.Linear ...]

CI runs a fixed sample instead (compat_tests/test_moduleinfo_sample.py). Afterwards run
tools/gen_compat_table.py."""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "compat_tests"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "docs", "moduleinfo_results.json"))
    ap.add_argument("--only", nargs="*")
    a = ap.parse_args()
    import moduleinfo_harness as H
    results = {}
    if os.path.exists(a.out) and a.only:
        results = json.load(open(a.out))
    t0 = time.time()
    db = H.module_db()
    for i, m in enumerate(db):
        mid = H.moduleinfo_id(m)
        if a.only and mid not in a.only:
            continue
        t = time.time()
        r = H.check_moduleinfo(m)
        r["seconds"] = round(time.time() - t, 2)
        results[mid] = r
        print(f"[{i + 1}/{len(db)}] {mid}: {r['forward']} | {r['grad']} | f64 {r['float64']} | "
              f"errors {r['errors']} ({r['seconds']}s)", flush=True)
        if i % 10 == 0:
            json.dump(results, open(a.out, "w"), indent=1, sort_keys=True)
    json.dump(results, open(a.out, "w"), indent=1, sort_keys=True)
    ok = sum(1 for r in results.values() if all(r[k] in ("pass", "n/a") for k in ("forward", "grad", "float64", "errors")))
    print(f"all checks pass {ok}/{len(results)}; total {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
