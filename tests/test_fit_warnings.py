"""The warnings of a fit, as scikit-learn gives them and where training went wrong, and `tol`
that does not cut an annealing schedule short."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning, EfficiencyWarning

import fastdescent as fd


def _regression(n=200, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return X, X @ rng.normal(size=d) + 0.1 * rng.normal(size=n)


def _warnings_of(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    return [w for w in caught if issubclass(w.category, (ConvergenceWarning, FutureWarning))]


@pytest.mark.parametrize("batch_size", [1, 16, "full"])
def test_iteration_limit_with_tol_warns_even_for_one_epoch(batch_size):
    X, y = _regression()
    est = fd.SGDRegressor(max_iter=1, batch_size=batch_size)
    with pytest.warns(ConvergenceWarning, match="Maximum number of iteration"):
        est.fit(X, y)
    clf = fd.SGDClassifier(max_iter=1, batch_size=batch_size)
    with pytest.warns(ConvergenceWarning, match="Maximum number of iteration"):
        clf.fit(X, y > 0)


def test_no_convergence_warning_without_tol_or_from_partial_fit():
    X, y = _regression()
    assert _warnings_of(lambda: fd.SGDRegressor(max_iter=1, tol=None).fit(X, y)) == []
    est = fd.SGDRegressor()
    assert _warnings_of(lambda: [est.partial_fit(X, y) for _ in range(3)]) == []
    clf = fd.SGDClassifier()
    assert _warnings_of(lambda: clf.partial_fit(X, y > 0, classes=[False, True])) == []


@pytest.mark.parametrize("schedule", ["cosine", "onecycle", "polynomial", "step", "multistep"])
def test_tol_does_not_cut_an_annealing_schedule_short(schedule):
    X, y = _regression()
    est = fd.SGDRegressor(optimizer="adam", batch_size=32, learning_rate=schedule, eta0=0.05,
                          max_iter=40, tol=1e-3)
    assert _warnings_of(lambda: est.fit(X, y)) == []  # annealed to the end: nothing to warn
    assert est.n_iter_ == 40
    # The same schedule with a constant step stops on the plateau long before.
    flat = fd.SGDRegressor(optimizer="adam", batch_size=32, learning_rate="constant", eta0=0.05,
                           max_iter=40, tol=1e-3).fit(X, y)
    assert flat.n_iter_ < 40


def test_early_stopping_still_stops_an_annealing_schedule():
    X, y = _regression(n=400)
    est = fd.SGDRegressor(optimizer="adam", batch_size=32, learning_rate="cosine", eta0=0.05,
                          max_iter=200, tol=1e-3, early_stopping=True, random_state=0).fit(X, y)
    assert est.n_iter_ < 200


def test_rising_objective_warns_naming_the_step():
    X, y = _regression()
    est = fd.SGDRegressor(batch_size="full", learning_rate="constant", eta0=3.0, max_iter=8,
                          tol=None, penalty=None)
    with pytest.warns(ConvergenceWarning, match=r"rose for the last \d+ epochs.*step size of 3"):
        est.fit(X, y)
    assert all(b > a for a, b in zip(est.loss_curve_[-4:], est.loss_curve_[-3:]))


def test_scikit_learn_mode_does_not_warn_of_a_rising_objective():
    # Per-sample plain SGD is scikit-learn's algorithm: no warning scikit-learn would not give.
    X, y = _regression()
    est = fd.SGDRegressor(learning_rate="constant", eta0=0.3, max_iter=6, tol=None,
                          shuffle=False, penalty=None)
    caught = _warnings_of(lambda: est.fit(X, y))
    assert not any("rose" in str(w.message) for w in caught)


def test_negative_power_t_gives_scikit_learns_future_warning():
    X, y = _regression()
    with pytest.warns(FutureWarning, match="Negative values for `power_t` are deprecated"):
        fd.SGDRegressor(power_t=-0.5, max_iter=3, tol=None).fit(X, y)


@pytest.mark.parametrize("batch_size", [16, "full"])
def test_divergence_error_names_the_step_size(batch_size):
    X, y = _regression()
    est = fd.SGDRegressor(batch_size=batch_size, learning_rate="constant", eta0=1e8,
                          max_iter=50, tol=None, penalty=None)
    with pytest.raises(ValueError, match=r"overflow occurred at epoch #\d+ with a step size of 1e\+08"):
        est.fit(X, y)
    assert not hasattr(est, "coef_")


def test_an_exploding_but_finite_objective_is_divergence():
    # Momentum with too large a step: the objective grows by orders of magnitude per epoch,
    # and a decaying schedule would end the fit at finite but meaningless weights.
    X, y = _regression()
    X[0] *= 100.0  # one heavy row
    est = fd.SGDRegressor(batch_size=4, optimizer="momentum", learning_rate="adaptive",
                          eta0=0.05, penalty=None, random_state=0)
    with pytest.raises(ValueError, match=r"at epoch #\d+ with a step size of 0\.05"):
        est.fit(X, y)


# ---- dense steps on wide sparse input ----------------------------------------------------------


def _wide_sparse():
    rng = np.random.default_rng(0)
    X = sp.random(400, 5_000, density=0.002, format="csr", random_state=0)
    return X, rng.integers(0, 3, 400)


@pytest.mark.parametrize("params, warns", [
    (dict(optimizer="adam"), True),  # dense Adam steps on 5,000 features, ~320 per batch
    (dict(optimizer="adam", sparse_updates="lazy"), False),  # the lazy rule asked for
    (dict(optimizer="sgd"), False),  # exact lazy steps are automatic for plain SGD
    (dict(optimizer="adagrad"), False),  # and for Adagrad without L2 (penalty=None below)
    (dict(optimizer="adam", batch_size="full"), False),  # a full batch touches everything
])
def test_dense_steps_on_wide_sparse_input_warn_once(params, warns):
    X, y = _wide_sparse()
    kw = dict(loss="log_loss", multi_class="multinomial", batch_size=32, penalty=None,
              max_iter=2, tol=None, random_state=0)
    kw.update(params)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fd.SGDClassifier(**kw).fit(X, y)
        fd.SGDClassifier(**kw).partial_fit(X, y, classes=[0, 1, 2])  # partial_fit: never
    found = [w for w in caught if issubclass(w.category, EfficiencyWarning)]
    assert len(found) == (1 if warns else 0), [str(w.message) for w in found]
    if warns:
        assert "sparse_updates='lazy'" in str(found[0].message)
    # Dense X with the same shape never warns.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fd.SGDRegressor(optimizer="adam", batch_size=32, max_iter=1, tol=None).fit(
            X[:, :50].toarray(), y.astype(float))
    assert not [w for w in caught if issubclass(w.category, EfficiencyWarning)]
