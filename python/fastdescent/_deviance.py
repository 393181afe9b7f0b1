"""Half Tweedie deviances and the D^2 score, on NumPy or dask arrays (elementwise ufuncs)."""

from __future__ import annotations

import numpy as np
from scipy.special import xlogy

# The Tweedie power of the regression losses that are a half deviance (tweedie: its `power`).
DEVIANCE_POWERS = {"squared_error": 0.0, "poisson": 1.0, "gamma": 2.0}


def half_deviance(y, mu, power):
    """Half the unit Tweedie deviance of predicted means `mu` for targets `y`, with the
    conventions of :func:`sklearn.metrics.mean_tweedie_deviance`."""
    if power == 0:
        return 0.5 * (y - mu) ** 2
    if power == 1:
        return xlogy(y, y / mu) - y + mu
    if power == 2:
        return np.log(mu / y) + y / mu - 1.0
    a, b = 1.0 - power, 2.0 - power
    return np.maximum(y, 0) ** b / (a * b) - y * mu**a / a + mu**b / b


def deviance_constant(y, power):
    """The part of the half deviance (power >= 1) that depends on y alone: the core's
    ValidationSums.constant term of a row."""
    if power == 1:
        return xlogy(y, y) - y
    if power == 2:
        return -np.log(y) - 1.0
    b = 2.0 - power
    return np.maximum(y, 0) ** b / ((1.0 - power) * b)


def deviance_score(y, mu, w, power):
    """D^2: one minus the weighted deviance of `mu` over that of the weighted mean of y (1 or 0
    for a constant y, as r2_score); for a 2-D y (a column per output) the mean over the
    outputs, as r2_score's 'uniform_average'."""
    if y.ndim == 2:
        w = w[:, None]
    mean = (w * y).sum(axis=0) / w.sum(axis=0)
    deviance = (w * half_deviance(y, mu, power)).sum(axis=0)
    null = (w * half_deviance(y, mean, power)).sum(axis=0)
    score = np.where(
        null > 0, 1.0 - deviance / np.where(null > 0, null, 1.0), 1.0 * (deviance == 0)
    )
    return score.mean()
