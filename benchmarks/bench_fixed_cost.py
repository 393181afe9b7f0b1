"""The fixed cost of a fit: a 1-epoch fit less one epoch, on 1,000,000 x 100 dense rows (binary
log_loss, full batch and shuffled mini-batches of 256, both cores), in milliseconds and in
epochs (target: at most 0.3 of a full-batch epoch). An epoch is (3-epoch fit - 1-epoch fit) / 2;
each time is the best of ROUNDS, the 1- and 3-epoch fits taking turns so that the machine's
drift reaches both alike.

Beside it, the scan that the fit no longer makes: one read of X for NaN and infinity
(``_core.all_finite`` on both cores, what the estimators ran before training until the first
epoch checked the rows it reads).

Then the fixed cost of a mini-batch (float32, batches in row order): an epoch of batches of 32
or 256 less a full-batch iteration, over the number of batches, in microseconds, on one
thread (the step, the per-batch bookkeeping, and before the engine ran one-thread batches
outside OpenMP, a parallel region's futex wake) and on two (there also the hand-off of each
batch to the epoch's team of threads, before it a parallel region per batch).

Run:

    python benchmarks/bench_fixed_cost.py
"""

from __future__ import annotations

import functools
import time
import warnings

import numpy as np

import fastdescent as fd
from fastdescent import _core

ROWS, COLS = 1_000_000, 100
ROUNDS = 9


def seconds(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def best(fn, repeats=ROUNDS):
    return min(seconds(fn) for _ in range(repeats))


def best_pair(first, second, rounds=ROUNDS):
    """The best times of two functions run in turns."""
    times = [(seconds(first), seconds(second)) for _ in range(rounds)]
    return min(a for a, _ in times), min(b for _, b in times)


def fit(X, y, batch_size, epochs):
    fd.SGDClassifier(loss="log_loss", learning_rate="constant", eta0=0.1, max_iter=epochs, tol=None,
                     n_jobs=2, random_state=0, batch_size=batch_size).fit(X, y)


def epoch_of(X, y, batch_size, n_jobs=1):
    """One epoch, (3-epoch fit - 1-epoch fit) / 2, in-order batches."""
    def run(epochs):
        fd.SGDClassifier(loss="log_loss", learning_rate="constant", eta0=0.1, max_iter=epochs,
                         tol=None, n_jobs=n_jobs, shuffle=False, batch_size=batch_size).fit(X, y)

    one, three = best_pair(functools.partial(run, 1), functools.partial(run, 3), rounds=5)
    return (three - one) / 2


def per_batch(X, y):
    for n_jobs, sizes in ((1, (32, 256)), (2, (256,))):
        full = epoch_of(X, y, "full", n_jobs)
        print(f"\nper mini-batch, float32, {n_jobs} thread(s) (full-batch iteration {full * 1e3:.1f} ms)")
        for batch in sizes:
            epoch = epoch_of(X, y, batch, n_jobs)
            batches = -(-X.shape[0] // batch)
            print(f"batches of {batch:<4} epoch {epoch * 1e3:6.1f}ms  "
                  f"per batch {(epoch - full) / batches * 1e6:5.2f}us")


def main():
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    print(f"{'mode':<22} {'dtype':<8} {'epoch':>8} {'fixed cost':>11} {'in epochs':>10} {'scan saved':>11}")
    for dtype in (np.float64, np.float32):
        X = rng.normal(size=(ROWS, COLS)).astype(dtype)
        y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
        scan = best(functools.partial(_core.all_finite, X, 2))
        for name, batch in (("full batch", "full"), ("mini-batch 256", 256)):
            one, three = best_pair(functools.partial(fit, X, y, batch, 1),
                                   functools.partial(fit, X, y, batch, 3))
            epoch = (three - one) / 2
            fixed = one - epoch
            print(f"{name:<22} {np.dtype(dtype).name:<8} {epoch * 1e3:6.1f}ms {fixed * 1e3:9.1f}ms "
                  f"{fixed / epoch:9.2f}x {scan * 1e3:9.1f}ms")
    per_batch(X, y)


if __name__ == "__main__":
    main()
