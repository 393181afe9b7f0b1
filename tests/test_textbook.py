"""The textbook example: simple linear regression by full-batch gradient descent.

Five points, the mean-squared-error gradient (2/n) sum (w x + b - y) x with step 0.01, from
w = b = 0, 1000 iterations: w = 0.71484, b = 1.84641 (on the way to the least-squares line
y = 0.7 x + 1.9). fastdescent's squared_error is 0.5 (p - y)^2, whose mean gradient is half the
MSE gradient, so eta0 = 0.02 walks the same trajectory.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose

import fastdescent

X = np.array([1.0, 2.0, 3.0, 4.0, 5.0]).reshape(-1, 1)
Y = np.array([3.0, 4.0, 2.0, 5.0, 6.0])
SLOPE, INTERCEPT = 0.71484, 1.84641


def numpy_gradient_descent(x, y, step=0.01, iterations=1000):
    w = b = 0.0
    for _ in range(iterations):
        r = w * x + b - y
        w, b = w - step * 2 * np.mean(r * x), b - step * 2 * np.mean(r)
    return w, b


def fit(dtype=np.float64, **params):
    kwargs = dict(loss="squared_error", penalty=None, learning_rate="constant", eta0=0.02,
                  batch_size="full", shuffle=False, max_iter=1000, tol=None)
    kwargs.update(params)
    return fastdescent.SGDRegressor(**kwargs).fit(X.astype(dtype), Y.astype(dtype))


def test_numpy_loop_gives_the_textbook_numbers():
    w, b = numpy_gradient_descent(X[:, 0], Y)
    assert w == pytest.approx(SLOPE, abs=1e-5)
    assert b == pytest.approx(INTERCEPT, abs=1e-5)


def test_sgd_regressor_full_batch_gives_the_textbook_numbers():
    model = fit()
    assert model.coef_.shape == (1,) and model.intercept_.shape == (1,)
    assert model.coef_[0] == pytest.approx(SLOPE, abs=1e-5)
    assert model.intercept_[0] == pytest.approx(INTERCEPT, abs=1e-5)
    assert model.n_iter_ == 1000
    assert model.t_ == 1001.0  # one update per epoch


def test_sgd_regressor_follows_the_numpy_loop():
    w, b = numpy_gradient_descent(X[:, 0], Y)
    model = fit()
    assert_allclose(model.coef_[0], w, rtol=1e-12)
    assert_allclose(model.intercept_[0], b, rtol=1e-12)
    # ... at every iteration count, not just the last
    for iterations in (1, 2, 10, 137):
        w, b = numpy_gradient_descent(X[:, 0], Y, iterations=iterations)
        model = fit(max_iter=iterations)
        assert_allclose([model.coef_[0], model.intercept_[0]], [w, b], rtol=1e-12)


def test_sgd_regressor_float32():
    model = fit(np.float32)
    assert model.coef_.dtype == np.float32
    assert model.coef_[0] == pytest.approx(SLOPE, abs=1e-4)
    assert model.intercept_[0] == pytest.approx(INTERCEPT, abs=1e-4)


def test_loss_curve_is_half_the_mean_squared_error():
    """The objective of each epoch is the mean of 0.5 (p - y)^2 at the epoch's start weights."""
    model = fit(max_iter=5)
    w = b = 0.0
    expected = []
    for _ in range(5):
        r = w * X[:, 0] + b - Y
        expected.append(0.5 * np.mean(r * r))
        w, b = w - 0.01 * 2 * np.mean(r * X[:, 0]), b - 0.01 * 2 * np.mean(r)
    assert_allclose(model.loss_curve_, expected, rtol=1e-12)
