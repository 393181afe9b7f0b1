"""fastdescent.clip against NumPy (torch.nn.utils' definitions written out)."""

import math

import numpy as np
import pytest

from fastdescent import _core
from fastdescent.clip import clip_grad_norm_, clip_grad_value_


def gradients(dtype, sizes=(7, 1, 30), seed=0, scale=3.0):
    rng = np.random.default_rng(seed)
    return [(scale * rng.standard_normal(n)).astype(dtype) for n in sizes]


def reference_total_norm(grads, p):
    if math.isinf(p):
        return max(float(np.max(np.abs(g.astype(np.float64)))) for g in grads)
    norms = [np.sum(np.abs(g.astype(np.float64)) ** p) ** (1 / p) for g in grads]
    return float(np.sum(np.array(norms) ** p) ** (1 / p))


@pytest.mark.parametrize("clip_value", [0.0, 0.5, 100.0])
def test_clip_value(clip_value, dtype):
    grads = gradients(dtype)
    expected = [np.clip(g, -clip_value, clip_value) for g in grads]
    clip_grad_value_(grads, clip_value)
    for g, e in zip(grads, expected):
        assert g.dtype == dtype
        np.testing.assert_array_equal(g, e)


def test_clip_value_single_array_and_2d():
    g = np.array([[-3.0, 0.2], [5.0, -0.1]])
    clip_grad_value_(g, 1.0)
    np.testing.assert_array_equal(g, [[-1.0, 0.2], [1.0, -0.1]])


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, 0.5, math.inf, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_norm(norm_type, max_norm, dtype):
    grads = gradients(dtype)
    p = math.inf if norm_type == "inf" else norm_type
    total = reference_total_norm(grads, p)
    coef = max_norm / (total + 1e-6)
    expected = [g * coef if coef < 1 else g.copy() for g in grads]
    got = clip_grad_norm_(grads, max_norm, norm_type)
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    assert isinstance(got, float)
    assert got == pytest.approx(total, rel=rtol)
    for g, e in zip(grads, expected):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, e, rtol=rtol)
    if coef < 1:
        assert reference_total_norm(grads, p) == pytest.approx(max_norm, rel=1e-5)


def test_clip_norm_mixed_dtypes_and_large_arrays():
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal(200_001), rng.standard_normal(100_000).astype(np.float32)]
    total = reference_total_norm(grads, 2.0)
    expected = [g * (1.0 / (total + 1e-6)) for g in grads]
    got_total = clip_grad_norm_(grads, 1.0, n_threads=2)
    assert got_total == pytest.approx(total, rel=1e-6)
    np.testing.assert_allclose(grads[0], expected[0], rtol=1e-12)
    np.testing.assert_allclose(grads[1], expected[1], rtol=1e-6)
    g1 = rng.standard_normal(300_000)
    g2 = g1.copy()
    clip_grad_value_(g1, 0.5, n_threads=1)
    clip_grad_value_(g2, 0.5, n_threads=2)
    np.testing.assert_array_equal(g1, g2)
    np.testing.assert_array_equal(g1, np.clip(g2, -0.5, 0.5))


def test_clip_norm_total_does_not_depend_on_threads():
    g = np.random.default_rng(2).standard_normal(1_000_003)
    totals = {clip_grad_norm_([g.copy()], 1e9, n_threads=n) for n in (1, 2, 3)}
    assert len(totals) == 1


def test_clip_norm_just_below_max_norm_is_scaled_like_torch():
    # torch scales whenever max_norm / (total + 1e-6) < 1, even for total slightly below max_norm
    g = np.array([1.0])
    assert clip_grad_norm_(g, 1.0) == 1.0
    np.testing.assert_allclose(g, 1.0 / (1.0 + 1e-6), rtol=1e-15)


def test_clip_norm_empty_and_zero():
    assert clip_grad_norm_([], 1.0) == 0.0
    g = np.zeros(3)
    assert clip_grad_norm_(g, 1.0) == 0.0
    np.testing.assert_array_equal(g, 0.0)


def test_clip_norm_nonfinite():
    g = np.array([1.0, np.inf])
    with pytest.raises(RuntimeError, match="total norm of order 2.0 for gradients is non-finite"):
        clip_grad_norm_(g, 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(g, [1.0, np.inf])  # untouched
    g = np.array([1.0, np.nan, 2.0])
    assert math.isnan(clip_grad_norm_(g, 1.0))
    assert np.isnan(g).all()  # scaled by NaN, as torch does
    g = np.array([1.0, np.nan, 2.0])
    assert math.isnan(clip_grad_norm_(g, 1.0, math.inf))


def test_bad_inputs():
    with pytest.raises(TypeError, match="grads must be a NumPy array or a sequence"):
        clip_grad_norm_(3.0, 1.0)
    with pytest.raises(TypeError, match=r"grads\[0\] must be a NumPy array, got list"):
        clip_grad_norm_([[1.0, 2.0]], 1.0)
    with pytest.raises(TypeError, match=r"grads\[0\] must have dtype float32 or float64, got int64"):
        clip_grad_value_([np.ones(3, np.int64)], 1.0)
    with pytest.raises(ValueError, match=r"grads\[1\] must be C-contiguous"):
        clip_grad_norm_([np.ones(3), np.ones(6)[::2]], 1.0)
    ro = np.ones(3)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"grads\[0\] is read-only"):
        clip_grad_value_(ro, 1.0)
    with pytest.raises(ValueError, match="max_norm must be >= 0"):
        clip_grad_norm_(np.ones(3), -1.0)
    with pytest.raises(ValueError, match="clip_value must be >= 0"):
        clip_grad_value_(np.ones(3), -1.0)
    with pytest.raises(ValueError, match="norm_type must be a positive number or 'inf'"):
        clip_grad_norm_(np.ones(3), 1.0, norm_type=0)
    with pytest.raises(ValueError, match="norm_type must be a positive number or 'inf'"):
        clip_grad_norm_(np.ones(3), 1.0, norm_type="fro")
    with pytest.raises(TypeError, match="max_norm must be a real number"):
        clip_grad_norm_(np.ones(3), "1")
    with pytest.raises(ValueError, match="norm_type must be > 0"):
        _core.clip_grad_norm([np.ones(3)], 1.0, -2.0)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
def test_against_torch(norm_type):
    torch = pytest.importorskip("torch")
    grads = gradients(np.float64)
    params = [torch.zeros(len(g), dtype=torch.float64, requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = torch.from_numpy(g.copy())
    theirs = torch.nn.utils.clip_grad_norm_(params, 0.7, norm_type)
    ours = clip_grad_norm_(grads, 0.7, norm_type)
    assert ours == pytest.approx(float(theirs), rel=1e-12)
    for p, g in zip(params, grads):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-12)
