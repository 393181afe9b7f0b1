"""partial_fit continues training: the optimizer's state, the update count, the schedule's
horizon and the averaging carry over, so that chunks fed in order train as one fit epoch over
the same rows; the records accumulate; the state survives pickling between calls."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp

import fastdescent as fd

OPTIMIZERS = ["adam", "momentum", "nadam", "adafactor", "lamb", "rmsprop", "adagrad", "lion"]
TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}


def _data(n=512, d=6, dtype=np.float64, sparse=False, classes=0, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    if classes:
        y = np.argmax(X @ rng.normal(size=(d, classes)) + rng.normal(size=(n, classes)), axis=1)
    else:
        y = X @ rng.normal(size=d) + 0.5 + 0.1 * rng.normal(size=n)
    if sparse:
        X[np.abs(X) < 0.7] = 0.0
        X = sp.csr_matrix(X.astype(dtype))
    else:
        X = X.astype(dtype)
    return X, y if classes else y.astype(dtype)


def _stream(est, X, y, chunk, **kw):
    for start in range(0, X.shape[0], chunk):
        est.partial_fit(X[start:start + chunk], y[start:start + chunk], **kw)
    return est


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_regressor_stream_equals_one_fit_epoch(optimizer, dtype):
    X, y = _data(dtype=dtype)
    params = dict(optimizer=optimizer, learning_rate="constant", eta0=0.01, batch_size=32,
                  shuffle=False, alpha=1e-3)
    ref = fd.SGDRegressor(max_iter=1, tol=None, **params).fit(X, y)
    got = _stream(fd.SGDRegressor(**params), X, y, chunk=128)
    np.testing.assert_allclose(got.coef_, ref.coef_, **TOL[dtype])
    np.testing.assert_allclose(got.intercept_, ref.intercept_, **TOL[dtype])
    assert got.t_ == ref.t_ == 1 + 512 // 32


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("multi_class", ["ovr", "multinomial"])
def test_classifier_stream_equals_one_fit_epoch(multi_class, sparse):
    X, y = _data(classes=3, sparse=sparse)
    params = dict(loss="log_loss", multi_class=multi_class, optimizer="adam",
                  learning_rate="constant", eta0=0.01, batch_size=16, shuffle=False)
    ref = fd.SGDClassifier(max_iter=1, tol=None, **params).fit(X, y)
    got = _stream(fd.SGDClassifier(**params), X, y, chunk=64, classes=[0, 1, 2])
    np.testing.assert_allclose(got.coef_, ref.coef_, **TOL[np.float64])
    np.testing.assert_allclose(got.intercept_, ref.intercept_, **TOL[np.float64])


def test_averaging_and_schedule_position_carry_over():
    X, y = _data()
    params = dict(optimizer="adam", learning_rate="invscaling", eta0=0.05, batch_size=32,
                  shuffle=False, average=5)
    ref = fd.SGDRegressor(max_iter=1, tol=None, **params).fit(X, y)
    got = _stream(fd.SGDRegressor(**params), X, y, chunk=256)
    np.testing.assert_allclose(got.coef_, ref.coef_, rtol=1e-12)
    np.testing.assert_allclose(got._average_coef, ref._average_coef, rtol=1e-12)


def test_chunk_not_a_multiple_of_batch_size_ends_with_a_smaller_batch():
    X, y = _data(n=100)
    est = fd.SGDRegressor(optimizer="adam", batch_size=32, shuffle=False)
    est.partial_fit(X[:70], y[:70])  # batches of 32, 32, 6
    assert est.t_ == 1 + 3
    est.partial_fit(X[70:], y[70:])  # 30 rows: one batch smaller than batch_size
    assert est.t_ == 1 + 4
    assert [s["step"] for s in est._optimizer_state["states"][0]] == [4, 4]


def test_pickled_between_calls_continues_the_same():
    X, y = _data()
    params = dict(optimizer="adam", learning_rate="constant", eta0=0.01, batch_size=32,
                  shuffle=False)
    straight = _stream(fd.SGDRegressor(**params), X, y, chunk=128)
    est = fd.SGDRegressor(**params)
    for start in range(0, 512, 128):
        est = pickle.loads(pickle.dumps(est))
        est.partial_fit(X[start:start + 128], y[start:start + 128])
    np.testing.assert_array_equal(est.coef_, straight.coef_)
    state = est._optimizer_state["states"][0][0]
    assert isinstance(state["exp_avg"], np.ndarray) and state["step"] == 16


def test_records_accumulate_over_calls():
    X, y = _data()
    est = _stream(fd.SGDRegressor(optimizer="adam", batch_size=32), X, y, chunk=128)
    assert len(est.loss_curve_) == 4
    assert est.history_["epoch"] == [1, 2, 3, 4]
    assert est.history_["loss"] == est.loss_curve_
    assert np.all(np.diff(est.history_["time"]) >= 0)
    assert est.n_iter_ == 1  # epochs of the last call, as scikit-learn's partial_fit


def test_schedule_horizon_comes_from_the_first_call():
    X, y = _data()
    est = fd.SGDRegressor(optimizer="adam", learning_rate="cosine", eta0=0.1, batch_size=32,
                          max_iter=4, shuffle=False)
    est.partial_fit(X[:256], y[:256])  # 8 updates per epoch: the cosine spans 4 x 8 updates
    est.partial_fit(X[256:320], y[256:320])
    est.partial_fit(X[320:], y[320:])
    assert est.t_ == 1 + 8 + 2 + 6
    # the step of the last update (t = 16) on a cosine over 32 updates from 0.1 to 0
    expected = 0.05 * (1 + np.cos(np.pi * 15 / 32))
    assert est.history_["lr"][-1] == pytest.approx(expected, rel=1e-12)


def test_changed_optimizer_starts_a_fresh_state():
    X, y = _data()
    est = fd.SGDRegressor(optimizer="adam", batch_size=32, shuffle=False)
    est.partial_fit(X[:128], y[:128])
    est.set_params(optimizer="nadam")
    est.partial_fit(X[128:256], y[128:256])
    assert [s["step"] for s in est._optimizer_state["states"][0]] == [4, 4]
    assert "mu_product" in est._optimizer_state["states"][0][0]


def test_fit_starts_afresh_after_partial_fit():
    X, y = _data()
    params = dict(optimizer="adam", batch_size=32, shuffle=False, max_iter=1, tol=None)
    est = _stream(fd.SGDRegressor(**params), X, y, chunk=128)
    est.fit(X, y)
    ref = fd.SGDRegressor(**params).fit(X, y)
    np.testing.assert_array_equal(est.coef_, ref.coef_)
    assert est.loss_curve_ == ref.loss_curve_


def test_corrupted_state_is_refused_clearly():
    X, y = _data()
    est = fd.SGDRegressor(optimizer="adam", batch_size=32).partial_fit(X[:64], y[:64])
    del est._optimizer_state["states"][0][0]["exp_avg_sq"]
    with pytest.raises(ValueError, match="missing 'exp_avg_sq'"):
        est.partial_fit(X[64:128], y[64:128])
    est._optimizer_state["states"][0][0]["exp_avg_sq"] = np.zeros(3)
    with pytest.raises(ValueError, match="'exp_avg_sq' has 3 entries, expected 6"):
        est.partial_fit(X[64:128], y[64:128])


# ---- checkpoints taken by a callback during a fit --------------------------------------------

CHECKPOINT_CASES = [
    ("regressor-adam", fd.SGDRegressor, dict(optimizer="adam", batch_size=32), 0),
    ("regressor-per-sample-averaged", fd.SGDRegressor, dict(average=100), 0),
    ("binary-momentum", fd.SGDClassifier, dict(optimizer="momentum", batch_size=16), 2),
    ("multinomial-adam", fd.SGDClassifier,
     dict(multi_class="multinomial", loss="log_loss", optimizer="adam", batch_size=32), 3),
    ("one-vs-rest-rmsprop-threads", fd.SGDClassifier,
     dict(optimizer="rmsprop", batch_size=32, n_jobs=2), 3),
]


class _Pickler(fd.callbacks.Callback):
    """Pickles the estimator before the first epoch and after every epoch."""

    def on_fit_begin(self, est):
        self.first, self.blobs = pickle.dumps(est), []

    def on_epoch_end(self, est, epoch, metrics):
        self.blobs.append(pickle.dumps(est))


@pytest.mark.parametrize("name, cls, params, classes", CHECKPOINT_CASES,
                         ids=[c[0] for c in CHECKPOINT_CASES])
def test_checkpoint_pickled_mid_fit_resumes_as_the_shorter_fit(name, cls, params, classes):
    """The model a callback pickles after epoch e of a 4-epoch fit is the model of a 2-epoch
    fit: same weights, update count and optimizer state, so partial_fit continues alike."""
    X, y = _data(classes=classes)
    common = dict(params, learning_rate="constant", eta0=0.01, tol=None, random_state=0)
    pickler = _Pickler()
    cls(max_iter=4, callbacks=[pickler], **common).fit(X, y)
    ovr = classes > 2 and "multi_class" not in params
    per_class = classes if ovr else 1
    assert len(pickler.blobs) == 4 * per_class
    # After the second epoch; one-vs-rest classes train one after another: class 0's.
    resumed = pickle.loads(pickler.blobs[1])
    resumed.set_params(callbacks=None)
    assert not hasattr(resumed, "_live_fit")
    if per_class == 1:
        reference = cls(max_iter=2, **common).fit(X, y)
        np.testing.assert_allclose(resumed.coef_, reference.coef_, **TOL[np.float64])
        assert resumed.t_ == reference.t_ and resumed.n_iter_ == 2
        assert resumed.loss_curve_ == pytest.approx(reference.loss_curve_, rel=1e-12)
    else:
        # Class 0 after two epochs, the others not started: their weights are still zero.
        assert np.all(resumed.coef_[1:] == 0) and np.any(resumed.coef_[0] != 0)
        reference = cls(max_iter=2, **common).fit(X, (y == 0).astype(int))
        np.testing.assert_allclose(resumed.coef_[0], reference.coef_[0], **TOL[np.float64])
    for model in [resumed] + ([reference] if per_class == 1 else []):
        model.partial_fit(X, y)
    if per_class == 1:
        np.testing.assert_allclose(resumed.coef_, reference.coef_, **TOL[np.float64])
    assert np.all(np.isfinite(resumed.coef_)) and resumed.n_iter_ == 1


def test_checkpoint_in_on_fit_begin_is_an_unfitted_start():
    X, y = _data()
    pickler = _Pickler()
    fd.SGDRegressor(max_iter=2, tol=None, callbacks=[pickler], random_state=0).fit(X, y)
    model = pickle.loads(pickler.first)
    assert np.all(model.coef_ == 0) and model.t_ == 1.0 and model.n_iter_ == 0
    model.set_params(callbacks=None).partial_fit(X, y)
    assert model.n_iter_ == 1 and np.any(model.coef_ != 0)
