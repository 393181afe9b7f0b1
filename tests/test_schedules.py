"""fastdescent.schedules against the closed forms and the PyTorch / scikit-learn algorithms,
written out here."""

import math
import pickle

import numpy as np
import pytest

from fastdescent import schedules as S

T = 200


def table(schedule, n=T):
    return [schedule(t) for t in range(n)]


def test_constant():
    assert table(S.Constant(0.3), 5) == [0.3] * 5


@pytest.mark.parametrize("gamma", [0.9, 0.999, 1.0])
def test_exponential(gamma):
    np.testing.assert_allclose(table(S.ExponentialLR(0.1, gamma)), [0.1 * gamma**t for t in range(T)],
                               rtol=1e-15)


def test_step():
    s = S.StepLR(0.5, step_size=7, gamma=0.3)
    np.testing.assert_allclose(table(s), [0.5 * 0.3 ** (t // 7) for t in range(T)], rtol=1e-15)


def test_multistep_counts_repeated_milestones():
    s = S.MultiStepLR(1.0, milestones=[50, 10, 50, 120], gamma=0.5)
    expected = [1.0 * 0.5 ** sum(m <= t for m in (10, 50, 50, 120)) for t in range(T)]
    assert table(s) == expected


@pytest.mark.parametrize("eta_min", [0.0, 0.01])
def test_cosine_annealing_closed_form(eta_min):
    s = S.CosineAnnealingLR(0.1, T_max=37, eta_min=eta_min)
    expected = [eta_min + (0.1 - eta_min) * (1 + math.cos(math.pi * t / 37)) / 2 for t in range(T)]
    np.testing.assert_allclose(table(s), expected, rtol=1e-14)


@pytest.mark.parametrize("T_0,T_mult", [(10, 1), (5, 2), (3, 3), (1, 2)])
def test_cosine_warm_restarts_iterative_definition(T_0, T_mult):
    # torch's step() without an epoch argument
    t_cur, t_i, expected = 0, T_0, []
    for _ in range(T):
        expected.append(0.001 + (0.1 - 0.001) * (1 + math.cos(math.pi * t_cur / t_i)) / 2)
        t_cur += 1
        if t_cur >= t_i:
            t_cur -= t_i
            t_i *= T_mult
    np.testing.assert_allclose(table(S.CosineAnnealingWarmRestarts(0.1, T_0, T_mult, eta_min=0.001)),
                               expected, rtol=1e-14)


def test_cosine_warm_restarts_restart_points():
    s = S.CosineAnnealingWarmRestarts(1.0, T_0=4, T_mult=2)
    for t in (0, 4, 12, 28, 60):
        assert s(t) == 1.0
    assert s(3) < 0.2 and s(11) < 0.1


@pytest.mark.parametrize("start_factor", [1 / 3, 0.0, 0.5])
def test_linear_warmup_then_schedule(start_factor):
    after = S.CosineAnnealingLR(0.2, T_max=50)
    s = S.LinearWarmup(after, warmup_steps=10, start_factor=start_factor)
    expected = [0.2 * (start_factor + (1 - start_factor) * t / 10) for t in range(10)]
    expected += [after(t - 10) for t in range(10, T)]
    np.testing.assert_allclose(table(s), expected, rtol=1e-15)
    assert s(10) == 0.2


def test_linear_warmup_of_a_float_and_of_a_plateau():
    np.testing.assert_allclose(table(S.LinearWarmup(0.3, 3, start_factor=0.0), 5), [0, 0.1, 0.2, 0.3, 0.3])
    plateau = S.ReduceLROnPlateau(1.0, patience=0)
    s = S.LinearWarmup(plateau, 2, start_factor=0.5)
    assert s(1) == 0.75
    plateau.step(1.0)
    plateau.step(2.0)
    assert s(1) == pytest.approx(0.075) and s(5) == pytest.approx(0.1)


def one_cycle_reference(max_lr, total_steps, pct_start=0.3, anneal_strategy="cos", div_factor=25.0,
                        final_div_factor=1e4, three_phase=False):
    """torch.optim.lr_scheduler.OneCycleLR.get_lr, written out."""
    initial = max_lr / div_factor
    min_lr = initial / final_div_factor
    if three_phase:
        phases = [(float(pct_start * total_steps) - 1, initial, max_lr),
                  (float(2 * pct_start * total_steps) - 2, max_lr, initial),
                  (total_steps - 1, initial, min_lr)]
    else:
        phases = [(float(pct_start * total_steps) - 1, initial, max_lr), (total_steps - 1, max_lr, min_lr)]

    def anneal(start, end, pct):
        if anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    out = []
    for step in range(total_steps + 1):
        start_step = 0
        for i, (end_step, start, end) in enumerate(phases):
            if step <= end_step or i == len(phases) - 1:
                out.append(anneal(start, end, (step - start_step) / (end_step - start_step)))
                break
            start_step = end_step
    return out


@pytest.mark.parametrize("kw", [dict(), dict(anneal_strategy="linear"), dict(three_phase=True),
                                dict(pct_start=0.5, div_factor=10, final_div_factor=100)])
def test_one_cycle(kw):
    s = S.OneCycleLR(0.5, total_steps=T, **kw)
    np.testing.assert_allclose(table(s, T + 1), one_cycle_reference(0.5, T, **kw), rtol=1e-14)
    assert s(0) == pytest.approx(0.5 / kw.get("div_factor", 25))
    with pytest.raises(ValueError, match=f"Tried to step {T + 1} times. The specified number of total steps is {T}"):
        s(T + 1)


def test_one_cycle_from_epochs():
    assert S.OneCycleLR(1.0, epochs=4, steps_per_epoch=25).total_steps == 100
    with pytest.raises(ValueError, match="You must define either total_steps OR"):
        S.OneCycleLR(1.0)


@pytest.mark.parametrize("power", [1.0, 2.0, 0.5])
def test_polynomial(power):
    s = S.PolynomialLR(0.1, total_iters=50, power=power)
    expected = [0.1 * (1 - min(50, t) / 50) ** power for t in range(T)]
    np.testing.assert_allclose(table(s), expected, rtol=1e-15)


class PlateauReference:
    """torch.optim.lr_scheduler.ReduceLROnPlateau.step, written out."""

    def __init__(self, lr, mode, factor, patience, threshold, threshold_mode, cooldown, min_lr, eps):
        self.__dict__.update(locals())
        self.best = math.inf if mode == "min" else -math.inf
        self.bad = self.cooldown_counter = 0

    def is_better(self, a):
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < self.best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < self.best - self.threshold
        if self.threshold_mode == "rel":
            return a > self.best * (self.threshold + 1.0)
        return a > self.best + self.threshold

    def step(self, metric):
        if self.is_better(metric):
            self.best, self.bad = metric, 0
        else:
            self.bad += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.bad = 0
        if self.bad > self.patience:
            new_lr = max(self.lr * self.factor, self.min_lr)
            if self.lr - new_lr > self.eps:
                self.lr = new_lr
            self.cooldown_counter = self.cooldown
            self.bad = 0
        return self.lr


def noisy_metrics(mode, n=150, seed=0):
    rng = np.random.default_rng(seed)
    trend = 1.0 / (1 + np.arange(n) / 10) + 0.05 * rng.standard_normal(n)
    return list(trend if mode == "min" else -trend)


@pytest.mark.parametrize("mode", ["min", "max"])
@pytest.mark.parametrize("threshold_mode,threshold", [("rel", 1e-4), ("abs", 0.01), ("rel", 0.1)])
@pytest.mark.parametrize("cooldown,patience,min_lr", [(0, 3, 0.0), (2, 1, 1e-4), (0, 0, 0.05)])
def test_reduce_on_plateau(mode, threshold_mode, threshold, cooldown, patience, min_lr):
    kw = dict(mode=mode, factor=0.5, patience=patience, threshold=threshold,
              threshold_mode=threshold_mode, cooldown=cooldown, min_lr=min_lr, eps=1e-8)
    s = S.ReduceLROnPlateau(1.0, **kw)
    ref = PlateauReference(1.0, **kw)
    for metric in noisy_metrics(mode):
        assert s.step(metric) == ref.step(metric)
        assert s(12345) == ref.lr
    assert s.lr < 1.0


def test_reduce_on_plateau_state_dict_round_trip():
    s = S.ReduceLROnPlateau(1.0, patience=2, cooldown=1)
    metrics = noisy_metrics("min")
    for m in metrics[:40]:
        s.step(m)
    saved = pickle.loads(pickle.dumps(s.state_dict()))
    other = S.ReduceLROnPlateau(1.0)
    other.load_state_dict(saved)
    for m in metrics[40:]:
        assert other.step(m) == s.step(m)
    with pytest.raises(ValueError, match="unknown keys"):
        other.load_state_dict({"nonsense": 1})


def test_optimal_is_sklearn_formula():
    alpha = 1e-4
    s = S.OptimalLR(alpha)
    typw = math.sqrt(1.0 / math.sqrt(alpha))
    t0 = 1.0 / (typw * alpha)  # scikit-learn's optimal_init
    # scikit-learn: eta = 1 / (alpha * (optimal_init + t_ - 1)) with t_ = t + 1
    np.testing.assert_allclose(table(s), [1.0 / (alpha * (t0 + t)) for t in range(T)], rtol=1e-15)
    assert s(0) == pytest.approx(typw)
    assert S.OptimalLR(0.01, t0=5.0)(3) == pytest.approx(1 / (0.01 * 8))


def test_invscaling_is_sklearn_formula():
    s = S.InvScalingLR(0.05, power_t=0.3)
    np.testing.assert_allclose(table(s), [0.05 / (t + 1) ** 0.3 for t in range(T)], rtol=1e-15)
    assert S.InvScalingLR()(0) == 0.01


@pytest.mark.parametrize("mode", ["min", "max"])
def test_adaptive_is_sklearn_rule(mode):
    tol, n_iter_no_change = 1e-3, 3
    s = S.AdaptiveLR(0.1, tol=tol, n_iter_no_change=n_iter_no_change, mode=mode)
    # scikit-learn's epoch loop, written out (mean loss, or validation score for "max")
    eta, best, count = 0.1, math.inf if mode == "min" else -math.inf, 0
    for metric in noisy_metrics(mode, n=300):
        if mode == "min":
            count = count + 1 if metric > best - tol else 0
            best = min(best, metric)
        else:
            count = count + 1 if metric < best + tol else 0
            best = max(best, metric)
        if count >= n_iter_no_change and eta > 1e-6:
            eta /= 5
            count = 0
        assert s.step(metric) == eta
        assert s(0) == eta
    assert eta < 0.1


def test_values_tabulates():
    s = S.StepLR(1.0, 2)
    np.testing.assert_allclose(s.values(5), [1.0, 1.0, 0.1, 0.1, 0.01], rtol=1e-15)
    assert s.values(0).shape == (0,)


def test_repr():
    assert repr(S.StepLR(1.0, 2)) == "StepLR(lr=1.0, step_size=2, gamma=0.1)"


@pytest.mark.parametrize("make,error,message", [
    (lambda: S.Constant(-1), ValueError, "Invalid learning rate value: -1"),
    (lambda: S.ExponentialLR(0.1, gamma=-0.5), ValueError, "Invalid gamma value"),
    (lambda: S.StepLR(0.1, step_size=0), ValueError, "step_size must be >= 1"),
    (lambda: S.StepLR(0.1, step_size=2.5), TypeError, "step_size must be an integer"),
    (lambda: S.StepLR(0.1, step_size=2**63), ValueError, r"step_size must be <= 2\*\*63 - 1"),
    (lambda: S.MultiStepLR(0.1, milestones=[2**70]), ValueError, "milestone must be <="),
    (lambda: S.LinearWarmup(0.1, warmup_steps=2**64), ValueError, "warmup_steps must be <="),
    (lambda: S.OneCycleLR(0.1, epochs=2**40, steps_per_epoch=2**40), ValueError,
     r"epochs \* steps_per_epoch must be <="),
    (lambda: S.MultiStepLR(0.1, milestones=[-1]), ValueError, "milestone must be >= 0"),
    (lambda: S.CosineAnnealingLR(0.1, T_max=0), ValueError, "T_max must be >= 1"),
    (lambda: S.CosineAnnealingWarmRestarts(0.1, T_0=0), ValueError, "T_0 must be >= 1"),
    (lambda: S.CosineAnnealingWarmRestarts(0.1, T_0=2, T_mult=0), ValueError, "T_mult must be >= 1"),
    (lambda: S.LinearWarmup("x", 3), TypeError, "after must be a Schedule"),
    (lambda: S.LinearWarmup(0.1, 3, start_factor=1.5), ValueError, "Invalid start_factor value"),
    (lambda: S.OneCycleLR(0.1, total_steps=10, anneal_strategy="exp"), ValueError, "anneal_strategy must be one of"),
    (lambda: S.OneCycleLR(0.1, total_steps=10, pct_start=1.2), ValueError, "Invalid pct_start value"),
    (lambda: S.OneCycleLR(0.1, total_steps=0), ValueError, "total_steps must be >= 1"),
    (lambda: S.PolynomialLR(0.1, total_iters=0), ValueError, "total_iters must be >= 1"),
    (lambda: S.ReduceLROnPlateau(0.1, factor=1.0), ValueError, "Factor should be < 1.0."),
    (lambda: S.ReduceLROnPlateau(0.1, mode="up"), ValueError, "mode up is unknown!"),
    (lambda: S.ReduceLROnPlateau(0.1, threshold_mode="x"), ValueError, "threshold mode x is unknown!"),
    (lambda: S.OptimalLR(alpha=0), ValueError, "Invalid alpha value"),
    (lambda: S.InvScalingLR(eta0="a"), TypeError, "eta0 must be a real number"),
    (lambda: S.AdaptiveLR(n_iter_no_change=0), ValueError, "n_iter_no_change must be >= 1"),
])
def test_invalid_arguments(make, error, message):
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize("t", [-1, 1.5, "3", True])
def test_step_count_must_be_a_nonnegative_integer(t):
    with pytest.raises(ValueError, match="step count t must be an integer >= 0"):
        S.StepLR(0.1, 3)(t)


def test_numpy_integer_step_count():
    assert S.StepLR(1.0, 3)(np.int64(3)) == pytest.approx(0.1)


# --------------------------------------------------------------------------------------------
# PyTorch itself, when installed (it normally is not).


@pytest.mark.parametrize("ours,theirs", [
    (lambda: S.ExponentialLR(0.1, 0.97), lambda sch, o: sch.ExponentialLR(o, 0.97)),
    (lambda: S.StepLR(0.1, 7, 0.5), lambda sch, o: sch.StepLR(o, 7, 0.5)),
    (lambda: S.MultiStepLR(0.1, [5, 20, 20, 60], 0.5), lambda sch, o: sch.MultiStepLR(o, [5, 20, 20, 60], 0.5)),
    (lambda: S.CosineAnnealingLR(0.1, 30, 0.001), lambda sch, o: sch.CosineAnnealingLR(o, 30, 0.001)),
    (lambda: S.CosineAnnealingWarmRestarts(0.1, 5, 2, 0.001),
     lambda sch, o: sch.CosineAnnealingWarmRestarts(o, 5, 2, 0.001)),
    (lambda: S.OneCycleLR(0.1, total_steps=T), lambda sch, o: sch.OneCycleLR(o, 0.1, total_steps=T)),
    (lambda: S.OneCycleLR(0.1, total_steps=T, three_phase=True, anneal_strategy="linear"),
     lambda sch, o: sch.OneCycleLR(o, 0.1, total_steps=T, three_phase=True, anneal_strategy="linear")),
    (lambda: S.PolynomialLR(0.1, 50, 2.0), lambda sch, o: sch.PolynomialLR(o, 50, 2.0)),
    (lambda: S.LinearWarmup(S.ExponentialLR(0.1, 0.95), 10),
     lambda sch, o: sch.SequentialLR(o, [sch.LinearLR(o, total_iters=10), sch.ExponentialLR(o, 0.95)], [10])),
], ids=["exponential", "step", "multistep", "cosine", "warm_restarts", "one_cycle",
        "one_cycle_three_phase", "polynomial", "warmup"])
def test_against_torch(ours, theirs):
    torch = pytest.importorskip("torch")
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    sched = theirs(torch.optim.lr_scheduler, opt)
    theirs_lr = []
    for _ in range(T):
        theirs_lr.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    np.testing.assert_allclose(table(ours()), theirs_lr, rtol=1e-9, atol=1e-15)


def test_plateau_against_torch():
    torch = pytest.importorskip("torch")
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    kw = dict(mode="min", factor=0.5, patience=2, threshold=0.01, threshold_mode="abs", cooldown=1, min_lr=1e-3)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)
    ours = S.ReduceLROnPlateau(1.0, **kw)
    for metric in noisy_metrics("min"):
        sched.step(metric)
        assert ours.step(metric) == opt.param_groups[0]["lr"]
