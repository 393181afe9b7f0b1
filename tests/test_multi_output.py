"""Multi-output regression: a 2-D y trains one model per column in one pass over X per update.

Outputs share nothing but the rows, their order and the step sizes, so with rules that act per
weight (plain SGD, Adam, the L2 weight scale) a fit on k columns is the k single-column fits
side by side: that is the reference here, update by update.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from sklearn.exceptions import DataConversionWarning
from sklearn.linear_model import PoissonRegressor, Ridge
from sklearn.metrics import d2_tweedie_score, r2_score
from sklearn.model_selection import ShuffleSplit

from fastdescent import SGDRegressor

TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-6)}


def _data(n=300, d=6, k=3, loss="squared_error", seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[rng.random((n, d)) < 0.3] = 0.0
    score = X @ rng.normal(size=(d, k)) * 0.4 + rng.normal(size=(n, k)) * 0.2
    Y = np.round(np.exp(score) * 2) if loss == "poisson" else score + np.arange(k)
    return X, Y


MODES = [
    dict(batch_size=1, learning_rate="invscaling", eta0=0.02),
    dict(batch_size=1, learning_rate="optimal", penalty="elasticnet", average=5),
    dict(batch_size=16, optimizer="adam", learning_rate="constant", eta0=0.01),
    dict(batch_size=16, optimizer="momentum", learning_rate="constant", eta0=0.01,
         penalty="l1"),
    dict(batch_size="full", learning_rate="constant", eta0=0.1),
]


# 'optimal' starts with steps near 2: too long for the exp of the poisson loss.
CASES = [(mode, loss) for mode in MODES for loss in ("squared_error", "huber", "poisson", "quantile")
         if not (loss == "poisson" and mode["learning_rate"] == "optimal")]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("mode,loss", CASES,
                         ids=lambda c: c if isinstance(c, str) else f"{c['batch_size']}-{c['learning_rate']}-{c.get('optimizer', 'sgd')}")
def test_outputs_train_as_separate_fits(mode, loss, sparse, dtype):
    X, Y = _data(loss=loss)
    X = X.astype(dtype)
    Xf = sp.csr_matrix(X) if sparse else X
    kw = dict(loss=loss, max_iter=3, tol=None, random_state=4, **mode)
    multi = SGDRegressor(**kw).fit(Xf, Y)
    assert multi.coef_.shape == (3, 6) and multi.intercept_.shape == (3,)
    assert multi.coef_.dtype == dtype
    singles = [SGDRegressor(**kw).fit(Xf, Y[:, k]) for k in range(3)]
    tol = TOL[dtype]
    for k, single in enumerate(singles):
        assert_allclose(multi.coef_[k], single.coef_, **tol, err_msg=f"output {k}")
        assert_allclose(multi.intercept_[k], single.intercept_[0], **tol)
    # The objective is the sum of the outputs' objectives; the update count is shared.
    assert_allclose(multi.loss_curve_, np.sum([s.loss_curve_ for s in singles], axis=0), **tol)
    assert multi.t_ == singles[0].t_
    # Predictions of equal models, up to the rounding of their sums: a score that cancels
    # terms much larger than itself (the diverging 'optimal' fits) differs by the terms' size
    # times the dtype's epsilon between summation orders (BLAS picks its own per shape).
    scale = np.abs(X) @ np.abs(multi.coef_.T) + np.abs(multi.intercept_)
    difference = multi.predict(Xf) - np.column_stack([s.predict(Xf) for s in singles])
    assert np.all(np.abs(difference) <= tol["rtol"] * scale + tol["atol"])


def test_full_batch_solver_reaches_the_exact_optima():
    X, Y = _data(n=500)
    alpha = 1e-3
    est = SGDRegressor(alpha=alpha, batch_size="full").fit(X, Y)
    exact = Ridge(alpha=alpha * X.shape[0], tol=1e-12).fit(X, Y)
    assert_allclose(est.coef_, exact.coef_, atol=1e-4)
    assert_allclose(est.intercept_, exact.intercept_, atol=1e-4)
    Xp, Yp = _data(n=500, loss="poisson")
    est = SGDRegressor(loss="poisson", alpha=alpha, batch_size="full").fit(Xp, Yp)
    for k in range(Yp.shape[1]):
        exact = PoissonRegressor(alpha=alpha, tol=1e-12, max_iter=10_000).fit(Xp, Yp[:, k])
        assert_allclose(est.coef_[k], exact.coef_, atol=1e-4)
    Xq, Yq = _data(n=400)
    est = SGDRegressor(loss="quantile", quantile=0.3, batch_size="full").fit(Xq, Yq)
    singles = [SGDRegressor(loss="quantile", quantile=0.3, batch_size="full").fit(Xq, Yq[:, k])
               for k in range(3)]
    assert_allclose(est.coef_, [s.coef_ for s in singles], atol=1e-3)


def test_scores_average_the_outputs():
    X, Y = _data()
    est = SGDRegressor(batch_size=8, random_state=0).fit(X, Y)
    assert est.score(X, Y) == pytest.approx(r2_score(Y, est.predict(X)))
    Xp, Yp = _data(loss="poisson")
    est = SGDRegressor(loss="poisson", batch_size=8, random_state=0).fit(Xp, Yp)
    pred = est.predict(Xp)
    assert pred.shape == Yp.shape and np.all(pred > 0)
    expected = np.mean([d2_tweedie_score(Yp[:, k], pred[:, k], power=1) for k in range(3)])
    assert est.score(Xp, Yp) == pytest.approx(expected)


def test_early_stopping_scores_the_mean_r2():
    X, Y = _data(n=400)
    est = SGDRegressor(batch_size=8, early_stopping=True, validation_fraction=0.25,
                       random_state=2, max_iter=5, tol=None).fit(X, Y)
    _, val = next(ShuffleSplit(test_size=0.25, random_state=2).split(X))
    assert est.history_["val_score"][-1] == pytest.approx(est.score(X[val], Y[val]), rel=1e-9)


def test_a_column_vector_is_one_output_with_a_warning():
    X, Y = _data()
    with pytest.warns(DataConversionWarning):
        est = SGDRegressor(max_iter=3, tol=None).fit(X, Y[:, :1])
    assert est.coef_.shape == (6,)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert est.predict(X).shape == (X.shape[0],)


def test_partial_fit_keeps_the_outputs_and_refuses_others():
    X, Y = _data()
    est = SGDRegressor(random_state=0)
    for part in np.array_split(np.arange(X.shape[0]), 3):
        est.partial_fit(X[part], Y[part])
    assert est.coef_.shape == (3, 6)
    with pytest.raises(ValueError, match="fitted with 3"):
        est.partial_fit(X, Y[:, :2])
    assert est.coef_.shape == (3, 6)


def test_targets_outside_the_range_are_refused_in_any_column():
    X, Y = _data(loss="poisson")
    Y[5, 2] = -1.0
    with pytest.raises(ValueError, match="non-negative targets"):
        SGDRegressor(loss="poisson").fit(X, Y)


def test_dask_collections_take_one_output():
    da = pytest.importorskip("dask.array")
    X, Y = _data()
    with pytest.raises(ValueError, match="2-D y"):
        SGDRegressor().fit(da.from_array(X, chunks=100), da.from_array(Y, chunks=100))
