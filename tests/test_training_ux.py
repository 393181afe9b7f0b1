"""Around training: verbose output, history_, the gradient norm, callbacks, MLflow, plots."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning

from fastdescent import SGDClassifier, SGDRegressor
from fastdescent.callbacks import Callback, EarlyStopping, MLflowLogger, ModelCheckpoint

DTYPES = [np.float32, np.float64]
RTOL = {np.float32: 2e-4, np.float64: 1e-10}


def regression(n=200, d=6, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    y = (X @ rng.standard_normal(d) + 0.5 + 0.1 * rng.standard_normal(n)).astype(dtype)
    return X, y


def classification(n=240, d=5, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = 2.0 * rng.standard_normal((classes, d))
    y = rng.integers(0, classes, n)
    return rng.standard_normal((n, d)) + centers[y], y


class Recorder(Callback):
    """Remembers every call, with copies of the weights at each epoch end."""

    def __init__(self, stop_at=None):
        self.stop_at = stop_at

    def on_fit_begin(self, estimator):
        self.calls = ["begin"]
        self.epochs, self.metrics, self.coefs, self.intercepts = [], [], [], []

    def on_epoch_end(self, estimator, epoch, metrics):
        self.calls.append("epoch")
        self.epochs.append(epoch)
        self.metrics.append(metrics)
        self.coefs.append(np.array(estimator.coef_, copy=True))
        self.intercepts.append(np.array(estimator.intercept_, copy=True))
        return self.stop_at is not None and epoch >= self.stop_at

    def on_fit_end(self, estimator):
        self.calls.append("end")


# ---- verbose ------------------------------------------------------------------------------


def test_verbose_0_prints_nothing(capfd):
    X, y = regression()
    SGDRegressor(max_iter=5, tol=None).fit(X, y)
    SGDClassifier(max_iter=5, tol=None).fit(*classification())
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_verbose_1_shows_a_progress_bar(capfd):
    X, y = regression()
    est = SGDRegressor(max_iter=7, tol=None, verbose=1).fit(X, y)
    out, err = capfd.readouterr()
    assert out == ""  # the bar goes to stderr, no per-epoch lines
    assert "SGDRegressor" in err and "7/7" in err and "epoch" in err
    last_loss = f"loss={est.loss_curve_[-1]:.4g}"
    assert last_loss in err and "lr=" in err


def test_verbose_1_bar_ends_at_the_epochs_run(capfd):
    X, y = regression()
    est = SGDRegressor(max_iter=1000, verbose=1).fit(X, y)  # stops on tol long before
    err = capfd.readouterr().err
    assert est.n_iter_ < 1000
    assert f"{est.n_iter_}/{est.n_iter_}" in err


def test_verbose_2_prints_a_line_per_epoch(capfd):
    X, y = regression()
    est = SGDRegressor(max_iter=4, tol=None, verbose=2, early_stopping=True,
                       random_state=0).fit(X, y)
    out, err = capfd.readouterr()
    assert "SGDRegressor" in err  # the bar as well
    assert [line for line in out.splitlines() if line.startswith("-- Epoch")] == [
        f"-- Epoch {e}" for e in range(1, 5)]
    assert f"Avg. loss: {est.loss_curve_[0]:.6f}" in out
    assert f"Validation score: {est.history_['val_score'][-1]:.6f}" in out
    assert out.count("grad norm:") == 4


def test_verbose_2_one_vs_rest_names_the_class(capfd):
    X, y = classification()
    SGDClassifier(max_iter=2, tol=None, verbose=2).fit(X, y)
    out = capfd.readouterr().out
    for k in range(3):
        assert out.count(f"(class {k})") == 2


# ---- history_ -----------------------------------------------------------------------------


def test_history_keys_and_values():
    X, y = regression()
    est = SGDRegressor(max_iter=6, tol=None, learning_rate="cosine", eta0=0.05,
                       batch_size=16).fit(X, y)
    h = est.history_
    assert list(h) == ["epoch", "loss", "lr", "grad_norm", "time"]
    assert h["epoch"] == [1, 2, 3, 4, 5, 6]
    assert h["loss"] == est.loss_curve_
    assert all(len(v) == 6 for v in h.values())
    assert np.all(np.diff(h["time"]) >= 0) and h["time"][0] >= 0
    assert np.all(np.diff(h["lr"]) < 0)  # cosine decay, read at each epoch's last update
    assert all(g > 0 for g in h["grad_norm"])


def test_history_validation_score_with_early_stopping():
    X, y = classification(classes=2)
    est = SGDClassifier(early_stopping=True, max_iter=50, random_state=0).fit(X, y)
    assert "val_score" in est.history_
    assert len(est.history_["val_score"]) == est.n_iter_
    assert all(0 <= s <= 1 for s in est.history_["val_score"])


def test_history_one_vs_rest_aggregates_the_classes():
    X, y = classification()
    rec = Recorder()
    est = SGDClassifier(max_iter=8, tol=None, random_state=0, callbacks=[rec]).fit(X, y)
    assert est.history_["loss"] == pytest.approx(est.loss_curve_, rel=1e-12)
    per_class = {k: [m for m in rec.metrics if m["class"] == k] for k in range(3)}
    for e in range(8):
        norms = [per_class[k][e]["grad_norm"] for k in range(3)]
        assert est.history_["grad_norm"][e] == pytest.approx(np.sqrt(np.sum(np.square(norms))))
        assert est.history_["loss"][e] == pytest.approx(
            np.mean([per_class[k][e]["loss"] for k in range(3)]))


def test_partial_fit_history_grows_an_epoch_per_call():
    X, y = regression()
    est = SGDRegressor()
    for calls in range(1, 4):
        est.partial_fit(X, y)
        assert est.history_["epoch"] == list(range(1, calls + 1))
        assert est.history_["loss"] == est.loss_curve_


# ---- gradient norm against NumPy ----------------------------------------------------------


def _objective_gradient_norm(X, y, w, b, sw, alpha, loss):
    """||gradient of sum(sw * loss) / sum(sw) + alpha / 2 ||w||^2|| over (w, b), in float64."""
    X, y, w, sw = (np.asarray(a, dtype=np.float64) for a in (X, y, w, sw))
    p = X @ w + float(b)
    if loss == "squared_error":
        d = p - y
    else:  # log_loss on -1/+1 targets
        d = -y / (1.0 + np.exp(y * p))
    gw = X.T @ (sw * d) / sw.sum() + alpha * w
    gb = np.sum(sw * d) / sw.sum()
    return np.sqrt(gw @ gw + gb * gb)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", ["squared_error", "log_loss"])
def test_full_batch_grad_norm_is_the_objective_gradient(dtype, loss):
    X, y = regression(dtype=dtype)
    sw = np.random.default_rng(1).uniform(0.5, 2.0, X.shape[0]).astype(dtype)
    alpha = 0.01
    rec = Recorder()
    if loss == "squared_error":
        est = SGDRegressor(batch_size="full", learning_rate="constant", eta0=0.1, alpha=alpha,
                           max_iter=5, tol=None, callbacks=[rec])
        y_pm = y
    else:
        y = (y > np.median(y)).astype(int)
        est = SGDClassifier(loss="log_loss", batch_size="full", learning_rate="constant",
                            eta0=0.5, alpha=alpha, max_iter=5, tol=None, callbacks=[rec])
        y_pm = np.where(y == 1, 1.0, -1.0)
    est.fit(X, y, sample_weight=sw)
    # Epoch e's one update starts from the weights after epoch e - 1 (zeros for the first).
    starts = [(np.zeros(X.shape[1]), 0.0)] + [
        (c.ravel(), i.ravel()[0]) for c, i in zip(rec.coefs[:-1], rec.intercepts[:-1])]
    expected = [_objective_gradient_norm(X, y_pm, w, b, sw, alpha, loss) for w, b in starts]
    assert_allclose(est.history_["grad_norm"], expected, rtol=RTOL[dtype] * 10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sparse", [False, True])
def test_per_sample_grad_norm_is_the_last_rows_gradient(dtype, sparse):
    """Without shuffling the last update is on the last row, from the weights a fit on the
    other rows ends with (the wscale representation included: alpha is large)."""
    X, y = regression(n=50, dtype=dtype)
    alpha, sw_last = 0.05, 1.7
    sw = np.ones(50, dtype=dtype)
    sw[-1] = sw_last
    params = dict(shuffle=False, max_iter=1, tol=None, alpha=alpha, learning_rate="invscaling",
                  eta0=0.02)
    Xs = sp.csr_matrix(X) if sparse else X
    before = SGDRegressor(**params).fit(Xs[:-1], y[:-1])
    full = SGDRegressor(**params).fit(Xs, y, sample_weight=sw)
    w, b = before.coef_.astype(np.float64), float(before.intercept_[0])
    x = X[-1].astype(np.float64)
    a = sw_last * (x @ w + b - float(y[-1]))
    gw = a * x + alpha * w
    expected = np.sqrt(gw @ gw + a * a)
    assert full.history_["grad_norm"][0] == pytest.approx(expected, rel=RTOL[dtype] * 10)


@pytest.mark.parametrize("params", [
    dict(optimizer="sgd", penalty="elasticnet", alpha=0.01),  # lazy L2 decay and L1 steps
    dict(optimizer="adagrad", penalty=None),
    dict(optimizer="rmsprop", penalty="l1", alpha=0.001),
    dict(optimizer="adam", penalty="l2", alpha=0.01),  # no lazy rule: the dense update
])
def test_sparse_mini_batch_grad_norm_matches_dense(params):
    """CSR mini-batches update lazily (weights outside the batch catch up later); the norm
    still covers every weight's penalty gradient, as the dense path's does."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 40)) * (rng.random((300, 40)) < 0.1)
    y = X @ rng.standard_normal(40) + 0.3
    common = dict(batch_size=16, learning_rate="constant", eta0=0.01, max_iter=4, tol=None,
                  random_state=0, **params)
    dense = SGDRegressor(**common).fit(X, y)
    sparse = SGDRegressor(**common).fit(sp.csr_matrix(X), y)
    assert_allclose(sparse.coef_, dense.coef_, rtol=1e-9, atol=1e-12)
    assert_allclose(sparse.history_["grad_norm"], dense.history_["grad_norm"], rtol=1e-9)


def test_dask_fit_keeps_history_and_calls_callbacks():
    da = pytest.importorskip("dask.array")
    X, y = regression(n=400, d=5)
    kw = dict(batch_size="full", learning_rate="constant", eta0=0.1, max_iter=6, tol=None)
    rec = Recorder(stop_at=4)
    on_dask = SGDRegressor(callbacks=[rec], **kw).fit(da.from_array(X, chunks=100), y)
    in_memory = SGDRegressor(**kw).fit(X, y)
    assert on_dask.n_iter_ == 4 and rec.calls[-1] == "end" and rec.epochs == [1, 2, 3, 4]
    assert_allclose(on_dask.history_["loss"], in_memory.history_["loss"][:4], rtol=1e-10)
    assert_allclose(on_dask.history_["grad_norm"], in_memory.history_["grad_norm"][:4],
                    rtol=1e-10)
    assert_allclose(rec.coefs[-1], on_dask.coef_, rtol=0, atol=0)
    # Per-sample SGD on dask runs local epochs on the chunks: no single last update.
    local = SGDRegressor(max_iter=2, tol=None).fit(da.from_array(X, chunks=100), y)
    assert local.history_["epoch"] == [1, 2] and np.isnan(local.history_["grad_norm"]).all()


# ---- callbacks -----------------------------------------------------------------------------


@pytest.mark.parametrize("params", [
    dict(),  # per-sample SGD, l2 shrinkage through the weight scale
    dict(penalty="elasticnet"),  # per-sample with the L1 truncation
    dict(average=10),  # averaged SGD: coef_ shows the average once it has started
    dict(batch_size=16, optimizer="adam", learning_rate="constant", eta0=0.01),
])
@pytest.mark.parametrize("sparse", [False, True])
def test_coef_inside_on_epoch_end_is_the_model_after_that_epoch(params, sparse):
    X, y = regression()
    if sparse:
        X = sp.csr_matrix(X)
    rec = Recorder()
    SGDRegressor(max_iter=6, tol=None, random_state=3, alpha=0.01, callbacks=[rec],
                 **params).fit(X, y)
    assert rec.epochs == [1, 2, 3, 4, 5, 6]
    for k in (1, 3, 6):
        short = SGDRegressor(max_iter=k, tol=None, random_state=3, alpha=0.01,
                             **params).fit(X, y)
        assert_array_equal(rec.coefs[k - 1], short.coef_)
        assert_array_equal(rec.intercepts[k - 1], short.intercept_)


def test_callback_can_predict_during_the_first_fit():
    X, y = classification()
    scores = []

    class Score(Callback):
        def on_epoch_end(self, estimator, epoch, metrics):
            scores.append(estimator.score(X, y))

    est = SGDClassifier(multi_class="multinomial", loss="log_loss", max_iter=5, tol=None,
                        random_state=0, callbacks=[Score()]).fit(X, y)
    assert len(scores) == 5
    assert scores[-1] == est.score(X, y)


def test_callback_order_and_stop():
    X, y = regression()
    rec, other = Recorder(stop_at=3), Recorder()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = SGDRegressor(max_iter=3, callbacks=[rec, other]).fit(X, y)  # stopped at max_iter
    assert rec.calls == ["begin", "epoch", "epoch", "epoch", "end"]
    rec = Recorder(stop_at=4)
    est = SGDRegressor(max_iter=100, tol=None, callbacks=[rec, other]).fit(X, y)
    assert est.n_iter_ == 4 and len(est.loss_curve_) == 4
    assert other.epochs == [1, 2, 3, 4]  # every callback saw the last epoch
    assert set(rec.metrics[0]) == {"loss", "lr", "grad_norm", "time"}
    assert [m["loss"] for m in rec.metrics] == est.history_["loss"]


def test_one_vs_rest_callbacks_per_class():
    X, y = classification()
    y = np.array(["a", "b", "c"])[y]
    rec = Recorder()

    class StopClassB(Callback):
        def on_epoch_end(self, estimator, epoch, metrics):
            return metrics["class"] == "b" and epoch == 2

    for n_jobs in (1, 2):
        est = SGDClassifier(max_iter=5, tol=None, random_state=0, n_jobs=n_jobs,
                            callbacks=[rec, StopClassB()]).fit(X, y)
        assert rec.calls[0] == "begin" and rec.calls[-1] == "end"
        seen = {c: [e for e, m in zip(rec.epochs, rec.metrics) if m["class"] == c]
                for c in "abc"}
        assert seen == {"a": [1, 2, 3, 4, 5], "b": [1, 2], "c": [1, 2, 3, 4, 5]}
        # Row k of coef_ is class k's weights after that class's epoch.
        last_b = max(i for i, m in enumerate(rec.metrics) if m["class"] == "b")
        assert_array_equal(rec.coefs[last_b][1], est.coef_[1])


def test_callback_error_keeps_the_previous_model():
    X, y = regression()
    est = SGDRegressor(max_iter=3, tol=None).fit(X, y)
    coef, history = est.coef_, est.history_

    class Boom(Callback):
        def on_epoch_end(self, estimator, epoch, metrics):
            if epoch == 2:
                raise RuntimeError("boom")

    est.set_params(callbacks=[Boom()])
    with pytest.raises(RuntimeError, match="boom"):
        est.fit(X * 2, y)
    assert est.coef_ is coef and est.history_ is history
    fresh = SGDClassifier(callbacks=[Boom()])
    with pytest.raises(RuntimeError, match="boom"):
        fresh.fit(*classification())
    assert not hasattr(fresh, "coef_") and not hasattr(fresh, "classes_")


def test_callbacks_must_be_callback_objects():
    X, y = regression()
    with pytest.raises(TypeError, match="fastdescent.callbacks.Callback"):
        SGDRegressor(callbacks=[lambda *a: None]).fit(X, y)
    with pytest.raises(ValueError, match="callbacks"):
        SGDRegressor(callbacks="early").fit(X, y)


def test_early_stopping_on_any_metric():
    X, y = regression()
    # The loss keeps falling; with min_delta large, no epoch counts as an improvement.
    es = EarlyStopping("loss", patience=3, min_delta=1e9)
    est = SGDRegressor(max_iter=100, tol=None, callbacks=[es]).fit(X, y)
    assert est.n_iter_ == 4 and es.best_epoch_ == 1 and es.stopped_epoch_ == 4
    # "val_score" is maximized ("auto"), and needs early_stopping=True.
    Xc, yc = classification(classes=2)
    es = EarlyStopping("val_score", patience=2)
    est = SGDClassifier(early_stopping=True, tol=None, max_iter=200, random_state=0,
                        callbacks=[es]).fit(Xc, yc)
    scores = est.history_["val_score"]
    assert es.mode == "max" and es.best_ == max(scores)
    assert est.n_iter_ == es.best_epoch_ + 2 and es.stopped_epoch_ == est.n_iter_
    with pytest.raises(KeyError, match="early_stopping=True"):
        SGDClassifier(callbacks=[EarlyStopping("val_score")]).fit(Xc, yc)
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="up")


def test_early_stopping_restores_the_best_weights():
    X, y = regression()
    # A constant step too large for convergence: the loss goes up and down.
    rec = Recorder()
    es = EarlyStopping("grad_norm", mode="min", patience=4, restore_best_weights=True)
    est = SGDRegressor(max_iter=60, tol=None, learning_rate="constant", eta0=0.08,
                       random_state=0, callbacks=[rec, es]).fit(X, y)
    best = es.best_epoch_
    assert es.best_ == min(est.history_["grad_norm"])
    assert_array_equal(est.coef_, rec.coefs[best - 1])
    assert_array_equal(est.intercept_, rec.intercepts[best - 1])
    assert_array_equal(est.predict(X), X @ rec.coefs[best - 1] + rec.intercepts[best - 1])


def test_model_checkpoint_keeps_the_best_epoch():
    X, y = classification()
    rec = Recorder()
    ck = ModelCheckpoint("loss")
    est = SGDClassifier(multi_class="multinomial", loss="log_loss", learning_rate="constant",
                        eta0=2.0, max_iter=15, tol=None, random_state=0,
                        callbacks=[rec, ck]).fit(X, y)
    best = int(np.argmin(est.history_["loss"])) + 1
    assert ck.best_epoch_ == best and ck.best_ == min(est.history_["loss"])
    assert_array_equal(ck.best_coef_, rec.coefs[best - 1])
    final = est.coef_.copy()
    if best != 15:
        assert not np.array_equal(final, ck.best_coef_)
    ck.restore_into(est)
    assert_array_equal(est.coef_, rec.coefs[best - 1])
    assert_array_equal(est.intercept_, rec.intercepts[best - 1])


def test_model_checkpoint_one_vs_rest_keeps_each_classes_best():
    X, y = classification()
    rec = Recorder()
    ck = ModelCheckpoint("loss", restore=True)
    est = SGDClassifier(learning_rate="constant", eta0=1.0, max_iter=10, tol=None,
                        random_state=0, callbacks=[rec, ck]).fit(X, y)
    for k in range(3):
        losses = [m["loss"] for m in rec.metrics if m["class"] == k]
        coefs = [c[k] for c, m in zip(rec.coefs, rec.metrics) if m["class"] == k]
        best = int(np.argmin(losses))
        assert ck.best_epoch_[k] == best + 1
        assert_array_equal(est.coef_[k], coefs[best])


def test_fitted_estimator_with_callbacks_pickles():
    X, y = regression()
    ck = ModelCheckpoint()
    est = SGDRegressor(max_iter=5, tol=None, callbacks=[ck]).fit(X, y)
    again = pickle.loads(pickle.dumps(est))
    assert_array_equal(again.predict(X), est.predict(X))
    assert_array_equal(again.callbacks[0].best_coef_, ck.best_coef_)
    assert again.history_ == est.history_


# ---- MLflow --------------------------------------------------------------------------------


@pytest.fixture
def mlflow_store(tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    pytest.importorskip("sqlalchemy", reason="the mlflow extra's database store is not installed")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"  # a real tracking store, as MLflow 3 advises
    # Artifacts (models) of new experiments go under tmp_path too.
    monkeypatch.chdir(tmp_path)
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("Default")  # not one that an earlier test made active elsewhere
    yield mlflow, uri
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(previous)


def test_mlflow_logger_logs_params_and_every_epoch(mlflow_store):
    mlflow, uri = mlflow_store
    logger = MLflowLogger(uri, experiment_name="fastdescent-test", run_name="adam")
    X, y = regression()
    est = SGDRegressor(optimizer="adam", batch_size=32, learning_rate="constant", eta0=0.01,
                       max_iter=7, tol=None, early_stopping=True, random_state=0,
                       callbacks=[logger]).fit(X, y)
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    run = client.get_run(logger.run_id_)
    assert run.info.status == "FINISHED"  # the logger's own run is ended with the fit
    assert run.info.run_name == "adam"
    assert client.get_experiment(run.info.experiment_id).name == "fastdescent-test"
    params = run.data.params
    assert params["optimizer"] == "adam" and params["batch_size"] == "32"
    assert params["estimator"] == "SGDRegressor" and "callbacks" not in params
    for key, name in [("loss", "loss"), ("val_score", "val_r2"), ("lr", "lr"),
                      ("grad_norm", "grad_norm")]:
        history = client.get_metric_history(logger.run_id_, name)
        assert [m.step for m in sorted(history, key=lambda m: m.step)] == list(range(1, 8))
        assert_allclose([m.value for m in sorted(history, key=lambda m: m.step)],
                        est.history_[key], rtol=1e-12)
    assert not client.get_metric_history(logger.run_id_, "val_score")
    assert run.data.metrics["n_iter"] == 7


def test_mlflow_logger_in_an_active_run_and_one_vs_rest(mlflow_store):
    mlflow, uri = mlflow_store
    mlflow.set_tracking_uri(uri)
    X, y = classification()
    logger = MLflowLogger(log_every=2, per_class=True)
    est = SGDClassifier(max_iter=5, tol=None, random_state=0, callbacks=[logger])
    with mlflow.start_run() as run:
        est.fit(X, y)
        assert mlflow.active_run().info.run_id == run.info.run_id  # left open
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    assert logger.run_id_ == run.info.run_id
    for k in range(3):
        steps = sorted(m.step for m in client.get_metric_history(run.info.run_id, f"loss.class_{k}"))
        assert steps == [2, 4, 5]  # every second epoch, and the last
    overall = sorted(client.get_metric_history(run.info.run_id, "loss"), key=lambda m: m.step)
    assert [m.step for m in overall] == [2, 4, 5]
    assert_allclose([m.value for m in overall], np.array(est.history_["loss"])[[1, 3, 4]])


def test_mlflow_logger_one_vs_rest_logs_overall_metrics_only_by_default(mlflow_store):
    mlflow, uri = mlflow_store
    X, y = classification()
    logger = MLflowLogger(uri)
    est = SGDClassifier(max_iter=4, tol=None, early_stopping=True, random_state=0,
                        callbacks=[logger]).fit(X, y)
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    metrics = client.get_run(logger.run_id_).data.metrics
    assert not [k for k in metrics if ".class_" in k]
    assert {"loss", "val_accuracy", "lr", "grad_norm", "n_iter"} <= set(metrics)
    history = sorted(client.get_metric_history(logger.run_id_, "loss"), key=lambda m: m.step)
    assert [m.step for m in history] == est.history_["epoch"]
    assert_allclose([m.value for m in history], est.history_["loss"], rtol=1e-12)


def test_mlflow_run_of_a_failed_fit_is_marked_failed(mlflow_store):
    mlflow, uri = mlflow_store

    class Boom(Callback):
        def on_epoch_end(self, estimator, epoch, metrics):
            if epoch == 3:
                raise RuntimeError("boom")

    logger = MLflowLogger(uri)
    X, y = regression()
    with pytest.raises(RuntimeError, match="boom"):
        SGDRegressor(max_iter=10, tol=None, callbacks=[logger, Boom()]).fit(X, y)
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    assert client.get_run(logger.run_id_).info.status == "FAILED"
    steps = sorted(m.step for m in client.get_metric_history(logger.run_id_, "loss"))
    assert steps == [1, 2, 3]


def test_on_fit_error_is_called_instead_of_on_fit_end():
    calls = []

    class Watch(Callback):
        def on_fit_end(self, estimator):
            calls.append("end")

        def on_fit_error(self, estimator, error):
            calls.append(type(error).__name__)

    X, y = regression()
    X[0, 0] = 1e200  # overflows: the fit diverges
    with pytest.raises(ValueError, match="overflow"):
        SGDRegressor(learning_rate="constant", eta0=1.0, callbacks=[Watch()]).fit(X, y)
    assert calls == ["ValueError"]


def test_mlflow_missing_gives_the_extra(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_mlflow(name, *args, **kwargs):
        if name == "mlflow" or name.startswith("mlflow."):
            raise ImportError("No module named 'mlflow'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mlflow)
    X, y = regression()
    with pytest.raises(ImportError, match=r"fastdescent\[mlflow\]"):
        SGDRegressor(callbacks=[MLflowLogger()]).fit(X, y)


# ---- plots ---------------------------------------------------------------------------------


@pytest.fixture
def plt():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def test_loss_curves_draw_each_history(plt):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from fastdescent.plot import loss_curves

    X, y = classification()
    fits = {
        name: SGDClassifier(loss="log_loss", optimizer=name, batch_size=16, max_iter=n,
                            tol=None, learning_rate="constant", eta0=0.01,
                            random_state=0).fit(X, y)
        for name, n in [("sgd", 5), ("adam", 8)]
    }
    fits["pipeline"] = make_pipeline(StandardScaler(), SGDClassifier(max_iter=3, tol=None)).fit(X, y)
    ax = loss_curves(fits)
    assert [line.get_label() for line in ax.lines] == ["sgd", "adam", "pipeline"]
    for line, est in zip(ax.lines, fits.values()):
        est = getattr(est, "steps", [[None, est]])[-1][1]
        assert_array_equal(line.get_xdata(), np.arange(1, est.n_iter_ + 1))
        assert_array_equal(line.get_ydata(), est.loss_curve_)
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "epoch"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["sgd", "adam", "pipeline"]

    fig, ax2 = plt.subplots()
    out = loss_curves(list(fits.values())[:2], labels=["a", "b"], metric="lr", ax=ax2)
    assert out is ax2 and ax2.get_yscale() == "linear"
    assert_array_equal(ax2.lines[1].get_ydata(), fits["adam"].history_["lr"])
    with pytest.raises(KeyError, match="val_score"):
        loss_curves(fits["sgd"], metric="val_score")
    with pytest.raises(ValueError, match="labels"):
        loss_curves([fits["sgd"]], labels=["a", "b"])
    with pytest.raises(ValueError, match="history_"):
        loss_curves(StandardScaler())


def test_schedule_plot(plt):
    from fastdescent import schedules
    from fastdescent.plot import schedule

    cosine = schedules.CosineAnnealingLR(0.1, T_max=100)
    warm = schedules.LinearWarmup(cosine, warmup_steps=20)
    ax = schedule({"cosine": cosine, "warmup + cosine": warm}, steps=120)
    assert [line.get_label() for line in ax.lines] == ["cosine", "warmup + cosine"]
    assert_array_equal(ax.lines[0].get_xdata(), np.arange(120))
    assert_allclose(ax.lines[0].get_ydata(), 0.05 * (1 + np.cos(np.pi * np.arange(120) / 100)))
    assert_array_equal(ax.lines[1].get_ydata(), warm.values(120))
    assert ax.get_ylabel() == "step size"
