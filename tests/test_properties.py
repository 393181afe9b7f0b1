"""Property-based tests: over random shapes, dtypes, strides and hyperparameters, the bindings
and the estimators never crash, and their invariants hold (finite predictions, right shapes,
float32 in gives float32 out). Example counts are kept small so the file runs in seconds."""

import warnings

import numpy as np
import scipy.sparse as sp
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastdescent as fd
from fastdescent import _core

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

FLOATS = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=32)


@st.composite
def matrices(draw, min_rows=2, max_rows=30, max_cols=6):
    """Finite float32/float64 X in any layout the estimators accept: C or Fortran order,
    strided rows or columns, reversed, read-only."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    n = draw(st.integers(min_rows, max_rows))
    d = draw(st.integers(1, max_cols))
    base = draw(hnp.arrays(dtype, (2 * n, 2 * d), elements=FLOATS))
    layout = draw(st.sampled_from(["c", "f", "row_step", "col_step", "reversed", "read_only"]))
    X = {
        "c": base[:n, :d],
        "f": np.asfortranarray(base[:n, :d]),
        "row_step": base[::2, :d],
        "col_step": base[:n, ::2],
        "reversed": base[n - 1::-1, :d] if n > 0 else base[:0, :d],
        "read_only": base[:n, :d].copy(),
    }[layout]
    if layout == "read_only":
        X.flags.writeable = False
    assert X.shape == (n, d)
    return X


HYPERPARAMETERS = st.fixed_dictionaries({
    "penalty": st.sampled_from([None, "l2", "l1", "elasticnet"]),
    "alpha": st.sampled_from([0.0, 1e-4, 0.1]),
    "l1_ratio": st.floats(0, 1),
    "fit_intercept": st.booleans(),
    "max_iter": st.integers(1, 5),
    "batch_size": st.sampled_from([1, 2, 7, "full"]),
    "optimizer": st.sampled_from(["sgd", "momentum", "adam", "adagrad", "rmsprop", "lion",
                                  "adafactor", "lamb"]),
    "learning_rate": st.sampled_from(["constant", "invscaling", "adaptive", "cosine"]),
    "eta0": st.sampled_from([1e-3, 1e-2]),
    "average": st.sampled_from([False, True, 3]),
    "shuffle": st.booleans(),
    "clip_norm": st.sampled_from([None, 1.0]),
    "random_state": st.integers(0, 3),
})


def _fit_quietly(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(*args, **kwargs)


def _check_fitted(est, X, n_outputs):
    assert est.coef_.dtype == X.dtype
    assert np.all(np.isfinite(est.coef_)) and np.all(np.isfinite(est.intercept_))
    pred = est.predict(X)
    assert pred.shape == (X.shape[0],)
    scores = est.decision_function(X) if hasattr(est, "decision_function") else pred
    assert np.all(np.isfinite(scores))
    assert est.coef_.shape[-1] == X.shape[1]
    assert est.intercept_.shape == (n_outputs,)


@SETTINGS
@given(X=matrices(), params=HYPERPARAMETERS, loss=st.sampled_from(
    ["squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive"]),
    weighted=st.booleans(), sparse=st.booleans())
def test_regressor_properties(X, params, loss, weighted, sparse):
    n = X.shape[0]
    if params["batch_size"] != "full":
        params["batch_size"] = min(params["batch_size"], n)
    rng = np.random.default_rng(0)
    y = (X.astype(np.float64) @ rng.standard_normal(X.shape[1])).astype(X.dtype)
    sw = rng.uniform(0.1, 2.0, n) if weighted else None
    Xin = sp.csr_matrix(X) if sparse else X
    est = fd.SGDRegressor(loss=loss, tol=None, **params)
    try:
        _fit_quietly(est, Xin, y, sample_weight=sw)
    except ValueError as e:  # only the documented divergence error is acceptable
        assert "Floating-point under-/overflow" in str(e)
        assert not hasattr(est, "coef_")
        event("diverged")
        return
    _check_fitted(est, X, 1)
    assert est.coef_.shape == (X.shape[1],)


@SETTINGS
@given(X=matrices(min_rows=4), params=HYPERPARAMETERS, n_classes=st.integers(2, 4),
       loss=st.sampled_from(["hinge", "log_loss", "modified_huber", "squared_hinge", "perceptron"]),
       multinomial=st.booleans(), sparse=st.booleans())
def test_classifier_properties(X, params, n_classes, loss, multinomial, sparse):
    n = X.shape[0]
    if params["batch_size"] != "full":
        params["batch_size"] = min(params["batch_size"], n)
    y = np.arange(n) % n_classes  # every class present
    multi_class = "multinomial" if multinomial and loss == "log_loss" else "ovr"
    Xin = sp.csr_matrix(X) if sparse else X
    est = fd.SGDClassifier(loss=loss, tol=None, multi_class=multi_class, **params)
    try:
        _fit_quietly(est, Xin, y)
    except ValueError as e:
        assert "Floating-point under-/overflow" in str(e)
        return
    outputs = 1 if n_classes == 2 else n_classes
    _check_fitted(est, X, outputs)
    assert est.coef_.shape == (outputs, X.shape[1])
    assert set(np.unique(est.predict(Xin))) <= set(range(n_classes))
    if loss in ("log_loss", "modified_huber"):
        proba = est.predict_proba(Xin)
        assert proba.shape == (n, n_classes)
        assert np.all(np.isfinite(proba))
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)


ANY_DTYPE = st.sampled_from([np.float32, np.float64, np.int32, np.int64, np.float16, np.bool_,
                             np.complex64, np.uint8, "U3", object])


@SETTINGS
@given(dtype=ANY_DTYPE, shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=6),
       est_cls=st.sampled_from([fd.SGDRegressor, fd.SGDClassifier]))
def test_estimators_accept_or_refuse_any_array_cleanly(dtype, shape, est_cls):
    """Any dtype and shape: a fit, or a ValueError / TypeError; never a crash or NaN weights."""
    rng = np.random.default_rng(len(shape))
    values = rng.integers(-3, 4, size=shape)
    X = values.astype(dtype) if dtype is not object else values.astype(object)
    n = shape[0]
    y = np.arange(n) % 2
    est = est_cls(max_iter=3, tol=None)
    try:
        _fit_quietly(est, X, y)
    except (ValueError, TypeError):
        assert not hasattr(est, "coef_")
        event("refused")
        return
    event("fitted")
    assert X.ndim == 2 and n >= 1 and shape[1] >= 1
    assert np.dtype(dtype).kind not in "cUSO" or dtype is object
    expected = np.float32 if dtype == np.float32 else np.float64
    assert est.coef_.dtype == expected
    assert np.all(np.isfinite(est.coef_))


# ---- the bindings directly ---------------------------------------------------------------------

ARRAY_KINDS = st.sampled_from(["ok", "wrong_dtype", "strided", "read_only", "short", "2d"])


def _spoil(a, kind):
    if kind == "wrong_dtype":
        return a.astype(np.float32 if a.dtype == np.float64 else np.float64)
    if kind == "strided":
        return np.repeat(a, 2, axis=-1)[..., ::2] if a.size else a
    if kind == "read_only":
        a = a.copy()
        a.flags.writeable = False
        return a
    if kind == "short":
        return a[..., :-1]
    if kind == "2d":
        return a.reshape(1, -1) if a.ndim == 1 else a.reshape(-1)
    return a


@SETTINGS
@given(X=matrices(min_rows=1), kinds=st.tuples(ARRAY_KINDS, ARRAY_KINDS, ARRAY_KINDS, ARRAY_KINDS),
       batch=st.integers(0, 4), loss=st.sampled_from(list(_core.LossKind.__members__)),
       threads=st.integers(1, 3), sparse=st.booleans())
def test_train_bindings_raise_or_train(X, kinds, batch, loss, threads, sparse):
    """Arbitrary (often wrong) argument combinations: a clean exception, or a training run
    whose outputs are finite or flagged as diverged. Never a crash or a silent temporary."""
    dtype = X.dtype
    n, d = X.shape
    multinomial = loss == "multinomial"
    K = 3 if multinomial else 1
    y = (np.arange(n) % K).astype(dtype) if multinomial else np.sign(X[:, 0]).astype(dtype)
    coef, intercept = np.zeros((K, d), dtype), np.zeros(K, dtype)
    sw = np.ones(n, dtype)
    y_k, coef_k, int_k, sw_k = kinds
    args = [_spoil(y, y_k), _spoil(coef, coef_k), _spoil(intercept, int_k)]
    cfg = _core.TrainConfig()
    cfg.loss = getattr(_core.LossKind, loss)
    cfg.batch_size = batch
    cfg.max_iter = 2
    cfg.tol = -np.inf
    cfg.n_threads = threads
    Xc = np.ascontiguousarray(X) if sparse else X
    try:
        if sparse:
            S = sp.csr_matrix(Xc)
            res = _core.train_csr(S.data, S.indices, S.indptr, d, *args, cfg,
                                  sample_weight=_spoil(sw, sw_k))
        else:
            res = _core.train_dense(X, *args, cfg, sample_weight=_spoil(sw, sw_k))
    except (ValueError, TypeError):
        event("refused")
        return
    event("trained")
    # It trained: every argument was acceptable, and the updates landed in the caller's arrays.
    # (A "strided" array of one entry is contiguous.)
    one = {"ok", "strided"}
    assert coef_k in ({"ok", "2d"} | (one if coef.size == 1 else set()))
    assert int_k in (one if intercept.size == 1 else {"ok"})
    written = args[1]
    assert np.shares_memory(written, coef) or coef_k == "2d"
    assert res.diverged or (np.all(np.isfinite(written)) and np.all(np.isfinite(args[2])))


@SETTINGS
@given(size=st.integers(0, 50), dtype=st.sampled_from([np.float32, np.float64]),
       kind=st.sampled_from(["sgd", "adam", "adagrad", "rmsprop", "lion", "lamb", "nadam", "adamax"]),
       grad_scale=st.sampled_from([0.0, 1e-30, 1.0, 1e30]), steps=st.integers(1, 4))
def test_optimizer_steps_keep_dtype_shape_and_finiteness(size, dtype, kind, grad_scale, steps):
    opt = {
        "sgd": lambda: fd.optim.SGD(lr=0.1, momentum=0.9),
        "adam": lambda: fd.optim.Adam(amsgrad=True),
        "adagrad": fd.optim.Adagrad,
        "rmsprop": lambda: fd.optim.RMSprop(centered=True, momentum=0.5),
        "lion": fd.optim.Lion,
        "lamb": fd.optim.LAMB,
        "nadam": fd.optim.NAdam,
        "adamax": fd.optim.Adamax,
    }[kind]()
    rng = np.random.default_rng(size)
    p = rng.standard_normal(size).astype(dtype)
    for _ in range(steps):
        g = (rng.standard_normal(size) * grad_scale).astype(dtype)
        opt.step(p, g)
    assert p.dtype == dtype and p.shape == (size,)
    if grad_scale < 1e30 or kind in ("adam", "adagrad", "rmsprop", "lion", "nadam", "adamax", "lamb"):
        assert np.all(np.isfinite(p)), kind
