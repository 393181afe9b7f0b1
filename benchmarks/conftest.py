"""Benchmark suite setup: collects bench_*.py, shares the data sets, sizes from the command line.

The default test run (``python -m pytest`` from the repository root, testpaths = tests) never
comes here; ``python -m pytest benchmarks`` does.
"""

import numpy as np
import pytest

try:
    import pytest_benchmark  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "the benchmarks need pytest-benchmark: pip install 'fastdescent[bench]' "
        "(or pip install pytest-benchmark)"
    ) from exc


def pytest_addoption(parser):
    group = parser.getgroup("fastdescent benchmarks")
    group.addoption("--bench-rows", type=int, default=200_000,
                    help="rows of the dense benchmark problem (default 200,000)")
    group.addoption("--bench-cols", type=int, default=100,
                    help="features of the dense benchmark problem (default 100)")
    group.addoption("--bench-rounds", type=int, default=5,
                    help="timed rounds per benchmark, after one warm-up round (default 5)")


def pytest_collect_file(file_path, parent):
    """Collects bench_*.py as test modules (pytest's own rule, python_files, wants test_*.py).

    Files named on the command line are collected by pytest itself, so they are left alone here.
    """
    if (file_path.suffix == ".py" and file_path.name.startswith("bench_")
            and not parent.session.isinitpath(file_path)):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


@pytest.fixture(scope="session")
def bench_rounds(request):
    return request.config.getoption("--bench-rounds")


@pytest.fixture(scope="session")
def _dense_float64(request):
    """A standardized dense binary problem: Gaussian X (C order), labels of a noisy linear model."""
    n = request.config.getoption("--bench-rows")
    d = request.config.getoption("--bench-cols")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d) / np.sqrt(d)
    y = (X @ w + 0.5 * rng.standard_normal(n) > 0).astype(np.int64)
    return X, y


@pytest.fixture(scope="session", params=["float64", "float32"])
def dense(request, _dense_float64):
    """(X, y) in float64 and float32: the same problem, float32 converted once."""
    X, y = _dense_float64
    if request.param == "float32":
        X = X.astype(np.float32)
    return X, y
