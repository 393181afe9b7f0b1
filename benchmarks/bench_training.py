"""Training time per epoch on a dense problem: fastdescent against its named baselines.

Every benchmark is one ``fit`` (or loop) of ``epochs`` epochs; ``extra_info`` records what
report.py needs to turn times into ratios measured in the same run:

* per-sample SGD (log_loss, l2, scikit-learn's 'optimal' schedule): fastdescent.SGDClassifier
  against sklearn.linear_model.SGDClassifier with the same hyperparameters;
* full-batch gradient descent (constant step): fastdescent.SGDClassifier(batch_size='full'),
  with one thread and with all cores, against the vectorized NumPy loop of the demo
  (fastdescent.demo.numpy_gd: ``X @ W``, then ``X.T @ G``, i.e. two passes over X);
* the floor: ``X @ w`` through NumPy's BLAS on the same array, one read of X, the least any
  full-batch iteration can cost (BLAS's default threads, and one thread). A full-batch
  iteration's time is the fit's time less that of a 1-epoch fit (the fixed cost of input
  checks and setup), over the remaining epochs.

Run (see benchmarks/README.md):

    python -m pytest benchmarks --benchmark-json=bench.json && python benchmarks/report.py bench.json
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier as SklearnSGDClassifier
from threadpoolctl import threadpool_limits

import loops
from fastdescent import SGDClassifier
from fastdescent.demo import numpy_gd

PER_SAMPLE_EPOCHS = 3
FULL_BATCH_EPOCHS = 10
HYPER = dict(loss="log_loss", penalty="l2", alpha=1e-4, random_state=0)
FULL_STEP = 1.0  # constant step of the full-batch fits (standardized X, logistic loss)


def _run(benchmark, fn, rounds, *, method, kind, X, epochs, **info):
    benchmark.group = f"{kind} {X.dtype} {X.shape[0]}x{X.shape[1]}"
    benchmark.extra_info.update(
        method=method, kind=kind, dtype=str(X.dtype), rows=X.shape[0], cols=X.shape[1],
        epochs=epochs, bytes=int(X.nbytes), **info,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=1)


# ---- per-sample SGD ------------------------------------------------------------------------


@pytest.mark.parametrize("n_jobs", [1, -1], ids=["1thread", "allcores"])
def test_per_sample_fastdescent(benchmark, dense, bench_rounds, n_jobs):
    X, y = dense
    est = SGDClassifier(max_iter=PER_SAMPLE_EPOCHS, tol=None, n_jobs=n_jobs, **HYPER)
    _run(benchmark, lambda: est.fit(X, y), bench_rounds, method="fastdescent",
         kind="per-sample", X=X, epochs=PER_SAMPLE_EPOCHS, n_jobs=n_jobs)
    assert est.n_iter_ == PER_SAMPLE_EPOCHS
    assert est.coef_.dtype == X.dtype


def test_per_sample_sklearn(benchmark, dense, bench_rounds):
    X, y = dense
    est = SklearnSGDClassifier(max_iter=PER_SAMPLE_EPOCHS, tol=None, **HYPER)
    _run(benchmark, lambda: est.fit(X, y), bench_rounds, method="scikit-learn",
         kind="per-sample", X=X, epochs=PER_SAMPLE_EPOCHS, n_jobs=1)
    assert est.n_iter_ == PER_SAMPLE_EPOCHS


# ---- full-batch gradient descent -----------------------------------------------------------


@pytest.mark.parametrize("epochs", [FULL_BATCH_EPOCHS, 1], ids=["epochs", "1epoch"])
@pytest.mark.parametrize("n_jobs", [1, -1], ids=["1thread", "allcores"])
def test_full_batch_fastdescent(benchmark, dense, bench_rounds, n_jobs, epochs):
    """The 1-epoch fit gives the fixed cost of a fit (input checks, setup), which report.py
    subtracts to get the time of one full-batch iteration."""
    X, y = dense
    est = SGDClassifier(max_iter=epochs, tol=None, batch_size="full",
                        learning_rate="constant", eta0=FULL_STEP, n_jobs=n_jobs, **HYPER)
    kind = "full-batch" if epochs > 1 else "full-batch-1epoch"
    _run(benchmark, lambda: est.fit(X, y), bench_rounds, method="fastdescent",
         kind=kind, X=X, epochs=epochs, n_jobs=n_jobs)
    assert est.n_iter_ == epochs


def test_full_batch_numpy(benchmark, dense, bench_rounds):
    X, y = dense
    result = _run(
        benchmark,
        lambda: numpy_gd(X, y, loss="log_loss", alpha=HYPER["alpha"], eta0=FULL_STEP,
                         max_iter=FULL_BATCH_EPOCHS, tol=None),
        bench_rounds, method="numpy", kind="full-batch", X=X, epochs=FULL_BATCH_EPOCHS,
        n_jobs="blas",
    )
    assert result[2] == FULL_BATCH_EPOCHS


@pytest.mark.parametrize("threads", [None, 1], ids=["blas", "1thread"])
def test_floor_matvec(benchmark, dense, bench_rounds, threads):
    """``X @ w``: one read of X by NumPy's BLAS, counted as one epoch; with BLAS's default
    threads (the floor of fastdescent on all cores) and with one thread."""
    X, _ = dense
    w = np.ones(X.shape[1], dtype=X.dtype)
    calls = FULL_BATCH_EPOCHS  # per round, so that the timer's resolution does not matter

    def matvecs():
        with threadpool_limits(limits=threads, user_api="blas"):
            for _ in range(calls):
                out = X @ w
        return out

    _run(benchmark, matvecs, bench_rounds, method="X @ w", kind="floor", X=X, epochs=calls,
         n_jobs="blas" if threads is None else str(threads))


def test_floor_shuffled_read(benchmark, dense, bench_rounds):
    """One read of X with its rows in a random order, by a plain compiled loop (Cython) that
    fetches each row ahead and computes ``X[i] . w``: what a shuffled epoch pays for the order
    alone, on one thread."""
    pytest.importorskip("Cython")
    X, _ = dense
    w = np.ones(X.shape[1], dtype=X.dtype)
    order = np.random.default_rng(0).permutation(X.shape[0]).astype(np.int64)
    read = loops.cython_shuffled_read()
    total = _run(benchmark, lambda: read(X, w, order), bench_rounds, method="shuffled read",
                 kind="floor-shuffled", X=X, epochs=1, n_jobs="1")
    assert np.isclose(total, float((X @ w).sum(dtype=np.float64)), rtol=1e-4)
