"""Runtime instruction-set dispatch, n_jobs and threads.

Every instruction set this machine supports runs the dense kernels (dot, axpy, the fused block
gradients, scalar with its vectorized exp / log1p and softmax) through the training loop; each must match the NumPy
reference of tests/reference.py and the others. n_jobs follows scikit-learn and threadpoolctl;
n_jobs=1 is bit-for-bit reproducible, and the parallel per-sample epoch trains as well as one
thread.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from threadpoolctl import threadpool_limits

import fastdescent as fd
import reference as ref
from fastdescent import _core
from test_trajectories import DATA, TOL, assert_same_run, n_outputs, run_core, targets

ISAS = _core.available_isas()
SCALAR_LOSSES = ("squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive",
                 "log_loss", "hinge", "squared_hinge", "modified_huber", "perceptron")


@pytest.fixture
def isa_restored():
    before = _core.get_isa()
    yield
    _core.set_isa(before)


def test_show_config_reports_the_dispatch():
    info = fd.show_config(print_out=False)
    assert info["isa"] in info["available_isas"]
    assert "baseline" in info["available_isas"]
    assert set(info["available_isas"]) <= set(info["compiled_isas"])
    assert info["openmp_max_threads"] >= 1
    assert "-march=native" not in info["cxx_flags"] + info["avx2_flags"] + info["avx512_flags"]


def test_unknown_or_unsupported_isa_is_a_value_error(isa_restored):
    with pytest.raises(ValueError, match="unknown instruction set"):
        _core.set_isa("sse9")
    missing = [isa for isa in ("avx2", "avx512") if isa not in ISAS]
    for isa in missing:
        with pytest.raises(ValueError, match="not supported"):
            _core.set_isa(isa)


def test_isa_environment_variable():
    code = "from fastdescent import _core; print(_core.get_isa())"
    env = dict(os.environ, FASTDESCENT_ISA="baseline")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "baseline"
    env["FASTDESCENT_ISA"] = "sse9"
    bad = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert bad.returncode != 0 and "unknown instruction set" in bad.stderr


# Range of exp where the result is a normal number of the dtype, and the error allowed (ulp).
EXP_RANGE = {np.float64: (-708, 709, 4), np.float32: (-87, 88, 2)}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("isa", ISAS)
def test_vectorized_exp_and_log1p(isa, dtype):
    """The log_loss kernel's exp and log1p, in the precision of the data, against NumPy's in
    float64 rounded to the dtype."""
    lo, hi, ulps = EXP_RANGE[dtype]
    eps = np.finfo(dtype).eps
    tiny = np.finfo(dtype).tiny
    x = np.concatenate([np.linspace(lo, hi, 20001), np.linspace(-1, 1, 2001), [0.0, -tiny]]).astype(dtype)
    got = _core.kernel_exp(isa, x)
    assert got.dtype == dtype
    assert_allclose(got, np.exp(x.astype(np.float64)), rtol=ulps * eps, atol=0)
    u = np.concatenate([np.linspace(0, 1, 20001), np.geomspace(tiny, 1, 2001)]).astype(dtype)
    got = _core.kernel_log1p(isa, u)
    assert got.dtype == dtype
    assert_allclose(got, np.log1p(u.astype(np.float64)), rtol=ulps * eps, atol=0)
    # Clamped outside the dtype's range instead of inf / denormals.
    assert np.all(np.isfinite(_core.kernel_exp(isa, np.array([-1e4, 1e4], dtype=dtype))))
    assert np.all(_core.kernel_exp(isa, np.array([-1e4], dtype=dtype)) > 0)
    with pytest.raises(ValueError):
        _core.kernel_log1p(isa, np.array([2.0], dtype=dtype))


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("batch_size", [0, 3, 1], ids=["full", "batch3", "sgd"])
@pytest.mark.parametrize("loss", SCALAR_LOSSES + ("multinomial",))
def test_every_isa_matches_the_reference(isa, dtype, batch_size, loss, isa_restored):
    _core.set_isa(isa)
    cfg = ref.Config(loss=loss, batch_size=batch_size, schedule="constant", eta0=0.05, max_iter=3)
    X, y, sw = DATA["X"], targets(loss), DATA["sample_weight"]
    expected = ref.train(X, y, cfg, sample_weight=sw)
    res, model = run_core("dense", dtype, X, y, cfg, K=n_outputs(loss), sample_weight=sw)
    assert_same_run(res, model, expected, dtype, f"{isa} {loss}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("loss", ["log_loss", "squared_error", "hinge", "multinomial"])
def test_isas_agree_with_each_other_on_a_larger_problem(dtype, loss, isa_restored):
    """More rows than one block and more features than one vector: every tail of every loop."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(1000, 37)).astype(dtype)
    y = np.sign(X @ rng.normal(size=37) + 0.1).astype(dtype)
    extra = {}
    if loss == "multinomial":
        y = np.argmax(X @ rng.normal(size=(37, 4)), axis=1)
        loss, extra = "log_loss", {"multi_class": "multinomial"}
    fits = {}
    for isa in ISAS:
        _core.set_isa(isa)
        est = (fd.SGDRegressor if loss == "squared_error" else fd.SGDClassifier)(
            loss=loss, batch_size="full", learning_rate="constant", eta0=0.1, max_iter=20,
            tol=None, random_state=0, **extra)
        fits[isa] = est.fit(X, y)
        assert fits[isa].coef_.dtype == dtype
    base = fits["baseline"]
    for isa, est in fits.items():
        assert_allclose(est.coef_, base.coef_, **TOL[dtype], err_msg=isa)
        assert_allclose(est.intercept_, base.intercept_, **TOL[dtype], err_msg=isa)
        assert_allclose(est.loss_curve_, base.loss_curve_, **TOL[dtype], err_msg=isa)


# ---- n_jobs -----------------------------------------------------------------------------------


def test_n_jobs_follows_scikit_learn_and_threadpoolctl():
    est = fd.SGDClassifier(n_jobs=None)
    assert est._n_threads() == 1
    est.set_params(n_jobs=-1)
    cores = min(os.cpu_count(), _core.openmp_max_threads())
    assert est._n_threads() == cores
    with threadpool_limits(limits=1, user_api="openmp"):
        assert _core.openmp_max_threads() == 1
        assert est._n_threads() == 1
        assert est.set_params(n_jobs=4)._n_threads() == 1
    assert fd.SGDClassifier(n_jobs=1)._n_threads() == 1


def _problem(n=12_000, d=20, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    w = rng.normal(size=d)
    y_score = X @ w + 0.5 * rng.normal(size=n)
    return X, (y_score > 0).astype(int), y_score


@pytest.mark.parametrize("batch_size", [1, 32, "full"])
def test_n_jobs_1_is_bit_for_bit_reproducible(batch_size):
    X, y, _ = _problem(n=3000)
    fits = [fd.SGDClassifier(loss="log_loss", batch_size=batch_size, max_iter=5, tol=None,
                             random_state=7, n_jobs=1).fit(X, y) for _ in range(2)]
    assert_array_equal(fits[0].coef_, fits[1].coef_)
    assert_array_equal(fits[0].intercept_, fits[1].intercept_)
    assert_array_equal(fits[0].loss_curve_, fits[1].loss_curve_)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_parallel_per_sample_sgd_trains_as_well_as_one_thread(dtype):
    X, y, y_score = _problem()
    X = X.astype(dtype)
    # Averaging local models makes less progress per epoch early on; trained to convergence
    # (scikit-learn's default tol), both reach the same loss and accuracy.
    kw = dict(loss="log_loss", random_state=0)
    one = fd.SGDClassifier(**kw, n_jobs=1).fit(X, y)
    two = fd.SGDClassifier(**kw, n_jobs=2).fit(X, y)
    again = fd.SGDClassifier(**kw, n_jobs=2).fit(X, y)
    # The parallel epoch really ran (another trajectory), reproducibly for the same n_jobs.
    assert not np.array_equal(one.coef_, two.coef_)
    assert_array_equal(two.coef_, again.coef_)
    assert two.score(X, y) >= one.score(X, y) - 0.01
    assert two.loss_curve_[-1] <= one.loss_curve_[-1] * 1.05
    reg_kw = dict(random_state=0, eta0=0.001)
    r1 = fd.SGDRegressor(**reg_kw, n_jobs=1).fit(X, y_score.astype(dtype))
    r2 = fd.SGDRegressor(**reg_kw, n_jobs=2).fit(X, y_score.astype(dtype))
    assert r2.score(X, y_score) >= r1.score(X, y_score) - 0.01
    assert r2.coef_.dtype == dtype


def test_parallel_full_batch_matches_one_thread():
    X, y, _ = _problem(n=5000)
    kw = dict(loss="log_loss", batch_size="full", learning_rate="constant", eta0=0.5, max_iter=5,
              tol=None, random_state=0)
    one = fd.SGDClassifier(**kw, n_jobs=1).fit(X, y)
    two = fd.SGDClassifier(**kw, n_jobs=2).fit(X, y)
    assert_allclose(two.coef_, one.coef_, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("d", [8, 37])
@pytest.mark.parametrize("k", [3, 8, 11])
@pytest.mark.parametrize("batch_size", ["full", 32])
def test_isas_agree_on_multi_output(dtype, d, k, batch_size, isa_restored):
    """The multi-output kernel on every instruction set against the baseline's, through its
    tails: a vector of features exactly and a partial last vector, a partial and a second chunk
    of outputs, a block's last rows."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(301, d)).astype(dtype)
    Y = (X @ rng.normal(size=(d, k)) + 0.1 * rng.normal(size=(301, k))).astype(dtype)
    fits = {}
    for isa in ISAS:
        _core.set_isa(isa)
        fits[isa] = fd.SGDRegressor(batch_size=batch_size, learning_rate="constant", eta0=0.05,
                                    max_iter=5, tol=None, random_state=0).fit(X, Y)
        assert fits[isa].coef_.shape == (k, d)
    base = fits["baseline"]
    assert np.abs(base.coef_).max() > 0.1  # it trained
    for isa, est in fits.items():
        assert_allclose(est.coef_, base.coef_, **TOL[dtype], err_msg=isa)
        assert_allclose(est.intercept_, base.intercept_, **TOL[dtype], err_msg=isa)
        assert_allclose(est.loss_curve_, base.loss_curve_, **TOL[dtype], err_msg=isa)
