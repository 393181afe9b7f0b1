"""Sparse input goes through one structural check at every entry point: malformed CSR matrices
get a clear ValueError (never a read out of bounds), duplicate entries mean their sum as in
SciPy (a private summed copy; the user's matrix is left alone), and index arrays rewritten by a
callback during a fit are caught before the next epoch reads them."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal

import fastdescent as fd
from fastdescent import _core


def _problem(seed=0, n=120, d=15):
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=0.3, format="csr", random_state=seed)
    y = np.asarray(X @ rng.standard_normal(d)).ravel()
    return X, y


def _malformed(X, how):
    B = X.copy()
    if how == "column_too_large":
        B.indices[3] = 10**7
    elif how == "column_negative":
        B.indices[0] = -1
    elif how == "indptr_decreasing":
        B.indptr[2] = B.indptr[4] + 1
    elif how == "indptr_end":
        B.indptr[-1] -= 1
    elif how == "indptr_short":
        B.indptr = B.indptr[:-1]
    return B


MALFORMED = ["column_too_large", "column_negative", "indptr_decreasing", "indptr_end",
             "indptr_short"]


@pytest.mark.parametrize("how", MALFORMED)
def test_every_entry_point_refuses_malformed_csr(how):
    X, y = _problem()
    labels = (y > np.median(y)).astype(int)
    clf = fd.SGDClassifier(loss="log_loss", max_iter=3, tol=None, random_state=0).fit(X, labels)
    reg = fd.SGDRegressor(max_iter=3, tol=None, random_state=0).fit(X, y)
    B = _malformed(X, how)
    calls = [
        lambda: fd.SGDClassifier(max_iter=2, tol=None).fit(B, labels),
        lambda: fd.SGDClassifier(max_iter=2, tol=None).partial_fit(B, labels, classes=[0, 1]),
        lambda: clf.predict(B),
        lambda: clf.decision_function(B),
        lambda: clf.predict_proba(B),
        lambda: clf.score(B, labels),
        lambda: fd.SGDRegressor(batch_size="full", max_iter=2, tol=None).fit(B, y),
        lambda: reg.partial_fit(B, y),
        lambda: reg.predict(B),
        lambda: reg.score(B, y),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="malformed|index|indptr"):
            call()


def _with_duplicates(X, rng):
    """X with a third of its stored entries split into two halves stored separately."""
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    split = rng.random(X.nnz) < 0.3
    r = np.r_[rows, rows[split]]
    c = np.r_[X.indices, X.indices[split]]
    v = np.r_[np.where(split, 0.5 * X.data, X.data), 0.5 * X.data[split]]
    order = rng.permutation(r.size)  # unsorted columns within rows, too
    order = order[np.argsort(r[order], kind="stable")]
    indptr = np.r_[0, np.cumsum(np.bincount(r, minlength=X.shape[0]))]
    D = sp.csr_matrix((v[order], c[order], indptr), shape=X.shape)
    assert D.nnz > X.nnz and not D.has_canonical_format
    return D


def test_check_csr_matches_a_reference():
    rng = np.random.default_rng(3)
    for trial in range(40):
        n, d = rng.integers(1, 20), rng.integers(1, 12)
        counts = rng.integers(0, 6, size=n)
        indices = rng.integers(0, d, size=counts.sum())
        indptr = np.r_[0, np.cumsum(counts)]
        expected = any(len(set(indices[a:b])) < b - a for a, b in zip(indptr[:-1], indptr[1:]))
        for index in (np.int32, np.int64):
            got = _core.check_csr(indices.astype(index), indptr.astype(index), int(d))
            assert got == expected, (trial, index)
    with pytest.raises(ValueError, match="out of range"):
        _core.check_csr(np.array([0, 3], np.int32), np.array([0, 2], np.int32), 3)
    # Unsorted rows over 2**40 columns: found without a table over the columns.
    indptr = np.array([0, 3, 5], np.int64)
    assert not _core.check_csr(np.array([9, 3, 2**40 - 1, 7, 1], np.int64), indptr, 2**40)
    assert _core.check_csr(np.array([9, 3, 2**40 - 1, 7, 7], np.int64), indptr, 2**40)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_duplicate_entries_train_as_their_sum(dtype):
    rng = np.random.default_rng(1)
    X, y = _problem()
    X = X.astype(dtype)
    D = _with_duplicates(X, rng)
    before = (D.data.copy(), D.indices.copy(), D.indptr.copy())
    labels = np.where(y > np.median(y), 1, -1)
    makes = [
        lambda: fd.SGDClassifier(learning_rate="pa1", eta0=0.5, max_iter=4, tol=None,
                                 random_state=0),
        lambda: fd.SGDRegressor(batch_size="full", learning_rate="constant", eta0=0.1,
                                max_iter=5, tol=None),
    ]
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    for make, target in zip(makes, [labels, y]):
        summed, dup = make().fit(X, target), make().fit(D, target)
        assert_allclose(dup.coef_, summed.coef_, rtol=rtol, atol=rtol)
        assert_allclose(dup.predict(D), summed.predict(X), rtol=rtol, atol=rtol)
        if hasattr(summed, "history_"):
            assert_allclose(dup.history_["grad_norm"], summed.history_["grad_norm"], rtol=rtol)
    for a, b in zip(before, (D.data, D.indices, D.indptr)):
        assert_array_equal(a, b)  # the user's matrix is as it was
    assert not D.has_canonical_format


MUTATING_CALLBACK = textwrap.dedent(
    """
    import numpy as np, scipy.sparse as sp
    import fastdescent as fd
    from fastdescent.callbacks import Callback

    X = sp.random(5000, 40, density=0.2, format="csr", random_state=0)
    y = (np.asarray(X.sum(axis=1)).ravel() > 4).astype(int)

    class Scramble(Callback):
        def on_epoch_end(self, est, epoch, metrics):
            X.indices[::7] = {value}

    est = fd.SGDClassifier(max_iter=5, tol=None, batch_size={batch_size!r},
                           callbacks=[Scramble()])
    try:
        est.fit(X, y)
    except ValueError as e:
        print("refused:", e)
    """
)


@pytest.mark.parametrize("batch_size", [1, 32, "full"])
@pytest.mark.parametrize("value", [10**9, -5])
def test_index_arrays_rewritten_by_a_callback_are_caught(batch_size, value):
    script = MUTATING_CALLBACK.format(value=value, batch_size=batch_size)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]  # a crash would show here
    assert "refused:" in out.stdout and "changed during the fit" in out.stdout, out.stdout
