"""One Adam step on a 10,000,000-parameter float32 array: fastdescent.optim.Adam against the same
update in NumPy (in-place ufuncs, one scratch buffer) and, where torch is installed,
``torch.optim.Adam(fused=True)``, all timed in the same run on arrays of the same size.

    python -m pytest benchmarks/bench_optim.py

prints the ratios (NumPy time / fastdescent time, ...) after the timing table; every benchmark
also records its name in ``extra_info``. FASTDESCENT_BENCH_OPTIM_PARAMS=N changes the size.

The fused kernel reads w, g, m, v and writes w, m, v once: 28 bytes per parameter, the least an
Adam step can move. The NumPy version needs about ten passes over memory.
"""

import os

import numpy as np
import pytest

from fastdescent import optim

N_DEFAULT = 10_000_000
LR, BETA1, BETA2, EPS = 1e-3, 0.9, 0.999, 1e-8
_times = {}


@pytest.fixture(scope="module")
def n_params():
    return int(os.environ.get("FASTDESCENT_BENCH_OPTIM_PARAMS", N_DEFAULT))


@pytest.fixture(scope="module")
def arrays(n_params):
    rng = np.random.default_rng(0)
    w = rng.standard_normal(n_params, dtype=np.float32)
    g = rng.standard_normal(n_params, dtype=np.float32)
    return w, g


class _RatioReport:
    """Prints the ratios at the end of the session, after pytest-benchmark's table."""

    def __init__(self, n_params):
        self.n_params = n_params

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter):
        base = _times.get("numpy")
        if not base:
            return
        write = terminalreporter.write_line
        write("")
        write(f"Adam step, {self.n_params:,} float32 parameters (min over rounds):")
        write(f"  {'numpy (in-place ufuncs)':<26} {base * 1e3:8.2f} ms")
        for name, t in _times.items():
            if name == "numpy":
                continue
            gbs = 28 * self.n_params / t / 1e9  # bytes an Adam step must move
            line = f"  {name:<26} {t * 1e3:8.2f} ms  {base / t:5.2f}x faster than numpy  {gbs:5.1f} GB/s"
            if "torch" in _times and name != "torch":
                line += f"  {_times['torch'] / t:5.2f}x vs torch fused"
            write(line)


@pytest.fixture(scope="module", autouse=True)
def report_ratios(request, n_params):
    request.config.pluginmanager.register(_RatioReport(n_params), "fastdescent-optim-ratios")
    yield


def _time(benchmark, name, fn, rounds):
    benchmark.group = "adam step float32"
    benchmark.extra_info.update(optimizer_bench=name)
    benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=1)
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        _times[name] = stats.stats.min


class NumpyAdam:
    """torch.optim.Adam's update with in-place ufuncs and one scratch buffer."""

    def __init__(self, w):
        self.m = np.zeros_like(w)
        self.v = np.zeros_like(w)
        self.tmp = np.empty_like(w)
        self.t = 0

    def step(self, w, g):
        self.t += 1
        m, v, tmp = self.m, self.v, self.tmp
        m *= BETA1
        np.multiply(g, 1 - BETA1, out=tmp)
        m += tmp
        v *= BETA2
        np.multiply(g, g, out=tmp)
        tmp *= 1 - BETA2
        v += tmp
        np.sqrt(v, out=tmp)
        tmp *= 1 / np.sqrt(1 - BETA2**self.t)
        tmp += EPS
        np.divide(m, tmp, out=tmp)
        tmp *= -LR / (1 - BETA1**self.t)
        w += tmp


def test_same_update():
    rng = np.random.default_rng(1)
    w = rng.standard_normal(1000, dtype=np.float32)
    w2 = w.copy()
    ref, opt = NumpyAdam(w), optim.Adam(lr=LR, betas=(BETA1, BETA2), eps=EPS)
    for _ in range(3):
        g = rng.standard_normal(1000, dtype=np.float32)
        ref.step(w, g)
        opt.step(w2, g)
    np.testing.assert_allclose(w2, w, rtol=1e-6)


@pytest.mark.parametrize("n_threads", [None, 1], ids=["all-cores", "1-thread"])
def test_adam_fastdescent(benchmark, arrays, bench_rounds, n_threads):
    w, g = arrays
    w = w.copy()
    opt = optim.Adam(lr=LR, betas=(BETA1, BETA2), eps=EPS, n_threads=n_threads)
    name = "fastdescent (all cores)" if n_threads is None else "fastdescent (1 thread)"
    _time(benchmark, name, lambda: opt.step(w, g), max(bench_rounds, 10))


def test_adam_numpy(benchmark, arrays, bench_rounds):
    w, g = arrays
    w = w.copy()
    ref = NumpyAdam(w)
    _time(benchmark, "numpy", lambda: ref.step(w, g), max(bench_rounds, 5))


def test_adam_torch_fused(benchmark, arrays, bench_rounds):
    torch = pytest.importorskip("torch")
    w, g = arrays
    p = torch.nn.Parameter(torch.from_numpy(w.copy()))
    p.grad = torch.from_numpy(g.copy())
    opt = torch.optim.Adam([p], lr=LR, betas=(BETA1, BETA2), eps=EPS, fused=True)
    _time(benchmark, "torch", opt.step, max(bench_rounds, 10))
