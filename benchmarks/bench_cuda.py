"""Full-batch gradient descent on the GPU (device='cuda') on a 10,000,000 x 100 float32 problem.

Reports, measured in one run on the same data:

* the time of one full-batch iteration on the GPU (a 10-epoch fit less a 1-epoch fit, over 9:
  the fixed cost of a fit is left out), with X already on the device (a Numba device array,
  used without a copy);
* that time as a fraction of the device's memory bandwidth: bytes of X read per second over
  the peak bandwidth (from the device's memory clock and bus width, or
  FASTDESCENT_GPU_BANDWIDTH_GBS when set, e.g. 3350 for an H100 SXM);
* the speedup over the CPU path (fastdescent's C++ full-batch iteration, all cores).

Skipped without a real CUDA GPU (the simulator does not count). Run:

    python -m pytest benchmarks/bench_cuda.py -s

FASTDESCENT_BENCH_CUDA_ROWS / FASTDESCENT_BENCH_CUDA_COLS change the size.
"""

from __future__ import annotations

import os
import time
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from fastdescent import SGDClassifier
from fastdescent import cuda as fd_cuda

pytestmark = pytest.mark.skipif(not fd_cuda.is_available(), reason="needs a real CUDA GPU")

ROWS = int(os.environ.get("FASTDESCENT_BENCH_CUDA_ROWS", 10_000_000))
COLS = int(os.environ.get("FASTDESCENT_BENCH_CUDA_COLS", 100))
EPOCHS = 10
ROUNDS = 3
HYPER = dict(loss="log_loss", penalty="l2", alpha=1e-4, batch_size="full",
             learning_rate="constant", eta0=1.0, tol=None)


def _problem():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((ROWS, COLS), dtype=np.float32)
    w = rng.standard_normal(COLS).astype(np.float32) / np.float32(np.sqrt(COLS))
    y = (X @ w + 0.5 * rng.standard_normal(ROWS).astype(np.float32) > 0).astype(np.int64)
    return X, y


def _best_time(fit, rounds=ROUNDS):
    fit()  # warm-up: kernel compilation, allocations
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fit()
        times.append(time.perf_counter() - start)
    return min(times)


def _iteration_time(make, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        many = _best_time(lambda: make(EPOCHS).fit(X, y))
        one = _best_time(lambda: make(1).fit(X, y))
    return (many - one) / (EPOCHS - 1)


def _peak_bandwidth():
    override = os.environ.get("FASTDESCENT_GPU_BANDWIDTH_GBS")
    if override:
        return float(override) * 1e9
    from numba import cuda

    dev = cuda.get_current_device()
    # Double data rate: two transfers per clock over the bus (clock in kHz, width in bits).
    return 2.0 * dev.MEMORY_CLOCK_RATE * 1e3 * dev.GLOBAL_MEMORY_BUS_WIDTH / 8.0


def test_full_batch_iteration_gpu_vs_bandwidth_and_cpu(benchmark):
    from numba import cuda

    X, y = _problem()
    X_dev = cuda.to_device(X)
    gpu = _iteration_time(lambda e: SGDClassifier(max_iter=e, device="cuda", **HYPER), X_dev, y)
    cpu = _iteration_time(lambda e: SGDClassifier(max_iter=e, n_jobs=-1, **HYPER), X, y)
    bandwidth_fraction = X.nbytes / gpu / _peak_bandwidth()
    benchmark.extra_info.update(
        rows=ROWS, cols=COLS, dtype="float32", gpu_iteration_s=gpu, cpu_iteration_s=cpu,
        gpu_bandwidth_fraction=bandwidth_fraction, speedup_over_cpu=cpu / gpu,
        device=str(cuda.get_current_device().name),
    )
    print(f"\nfull-batch iteration, {ROWS} x {COLS} float32: GPU {gpu * 1e3:.2f} ms "
          f"({bandwidth_fraction:.0%} of peak memory bandwidth), CPU {cpu * 1e3:.1f} ms, "
          f"speedup {cpu / gpu:.1f}x")
    # Keep a pytest-benchmark record of the GPU fit itself.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        benchmark.pedantic(lambda: SGDClassifier(max_iter=EPOCHS, device="cuda", **HYPER)
                           .fit(X_dev, y), rounds=1, iterations=1)
    assert 0 < bandwidth_fraction
