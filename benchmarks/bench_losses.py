"""Full batch with the count and quantile losses against scikit-learn's exact estimators on the
same objective: fit time of each (best of 3; the linear program once) and fastdescent's final
objective relative to the tightly converged exact optimum.

- poisson and gamma, 200,000 x 50 synthetic (log-link means), alpha 1e-4 with L2, against
  PoissonRegressor / GammaRegressor (lbfgs, default settings; the optimum with tol 1e-12);
- quantile 0.5 and 0.9, 5,000 x 20 synthetic with t(3) noise, alpha 1e-3 with L1, against
  QuantileRegressor (HiGHS).

Run:

    python benchmarks/bench_losses.py
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.linear_model import GammaRegressor, PoissonRegressor, QuantileRegressor

import fastdescent as fd
from fastdescent._deviance import half_deviance


def best_time(fit, repeats=3):
    times, model = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        model = fit()
        times.append(time.perf_counter() - start)
    return model, min(times)


def glm_row(X, y, name, power, exact, alpha):
    def objective(coef, intercept):
        mean = np.mean(half_deviance(y, np.exp(X @ coef + intercept), power))
        return mean + 0.5 * alpha * coef @ coef

    optimum = exact(alpha=alpha, tol=1e-12, max_iter=10_000).fit(X, y)
    best = objective(optimum.coef_, optimum.intercept_)
    _, t_exact = best_time(lambda: exact(alpha=alpha).fit(X, y))
    ours, t_ours = best_time(
        lambda: fd.SGDRegressor(loss=name, alpha=alpha, batch_size="full").fit(X, y)
    )
    gap = (objective(ours.coef_, ours.intercept_[0]) - best) / best
    return f"{name} {X.shape[0]}x{X.shape[1]}", exact.__name__, t_exact, t_ours, ours.n_iter_, gap


def quantile_row(X, y, q, alpha):
    def objective(coef, intercept):
        r = y - X @ coef - intercept
        return np.mean(np.where(r >= 0, q * r, (q - 1) * r)) + alpha * np.abs(coef).sum()

    exact, t_exact = best_time(
        lambda: QuantileRegressor(quantile=q, alpha=alpha, solver="highs").fit(X, y), 1
    )
    best = objective(exact.coef_, exact.intercept_)
    ours, t_ours = best_time(
        lambda: fd.SGDRegressor(
            loss="quantile", quantile=q, penalty="l1", alpha=alpha, batch_size="full"
        ).fit(X, y)
    )
    gap = (objective(ours.coef_, ours.intercept_[0]) - best) / best
    problem = f"quantile {q} {X.shape[0]}x{X.shape[1]}"
    return problem, "QuantileRegressor", t_exact, t_ours, ours.n_iter_, gap


def rows(rng):
    X = rng.normal(size=(200_000, 50))
    mu = np.exp(X @ (0.1 * rng.normal(size=50)) + 1.0)
    yield glm_row(X, rng.poisson(mu).astype(float), "poisson", 1.0, PoissonRegressor, 1e-4)
    yield glm_row(X, rng.gamma(2.0, mu / 2), "gamma", 2.0, GammaRegressor, 1e-4)
    X = rng.normal(size=(5_000, 20))
    y = X @ rng.normal(size=20) + 5.0 * rng.standard_t(3, size=5_000)
    for q in (0.5, 0.9):
        yield quantile_row(X, y, q, 1e-3)


def main():
    rng = np.random.default_rng(0)
    print(
        f"{'problem':<22} {'exact':<18} {'exact s':>8} {'ours s':>8} {'ratio':>6} "
        f"{'passes':>6} {'gap':>8}"
    )
    for problem, exact, t_exact, t_ours, passes, gap in rows(rng):
        print(
            f"{problem:<22} {exact:<18} {t_exact:8.3f} {t_ours:8.3f} "
            f"{t_exact / t_ours:5.1f}x {passes:6d} {gap:8.1e}"
        )


if __name__ == "__main__":
    main()
