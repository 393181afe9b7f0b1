"""SGDOneClassSVM: scikit-learn's results in its own mode, the problem's optimum in every mode,
the outlier-detector API, and the intercept's linear term on every backend."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import linear_model
from sklearn.svm import OneClassSVM

from fastdescent import SGDOneClassSVM, _core


def _data(n=600, d=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) * np.linspace(0.5, 2.0, d) + np.linspace(-1.0, 2.0, d)


def _objective(coef, intercept, X, nu):
    """nu / 2 ||w||^2 + nu b + mean max(0, 1 - (w.x + b)): the problem both classes solve."""
    return nu / 2 * coef @ coef + nu * intercept + np.mean(np.maximum(0, 1 - X @ coef - intercept))


def _optimum(X, nu):
    """The one-class SVM's optimum from libsvm (its w and rho scaled by nu * n)."""
    ref = OneClassSVM(kernel="linear", nu=nu, tol=1e-10).fit(X)
    scale = nu * X.shape[0]
    return _objective(ref.coef_.ravel() / scale, 1 - ref.offset_[0] / scale, X, nu)


SKLEARN_CASES = [
    dict(),
    dict(nu=0.1, learning_rate="constant", eta0=0.01),
    dict(learning_rate="invscaling", eta0=0.05, power_t=0.3),
    dict(learning_rate="adaptive", eta0=0.05, tol=1e-4),
    dict(average=10),
    dict(fit_intercept=False),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("params", SKLEARN_CASES, ids=lambda p: "-".join(map(str, p.values())) or "defaults")
def test_scikit_learn_mode_gives_scikit_learns_model(params, dtype):
    X = _data().astype(dtype)
    sw = np.random.default_rng(1).uniform(0.5, 2.0, X.shape[0])
    kw = dict(dict(tol=None, max_iter=6, shuffle=False, random_state=0), **params)
    theirs = linear_model.SGDOneClassSVM(**kw).fit(X, sample_weight=sw)
    ours = SGDOneClassSVM(**kw).fit(X, sample_weight=sw)
    # float32: scikit-learn keeps the intercept and the weight scale in float64 between updates,
    # fastdescent in float32.
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-3, atol=2e-4)
    assert ours.coef_.shape == theirs.coef_.shape and ours.coef_.dtype == dtype
    assert_allclose(ours.coef_, theirs.coef_, **tol)
    assert_allclose(ours.offset_, theirs.offset_, **tol)
    assert (ours.n_iter_, ours.t_) == (theirs.n_iter_, theirs.t_)
    assert_array_equal(ours.predict(X), theirs.predict(X))
    assert_allclose(ours.decision_function(X), theirs.decision_function(X), **tol)
    assert_allclose(ours.score_samples(X), theirs.score_samples(X), **tol)


def test_warm_start_offset_init_and_partial_fit_as_scikit_learn():
    X = _data()
    kw = dict(tol=None, max_iter=3, shuffle=False, nu=0.3)
    coef0 = np.full(X.shape[1], 0.1)
    theirs = linear_model.SGDOneClassSVM(**kw).fit(X, coef_init=coef0.copy(), offset_init=[0.4])
    ours = SGDOneClassSVM(**kw).fit(X, coef_init=coef0, offset_init=[0.4])
    assert_allclose(ours.coef_, theirs.coef_, rtol=1e-10)
    assert_allclose(ours.offset_, theirs.offset_, rtol=1e-10)
    theirs = linear_model.SGDOneClassSVM(**kw)
    ours = SGDOneClassSVM(**kw)
    for part in np.array_split(X, 3):
        theirs.partial_fit(part)
        ours.partial_fit(part)
    assert_allclose(ours.coef_, theirs.coef_, rtol=1e-10)
    assert_allclose(ours.offset_, theirs.offset_, rtol=1e-10)
    assert ours.t_ == theirs.t_
    restored = pickle.loads(pickle.dumps(ours))
    assert_allclose(restored.decision_function(X), ours.decision_function(X))


def test_sparse_input_trains_as_its_dense_twin():
    """Outside scikit-learn's mode (whose sparse intercept decay test_estimators.py tests
    against scikit-learn)."""
    X = _data()
    X[np.abs(X) < 0.8] = 0.0
    for params in (dict(batch_size=1, optimizer="momentum"), dict(batch_size=16, optimizer="adam")):
        kw = dict(params, tol=None, max_iter=4, shuffle=False)
        dense = SGDOneClassSVM(**kw).fit(X)
        sparse = SGDOneClassSVM(**kw).fit(sp.csr_matrix(X))
        assert_allclose(sparse.coef_, dense.coef_, rtol=1e-9, atol=1e-12)
        assert_allclose(sparse.offset_, dense.offset_, rtol=1e-9, atol=1e-12)
    # Full batch: the solver's line search takes discrete decisions on sums rounded in another
    # order, so the paths differ slightly; both reach the optimum.
    dense = SGDOneClassSVM(batch_size="full").fit(X)
    sparse = SGDOneClassSVM(batch_size="full").fit(sp.csr_matrix(X))
    assert _objective(sparse.coef_, sparse.intercept_[0], X, 0.5) == pytest.approx(
        _objective(dense.coef_, dense.intercept_[0], X, 0.5), rel=1e-6)


@pytest.mark.parametrize("mode,gap", [
    (dict(), 0.1),
    (dict(n_jobs=2), 0.1),
    (dict(batch_size=32, optimizer="adam"), 0.01),
    (dict(batch_size=32, optimizer="momentum"), 0.01),
    (dict(batch_size=32, optimizer="adam", sparse_updates="lazy", sparse=True), 0.01),
    (dict(batch_size="full"), 1e-4),
])
def test_every_mode_solves_the_problem(mode, gap):
    """Defaults in every mode reach the problem's optimum (libsvm's) within `gap` relative;
    full batch, through the smoothed hinge, to solver precision. About nu of the training rows
    are outliers."""
    mode = dict(mode)
    sparse = mode.pop("sparse", False)
    nu = 0.2
    X = _data(n=2000)
    best = _optimum(X, nu)
    est = SGDOneClassSVM(nu=nu, random_state=0, **mode).fit(sp.csr_matrix(X) if sparse else X)
    got = _objective(est.coef_, est.intercept_[0], X, nu)
    assert (got - best) / best < gap
    assert abs(np.mean(est.predict(X) == -1) - nu) < 0.05
    assert_allclose(est.offset_, 1 - est.intercept_)
    # The reported objective includes the intercept's linear term.
    if mode.get("batch_size") == "full":
        assert est.loss_curve_[-1] == pytest.approx(got, rel=1e-3)


def test_the_core_steps_the_intercept_linear_term_in_every_strategy():
    """Plain SGD with a constant step on a problem whose loss is flat (every row far inside):
    the intercept moves by eta * c per update, in every strategy, and the objective counts c b."""
    X = np.ones((8, 2))
    y = np.ones(8)
    for batch, threads in ((1, 1), (1, 2), (4, 1), (0, 1)):
        cfg = _core.TrainConfig()
        cfg.loss = _core.LossKind.hinge
        cfg.penalty = _core.PenaltyKind.none
        cfg.schedule = _core.Schedule(_core.ScheduleKind.constant, eta0=0.1)
        cfg.intercept_linear = 0.5
        cfg.batch_size = batch
        cfg.n_threads = threads
        cfg.max_iter = 1
        cfg.tol = -np.inf
        cfg.shuffle = False
        coef, intercept = np.full((1, 2), 5.0), np.array([3.0])
        res = _core.train_dense(X, y, coef, intercept, cfg)
        updates = 8 if batch == 1 else 8 // (batch or 8)
        assert intercept[0] == pytest.approx(3.0 - 0.1 * 0.5 * updates), (batch, threads)
        assert_allclose(coef, 5.0)
        assert res.loss_curve[0] == pytest.approx(0.5 * intercept[0])


def test_parameters_are_scikit_learns():
    ours, theirs = SGDOneClassSVM().get_params(), linear_model.SGDOneClassSVM().get_params()
    assert ours["learning_rate"] == "auto" and theirs["learning_rate"] == "optimal"
    assert {k: ours[k] for k in theirs if k != "learning_rate"} == {
        k: v for k, v in theirs.items() if k != "learning_rate"}
    with pytest.raises(ValueError, match="nu"):
        SGDOneClassSVM(nu=0.0).fit(_data())
    with pytest.raises(ValueError, match="learning_rate"):
        SGDOneClassSVM(learning_rate="pa1").fit(_data())
