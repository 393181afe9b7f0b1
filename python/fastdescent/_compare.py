"""``python -m fastdescent compare``: several optimizers on one task, a table and their curves."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

# Step sizes that work on the standardized tasks below with a cosine schedule and batch 32.
DEFAULT_STEPS = {
    "sgd": 0.05,
    "momentum": 0.01,
    "nesterov": 0.01,
    "adagrad": 0.1,
    "rmsprop": 0.001,
    "adam": 0.003,
    "adamw": 0.003,
    "nadam": 0.003,
    "adamax": 0.01,
    "lamb": 0.01,
    "adafactor": 0.1,
    "lion": 0.001,
}
TASKS = ("digits", "breast_cancer")


@dataclass
class CompareRow:
    """One optimizer's fit."""

    optimizer: str
    eta0: float
    seconds: float
    epochs: int
    final_loss: float
    test_accuracy: float
    model: object = field(default=None, repr=False)
    error: str | None = None


def load_task(name, seed=0):
    """Standardized train/test split of a bundled scikit-learn data set."""
    from sklearn.datasets import load_breast_cancer, load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    loaders = {"digits": load_digits, "breast_cancer": load_breast_cancer}
    if name not in loaders:
        raise ValueError(f"unknown task {name!r}; choose one of {sorted(loaders)}")
    X, y = loaders[name](return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=seed, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def run_compare(
    optimizers=None, *, task="digits", epochs=30, batch_size=32, seed=0, progress=None
):
    """Fits a softmax regression (log loss) with each optimizer for `epochs` epochs.

    Every fit uses ``learning_rate='cosine'`` with the optimizer's step size from
    :data:`DEFAULT_STEPS`, ``tol=None`` (all epochs run) and the same seed.

    Returns
    -------
    list of CompareRow
    """
    from . import SGDClassifier

    optimizers = list(optimizers or DEFAULT_STEPS)
    unknown = [o for o in optimizers if o not in DEFAULT_STEPS]
    if unknown:
        raise ValueError(f"unknown optimizers {unknown}; choose from {list(DEFAULT_STEPS)}")
    X_train, X_test, y_train, y_test = load_task(task, seed)
    multi = "multinomial" if np.unique(y_train).shape[0] > 2 else "ovr"
    rows = []
    for name in optimizers:
        if progress:
            progress(name)
        eta0 = DEFAULT_STEPS[name]
        clf = SGDClassifier(
            loss="log_loss",
            multi_class=multi,
            optimizer=name,
            learning_rate="cosine",
            eta0=eta0,
            batch_size=batch_size,
            max_iter=epochs,
            tol=None,
            random_state=seed,
        )
        start = time.perf_counter()
        try:
            clf.fit(X_train, y_train)
        except ValueError as exc:  # diverged: report it, keep comparing
            rows.append(
                CompareRow(
                    name,
                    eta0,
                    time.perf_counter() - start,
                    0,
                    float("nan"),
                    float("nan"),
                    None,
                    str(exc).split(".")[0],
                )
            )
            continue
        seconds = time.perf_counter() - start
        rows.append(
            CompareRow(
                name,
                eta0,
                seconds,
                clf.n_iter_,
                clf.loss_curve_[-1],
                clf.score(X_test, y_test),
                clf,
            )
        )
    return rows


def format_table(rows):
    header = ["optimizer", "eta0", "fit time (s)", "epochs", "final loss", "test accuracy"]
    body = []
    for r in rows:
        if r.error:
            body.append([r.optimizer, f"{r.eta0:g}", f"{r.seconds:.3f}", "-", "diverged", "-"])
        else:
            body.append(
                [
                    r.optimizer,
                    f"{r.eta0:g}",
                    f"{r.seconds:.3f}",
                    str(r.epochs),
                    f"{r.final_loss:.4f}",
                    f"{r.test_accuracy:.4f}",
                ]
            )
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(header)]

    def fmt(cells):
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    return "\n".join([fmt(header), "  ".join("-" * w for w in widths), *map(fmt, body)])


def save_plot(rows, path, title):
    """Writes a PNG with the loss curves of the fits that did not diverge."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    from .plot import loss_curves

    fitted = {r.optimizer: r.model for r in rows if r.model is not None}
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.subplots()
    loss_curves(fitted, ax=ax)
    ax.set_title(title)
    fig.savefig(path, dpi=110)
    return path
