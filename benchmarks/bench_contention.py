"""Threads on a busy machine: the same fit with one thread and with all cores, on idle cores
and with one competing busy process per core (a Python loop that never sleeps), timed in the
same run on the same array:

* per-sample SGD (log_loss, l2, scikit-learn's 'optimal'), whose threads train local models
  and meet a few times per epoch;
* mini-batch (256 rows) Adam, whose threads split every batch and meet after each one.

    python -m pytest benchmarks/bench_contention.py

prints, after the timing table, per mode the slowdown of all cores against one thread under
contention (target for per-sample SGD: at most 1.5) and the speed-up of all cores on idle
cores (median over rounds).
"""

import os
import statistics
import subprocess
import sys
import time
import warnings

import pytest
from sklearn.exceptions import ConvergenceWarning

from fastdescent import SGDClassifier

EPOCHS = 3
MODES = {
    "per-sample": dict(loss="log_loss", penalty="l2", alpha=1e-4),
    "mini-batch 256 adam": dict(loss="log_loss", batch_size=256, optimizer="adam"),
}
_times = {}


class _busy_cores:
    """One process per core spinning in a loop, for the duration of a `with` block."""

    def __enter__(self):
        code = "while True: pass"
        self.procs = [subprocess.Popen([sys.executable, "-c", code])
                      for _ in range(os.cpu_count() or 1)]
        time.sleep(0.5)  # let them start
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()
        for p in self.procs:
            p.wait()


class _RatioReport:
    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter):
        write = terminalreporter.write_line
        write("")
        write(f"Threads under contention ({os.cpu_count()} busy processes), median over rounds:")
        for mode in MODES:
            t = {k[1:]: v for k, v in _times.items() if k[0] == mode}
            if len(t) < 4:
                continue
            write(f"  {mode:<20} busy: all cores / 1 thread {t[(-1, True)] / t[(1, True)]:5.2f}"
                  f" (1 thread {t[(1, True)]:.3f} s, all {t[(-1, True)]:.3f} s);"
                  f"  idle: speed-up {t[(1, False)] / t[(-1, False)]:5.2f}"
                  f" (1 thread {t[(1, False)]:.3f} s, all {t[(-1, False)]:.3f} s)")


@pytest.fixture(scope="module", autouse=True)
def report_ratios(request):
    request.config.pluginmanager.register(_RatioReport(), "fastdescent-contention-ratios")
    yield


@pytest.mark.parametrize("busy", [False, True], ids=["idle", "busy"])
@pytest.mark.parametrize("n_jobs", [1, -1], ids=["1thread", "allcores"])
@pytest.mark.parametrize("mode", list(MODES))
def test_fit(benchmark, _dense_float64, bench_rounds, mode, n_jobs, busy):
    X, y = _dense_float64  # conftest's problem, float64
    est = SGDClassifier(max_iter=EPOCHS, tol=None, n_jobs=n_jobs, random_state=0, **MODES[mode])
    benchmark.group = f"{mode} {'busy' if busy else 'idle'} cores"
    benchmark.extra_info.update(mode=mode, n_jobs=n_jobs, busy=busy, epochs=EPOCHS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if busy:
            with _busy_cores():
                benchmark.pedantic(lambda: est.fit(X, y), rounds=bench_rounds, iterations=1,
                                   warmup_rounds=1)
        else:
            benchmark.pedantic(lambda: est.fit(X, y), rounds=bench_rounds, iterations=1,
                               warmup_rounds=1)
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        _times[(mode, n_jobs, busy)] = statistics.median(stats.stats.data)
    assert est.n_iter_ == EPOCHS
