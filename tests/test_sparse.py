"""Sparse (CSR) input: every loss, penalty, optimizer and schedule gives the result of the same
data densified, for int32 and int64 indices and float32 / float64 data; the per-sample path's
averaging against the NumPy reference.

The mini-batch path updates only a batch's features on CSR input where the rule's steps on the
other features have a closed form (plain SGD, SGD without momentum, Adagrad and RMSprop without
L2 decay, see SGDClassifier's docstring); those lazy updates must give the dense result.
"""

import io

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from sklearn.datasets import dump_svmlight_file, load_svmlight_file

import reference as ref
from fastdescent import SGDClassifier, SGDRegressor, optim, schedules
from fastdescent._base import OPTIMIZERS

N, D = 48, 30


def sparse_data(dtype, seed=0, index_dtype=np.int32, task="regression"):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, D))
    X[rng.random(X.shape) < 0.8] = 0.0  # ~6 stored entries per row: most features skip steps
    w = rng.normal(size=D)
    score = X @ w + 0.3 + 0.1 * rng.normal(size=N)
    if task == "regression":
        y = score
    elif task == "binary":
        y = (score > 0).astype(int)
    else:
        y = np.digitize(score, np.quantile(score, [1 / 3, 2 / 3]))
    X = X.astype(dtype)
    Xs = sp.csr_matrix(X)
    Xs = with_indices(Xs, index_dtype)
    assert Xs.indices.dtype == index_dtype
    return Xs, X, y


def with_indices(Xs, index_dtype):
    """Xs with its index arrays in index_dtype (scipy's constructor would narrow int64)."""
    Xs = Xs.copy()
    Xs.indices = Xs.indices.astype(index_dtype)
    Xs.indptr = Xs.indptr.astype(index_dtype)
    return Xs


def tol(dtype):
    return dict(rtol=2e-4, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-11)


def assert_same_fit(make, Xs, X, y, dtype):
    sparse = make().fit(Xs, y)
    dense = make().fit(X, y)
    assert sparse.coef_.dtype == dtype
    assert np.all(np.isfinite(dense.coef_))
    scale = max(1.0, np.abs(dense.coef_).max())
    t = tol(dtype)
    assert_allclose(sparse.coef_, dense.coef_, rtol=t["rtol"], atol=t["atol"] * scale)
    assert_allclose(sparse.intercept_, dense.intercept_, rtol=t["rtol"], atol=t["atol"] * scale)
    return sparse, dense


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("penalty", [None, "l2", "l1", "elasticnet"])
def test_minibatch_optimizers_match_dense(optimizer, penalty, index_dtype, dtype):
    Xs, X, y = sparse_data(dtype, index_dtype=index_dtype)
    eta0 = 0.2 if optimizer == "adafactor" else 0.02
    make = lambda: SGDRegressor(optimizer=optimizer, penalty=penalty, alpha=0.01, batch_size=4,
                                learning_rate="constant", eta0=eta0, max_iter=4, tol=None,
                                random_state=0)
    assert_same_fit(make, Xs, X, y, dtype)


@pytest.mark.parametrize(
    "opt",
    [optim.SGD(lr=0.05, weight_decay=0.1), optim.SGD(lr=0.02, momentum=0.5),
     optim.Adagrad(lr=0.1, lr_decay=0.05, initial_accumulator_value=0.1),
     optim.Adagrad(lr=0.1, weight_decay=0.01), optim.RMSprop(lr=0.01, centered=True),
     optim.RMSprop(lr=0.01, alpha=0.9), optim.RMSprop(lr=0.01, momentum=0.5),
     optim.Adam(lr=0.01, amsgrad=True), optim.AdamW(lr=0.01)],
    ids=lambda o: repr(o)[:40],
)
@pytest.mark.parametrize("batch_size", [1, 5])
def test_optimizer_objects_match_dense(opt, batch_size, dtype):
    Xs, X, y = sparse_data(dtype, seed=3, index_dtype=np.int64)
    make = lambda: SGDRegressor(optimizer=opt, penalty="l1", alpha=0.01, batch_size=batch_size,
                                max_iter=3, tol=None, random_state=1)
    assert_same_fit(make, Xs, X, y, dtype)


LOSSES = {
    "binary": ["hinge", "log_loss", "modified_huber", "squared_hinge", "perceptron",
               "squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive"],
    "regression": ["squared_error", "huber", "epsilon_insensitive",
                   "squared_epsilon_insensitive"],
}


@pytest.mark.parametrize("optimizer", ["sgd", "adagrad", "rmsprop", "adam"])
@pytest.mark.parametrize("task, loss", [(t, loss) for t, losses in LOSSES.items() for loss in losses]
                         + [("multiclass", "log_loss")])
def test_every_loss_matches_dense(task, loss, optimizer, dtype):
    Xs, X, y = sparse_data(dtype, seed=5, task=task)
    kw = dict(loss=loss, optimizer=optimizer, penalty="elasticnet" if optimizer == "sgd" else "l1",
              alpha=0.005, batch_size=6, learning_rate="constant", eta0=0.05, max_iter=3,
              tol=None, random_state=2)
    if task == "regression":
        make = lambda: SGDRegressor(**kw)
    else:
        mc = {"multi_class": "multinomial"} if task == "multiclass" else {}
        make = lambda: SGDClassifier(**kw, **mc)
    assert_same_fit(make, Xs, X, y, dtype)


@pytest.mark.parametrize(
    "learning_rate",
    [name for name in schedules.ESTIMATOR_SCHEDULES if name not in ("pa1", "pa2")]
    + [schedules.StepLR(0.05, step_size=3, gamma=0.5),
       schedules.CosineAnnealingWarmRestarts(0.05, T_0=4),
       schedules.ReduceLROnPlateau(0.05, patience=0)],
    ids=str,
)
def test_every_schedule_matches_dense(learning_rate, dtype):
    Xs, X, y = sparse_data(dtype, seed=7, task="binary")
    make = lambda: SGDClassifier(loss="log_loss", penalty="elasticnet", alpha=0.01,
                                 learning_rate=learning_rate, eta0=0.05, batch_size=8,
                                 max_iter=5, tol=None, random_state=0)
    assert_same_fit(make, Xs, X, y, dtype)


def test_large_l2_step_falls_back_to_a_full_update(dtype):
    # 1 - eta * alpha <= 0: no closed form for skipped steps; every weight takes that step.
    Xs, X, y = sparse_data(dtype, seed=11)
    make = lambda: SGDRegressor(penalty="l2", alpha=30.0, batch_size=4, learning_rate="constant",
                                eta0=0.04, max_iter=2, tol=None, random_state=0)
    assert_same_fit(make, Xs, X, y, dtype)


def test_zero_weight_batches_and_class_weight_match_dense(dtype):
    Xs, X, y = sparse_data(dtype, seed=13, task="binary")
    sw = np.ones(N)
    sw[:12] = 0.0
    make = lambda: SGDClassifier(loss="log_loss", optimizer="adagrad", penalty="l1", alpha=0.01,
                                 batch_size=3, shuffle=False, class_weight={0: 2.0, 1: 0.5},
                                 max_iter=3, tol=None)
    sparse = make().fit(Xs, y, sample_weight=sw)
    dense = make().fit(X, y, sample_weight=sw)
    assert_allclose(sparse.coef_, dense.coef_, **tol(dtype))


def test_early_stopping_and_partial_fit_match_dense(dtype):
    Xs, X, y = sparse_data(dtype, seed=17, task="binary")
    kw = dict(loss="hinge", optimizer="rmsprop", penalty="l1", alpha=0.001, batch_size=4,
              random_state=0)
    a = SGDClassifier(early_stopping=True, validation_fraction=0.25, n_iter_no_change=2, **kw)
    b = SGDClassifier(early_stopping=True, validation_fraction=0.25, n_iter_no_change=2, **kw)
    assert_allclose(a.fit(Xs, y).coef_, b.fit(X, y).coef_, **tol(dtype))
    assert a.n_iter_ == b.n_iter_
    c, d = SGDClassifier(**kw), SGDClassifier(**kw)
    for _ in range(3):
        c.partial_fit(Xs, y, classes=[0, 1])
        d.partial_fit(X, y, classes=[0, 1])
    assert_allclose(c.coef_, d.coef_, **tol(dtype))


# ---- per-sample SGD: averaging at O(nnz) ------------------------------------------------------


@pytest.mark.parametrize("penalty, alpha", [("l2", 1e-3), ("l1", 1e-3), ("elasticnet", 1e-3),
                                            ("l2", 0.9)])  # alpha 0.9: the weight scale is renormalized
@pytest.mark.parametrize("average", [1, 20])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_per_sample_averaging_matches_reference(penalty, alpha, average, index_dtype, dtype):
    Xs, _, y = sparse_data(dtype, seed=19, index_dtype=index_dtype)
    kw = dict(penalty=penalty, alpha=alpha, average=average, learning_rate="invscaling",
              eta0=0.05, max_iter=4, tol=None, shuffle=False)
    est = SGDRegressor(**kw).fit(Xs, y)
    cfg = ref.Config(loss="squared_error", penalty=penalty, alpha=alpha, l1_ratio=0.15,
                     schedule="invscaling", eta0=0.05, max_iter=4, average=average,
                     intercept_decay=0.01)  # scikit-learn's on sparse X
    expected = ref.train(Xs.astype(np.float64), y.astype(np.float64), cfg)
    t = dict(rtol=3e-4, atol=3e-5) if dtype == np.float32 else dict(rtol=1e-8, atol=1e-10)
    assert_allclose(est.coef_, expected.average_coef.ravel(), **t)
    assert_allclose(est.intercept_, expected.average_intercept, **t)
    # Dense rows average the same way, L1 aside (it truncates all features of a dense row); the
    # intercept aside (damped on sparse X).
    if penalty == "l2":
        kw["fit_intercept"] = False
        dense = SGDRegressor(**kw).fit(Xs.toarray(), y)
        assert_allclose(SGDRegressor(**kw).fit(Xs, y).coef_, dense.coef_, **t)


def test_per_sample_averaging_multinomial_matches_dense(dtype):
    Xs, X, y = sparse_data(dtype, seed=23, task="multiclass")
    make = lambda: SGDClassifier(loss="log_loss", multi_class="multinomial", average=10,
                                 alpha=1e-3, max_iter=3, tol=None, random_state=0,
                                 fit_intercept=False)  # damped on sparse X only
    assert_same_fit(make, Xs, X, y, dtype)


# ---- input formats ---------------------------------------------------------------------------


def test_svmlight_int64_indices_are_accepted():
    Xs, X, y = sparse_data(np.float64, seed=29, task="binary")
    buf = io.BytesIO()
    dump_svmlight_file(X, y, buf)
    buf.seek(0)
    Xl, yl = load_svmlight_file(buf, n_features=D)
    Xl = with_indices(Xl, np.int64)  # as load_svmlight_file returns on large files
    clf = SGDClassifier(random_state=0, max_iter=5, tol=None).fit(Xl, yl)
    ref32 = SGDClassifier(random_state=0, max_iter=5, tol=None).fit(Xs, y)
    assert_allclose(clf.coef_, ref32.coef_, rtol=1e-12)
    assert_allclose(clf.decision_function(Xl), ref32.decision_function(X), rtol=1e-10)


@pytest.mark.parametrize("fmt", ["csc", "coo", "lil", "dok"])
def test_other_sparse_formats_are_converted(fmt):
    Xs, X, y = sparse_data(np.float64, seed=31)
    make = lambda: SGDRegressor(optimizer="adagrad", batch_size=4, max_iter=3, tol=None,
                                random_state=0)
    expected = make().fit(Xs, y).coef_
    assert_allclose(make().fit(Xs.asformat(fmt), y).coef_, expected, rtol=1e-12)


def test_unsorted_and_duplicate_indices_match_dense():
    rng = np.random.default_rng(37)
    rows = np.repeat(np.arange(N), 6)
    cols = rng.integers(0, D, size=rows.size)  # duplicates are summed, as in toarray()
    vals = rng.normal(size=rows.size)
    Xs = sp.csr_matrix((vals, (rows, cols)), shape=(N, D))
    Xs.has_canonical_format = False
    perm = np.concatenate([rng.permutation(np.arange(a, b))
                           for a, b in zip(Xs.indptr[:-1], Xs.indptr[1:])])
    Xs = sp.csr_matrix((Xs.data[perm], Xs.indices[perm], Xs.indptr), shape=(N, D))
    y = rng.normal(size=N)
    make = lambda: SGDRegressor(optimizer="rmsprop", penalty="l1", alpha=0.01, batch_size=4,
                                max_iter=3, tol=None, random_state=0)
    assert_same_fit(make, Xs, Xs.toarray(), y, np.float64)


# ---- real data -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def a9a_data():
    from conftest import DATA_DIR

    folder = DATA_DIR / "a9a"
    if not folder.is_dir():
        pytest.skip(f"a9a not found at {folder}")
    X_tr, y_tr = load_svmlight_file(str(folder / "a9a"), n_features=123)
    X_te, y_te = load_svmlight_file(str(folder / "a9a.t"), n_features=123)
    return X_tr, y_tr, X_te, y_te


def test_a9a_averaged_and_lazy_minibatch_not_worse_than_sklearn(a9a_data):
    from sklearn.linear_model import SGDClassifier as SklearnSGDClassifier

    X_tr, y_tr, X_te, y_te = a9a_data
    X32_tr, X32_te = with_indices(X_tr, np.int32), with_indices(X_te, np.int32)
    Xl_tr = with_indices(X_tr, np.int64)
    params = dict(loss="log_loss", alpha=1e-5, average=True, max_iter=10, tol=None)
    ours = np.mean([SGDClassifier(random_state=s, **params).fit(Xl_tr, y_tr).score(X_te, y_te)
                    for s in range(2)])
    theirs = np.mean([SklearnSGDClassifier(random_state=s, **params).fit(X32_tr, y_tr)
                      .score(X32_te, y_te) for s in range(2)])
    assert ours >= theirs - 1e-3, (ours, theirs)
    # Lazy mini-batch Adagrad with L1 reaches the accuracy of scikit-learn's default fit.
    lazy = SGDClassifier(optimizer="adagrad", batch_size=32, learning_rate="constant", eta0=0.1,
                         penalty="l1", alpha=1e-6, max_iter=10, tol=None, random_state=0)
    default = SklearnSGDClassifier(random_state=0).fit(X32_tr, y_tr).score(X32_te, y_te)
    assert lazy.fit(Xl_tr, y_tr).score(X_te, y_te) >= default - 1e-3


# ---- sparse_updates='lazy': Adam / AdamW as torch's SparseAdam -------------------------------


def lazy_adam_reference(Xs, y, *, lr, betas, eps, weight_decay, decoupled, amsgrad, l2, l1,
                        batch_size, epochs):
    """squared_error regression, rows in order, from the SparseAdam rule: per batch, with U the
    batch's stored features and t the global step count, the features in U take the Adam step
    (gradient + l2 w, coupled or decoupled weight decay), then the L1 step; the other features
    keep their weights and moments. The intercept takes the dense Adam step."""
    X = Xs.toarray().astype(np.float64)
    y = np.asarray(y, dtype=np.float64)
    n, d = X.shape
    w, m, v, vmax = np.zeros(d), np.zeros(d), np.zeros(d), np.zeros(d)
    b, mb, vb, vbmax = 0.0, 0.0, 0.0, 0.0
    b1, b2 = betas
    t = 0
    for _ in range(epochs):
        for start in range(0, n, batch_size):
            rows = np.arange(start, min(n, start + batch_size))
            U = np.unique(np.concatenate([Xs.indices[Xs.indptr[i]:Xs.indptr[i + 1]] for i in rows]))
            r = X[rows] @ w + b - y[rows]
            g = X[rows].T @ r / len(rows)
            gb = r.mean()
            t += 1

            def adam(p, grad, m_, v_, vmax_, t):
                if decoupled:
                    p = p * (1 - lr * weight_decay)
                else:
                    grad = grad + weight_decay * p
                m_ = b1 * m_ + (1 - b1) * grad
                v_ = b2 * v_ + (1 - b2) * grad**2
                vhat = np.maximum(vmax_, v_) if amsgrad else v_
                step = lr / (1 - b1**t) * m_ / (np.sqrt(vhat) / np.sqrt(1 - b2**t) + eps)
                return p - step, m_, v_, vhat

            wU, m[U], v[U], vmax[U] = adam(w[U], g[U] + l2 * w[U], m[U], v[U], vmax[U], t)
            w[U] = np.sign(wU) * np.maximum(0.0, np.abs(wU) - lr * l1)
            b, mb, vb, vbmax = adam(b, gb, mb, vb, vbmax, t)
    return w, b


@pytest.mark.parametrize(
    "opt, decoupled",
    [(optim.Adam(lr=0.02), False), (optim.Adam(lr=0.02, weight_decay=0.05, amsgrad=True), False),
     (optim.AdamW(lr=0.02, weight_decay=0.1), True)],
    ids=["adam", "adam-wd-amsgrad", "adamw"],
)
@pytest.mark.parametrize("penalty", ["l2", "l1", "elasticnet"])
@pytest.mark.parametrize("batch_size", [1, 5])
def test_lazy_adam_matches_sparse_adam_reference(opt, decoupled, penalty, batch_size, dtype):
    Xs, X, y = sparse_data(dtype, seed=41, index_dtype=np.int64)
    alpha, l1_ratio = 0.02, 0.3
    est = SGDRegressor(optimizer=opt, penalty=penalty, alpha=alpha, l1_ratio=l1_ratio,
                       batch_size=batch_size, sparse_updates="lazy", shuffle=False, max_iter=3,
                       tol=None).fit(Xs, y)
    share = {"l2": 0.0, "l1": 1.0, "elasticnet": l1_ratio}[penalty]
    w, b = lazy_adam_reference(
        Xs, y, lr=opt.lr, betas=opt.betas, eps=opt.eps, weight_decay=opt.weight_decay,
        decoupled=decoupled, amsgrad=getattr(opt, "amsgrad", False), l2=alpha * (1 - share),
        l1=alpha * share, batch_size=batch_size, epochs=3)
    t = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-11)
    assert_allclose(est.coef_, w, **t)
    assert_allclose(est.intercept_, [b], **t)
    # The lazy rule is a different algorithm: on the same data densified it is not used.
    dense = SGDRegressor(**est.get_params()).fit(X, y)
    assert np.abs(dense.coef_ - est.coef_).max() > 1e-4


def test_lazy_does_not_change_exact_rules(dtype):
    Xs, _, y = sparse_data(dtype, seed=43)
    for optimizer in ["sgd", "adagrad", "rmsprop"]:
        kw = dict(optimizer=optimizer, penalty="l1", alpha=0.01, batch_size=4, max_iter=2,
                  tol=None, random_state=0)
        exact = SGDRegressor(**kw).fit(Xs, y)
        lazy = SGDRegressor(sparse_updates="lazy", **kw).fit(Xs, y)
        assert_allclose(lazy.coef_, exact.coef_, rtol=0, atol=0)


def lazy_reference(Xs, y, make_optimizer, *, l2, l1, batch_size, epochs):
    """squared_error regression, rows in order, by the SparseAdam-style rule for any optimizer:
    per batch, the batch's stored features U take the step of fastdescent.optim's optimizer
    (tested against PyTorch elsewhere) on their weights and their part of the state, with the
    gradient plus l2 w, then the L1 step; the other features keep weights and state. The slot's
    step count advances at every update. The intercept takes the dense step."""
    X = Xs.toarray().astype(np.float64)
    y = np.asarray(y, dtype=np.float64)
    n, d = X.shape
    w, b = np.zeros(d), np.zeros(1)
    opt_w, opt_b = make_optimizer(), make_optimizer()
    full = opt_w._new_state(w)  # the state of all d features
    for _ in range(epochs):
        for start in range(0, n, batch_size):
            rows = np.arange(start, min(n, start + batch_size))
            U = np.unique(np.concatenate([Xs.indices[Xs.indptr[i]:Xs.indptr[i + 1]] for i in rows]))
            r = X[rows] @ w + b[0] - y[rows]
            g = X[rows].T @ r / len(rows)
            compact = {k: v[U].copy() if isinstance(v, np.ndarray) and v.shape == (d,) else v
                       for k, v in full.items()}
            compact["shape"] = (len(U),)
            opt_w.state = [compact]
            wU = w[U].copy()
            opt_w.step(wU, g[U] + l2 * w[U])
            for k, v in opt_w.state[0].items():
                if isinstance(full[k], np.ndarray) and full[k].shape == (d,):
                    full[k][U] = v
                elif k != "shape":
                    full[k] = v
            w[U] = np.sign(wU) * np.maximum(0.0, np.abs(wU) - opt_w.lr * l1)
            opt_b.step(b, np.array([r.mean()]))
    return w, b[0]


LAZY_RULES = {
    "momentum": lambda: optim.SGD(lr=0.05, momentum=0.9, weight_decay=0.01),
    "nesterov": lambda: optim.SGD(lr=0.05, momentum=0.9, nesterov=True),
    "adagrad-l2": lambda: optim.Adagrad(lr=0.1),
    "rmsprop-centered": lambda: optim.RMSprop(lr=0.01, centered=True, momentum=0.5),
    "adam": lambda: optim.Adam(lr=0.02, amsgrad=True),
    "adamw": lambda: optim.AdamW(lr=0.02, weight_decay=0.1),
    "nadam": lambda: optim.NAdam(lr=0.02),
    "adamax": lambda: optim.Adamax(lr=0.02),
    "lamb": lambda: optim.LAMB(lr=0.02, weight_decay=0.01),
    "lion": lambda: optim.Lion(lr=0.002, weight_decay=0.1),
}


@pytest.mark.parametrize("rule", list(LAZY_RULES))
def test_lazy_rule_of_every_optimizer_matches_reference(rule, dtype):
    Xs, X, y = sparse_data(dtype, seed=47)
    alpha, l1_ratio = 0.02, 0.3  # elasticnet: the L2 part rules out the exact catch-ups
    est = SGDRegressor(optimizer=LAZY_RULES[rule](), penalty="elasticnet", alpha=alpha,
                       l1_ratio=l1_ratio, batch_size=5, sparse_updates="lazy", shuffle=False,
                       max_iter=3, tol=None).fit(Xs, y)
    w, b = lazy_reference(Xs, y, LAZY_RULES[rule], l2=alpha * (1 - l1_ratio),
                          l1=alpha * l1_ratio, batch_size=5, epochs=3)
    t = dict(rtol=2e-4, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-11)
    assert_allclose(est.coef_, w, **t)
    assert_allclose(est.intercept_, [b], **t)


def test_lazy_step_touches_only_the_batch_features():
    # One step on a batch that stores features {0, 3}: the others keep weight and state.
    Xs = sp.csr_matrix(np.array([[1.0, 0, 0, 2.0, 0], [0.5, 0, 0, 0, 0]]))
    y = np.array([1.0, -1.0])
    est = SGDRegressor(optimizer="momentum", batch_size=2, sparse_updates="lazy", max_iter=1,
                       tol=None, penalty=None)
    est.fit(Xs, y, coef_init=np.ones(5))
    assert_allclose(est.coef_[[1, 2, 4]], 1.0, rtol=0, atol=0)
    assert np.all(est.coef_[[0, 3]] != 1.0)


def test_lazy_adafactor_is_refused_clearly():
    Xs, _, y = sparse_data(np.float64)
    with pytest.raises(ValueError, match="Adafactor has no lazy sparse rule.*sparse_updates='exact'"):
        SGDRegressor(optimizer="adafactor", batch_size=4, sparse_updates="lazy").fit(Xs, y)


@pytest.mark.parametrize("clip", [dict(clip_value=0.05), dict(clip_norm=0.1)])
def test_lazy_rule_with_clipping_matches_dense_when_every_feature_is_touched(clip):
    # A batch that stores every feature: the lazy step is the dense one, clipping included.
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 6))
    y = X @ rng.normal(size=6)
    kw = dict(optimizer="adam", batch_size=40, max_iter=4, tol=None, shuffle=False, **clip)
    lazy = SGDRegressor(sparse_updates="lazy", **kw).fit(sp.csr_matrix(X), y)
    dense = SGDRegressor(**kw).fit(X, y)
    assert_allclose(lazy.coef_, dense.coef_, rtol=1e-12)


def test_sparse_updates_is_validated():
    Xs, _, y = sparse_data(np.float64)
    with pytest.raises(ValueError, match="sparse_updates"):
        SGDRegressor(sparse_updates="fast").fit(Xs, y)
