"""fastdescent.mlflow against a real SQLite-backed MLflow tracking store: autolog logs each fit
(parameters, per-epoch metrics, training score, the model), log_model / load_model round-trip
an estimator without its callbacks."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_diabetes, load_iris
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler

import fastdescent as fd
from fastdescent.callbacks import MLflowLogger

mlflow = pytest.importorskip("mlflow")
pytest.importorskip("sqlalchemy", reason="the mlflow extra's database store is not installed")
fm = pytest.importorskip("fastdescent.mlflow")


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # artifacts of the default experiment go to ./mlruns
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_experiment("Default")  # not one that an earlier test made active elsewhere
    yield mlflow.tracking.MlflowClient()
    fm.autolog(disable=True)
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(previous)


def _iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def test_autolog_logs_params_metrics_and_model(store):
    X, y = _iris()
    fm.autolog()
    est = fd.SGDClassifier(max_iter=6, tol=None, early_stopping=True, random_state=0).fit(X, y)
    run = mlflow.last_active_run()
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert len(params) >= 20 and params["estimator"] == "SGDClassifier"
    assert params["max_iter"] == "6" and "callbacks" not in params
    for key, name in [("loss", "loss"), ("val_score", "val_accuracy"), ("lr", "lr")]:
        history = sorted(store.get_metric_history(run.info.run_id, name), key=lambda m: m.step)
        assert [m.step for m in history] == est.history_["epoch"]
        assert_allclose([m.value for m in history], est.history_[key], rtol=1e-12)
    assert run.data.metrics["training_accuracy_score"] == pytest.approx(est.score(X, y))
    loaded = mlflow.sklearn.load_model(f"runs:/{run.info.run_id}/model")
    assert_array_equal(loaded.predict(X), est.predict(X))


def test_autolog_regressor_and_disable(store):
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    own_fit = fd.SGDRegressor.fit
    fm.autolog(log_models=False)
    assert fd.SGDRegressor.fit is not own_fit
    est = fd.SGDRegressor(random_state=0).fit(X, y, sample_weight=np.ones(len(y)))
    run = mlflow.last_active_run()
    assert run.data.metrics["training_r2_score"] == pytest.approx(est.score(X, y))
    assert not store.list_artifacts(run.info.run_id)  # log_models=False
    fm.autolog(disable=True)
    assert fd.SGDRegressor.fit is own_fit
    before = len(store.search_runs([run.info.experiment_id]))
    fd.SGDRegressor(random_state=0).fit(X, y)
    assert len(store.search_runs([run.info.experiment_id])) == before


def test_autolog_in_a_search_gives_child_runs(store):
    X, y = _iris()
    fm.autolog(log_models=False)
    with mlflow.start_run() as parent:
        GridSearchCV(fd.SGDClassifier(max_iter=3, tol=None, random_state=0),
                     {"alpha": [1e-4, 1e-3]}, cv=2).fit(X, y)
    children = store.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert len(children) == 2 * 2 + 1  # each fold's fit and the refit
    assert {c.data.params["alpha"] for c in children} == {"0.0001", "0.001"}


def test_log_model_round_trip_leaves_callbacks_out(store, tmp_path):
    X, y = _iris()
    logger = MLflowLogger()
    est = fd.SGDClassifier(loss="log_loss", max_iter=5, tol=None, random_state=0,
                           callbacks=[logger]).fit(X, y)
    with mlflow.start_run():
        info = fm.log_model(est)
    loaded = mlflow.sklearn.load_model(info.model_uri)
    assert loaded.callbacks is None and est.callbacks == [logger]
    assert_allclose(loaded.predict_proba(X), est.predict_proba(X), rtol=1e-12)
    loaded.partial_fit(X, y)  # a loaded model keeps training
