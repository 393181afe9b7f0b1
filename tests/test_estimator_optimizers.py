"""The estimators' ``optimizer``, ``clip_value`` and ``clip_norm`` against a plain NumPy loop.

The reference training loop below is written from the documented algorithm, independently of the
C++ trainer: rows in their given order (shuffle=False), per batch the sample-weighted mean
gradient of the loss (scikit-learn's conventions: squared_error 0.5 (p - y)^2, log_loss and hinge
on -1/+1 targets, softmax cross-entropy for the multinomial model) plus alpha (1 - l1_ratio) W
for the L2 part, then gradient clipping over [coef, intercept] together, then one
``fastdescent.optim`` step of a fresh optimizer of the same kind and hyperparameters with
lr = eta0 (coefficients and intercepts as two parameter arrays, so with separate state; the
intercepts are not stepped when fit_intercept=False), then the L1 proximal step (soft
thresholding by eta alpha l1_ratio). fastdescent.optim itself is checked against the published
equations in tests/test_optim.py, so it is a valid reference for the update rules. The loop
runs in float64 on the estimator's (for float32, float32-rounded) data; float64 fits must agree
to 1e-10 relative, float32 fits to 2e-5.

The named optimizers are spelled out here (EXPECTED_NAMED) from the documented defaults (PyTorch's
/ the papers'), not taken from the package, so that a wrong default there fails too.

Also: the step-size rule (an optimizer object's lr against learning_rate / eta0), accuracy of
every optimizer on real data (dense and float32, early stopping, threads), parameter validation,
and clone / get_params / pickle of an estimator that holds an optimizer object.
"""

from __future__ import annotations

import copy
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit, softmax
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from fastdescent import SGDClassifier, SGDRegressor, optim
from fastdescent.clip import clip_grad_norm_, clip_grad_value_

# What each name stands for, with the step size lr (PyTorch's defaults for sgd ... adamax, the
# papers' / Optax's for lamb, adafactor and lion); the estimator's eta0 gives lr.
EXPECTED_NAMED = {
    "sgd": lambda lr: optim.SGD(lr),
    "momentum": lambda lr: optim.SGD(lr, momentum=0.9),
    "nesterov": lambda lr: optim.SGD(lr, momentum=0.9, nesterov=True),
    "adagrad": lambda lr: optim.Adagrad(lr),
    "rmsprop": lambda lr: optim.RMSprop(lr),
    "adam": lambda lr: optim.Adam(lr),
    "adamw": lambda lr: optim.AdamW(lr),  # weight_decay 1e-2
    "nadam": lambda lr: optim.NAdam(lr),
    "adamax": lambda lr: optim.Adamax(lr),
    "lamb": lambda lr: optim.LAMB(lr),
    "adafactor": lambda lr: optim.Adafactor(lr),
    "lion": lambda lr: optim.Lion(lr),
}
NAMES = tuple(EXPECTED_NAMED)
BATCHES = (1, 7, "full")
DTYPES = (np.float32, np.float64)
N, D = 30, 4
EPOCHS = 3
ETA0 = 0.02


def eta_for(name):
    """The constant eta0 of the comparisons: Adafactor scales its steps by max(1e-3, RMS(w)),
    so from w = 0 it needs a larger lr to move measurably in a few updates."""
    return 0.2 if name == "adafactor" else ETA0


def tolerances(dtype):
    """(rtol, atol relative to the largest reference entry)."""
    return (1e-10, 1e-12) if dtype == np.float64 else (2e-5, 1e-5)


# ---- data -------------------------------------------------------------------------------------


def regression_data(dtype=np.float64, seed=0, sparse=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, D))
    y = X @ np.array([1.5, -2.0, 0.7, 0.02]) + 0.8 + 0.1 * rng.normal(size=N)
    if sparse:
        X[rng.random(X.shape) < 0.3] = 0.0
        return sp.csr_matrix(X.astype(dtype)), y.astype(dtype)
    return X.astype(dtype), y.astype(dtype)


def binary_data(dtype=np.float64, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, D))
    y = (X @ np.array([1.0, -1.5, 0.5, 0.0]) + 0.3 + 0.7 * rng.normal(size=N) > 0).astype(int)
    return X.astype(dtype), y


def multiclass_data(dtype=np.float64, seed=2, n_classes=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, D))
    scores = X @ rng.normal(size=(D, n_classes)) + 0.5 * rng.normal(size=(N, n_classes))
    return X.astype(dtype), scores.argmax(axis=1)


# ---- the reference loop -----------------------------------------------------------------------


def loss_derivative(loss, P, y):
    """d loss / d p per row (P: scores of shape (n, K); y: -1/+1, real targets or class index)."""
    if loss == "squared_error":
        return P - y[:, None]
    if loss == "log_loss":
        return -y[:, None] * expit(-y[:, None] * P)
    if loss == "hinge":
        return np.where(y[:, None] * P <= 1.0, -y[:, None], 0.0)
    if loss == "multinomial":
        return softmax(P, axis=1) - np.eye(P.shape[1])[y.astype(int)]
    raise AssertionError(loss)


def reference_fit(X, y, *, loss, n_outputs, coef_shape, opt, eta0, dtype, penalty=None,
                  alpha=0.0, l1_ratio=0.15, fit_intercept=True, batch_size=1, max_iter=EPOCHS,
                  sample_weight=None, clip_value=None, clip_norm=None, per_sample=False):
    """coef, intercept (as `dtype`) and the number of updates whose gradient was clipped, after
    max_iter epochs of the documented algorithm with `opt` (a fresh fastdescent.optim object) as
    the update rule. Computed in float64 on the given (possibly float32-rounded) data.

    per_sample=True is scikit-learn's per-sample SGD (optimizer='sgd', batch_size=1, no
    clipping): the sample weight scales the step instead of being averaged out, and a row of
    weight zero is still an update (the L2 shrinkage)."""
    Xd = (X.toarray() if sp.issparse(X) else np.asarray(X)).astype(np.float64)
    y = np.asarray(y, dtype=np.float64)
    n, d = Xd.shape
    K = n_outputs
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    l1 = {None: 0.0, "l2": 0.0, "l1": 1.0, "elasticnet": l1_ratio}[penalty]
    penalized = penalty is not None and alpha > 0
    B = n if batch_size == "full" else batch_size
    coef = np.zeros(coef_shape)
    intercept = np.zeros(K)
    n_clipped = 0
    for _ in range(max_iter):
        for start in range(0, n, B):
            rows = slice(start, min(n, start + B))
            Xb, yb, sb = Xd[rows], y[rows], sw[rows]
            total = 1.0 if per_sample else sb.sum()
            if total == 0:
                continue  # a batch of weight zero is no update
            W = coef.reshape(K, d).copy()
            P = Xb @ W.T + intercept
            G = sb[:, None] * loss_derivative(loss, P, yb)
            g_W = G.T @ Xb / total
            g_b = G.sum(axis=0) / total
            if penalized and l1 < 1:
                g_W = g_W + alpha * (1.0 - l1) * W
            grads = [g_W.reshape(coef_shape)]
            params = [coef]
            if fit_intercept:
                grads.append(g_b)
                params.append(intercept)
            before = [g.copy() for g in grads]
            if clip_value is not None:
                clip_grad_value_(grads, clip_value)
            if clip_norm is not None:
                clip_grad_norm_(grads, clip_norm)
            n_clipped += any(not np.array_equal(a, b) for a, b in zip(before, grads))
            opt.step(params, grads)
            if penalized and l1 > 0:
                lam = eta0 * alpha * l1
                coef[...] = np.sign(coef) * np.maximum(np.abs(coef) - lam, 0.0)
    return coef.astype(dtype), intercept.astype(dtype), n_clipped


def assert_matches(est, ref_coef, ref_intercept, dtype):
    rtol, atol = tolerances(dtype)
    scale = max(np.abs(ref_coef).max(), np.abs(ref_intercept).max())
    assert scale > 1e-4, "the reference did not move: the comparison would be vacuous"
    assert est.coef_.dtype == dtype
    assert_allclose(est.coef_, ref_coef, rtol=rtol, atol=atol * scale)
    assert_allclose(est.intercept_, ref_intercept, rtol=rtol, atol=atol * scale)


def common(**kw):
    base = dict(shuffle=False, learning_rate="constant", eta0=ETA0, tol=None, max_iter=EPOCHS)
    base.update(kw)
    return base


def regressor_case(name, batch, dtype, penalty, alpha, sparse=False, fit_intercept=True,
                   sample_weight=None, **extra):
    X, y = regression_data(dtype, sparse=sparse)
    eta0 = eta_for(name)
    est = SGDRegressor(**common(optimizer=name, batch_size=batch, penalty=penalty, alpha=alpha,
                                fit_intercept=fit_intercept, eta0=eta0, **extra))
    est.fit(X, y, sample_weight=sample_weight)
    ref = reference_fit(X, y, loss="squared_error", n_outputs=1, coef_shape=(D,),
                        opt=EXPECTED_NAMED[name](eta0), eta0=eta0, dtype=dtype, penalty=penalty,
                        alpha=alpha, fit_intercept=fit_intercept, batch_size=batch,
                        sample_weight=sample_weight, **extra)
    return est, ref


# ---- every name x batch mode x dtype ----------------------------------------------------------


def test_every_accepted_name_is_covered():
    from fastdescent._base import OPTIMIZERS

    assert set(OPTIMIZERS) == set(NAMES)


@pytest.mark.parametrize("penalty", [None, "l2"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("name", NAMES)
def test_regressor_matches_numpy_loop(name, batch, dtype, penalty):
    est, (coef, intercept, _) = regressor_case(name, batch, dtype, penalty, alpha=0.05)
    assert_matches(est, coef, intercept, dtype)
    assert est.n_iter_ == EPOCHS
    n_updates = EPOCHS * (1 if batch == "full" else -(-N // batch))
    assert est.t_ == n_updates + 1


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("name", NAMES)
def test_binary_log_loss_matches_numpy_loop(name, batch, dtype):
    """log_loss on -1/+1 targets, L2 penalty, non-uniform sample weights: the weighted mean
    gradient of each batch (for a batch of one row the weight cancels), except scikit-learn's
    per-sample SGD (optimizer='sgd', batch_size=1), where the weight scales the step."""
    X, y = binary_data(dtype)
    sw = np.random.default_rng(5).uniform(0.2, 2.0, size=N)
    eta0 = eta_for(name)
    est = SGDClassifier(**common(loss="log_loss", optimizer=name, batch_size=batch, penalty="l2",
                                 alpha=0.05, eta0=eta0)).fit(X, y, sample_weight=sw)
    coef, intercept, _ = reference_fit(X, np.where(y == 1, 1.0, -1.0), loss="log_loss",
                                       n_outputs=1, coef_shape=(1, D),
                                       opt=EXPECTED_NAMED[name](eta0), eta0=eta0, dtype=dtype,
                                       penalty="l2", alpha=0.05, batch_size=batch,
                                       sample_weight=sw, per_sample=(name, batch) == ("sgd", 1))
    assert_matches(est, coef, intercept, dtype)


@pytest.mark.parametrize("batch", [7, "full"])
@pytest.mark.parametrize("name", ["adam", "lion", "momentum", "lamb"])
def test_binary_hinge_matches_numpy_loop(name, batch):
    X, y = binary_data()
    est = SGDClassifier(**common(loss="hinge", optimizer=name, batch_size=batch, penalty=None,
                                 eta0=eta_for(name)))
    est.fit(X, y)
    coef, intercept, _ = reference_fit(X, np.where(y == 1, 1.0, -1.0), loss="hinge", n_outputs=1,
                                       coef_shape=(1, D), opt=EXPECTED_NAMED[name](eta_for(name)),
                                       eta0=eta_for(name), dtype=np.float64, batch_size=batch)
    assert_matches(est, coef, intercept, np.float64)


@pytest.mark.parametrize("penalty", ["l1", "elasticnet"])
@pytest.mark.parametrize("batch", [7, "full"])
@pytest.mark.parametrize("name", NAMES)
def test_l1_proximal_step_matches_numpy_loop(name, batch, penalty):
    """The L1 part is a soft-thresholding of coef by eta alpha l1_ratio after the step (the
    per-sample path of optimizer='sgd', batch_size=1 uses scikit-learn's cumulative L1 rule
    instead, checked in test_trajectories.py)."""
    alpha = 0.5
    est, (coef, intercept, _) = regressor_case(name, batch, np.float64, penalty, alpha=alpha,
                                               l1_ratio=0.6)
    assert_matches(est, coef, intercept, np.float64)
    # The penalty matters: without it the model is a different one.
    free, _ = regressor_case(name, batch, np.float64, None, alpha=0.0)
    assert np.abs(free.coef_ - est.coef_).max() > 1e-4


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("batch", [1, 7])
@pytest.mark.parametrize("name", NAMES)
def test_csr_input_matches_numpy_loop(name, batch, dtype):
    # Plain SGD on single rows is scikit-learn's mode, whose sparse intercept decay the loop
    # does not model (test_sparse.py tests it): without an intercept there.
    fit_intercept = not (name == "sgd" and batch == 1)
    est, (coef, intercept, _) = regressor_case(name, batch, dtype, "l2", alpha=0.05, sparse=True,
                                               fit_intercept=fit_intercept)
    assert_matches(est, coef, intercept, dtype)
    dense = SGDRegressor(**est.get_params()).fit(regression_data(dtype, sparse=True)[0].toarray(),
                                                  regression_data(dtype, sparse=True)[1])
    rtol, _ = tolerances(dtype)
    assert_allclose(dense.coef_, est.coef_, rtol=10 * rtol, atol=10 * rtol)


@pytest.mark.parametrize("name", NAMES)
def test_no_intercept_leaves_intercept_alone(name):
    """fit_intercept=False: the intercept is never stepped (its optimizer state untouched)."""
    est, (coef, intercept, _) = regressor_case(name, 7, np.float64, "l2", alpha=0.05,
                                               fit_intercept=False)
    assert_array_equal(est.intercept_, [0.0])
    assert_matches(est, coef, intercept, np.float64)


@pytest.mark.parametrize("name", ["sgd", "adam", "lamb", "adagrad"])
def test_rows_of_weight_zero_count_as_absent(name):
    """A batch mean weighted by sample weights: zero-weight rows change nothing, and a batch of
    only zero-weight rows is no update (the optimizer is not stepped)."""
    X, y = regression_data()
    sw = np.random.default_rng(3).uniform(0.5, 2.0, size=N)
    sw[7:14] = 0.0  # the whole second batch of 7
    sw[[2, 20, 29]] = 0.0
    est, (coef, intercept, _) = regressor_case(name, 7, np.float64, "l2", alpha=0.05,
                                               sample_weight=sw)
    assert_matches(est, coef, intercept, np.float64)
    assert est.t_ == EPOCHS * 4 + 1  # 5 batches per epoch, one of them empty


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", ["adam", "sgd", "lamb", "adafactor"])
def test_multinomial_matches_numpy_loop(name, dtype):
    """Softmax cross-entropy, full batch. (Seed 3: no gradient entry nearly cancels, where Adam's
    m / sqrt(v) would blow float32 rounding of the gradient up beyond 1e-5.)"""
    X, y = multiclass_data(dtype, seed=3)
    eta0 = eta_for(name)
    est = SGDClassifier(**common(loss="log_loss", multi_class="multinomial", optimizer=name,
                                 batch_size="full", penalty="l2", alpha=0.05, max_iter=5,
                                 eta0=eta0))
    est.fit(X, y)
    assert est.coef_.shape == (3, D)
    coef, intercept, _ = reference_fit(X, y, loss="multinomial", n_outputs=3, coef_shape=(3, D),
                                       opt=EXPECTED_NAMED[name](eta0), eta0=eta0, dtype=dtype,
                                       penalty="l2", alpha=0.05, batch_size="full", max_iter=5)
    assert_matches(est, coef, intercept, dtype)


def test_multinomial_minibatch_adam_with_weights():
    X, y = multiclass_data(n_classes=4, seed=7)
    sw = np.random.default_rng(0).uniform(0.2, 2.0, size=N)
    est = SGDClassifier(**common(loss="log_loss", multi_class="multinomial", optimizer="adam",
                                 batch_size=7, penalty="l2", alpha=0.01)).fit(X, y, sample_weight=sw)
    coef, intercept, _ = reference_fit(X, y, loss="multinomial", n_outputs=4, coef_shape=(4, D),
                                       opt=optim.Adam(ETA0), eta0=ETA0, dtype=np.float64,
                                       penalty="l2", alpha=0.01, batch_size=7, sample_weight=sw)
    assert_matches(est, coef, intercept, np.float64)


# ---- optimizer objects with non-default hyperparameters --------------------------------------

CUSTOM = [
    optim.SGD(0.03, momentum=0.5, dampening=0.2, weight_decay=0.01),
    optim.SGD(0.03, momentum=0.7, nesterov=True, weight_decay=0.01),
    optim.Adagrad(0.05, lr_decay=0.1, weight_decay=0.01, initial_accumulator_value=0.1, eps=1e-6),
    optim.RMSprop(0.01, alpha=0.9, eps=1e-6, weight_decay=0.01, momentum=0.5, centered=True),
    optim.Adam(0.03, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.01, amsgrad=True),
    optim.AdamW(0.03, betas=(0.8, 0.95), weight_decay=0.1, amsgrad=True),
    optim.NAdam(0.03, betas=(0.85, 0.99), weight_decay=0.05, momentum_decay=1e-2,
                decoupled_weight_decay=True),
    optim.Adamax(0.03, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.01),
    optim.LAMB(0.03, betas=(0.8, 0.99), eps=1e-5, weight_decay=0.01),
    optim.Adafactor(0.5, decay_rate=0.7, clipping_threshold=None, eps=1e-20, eps_scale=1e-2,
                    momentum=0.9, weight_decay=1e-3),
    optim.Adafactor(),  # relative step size, lr=None
    optim.Lion(0.01, betas=(0.8, 0.95), weight_decay=0.1),
]


@pytest.mark.parametrize("batch", [1, "full"])
@pytest.mark.parametrize("opt", CUSTOM, ids=repr)
def test_optimizer_object_matches_numpy_loop(opt, batch):
    X, y = regression_data()
    est = SGDRegressor(**common(optimizer=opt, batch_size=batch, penalty="l2", alpha=0.05,
                                learning_rate="invscaling", eta0=7.0)).fit(X, y)
    assert opt.step_count == 0 and opt.state == []  # the estimator never steps the object itself
    coef, intercept, _ = reference_fit(X, y, loss="squared_error", n_outputs=1, coef_shape=(D,),
                                       opt=copy.deepcopy(opt), eta0=opt.lr, dtype=np.float64,
                                       penalty="l2", alpha=0.05, batch_size=batch)
    if opt.lr is None:  # relative steps are small: 1e-2 * max(1e-3, RMS(w))
        assert np.abs(est.coef_).max() > 1e-5
        assert_allclose(est.coef_, coef, rtol=1e-10, atol=1e-16)
        assert_allclose(est.intercept_, intercept, rtol=1e-10, atol=1e-16)
    else:
        assert_matches(est, coef, intercept, np.float64)


# ---- clipping ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("name", ["sgd", "momentum", "adam", "lamb", "adafactor", "lion"])
@pytest.mark.parametrize("clip", ["value", "norm"])
def test_clipping_matches_numpy_loop(clip, name, batch, dtype):
    """clip_value clamps every entry of [g_coef, g_intercept]; clip_norm rescales both arrays by
    their global L2 norm (torch's clip_grad_norm_). Clipping happens after the L2 gradient."""
    kw = {"clip_value": 0.3} if clip == "value" else {"clip_norm": 0.5}
    est, (coef, intercept, n_clipped) = regressor_case(name, batch, dtype, "l2", alpha=0.05, **kw)
    assert n_clipped > 0  # the bound is active
    assert_matches(est, coef, intercept, dtype)
    if name not in ("lamb", "lion", "adafactor"):
        # Clipping changes these models, so the comparison tells clipping from no clipping
        # (Lion's sign, LAMB's trust ratio and Adafactor's g / sqrt(V) can make a rescaled
        # gradient nearly irrelevant).
        unclipped, _ = regressor_case(name, batch, dtype, "l2", alpha=0.05)
        assert np.abs(unclipped.coef_ - est.coef_).max() > 1e-6


@pytest.mark.parametrize("name", ["sgd", "adam", "rmsprop"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_clip_norm_is_global_over_coef_and_intercept(name, fit_intercept):
    """With a single bound active on the joint norm, per-array clipping would differ; without an
    intercept, only the coefficient gradient counts."""
    est, (coef, intercept, n_clipped) = regressor_case(name, 7, np.float64, None, alpha=0.0,
                                                       fit_intercept=fit_intercept, clip_norm=1.0)
    assert n_clipped > 0
    assert_matches(est, coef, intercept, np.float64)
    if fit_intercept:
        # Clipping each array by its own norm gives another model, so the test sees the rule.
        X, y = regression_data()
        opt = EXPECTED_NAMED[name](ETA0)
        c, b = np.zeros(D), np.zeros(1)
        for _ in range(EPOCHS):
            for s in range(0, N, 7):
                Xb, yb = X[s:s + 7], y[s:s + 7]
                r = Xb @ c + b[0] - yb
                grads = [Xb.T @ r / len(yb), np.array([r.mean()])]
                for g in grads:
                    clip_grad_norm_(g, 1.0)
                opt.step([c, b], grads)
        assert np.abs(c - est.coef_).max() > 1e-6


def test_clip_value_and_norm_together():
    est, (coef, intercept, n_clipped) = regressor_case("adam", 7, np.float64, "l2", alpha=0.05,
                                                       clip_value=0.3, clip_norm=0.4)
    assert n_clipped > 0
    assert_matches(est, coef, intercept, np.float64)


def test_clipping_classifier_multinomial():
    X, y = multiclass_data()
    est = SGDClassifier(**common(loss="log_loss", multi_class="multinomial", optimizer="adam",
                                 batch_size=7, penalty=None, clip_norm=0.2)).fit(X, y)
    coef, intercept, n_clipped = reference_fit(X, y, loss="multinomial", n_outputs=3,
                                               coef_shape=(3, D), opt=optim.Adam(ETA0),
                                               eta0=ETA0, dtype=np.float64, batch_size=7,
                                               clip_norm=0.2)
    assert n_clipped > 0
    assert_matches(est, coef, intercept, np.float64)


# ---- the step-size rule -----------------------------------------------------------------------


def test_object_lr_equals_name_with_constant_eta0():
    X, y = regression_data()
    kw = dict(shuffle=False, tol=None, max_iter=5, batch_size=7)
    by_object = SGDRegressor(optimizer=optim.Adam(lr=0.05), **kw).fit(X, y)
    by_name = SGDRegressor(optimizer="adam", learning_rate="constant", eta0=0.05, **kw).fit(X, y)
    assert np.abs(by_object.coef_).max() > 0.1
    assert_array_equal(by_object.coef_, by_name.coef_)
    assert_array_equal(by_object.intercept_, by_name.intercept_)
    # A different eta0 with the name is a different model; with the object it changes nothing.
    other_name = SGDRegressor(optimizer="adam", learning_rate="constant", eta0=0.01, **kw).fit(X, y)
    assert np.abs(other_name.coef_ - by_name.coef_).max() > 1e-3
    for learning_rate, eta0 in [("constant", 0.01), ("invscaling", 3.0), ("optimal", 1.0),
                                ("adaptive", 1e-4)]:
        est = SGDRegressor(optimizer=optim.Adam(lr=0.05), learning_rate=learning_rate, eta0=eta0,
                           **kw).fit(X, y)
        assert_array_equal(est.coef_, by_object.coef_)
        assert_array_equal(est.intercept_, by_object.intercept_)


@pytest.mark.parametrize("name", [n for n in NAMES if n != "sgd"])
def test_name_follows_eta0_and_schedule(name):
    """With a name, learning_rate and eta0 set the step size (for every name)."""
    X, y = regression_data()
    kw = dict(shuffle=False, tol=None, max_iter=3, batch_size=7, optimizer=name, penalty=None)
    eta0 = eta_for(name)
    a = SGDRegressor(learning_rate="constant", eta0=eta0, **kw).fit(X, y)
    b = SGDRegressor(learning_rate="constant", eta0=eta0 / 4, **kw).fit(X, y)
    c = SGDRegressor(learning_rate="invscaling", eta0=eta0, **kw).fit(X, y)
    scale = np.abs(a.coef_).max()
    assert np.abs(a.coef_ - b.coef_).max() > 0.1 * scale
    assert np.abs(a.coef_ - c.coef_).max() > 0.01 * scale


def test_object_schedule_is_not_used_by_the_trainer_but_lr_float_is():
    """Two objects that differ only in lr give different models; the default lr applies."""
    X, y = regression_data()
    kw = dict(shuffle=False, tol=None, max_iter=3, batch_size=7)
    a = SGDRegressor(optimizer=optim.Lion(lr=0.01), **kw).fit(X, y)
    b = SGDRegressor(optimizer=optim.Lion(lr=0.002), **kw).fit(X, y)
    default = SGDRegressor(optimizer=optim.Lion(), **kw).fit(X, y)  # lr=1e-4
    ref = SGDRegressor(optimizer="lion", learning_rate="constant", eta0=1e-4, **kw).fit(X, y)
    assert np.abs(a.coef_ - b.coef_).max() > 1e-3
    assert_array_equal(default.coef_, ref.coef_)


# ---- real data --------------------------------------------------------------------------------

# A constant eta0 that suits each name on standardized breast_cancer (batch 32, 50 epochs).
GOOD_ETA0 = {"sgd": 0.3, "momentum": 0.03, "nesterov": 0.03, "adagrad": 0.3, "rmsprop": 0.03,
             "adam": 0.03, "adamw": 0.03, "nadam": 0.03, "adamax": 0.03, "lamb": 0.03,
             "adafactor": 0.1, "lion": 0.03}


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    scaler = StandardScaler().fit(X_tr)
    return scaler.transform(X_tr), scaler.transform(X_te), y_tr, y_te


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    return X[:900], y[:900]


def cancer_model(name, **kw):
    params = dict(loss="log_loss", optimizer=name, learning_rate="constant",
                  eta0=GOOD_ETA0[name], batch_size=32, max_iter=50, tol=None, random_state=0)
    params.update(kw)
    return SGDClassifier(**params)


@pytest.mark.parametrize("name", NAMES)
def test_accuracy_on_breast_cancer(name, cancer):
    X_tr, X_te, y_tr, y_te = cancer
    dense = cancer_model(name).fit(X_tr, y_tr)
    assert dense.score(X_te, y_te) >= 0.95
    # float32 input trains in float32 and is as good.
    f32 = cancer_model(name).fit(X_tr.astype(np.float32), y_tr)
    assert f32.coef_.dtype == np.float32
    assert f32.score(X_te.astype(np.float32), y_te) >= 0.95
    assert_allclose(f32.coef_, dense.coef_, rtol=0, atol=1e-2 * np.abs(dense.coef_).max())
    # Early stopping on a held-out tenth.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        early = cancer_model(name, early_stopping=True, tol=1e-4, n_iter_no_change=5,
                             max_iter=200).fit(X_tr, y_tr)
    assert early.n_iter_ < 200
    assert early.score(X_te, y_te) >= 0.93


@pytest.mark.parametrize("name", NAMES)
def test_digits_threads_give_the_same_model(name, digits):
    X, y = digits
    kw = dict(loss="log_loss", optimizer=name, learning_rate="constant", eta0=GOOD_ETA0[name],
              batch_size=32, max_iter=5, tol=None, random_state=0)
    one = SGDClassifier(n_jobs=1, **kw).fit(X, y)
    two = SGDClassifier(n_jobs=2, **kw).fit(X, y)
    assert one.coef_.shape == (10, X.shape[1])
    assert one.score(X, y) >= 0.85
    # One-vs-rest classes run in parallel, each with one thread: bit-identical.
    assert_array_equal(two.coef_, one.coef_)
    assert_array_equal(two.intercept_, one.intercept_)


@pytest.mark.parametrize("name, eta0", [("sgd", 0.3), ("adam", 0.1), ("lamb", 0.1), ("rmsprop", 0.03)])
def test_digits_multinomial_threads(name, eta0, digits):
    """Full-batch multinomial: the batch gradient is split over threads (summation order per
    thread count), so n_jobs=2 agrees to rounding. (Not Adafactor: with eps=1e-30 its first
    update is sign(g), so a gradient entry that cancels to rounding level flips with the
    summation order.)"""
    X, y = digits
    kw = dict(loss="log_loss", multi_class="multinomial", optimizer=name,
              learning_rate="constant", eta0=eta0, batch_size="full", max_iter=20,
              tol=None)
    one = SGDClassifier(n_jobs=1, **kw).fit(X, y)
    two = SGDClassifier(n_jobs=2, **kw).fit(X, y)
    assert one.score(X, y) >= 0.85
    assert_allclose(two.coef_, one.coef_, rtol=1e-7, atol=1e-9 * np.abs(one.coef_).max())


# ---- invalid parameters -----------------------------------------------------------------------


@pytest.mark.parametrize("Est", [SGDRegressor, SGDClassifier])
@pytest.mark.parametrize("params, message", [
    (dict(optimizer="adamm"), r"optimizer.*adam"),
    (dict(optimizer="Adam"), r"optimizer"),
    (dict(optimizer=optim.Adam), r"optimizer"),  # the class, not an instance
    (dict(clip_value=0.0), r"clip_value"),
    (dict(clip_value=-1.0), r"clip_value"),
    (dict(clip_norm=0.0), r"clip_norm"),
    (dict(clip_norm=-0.5), r"clip_norm"),
])
def test_invalid_parameters(Est, params, message):
    X, y = binary_data()
    with pytest.raises(ValueError, match=message):
        Est(**params).fit(X, y)


def test_passive_aggressive_needs_plain_sgd():
    X, y = binary_data()
    with pytest.raises(ValueError, match=r"batch_size=1 and optimizer='sgd'.*'adam'"):
        SGDClassifier(loss="hinge", learning_rate="pa1", optimizer="adam").fit(X, y)
    with pytest.raises(ValueError, match=r"batch_size=1 and optimizer='sgd'"):
        SGDRegressor(loss="epsilon_insensitive", learning_rate="pa2",
                     optimizer=optim.Adam()).fit(X, y)
    with pytest.raises(ValueError, match=r"per-sample rule"):
        SGDClassifier(loss="hinge", learning_rate="pa1", clip_norm=1.0).fit(X, y)
    # ... while plain per-sample SGD accepts it.
    SGDClassifier(loss="hinge", learning_rate="pa1", optimizer="sgd").fit(X, y)


# ---- scikit-learn tooling with an optimizer object -------------------------------------------


def test_clone_get_params_pickle_with_optimizer_object():
    X, y = regression_data()
    opt = optim.Adam(lr=0.03, betas=(0.8, 0.99), amsgrad=True)
    est = SGDRegressor(optimizer=opt, batch_size=7, shuffle=False, tol=None, max_iter=4,
                       clip_norm=2.0)
    assert est.get_params()["optimizer"] is opt
    assert "optimizer" in est.get_params(deep=False)

    cloned = clone(est)
    assert cloned.optimizer is not opt
    assert isinstance(cloned.optimizer, optim.Adam)
    assert cloned.optimizer.lr == 0.03
    assert cloned.optimizer.hyperparameters() == opt.hyperparameters()
    assert cloned.clip_norm == 2.0

    est.fit(X, y)
    cloned.fit(X, y)
    assert np.abs(est.coef_).max() > 0.05
    assert_array_equal(cloned.coef_, est.coef_)

    restored = pickle.loads(pickle.dumps(est))
    assert isinstance(restored.optimizer, optim.Adam)
    assert restored.optimizer.hyperparameters() == opt.hyperparameters()
    assert_array_equal(restored.predict(X), est.predict(X))
    refit = clone(restored).fit(X, y)
    assert_array_equal(refit.coef_, est.coef_)

    # set_params swaps the rule.
    est.set_params(optimizer="sgd", learning_rate="constant", eta0=0.03)
    est.fit(X, y)
    assert np.abs(est.coef_ - cloned.coef_).max() > 1e-3


def test_classifier_clone_with_optimizer_object_in_grid():
    from sklearn.model_selection import GridSearchCV

    X, y = binary_data()
    grid = GridSearchCV(
        SGDClassifier(loss="log_loss", batch_size=5, max_iter=20, tol=None, random_state=0),
        {"optimizer": [optim.Adam(lr=0.05), optim.Lion(lr=0.005), "momentum"]}, cv=3,
    ).fit(X, y)
    assert len(grid.cv_results_["params"]) == 3
    assert grid.best_score_ > 0.6
