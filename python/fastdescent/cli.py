"""The command line, ``python -m fastdescent <command>``.

Each subcommand is one function registered with :func:`command`; its arguments are declared in
the decorator with :func:`arg`, its docstring becomes the ``--help`` description. To add one::

    @command("bench", "time the training kernels",
             arg("--rows", type=positive_int, default=200_000, help="rows of the problem"))
    def bench(args):
        ...
        return 0
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Callable

__all__ = ["main", "build_parser", "command", "arg"]

# Optional packages `info` reports (import names, which are also their distribution names).
OPTIONAL_PACKAGES = ("numba", "dask", "mlflow", "matplotlib", "tqdm", "torch")
# The package extras and the import names that make each one usable.
EXTRAS = {
    "cuda": ("numba",),
    "dask": ("dask", "distributed"),
    "mlflow": ("mlflow",),
    "plot": ("matplotlib",),
    "bench": ("pytest_benchmark",),
}


@dataclass
class _Command:
    name: str
    help: str
    arguments: tuple
    func: Callable[[argparse.Namespace], int]


_COMMANDS: list[_Command] = []


def arg(*flags, **kwargs):
    """The arguments of one ``ArgumentParser.add_argument`` call, for :func:`command`."""
    return flags, kwargs


def command(name, help, *arguments):
    """Registers ``func(args) -> int`` as the subcommand `name` (its exit status)."""

    def register(func):
        _COMMANDS.append(_Command(name, help, arguments, func))
        return func

    return register


def positive_int(text):
    """argparse type: an integer >= 1 (underscores and commas allowed: 1_000_000)."""
    value = nonnegative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def nonnegative_int(text):
    """argparse type: an integer >= 0 (underscores and commas allowed: 1_000_000)."""
    try:
        value = int(text.replace(",", "").replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def synthetic_rows(text):
    """argparse type of demo --rows: 0 (no synthetic task) or at least the demo's minimum."""
    from .demo import MIN_ROWS

    value = nonnegative_int(text)
    if 0 < value < MIN_ROWS:
        raise argparse.ArgumentTypeError(f"expected 0 or at least {MIN_ROWS:,}, got {text!r}")
    return value


# ---- subcommands -------------------------------------------------------------------------


@command(
    "demo",
    "train on bundled and synthetic data next to scikit-learn and NumPy; print one table",
    arg(
        "--quick",
        action="store_true",
        help="small synthetic problem (20,000 rows instead of 1,000,000): seconds, not tens",
    ),
    arg(
        "--rows",
        type=synthetic_rows,
        metavar="N",
        help="rows of the synthetic 100-feature problem (default 1,000,000; 0 skips it)",
    ),
    arg(
        "--epochs",
        type=positive_int,
        default=5,
        metavar="E",
        help="epochs of every method on the synthetic problem (default 5, tol=None)",
    ),
    arg(
        "--repeat",
        type=positive_int,
        default=3,
        metavar="R",
        help="fits per method on the small data sets, fastest reported (default 3)",
    ),
    arg(
        "--n-jobs",
        type=int,
        default=None,
        metavar="J",
        help="n_jobs of the fastdescent and scikit-learn estimators (default None: 1 thread)",
    ),
)
def demo(args):
    """Trains fastdescent, scikit-learn's SGD estimators and a NumPy gradient-descent loop on
    digits (10 classes), breast_cancer (binary), diabetes (regression) and a synthetic
    1,000,000 x 100 binary problem, and prints fit time, test score and speedup over
    scikit-learn side by side."""
    from .demo import main as demo_main

    return demo_main(
        quick=args.quick,
        rows=args.rows,
        epochs=args.epochs,
        n_jobs=args.n_jobs,
        repeat=args.repeat,
    )


def optimizer_list(text):
    """argparse type of compare --optimizers: comma-separated optimizer names."""
    from ._compare import DEFAULT_STEPS

    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in DEFAULT_STEPS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated names among {', '.join(DEFAULT_STEPS)}; got {text!r}"
        )
    return names


DEFAULT_COMPARE_PNG = "fastdescent-compare.png"


@command(
    "compare",
    "fit several optimizers on one task; print a table and write a PNG of their loss curves",
    arg(
        "--task",
        choices=["digits", "breast_cancer"],
        default="digits",
        help="bundled scikit-learn data set, standardized, 30%% held out (default digits)",
    ),
    arg(
        "--optimizers",
        type=optimizer_list,
        metavar="A,B,...",
        help="optimizers to compare (default: all twelve)",
    ),
    arg(
        "--epochs",
        type=positive_int,
        default=30,
        metavar="E",
        help="epochs of every fit (default 30, tol=None)",
    ),
    arg(
        "--batch-size",
        type=positive_int,
        default=32,
        metavar="B",
        help="rows per update (default 32)",
    ),
    arg(
        "--out",
        metavar="PATH.png",
        help=f"where to write the loss curves (default {DEFAULT_COMPARE_PNG}; "
        "needs matplotlib: pip install fastdescent[plot])",
    ),
    arg("--no-plot", action="store_true", help="print the table only"),
)
def compare(args):
    """Trains a log-loss linear classifier (softmax regression for more than two classes) with
    each optimizer, mini-batch, a cosine schedule and the optimizer's usual step size for the
    same number of epochs and seed, prints fit time, final training loss and test accuracy, and
    plots the training loss curves into one PNG."""
    from importlib import util

    from ._compare import format_table, run_compare, save_plot

    want_plot = not args.no_plot
    has_matplotlib = util.find_spec("matplotlib") is not None
    if want_plot and not has_matplotlib and args.out is not None:
        print("compare --out needs matplotlib: pip install fastdescent[plot]", file=sys.stderr)
        return 1
    rows = run_compare(
        args.optimizers, task=args.task, epochs=args.epochs, batch_size=args.batch_size
    )
    print(
        f"{args.task}: log loss, batch_size={args.batch_size}, learning_rate='cosine', "
        f"{args.epochs} epochs, random_state=0\n"
    )
    print(format_table(rows))
    if want_plot:
        if not has_matplotlib:
            print("\n(no plot: matplotlib is not installed; pip install fastdescent[plot])")
        else:
            path = save_plot(
                rows, args.out or DEFAULT_COMPARE_PNG, f"{args.task}: training loss per optimizer"
            )
            print(f"\nloss curves written to {path}")
    return 0


def _benchmarks_dir():
    """The repository's benchmarks/ (beside python/ in a source checkout), or ./benchmarks."""
    from pathlib import Path

    here = Path(__file__).resolve()
    for candidate in (here.parents[2] / "benchmarks", Path.cwd() / "benchmarks"):
        if (candidate / "report.py").is_file():
            return candidate
    return None


@command(
    "bench",
    "run the training benchmarks (pytest-benchmark) and print the report of ratios",
    arg(
        "--rows",
        type=positive_int,
        default=200_000,
        metavar="N",
        help="rows of the dense benchmark problem (default 200,000)",
    ),
    arg(
        "--cols",
        type=positive_int,
        default=100,
        metavar="D",
        help="features of the benchmark problem (default 100)",
    ),
    arg(
        "--rounds",
        type=positive_int,
        default=5,
        metavar="R",
        help="timed rounds per benchmark (default 5)",
    ),
    arg(
        "--stat",
        choices=["median", "min", "mean"],
        default="median",
        help="statistic of the rounds used for the ratios (default median)",
    ),
    arg("--json", metavar="PATH", help="keep pytest-benchmark's JSON here"),
    arg("--dir", metavar="PATH", help="the benchmarks folder (default: the source checkout's)"),
)
def bench(args):
    """Runs benchmarks/bench_training.py (fastdescent against scikit-learn, a NumPy loop and
    the X @ w floor, timed in the same run) and prints benchmarks/report.py's table. Needs a
    source checkout (the benchmarks are not installed) and pytest-benchmark
    (pip install fastdescent[bench])."""
    import importlib.util
    import os
    import subprocess
    import tempfile
    from pathlib import Path

    if importlib.util.find_spec("pytest_benchmark") is None:
        print(
            "bench needs pytest-benchmark: pip install fastdescent[bench] "
            "(or pip install pytest-benchmark)",
            file=sys.stderr,
        )
        return 1
    folder = Path(args.dir) if args.dir else _benchmarks_dir()
    if folder is None or not (folder / "report.py").is_file():
        print(
            "bench needs the benchmarks/ folder of a fastdescent source checkout (it is not "
            "part of the installed package): run it from the checkout or pass --dir.",
            file=sys.stderr,
        )
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        json_path = args.json or os.path.join(tmp, "bench.json")
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            str(folder / "bench_training.py"),
            "-q",
            "-p",
            "no:cacheprovider",
            f"--rootdir={folder.parent}",
            f"--benchmark-json={json_path}",
            f"--bench-rows={args.rows}",
            f"--bench-cols={args.cols}",
            f"--bench-rounds={args.rounds}",
        ]
        # A pytest-xdist worker's variables would make pytest-benchmark skip the timing.
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PYTEST_XDIST", "PYTEST_CURRENT_TEST"))
        }
        proc = subprocess.run(
            cmd,
            cwd=folder.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        written = os.path.isfile(json_path) and os.path.getsize(json_path) > 0
        if proc.returncode != 0 or not written:
            print(proc.stdout[-4000:], file=sys.stderr)
            print(
                f"the benchmarks failed (exit status {proc.returncode}"
                f"{'' if written else ', no results written'})",
                file=sys.stderr,
            )
            return 1
        spec = importlib.util.spec_from_file_location(
            "_fastdescent_bench_report", folder / "report.py"
        )
        report = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(report)
        return int(report.main([json_path, "--stat", args.stat]) or 0)


@command(
    "info",
    "version, build configuration, threads and optional packages",
    arg("--json", action="store_true", help="print the information as JSON"),
)
def info(args):
    """Prints what fastdescent was built with (``fastdescent.show_config``), the threads it and
    NumPy's BLAS can use, and which optional packages are installed."""
    import json

    data = collect_info()
    if args.json:
        print(json.dumps(data, indent=2, default=str))
        return 0
    sections = [
        ("fastdescent", {"version": data["version"], "location": data["location"]}),
        ("build", data["build"]),
        ("threads", data["threads"]),
        ("dependencies", data["dependencies"]),
        ("optional packages", data["optional"]),
        ("extras", data["extras"]),
    ]
    for title, values in sections:
        print(f"{title}:")
        width = max((len(k) for k in values), default=0)
        for key, value in values.items():
            print(f"  {key:<{width}}  {value}")
    return 0


def collect_info():
    """The data `info` prints, as a dict of plain values."""
    import os
    import platform
    from importlib import metadata, util

    import fastdescent

    def version(dist):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    build = fastdescent.show_config(print_out=False)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = {
        "cpus available": cpus,
        "cpus on machine": os.cpu_count(),
        "openmp": build.get("openmp"),
        "openmp max threads": build.get("openmp_max_threads"),
    }
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        if var in os.environ:
            threads[var] = os.environ[var]
    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            if pool.get("user_api") == "blas":
                key = f"blas ({pool.get('internal_api')} {pool.get('version') or ''})".strip()
                threads[key.replace(" )", ")")] = pool.get("num_threads")
    except Exception as exc:  # threadpoolctl is a dependency, but never fail `info` on it
        threads["blas"] = f"unknown ({exc})"

    optional = {}
    for module in OPTIONAL_PACKAGES:
        # find_spec only locates the package: `info` stays fast without importing torch.
        found = util.find_spec(module) is not None
        optional[module] = (
            (version(module) or version(f"{module}-skinny") or "installed")
            if found
            else "not found"
        )
    extras = {
        name: "available"
        if all(util.find_spec(m) is not None for m in modules)
        else f"missing (pip install fastdescent[{name}])"
        for name, modules in EXTRAS.items()
    }
    return {
        "version": fastdescent.__version__,
        "location": os.path.dirname(fastdescent.__file__),
        "build": build,
        "threads": threads,
        "dependencies": {
            "python": f"{platform.python_version()} ({sys.executable})",
            "platform": platform.platform(),
            **{
                dist: version(dist) for dist in ("numpy", "scipy", "scikit-learn", "threadpoolctl")
            },
        },
        "optional": optional,
        "extras": extras,
    }


# ---- entry point -------------------------------------------------------------------------


def build_parser():
    """The argparse parser with one subparser per registered command."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="python -m fastdescent",
        description="fastdescent: gradient descent for linear models, C++ kernels behind "
        "scikit-learn estimators.",
    )
    parser.add_argument("--version", action="version", version=f"fastdescent {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="command")
    for cmd in _COMMANDS:
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.func.__doc__ or cmd.help)
        for flags, kwargs in cmd.arguments:
            p.add_argument(*flags, **kwargs)
        p.set_defaults(func=cmd.func)
    return parser


def main(argv=None):
    """Parses `argv` (default ``sys.argv[1:]``), runs the command, returns its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `python -m fastdescent demo | head`
        sys.stderr.close()
        return 0
