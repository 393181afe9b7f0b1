"""The training engine's objects as backends use them: GradientStep over any model's parameter
arrays (the model seam: an MLP's layers), against NumPy from the equations, and EpochPolicy's
epoch decisions."""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from fastdescent import _core, schedules

TOL = {np.float32: dict(rtol=2e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-14)}


def _config(**fields):
    cfg = _core.TrainConfig()
    cfg.schedule = schedules.Constant(0.05).to_core()
    for name, value in fields.items():
        setattr(cfg, name, value)
    return cfg


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_step_over_layers_matches_numpy(dtype):
    # A two-layer perceptron's arrays: weights penalized, biases not; Adam, global norm clipping.
    rng = np.random.default_rng(0)
    shapes = [(3, 4), (4,), (4, 2), (2,)]
    penalized = [True, False, True, False]
    alpha, clip, lr, (b1, b2), eps = 0.01, 0.5, 0.05, (0.9, 0.999), 1e-8
    cfg = _config(penalty=_core.PenaltyKind.l2, alpha=alpha, clip_norm=clip)
    step = _core.GradientStep(cfg, _core.OptimizerSpec(_core.OptimizerKind.adam), np.dtype(dtype))
    params = [rng.normal(size=s).astype(dtype) for s in shapes]
    ref = [p.astype(np.float64) for p in params]
    m = [np.zeros(s) for s in shapes]
    v = [np.zeros(s) for s in shapes]
    for t in range(1, 4):
        sums = [rng.normal(size=s) for s in shapes]
        weight = 7.5
        norm = step.apply_arrays(params, [g.astype(dtype) for g in sums], penalized, weight,
                                 lr, float(t), want_norm=True)
        # NumPy, from the equations: mean, L2 on the weights, one norm over all, clip, Adam.
        g = [s / weight + (alpha * w if pen else 0.0) for s, w, pen in zip(sums, ref, penalized)]
        total = math.sqrt(sum(float(np.sum(x * x)) for x in g))
        assert norm == pytest.approx(total, rel=1e-5 if dtype == np.float32 else 1e-12)
        g = [x * min(1.0, clip / (total + 1e-6)) for x in g]
        for k in range(4):
            m[k] = b1 * m[k] + (1 - b1) * g[k]
            v[k] = b2 * v[k] + (1 - b2) * g[k] ** 2
            mhat, vhat = m[k] / (1 - b1**t), v[k] / (1 - b2**t)
            ref[k] = ref[k] - lr * mhat / (np.sqrt(vhat) + eps)
        for p, r in zip(params, ref):
            assert_allclose(p, r, **TOL[dtype])
    state = step.optimizer_state()
    assert [s["size"] for s in state] == [12, 4, 8, 2] and state[0]["step"] == 3


def test_step_refuses_mismatched_arrays():
    step = _core.GradientStep(_config(), None, np.dtype(np.float64))
    with pytest.raises(ValueError, match="same length"):
        step.apply_arrays([np.zeros(3)], [np.zeros(3), np.zeros(2)], [True], 1.0, 0.1, 1.0)
    with pytest.raises(ValueError, match="C-contiguous and of one size"):
        step.apply_arrays([np.zeros(3)], [np.zeros(2)], [True], 1.0, 0.1, 1.0)
    with pytest.raises(ValueError, match="batch_weight must be > 0"):
        step.apply_arrays([np.zeros(3)], [np.zeros(3)], [True], 0.0, 0.1, 1.0)


def _run(policy, objectives, scores=None):
    """Epochs with these objectives (loss sums over a weight of 1, no penalty); the number of
    epochs run before the policy stopped."""
    for e, objective in enumerate(objectives):
        score = math.nan if scores is None else scores[e]
        if policy.end_epoch(objective, 1.0, 0.0, True, score, 0.1, e + 2.0, 0.0):
            return e + 1
    return len(objectives)


def test_policy_stops_after_n_iter_no_change_epochs_without_progress():
    policy = _core.EpochPolicy(_config(tol=1e-3, n_iter_no_change=3, max_iter=100))
    assert _run(policy, [1.0, 0.5, 0.4999, 0.4998, 0.4997, 0.1]) == 5
    assert policy.result.loss_curve == [1.0, 0.5, 0.4999, 0.4998, 0.4997]


def test_policy_stops_on_the_validation_score_with_early_stopping():
    policy = _core.EpochPolicy(_config(tol=1e-3, n_iter_no_change=2, early_stopping=True))
    assert _run(policy, [1.0] * 10, scores=[0.5, 0.6, 0.6, 0.6, 0.9, 0.9]) == 4
    assert policy.result.validation_scores == [0.5, 0.6, 0.6, 0.6]


def test_policy_adaptive_divides_the_step_by_five_on_a_plateau():
    cfg = _config(tol=1e-3, n_iter_no_change=2, max_iter=100)
    cfg.schedule = schedules.schedule_from_name("adaptive", 0.1, 1, 100)
    policy = _core.EpochPolicy(cfg)
    assert policy.eta(1.0) == pytest.approx(0.1)
    _run(policy, [1.0, 1.0, 1.0])
    assert policy.eta(5.0) == pytest.approx(0.02)


def test_policy_reports_divergence_and_callback_stops():
    policy = _core.EpochPolicy(_config())
    assert policy.end_epoch(math.inf, 1.0, 0.0, True, math.nan, 0.1, 2.0, 0.0)
    assert policy.result.diverged and policy.result.loss_curve == []
    seen = []
    policy = _core.EpochPolicy(_config(), 1.0, lambda *stats: seen.append(stats) or len(seen) == 2)
    assert _run(policy, [3.0, 2.0, 1.0]) == 2
    assert policy.result.stopped_by_callback and seen[0][:2] == (1, 3.0)
    with pytest.raises(ValueError, match="total sample weight of zero"):
        _core.EpochPolicy(_config()).end_epoch(1.0, 0.0, 0.0, True, math.nan, 0.1, 2.0, 0.0)
