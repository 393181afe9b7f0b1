"""MLPClassifier / MLPRegressor against scikit-learn's and against the matrix-product floor, in
one run.

Tasks: the MNIST-sized classification (../shared/data/mnist_test: 8,000 training and 2,000
test images, 784 pixels scaled to [0, 1]) with hidden_layer_sizes=(100,) and (256, 128), and
California housing regression (../shared/data/california_housing: the 8 numeric columns,
standardized, 16,000 training rows) with (100,); solver='adam', batch 200, shuffled epochs.

Per task and dtype (float64, float32):
- epoch time: (fit of E = 8 epochs - fit of 1 epoch) / (E - 1), so that the fixed cost of a fit
  is left out, for fastdescent and scikit-learn with the BLAS's default threads (n_jobs=None);
  the best of 5 rounds that interleave the floor, fastdescent and scikit-learn;
- fastdescent's epoch by its own clock: the shortest epoch of those fits (``history_``'s
  times), set against the floor's shortest epoch (a fit's difference of two whole fits carries
  this shared machine's drift between them; single epochs, taken the same way for both, do not);
- the floor: the same matrix products per batch (forward X W1, H W2, ...; backward H^T D,
  D W^T, X^T D) through the same BLAS (SciPy's, scipy.linalg.blas), nothing else, on the
  same shapes;
- the bound of the speed-up: scikit-learn's epoch over the floor, the speed-up of a fit whose
  epoch took its products' time and nothing more;
- test accuracy (R^2 for the regression) after the same epochs, mean over 3 seeds.

fastdescent trains with its default n_jobs (a shard of each batch per core, each through a
one-thread BLAS); the floor and scikit-learn use the BLAS's own threads.

Run:

    python benchmarks/bench_mlp.py [--epochs E] [--rounds R] [--quick]
"""

from __future__ import annotations

import argparse
import functools
import gzip
import os
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.linalg import blas
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor

import fastdescent as fd

DATA = Path(os.environ.get("FASTDESCENT_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
BATCH = 200


def mnist():
    root = DATA / "mnist_test"
    images = next(p for p in root.iterdir() if "images" in p.name)
    labels = next(p for p in root.iterdir() if "labels" in p.name)
    with gzip.open(images) as f:
        X = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 784) / 255.0
    with gzip.open(labels) as f:
        y = np.frombuffer(f.read(), dtype=np.uint8, offset=8).astype(np.int64)
    return X[:8000], y[:8000], X[8000:], y[8000:]


def california():
    import csv

    with open(DATA / "california_housing" / "housing.csv") as f:
        rows = list(csv.DictReader(f))
    cols = ["longitude", "latitude", "housing_median_age", "total_rooms", "total_bedrooms",
            "population", "households", "median_income"]
    X = np.array([[float(r[c]) if r[c] else np.nan for c in cols] for r in rows])
    X[np.isnan(X)] = np.nanmedian(X, axis=0)[np.where(np.isnan(X))[1]]
    y = np.array([float(r["median_house_value"]) for r in rows]) / 1e5
    X = (X - X.mean(0)) / X.std(0)
    perm = np.random.default_rng(0).permutation(len(y))
    X, y = X[perm], y[perm]
    return X[:16000], y[:16000], X[16000:], y[16000:]


def gemm(dtype):
    return blas.dgemm if dtype == np.float64 else blas.sgemm


def floor_epoch(X, units, dtype, rounds=3):
    """One epoch's matrix products, as the network computes them, through SciPy's BLAS. A
    row-major product C = A B is the column-major C^T = B^T A^T (no copies)."""
    g = gemm(dtype)
    X = np.ascontiguousarray(X, dtype=dtype)
    Ws = [np.zeros((a, b), dtype=dtype) + 0.01 for a, b in zip(units[:-1], units[1:])]

    def mm(A, B, ta=False, tb=False):  # row-major op(A) @ op(B)
        return g(1.0, B.T, A.T, trans_a=tb, trans_b=ta).T

    def epoch():
        for start in range(0, X.shape[0], BATCH):
            acts = [X[start : start + BATCH]]
            for W in Ws:
                acts.append(mm(acts[-1], W))
            delta = acts[-1]
            for layer in range(len(Ws) - 1, -1, -1):
                mm(acts[layer], delta, ta=True)  # the weights' gradient
                if layer:
                    delta = mm(delta, Ws[layer], tb=True)  # the delta below

    best = np.inf
    for _ in range(rounds):
        start = time.perf_counter()
        epoch()
        best = min(best, time.perf_counter() - start)
    return best


def epoch_time(make, X, y, epochs):
    """(fit of `epochs` epochs - fit of 1) / (epochs - 1): an epoch without a fit's fixed cost;
    and the shortest single epoch of the longer fit by fastdescent's clock (inf for
    scikit-learn's, which keeps none)."""
    fits = {}

    def fit(n):
        est = make(max_iter=n)
        # An OpenBLAS pool spins for a while after its last call (NumPy's after scikit-learn's
        # fit, SciPy's after fastdescent's): let it go idle before timing the next fit.
        time.sleep(0.3)
        start = time.perf_counter()
        fits[n] = est.fit(X, y)
        return time.perf_counter() - start

    mean = (fit(epochs) - fit(1)) / (epochs - 1)
    clock = getattr(fits[epochs], "history_", {}).get("time", [])
    shortest = min(np.diff(clock)) if len(clock) > 1 else np.inf
    return mean, shortest


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=8, help="epochs per timed fit")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds")
    parser.add_argument("--accuracy-epochs", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="one seed, fewer epochs")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    seeds = [0] if args.quick else [0, 1, 2]
    tasks = [
        ("MNIST (100,)", mnist, (100,), True),
        ("MNIST (256, 128)", mnist, (256, 128), True),
        ("California (100,)", california, (100,), False),
    ]
    print(f"| task | dtype | floor | fastdescent | its shortest epoch | vs floor | scikit-learn | "
          f"speed-up | bound | test score fd / sklearn ({args.accuracy_epochs} epochs, {len(seeds)} seeds) |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for name, load, hidden, classify in tasks:
        X, y, X_test, y_test = load()
        ours_cls, sk_cls = (fd.MLPClassifier, SkMLPClassifier) if classify else (fd.MLPRegressor, SkMLPRegressor)
        for dtype in (np.float64, np.float32):
            Xd, Xt = X.astype(dtype), X_test.astype(dtype)
            outputs = len(np.unique(y)) if classify else 1
            units = [X.shape[1], *hidden, outputs]
            kw = dict(hidden_layer_sizes=hidden, batch_size=BATCH, tol=0, n_iter_no_change=10**9,
                      random_state=0)
            # Rounds interleave the three, each keeps its best: this shared machine's speed
            # drifts by tens of percent over minutes.
            floor = ours = theirs = ours_epoch = np.inf
            for _ in range(args.rounds):
                floor = min(floor, floor_epoch(Xd, units, dtype))
                mean, shortest = epoch_time(functools.partial(ours_cls, **kw), Xd, y, args.epochs)
                ours, ours_epoch = min(ours, mean), min(ours_epoch, shortest)
                theirs = min(theirs, epoch_time(functools.partial(sk_cls, **kw), Xd, y, args.epochs)[0])
            scores = []
            for cls in (ours_cls, sk_cls):
                runs = [cls(**dict(kw, random_state=s), max_iter=args.accuracy_epochs).fit(Xd, y).score(Xt, y_test)
                        for s in seeds]
                scores.append(np.mean(runs))
            print(f"| {name} | {np.dtype(dtype).name} | {floor * 1e3:.1f} ms | {ours * 1e3:.1f} ms | "
                  f"{ours_epoch * 1e3:.1f} ms | {ours_epoch / floor:.2f}x | {theirs * 1e3:.1f} ms | "
                  f"{theirs / ours:.2f}x | {theirs / floor:.2f}x | {scores[0]:.4f} / {scores[1]:.4f} |", flush=True)


if __name__ == "__main__":
    main()
