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


def _epochs_time(bench, stat):
    """(seconds, epochs) of a benchmark: the fit's, or with a 1-epoch fit's time (the fixed cost
    of a fit, ``fixed_seconds``) taken off, that of the remaining epochs alone."""
    info = bench["extra_info"]
    seconds, epochs = bench["stats"][stat], info["epochs"]
    if "fixed_seconds" in info:
        seconds, epochs = max(seconds - info["fixed_seconds"], 1e-12), epochs - 1
    return seconds, epochs


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
        seconds, epochs = _epochs_time(b, stat)
        problems[problem][key] = (seconds, epochs, info["bytes"])
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

        for method in ("fastdescent", "fastdescent shuffled"):
            for j in ("1", "-1"):
                mine = fits.get(("minibatch-adam", method, j))
                floor = fits.get(("floor", "X @ w", FLOOR_OF[j]))
                if mine and floor:
                    order = "rows shuffled" if "shuffled" in method else "rows in order"
                    out.append(_row(dtype, shape, f"mini-batch (256) Adam epoch, {order}, vs floor `X @ w`",
                                    per_epoch(mine), j, per_epoch(floor), FLOOR_OF[j], floor[2],
                                    floor=True))

        # What the random order alone costs, and each shuffled epoch against it (one thread).
        shuffled = fits.get(("floor-shuffled", "shuffled read", "1"))
        floor = fits.get(("floor", "X @ w", "1"))
        if shuffled and floor:
            out.append(_row(dtype, shape, "one read of X in a shuffled row order (Cython, rows "
                            "fetched ahead) vs floor `X @ w`", per_epoch(shuffled), "1",
                            per_epoch(floor), "1", floor[2], floor=True))
        if shuffled:
            for title, entry in (
                    ("mini-batch (256) Adam epoch, rows shuffled, vs the shuffled read",
                     fits.get(("minibatch-adam", "fastdescent shuffled", "1"))),
                    ("per-sample SGD epoch (fit, checks included) vs the shuffled read",
                     fits.get(("per-sample", "fastdescent", "1"))),
                    ("scikit-learn's per-sample SGD epoch vs the shuffled read",
                     fits.get(("per-sample", "scikit-learn", "1")))):
                if entry:
                    out.append(_row(dtype, shape, title, per_epoch(entry), "1",
                                    per_epoch(shuffled), "1", shuffled[2], floor=True))

        for j in jobs:
            floor = fits.get(("floor", "X @ w", FLOOR_OF.get(j, "blas")))
            it = iteration(fits, j)
            if floor and it is not None:
                out.append(_row(dtype, shape, "full-batch iteration vs floor `X @ w`",
                                it, j, per_epoch(floor), FLOOR_OF.get(j, "blas"), floor[2],
                                floor=True))
    return out


def _time(entry):
    """Seconds per epoch on all rows of the problem (loops timed on fewer rows are scaled)."""
    seconds, epochs, _, rows, rows_timed = entry
    return seconds / epochs * rows / rows_timed


def load_baselines(data, stat):
    """bench_baselines.py's entries: {(kind, dtype, shape): {(method, n_jobs): entry}}."""
    groups = defaultdict(dict)
    extras = {}
    for b in data.get("benchmarks", []):
        info = b.get("extra_info", {})
        if "rows_timed" not in info:
            continue
        key = (info["kind"], info["dtype"], f"{info['rows']}x{info['cols']}")
        method = (info["method"], str(info.get("n_jobs")), str(info.get("batch", "")))
        seconds, epochs = _epochs_time(b, stat)
        groups[key][method] = (seconds, epochs, info["bytes"], info["rows"], info["rows_timed"])
        extras[key + method] = info
    return groups, extras


def baseline_rows(groups, extras):
    """Each baseline against fastdescent with one thread, and the baselines that use several
    threads (BLAS, torch, Hogwild) also against fastdescent on all cores; same group, same run."""
    out = []
    titles = {"per-sample-loop": "per-sample SGD epoch", "minibatch-adam": "mini-batch (256) Adam epoch",
              "mnist-multinomial": "MNIST 8000x784 softmax fit to convergence"}
    threaded = {"blas", "torch", "-1"}
    for key in sorted(groups, key=lambda k: (k[0], k[2], k[1] != "float64")):
        kind, dtype, shape = key
        if kind not in titles:
            continue
        fits = groups[key]
        for jobs_ours in ("1", "-1"):
            mine = ("fastdescent", jobs_ours, "")
            ours = fits.get(mine)
            if ours is None:
                continue
            for method, entry in sorted(fits.items(), key=lambda kv: _time(kv[1])):
                name, jobs, _ = method
                if name in ("fastdescent", "fastdescent shuffled") or (
                        jobs_ours != "1" and jobs not in threaded):
                    continue
                ratio = _time(entry) / _time(ours)
                label = f"{name} ({THREADS.get(jobs, jobs)})"
                note = ""
                if kind == "mnist-multinomial":
                    acc_ours = extras[key + mine].get("test_accuracy")
                    acc = extras[key + method].get("test_accuracy")
                    note = f"; test accuracy {acc_ours:.4f} vs {acc:.4f}"
                loss_ours = extras[key + mine].get("train_log_loss")
                loss = extras[key + method].get("train_log_loss")
                if loss_ours is not None and loss is not None:
                    note = f"; training log-loss {loss_ours:.4f} vs {loss:.4f}"
                verdict = (f"**{ratio:.1f}x faster**" if ratio >= 1 else f"{1 / ratio:.2f}x slower")
                out.append([dtype, shape, titles[kind],
                            f"{_time(ours) * 1e3:.1f} ({THREADS[jobs_ours]})",
                            f"{label}: {_time(entry) * 1e3:.1f}", verdict + note])
    return out


def scaling_rows(groups):
    out = []
    for kind in ("scaling per-sample", "scaling full-batch"):
        for dtype in ("float64", "float32"):
            points = sorted(((int(k[2].split("x")[0]), _time(v[("fastdescent", "1", "")]))
                             for k, v in groups.items() if k[0] == kind and k[1] == dtype
                             and ("fastdescent", "1", "") in v))
            if len(points) < 2:
                continue
            cells = ", ".join(f"{n:,}: {t / n * 1e9:.0f}" for n, t in points)
            out.append([dtype, kind.split(" ", 1)[1], cells])
    return out


def memory_rows(extras):
    out = []
    for _key, info in sorted(extras.items()):
        if info.get("kind") == "peak-memory" and "extra" in info:
            ratio = (info["x_bytes"] + info["extra"]) / info["x_bytes"]
            out.append([info["dtype"], f"{info['rows']}x{info['cols']}", f"batch_size={info['batch']}",
                        f"{info['x_bytes'] / 2**20:.0f} MiB", f"{info['extra'] / 2**20:+.1f} MiB",
                        f"{ratio:.3f}x X"])
    return out


def plot(path, table_rows, scaling, title):
    """Bar chart of the speed-ups (log scale) beside the time-per-row curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 0.35 * max(len(table_rows), 8) + 1.5))
    labels, values = [], []
    for r in table_rows:
        ratio = r[-1].split("x")[0].strip("* ")
        try:
            v = float(ratio)
        except ValueError:
            continue
        values.append(v if "faster" in r[-1] else 1 / v)
        labels.append(f"{r[2]} [{r[0]}] vs {r[4].split(':')[0]}")
    ax1.barh(range(len(values)), values, color=["tab:green" if v >= 1 else "tab:red" for v in values])
    ax1.set_yticks(range(len(values)), labels, fontsize=7)
    ax1.set_xscale("log")
    ax1.axvline(1.0, color="black", lw=0.8)
    ax1.set_xlabel("speed-up of fastdescent (baseline time / fastdescent time)")
    for dtype, kind, cells in scaling:
        pts = [c.split(": ") for c in cells.split(", ")]
        ax2.plot([int(p[0].replace(",", "")) for p in pts], [float(p[1]) for p in pts], "o-",
                 label=f"{kind} {dtype}")
    ax2.set_xscale("log")
    ax2.set_xlabel("rows")
    ax2.set_ylabel("ns per row per epoch (flat = linear time)")
    ax2.legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


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
    parser.add_argument("--plot", metavar="PNG", help="also draw the ratios and the scaling")
    args = parser.parse_args(argv)
    data, problems = load(args.json, args.stat)
    table = rows(problems)
    groups, extras = load_baselines(data, args.stat)
    more = baseline_rows(groups, extras)
    scaling = scaling_rows(groups)
    memory = memory_rows(extras)
    if not (table or more or scaling or memory):
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
    if table:
        print(markdown(table, header))
    if more:
        print()
        print(markdown(more, ["dtype", "X", "comparison", "fastdescent ms", "baseline ms", "ratio"]))
    if scaling:
        print("\nTime per row of an epoch (ns) against the number of rows, fastdescent, 1 thread "
              "(6-epoch fit less a 1-epoch fit, over 5):\n")
        print(markdown(scaling, ["dtype", "epoch", "rows: ns per row"]))
    if memory:
        print("\nPeak memory of a 2-epoch fit in a fresh process (VmHWM less the process "
              "before X was made):\n")
        print(markdown(memory, ["dtype", "X", "fit", "X", "beyond X", "peak"]))
    if args.plot:
        plot(args.plot, table + more, scaling,
             f"fastdescent benchmarks, {cpu.get('brand_raw', '?')}, {cpu.get('count', '?')} CPUs")
    print("\nms/epoch: a fit's time over its epochs, input checks included (per-sample vs "
          "scikit-learn, full-batch vs NumPy), or without the\nfixed cost of a fit: (E-epoch fit - "
          "1-epoch fit) / (E - 1) for the full-batch iteration, the mini-batch and per-sample loop\n"
          "comparisons and the scaling table. The floor is one `X @ w` with the matching threads. "
          "GB/s: bytes of X over the time.\nAll ratios compare runs of the same session on the "
          "same array.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
