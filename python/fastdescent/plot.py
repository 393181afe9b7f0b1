"""Plots of training runs and step-size schedules (matplotlib, ``pip install fastdescent[plot]``).

>>> import fastdescent.plot as fdplot
>>> ax = fdplot.loss_curves({"sgd": sgd_model, "adam": adam_model})  # doctest: +SKIP
>>> ax.figure.savefig("curves.png")                                   # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

__all__ = ["loss_curves", "schedule"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "fastdescent.plot needs matplotlib: pip install fastdescent[plot]"
        ) from exc
    return plt


def _axes(ax):
    if ax is not None:
        return ax
    _, ax = _pyplot().subplots(figsize=(6.4, 4.0), layout="constrained")
    return ax


def _named(items, labels, default_name):
    """[(label, item)] from a dict, or from a sequence (or one item) with optional labels."""
    if isinstance(items, dict):
        if labels is not None:
            raise ValueError("labels must be None when the items are given as a dict.")
        return list(items.items())
    if not isinstance(items, (list, tuple)):
        items = [items]
    if labels is None:
        labels = [default_name(item, i) for i, item in enumerate(items)]
    labels = list(labels)
    if len(labels) != len(items):
        raise ValueError(f"got {len(items)} items but {len(labels)} labels.")
    return list(zip(labels, items))


def _final_estimator(est):
    """The estimator that trained: the last step of a Pipeline, or the estimator itself."""
    if hasattr(est, "history_"):
        return est
    steps = getattr(est, "steps", None)
    if steps:
        return _final_estimator(steps[-1][1])
    best = getattr(est, "best_estimator_", None)  # GridSearchCV and friends
    if best is not None:
        return _final_estimator(best)
    raise ValueError(
        f"{type(est).__name__} has no history_: pass fitted fastdescent estimators (or "
        "pipelines / searches ending in one)."
    )


def _estimator_label(est, i):
    est = _final_estimator(est)
    opt = est.optimizer
    return f"{type(est).__name__} ({opt if isinstance(opt, str) else type(opt).__name__})"


def loss_curves(estimators, labels=None, *, metric="loss", ax=None, log=None):
    """Plots a per-epoch metric of fitted estimators, one line each.

    Parameters
    ----------
    estimators : estimator, list of estimators or dict {label: estimator}
        Fitted fastdescent estimators (or Pipelines / searches whose final or best estimator
        is one).
    labels : list of str, optional
        Legend entries; default: the class and the optimizer.
    metric : str, default="loss"
        Key of ``history_``: "loss", "val_score", "lr", "grad_norm" or "time".
    ax : matplotlib Axes, optional
        Where to draw; default: a new figure.
    log : bool, optional
        Logarithmic y axis; default: on for "loss" and "grad_norm" when all values are
        positive.

    Returns
    -------
    matplotlib Axes
        The line of each estimator has x = epochs 1..n and y = ``history_[metric]``.
    """
    pairs = _named(estimators, labels, _estimator_label)
    curves = []
    for label, est in pairs:
        history = _final_estimator(est).history_
        if metric not in history:
            raise KeyError(
                f"history_ has no {metric!r}; it has {sorted(history)}"
                + (" (val_score needs early_stopping=True)" if metric == "val_score" else "")
            )
        curves.append((str(label), np.asarray(history["epoch"]), np.asarray(history[metric])))
    ax = _axes(ax)
    for i, (label, epochs, values) in enumerate(curves):
        # The default color cycle has 10 colors: later lines change their style.
        ax.plot(
            epochs,
            values,
            label=label,
            linestyle=("-", "--", ":")[(i // 10) % 3],
            marker="." if len(values) < 30 else None,
        )
    if log is None:
        log = metric in ("loss", "grad_norm") and all(np.all(v > 0) for _, _, v in curves)
    if log:
        ax.set_yscale("log")
    names = {
        "loss": "training objective",
        "val_score": "validation score",
        "lr": "step size",
        "grad_norm": "gradient norm",
        "time": "seconds",
    }
    ax.set_xlabel("epoch")
    ax.set_ylabel(names.get(metric, metric))
    ax.grid(True, alpha=0.3)
    if len(curves) > 1 or labels is not None or isinstance(estimators, dict):
        ax.legend(fontsize="small", ncols=2 if len(curves) > 6 else 1)
    return ax


def _schedule_label(sched, i):
    return repr(sched) if len(repr(sched)) <= 60 else type(sched).__name__


def schedule(schedules, steps, labels=None, *, ax=None, log=False):
    """Plots step-size schedules over the first `steps` updates.

    Parameters
    ----------
    schedules : Schedule, list of Schedule or dict {label: Schedule}
        :mod:`fastdescent.schedules` objects (anything with ``values(n)``).
    steps : int
        Number of updates to show (x = 0 .. steps - 1, the update count before each step).
    labels : list of str, optional
        Legend entries; default: the schedules' reprs.
    ax : matplotlib Axes, optional
    log : bool, default=False
        Logarithmic y axis.

    Returns
    -------
    matplotlib Axes
        One line per schedule, y = ``schedule.values(steps)``.
    """
    pairs = _named(schedules, labels, _schedule_label)
    ax = _axes(ax)
    x = np.arange(int(steps))
    for label, sched in pairs:
        ax.plot(x, sched.values(int(steps)), label=str(label))
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("update")
    ax.set_ylabel("step size")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return ax
