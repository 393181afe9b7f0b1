"""Data-parallel full-batch training on a Dask LocalCluster against the in-memory fit.

The problem: FASTDESCENT_BENCH_DASK_ROWS x 100 float32 rows (default 20,000,000: 8 GB), generated
lazily per chunk on the workers (never on the client), on a LocalCluster of 2 worker processes
with FASTDESCENT_BENCH_DASK_MEMORY per worker (default 7 GiB: the data is larger than one
worker's memory). The chunks are persisted once; then a full-batch fit of EPOCHS iterations is
timed. The baseline, timed in the same run: the in-memory single-process fit (all cores) of a
FASTDESCENT_BENCH_DASK_SLICE-row slice (default 2,000,000) of the same data. The report is
throughput in rows per second per iteration and its ratio.

    python -m pytest benchmarks/bench_dask.py -s
"""

import os
import time

import numpy as np
import pytest

da = pytest.importorskip("dask.array", reason="needs fastdescent[dask]")
distributed = pytest.importorskip("distributed", reason="needs fastdescent[dask]")

from fastdescent import SGDRegressor  # noqa: E402

ROWS = int(os.environ.get("FASTDESCENT_BENCH_DASK_ROWS", 20_000_000))
SLICE = int(os.environ.get("FASTDESCENT_BENCH_DASK_SLICE", 2_000_000))
MEMORY = os.environ.get("FASTDESCENT_BENCH_DASK_MEMORY", "7GiB")
CHUNK = int(os.environ.get("FASTDESCENT_BENCH_DASK_CHUNK", 500_000))
COLS = 100
EPOCHS = 5
WEIGHTS = np.linspace(-1, 1, COLS).astype(np.float32)


def _block(block_id, rows):
    """Rows of chunk block_id: the same values wherever and whenever they are generated."""
    rng = np.random.default_rng(block_id)
    X = rng.standard_normal((rows, COLS), dtype=np.float32)
    return X


def _problem(n_rows):
    starts = list(range(0, n_rows, CHUNK))
    sizes = [min(CHUNK, n_rows - s) for s in starts]
    X = da.concatenate([
        da.from_delayed(__import__("dask").delayed(_block)(i, r), shape=(r, COLS),
                        dtype=np.float32)
        for i, r in enumerate(sizes)
    ])
    y = X @ WEIGHTS + np.float32(0.5)
    return X, y


def _fit(X, y):
    est = SGDRegressor(batch_size="full", learning_rate="constant", eta0=0.5, max_iter=EPOCHS,
                       tol=None, n_jobs=-1)
    start = time.perf_counter()
    est.fit(X, y)
    return est, time.perf_counter() - start


def test_dask_full_batch_throughput(benchmark):
    # The baseline first, so that the client process and the workers never hold data at once.
    X_slice, y_slice = (a.compute(scheduler="threads") for a in _problem(SLICE))
    _fit(X_slice, y_slice)  # warm-up
    _, memory_time = _fit(X_slice, y_slice)
    one = SGDRegressor(batch_size="full", learning_rate="constant", eta0=0.5, max_iter=1,
                       tol=None, n_jobs=-1)
    start = time.perf_counter()
    one.fit(X_slice, y_slice)
    memory_setup = time.perf_counter() - start
    memory_rate = SLICE * (EPOCHS - 1) / max(memory_time - memory_setup, 1e-9)
    del X_slice, y_slice

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  memory_limit=MEMORY, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        X, y = client.persist(_problem(ROWS))  # generated on the workers, never on the client
        distributed.wait([X, y])
        # A 1-iteration fit gives the fixed cost (preparing and persisting the chunks, setup),
        # which the per-iteration rate leaves out.
        one = SGDRegressor(batch_size="full", learning_rate="constant", eta0=0.5,
                           max_iter=1, tol=None)
        start = time.perf_counter()
        one.fit(X, y)
        setup = time.perf_counter() - start
        est, total = benchmark.pedantic(_fit, args=(X, y), rounds=1, iterations=1)
        dask_rate = ROWS * (EPOCHS - 1) / max(total - setup, 1e-9)
        benchmark.extra_info.update(rows=ROWS, slice=SLICE, dask_rows_per_s=dask_rate,
                                    memory_rows_per_s=memory_rate, ratio=dask_rate / memory_rate)
        print(f"\ndask {ROWS}x{COLS} float32 on 2 workers ({MEMORY} each): "
              f"{dask_rate / 1e6:.2f} M rows/s per full-batch iteration; in-memory {SLICE} "
              f"rows: {memory_rate / 1e6:.2f} M rows/s; ratio {dask_rate / memory_rate:.2f}",
              flush=True)
        assert est.n_iter_ == EPOCHS
        assert np.all(np.isfinite(est.coef_))
        client.cancel([X, y])  # free the workers' memory before the cluster closes
        del X, y
