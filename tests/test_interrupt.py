"""Ctrl-C during a long fit stops the C++ loop promptly with KeyboardInterrupt."""

import signal
import subprocess
import sys
import textwrap
import time

import pytest

SCRIPT = textwrap.dedent(
    """
    import signal, sys, time
    import numpy as np
    import fastdescent as fd

    # Python's own Ctrl-C handler, also when this process was started with SIGINT ignored (as
    # a shell's background job is).
    signal.signal(signal.SIGINT, signal.default_int_handler)

    rng = np.random.default_rng(0)
    X = rng.standard_normal((200_000, 50))
    y = (X[:, 0] > 0).astype(int)
    est = fd.SGDClassifier(max_iter=100_000, tol=None, batch_size={batch_size!r})
    print("fitting", flush=True)
    try:
        est.fit(X, y)
    except KeyboardInterrupt:
        print("interrupted", hasattr(est, "coef_"), flush=True)
        sys.exit(3)
    print("finished", flush=True)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT delivery differs on Windows")
@pytest.mark.parametrize("batch_size", [1, 64, "full"])
def test_sigint_stops_fit_within_a_second(batch_size):
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT.format(batch_size=batch_size)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "fitting"
        time.sleep(1.0)  # well inside the fit, which would run for minutes
        sent = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        elapsed = time.perf_counter() - sent
    finally:
        proc.kill()
    assert proc.returncode == 3, out
    # The estimator was not fitted before, and an interrupted fit leaves it unfitted.
    assert "interrupted False" in out
    assert elapsed < 2.0  # one second to stop, plus interpreter shutdown
