"""The C++ losses stay finite and exact for outputs of magnitude 1e30, and training that blows
up follows one rule: ValueError, the estimator's previous state kept, never NaN weights."""

import warnings

import numpy as np
import pytest
from scipy.special import expit, log_softmax, softmax

import fastdescent as fd
from fastdescent import _core

HUGE = 1e30
OUTPUTS = np.array([-HUGE, -1e15, -1e3, -40.0, -18.5, -1.0, -1e-3, 0.0, 1e-3, 1.0, 18.5, 40.0,
                    1e3, 1e15, HUGE])
EPS = 0.1


def reference(loss, p, y):
    """Value and d/dp of each loss, from its definition (scikit-learn's conventions)."""
    r = p - y
    z = p * y
    if loss == "squared_error":
        return 0.5 * r * r, r
    if loss == "huber":
        small = np.abs(r) <= EPS
        return np.where(small, 0.5 * r * r, EPS * np.abs(r) - 0.5 * EPS**2), np.clip(r, -EPS, EPS)
    if loss == "epsilon_insensitive":
        return (np.maximum(0.0, np.abs(r) - EPS),
                np.where(-r > EPS, -1.0, np.where(r > EPS, 1.0, 0.0)))
    if loss == "squared_epsilon_insensitive":
        excess = np.maximum(0.0, np.abs(r) - EPS)
        return excess**2, 2.0 * np.sign(r) * excess
    if loss == "log_loss":
        return np.logaddexp(0.0, -z), -y * expit(-z)
    if loss in ("hinge", "perceptron"):
        threshold = 1.0 if loss == "hinge" else 0.0
        return np.maximum(0.0, threshold - z), np.where(z <= threshold, -y, 0.0)
    if loss == "squared_hinge":
        gap = np.maximum(0.0, 1.0 - z)
        return gap**2, -2.0 * y * gap
    if loss == "modified_huber":
        value = np.where(z >= 1, 0.0, np.where(z >= -1, (1 - z) ** 2, -4 * z))
        deriv = np.where(z >= 1, 0.0, np.where(z >= -1, -2 * (1 - z) * y, -4 * y))
        return value, deriv
    raise AssertionError(loss)


CLASSIFICATION = ["log_loss", "hinge", "squared_hinge", "modified_huber", "perceptron"]
REGRESSION = ["squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive"]


def grid(loss):
    targets = [-1.0, 1.0] if loss in CLASSIFICATION else [-HUGE, -3.0, 0.0, 2.5, HUGE]
    p, y = np.meshgrid(OUTPUTS, np.array(targets))
    return p.ravel().copy(), y.ravel().copy()


@pytest.mark.parametrize("joint", [False, True], ids=["separate", "fused"])
@pytest.mark.parametrize("loss", CLASSIFICATION + REGRESSION)
def test_losses_are_finite_and_exact_at_huge_outputs(loss, joint):
    p, y = grid(loss)
    value, deriv = _core.loss_value_and_deriv(getattr(_core.LossKind, loss), p, y, EPS, joint)
    ref_value, ref_deriv = reference(loss, p, y)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(deriv))
    np.testing.assert_allclose(value, ref_value, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(deriv, ref_deriv, rtol=1e-12, atol=1e-300)


def test_log_loss_has_no_cancellation_at_moderate_margins():
    """Where log(1 + exp(-z)) is tiny (large z) it is still computed to full relative precision."""
    z = np.array([20.0, 35.0, 100.0, 700.0])
    value, deriv = _core.loss_value_and_deriv(_core.LossKind.log_loss, z, np.ones_like(z), 0.0, True)
    np.testing.assert_allclose(value, np.exp(-z) - np.exp(-2 * z) / 2, rtol=1e-12)
    np.testing.assert_allclose(deriv, -expit(-z), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_cross_entropy_at_huge_scores(dtype):
    scores = np.array([
        [HUGE, -HUGE, 0.0],
        [HUGE, HUGE, -HUGE],
        [-HUGE, -HUGE, -HUGE],
        [1e3, 999.0, -1e3],
        [0.0, 0.0, 0.0],
    ], dtype=dtype)
    for label in range(3):
        labels = np.full(scores.shape[0], label, dtype=np.int64)
        loss, grad = _core.softmax_cross_entropy(scores, labels)
        ref_loss = -log_softmax(scores.astype(np.float64), axis=1)[:, label]
        ref_grad = softmax(scores.astype(np.float64), axis=1)
        ref_grad[:, label] -= 1.0
        assert grad.dtype == dtype
        assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
        np.testing.assert_allclose(loss, ref_loss, rtol=1e-6 if dtype == np.float32 else 1e-12)
        np.testing.assert_allclose(grad, ref_grad, atol=1e-6 if dtype == np.float32 else 1e-12)


def test_loss_bindings_check_their_arguments():
    with pytest.raises(ValueError, match="not a scalar loss"):
        _core.loss_value_and_deriv(_core.LossKind.multinomial, np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match="y must be a contiguous 1-D array of length 2"):
        _core.loss_value_and_deriv(_core.LossKind.hinge, np.zeros(2), np.zeros(3))
    with pytest.raises(TypeError, match="p must be a NumPy array of dtype float64"):
        _core.loss_value_and_deriv(_core.LossKind.hinge, np.zeros(2, np.float32), np.zeros(2))
    with pytest.raises(ValueError, match="labels must be class indices"):
        _core.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3]))


# ---- training on huge inputs: finite weights or the divergence error -------------------------

DIVERGED = "Floating-point under-/overflow occurred at epoch"


def fit_or_diverge(est, X, y):
    """Fits; returns True when the fit succeeded, False when it raised the divergence error."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X, y)
    except ValueError as e:
        assert DIVERGED in str(e)
        assert not hasattr(est, "coef_")
        return False
    assert np.all(np.isfinite(est.coef_)) and np.all(np.isfinite(est.intercept_))
    return True


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch_size", [1, 8, "full"])
@pytest.mark.parametrize("loss", CLASSIFICATION)
def test_classifier_on_inputs_of_magnitude_1e30(loss, batch_size, dtype):
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((30, 4)) * HUGE).astype(dtype)
    y = (X[:, 0] > 0).astype(int)
    est = fd.SGDClassifier(loss=loss, batch_size=batch_size, max_iter=5, tol=None, random_state=0)
    if fit_or_diverge(est, X, y):
        assert est.coef_.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("optimizer", ["sgd", "adam", "momentum"])
@pytest.mark.parametrize("loss", REGRESSION)
def test_regressor_on_targets_of_magnitude_1e30(loss, optimizer, dtype):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 4)).astype(dtype)
    y = (rng.standard_normal(30) * HUGE).astype(dtype)
    est = fd.SGDRegressor(loss=loss, optimizer=optimizer, batch_size=4, max_iter=5, tol=None,
                          random_state=0)
    fit_or_diverge(est, X, y)


def test_multinomial_on_inputs_of_magnitude_1e30():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3)) * HUGE
    y = np.argmax(X, axis=1)
    est = fd.SGDClassifier(loss="log_loss", multi_class="multinomial", max_iter=5, tol=None,
                           random_state=0)
    if fit_or_diverge(est, X, y):
        assert np.all(np.isfinite(est.predict_proba(X)))


@pytest.mark.parametrize("batch_size, optimizer", [(1, "momentum"), (16, "sgd"), ("full", "sgd")])
def test_divergence_raises_and_keeps_the_previous_model(batch_size, optimizer):
    # (Plain per-sample SGD bounds each step by clipping the loss derivative, as scikit-learn
    # does, so it grows linearly rather than overflowing; an optimizer takes the batched path.)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 5)) * 10
    y = X @ rng.standard_normal(5)
    est = fd.SGDRegressor(learning_rate="constant", eta0=1e-4, penalty=None, max_iter=200,
                          tol=None, batch_size=batch_size, optimizer=optimizer,
                          random_state=0).fit(X, y)
    def fitted_state():
        return {k: np.copy(v) for k, v in vars(est).items() if k.endswith("_")}

    before = fitted_state()
    est.set_params(eta0=1e3, warm_start=True)
    with pytest.raises(ValueError, match=DIVERGED):
        est.fit(X, y)
    for name, value in before.items():
        np.testing.assert_array_equal(getattr(est, name), value)
    assert est.get_params()["eta0"] == 1e3  # hyperparameters are the user's, not restored
    # partial_fit: one epoch per call, so it takes a few calls to blow up; the failing call
    # leaves the state of the call before it.
    with pytest.raises(ValueError, match=DIVERGED):
        for _ in range(200):
            before = fitted_state()
            est.partial_fit(X, y)
    for name, value in before.items():
        np.testing.assert_array_equal(getattr(est, name), value)
    assert np.all(np.isfinite(est.coef_))


def test_divergence_never_leaves_nan_in_raw_buffers_unreported():
    """At the binding level the rule is the diverged flag: set whenever a weight is not finite."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 5)) * 100
    y = X @ rng.standard_normal(5)
    cfg = _core.TrainConfig()
    cfg.max_iter = 200
    cfg.tol = -np.inf
    cfg.schedule = fd.schedules.Constant(1e3).to_core()
    for batch in (8, 0):
        cfg.batch_size = batch
        coef, intercept = np.zeros((1, 5)), np.zeros(1)
        res = _core.train_dense(X, y, coef, intercept, cfg)
        finite = np.all(np.isfinite(coef)) and np.all(np.isfinite(intercept))
        assert res.diverged or finite
        assert res.diverged  # this step size does blow up
