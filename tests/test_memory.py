"""1,000 repeated fits (and refused calls) do not grow the process's memory: nothing the
bindings allocate per call, C++ buffers or Python objects, outlives the call."""

import gc
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import fastdescent as fd
from fastdescent import _core

STATM = Path("/proc/self/statm")


def resident_bytes():
    import os

    return int(STATM.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def one_round(i, X, S, y, yr, X_big, y_big):
    """One fit (four kinds in turn), a prediction, and calls that are refused (an exception
    thrown from C++ must release what the call had allocated)."""
    kind = i % 4
    if kind == 0:
        fd.SGDClassifier(max_iter=2, tol=None, random_state=i).fit(X, y)
    elif kind == 1:
        fd.SGDClassifier(loss="log_loss", multi_class="multinomial", batch_size=4,
                         optimizer="adam", max_iter=2, tol=None, random_state=i).fit(S, y)
    elif kind == 2:
        fd.SGDRegressor(max_iter=2, tol=None, average=True, penalty="elasticnet",
                        random_state=i).fit(X, yr).predict(X)
    else:
        fd.SGDRegressor(batch_size="full", optimizer="lamb", max_iter=2, tol=None).fit(S, yr)
    # The bindings directly, on more rows, so that a per-call buffer the trainer leaked (its
    # row order alone is 16 KB here) would add up to megabytes: a training run per batching
    # mode, and a refused one.
    cfg = _core.TrainConfig()
    cfg.max_iter = 2
    cfg.batch_size = [1, 32, 0][i % 3]
    _core.train_dense(X_big, y_big, np.zeros((1, X_big.shape[1])), np.zeros(1), cfg)
    cfg.alpha = -1.0
    try:
        _core.train_dense(X_big, y_big, np.zeros((1, X_big.shape[1])), np.zeros(1), cfg)
    except ValueError:
        pass
    _core.adam_step(np.ones(8), np.ones(8), np.zeros(8), np.zeros(8), np.zeros(8), 1, amsgrad=True)


@pytest.mark.skipif(not STATM.exists(), reason="reads the resident set size from /proc")
@pytest.mark.skipif(hasattr(sys, "gettotalrefcount"), reason="debug builds keep extra objects")
def test_repeated_fits_do_not_grow_memory():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 4))
    S = sp.csr_matrix(np.where(np.abs(X) > 0.5, X, 0.0))
    y = np.arange(20) % 3
    yr = X[:, 0].copy()
    X_big = rng.standard_normal((2000, 8))
    y_big = X_big[:, 0].copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(50):  # warm-up: caches, allocator pools, lazily built tables
            one_round(i, X, S, y, yr, X_big, y_big)
        gc.collect()
        before = resident_bytes()
        for i in range(1000):
            one_round(i, X, S, y, yr, X_big, y_big)
        gc.collect()
        grown = resident_bytes() - before
    # A leaked trainer buffer would be >= 16 MB here, a leaked copy of X per fit ~0.7 MB;
    # allocator noise stays well below this bound.
    assert grown < 2**19, f"resident memory grew by {grown / 2**20:.2f} MiB over 1000 rounds"
