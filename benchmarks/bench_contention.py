"""Threads on a busy machine: the same fit with one thread and with all cores, on idle cores,
with one competing busy process (a Python loop that never sleeps) and with one per core, timed
in the same run on the same array:

* per-sample SGD (log_loss, l2, scikit-learn's 'optimal'), whose threads train local models
  and meet a few times per epoch;
* mini-batch (256 rows) Adam, whose threads split every batch and meet after each one;
* full batch (plain gradient descent), whose threads share out chunks of the whole X.

    python -m pytest benchmarks/bench_contention.py

prints, after the timing table, per mode the slowdown of all cores against one thread under
contention (target for per-sample SGD: at most 1.5), the speed-up of all cores on idle cores,
and with one busy process, the speed-up of all cores over one thread (a core shared with the
busy process still gives something: a fit that waits for its slowest thread loses it).
Medians over rounds.
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
    "full batch": dict(loss="log_loss", batch_size="full", learning_rate="constant", eta0=0.5),
}
# Competing busy processes: none, one, or one per core.
LOADS = {"idle": 0, "one busy": 1, "all busy": os.cpu_count() or 1}
_times = {}


class _busy_cores:
    """`count` processes spinning in a loop, for the duration of a `with` block."""

    def __init__(self, count):
        self.count = count

    def __enter__(self):
        code = "while True: pass"
        self.procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(self.count)]
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
            if len(t) < 6:
                continue
            write(f"  {mode:<20} busy: all cores / 1 thread {t[(-1, 'all busy')] / t[(1, 'all busy')]:5.2f}"
                  f" (1 thread {t[(1, 'all busy')]:.3f} s, all {t[(-1, 'all busy')]:.3f} s);"
                  f"  idle: speed-up {t[(1, 'idle')] / t[(-1, 'idle')]:5.2f}"
                  f" (1 thread {t[(1, 'idle')]:.3f} s, all {t[(-1, 'idle')]:.3f} s);"
                  f"  one busy: speed-up {t[(1, 'one busy')] / t[(-1, 'one busy')]:5.2f}"
                  f" (1 thread {t[(1, 'one busy')]:.3f} s, all {t[(-1, 'one busy')]:.3f} s)")


@pytest.fixture(scope="module", autouse=True)
def report_ratios(request):
    request.config.pluginmanager.register(_RatioReport(), "fastdescent-contention-ratios")
    yield


@pytest.mark.parametrize("load", list(LOADS))
@pytest.mark.parametrize("n_jobs", [1, -1], ids=["1thread", "allcores"])
@pytest.mark.parametrize("mode", list(MODES))
def test_fit(benchmark, _dense_float64, bench_rounds, mode, n_jobs, load):
    X, y = _dense_float64  # conftest's problem, float64
    est = SGDClassifier(max_iter=EPOCHS, tol=None, n_jobs=n_jobs, random_state=0, **MODES[mode])
    benchmark.group = f"{mode}, {load}"
    benchmark.extra_info.update(mode=mode, n_jobs=n_jobs, load=load, epochs=EPOCHS)
    with warnings.catch_warnings(), _busy_cores(LOADS[load]):
        warnings.simplefilter("ignore", ConvergenceWarning)
        benchmark.pedantic(lambda: est.fit(X, y), rounds=bench_rounds, iterations=1,
                           warmup_rounds=1)
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        _times[(mode, n_jobs, load)] = statistics.median(stats.stats.data)
    assert est.n_iter_ == EPOCHS
