"""learning_rate="auto", the default: scikit-learn's schedule in its own mode, the full-batch
solver (converged to the exact solvers' optimum), and the optimizers' scaled default steps."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import minimize
from scipy.special import log_softmax
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

import fastdescent as fd

ALPHA = 1e-4


def _standardized(X):
    return StandardScaler().fit_transform(X)


def _objective(W, b, X, y, loss, alpha=ALPHA, l1_ratio=0.0, epsilon=0.1):
    """Mean loss + alpha ((1 - l1_ratio) / 2 ||W||^2 + l1_ratio ||W||_1), from the equations."""
    W = np.atleast_2d(W)
    P = X @ W.T + b
    if loss == "multinomial":
        value = -log_softmax(P, axis=1)[np.arange(len(y)), y.astype(int)]
    else:
        p = P[:, 0]
        z = p * y
        if loss == "log_loss":
            value = np.logaddexp(0.0, -z)
        elif loss == "squared_hinge":
            value = np.maximum(0.0, 1.0 - z) ** 2
        elif loss == "modified_huber":
            value = np.where(z >= -1.0, np.maximum(0.0, 1.0 - z) ** 2, -4.0 * z)
        elif loss == "squared_error":
            value = 0.5 * (p - y) ** 2
        elif loss == "huber":
            r = np.abs(p - y)
            value = np.where(r <= epsilon, 0.5 * r**2, epsilon * r - 0.5 * epsilon**2)
        elif loss == "squared_epsilon_insensitive":
            value = np.maximum(0.0, np.abs(y - p) - epsilon) ** 2
        else:
            raise ValueError(loss)
    penalty = (1 - l1_ratio) / 2 * np.sum(W * W) + l1_ratio * np.abs(W).sum()
    return float(np.mean(value) + alpha * penalty)


def _reference_optimum(X, y, loss, K=1):
    """The optimum by SciPy's L-BFGS on the objective above (numerical gradients are too slow:
    the gradient is written from the equations too)."""
    n, d = X.shape

    def f(theta):
        W, b = theta[: K * d].reshape(K, d), theta[K * d :]
        P = X @ W.T + b
        if loss == "squared_hinge":
            s = np.maximum(0.0, 1.0 - P[:, 0] * y)
            dp = (-2.0 * s * y)[:, None]
            value = np.mean(s**2)
        elif loss == "modified_huber":
            z = P[:, 0] * y
            value = np.mean(np.where(z >= -1, np.maximum(0, 1 - z) ** 2, -4 * z))
            dp = (np.where(z >= -1, -2 * np.maximum(0, 1 - z), -4.0) * y)[:, None]
        elif loss == "huber":
            r = P[:, 0] - y
            value = np.mean(np.where(np.abs(r) <= 0.1, 0.5 * r**2, 0.1 * np.abs(r) - 0.005))
            dp = np.clip(r, -0.1, 0.1)[:, None]
        elif loss == "squared_epsilon_insensitive":
            r = y - P[:, 0]
            value = np.mean(np.maximum(0, np.abs(r) - 0.1) ** 2)
            dp = (-2 * np.sign(r) * np.maximum(0, np.abs(r) - 0.1))[:, None]
        else:
            raise ValueError(loss)
        value += ALPHA / 2 * np.sum(W * W)
        gW = dp.T @ X / n + ALPHA * W
        return value, np.concatenate([gW.ravel(), dp.mean(axis=0)])

    res = minimize(f, np.zeros(K * d + K), jac=True, method="L-BFGS-B",
                   options={"maxiter": 20000, "gtol": 1e-12, "ftol": 1e-15})
    return res.fun


def _quiet_fit(est, X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a converged default fit warns of nothing
        return est.fit(X, y, **kw)


# ---- scikit-learn's own mode --------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [1, 8])
def test_auto_is_scikit_learns_schedule_with_plain_sgd(batch_size):
    X, y = load_breast_cancer(return_X_y=True)
    X = _standardized(X)
    auto = fd.SGDClassifier(random_state=0, batch_size=batch_size).fit(X, y)
    optimal = fd.SGDClassifier(random_state=0, batch_size=batch_size, learning_rate="optimal")
    np.testing.assert_array_equal(auto.coef_, optimal.fit(X, y).coef_)
    Xr, yr = load_diabetes(return_X_y=True)
    auto_r = fd.SGDRegressor(random_state=0, batch_size=batch_size).fit(Xr, yr)
    inv = fd.SGDRegressor(random_state=0, batch_size=batch_size, learning_rate="invscaling")
    np.testing.assert_array_equal(auto_r.coef_, inv.fit(Xr, yr).coef_)
    assert auto.get_params()["learning_rate"] == "auto"


def test_auto_keeps_scikit_learns_alpha_check():
    with pytest.raises(ValueError, match="alpha must be > 0 since learning_rate is 'optimal'"):
        fd.SGDClassifier(alpha=0).fit([[0.0], [1.0]], [0, 1])
    fd.SGDClassifier(alpha=0, batch_size="full").fit([[0.0], [1.0]], [0, 1])  # the solver


# ---- the full-batch solver ------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_full_batch_reaches_logistic_regressions_optimum(dtype):
    X, y = load_breast_cancer(return_X_y=True)
    X = _standardized(X).astype(dtype)
    n = len(y)
    # The optimum of these values in float64 (scikit-learn would solve float32 X in float32,
    # a few 1e-7 above it): nothing can score below it.
    exact = LogisticRegression(C=1 / (n * ALPHA), tol=1e-10, max_iter=10000)
    exact.fit(X.astype(np.float64), y)
    s = np.where(y == 1, 1.0, -1.0)
    best = _objective(exact.coef_, exact.intercept_, X.astype(float), s, "log_loss")
    est = fd.SGDClassifier(alpha=ALPHA, batch_size="full", loss="log_loss", random_state=0)
    est = _quiet_fit(est, X, y)
    gap = (_objective(est.coef_, est.intercept_, X.astype(float), s, "log_loss") - best) / best
    assert 0 <= gap + 1e-9 and gap < (1e-4 if dtype == np.float64 else 1e-3)
    assert est.n_iter_ < 200  # a solver, not a thousand plain steps
    np.testing.assert_array_equal(est.predict(X), exact.predict(X))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_full_batch_reaches_multinomial_optimum(dtype):
    X, y = load_digits(return_X_y=True)
    X, y = _standardized(X[:600]).astype(dtype), y[:600]
    n = len(y)
    exact = LogisticRegression(C=1 / (n * ALPHA), tol=1e-10, max_iter=10000).fit(X, y)
    best = _objective(exact.coef_, exact.intercept_, X.astype(float), y, "multinomial")
    est = fd.SGDClassifier(
        loss="log_loss", alpha=ALPHA, batch_size="full", multi_class="multinomial"
    )
    _quiet_fit(est, X, y)
    gap = (_objective(est.coef_, est.intercept_, X.astype(float), y, "multinomial") - best) / best
    assert gap < (1e-4 if dtype == np.float64 else 2e-3)


@pytest.mark.parametrize("sparse", [False, True])
def test_full_batch_reaches_ridges_optimum(sparse):
    X, y = load_diabetes(return_X_y=True)
    X = X * 20  # unscaled columns: the solver picks its step from the data
    exact = Ridge(alpha=ALPHA * len(y), tol=1e-12).fit(X, y)
    best = _objective(exact.coef_, exact.intercept_, X, y, "squared_error")
    Xf = sp.csr_matrix(X) if sparse else X
    est = _quiet_fit(fd.SGDRegressor(alpha=ALPHA, batch_size="full"), Xf, y)
    assert (_objective(est.coef_, est.intercept_, X, y, "squared_error") - best) / best < 1e-4


@pytest.mark.parametrize(
    "loss", ["squared_hinge", "modified_huber", "huber", "squared_epsilon_insensitive"]
)
def test_full_batch_reaches_the_optimum_of_every_smooth_loss(loss):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5)) * [1, 3, 0.3, 10, 1]
    w = rng.normal(size=5)
    regression = loss in ("huber", "squared_epsilon_insensitive")
    if regression:
        y = X @ w + rng.normal(size=300)
        est = fd.SGDRegressor(loss=loss, alpha=ALPHA, batch_size="full")
        target = y
    else:
        y = (X @ w + rng.normal(size=300) > 0).astype(int)
        est = fd.SGDClassifier(loss=loss, alpha=ALPHA, batch_size="full")
        target = np.where(y == 1, 1.0, -1.0)
    best = _reference_optimum(X, target, loss)
    _quiet_fit(est, X, y)
    ours = _objective(est.coef_, est.intercept_, X, target, loss)
    assert (ours - best) / abs(best) < 1e-4


def test_full_batch_elastic_net_meets_the_optimality_conditions():
    X, y = load_breast_cancer(return_X_y=True)
    X = _standardized(X)
    alpha, l1_ratio = 1e-2, 0.5
    est = fd.SGDClassifier(loss="log_loss", alpha=alpha, penalty="elasticnet",
                           l1_ratio=l1_ratio, batch_size="full", tol=1e-6)
    _quiet_fit(est, X, y)
    s = np.where(y == 1, 1.0, -1.0)
    w, b = est.coef_[0], est.intercept_[0]
    z = s * (X @ w + b)
    dp = -s / (1.0 + np.exp(z))  # d loss / d score
    g = X.T @ dp / len(y) + alpha * (1 - l1_ratio) * w
    lam = alpha * l1_ratio
    # Subgradient optimality: g = -lam sign(w) where w != 0, |g| <= lam where w == 0.
    nonzero = w != 0
    assert nonzero.any() and (~nonzero).any()  # the L1 part set some weights exactly to 0
    np.testing.assert_allclose(g[nonzero], -lam * np.sign(w[nonzero]), atol=1e-4)
    assert np.all(np.abs(g[~nonzero]) <= lam + 1e-4)
    assert abs(dp.mean()) < 1e-4  # the intercept's gradient


def test_full_batch_sample_weights_equal_repeated_rows():
    X, y = load_breast_cancer(return_X_y=True)
    X = _standardized(X)[:200]
    y = y[:200]
    weights = np.arange(200) % 3
    est = fd.SGDClassifier(loss="log_loss", batch_size="full", tol=1e-6)
    weighted = clone(est).fit(X, y, sample_weight=weights)
    repeated = clone(est).fit(
        np.repeat(X, weights, axis=0), np.repeat(y, weights)
    )
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-3, atol=1e-4)


def test_full_batch_early_stopping_and_warm_start():
    X, y = load_breast_cancer(return_X_y=True)
    X = _standardized(X)
    est = fd.SGDClassifier(loss="log_loss", batch_size="full", early_stopping=True, tol=1e-2,
                           random_state=0)
    est.fit(X, y)
    # The validation score's plateau stopped it: n_iter_no_change epochs after its best.
    assert est.n_iter_ < 50 and est.score(X, y) > 0.95
    warm = fd.SGDClassifier(loss="log_loss", batch_size="full", warm_start=True, random_state=0)
    first = warm.fit(X, y).n_iter_
    assert warm.fit(X, y).n_iter_ < first / 2  # started at the optimum


def test_full_batch_partial_fit_descends():
    X, y = load_diabetes(return_X_y=True)
    est = fd.SGDRegressor(batch_size="full")
    objectives = []
    for _ in range(5):
        est.partial_fit(X, y)
        objectives.append(_objective(est.coef_, est.intercept_, X, y, "squared_error"))
    assert np.all(np.diff(objectives) < 0)


def test_full_batch_perceptron_takes_a_decaying_subgradient_step():
    X, y = load_breast_cancer(return_X_y=True)
    X = _standardized(X)
    est = fd.SGDClassifier(loss="perceptron", batch_size="full", max_iter=50, tol=None).fit(X, y)
    lr = np.asarray(est.history_["lr"])
    np.testing.assert_allclose(lr / lr[0], 1 / np.sqrt(np.arange(1, 51)), rtol=1e-12)
    assert est.score(X, y) > 0.95


def test_full_batch_hinge_reaches_the_linear_svm_optimum():
    """The smoothed surrogate: at least LinearSVC's objective (its intercept penalty made
    negligible by intercept_scaling), to 1e-4."""
    X, y = load_breast_cancer(return_X_y=True)
    X = _standardized(X)
    s = np.where(y == 1, 1.0, -1.0)
    alpha = 1e-2

    def objective(coef, intercept):
        return alpha / 2 * coef @ coef + np.mean(np.maximum(0, 1 - s * (X @ coef + intercept)))

    exact = LinearSVC(C=1 / (alpha * len(y)), loss="hinge", dual=True, tol=1e-10,
                      max_iter=1_000_000, intercept_scaling=100).fit(X, y)
    best = objective(exact.coef_.ravel(), exact.intercept_[0])
    est = fd.SGDClassifier(loss="hinge", alpha=alpha, batch_size="full").fit(X, y)
    assert est.n_iter_ < est.max_iter
    assert objective(est.coef_.ravel(), est.intercept_[0]) < best * (1 + 1e-4)


def test_full_batch_solver_does_not_diverge_on_badly_scaled_columns():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 4)) * [1e-3, 1.0, 1e3, 1e5]
    y = (X @ [1e3, 1.0, 1e-3, 1e-5] > 0).astype(int)
    est = _quiet_fit(fd.SGDClassifier(loss="log_loss", alpha=ALPHA, batch_size="full"), X, y)
    exact = LogisticRegression(C=1 / (len(y) * ALPHA), tol=1e-10, max_iter=10000).fit(X, y)
    s = np.where(y == 1, 1.0, -1.0)
    best = _objective(exact.coef_, exact.intercept_, X, s, "log_loss")
    assert (_objective(est.coef_, est.intercept_, X, s, "log_loss") - best) / best < 1e-4


# ---- optimizers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "optimizer, lr, batch, scaled",
    [("adam", 1e-3, 32, True), ("adam", 1e-3, 4, True), ("lion", 1e-4, 400, True),
     ("momentum", 1e-2, 32, False), ("rmsprop", 1e-2, "full", True)],
)
def test_auto_step_of_an_optimizer(optimizer, lr, batch, scaled):
    X, y = load_diabetes(return_X_y=True)
    est = fd.SGDRegressor(optimizer=optimizer, batch_size=batch, max_iter=3, tol=None)
    est.fit(X, y)
    B = len(y) if batch == "full" else batch
    expected = lr * (min(np.sqrt(B), 10.0) * np.std(y) if scaled else 1.0)
    np.testing.assert_allclose(est.history_["lr"][0], expected, rtol=1e-9)
    clf = fd.SGDClassifier(optimizer=optimizer, batch_size=batch, max_iter=3, tol=None)
    clf.fit(X, y > np.median(y))
    np.testing.assert_allclose(clf.history_["lr"][0], expected / (np.std(y) if scaled else 1))


def test_auto_step_decays_on_a_plateau_and_an_optimizer_objects_lr_wins():
    X, y = load_breast_cancer(return_X_y=True)
    X = _standardized(X)
    est = fd.SGDClassifier(optimizer="adam", batch_size=32, random_state=0).fit(X, y)
    lr = est.history_["lr"]
    assert lr[-1] < lr[0] / 4  # 'adaptive': divided by 5 at each plateau
    obj = fd.SGDClassifier(optimizer=fd.optim.Adam(lr=0.05), batch_size=32, max_iter=2, tol=None)
    assert obj.fit(X, y).history_["lr"][0] == 0.05


@pytest.mark.parametrize("optimizer", ["adam", "momentum", "lion"])
def test_auto_mini_batch_optimizers_match_the_exact_solver(optimizer):
    X, y = load_breast_cancer(return_X_y=True)
    X = _standardized(X)
    exact = LogisticRegression(C=1 / (len(y) * ALPHA), max_iter=10000).fit(X, y).score(X, y)
    scores = [
        fd.SGDClassifier(optimizer=optimizer, batch_size=32, random_state=s).fit(X, y).score(X, y)
        for s in range(3)
    ]
    assert np.mean(scores) > exact - 0.01


def test_auto_lion_step_is_cut_gently_on_a_plateau():
    """Lion moves each weight by the whole step: its 'auto' step is divided by 1.5 on a
    plateau (the other optimizers' by 5), which on diabetes takes its held-out R^2 from 0.382
    (stalled short of the optimum) to Ridge's within 0.005."""
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    exact = Ridge(alpha=ALPHA * len(y_train)).fit(X_train, y_train).score(X_test, y_test)
    fits = [fd.SGDRegressor(optimizer="lion", batch_size=32, random_state=s).fit(X_train, y_train)
            for s in range(3)]
    assert np.mean([f.score(X_test, y_test) for f in fits]) > exact - 0.005

    def cuts(est):  # the factors by which the step fell between epochs
        lr = np.asarray(est.history_["lr"])
        down = lr[1:] < lr[:-1]
        assert down.any()
        return lr[1:][down] / lr[:-1][down]

    np.testing.assert_allclose(cuts(fits[0]), 1 / 1.5)
    adam = fd.SGDRegressor(optimizer="adam", batch_size=32, random_state=0).fit(X_train, y_train)
    np.testing.assert_allclose(cuts(adam), 1 / 5)


@pytest.mark.parametrize("batch", [1, 16])
def test_auto_momentum_step_is_bounded_by_the_heaviest_row(batch):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    X[5] *= 40.0
    y = X @ [1.0, -2.0, 0.5] + 1e5  # the targets' scale does not matter to SGD's stability
    est = fd.SGDRegressor(optimizer="momentum", batch_size=batch, random_state=0).fit(X, y)
    heaviest = np.max(np.sum(X * X, axis=1)) + 1.0  # the intercept's 1
    expected = min(1e-2, (1 - 0.9) * batch / heaviest)
    np.testing.assert_allclose(est.history_["lr"][0], expected, rtol=1e-12)
    exact = Ridge(alpha=ALPHA * len(y)).fit(X, y)
    assert est.score(X, y) > exact.score(X, y) - 1e-3
