"""A process forked after a multi-threaded fit trains correctly (single-threaded: GNU OpenMP's
thread pool does not survive fork). Each case runs in its own interpreter with a timeout, since
the failure this guards against is a hang."""

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork()")

# A threaded fit and a threaded finiteness scan in the parent, so that OpenMP's pool exists.
PARENT = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    import fastdescent as fd
    from fastdescent import _core

    rng = np.random.default_rng(0)
    X = rng.standard_normal((100_000, 50))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    fd.SGDClassifier(batch_size=256, n_jobs=2, max_iter=2, tol=None, random_state=0).fit(X, y)
    assert _core.all_finite(X, 2)

    def child_fit(_=None):
        est = fd.SGDClassifier(batch_size=256, n_jobs=-1, max_iter=3, tol=None, random_state=0)
        est.fit(X[:20_000], y[:20_000])
        return _core.openmp_max_threads(), est.score(X[20_000:40_000], y[20_000:40_000])
    """
)

CASES = {
    "os.fork": """
        pid = os.fork()
        if pid == 0:
            threads, score = child_fit()
            os._exit(0 if threads == 1 and score > 0.9 else 5)
        _, status = os.waitpid(pid, 0)
        print("ok" if os.waitstatus_to_exitcode(status) == 0 else "child failed")
        """,
    "multiprocessing": """
        import multiprocessing as mp
        with mp.get_context("fork").Pool(2) as pool:
            results = pool.map(child_fit, range(2))
        print("ok" if all(t == 1 and s > 0.9 for t, s in results) else results)
        """,
    "joblib": """
        from joblib import Parallel, delayed
        from sklearn.model_selection import GridSearchCV
        search = GridSearchCV(
            fd.SGDClassifier(max_iter=3, tol=None, batch_size=256, random_state=0),
            {"alpha": [1e-4, 1e-3]}, cv=2, n_jobs=2, pre_dispatch=2,
        )
        from joblib import parallel_backend
        with parallel_backend("multiprocessing", n_jobs=2):
            search.fit(X[:20_000], y[:20_000])
        with parallel_backend("multiprocessing", n_jobs=2):
            results = Parallel()(delayed(child_fit)() for _ in range(2))
        ok = search.best_score_ > 0.9 and all(t == 1 and s > 0.9 for t, s in results)
        print("ok" if ok else (search.best_score_, results))
        """,
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_fit_in_forked_child_after_threaded_parent(case):
    script = PARENT + textwrap.dedent(CASES[case])
    try:
        out = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{case}: the forked child hung")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "ok", out.stdout + out.stderr[-2000:]


def test_mlp_fit_in_forked_child_after_threaded_parent():
    """The MLP's BLAS (SciPy's OpenBLAS, its threads started by a fit in the parent) and its
    shard threads (OpenMP's, started by the same fit) train in a forked child too: there the
    shards run one after another."""
    script = textwrap.dedent(
        """
        import os
        import numpy as np
        import fastdescent as fd

        rng = np.random.default_rng(0)
        X = rng.standard_normal((4000, 64))
        y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
        fd.MLPClassifier(hidden_layer_sizes=(128,), max_iter=2, n_jobs=2, random_state=0).fit(X, y)
        pid = os.fork()
        if pid == 0:
            scores = [
                fd.MLPClassifier(hidden_layer_sizes=(128,), max_iter=5, n_jobs=n_jobs, random_state=0)
                .fit(X, y)
                .score(X, y)
                for n_jobs in (None, 2)
            ]
            os._exit(0 if min(scores) > 0.9 else 5)
        _, status = os.waitpid(pid, 0)
        print("ok" if os.waitstatus_to_exitcode(status) == 0 else "child failed")
        """
    )
    try:
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("the forked child's MLP fit hung")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "ok", out.stdout + out.stderr[-2000:]
