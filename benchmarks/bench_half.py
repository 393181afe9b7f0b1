"""Half-precision X (float16, bfloat16) against float32, all in one run.

Speed, on 1,000,000 x 100 dense rows (binary log_loss, both cores): a full-batch iteration and an
in-order mini-batch epoch (batch 256, shuffle=False), each the shortest epoch after the first
(which also checks the rows for NaN and infinity) by the fit's own clock (``history_["time"]``),
over 3 rounds that each fit every storage once, 8 epochs a fit, in turn (so that a spell of
slow cores falls on a round, not on one storage); the ratio of the shortest epochs, and each
round's own ratios beside it. The shortest epoch, not a difference of fit times: on this
shared machine a spell of slow thread hand-offs moved the fit differences by 30% and more. Beside
them, the floor of each storage (one read of X's bytes: NumPy sums them as 64-bit words, half
on each core) and the bound of each half-precision time: the 16-bit floor plus the
part of the float32 time above the float32 floor (the work that does not shrink with the
bytes). A finiteness scan is no floor for 16-bit X: its exponent test runs slower than
memory (200 MB: 18.7 ms on one core against 5.8 ms for the plain read).

Accuracy, on the HIGGS subset (binary log_loss) and MNIST-10k (multinomial), from
../shared/data: the training objective (mean loss + alpha/2 ||w||^2, evaluated in float64 on
the float32 data) after the same epochs of full-batch gradient descent, relative to float32's.

Run:

    python benchmarks/bench_half.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import functools
import gzip
import os
import time
import timeit
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from scipy.special import log_softmax
from sklearn.preprocessing import StandardScaler

import fastdescent as fd

try:
    import ml_dtypes
except ImportError:  # bfloat16 rows are skipped
    ml_dtypes = None

COLS = 100
DATA = Path(os.environ.get("FASTDESCENT_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def read_floor(X):
    """One read of X's bytes on both cores: NumPy sums two halves of them as 64-bit words in
    two threads (its reductions release the GIL). Best of 9."""
    words = np.ascontiguousarray(X).reshape(-1).view(np.uint64)
    halves = np.array_split(words, 2)
    with ThreadPoolExecutor(2) as pool:
        def read():
            list(pool.map(np.sum, halves))

        return min(timeit.repeat(read, number=1, repeat=9))


def shortest_epoch(X, y, batch_size, epochs=8):
    est = fd.SGDClassifier(loss="log_loss", learning_rate="constant", eta0=0.1, max_iter=epochs,
                           tol=None, n_jobs=2, shuffle=False, batch_size=batch_size).fit(X, y)
    return float(np.diff(est.history_["time"]).min())


def interleaved_epochs(arrays, y, rounds=3):
    """Shortest epochs per storage and batch size, over `rounds` rounds that each fit every
    storage once in turn: a spell of slow cores on this shared machine then falls on all the
    storages of a round, not on all the fits of one storage. Returns {(name, batch): [seconds
    per round]}."""
    times = {}
    for _ in range(rounds):
        for name, X in arrays.items():
            for batch in ("full", 256):
                time.sleep(0.3)  # lets the other core's threads settle
                times.setdefault((name, batch), []).append(shortest_epoch(X, y, batch))
    return times


def storages():
    out = [np.dtype(np.float16)]
    if ml_dtypes is not None:
        out.append(np.dtype(ml_dtypes.bfloat16))
    return out


def speed(rows):
    rng = np.random.default_rng(0)
    X32 = rng.normal(size=(rows, COLS)).astype(np.float32)
    y = (X32[:, 0] + 0.5 * X32[:, 1] > 0).astype(int)
    arrays = {"float32": X32, **{dtype.name: X32.astype(dtype) for dtype in storages()}}
    floors = {name: read_floor(X) for name, X in arrays.items()}
    times = interleaved_epochs(arrays, y)
    best = {key: min(v) for key, v in times.items()}
    print(f"{rows:,} x {COLS}, both cores; ratios to float32")
    print(f"{'X':<9} {'floor':>8} {'full-batch iter':>16} {'bound':>15} {'mini-batch epoch':>17} {'bound':>15}"
          f"  per-round ratios (full, mini)")
    print(f"{'float32':<9} {floors['float32'] * 1e3:6.1f}ms {best['float32', 'full'] * 1e3:8.1f}ms"
          f" {'':>23} {best['float32', 256] * 1e3:8.1f}ms")
    for name in list(arrays)[1:]:
        row = f"{name:<9} {floors[name] * 1e3:6.1f}ms"
        paired = []
        for batch in ("full", 256):
            time32, t = best["float32", batch], best[name, batch]
            bound = floors[name] + max(time32 - floors["float32"], 0.0)
            row += f" {t * 1e3:6.1f}ms {t / time32:5.2f}x {bound * 1e3:6.1f}ms {bound / time32:5.2f}x"
            paired.append("/".join(f"{a / b:.2f}" for a, b in zip(times[name, batch], times["float32", batch])))
        print(row + "  " + ", ".join(paired))


def higgs():
    folder = DATA / "higgs_subset"
    train = np.loadtxt(folder / "binary.train")
    X = StandardScaler().fit_transform(train[:, 1:]).astype(np.float32)
    return X, train[:, 0].astype(int), "log_loss"


def mnist():
    root = DATA / "mnist_test"
    images = next(p for p in root.iterdir() if "images" in p.name and p.name.endswith(".gz"))
    labels = next(p for p in root.iterdir() if "labels" in p.name and p.name.endswith(".gz"))
    with gzip.open(images) as f:
        X = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 784)
    with gzip.open(labels) as f:
        y = np.frombuffer(f.read(), dtype=np.uint8, offset=8).astype(np.int64)
    return X.astype(np.float32) / 255.0, y, "multinomial"


def objective(est, X, y, alpha):
    """Mean log loss (binary or softmax) + alpha/2 ||w||^2, in float64 on the float32 X."""
    X = X.astype(np.float64)
    scores = X @ est.coef_.T.astype(np.float64) + est.intercept_.astype(np.float64)
    if scores.shape[1] == 1:
        margin = np.where(y == est.classes_[1], 1.0, -1.0) * scores[:, 0]
        loss = np.logaddexp(0.0, -margin).mean()
    else:
        index = np.searchsorted(est.classes_, y)
        loss = -log_softmax(scores, axis=1)[np.arange(len(y)), index].mean()
    return loss + 0.5 * alpha * float((est.coef_.astype(np.float64) ** 2).sum())


def full_batch(X, y, kind, alpha, epochs):
    multi_class = "multinomial" if kind == "multinomial" else "ovr"
    return fd.SGDClassifier(loss="log_loss", multi_class=multi_class, batch_size="full",
                            learning_rate="constant", eta0=0.5, alpha=alpha, max_iter=epochs,
                            tol=None).fit(X, y)


def accuracy(epochs):
    alpha = 1e-4
    print(f"\ntraining objective after {epochs} full-batch epochs (relative to float32)")
    for name, load in (("HIGGS", higgs), ("MNIST-10k", mnist)):
        try:
            X, y, kind = load()
        except (OSError, StopIteration):
            print(f"{name}: data not found under {DATA}, skipped")
            continue
        train = functools.partial(full_batch, y=y, kind=kind, alpha=alpha, epochs=epochs)
        reference = objective(train(X), X, y, alpha)
        row = f"{name:<10} float32 {reference:.6f}"
        for dtype in storages():
            value = objective(train(X.astype(dtype)), X, y, alpha)
            row += f"   {dtype.name} {value:.6f} ({(value - reference) / reference:+.1e})"
        print(row)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--epochs", type=int, default=100)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    speed(args.rows)
    accuracy(args.epochs)


if __name__ == "__main__":
    main()
