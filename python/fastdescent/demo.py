"""``python -m fastdescent demo``: fastdescent next to scikit-learn and a NumPy loop.

Trains on scikit-learn's bundled data sets (digits: 10 classes, breast_cancer: binary,
diabetes: regression; 30% held out, standardized with a StandardScaler fitted on the training
part) and on a synthetic dense binary problem (1,000,000 x 100 float64 by default), and prints
one table: fit time, test score and speedup over scikit-learn for

* fastdescent per-sample SGD with scikit-learn's default hyperparameters (``loss='log_loss'``
  for the classifiers, so that every method optimizes the same objective),
* fastdescent full-batch gradient descent with a constant step (and mini-batch on the large
  problem),
* scikit-learn's SGDClassifier / SGDRegressor with the same hyperparameters as the
  fastdescent SGD row,
* a vectorized NumPy full-batch gradient-descent loop (:func:`numpy_gd`) with the same loss,
  penalty, step and stopping rule as the fastdescent full-batch row.

The large problem caps every method at a few epochs (``tol=None``) so that the demo finishes in
well under two minutes on a 2-core machine.
"""

from __future__ import annotations

import os
import platform
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np

__all__ = ["run_demo", "numpy_gd", "make_synthetic", "format_table", "DemoRow"]

# Rows of the synthetic problem: full size, and the size --quick uses.
FULL_ROWS = 1_000_000
QUICK_ROWS = 20_000
MIN_ROWS = 1_000  # the mini-batch fit needs 256 training rows
N_FEATURES = 100
SEED = 0


@dataclass
class Task:
    """One learning problem of the demo and the settings its methods share."""

    name: str
    metric: str  # "accuracy" or "R^2"
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    # Shared by fastdescent SGD and scikit-learn (scikit-learn's defaults otherwise).
    sgd_params: dict
    # fastdescent full-batch and the NumPy loop: constant step eta0, same stopping rule.
    full_params: dict
    minibatch: dict | None = None  # fastdescent mini-batch parameters, if shown
    capped: bool = False  # max_iter capped with tol=None: silence ConvergenceWarning
    repeat: int = 1  # fits per method; the fastest is reported

    @property
    def classification(self):
        return self.metric == "accuracy"

    @property
    def label(self):
        n, d = self.X_train.shape
        n += self.X_test.shape[0]
        if self.classification:
            k = np.unique(self.y_train).shape[0]
            kind = "binary" if k == 2 else f"{k}-class"
        else:
            kind = "regression"
        return f"{self.name} {n:,}x{d} {kind}"


@dataclass
class DemoRow:
    """One line of the demo's table."""

    task: str
    method: str
    seconds: float
    score: float
    metric: str
    epochs: int
    speedup: float = float("nan")  # scikit-learn's fit time / this fit time


# ---- data --------------------------------------------------------------------------------


def make_synthetic(n_rows, n_features=N_FEATURES, *, noise=0.5, seed=SEED, dtype=np.float64):
    """A dense binary classification problem, cheap to generate and standardized already.

    ``X`` is standard Gaussian (zero mean, unit variance per column, C-contiguous); the labels
    are the sign of a random linear model ``X @ w`` plus Gaussian noise of scale ``noise``
    (the linear signal has unit variance, so about 85% accuracy is the best achievable).

    Returns
    -------
    X : ndarray of shape (n_rows, n_features)
    y : ndarray of shape (n_rows,), int8 labels 0 / 1
    """
    rng = np.random.default_rng(seed)
    X = np.empty((n_rows, n_features), dtype=dtype)
    rng.standard_normal(dtype=dtype, out=X)  # in place: no float64 temporary for float32 X
    w = rng.standard_normal(n_features) / np.sqrt(n_features)
    margin = X @ w.astype(dtype)
    margin += noise * rng.standard_normal(n_rows).astype(dtype)
    return X, (margin > 0).astype(np.int8)


def _bundled(name, loader, metric, sgd_params, full_params, repeat):
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = loader(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=SEED)
    scaler = StandardScaler().fit(X_train)
    return Task(
        name,
        metric,
        scaler.transform(X_train),
        scaler.transform(X_test),
        y_train,
        y_test,
        sgd_params=sgd_params,
        full_params=full_params,
        repeat=repeat,
    )


def _tasks(rows, epochs, n_jobs, repeat):
    """The demo's problems, bundled data sets first; the synthetic one is made when reached."""
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits

    common = dict(random_state=SEED, n_jobs=n_jobs)
    # scikit-learn's defaults (alpha=1e-4, l2, max_iter=1000, tol=1e-3, n_iter_no_change=5,
    # learning_rate 'optimal' for the classifier, 'invscaling' for the regressor).
    clf = dict(loss="log_loss", **common)
    reg = dict(loss="squared_error", **common)
    clf_full = dict(loss="log_loss", learning_rate="constant", eta0=1.0, **common)
    reg_full = dict(loss="squared_error", learning_rate="constant", eta0=0.4, **common)
    yield _bundled("digits", load_digits, "accuracy", clf, clf_full, repeat)
    yield _bundled("breast_cancer", load_breast_cancer, "accuracy", clf, clf_full, repeat)
    yield _bundled("diabetes", load_diabetes, "R^2", reg, reg_full, repeat)
    if rows > 0:
        X, y = make_synthetic(rows)
        n_train = int(round(0.7 * rows))
        capped = dict(max_iter=epochs, tol=None)
        yield Task(
            "synthetic",
            "accuracy",
            # Slices of a C-contiguous array: nobody copies X.
            X[:n_train],
            X[n_train:],
            y[:n_train],
            y[n_train:],
            sgd_params=dict(clf, **capped),
            full_params=dict(clf_full, **capped),
            minibatch=dict(clf, learning_rate="constant", eta0=0.5, batch_size=256, **capped),
            capped=True,
            repeat=1,
        )


# ---- the NumPy baseline ------------------------------------------------------------------


def numpy_gd(
    X,
    y,
    *,
    loss="log_loss",
    alpha=1e-4,
    eta0=1.0,
    max_iter=1000,
    tol=1e-3,
    n_iter_no_change=5,
    fit_intercept=True,
    classes=None,
):
    """Full-batch gradient descent on an L2-penalized linear model, vectorized with NumPy.

    The straightforward loop a practitioner writes: per epoch ``Z = X @ W + b``, the loss
    derivative ``G``, then ``X.T @ G`` (two passes over X). It minimizes the same objective as
    fastdescent and scikit-learn, ``mean(loss) + alpha / 2 * ||w||^2``, with the same step rule
    and stopping rule as ``SGDClassifier(batch_size='full', learning_rate='constant')``:
    a problem stops once its epoch objective has not improved by ``tol`` for
    ``n_iter_no_change`` epochs. Multi-class problems are one-vs-rest, all classes in one
    matrix product, each stopping on its own.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Class labels (``loss='log_loss'``) or real targets (``loss='squared_error'``).
    loss : {'log_loss', 'squared_error'}

    Returns
    -------
    W : ndarray of shape (n_features, n_outputs)
    b : ndarray of shape (n_outputs,)
    n_iter : int
        Epochs run (the maximum over the one-vs-rest problems).
    """
    from scipy.special import expit

    n, d = X.shape
    if loss == "log_loss":
        classes = np.unique(y) if classes is None else classes
        if classes.shape[0] == 2:
            Y = np.where(y == classes[1], 1.0, -1.0)[:, None]
        else:
            Y = np.where(y[:, None] == classes[None, :], 1.0, -1.0)
    elif loss == "squared_error":
        Y = np.asarray(y, dtype=float)[:, None]
    else:
        raise ValueError(f"numpy_gd supports 'log_loss' and 'squared_error', got {loss!r}")
    Y = Y.astype(X.dtype)
    K = Y.shape[1]
    W = np.zeros((d, K), dtype=X.dtype)
    b = np.zeros(K, dtype=X.dtype)
    active = np.ones(K, dtype=bool)
    best = np.full(K, np.inf)
    no_improvement = np.zeros(K, dtype=int)
    n_iter = 0
    for epoch in range(max_iter):
        Z = X @ W
        Z += b
        if loss == "log_loss":
            M = Y * Z
            loss_sum = np.logaddexp(0.0, -M).sum(axis=0)
            G = -Y * expit(-M)
        else:
            G = Z - Y
            loss_sum = 0.5 * np.einsum("ij,ij->j", G, G)
        grad = X.T @ G
        grad /= n
        grad += alpha * W
        step = eta0 * active  # finished problems keep their weights
        W -= grad * step
        if fit_intercept:
            b -= G.mean(axis=0) * step
        n_iter = epoch + 1
        if tol is None:
            continue
        objective = loss_sum / n + 0.5 * alpha * np.einsum("ij,ij->j", W, W)
        worse = objective > best - tol
        no_improvement = np.where(worse, no_improvement + 1, 0)
        best = np.minimum(best, objective)
        active &= no_improvement < n_iter_no_change
        if not active.any():
            break
    return W, b, n_iter


def _numpy_score(task, W, b):
    from sklearn.metrics import accuracy_score, r2_score

    Z = task.X_test @ W + b
    if not task.classification:
        return r2_score(task.y_test, Z[:, 0])
    classes = np.unique(task.y_train)
    pred = classes[(Z[:, 0] > 0).astype(int)] if Z.shape[1] == 1 else classes[Z.argmax(1)]
    return accuracy_score(task.y_test, pred)


# ---- running -----------------------------------------------------------------------------


def _run_task(task, progress):
    import sklearn.linear_model as sklm
    from sklearn.exceptions import ConvergenceWarning

    import fastdescent as fd

    if task.classification:
        ours, theirs = fd.SGDClassifier, sklm.SGDClassifier
    else:
        ours, theirs = fd.SGDRegressor, sklm.SGDRegressor
    X, y = task.X_train, task.y_train
    sk_params = dict(task.sgd_params)
    if not task.classification:
        sk_params.pop("n_jobs", None)  # scikit-learn's SGDRegressor has no n_jobs
    full = task.full_params

    # Each method: a fit, timed, and an evaluation (score, epochs) of what it returns, not timed.
    def estimator(make):
        return (
            lambda: make().fit(X, y),
            lambda est: (est.score(task.X_test, task.y_test), int(est.n_iter_)),
        )

    def numpy_fit():
        return numpy_gd(
            X,
            y,
            loss=full["loss"],
            alpha=full.get("alpha", 1e-4),
            eta0=full["eta0"],
            max_iter=full.get("max_iter", 1000),
            tol=full.get("tol", 1e-3),
            n_iter_no_change=full.get("n_iter_no_change", 5),
        )

    def numpy_evaluate(result):
        W, b, n_iter = result
        return _numpy_score(task, W, b), n_iter

    methods = [
        ("fastdescent SGD (per-sample)", *estimator(lambda: ours(**task.sgd_params))),
        ("fastdescent full-batch GD", *estimator(lambda: ours(batch_size="full", **full))),
    ]
    if task.minibatch:
        methods.append(
            (
                f"fastdescent mini-batch (B={task.minibatch['batch_size']})",
                *estimator(lambda: ours(**task.minibatch)),
            )
        )
    methods.append(("scikit-learn SGD (per-sample)", *estimator(lambda: theirs(**sk_params))))
    methods.append(("NumPy full-batch GD", numpy_fit, numpy_evaluate))

    # Repeats go round-robin over the methods, so that a passing slowdown of the machine
    # touches one fit of every method rather than every fit of one method.
    best = {name: (np.inf, None) for name, _, _ in methods}
    with warnings.catch_warnings():
        if task.capped:
            warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(max(1, task.repeat)):
            for name, fit, evaluate in methods:
                progress(f"{task.label}: {name}")
                start = time.perf_counter()
                model = fit()
                elapsed = time.perf_counter() - start
                if elapsed < best[name][0]:
                    best[name] = (elapsed, evaluate(model))
    rows = [
        DemoRow(task.label, name, seconds, score, task.metric, epochs)
        for name, (seconds, (score, epochs)) in best.items()
    ]
    reference = next(r.seconds for r in rows if r.method.startswith("scikit-learn"))
    for r in rows:
        r.speedup = reference / r.seconds if r.seconds > 0 else float("inf")
    return rows


def run_demo(*, quick=False, rows=None, epochs=5, n_jobs=None, repeat=3, progress=None):
    """Trains every method on every task of the demo.

    Parameters
    ----------
    quick : bool, default=False
        Small synthetic problem (20,000 rows), for tests and a first look.
    rows : int, optional
        Rows of the synthetic problem (default 1,000,000, or 20,000 with ``quick``); 0 skips it.
    epochs : int, default=5
        Epochs of every method on the synthetic problem (``max_iter=epochs, tol=None``).
    n_jobs : int or None
        Passed to the fastdescent and scikit-learn estimators.
    repeat : int, default=3
        Fits per method on the small data sets (the fastest is reported); 1 on the large one.
    progress : callable(str) or None
        Called with a short message before each fit.

    Returns
    -------
    list of DemoRow
    """
    if rows is None:
        rows = QUICK_ROWS if quick else FULL_ROWS
    if rows < 0 or 0 < rows < MIN_ROWS:
        raise ValueError(f"rows must be 0 (no synthetic task) or >= {MIN_ROWS}, got {rows}")
    progress = progress or (lambda message: None)
    out = []
    for task in _tasks(rows, epochs, n_jobs, repeat):
        out.extend(_run_task(task, progress))
    return out


def format_table(rows):
    """The rows as a plain-text table; cells are separated by at least two spaces."""
    header = ["task", "method", "fit time (s)", "test score", "epochs", "speedup vs scikit-learn"]
    body = []
    for r in rows:
        metric = "acc" if r.metric == "accuracy" else r.metric
        # The task is repeated on every row: the table is easy to grep and parse.
        body.append(
            [
                r.task,
                r.method,
                f"{r.seconds:.4f}" if r.seconds < 10 else f"{r.seconds:.2f}",
                f"{r.score:.4f} {metric}",
                str(r.epochs),
                f"{r.speedup:.2f}x",
            ]
        )
    widths = [max(len(h), *(len(line[i]) for line in body)) for i, h in enumerate(header)]
    right = {2, 3, 4, 5}

    def fmt(cells):
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    lines = [fmt(header), "  ".join("-" * w for w in widths)]
    previous = None
    for line, r in zip(body, rows):
        if previous is not None and r.task != previous:
            lines.append("")
        previous = r.task
        lines.append(fmt(line))
    return "\n".join(lines)


def _environment():
    import sklearn

    import fastdescent

    info = fastdescent.show_config(print_out=False)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"fastdescent {fastdescent.__version__} (OpenMP: {info.get('openmp')}), "
        f"scikit-learn {sklearn.__version__}, NumPy {np.__version__}, "
        f"Python {platform.python_version()}, {cpus} CPUs"
    )


def _notes(epochs, repeat):
    return "\n".join(
        [
            "Hyperparameters, the same for every method that has them (random_state=0):",
            "- per-sample SGD (fastdescent, scikit-learn): scikit-learn's defaults "
            "(alpha=1e-4, l2,",
            "  max_iter=1000, tol=1e-3, learning_rate 'optimal' / 'invscaling'), loss='log_loss'",
            "  for the classifiers, 'squared_error' for the regressor;",
            "- full-batch GD (fastdescent, NumPy): the same loss and penalty, constant step "
            "(eta0=1.0",
            "  classifiers, 0.4 regressor), same stopping rule; mini-batch: B=256, "
            "constant eta0=0.5;",
            f"- synthetic task: every method capped at {epochs} epochs "
            f"(max_iter={epochs}, tol=None).",
            f"Fit time: fastest of {repeat} fits on the small data sets, one fit on the synthetic "
            "one; scores on the 30% held out.",
        ]
    )


def main(*, quick=False, rows=None, epochs=5, n_jobs=None, repeat=3, file=None):
    """Runs the demo and prints the table; returns 0."""
    file = file or sys.stdout
    start = time.perf_counter()
    verbose = sys.stderr.isatty()

    def progress(message):
        if verbose:
            print(f"\r\033[K  ... {message}", end="", file=sys.stderr, flush=True)

    results = run_demo(
        quick=quick, rows=rows, epochs=epochs, n_jobs=n_jobs, repeat=repeat, progress=progress
    )
    if verbose:
        print("\r\033[K", end="", file=sys.stderr, flush=True)
    print(_environment(), file=file)
    print(file=file)
    print(format_table(results), file=file)
    print(file=file)
    print(_notes(epochs, repeat), file=file)
    print(f"Total demo time: {time.perf_counter() - start:.1f} s", file=file)
    return 0
