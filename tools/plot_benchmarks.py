"""Bar charts of the recorded benchmark numbers, for docs/benchmarks.md.

Reads the tables in docs/benchmarks.md (the numbers as measured and recorded there; nothing is
re-run), writes them all to docs/benchmarks.json, and draws one PNG per benchmark into docs/img/.
Run after a benchmark's table in docs/benchmarks.md is updated:

    python tools/plot_benchmarks.py [--md docs/benchmarks.md] [--out docs/img]
"""
import argparse
import json
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# section title (substring) -> chart: file, label columns, value columns (header substring -> legend), y label, log y
CHARTS = [
    ("Autograd: eager", dict(file="autograd.png", labels=["workload", "setting"],
                             values={"torch µs": "torch", "jtorch per-node µs": "jtorch (per node)",
                                     "jtorch fused µs": "jtorch (fused)"},
                             ylabel="µs per forward + backward (lower is better)", log=False)),
    ("Eager op dispatch", dict(file="eager_ops.png", labels=["op"],
                               values={"jtorch µs": "jtorch", "torch eager µs": "torch eager",
                                       "bare jax.jit µs": "bare jax.jit"},
                               ylabel="µs per op call, 32×32 float32 (lower is better)", log=False)),
    ("Training step", dict(file="train_step.png", labels=["model"], series="impl", value="ms/step",
                           ylabel="ms per training step (lower is better)", log=True)),
    ("Optimizer step", dict(file="optim_step.png", labels=["implementation"],
                            values={"H100": "H100"}, ylabel="ms per AdamW step, H100 (lower is better)",
                            log=False)),
    ("DataLoader throughput", dict(file="dataloader.png", labels=["num_workers"],
                                   values={"torch steady": "torch", "jtorch steady": "jtorch"},
                                   ylabel="samples/s, steady epoch (higher is better)", log=False)),
    ("nn layer families", dict(file="nn_layers.png", labels=["layer"],
                               values={"torch eager ms": "torch eager", "jtorch eager ms": "jtorch eager",
                                       "jtorch compiled ms": "jtorch compiled"},
                               ylabel="ms per forward + backward (lower is better)", log=True)),
    ("Scaling", dict(file="scaling.png", labels=["devices"], values={"tokens/s": "tokens/s"},
                     ylabel="tokens/s (higher is better)", log=False)),
]


def parse_tables(text):
    """Every markdown table, with the `## ` section it sits in: [{section, header, rows}]."""
    tables, section, cur = [], "", None
    for line in text.splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if cur is None:
                cur = {"section": section, "header": cells, "rows": []}
                tables.append(cur)
            elif not all(re.fullmatch(r":?-+:?", c) for c in cells):
                cur["rows"].append(cells)
        else:
            cur = None
    return tables


def number(cell):
    m = re.search(r"-?\d+(?:\.\d+)?", cell.replace(",", ""))
    return float(m.group()) if m else None


def _col(header, name):
    for i, h in enumerate(header):
        if h == name or h.startswith(name):
            return i
    for i, h in enumerate(header):
        if name in h:
            return i
    raise KeyError(f"no column {name!r} in {header}")


def _labels(table, names):
    """Row labels from the label columns; a blank cell repeats the row above (grouped tables)."""
    idx = [_col(table["header"], n) for n in names]
    prev, out = [""] * len(idx), []
    for row in table["rows"]:
        vals = [row[i] if row[i] else prev[j] for j, i in enumerate(idx)]
        prev = vals
        out.append(" · ".join(v.strip("`") for v in vals))
    return out


def series_of(table, spec):
    """(group labels, {legend: [value per group]})."""
    labels = _labels(table, spec["labels"])
    rows = table["rows"]
    if "series" in spec:  # long format: one row per (group, series)
        s_col, v_col = _col(table["header"], spec["series"]), _col(table["header"], spec["value"])
        groups, data = [], {}
        for lab, row in zip(labels, rows):
            if lab not in groups:
                groups.append(lab)
            name = re.sub(r",.*", "", row[s_col])  # 'flax + optax, one jit' and 'flax + optax': one series
            data.setdefault(name, {})[lab] = number(row[v_col])
        return groups, {k: [v.get(g) for g in groups] for k, v in data.items()}
    keep = [i for i, lab in enumerate(labels) if "geometric mean" not in lab]
    data = {}
    for col, legend in spec["values"].items():
        c = _col(table["header"], col)
        data[legend] = [number(rows[i][c]) for i in keep]
    return [labels[i] for i in keep], data


def draw(title, groups, data, spec, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    n = len(data)
    width = 0.8 / max(n, 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.55 * len(groups) * max(n, 1) + 2), 4.2))
    for k, (legend, vals) in enumerate(data.items()):
        xs = [i + (k - (n - 1) / 2) * width for i in range(len(groups))]
        ax.bar([x for x, v in zip(xs, vals) if v is not None], [v for v in vals if v is not None], width,
               label=legend)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups, rotation=30 if max(map(len, groups)) > 8 else 0, ha="right", fontsize=8)
    if spec.get("log"):
        ax.set_yscale("log")
    ax.set_ylabel(spec["ylabel"], fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    if n > 1:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--md", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "img"))
    ap.add_argument("--json", default=os.path.join(ROOT, "docs", "benchmarks.json"))
    a = ap.parse_args(argv)
    with open(a.md) as f:
        tables = parse_tables(f.read())
    with open(a.json, "w") as f:
        json.dump(tables, f, indent=1, ensure_ascii=False)
    os.makedirs(a.out, exist_ok=True)
    written = []
    for key, spec in CHARTS:
        table = next((t for t in tables if key in t["section"]), None)
        if table is None:
            print(f"skip {spec['file']}: no table under a section named like {key!r}")
            continue
        groups, data = series_of(table, spec)
        path = os.path.join(a.out, spec["file"])
        draw(re.sub(r"\s*\(.*\)$", "", table["section"]), groups, data, spec, path)
        written.append(path)
        print("wrote", os.path.relpath(path, ROOT))
    return written


if __name__ == "__main__":
    main()
