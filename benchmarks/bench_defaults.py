"""What every mode gives with its defaults: held-out score, final objective against the exact
optimum at the same regularization, and fit time.

Each mode is fitted choosing only ``loss``, ``penalty``, ``alpha``, ``batch_size``,
``optimizer`` and ``multi_class``; beside it scikit-learn's SGD with its defaults and the exact
solver at the same regularization (LogisticRegression with ``C = 1 / (n_samples * alpha)``,
multinomial for multi-class; Ridge with ``alpha * n_samples``), run with a tight tolerance, and
for classification LogisticRegression with its default settings (the time to beat). The
mini-batch modes are the mean of 3 seeds. The
objective is the one fastdescent reports (mean loss plus ``alpha / 2 ||W||^2``), computed here
with NumPy for every model alike. Features are standardized on the training part; data sets
without a split get a 70/30 split with ``random_state=0``.

Data: scikit-learn's breast_cancer, digits and diabetes, and from ../shared/data (skipped when
absent) the HIGGS subset, a9a (sparse), MNIST-10k and California housing; a synthetic
binary problem of FASTDESCENT_BENCH_DEFAULTS_ROWS x 100 (default 1,000,000). Run:

    python benchmarks/bench_defaults.py [data set ...]
"""

from __future__ import annotations

import gzip
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.special import log_softmax
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_svmlight_file
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.linear_model import SGDClassifier as SklearnSGDClassifier
from sklearn.linear_model import SGDRegressor as SklearnSGDRegressor
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import fastdescent as fd

DATA = Path(os.environ.get("FASTDESCENT_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
ALPHA = 1e-4
SEEDS = 3
MODES = {  # the choices a user makes; everything else is the default
    "per-sample sgd": dict(batch_size=1, optimizer="sgd"),
    "full batch": dict(batch_size="full"),
    "mini-batch adam": dict(batch_size=32, optimizer="adam"),
    "mini-batch momentum": dict(batch_size=32, optimizer="momentum"),
    "mini-batch lion": dict(batch_size=32, optimizer="lion"),
}


def _split(X, y):
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=0)
    scaler = StandardScaler().fit(X_tr)
    return scaler.transform(X_tr), y_tr, scaler.transform(X_te), y_te


def breast_cancer():
    return "binary", *_split(*load_breast_cancer(return_X_y=True))


def digits():
    return "multinomial", *_split(*load_digits(return_X_y=True))


def diabetes():
    return "regression", *_split(*load_diabetes(return_X_y=True))


def higgs():
    train, test = (np.loadtxt(DATA / "higgs_subset" / f"binary.{s}") for s in ("train", "test"))
    scaler = StandardScaler().fit(train[:, 1:])
    return ("binary", scaler.transform(train[:, 1:]), train[:, 0], scaler.transform(test[:, 1:]),
            test[:, 0])


def a9a():
    def load(name):  # 32-bit indices: scikit-learn's SGD refuses 64-bit ones
        X, y = load_svmlight_file(str(DATA / "a9a" / name), n_features=123)
        X = sp.csr_matrix(X)
        X.indices, X.indptr = X.indices.astype(np.int32), X.indptr.astype(np.int32)
        return X, y

    return "binary", *load("a9a"), *load("a9a.t")


def mnist():
    root = DATA / "mnist_test"
    with gzip.open(root / "t10k-images-idx3-ubyte.gz") as f:
        X = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784).astype(np.float64)
    with gzip.open(root / "t10k-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    return "multinomial", *_split(X, y)


def california():
    df = pd.read_csv(DATA / "california_housing" / "housing.csv")
    y = df.pop("median_house_value").to_numpy()
    df["total_bedrooms"] = df["total_bedrooms"].fillna(df["total_bedrooms"].median())
    X = pd.get_dummies(df, columns=["ocean_proximity"], dtype=float).to_numpy()
    return "regression", *_split(X, y)


def synthetic():
    rows = int(os.environ.get("FASTDESCENT_BENCH_DEFAULTS_ROWS", 1_000_000))
    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, 100))
    y = (X @ rng.standard_normal(100) + rng.standard_normal(rows) > 0).astype(np.int64)
    return "binary", *_split(X, y)


DATA_SETS = {f.__name__: f for f in (breast_cancer, higgs, a9a, synthetic, digits, mnist,
                                     diabetes, california)}


def objective(task, coef, intercept, X, y, classes=None):
    """Mean loss + alpha / 2 ||W||^2 at (coef, intercept), in float64."""
    W = np.atleast_2d(np.asarray(coef, dtype=np.float64))
    P = np.asarray(X @ W.T) + np.asarray(intercept, dtype=np.float64)
    if task == "regression":
        loss = 0.5 * np.mean((y - P[:, 0]) ** 2)
    elif task == "binary":
        s = np.where(y == classes[1], 1.0, -1.0)
        loss = np.mean(np.logaddexp(0.0, -s * P[:, 0]))
    else:
        index = np.searchsorted(classes, y)
        loss = -np.mean(log_softmax(P, axis=1)[np.arange(len(y)), index])
    return float(loss + 0.5 * ALPHA * np.sum(W * W))


def exact(task, X, y):
    n = X.shape[0]
    if task == "regression":
        return Ridge(alpha=ALPHA * n, tol=1e-10).fit(X, y)
    return LogisticRegression(C=1.0 / (n * ALPHA), tol=1e-10, max_iter=10_000).fit(X, y)


def _timed(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        try:
            est.fit(X, y)
        except ValueError as error:  # a diverged default is a finding, not a crash
            return time.perf_counter() - start, str(error).split(".")[0]
    return time.perf_counter() - start, None


def rows_for(name):
    task, X_tr, y_tr, X_te, y_te = DATA_SETS[name]()
    classes = None if task == "regression" else np.unique(y_tr)
    start = time.perf_counter()
    ref = exact(task, X_tr, y_tr)
    ref_time = time.perf_counter() - start
    best = objective(task, ref.coef_, ref.intercept_, X_tr, y_tr, classes)
    rows = [(name, "exact solver", ref.score(X_te, y_te), 0.0, ref_time, "")]
    if task != "regression":  # the time to beat: LogisticRegression with its default settings
        lbfgs = LogisticRegression(C=1.0 / (len(y_tr) * ALPHA))
        seconds, _ = _timed(lbfgs, X_tr, y_tr)
        gap = (objective(task, lbfgs.coef_, lbfgs.intercept_, X_tr, y_tr, classes) - best) / best
        rows.append((name, "lbfgs, default tol", lbfgs.score(X_te, y_te), gap, seconds, ""))
    loss = "squared_error" if task == "regression" else "log_loss"
    sk = SklearnSGDRegressor if task == "regression" else SklearnSGDClassifier
    candidates = {"scikit-learn SGD": sk(loss=loss, alpha=ALPHA, random_state=0)}
    for mode, params in MODES.items():
        extra = {"multi_class": "multinomial"} if task == "multinomial" else {}
        Est = fd.SGDRegressor if task == "regression" else fd.SGDClassifier
        candidates[mode] = Est(loss=loss, alpha=ALPHA, random_state=0, **extra, **params)
    for label, est in candidates.items():
        # Stochastic modes: the mean of SEEDS seeds (the row's note says so).
        seeds = range(SEEDS) if label.startswith("mini-batch") else [0]
        runs = []
        for seed in seeds:
            est.set_params(random_state=seed)
            seconds, failure = _timed(est, X_tr, y_tr)
            if failure:
                break
            gap = (objective(task, est.coef_, est.intercept_, X_tr, y_tr, classes) - best) / best
            constant = task != "regression" and np.unique(est.predict(X_te)).size == 1
            runs.append((est.score(X_te, y_te), gap, seconds, constant))
        if failure:
            rows.append((name, label, float("nan"), float("nan"), seconds, failure))
            continue
        score, gap, seconds = (float(np.mean([r[k] for r in runs])) for k in range(3))
        notes = [f"mean of {len(runs)} seeds"] if len(runs) > 1 else []
        if any(r[3] for r in runs):
            notes.append("constant model")
        rows.append((name, label, score, gap, seconds, ", ".join(notes)))
    return rows


def main(names):
    header = f"{'data':<14} {'model':<22} {'held-out':>9} {'objective gap':>14} {'fit s':>8}  note"
    print(header)
    print("-" * len(header))
    for name in names:
        try:
            rows = rows_for(name)
        except FileNotFoundError as missing:
            print(f"{name:<14} skipped: {missing}")
            continue
        for data, label, score, gap, seconds, note in rows:
            print(f"{data:<14} {label:<22} {score:9.4f} {gap:14.2e} {seconds:8.3f}  {note}")
        sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:] or list(DATA_SETS))
