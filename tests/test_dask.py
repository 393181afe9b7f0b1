"""Data-parallel training and blockwise prediction on dask collections, on a real LocalCluster."""

import os
import pickle
import sys
import threading
import time

import numpy as np
import pytest
import scipy.sparse as sp

import fastdescent as fd
from fastdescent import _core
from reference import scalar_loss, softmax_loss

da = pytest.importorskip("dask.array", reason="dask is an optional dependency (fastdescent[dask])")
distributed = pytest.importorskip("distributed", reason="distributed is an optional dependency")
import dask  # noqa: E402

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def client():
    # Worker processes import fastdescent from wherever this process does.
    package_root = os.path.dirname(os.path.dirname(fd.__file__))
    path = os.pathsep.join(p for p in [package_root, os.environ.get("PYTHONPATH", "")] if p)
    with dask.config.set({"distributed.worker.daemon": False}):
        env = {"PYTHONPATH": path, "OMP_NUM_THREADS": "1"}
        with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                      dashboard_address=None, env=env) as cluster:
            with distributed.Client(cluster) as c:
                yield c


def _regression(n=600, d=8, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(dtype)
    y = (X @ rng.normal(size=d) + 0.3 + 0.1 * rng.normal(size=n)).astype(dtype)
    return X, y


def _classification(n=600, d=8, n_classes=3, dtype=np.float64, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(dtype)
    y = np.argmax(X @ rng.normal(size=(d, n_classes)) + rng.normal(size=(n, n_classes)), axis=1)
    return X, y


def _rtol(dtype):
    # float32: adaptive optimizers amplify summation-order differences over the iterations
    return 2e-3 if dtype == np.float32 else 1e-8


# ---- the kernel, against a NumPy reference ----------------------------------------------------


def _reference_sums(X, y, coef, intercept, loss, sw, cw, mode, rows):
    X = X.toarray() if sp.issparse(X) else X
    K, d = coef.shape
    n_problems = K if mode == "ovr" else 1
    loss_sum, weight_sum = np.zeros(n_problems), np.zeros(n_problems)
    grad, grad_b = np.zeros((K, d)), np.zeros(K)
    for i in rows:
        p = X[i].astype(np.float64) @ coef.T.astype(np.float64) + intercept
        w = 1.0 if sw is None else float(sw[i])
        if mode == "multinomial":
            wi = w * (1.0 if cw is None else cw[int(y[i])])
            v, g = softmax_loss(p, int(y[i]))
            loss_sum[0] += wi * v
            weight_sum[0] += wi
            grad += wi * np.outer(g, X[i])
            grad_b += wi * g
            continue
        for k in range(K):
            if mode == "ovr":
                target = 1.0 if int(y[i]) == k else -1.0
                wk = w * (cw[k] if cw is not None and target > 0 else 1.0)
            else:
                target = float(y[i])
                wk = w * (1.0 if cw is None else cw[1 if target > 0 else 0])
            v, g = scalar_loss(loss, p[k], target)
            loss_sum[k if mode == "ovr" else 0] += wk * v
            weight_sum[k if mode == "ovr" else 0] += wk
            grad[k] += wk * g * X[i]
            grad_b[k] += wk * g
    return loss_sum, weight_sum, grad, grad_b


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("mode,loss", [("single", "squared_error"), ("single", "log_loss"),
                                       ("single", "huber"), ("multinomial", "multinomial"),
                                       ("ovr", "hinge"), ("ovr", "modified_huber")])
def test_loss_gradient_kernel_matches_reference(dtype, sparse, mode, loss):
    rng = np.random.default_rng(3)
    n, d, K = 40, 6, (1 if mode == "single" else 3)
    X = rng.normal(size=(n, d)).astype(dtype)
    X[rng.random((n, d)) < 0.4] = 0
    if mode == "single":
        y = (rng.normal(size=n) if loss in ("squared_error", "huber")
             else np.where(rng.random(n) < 0.5, -1.0, 1.0)).astype(dtype)
        cw = None if loss != "log_loss" else np.array([0.5, 2.0])
    else:
        y = rng.integers(0, K, n).astype(dtype)
        cw = np.array([1.0, 0.5, 3.0])
    coef = (0.3 * rng.normal(size=(K, d))).astype(dtype)
    intercept = (0.1 * rng.normal(size=K)).astype(dtype)
    sw = rng.uniform(0.2, 2.0, n).astype(dtype)
    rows = rng.permutation(n)[:25].astype(np.int64)
    kind = getattr(_core.LossKind, loss)
    kwargs = dict(loss_param=0.1, sample_weight=sw, class_weight=cw, one_vs_rest=mode == "ovr",
                  rows=rows, n_threads=2)
    if sparse:
        Xs = sp.csr_matrix(X)
        got = _core.loss_gradient_csr(Xs.data, Xs.indices, Xs.indptr, d, y, coef, intercept,
                                      kind, **kwargs)
    else:
        got = _core.loss_gradient_dense(X, y, coef, intercept, kind, **kwargs)
    want = _reference_sums(X, y, coef, intercept, loss, sw, cw, mode, rows)
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol * 10)
    assert got[2].dtype == dtype


def test_loss_gradient_kernel_rejects_bad_input():
    X = np.ones((4, 2))
    with pytest.raises(ValueError, match="row index is out of range"):
        _core.loss_gradient_dense(X, np.ones(4), np.zeros((1, 2)), np.zeros(1),
                                  _core.LossKind.squared_error, rows=np.array([0, 4]))
    with pytest.raises(ValueError, match="class indices"):
        _core.loss_gradient_dense(X, np.full(4, 3.0), np.zeros((3, 2)), np.zeros(3),
                                  _core.LossKind.multinomial)


# ---- full-batch: the same fit as in memory ------------------------------------------------------


REGRESSOR_CASES = [
    dict(learning_rate="constant", eta0=0.1),
    dict(loss="huber", optimizer="adam", learning_rate="constant", eta0=0.05,
         penalty="elasticnet", alpha=0.01),
    dict(loss="epsilon_insensitive", optimizer="nesterov", learning_rate="cosine", eta0=0.05,
         clip_value=0.5, average=5),
    dict(optimizer="lamb", learning_rate="plateau", eta0=0.05, clip_norm=1.0, penalty="l1",
         alpha=0.001),
]


@pytest.mark.parametrize("params", REGRESSOR_CASES, ids=lambda p: p.get("optimizer", "sgd"))
def test_full_batch_regressor_equals_in_memory(client, dtype, params):
    X, y = _regression(dtype=dtype)
    sw = np.random.default_rng(5).uniform(0.5, 1.5, X.shape[0]).astype(dtype)
    est = dict(batch_size="full", max_iter=12, tol=None, **params)
    ref = fd.SGDRegressor(**est).fit(X, y, sample_weight=sw)
    Xd = da.from_array(X, chunks=(170, 4))  # uneven row chunks, split columns
    got = fd.SGDRegressor(**est).fit(Xd, da.from_array(y, chunks=100), sample_weight=sw)
    assert got.coef_.dtype == dtype
    np.testing.assert_allclose(got.coef_, ref.coef_, rtol=_rtol(dtype), atol=_rtol(dtype))
    np.testing.assert_allclose(got.intercept_, ref.intercept_, rtol=_rtol(dtype), atol=_rtol(dtype))
    np.testing.assert_allclose(got.loss_curve_, ref.loss_curve_, rtol=_rtol(dtype))
    assert (got.n_iter_, got.t_) == (ref.n_iter_, ref.t_)
    _assert_same_history(got, ref, dtype)


@pytest.mark.parametrize("params", [
    dict(loss="poisson", learning_rate="constant", eta0=0.05),
    dict(loss="tweedie", power=1.5, optimizer="adam", early_stopping=True, validation_fraction=0.2,
         random_state=1),
    dict(loss="quantile", quantile=0.3, penalty="l1", alpha=0.01, learning_rate="constant",
         eta0=0.05),
], ids=["poisson", "tweedie-early-stopping", "quantile"])
def test_count_and_quantile_losses_equal_in_memory(client, params):
    """Range checks, the starting intercept, training, the validation D^2 and score on dask
    chunks as in memory."""
    X, score = _regression()
    y = np.round(np.exp(0.3 * score))  # counts with zeros
    est = dict(batch_size="full", max_iter=8, tol=None, **params)
    ref = fd.SGDRegressor(**est).fit(X, y)
    Xd, yd = da.from_array(X, chunks=(170, 4)), da.from_array(y, chunks=100)
    got = fd.SGDRegressor(**est).fit(Xd, yd)
    np.testing.assert_allclose(got.coef_, ref.coef_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(got.intercept_, ref.intercept_, rtol=1e-8)
    np.testing.assert_allclose(got.loss_curve_, ref.loss_curve_, rtol=1e-8)
    _assert_same_history(got, ref, np.float64)
    assert float(got.score(Xd, yd)) == pytest.approx(ref.score(X, y), rel=1e-8)
    if params["loss"] != "quantile":
        with pytest.raises(ValueError, match="non-negative targets"):
            fd.SGDRegressor(**est).fit(Xd, yd - 1.0)


@pytest.mark.parametrize("params", [
    dict(batch_size="full", learning_rate="constant", eta0=0.1),
    dict(batch_size="full", optimizer="adam", average=3),
], ids=["full", "adam"])
def test_one_class_svm_equals_in_memory(client, params):
    """The intercept's linear term in the data-parallel steps and objective; blockwise
    decision_function, score_samples and int32 labels."""
    X, _ = _regression()
    est = dict(max_iter=6, tol=None, nu=0.3, **params)
    ref = fd.SGDOneClassSVM(**est).fit(X)
    Xd = da.from_array(X, chunks=(170, 4))
    got = fd.SGDOneClassSVM(**est).fit(Xd)
    np.testing.assert_allclose(got.coef_, ref.coef_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(got.offset_, ref.offset_, rtol=1e-8)
    np.testing.assert_allclose(got.loss_curve_, ref.loss_curve_, rtol=1e-8)
    labels = got.predict(Xd)
    assert labels.dtype == np.int32
    np.testing.assert_array_equal(labels.compute(), ref.predict(X))
    np.testing.assert_allclose(got.decision_function(Xd).compute(), ref.decision_function(X),
                               rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(got.score_samples(Xd).compute(), ref.score_samples(X),
                               rtol=1e-8, atol=1e-10)


def test_one_class_svm_per_sample_local_epochs(client):
    """Per-sample SGD runs local epochs with the intercept's linear term: one chunk is the
    in-memory fit."""
    X, _ = _regression()
    est = dict(max_iter=3, tol=None, shuffle=False)
    ref = fd.SGDOneClassSVM(**est).fit(X)
    got = fd.SGDOneClassSVM(**est).fit(da.from_array(X, chunks=(X.shape[0], 8)))
    np.testing.assert_allclose(got.coef_, ref.coef_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got.offset_, ref.offset_, rtol=1e-10)
    assert got.t_ == ref.t_


def _assert_same_history(got, ref, dtype):
    """The same per-epoch records as the in-memory fit, time aside."""
    assert set(got.history_) == set(ref.history_)
    for key in set(ref.history_) - {"time"}:
        np.testing.assert_allclose(got.history_[key], ref.history_[key], rtol=_rtol(dtype),
                                   atol=_rtol(dtype), err_msg=key)


CLASSIFIER_CASES = [
    dict(loss="log_loss", learning_rate="constant", eta0=0.5, n_classes=2, class_weight={0: 2.0},
         sparse=False),
    dict(loss="log_loss", multi_class="multinomial", optimizer="momentum", learning_rate="constant",
         eta0=0.1, class_weight="balanced", sparse=True),
    dict(loss="hinge", optimizer="rmsprop", learning_rate="constant", eta0=0.01, n_classes=4,
         tol=1e-3, n_iter_no_change=3, sparse=True),
]


@pytest.mark.parametrize("params", CLASSIFIER_CASES, ids=["binary", "multinomial-csr", "ovr-csr"])
def test_full_batch_classifier_equals_in_memory(client, dtype, params):
    params = dict(params)
    sparse = params.pop("sparse")
    X, y = _classification(n_classes=params.pop("n_classes", 3), dtype=dtype)
    est = dict(dict(tol=None), batch_size="full", max_iter=15, **params)
    Xd = da.from_array(X, chunks=(200, 8))
    if sparse:
        X[X < 0.3] = 0
        Xd = da.from_array(X, chunks=(200, 8)).map_blocks(sp.csr_matrix, dtype=dtype,
                                                           meta=sp.csr_matrix((0, 0), dtype=dtype))
        X = sp.csr_matrix(X)
    ref = fd.SGDClassifier(**est).fit(X, y)
    got = fd.SGDClassifier(**est).fit(Xd, da.from_array(y, chunks=200))
    np.testing.assert_array_equal(got.classes_, ref.classes_)
    np.testing.assert_allclose(got.coef_, ref.coef_, rtol=_rtol(dtype), atol=_rtol(dtype))
    np.testing.assert_allclose(got.intercept_, ref.intercept_, rtol=_rtol(dtype), atol=_rtol(dtype))
    np.testing.assert_allclose(got.loss_curve_, ref.loss_curve_, rtol=_rtol(dtype))
    assert got.n_iter_ == ref.n_iter_
    _assert_same_history(got, ref, dtype)


@pytest.mark.parametrize("classifier", [False, True], ids=["regressor", "classifier"])
def test_full_batch_early_stopping_equals_in_memory(client, dtype, classifier):
    # The same validation rows for the same random_state, so the same scores and the same stop.
    if classifier:
        X, y = _classification(dtype=dtype)
        Est, params = fd.SGDClassifier, dict(loss="log_loss", multi_class="multinomial")
    else:
        X, y = _regression(dtype=dtype)
        y = y + np.random.default_rng(9).normal(scale=2.0, size=y.shape).astype(dtype)
        Est, params = fd.SGDRegressor, {}
    est = dict(batch_size="full", learning_rate="constant", eta0=0.1, early_stopping=True,
               validation_fraction=0.2, n_iter_no_change=3, tol=1e-4, max_iter=300,
               random_state=3, **params)
    ref = Est(**est).fit(X, y)
    got = Est(**est).fit(da.from_array(X, chunks=(170, 8)), da.from_array(y, chunks=170))
    assert 3 < ref.n_iter_ < 300  # stopped by the validation score, not by max_iter
    assert got.n_iter_ == ref.n_iter_
    np.testing.assert_allclose(got.history_["val_score"], ref.history_["val_score"],
                               rtol=_rtol(dtype), atol=_rtol(dtype))
    np.testing.assert_allclose(got.loss_curve_, ref.loss_curve_, rtol=_rtol(dtype))
    np.testing.assert_allclose(got.coef_, ref.coef_, rtol=_rtol(dtype), atol=_rtol(dtype))


def test_per_sample_early_stopping_leaves_validation_rows_out(client):
    X, y = _regression(n=800)
    est = dict(early_stopping=True, validation_fraction=0.25, random_state=0, max_iter=50)
    got = fd.SGDRegressor(**est).fit(da.from_array(X, chunks=(200, 8)), da.from_array(y, chunks=200))
    scores = got.history_["val_score"]
    assert len(scores) == got.n_iter_ < 50
    assert scores[-1] > 0.9  # R^2 on the held-out rows


# ---- mini-batch and per-sample ------------------------------------------------------------------


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_mini_batch_reaches_in_memory_loss(client, optimizer):
    X, y = _regression(n=900)
    est = dict(batch_size=100, optimizer=optimizer, learning_rate="constant", eta0=0.05,
               max_iter=12, tol=None, random_state=0)
    ref = fd.SGDRegressor(**est).fit(X, y)
    got = fd.SGDRegressor(**est).fit(da.from_array(X, chunks=(300, 8)), da.from_array(y, chunks=300))
    assert got.t_ == ref.t_ == 1 + 12 * 9  # nine updates per epoch, as in memory
    assert abs(got.loss_curve_[-1] - ref.loss_curve_[-1]) <= 0.01 * ref.loss_curve_[-1]


def test_per_sample_sgd_averages_local_epochs(client):
    X, y = _classification(n_classes=2)
    est = dict(loss="log_loss", learning_rate="constant", eta0=0.05, max_iter=10, tol=None,
               random_state=0)
    ref = fd.SGDClassifier(**est).fit(X, y)
    Xd, yd = da.from_array(X, chunks=(300, 8)), da.from_array(y, chunks=300)
    got = fd.SGDClassifier(**est).fit(Xd, yd)
    assert got.n_iter_ == 10 and got.t_ == 1 + 10 * 300  # counted as on one chunk
    assert abs(got.loss_curve_[-1] - ref.loss_curve_[-1]) < 0.05 * ref.loss_curve_[-1]
    assert float(got.score(Xd, yd)) > ref.score(X, y) - 0.03


# ---- prediction, data frames, partial_fit ------------------------------------------------------


def test_predictions_are_blockwise_dask_arrays(client, dtype):
    X, y = _classification(dtype=dtype)
    clf = fd.SGDClassifier(loss="log_loss", batch_size="full", learning_rate="constant",
                           eta0=0.3, max_iter=10, tol=None).fit(X, y)
    Xd = da.from_array(X, chunks=(250, 8))
    for method in ("decision_function", "predict", "predict_proba", "predict_log_proba"):
        out = getattr(clf, method)(Xd)
        assert isinstance(out, da.Array) and out.chunks[0] == Xd.chunks[0]
        np.testing.assert_allclose(out.compute(), getattr(clf, method)(X), rtol=1e-6)
    score = clf.score(Xd, da.from_array(y, chunks=250))
    assert isinstance(score, da.Array)
    assert float(score) == pytest.approx(clf.score(X, y))
    reg = fd.SGDRegressor(batch_size="full", max_iter=5, tol=None).fit(*_regression(dtype=dtype))
    Xr, yr = _regression(dtype=dtype, seed=9)
    np.testing.assert_allclose(reg.predict(da.from_array(Xr, chunks=(100, 8))).compute(),
                               reg.predict(Xr), rtol=1e-6)
    assert float(reg.score(da.from_array(Xr, chunks=(100, 8)), yr)) == pytest.approx(
        reg.score(Xr, yr), rel=1e-6)


def test_dask_dataframe_input(client):
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    X, y = _regression()
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    ddf = dd.from_pandas(frame, npartitions=3)
    ys = dd.from_pandas(pd.Series(y), npartitions=3)
    est = dict(batch_size="full", learning_rate="constant", eta0=0.1, max_iter=10, tol=None)
    got = fd.SGDRegressor(**est).fit(ddf, ys)
    ref = fd.SGDRegressor(**est).fit(frame, y)
    np.testing.assert_array_equal(got.feature_names_in_, frame.columns)
    np.testing.assert_allclose(got.coef_, ref.coef_, rtol=1e-8)
    pred = got.predict(ddf)
    assert isinstance(pred, da.Array)
    np.testing.assert_allclose(pred.compute(), ref.predict(frame), rtol=1e-8)


def test_partial_fit_with_dask_chunks(client):
    X, y = _classification()
    Xd, yd = da.from_array(X, chunks=(200, 8)), da.from_array(y, chunks=200)
    clf = fd.SGDClassifier(loss="log_loss", random_state=0)
    ref = fd.SGDClassifier(loss="log_loss", random_state=0)
    for block in range(3):
        rows = slice(200 * block, 200 * (block + 1))
        clf.partial_fit(Xd[rows], yd[rows], classes=np.arange(3))
        ref.partial_fit(X[rows], y[rows], classes=np.arange(3))
    np.testing.assert_allclose(clf.coef_, ref.coef_)


def test_dask_ml_incremental(client):
    wrappers = pytest.importorskip("dask_ml.wrappers", reason="dask-ml is not installed")
    X, y = _classification()
    Xd, yd = da.from_array(X, chunks=(200, 8)), da.from_array(y, chunks=200)
    inc = wrappers.Incremental(fd.SGDClassifier(loss="log_loss", random_state=0),
                               scoring="accuracy")
    inc.fit(Xd, yd, classes=np.arange(3))
    assert inc.score(Xd, yd) > 0.6


# ---- failures: clear errors, no hang ------------------------------------------------------------


def test_bad_input_raises_clear_errors(client):
    X, y = _regression()
    X[450, 2] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        fd.SGDRegressor(batch_size="full").fit(da.from_array(X, chunks=(200, 8)), y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        fd.SGDRegressor().fit(da.from_array(X, chunks=(200, 8)), y[:10])


def test_chunks_get_the_in_memory_checks(client):
    X, y = _regression()
    Xd = da.from_array(X, chunks=(200, 8))
    weights = np.ones(len(y))
    weights[420] = -1.0
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        fd.SGDRegressor(batch_size="full").fit(Xd, y, sample_weight=weights)
    with pytest.raises(ValueError, match="at least one non-zero"):
        fd.SGDRegressor(batch_size="full").fit(Xd, y, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match="Complex data not supported"):
        fd.SGDRegressor(batch_size="full").fit(da.from_array(X + 1j, chunks=(200, 8)), y)

    def spoil(block):
        block = sp.csr_matrix(block)
        block.indices[0] = 99
        return block

    Xs = Xd.map_blocks(spoil, dtype=X.dtype, meta=sp.csr_matrix((0, 0)))
    with pytest.raises(ValueError, match="column index is out of range"):
        fd.SGDRegressor(batch_size="full").fit(Xs, y)


def test_worker_lost_mid_fit_recovers(client):
    X, y = _regression(n=800)
    est = dict(batch_size="full", learning_rate="constant", eta0=0.05, max_iter=40, tol=None)
    ref = fd.SGDRegressor(**est).fit(X, y)
    got = fd.SGDRegressor(**est)
    errors = []

    def fit():
        try:
            got.fit(da.from_array(X, chunks=(200, 8)), da.from_array(y, chunks=200))
        except Exception as exc:  # reported below
            errors.append(exc)

    worker = threading.Thread(target=fit, daemon=True)
    worker.start()
    time.sleep(1.0)  # the chunks are persisted and the loop runs
    victim = sorted(client.scheduler_info()["workers"])[0]
    try:
        client.run(os._exit, 1, workers=[victim])  # the nanny starts a fresh worker
    except (OSError, distributed.comm.CommClosedError):
        pass  # the worker died before answering, as intended
    worker.join(timeout=90)
    assert not worker.is_alive(), "the fit hung after a worker was lost"
    if errors:  # dask gave up: the error must say what happened
        assert "worker" in str(errors[0]).lower()
    else:
        np.testing.assert_allclose(got.coef_, ref.coef_, rtol=1e-8)
    client.wait_for_workers(2, timeout=30)


def test_missing_dask_names_the_extra(monkeypatch):
    from fastdescent import _dask

    monkeypatch.setitem(sys.modules, "dask.array", None)
    with pytest.raises(ImportError, match=r"pip install fastdescent\[dask\]"):
        _dask._import_dask()


class _Pickler(fd.callbacks.Callback):
    def on_fit_begin(self, est):
        self.blobs = []

    def on_epoch_end(self, est, epoch, metrics):
        self.blobs.append(pickle.dumps(est))


def test_checkpoint_pickled_mid_fit_resumes(client):
    """A model pickled by a callback after epoch 2 of a dask fit is the 2-epoch model (plain
    SGD: no optimizer state, which a dask checkpoint does not keep) and partial_fit goes on."""
    X, y = _regression()
    pickler = _Pickler()
    params = dict(batch_size="full", learning_rate="constant", eta0=0.1, tol=None)
    fd.SGDRegressor(max_iter=4, callbacks=[pickler], **params).fit(
        da.from_array(X, chunks=(200, 8)), y)
    resumed = pickle.loads(pickler.blobs[1]).set_params(callbacks=None)
    reference = fd.SGDRegressor(max_iter=2, **params).fit(X, y)
    assert resumed.n_iter_ == 2 and resumed.t_ == reference.t_
    np.testing.assert_allclose(resumed.coef_, reference.coef_, rtol=1e-10)
    resumed.partial_fit(X, y)
    reference.partial_fit(X, y)
    np.testing.assert_allclose(resumed.coef_, reference.coef_, rtol=1e-10)
