"""The native schedules (_core.Schedule) against fastdescent.schedules: ``eta(t)`` with t = 1 for
the first update equals the Python schedule's ``value(t - 1)``."""

import math
import pickle

import numpy as np
import pytest

from fastdescent import _core
from fastdescent import schedules as S

K = _core.ScheduleKind
RTOL = 1e-12


def python_values(schedule, n, start=0):
    return np.array([schedule.value(t) for t in range(start, start + n)], dtype=np.float64)


def assert_same(native, expected):
    np.testing.assert_allclose(native, expected, rtol=RTOL, atol=0)


# Schedules and how many steps their value() is defined for (None: any).
CASES = [
    (S.Constant(0.3), None),
    (S.Constant(0.0), None),
    (S.ExponentialLR(0.1, 0.97), None),
    (S.ExponentialLR(0.5, 1.0), None),
    (S.ExponentialLR(0.5, 0.0), None),
    (S.StepLR(0.5, step_size=7, gamma=0.3), None),
    (S.StepLR(0.5, step_size=1), None),
    (S.MultiStepLR(1.0, milestones=[50, 10, 50, 120], gamma=0.5), None),
    (S.MultiStepLR(0.2, milestones=[], gamma=0.5), None),
    (S.MultiStepLR(0.2, milestones=[0, 3], gamma=0.1), None),
    (S.CosineAnnealingLR(0.1, T_max=30), None),
    (S.CosineAnnealingLR(0.1, T_max=1, eta_min=0.01), None),
    (S.CosineAnnealingLR(0.05, T_max=77, eta_min=0.2), None),  # eta_min above lr, as PyTorch allows
    (S.CosineAnnealingWarmRestarts(0.1, T_0=5), None),
    (S.CosineAnnealingWarmRestarts(0.1, T_0=1, T_mult=2, eta_min=1e-3), None),
    (S.CosineAnnealingWarmRestarts(0.1, T_0=3, T_mult=2), None),
    (S.CosineAnnealingWarmRestarts(0.1, T_0=7, T_mult=3, eta_min=0.01), None),
    (S.OneCycleLR(0.1, total_steps=100), 101),
    (S.OneCycleLR(0.1, total_steps=100, anneal_strategy="linear"), 101),
    (S.OneCycleLR(0.1, total_steps=100, three_phase=True), 101),
    (S.OneCycleLR(2.0, total_steps=37, pct_start=0.45, div_factor=3.0, final_div_factor=7.0,
                  three_phase=True, anneal_strategy="linear"), 38),
    (S.OneCycleLR(0.1, epochs=4, steps_per_epoch=9, pct_start=0.0), 37),
    (S.PolynomialLR(0.1), None),
    (S.PolynomialLR(0.1, total_iters=50, power=2.0), None),
    (S.PolynomialLR(0.1, total_iters=1, power=0.5), None),
    (S.PolynomialLR(0.1, total_iters=20, power=0.0), None),
    (S.ReduceLROnPlateau(0.1), None),
    (S.OptimalLR(), None),
    (S.OptimalLR(alpha=1e-2), None),
    (S.OptimalLR(alpha=0.5, t0=3.0), None),
    (S.InvScalingLR(), None),
    (S.InvScalingLR(0.1, power_t=0.5), None),
    (S.InvScalingLR(0.1, power_t=0.0), None),
    (S.AdaptiveLR(0.2), None),
]


def case_id(case):
    return repr(case[0])


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_matches_python(case):
    schedule, defined = case
    n = defined or 300
    assert_same(_core.schedule_values(schedule.to_core(), 1, n), python_values(schedule, n))


@pytest.mark.parametrize("case", [c for c in CASES if c[1] is None], ids=case_id)
def test_matches_python_far_out(case):
    # Exercises the integer arithmetic (step counts, restart cycles) at large t.
    schedule, _ = case
    start = 1_000_003
    assert_same(_core.schedule_values(schedule.to_core(), start + 1, 50),
                python_values(schedule, 50, start))


@pytest.mark.parametrize("T_0,T_mult", [(1, 2), (3, 2), (10, 2), (7, 3), (2, 10)])
def test_restart_boundaries(T_0, T_mult):
    # Every cycle start restarts at lr exactly, the step before is its cycle's last.
    s = S.CosineAnnealingWarmRestarts(0.1, T_0=T_0, T_mult=T_mult, eta_min=0.001)
    core = s.to_core()
    start, length = 0, T_0
    while start < 10**12:
        for t in (start - 1, start, start + 1):
            if t >= 0:
                assert core.eta(t + 1) == pytest.approx(s.value(t), rel=RTOL)
        assert core.eta(start + 1) == 0.1
        start, length = start + length, length * T_mult


def test_onecycle_past_total_steps_stays_at_minimum():
    s = S.OneCycleLR(0.1, total_steps=50)
    with pytest.raises(ValueError):
        s.value(51)
    v = _core.schedule_values(s.to_core(), 1, 80)
    assert_same(v[:51], python_values(s, 51))
    np.testing.assert_array_equal(v[51:], 0.1 / 25 / 1e4)


def test_onecycle_zero_length_phase_counts_as_finished():
    # pct_start * total_steps == 1: the rise has length 0 and Python divides 0 by 0 at t = 0.
    s = S.OneCycleLR(0.1, total_steps=10, pct_start=0.1)
    with pytest.raises(ZeroDivisionError):
        s.value(0)
    v = _core.schedule_values(s.to_core(), 1, 11)
    assert v[0] == 0.1
    assert_same(v[1:], python_values(s, 10, 1))


WARMUP_AFTER = [
    S.Constant(0.3),
    S.ExponentialLR(0.1, 0.97),
    S.StepLR(0.5, step_size=7, gamma=0.3),
    S.MultiStepLR(1.0, milestones=[5, 40], gamma=0.5),
    S.CosineAnnealingLR(0.1, T_max=30, eta_min=0.01),
    S.CosineAnnealingWarmRestarts(0.1, T_0=3, T_mult=2),
    S.PolynomialLR(0.1, total_iters=50, power=2.0),
    S.ReduceLROnPlateau(0.1),
    S.OptimalLR(alpha=1e-2),
    S.InvScalingLR(0.1, power_t=0.5),
    S.AdaptiveLR(0.2),
]


@pytest.mark.parametrize("after", WARMUP_AFTER, ids=repr)
@pytest.mark.parametrize("warmup_steps,start_factor", [(0, 1 / 3), (1, 0.0), (7, 1 / 3), (25, 1.0),
                                                       (10, 0.5)])
def test_warmup_composes(after, warmup_steps, start_factor):
    s = S.LinearWarmup(after, warmup_steps, start_factor)
    core = s.to_core()
    assert core.kind == after.to_core().kind
    assert (core.warmup_steps, core.warmup_start_factor) == (warmup_steps, start_factor)
    assert_same(_core.schedule_values(core, 1, 200), python_values(s, 200))


def test_warmup_of_onecycle_and_of_a_float():
    s = S.LinearWarmup(S.OneCycleLR(0.1, total_steps=60, three_phase=True), 15)
    assert_same(_core.schedule_values(s.to_core(), 1, 76), python_values(s, 76))
    s = S.LinearWarmup(0.25, 4, start_factor=0.0)
    assert s.to_core().kind == K.constant
    assert_same(_core.schedule_values(s.to_core(), 1, 10), python_values(s, 10))


def test_warmup_of_plateau_follows_the_plateau():
    after = S.ReduceLROnPlateau(0.1, patience=1)
    s = S.LinearWarmup(after, 6)
    metrics = [5.0, 5.0, 5.0, 5.0, 5.0, 5.0]
    upe = 2
    native = _core.schedule_values(s.to_core(), 1, upe * len(metrics), metrics, upe)
    expected = []
    for epoch, m in enumerate(metrics):
        expected += [s.value(epoch * upe + i) for i in range(upe)]
        after.step(m)
    assert_same(native, expected)
    assert native[-1] < 0.1


def plateau_reference(schedule, metrics, upe):
    """Values per update of a Python plateau schedule stepped once per epoch."""
    out = []
    for m in metrics:
        out += [schedule.value(0)] * upe
        schedule.step(m)
    return np.array(out)


def metric_sequence(seed, n=120):
    rng = np.random.default_rng(seed)
    # Improvements, plateaus (exact repeats) and small regressions.
    steps = rng.choice([-1.0, 0.0, 0.0, 1e-6, 0.3], size=n) * rng.random(n)
    return list(10.0 + np.cumsum(steps))


PLATEAU_PARAMS = [
    {},
    {"patience": 0},
    {"patience": 2, "cooldown": 3},
    {"mode": "max", "patience": 3},
    {"mode": "max", "threshold_mode": "abs", "threshold": 0.05, "patience": 1},
    {"threshold_mode": "abs", "threshold": 0.1, "patience": 2, "factor": 0.5},
    {"patience": 1, "min_lr": 0.02, "factor": 0.5},
    {"patience": 1, "eps": 0.05, "factor": 0.5},
    {"patience": 4, "threshold": 0.0, "cooldown": 1, "factor": 0.0},
]


@pytest.mark.parametrize("params", PLATEAU_PARAMS, ids=repr)
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("upe", [1, 3])
def test_plateau_follows_metrics(params, seed, upe):
    metrics = metric_sequence(seed)
    if params.get("mode") == "max":
        metrics = [-m for m in metrics]
    s = S.ReduceLROnPlateau(0.1, **params)
    native = _core.schedule_values(s.to_core(), 1, upe * len(metrics), metrics, upe)
    assert_same(native, plateau_reference(s, metrics, upe))


def test_plateau_state_matches_step_by_step():
    metrics = metric_sequence(5, 60) + [math.nan, math.inf, 9.0, math.nan]
    py = S.ReduceLROnPlateau(1.0, patience=2, cooldown=1, factor=0.5)
    core = py.to_core()
    assert math.isinf(core.best)
    for m in metrics:
        py.step(m)
        core.end_epoch(m)
        assert core.eta(1) == py.value(0)
        assert (core.best, core.num_bad_epochs, core.cooldown_counter) == (
            py.best, py.num_bad_epochs, py.cooldown_counter)
    assert core.eta0 < 1.0


def test_plateau_to_core_carries_the_state_and_nan_best_means_none_yet():
    py = S.ReduceLROnPlateau(1.0, patience=1)
    for m in [3.0, 3.0, 3.0, 2.0, 2.0]:
        py.step(m)
    core = py.to_core()
    assert (core.eta0, core.best, core.num_bad_epochs) == (py.lr, py.best, py.num_bad_epochs)
    rest = [2.0, 2.0, 1.0, 1.0, 1.0]
    assert_same(_core.schedule_values(core, 1, len(rest), rest), plateau_reference(py, rest, 1))
    # A fresh native schedule (best = NaN) behaves like a fresh Python one (best = +-inf).
    for mode in ("min", "max"):
        fresh = _core.Schedule(K.plateau, eta0=1.0, patience=0, mode=getattr(_core.PlateauMode, mode))
        assert math.isnan(fresh.best)
        ref = S.ReduceLROnPlateau(1.0, patience=0, mode=mode)
        metrics = [1.0, 1.0, 2.0, 0.5, 0.5]
        assert_same(_core.schedule_values(fresh, 1, 5, metrics), plateau_reference(ref, metrics, 1))


def test_end_epoch_is_a_noop_for_other_kinds():
    for s in (S.Constant(0.1), S.AdaptiveLR(0.1), S.CosineAnnealingLR(0.1, 10)):
        core = s.to_core()
        before = pickle.dumps(core)
        for m in [1.0, 1.0, 1.0] * 20:
            core.end_epoch(m)
        assert pickle.dumps(core) == before


def test_adaptive_uses_current():
    core = S.AdaptiveLR(0.2).to_core()
    assert core.eta(17) == 0.2
    assert core.eta(17, 0.04) == 0.04
    core.warmup_steps, core.warmup_start_factor = 4, 0.5
    assert core.eta(1, 0.04) == 0.02
    assert core.eta(5, 0.04) == 0.04


def test_existing_kinds_keep_their_formulas():
    # The trainer's scikit-learn formulas, bit for bit (t = 1 for the first update).
    s = _core.Schedule()
    assert s.kind == K.invscaling and (s.eta0, s.power_t, s.alpha) == (0.01, 0.25, 1e-4)
    for t in (1.0, 2.0, 17.0, 12345.0):
        assert s.eta(t) == 0.01 / t**0.25
    s = _core.Schedule(K.optimal, alpha=1e-3, optimal_init=321.5)
    for t in (1.0, 2.0, 17.0, 12345.0):
        assert s.eta(t) == 1.0 / (1e-3 * (321.5 + t - 1.0))
    for kind in (K.constant, K.pa1, K.pa2):
        assert _core.Schedule(kind, eta0=0.7).eta(99.0, 123.0) == 0.7


def test_to_core_fields():
    core = S.OneCycleLR(0.3, total_steps=40, anneal_strategy="linear", three_phase=True).to_core()
    assert core.kind == K.onecycle and core.eta0 == 0.3 and core.total_steps == 40
    assert core.anneal_strategy == _core.AnnealStrategy.linear and core.three_phase
    core = S.MultiStepLR(1.0, milestones=[30, 10]).to_core()
    assert core.milestones == [10.0, 30.0]
    core = S.ReduceLROnPlateau(0.1, mode="max", threshold_mode="abs").to_core()
    assert core.mode == _core.PlateauMode.max and core.threshold_mode == _core.ThresholdMode.abs
    core = S.OptimalLR(alpha=0.5, t0=3.0).to_core()
    assert (core.alpha, core.optimal_init) == (0.5, 3.0)


def test_to_core_refuses_what_has_no_native_form():
    class Custom(S.Schedule):
        def value(self, t):
            return 1.0

    with pytest.raises(TypeError, match="no native"):
        Custom().to_core()
    with pytest.raises(TypeError, match="after"):
        S.LinearWarmup(lambda t: 0.1, 3).to_core()
    with pytest.raises(ValueError, match="LinearWarmup of a LinearWarmup"):
        S.LinearWarmup(S.LinearWarmup(0.1, 2), 3).to_core()
    with pytest.raises(ValueError, match="power"):
        S.PolynomialLR(0.1, power=-1.0).to_core()


def test_schedule_object_protocol():
    core = S.LinearWarmup(S.CosineAnnealingWarmRestarts(0.1, 4, 2), 3).to_core()
    clone = pickle.loads(pickle.dumps(core))
    assert clone == core and clone is not core
    assert _core.Schedule(K.plateau) == _core.Schedule(K.plateau)  # NaN best equals NaN best
    clone.T_0 = 5
    assert clone != core
    assert "cosine_restarts" in repr(core) and "warmup_steps=3" in repr(core)
    d = core.to_dict()
    assert d["T_mult"] == 2 and d["kind"] == K.cosine_restarts
    assert _core.Schedule(**{k: v for k, v in d.items() if k != "kind"}, kind=d["kind"]) == core
    with pytest.raises(TypeError, match="no field 'T_zero'"):
        _core.Schedule(K.cosine_restarts, T_zero=3)
    with pytest.raises(TypeError):
        hash(core)


def test_schedule_values_arguments():
    core = S.Constant(0.1).to_core()
    assert _core.schedule_values(core, 1, 0).shape == (0,)
    v = _core.schedule_values(core, 1, 5)
    assert v.dtype == np.float64 and v.shape == (5,)
    with pytest.raises(ValueError, match="n must be"):
        _core.schedule_values(core, 1, -1)
    with pytest.raises(ValueError, match="updates_per_epoch"):
        _core.schedule_values(core, 1, 3, [1.0], 0)
    # The schedule passed in is not advanced.
    p = S.ReduceLROnPlateau(1.0, patience=0).to_core()
    v = _core.schedule_values(p, 1, 4, [1.0, 2.0, 2.0, 2.0])
    assert v[-1] < 1.0 and p.eta0 == 1.0 and p.best == math.inf
    # More epochs than metrics: the state stops moving.
    v = _core.schedule_values(p, 1, 10, [1.0, 2.0])
    np.testing.assert_array_equal(v[2:], 0.1)


INVALID = [
    (K.constant, {"eta0": -1.0}, "eta0"),
    (K.constant, {"eta0": math.nan}, "eta0"),
    (K.constant, {"eta0": math.inf}, "eta0"),
    (K.constant, {"warmup_steps": -1}, "warmup_steps"),
    (K.constant, {"warmup_start_factor": 1.5}, "warmup_start_factor"),
    (K.constant, {"warmup_start_factor": math.nan}, "warmup_start_factor"),
    (K.pa1, {"warmup_steps": 3}, "warmup"),
    (K.optimal, {"alpha": 0.0}, "alpha"),
    (K.optimal, {"optimal_init": -1.0}, "optimal_init"),
    (K.invscaling, {"power_t": math.inf}, "power_t"),
    (K.exponential, {"gamma": -0.5}, "gamma"),
    (K.step, {"step_size": 0}, "step_size"),
    (K.step, {"gamma": math.nan}, "gamma"),
    (K.multistep, {"milestones": [5.0, 2.0]}, "sorted"),
    (K.multistep, {"milestones": [-1.0]}, "milestone"),
    (K.multistep, {"milestones": [1.0, math.inf]}, "milestone"),
    (K.cosine, {"T_max": 0}, "T_max"),
    (K.cosine, {"eta_min": -0.1}, "eta_min"),
    (K.cosine_restarts, {"T_0": 0}, "T_0"),
    (K.cosine_restarts, {"T_mult": 0}, "T_mult"),
    (K.onecycle, {"total_steps": 0}, "total_steps"),
    (K.onecycle, {"pct_start": 1.5}, "pct_start"),
    (K.onecycle, {"div_factor": 0.0}, "div_factor"),
    (K.onecycle, {"final_div_factor": -2.0}, "final_div_factor"),
    (K.polynomial, {"total_iters": 0}, "total_iters"),
    (K.polynomial, {"power": -1.0}, "power"),
    (K.plateau, {"factor": 1.0}, "factor"),
    (K.plateau, {"factor": math.nan}, "factor"),
    (K.plateau, {"patience": -1}, "patience"),
    (K.plateau, {"threshold": math.nan}, "threshold"),
    (K.plateau, {"cooldown": -1}, "cooldown"),
    (K.plateau, {"min_lr": -1.0}, "min_lr"),
    (K.plateau, {"eps": -1.0}, "eps"),
    (K.plateau, {"num_bad_epochs": -1}, "num_bad_epochs"),
]


@pytest.mark.parametrize("kind,fields,match", INVALID, ids=lambda x: repr(x))
def test_validate_rejects(kind, fields, match):
    s = _core.Schedule(kind, **fields)
    with pytest.raises(ValueError, match=match):
        s.validate()
    with pytest.raises(ValueError, match=match):
        s.eta(1)
    with pytest.raises(ValueError, match=match):
        _core.schedule_values(s, 1, 3)


def test_validate_accepts_defaults_of_every_kind():
    for name in K.__members__:
        if name != "optimal":
            _core.Schedule(getattr(K, name)).validate()
    # optimal_init = 0 (the default) asks the trainer to derive it; on its own it is incomplete.
    with pytest.raises(ValueError, match="optimal_init"):
        _core.Schedule(K.optimal).validate()
    _core.Schedule(K.optimal, optimal_init=10.0).validate()
    # Parameters that matter to one kind only are not checked for the others.
    _core.Schedule(K.constant, step_size=0, T_max=0, milestones=[3.0, 1.0]).validate()


# ---- schedule_from_name -------------------------------------------------------------------------

UPE = 7
MAX_ITER = 30


def from_name(name, eta0=0.1, upe=UPE, max_iter=MAX_ITER):
    return _core.schedule_values(S.schedule_from_name(name, eta0, upe, max_iter), 1, upe * max_iter)


def test_estimator_schedules_cover_the_estimators_names():
    from fastdescent import SGDClassifier

    names = SGDClassifier._parameter_constraints["learning_rate"][0].options
    assert names == set(S.ESTIMATOR_SCHEDULES) | {"auto"}  # "auto" is the estimators' rule
    assert len(set(S.ESTIMATOR_SCHEDULES)) == len(S.ESTIMATOR_SCHEDULES)
    for name in S.ESTIMATOR_SCHEDULES:
        core = S.schedule_from_name(name, 0.1, UPE, MAX_ITER)
        if name == "optimal":  # left for the trainer to complete from the model
            assert core.optimal_init == 0
            core.optimal_init = 1.0
        core.validate()
        expected_kind = "constant" if name == "warmup" else name
        assert core.kind == getattr(K, expected_kind)


@pytest.mark.parametrize("name", ["constant", "optimal", "invscaling", "adaptive", "pa1", "pa2"])
def test_from_name_sklearn_kinds(name):
    core = S.schedule_from_name(name, 0.25, UPE, MAX_ITER)
    assert core.kind == getattr(K, name) and core.eta0 == 0.25 and core.warmup_steps == 0


def test_from_name_constant():
    np.testing.assert_array_equal(from_name("constant"), 0.1)


def test_from_name_exponential():
    v = from_name("exponential")
    assert v[0] == 0.1 and np.all(np.diff(v) < 0)
    for epoch in (1, 2, 10):
        assert v[epoch * UPE] == pytest.approx(0.1 * 0.9**epoch, rel=1e-12)


def test_from_name_step():
    v = from_name("step")
    every = max(1, MAX_ITER // 3) * UPE
    expected = [0.1 * 0.1 ** (t // every) for t in range(UPE * MAX_ITER)]
    assert_same(v, expected)
    v = from_name("step", max_iter=2)  # max(1, 2 // 3) = 1 epoch
    assert v[0] == 0.1 and v[UPE] == pytest.approx(0.01)


def test_from_name_multistep():
    v = from_name("multistep")
    t = np.arange(UPE * MAX_ITER)
    expected = 0.1 * 0.1 ** ((t >= 15 * UPE).astype(int) + (t >= 22 * UPE).astype(int))
    assert_same(v, expected)


def test_from_name_cosine():
    v = from_name("cosine")
    assert v[0] == 0.1 and np.all(np.diff(v) < 0) and v[-1] > 0
    assert v[len(v) // 2] == pytest.approx(0.05, rel=1e-12)
    assert_same(v, python_values(S.CosineAnnealingLR(0.1, UPE * MAX_ITER), len(v)))


def test_from_name_cosine_restarts():
    v = from_name("cosine_restarts", max_iter=80)
    assert v[0] == 0.1 and v[10 * UPE] == 0.1 and v[30 * UPE] == 0.1 and v[70 * UPE] == 0.1
    assert np.all(np.diff(v[: 10 * UPE]) < 0) and np.all(np.diff(v[10 * UPE: 30 * UPE]) < 0)


def test_from_name_onecycle():
    v = from_name("onecycle")
    total = UPE * MAX_ITER
    assert v[0] == pytest.approx(0.1 / 25, rel=1e-12)
    assert v.max() == pytest.approx(0.1, rel=1e-12)
    peak = int(np.argmax(v))
    assert abs(peak - 0.3 * total) <= 1
    assert np.all(np.diff(v[: peak + 1]) > 0) and np.all(np.diff(v[peak:]) < 0)
    assert v[-1] == pytest.approx(0.1 / 25 / 1e4, rel=1e-12)
    assert_same(v, python_values(S.OneCycleLR(0.1, total_steps=total), total))


def test_from_name_polynomial():
    v = from_name("polynomial")
    total = UPE * MAX_ITER
    assert_same(v, 0.1 * (1 - np.arange(total) / total))
    assert v[-1] > 0


def test_from_name_plateau():
    core = S.schedule_from_name("plateau", 0.1, UPE, MAX_ITER)
    np.testing.assert_array_equal(_core.schedule_values(core, 1, 100), 0.1)
    metrics = [1.0] + [1.0] * 11 + [0.5] * 12  # no improvement from epoch 2 on
    v = _core.schedule_values(core, 1, UPE * len(metrics), metrics, UPE)
    ref = S.ReduceLROnPlateau(0.1, factor=0.1, patience=10)
    assert_same(v, plateau_reference(ref, metrics, UPE))
    per_epoch = v[::UPE]
    assert np.all(per_epoch[:12] == 0.1) and per_epoch[12] == pytest.approx(0.01)


def test_from_name_warmup():
    v = from_name("warmup")
    assert v[0] == pytest.approx(0.1 / 3, rel=1e-12)
    assert np.all(np.diff(v[: UPE + 1]) > 0)
    np.testing.assert_array_equal(v[UPE:], 0.1)
    assert_same(v, python_values(S.LinearWarmup(0.1, UPE), len(v)))


@pytest.mark.parametrize("name", S.ESTIMATOR_SCHEDULES)
def test_from_name_one_update_per_epoch_one_epoch(name):
    core = S.schedule_from_name(name, 0.1, 1, 1)
    if name == "optimal":
        core.optimal_init = 1.0
    v = _core.schedule_values(core, 1, 3)
    assert np.all(np.isfinite(v)) and np.all(v >= 0)


def test_from_name_errors():
    with pytest.raises(ValueError, match="unknown schedule 'cyclic'"):
        S.schedule_from_name("cyclic", 0.1, 1, 1)
    with pytest.raises(ValueError, match="updates_per_epoch"):
        S.schedule_from_name("cosine", 0.1, 0, 1)
    with pytest.raises(ValueError, match="max_iter"):
        S.schedule_from_name("cosine", 0.1, 1, 0)
    with pytest.raises(ValueError, match="eta0"):
        S.schedule_from_name("cosine", -0.1, 1, 1)
    with pytest.raises(TypeError):
        S.schedule_from_name("cosine", 0.1, 1.5, 1)
