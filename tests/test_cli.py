"""The command line, ``python -m fastdescent``, run as a user runs it: in a subprocess.

The subprocess is ``sys.executable -m fastdescent``, so it tests the fastdescent that this
interpreter imports (the installed package in CI), with no reliance on PYTHONPATH.
"""

import json
import re
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

import fastdescent
from fastdescent.demo import numpy_gd

SUBCOMMANDS = ["demo", "compare", "bench", "info"]
TASKS = ["digits", "breast_cancer", "diabetes", "synthetic"]
METHODS = [
    "fastdescent SGD (per-sample)",
    "fastdescent full-batch GD",
    "scikit-learn SGD (per-sample)",
    "NumPy full-batch GD",
]


def run_cli(*args, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "fastdescent", *args],
        capture_output=True, text=True, timeout=timeout,
    )


def parse_table(text):
    """{(task name, method): (seconds, score, epochs, speedup)} from the demo's table."""
    rows = {}
    for line in text.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) != 6 or cells[0].split()[0] not in TASKS:
            continue
        task, method, seconds, score, epochs, speedup = cells
        rows[(task.split()[0], method)] = (
            float(seconds), float(score.split()[0]), int(epochs), float(speedup.rstrip("x")),
        )
    return rows


@pytest.fixture(scope="module")
def quick_demo():
    proc = run_cli("demo", "--quick")
    assert proc.returncode == 0, proc.stderr
    return proc


def test_help_lists_subcommands():
    proc = run_cli("--help")
    assert proc.returncode == 0, proc.stderr
    assert "usage:" in proc.stdout
    for name in SUBCOMMANDS:
        assert name in proc.stdout


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_subcommand_help(name):
    proc = run_cli(name, "--help")
    assert proc.returncode == 0, proc.stderr
    assert f"usage: python -m fastdescent {name}" in proc.stdout
    options = {"demo": ("--quick", "--rows", "--epochs", "--n-jobs"),
               "compare": ("--task", "--optimizers", "--epochs", "--batch-size", "--out"),
               "bench": ("--rows", "--cols", "--rounds", "--stat", "--json"),
               "info": ("--json",)}
    for option in options[name]:
        assert option in proc.stdout


def test_no_subcommand_prints_usage():
    proc = run_cli()
    assert proc.returncode == 2
    assert "usage:" in proc.stdout


def test_version():
    proc = run_cli("--version")
    assert proc.returncode == 0
    assert fastdescent.__version__ in proc.stdout


def test_installed_distribution_has_the_version_and_the_console_script():
    dist = metadata.distribution("fastdescent")
    assert dist.version == fastdescent.__version__  # one source: __init__.py
    scripts = {ep.name: ep.value for ep in dist.entry_points if ep.group == "console_scripts"}
    assert scripts.get("fastdescent") == "fastdescent.cli:main"
    script = Path(sysconfig.get_path("scripts")) / "fastdescent"
    if script.exists():  # where pip put it for this interpreter
        proc = subprocess.run([str(script), "--version"], capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0 and fastdescent.__version__ in proc.stdout


def test_unknown_subcommand_fails():
    proc = run_cli("no-such-command")
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr


@pytest.mark.parametrize("rows", ["-5", "10", "many"])
def test_demo_rejects_bad_rows(rows):
    proc = run_cli("demo", "--rows", rows)
    assert proc.returncode == 2
    assert "--rows" in proc.stderr


def test_info():
    proc = run_cli("info")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert fastdescent.__version__ in out
    for word in ("build", "openmp", "threads", "scikit-learn", "optional packages"):
        assert word in out
    for extra in ("numba", "dask", "mlflow", "matplotlib", "tqdm", "torch"):
        assert re.search(rf"^\s+{extra}\s+\S", out, re.M), extra


def test_info_json():
    proc = run_cli("info", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["version"] == fastdescent.__version__
    assert data["build"] == fastdescent.show_config(print_out=False)
    assert data["threads"]["cpus available"] >= 1
    assert set(data["optional"]) == {"numba", "dask", "mlflow", "matplotlib", "tqdm", "torch"}


def test_demo_quick_table(quick_demo):
    out = quick_demo.stdout
    assert "task" in out and "speedup vs scikit-learn" in out
    assert "synthetic 20,000x100 binary" in out
    assert "Total demo time" in out
    rows = parse_table(out)
    for task in TASKS:
        for method in METHODS:
            assert (task, method) in rows, (task, method, out)
    assert ("synthetic", "fastdescent mini-batch (B=256)") in rows
    for seconds, _score, epochs, speedup in rows.values():
        assert seconds > 0 and speedup > 0 and epochs >= 1
    # scikit-learn is the reference of the speedup column.
    for task in TASKS:
        assert rows[(task, "scikit-learn SGD (per-sample)")][3] == 1.0
    # The synthetic task is capped at --epochs (5) for every method.
    assert all(rows[("synthetic", m)][2] == 5 for m in METHODS)


def test_demo_quick_scores(quick_demo):
    rows = parse_table(quick_demo.stdout)
    score = {key: value[1] for key, value in rows.items()}
    for method in METHODS:
        assert score[("digits", method)] > 0.9, method
        assert score[("breast_cancer", method)] > 0.9, method
        assert score[("diabetes", method)] > 0.3, method  # R^2; about 0.39 for every method
        assert score[("synthetic", method)] > 0.75, method  # about 0.85 is the best possible
    # fastdescent and scikit-learn run the same per-sample algorithm (different shuffles).
    for task in TASKS:
        ours = score[(task, "fastdescent SGD (per-sample)")]
        theirs = score[(task, "scikit-learn SGD (per-sample)")]
        assert abs(ours - theirs) < 0.05, task
    # fastdescent's full batch and the NumPy loop are the same algorithm: same epochs, score.
    for task in TASKS:
        ours = rows[(task, "fastdescent full-batch GD")]
        numpy = rows[(task, "NumPy full-batch GD")]
        assert ours[2] == numpy[2], task
        assert ours[1] == pytest.approx(numpy[1], abs=1e-3), task


def test_demo_skips_synthetic_with_rows_0():
    proc = run_cli("demo", "--rows", "0", "--repeat", "1")
    assert proc.returncode == 0, proc.stderr
    rows = parse_table(proc.stdout)
    assert {task for task, _ in rows} == {"digits", "breast_cancer", "diabetes"}


@pytest.mark.parametrize("loss", ["log_loss", "squared_error"])
def test_numpy_baseline_matches_fastdescent_full_batch(loss):
    """The demo's NumPy loop follows the full-batch trajectory of fastdescent exactly."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((500, 8))
    if loss == "log_loss":
        y = rng.integers(0, 3, 500)
        est = fastdescent.SGDClassifier(loss=loss, batch_size="full", learning_rate="constant",
                                        eta0=0.5, random_state=0)
        coef = est.fit(X, y).coef_
    else:
        y = X @ rng.standard_normal(8) + 3.0 + 0.1 * rng.standard_normal(500)
        est = fastdescent.SGDRegressor(loss=loss, batch_size="full", learning_rate="constant",
                                       eta0=0.1, random_state=0)
        coef = est.fit(X, y).coef_.reshape(1, -1)
    W, b, n_iter = numpy_gd(X, y, loss=loss, eta0=est.eta0)
    assert n_iter == est.n_iter_
    np.testing.assert_allclose(W.T, coef, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b, est.intercept_, rtol=1e-10, atol=1e-12)


def test_info_lists_the_extras():
    data = json.loads(run_cli("info", "--json").stdout)
    assert set(data["extras"]) == {"cuda", "dask", "mlflow", "plot", "bench"}
    from importlib.util import find_spec

    expected = "available" if find_spec("matplotlib") else "missing (pip install fastdescent[plot])"
    assert data["extras"]["plot"] == expected
    assert "extras:" in run_cli("info").stdout


def parse_compare(text):
    rows = {}
    for line in text.splitlines():
        cells = line.split()
        if len(cells) == 6 and cells[0] in ("sgd", "adam", "lion"):
            rows[cells[0]] = cells
    return rows


def test_compare_prints_a_table_and_writes_the_png(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "curves.png"
    proc = run_cli("compare", "--optimizers", "sgd,adam,lion", "--epochs", "6", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = parse_compare(proc.stdout)
    assert set(rows) == {"sgd", "adam", "lion"}
    for name, (_, _eta0, seconds, epochs, loss, acc) in rows.items():
        assert int(epochs) == 6 and float(seconds) > 0 and float(loss) > 0
        assert float(acc) > 0.85, name
    # The same fits in this process give the same table.
    from fastdescent._compare import run_compare

    for r in run_compare(["adam"], epochs=6):
        assert rows["adam"][4] == f"{r.final_loss:.4f}" and rows["adam"][5] == f"{r.test_accuracy:.4f}"
    assert f"loss curves written to {out}" in proc.stdout
    from matplotlib.image import imread

    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = imread(out)
    assert image.shape[0] > 300 and image.shape[1] > 500
    assert image[..., :3].std() > 0.05  # not a blank canvas


def test_compare_rejects_unknown_optimizers():
    proc = run_cli("compare", "--optimizers", "sgd,newton")
    assert proc.returncode == 2
    assert "--optimizers" in proc.stderr and "newton" in proc.stderr


def test_bench_without_pytest_benchmark_says_what_to_install(monkeypatch, capsys):
    from importlib import util

    from fastdescent.cli import main

    find_spec = util.find_spec
    monkeypatch.setattr(util, "find_spec",
                        lambda name, *a: None if name == "pytest_benchmark" else find_spec(name, *a))
    assert main(["bench"]) == 1
    assert "pip install fastdescent[bench]" in capsys.readouterr().err


def test_bench_without_the_benchmarks_folder(tmp_path, capsys):
    pytest.importorskip("pytest_benchmark")
    from fastdescent.cli import main

    assert main(["bench", "--dir", str(tmp_path)]) == 1
    assert "source checkout" in capsys.readouterr().err


def test_bench_runs_the_report():
    pytest.importorskip("pytest_benchmark")
    from fastdescent.cli import _benchmarks_dir

    if _benchmarks_dir() is None:
        pytest.skip("benchmarks/ is not beside this fastdescent (an installed package)")
    proc = run_cli("bench", "--rows", "2000", "--cols", "20", "--rounds", "1")
    assert proc.returncode == 0, proc.stderr
    assert "## fastdescent training benchmarks (median of the rounds)" in proc.stdout
    assert "per-sample SGD epoch vs scikit-learn SGDClassifier" in proc.stdout
    assert "2000x20" in proc.stdout
