"""Markdown table of ratios from a pytest-benchmark JSON file of benchmarks/bench_training.py.

    python -m pytest benchmarks --benchmark-json=bench.json
    python benchmarks/report.py bench.json [--stat median|min|mean]

Every line compares fastdescent with a baseline timed in the same run, on the same array:
per-sample SGD against scikit-learn's SGDClassifier, full-batch gradient descent against the
NumPy loop, and a full-batch iteration against the floor ``X @ w`` (one read of X by BLAS).
Times are per epoch (a fit's time divided by its epochs, input validation included).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict

THREADS = {"1": "1 thread", "-1": "all cores", "blas": "BLAS threads"}
# The floor that matches a fastdescent thread setting: one thread, or BLAS on all cores.
FLOOR_OF = {"1": "1", "-1": "blas"}


def load(path, stat):
    """The JSON, and {(dtype, shape): {(kind, method, n_jobs): (seconds, epochs, bytes)}}."""
    with open(path) as f:
        data = json.load(f)
    problems = defaultdict(dict)
    for b in data.get("benchmarks", []):
        info = b.get("extra_info", {})
        if "kind" not in info:
            continue  # not one of bench_training.py's benchmarks
        problem = (info["dtype"], f"{info['rows']}x{info['cols']}")
        key = (info["kind"], info["method"], str(info.get("n_jobs")))
        problems[problem][key] = (b["stats"][stat], info["epochs"], info["bytes"])
    return data, problems


def per_epoch(entry):
    seconds, epochs, _ = entry
    return seconds / epochs


def iteration(fits, n_jobs):
    """One full-batch iteration of fastdescent: (t_E - t_1) / (E - 1), or t_E / E without t_1."""
    many = fits.get(("full-batch", "fastdescent", n_jobs))
    one = fits.get(("full-batch-1epoch", "fastdescent", n_jobs))
    if many is None:
        return None
    if one is None or many[1] <= 1:
        return per_epoch(many)
    return max(many[0] - one[0], 1e-12) / (many[1] - 1)


def _row(dtype, shape, title, ours, ours_jobs, base, base_jobs, nbytes, floor=False):
    ratio = base / ours
    if floor:  # above 1: slower than one BLAS read of X; 2 is two passes' worth
        verdict = f"{1 / ratio:.2f}x the floor"
    elif ratio >= 1:
        verdict = f"**{ratio:.2f}x faster**"
    else:
        verdict = f"{1 / ratio:.2f}x slower"
    return [
        dtype, shape, title,
        f"{ours * 1e3:.2f} ({THREADS.get(ours_jobs, ours_jobs)})",
        f"{base * 1e3:.2f} ({THREADS.get(base_jobs, base_jobs)})",
        verdict,
        f"{nbytes / ours / 1e9:.1f} / {nbytes / base / 1e9:.1f}",
    ]


def rows(problems):
    """Table rows: each fastdescent fit against each of its baselines, float64 first."""
    out = []
    order = sorted(problems, key=lambda p: (p[1], p[0] != "float64", p[0]))
    for dtype, shape in order:
        fits = problems[(dtype, shape)]
        jobs = sorted({k[2] for k in fits if k[1] == "fastdescent"}, key=lambda j: j != "1")

        sk = fits.get(("per-sample", "scikit-learn", "1"))
        for j in jobs:
            mine = fits.get(("per-sample", "fastdescent", j))
            if mine and sk:
                out.append(_row(dtype, shape, "per-sample SGD epoch vs scikit-learn SGDClassifier",
                                per_epoch(mine), j, per_epoch(sk), "1", mine[2]))

        numpy = fits.get(("full-batch", "numpy", "blas"))
        for j in jobs:
            mine = fits.get(("full-batch", "fastdescent", j))
            if mine and numpy:
                out.append(_row(dtype, shape, "full-batch GD epoch vs NumPy GD loop",
                                per_epoch(mine), j, per_epoch(numpy), "blas", mine[2]))

        for j in jobs:
            floor = fits.get(("floor", "X @ w", FLOOR_OF.get(j, "blas")))
            it = iteration(fits, j)
            if floor and it is not None:
                out.append(_row(dtype, shape, "full-batch iteration vs floor `X @ w`",
                                it, j, per_epoch(floor), FLOOR_OF.get(j, "blas"), floor[2],
                                floor=True))
    return out


def markdown(table, header):
    widths = [max(len(h), *(len(r[i]) for r in table)) for i, h in enumerate(header)]

    def line(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep, *(line(r) for r in table)])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("json", help="file written by pytest --benchmark-json")
    parser.add_argument("--stat", default="median", choices=["median", "min", "mean"],
                        help="statistic of the rounds used for the ratios (default median)")
    args = parser.parse_args(argv)
    data, problems = load(args.json, args.stat)
    table = rows(problems)
    if not table:
        print(f"{args.json}: no fastdescent benchmarks with a baseline found", file=sys.stderr)
        return 1
    machine = data.get("machine_info", {})
    cpu = machine.get("cpu", {})
    commit = data.get("commit_info", {})
    print(f"## fastdescent training benchmarks ({args.stat} of the rounds)\n")
    print(f"Machine: {cpu.get('brand_raw', machine.get('processor', '?'))}, "
          f"{cpu.get('count', '?')} CPUs, Python {machine.get('python_version', '?')}; "
          f"commit {str(commit.get('id', '?'))[:10]}{' (dirty)' if commit.get('dirty') else ''}; "
          f"{data.get('datetime', '')}\n")
    header = ["dtype", "X", "comparison", "fastdescent ms/epoch", "baseline ms/epoch",
              "ratio", "GB/s of X (ours / baseline)"]
    print(markdown(table, header))
    print("\nms/epoch: a fit's time over its epochs (input checks included). Full-batch "
          "iteration: (E-epoch fit - 1-epoch fit) / (E - 1),\nso without the fixed cost of a fit; "
          "the floor is one `X @ w` with the matching threads. GB/s: bytes of X over the time.\n"
          "All ratios compare runs of the same session on the same array.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
