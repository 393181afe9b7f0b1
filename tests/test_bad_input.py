"""Every kind of bad input gets a clear ValueError / TypeError before any C++ runs, and every
kind of awkward but valid input (strided, Fortran-ordered, read-only, memory-mapped) is accepted,
without a copy where the core can read it in place."""

import re

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.utils._param_validation import InvalidParameterError

import fastdescent as fd
from fastdescent import _core

ESTIMATORS = [fd.SGDClassifier, fd.SGDRegressor]


def make_data(n=40, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y_class = (X[:, 0] > 0).astype(np.int64)
    y_reg = X @ rng.standard_normal(d)
    return X, y_class, y_reg


def targets(est_cls, seed=0, n=40):
    X, y_class, y_reg = make_data(n=n, seed=seed)
    return X, (y_class if est_cls is fd.SGDClassifier else y_reg)


def quick(est_cls, **params):
    return est_cls(**{"max_iter": 5, "tol": None, "random_state": 0, **params})


@pytest.fixture
def core_calls(monkeypatch):
    """Records the X each call into the C++ trainer receives, and whether that call trained
    (ran an epoch) or refused its input first (TrainConfig.check_input)."""
    seen = []

    def spy(real):
        def call(*args, **kwargs):
            res = real(*args, **kwargs)
            seen.append((args[0], "refused" if res.non_finite_input else "trained"))
            return res
        return call

    monkeypatch.setattr(_core, "train_dense", spy(_core.train_dense))
    monkeypatch.setattr(_core, "train_csr", spy(_core.train_csr))
    return seen


# ---- non-finite values ------------------------------------------------------------------

@pytest.mark.parametrize("est_cls", ESTIMATORS)
@pytest.mark.parametrize("value, word", [(np.nan, "NaN"), (np.inf, "infinity"), (-np.inf, "infinity")])
@pytest.mark.parametrize("where", ["X", "y", "sample_weight"])
def test_non_finite_input_is_refused_before_training(est_cls, value, word, where, core_calls):
    X, y = targets(est_cls)
    y = y.astype(np.float64)
    sw = np.ones(X.shape[0])
    {"X": X, "y": y, "sample_weight": sw}[where].flat[3] = value
    if where == "y" and est_cls is fd.SGDClassifier and np.isinf(value):
        y = np.where(np.isfinite(y), y, 1e400)  # still inf: a label that is not a number
    with pytest.raises(ValueError, match=f"Input {where} contains {word}"):
        quick(est_cls).fit(X, y, sample_weight=sw)
    # A dense X is checked by the trainer as its first epoch reads the rows: the call refuses
    # it before any update; y and the weights are checked before any call.
    assert [outcome for _, outcome in core_calls] == (["refused"] if where == "X" else [])


@pytest.mark.parametrize("est_cls", ESTIMATORS)
def test_non_finite_sparse_X_is_refused(est_cls, core_calls):
    X, y = targets(est_cls)
    X = sp.csr_matrix(X)
    X.data[0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        quick(est_cls).fit(X, y)
    assert core_calls == []


@pytest.mark.parametrize("est_cls", ESTIMATORS)
def test_nan_at_predict_is_refused(est_cls):
    X, y = targets(est_cls)
    est = quick(est_cls).fit(X, y)
    X_bad = X.copy()
    X_bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        est.predict(X_bad)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_threaded_finiteness_scan_finds_every_position(dtype, n_threads):
    # 2**23 entries and more: the scan takes a second thread from 2**23 (4M entries a thread).
    X = np.ones((4100, 2050), dtype=dtype)
    assert _core.all_finite(X, n_threads)
    for value in (np.nan, np.inf, -np.inf):
        for i, j in [(0, 0), (4099, 2049), (2050, 77), (3000, 1)]:
            X[i, j] = value
            assert not _core.all_finite(X, n_threads)
            assert not _core.all_finite(X.ravel(), n_threads)
            assert _core.all_finite(X[:, :j], n_threads)  # column j left out, rows strided
            X[i, j] = 1
    assert _core.all_finite(np.empty((0, 3), dtype=dtype), n_threads)


def test_finiteness_scan_refuses_unreadable_layouts():
    X = np.ones((10, 4))
    with pytest.raises(ValueError, match="contiguous rows"):
        _core.all_finite(X[:, ::2], 1)
    with pytest.raises(ValueError, match="contiguous rows"):
        _core.all_finite(X[::-1], 1)
    with pytest.raises(TypeError, match="dtype"):
        _core.all_finite(X.astype(np.int64), 1)


# ---- sample weights -----------------------------------------------------------------------

@pytest.mark.parametrize("est_cls", ESTIMATORS)
def test_negative_sample_weight_is_refused(est_cls, core_calls):
    X, y = targets(est_cls)
    sw = np.ones(X.shape[0])
    sw[2] = -0.5
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        quick(est_cls).fit(X, y, sample_weight=sw)
    assert core_calls == []


@pytest.mark.parametrize("est_cls", ESTIMATORS)
def test_all_zero_or_wrong_length_sample_weight(est_cls):
    X, y = targets(est_cls)
    with pytest.raises(ValueError, match="at least one non-zero"):
        quick(est_cls).fit(X, y, sample_weight=np.zeros(X.shape[0]))
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(10,\), expected \(40,\)"):
        quick(est_cls).fit(X, y, sample_weight=np.ones(10))


# ---- shapes -------------------------------------------------------------------------------

@pytest.mark.parametrize("est_cls", ESTIMATORS)
def test_empty_and_featureless_X(est_cls, core_calls):
    X, y = targets(est_cls)
    with pytest.raises(ValueError, match=r"Found array with 0 sample\(s\)"):
        quick(est_cls).fit(X[:0], y[:0])
    with pytest.raises(ValueError, match=r"Found array with 0 feature\(s\)"):
        quick(est_cls).fit(X[:, :0], y)
    assert core_calls == []


@pytest.mark.parametrize("est_cls", ESTIMATORS)
def test_wrong_y_length_3d_and_1d_X(est_cls):
    X, y = targets(est_cls)
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[40, 39\]"):
        quick(est_cls).fit(X, y[:-1])
    with pytest.raises(ValueError, match="Found array with dim 3"):
        quick(est_cls).fit(X[:, :, None], y)
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
        quick(est_cls).fit(X[:, 0], y)
    if est_cls is fd.SGDRegressor:  # multi-output regression: a model per column
        assert quick(est_cls).fit(X, np.column_stack([y, y])).coef_.shape == (2, X.shape[1])
        return
    with pytest.raises(ValueError, match=r"y should be a 1d array, got an array of shape \(40, 2\)"):
        quick(est_cls).fit(X, np.column_stack([y, y]))


def test_one_sample_and_one_class():
    X, y_class, y_reg = make_data()
    with pytest.raises(ValueError, match="number of classes has to be greater than one; got 1 class"):
        quick(fd.SGDClassifier).fit(X[:1], y_class[:1])
    with pytest.raises(ValueError, match="number of classes has to be greater than one; got 1 class"):
        quick(fd.SGDClassifier).fit(X, np.full(X.shape[0], 3))
    # One sample is a valid (if tiny) regression problem: it trains and predicts finitely.
    reg = quick(fd.SGDRegressor).fit(X[:1], y_reg[:1])
    assert np.all(np.isfinite(reg.predict(X)))
    # ... but not with early stopping, which needs a validation row.
    with pytest.raises(ValueError, match="train set will be empty"):
        quick(fd.SGDRegressor, early_stopping=True).fit(X[:1], y_reg[:1])


@pytest.mark.parametrize("est_cls", ESTIMATORS)
def test_mismatched_n_features(est_cls):
    X, y = targets(est_cls)
    est = quick(est_cls).fit(X, y)
    name = est_cls.__name__
    msg = f"X has 3 features, but {name} is expecting 5 features as input"
    with pytest.raises(ValueError, match=msg):
        est.predict(X[:, :3])
    with pytest.raises(ValueError, match=msg):
        est.partial_fit(X[:, :3], y)
    with pytest.raises(ValueError, match=msg):
        est.predict(sp.csr_matrix(X[:, :3]))


# ---- dtypes -------------------------------------------------------------------------------

@pytest.mark.parametrize("est_cls", ESTIMATORS)
def test_text_X_is_refused(est_cls, core_calls):
    X, y = targets(est_cls)
    for text in (X.astype(str), X.astype(bytes)):
        with pytest.raises(ValueError, match="arrays of bytes/strings are not supported"):
            quick(est_cls).fit(text, y)
    with pytest.raises(ValueError, match="could not convert string to float"):
        quick(est_cls).fit(np.full(X.shape, "a", dtype=object), y)
    assert core_calls == []


def test_text_targets_are_labels_for_the_classifier_only():
    X, y_class, y_reg = make_data()
    labels = np.where(y_class == 1, "yes", "no")
    clf = quick(fd.SGDClassifier).fit(X, labels)
    assert set(clf.predict(X)) <= {"yes", "no"}
    with pytest.raises(ValueError, match="y has dtype <U.*not supported"):
        quick(fd.SGDRegressor).fit(X, y_reg.astype(str))


def test_continuous_targets_are_refused_by_the_classifier():
    X, _, y_reg = make_data()
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        quick(fd.SGDClassifier).fit(X, y_reg)


@pytest.mark.parametrize("est_cls", ESTIMATORS)
def test_complex_input_is_refused(est_cls):
    X, y = targets(est_cls)
    with pytest.raises(ValueError, match="Complex data not supported"):
        quick(est_cls).fit(X.astype(np.complex128), y)
    with pytest.raises(ValueError, match="Complex data not supported"):
        quick(est_cls).fit(X, y.astype(np.complex128))


@pytest.mark.parametrize("est_cls", ESTIMATORS)
@pytest.mark.parametrize("convert", [
    lambda X: (X * 100).astype(np.int64),
    lambda X: (X * 100).astype(np.int32),
    lambda X: X > 0,
    lambda X: X.astype(object),
], ids=["int64", "int32", "bool", "object"])
def test_numeric_X_of_other_dtypes_is_converted_to_float64(est_cls, convert):
    """Documented in BaseSGD._check_X: these are converted (one copy) to float64 (float16 is
    read as stored: tests/test_half_precision.py)."""
    X, y = targets(est_cls)
    Xc = convert(X)
    est = quick(est_cls).fit(Xc, y)
    reference = quick(est_cls).fit(np.asarray(Xc, dtype=np.float64), y)
    assert est.coef_.dtype == np.float64
    np.testing.assert_array_equal(est.coef_, reference.coef_)
    assert np.all(np.isfinite(est.predict(Xc)))


# ---- layouts: accepted, no copy where the core reads them in place -----------------------

def _memmap(tmp_path, X, mode):
    path = tmp_path / "X.dat"
    mm = np.memmap(path, dtype=X.dtype, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    return np.memmap(path, dtype=X.dtype, mode=mode, shape=X.shape)


def _read_only(X):
    X = X.copy()
    X.flags.writeable = False
    return X


IN_PLACE_LAYOUTS = {
    "c_contiguous": lambda X, tmp: X,
    "row_strided": lambda X, tmp: np.repeat(X, 2, axis=0)[::2],
    "read_only": lambda X, tmp: _read_only(X),
    "memmap_read": lambda X, tmp: _memmap(tmp, X, "r"),
    "memmap_copy_on_write": lambda X, tmp: _memmap(tmp, X, "c"),
    "broadcast_rows": lambda X, tmp: np.broadcast_to(X[:1], X.shape),
}
COPIED_LAYOUTS = {
    "fortran": lambda X, tmp: np.asfortranarray(X),
    "column_strided": lambda X, tmp: np.repeat(X, 2, axis=1)[:, ::2],
    "reversed_rows": lambda X, tmp: X[::-1],
    "misaligned": lambda X, tmp: np.frombuffer(_misaligned(X), dtype=X.dtype).reshape(X.shape),
}


def _misaligned(X):
    """A buffer holding X's bytes at an address that is not a multiple of its itemsize."""
    raw = np.empty(X.nbytes + 1, np.uint8)
    raw[1:] = np.frombuffer(X.tobytes(), np.uint8)
    return raw[1:].data


@pytest.mark.parametrize("est_cls", ESTIMATORS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", IN_PLACE_LAYOUTS)
def test_layouts_read_in_place(est_cls, dtype, layout, tmp_path, core_calls):
    X, y = targets(est_cls)
    X_in = IN_PLACE_LAYOUTS[layout](X.astype(dtype), tmp_path)
    est = quick(est_cls).fit(X_in, y)
    assert len(core_calls) == 1
    assert np.shares_memory(core_calls[0][0], X_in), "X was copied"
    assert est.coef_.dtype == dtype
    expected = quick(est_cls).fit(np.ascontiguousarray(X_in), y)
    np.testing.assert_array_equal(est.coef_, expected.coef_)
    np.testing.assert_array_equal(est.predict(X_in), expected.predict(X_in))


@pytest.mark.parametrize("est_cls", ESTIMATORS)
@pytest.mark.parametrize("layout", COPIED_LAYOUTS)
def test_layouts_the_core_cannot_read_are_copied_once(est_cls, layout, tmp_path, core_calls):
    X, y = targets(est_cls)
    X_in = COPIED_LAYOUTS[layout](X, tmp_path)
    np.testing.assert_array_equal(X_in, X if layout != "reversed_rows" else X[::-1])
    est = quick(est_cls).fit(X_in, y)
    passed = core_calls[0][0]
    assert passed.flags.c_contiguous and passed.flags.aligned
    expected = quick(est_cls).fit(np.ascontiguousarray(X_in), y)
    np.testing.assert_array_equal(est.coef_, expected.coef_)


@pytest.mark.parametrize("est_cls", ESTIMATORS)
def test_csr_is_read_in_place(est_cls, core_calls):
    X, y = targets(est_cls)
    X[X < 0.3] = 0
    S = sp.csr_matrix(X)
    quick(est_cls).fit(S, y)
    assert np.shares_memory(core_calls[0][0], S.data)


# ---- partial_fit --------------------------------------------------------------------------

def test_partial_fit_unseen_labels_and_missing_classes():
    X, y, _ = make_data()
    with pytest.raises(ValueError, match="classes must be passed on the first call to partial_fit"):
        fd.SGDClassifier().partial_fit(X, y)
    clf = fd.SGDClassifier(random_state=0).partial_fit(X, y, classes=[0, 1])
    coef = clf.coef_.copy()
    with pytest.raises(ValueError, match=re.escape("`y` has classes not in `self.classes_`: [7]")):
        clf.partial_fit(X, np.where(y == 1, 7, 0))
    np.testing.assert_array_equal(clf.coef_, coef)  # the failed call changed nothing
    with pytest.raises(ValueError, match=re.escape("`y` has classes not in `self.classes_`: [1]")):
        fd.SGDClassifier().partial_fit(X, y, classes=[0, 2])


def test_failed_first_partial_fit_leaves_estimator_unfitted():
    X, y, _ = make_data()
    clf = fd.SGDClassifier()
    with pytest.raises(ValueError, match="Negative values"):
        clf.partial_fit(X, y, classes=[0, 1], sample_weight=-np.ones(X.shape[0]))
    assert not hasattr(clf, "classes_") and not hasattr(clf, "n_features_in_")
    # A later call is a fresh first call: it may use another number of features.
    clf.partial_fit(X[:, :3], y, classes=[0, 1])
    assert clf.coef_.shape == (1, 3)


# ---- hyperparameters ----------------------------------------------------------------------

BAD_PARAMS = [
    (dict(alpha=-1.0), InvalidParameterError, r"'alpha' parameter .* must be a float in the range \[0.0, inf\)"),
    (dict(alpha=np.nan), InvalidParameterError, "'alpha' parameter"),
    (dict(alpha=np.inf), InvalidParameterError, "'alpha' parameter"),
    (dict(l1_ratio=1.5), InvalidParameterError, r"'l1_ratio' parameter .* range \[0.0, 1.0\]"),
    (dict(l1_ratio=-0.1), InvalidParameterError, r"'l1_ratio' parameter .* range \[0.0, 1.0\]"),
    (dict(batch_size=41), ValueError, r"batch_size=41 is larger than the number of training samples \(40\)"),
    (dict(batch_size=0), InvalidParameterError, "'batch_size' parameter"),
    (dict(optimizer="adamm"), InvalidParameterError, "'optimizer' parameter .* Got 'adamm' instead"),
    (dict(optimizer=3), InvalidParameterError, "'optimizer' parameter"),
    (dict(learning_rate="fast"), InvalidParameterError, "'learning_rate' parameter"),
    (dict(penalty="l3"), InvalidParameterError, "'penalty' parameter"),
    (dict(eta0=0.0), InvalidParameterError, "'eta0' parameter"),
    (dict(eta0=np.inf), InvalidParameterError, "'eta0' parameter"),
    (dict(max_iter=0), InvalidParameterError, "'max_iter' parameter"),
    (dict(tol=np.nan), InvalidParameterError, "'tol' parameter"),
    (dict(epsilon=-1.0), InvalidParameterError, "'epsilon' parameter"),
    (dict(power_t=np.nan), InvalidParameterError, "'power_t' parameter"),
    (dict(clip_norm=0.0), InvalidParameterError, "'clip_norm' parameter"),
    (dict(validation_fraction=1.0), InvalidParameterError, "'validation_fraction' parameter"),
    (dict(n_iter_no_change=0), InvalidParameterError, "'n_iter_no_change' parameter"),
    (dict(average=-2), InvalidParameterError, "'average' parameter"),
    # Integers past the core's types (int for epochs, int64 for update counts).
    (dict(max_iter=2**31), InvalidParameterError, r"'max_iter' parameter .* range \[1, 2147483647\]"),
    (dict(n_iter_no_change=2**31), InvalidParameterError, "'n_iter_no_change' parameter"),
    (dict(average=2**63), InvalidParameterError, "'average' parameter"),
    (dict(batch_size=2**63), InvalidParameterError, "'batch_size' parameter"),
    (dict(penalty="elasticnet", l1_ratio=None), ValueError, "l1_ratio must be set"),
    (dict(learning_rate="optimal", alpha=0.0), ValueError, "alpha must be > 0"),
]


@pytest.mark.parametrize("est_cls", ESTIMATORS)
@pytest.mark.parametrize("params, error, message", BAD_PARAMS,
                         ids=[repr(p[0]) for p in BAD_PARAMS])
def test_invalid_hyperparameters(est_cls, params, error, message, core_calls):
    X, y = targets(est_cls)
    with pytest.raises(error, match=message):
        quick(est_cls, **params).fit(X, y)
    assert core_calls == []
    est = quick(est_cls, **params)
    with pytest.raises(error, match=message):
        if est_cls is fd.SGDClassifier:
            est.partial_fit(X, y, classes=[0, 1])
        else:
            est.partial_fit(X, y)
    assert not hasattr(est, "coef_")


def test_unknown_loss():
    X, y, y_reg = make_data()
    with pytest.raises(InvalidParameterError, match="'loss' parameter of SGDClassifier"):
        fd.SGDClassifier(loss="logistic").fit(X, y)
    with pytest.raises(InvalidParameterError, match="'loss' parameter of SGDRegressor"):
        fd.SGDRegressor(loss="hinge").fit(X, y_reg)


# ---- the raw bindings ---------------------------------------------------------------------

def config(**fields):
    cfg = _core.TrainConfig()
    cfg.max_iter = 3
    cfg.tol = -np.inf
    for name, value in fields.items():
        setattr(cfg, name, value)
    return cfg


def dense_args(dtype=np.float64, n=12, d=3):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((n, d)).astype(dtype)
    y = rng.standard_normal(n).astype(dtype)
    return X, y, np.zeros((1, d), dtype), np.zeros(1, dtype)


def _read_only_copy(a):
    a = a.copy()
    a.flags.writeable = False
    return a


def _bad_dense_calls():
    """(name, call that must raise, expected error, message) for train_dense."""
    calls = []

    def add(name, error, message, **swap):
        def call():
            X, y, coef, intercept = dense_args()
            args = dict(X=X, y=y, coef=coef, intercept=intercept, config=config())
            args.update({k: (v(args) if callable(v) else v) for k, v in swap.items()})
            return args, _core.train_dense(**args)
        calls.append(pytest.param(call, error, message, id=name))

    add("X_int", TypeError, "X must be a NumPy array of dtype float64", X=lambda a: a["X"].astype(np.int64))
    add("X_object", TypeError, "X must be a NumPy array of dtype float64", X=lambda a: a["X"].astype(object))
    add("X_not_array", TypeError, "incompatible function arguments", X="abc")
    add("X_3d", ValueError, "X must be 2-D", X=lambda a: a["X"][:, :, None])
    add("X_1d", ValueError, "X must be 2-D", X=lambda a: a["X"][:, 0].copy())
    add("X_fortran", ValueError, "X rows must be contiguous", X=lambda a: np.asfortranarray(a["X"]))
    add("X_reversed", ValueError, "unsupported row stride", X=lambda a: a["X"][::-1])
    add("X_empty", ValueError, "no training rows", X=lambda a: a["X"][:0], y=lambda a: a["y"][:0])
    add("y_float32", TypeError, "y must be a NumPy array of dtype float64", y=lambda a: a["y"].astype(np.float32))
    add("y_short", ValueError, "y must be a contiguous 1-D array of length 12", y=lambda a: a["y"][:5])
    add("y_strided", ValueError, "y must be a contiguous 1-D array", y=lambda a: np.repeat(a["y"], 2)[::2])
    add("y_2d", ValueError, "y must be a contiguous 1-D array", y=lambda a: a["y"][:, None])
    add("coef_read_only", ValueError, "coef is read-only", coef=lambda a: _read_only_copy(a["coef"]))
    add("coef_wrong_width", ValueError, r"coef must be a C-contiguous \(n_outputs, n_features\)", coef=np.zeros((1, 4)))
    add("coef_1d", ValueError, r"coef must be a C-contiguous", coef=np.zeros(3))
    add("coef_strided", ValueError, r"coef must be a C-contiguous", coef=np.zeros((1, 6))[:, ::2])
    add("coef_float32", TypeError, "coef must be a NumPy array of dtype float64", coef=np.zeros((1, 3), np.float32))
    add("coef_no_outputs", ValueError, "at least one output", coef=np.zeros((0, 3)), intercept=np.zeros(0))
    # Two outputs of a scalar loss are multi-output regression: two targets per row.
    add("coef_two_outputs_short_y", ValueError, "y must be a contiguous 1-D array of length 24",
        coef=np.zeros((2, 3)), intercept=np.zeros(2))
    add("classifier_two_outputs", ValueError, "one output at a time", coef=np.zeros((2, 3)),
        intercept=np.zeros(2), y=lambda a: np.repeat(a["y"], 2), config=config(classification=True))
    add("intercept_read_only", ValueError, "intercept is read-only", intercept=lambda a: _read_only_copy(a["intercept"]))
    add("intercept_length", ValueError, "intercept must be a contiguous 1-D array of length 1", intercept=np.zeros(2))
    add("coef_aliases_X", ValueError, "coef shares memory with X", coef=lambda a: a["X"][:1])
    add("intercept_aliases_y", ValueError, "intercept shares memory with y", intercept=lambda a: a["y"][:1])
    add("sample_weight_length", ValueError, "sample_weight must be a contiguous 1-D array of length 12", sample_weight=np.ones(3))
    add("sample_weight_nan", ValueError, "total sample weight of zero", sample_weight=np.full(12, np.nan))
    add("sample_weight_dtype", TypeError, "sample_weight must be a NumPy array of dtype float64", sample_weight=np.ones(12, np.float32))
    add("all_validation", ValueError, "no training rows", validation_mask=np.ones(12, np.uint8))
    add("early_stopping_without_validation", ValueError, "needs at least one validation row", config=config(early_stopping=True))
    add("average_without_buffers", ValueError, "averaging needs", config=config(average=1))
    add("average_read_only", ValueError, "average_coef is read-only", config=config(average=1),
        average_coef=lambda a: _read_only_copy(a["coef"]), average_intercept=np.zeros(1))
    add("average_aliases_coef", ValueError, "coef shares memory with average_coef", config=config(average=1),
        average_coef=lambda a: a["coef"], average_intercept=np.zeros(1))
    add("class_weight_length", ValueError, "class_weight must have 2 entries",
        config=config(loss=_core.LossKind.hinge), y=lambda a: np.sign(a["y"]), class_weight=np.ones(5))
    add("multinomial_labels", ValueError, "class indices",
        config=config(loss=_core.LossKind.multinomial), coef=np.zeros((3, 3)), intercept=np.zeros(3))
    add("negative_batch", ValueError, "batch_size must be >= 0", config=config(batch_size=-1))
    add("no_threads", ValueError, "n_threads must be >= 1", config=config(n_threads=0))
    add("negative_max_iter", ValueError, "max_iter must be >= 0", config=config(max_iter=-1))
    add("negative_alpha", ValueError, "config.alpha must be a finite number >= 0", config=config(alpha=-1.0))
    add("nan_alpha", ValueError, "config.alpha", config=config(alpha=float("nan")))
    add("l1_ratio_above_one", ValueError, r"config.l1_ratio must be in \[0, 1\]", config=config(l1_ratio=1.5))
    add("nan_loss_param", ValueError, "config.loss_param", config=config(loss_param=float("nan")))
    add("quantile_above_one", ValueError, r"quantile in \(0, 1\)",
        config=config(loss=_core.LossKind.quantile, loss_param=1.5))
    add("tweedie_power_two", ValueError, "power > 1 other than 2",
        config=config(loss=_core.LossKind.tweedie, loss_param=2.0))
    add("nan_tol", ValueError, "config.tol must not be NaN", config=config(tol=float("nan")))
    add("adaptive_divisor_one", ValueError, "adaptive_divisor must be > 1",
        config=config(schedule=_core.Schedule(_core.ScheduleKind.adaptive, adaptive_divisor=1.0)))
    add("nan_clip", ValueError, "config.clip_value", config=config(clip_value=float("nan")))
    add("t0_zero", ValueError, "t0 must be a finite number >= 1", t0=0.0)
    add("t0_nan", ValueError, "t0 must be a finite number >= 1", t0=float("nan"))
    return calls


@pytest.mark.parametrize("call, error, message", _bad_dense_calls())
def test_train_dense_refuses_bad_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_train_dense_leaves_parameters_untouched_when_refusing():
    X, y, coef, intercept = dense_args()
    coef[:] = 0.5
    with pytest.raises(ValueError):
        _core.train_dense(X, y, coef, intercept, config(alpha=-1.0))
    np.testing.assert_array_equal(coef, 0.5)
    np.testing.assert_array_equal(intercept, 0.0)


def test_train_dense_non_finite_data_reports_divergence_not_a_crash():
    X, y, coef, intercept = dense_args()
    X[3, 1] = np.nan
    res = _core.train_dense(X, y, coef, intercept, config())
    assert res.diverged


def _csr_parts(dtype=np.float64, index=np.int32):
    X, y, coef, intercept = dense_args(dtype)
    X[np.abs(X) < 0.5] = 0
    S = sp.csr_matrix(X)
    return dict(data=S.data, indices=S.indices.astype(index), indptr=S.indptr.astype(index),
                n_cols=X.shape[1], y=y, coef=coef, intercept=intercept, config=config())


CSR_BAD = [
    ("index_too_large", lambda a: a.update(indices=a["indices"] + 3), ValueError, "column index is out of range"),
    ("index_negative", lambda a: a.update(indices=a["indices"] - 3), ValueError, "column index is out of range"),
    ("n_cols_negative", lambda a: a.update(n_cols=-1), ValueError, "column index is out of range"),
    ("indptr_reversed", lambda a: a.update(indptr=a["indptr"][::-1].copy()), ValueError, "indptr"),
    ("indptr_decreasing", lambda a: a["indptr"].__setitem__(3, a["indptr"][5]), ValueError, "indptr must be non-decreasing"),
    ("indptr_too_long_nnz", lambda a: a.update(indptr=a["indptr"] * 2), ValueError, "must equal the number of stored entries"),
    ("indptr_empty", lambda a: a.update(indptr=a["indptr"][:0]), ValueError, "indptr must be 1-D and non-empty"),
    ("indptr_strided", lambda a: a.update(indptr=np.repeat(a["indptr"], 2)[::2]), ValueError, "indptr must be a contiguous"),
    ("indptr_negative_stride", lambda a: a.update(indptr=a["indptr"][::-1]), ValueError, "indptr must be a contiguous"),
    ("indptr_broadcast", lambda a: a.update(indptr=np.broadcast_to(a["indptr"][:1], a["indptr"].shape)), ValueError, "indptr must be a contiguous"),
    ("indices_strided", lambda a: a.update(indices=np.repeat(a["indices"], 2)[::2]), ValueError, "indices must be a contiguous"),
    ("indices_float", lambda a: a.update(indices=a["indices"].astype(np.float64)), TypeError, "must be a NumPy array of dtype"),
    ("index_dtypes_differ", lambda a: a.update(indices=a["indices"].astype(np.int64)), TypeError, "indptr must be a NumPy array of dtype int64"),
    ("data_short", lambda a: a.update(data=a["data"][:-1]), ValueError, "data must be a contiguous 1-D array"),
    ("data_int", lambda a: a.update(data=a["data"].astype(np.int64)), TypeError, "data must be a NumPy array of dtype float64"),
    ("y_rows", lambda a: a.update(y=a["y"][:-2]), ValueError, "y must be a contiguous 1-D array of length 12"),
    ("coef_aliases_data", lambda a: a.update(coef=a["data"][:3].reshape(1, 3)), ValueError, "coef shares memory with data"),
]


@pytest.mark.parametrize("index", [np.int32, np.int64])
@pytest.mark.parametrize("name, spoil, error, message", CSR_BAD, ids=[c[0] for c in CSR_BAD])
def test_train_csr_refuses_bad_arguments(index, name, spoil, error, message):
    args = _csr_parts(index=index)
    spoil(args)
    if name == "index_dtypes_differ" and index is np.int64:
        args["indices"] = args["indices"].astype(np.int32)
        message = "indptr must be a NumPy array of dtype int32"
    with pytest.raises(error, match=message):
        _core.train_csr(**args)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_train_csr_trains_on_valid_input(dtype):
    args = _csr_parts(dtype)
    res = _core.train_csr(**args)
    assert not res.diverged and np.all(np.isfinite(args["coef"]))


OPTIM_BAD = [
    ("param_int", lambda p, g: (p.astype(np.int64), g), TypeError),
    ("param_list", lambda p, g: (p.tolist(), g), TypeError),
    ("grad_dtype", lambda p, g: (p, g.astype(np.float32)), TypeError),
    ("grad_shape", lambda p, g: (p, g[:-1]), ValueError),
    ("param_strided", lambda p, g: (np.repeat(p, 2)[::2], g), ValueError),
    ("param_read_only", lambda p, g: (_read_only_copy(p), g), ValueError),
    ("param_is_grad", lambda p, g: (p, p), ValueError),
    ("grad_strided", lambda p, g: (p, np.repeat(g, 2)[::2]), None),  # accepted: read, copied
]


@pytest.mark.parametrize("name, spoil, error", OPTIM_BAD, ids=[c[0] for c in OPTIM_BAD])
@pytest.mark.parametrize("opt_cls", [fd.optim.SGD, fd.optim.Adam, fd.optim.Adagrad, fd.optim.RMSprop,
                                     fd.optim.Adafactor, fd.optim.Lion, fd.optim.LAMB])
def test_optimizers_refuse_bad_arrays(name, spoil, error, opt_cls):
    opt = opt_cls(lr=0.1) if opt_cls is not fd.optim.Adafactor else opt_cls()
    p, g = spoil(np.ones(6), np.full(6, 0.5))
    if error is None:
        opt.step(p, g)
        assert np.all(np.isfinite(p)) and not np.all(p == 1)
        return
    before = np.array(p, copy=True) if isinstance(p, np.ndarray) else None
    with pytest.raises(error):
        opt.step(p, g)
    if before is not None:
        np.testing.assert_array_equal(p, before)


RAW_STEP_BAD = [
    ("read_only_param", lambda p, g, s: (_read_only_copy(p), g, s), ValueError, "param is read-only"),
    ("state_dtype", lambda p, g, s: (p, g, s.astype(np.float32)), TypeError, "exp_avg has dtype float32"),
    ("state_size", lambda p, g, s: (p, g, s[:-1]), ValueError, "exp_avg has 5 elements, expected 6"),
    ("state_strided", lambda p, g, s: (p, g, np.repeat(s, 2)[::2]), ValueError, "exp_avg must be C-contiguous"),
    ("state_aliases_param", lambda p, g, s: (p, g, p), ValueError, "shares memory with param"),
    ("param_int", lambda p, g, s: (p.astype(np.int32), g.astype(np.int32), s), TypeError, "dtype"),
    ("grad_not_array", lambda p, g, s: (p, list(g), s), TypeError, "grad must be a NumPy array"),
]


@pytest.mark.parametrize("name, spoil, error, message", RAW_STEP_BAD, ids=[c[0] for c in RAW_STEP_BAD])
def test_raw_optimizer_kernels_refuse_bad_arrays(name, spoil, error, message):
    p, g, m = spoil(np.ones(6), np.full(6, 0.5), np.zeros(6))
    v = np.zeros(6)
    with pytest.raises(error, match=message):
        _core.adam_step(p, g, m, v, None, 1)
    with pytest.raises(ValueError, match="step must be >= 1"):
        _core.adam_step(np.ones(6), np.ones(6), np.zeros(6), np.zeros(6), None, 0)


def _misaligned_copy(a):
    return np.frombuffer(_misaligned(a), dtype=a.dtype).reshape(a.shape)


def test_bindings_refuse_misaligned_arrays():
    X, y, coef, intercept = dense_args()
    with pytest.raises(ValueError, match="X is not aligned"):
        _core.train_dense(_misaligned_copy(X), y, coef, intercept, config())
    with pytest.raises(ValueError, match="y is not aligned"):
        _core.train_dense(X, _misaligned_copy(y), coef, intercept, config())
    with pytest.raises(ValueError, match="coef is not aligned"):
        _core.train_dense(X, y, _misaligned_copy(coef), intercept, config())
    with pytest.raises(ValueError, match="param is not aligned"):
        _core.sgd_step(_misaligned_copy(np.ones(4)), np.ones(4), None, 1, 0.1)
    with pytest.raises(ValueError, match=r"grads\[0\] is not aligned"):
        _core.clip_grad_value(_misaligned_copy(np.ones(4)), 0.5)


STRATEGIES = [
    dict(),  # scikit-learn's per-sample SGD
    dict(n_jobs=2),  # thread-local per-sample models
    dict(batch_size=16, optimizer="adam"),
    dict(batch_size="full", learning_rate="constant"),
    dict(batch_size="full"),  # the full-batch solver (scans X first)
    dict(early_stopping=True),  # the validation rows are scanned, the others checked
]


@pytest.mark.parametrize("params", STRATEGIES, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()) or "default")
@pytest.mark.parametrize("est_cls", ESTIMATORS)
def test_dense_nan_is_found_by_the_first_epoch_without_a_scan(est_cls, params, monkeypatch):
    """A dense X is checked as the first epoch reads it (no separate pass over X): any row,
    whatever the strategy, gets scikit-learn's error and a fitted estimator keeps its model."""
    X, y = targets(est_cls, n=400)
    est = quick(est_cls, **params).fit(X, y)
    before = est.coef_.copy()
    scans = []
    monkeypatch.setattr(_core, "all_finite", lambda *a, **k: scans.append(a) or True)
    rows = [0, 217, 399]
    for row in rows:
        bad = X.copy()
        bad[row, 1] = np.nan
        with pytest.raises(ValueError, match="Input X contains NaN"):
            est.fit(bad, y)
        np.testing.assert_array_equal(est.coef_, before)
    assert scans == []  # the estimators' own scan of X did not run


def test_finite_rows_whose_scores_overflow_are_divergence_not_nan():
    X, y = targets(fd.SGDRegressor, n=200)
    with pytest.raises(ValueError, match="overflow"):
        fd.SGDRegressor(learning_rate="constant", eta0=1.0, batch_size=4).fit(X * 1e300, y)
