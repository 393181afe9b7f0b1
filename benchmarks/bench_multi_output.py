"""Multi-output regression: time per epoch of k = 8 outputs against one output and against 8
separate fits, on 1,000,000 x 100 dense rows (float64, one thread), for full batch and in-order
mini-batches of 256 (plain SGD, constant step). An epoch's time is (4-epoch fit - 1-epoch fit)
/ 3, the best of 2, so that the fixed cost of a fit is left out.

Run:

    python benchmarks/bench_multi_output.py
"""

from __future__ import annotations

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

    one = min(fit(1) for _ in range(2))
    four = min(fit(4) for _ in range(2))
    return (four - one) / 3


def main():
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(ROWS, COLS))
    Y = X @ rng.normal(size=(COLS, OUTPUTS))
    print(f"{'mode':<24} {'1 output':>9} {'8 outputs':>10} {'ratio':>6} {'8 fits':>8}")
    for name, kw in (
        ("full batch", dict(batch_size="full")),
        ("mini-batch 256, in order", dict(batch_size=256, shuffle=False)),
    ):
        one = epoch_time(X, Y[:, 0], **kw)
        eight = epoch_time(X, Y, **kw)
        print(f"{name:<24} {one:8.3f}s {eight:9.3f}s {eight / one:5.2f}x {OUTPUTS * one:7.3f}s")


if __name__ == "__main__":
    main()
