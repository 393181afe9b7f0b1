"""Training time on sparse (CSR) input: fastdescent against scikit-learn's SGDClassifier.

* a9a (LIBSVM, 32,561 x 123, ~14 nonzeros per row; ../shared/data/a9a, skipped when absent):
  one fit of scikit-learn's default hyperparameters (hinge, l2, 'optimal') with max_iter=5 and
  tol=None, both libraries; fastdescent also with a mini-batch Adagrad (lazy sparse updates).
* synthetic: FASTDESCENT_BENCH_SPARSE_ROWS x FASTDESCENT_BENCH_SPARSE_COLS (default
  1,000,000 x 1,000,000) with 50 nonzeros per row (float64 data, int32 indices, ~600 MB):
  one epoch of per-sample SGD (log_loss, l2, averaging off and on), and of mini-batch plain
  SGD, Adagrad (exact lazy updates) and Adam (sparse_updates='lazy', SparseAdam rule) with
  batch_size=32 and L1, which update only the batch's features.
* wide: FASTDESCENT_BENCH_WIDE_ROWS (default 20,000) x 2^20 columns, 50 nonzeros per row: one
  epoch of mini-batch (32) log_loss with L2 for every optimizer that has a lazy rule, with
  sparse_updates='exact' (every weight at every step, O(n_features)) and 'lazy' (the batch's
  features only, O(nnz of the batch)); the ratio is the lazy step's speed-up.

Ratios (scikit-learn time / fastdescent time, min over rounds) are printed after the timing
table. Run:

    python -m pytest benchmarks/bench_sparse.py
"""

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_svmlight_file
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier as SklearnSGDClassifier

from fastdescent import SGDClassifier

DATA_DIR = Path(os.environ.get(
    "FASTDESCENT_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
ROWS = int(os.environ.get("FASTDESCENT_BENCH_SPARSE_ROWS", 1_000_000))
COLS = int(os.environ.get("FASTDESCENT_BENCH_SPARSE_COLS", 1_000_000))
NNZ_PER_ROW = 50

_times = {}  # (problem, name) -> min seconds


class _RatioReport:
    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter):
        write = terminalreporter.write_line
        for problem in sorted({p for p, _ in _times}):
            write("")
            write(f"{problem} (min over rounds; averaged fits against scikit-learn's averaged fit):")
            for (p, name), t in _times.items():
                if p != problem:
                    continue
                line = f"  {name:<40} {t:8.3f} s"
                exact = _times.get((problem, name.replace("(lazy)", "(exact)")))
                base = _times.get((problem, "sklearn average" if "average" in name else "sklearn"))
                if exact and name.endswith("(lazy)"):
                    line += f"  {exact / t:8.1f}x the exact step's speed"
                elif base and not name.startswith("sklearn"):
                    line += f"  {base / t:6.2f}x scikit-learn's speed"
                write(line)


@pytest.fixture(scope="module", autouse=True)
def report_ratios(request):
    request.config.pluginmanager.register(_RatioReport(), "fastdescent-sparse-ratios")
    yield


def _time(benchmark, problem, name, fn, rounds):
    benchmark.group = problem
    benchmark.extra_info.update(sparse_bench=name, problem=problem)
    benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=0)
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        _times[(problem, name)] = stats.stats.min


def _fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


# ---- a9a --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def a9a():
    folder = DATA_DIR / "a9a"
    if not folder.is_dir():
        pytest.skip(f"a9a not found at {folder}")
    X, y = load_svmlight_file(str(folder / "a9a"), n_features=123)
    X32 = sp.csr_matrix((X.data, X.indices.astype(np.int32), X.indptr.astype(np.int32)),
                        shape=X.shape)
    return X32, y


A9A = dict(max_iter=5, tol=None, random_state=0)


def test_a9a_sklearn(benchmark, a9a, bench_rounds):
    X, y = a9a
    _time(benchmark, "a9a 5 epochs", "sklearn",
          lambda: _fit(SklearnSGDClassifier(**A9A), X, y), bench_rounds)


def test_a9a_fastdescent(benchmark, a9a, bench_rounds):
    X, y = a9a
    _time(benchmark, "a9a 5 epochs", "fastdescent (same algorithm)",
          lambda: _fit(SGDClassifier(**A9A), X, y), bench_rounds)


def test_a9a_fastdescent_adagrad(benchmark, a9a, bench_rounds):
    X, y = a9a
    est = SGDClassifier(optimizer="adagrad", batch_size=32, learning_rate="constant", eta0=0.1,
                        penalty="l1", **A9A)
    _time(benchmark, "a9a 5 epochs", "fastdescent adagrad batch 32 (lazy)",
          lambda: _fit(est, X, y), bench_rounds)


# ---- synthetic 1M x 1M ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synthetic():
    """Random CSR rows with NNZ_PER_ROW entries at uniform columns, labels of a sparse linear
    model; built directly (scipy.sparse.random would need memory of rows x cols)."""
    rng = np.random.default_rng(0)
    nnz = ROWS * NNZ_PER_ROW
    indices = rng.integers(0, COLS, size=nnz, dtype=np.int32)
    data = rng.standard_normal(nnz)
    indptr = np.arange(0, nnz + 1, NNZ_PER_ROW, dtype=np.int64)
    if nnz < 2**31:
        indptr = indptr.astype(np.int32)
    X = sp.csr_matrix((data, indices, indptr), shape=(ROWS, COLS))
    w = rng.standard_normal(COLS)
    y = (X @ w + rng.standard_normal(ROWS) > 0).astype(np.int64)
    return X, y


def _problem():
    return f"{ROWS:,} x {COLS:,} CSR, {NNZ_PER_ROW} nnz/row, 1 epoch"


ONE_EPOCH = dict(loss="log_loss", alpha=1e-6, max_iter=1, tol=None, random_state=0)


@pytest.mark.parametrize("average", [False, True])
def test_synthetic_sklearn(benchmark, synthetic, average):
    X, y = synthetic
    _time(benchmark, _problem(), "sklearn" if not average else "sklearn average",
          lambda: _fit(SklearnSGDClassifier(average=average, **ONE_EPOCH), X, y), 1)


@pytest.mark.parametrize("average", [False, True])
def test_synthetic_fastdescent(benchmark, synthetic, average):
    X, y = synthetic
    est = SGDClassifier(average=average, **ONE_EPOCH)
    _time(benchmark, _problem(), "fastdescent" if not average else "fastdescent average",
          lambda: _fit(est, X, y), 1)
    assert est.score(X[:10_000], y[:10_000]) > 0.5


@pytest.mark.parametrize("optimizer", ["sgd", "adagrad", "adam"])
def test_synthetic_fastdescent_minibatch(benchmark, synthetic, optimizer):
    X, y = synthetic
    est = SGDClassifier(optimizer=optimizer, batch_size=32, penalty="l1", learning_rate="constant",
                        eta0=0.05, sparse_updates="lazy", **ONE_EPOCH)
    _time(benchmark, _problem(), f"fastdescent {optimizer} batch 32 l1 (lazy)",
          lambda: _fit(est, X, y), 1)


# ---- wide: every lazy rule against the dense step ---------------------------------------------

WIDE_ROWS = int(os.environ.get("FASTDESCENT_BENCH_WIDE_ROWS", 20_000))
WIDE_COLS = 2**20
LAZY_OPTIMIZERS = ["momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "nadam",
                   "adamax", "lamb", "lion"]


@pytest.fixture(scope="module")
def wide():
    rng = np.random.default_rng(1)
    nnz = WIDE_ROWS * NNZ_PER_ROW
    indices = rng.integers(0, WIDE_COLS, size=nnz, dtype=np.int32)
    indptr = np.arange(0, nnz + 1, NNZ_PER_ROW, dtype=np.int32)
    X = sp.csr_matrix((rng.standard_normal(nnz), indices, indptr), shape=(WIDE_ROWS, WIDE_COLS))
    y = (X @ rng.standard_normal(WIDE_COLS) > 0).astype(np.int64)
    return X, y


@pytest.mark.parametrize("updates", ["exact", "lazy"])
@pytest.mark.parametrize("optimizer", LAZY_OPTIMIZERS)
def test_wide_lazy_against_exact(benchmark, wide, optimizer, updates):
    X, y = wide
    params = dict(ONE_EPOCH, learning_rate="constant", eta0=0.01)
    est = SGDClassifier(optimizer=optimizer, batch_size=32, penalty="l2", sparse_updates=updates,
                        **params)
    problem = f"{WIDE_ROWS:,} x 2^20 CSR, {NNZ_PER_ROW} nnz/row, batch 32, 1 epoch"
    _time(benchmark, problem, f"{optimizer} ({updates})", lambda: _fit(est, X, y), 1)
