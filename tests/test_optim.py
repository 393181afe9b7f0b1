"""fastdescent.optim against NumPy references written from the published update equations
(torch.optim's documented algorithms; the LAMB, Adafactor and Lion papers as Optax implements
them), for float32 and float64, on small logistic and quadratic problems."""

import copy
import math
import pickle
import subprocess
import sys

import numpy as np
import pytest

from fastdescent import _core, optim, schedules

RTOL = {np.float32: 1e-5, np.float64: 1e-10}
# Parameters are O(1): absolute tolerances for entries that pass near 0.
ATOL = {np.float32: 1e-5, np.float64: 1e-12}
N_STEPS = 60


# --------------------------------------------------------------------------------------------
# Problems: gradients are computed in NumPy, in the parameters' dtype, at every step.


class Logistic:
    """Binary logistic regression with parameters [w (d,), b (1,)]."""

    def __init__(self, dtype, n=64, d=7, seed=0):
        rng = np.random.default_rng(seed)
        self.X = rng.standard_normal((n, d)).astype(dtype)
        self.y = (self.X[:, 0] + rng.standard_normal(n) > 0).astype(dtype)
        self.dtype = dtype

    def init(self):
        rng = np.random.default_rng(1)
        return [(0.5 * rng.standard_normal(self.X.shape[1])).astype(self.dtype),
                np.array([0.1], dtype=self.dtype)]

    def grads(self, params):
        w, b = params
        r = 1.0 / (1.0 + np.exp(-(self.X @ w + b[0]))) - self.y
        return [self.X.T @ r / len(r), np.array([r.mean()], dtype=self.dtype)]


class Quadratic:
    """0.5 tr((W - C) H (W - C)^T) for a (rows, cols) matrix W; gradient (W - C) H."""

    def __init__(self, dtype, rows=5, cols=8, seed=0):
        rng = np.random.default_rng(seed)
        A = rng.standard_normal((cols, cols))
        self.H = (A @ A.T / cols + 0.5 * np.eye(cols)).astype(dtype)
        self.C = rng.standard_normal((rows, cols)).astype(dtype)
        self.shape = (rows, cols)
        self.dtype = dtype

    def init(self):
        return [np.random.default_rng(2).standard_normal(self.shape).astype(self.dtype)]

    def grads(self, params):
        return [(params[0] - self.C) @ self.H]


# --------------------------------------------------------------------------------------------
# References, one array at a time, from the equations. `t` is the 1-based step of the array.


class Reference:
    def __init__(self, lr, **hp):
        self.lr, self.hp, self.state, self.k = lr, hp, {}, 0

    def step(self, params, grads):
        lr = self.lr(self.k) if callable(self.lr) else self.lr
        for i, (p, g) in enumerate(zip(params, grads)):
            st = self.state.setdefault(i, {"t": 0})
            st["t"] += 1
            p[...] = self.update(p.copy(), g, st, st["t"], lr, **self.hp)
        self.k += 1


class RefSGD(Reference):
    def update(self, p, g, st, t, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        g = g + weight_decay * p
        if momentum != 0:
            st["b"] = momentum * st["b"] + (1 - dampening) * g if t > 1 else g.copy()
            g = g + momentum * st["b"] if nesterov else st["b"]
        return p - lr * g


class RefAdagrad(Reference):
    def update(self, p, g, st, t, lr, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
               eps=1e-10):
        clr = lr / (1 + (t - 1) * lr_decay)
        g = g + weight_decay * p
        st["sum"] = st.get("sum", np.full_like(p, initial_accumulator_value)) + g * g
        return p - clr * g / (np.sqrt(st["sum"]) + eps)


class RefRMSprop(Reference):
    def update(self, p, g, st, t, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
               centered=False):
        g = g + weight_decay * p
        st["v"] = alpha * st.get("v", np.zeros_like(p)) + (1 - alpha) * g * g
        v = st["v"]
        if centered:
            st["g_ave"] = alpha * st.get("g_ave", np.zeros_like(p)) + (1 - alpha) * g
            v = v - st["g_ave"] ** 2
        if momentum > 0:
            st["b"] = momentum * st.get("b", np.zeros_like(p)) + g / (np.sqrt(v) + eps)
            return p - lr * st["b"]
        return p - lr * g / (np.sqrt(v) + eps)


class RefAdam(Reference):
    decoupled = False

    def update(self, p, g, st, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
        b1, b2 = betas
        if self.decoupled:
            p = p - lr * weight_decay * p
        else:
            g = g + weight_decay * p
        st["m"] = b1 * st.get("m", np.zeros_like(p)) + (1 - b1) * g
        st["v"] = b2 * st.get("v", np.zeros_like(p)) + (1 - b2) * g * g
        m_hat = st["m"] / (1 - b1**t)
        if amsgrad:  # torch keeps the maximum of the raw second moments
            st["v_max"] = np.maximum(st.get("v_max", np.zeros_like(p)), st["v"])
            v_hat = st["v_max"] / (1 - b2**t)
        else:
            v_hat = st["v"] / (1 - b2**t)
        return p - lr * m_hat / (np.sqrt(v_hat) + eps)


class RefAdamW(RefAdam):
    decoupled = True

    def update(self, p, g, st, t, lr, weight_decay=1e-2, **hp):
        return super().update(p, g, st, t, lr, weight_decay=weight_decay, **hp)


class RefNAdam(Reference):
    def update(self, p, g, st, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
               momentum_decay=4e-3, decoupled_weight_decay=False):
        b1, b2 = betas

        def mu(k):
            return b1 * (1 - 0.5 * 0.96 ** (k * momentum_decay))

        if decoupled_weight_decay:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        prod_t = math.prod(mu(k) for k in range(1, t + 1))
        prod_next = prod_t * mu(t + 1)
        st["m"] = b1 * st.get("m", np.zeros_like(p)) + (1 - b1) * g
        st["v"] = b2 * st.get("v", np.zeros_like(p)) + (1 - b2) * g * g
        m_hat = mu(t + 1) * st["m"] / (1 - prod_next) + (1 - mu(t)) * g / (1 - prod_t)
        v_hat = st["v"] / (1 - b2**t)
        return p - lr * m_hat / (np.sqrt(v_hat) + eps)


class RefAdamax(Reference):
    def update(self, p, g, st, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        b1, b2 = betas
        g = g + weight_decay * p
        st["m"] = b1 * st.get("m", np.zeros_like(p)) + (1 - b1) * g
        st["u"] = np.maximum(b2 * st.get("u", np.zeros_like(p)), np.abs(g) + eps)
        return p - lr * st["m"] / ((1 - b1**t) * st["u"])


class RefLAMB(Reference):
    def update(self, p, g, st, t, lr, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0):
        b1, b2 = betas
        st["m"] = (1 - b1) * g + b1 * st.get("m", np.zeros_like(p))
        st["v"] = (1 - b2) * g * g + b2 * st.get("v", np.zeros_like(p))
        u = (st["m"] / (1 - b1**t)) / (np.sqrt(st["v"] / (1 - b2**t)) + eps) + weight_decay * p
        p_norm, u_norm = np.linalg.norm(p.astype(np.float64)), np.linalg.norm(u.astype(np.float64))
        ratio = 1.0 if p_norm == 0 or u_norm == 0 else p_norm / u_norm
        return p - lr * ratio * u


class RefAdafactor(Reference):
    """optax.adafactor: scale_by_factored_rms, clip_by_block_rms, learning rate,
    scale_by_param_block_rms, ema (momentum), add_decayed_weights, scale(-1)."""

    def update(self, p, g, st, t, lr, decay_rate=0.8, clipping_threshold=1.0,
               multiply_by_parameter_scale=True, eps=1e-30, eps_scale=1e-3,
               min_dim_size_to_factor=128, factored=True, momentum=None, weight_decay=0.0):
        if lr is None:
            lr = min(1e-2, 1 / math.sqrt(t))
        beta = 1 - t ** (-decay_rate)
        g_sq = g * g + eps
        if factored and p.ndim == 2 and min(p.shape) >= min_dim_size_to_factor:
            d1, d0 = (int(i) for i in np.argsort(p.shape)[-2:])
            st["v_row"] = beta * st.get("v_row", 0.0) + (1 - beta) * g_sq.mean(axis=d0)
            st["v_col"] = beta * st.get("v_col", 0.0) + (1 - beta) * g_sq.mean(axis=d1)
            reduced_d1 = d1 - 1 if d1 > d0 else d1
            row_col_mean = st["v_row"].mean(axis=reduced_d1, keepdims=True)
            row_factor = (st["v_row"] / row_col_mean) ** -0.5
            col_factor = st["v_col"] ** -0.5
            y = g * np.expand_dims(row_factor, d0) * np.expand_dims(col_factor, d1)
        else:
            st["v"] = beta * st.get("v", 0.0) + (1 - beta) * g_sq
            y = g * st["v"] ** -0.5
        if clipping_threshold is not None:
            y = y / max(1.0, float(np.sqrt(np.mean(y.astype(np.float64) ** 2))) / clipping_threshold)
        u = lr * y
        if multiply_by_parameter_scale:
            u = u * max(eps_scale, float(np.sqrt(np.mean(p.astype(np.float64) ** 2))))
        if momentum is not None:
            st["m"] = momentum * st.get("m", np.zeros_like(p)) + (1 - momentum) * u
            u = st["m"]
        return p - (u + weight_decay * p)


class RefLion(Reference):
    def update(self, p, g, st, t, lr, betas=(0.9, 0.99), weight_decay=0.0):
        b1, b2 = betas
        m = st.get("m", np.zeros_like(p))
        c = (1 - b1) * g + b1 * m
        st["m"] = (1 - b2) * g + b2 * m
        return p - lr * (np.sign(c) + weight_decay * p)


REFERENCES = {
    optim.SGD: RefSGD, optim.Adagrad: RefAdagrad, optim.RMSprop: RefRMSprop, optim.Adam: RefAdam,
    optim.AdamW: RefAdamW, optim.NAdam: RefNAdam, optim.Adamax: RefAdamax, optim.LAMB: RefLAMB,
    optim.Adafactor: RefAdafactor, optim.Lion: RefLion,
}
DEFAULT_LR = {optim.Adagrad: 1e-2, optim.RMSprop: 1e-2, optim.Adam: 1e-3, optim.AdamW: 1e-3,
              optim.NAdam: 2e-3, optim.Adamax: 2e-3, optim.LAMB: 1e-3, optim.Adafactor: None,
              optim.Lion: 1e-4}

CASES = [
    (optim.SGD, dict(lr=0.1)),
    (optim.SGD, dict(lr=0.05, momentum=0.9)),
    (optim.SGD, dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01)),
    (optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)),
    (optim.Adagrad, dict(lr=0.1)),
    (optim.Adagrad, dict(lr=0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1, eps=1e-8)),
    (optim.RMSprop, dict(lr=0.01)),
    (optim.RMSprop, dict(lr=0.01, centered=True)),
    (optim.RMSprop, dict(lr=0.005, momentum=0.7, weight_decay=0.01)),
    (optim.RMSprop, dict(lr=0.005, alpha=0.9, momentum=0.8, centered=True, weight_decay=0.01)),
    (optim.Adam, dict(lr=0.05)),
    (optim.Adam, dict(lr=0.05, betas=(0.8, 0.99), weight_decay=0.01)),
    (optim.Adam, dict(lr=0.05, amsgrad=True, eps=1e-6)),
    (optim.AdamW, dict(lr=0.05)),
    (optim.AdamW, dict(lr=0.05, weight_decay=0.1, amsgrad=True)),
    (optim.NAdam, dict(lr=0.05)),
    (optim.NAdam, dict(lr=0.05, weight_decay=0.01, momentum_decay=0.01)),
    (optim.NAdam, dict(lr=0.05, weight_decay=0.05, decoupled_weight_decay=True)),
    (optim.Adamax, dict(lr=0.05)),
    (optim.Adamax, dict(lr=0.05, betas=(0.8, 0.99), weight_decay=0.01)),
    (optim.LAMB, dict(lr=0.02)),
    (optim.LAMB, dict(lr=0.02, betas=(0.8, 0.99), weight_decay=0.01)),
    (optim.Adafactor, dict(lr=0.05)),
    (optim.Adafactor, dict()),
    (optim.Adafactor, dict(lr=0.05, momentum=0.9, weight_decay=1e-3, clipping_threshold=None,
                           multiply_by_parameter_scale=False, decay_rate=0.5)),
    (optim.Lion, dict(lr=0.005)),
    (optim.Lion, dict(lr=0.005, betas=(0.95, 0.98), weight_decay=0.1)),
]


def case_id(case):
    cls, kw = case
    return cls.__name__ + "".join(f"-{k}={v}" for k, v in kw.items())


def ref_kwargs(cls, kw):
    kw = dict(kw)
    lr = kw.pop("lr", DEFAULT_LR.get(cls))
    return lr, kw


def run_both(cls, kw, problem, steps=N_STEPS, shared_grads=True, **extra):
    """Trajectories of the optimizer and of its reference from the same start.

    Gradients are computed in NumPy at the optimizer's parameters every step and fed to both
    (shared_grads), which makes this an exact test of the update equations. With independent
    gradients, a last-bit difference at one step changes the next gradients, and normalized
    updates oscillating around the optimum amplify it (by 1e8 over 60 steps for NAdam on the
    quadratic), as they would between any two implementations.
    """
    params = problem.init()
    ref_params = [p.copy() for p in params]
    opt = cls(**kw, **extra)
    lr, hp = ref_kwargs(cls, kw)
    ref = REFERENCES[cls](lr, **hp)
    single = len(params) == 1
    traj, ref_traj = [], []
    for _ in range(steps):
        grads = problem.grads(params)
        if single:
            opt.step(params[0], grads[0])
        else:
            opt.step(params, grads)
        ref.step(ref_params, grads if shared_grads else problem.grads(ref_params))
        traj.append([p.copy() for p in params])
        ref_traj.append([p.copy() for p in ref_params])
    return traj, ref_traj, opt


def assert_trajectories_close(traj, ref_traj, dtype):
    for k, (ps, rs) in enumerate(zip(traj, ref_traj)):
        for p, r in zip(ps, rs):
            assert p.dtype == dtype
            np.testing.assert_allclose(p, r, rtol=RTOL[dtype], atol=ATOL[dtype],
                                       err_msg=f"after step {k + 1}")


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_trajectory_logistic_list_of_arrays(case, dtype):
    cls, kw = case
    traj, ref_traj, opt = run_both(cls, kw, Logistic(dtype))
    assert_trajectories_close(traj, ref_traj, dtype)
    assert opt.step_count == N_STEPS
    assert all(st["step"] == N_STEPS for st in opt.state)
    # the problem moved: a test of a frozen trajectory would prove nothing
    assert not np.allclose(traj[-1][0], Logistic(dtype).init()[0])


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_trajectory_quadratic_single_matrix(case, dtype):
    cls, kw = case
    traj, ref_traj, _ = run_both(cls, kw, Quadratic(dtype))
    assert_trajectories_close(traj, ref_traj, dtype)


@pytest.mark.parametrize("case", [
    (optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True)),
    (optim.Adam, dict(lr=0.01, amsgrad=True)),
    (optim.AdamW, dict(lr=0.01)),
    (optim.RMSprop, dict(lr=0.001, centered=True)),
    (optim.Adagrad, dict(lr=0.05)),
    (optim.LAMB, dict(lr=0.01)),
    (optim.Adafactor, dict(lr=0.01)),
], ids=case_id)
def test_independent_float64_trajectories(case):
    """Each side computes its own gradients: the whole trajectory agrees, not just one step."""
    cls, kw = case
    traj, ref_traj, _ = run_both(cls, kw, Logistic(np.float64), shared_grads=False)
    assert_trajectories_close(traj, ref_traj, np.float64)


@pytest.mark.parametrize("shape", [(6, 9), (9, 6), (7, 7)])
@pytest.mark.parametrize("kw", [dict(lr=0.05), dict(), dict(lr=0.1, momentum=0.5, weight_decay=1e-3)],
                         ids=["lr", "relative_step", "momentum_wd"])
def test_adafactor_factored_matrix(shape, kw, dtype):
    kw = dict(kw, min_dim_size_to_factor=2)
    traj, ref_traj, opt = run_both(optim.Adafactor, kw, Quadratic(dtype, *shape))
    assert opt.state[0]["v"] is None and opt.state[0]["v_row"].shape == (shape[0],)
    assert_trajectories_close(traj, ref_traj, dtype)


@pytest.mark.parametrize("shape", [(130, 140), (140, 128)])
def test_adafactor_factors_large_matrices_by_default(shape):
    traj, ref_traj, opt = run_both(optim.Adafactor, dict(lr=0.05), Quadratic(np.float64, *shape),
                                   steps=10)
    assert opt.state[0]["v"] is None
    assert_trajectories_close(traj, ref_traj, np.float64)


def test_adafactor_small_matrix_unfactored_by_default():
    _, _, opt = run_both(optim.Adafactor, dict(lr=0.05), Quadratic(np.float64, 5, 8), steps=2)
    assert opt.state[0]["v_row"] is None and opt.state[0]["v"].shape == (5, 8)
    _, _, opt = run_both(optim.Adafactor, dict(lr=0.05, factored=False, min_dim_size_to_factor=2),
                         Quadratic(np.float64, 5, 8), steps=2)
    assert opt.state[0]["v_row"] is None


@pytest.mark.parametrize("schedule", [
    schedules.ExponentialLR(0.1, gamma=0.97),
    schedules.OneCycleLR(0.1, total_steps=N_STEPS),
    schedules.LinearWarmup(schedules.CosineAnnealingLR(0.1, T_max=40), warmup_steps=10),
    lambda t: 0.05 / (1 + t),
], ids=["exponential", "onecycle", "warmup_cosine", "callable"])
@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.Adagrad])
def test_schedule_is_evaluated_at_the_step_count(cls, schedule, dtype):
    traj, ref_traj, opt = run_both(cls, dict(lr=schedule), Logistic(dtype))
    assert_trajectories_close(traj, ref_traj, dtype)
    assert opt.current_lr() == pytest.approx(schedule(N_STEPS))


def test_plateau_schedule_changes_only_when_stepped():
    sched = schedules.ReduceLROnPlateau(0.1, patience=0)
    opt = optim.SGD(sched)
    w = np.ones(3)
    opt.step(w, np.ones(3))
    np.testing.assert_allclose(w, 0.9)
    sched.step(1.0)
    sched.step(2.0)  # worse: lr -> 0.01
    opt.step(w, np.ones(3))
    np.testing.assert_allclose(w, 0.89)


# --------------------------------------------------------------------------------------------
# The C++ stateful optimizers that the trainer builds from a spec.


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_core_optimizer_from_spec_matches(case, dtype):
    cls, kw = case
    problem = Logistic(dtype)
    params, core_params = problem.init(), problem.init()
    opt = cls(**kw)
    core = _core.CoreOptimizer(opt.to_spec(), dtype)
    for _ in range(20):
        lr = opt.current_lr()
        opt.step(params, problem.grads(params))
        core.begin_step()
        for slot, (p, g) in enumerate(zip(core_params, problem.grads(core_params))):
            core.update(slot, p, g, 0.0 if lr is None else lr)
    for p, q in zip(params, core_params):
        np.testing.assert_array_equal(p, q)


def test_core_adafactor_factors_with_rows(dtype):
    problem = Quadratic(dtype, 6, 9)
    params, core_params = problem.init(), problem.init()
    opt = optim.Adafactor(lr=0.05, min_dim_size_to_factor=2)
    core = _core.CoreOptimizer(opt.to_spec(), dtype)
    flat = core_params[0].reshape(-1)
    for _ in range(20):
        opt.step(params, problem.grads(params))
        core.update(0, flat, problem.grads(core_params)[0].reshape(-1), 0.05, rows=6)
    np.testing.assert_array_equal(params[0], core_params[0])


def test_core_optimizer_rejects_bad_use():
    spec = _core.OptimizerSpec(_core.OptimizerKind.adam)
    core = _core.CoreOptimizer(spec, np.float64)
    core.update(0, np.ones(3), np.ones(3), 0.1)
    with pytest.raises(ValueError, match="holds state for 3 parameters, got 4"):
        core.update(0, np.ones(4), np.ones(4), 0.1)
    with pytest.raises(TypeError, match="not this optimizer's dtype"):
        core.update(1, np.ones(3, np.float32), np.ones(3, np.float32), 0.1)
    with pytest.raises(ValueError, match="slot must be >= 0"):
        core.update(-1, np.ones(3), np.ones(3), 0.1)
    spec.beta1 = 1.5
    with pytest.raises(ValueError, match="Invalid beta parameter at index 0"):
        _core.CoreOptimizer(spec, np.float64)
    with pytest.raises(TypeError, match="float32 or float64"):
        _core.CoreOptimizer(_core.OptimizerSpec(), np.int32)
    adafactor = _core.CoreOptimizer(_core.OptimizerSpec(_core.OptimizerKind.adafactor), np.float64)
    with pytest.raises(ValueError, match="do not form a matrix of 4 rows"):
        adafactor.update(0, np.ones(6), np.ones(6), 0.1, rows=4)


def test_spec_defaults_fields_and_pickle():
    spec = optim.AdamW(betas=(0.8, 0.9), amsgrad=True).to_spec()
    assert spec.kind == _core.OptimizerKind.adamw
    assert (spec.beta1, spec.beta2, spec.weight_decay, spec.amsgrad) == (0.8, 0.9, 1e-2, True)
    assert pickle.loads(pickle.dumps(spec)) == spec
    assert optim.Adafactor().to_spec().relative_step
    assert not optim.Adafactor(lr=0.1).to_spec().relative_step
    assert optim.Adafactor(clipping_threshold=None).to_spec().clipping_threshold == math.inf
    assert _core.OptimizerSpec(_core.OptimizerKind.adagrad).eps == 1e-10
    assert _core.OptimizerSpec(_core.OptimizerKind.lion).beta2 == 0.99
    sgd = optim.SGD(0.1, momentum=0.9, nesterov=True).to_spec()
    assert sgd.kind == _core.OptimizerKind.sgd and sgd.nesterov and sgd.momentum == 0.9
    for cls in REFERENCES:
        assert cls(**({"lr": 0.1} if cls is optim.SGD else {})).to_spec().kind.name == cls._kind


# --------------------------------------------------------------------------------------------
# Large arrays: the threaded path.


@pytest.mark.parametrize("cls,kw", [
    (optim.Adam, dict(lr=0.01, amsgrad=True, weight_decay=0.01)),
    (optim.SGD, dict(lr=0.01, momentum=0.9, nesterov=True)),
    (optim.RMSprop, dict(lr=0.01, centered=True, momentum=0.5)),
    (optim.NAdam, dict(lr=0.01)),
    (optim.LAMB, dict(lr=0.01, weight_decay=0.01)),
    (optim.Adafactor, dict(lr=0.01)),
    (optim.Lion, dict(lr=0.01)),
], ids=lambda x: x.__name__ if isinstance(x, type) else "")
def test_large_arrays_threads_and_reference(cls, kw):
    rng = np.random.default_rng(0)
    n = 300_007
    w0 = rng.standard_normal(n)
    runs = []
    for n_threads in (1, 2):
        w = w0.copy()
        opt = cls(**kw, n_threads=n_threads)
        for k in range(5):
            opt.step(w, np.sin(w + k))
        runs.append(w)
    np.testing.assert_array_equal(runs[0], runs[1])
    lr, hp = ref_kwargs(cls, kw)
    ref = REFERENCES[cls](lr, **hp)
    w = [w0.copy()]
    for k in range(5):
        ref.step(w, [np.sin(w[0] + k)])
    np.testing.assert_allclose(runs[0], w[0], rtol=1e-10, atol=1e-12)


def test_large_factored_adafactor_threads():
    rng = np.random.default_rng(0)
    W0 = rng.standard_normal((300, 400))
    runs = []
    for n_threads in (1, 2):
        W = W0.copy()
        opt = optim.Adafactor(lr=0.01, n_threads=n_threads)
        for k in range(5):
            opt.step(W, np.cos(W + k))
        runs.append(W)
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-12, atol=1e-15)
    ref = RefAdafactor(0.01)
    W = [W0.copy()]
    for k in range(5):
        ref.step(W, [np.cos(W[0] + k)])
    np.testing.assert_allclose(runs[0], W[0], rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------------------------
# State dicts.


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_state_dict_round_trip_continues_identically(case):
    cls, kw = case
    problem = Logistic(np.float64)
    params = problem.init()
    opt = cls(**kw)
    for _ in range(15):
        opt.step(params, problem.grads(params))
    saved = pickle.loads(pickle.dumps(opt.state_dict()))
    params_copy = [p.copy() for p in params]
    restored = cls(**({"lr": 123.0} if cls is optim.SGD else {}))
    restored.load_state_dict(saved)
    assert restored.step_count == 15
    assert restored.hyperparameters() == opt.hyperparameters()
    for _ in range(15):
        opt.step(params, problem.grads(params))
        restored.step(params_copy, problem.grads(params_copy))
    for p, q in zip(params, params_copy):
        np.testing.assert_array_equal(p, q)


def test_state_dict_is_a_copy():
    w = np.ones(4)
    opt = optim.Adam(0.1)
    opt.step(w, np.ones(4))
    sd = opt.state_dict()
    opt.step(w, np.ones(4))
    assert sd["state"][0]["step"] == 1
    np.testing.assert_allclose(sd["state"][0]["exp_avg"], 0.1)


def test_state_dict_with_schedule_keeps_the_schedule():
    sched = schedules.StepLR(0.1, step_size=3)
    opt = optim.SGD(sched)
    w = np.ones(2)
    opt.step(w, np.ones(2))
    sd = opt.state_dict()
    assert "lr" not in sd
    other = optim.SGD(sched)
    other.load_state_dict(sd)
    assert other.lr is sched and other.step_count == 1


def test_load_state_dict_rejects_foreign_dicts():
    sd = optim.Adam().state_dict()
    with pytest.raises(ValueError, match="belongs to 'Adam', not 'AdamW'"):
        optim.AdamW().load_state_dict(sd)
    with pytest.raises(TypeError, match="must be a dict"):
        optim.Adam().load_state_dict([1])
    bad = copy.deepcopy(sd)
    bad["hyperparameters"]["betas"] = (1.5, 0.9)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 0: 1.5"):
        optim.Adam().load_state_dict(bad)
    bad = copy.deepcopy(sd)
    bad["hyperparameters"]["momentum"] = 0.9
    with pytest.raises(ValueError, match="unknown hyperparameters"):
        optim.Adam().load_state_dict(bad)
    del bad["state"]
    with pytest.raises(ValueError, match="lacks"):
        optim.Adam().load_state_dict(bad)


# --------------------------------------------------------------------------------------------
# Bad hyperparameters (torch.optim's messages) and bad arrays.


@pytest.mark.parametrize("make,message", [
    (lambda: optim.SGD(-1), "Invalid learning rate: -1"),
    (lambda: optim.SGD(0.1, momentum=-0.5), "Invalid momentum value: -0.5"),
    (lambda: optim.SGD(0.1, weight_decay=-1), "Invalid weight_decay value: -1"),
    (lambda: optim.SGD(0.1, nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    (lambda: optim.SGD(0.1, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov momentum requires"),
    (lambda: optim.Adagrad(lr_decay=-1), "Invalid lr_decay value: -1"),
    (lambda: optim.Adagrad(initial_accumulator_value=-1), "Invalid initial_accumulator_value value: -1"),
    (lambda: optim.Adagrad(eps=-1), "Invalid epsilon value: -1"),
    (lambda: optim.RMSprop(alpha=-0.1), "Invalid alpha value: -0.1"),
    (lambda: optim.RMSprop(momentum=-1), "Invalid momentum value: -1"),
    (lambda: optim.Adam(lr=float("nan")), "Invalid learning rate: nan"),
    (lambda: optim.Adam(betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    (lambda: optim.Adam(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    (lambda: optim.Adam(betas=(0.9,)), "betas must be a pair"),
    (lambda: optim.AdamW(weight_decay=-1e-2), "Invalid weight_decay value: -0.01"),
    (lambda: optim.NAdam(momentum_decay=-1), "Invalid momentum_decay value: -1"),
    (lambda: optim.Adamax(eps=-1), "Invalid epsilon value: -1"),
    (lambda: optim.LAMB(betas=(0.9, 1.1)), "Invalid beta parameter at index 1: 1.1"),
    (lambda: optim.Adafactor(decay_rate=0), "Invalid decay_rate value: 0"),
    (lambda: optim.Adafactor(clipping_threshold=0), "Invalid clipping_threshold value: 0"),
    (lambda: optim.Adafactor(momentum=1.0), "Invalid momentum value: 1.0"),
    (lambda: optim.Adafactor(lr=-0.1), "Invalid learning rate: -0.1"),
    (lambda: optim.Lion(weight_decay=-1), "Invalid weight_decay value: -1"),
])
def test_invalid_hyperparameters(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        make()


@pytest.mark.parametrize("make,message", [
    (lambda: optim.SGD("0.1"), "lr must be a non-negative float or a schedule"),
    (lambda: optim.SGD(None), "lr must be a non-negative float or a schedule"),
    (lambda: optim.Adam(eps="tiny"), "eps must be a real number"),
    (lambda: optim.Adam(betas=("a", 0.9)), r"betas\[0\] must be a real number"),
    (lambda: optim.Adam(n_threads=1.5), "n_threads must be an integer"),
])
def test_hyperparameters_of_the_wrong_type(make, message):
    with pytest.raises(TypeError, match=message):
        make()


@pytest.mark.parametrize("name, value, message", [
    ("lr", float("inf"), "Invalid learning rate: inf"),
    ("lr", float("nan"), "Invalid learning rate: nan"),
    ("lr", -0.1, "Invalid learning rate: -0.1"),
    ("betas", (1.5, 0.9), r"Invalid beta parameter at index 0: 1.5"),
    ("eps", float("nan"), "Invalid epsilon value: nan"),
    ("weight_decay", float("inf"), "Invalid weight_decay value: inf"),
])
def test_hyperparameters_assigned_after_construction_are_checked_at_the_next_step(
    name, value, message
):
    w = np.ones(3)
    opt = optim.Adam(0.1)
    opt.step(w, np.ones(3))
    setattr(opt, name, value)
    before = w.copy()
    with pytest.raises(ValueError, match=message):
        opt.step(w, np.ones(3))
    with pytest.raises(ValueError, match=message):
        opt.to_spec()
    np.testing.assert_array_equal(w, before)
    assert opt.step_count == 1


def test_a_valid_assignment_takes_effect_normalized():
    w = np.ones(3)
    opt = optim.SGD(0.1)
    opt.momentum = 1  # an int, as the constructor would take it
    opt.step(w, np.ones(3))
    assert opt.momentum == 1.0 and isinstance(opt.momentum, float)
    np.testing.assert_allclose(w, 0.9)


def _adam_state_dict():
    opt = optim.Adam(0.1, amsgrad=True)
    opt.step([np.ones((3, 2)), np.ones(2)], [np.ones((3, 2)), np.ones(2)])
    return opt.state_dict()


def _spoil(path, value):
    def spoil(sd):
        target = sd
        for key in path[:-1]:
            target = target[key]
        if value is KeyError:
            del target[path[-1]]
        else:
            target[path[-1]] = value(target[path[-1]]) if callable(value) else value
    return spoil


@pytest.mark.parametrize("spoil, message", [
    (_spoil(("state", 0, "exp_avg_sq"), lambda a: -a), "'exp_avg_sq'.* cannot be negative"),
    (_spoil(("state", 0, "max_exp_avg_sq"), lambda a: a - 5), "cannot be negative"),
    (_spoil(("state", 1, "exp_avg"), lambda a: a * np.nan), "holds NaN or infinity"),
    (_spoil(("state", 0, "exp_avg"), KeyError), "keeps"),
    (_spoil(("state", 0, "extra"), 1.0), "keeps"),
    (_spoil(("state", 0, "exp_avg"), lambda a: a.astype(np.float32)), "must be a float64 array"),
    (_spoil(("state", 0, "exp_avg"), lambda a: a.ravel()), r"has shape \(6,\), expected \(3, 2\)"),
    (_spoil(("state", 0, "exp_avg"), lambda a: a.tolist()), "must be a float64 array"),
    (_spoil(("state", 0, "step"), -1), "must be an integer >= 0"),
    (_spoil(("state", 0, "shape"), [3, 2]), "must be a tuple of sizes"),
    (_spoil(("state", 0, "dtype"), "int8"), "must be 'float32' or 'float64'"),
    (_spoil(("state", 0), KeyError), None),  # one entry fewer than parameters: checked at step
    (_spoil(("state",), 3), "must be a list"),
    (_spoil(("step_count",), 1.5), "step_count must be an integer"),
    (_spoil(("lr",), float("inf")), "Invalid learning rate: inf"),
])
def test_load_state_dict_checks_everything_before_changing_anything(spoil, message):
    sd = _adam_state_dict()
    spoil(sd)
    opt = optim.Adam(0.5)
    if message is None:
        opt.load_state_dict(sd)
        with pytest.raises(ValueError, match="first stepped with 1 parameter arrays, got 2"):
            opt.step([np.ones((3, 2)), np.ones(2)], [np.ones((3, 2)), np.ones(2)])
        return
    with pytest.raises(ValueError, match=message):
        opt.load_state_dict(sd)
    assert opt.lr == 0.5 and opt.state == [] and opt.step_count == 0


def test_loaded_state_is_a_private_copy():
    sd = _adam_state_dict()
    opt = optim.Adam(0.1, amsgrad=True)
    opt.load_state_dict(sd)
    opt.step([np.ones((3, 2)), np.ones(2)], [np.ones((3, 2)), np.ones(2)])
    np.testing.assert_allclose(sd["state"][1]["exp_avg"], 0.1)  # unchanged by the step


def test_n_threads_beyond_the_runtime_is_capped():
    # libgomp aborts the process when asked for threads it cannot create: own process.
    script = (
        "import numpy as np; from fastdescent import optim\n"
        "w = np.ones(1 << 20); opt = optim.Adam(0.1, n_threads=1 << 20)\n"
        "opt.step(w, np.ones(1 << 20)); print(float(w[0]))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert abs(float(out.stdout) - 0.9) < 1e-9


def test_schedule_giving_a_negative_lr_is_rejected():
    opt = optim.SGD(lambda t: -1.0)
    with pytest.raises(ValueError, match="invalid learning rate at step 0: -1.0"):
        opt.step(np.ones(2), np.ones(2))


def test_step_rejects_bad_arrays():
    opt = optim.Adam()
    w = np.ones((3, 4))
    with pytest.raises(TypeError, match=r"params\[0\] has dtype int64"):
        opt.step(np.ones(3, dtype=np.int64), np.ones(3, dtype=np.int64))
    with pytest.raises(TypeError, match=r"params\[0\] has dtype float16"):
        opt.step(np.ones(3, dtype=np.float16), np.ones(3, dtype=np.float16))
    with pytest.raises(TypeError, match=r"grads\[0\] has dtype float32 but params\[0\] has dtype float64"):
        opt.step(w, np.ones((3, 4), dtype=np.float32))
    with pytest.raises(ValueError, match=r"grads\[0\] has shape \(4, 3\) but params\[0\] has shape \(3, 4\)"):
        opt.step(w, np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"params\[0\] is not C-contiguous"):
        opt.step(np.ones((4, 3)).T, np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"params\[0\] is not C-contiguous"):
        opt.step(np.ones(8)[::2], np.ones(4))
    ro = np.ones(3)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"params\[0\] is read-only"):
        opt.step(ro, np.ones(3))
    with pytest.raises(TypeError, match=r"params\[0\] must be a NumPy array"):
        opt.step([[1.0, 2.0]], [np.ones(2)])
    with pytest.raises(TypeError, match=r"grads\[0\] must be a NumPy array"):
        opt.step([np.ones(2)], [[1.0, 2.0]])
    with pytest.raises(TypeError, match="params must be a NumPy array or a list"):
        opt.step(3.0, 3.0)
    with pytest.raises(TypeError, match="grads must be one too"):
        opt.step(np.ones(2), [np.ones(2)])
    with pytest.raises(TypeError, match="grads must be a list"):
        opt.step([np.ones(2)], np.ones(2))
    with pytest.raises(ValueError, match="got 2 parameter arrays but 1 gradients"):
        opt.step([np.ones(2), np.ones(3)], [np.ones(2)])
    with pytest.raises(ValueError, match="params is empty"):
        opt.step([], [])
    shared = np.ones(6)
    with pytest.raises(ValueError, match="share memory"):
        opt.step([shared[:3], shared], [np.ones(3), np.ones(6)])
    with pytest.raises(ValueError, match=r"grads\[0\] shares memory with params\[0\]"):
        opt.step(w, w)
    assert opt.step_count == 0 and opt.state == []  # nothing was half-done


def test_step_rejects_a_different_set_of_arrays_later():
    opt = optim.SGD(0.1, momentum=0.9)
    a, b = np.ones(3), np.ones((2, 2))
    opt.step([a, b], [np.ones(3), np.ones((2, 2))])
    with pytest.raises(ValueError, match="first stepped with 2 parameter arrays, got 1"):
        opt.step(a, np.ones(3))
    with pytest.raises(ValueError, match=r"params\[1\] has shape \(4,\) but had shape \(2, 2\)"):
        opt.step([a, np.ones(4)], [np.ones(3), np.ones(4)])
    with pytest.raises(TypeError, match=r"params\[0\] has dtype float32 but had dtype float64"):
        opt.step([np.ones(3, np.float32), b], [np.ones(3, np.float32), np.ones((2, 2))])
    assert opt.step_count == 1


def test_non_contiguous_gradient_is_accepted():
    w, v = np.ones(4), np.ones(4)
    g = np.arange(8.0)[::2]
    optim.SGD(0.1).step(w, g)
    optim.SGD(0.1).step(v, g.copy())
    np.testing.assert_array_equal(w, v)


# --------------------------------------------------------------------------------------------
# The stateless kernels' own checks.


def adam_args(n=5, dtype=np.float64):
    return [np.ones(n, dtype), np.ones(n, dtype), np.zeros(n, dtype), np.zeros(n, dtype)]


def test_kernel_rejects_bad_arrays():
    w, g, m, v = adam_args()
    with pytest.raises(TypeError, match="param must be a NumPy array, got list"):
        _core.adam_step([1.0], g, m, v, None, 1)
    with pytest.raises(TypeError, match="param must have dtype float32 or float64, got int64"):
        _core.adam_step(np.ones(5, np.int64), g, m, v, None, 1)
    with pytest.raises(TypeError, match="exp_avg has dtype float32 but param has dtype float64"):
        _core.adam_step(w, g, m.astype(np.float32), v, None, 1)
    with pytest.raises(ValueError, match="exp_avg_sq has 4 elements, expected 5"):
        _core.adam_step(w, g, m, v[:4], None, 1)
    with pytest.raises(ValueError, match="exp_avg must be C-contiguous"):
        _core.adam_step(w, g, np.zeros(10)[::2], v, None, 1)
    ro = np.zeros(5)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="exp_avg_sq is read-only"):
        _core.adam_step(w, g, m, ro, None, 1)
    with pytest.raises(ValueError, match="max_exp_avg_sq is required when amsgrad"):
        _core.adam_step(w, g, m, v, None, 1, amsgrad=True)
    with pytest.raises(ValueError, match="step must be >= 1"):
        _core.adam_step(w, g, m, v, None, 0)
    with pytest.raises(ValueError, match="exp_avg_sq shares memory with exp_avg"):
        _core.adam_step(w, g, m, m, None, 1)
    with pytest.raises(ValueError, match="momentum_buffer is required when momentum != 0"):
        _core.sgd_step(w, g, None, 1, 0.1, momentum=0.9)
    with pytest.raises(ValueError, match="grad_avg is required when centered"):
        _core.rmsprop_step(w, g, m, None, None, 0.1, centered=True)
    with pytest.raises(ValueError, match="need a 2-D param"):
        _core.adafactor_step(w, g, np.zeros(5), np.zeros(1), None, None, 1, 0.1)
    W, G = np.ones((2, 3)), np.ones((2, 3))
    with pytest.raises(ValueError, match="v_row has 3 elements, expected 2"):
        _core.adafactor_step(W, G, np.zeros(3), np.zeros(3), None, None, 1, 0.1)
    with pytest.raises(ValueError, match="v is required"):
        _core.adafactor_step(W, G, None, None, None, None, 1, 0.1)
    # The read-only parameter is never replaced by an updated copy.
    w.flags.writeable = False
    with pytest.raises(ValueError, match="param is read-only"):
        _core.adam_step(w, g, m, v, None, 1)
    np.testing.assert_array_equal(m, 0)


def test_kernels_on_empty_arrays_do_nothing():
    w, g, m, v = adam_args(0)
    _core.adam_step(w, g, m, v, None, 1)
    assert _core.lamb_step(w, g, m, v, 1) == 1.0


def test_kernels_accept_any_shape_and_float32():
    w, g, m, v = (a.reshape(2, 3) for a in adam_args(6, np.float32))
    _core.adam_step(w, g, m, v, None, 1, lr=0.1)
    np.testing.assert_allclose(w, 0.9, rtol=1e-6)
    assert w.dtype == np.float32


def test_nadam_kernel_returns_the_mu_product():
    w, g, m, v = adam_args()
    mu1 = 0.9 * (1 - 0.5 * 0.96 ** 0.004)
    assert _core.nadam_step(w, g, m, v, 1, 1.0) == pytest.approx(mu1, rel=1e-15)


def test_lamb_kernel_returns_the_trust_ratio():
    w = np.full(4, 3.0)
    g, m, v = np.ones(4), np.zeros(4), np.zeros(4)
    # first step: m_hat = g, v_hat = g^2, u = 1/(1+eps) per entry: ratio = 6 / (2 / (1 + 1e-6))
    assert _core.lamb_step(w, g, m, v, 1, lr=0.1) == pytest.approx(3.0 * (1 + 1e-6), rel=1e-12)
    assert _core.lamb_step(np.zeros(4), g, np.zeros(4), np.zeros(4), 1) == 1.0


# --------------------------------------------------------------------------------------------
# PyTorch itself, when installed (it normally is not).


TORCH_CASES = [c for c in CASES if c[0] in (optim.SGD, optim.Adagrad, optim.RMSprop, optim.Adam,
                                             optim.AdamW, optim.NAdam, optim.Adamax)]


@pytest.mark.parametrize("case", TORCH_CASES, ids=[case_id(c) for c in TORCH_CASES])
def test_against_torch(case, dtype):
    torch = pytest.importorskip("torch")
    cls, kw = case
    problem = Logistic(dtype)
    params = problem.init()
    tparams = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    opt = cls(**kw)
    tkw = dict(kw)
    if "lr" not in tkw:
        tkw["lr"] = DEFAULT_LR[cls]
    # torch keeps scalar state (NAdam's mu_product) in its default dtype; float64 matches ours.
    default_dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        topt = getattr(torch.optim, cls.__name__)(tparams, **tkw, foreach=False)
        for _ in range(N_STEPS):
            grads = problem.grads(params)
            opt.step(params, grads)
            for t, g in zip(tparams, grads):
                t.grad = torch.from_numpy(g.copy())
            topt.step()
    finally:
        torch.set_default_dtype(default_dtype)
    for p, t in zip(params, tparams):
        np.testing.assert_allclose(p, t.detach().numpy(), rtol=RTOL[dtype], atol=ATOL[dtype])


@pytest.mark.parametrize("case", [c for c in TORCH_CASES if c[0] is not optim.NAdam][::3],
                         ids=case_id)
def test_against_torch_independent_float64(case):
    """Each side computes its own gradients (default torch settings)."""
    torch = pytest.importorskip("torch")
    cls, kw = case
    problem = Logistic(np.float64)
    params = problem.init()
    tparams = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    opt = cls(**kw)
    tkw = dict(kw)
    if "lr" not in tkw:
        tkw["lr"] = DEFAULT_LR[cls]
    topt = getattr(torch.optim, cls.__name__)(tparams, **tkw)
    for _ in range(N_STEPS):
        opt.step(params, problem.grads(params))
        for t, g in zip(tparams, problem.grads([t.detach().numpy() for t in tparams])):
            t.grad = torch.from_numpy(g.copy())
        topt.step()
    for p, t in zip(params, tparams):
        np.testing.assert_allclose(p, t.detach().numpy(), rtol=1e-10, atol=1e-12)
