"""The C++ training loop against the NumPy reference in tests/reference.py, update by update.

Every loss x penalty x schedule x batching mode is run (the cross product), each on float32 and
float64 data, dense and CSR with int32 and int64 indices; fit_intercept, sample weights, class
weights, averaging and warm starts vary with the case so that every pair of settings occurs
(checked by test_parametrization_covers_all_pairs). Data are tiny (20 x 5) and exactly
representable in float32, so one float64 reference run serves both dtypes. Further tests cover
shuffling, validation rows, the plateau / adaptive stopping logic (n_iter, loss_curve, the step
sizes an epoch callback sees), dloss clipping, the L2 clamp, the 'optimal' step sizes, the
intercept decay, rows of weight zero and the L1 truncation of sparse rows; and the reference's
per-sample path is itself checked against scikit-learn.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal

import reference as ref
from fastdescent import _core

N, D = 20, 5
EPOCHS = 3
REGRESSION = ("squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive")
BATCHES = {"sgd": 1, "batch3": 3, "full": 0}
FORMATS = ("dense", "csr32", "csr64")
DTYPES = (np.float32, np.float64)

TOL = {
    np.float64: dict(rtol=1e-10, atol=1e-12),
    np.float32: dict(rtol=1e-4, atol=1e-5),
}


# ---- data -------------------------------------------------------------------------------------


def _f32_exact(a):
    """a rounded to float32 and back: the same numbers in both dtypes."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def make_data(seed=0, n=N, d=D):
    rng = np.random.default_rng(seed)
    X = rng.normal(scale=0.5, size=(n, d))
    X[rng.random((n, d)) < 0.3] = 0.0  # zeros, so CSR rows really are sparse
    X = _f32_exact(X)
    w = np.array([1.5, -2.0, 0.0, 0.7, 0.0] + [0.3] * (d - 5))
    score = X @ w + 0.3 + 0.2 * rng.normal(size=n)
    y_reg = _f32_exact(score)
    y_bin = np.where(score > 0, 1.0, -1.0)
    W3 = 2.0 * rng.normal(size=(3, d))
    y_multi = np.argmax(X @ W3.T + 0.3 * rng.normal(size=(n, 3)), axis=1).astype(np.float64)
    assert set(np.unique(y_bin)) == {-1.0, 1.0} and set(np.unique(y_multi)) == {0.0, 1.0, 2.0}
    sample_weight = _f32_exact(rng.uniform(0.5, 2.0, size=n))
    warm = dict(
        coef=_f32_exact(0.3 * rng.normal(size=(3, d))),
        intercept=_f32_exact(0.2 * rng.normal(size=3)),
        average_coef=_f32_exact(0.3 * rng.normal(size=(3, d))),
        average_intercept=_f32_exact(0.2 * rng.normal(size=3)),
        t0=5.0,
    )
    return dict(X=X, y_reg=y_reg, y_bin=y_bin, y_multi=y_multi, sample_weight=sample_weight,
                warm=warm)


DATA = make_data()


def targets(loss, data=DATA):
    if loss == "multinomial":
        return data["y_multi"]
    return data["y_reg"] if loss in REGRESSION else data["y_bin"]


def n_outputs(loss):
    return 3 if loss == "multinomial" else 1


def class_weights(loss):
    return np.array([0.7, 1.6, 1.2]) if loss == "multinomial" else np.array([0.7, 1.6])


# ---- running the core -------------------------------------------------------------------------


def core_config(cfg: ref.Config, shuffle=False, seed=0):
    assert cfg.weighted_mean, "the core always takes sample-weighted means"
    c = _core.TrainConfig()
    c.loss = getattr(_core.LossKind, cfg.loss)
    c.loss_param = cfg.epsilon
    c.penalty = _core.PenaltyKind.none if cfg.penalty is None else getattr(_core.PenaltyKind, cfg.penalty)
    c.alpha = cfg.alpha
    c.l1_ratio = cfg.l1_ratio
    c.schedule = _core.Schedule(getattr(_core.ScheduleKind, cfg.schedule), eta0=cfg.eta0,
                                power_t=cfg.power_t)
    c.fit_intercept = cfg.fit_intercept
    c.intercept_decay = cfg.intercept_decay
    c.max_iter = cfg.max_iter
    c.tol = cfg.tol
    c.n_iter_no_change = cfg.n_iter_no_change
    c.early_stopping = False
    c.shuffle = shuffle
    c.seed = seed
    c.batch_size = cfg.batch_size
    c.average = cfg.average
    c.n_threads = 1
    return c


def run_core(fmt, dtype, X, y, cfg, *, K=1, sample_weight=None, class_weight=None, coef=None,
             intercept=None, t0=1.0, average_coef=None, average_intercept=None, shuffle=False,
             seed=0, validation_mask=None, epoch_callback=None):
    """Trains with _core on X in the given format and dtype; returns (result, model arrays)."""
    d = X.shape[1]
    W = np.zeros((K, d), dtype=dtype) if coef is None else np.array(coef[:K], dtype=dtype)
    b = np.zeros(K, dtype=dtype) if intercept is None else np.array(intercept[:K], dtype=dtype)
    A = Ab = None
    if cfg.average > 0:
        A = np.zeros((K, d), dtype=dtype) if average_coef is None else np.array(average_coef[:K], dtype=dtype)
        Ab = np.zeros(K, dtype=dtype) if average_intercept is None else np.array(average_intercept[:K], dtype=dtype)
    kwargs = dict(
        sample_weight=None if sample_weight is None else np.asarray(sample_weight, dtype=dtype),
        class_weight=None if class_weight is None else np.asarray(class_weight, dtype=np.float64),
        validation_mask=validation_mask,
        average_coef=A,
        average_intercept=Ab,
        t0=t0,
        epoch_callback=epoch_callback,
    )
    config = core_config(cfg, shuffle=shuffle, seed=seed)
    y = np.asarray(y, dtype=dtype)
    if fmt == "dense":
        res = _core.train_dense(np.ascontiguousarray(X, dtype=dtype), y, W, b, config, **kwargs)
    else:
        Xs = X if sp.issparse(X) else sp.csr_matrix(X)
        idx = np.int32 if fmt == "csr32" else np.int64
        res = _core.train_csr(Xs.data.astype(dtype), Xs.indices.astype(idx), Xs.indptr.astype(idx),
                              d, y, W, b, config, **kwargs)
    return res, dict(coef=W, intercept=b, average_coef=A, average_intercept=Ab)


def assert_same_run(res, model, expected: ref.Result, dtype, what=""):
    tol = TOL[dtype]
    assert res.n_iter == expected.n_iter, what
    assert res.t == expected.t, what
    assert not res.diverged, what
    assert_allclose(res.loss_curve, expected.loss_curve, **tol, err_msg=f"loss_curve {what}")
    assert_allclose(model["coef"], expected.coef, **tol, err_msg=f"coef {what}")
    assert_allclose(model["intercept"], expected.intercept, **tol, err_msg=f"intercept {what}")
    if expected.average_coef is not None:
        assert_allclose(model["average_coef"], expected.average_coef, **tol,
                        err_msg=f"average_coef {what}")
        assert_allclose(model["average_intercept"], expected.average_intercept, **tol,
                        err_msg=f"average_intercept {what}")


def reference_runs(X, y, cfg, **kwargs):
    """Reference results by input format: the per-sample L1 truncation touches every feature of
    a dense row but only the stored entries of a CSR row."""
    dense = ref.train(X, y, cfg, **kwargs)
    sparse = ref.train(sp.csr_matrix(X), y, cfg, **kwargs) if ref.depends_on_stored_entries(cfg) \
        else dense
    return {"dense": dense, "csr32": sparse, "csr64": sparse}


# ---- the parametrization ----------------------------------------------------------------------


def schedule_params(schedule):
    """Step sizes that keep every loss stable on the data above for a few epochs."""
    if schedule == "optimal":
        return dict(alpha=0.1)  # eta_1 = 1.78, then ~ 10 / t
    if schedule == "invscaling":
        return dict(alpha=0.01, eta0=0.1, power_t=0.5)
    return dict(alpha=0.01, eta0=0.05)


def case_flags(i_loss, i_penalty, i_schedule, i_batch):
    """The settings that vary pairwise: every pair of values of any two of the parametrized
    dimensions (and flags) occurs in some case (class weights: classification losses only)."""
    a, b, c, d = i_loss, i_penalty, i_schedule, i_batch
    return dict(
        fit_intercept=(b + c) % 2 == 0,
        sample_weight=(a + b + d) % 2 == 0,
        class_weight=(a + c) % 2 == 1 and ref.LOSSES[a] not in REGRESSION,
        average=(0, 1, 4)[(a + b + c + d) % 3],
        warm_start=(c + d) % 2 == 1,
    )


CASES = [
    (loss, penalty, schedule, batch, case_flags(i, j, k, m))
    for (i, loss), (j, penalty), (k, schedule), (m, batch) in itertools.product(
        enumerate(ref.LOSSES), enumerate(ref.PENALTIES), enumerate(ref.SCHEDULES),
        enumerate(BATCHES))
]


def case_id(case):
    loss, penalty, schedule, batch, f = case
    flags = "".join(c for c, on in (("i", f["fit_intercept"]), ("s", f["sample_weight"]),
                                    ("c", f["class_weight"]), ("w", f["warm_start"])) if on)
    return f"{loss}-{penalty}-{schedule}-{batch}-a{f['average']}-{flags or 'plain'}"


def test_parametrization_covers_all_pairs():
    rows = [dict(loss=lo, penalty=p, schedule=s, batch=b, **f) for lo, p, s, b, f in CASES]
    assert len(rows) == len(ref.LOSSES) * len(ref.PENALTIES) * len(ref.SCHEDULES) * len(BATCHES)
    values = {key: {r[key] for r in rows} for key in rows[0]}
    for flag in ("fit_intercept", "sample_weight", "class_weight", "warm_start"):
        assert values[flag] == {False, True}
    assert values["average"] == {0, 1, 4}
    for k1, k2 in itertools.combinations(values, 2):
        seen = {(r[k1], r[k2]) for r in rows}
        for pair in itertools.product(values[k1], values[k2]):
            named = dict(zip((k1, k2), pair))
            if named.get("class_weight") and named.get("loss") in REGRESSION:
                continue  # class weights go with classification losses only
            assert pair in seen, named


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_trajectory_matches_reference(case):
    loss, penalty, schedule, batch, flags = case
    cfg = ref.Config(loss=loss, penalty=penalty, schedule=schedule, batch_size=BATCHES[batch],
                     epsilon=0.3, l1_ratio=0.3, max_iter=EPOCHS, tol=-math.inf,
                     fit_intercept=flags["fit_intercept"], average=flags["average"],
                     **schedule_params(schedule))
    X, y, K = DATA["X"], targets(loss), n_outputs(loss)
    sw = DATA["sample_weight"] if flags["sample_weight"] else None
    cw = class_weights(loss) if flags["class_weight"] else None
    start = {}
    if flags["warm_start"]:
        w = DATA["warm"]
        start = dict(coef=w["coef"][:K], intercept=w["intercept"][:K], t0=w["t0"],
                     average_coef=w["average_coef"][:K],
                     average_intercept=w["average_intercept"][:K])

    expected = reference_runs(X, y, cfg, sample_weight=sw, class_weight=cw, **start)
    assert np.all(np.isfinite(expected["dense"].coef))
    assert len(expected["dense"].loss_curve) == EPOCHS

    for fmt, dtype in itertools.product(FORMATS, DTYPES):
        res, model = run_core(fmt, dtype, X, y, cfg, K=K, sample_weight=sw, class_weight=cw,
                              **start)
        assert_same_run(res, model, expected[fmt], dtype, what=f"{fmt} {np.dtype(dtype).name}")


# ---- the reference itself against scikit-learn ---------------------------------------------


def sklearn_cases():
    for (i, loss), (j, penalty), (k, schedule) in itertools.product(
            enumerate(ref.SCALAR_LOSSES), enumerate(ref.PENALTIES), enumerate(ref.SCHEDULES)):
        # scikit-learn's lazy averaging (WeightVector.add_average) does not see the L1
        # truncation, which changes w behind its back: with l1 / elasticnet its average_coef_ is
        # not the running mean of the iterates (it can lie outside their range), so averaging is
        # compared only without L1.
        average = (i + j + k) % 2 == 1 and penalty in (None, "l2")
        yield loss, penalty, schedule, average


@pytest.mark.parametrize("loss,penalty,schedule,average", list(sklearn_cases()))
def test_reference_per_sample_sgd_is_scikit_learns(loss, penalty, schedule, average):
    """The reference's per-sample path reproduces scikit-learn's _plain_sgd (dense input)."""
    import warnings

    from sklearn.linear_model import SGDClassifier, SGDRegressor

    params = schedule_params(schedule)
    cfg = ref.Config(loss=loss, penalty=penalty, schedule=schedule, batch_size=1, epsilon=0.3,
                     l1_ratio=0.3, max_iter=EPOCHS, average=int(average), **params)
    X, y, sw = DATA["X"], targets(loss), DATA["sample_weight"]
    kwargs = dict(loss=loss, penalty=penalty, alpha=cfg.alpha, l1_ratio=0.3, epsilon=0.3,
                  learning_rate=schedule, eta0=cfg.eta0, power_t=cfg.power_t, max_iter=EPOCHS,
                  tol=None, shuffle=False, average=average)
    cw = None
    if loss in REGRESSION:
        est = SGDRegressor(**kwargs)
    else:
        cw = class_weights(loss)
        est = SGDClassifier(**kwargs, class_weight={-1.0: cw[0], 1.0: cw[1]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y, sample_weight=sw)
    expected = ref.train(X, y, cfg, sample_weight=sw, class_weight=cw)
    coef = expected.average_coef if average else expected.coef
    intercept = expected.average_intercept if average else expected.intercept
    assert_allclose(est.coef_.ravel(), coef.ravel(), rtol=1e-10, atol=1e-12)
    assert_allclose(est.intercept_, intercept, rtol=1e-10, atol=1e-12)


# ---- sparse rows and the L1 truncation ---------------------------------------------------------


@pytest.mark.parametrize("penalty", ["l1", "elasticnet"])
def test_l1_truncation_touches_only_the_stored_features_of_a_row(penalty):
    """Per-sample L1 (Tsuruoka et al.) updates only the weights of the row's stored features, so
    dense and CSR input give different models; explicitly stored zeros count as features."""
    cfg = ref.Config(loss="squared_error", penalty=penalty, alpha=0.1, l1_ratio=0.5,
                     schedule="constant", eta0=0.05, max_iter=EPOCHS)
    X, y = DATA["X"].copy(), DATA["y_reg"]
    X[-5:, 1] = 0.0  # the largest weight misses its last 5 truncations on CSR input
    ref_dense = ref.train(X, y, cfg)
    ref_sparse = ref.train(sp.csr_matrix(X), y, cfg)
    assert np.abs(ref_dense.coef - ref_sparse.coef).max() > 5e-3  # the rule matters here
    assert ref.depends_on_stored_entries(cfg)

    # The same matrix in CSR with every zero stored explicitly behaves as dense input.
    dense_as_csr = sp.csr_matrix(
        (X.ravel(), np.tile(np.arange(D), N), np.arange(0, N * D + 1, D)), shape=X.shape)
    assert dense_as_csr.nnz == N * D
    for dtype in DTYPES:
        for fmt in ("csr32", "csr64"):
            res, model = run_core(fmt, dtype, sp.csr_matrix(X), y, cfg)
            assert_same_run(res, model, ref_sparse, dtype, what=fmt)
            res, model = run_core(fmt, dtype, dense_as_csr, y, cfg)
            assert_same_run(res, model, ref_dense, dtype, what=f"{fmt} explicit zeros")
        res, model = run_core("dense", dtype, X, y, cfg)
        assert_same_run(res, model, ref_dense, dtype, what="dense")


def test_reference_stored_entries_matter_only_for_per_sample_l1():
    """The shortcut of reference_runs: where depends_on_stored_entries is False, the reference
    gives the same run for a CSR matrix and its dense form."""
    X, y = DATA["X"], DATA["y_reg"]
    for penalty, batch, loss in itertools.product(ref.PENALTIES, BATCHES, ("huber", "multinomial")):
        cfg = ref.Config(loss=loss, penalty=penalty, alpha=0.05, l1_ratio=0.5, schedule="constant",
                         eta0=0.05, batch_size=BATCHES[batch], max_iter=2)
        y = targets(loss)
        dense, sparse = ref.train(X, y, cfg), ref.train(sp.csr_matrix(X), y, cfg)
        if not ref.depends_on_stored_entries(cfg):
            assert_array_equal(dense.coef, sparse.coef, err_msg=f"{penalty} {batch} {loss}")
            assert dense.loss_curve == sparse.loss_curve


# ---- shuffling --------------------------------------------------------------------------------


def test_shuffled_order_is_the_cumulative_shuffle():
    rows = list(range(N))
    assert list(_core.shuffled_order(rows, 7, 0)) == rows
    orders = [list(_core.shuffled_order(rows, 7, e)) for e in range(1, 4)]
    for o in orders:
        assert sorted(o) == rows and o != rows
    assert orders[0] != orders[1] != orders[2]
    # Shuffling an epoch's order again with a fresh generator is not the next epoch's order:
    # the trainer keeps one generator for the whole run.
    assert list(_core.shuffled_order(orders[0], 7, 1)) != orders[1]
    assert list(_core.shuffled_order(rows, 8, 1)) != orders[0]


@pytest.mark.parametrize("batch", list(BATCHES))
@pytest.mark.parametrize("loss", ["squared_error", "log_loss", "multinomial"])
def test_shuffled_epochs_match_reference(loss, batch):
    seed = 12345
    cfg = ref.Config(loss=loss, penalty="elasticnet", alpha=0.01, l1_ratio=0.3,
                     schedule="invscaling", eta0=0.1, power_t=0.5, batch_size=BATCHES[batch],
                     max_iter=4, average=3)
    X, y, K = DATA["X"], targets(loss), n_outputs(loss)
    sw = DATA["sample_weight"]
    rows = list(range(N))
    if cfg.batch_size == 0:
        # A full batch sums over all rows, so the trainer keeps them in memory order.
        orders = None
    else:
        def orders(epoch):
            return _core.shuffled_order(rows, seed, epoch + 1)
    expected = reference_runs(X, y, cfg, sample_weight=sw, orders=orders)
    unshuffled = ref.train(X, y, cfg, sample_weight=sw)
    if cfg.batch_size != 0:
        assert np.abs(expected["dense"].coef - unshuffled.coef).max() > 1e-4  # the order matters
    for fmt, dtype in itertools.product(FORMATS, DTYPES):
        res, model = run_core(fmt, dtype, X, y, cfg, K=K, sample_weight=sw, shuffle=True, seed=seed)
        assert_same_run(res, model, expected[fmt], dtype, what=f"{fmt} {np.dtype(dtype).name}")
        if cfg.batch_size == 0:
            # Not even the rounding of the sums depends on the seed: rows stay in memory order.
            _, unshuffled_model = run_core(fmt, dtype, X, y, cfg, K=K, sample_weight=sw)
            for key in ("coef", "intercept", "average_coef", "average_intercept"):
                assert_array_equal(model[key], unshuffled_model[key])


@pytest.mark.parametrize("batch", ["sgd", "batch3"])
def test_validation_rows_are_left_out_of_training_and_shuffling(batch):
    """Rows in validation_mask are never trained on; the others are shuffled as a list."""
    seed = 99
    cfg = ref.Config(loss="hinge", penalty="l2", alpha=0.01, schedule="constant", eta0=0.05,
                     batch_size=BATCHES[batch], max_iter=3)
    X, y = DATA["X"], DATA["y_bin"]
    mask = np.zeros(N, dtype=np.uint8)
    mask[[2, 3, 11, 17]] = 1
    train_rows = np.flatnonzero(mask == 0)

    def orders(epoch):
        order = _core.shuffled_order(train_rows.tolist(), seed, epoch + 1)
        return np.searchsorted(train_rows, order)  # positions in X[train_rows]

    expected = ref.train(X[train_rows], y[train_rows], cfg, orders=orders)
    for dtype in DTYPES:
        res, model = run_core("dense", dtype, X, y, cfg, shuffle=True, seed=seed,
                              validation_mask=mask)
        assert_same_run(res, model, expected, dtype)


# ---- stopping on a plateau --------------------------------------------------------------------


PLATEAU_CASES = [
    # loss, penalty, schedule, batch, eta0, tol, n_iter_no_change
    ("squared_error", "l2", "constant", "sgd", 0.01, 1e-3, 3),
    ("squared_error", "elasticnet", "invscaling", "batch3", 0.2, 1e-3, 3),
    ("log_loss", "l1", "optimal", "sgd", 0.01, 1e-3, 3),
    ("hinge", None, "constant", "full", 0.5, 1e-3, 2),
    ("multinomial", "l2", "constant", "batch3", 0.1, 1e-3, 2),
    ("huber", "l2", "adaptive", "sgd", 0.05, 1e-3, 2),
    ("squared_error", "l2", "adaptive", "sgd", 0.05, 1e-3, 3),
    ("log_loss", "elasticnet", "adaptive", "batch3", 0.5, 1e-3, 2),
    ("epsilon_insensitive", "l2", "adaptive", "batch3", 0.1, 1e-4, 3),
    ("multinomial", "l2", "adaptive", "batch3", 0.1, 1e-3, 2),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("case", PLATEAU_CASES, ids=lambda c: "-".join(map(str, c)))
def test_plateau_stopping_matches_reference(case, dtype):
    loss, penalty, schedule, batch, eta0, tol, patience = case
    max_iter = 300
    cfg = ref.Config(loss=loss, penalty=penalty, alpha=0.01 if schedule != "optimal" else 0.1,
                     l1_ratio=0.3, epsilon=0.3, schedule=schedule, eta0=eta0, power_t=0.5,
                     batch_size=BATCHES[batch], max_iter=max_iter, tol=tol,
                     n_iter_no_change=patience, average=2)
    X, y, K = DATA["X"], targets(loss), n_outputs(loss)
    sw = DATA["sample_weight"]
    expected = ref.train(X, y, cfg, sample_weight=sw)
    assert expected.n_iter < max_iter  # it does stop on a plateau
    if schedule == "adaptive":
        # The step went down by factors of 5 until it was at most 1e-6.
        etas = sorted(set(expected.epoch_etas), reverse=True)
        assert_allclose(etas, [eta0 / 5**k for k in range(len(etas))], rtol=1e-12)
        assert etas[-1] <= 1e-6 < etas[-2]
    # Every plateau decision must be clear of a tie, or the dtype could flip it.
    margin = 2e-6 if dtype == np.float32 else 1e-11
    assert min(abs(m) for m in expected.plateau_margins) > margin

    seen = []

    def on_epoch(epoch, objective, score, eta, t, grad_norm, optimizer_state):
        seen.append((epoch, objective, eta, t))
        assert math.isnan(score)
        return False

    res, model = run_core("dense", dtype, X, y, cfg, K=K, sample_weight=sw, epoch_callback=on_epoch)
    assert_same_run(res, model, expected, dtype)
    assert [s[0] for s in seen] == list(range(1, expected.n_iter + 1))
    assert_allclose([s[1] for s in seen], expected.loss_curve, **TOL[dtype])
    assert_allclose([s[2] for s in seen], expected.epoch_etas, rtol=1e-12)
    assert [s[3] for s in seen] == expected.epoch_ts


def test_no_plateau_test_when_tol_is_minus_infinity():
    """tol=-inf: every epoch runs, even when the objective no longer changes."""
    cfg = ref.Config(loss="squared_error", penalty=None, schedule="adaptive", eta0=1e-9,
                     max_iter=40, tol=-math.inf, n_iter_no_change=1)
    X, y = DATA["X"], DATA["y_reg"]
    expected = ref.train(X, y, cfg)
    assert expected.n_iter == 40
    assert set(expected.epoch_etas) == {1e-9}
    res, model = run_core("dense", np.float64, X, y, cfg)
    assert_same_run(res, model, expected, np.float64)


# ---- details of the per-sample update ---------------------------------------------------------


@pytest.mark.parametrize("batch", ["sgd", "batch3"])
def test_dloss_is_clipped_only_per_sample(batch, monkeypatch):
    """Per-sample SGD clips dL/dp to +-1e12 (scikit-learn's MAX_DLOSS); gradient descent on
    batches does not. Targets of +-1e14 make dL/dp about 1e14."""
    cfg = ref.Config(loss="squared_error", penalty=None, schedule="constant", eta0=1e-3,
                     batch_size=BATCHES[batch], max_iter=2)
    X = DATA["X"][:6]
    y = np.array([1.0, 1.0, -1.0, 1.0, 1.0, -1.0]) * 1e14
    expected = ref.train(X, y, cfg)
    monkeypatch.setattr(ref, "MAX_DLOSS", math.inf)
    unclipped = ref.train(X, y, cfg)
    if batch == "sgd":
        assert abs(unclipped.intercept[0]) > 10 * abs(expected.intercept[0]) > 0
    else:
        assert_array_equal(expected.coef, unclipped.coef)
    for dtype in DTYPES:
        res, model = run_core("dense", dtype, X, y, cfg)
        assert_same_run(res, model, expected, dtype)


@pytest.mark.parametrize("batch", list(BATCHES))
def test_intercept_decay_scales_the_intercept_steps(batch):
    cfg = ref.Config(loss="log_loss", penalty="l2", alpha=0.01, schedule="constant", eta0=0.1,
                     batch_size=BATCHES[batch], max_iter=EPOCHS, intercept_decay=0.01)
    X, y = DATA["X"], DATA["y_bin"]
    expected = ref.train(X, y, cfg)
    full_steps = ref.train(X, y, ref.Config(**{**cfg.__dict__, "intercept_decay": 1.0}))
    assert abs(expected.intercept[0]) < 0.1 * abs(full_steps.intercept[0])
    for fmt, dtype in itertools.product(("dense", "csr32"), DTYPES):
        res, model = run_core(fmt, dtype, X, y, cfg)
        assert_same_run(res, model, expected, dtype, what=fmt)


def test_l2_shrinkage_is_clamped_at_zero():
    """With eta alpha > 1 the factor 1 - eta alpha is negative; scikit-learn sets w to 0 instead,
    so every per-sample update starts from w = 0: w = -eta (w_prev . x - y) x."""
    cfg = ref.Config(loss="squared_error", penalty="l2", alpha=30.0, schedule="constant",
                     eta0=0.05, max_iter=1, fit_intercept=False)
    X, y = DATA["X"][:4], DATA["y_reg"][:4]
    w = np.zeros(D)
    for x_i, y_i in zip(X, y):
        w = -0.05 * (w @ x_i - y_i) * x_i
    expected = ref.train(X, y, cfg)
    assert_allclose(expected.coef[0], w, rtol=1e-14)
    for dtype in DTYPES:
        res, model = run_core("dense", dtype, X, y, cfg)
        assert_same_run(res, model, expected, dtype)


@pytest.mark.parametrize("alpha", [0.1, 0.01, 1e-4])
def test_optimal_schedule_step_sizes(alpha):
    """eta(t) = 1 / (alpha (t_opt + t - 1)) with scikit-learn's t_opt: the first step is typw for
    every loss, dL/dp at (p=-typw, y=1) being at most 1. The core reports each epoch's last step."""
    typw = math.sqrt(1.0 / math.sqrt(alpha))
    X = DATA["X"][:3]  # few rows: large first steps, but no time to diverge
    for loss in ref.LOSSES:
        y = np.array([0.0, 1.0, 2.0]) if loss == "multinomial" else np.array([1.0, -1.0, 1.0])
        cfg = ref.Config(loss=loss, alpha=alpha, schedule="optimal", max_iter=2)
        expected = ref.train(X, y, cfg)
        assert expected.etas[0] == pytest.approx(typw, rel=1e-12), loss
        assert expected.epoch_etas[-1] == pytest.approx(1.0 / (alpha * (1.0 / (typw * alpha) + 5)),
                                                        rel=1e-12)
        seen = []
        run_core("dense", np.float64, X, y, cfg, K=n_outputs(loss),
                 epoch_callback=lambda e, o, s, eta, t, g, state: seen.append(eta) or False)  # noqa: B023
        assert_allclose(seen, expected.epoch_etas, rtol=1e-14, err_msg=loss)


# ---- weights ----------------------------------------------------------------------------------


@pytest.mark.parametrize("batch", list(BATCHES))
def test_rows_of_weight_zero(batch):
    """Batched: means are weighted, so rows of weight zero count as absent and a batch of them
    is no update. Per-sample: such a row still shrinks the weights and counts as an update."""
    cfg = ref.Config(loss="log_loss", penalty="elasticnet", alpha=0.01, l1_ratio=0.3,
                     schedule="invscaling", eta0=0.1, power_t=0.5, batch_size=BATCHES[batch],
                     max_iter=EPOCHS, average=2)
    X, y = DATA["X"], DATA["y_bin"]
    sw = DATA["sample_weight"].copy()
    sw[[3, 4, 5, 12]] = 0.0  # rows 3-5 are the second batch of 3
    cw = class_weights("log_loss")
    expected = reference_runs(X, y, cfg, sample_weight=sw, class_weight=cw)
    updates_per_epoch = {"sgd": N, "batch3": math.ceil(N / 3) - 1, "full": 1}[batch]
    assert expected["dense"].t == 1 + EPOCHS * updates_per_epoch
    for fmt, dtype in itertools.product(FORMATS, DTYPES):
        res, model = run_core(fmt, dtype, X, y, cfg, sample_weight=sw, class_weight=cw)
        assert_same_run(res, model, expected[fmt], dtype, what=f"{fmt} {np.dtype(dtype).name}")
    if batch == "full":
        keep = sw > 0
        without = ref.train(X[keep], y[keep], cfg, sample_weight=sw[keep], class_weight=cw)
        assert_allclose(without.coef, expected["dense"].coef, rtol=1e-12)
        assert_allclose(without.loss_curve, expected["dense"].loss_curve, rtol=1e-12)


def test_weighted_means_differ_from_row_count_means():
    """The weighted convention is observable: dividing by the row count gives another model."""
    for batch in ("sgd", "batch3"):
        cfg = ref.Config(loss="squared_error", penalty="l2", alpha=0.01, schedule="constant",
                         eta0=0.05, batch_size=BATCHES[batch], max_iter=EPOCHS)
        X, y, sw = DATA["X"], DATA["y_reg"], 3.0 * DATA["sample_weight"]
        weighted = ref.train(X, y, cfg, sample_weight=sw)
        by_count = ref.train(X, y, ref.Config(**{**cfg.__dict__, "weighted_mean": False}),
                             sample_weight=sw)
        res, model = run_core("dense", np.float64, X, y, cfg, sample_weight=sw)
        assert_same_run(res, model, weighted, np.float64)
        assert abs(res.loss_curve[0] - by_count.loss_curve[0]) > 0.1 * abs(by_count.loss_curve[0])
        if batch != "sgd":
            assert np.abs(model["coef"] - by_count.coef).max() > 1e-3
