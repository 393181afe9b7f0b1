"""Multi-output regression: time per epoch of k = 8 outputs against one output and against 8
separate fits, on 1,000,000 x 100 dense rows (float64), on one thread and on all cores, for full
batch and in-order mini-batches of 256 (plain SGD, constant step). An epoch's time is (4-epoch
fit - 1-epoch fit) / 3, the best of 3, so that the fixed cost of a fit is left out. Beside them,
the compute bound of the 8-output epoch: its 2 K d multiply-adds per row at the rate of an
in-cache BLAS product on one core, times the threads (the one-output epoch is bound by reading
X instead); "bound ratio" is the least 8-output / 1-output ratio that this bound allows.

Run:

    python benchmarks/bench_multi_output.py
"""

from __future__ import annotations

import os
import time
import warnings

import numpy as np

import fastdescent as fd

ROWS, COLS, OUTPUTS = 1_000_000, 100, 8


def epoch_time(X, y, **kw):
    def fit(epochs):
        est = fd.SGDRegressor(max_iter=epochs, tol=None, learning_rate="constant", eta0=0.01, **kw)
        start = time.perf_counter()
        est.fit(X, y)
        return time.perf_counter() - start

    one = min(fit(1) for _ in range(3))
    four = min(fit(4) for _ in range(3))
    return (four - one) / 3


def fma_rate():
    """Multiply-adds per second of one core at its best: NumPy's BLAS on a 256 x 256 product
    that stays in cache, one thread, best of 50."""
    from threadpoolctl import threadpool_limits

    a = np.random.default_rng(1).random((256, 256))
    best = np.inf
    with threadpool_limits(1):
        for _ in range(50):
            start = time.perf_counter()
            a @ a
            best = min(best, time.perf_counter() - start)
    return 256**3 / best


def main():
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(ROWS, COLS))
    Y = X @ rng.normal(size=(COLS, OUTPUTS))
    # An update's multi-output pass makes 2 K d multiply-adds per row (scores, gradient): at
    # the core's in-cache BLAS rate that is the compute bound of the 8-output epoch.
    bound_one_core = 2 * OUTPUTS * COLS * ROWS / fma_rate()
    cores = len(os.sched_getaffinity(0))
    print(f"{'mode':<36} {'1 output':>9} {'8 outputs':>10} {'ratio':>6} {'8 fits':>8} "
          f"{'bound 8':>8} {'bound ratio':>11}")
    for threads in (1, cores):
        for name, kw in (
            ("full batch", dict(batch_size="full")),
            ("mini-batch 256, in order", dict(batch_size=256, shuffle=False)),
        ):
            one = epoch_time(X, Y[:, 0], n_jobs=threads, **kw)
            eight = epoch_time(X, Y, n_jobs=threads, **kw)
            bound = bound_one_core / threads
            label = f"{name}, {threads} thread{'s' if threads > 1 else ''}"
            print(f"{label:<36} {one:8.3f}s {eight:9.3f}s {eight / one:5.2f}x "
                  f"{OUTPUTS * one:7.3f}s {bound:7.3f}s {bound / one:10.2f}x")


if __name__ == "__main__":
    main()
