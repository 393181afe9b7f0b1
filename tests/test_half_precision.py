"""Half-precision X: float16 (NumPy) and bfloat16 (ml_dtypes) rows read as stored.

The widening to float32 is exact, and every sum is float32, so a fit on a half-precision X is a
fit on the float32 array holding the same values: that array, upcast once by NumPy, is the
reference here (float32 tolerance, since the vector loops may round a fused multiply-add
differently; with steps small enough that training does not amplify such differences).
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from fastdescent import SGDClassifier, SGDOneClassSVM, SGDRegressor, _core

try:
    import ml_dtypes  # the test extra installs it; float16 alone is NumPy's
except ImportError:
    ml_dtypes = None

HALVES = [np.dtype(np.float16)] + ([np.dtype(ml_dtypes.bfloat16)] if ml_dtypes else [])
IDS = [d.name for d in HALVES]
ISAS = _core.available_isas()
F32 = dict(rtol=2e-5, atol=2e-6)


@pytest.fixture
def isa_restored():
    before = _core.get_isa()
    yield
    _core.set_isa(before)


def _every_value(dtype):
    """All 65,536 bit patterns of a 16-bit format."""
    return np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(dtype)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", HALVES, ids=IDS)
def test_every_value_widens_exactly(dtype, isa, isa_restored):
    _core.set_isa(isa)
    values = _every_value(dtype)
    want = values.astype(np.float32)
    # One column: the scalar conversion; NaN stays NaN, infinities keep their sign.
    got = _core.linear_scores(
        values.reshape(-1, 1), np.ones((1, 1), np.float32), np.zeros(1, np.float32)
    )
    assert_array_equal(got.ravel(), want)
    # 67 columns against the identity: whole vectors converted, and each row's last partial
    # vector as a window over the row's end (finite values only: 0 * inf).
    finite = values[np.isfinite(want)]
    X = finite[: finite.size // 67 * 67].reshape(-1, 67)
    got = _core.linear_scores(X, np.eye(67, dtype=np.float32), np.zeros(67, np.float32))
    assert_array_equal(got, X.astype(np.float32))
    assert_allclose(
        _core.row_squared_norms(X), (X.astype(np.float64) ** 2).sum(axis=1), rtol=1e-12
    )


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("d", [5, 8, 16, 31, 32, 33, 64, 100])
@pytest.mark.parametrize("loss", ["log_loss", "hinge", "squared_error"])
@pytest.mark.parametrize("dtype", HALVES, ids=IDS)
def test_gradient_sums_equal_the_equations(dtype, loss, d, isa, isa_restored):
    """The fused block kernel on 16-bit rows, on every instruction set: rows shorter than a
    vector, whole vectors, and a last partial vector read as a window over the row's end; rows
    in and out of order; blocks whose rows do not fill the groups of 4 (scores) and 8
    (gradient); hinge's rows of zero derivative skipped. The sums must equal the equations on
    the float64 values."""
    _core.set_isa(isa)
    rng = np.random.default_rng(d)
    n = 45
    X = rng.normal(size=(n, d)).astype(dtype)
    y = rng.normal(size=n) if loss == "squared_error" else np.where(rng.random(n) < 0.5, -1.0, 1.0)
    coef = (0.3 * rng.normal(size=(1, d))).astype(np.float32)
    intercept = np.array([0.1], np.float32)
    sw = rng.uniform(0.2, 2.0, n).astype(np.float32)
    Xv = X.astype(np.float64)
    for rows in (np.arange(n), rng.permutation(n)[:37]):
        got = _core.loss_gradient_dense(
            X,
            y.astype(np.float32),
            coef,
            intercept,
            getattr(_core.LossKind, loss),
            sample_weight=sw,
            rows=rows.astype(np.int64),
        )
        p = Xv[rows] @ coef[0].astype(np.float64) + intercept[0]
        t = y[rows]
        if loss == "log_loss":
            value, deriv = np.logaddexp(0.0, -t * p), -t / (1.0 + np.exp(t * p))
        elif loss == "hinge":
            value, deriv = np.maximum(0.0, 1.0 - t * p), np.where(t * p < 1.0, -t, 0.0)
        else:
            value, deriv = 0.5 * (p - t) ** 2, p - t
        w = sw[rows].astype(np.float64)
        assert_allclose(got[0][0], (w * value).sum(), rtol=1e-5)
        assert_allclose(got[2][0], (w * deriv) @ Xv[rows], rtol=1e-5, atol=1e-5)
        assert_allclose(got[3][0], (w * deriv).sum(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", HALVES, ids=IDS)
def test_all_finite_reads_half_precision(dtype):
    values = _every_value(dtype)
    finite = np.isfinite(values.astype(np.float32))
    assert [_core.all_finite(values[i : i + 1]) for i in range(values.size)] == finite.tolist()
    X = np.ones((50, 33), dtype=dtype)
    assert _core.all_finite(X)
    for bad in (np.nan, np.inf, -np.inf):
        Y = X.copy()
        Y[17, 32] = bad
        assert not _core.all_finite(Y)


def _data(n=400, d=19, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[rng.random((n, d)) < 0.2] = 0.0
    score = X @ rng.normal(size=d)
    return X, score


MODES = {
    "per-sample": dict(batch_size=1),
    "per-sample averaged": dict(batch_size=1, average=10, penalty="elasticnet"),
    "mini-batch adam": dict(batch_size=32, optimizer="adam"),
    "mini-batch momentum clipped": dict(batch_size=16, optimizer="momentum", clip_norm=1.0),
    "full batch": dict(batch_size="full", learning_rate="constant", eta0=0.1),
    "full batch solver": dict(batch_size="full"),
    "early stopping": dict(batch_size=8, early_stopping=True, n_iter_no_change=2),
}


def _assert_scores_close(a, b):
    """float32 agreement relative to the values' scale (sums of terms that cancel)."""
    assert_allclose(a, b, rtol=2e-5, atol=2e-6 * max(1.0, float(np.abs(b).max())))


def _assert_same_fit(make, X, y, dtype, **fit):
    half = X.astype(dtype)
    a = make().fit(half, y, **fit)
    b = make().fit(half.astype(np.float32), y, **fit)
    assert a.coef_.dtype == np.float32
    assert a.n_iter_ == b.n_iter_
    _assert_scores_close(a.coef_, b.coef_)
    _assert_scores_close(a.intercept_, b.intercept_)
    return a, half


@pytest.mark.parametrize("mode", MODES, ids=list(MODES))
@pytest.mark.parametrize("dtype", HALVES, ids=IDS)
def test_classifier_fits_as_on_the_float32_values(dtype, mode):
    X, score = _data()
    y = np.digitize(score, [-1.0, 1.0])  # three classes
    est, half = _assert_same_fit(
        lambda: SGDClassifier(max_iter=6, tol=None, random_state=0, **MODES[mode]), X, y, dtype
    )
    ref = half.astype(np.float32)
    _assert_scores_close(est.decision_function(half), est.decision_function(ref))
    assert_array_equal(est.predict(half), est.predict(ref))


@pytest.mark.parametrize(
    "loss", ["hinge", "log_loss", "modified_huber", "squared_hinge", "perceptron"]
)
@pytest.mark.parametrize("dtype", HALVES, ids=IDS)
def test_binary_losses(dtype, loss):
    X, score = _data(seed=1)
    _assert_same_fit(
        lambda: SGDClassifier(
            loss=loss,
            batch_size=8,
            learning_rate="constant",
            eta0=0.002,
            max_iter=4,
            tol=None,
            random_state=0,
        ),
        X,
        score > 0,
        dtype,
    )


@pytest.mark.parametrize("dtype", HALVES, ids=IDS)
def test_multinomial(dtype):
    X, score = _data(seed=2)
    y = np.digitize(score, [-1.0, 0.0, 1.0])
    est, half = _assert_same_fit(
        lambda: SGDClassifier(
            loss="log_loss",
            multi_class="multinomial",
            batch_size=16,
            learning_rate="constant",
            eta0=0.01,
            max_iter=5,
            tol=None,
            random_state=0,
        ),
        X,
        y,
        dtype,
    )
    _assert_scores_close(est.predict_proba(half), est.predict_proba(half.astype(np.float32)))


REGRESSION = {
    "squared_error": dict(),
    "huber": dict(loss="huber"),
    "epsilon_insensitive": dict(loss="epsilon_insensitive"),
    "quantile": dict(loss="quantile", quantile=0.8),
    "poisson": dict(loss="poisson"),
}


@pytest.mark.parametrize("params", REGRESSION.values(), ids=list(REGRESSION))
@pytest.mark.parametrize("batch_size", [1, 16, "full"])
@pytest.mark.parametrize("dtype", HALVES, ids=IDS)
def test_regressor_fits_as_on_the_float32_values(dtype, batch_size, params):
    X, score = _data(seed=3)
    y = np.round(np.exp(0.3 * score)) if params.get("loss") == "poisson" else score
    est, half = _assert_same_fit(
        lambda: SGDRegressor(
            batch_size=batch_size, max_iter=5, tol=None, random_state=0, eta0=0.005, **params
        ),
        X,
        y,
        dtype,
        sample_weight=np.linspace(0.5, 1.5, X.shape[0]),
    )
    _assert_scores_close(est.predict(half), est.predict(half.astype(np.float32)))
    assert est.score(half, y) == pytest.approx(est.score(half.astype(np.float32), y), rel=1e-5)


@pytest.mark.parametrize("dtype", HALVES, ids=IDS)
def test_multi_output_and_one_class(dtype):
    X, score = _data(seed=4)
    Y = np.column_stack([score, -score, 2 * score])
    make = lambda: SGDRegressor(batch_size=16, max_iter=4, tol=None, random_state=0)  # noqa: E731
    est, half = _assert_same_fit(make, X, Y, dtype)
    assert est.predict(half).shape == Y.shape
    make = lambda: SGDOneClassSVM(nu=0.2, max_iter=4, tol=None, random_state=0)  # noqa: E731
    a = make().fit(X.astype(dtype))
    b = make().fit(X.astype(dtype).astype(np.float32))
    assert_allclose(a.coef_, b.coef_, **F32)
    assert_allclose(a.offset_, b.offset_, **F32)
    assert_array_equal(a.predict(X.astype(dtype)), b.predict(X.astype(dtype).astype(np.float32)))


@pytest.mark.parametrize("dtype", HALVES, ids=IDS)
def test_partial_fit_and_row_strided_views(dtype):
    X, score = _data(n=600, d=12, seed=5)
    wide = np.zeros((600, 20), dtype=dtype)
    wide[:, :12] = X.astype(dtype)
    view = wide[:, :12]  # rows at a stride of 20: read in place
    ref = view.astype(np.float32)
    a, b = SGDRegressor(random_state=0), SGDRegressor(random_state=0)
    for lo in range(0, 600, 200):
        a.partial_fit(view[lo : lo + 200], score[lo : lo + 200])
        b.partial_fit(ref[lo : lo + 200], score[lo : lo + 200])
    assert_allclose(a.coef_, b.coef_, **F32)
    # Fortran order is made C-contiguous (a copy), with the same result.
    c = SGDRegressor(random_state=0, max_iter=3, tol=None).fit(np.asfortranarray(view), score)
    d = SGDRegressor(random_state=0, max_iter=3, tol=None).fit(ref, score)
    assert_allclose(c.coef_, d.coef_, **F32)


@pytest.mark.parametrize("dtype", HALVES, ids=IDS)
def test_no_upcast_copy_of_X(dtype):
    rng = np.random.default_rng(6)
    X = rng.normal(size=(40_000, 50)).astype(dtype)  # 4 MB; float32 would be 8 MB
    y = (X[:, 0].astype(np.float32) > 0).astype(np.int64)
    est = SGDClassifier(batch_size="full", learning_rate="constant", max_iter=2, tol=None)
    tracemalloc.start()
    try:
        est.fit(X, y)
        fit_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        est.decision_function(X)
        predict_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert fit_peak < X.nbytes / 2, fit_peak
    assert predict_peak < X.nbytes / 4, predict_peak


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("dtype", HALVES, ids=IDS)
def test_non_finite_half_precision_X(dtype, bad):
    X, score = _data(seed=7)
    X = X.astype(dtype)
    est = SGDRegressor(max_iter=3, tol=None, random_state=0).fit(X, score)
    before = est.coef_.copy()
    X[123, 4] = bad
    for batch_size in (1, 16, "full"):
        with pytest.raises(ValueError, match="Input X contains"):
            est.set_params(batch_size=batch_size).fit(X, score)
        assert_array_equal(est.coef_, before)
    with pytest.raises(ValueError, match="Input X contains"):
        est.predict(X)


def test_overflowing_values_still_train():
    """float16 stops at 65504; its squares do not overflow the float32 sums."""
    X, score = _data(seed=8)
    X = np.clip(X * 2e4, -6e4, 6e4).astype(np.float16)
    assert np.isfinite(X).all()
    est = SGDRegressor(batch_size="full", max_iter=20, tol=None).fit(X, score)
    assert np.isfinite(est.coef_).all()


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
@pytest.mark.parametrize("dtype", HALVES, ids=IDS)
def test_mlp(dtype, solver):
    from fastdescent import MLPClassifier, MLPRegressor

    X, score = _data(seed=9)
    half = X.astype(dtype)
    ref = half.astype(np.float32)
    params = dict(hidden_layer_sizes=(7,), max_iter=5, solver=solver, random_state=0)
    for est_cls, y in ((MLPClassifier, score > 0), (MLPRegressor, score)):
        a = est_cls(**params).fit(half, y)
        b = est_cls(**params).fit(ref, y)
        assert a.coefs_[0].dtype == np.float32
        for ca, cb in zip(a.coefs_, b.coefs_):
            assert_allclose(ca, cb, rtol=1e-4, atol=1e-5)
        _assert_scores_close(a.predict(half), a.predict(ref))


@pytest.mark.parametrize("dtype", HALVES, ids=IDS)
def test_dask_chunks_read_as_stored(dtype):
    da = pytest.importorskip("dask.array")
    import dask

    X, score = _data(n=2000, d=10, seed=10)
    half = X.astype(dtype)
    y = score > 0
    params = dict(batch_size=64, max_iter=3, tol=None, random_state=0, early_stopping=True)
    with dask.config.set(scheduler="synchronous"):
        a = SGDClassifier(**params).fit(
            da.from_array(half, chunks=(500, 10)), da.from_array(y, chunks=500)
        )
        b = SGDClassifier(**params).fit(
            da.from_array(half.astype(np.float32), chunks=(500, 10)), da.from_array(y, chunks=500)
        )
    assert a.coef_.dtype == np.float32
    _assert_scores_close(a.coef_, b.coef_)
    assert_allclose(a.history_["val_score"], b.history_["val_score"], rtol=1e-6)
    bad = half.copy()
    bad[1234, 5] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        SGDClassifier(**params).fit(
            da.from_array(bad, chunks=(500, 10)), da.from_array(y, chunks=500)
        )
