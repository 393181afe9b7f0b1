"""Callbacks: code run at the start, at every epoch's end and at the end of a fit.

Pass them to an estimator, ``SGDClassifier(callbacks=[EarlyStopping("val_score")])``. Each
``fit`` or ``partial_fit`` call then calls, on every callback in order:

- ``on_fit_begin(estimator)`` before the first epoch;
- ``on_epoch_end(estimator, epoch, metrics)`` after every epoch, with the 1-based epoch and
  a dict of the epoch's metrics, the keys of ``history_``: ``"loss"`` (training objective),
  ``"val_score"`` (only with ``early_stopping=True``), ``"lr"`` (step size), ``"grad_norm"``
  and ``"time"`` (seconds since the call started). ``estimator.coef_`` and
  ``estimator.intercept_`` (an MLP's ``coefs_`` and ``intercepts_``) hold the current weights
  (read them, copy them, or predict with them; writing to them changes training). Returning
  True stops training after this epoch;
- ``on_fit_end(estimator)`` once the fitted attributes are set;
- ``on_fit_error(estimator, error)`` instead of ``on_fit_end`` when training raised `error`
  (a diverged fit, a KeyboardInterrupt, an exception of a callback); the estimator keeps its
  previous fitted state and the error propagates.

Each call of ``fit`` / ``partial_fit`` starts afresh (``on_fit_begin`` resets the state of the
callbacks here), so ``EarlyStopping`` acts within one ``fit``, not across ``partial_fit`` calls.

One-vs-rest classification trains one problem per class: ``on_epoch_end`` is called for
every epoch of every class, with ``metrics["class"]`` set to the class label, and returning
True stops that class only. The callbacks here keep their state per class.

The training loop runs in C++; each epoch end costs one call into Python, nothing per update.
"""

from __future__ import annotations

import math
import time

import numpy as np
from sklearn.base import is_classifier

__all__ = ["Callback", "EarlyStopping", "ModelCheckpoint", "MLflowLogger"]


class Callback:
    """Base class of callbacks; every hook does nothing by default."""

    def on_fit_begin(self, estimator):
        """Called before the first epoch of ``fit`` / ``partial_fit``."""

    def on_epoch_end(self, estimator, epoch, metrics):
        """Called after every epoch; return True to stop training.

        Parameters
        ----------
        estimator : SGDClassifier or SGDRegressor
            With ``coef_`` and ``intercept_`` holding the weights after this epoch.
        epoch : int
            1-based epoch number of this call.
        metrics : dict
            The epoch's metrics (see the module documentation); ``"class"`` for one-vs-rest.

        Returns
        -------
        bool or None
        """
        return False

    def on_fit_end(self, estimator):
        """Called once the fitted attributes are set."""

    def on_fit_error(self, estimator, error):
        """Called instead of ``on_fit_end`` when training raised `error` (it then propagates)."""


def _mode_for(monitor, mode):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}.")
    if mode == "auto":
        return "max" if "score" in monitor else "min"
    return mode


def _metric(metrics, monitor, owner):
    if monitor not in metrics:
        available = sorted(k for k in metrics if k != "class")
        hint = " (val_score needs early_stopping=True)" if monitor == "val_score" else ""
        raise KeyError(
            f"{owner} monitors {monitor!r}, which is not among the epoch's metrics "
            f"{available}{hint}."
        )
    return float(metrics[monitor])


class _Best:
    """Best value of a metric so far, and how many epochs ago it improved."""

    def __init__(self, mode, min_delta=0.0):
        self.sign = 1.0 if mode == "min" else -1.0
        self.min_delta = float(min_delta)
        self.value = math.inf  # of sign * metric
        self.epoch = None
        self.wait = 0

    def update(self, value, epoch):
        """Records `value`; True when it improves on the best by more than min_delta."""
        v = self.sign * value
        if math.isnan(v):
            self.wait += 1
            return False
        if self.epoch is None or v < self.value - self.min_delta:
            self.value, self.epoch, self.wait = v, epoch, 0
            return True
        self.wait += 1
        return False

    @property
    def best(self):
        return self.sign * self.value


def _is_network(estimator):
    """An MLP: its weights are lists of layer arrays (coefs_, intercepts_)."""
    return hasattr(estimator, "coefs_")


def _weights(estimator, key):
    """Copies of the weights a problem trains: a coef_ row (one-vs-rest) or all of them; an
    MLP's layer arrays."""
    if _is_network(estimator):
        return [c.copy() for c in estimator.coefs_], [b.copy() for b in estimator.intercepts_]
    coef, intercept = np.asarray(estimator.coef_), np.asarray(estimator.intercept_)
    if key is None:
        return coef.copy(), intercept.copy()
    row = int(np.searchsorted(estimator.classes_, key))
    return coef[row].copy(), intercept[row].copy()


def _put_weights(estimator, key, weights):
    coef, intercept = weights
    if _is_network(estimator):
        for live, best in zip([*estimator.coefs_, *estimator.intercepts_], [*coef, *intercept]):
            live[...] = best
    elif key is None:
        estimator.coef_[...] = coef
        estimator.intercept_[...] = intercept
    else:
        row = int(np.searchsorted(estimator.classes_, key))
        estimator.coef_[row] = coef
        estimator.intercept_[row] = intercept


class EarlyStopping(Callback):
    """Stops training when a metric has stopped improving.

    Parameters
    ----------
    monitor : str, default="loss"
        Key of the epoch metrics to watch (any key of ``history_``, e.g. "val_score",
        "grad_norm").
    mode : {"auto", "min", "max"}, default="auto"
        Whether lower or higher is better; "auto" means "max" for names containing "score",
        "min" otherwise.
    patience : int, default=5
        Epochs without improvement after which training stops (0: the first one).
    min_delta : float, default=0.0
        Smallest change that counts as an improvement.
    restore_best_weights : bool, default=False
        At the end of the fit, put back the weights of the best epoch (into ``coef_`` and
        ``intercept_``, the arrays ``predict`` uses).

    Attributes
    ----------
    best_ : float or dict
        Best value seen (per class label for one-vs-rest).
    best_epoch_ : int or dict
        Epoch of the best value.
    stopped_epoch_ : int or dict
        Epoch at which this callback stopped training (0: it did not).

    Notes
    -----
    Unlike the estimators' own ``early_stopping``/``tol`` rule, this watches any metric.
    Use ``tol=None`` on the estimator to let only the callback decide.
    """

    def __init__(
        self, monitor="loss", *, mode="auto", patience=5, min_delta=0.0, restore_best_weights=False
    ):
        if patience < 0:
            raise ValueError(f"patience must be >= 0, got {patience}.")
        if min_delta < 0:
            raise ValueError(f"min_delta must be >= 0, got {min_delta}.")
        self.monitor = monitor
        self.mode = _mode_for(monitor, mode)
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.restore_best_weights = restore_best_weights

    def on_fit_begin(self, estimator):
        self._state = {}
        self._weights = {}
        self._stopped = {}

    def on_epoch_end(self, estimator, epoch, metrics):
        key = metrics.get("class")
        value = _metric(metrics, self.monitor, "EarlyStopping")
        best = self._state.setdefault(key, _Best(self.mode, self.min_delta))
        if best.update(value, epoch) and self.restore_best_weights:
            self._weights[key] = _weights(estimator, key)
        if best.wait > 0 and best.wait >= self.patience:
            self._stopped[key] = epoch
            return True
        return False

    def on_fit_end(self, estimator):
        if self.restore_best_weights:
            for key, weights in self._weights.items():
                _put_weights(estimator, key, weights)

    def _per_problem(self, values):
        return values.get(None) if set(values) <= {None} else dict(values)

    @property
    def best_(self):
        return self._per_problem({k: b.best for k, b in self._state.items()})

    @property
    def best_epoch_(self):
        return self._per_problem({k: b.epoch for k, b in self._state.items()})

    @property
    def stopped_epoch_(self):
        return self._per_problem({k: self._stopped.get(k, 0) for k in self._state})


class ModelCheckpoint(Callback):
    """Keeps (in memory) a copy of the weights of the best epoch of a metric.

    Parameters
    ----------
    monitor : str, default="loss"
        Key of the epoch metrics to watch.
    mode : {"auto", "min", "max"}, default="auto"
        As in :class:`EarlyStopping`.
    restore : bool, default=False
        Put the best weights into the estimator at the end of the fit. Otherwise call
        :meth:`restore` when wanted.

    Attributes
    ----------
    best_coef_, best_intercept_ : ndarray, or list of ndarray for an MLP
        Copies of ``coef_`` / ``intercept_`` at the best epoch (for one-vs-rest, the rows of
        every class at that class's best epoch; for an MLP, of ``coefs_`` / ``intercepts_``).
    best_ : float or dict
        Best value of the metric (per class label for one-vs-rest).
    best_epoch_ : int or dict
        Epoch of the best value.
    """

    def __init__(self, monitor="loss", *, mode="auto", restore=False):
        self.monitor = monitor
        self.mode = _mode_for(monitor, mode)
        self.restore = restore

    def on_fit_begin(self, estimator):
        self._state = {}
        # A fit that ends before any epoch (none here) keeps the starting weights.
        self.best_coef_, self.best_intercept_ = _weights(estimator, None)

    def on_epoch_end(self, estimator, epoch, metrics):
        key = metrics.get("class")
        value = _metric(metrics, self.monitor, "ModelCheckpoint")
        best = self._state.setdefault(key, _Best(self.mode))
        if best.update(value, epoch):
            coef, intercept = _weights(estimator, key)
            if key is None:
                self.best_coef_, self.best_intercept_ = coef, intercept
            else:
                row = int(np.searchsorted(estimator.classes_, key))
                self.best_coef_[row], self.best_intercept_[row] = coef, intercept
        return False

    def on_fit_end(self, estimator):
        if self.restore:
            self.restore_into(estimator)

    def restore_into(self, estimator):
        """Copies the best weights into ``estimator.coef_`` and ``estimator.intercept_``.

        Returns
        -------
        estimator
        """
        if not hasattr(self, "best_coef_"):
            raise RuntimeError("ModelCheckpoint has not watched a fit yet.")
        _put_weights(estimator, None, (self.best_coef_, self.best_intercept_))
        return estimator

    @property
    def best_(self):
        values = {k: b.best for k, b in self._state.items()}
        return values.get(None) if set(values) <= {None} else values

    @property
    def best_epoch_(self):
        values = {k: b.epoch for k, b in self._state.items()}
        return values.get(None) if set(values) <= {None} else values


def metric_name(key, estimator):
    """The name a tracking tool gets for a ``history_`` key: the validation score says what it
    is (accuracy for classifiers, R^2 for regressors)."""
    if key != "val_score":
        return key
    if is_classifier(estimator):
        return "val_accuracy"
    log_link = getattr(estimator, "_log_link", None)
    return "val_d2" if log_link is not None and log_link() else "val_r2"


def tracked_params(estimator):
    """``get_params()`` as a tracking tool logs it: strings (optimizer and schedule objects by
    their repr), callbacks left out, and the estimator's class as ``"estimator"``."""
    plain = (int, float, str, bool, type(None))
    params = {
        k: str(v if isinstance(v, plain) else repr(v))
        for k, v in estimator.get_params(deep=False).items()
        if k != "callbacks"
    }
    params["estimator"] = type(estimator).__name__
    return params


def history_metrics(estimator, first=0):
    """(name, value, epoch) of every finite metric of ``history_`` from its epoch at index
    `first` on (times left out), named by :func:`metric_name`."""
    history = estimator.history_
    for i in range(first, len(history["epoch"])):
        for key, values in history.items():
            if key not in ("epoch", "time") and math.isfinite(values[i]):
                yield metric_name(key, estimator), float(values[i]), int(history["epoch"][i])


class MLflowLogger(Callback):
    """Logs the estimator's parameters and every epoch's metrics to MLflow.

    Needs the optional extra ``pip install fastdescent[mlflow]`` (``mlflow-skinny`` is
    enough). Each fit logs into the active MLflow run when there is one (left open), or else
    into a new run that it ends when the fit ends. It changes no global MLflow setting.

    Parameters
    ----------
    tracking_uri : str or None
        Where to log (``"file:///path/mlruns"``, ``"http://host:5000"``, ...); None uses
        MLflow's current setting (``mlflow.set_tracking_uri``, ``MLFLOW_TRACKING_URI``).
        Within an active run, give None (the run's store is used).
    experiment_name : str or None
        Experiment of a new run (created if needed); None means "Default".
    run_name : str or None
        Name of a new run.
    log_every : int, default=1
        Log the metrics of every `log_every`-th epoch (and of the last one).
    per_class : bool, default=False
        For one-vs-rest fits, also log each class's metrics (``"<metric>.class_<label>"``).
        The overall metrics (``history_``'s: mean loss over the classes, gradient norm over all
        parameters, ...) are logged either way, once the fit ends.

    Attributes
    ----------
    run_id_ : str
        The run of the last fit.

    Notes
    -----
    Parameters are logged once per run as ``get_params()`` (optimizer and schedule objects
    by their repr, callbacks left out). Metrics are logged with ``step=epoch``: ``loss``,
    ``lr``, ``grad_norm`` and, with early stopping, the validation score named by what it is,
    ``val_accuracy`` (classifiers), ``val_r2`` (regressors) or ``val_d2`` (the deviance's D^2 of
    the regressor's log-link losses). MLflow 3 keeps the plain folder
    store for compatibility only: use a database-backed store, e.g.
    ``"sqlite:///mlflow.db"`` (the ``mlflow`` extra installs what it needs).
    """

    def __init__(
        self,
        tracking_uri=None,
        *,
        experiment_name=None,
        run_name=None,
        log_every=1,
        per_class=False,
    ):
        if log_every < 1:
            raise ValueError(f"log_every must be >= 1, got {log_every}.")
        self.tracking_uri = tracking_uri
        self.experiment_name = experiment_name
        self.run_name = run_name
        self.log_every = int(log_every)
        self.per_class = bool(per_class)

    @staticmethod
    def _mlflow():
        try:
            import mlflow
        except ImportError as exc:
            raise ImportError(
                "MLflowLogger needs MLflow: pip install fastdescent[mlflow] "
                "(or pip install mlflow-skinny)"
            ) from exc
        return mlflow

    def on_fit_begin(self, estimator):
        mlflow = self._mlflow()
        self._owns_run = False
        active = mlflow.active_run()
        self._owns_run = active is None
        # The client API throughout: a fit changes no global MLflow setting.
        self._client = mlflow.tracking.MlflowClient(tracking_uri=self.tracking_uri)
        if self._owns_run:
            name = self.experiment_name or "Default"
            experiment = self._client.get_experiment_by_name(name)
            experiment_id = (
                experiment.experiment_id
                if experiment is not None
                else self._client.create_experiment(name)
            )
            run = self._client.create_run(experiment_id, run_name=self.run_name)
        else:
            run = active
        self.run_id_ = run.info.run_id
        self._pending = {}
        self._one_vs_rest = False
        logged = self._client.get_run(self.run_id_).data.params
        # MLflow refuses to change a logged parameter: log the new ones only (partial_fit).
        params = {k: v for k, v in tracked_params(estimator).items() if k not in logged}
        if params:
            from mlflow.entities import Param

            self._client.log_batch(self.run_id_, params=[Param(k, v) for k, v in params.items()])

    def on_epoch_end(self, estimator, epoch, metrics):
        if "class" in metrics:
            self._one_vs_rest = True
            if not self.per_class:
                return False  # the overall metrics are logged at the end
        suffix = "" if "class" not in metrics else f".class_{metrics['class']}"
        values = {
            f"{metric_name(k, estimator)}{suffix}": float(v)
            for k, v in metrics.items()
            if k != "class" and v is not None and math.isfinite(float(v))
        }
        if epoch % self.log_every == 0:
            self._log(values, epoch)
            self._pending.pop(suffix, None)
        else:
            self._pending[suffix] = (values, epoch)
        return False

    def _log(self, values, epoch):
        from mlflow.entities import Metric

        stamp = int(1000 * time.time())
        self._client.log_batch(
            self.run_id_,
            metrics=[Metric(k, v, stamp, int(epoch)) for k, v in values.items()],
        )

    def on_fit_end(self, estimator):
        for values, epoch in self._pending.values():  # the last epoch, if it was skipped
            self._log(values, epoch)
        self._pending = {}
        if self._one_vs_rest:  # this call's epochs of history_, over the classes
            epochs = estimator.history_["epoch"]
            first = len(epochs) - estimator.n_iter_
            by_epoch = {}
            for name, value, epoch in history_metrics(estimator, first):
                if epoch % self.log_every == 0 or epoch == epochs[-1]:
                    by_epoch.setdefault(epoch, {})[name] = value
            for epoch, values in by_epoch.items():
                self._log(values, epoch)
        extra = {"n_iter": float(estimator.n_iter_)}
        self._log(extra, estimator.n_iter_)
        if self._owns_run:
            self._client.set_terminated(self.run_id_)

    def on_fit_error(self, estimator, error):
        if getattr(self, "_owns_run", False) and getattr(self, "_client", None) is not None:
            self._client.set_terminated(
                self.run_id_, status="KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED"
            )

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_client", None)  # holds connections; a new fit makes a new one
        return state
