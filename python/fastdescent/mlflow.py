"""MLflow for fastdescent's estimators (``pip install "fastdescent[mlflow]"``).

MLflow's ``mlflow.sklearn.autolog()`` patches the estimators it finds in scikit-learn only, so
it does not see these. :func:`autolog` does the same for SGDClassifier and SGDRegressor: each
``fit`` runs in an MLflow run (a new one, nested when a run is active, as scikit-learn's autolog
does for the fits of a search) that gets the parameters, the per-epoch metrics of ``history_``
(``loss``, ``lr``, ``grad_norm``, ``val_accuracy`` / ``val_r2``), the training score
(``training_accuracy_score`` or ``training_r2_score``), ``n_iter`` and, unless
``log_models=False``, the model.

:func:`log_model` saves a fitted estimator with cloudpickle (scikit-learn's flavor; MLflow 3's
default, skops, refuses types it does not know) and without its callbacks (a logger with an
open tracking client does not belong in a model); ``mlflow.sklearn.load_model(uri)`` loads it.
"""

from __future__ import annotations

import copy
import functools
import inspect

from ._classifier import SGDClassifier
from ._regressor import SGDRegressor
from .callbacks import history_metrics, tracked_params

__all__ = ["autolog", "log_model"]

_PATCHED: dict = {}  # class -> its own fit, while autolog is on
_SETTINGS = {"log_models": True}


def _mlflow():
    try:
        import mlflow
    except ImportError as exc:
        raise ImportError(
            'fastdescent.mlflow needs MLflow: pip install "fastdescent[mlflow]"'
        ) from exc
    return mlflow


def log_model(model, name="model", **kwargs):
    """Logs a fitted estimator (or a pipeline) to the active MLflow run, without callbacks.

    Parameters
    ----------
    model : estimator
    name : str, default="model"
        The model's name in the run.
    **kwargs
        Passed to ``mlflow.sklearn.log_model`` (``input_example``, ``signature``,
        ``registered_model_name``, ...).

    Returns
    -------
    mlflow.models.model.ModelInfo
    """
    _mlflow()
    from mlflow import sklearn as mlflow_sklearn

    kwargs.setdefault("serialization_format", mlflow_sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE)
    return mlflow_sklearn.log_model(_without_callbacks(model), name=name, **kwargs)


def _without_callbacks(model):
    """A shallow copy of `model` (and of any pipeline step) with callbacks=None."""
    if hasattr(model, "steps"):
        model = copy.copy(model)
        model.steps = [(n, _without_callbacks(step)) for n, step in model.steps]
        return model
    if getattr(model, "callbacks", None):
        model = copy.copy(model)
        model.callbacks = None
    return model


def _log_fit(mlflow, estimator, X, y, sample_weight):
    from mlflow.entities import Metric, Param

    client = mlflow.tracking.MlflowClient()
    run_id = mlflow.active_run().info.run_id
    stamp = mlflow.utils.time.get_current_time_millis()
    metrics = [
        Metric(name, value, stamp, epoch) for name, value, epoch in history_metrics(estimator)
    ]
    score_name = (
        "training_accuracy_score" if hasattr(estimator, "classes_") else "training_r2_score"
    )
    score = estimator.score(X, y, sample_weight=sample_weight)
    metrics += [
        Metric(score_name, float(score), stamp, 0),
        Metric("n_iter", float(estimator.n_iter_), stamp, 0),
    ]
    params = [Param(k, v) for k, v in tracked_params(estimator).items()]
    client.log_batch(run_id, metrics=metrics, params=params)
    if _SETTINGS["log_models"]:
        log_model(estimator)


def _autologged(own_fit):
    signature = inspect.signature(own_fit)

    @functools.wraps(own_fit)
    def fit(self, *args, **kwargs):
        if type(self) not in _PATCHED:
            return own_fit(self, *args, **kwargs)
        mlflow = _mlflow()
        call = signature.bind(self, *args, **kwargs).arguments
        with mlflow.start_run(nested=mlflow.active_run() is not None):
            result = own_fit(self, *args, **kwargs)
            _log_fit(mlflow, self, call["X"], call["y"], call.get("sample_weight"))
        return result

    fit._fastdescent_own_fit = own_fit
    return fit


def autolog(log_models=True, disable=False):
    """Logs every ``fit`` of SGDClassifier and SGDRegressor to MLflow (see the module).

    Parameters
    ----------
    log_models : bool, default=True
        Also log the fitted model (see :func:`log_model`).
    disable : bool, default=False
        Stop logging: the estimators' own ``fit`` is put back.
    """
    _mlflow()
    _SETTINGS["log_models"] = bool(log_models)
    for cls in (SGDClassifier, SGDRegressor):
        if disable:
            if cls in _PATCHED:
                cls.fit = _PATCHED.pop(cls)
        elif cls not in _PATCHED:
            _PATCHED[cls] = cls.fit
            cls.fit = _autologged(cls.fit)
