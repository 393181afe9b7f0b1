"""SGDOneClassSVM on 1,000,000 x 20 dense rows against scikit-learn's, in one run.

Rows: scikit-learn's per-sample SGD and fastdescent's (the same algorithm and hyperparameters,
5 shuffled epochs, ``tol=None``) on one thread and on all cores; fastdescent's full batch
(``batch_size='full'``, the smoothed-hinge solver run to its own test); and the bound of a
shuffled epoch on one thread, one read of X in a random row order (a compiled loop, as
bench_training.py's floor-shuffled row; needs Cython). Each time is the best of 3; the
objective ``nu / 2 ||w||^2 + nu b + mean max(0, 1 - w.x - b)`` is printed for each fit.

Run:

    python benchmarks/bench_one_class.py
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDOneClassSVM as SklearnSGDOneClassSVM

import fastdescent as fd

ROWS, COLS, EPOCHS, NU = 1_000_000, 20, 5, 0.5


def best_time(fn, repeats=3):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, min(times)


def objective(est, X):
    w, b = est.coef_, 1.0 - est.offset_[0]
    return NU / 2 * w @ w + NU * b + np.mean(np.maximum(0.0, 1.0 - X @ w - b))


def shuffled_read_bound(X):
    try:
        import loops

        read = loops.cython_shuffled_read()
    except ImportError:
        return None
    w = np.ones(X.shape[1])
    order = np.random.default_rng(0).permutation(X.shape[0]).astype(np.int64)
    return EPOCHS * best_time(lambda: read(X, w, order))[1]


def main():
    X = np.random.default_rng(0).normal(size=(ROWS, COLS)) + 0.5
    same = dict(nu=NU, max_iter=EPOCHS, tol=None, random_state=0)
    fits = {
        "scikit-learn, per-sample": lambda: SklearnSGDOneClassSVM(**same).fit(X),
        "fastdescent, per-sample, 1 thread": lambda: fd.SGDOneClassSVM(**same).fit(X),
        "fastdescent, per-sample, all cores": lambda: fd.SGDOneClassSVM(**same, n_jobs=-1).fit(X),
        "fastdescent, full batch (solver)": lambda: fd.SGDOneClassSVM(
            nu=NU, batch_size="full"
        ).fit(X),
    }
    baseline = None
    print(f"{'fit':<38} {'seconds':>8} {'vs sklearn':>10} {'epochs':>6} {'objective':>10}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for name, fit in fits.items():
            est, seconds = best_time(fit)
            baseline = baseline or seconds
            print(
                f"{name:<38} {seconds:8.3f} {baseline / seconds:9.2f}x {est.n_iter_:6d} "
                f"{objective(est, X):10.6f}"
            )
    bound = shuffled_read_bound(X)
    if bound is not None:
        print(
            f"{'bound: shuffled read of X, 1 thread':<38} {bound:8.3f} {baseline / bound:9.2f}x "
            f"{EPOCHS:6d}"
        )


if __name__ == "__main__":
    main()
