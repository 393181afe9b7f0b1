"""sparsify() / densify(), as scikit-learn's SGD estimators have them: coef_ as a CSR matrix and
back, predictions unchanged, and (unlike scikit-learn's) partial_fit still continuing."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import NotFittedError

import fastdescent as fd


def _problem(kind):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 20))
    if kind == "regression":
        return X, 2 * X[:, 0] - X[:, 1]
    if kind == "binary":
        return X, (X[:, 0] > 0).astype(int)
    return X, (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)


CASES = [
    (fd.SGDRegressor, "regression", {}),
    (fd.SGDClassifier, "binary", {}),
    (fd.SGDClassifier, "multiclass", dict(loss="log_loss")),
    (fd.SGDClassifier, "multiclass", dict(loss="log_loss", multi_class="multinomial")),
]


@pytest.mark.parametrize("cls, kind, params", CASES,
                         ids=["regressor", "binary", "ovr", "multinomial"])
def test_sparsify_keeps_predictions_and_densify_restores(cls, kind, params):
    X, y = _problem(kind)
    est = cls(penalty="l1", alpha=0.02, random_state=0, **params).fit(X, y)
    dense_coef = np.array(est.coef_)
    assert np.sum(dense_coef == 0) > 0  # L1 zeroed some weights: what sparsify is for
    before = est.predict(X)
    scores = est.decision_function(X) if hasattr(est, "decision_function") else None
    assert est.sparsify() is est and sp.issparse(est.coef_)
    assert_array_equal(est.predict(X), before)
    if scores is not None:
        assert_allclose(est.decision_function(X), scores, rtol=1e-12)
    if kind != "regression" and params.get("loss") == "log_loss":
        est.predict_proba(X)
    assert_array_equal(pickle.loads(pickle.dumps(est)).predict(X), before)
    assert est.densify() is est and isinstance(est.coef_, np.ndarray)
    assert_array_equal(est.coef_.reshape(dense_coef.shape), dense_coef)


def test_partial_fit_continues_after_sparsify():
    X, y = _problem("binary")
    a = fd.SGDClassifier(penalty="l1", random_state=0).partial_fit(X, y, classes=[0, 1])
    b = pickle.loads(pickle.dumps(a))
    a.sparsify().partial_fit(X, y)
    b.partial_fit(X, y)
    assert isinstance(a.coef_, np.ndarray)
    assert_array_equal(a.coef_, b.coef_)


@pytest.mark.parametrize("cls", [fd.SGDRegressor, fd.SGDClassifier])
def test_unfitted_estimator_cannot_sparsify(cls):
    with pytest.raises(NotFittedError):
        cls().sparsify()
    with pytest.raises(NotFittedError):
        cls().densify()
