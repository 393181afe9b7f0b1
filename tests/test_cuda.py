"""device='cuda': the Numba-CUDA trainer against the C++ trainer, its update kernels against
fastdescent.optim, device shuffling, and the errors.

Without a GPU the kernels run under Numba's CUDA simulator: this module sets
NUMBA_ENABLE_CUDASIM=1 before Numba is first imported (no other test imports Numba, and
device='auto' never picks the simulator, so the rest of the suite is unaffected). On a machine
with an NVIDIA driver the same tests run on the GPU. The simulator runs a Python thread per GPU
thread, so the data are tiny and the epochs few.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose


def _driver_present():
    return os.path.exists("/proc/driver/nvidia/version") or shutil.which("nvidia-smi") is not None


if "numba" not in sys.modules and not _driver_present():
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"

numba_cuda = pytest.importorskip("numba.cuda", reason="numba-cuda is not installed")

from fastdescent import SGDClassifier, SGDOneClassSVM, SGDRegressor, optim  # noqa: E402
from fastdescent import cuda as fd_cuda  # noqa: E402
from fastdescent.cuda import _kernels as kn  # noqa: E402
from fastdescent.cuda import _trainer  # noqa: E402

if not numba_cuda.is_available():
    pytest.skip("numba-cuda finds no GPU and the simulator is off", allow_module_level=True)

SIMULATED = fd_cuda.simulated()
TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-9, atol=1e-11)}


@pytest.fixture(autouse=True, scope="module")
def _simulator_settings():
    """Under the simulator: frequent GIL hand-offs (its scheduler polls its threads: ~4x
    faster), and a lock around its first allocation of a shared array, which is not
    thread-safe (two threads of a block can each create their own copy of the "shared"
    array, and a block reduction then reads the wrong one)."""
    if not SIMULATED:
        yield
        return
    import threading
    import traceback

    from numba.cuda.simulator import kernelapi
    from numba.np import numpy_support

    original = kernelapi.FakeCUDAShared.array
    lock = threading.Lock()

    def locked_array(self, shape, dtype, alignment=None):
        if shape == 0 or alignment is not None:
            return original(self, shape, dtype, alignment)
        # The simulator's own rule: one shared array per source line of the kernel.
        caller = tuple(traceback.extract_stack(sys._getframe())[-2][0:2])
        with lock:
            if caller not in self._allocations:
                if not isinstance(dtype, np.dtype) and not isinstance(dtype, type):
                    dtype = numpy_support.as_dtype(dtype)
                self._allocations[caller] = np.empty(shape, dtype)
            return self._allocations[caller]

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    kernelapi.FakeCUDAShared.array = locked_array
    try:
        yield
    finally:
        kernelapi.FakeCUDAShared.array = original
        sys.setswitchinterval(old)


def make_data(n=48, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(scale=0.7, size=(n, d))
    w = np.array([1.5, -2.0, 0.0, 0.7, 0.4] + [0.3] * (d - 5))
    score = X @ w + 0.3 + 0.3 * rng.normal(size=n)
    y_multi = np.argmax(X @ rng.normal(size=(3, d)).T + 0.3 * rng.normal(size=(n, 3)), axis=1)
    return X, score, np.where(score > 0, 1, 0), y_multi


def fit_both(make, X, y, dtype, **fit_kw):
    """The same estimator fitted on the CPU and on the GPU, in `dtype` on both."""
    Xd = X.astype(dtype)
    cpu = make(device="cpu").fit(Xd, y, **fit_kw)
    gpu = make(device="cuda", gpu_dtype=np.dtype(dtype).name).fit(Xd, y, **fit_kw)
    assert gpu.coef_.dtype == dtype
    return cpu, gpu


def assert_same_fit(cpu, gpu, dtype):
    assert_allclose(gpu.coef_, cpu.coef_, **TOL[dtype])
    assert_allclose(gpu.intercept_, cpu.intercept_, **TOL[dtype])
    assert_allclose(gpu.loss_curve_, cpu.loss_curve_, **TOL[dtype])
    assert gpu.n_iter_ == cpu.n_iter_
    assert gpu.t_ == cpu.t_
    # The same records, time aside (grad_norm is not defined on the GPU after clip_value).
    for key in set(cpu.history_) - {"time"}:
        if key == "grad_norm" and cpu.get_params()["clip_value"] is not None:
            continue
        assert_allclose(gpu.history_[key], cpu.history_[key], **TOL[dtype])


# ---- full batch: the same trajectory as the C++ trainer ---------------------------------------

REGRESSION_CASES = [
    dict(loss="squared_error", penalty="l2", alpha=0.01),
    dict(loss="huber", penalty="l1", alpha=0.01, epsilon=0.5),
    dict(loss="epsilon_insensitive", penalty="elasticnet", alpha=0.01, l1_ratio=0.5),
    dict(loss="squared_epsilon_insensitive", penalty=None, fit_intercept=False, average=2),
    dict(loss="squared_error", optimizer="adam", learning_rate="cosine", clip_norm=0.5),
    dict(loss="squared_error", optimizer="lamb", clip_value=0.3, penalty="l1", alpha=0.01),
    dict(loss="huber", optimizer="adafactor", clip_norm=0.5, average=1),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", REGRESSION_CASES, ids=lambda c: "-".join(map(str, c.values())))
def test_full_batch_regressor_matches_cpu(case, dtype):
    X, y, _, _ = make_data()
    sw = np.linspace(0.5, 1.5, X.shape[0])
    make = lambda **kw: SGDRegressor(batch_size="full", learning_rate=case.get(  # noqa: E731
        "learning_rate", "constant"), eta0=0.1, max_iter=4, tol=None,
        **{k: v for k, v in case.items() if k != "learning_rate"}, **kw)
    cpu, gpu = fit_both(make, X, y, dtype, sample_weight=sw)
    assert_same_fit(cpu, gpu, dtype)


MORE_LOSSES = [
    dict(loss="poisson", penalty="l2", alpha=0.01),
    dict(loss="gamma", penalty="l1", alpha=0.01, optimizer="nesterov"),
    dict(loss="tweedie", power=1.5, early_stopping=True, validation_fraction=0.25, random_state=2,
         tol=1e-4, n_iter_no_change=1, max_iter=6),
    dict(loss="quantile", quantile=0.8, penalty="elasticnet", alpha=0.01),
    dict(loss="absolute_error", optimizer="momentum", clip_norm=0.5),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", MORE_LOSSES, ids=lambda c: "-".join(map(str, c.values()))[:40])
def test_count_and_quantile_losses_match_cpu(case, dtype):
    """The GPU's loss kernels and (tweedie) its validation D^2 against the CPU's."""
    X, score, _, _ = make_data()
    y = np.round(np.exp(0.5 * score) * 3.0) + (case["loss"] == "gamma")  # counts; gamma: > 0
    case = dict(dict(max_iter=4, tol=None), **case)
    make = lambda **kw: SGDRegressor(batch_size="full", learning_rate="constant",  # noqa: E731
                                     eta0=0.05, **case, **kw)
    cpu, gpu = fit_both(make, X, y, dtype)
    assert_same_fit(cpu, gpu, dtype)
    if case.get("early_stopping"):
        assert len(gpu.history_["val_score"]) == gpu.n_iter_


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", [dict(learning_rate="constant", eta0=0.1),
                                  dict(optimizer="adam", clip_norm=0.5, average=2)],
                         ids=["sgd", "adam"])
def test_one_class_svm_matches_cpu(case, dtype):
    """The intercept's linear term in the GPU's gradient and objective."""
    X, _, _, _ = make_data()
    make = lambda **kw: SGDOneClassSVM(batch_size="full", max_iter=4, tol=None,  # noqa: E731
                                       nu=0.3, **case, **kw)
    cpu, gpu = fit_both(make, X, None, dtype)
    assert_same_fit(cpu, gpu, dtype)
    np.testing.assert_array_equal(gpu.predict(X.astype(dtype)), cpu.predict(X.astype(dtype)))


def test_multi_output_is_refused_with_a_clear_error():
    X, score, _, _ = make_data()
    est = SGDRegressor(device="cuda", batch_size="full")
    with pytest.raises(ValueError, match="trains one output; y has 2 columns"):
        est.fit(X, np.column_stack([score, score]))
    assert not hasattr(est, "coef_")


CLASSIFIER_CASES = [
    ("binary", dict(loss="log_loss", optimizer="rmsprop", class_weight={0: 2.0, 1: 1.0})),
    ("binary", dict(loss="modified_huber", learning_rate="optimal", alpha=0.01)),
    ("ovr", dict(loss="hinge", optimizer="nesterov", learning_rate="constant", eta0=0.05)),
    ("multinomial", dict(loss="log_loss", multi_class="multinomial", optimizer="momentum",
                         learning_rate="constant", eta0=0.05, penalty="elasticnet")),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("kind,case", CLASSIFIER_CASES, ids=lambda c: str(c)[:30])
def test_full_batch_classifier_matches_cpu(kind, case, dtype):
    X, _, y_bin, y_multi = make_data()
    y = y_bin if kind == "binary" else y_multi
    make = lambda **kw: SGDClassifier(batch_size="full", max_iter=3, tol=None,  # noqa: E731
                                      **case, **kw)
    cpu, gpu = fit_both(make, X, y, dtype)
    assert_same_fit(cpu, gpu, dtype)
    np.testing.assert_array_equal(gpu.predict(X.astype(dtype)), cpu.predict(X.astype(dtype)))


def test_early_stopping_matches_cpu():
    X, _, y_bin, _ = make_data(n=60)
    make = lambda **kw: SGDClassifier(  # noqa: E731
        loss="log_loss", batch_size="full", learning_rate="constant", eta0=0.5, max_iter=12,
        tol=1e-2, n_iter_no_change=2, early_stopping=True, validation_fraction=0.25,
        random_state=3, **kw)
    cpu, gpu = fit_both(make, X, y_bin, np.float64)
    assert_same_fit(cpu, gpu, np.float64)
    assert gpu.n_iter_ < 12  # stopped by the validation score


def test_unshuffled_minibatch_matches_cpu_and_skips_weightless_batches():
    X, y, _, _ = make_data(n=40)
    sw = np.ones(X.shape[0])
    sw[8:16] = 0.0  # the second batch weighs nothing: no update, no step
    make = lambda **kw: SGDRegressor(  # noqa: E731
        batch_size=8, shuffle=False, optimizer="adagrad", learning_rate="invscaling",
        eta0=0.2, max_iter=2, tol=None, penalty="elasticnet", alpha=0.01, **kw)
    cpu, gpu = fit_both(make, X, y, np.float64, sample_weight=sw)
    assert_same_fit(cpu, gpu, np.float64)
    assert gpu.t_ == 1 + 2 * 4


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adafactor"])
def test_partial_fit_continues_like_cpu(capsys, optimizer):
    # The optimizer's state (Adam's moments, Adafactor's second moments) carries over too.
    X, y, _, _ = make_data(n=24)
    make = lambda **kw: SGDRegressor(batch_size="full", learning_rate="invscaling",  # noqa: E731
                                     eta0=0.1, verbose=2, optimizer=optimizer, **kw)
    cpu, gpu = make(device="cpu"), make(device="cuda", gpu_dtype="float64")
    for _ in range(2):
        cpu.partial_fit(X, y)
        gpu.partial_fit(X, y)
    assert_same_fit(cpu, gpu, np.float64)
    assert capsys.readouterr().out.count("-- Epoch 1") == 4


# ---- shuffled mini-batches: statistically the same ---------------------------------------------


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_minibatch_reaches_cpu_loss(optimizer):
    X, y, _, _ = make_data(n=96, seed=1)
    make = lambda **kw: SGDRegressor(  # noqa: E731
        batch_size=16, optimizer=optimizer, learning_rate="constant", eta0=0.05, max_iter=15,
        tol=None, penalty=None, random_state=0, **kw)
    cpu, gpu = fit_both(make, X, y, np.float32)
    # The device visits rows in another order, so only the final loss is comparable.
    assert gpu.loss_curve_[-1] == pytest.approx(cpu.loss_curve_[-1], rel=0.01)
    assert gpu.loss_curve_[-1] < 0.2 * gpu.loss_curve_[0]


def test_device_shuffle_is_a_fresh_permutation_each_epoch():
    n = 37
    rows = np.arange(100, 100 + n, dtype=np.int64)
    rows_d = numba_cuda.to_device(rows)
    out = numba_cuda.device_array(n, dtype=np.int64)
    half_bits = ((n - 1).bit_length() + 1) // 2
    orders = []
    for keys in [(1, 2, 3, 4), (5, 6, 7, 8)]:
        kn.permute[_trainer._launch_1d(n)](rows_d, out, half_bits, *keys)
        orders.append(out.copy_to_host())
        assert sorted(orders[-1]) == list(rows)
    assert not np.array_equal(orders[0], orders[1])
    assert not np.array_equal(orders[0], rows)


# ---- optimizer kernels against fastdescent.optim ----------------------------------------------

# None is scikit-learn's plain SGD (the estimators' optimizer='sgd').
OPTIMIZERS = {
    "sgd": None,
    "momentum": optim.SGD(0.1, momentum=0.9, dampening=0.1, weight_decay=0.01),
    "nesterov": optim.SGD(0.1, momentum=0.9, nesterov=True),
    "adagrad": optim.Adagrad(0.1, lr_decay=0.1, weight_decay=0.01, initial_accumulator_value=0.1),
    "rmsprop": optim.RMSprop(0.01, centered=True, momentum=0.5, weight_decay=0.01),
    "rmsprop_plain": optim.RMSprop(0.01),
    "adam": optim.Adam(0.01, amsgrad=True, weight_decay=0.01),
    "adamw": optim.AdamW(0.01, weight_decay=0.1),
    "nadam": optim.NAdam(0.01, weight_decay=0.01),
    "nadamw": optim.NAdam(0.01, weight_decay=0.1, decoupled_weight_decay=True),
    "adamax": optim.Adamax(0.01, weight_decay=0.01),
    "lamb": optim.LAMB(0.01, weight_decay=0.01),
    "lion": optim.Lion(0.01, weight_decay=0.1),
    "adafactor": optim.Adafactor(momentum=0.5, weight_decay=0.01),
    "adafactor_lr": optim.Adafactor(0.05, clipping_threshold=0.5,
                                    multiply_by_parameter_scale=False),
    "adafactor_factored": optim.Adafactor(0.05, min_dim_size_to_factor=2),
}


def test_kernel_cases_cover_the_registry():
    from fastdescent import _core

    covered = {opt.to_spec().kind.name for opt in OPTIMIZERS.values() if opt is not None}
    assert covered == {info["name"] for info in _core.optimizer_registry()}


@pytest.mark.parametrize("name", sorted({o.to_spec().kind.name for o in OPTIMIZERS.values() if o}))
def test_device_state_equals_cpu_state(name):
    # The state partial_fit keeps, exported from the device, has the CPU's names and values.
    opt = next(o for o in OPTIMIZERS.values() if o is not None and o.to_spec().kind.name == name)
    X, y, _, _ = make_data(n=24)
    make = lambda **kw: SGDRegressor(batch_size=8, shuffle=False, optimizer=opt,  # noqa: E731
                                     **kw)
    cpu = make(device="cpu").partial_fit(X, y)
    gpu = make(device="cuda", gpu_dtype="float64").partial_fit(X, y)
    for c, g in zip(cpu._optimizer_state["states"][0], gpu._optimizer_state["states"][0]):
        assert set(c) == set(g)
        for key in c:
            assert_allclose(g[key], c[key], **TOL[np.float64])


def _plain_sgd_reference(w, g, lr):
    w -= lr * g


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_update_kernel_matches_optim(name, dtype):
    opt = OPTIMIZERS[name]
    rng = np.random.default_rng(4)
    shape = (3, 4) if name == "adafactor_factored" else (11,)
    n = int(np.prod(shape))
    w_ref = rng.normal(size=shape).astype(dtype)
    w_dev = numba_cuda.to_device(w_ref.ravel().copy())
    g_dev = numba_cuda.device_array(n, dtype=dtype)
    stats = numba_cuda.to_device(np.zeros(kn.N_STATS))
    dev = _trainer.DeviceOptimizer(None if opt is None else opt.to_spec(), np.dtype(dtype))
    lr = 0.1 if opt is None else opt.lr
    ref = None if opt is None else type(opt)(**{"lr": opt.lr, **opt.hyperparameters()})
    for _ in range(3):
        g = rng.normal(size=shape).astype(dtype)
        g_dev.copy_to_device(g.ravel())
        dev.step(0, w_dev, g_dev, lr, stats, 0.0, rows=shape[0] if len(shape) == 2 else 1)
        if ref is None:
            _plain_sgd_reference(w_ref, g, dtype(lr))
        else:
            ref.step(w_ref, g)
    assert_allclose(w_dev.copy_to_host(), w_ref.ravel(), **TOL[dtype])


def test_update_kernel_fuses_l1_average_and_norm_clip():
    n = 6
    rng = np.random.default_rng(5)
    w = rng.normal(size=n)
    g = rng.normal(size=n)
    avg = rng.normal(size=n)
    stats = np.zeros(kn.N_STATS)
    stats[kn.STAT_NORM] = float(g @ g)
    w_d, g_d, avg_d = (numba_cuda.to_device(a.copy()) for a in (w, g, avg))
    dev = _trainer.DeviceOptimizer(None, np.dtype(np.float64))
    dev.step(0, w_d, g_d, 0.5, numba_cuda.to_device(stats), 0.1, l1=0.05, avg=avg_d,
             avg_mu=0.25)
    scale = min(1.0, 0.1 / (np.sqrt(g @ g) + 1e-6))
    expected = w - 0.5 * scale * g
    expected = np.sign(expected) * np.maximum(np.abs(expected) - 0.05, 0.0)
    assert_allclose(w_d.copy_to_host(), expected, rtol=1e-12)
    assert_allclose(avg_d.copy_to_host(), avg + 0.25 * (expected - avg), rtol=1e-12)


# ---- input handling ------------------------------------------------------------------------


def test_device_array_is_used_without_copy_and_dtype_follows_it():
    X, y, _, _ = make_data(n=32)
    X_dev = numba_cuda.to_device(X.astype(np.float32))
    est = SGDRegressor(batch_size="full", max_iter=2, tol=None, device="cuda")
    data = est._gpu_data(X_dev)
    if SIMULATED:
        assert data.X is X_dev
    else:
        address = lambda a: a.__cuda_array_interface__["data"][0]  # noqa: E731
        assert address(data.X) == address(X_dev)
    est.fit(X_dev, numba_cuda.to_device(y))
    assert est.coef_.dtype == np.float32
    assert est.n_features_in_ == X.shape[1]
    assert_allclose(est.predict(X_dev), est.predict(X.astype(np.float32)), rtol=1e-6)
    # float64 on request: converted on the device.
    est64 = SGDRegressor(batch_size="full", max_iter=2, tol=None, device="cuda",
                         gpu_dtype="float64").fit(X_dev, y)
    assert est64.coef_.dtype == np.float64


def test_host_input_trains_in_float32_by_default():
    X, y, _, _ = make_data(n=32)
    est = SGDRegressor(batch_size=8, max_iter=1, tol=None, device="cuda").fit(X, y)
    assert est.coef_.dtype == np.float32


@pytest.mark.parametrize(
    "kwargs,X_kind,match",
    [
        (dict(), "dense", "batch_size=1"),
        (dict(batch_size=4), "csr", "sparse X"),
    ],
)
def test_unsupported_configurations_are_refused(kwargs, X_kind, match):
    X, y, _, _ = make_data(n=16)
    X = sp.csr_matrix(X) if X_kind == "csr" else X
    with pytest.raises(ValueError, match=match):
        SGDRegressor(device="cuda", **kwargs).fit(X, y)


def test_auto_falls_back_to_cpu_without_a_real_gpu():
    X, y, _, _ = make_data(n=16)
    est = SGDRegressor(device="auto", max_iter=2, tol=None)
    # batch_size=1 never runs on the GPU; neither does anything under the simulator.
    assert est._gpu_data(X) is None
    assert SGDRegressor(device="auto", batch_size=4)._use_gpu(X) == fd_cuda.is_available()
    assert est.fit(X, y).coef_.dtype == np.float64


def test_device_cpu_refuses_gpu_arrays():
    X, y, _, _ = make_data(n=16)
    with pytest.raises(ValueError, match="device='cpu'"):
        SGDRegressor().fit(numba_cuda.to_device(X), y)


def test_missing_numba_cuda_names_the_extra(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_numba(name, *args, **kwargs):
        if name == "numba" or name.startswith("numba."):
            raise ImportError("No module named 'numba'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_numba)
    X, y, _, _ = make_data(n=16)
    with pytest.raises(ImportError, match=r"fastdescent\[cuda\]"):
        SGDRegressor(device="cuda", batch_size=4).fit(X, y)
    assert not fd_cuda.is_available()


def test_missing_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(numba_cuda, "is_available", lambda: False)
    X, y, _, _ = make_data(n=16)
    with pytest.raises(RuntimeError, match="needs a CUDA GPU"):
        SGDRegressor(device="cuda", batch_size=4).fit(X, y)
    assert SGDRegressor(device="auto", batch_size=4).fit(X, y).coef_.dtype == np.float64


def test_divergence_is_reported():
    X, y, _, _ = make_data(n=16)
    with pytest.raises(ValueError, match="under-/overflow"):
        SGDRegressor(device="cuda", batch_size="full", learning_rate="constant", eta0=1e30,
                     max_iter=3, tol=None).fit(X * 1e10, y)


def test_importing_fastdescent_does_not_import_numba():
    code = ("import sys, fastdescent, fastdescent.cuda; "
            "assert 'numba' not in sys.modules, 'numba imported'")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_dask_collections_are_refused_on_the_gpu():
    da = pytest.importorskip("dask.array")
    X, y, _, _ = make_data(n=16)
    with pytest.raises(ValueError, match="dask"):
        SGDRegressor(device="cuda", batch_size=4).fit(da.from_array(X, chunks=8), y)


def test_half_precision_X_matches_cpu():
    """float16 X stays float16 on the device (widened as the kernels read it); bfloat16 X is
    converted to float32 on the host. Either trains as the CPU does on the same values."""
    X, _, y_bin, _ = make_data(n=64)
    halves = [np.float16]
    try:
        import ml_dtypes

        halves.append(ml_dtypes.bfloat16)
    except ImportError:
        pass
    make = lambda **kw: SGDClassifier(  # noqa: E731
        loss="log_loss", batch_size=16, shuffle=False, optimizer="adam", max_iter=3, tol=None,
        **kw)
    for half in halves:
        Xh = X.astype(half)
        cpu = make(device="cpu").fit(Xh, y_bin)
        gpu = make(device="cuda").fit(Xh, y_bin)
        assert gpu.coef_.dtype == np.float32
        assert_same_fit(cpu, gpu, np.float32)
    stored = fd_cuda._trainer.to_device(X.astype(np.float16), np.float32)
    assert stored.X.dtype == np.float16 and stored.dtype == np.float32
