"""The count, positive and quantile losses (absolute_error, quantile, poisson, gamma, tweedie):
the kernels and training trajectories against the NumPy reference, full batch against
scikit-learn's exact estimators, and the estimator's checks, predictions and scores."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from sklearn.linear_model import (
    GammaRegressor,
    PoissonRegressor,
    QuantileRegressor,
    TweedieRegressor,
)
from sklearn.metrics import d2_tweedie_score
from sklearn.model_selection import ShuffleSplit

import reference as ref
from fastdescent import SGDRegressor, _core
from test_trajectories import make_data, run_core

# Each loss with its parameter (quantile, tweedie power) and the Tweedie power of its deviance.
LOSSES = {
    "absolute_error": (0.1, None),
    "quantile": (0.7, None),
    "poisson": (0.1, 1.0),
    "gamma": (0.1, 2.0),
    "tweedie": (1.5, 1.5),
    "tweedie3": (3.0, 3.0),
}
TRAJECTORY_TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-6)}


def kind(name):
    return "tweedie" if name == "tweedie3" else name


def targets(name, score):
    """Targets in the loss's range, exactly representable in float32."""
    if name in ("poisson", "tweedie"):
        return np.round(np.exp(0.5 * score) * 2.0)  # counts, with zeros
    if name in ("gamma", "tweedie3"):
        return np.asarray(np.exp(0.5 * score), dtype=np.float32).astype(np.float64)
    return score


# ---- the loss kernels --------------------------------------------------------------------------


@pytest.mark.parametrize("name", LOSSES)
def test_scalar_loss_matches_reference(name):
    param, _ = LOSSES[name]
    rng = np.random.default_rng(0)
    p = rng.normal(size=200)
    y = targets(name, rng.normal(size=200) * 2)
    p[:5] = np.log(np.maximum(y[:5], 1e-300)) if name not in ("absolute_error", "quantile") else y[:5]
    value, deriv = _core.loss_value_and_deriv(getattr(_core.LossKind, kind(name)), p, y, loss_param=param)
    expected = np.array([ref.scalar_loss(kind(name), pi, yi, param) for pi, yi in zip(p, y)])
    assert_allclose(value, expected[:, 0], rtol=1e-12, atol=1e-12)
    assert_allclose(deriv, expected[:, 1], rtol=1e-12, atol=1e-12)
    # At the target (p = log y, or p = y) the loss is 0: the half deviance's constant is right.
    assert_allclose(value[:5][y[:5] > 0], 0.0, atol=1e-9)
    joint, joint_deriv = _core.loss_value_and_deriv(getattr(_core.LossKind, kind(name)), p, y,
                                           loss_param=param, joint=True)
    assert_allclose(joint, value, rtol=1e-14)
    assert_allclose(joint_deriv, deriv, rtol=1e-14)
    if LOSSES[name][1] is not None:  # smooth: the derivative is the value's slope
        h = 1e-6
        up, _ = _core.loss_value_and_deriv(getattr(_core.LossKind, kind(name)), p + h, y, loss_param=param)
        down, _ = _core.loss_value_and_deriv(getattr(_core.LossKind, kind(name)), p - h, y, loss_param=param)
        assert_allclose((up - down) / (2 * h), deriv, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("loss,param,message", [
    ("quantile", 0.0, r"quantile in \(0, 1\)"),
    ("quantile", 1.0, r"quantile in \(0, 1\)"),
    ("tweedie", 1.0, "power > 1 other than 2"),
    ("tweedie", 0.5, "power > 1 other than 2"),
    ("huber", -1.0, "epsilon must be >= 0"),
    ("poisson", math.nan, "must be finite"),
])
def test_core_refuses_bad_loss_parameters(loss, param, message):
    with pytest.raises(ValueError, match=message):
        _core.loss_value_and_deriv(getattr(_core.LossKind, loss), np.zeros(2), np.ones(2), loss_param=param)


# ---- trajectories: the C++ trainer against the reference, update by update -----------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("fmt", ["dense", "csr32"])
@pytest.mark.parametrize("batch", [1, 3, 0], ids=["sgd", "batch3", "full"])
@pytest.mark.parametrize("name", LOSSES)
def test_trajectory_matches_reference(name, batch, fmt, dtype):
    param, power = LOSSES[name]
    data = make_data()
    X = data["X"]
    y = targets(name, data["y_reg"])
    penalty = ("l2", "elasticnet", None)[batch % 3]
    cfg = ref.Config(loss=kind(name), epsilon=param, penalty=penalty, alpha=0.01, l1_ratio=0.3,
                     schedule="invscaling", eta0=0.05, power_t=0.5, batch_size=batch, max_iter=3)
    start = np.log(np.mean(y)) if power is not None and power >= 1 else float(np.median(y))
    intercept = np.array([np.float32(start)], dtype=np.float64)
    sw = data["sample_weight"] if batch != 3 else None
    Xr = sp.csr_matrix(X) if fmt != "dense" and ref.depends_on_stored_entries(cfg) else X
    expected = ref.train(Xr, y, cfg, sample_weight=sw, intercept=intercept)
    res, model = run_core(fmt, dtype, X, y, cfg, sample_weight=sw, intercept=intercept)
    tol = TRAJECTORY_TOL[dtype]
    assert res.n_iter == expected.n_iter and res.t == expected.t and not res.diverged
    assert_allclose(res.loss_curve, expected.loss_curve, **tol)
    assert_allclose(model["coef"], expected.coef, **tol)
    assert_allclose(model["intercept"], expected.intercept, **tol)


def test_trainer_refuses_targets_outside_the_range():
    X = np.ones((3, 2))
    for loss, y in (("poisson", [1.0, -1.0, 2.0]), ("gamma", [1.0, 0.0, 2.0])):
        cfg = ref.Config(loss=loss, batch_size=1, schedule="constant", max_iter=1)
        with pytest.raises(ValueError, match="outside the loss's range"):
            run_core("dense", np.float64, X, np.array(y), cfg)


# ---- full batch: the optimum of scikit-learn's exact estimators ------------------------------


def _glm_problem(power, n=3000, d=8, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[:, 1] *= 3.0  # unequal column scales: the preconditioner's job
    scale = np.ones(d)
    scale[1] = 3.0
    mu = np.exp(X @ (0.2 * rng.normal(size=d) / scale) + 1.0)
    if power == 1:
        y = rng.poisson(mu).astype(float)
    elif power == 1.5:
        y = rng.poisson(mu * 0.7) * rng.gamma(2.0, 0.7, size=n)  # zeros and positive amounts
    else:
        y = rng.gamma(2.0, mu / 2.0)
    return X, y, rng.uniform(0.5, 2.0, size=n)


def _glm_objective(coef, intercept, X, y, sw, power, alpha):
    from fastdescent._deviance import half_deviance

    mu = np.exp(X @ coef + intercept)
    return np.average(half_deviance(y, mu, power), weights=sw) + 0.5 * alpha * coef @ coef


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("loss,power,reference", [
    ("poisson", 1.0, PoissonRegressor),
    ("gamma", 2.0, GammaRegressor),
    ("tweedie", 1.5, lambda **kw: TweedieRegressor(power=1.5, **kw)),
    ("tweedie", 3.0, lambda **kw: TweedieRegressor(power=3.0, **kw)),
])
def test_full_batch_reaches_the_glm_optimum(loss, power, reference, sparse):
    X, y, sw = _glm_problem(min(power, 2.0) if power != 1.5 else 1.5)
    alpha = 1e-3
    exact = reference(alpha=alpha, tol=1e-12, max_iter=10000).fit(X, y, sample_weight=sw)
    best = _glm_objective(exact.coef_, exact.intercept_, X, y, sw, power, alpha)
    Xf = sp.csr_matrix(X) if sparse else X
    est = SGDRegressor(loss=loss, power=power if loss == "tweedie" else 0.0, alpha=alpha,
                       batch_size="full").fit(Xf, y, sample_weight=sw)
    got = _glm_objective(est.coef_, est.intercept_[0], X, y, sw, power, alpha)
    assert (got - best) / best < 1e-4
    assert est.score(Xf, y, sample_weight=sw) == pytest.approx(
        exact.score(X, y, sample_weight=sw), abs=1e-4)


def _pinball(coef, intercept, X, y, q, alpha):
    r = y - X @ coef - intercept
    return np.mean(np.where(r >= 0, q * r, (q - 1) * r)) + alpha * np.abs(coef).sum()


@pytest.mark.parametrize("loss,q,alpha", [("quantile", 0.5, 1e-3), ("quantile", 0.9, 1e-2),
                                          ("quantile", 0.2, 0.0), ("absolute_error", 0.5, 2e-3)])
def test_full_batch_reaches_the_quantile_regression_optimum(loss, q, alpha):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 6)) * np.array([1, 5, 1, 1, 0.2, 1])
    y = X @ rng.normal(size=6) + 40.0 + 10 * rng.standard_t(3, size=400)
    # absolute_error is twice the pinball loss of the median: QuantileRegressor's alpha halves.
    lp_alpha = alpha / 2 if loss == "absolute_error" else alpha
    exact = QuantileRegressor(quantile=q, alpha=lp_alpha, solver="highs").fit(X, y)
    best = _pinball(exact.coef_, exact.intercept_, X, y, q, lp_alpha)
    est = SGDRegressor(loss=loss, quantile=q, penalty="l1", alpha=alpha,
                       batch_size="full").fit(X, y)
    got = _pinball(est.coef_, est.intercept_[0], X, y, q, lp_alpha)
    assert (got - best) / best < 1e-3
    assert est.n_iter_ < est.max_iter  # the solver's test ended it


# ---- the estimator -----------------------------------------------------------------------------


def test_predict_is_the_mean_and_score_is_d2():
    X, y, sw = _glm_problem(1.0, n=500)
    est = SGDRegressor(loss="poisson", batch_size=16, random_state=0).fit(X, y)
    raw = X @ est.coef_ + est.intercept_
    assert_allclose(est.predict(X), np.exp(raw), rtol=1e-12)
    assert est.score(X, y) == pytest.approx(d2_tweedie_score(y, est.predict(X), power=1))
    assert est.score(X, y, sample_weight=sw) == pytest.approx(
        d2_tweedie_score(y, est.predict(X), sample_weight=sw, power=1))
    q = SGDRegressor(loss="quantile", quantile=0.8, random_state=0).fit(X, y)
    assert_allclose(q.predict(X), X @ q.coef_ + q.intercept_)  # identity link, R^2 score
    assert q.score(X, y) == pytest.approx(1 - np.sum((y - q.predict(X)) ** 2)
                                          / np.sum((y - y.mean()) ** 2))


@pytest.mark.parametrize("power,same_as", [(0.0, "squared_error"), (1.0, "poisson"),
                                           (2.0, "gamma")])
def test_tweedie_powers_zero_one_two_are_the_named_losses(power, same_as):
    X, y, _ = _glm_problem(2.0, n=300)
    kw = dict(batch_size=8, random_state=0, max_iter=5, tol=None, eta0=1e-3)
    a = SGDRegressor(loss="tweedie", power=power, **kw).fit(X, y)
    b = SGDRegressor(loss=same_as, **kw).fit(X, y)
    assert_allclose(a.coef_, b.coef_, rtol=1e-12)
    assert_allclose(a.predict(X), b.predict(X), rtol=1e-12)
    assert a.score(X, y) == pytest.approx(b.score(X, y), rel=1e-12)


def test_fresh_fit_starts_at_the_best_constant():
    X = np.zeros((7, 2))
    y = np.array([1.0, 2.0, 3.0, 4.0, 10.0, 20.0, 30.0])
    one = dict(max_iter=1, tol=None, learning_rate="constant", eta0=1e-12)
    assert SGDRegressor(loss="poisson", **one).fit(X, y).intercept_[0] == pytest.approx(
        np.log(y.mean()))
    assert SGDRegressor(loss="absolute_error", **one).fit(X, y).intercept_[0] == pytest.approx(4.0)
    assert SGDRegressor(loss="quantile", quantile=0.8, **one).fit(X, y).intercept_[0] == \
        pytest.approx(20.0)
    given = SGDRegressor(loss="poisson", **one).fit(X, y, intercept_init=[0.5])
    assert given.intercept_[0] == pytest.approx(0.5)


@pytest.mark.parametrize("loss,power,y,message", [
    ("poisson", 0.0, [1.0, -2.0, 3.0], "non-negative targets"),
    ("gamma", 0.0, [1.0, 0.0, 3.0], "positive targets"),
    ("tweedie", 1.5, [1.0, -1.0, 3.0], "with power=1.5 needs non-negative"),
    ("tweedie", 3.0, [1.0, 0.0, 3.0], "with power=3.0 needs positive"),
])
def test_targets_outside_the_range_are_refused(loss, power, y, message):
    est = SGDRegressor(loss=loss, power=power)
    with pytest.raises(ValueError, match=message):
        est.fit(np.ones((3, 2)), y)
    assert not hasattr(est, "coef_")


@pytest.mark.parametrize("params", [dict(loss="tweedie", power=0.5), dict(loss="tweedie", power=-1),
                                    dict(loss="quantile", quantile=1.0),
                                    dict(loss="quantile", quantile=0.0)])
def test_invalid_loss_parameters_are_refused(params):
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError):
        SGDRegressor(**params).fit(np.ones((3, 2)), [1.0, 2.0, 3.0])


def test_early_stopping_scores_the_deviance():
    X, y, _ = _glm_problem(1.0, n=400)
    kw = dict(loss="poisson", batch_size=16, early_stopping=True, validation_fraction=0.25,
              random_state=4, max_iter=6, tol=None, learning_rate="constant", eta0=0.01)
    est = SGDRegressor(**kw).fit(X, y)
    _, val = next(ShuffleSplit(test_size=0.25, random_state=4).split(X))
    # The last epoch's validation score is D^2 of the final model on the held-out rows.
    assert est.history_["val_score"][-1] == pytest.approx(est.score(X[val], y[val]), rel=1e-9)


MODES = [
    dict(batch_size=1),
    dict(batch_size=32),
    dict(batch_size=32, optimizer="adam"),
    dict(batch_size=32, optimizer="momentum"),
    dict(batch_size=32, sparse=True),
    dict(batch_size="full"),
]
# Known: plain SGD on mini-batches keeps scikit-learn's invscaling schedule (eta0=0.01), too
# small for the pinball loss's bounded gradients on targets of this scale; it stops on the tol
# plateau at a held-out R^2 of 0.21 against 0.26.
SHORT = pytest.mark.xfail(strict=True, reason="plain-SGD mini-batches stop short on quantile")
MODE_CASES = [
    pytest.param(name, mode, marks=SHORT if name == "quantile" and mode["batch_size"] == 32
                 and "optimizer" not in mode else ())
    for name in ("quantile", "poisson", "gamma") for mode in MODES
]


@pytest.mark.parametrize("name,mode", MODE_CASES)
def test_every_mode_learns_with_defaults(name, mode):
    """Defaults in every mode, float32 and float64, dense and sparse: a held-out score (D^2,
    or R^2 for the quantile) within 0.02 of the exact estimator's."""
    mode = dict(mode)
    sparse = mode.pop("sparse", False)
    X, y, _ = _glm_problem(2.0 if name == "gamma" else 1.0, n=2000)
    X_test, y_test = X[1500:], y[1500:]
    X, y = X[:1500], y[:1500]
    exact = {"quantile": QuantileRegressor(alpha=0.0, solver="highs"),
             "poisson": PoissonRegressor(alpha=1e-4), "gamma": GammaRegressor(alpha=1e-4)}[name]
    best = exact.fit(X, y).score(X_test, y_test)
    for dtype in (np.float32, np.float64):
        Xd = sp.csr_matrix(X.astype(dtype)) if sparse else X.astype(dtype)
        est = SGDRegressor(loss=name, random_state=0, **mode).fit(Xd, y)
        assert est.coef_.dtype == dtype
        assert est.score(X_test.astype(dtype), y_test) > best - 0.02, (dtype, est.n_iter_)
