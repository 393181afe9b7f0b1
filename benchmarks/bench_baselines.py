"""fastdescent against the loops a user would write instead, on the dense problem of conftest.py.

* per-sample SGD (log_loss, l2, 'optimal'): fastdescent with one thread and all cores against
  the same loop in NumPy (timed on a slice of the rows, scaled), Numba and Cython (compiled
  here, compile time excluded by the warm-up round), plus scikit-learn in bench_training.py;
* mini-batch (256 rows) Adam: fastdescent against a NumPy loop and a PyTorch loop (CPU);
* MNIST-sized softmax regression (10,000 x 784, 10 classes, ../shared/data/mnist_test):
  fastdescent's multinomial log_loss (mini-batch Adam for 5 epochs, and per-sample with
  scikit-learn's defaults to its own convergence) against scikit-learn's
  SGDClassifier(log_loss) to its convergence; the test accuracies are recorded beside the times;
* time against rows: fastdescent's per-sample and full-batch epochs at 4 sizes spanning two
  orders of magnitude;
* peak memory of a fit in a fresh process (VmHWM), against the bytes of X.

report.py renders everything as ratios measured in the same run.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import loops
from fastdescent import SGDClassifier

HYPER = dict(loss="log_loss", penalty="l2", alpha=1e-4, random_state=0)
NUMPY_LOOP_ROWS = 20_000  # the pure-NumPy per-sample loop is timed on this many rows


def _run(benchmark, fn, rounds, *, method, kind, X, epochs, rows_timed=None, **info):
    benchmark.group = f"{kind} {X.dtype} {X.shape[0]}x{X.shape[1]}"
    benchmark.extra_info.update(
        method=method, kind=kind, dtype=str(X.dtype), rows=X.shape[0], cols=X.shape[1],
        epochs=epochs, bytes=int(X.nbytes), rows_timed=rows_timed or X.shape[0], **info,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=1)


def _signs(y):
    return np.where(y > 0, 1.0, -1.0).astype(np.float64)


def _log_loss(X, ys, w, b):
    return float(np.mean(np.logaddexp(0.0, -ys * (X @ w + b))))


def _fixed_seconds(benchmark, fit):
    """The fixed cost of a fit (input checks, setup), as the best of three 1-epoch fits, put in
    extra_info: report.py subtracts it, with one epoch, from an E-epoch fit, leaving E - 1 epochs
    alone to compare with loops that check nothing."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        one = []
        for _ in range(3):
            start = time.perf_counter()
            fit(1)
            one.append(time.perf_counter() - start)
    benchmark.extra_info["fixed_seconds"] = min(one)


# ---- per-sample loops ----------------------------------------------------------------------


@pytest.mark.parametrize("n_jobs", [1, -1], ids=["1thread", "allcores"])
def test_per_sample_fastdescent(benchmark, dense, bench_rounds, n_jobs):
    """Two epochs less the fixed cost of a fit: one epoch, as the loops below run; the training
    loss is that of a 1-epoch fit, as theirs."""
    X, y = dense

    def fit(epochs):
        est = SGDClassifier(max_iter=epochs, tol=None, shuffle=False, n_jobs=n_jobs, **HYPER)
        return est.fit(X, y)

    _fixed_seconds(benchmark, fit)
    _run(benchmark, lambda: fit(2), bench_rounds, method="fastdescent", kind="per-sample-loop",
         X=X, epochs=2, n_jobs=n_jobs)
    est = fit(1)
    benchmark.extra_info["train_log_loss"] = _log_loss(X, _signs(y), est.coef_.ravel(),
                                                       est.intercept_[0])


def test_per_sample_numpy_loop(benchmark, dense):
    X, y = dense
    rows = min(NUMPY_LOOP_ROWS, X.shape[0])
    Xs, ys = X[:rows], _signs(y[:rows])
    _run(benchmark, lambda: loops.numpy_per_sample(Xs, ys), 1, method="NumPy loop",
         kind="per-sample-loop", X=X, epochs=1, rows_timed=rows, n_jobs=1)


@pytest.mark.parametrize("compiler", ["Numba", "Cython"])
def test_per_sample_compiled(benchmark, dense, bench_rounds, compiler):
    pytest.importorskip({"Numba": "numba", "Cython": "Cython"}[compiler])
    X, y = dense
    fn = loops.numba_per_sample() if compiler == "Numba" else loops.cython_per_sample()
    ys = _signs(y)
    _run(benchmark, lambda: fn(X, ys), bench_rounds, method=compiler, kind="per-sample-loop",
         X=X, epochs=1, n_jobs=1)


@pytest.mark.parametrize("n_jobs", [1, -1], ids=["1thread", "allcores"])
def test_per_sample_numba_hogwild(benchmark, dense, bench_rounds, n_jobs):
    """The other parallel scheme for per-sample SGD, lock-free updates of one shared model, to
    set beside fastdescent's thread-local models averaged per round (n_jobs=-1 above)."""
    pytest.importorskip("numba")
    X, y = dense
    fn = loops.numba_hogwild_per_sample()
    ys = _signs(y)
    threads = os.cpu_count() if n_jobs == -1 else 1
    w, b = _run(benchmark, lambda: fn(X, ys, threads), bench_rounds, method="Numba Hogwild",
                kind="per-sample-loop", X=X, epochs=1, n_jobs=n_jobs)
    benchmark.extra_info["train_log_loss"] = _log_loss(X, ys, w, b)


def test_loops_agree_with_fastdescent(dense):
    """The baselines compute what fastdescent computes (same algorithm, same order). Rows
    scaled to norm ~1: with the first steps of the 'optimal' schedule (eta ~ 1) on rows of
    squared norm d, rounding differences grow until runs disagree."""
    X, y = dense
    rows = min(5000, X.shape[0])
    Xs, ys = np.ascontiguousarray(X[:rows] / np.sqrt(X.shape[1])).astype(X.dtype), y[:rows]
    est = SGDClassifier(max_iter=1, tol=None, shuffle=False, **HYPER).fit(Xs, ys)
    tol = 1e-3 if X.dtype == np.float32 else 1e-8
    for name, fn in [("numpy", loops.numpy_per_sample), ("numba", loops.numba_per_sample()),
                     ("cython", loops.cython_per_sample())]:
        w, b = fn(Xs, _signs(ys))
        np.testing.assert_allclose(w, est.coef_.ravel(), rtol=tol, atol=tol, err_msg=name)


# ---- mini-batch Adam -----------------------------------------------------------------------

ADAM = dict(batch_size=256, lr=1e-3)


@pytest.mark.parametrize("shuffle", [False, True], ids=["in-order", "shuffled"])
@pytest.mark.parametrize("n_jobs", [1, -1], ids=["1thread", "allcores"])
def test_minibatch_adam_fastdescent(benchmark, dense, bench_rounds, n_jobs, shuffle):
    """In row order, as the loops below run; shuffled, as a fit runs by default (every batch
    then gathers rows from all over X). Three epochs less the fixed cost of a fit."""
    X, y = dense

    def fit(epochs):
        est = SGDClassifier(max_iter=epochs, tol=None, shuffle=shuffle, n_jobs=n_jobs,
                            batch_size=ADAM["batch_size"], optimizer="adam",
                            learning_rate="constant", eta0=ADAM["lr"], **HYPER)
        return est.fit(X, y)

    _fixed_seconds(benchmark, fit)
    _run(benchmark, lambda: fit(3), bench_rounds,
         method="fastdescent" if not shuffle else "fastdescent shuffled",
         kind="minibatch-adam", X=X, epochs=3, n_jobs=n_jobs)


def test_minibatch_adam_numpy(benchmark, dense, bench_rounds):
    X, y = dense
    _run(benchmark, lambda: loops.numpy_minibatch_adam(X, y, **ADAM), bench_rounds,
         method="NumPy loop", kind="minibatch-adam", X=X, epochs=1, n_jobs="blas")


def test_minibatch_adam_torch(benchmark, dense):
    pytest.importorskip("torch")
    X, y = dense
    _run(benchmark, lambda: loops.torch_minibatch_adam(X, y, **ADAM), 2,
         method="PyTorch loop", kind="minibatch-adam", X=X, epochs=1, n_jobs="torch")


# ---- MNIST-sized multinomial ----------------------------------------------------------------


def _mnist(data_dir):
    root = data_dir / "mnist_test"
    images = [p for p in root.iterdir() if "images" in p.name and p.name.endswith(".gz")]
    labels = [p for p in root.iterdir() if "labels" in p.name and p.name.endswith(".gz")]
    if not images or not labels:
        pytest.skip(f"no MNIST idx files in {root}")
    with gzip.open(images[0]) as f:
        X = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 784)
    with gzip.open(labels[0]) as f:
        y = np.frombuffer(f.read(), dtype=np.uint8, offset=8).astype(np.int64)
    return X.astype(np.float32) / 255.0, y


@pytest.fixture(scope="module")
def mnist():
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    data = Path(os.environ.get("FASTDESCENT_DATA", default))
    if not (data / "mnist_test").is_dir():
        pytest.skip(f"MNIST not found at {data / 'mnist_test'}")
    X, y = _mnist(data)
    return X[:8000], y[:8000], X[8000:], y[8000:]


@pytest.mark.parametrize("method", ["fastdescent", "fastdescent per-sample", "scikit-learn"])
def test_mnist_multinomial(benchmark, mnist, method):
    from sklearn.linear_model import SGDClassifier as SklearnSGD

    X, y, X_test, y_test = mnist
    if method == "fastdescent":  # softmax, mini-batch Adam: a few epochs suffice
        est = SGDClassifier(loss="log_loss", multi_class="multinomial", alpha=1e-4,
                            batch_size=32, optimizer="adam", learning_rate="constant",
                            eta0=1e-3, max_iter=5, tol=None, random_state=0)
    elif method == "fastdescent per-sample":  # softmax with scikit-learn's defaults
        est = SGDClassifier(loss="log_loss", multi_class="multinomial", alpha=1e-4,
                            random_state=0)
    else:
        est = SklearnSGD(loss="log_loss", alpha=1e-4, random_state=0)
    _run(benchmark, lambda: est.fit(X, y), 3, method=method, kind="mnist-multinomial", X=X,
         epochs=1, n_jobs=1)
    benchmark.extra_info["test_accuracy"] = float(est.score(X_test, y_test))
    benchmark.extra_info["n_iter"] = int(np.max(est.n_iter_))


# ---- time against rows ----------------------------------------------------------------------

SCALES = [0.01, 0.0464, 0.215, 1.0]  # two orders of magnitude, evenly spaced in log


@pytest.mark.parametrize("scale", SCALES, ids=[f"{s:g}" for s in SCALES])
@pytest.mark.parametrize("batch", ["per-sample", "full-batch"])
def test_scaling_with_rows(benchmark, dense, bench_rounds, scale, batch):
    """A 6-epoch fit; the fixed cost of a fit (a 1-epoch fit, best of 3) goes to extra_info so
    that report.py shows the time of an epoch alone."""
    X, y = dense
    rows = max(1000, int(X.shape[0] * scale))
    Xs, ys = X[:rows], y[:rows]
    kw = dict(batch_size="full", learning_rate="constant", eta0=1.0) if batch == "full-batch" else {}

    def fit(epochs):
        return SGDClassifier(max_iter=epochs, tol=None, n_jobs=1, **kw, **HYPER).fit(Xs, ys)

    _fixed_seconds(benchmark, fit)
    _run(benchmark, lambda: fit(6), bench_rounds, method="fastdescent", kind=f"scaling {batch}",
         X=Xs, epochs=6, n_jobs=1)


# ---- peak memory ----------------------------------------------------------------------------

MEMORY_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import fastdescent
    n, d, dtype, batch = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    rng = np.random.default_rng(0)
    y = (rng.random(n) > 0.5).astype(np.int64)
    import os
    # A small fit first, so that the modules a fit imports are loaded before the baseline.
    fastdescent.SGDClassifier(max_iter=1, tol=None).fit(np.ones((4, d), dtype=dtype), y[:4] * 0 + [0, 1, 0, 1])
    # Resident memory now (not the peak of the imports): the baseline the fit is measured from.
    before = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    X = np.empty((n, d), dtype=dtype)
    for s in range(0, n, 4096):  # filled in chunks: no temporary the size of X
        X[s:s + 4096] = rng.standard_normal((min(4096, n - s), d))
    kw = dict(batch_size=int(batch) if batch.isdigit() else batch)
    fastdescent.SGDClassifier(loss="log_loss", max_iter=2, tol=None, **kw).fit(X, y)
    # VmHWM, the peak of this process's own memory map: ru_maxrss would carry over the peak of
    # the parent that started this process (Linux keeps it across exec).
    status = open("/proc/self/status").read()
    peak = int(status.split("VmHWM:")[1].split()[0]) * 1024
    print(json.dumps(dict(extra=peak - before - X.nbytes, x_bytes=X.nbytes)))
""")


@pytest.mark.parametrize("batch", ["1", "256", "full"])
def test_peak_memory_of_a_fit(benchmark, dense, batch):
    if not Path("/proc/self/statm").exists():
        pytest.skip("needs Linux's /proc to read the resident memory")
    """Peak resident memory of a fit in a fresh process, less the process before X: X itself
    plus what the fit adds (target at most 10% of X)."""
    X, _ = dense
    args = [sys.executable, "-c", MEMORY_SCRIPT, str(X.shape[0]), str(X.shape[1]), str(X.dtype), batch]

    def measure():
        out = subprocess.run(args, capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    result = _run(benchmark, measure, 1, method="fastdescent", kind="peak-memory", X=X,
                  epochs=2, n_jobs=1, batch=batch)
    benchmark.extra_info.update(result)
