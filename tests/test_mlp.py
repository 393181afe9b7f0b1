"""MLPClassifier and MLPRegressor: the C++ network against a NumPy reference written from the
equations (gradients, trajectories), against finite differences, against scikit-learn's own
MLP (same random_state: same initial weights and batches, same trajectory), its estimator
checks, and the bad inputs every estimator refuses."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits, make_multilabel_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor
from sklearn.utils.estimator_checks import parametrize_with_checks

import fastdescent as fd
from fastdescent import _core, callbacks, optim

ACTIVATIONS = ["identity", "logistic", "tanh", "relu"]
LOSSES = ["squared_error", "poisson", "log_loss", "binary_log_loss"]


# ---- a NumPy reference from the equations ----------------------------------------------------


def act(name, z):
    return {
        "identity": lambda: z,
        "logistic": lambda: 1 / (1 + np.exp(-z)),
        "tanh": lambda: np.tanh(z),
        "relu": lambda: np.maximum(z, 0),
        "exp": lambda: np.exp(z),
        "softmax": lambda: np.exp(z - z.max(1, keepdims=True))
        / np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True),
    }[name]()


def act_derivative(name, a):  # in terms of the activation's value
    return {
        "identity": np.ones_like(a),
        "logistic": a * (1 - a),
        "tanh": 1 - a**2,
        "relu": (a > 0).astype(a.dtype),
    }[name]


OUTPUT = {"squared_error": "identity", "poisson": "exp", "log_loss": "softmax", "binary_log_loss": "logistic"}


def row_losses(loss, a, y):
    eps = np.finfo(a.dtype).eps
    if loss == "squared_error":
        return ((y - a) ** 2).sum(1) / (2 * y.shape[1])
    if loss == "poisson":
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(y > 0, y * np.log(y / a), 0.0)
        return (t - y + a).sum(1)
    q = np.clip(a, eps, 1 - eps)
    if loss == "log_loss":
        return -(np.where(y > 0, y * np.log(q), 0.0)).sum(1)
    return -(y * np.log(q) + (1 - y) * np.log(1 - q)).sum(1)


def reference_loss_grad(X, Y, sw, W, b, hidden, loss, alpha):
    """scikit-learn's MLP objective and gradient, written from the equations."""
    A = [X]
    for layer in range(len(W)):
        z = A[-1] @ W[layer] + b[layer]
        A.append(act(OUTPUT[loss] if layer == len(W) - 1 else hidden, z))
    w = np.ones(X.shape[0]) if sw is None else sw
    s = w.sum()
    value = (w * row_losses(loss, A[-1], Y)).sum() / s + 0.5 * alpha * sum((c**2).sum() for c in W) / s
    delta = (A[-1] - Y) * w[:, None]
    gW, gb = [None] * len(W), [None] * len(W)
    for layer in range(len(W) - 1, -1, -1):
        gW[layer] = (A[layer].T @ delta + alpha * W[layer]) / s
        gb[layer] = delta.sum(0) / s
        if layer:
            delta = (delta @ W[layer].T) * act_derivative(hidden, A[layer])
    return value, gW, gb


def reference_train(X, Y, W, b, hidden, loss, alpha, batch, epochs, solver, lr, momentum=0.9,
                    nesterov=True, betas=(0.9, 0.999), eps=1e-8):
    """scikit-learn's solvers from their equations, rows in order."""
    W, b = [w.copy() for w in W], [v.copy() for v in b]
    params = W + b
    vel = [np.zeros_like(p) for p in params]
    m1 = [np.zeros_like(p) for p in params]
    m2 = [np.zeros_like(p) for p in params]
    t = 0
    for _ in range(epochs):
        for start in range(0, X.shape[0], batch):
            sl = slice(start, start + batch)
            _, gW, gb = reference_loss_grad(X[sl], Y[sl], None, W, b, hidden, loss, alpha)
            grads = gW + gb
            t += 1
            for k, (p, g) in enumerate(zip(params, grads)):
                if solver == "sgd":
                    vel[k] = momentum * vel[k] - lr * g
                    p += momentum * vel[k] - lr * g if nesterov else vel[k]
                else:
                    m1[k] = betas[0] * m1[k] + (1 - betas[0]) * g
                    m2[k] = betas[1] * m2[k] + (1 - betas[1]) * g**2
                    step = lr * np.sqrt(1 - betas[1] ** t) / (1 - betas[0] ** t)
                    p -= step * m1[k] / (np.sqrt(m2[k]) + eps)
    return W, b


def problem(loss, dtype, n=37, d=6, hidden=(5, 4), seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(dtype)
    K = 3
    if loss == "log_loss":
        Y = np.eye(K)[rng.integers(0, K, n)]
    elif loss == "binary_log_loss":
        Y = (rng.random((n, K)) < 0.5).astype(float)
    elif loss == "poisson":
        Y = rng.poisson(1.5, size=(n, K)).astype(float)
    else:
        Y = rng.normal(size=(n, K))
    units = [d, *hidden, K]
    W = [(rng.normal(size=(a, c)) * 0.3).astype(dtype) for a, c in zip(units[:-1], units[1:])]
    b = [(rng.normal(size=c) * 0.1).astype(dtype) for c in units[1:]]
    return X, Y.astype(dtype), W, b


def core_loss_grad(X, Y, sw, W, b, hidden, loss, alpha):
    gW = [np.zeros_like(w) for w in W]
    gb = [np.zeros_like(v) for v in b]
    value = _core.mlp_loss_gradient(
        X, Y.ravel(), sw, W, b, gW, gb, getattr(_core.Activation, hidden), getattr(_core.MlpLoss, loss), alpha
    )
    return value, gW, gb


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("hidden", ACTIVATIONS)
def test_loss_and_gradient_match_the_reference(loss, hidden, dtype):
    X, Y, W, b = problem(loss, dtype)
    sw = np.random.default_rng(1).uniform(0.5, 2, X.shape[0]).astype(dtype)
    got = core_loss_grad(X, Y, sw, W, b, hidden, loss, 0.3)
    want = reference_loss_grad(*(a.astype(np.float64) for a in (X, Y, sw)), [w.astype(np.float64) for w in W],
                               [v.astype(np.float64) for v in b], hidden, loss, 0.3)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    assert got[0] == pytest.approx(want[0], rel=tol)
    for g, w in zip(got[1] + got[2], want[1] + want[2]):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, w, rtol=tol * 10, atol=tol)


def gradient_objective(X, Y, W, b, hidden, loss, alpha):
    """The objective whose gradient the network computes: scikit-learn's loss, except that its
    squared error averages over the outputs in the value but not in the gradient (the delta is
    p - y for every output), so with K outputs the gradient is that of K times the data part."""
    value = core_loss_grad(X, Y, None, W, b, hidden, loss, alpha)[0]
    if loss != "squared_error":
        return value
    penalty = 0.5 * alpha * sum((w**2).sum() for w in W) / X.shape[0]
    return Y.shape[1] * (value - penalty) + penalty


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("hidden", ["identity", "logistic", "tanh"])  # relu: kinks
def test_gradient_matches_finite_differences(loss, hidden):
    X, Y, W, b = problem(loss, np.float64, n=11)
    value, gW, gb = core_loss_grad(X, Y, None, W, b, hidden, loss, 0.1)
    h = 1e-6
    for params, grads in ((W, gW), (b, gb)):
        for p, g in zip(params, grads):
            flat, gflat = p.reshape(-1), g.reshape(-1)
            for j in range(0, flat.size, max(1, flat.size // 7)):
                keep = flat[j]
                flat[j] = keep + h
                up = gradient_objective(X, Y, W, b, hidden, loss, 0.1)
                flat[j] = keep - h
                down = gradient_objective(X, Y, W, b, hidden, loss, 0.1)
                flat[j] = keep
                assert gflat[j] == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-8)


def test_relu_gradient_matches_finite_differences_away_from_kinks():
    X, Y, W, b = problem("squared_error", np.float64, n=9)
    value, gW, gb = core_loss_grad(X, Y, None, W, b, "relu", "squared_error", 0.0)
    h = 1e-7
    flat = W[0].reshape(-1)
    for j in range(flat.size):
        keep = flat[j]
        flat[j] = keep + h
        up = gradient_objective(X, Y, W, b, "relu", "squared_error", 0.0)
        flat[j] = keep - h
        down = gradient_objective(X, Y, W, b, "relu", "squared_error", 0.0)
        flat[j] = keep
        assert gW[0].reshape(-1)[j] == pytest.approx((up - down) / (2 * h), rel=1e-4, abs=1e-7)


def test_forward_matches_the_reference_dense_and_csr(dtype):
    X, Y, W, b = problem("log_loss", dtype)
    X[np.abs(X) < 0.7] = 0
    out = np.empty((X.shape[0], 3), dtype=dtype)
    _core.mlp_forward(X, W, b, _core.Activation.tanh, _core.MlpLoss.log_loss, out)
    A = X.astype(np.float64)
    for layer, (w, v) in enumerate(zip(W, b)):
        A = act("softmax" if layer == len(W) - 1 else "tanh", A @ w + v)
    np.testing.assert_allclose(out, A, rtol=1e-5 if dtype == np.float32 else 1e-12)
    S = sp.csr_matrix(X)
    out_csr = np.empty_like(out)
    _core.mlp_forward((S.data, S.indices, S.indptr, S.shape[1]), W, b, _core.Activation.tanh,
                      _core.MlpLoss.log_loss, out_csr)
    np.testing.assert_allclose(out_csr, out, rtol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("hidden", ACTIVATIONS)
def test_trajectory_matches_the_reference(solver, hidden, dtype):
    X, Y, W0, b0 = problem("squared_error", dtype, n=50)
    est = fd.MLPRegressor(hidden_layer_sizes=(5, 4), activation=hidden, solver=solver, batch_size=16,
                          max_iter=3, shuffle=False, learning_rate_init=0.01, alpha=0.01, tol=0)
    W, b = [w.copy() for w in W0], [v.copy() for v in b0]
    est.coefs_, est.intercepts_ = W, b  # warm start from the reference's weights
    est.set_params(warm_start=True)
    est.n_outputs_, est.t_, est.loss_curve_ = 3, 0, []
    est.n_features_in_ = X.shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, Y)
    RW, Rb = reference_train(X.astype(np.float64), Y.astype(np.float64), [w.astype(np.float64) for w in W0],
                             [v.astype(np.float64) for v in b0], hidden, "squared_error", 0.01, 16, 3,
                             solver, 0.01)
    tol = 2e-4 if dtype == np.float32 else 1e-10
    for got, want in zip(est.coefs_ + est.intercepts_, RW + Rb):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


# ---- scikit-learn's MLP: same weights, same trajectory -------------------------------------


def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def fit_both(cls_ours, cls_sk, X, y, sample_weight=None, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = cls_ours(**kw).fit(X, y, sample_weight=sample_weight)
        sk = cls_sk(**kw).fit(X, y, sample_weight=sample_weight)
    return ours, sk


def assert_same_model(ours, sk, tol=1e-10):
    assert ours.n_iter_ == sk.n_iter_
    assert ours.t_ == sk.t_
    assert ours.n_layers_ == sk.n_layers_ and ours.n_outputs_ == sk.n_outputs_
    assert ours.out_activation_ == sk.out_activation_
    for a, b in zip(ours.coefs_ + ours.intercepts_, sk.coefs_ + sk.intercepts_):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    np.testing.assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=tol)
    assert ours.loss_ == pytest.approx(sk.loss_, rel=tol)


@pytest.mark.parametrize(
    "kw",
    [
        dict(solver="adam"),
        dict(solver="sgd"),
        dict(solver="sgd", nesterovs_momentum=False, learning_rate="invscaling", learning_rate_init=0.1),
        dict(solver="sgd", momentum=0.0, learning_rate="adaptive", learning_rate_init=0.05),
        dict(solver="adam", activation="tanh", alpha=0.01, batch_size=64),
        dict(solver="adam", activation="logistic", hidden_layer_sizes=(20, 10)),
        dict(solver="sgd", activation="identity", learning_rate_init=0.01),
    ],
    ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()),
)
def test_classifier_follows_sklearn(kw):
    X, y = digits()
    params = dict(hidden_layer_sizes=(16,), shuffle=False, random_state=0, max_iter=8, tol=1e-4)
    params.update(kw)
    ours, sk = fit_both(fd.MLPClassifier, SkMLPClassifier, X, y, **params)
    assert_same_model(ours, sk, tol=1e-9)
    np.testing.assert_allclose(ours.predict_proba(X), sk.predict_proba(X), rtol=1e-8, atol=1e-12)
    np.testing.assert_array_equal(ours.predict(X), sk.predict(X))


@pytest.mark.parametrize("kw", [dict(solver="adam"), dict(solver="sgd", early_stopping=True, n_iter_no_change=2)])
def test_shuffled_fits_follow_sklearn(kw):
    """The same random_state gives the same initial weights, split and batch order."""
    X, y = digits()
    ours, sk = fit_both(fd.MLPClassifier, SkMLPClassifier, X, y, hidden_layer_sizes=(16,), random_state=7,
                        max_iter=6, **kw)
    assert_same_model(ours, sk, tol=1e-9)
    reg, sk_reg = fit_both(fd.MLPRegressor, SkMLPRegressor, X, y / 10.0, hidden_layer_sizes=(8,), random_state=2,
                           max_iter=4, batch_size=100)
    assert_same_model(reg, sk_reg, tol=1e-9)


def test_binary_weighted_early_stopping_follows_sklearn():
    X, y = digits()
    y = (y > 4).astype(int)
    sw = np.random.default_rng(0).uniform(0.2, 3.0, y.shape[0])
    params = dict(hidden_layer_sizes=(8,), shuffle=False, random_state=1, max_iter=40,
                  early_stopping=True, n_iter_no_change=3, learning_rate_init=0.01)
    ours, sk = fit_both(fd.MLPClassifier, SkMLPClassifier, X, y, sample_weight=sw, **params)
    assert_same_model(ours, sk, tol=1e-8)
    np.testing.assert_allclose(ours.validation_scores_, sk.validation_scores_)
    assert ours.best_validation_score_ == pytest.approx(sk.best_validation_score_, rel=1e-12)
    assert ours.best_loss_ is None and sk.best_loss_ is None


def test_multilabel_follows_sklearn():
    X, Y = make_multilabel_classification(n_samples=300, n_features=10, n_classes=4, random_state=0)
    params = dict(hidden_layer_sizes=(12,), shuffle=False, random_state=0, max_iter=6, batch_size=50)
    ours, sk = fit_both(fd.MLPClassifier, SkMLPClassifier, X, Y, **params)
    assert_same_model(ours, sk)
    np.testing.assert_array_equal(ours.predict(X), sk.predict(X))
    assert ours.score(X, Y) == sk.score(X, Y)


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
@pytest.mark.parametrize("outputs", [1, 3])
def test_regressor_follows_sklearn(loss, outputs):
    X, y = make_regression(n_samples=240, n_features=8, n_targets=outputs, noise=1, random_state=0)
    if loss == "poisson":
        y = np.random.default_rng(0).poisson(np.exp(0.3 * np.tanh(X[:, :1] + X[:, 1:2]))) * np.ones((1, outputs))
        y = y.ravel() if outputs == 1 else y
    else:
        y = y / np.std(y)
    params = dict(loss=loss, hidden_layer_sizes=(10,), shuffle=False, random_state=0, max_iter=7,
                  batch_size=32, learning_rate_init=0.01)
    ours, sk = fit_both(fd.MLPRegressor, SkMLPRegressor, X, y, **params)
    assert_same_model(ours, sk)
    np.testing.assert_allclose(ours.predict(X), sk.predict(X), rtol=1e-9)
    assert ours.score(X, y) == pytest.approx(sk.score(X, y), rel=1e-9)


def test_float32_trains_in_float32_and_follows_sklearn():
    X, y = digits()
    X = X.astype(np.float32)
    params = dict(hidden_layer_sizes=(16,), shuffle=False, random_state=0, max_iter=4)
    ours, sk = fit_both(fd.MLPClassifier, SkMLPClassifier, X, y, **params)
    assert all(c.dtype == np.float32 for c in ours.coefs_ + ours.intercepts_)
    assert_same_model(ours, sk, tol=2e-4)


def test_partial_fit_and_warm_start_follow_sklearn():
    X, y = digits()
    kw = dict(hidden_layer_sizes=(16,), shuffle=False, random_state=0, solver="sgd", learning_rate="invscaling",
              learning_rate_init=0.05, max_iter=3)
    ours, sk = fd.MLPClassifier(**kw), SkMLPClassifier(**kw)
    for _ in range(3):
        ours.partial_fit(X, y, classes=np.arange(10))
        sk.partial_fit(X, y, classes=np.arange(10))
    assert_same_model(ours, sk)
    ours_w, sk_w = fd.MLPClassifier(warm_start=True, **kw), SkMLPClassifier(warm_start=True, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(2):
            ours_w.fit(X, y)
            sk_w.fit(X, y)
    assert_same_model(ours_w, sk_w)


def test_lbfgs_reaches_sklearns_solution():
    X, y = digits()
    ours, sk = fit_both(fd.MLPClassifier, SkMLPClassifier, X[:600], y[:600], solver="lbfgs",
                        hidden_layer_sizes=(10,), random_state=0, max_iter=50)
    assert ours.loss_ == pytest.approx(sk.loss_, rel=1e-6)
    for a, b in zip(ours.coefs_, sk.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert not hasattr(ours, "partial_fit")
    reg = fd.MLPRegressor(solver="lbfgs", hidden_layer_sizes=(5,), max_iter=500, random_state=0)
    Xr, yr = make_regression(n_samples=200, n_features=4, random_state=0)
    assert reg.fit(Xr, yr / yr.std()).score(Xr, yr / yr.std()) > 0.99


def test_csr_input_trains_as_dense():
    X, y = digits()
    dense = fd.MLPClassifier(hidden_layer_sizes=(16,), random_state=0, max_iter=5).fit(X, y)
    sparse = fd.MLPClassifier(hidden_layer_sizes=(16,), random_state=0, max_iter=5).fit(sp.csr_matrix(X), y)
    for a, b in zip(dense.coefs_ + dense.intercepts_, sparse.coefs_ + sparse.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sparse.predict_proba(sp.csr_matrix(X)), dense.predict_proba(X), atol=1e-12)


# ---- what fastdescent adds -----------------------------------------------------------------


@pytest.mark.parametrize(
    "optimizer, lr",
    [("adamw", 1e-2), ("lion", 3e-3), ("nesterov", 0.05), ("rmsprop", 3e-3), ("adafactor", 3e-2),
     (optim.Adam(lr=3e-3), 1.0)],  # an optimizer object's lr wins over learning_rate_init
)
def test_any_optimizer_trains(optimizer, lr):
    X, y = digits()
    clf = fd.MLPClassifier(hidden_layer_sizes=(32,), optimizer=optimizer, max_iter=15, random_state=0,
                           learning_rate_init=lr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert clf.score(X, y) > 0.9


def test_optimizer_adam_uses_pytorch_equations():
    X, Y, W0, b0 = problem("squared_error", np.float64, n=32)
    est = fd.MLPRegressor(hidden_layer_sizes=(5, 4), optimizer="adam", batch_size=32, max_iter=1,
                          shuffle=False, learning_rate_init=0.01, alpha=0.0, tol=0, warm_start=True)
    est.coefs_, est.intercepts_ = [w.copy() for w in W0], [v.copy() for v in b0]
    est.n_outputs_, est.t_, est.loss_curve_, est.n_features_in_ = 3, 0, [], X.shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, Y)
    _, gW, gb = reference_loss_grad(X, Y, None, W0, b0, "relu", "squared_error", 0.0)
    for got, p, g in zip(est.coefs_ + est.intercepts_, W0 + b0, gW + gb):
        # torch's first Adam step: lr * g / (|g| + eps) with eps after the bias correction.
        np.testing.assert_allclose(got, p - 0.01 * g / (np.abs(g) + 1e-8), rtol=1e-12, atol=1e-14)


def test_schedules_clipping_callbacks_and_history():
    X, y = digits()
    seen = []

    class Record(callbacks.Callback):
        def on_epoch_end(self, estimator, epoch, metrics):
            seen.append((epoch, metrics["lr"], estimator.predict(X[:5]).shape))
            return epoch >= 4

    clf = fd.MLPClassifier(hidden_layer_sizes=(16,), learning_rate="cosine", max_iter=20, clip_norm=1.0,
                           callbacks=[Record()], random_state=0, learning_rate_init=0.01)
    clf.fit(X, y)
    assert [e for e, _, _ in seen] == [1, 2, 3, 4]
    assert seen[0][1] > seen[-1][1]  # the cosine decays within the fit
    assert clf.n_iter_ == 4 and len(clf.history_["loss"]) == 4
    assert clf.history_["loss"] == clf.loss_curve_


def test_pickle_n_jobs_and_refusals():
    X, y = digits()
    clf = fd.MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, n_jobs=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict(X), clf.predict(X))
    with pytest.raises(ValueError, match="device='cuda'"):
        fd.MLPClassifier(device="cuda").fit(X, y)
    with pytest.raises(ValueError, match="lbfgs"):
        fd.MLPClassifier(solver="lbfgs", optimizer="adam").fit(X, y)
    with pytest.raises(ValueError, match="early_stopping"):
        fd.MLPClassifier(early_stopping=True).partial_fit(X, y, classes=np.arange(10))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sparse", [False, True])
def test_shards_fix_the_results_and_threads_do_not(dtype, sparse):
    """n_jobs shards per batch, each of at least 32 rows: the same shards give the same bits
    on one OpenMP thread or several (batches of 100 rows in 3 shards and a last batch of 55 in
    one; with early stopping, batches of 70 rows in 2 shards), and any shard count gives the
    one-shard trajectory up to rounding."""
    from threadpoolctl import threadpool_limits

    X, y = digits()
    X, y = X[:155].astype(dtype), y[:155]
    if sparse:
        X = sp.csr_matrix(X)
    sw = np.random.default_rng(0).uniform(0.5, 2.0, len(y))

    def fit(n_jobs, batch_size, **kw):
        clf = fd.MLPClassifier(hidden_layer_sizes=(12, 7), batch_size=batch_size, max_iter=6,
                               n_jobs=n_jobs, random_state=0, **kw)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return clf.fit(X, y, sample_weight=sw)

    rtol = 1e-9 if dtype == np.float64 else 2e-3
    for batch_size, kw in [(100, {}), (70, {"early_stopping": True, "validation_fraction": 0.2})]:
        three = fit(3, batch_size, **kw)
        with threadpool_limits(limits=1, user_api="openmp"):
            three_on_one = fit(3, batch_size, **kw)
        one = fit(1, batch_size, **kw)
        for a, b, c in zip(three.coefs_ + three.intercepts_, three_on_one.coefs_ + three_on_one.intercepts_,
                           one.coefs_ + one.intercepts_):
            np.testing.assert_array_equal(a, b)
            np.testing.assert_allclose(a, c, rtol=rtol, atol=rtol * 1e-2)
        np.testing.assert_allclose(three.loss_curve_, one.loss_curve_, rtol=rtol)


# ---- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [fd.MLPClassifier, fd.MLPRegressor])
def test_bad_input_is_refused_clearly(cls):
    X, y = digits()
    y = y if cls is fd.MLPClassifier else y.astype(float)
    est = cls(hidden_layer_sizes=(4,), max_iter=2)
    bad = X.copy()
    bad[3, 4] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        est.fit(bad, y)
    bad[3, 4] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        est.fit(bad, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        est.fit(X, y[:-1])
    with pytest.raises(ValueError, match="0 sample"):
        est.fit(X[:0], y[:0])
    for sizes in [(0,), (5, 0), ()]:
        if sizes == ():
            continue
        with pytest.raises(ValueError, match="hidden_layer_sizes must be > 0"):
            cls(hidden_layer_sizes=sizes).fit(X, y)
    with pytest.raises(ValueError, match="learning_rate_init"):
        cls(learning_rate_init=-1).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    with pytest.raises(ValueError, match="features"):
        est.predict(X[:, :10])
    with pytest.raises(ValueError, match="sample_weight"):
        cls(max_iter=1).fit(X, y, sample_weight=np.full(len(y), np.nan))


def test_one_class_and_divergence_are_refused():
    X, y = digits()
    with pytest.raises(ValueError, match="at least 2 classes"):
        fd.MLPClassifier().fit(X, np.zeros(len(y)))
    with pytest.raises(ValueError, match="non-negative"):
        fd.MLPRegressor(loss="poisson").fit(X, -np.ones(len(y)))
    with pytest.raises(ValueError, match="step size of 1e\\+06"):
        fd.MLPRegressor(solver="sgd", learning_rate_init=1e6, max_iter=5).fit(X * 100, y * 1e3)


# ---- scikit-learn's estimator checks ---------------------------------------------------------


@parametrize_with_checks([fd.MLPClassifier(max_iter=100), fd.MLPRegressor(max_iter=100)])
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


def test_verbose_reports_every_epoch(capsys):
    X, y = digits()
    fd.MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, verbose=2, tol=0.5, random_state=0).fit(X, y)
    out = capsys.readouterr()
    assert out.out.count("-- Epoch") == 3
    assert "MLPClassifier" in out.err  # the progress bar


@pytest.mark.parametrize("ours, theirs", [(fd.MLPClassifier, SkMLPClassifier), (fd.MLPRegressor, SkMLPRegressor)])
def test_every_sklearn_parameter_with_its_default(ours, theirs):
    mine, sk = ours().get_params(), theirs().get_params()
    assert {k: mine[k] for k in sk} == sk
    assert set(mine) - set(sk) == {"optimizer", "clip_value", "clip_norm", "callbacks", "n_jobs", "device"}


def test_checkpoint_and_early_stopping_callbacks_restore_a_network():
    X, y = digits()
    checkpoint = callbacks.ModelCheckpoint("loss", restore=True)
    stopper = callbacks.EarlyStopping("loss", patience=0, restore_best_weights=True)
    clf = fd.MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.5, solver="sgd", momentum=0.0,
                           max_iter=8, tol=0, random_state=0, callbacks=[checkpoint])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    best = int(np.argmin(clf.loss_curve_))
    assert checkpoint.best_epoch_ == best + 1
    again = fd.MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.5, solver="sgd", momentum=0.0,
                             max_iter=best + 1, tol=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        again.fit(X, y)
    for a, b in zip(clf.coefs_ + clf.intercepts_, again.coefs_ + again.intercepts_):
        np.testing.assert_array_equal(a, b)  # the best epoch's weights, restored in place
    clf.set_params(callbacks=[stopper], max_iter=50, learning_rate_init=0.001)
    clf.fit(X, y)
    assert stopper.stopped_epoch_ == clf.n_iter_ or clf.n_iter_ == 50
