"""End-to-end behaviour of fastdescent.SGDClassifier / SGDRegressor.

Accuracy against scikit-learn on its bundled data sets, exact agreement with scikit-learn's
per-sample algorithm, multi-class outputs and probabilities, dtypes, weights, partial_fit,
warm_start, averaging, early stopping, the n_iter_ / t_ / loss_curve_ bookkeeping, threads,
batch modes, input validation, sparse and pandas input, memory use, and scikit-learn tooling.
"""

import pickle
import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import sklearn.linear_model as sklm
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit, softmax
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedShuffleSplit, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_class_weight

import fastdescent
import fastdescent._classifier
from fastdescent import SGDClassifier, SGDRegressor, _core

SEEDS = (0, 1, 2)


# ---- data ---------------------------------------------------------------------------------


def _split_scaled(X, y):
    """30% held out (random_state=0), StandardScaler fitted on the train part."""
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=0)
    scaler = StandardScaler().fit(X_tr)
    return scaler.transform(X_tr), scaler.transform(X_te), y_tr, y_te


@pytest.fixture(scope="module")
def digits():
    return _split_scaled(*load_digits(return_X_y=True))


@pytest.fixture(scope="module")
def cancer():
    return _split_scaled(*load_breast_cancer(return_X_y=True))


@pytest.fixture(scope="module")
def diabetes():
    return _split_scaled(*load_diabetes(return_X_y=True))


@pytest.fixture(scope="module")
def cancer_full():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def diabetes_full():
    X, y = load_diabetes(return_X_y=True)
    return StandardScaler().fit_transform(X), (y - y.mean()) / y.std()


def _quiet(est, *args, **kwargs):
    """est.fit without ConvergenceWarning noise (tests that check the warning do not use this)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kwargs)


# ---- accuracy against scikit-learn on its bundled data --------------------------------------

# (data set, fastdescent params, scikit-learn params); the test score of fastdescent, averaged
# over random_state 0, 1, 2, is at least scikit-learn's (same seeds) minus 0.01, and above a
# floor that a broken trainer cannot reach.
SCORE_CASES = [
    ("digits", {}, {}, 0.90),
    ("digits", {"loss": "log_loss"}, {"loss": "log_loss"}, 0.90),
    ("digits", {"loss": "log_loss", "multi_class": "multinomial"}, {"loss": "log_loss"}, 0.90),
    ("cancer", {}, {}, 0.92),
    ("cancer", {"loss": "log_loss"}, {"loss": "log_loss"}, 0.92),
    ("diabetes", {}, {}, 0.35),
]


@pytest.mark.parametrize(
    "name, fd_params, sk_params, floor", SCORE_CASES,
    ids=[f"{c[0]}-{'-'.join(map(str, c[1].values())) or 'default'}" for c in SCORE_CASES],
)
def test_test_score_not_worse_than_sklearn(request, name, fd_params, sk_params, floor):
    X_tr, X_te, y_tr, y_te = request.getfixturevalue(name)
    regression = name == "diabetes"
    ours = SGDRegressor if regression else SGDClassifier
    theirs = sklm.SGDRegressor if regression else sklm.SGDClassifier
    fd_scores = [_quiet(ours(random_state=s, **fd_params), X_tr, y_tr).score(X_te, y_te)
                 for s in SEEDS]
    sk_scores = [_quiet(theirs(random_state=s, **sk_params), X_tr, y_tr).score(X_te, y_te)
                 for s in SEEDS]
    assert np.mean(fd_scores) >= np.mean(sk_scores) - 0.01, (fd_scores, sk_scores)
    assert min(fd_scores) > floor, fd_scores


# ---- scikit-learn's per-sample algorithm, update for update ----------------------------------

# shuffle=False makes the row order the same in both libraries, so with batch_size=1 the
# weights must agree to rounding after a few epochs.
SAME_ALGORITHM_CASES = [
    ("clf", {}),
    ("clf", {"loss": "log_loss"}),
    ("clf", {"loss": "modified_huber"}),
    ("clf", {"loss": "perceptron"}),
    ("clf", {"penalty": "l1"}),
    ("clf", {"penalty": "elasticnet", "loss": "log_loss"}),
    ("clf", {"penalty": None, "loss": "log_loss"}),
    ("clf", {"fit_intercept": False}),
    ("clf", {"learning_rate": "invscaling", "eta0": 0.1}),
    ("clf", {"learning_rate": "pa1", "eta0": 0.5}),
    ("clf", {"learning_rate": "pa2", "eta0": 0.5}),
    ("clf", {"average": True}),
    ("clf", {"average": 100, "loss": "log_loss"}),
    ("clf", {"class_weight": {0: 2.0, 1: 0.5}}),
    ("clf", {"class_weight": "balanced", "loss": "log_loss"}),
    ("clf-sw", {"loss": "log_loss"}),
    ("iris", {}),
    ("iris", {"loss": "log_loss", "class_weight": {0: 1.0, 1: 2.0, 2: 3.0}}),
    ("iris", {"average": True}),
    ("reg", {}),
    ("reg", {"loss": "huber"}),
    ("reg", {"loss": "epsilon_insensitive", "learning_rate": "pa2"}),
    ("reg", {"loss": "squared_epsilon_insensitive"}),
    ("reg", {"penalty": "l1", "alpha": 0.01}),
    ("reg", {"learning_rate": "adaptive"}),
    ("reg", {"average": True}),
    ("reg-sw", {}),
]


@pytest.mark.parametrize("kind, params", SAME_ALGORITHM_CASES)
def test_per_sample_updates_match_sklearn(kind, params, cancer_full, iris, diabetes_full):
    X, y = {"clf": cancer_full, "iris": iris, "reg": diabetes_full}[kind.split("-")[0]]
    fit_params = {}
    if kind.endswith("-sw"):
        fit_params["sample_weight"] = np.random.RandomState(0).uniform(0.5, 1.5, y.shape[0])
    common = dict(shuffle=False, max_iter=3, tol=None, random_state=0, **params)
    if kind == "reg" or kind == "reg-sw":
        ours, theirs = SGDRegressor(**common), sklm.SGDRegressor(**common)
    else:
        ours, theirs = SGDClassifier(**common), sklm.SGDClassifier(**common)
    ours.fit(X, y, **fit_params)
    theirs.fit(X, y, **fit_params)
    scale = np.abs(theirs.coef_).max()
    assert scale > 0
    assert_allclose(ours.coef_, theirs.coef_, rtol=1e-8, atol=1e-9 * scale)
    assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-8, atol=1e-9 * max(scale, 1.0))
    assert ours.t_ == theirs.t_
    assert ours.n_iter_ == theirs.n_iter_ == 3


# ---- multi-class outputs ------------------------------------------------------------------


@pytest.mark.parametrize("multi_class", ["ovr", "multinomial"])
def test_multiclass_shapes_and_string_labels(iris, multi_class):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = SGDClassifier(loss="log_loss", multi_class=multi_class, random_state=0).fit(X, names)
    assert clf.coef_.shape == (3, X.shape[1])
    assert clf.intercept_.shape == (3,)
    assert_array_equal(clf.classes_, ["setosa", "versicolor", "virginica"])
    scores = clf.decision_function(X)
    assert scores.shape == (X.shape[0], 3)
    assert_allclose(scores, X @ clf.coef_.T + clf.intercept_, rtol=1e-12, atol=1e-12)
    pred = clf.predict(X)
    assert pred.shape == (X.shape[0],)
    assert set(pred) <= set(clf.classes_)
    assert_array_equal(pred, clf.classes_[np.argmax(scores, axis=1)])
    assert np.mean(pred == names) > 0.85


def test_binary_shapes(cancer):
    X_tr, X_te, y_tr, _ = cancer
    labels = np.array(["benign", "malignant"])[y_tr]
    clf = SGDClassifier(random_state=0).fit(X_tr, labels)
    assert clf.coef_.shape == (1, X_tr.shape[1])
    assert clf.intercept_.shape == (1,)
    scores = clf.decision_function(X_te)
    assert scores.shape == (X_te.shape[0],)
    assert_array_equal(clf.predict(X_te), np.where(scores > 0, "malignant", "benign"))


def test_multinomial_on_two_classes_is_binary_logistic(cancer):
    X_tr, X_te, y_tr, _ = cancer
    kw = dict(loss="log_loss", random_state=0, max_iter=5, tol=None)
    multi = SGDClassifier(multi_class="multinomial", **kw).fit(X_tr, y_tr)
    ovr = SGDClassifier(**kw).fit(X_tr, y_tr)
    assert multi.coef_.shape == (1, X_tr.shape[1])
    assert_allclose(multi.coef_, ovr.coef_)
    proba = multi.predict_proba(X_te)
    assert_allclose(proba[:, 1], expit(multi.decision_function(X_te)))


def _expected_proba(loss, multi_class, scores):
    if scores.ndim == 1:
        p = expit(scores) if loss == "log_loss" else (np.clip(scores, -1, 1) + 1) / 2
        return np.column_stack([1 - p, p])
    if loss == "log_loss" and multi_class == "multinomial":
        return softmax(scores, axis=1)
    p = expit(scores) if loss == "log_loss" else (np.clip(scores, -1, 1) + 1) / 2
    total = p.sum(axis=1, keepdims=True)
    # scikit-learn's rule: a row whose one-vs-rest outputs are all 0 is uniform.
    return np.divide(p, total, out=np.full_like(p, 1.0 / p.shape[1]), where=total > 0)


@pytest.mark.parametrize(
    "loss, multi_class, data",
    [("log_loss", "ovr", "iris"), ("log_loss", "multinomial", "iris"),
     ("modified_huber", "ovr", "iris"), ("log_loss", "ovr", "cancer_full"),
     ("modified_huber", "ovr", "cancer_full")],
)
def test_predict_proba_definitions(request, loss, multi_class, data):
    X, y = request.getfixturevalue(data)
    clf = SGDClassifier(loss=loss, multi_class=multi_class, random_state=0).fit(X, y)
    proba = clf.predict_proba(X)
    n_classes = np.unique(y).size
    assert proba.shape == (X.shape[0], n_classes)
    assert np.all(proba >= 0) and np.all(proba <= 1)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert_allclose(proba, _expected_proba(loss, multi_class, clf.decision_function(X)),
                    rtol=1e-10, atol=1e-12)
    with np.errstate(divide="ignore"):
        assert_allclose(clf.predict_log_proba(X), np.log(proba), rtol=1e-8, atol=1e-10)
    if loss == "log_loss":
        # Probabilities rank the classes as the decision function does.
        assert_array_equal(clf.classes_[np.argmax(proba, axis=1)], clf.predict(X))


def test_modified_huber_all_zero_rows_get_uniform_proba(iris):
    X, y = iris
    clf = SGDClassifier(loss="modified_huber", random_state=0).fit(X, y)
    clf.coef_ = np.zeros_like(clf.coef_)
    clf.intercept_ = np.array([-2.0, -2.0, 0.0])  # rows: two outputs clipped to 0, one at 0.5
    assert_allclose(clf.predict_proba(X[:5]), np.tile([0.0, 0.0, 1.0], (5, 1)))
    clf.intercept_ = np.full(3, -2.0)  # every one-vs-rest output is 0
    assert_allclose(clf.predict_proba(X[:5]), 1.0 / 3.0)


@pytest.mark.parametrize("loss", ["hinge", "perceptron", "squared_hinge"])
def test_no_predict_proba_without_probabilistic_loss(cancer_full, loss):
    X, y = cancer_full
    clf = SGDClassifier(loss=loss, random_state=0, max_iter=5, tol=None).fit(X, y)
    assert not hasattr(clf, "predict_proba")
    with pytest.raises(AttributeError, match="predict_proba"):
        clf.predict_proba(X)
    with pytest.raises(AttributeError, match="predict_log_proba"):
        clf.predict_log_proba(X)


# ---- dtypes ------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [1, 16, "full"])
@pytest.mark.parametrize("Est", [SGDClassifier, SGDRegressor])
def test_coef_dtype_follows_X(cancer_full, dtype, Est, batch_size):
    X, y = cancer_full
    est = _quiet(Est(random_state=0, batch_size=batch_size, max_iter=5), X.astype(dtype), y)
    assert est.coef_.dtype == dtype
    assert est.intercept_.dtype == dtype
    out = est.decision_function(X.astype(dtype)) if Est is SGDClassifier else est.predict(
        X.astype(dtype))
    assert out.dtype == dtype


def test_integer_X_trains_in_float64(cancer_full):
    X, y = cancer_full
    clf = _quiet(SGDClassifier(random_state=0, max_iter=5), np.round(X * 10).astype(np.int64), y)
    assert clf.coef_.dtype == np.float64


@pytest.mark.parametrize(
    "Est, params, rtol",
    [(SGDClassifier, dict(loss="log_loss", batch_size="full", learning_rate="constant",
                          eta0=0.1, max_iter=100), 1e-4),
     (SGDClassifier, dict(loss="log_loss", batch_size=16, learning_rate="constant",
                          eta0=0.05, max_iter=10), 1e-4),
     (SGDClassifier, dict(max_iter=5), 1e-3),
     (SGDRegressor, dict(max_iter=10), 1e-4)],
)
def test_float32_close_to_float64(cancer_full, Est, params, rtol):
    X, y = cancer_full
    est64 = Est(random_state=0, tol=None, **params).fit(X, y)
    est32 = Est(random_state=0, tol=None, **params).fit(X.astype(np.float32), y)
    scale = np.abs(est64.coef_).max()
    assert_allclose(est32.coef_, est64.coef_, rtol=rtol, atol=rtol * scale)
    assert_allclose(est32.intercept_, est64.intercept_, rtol=rtol, atol=rtol * scale)
    assert est32.n_iter_ == est64.n_iter_


# ---- sample_weight and class_weight --------------------------------------------------------


@pytest.mark.parametrize("Est", [SGDClassifier, SGDRegressor])
def test_zero_sample_weight_is_dropping_rows_full_batch(cancer_full, Est):
    X, y = cancer_full
    keep = np.random.RandomState(0).rand(y.shape[0]) > 0.3
    params = dict(batch_size="full", shuffle=False, learning_rate="constant", eta0=0.1,
                  max_iter=30, tol=None, random_state=0)
    if Est is SGDClassifier:
        params["loss"] = "log_loss"
    weighted = Est(**params).fit(X, y, sample_weight=keep.astype(float))
    dropped = Est(**params).fit(X[keep], y[keep])
    assert_allclose(weighted.coef_, dropped.coef_, rtol=1e-9, atol=1e-12)
    assert_allclose(weighted.intercept_, dropped.intercept_, rtol=1e-9, atol=1e-12)
    assert_allclose(weighted.loss_curve_, dropped.loss_curve_, rtol=1e-9)


def test_sample_weight_changes_the_fit(cancer_full):
    X, y = cancer_full
    w = np.where(y == 1, 5.0, 1.0)
    plain = SGDClassifier(random_state=0, max_iter=5, tol=None).fit(X, y)
    weighted = SGDClassifier(random_state=0, max_iter=5, tol=None).fit(X, y, sample_weight=w)
    assert not np.allclose(plain.coef_, weighted.coef_)
    # More weight on class 1 moves the decision towards predicting class 1.
    assert np.mean(weighted.predict(X) == 1) >= np.mean(plain.predict(X) == 1)


INTEGER_LABEL_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
                        np.uint64]


@pytest.mark.parametrize("dtype", INTEGER_LABEL_DTYPES)
def test_integer_label_work_equals_numpy(dtype):
    """The C++ label passes (classes without a sort, codes by a table or a binary search, +-1
    targets) give NumPy's unique / searchsorted / where results near either end of the
    dtype's range and across all of it, on contiguous and strided y."""
    rng = np.random.default_rng(0)
    info = np.iinfo(dtype)
    ranges = ((0, 0), (0, 1), (0, 3), (info.min, info.min + 5), (info.max - 9, info.max),
              (info.min, info.max))
    for low, high in ranges:
        for y in (rng.integers(low, high, size=1000, dtype=dtype, endpoint=True),
                  rng.integers(low, high, size=2000, dtype=dtype, endpoint=True)[::2]):
            classes = fastdescent._classifier._classes_of(y)
            assert classes.dtype == y.dtype
            assert_array_equal(classes, np.unique(y))
            codes = fastdescent._classifier._class_codes(y, classes)
            assert_array_equal(codes, np.searchsorted(classes, y))
            for positive in (classes[0], classes[-1]):
                for dt in (np.float32, np.float64):
                    got = fastdescent._classifier._binary_targets(y, positive, np.dtype(dt))
                    assert got.dtype == dt
                    assert_array_equal(got, np.where(y == positive, 1, -1))


def test_label_work_edge_cases():
    """Booleans, floats, text (NumPy's path), empty y, and a value missing from the classes."""
    labels = fastdescent._classifier
    y = np.array([True, False, True])
    assert_array_equal(labels._classes_of(y), [False, True])
    assert_array_equal(labels._class_codes(y, np.array([False, True])), [1, 0, 1])
    assert_array_equal(labels._binary_targets(y, True, np.dtype(np.float64)), [1, -1, 1])
    assert_array_equal(labels._binary_targets(np.array([0.5, 2.0]), 2.0, np.dtype(np.float32)),
                       [-1, 1])
    assert_array_equal(labels._binary_targets(np.array(["a", "b"]), "b", np.dtype(np.float64)),
                       [-1, 1])
    assert _core.integer_classes(np.array([], dtype=np.int64), 10).shape == (0,)
    assert _core.integer_classes(np.array([0, 10**9]), 100) is None  # the caller sorts
    with pytest.raises(ValueError, match="not among the classes"):
        _core.class_codes(np.array([1, 2, 7]), np.array([1, 2]))
    with pytest.raises(ValueError, match="not among the classes"):
        _core.class_codes(np.array([1, 2, 10**12]), np.array([1, 2, 10**11]))
    with pytest.raises(TypeError, match="integer or boolean"):
        _core.integer_classes(np.array([1.0, 2.0]), 10)


@pytest.mark.parametrize("batch_size", [1, 32])
def test_labels_of_any_type_train_alike(cancer_full, batch_size):
    """Integer, boolean, float and text labels take different checks on the way in; the
    fit is the same bit for bit, and unit weights are the same as no weights."""
    X, y = cancer_full
    kw = dict(random_state=0, batch_size=batch_size, max_iter=3, tol=None)
    ref = SGDClassifier(**kw).fit(X, y)
    for labels in ([-5, 12], [0, 10**12], np.array([3, 7], np.uint8), [False, True], [0.0, 2.0],
                   ["no", "yes"]):
        labels = np.array(labels)
        est = SGDClassifier(**kw).fit(X, labels[y])
        assert_array_equal(est.classes_, labels)
        assert_array_equal(est.coef_, ref.coef_)
        assert_array_equal(est.intercept_, ref.intercept_)
    unit = SGDClassifier(class_weight={0: 1.0, 1: 1.0}, **kw).fit(X, y, sample_weight=np.ones(len(y)))
    assert_array_equal(unit.coef_, ref.coef_)


@pytest.mark.parametrize("batch_size", [1, "full"])
def test_class_weight_dict_equals_sample_weight_binary(cancer_full, batch_size):
    X, y = cancer_full
    cw = {0: 3.0, 1: 0.5}
    kw = dict(random_state=0, batch_size=batch_size, max_iter=10, tol=None)
    a = SGDClassifier(class_weight=cw, **kw).fit(X, y)
    b = SGDClassifier(**kw).fit(X, y, sample_weight=np.where(y == 0, 3.0, 0.5))
    assert_allclose(a.coef_, b.coef_, rtol=1e-12)
    assert_allclose(a.intercept_, b.intercept_, rtol=1e-12)
    c = SGDClassifier(**kw).fit(X, y)
    assert not np.allclose(a.coef_, c.coef_)


def test_class_weight_dict_equals_sample_weight_multinomial(iris):
    X, y = iris
    cw = {0: 1.0, 1: 2.0, 2: 0.5}
    kw = dict(loss="log_loss", multi_class="multinomial", random_state=0, batch_size="full",
              learning_rate="constant", eta0=0.5, max_iter=50, tol=None)
    a = SGDClassifier(class_weight=cw, **kw).fit(X, y)
    b = SGDClassifier(**kw).fit(X, y, sample_weight=np.array([1.0, 2.0, 0.5])[y])
    assert_allclose(a.coef_, b.coef_, rtol=1e-12)
    assert not np.allclose(a.coef_, SGDClassifier(**kw).fit(X, y).coef_)


def test_class_weight_balanced(cancer_full):
    X, y = cancer_full
    # Imbalanced: keep 30 of the 212 class-0 rows.
    idx = np.concatenate([np.flatnonzero(y == 0)[:30], np.flatnonzero(y == 1)])
    X, y = X[idx], y[idx]
    kw = dict(loss="log_loss", random_state=0, max_iter=20, tol=None)
    balanced = SGDClassifier(class_weight="balanced", **kw).fit(X, y)
    weights = compute_class_weight("balanced", classes=np.array([0, 1]), y=y)
    explicit = SGDClassifier(class_weight={0: weights[0], 1: weights[1]}, **kw).fit(X, y)
    assert_allclose(balanced.coef_, explicit.coef_, rtol=1e-12)
    plain = SGDClassifier(**kw).fit(X, y)
    # The minority class gets more weight: it is predicted at least as often.
    p_bal = balanced.predict_proba(X)[y == 0, 0].mean()
    p_plain = plain.predict_proba(X)[y == 0, 0].mean()
    assert p_bal > p_plain


# ---- partial_fit -----------------------------------------------------------------------------


def test_partial_fit_needs_classes_on_first_call(iris):
    X, y = iris
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        SGDClassifier().partial_fit(X, y)


def test_partial_fit_unseen_labels_raise(iris):
    X, y = iris
    with pytest.raises(ValueError, match="not in `self.classes_`"):
        SGDClassifier().partial_fit(X, y, classes=[0, 1])
    clf = SGDClassifier().partial_fit(X[y < 2], y[y < 2], classes=[0, 1])
    with pytest.raises(ValueError, match=r"not in `self.classes_`: \[2\]"):
        clf.partial_fit(X, y)


def test_partial_fit_after_failed_first_call(iris):
    """A first call that fails validation must not leave a half-initialized estimator."""
    X, y = iris
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    clf = SGDClassifier(random_state=0)
    with pytest.raises(ValueError, match="NaN"):
        clf.partial_fit(X_nan, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    clf.partial_fit(X, y, classes=[0, 1, 2])
    assert clf.coef_.shape == (3, 4)
    assert clf.t_ == 1 + X.shape[0]


@pytest.mark.parametrize("average", [False, True])
def test_repeated_partial_fit_continues(iris, diabetes_full, average):
    for Est, (X, y), first_kw in [(SGDClassifier, iris, {"classes": [0, 1, 2]}),
                                  (SGDRegressor, diabetes_full, {})]:
        kw = dict(shuffle=False, random_state=0, average=average)
        est = Est(**kw)
        est.partial_fit(X, y, **first_kw)
        assert est.n_iter_ == 1
        assert est.t_ == 1 + X.shape[0]
        coef_after_one = est.coef_.copy()
        est.partial_fit(X, y)
        assert est.n_iter_ == 1
        assert est.t_ == 1 + 2 * X.shape[0]
        assert not np.allclose(est.coef_, coef_after_one)
        # Two epochs of partial_fit are two epochs of fit.
        ref = Est(max_iter=2, tol=None, **kw).fit(X, y)
        assert_allclose(est.coef_, ref.coef_, rtol=1e-12)
        assert_allclose(est.intercept_, ref.intercept_, rtol=1e-12)
        assert est.t_ == ref.t_


def test_partial_fit_string_classes(iris):
    X, y = iris
    names = np.array(["a", "b", "c"])[y]
    clf = SGDClassifier(loss="log_loss", random_state=0)
    ref = SGDClassifier(loss="log_loss", random_state=0)
    for _ in range(5):
        clf.partial_fit(X, names, classes=np.array(["c", "b", "a"]))
        ref.partial_fit(X, y, classes=[0, 1, 2])
    assert_array_equal(clf.classes_, ["a", "b", "c"])
    assert_array_equal(clf.coef_, ref.coef_)
    assert_array_equal(clf.predict(X), np.array(["a", "b", "c"])[ref.predict(X)])
    assert np.mean(clf.predict(X) == names) > 0.7


def test_partial_fit_rejects_early_stopping_and_balanced(iris):
    X, y = iris
    with pytest.raises(ValueError, match="early_stopping"):
        SGDClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="balanced"):
        SGDClassifier(class_weight="balanced").partial_fit(X, y, classes=[0, 1, 2])


# ---- warm_start ----------------------------------------------------------------------------


@pytest.mark.parametrize("Est", [SGDClassifier, SGDRegressor])
def test_warm_start_continues_from_previous_coef(cancer_full, Est):
    X, y = cancer_full
    kw = dict(shuffle=False, max_iter=1, tol=None, random_state=0, loss="log_loss"
              if Est is SGDClassifier else "squared_error")
    warm = Est(warm_start=True, **kw).fit(X, y)
    first_coef, first_intercept = warm.coef_.copy(), warm.intercept_.copy()
    warm.fit(X, y)
    from_init = Est(**kw).fit(X, y, coef_init=first_coef, intercept_init=first_intercept)
    assert_allclose(warm.coef_, from_init.coef_, rtol=1e-12)
    assert_allclose(warm.intercept_, from_init.intercept_, rtol=1e-12)
    assert not np.allclose(warm.coef_, first_coef)
    # scikit-learn's warm start does the same.
    theirs_cls = sklm.SGDClassifier if Est is SGDClassifier else sklm.SGDRegressor
    theirs = theirs_cls(warm_start=True, **kw).fit(X, y).fit(X, y)
    assert_allclose(warm.coef_, theirs.coef_, rtol=1e-8, atol=1e-10)
    # Without warm_start, a second fit starts again from zero.
    cold = Est(**kw).fit(X, y)
    coef_once = cold.coef_.copy()
    cold.fit(X, y)
    assert_array_equal(cold.coef_, coef_once)


# ---- averaging -------------------------------------------------------------------------------


def _reference_averaged_sgd(X, y, eta, epochs, average, batch):
    """Squared loss, no penalty, constant step, rows in order; returns (w, b, avg_w, avg_b)."""
    n, d = X.shape
    w, b = np.zeros(d), 0.0
    aw, ab = np.zeros(d), 0.0
    t = 1
    B = n if batch == "full" else batch
    for _ in range(epochs):
        for start in range(0, n, B):
            Xb, yb = X[start:start + B], y[start:start + B]
            r = Xb @ w + b - yb
            w = w - eta * (Xb.T @ r) / len(yb)
            b = b - eta * r.mean()
            if average and average <= t:
                mu = 1.0 / (t - average + 1)
                aw += mu * (w - aw)
                ab += mu * (b - ab)
            t += 1
    return w, b, aw, ab


@pytest.mark.parametrize("batch_size", [1, 7, "full"])
@pytest.mark.parametrize("average", [True, 30, 10**6])
def test_average_is_the_mean_of_the_iterates(diabetes_full, average, batch_size):
    X, y = diabetes_full
    X, y = X[:60], y[:60]
    epochs = 40 if batch_size == "full" else 3
    est = SGDRegressor(penalty=None, learning_rate="constant", eta0=0.05, shuffle=False,
                       tol=None, max_iter=epochs, average=average, batch_size=batch_size)
    est.fit(X, y)
    w, b, aw, ab = _reference_averaged_sgd(X, y, 0.05, epochs, int(average), batch_size)
    n_updates = est.t_ - 1
    if int(average) <= n_updates:
        assert_allclose(est.coef_, aw, rtol=1e-10, atol=1e-12)
        assert_allclose(est.intercept_, [ab], rtol=1e-10, atol=1e-12)
        assert not np.allclose(aw, w)
    else:  # averaging never started: the plain weights
        assert_allclose(est.coef_, w, rtol=1e-10, atol=1e-12)
        assert_allclose(est.intercept_, [b], rtol=1e-10, atol=1e-12)


def test_average_classifier_multiclass(iris):
    X, y = iris
    kw = dict(random_state=0, max_iter=10, tol=None)
    avg = SGDClassifier(average=True, **kw).fit(X, y)
    plain = SGDClassifier(**kw).fit(X, y)
    assert avg.coef_.shape == plain.coef_.shape == (3, 4)
    # Same run, so the standard iterate is the plain one and the reported coef_ differs.
    assert_allclose(avg._standard_coef, plain.coef_, rtol=1e-12)
    assert not np.allclose(avg.coef_, plain.coef_)
    assert avg.score(X, y) > 0.8


# ---- early stopping --------------------------------------------------------------------------


def test_early_stopping_stops_early(digits):
    X_tr, X_te, y_tr, y_te = digits
    clf = SGDClassifier(early_stopping=True, random_state=0, max_iter=1000).fit(X_tr, y_tr)
    assert clf.n_iter_ < 100
    assert clf.n_iter_ >= clf.n_iter_no_change + 1
    n_val = int(np.ceil(0.1 * X_tr.shape[0]))
    assert clf.t_ == 1 + clf.n_iter_ * (X_tr.shape[0] - n_val)
    assert len(clf.loss_curve_) == clf.n_iter_
    assert clf.score(X_te, y_te) > 0.88

    reg = SGDRegressor(early_stopping=True, random_state=0, learning_rate="constant",
                       eta0=0.001, max_iter=1000).fit(X_tr, y_tr.astype(float))
    assert reg.n_iter_ < 1000


def test_early_stopping_validation_split_is_stratified(monkeypatch):
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], [400, 80, 20])
    X = rng.standard_normal((y.size, 5)) + y[:, None]
    masks = []
    real_train = fastdescent._classifier.train

    def spy(*args, **kwargs):
        masks.append(kwargs["validation_mask"].copy())
        return real_train(*args, **kwargs)

    monkeypatch.setattr(fastdescent._classifier, "train", spy)
    SGDClassifier(early_stopping=True, validation_fraction=0.2, random_state=3,
                  max_iter=20).fit(X, y)
    assert len(masks) == 3  # one-vs-rest problems share one split
    for m in masks[1:]:
        assert_array_equal(m, masks[0])
    val = masks[0].astype(bool)
    assert_array_equal(np.bincount(y[val], minlength=3), [80, 16, 4])
    _, idx_val = next(StratifiedShuffleSplit(test_size=0.2, random_state=3).split(X, y))
    assert_array_equal(np.flatnonzero(val), np.sort(idx_val))


def test_early_stopping_needs_two_members_per_class():
    X = np.random.RandomState(0).standard_normal((30, 3))
    y = np.array([0] * 29 + [1])
    with pytest.raises(ValueError, match="least populated class"):
        SGDClassifier(early_stopping=True).fit(X, y)


# ---- n_iter_, t_, loss_curve_, convergence ---------------------------------------------------


# log_loss and modified_huber are left out: their first 'optimal' steps amplify last-bit
# differences (another instruction set or build), so their trajectories part from
# scikit-learn's after some epochs and n_iter_ with them.
@pytest.mark.parametrize("make, loss", [
    ("classifier", "hinge"), ("classifier", "perceptron"), ("regressor", "squared_error"),
    ("regressor", "huber"), ("one_class", None)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sparse", [False, True])
def test_default_tol_stops_where_sklearn_does(make, loss, dtype, sparse):
    """In scikit-learn's mode tol compares its objective (each update's loss plus the penalty
    at the weights it starts from, averaged over the epoch), tracked without a pass over the
    weights per row: the same n_iter_ and model as scikit-learn's with the default tol. On
    sparse X too, where the intercept's steps are damped as scikit-learn damps them."""
    if make == "regressor":
        X, y = load_diabetes(return_X_y=True)
        y = (y - y.mean()) / y.std()
    else:
        X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X).astype(dtype)
    if sparse:
        # scikit-learn 1.9's sparse objective reads the norm of the last row's features only
        # (fastdescent: all of them); on these dense-ish rows it stops at the same epochs.
        X[np.abs(X) < 0.5] = 0.0
        X = sp.csr_matrix(X)
    kw = dict(random_state=0, shuffle=False)
    if make == "one_class":
        ours, theirs = fastdescent.SGDOneClassSVM(**kw).fit(X), sklm.SGDOneClassSVM(**kw).fit(X)
    else:
        ours_cls = SGDClassifier if make == "classifier" else SGDRegressor
        theirs_cls = sklm.SGDClassifier if make == "classifier" else sklm.SGDRegressor
        ours = ours_cls(loss=loss, **kw).fit(X, y)
        theirs = theirs_cls(loss=loss, **kw).fit(X, y)
    assert 1 < theirs.n_iter_ < 1000
    if dtype == np.float64:
        assert ours.n_iter_ == theirs.n_iter_
    else:  # float32 sums rounded in another order may tip one borderline test of tol
        assert abs(ours.n_iter_ - theirs.n_iter_) <= 1
    if dtype == np.float64:
        assert_allclose(ours.coef_, theirs.coef_, rtol=0, atol=1e-8 * np.abs(theirs.coef_).max())
        if make == "one_class":
            assert_allclose(ours.offset_, theirs.offset_, rtol=1e-8)
        else:
            assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("batch_size, updates_per_epoch",
                         [(1, 569), (16, 36), (100, 6), ("full", 1)])
def test_n_iter_and_t(cancer_full, batch_size, updates_per_epoch):
    X, y = cancer_full
    clf = SGDClassifier(batch_size=batch_size, max_iter=7, tol=None, random_state=0).fit(X, y)
    assert clf.n_iter_ == 7
    assert clf.t_ == 1 + 7 * updates_per_epoch
    assert len(clf.loss_curve_) == 7
    reg = SGDRegressor(batch_size=batch_size, max_iter=7, tol=None, random_state=0).fit(X, y)
    assert reg.n_iter_ == 7
    assert reg.t_ == 1 + 7 * updates_per_epoch


def test_multiclass_n_iter_is_max_over_classes(digits, monkeypatch):
    X_tr, _, y_tr, _ = digits
    results = []
    real_train = fastdescent._classifier.train

    def spy(*args, **kwargs):
        res = real_train(*args, **kwargs)
        results.append((res.n_iter, res.t, list(res.loss_curve)))
        return res

    monkeypatch.setattr(fastdescent._classifier, "train", spy)
    clf = SGDClassifier(random_state=0).fit(X_tr, y_tr)
    assert len(results) == 10
    n_iters = [r[0] for r in results]
    assert len(set(n_iters)) > 1  # the classes stop at different epochs
    assert clf.n_iter_ == max(n_iters) < clf.max_iter
    assert clf.t_ == 1 + clf.n_iter_ * X_tr.shape[0] == max(r[1] for r in results)
    # loss_curve_: per-epoch mean over the classes, a finished class repeating its last value.
    assert len(clf.loss_curve_) == clf.n_iter_
    padded = [c + [c[-1]] * (clf.n_iter_ - len(c)) for _, _, c in results]
    assert_allclose(clf.loss_curve_, np.mean(padded, axis=0), rtol=1e-12)


@pytest.mark.parametrize("Est", [SGDClassifier, SGDRegressor])
def test_loss_curve_decreases_on_easy_problem(cancer_full, Est):
    X, y = cancer_full
    params = dict(batch_size="full", learning_rate="constant", eta0=0.1, random_state=0,
                  max_iter=500)
    if Est is SGDClassifier:
        params["loss"] = "log_loss"
    est = Est(**params).fit(X, y)
    curve = np.asarray(est.loss_curve_)
    assert len(curve) == est.n_iter_
    assert 5 < est.n_iter_ < 500
    assert np.all(np.diff(curve) <= 0)
    assert curve[-1] < 0.5 * curve[0]


def test_loss_curve_values(cancer_full):
    X, y = cancer_full
    # The first epoch's loss is evaluated at w = 0: log(2) for log_loss, 0.5 mean(y^2) for
    # squared_error (no penalty, so nothing is added).
    clf = SGDClassifier(loss="log_loss", batch_size="full", penalty=None,
                        learning_rate="constant", eta0=0.1, max_iter=1, tol=None).fit(X, y)
    assert_allclose(clf.loss_curve_, [np.log(2)], rtol=1e-12)
    reg = SGDRegressor(batch_size="full", penalty=None, learning_rate="constant", eta0=0.1,
                       max_iter=1, tol=None).fit(X, y)
    assert_allclose(reg.loss_curve_, [0.5 * np.mean(y**2)], rtol=1e-12)
    # At convergence the last value is the objective at the final weights.
    reg = SGDRegressor(batch_size="full", alpha=0.01, learning_rate="constant", eta0=0.05,
                       max_iter=3000, tol=None).fit(X, y)
    r = X @ reg.coef_ + reg.intercept_ - y
    objective = 0.5 * np.mean(r**2) + 0.01 * 0.5 * np.sum(reg.coef_**2)
    assert_allclose(reg.loss_curve_[-1], objective, rtol=1e-4)


@pytest.mark.parametrize("Est", [SGDClassifier, SGDRegressor])
def test_convergence_warning_when_max_iter_reached(cancer_full, Est):
    X, y = cancer_full
    with pytest.warns(ConvergenceWarning, match="Maximum number of iteration"):
        est = Est(max_iter=2, random_state=0).fit(X, y)
    assert est.n_iter_ == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        Est(max_iter=2, tol=None, random_state=0).fit(X, y)  # no convergence test: no warning
        Est(max_iter=1000, random_state=0).fit(X, y)  # converges


@pytest.mark.parametrize("batch_size", [1, 16, "full"])
@pytest.mark.parametrize("Est", [SGDClassifier, SGDRegressor])
def test_divergence_raises(cancer_full, Est, batch_size):
    X, y = cancer_full
    eta0 = 1e300 if batch_size == 1 else 1e3
    params = dict(learning_rate="constant", eta0=eta0, batch_size=batch_size, tol=None,
                  max_iter=200, random_state=0)
    if Est is SGDClassifier:
        params["loss"] = "squared_hinge"
    good = Est(random_state=0, max_iter=5, tol=None).fit(X, y)
    coef = good.coef_.copy()
    with pytest.raises(ValueError, match="overflow"):
        good.set_params(**params).fit(X, y)
    # The failed fit leaves the previous model in place.
    assert_array_equal(good.coef_, coef)


# ---- threads and determinism -----------------------------------------------------------------


def test_ovr_n_jobs_gives_same_result(digits):
    X_tr, X_te, y_tr, _ = digits
    for params in [dict(), dict(loss="log_loss", average=True), dict(early_stopping=True)]:
        one = SGDClassifier(random_state=7, n_jobs=1, **params).fit(X_tr, y_tr)
        two = SGDClassifier(random_state=7, n_jobs=2, **params).fit(X_tr, y_tr)
        assert_array_equal(one.coef_, two.coef_)
        assert_array_equal(one.intercept_, two.intercept_)
        assert one.n_iter_ == two.n_iter_
        assert one.t_ == two.t_
        assert_array_equal(one.predict(X_te), two.predict(X_te))


@pytest.mark.parametrize("kind", ["binary", "multinomial", "regression"])
def test_full_batch_n_jobs_matches_single_thread(kind):
    rng = np.random.RandomState(0)
    X = rng.standard_normal((6000, 20))  # large enough for the gradient to be threaded
    w = rng.standard_normal(20)
    if kind == "regression":
        y = X @ w + 0.1 * rng.standard_normal(6000)
        make = lambda n_jobs: SGDRegressor(batch_size="full", learning_rate="constant",
                                           eta0=0.1, max_iter=30, tol=None, n_jobs=n_jobs)
    else:
        y = np.digitize(X @ w, [-1.0, 1.0]) if kind == "multinomial" else (X @ w > 0)
        make = lambda n_jobs: SGDClassifier(loss="log_loss", multi_class="multinomial",
                                            batch_size="full", learning_rate="constant",
                                            eta0=0.5, max_iter=30, tol=None, n_jobs=n_jobs)
    one, two = make(1).fit(X, y), make(2).fit(X, y)
    assert_allclose(two.coef_, one.coef_, rtol=1e-10, atol=1e-12)
    assert_allclose(two.intercept_, one.intercept_, rtol=1e-10, atol=1e-12)
    assert_allclose(two.loss_curve_, one.loss_curve_, rtol=1e-10)
    # And the same thread count twice is bit-for-bit reproducible.
    assert_array_equal(make(2).fit(X, y).coef_, two.coef_)


@pytest.mark.parametrize("batch_size", [1, 16])
@pytest.mark.parametrize("Est", [SGDClassifier, SGDRegressor])
def test_fixed_random_state_is_deterministic(cancer_full, Est, batch_size):
    X, y = cancer_full
    kw = dict(batch_size=batch_size, max_iter=5, tol=None)
    a = Est(random_state=11, **kw).fit(X, y)
    b = Est(random_state=11, **kw).fit(X, y)
    c = Est(random_state=12, **kw).fit(X, y)
    assert_array_equal(a.coef_, b.coef_)
    assert_array_equal(a.intercept_, b.intercept_)
    assert a.loss_curve_ == b.loss_curve_
    assert not np.allclose(a.coef_, c.coef_)
    rs = np.random.RandomState(5)
    d = Est(random_state=rs, **kw).fit(X, y)
    e = Est(random_state=np.random.RandomState(5), **kw).fit(X, y)
    assert_array_equal(d.coef_, e.coef_)
    # An int draws as a fresh RandomState of it does (its seed is kept between fits), and a
    # RandomState instance moves on with each fit.
    assert_array_equal(Est(random_state=np.int64(11), **kw).fit(X, y).coef_, a.coef_)
    assert_array_equal(Est(random_state=np.random.RandomState(11), **kw).fit(X, y).coef_, a.coef_)
    assert not np.allclose(Est(random_state=rs, **kw).fit(X, y).coef_, d.coef_)


def test_seeds_are_drawn_as_scikit_learn_draws_them():
    from fastdescent._base import MAX_INT, draw_seed

    for random_state in (0, 7, np.int32(7), 2**31):
        assert draw_seed(random_state) == np.random.RandomState(random_state).randint(0, MAX_INT)
        seeds = draw_seed(random_state, size=4)
        assert_array_equal(seeds, np.random.RandomState(random_state).randint(0, MAX_INT, 4))
        seeds[:] = 0  # the caller's copy: the next draw is unchanged
        assert_array_equal(draw_seed(random_state, size=4),
                           np.random.RandomState(random_state).randint(0, MAX_INT, 4))
    rs = np.random.RandomState(3)
    first, second = draw_seed(rs), draw_seed(rs)
    ref = np.random.RandomState(3)
    assert (first, second) == (ref.randint(0, MAX_INT), ref.randint(0, MAX_INT))


# ---- batch modes -----------------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [1, 16, "full"])
@pytest.mark.parametrize("loss", ["hinge", "log_loss"])
def test_batch_modes_reach_good_accuracy(cancer, batch_size, loss):
    X_tr, X_te, y_tr, y_te = cancer
    scores = [_quiet(SGDClassifier(batch_size=batch_size, loss=loss, random_state=s),
                     X_tr, y_tr).score(X_te, y_te) for s in SEEDS]
    assert min(scores) >= 0.93, scores


@pytest.mark.parametrize("Est", [SGDClassifier, SGDRegressor])
def test_batch_size_larger_than_n_samples_raises(cancer_full, Est):
    X, y = cancer_full
    with pytest.raises(ValueError, match="batch_size=570 is larger than the number of"):
        Est(batch_size=570).fit(X, y)
    Est(batch_size=569, max_iter=2, tol=None).fit(X, y)  # exactly n is fine
    # With early stopping, the rows left for training count.
    with pytest.raises(ValueError, match="batch_size=520 is larger"):
        Est(batch_size=520, early_stopping=True, random_state=0).fit(X, y)


# ---- invalid hyperparameters and inputs ------------------------------------------------------

INVALID_PARAMS = [
    (SGDClassifier, dict(alpha=-1.0), "'alpha' parameter"),
    (SGDRegressor, dict(alpha=-0.1), "'alpha' parameter"),
    (SGDClassifier, dict(l1_ratio=1.5), "'l1_ratio' parameter"),
    (SGDRegressor, dict(l1_ratio=-0.1), "'l1_ratio' parameter"),
    (SGDClassifier, dict(loss="foo"), "'loss' parameter"),
    (SGDRegressor, dict(loss="hinge"), "'loss' parameter"),
    (SGDClassifier, dict(multi_class="multinomial"), "multinomial.*needs loss='log_loss'"),
    (SGDClassifier, dict(multi_class="softmax"), "'multi_class' parameter"),
    (SGDClassifier, dict(alpha=0.0), "alpha must be > 0 since learning_rate is 'optimal'"),
    (SGDRegressor, dict(alpha=0.0, learning_rate="optimal"), "alpha must be > 0"),
    (SGDClassifier, dict(learning_rate="pa1", loss="log_loss"),
     "'pa1' only works with loss 'hinge'"),
    (SGDRegressor, dict(learning_rate="pa2"), "'pa2' only works with loss 'epsilon_insensitive'"),
    (SGDClassifier, dict(learning_rate="pa1", batch_size=16), "per-sample rule"),
    (SGDClassifier, dict(batch_size=0), "'batch_size' parameter"),
    (SGDClassifier, dict(batch_size="half"), "'batch_size' parameter"),
    (SGDClassifier, dict(optimizer="adamm"), "'optimizer' parameter"),
    (SGDClassifier, dict(eta0=0.0, learning_rate="constant"), "'eta0' parameter"),
    (SGDRegressor, dict(max_iter=0), "'max_iter' parameter"),
    (SGDClassifier, dict(validation_fraction=1.0, early_stopping=True),
     "'validation_fraction' parameter"),
    (SGDClassifier, dict(penalty="elasticnet", l1_ratio=None), "l1_ratio must be set"),
    (SGDClassifier, dict(class_weight={5: 1.0}), "not in class_weight"),
]


@pytest.mark.parametrize("Est, params, match", INVALID_PARAMS)
def test_invalid_hyperparameters_raise(iris, Est, params, match):
    X, y = iris
    with pytest.raises(ValueError, match=match):
        Est(**params).fit(X, y)


@pytest.mark.parametrize("Est", [SGDClassifier, SGDRegressor])
def test_invalid_inputs_raise(cancer_full, Est):
    X, y = cancer_full
    for bad in (np.nan, np.inf, -np.inf):
        Xb = X.copy()
        Xb[3, 4] = bad
        with pytest.raises(ValueError, match="Input X contains"):
            Est().fit(Xb, y)
        yb = y.astype(float)
        yb[7] = bad
        with pytest.raises(ValueError, match="Input y contains"):
            Est().fit(X, yb)
    est = Est(max_iter=5, tol=None, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="X has 5 features, but .* is expecting 30 features"):
        est.predict(X[:, :5])
    Xb = X[:3].copy()
    Xb[0, 0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        est.predict(Xb)
    with pytest.raises(ValueError, match="0 sample"):
        Est().fit(np.empty((0, 30)), np.empty(0))
    with pytest.raises(ValueError, match="0 feature"):
        Est().fit(np.empty((10, 0)), np.arange(10) % 2)
    with pytest.raises(ValueError, match="sample_weight"):
        Est().fit(X, y, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="coef_init does not match"):
        Est().fit(X, y, coef_init=np.ones(3))


def test_one_class_raises(cancer_full):
    X, y = cancer_full
    with pytest.raises(ValueError, match="greater than one; got 1 class"):
        SGDClassifier().fit(X, np.zeros(y.shape[0]))


def test_unfitted_estimators_raise(cancer_full):
    from sklearn.exceptions import NotFittedError
    X, _ = cancer_full
    with pytest.raises(NotFittedError):
        SGDClassifier().predict(X)
    with pytest.raises(NotFittedError):
        SGDRegressor().predict(X)


# ---- pandas and sparse input -----------------------------------------------------------------


@pytest.mark.parametrize("Est", [SGDClassifier, SGDRegressor])
def test_dataframe_sets_feature_names(cancer_full, Est):
    X, y = cancer_full
    columns = [f"feature_{i}" for i in range(X.shape[1])]
    df = pd.DataFrame(X, columns=columns)
    est = Est(random_state=0, max_iter=5, tol=None).fit(df, pd.Series(y))
    assert_array_equal(est.feature_names_in_, columns)
    assert est.n_features_in_ == 30
    from_array = Est(random_state=0, max_iter=5, tol=None).fit(X, y)
    assert not hasattr(from_array, "feature_names_in_")
    assert_array_equal(est.coef_, from_array.coef_)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = est.predict(df)
    assert_array_equal(out, from_array.predict(X))
    with pytest.raises(ValueError, match="feature names"):
        est.predict(df[columns[::-1]])


def _sparse_problem():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    X[np.abs(X) < 0.7] = 0.0  # about half the entries
    return X, y


@pytest.mark.parametrize("batch_size", [1, 16, "full"])
@pytest.mark.parametrize("kind", ["binary", "multinomial", "ovr", "regression"])
def test_sparse_csr_matches_dense(batch_size, kind, dtype):
    X, y = _sparse_problem()
    if kind in ("multinomial", "ovr"):
        y = np.digitize(X[:, 0] + X[:, 1], [-0.5, 0.5])
    X = X.astype(dtype)
    # scikit-learn's mode damps the intercept on sparse X as scikit-learn does (tested against
    # it in test_default_tol_stops_where_sklearn_does): the twins there share no intercept.
    kw = dict(learning_rate="constant", eta0=0.01, max_iter=5, tol=None, random_state=0,
              batch_size=batch_size, fit_intercept=batch_size != 1)
    if kind == "regression":
        make = lambda: SGDRegressor(**kw)
    else:
        make = lambda: SGDClassifier(loss="log_loss", multi_class="multinomial"
                                     if kind == "multinomial" else "ovr", **kw)
    dense = make().fit(X, y)
    Xs = sp.csr_matrix(X)
    assert Xs.nnz < 0.7 * X.size
    sparse = make().fit(Xs, y)
    tol = 1e-5 if dtype == np.float32 else 1e-10
    assert sparse.coef_.dtype == dtype
    assert_allclose(sparse.coef_, dense.coef_, rtol=tol, atol=tol)
    assert_allclose(sparse.intercept_, dense.intercept_, rtol=tol, atol=tol)
    pred = sparse.predict(Xs)
    assert_allclose(pred, dense.predict(X), rtol=1e-4, atol=1e-4)
    # Other sparse formats are converted, with the same result.
    assert_allclose(make().fit(Xs.tocsc(), y).coef_, sparse.coef_, rtol=tol, atol=tol)


# ---- memory ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def large_problem():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200_000, 50))
    y = X @ rng.standard_normal(50) + 0.1 * rng.standard_normal(200_000)
    return X, y


@pytest.mark.parametrize(
    "Est, batch_size, dtype",
    [(SGDRegressor, 1, np.float64), (SGDRegressor, "full", np.float64),
     (SGDClassifier, 1, np.float64), (SGDClassifier, 256, np.float64),
     (SGDRegressor, 1, np.float32)],
)
def test_fit_does_not_copy_X(large_problem, Est, batch_size, dtype):
    X, y = large_problem
    if dtype != np.float64:
        X = X.astype(dtype)
    if Est is SGDClassifier:
        y = y > 0
    X_before = X[:3].copy()
    est = Est(batch_size=batch_size, max_iter=1, tol=None, random_state=0)
    tracemalloc.start()
    try:
        est.fit(X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 0.1 * X.nbytes, (peak, X.nbytes)
    assert_array_equal(X[:3], X_before)
    assert est.coef_.dtype == dtype


# ---- scikit-learn tooling --------------------------------------------------------------------


def test_pipeline_and_grid_search():
    X, y = load_breast_cancer(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=0)
    pipe = make_pipeline(StandardScaler(), SGDClassifier(loss="log_loss", random_state=0))
    grid = GridSearchCV(
        pipe,
        {"sgdclassifier__batch_size": [1, 32, "full"],
         "sgdclassifier__learning_rate": ["optimal", "constant"]},
        cv=3,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid.fit(X_tr, y_tr)
    assert len(grid.cv_results_["params"]) == 6
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))
    assert np.all(grid.cv_results_["mean_test_score"] > 0.9)
    assert grid.best_params_["sgdclassifier__batch_size"] in (1, 32, "full")
    assert grid.score(X_te, y_te) > 0.93
    best = grid.best_estimator_[-1]
    assert best.batch_size == grid.best_params_["sgdclassifier__batch_size"]

    reg = make_pipeline(StandardScaler(), SGDRegressor(random_state=0))
    Xd, yd = load_diabetes(return_X_y=True)
    assert reg.fit(Xd, yd).score(Xd, yd) > 0.45


@pytest.mark.parametrize("Est", [SGDClassifier, SGDRegressor])
def test_clone_and_pickle_round_trip(cancer, Est):
    X_tr, X_te, y_tr, _ = cancer
    params = dict(random_state=0, batch_size=16, average=10, n_jobs=2)
    if Est is SGDClassifier:
        params.update(loss="log_loss", class_weight={0: 2.0, 1: 1.0})
    est = _quiet(Est(**params), X_tr, y_tr)
    copy = clone(est)
    assert copy.get_params() == est.get_params()
    assert not hasattr(copy, "coef_")
    refit = _quiet(copy, X_tr, y_tr)
    assert_array_equal(refit.coef_, est.coef_)
    restored = pickle.loads(pickle.dumps(est))
    assert_array_equal(restored.coef_, est.coef_)
    assert_array_equal(restored.predict(X_te), est.predict(X_te))
    if Est is SGDClassifier:
        assert_array_equal(restored.predict_proba(X_te), est.predict_proba(X_te))
        assert_array_equal(restored.decision_function(X_te), est.decision_function(X_te))
    assert restored.t_ == est.t_ and restored.n_iter_ == est.n_iter_
    # A restored model keeps training where it left off.
    restored.partial_fit(X_tr, y_tr)
    est.partial_fit(X_tr, y_tr)
    assert_array_equal(restored.coef_, est.coef_)


def test_public_api():
    assert fastdescent.SGDClassifier is SGDClassifier
    assert fastdescent.SGDRegressor is SGDRegressor
    sk_clf = sklm.SGDClassifier().get_params()
    sk_reg = sklm.SGDRegressor().get_params()
    ours_clf = SGDClassifier().get_params()
    ours_reg = SGDRegressor().get_params()
    # Every scikit-learn parameter with the same default, plus the documented extras; the
    # default learning_rate is "auto", which is scikit-learn's default in its own mode.
    assert ours_clf["learning_rate"] == ours_reg["learning_rate"] == "auto"
    assert (sk_clf["learning_rate"], sk_reg["learning_rate"]) == ("optimal", "invscaling")
    assert {k: ours_clf[k] for k in sk_clf if k != "learning_rate"} == {
        k: v for k, v in sk_clf.items() if k != "learning_rate"
    }
    assert {k: ours_reg[k] for k in sk_reg if k != "learning_rate"} == {
        k: v for k, v in sk_reg.items() if k != "learning_rate"
    }
    assert set(ours_clf) - set(sk_clf) == {"batch_size", "optimizer", "clip_value", "clip_norm", "multi_class",
                                             "sparse_updates", "callbacks", "device", "gpu_dtype"}
    assert set(ours_reg) - set(sk_reg) == {"batch_size", "optimizer", "clip_value", "clip_norm", "n_jobs",
                                             "sparse_updates", "callbacks", "device", "gpu_dtype",
                                             "quantile", "power"}
