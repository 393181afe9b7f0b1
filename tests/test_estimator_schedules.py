"""The estimators' ``learning_rate`` (every name, or a schedule object) and an optimizer object's
schedule ``lr``, against a NumPy mini-batch loop.

The reference loop: rows in order (shuffle=False), per batch the mean gradient of
0.5 (x w + b - y)^2, then ``w -= eta_t grad`` with eta_t the schedule's value at the update
count (``fastdescent.schedules`` gives the values; tests/test_schedule_core.py checks them
against PyTorch's definitions). For reduce-on-plateau the schedule is stepped once per epoch
with the epoch's objective: the mean loss over the epoch's batches, each at the weights before
its update.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.utils._param_validation import InvalidParameterError

from fastdescent import SGDClassifier, SGDRegressor, _core, optim
from fastdescent import schedules as S

N, D, B, EPOCHS, ETA0 = 60, 4, 8, 12, 0.05
UPE = -(-N // B)  # updates per epoch


def problem(dtype):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, D)).astype(dtype)
    y = (X.astype(np.float64) @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.3
         + 0.1 * rng.normal(size=N)).astype(dtype)
    return X, y


def reference(X, y, step_size, epochs=EPOCHS, plateau=None):
    """Mini-batch GD on squared error; step_size(t) for t = 0, 1, ... updates made."""
    X, y = X.astype(np.float64), y.astype(np.float64)
    w, b, t, curve = np.zeros(X.shape[1]), 0.0, 0, []
    for _ in range(epochs):
        total = 0.0
        for start in range(0, X.shape[0], B):
            xb, yb = X[start:start + B], y[start:start + B]
            r = xb @ w + b - yb
            total += 0.5 * np.sum(r * r)
            eta = plateau.value(0) if plateau is not None else step_size(t)
            w -= eta * (xb.T @ r) / len(yb)
            b -= eta * np.mean(r)
            t += 1
        curve.append(total / X.shape[0])
        if plateau is not None:
            plateau.step(curve[-1])
    return w, b, curve


def fit(dtype, **params):
    X, y = problem(dtype)
    est = SGDRegressor(penalty=None, batch_size=B, shuffle=False, max_iter=EPOCHS, tol=None,
                       eta0=ETA0, **params)
    return est.fit(X, y), X, y


def rtol(dtype):
    return 1e-10 if dtype == np.float64 else 2e-4


NAMED = [n for n in S.ESTIMATOR_SCHEDULES if n not in ("optimal", "adaptive", "pa1", "pa2", "plateau")]


@pytest.mark.parametrize("name", NAMED)
def test_each_name_follows_its_schedule(name, dtype):
    est, X, y = fit(dtype, learning_rate=name)
    core = S.schedule_from_name(name, ETA0, UPE, EPOCHS)
    core.power_t = est.power_t
    values = _core.schedule_values(core, 1, UPE * EPOCHS)
    w, b, curve = reference(X, y, lambda t: values[t])
    assert est.coef_.dtype == dtype
    assert_allclose(est.coef_, w, rtol=rtol(dtype), atol=rtol(dtype))
    assert_allclose(est.intercept_, [b], rtol=rtol(dtype), atol=rtol(dtype))
    assert_allclose(est.loss_curve_, curve, rtol=rtol(dtype))
    assert est.t_ == UPE * EPOCHS + 1


def test_names_mean_what_the_docs_say():
    """A few names spelled out from the documented definitions (epochs -> updates)."""
    total = UPE * EPOCHS
    expected = {
        "constant": S.Constant(ETA0),
        "invscaling": S.InvScalingLR(ETA0, 0.25),
        "exponential": S.ExponentialLR(ETA0, 0.9 ** (1 / UPE)),
        "step": S.StepLR(ETA0, step_size=(EPOCHS // 3) * UPE, gamma=0.1),
        "cosine": S.CosineAnnealingLR(ETA0, T_max=total),
        "onecycle": S.OneCycleLR(ETA0, total_steps=total),
        "polynomial": S.PolynomialLR(ETA0, total_iters=total, power=1.0),
        "warmup": S.LinearWarmup(ETA0, warmup_steps=UPE),
    }
    for name, schedule in expected.items():
        core = S.schedule_from_name(name, ETA0, UPE, EPOCHS)
        assert_allclose(_core.schedule_values(core, 1, total), schedule.values(total),
                        rtol=1e-12, err_msg=name)


@pytest.mark.parametrize("schedule", [
    S.CosineAnnealingWarmRestarts(0.08, T_0=5, T_mult=2),
    S.LinearWarmup(S.StepLR(0.06, step_size=7, gamma=0.5), warmup_steps=10, start_factor=0.1),
    S.MultiStepLR(0.05, milestones=[10, 30, 31]),
], ids=["restarts", "warmup-step", "multistep"])
def test_schedule_object_as_learning_rate(schedule, dtype):
    est, X, y = fit(dtype, learning_rate=schedule)
    w, b, _ = reference(X, y, schedule.value)
    assert_allclose(est.coef_, w, rtol=rtol(dtype), atol=rtol(dtype))
    assert_allclose(est.intercept_, [b], rtol=rtol(dtype), atol=rtol(dtype))


def test_plateau_lowers_the_step_like_reduce_lr_on_plateau():
    # Demanding a 50% improvement per epoch makes the rule kick in within the fit.
    params = dict(patience=0, factor=0.5, threshold=0.5)
    est, X, y = fit(np.float64, learning_rate=S.ReduceLROnPlateau(ETA0, **params))
    ref = S.ReduceLROnPlateau(ETA0, **params)
    w, b, curve = reference(X, y, None, plateau=ref)
    assert ref.lr < ETA0  # the test exercises a reduction
    assert_allclose(est.loss_curve_, curve, rtol=1e-10)
    assert_allclose(est.coef_, w, rtol=1e-10)
    # The name uses patience 10 and factor 0.1 (documented), and the estimator's object is not
    # advanced by the fit.
    est2, *_ = fit(np.float64, learning_rate="plateau")
    assert np.all(np.isfinite(est2.coef_))
    assert est.learning_rate.lr == ETA0


def test_optimizer_object_with_a_schedule_lr(dtype):
    """Adam with a cosine lr: the estimator equals fastdescent.optim.Adam stepped by hand."""
    X, y = problem(dtype)
    lr = S.CosineAnnealingLR(0.1, T_max=UPE * EPOCHS)
    est = SGDRegressor(penalty=None, batch_size=B, shuffle=False, max_iter=EPOCHS, tol=None,
                       optimizer=optim.Adam(lr=lr), learning_rate="constant", eta0=123.0)
    est.fit(X, y)
    Xd, yd = X.astype(np.float64), y.astype(np.float64)
    w, b = np.zeros(D), np.zeros(1)
    opt_w, opt_b = optim.Adam(lr=lr), optim.Adam(lr=lr)
    for _ in range(EPOCHS):
        for start in range(0, N, B):
            xb, yb = Xd[start:start + B], yd[start:start + B]
            r = xb @ w + b[0] - yb
            opt_w.step(w, (xb.T @ r) / len(yb))
            opt_b.step(b, np.array([np.mean(r)]))
    assert_allclose(est.coef_, w, rtol=rtol(dtype), atol=rtol(dtype))
    assert_allclose(est.intercept_, b, rtol=rtol(dtype), atol=rtol(dtype))


@pytest.mark.parametrize("name", S.ESTIMATOR_SCHEDULES)
@pytest.mark.parametrize("batch_size", [1, 16, "full"])
def test_every_name_trains_a_classifier(name, batch_size):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 5))
    y = (X[:, 0] - X[:, 1] > 0).astype(int)
    if name in ("pa1", "pa2"):
        if batch_size != 1:
            with pytest.raises(ValueError, match="per-sample rule"):
                SGDClassifier(loss="hinge", learning_rate=name, batch_size=batch_size).fit(X, y)
            return
        params = dict(loss="hinge")
    else:
        params = dict(loss="log_loss", optimizer="adam" if batch_size == 16 else "sgd")
    est = SGDClassifier(learning_rate=name, eta0=0.05, batch_size=batch_size, max_iter=30,
                        early_stopping=batch_size == 16, random_state=0, **params)
    est.fit(X, y)
    assert np.all(np.isfinite(est.coef_))
    assert est.score(X, y) > 0.9


def test_schedule_errors():
    X, y = problem(np.float64)
    with pytest.raises(InvalidParameterError, match="learning_rate"):
        SGDRegressor(learning_rate="cyclic").fit(X, y)
    with pytest.raises(ValueError, match="mode='min'"):
        SGDRegressor(learning_rate=S.ReduceLROnPlateau(0.1, mode="max")).fit(X, y)
    with pytest.raises(TypeError, match="fastdescent.schedules"):
        SGDRegressor(optimizer=optim.Adam(lr=lambda t: 0.01)).fit(X, y)

    class Mine(S.Schedule):
        def value(self, t):
            return 0.01

    with pytest.raises(TypeError, match="no native"):
        SGDRegressor(learning_rate=Mine()).fit(X, y)
