"""Fits on several Python threads at once match sequential fits and run in parallel (the GIL is
released in C++); a KeyboardInterrupt stops a fit quickly and leaves the estimator as it was."""

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

import fastdescent as fd
from fastdescent import _core


def _data(seed, n=300, d=8, sparse=False):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.argmax(X[:, :3], axis=1)
    if sparse:
        X[np.abs(X) < 0.8] = 0
        X = sp.csr_matrix(X)
    return X, y


# Different estimators and data layouts, so that any state shared between fits would show.
JOBS = [
    lambda: (fd.SGDClassifier(max_iter=20, tol=None, random_state=1), _data(0)),
    lambda: (fd.SGDClassifier(loss="log_loss", multi_class="multinomial", batch_size=16,
                              optimizer="adam", max_iter=20, tol=None, random_state=2), _data(1)),
    lambda: (fd.SGDClassifier(loss="modified_huber", penalty="elasticnet", average=10,
                              max_iter=20, tol=None, random_state=3), _data(2, sparse=True)),
    lambda: (fd.SGDRegressor(batch_size="full", optimizer="momentum", max_iter=30, tol=None,
                             random_state=4), _data(3)),
    lambda: (fd.SGDRegressor(penalty="l1", learning_rate="cosine", max_iter=20, tol=None,
                             random_state=5), _data(4, sparse=True)),
    lambda: (fd.SGDClassifier(early_stopping=True, n_iter_no_change=3, random_state=6,
                              n_jobs=2), _data(5)),
]


def _run(job):
    est, (X, y) = job()
    if isinstance(est, fd.SGDRegressor):
        y = y.astype(np.float64)
    est.fit(X, y)
    return est.coef_.copy(), est.intercept_.copy(), est.n_iter_


def test_threaded_fits_equal_sequential_fits():
    sequential = [_run(job) for job in JOBS]
    for _ in range(3):
        with ThreadPoolExecutor(max_workers=len(JOBS)) as pool:
            threaded = list(pool.map(_run, JOBS * 2))
        for got, expected in zip(threaded, sequential * 2):
            np.testing.assert_array_equal(got[0], expected[0])
            np.testing.assert_array_equal(got[1], expected[1])
            assert got[2] == expected[2]


def test_one_estimator_refit_on_many_threads_stays_consistent():
    """Concurrent fits of the same estimator object: each call's result is one complete fit
    (all attributes from the same call), never a mix."""
    X, y = _data(7)
    est = fd.SGDClassifier(max_iter=10, tol=None, random_state=0)
    references = {}
    for n in (100, 200, 300):
        ref = fd.SGDClassifier(max_iter=10, tol=None, random_state=0).fit(X[:n], y[:n])
        references[ref.t_] = ref.coef_

    def refit(n):
        est.fit(X[:n], y[:n])

    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(refit, [100, 200, 300] * 4))
    np.testing.assert_array_equal(est.coef_, references[est.t_])


def test_partial_fit_from_two_threads_keeps_every_update():
    """Calls on one estimator run one at a time: no update of either thread is lost."""
    X, y = _data(8, n=400)
    chunks = [(X[i:i + 50], y[i:i + 50]) for i in range(0, 400, 50)]
    est = fd.SGDClassifier(random_state=0)
    est.partial_fit(*chunks[0], classes=np.unique(y))

    def feed(part):
        for Xc, yc in part:
            est.partial_fit(Xc, yc)

    threads = [threading.Thread(target=feed, args=(chunks[1 + k::2] * 20,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = 50 + 20 * 350  # per-sample SGD: one update per row
    assert est.t_ == 1 + rows
    assert len(est.loss_curve_) == 1 + 20 * 7


def test_failed_fit_does_not_undo_another_threads_fit():
    X, y = _data(9)
    reference = fd.SGDClassifier(max_iter=5, tol=None, random_state=1).fit(X, y)
    in_fit = threading.Event()

    class FailLate(fd.callbacks.Callback):
        def on_epoch_end(self, est, epoch, metrics):
            in_fit.set()
            time.sleep(0.2)  # the other thread's fit is waiting (or, unserialized, running)
            raise RuntimeError("callback failed")

    est = fd.SGDClassifier(max_iter=5, tol=None, random_state=1, callbacks=[FailLate()])
    errors = []

    def failing():
        try:
            est.fit(X, y)
        except RuntimeError as e:
            errors.append(e)

    bad = threading.Thread(target=failing)
    bad.start()
    assert in_fit.wait(10)
    est.set_params(callbacks=None)  # the failing fit has read its callbacks already
    est.fit(X, y)  # runs once the failing call has put its snapshot back
    bad.join()
    assert len(errors) == 1
    np.testing.assert_array_equal(est.coef_, reference.coef_)


def _on_busy_cores(fn):
    """fn() while a busy Python loop runs on every core."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(os.cpu_count() or 1)]
    try:
        time.sleep(0.2)
        return fn()
    finally:
        for p in spinners:
            p.kill()
            p.wait()


def test_mini_batch_result_does_not_depend_on_busy_cores():
    """On busy cores a mini-batch's chunks may run on one thread instead of all (the pacer):
    the chunks, so the result, stay those of n_jobs."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((20_000, 100))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)

    def fit():
        est = fd.SGDClassifier(batch_size=256, optimizer="adam", n_jobs=2, max_iter=2,
                               tol=None, random_state=0)
        return est.fit(X, y).coef_

    idle = fit()
    busy = _on_busy_cores(fit)
    np.testing.assert_array_equal(busy, idle)


def test_full_batch_chunks_shared_by_threads():
    """A large full batch is cut into more chunks than threads, each taken by whichever thread
    is free: the gradient is the whole sum (checked against NumPy) and, since the chunks' sums
    are added in chunk order, the same bits whichever thread ran which chunk (idle cores, busy
    cores, several fits at once)."""
    rng = np.random.default_rng(5)
    n, d = 140_000, 100  # 14M multiply-adds: 3 chunks for 2 threads
    X = rng.standard_normal((n, d), dtype=np.float32)
    y = X[:, :5].sum(axis=1) + rng.standard_normal(n, dtype=np.float32)

    def fit(epochs=3):
        est = fd.SGDRegressor(batch_size="full", learning_rate="constant", eta0=0.05,
                              penalty=None, fit_intercept=False, n_jobs=2, max_iter=epochs,
                              tol=None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return est.fit(X, y).coef_

    # One step from zero: w = eta * X^T y / n.
    reference = 0.05 * (X.astype(np.float64).T @ y.astype(np.float64)) / n
    np.testing.assert_allclose(fit(epochs=1), reference, rtol=1e-4, atol=1e-6)
    idle = fit()
    with ThreadPoolExecutor(max_workers=2) as pool:
        concurrent = list(pool.map(lambda _: fit(), range(2)))
    busy = _on_busy_cores(fit)
    for other in [busy, *concurrent]:
        np.testing.assert_array_equal(other, idle)


def test_mini_batch_teams_on_several_python_threads():
    """Each 2-thread mini-batch epoch holds its own team of threads (BatchTeam): fits on more
    Python threads than cores, each with its team, neither deadlock nor mix their results."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((6_000, 100))
    ys = [(X[:, k] + X[:, k + 1] > 0).astype(int) for k in range(4)]

    def fit(k):
        est = fd.SGDClassifier(loss="log_loss", batch_size=128, optimizer="adam", n_jobs=2,
                               max_iter=3, tol=None, shuffle=k % 2 == 0, random_state=k)
        return est.fit(X, ys[k]).coef_

    sequential = [fit(k) for k in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(fit, range(4)))
    for got, expected in zip(threaded, sequential):
        np.testing.assert_array_equal(got, expected)


def test_an_error_inside_a_team_epoch_propagates():
    """An exception raised while an epoch's team of threads is held (here by the stop check,
    which the leader calls between batches) ends the epoch, reaches Python, and leaves no
    thread waiting: the next fit trains."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((50_000, 100))
    y = np.where(X[:, 0] > 0, 1.0, -1.0)
    cfg = _core.TrainConfig()
    cfg.loss, cfg.classification = _core.LossKind.log_loss, True
    cfg.batch_size, cfg.n_threads, cfg.max_iter, cfg.shuffle, cfg.tol = 256, 2, 3, False, -np.inf
    cfg.schedule.kind, cfg.schedule.eta0 = _core.ScheduleKind.constant, 0.01

    class BrokenCancel:
        def is_set(self):
            raise ValueError("broken cancel")

    coef, intercept = np.zeros((1, 100)), np.zeros(1)
    with pytest.raises(ValueError, match="broken cancel"):
        _core.train_dense(X, y, coef, intercept, cfg, cancel=BrokenCancel())
    assert _core.train_dense(X, y, coef, intercept, cfg).n_iter == 3


def test_gil_is_released_during_training():
    """A Python thread keeps running while another thread is inside the C++ trainer: the
    longest pause it sees is a small part of the training time."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100_000, 20))
    y = X[:, 0].copy()
    cfg = _core.TrainConfig()
    cfg.max_iter = 30
    cfg.tol = -np.inf
    coef, intercept = np.zeros((1, 20)), np.zeros(1)
    stamps, done = [], threading.Event()

    def ticker():
        while not done.is_set():
            stamps.append(time.perf_counter())
            time.sleep(0.001)

    thread = threading.Thread(target=ticker)
    thread.start()
    try:
        time.sleep(0.05)
        start = time.perf_counter()
        _core.train_dense(X, y, coef, intercept, cfg)
        stop = time.perf_counter()
    finally:
        done.set()
        thread.join()
    inside = [t for t in stamps if start <= t <= stop]
    gaps = np.diff([start, *inside, stop])
    # Holding the GIL would leave one gap as long as the whole call.
    assert gaps.max() < 0.5 * (stop - start), (gaps.max(), stop - start)


# ---- KeyboardInterrupt ------------------------------------------------------------------------

# One subprocess runs every scenario (an interrupt that arrived late in this process would
# abort the test session). The interrupt is sent once a thread is inside the C++ trainer,
# found through sys._current_frames.
INTERRUPT_SCRIPT = textwrap.dedent(
    """
    import _thread, json, signal, sys, threading, time
    import numpy as np
    import fastdescent as fd

    # Python's own Ctrl-C handler, also when this process was started with SIGINT ignored (as
    # a shell's background job is): interrupt_main does nothing for an ignored signal.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from fastdescent import _base

    def interrupt_when_training(sent):
        def watch():
            while True:
                if any(f.f_code is _base.train.__code__ for f in sys._current_frames().values()):
                    time.sleep(0.05)
                    sent.append(time.perf_counter())
                    _thread.interrupt_main()
                    return
                time.sleep(0.001)
        threading.Thread(target=watch, daemon=True).start()

    def state(est):
        return {k: np.asarray(v).tolist() for k, v in sorted(vars(est).items())
                if k.endswith("_") and not k.startswith("__")}

    def scenario(est, call):
        before = state(est)
        sent = []
        interrupt_when_training(sent)
        start = time.perf_counter()
        try:
            call()
            outcome = "finished"
        except KeyboardInterrupt:
            outcome = "interrupted"
        end = time.perf_counter()
        time.sleep(0.05)  # no late interrupt is pending
        return {"outcome": outcome, "unchanged": state(est) == before,
                "latency": end - sent[0] if sent else None, "ran": end - start,
                "fitted": hasattr(est, "coef_")}

    rng = np.random.default_rng(0)
    X = rng.standard_normal((100_000, 20))
    y40 = rng.integers(0, 40, X.shape[0])
    y2 = (X[:, 0] > 0).astype(int)
    small = slice(0, 2000)
    results = {}

    est = fd.SGDClassifier(max_iter=200, tol=None)
    results["first_fit"] = scenario(est, lambda: est.fit(X, y2))

    est = fd.SGDRegressor(max_iter=3, tol=None, random_state=0).fit(X[small], X[small, 0])
    est.set_params(max_iter=500, warm_start=True)
    results["refit_warm_start"] = scenario(est, lambda: est.fit(X, X[:, 1]))
    est.set_params(warm_start=False)
    results["refit_other_features"] = scenario(est, lambda: est.fit(X[:, :10], X[:, 1]))
    results["refit_still_predicts"] = bool(np.isfinite(est.predict(X[:5])).all())

    est = fd.SGDClassifier(random_state=0).partial_fit(X[small], y40[small], classes=np.arange(40))
    # One epoch per call: on 4x the rows, so that it is still running when interrupted.
    results["partial_fit"] = scenario(est, lambda: est.partial_fit(np.tile(X, (4, 1)), np.tile(y40, 4)))

    est = fd.SGDClassifier(max_iter=2, tol=None, n_jobs=2, random_state=0)
    est.fit(X[small], y40[small])
    est.set_params(max_iter=200)
    results["threaded_ovr_refit"] = scenario(est, lambda: est.fit(X, y40))

    est = fd.SGDRegressor(batch_size=64, optimizer="adam", max_iter=2, tol=None)
    est.fit(X[small], X[small, 0])
    est.set_params(max_iter=500)
    results["batched_refit"] = scenario(est, lambda: est.fit(X, X[:, 0]))

    print(json.dumps(results))
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="interrupt_main delivery differs on Windows")
def test_keyboard_interrupt_stops_fits_and_keeps_the_previous_state():
    proc = subprocess.run([sys.executable, "-c", INTERRUPT_SCRIPT], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    assert results.pop("refit_still_predicts") is True
    for name, r in results.items():
        assert r["outcome"] == "interrupted", (name, r)
        assert r["unchanged"], (name, "the interrupted call changed the estimator")
        assert r["latency"] < 1.0, (name, r)
    assert results["first_fit"]["fitted"] is False
    for name in ("refit_warm_start", "refit_other_features", "partial_fit", "threaded_ovr_refit", "batched_refit"):
        assert results[name]["fitted"] is True
