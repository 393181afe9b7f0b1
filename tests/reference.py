"""A plain NumPy reference of one training run, written from the equations.

Slow on purpose (Python loops over samples): it is meant for tiny data sets, where it gives the
exact trajectory the C++ trainer must reproduce. Everything is computed in float64.

Conventions (scikit-learn's):

* A linear model has K outputs: scores p = W x + b with W of shape (K, d). K = 1 for the scalar
  losses (regression, binary classification with y in {-1, +1}), K = n_classes for the
  multinomial loss (y holds the class index).
* The per-row weight is s_i = sample_weight_i * class_weight[c_i], with c_i = (y_i > 0) for the
  scalar losses and c_i = y_i for the multinomial loss.
* Means over rows are s-weighted means: sum_i s_i v_i / sum_i s_i, so that a row of weight zero
  counts as absent (Config.weighted_mean=False divides by the number of rows instead, where s
  only scales each row's term; the two agree for unit weights).
* The training objective of an epoch is the weighted mean of L(p_i, y_i) over the epoch's rows
  plus alpha R(W), the losses taken at the weights *before* the update that uses row i (as they
  are accumulated during the epoch), R(W) = (1 - l1_ratio)/2 ||W||^2 + l1_ratio ||W||_1 at the
  end of the epoch.
* t counts updates, starting at t0 (1 for a fresh model), and is one more than the number of
  updates done when training ends.

Per-sample SGD (batch_size=1) is scikit-learn's plain SGD, for one row with step eta = eta(t):

    1. p = W x + b; the loss and its derivative dL/dp at these weights
    2. L2 part: W *= max(0, 1 - (1 - l1_ratio) eta alpha)
    3. W += -eta clip(dL/dp, +-1e12) s x;   b += -eta clip(dL/dp) s intercept_decay
    4. averaging (from update number `average` on): A += (W - A) / (t - average + 1)
    5. L1 part, the cumulative truncated gradient of Tsuruoka, Tsujii & Ananiadou (2009):
       u += l1_ratio eta alpha; for the features j of the row (all of them for dense data, the
       stored ones for sparse data), with q_j the L1 shrinkage weight j has received so far:
          w_j > 0: w_j = max(0, w_j - (u + q_j));  w_j < 0: w_j = min(0, w_j + (u - q_j))
          q_j += w_j(new) - w_j(old)
    6. t += 1

Mini-batch / full-batch gradient descent (batch_size B > 1, or 0 for the whole epoch), per batch
of consecutive rows of the epoch's order:

    g = weighted mean over the batch of dL/dp x (not clipped) (+ alpha (1 - l1_ratio) W),
    gb = weighted mean of dL/dp;  W -= eta g;  b -= eta intercept_decay gb;
    then the L1 proximal step W = sign(W) max(0, |W| - eta alpha l1_ratio); averaging; t += 1.
    A batch whose weights are all zero is no update (t unchanged). The per-sample path has no
    such rule: a row of weight zero still shrinks the weights and counts as an update.

Schedules: constant eta0; invscaling eta0 / t^power_t; optimal 1 / (alpha (t_opt + t - 1)), with
scikit-learn's heuristic typw = sqrt(1 / sqrt(alpha)), eta_init = typw / max(1, dL/dp(p=-typw,
y=1)), t_opt = 1 / (eta_init alpha) (log loss for the multinomial model); adaptive: eta0, divided
by 5 on every plateau while it is above 1e-6.

Plateau test at the end of every epoch (off when tol = -inf): an epoch does not improve when
objective > best - tol, where best is the smallest objective so far; after n_iter_no_change such
epochs in a row training stops ('adaptive': the step is divided by 5 instead and the count
restarts, until the step is at most 1e-6).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

MAX_DLOSS = 1e12

SCALAR_LOSSES = (
    "squared_error",
    "huber",
    "epsilon_insensitive",
    "squared_epsilon_insensitive",
    "log_loss",
    "hinge",
    "squared_hinge",
    "modified_huber",
    "perceptron",
)
# Regression losses with a parameter passed as Config.epsilon: the quantile of 'quantile' and
# the power of 'tweedie'. The log-link losses' score is log(mean).
MORE_REGRESSION_LOSSES = ("absolute_error", "quantile", "poisson", "gamma", "tweedie")
LOSSES = SCALAR_LOSSES + ("multinomial",)
PENALTIES = (None, "l2", "l1", "elasticnet")
SCHEDULES = ("constant", "optimal", "invscaling", "adaptive")


@dataclass
class Config:
    loss: str = "squared_error"
    epsilon: float = 0.1
    penalty: str | None = "l2"
    alpha: float = 1e-4
    l1_ratio: float = 0.15  # used by 'elasticnet' only
    schedule: str = "invscaling"
    eta0: float = 0.01
    power_t: float = 0.25
    fit_intercept: bool = True
    intercept_decay: float = 1.0
    max_iter: int = 5
    tol: float = -math.inf
    n_iter_no_change: int = 5
    batch_size: int = 1  # 0: the whole training set
    average: int = 0  # 0: off
    weighted_mean: bool = True  # means over rows divide by sum(s) (True) or by the row count


@dataclass
class Result:
    coef: np.ndarray  # (K, d)
    intercept: np.ndarray  # (K,)
    average_coef: np.ndarray | None
    average_intercept: np.ndarray | None
    n_iter: int
    t: float
    loss_curve: list = field(default_factory=list)
    etas: list = field(default_factory=list)  # step size of every update
    epoch_etas: list = field(default_factory=list)  # step size of each epoch's last update
    epoch_ts: list = field(default_factory=list)  # t at the end of each epoch
    # objective - (best - tol) of every epoch's plateau test: how far each decision was from a tie
    plateau_margins: list = field(default_factory=list)


# ---- losses: value and derivative with respect to the score p ------------------------------


def scalar_loss(name, p, y, epsilon=0.1):
    """(L(p, y), dL/dp) of a scalar loss; classification losses expect y in {-1, +1}; `epsilon`
    is the quantile of 'quantile' and the power of 'tweedie'. The derivative at a kink of
    absolute_error and quantile is 0."""
    if name == "absolute_error":
        return abs(y - p), float(np.sign(p - y))
    if name == "quantile":
        q = epsilon
        return (q * (y - p), -q) if y > p else ((1 - q) * (p - y), (1 - q) if y < p else 0.0)
    if name in ("poisson", "gamma", "tweedie"):
        # Half the unit deviance at mean mu = exp(p): for power r, mu^(2-r)/(2-r) -
        # y mu^(1-r)/(1-r) + y^(2-r)/((1-r)(2-r)), with the limits r = 1 and r = 2.
        mu = math.exp(p)
        if name == "poisson":
            return mu - y * p + (y * math.log(y) - y if y > 0 else 0.0), mu - y
        if name == "gamma":
            return p + y / mu - math.log(y) - 1.0, 1.0 - y / mu
        r = epsilon
        value = mu ** (2 - r) / (2 - r) - y * mu ** (1 - r) / (1 - r)
        value += y ** (2 - r) / ((1 - r) * (2 - r)) if y > 0 else 0.0
        return value, mu ** (2 - r) - y * mu ** (1 - r)
    if name == "squared_error":
        return 0.5 * (p - y) ** 2, p - y
    if name == "huber":
        r = p - y
        if abs(r) <= epsilon:
            return 0.5 * r * r, r
        return epsilon * abs(r) - 0.5 * epsilon**2, epsilon * np.sign(r)
    if name == "epsilon_insensitive":
        excess = abs(y - p) - epsilon
        return max(0.0, excess), (np.sign(p - y) if excess > 0 else 0.0)
    if name == "squared_epsilon_insensitive":
        excess = abs(y - p) - epsilon
        if excess > 0:
            return excess**2, 2.0 * excess * np.sign(p - y)
        return 0.0, 0.0
    z = y * p  # margin
    if name == "log_loss":
        # log(1 + exp(-z)); d/dp = -y / (1 + exp(z))
        return np.logaddexp(0.0, -z), -y * expit(-z)
    if name in ("hinge", "perceptron"):
        threshold = 1.0 if name == "hinge" else 0.0
        # scikit-learn: the gradient is -y on the kink itself (z == threshold)
        return max(0.0, threshold - z), (-y if z <= threshold else 0.0)
    if name == "squared_hinge":
        gap = 1.0 - z
        return (gap * gap, -2.0 * y * gap) if gap > 0 else (0.0, 0.0)
    if name == "modified_huber":
        if z >= 1.0:
            return 0.0, 0.0
        if z >= -1.0:
            return (1.0 - z) ** 2, -2.0 * (1.0 - z) * y
        return -4.0 * z, -4.0 * y
    raise ValueError(f"unknown loss {name!r}")


def softmax_loss(p, c):
    """Cross-entropy -log softmax(p)_c of scores p (K,) against class c, and its gradient."""
    log_z = np.logaddexp.reduce(p)
    grad = np.exp(p - log_z)
    grad[c] -= 1.0
    return log_z - p[c], grad


def loss_and_grad(cfg, p, y):
    """Loss of one row with scores p (K,), and dL/dp (K,)."""
    if cfg.loss == "multinomial":
        return softmax_loss(p, int(y))
    value, d = scalar_loss(cfg.loss, p[0], y, cfg.epsilon)
    return value, np.array([d], dtype=np.float64)


# ---- schedules -----------------------------------------------------------------------------


def optimal_t0(cfg):
    """scikit-learn's t0 of the 'optimal' schedule (Bottou's heuristic)."""
    typw = math.sqrt(1.0 / math.sqrt(cfg.alpha))
    loss = "log_loss" if cfg.loss == "multinomial" else cfg.loss
    _, d = scalar_loss(loss, -typw, 1.0, cfg.epsilon)
    eta_init = typw / max(1.0, d)
    return 1.0 / (eta_init * cfg.alpha)


def step_size(cfg, t, eta_adaptive, t_opt):
    if cfg.schedule == "constant":
        return cfg.eta0
    if cfg.schedule == "invscaling":
        return cfg.eta0 / t**cfg.power_t
    if cfg.schedule == "optimal":
        return 1.0 / (cfg.alpha * (t_opt + t - 1.0))
    if cfg.schedule == "adaptive":
        return eta_adaptive
    raise ValueError(f"unknown schedule {cfg.schedule!r}")


# ---- penalty -------------------------------------------------------------------------------


def effective_l1_ratio(cfg):
    return {None: 0.0, "l2": 0.0, "l1": 1.0, "elasticnet": cfg.l1_ratio}[cfg.penalty]


def penalty_value(cfg, W):
    if cfg.penalty is None or cfg.alpha <= 0:
        return 0.0
    r = effective_l1_ratio(cfg)
    return cfg.alpha * ((1.0 - r) * 0.5 * np.sum(W * W) + r * np.sum(np.abs(W)))


def depends_on_stored_entries(cfg):
    """Whether a CSR matrix and its dense form can train differently: only the per-sample L1
    truncation looks at which entries a row stores."""
    return cfg.batch_size == 1 and cfg.penalty is not None and cfg.alpha > 0 \
        and effective_l1_ratio(cfg) > 0


# ---- training ------------------------------------------------------------------------------


def _row_weight(cfg, y_i, sample_weight_i, class_weight):
    s = float(sample_weight_i)
    if class_weight is not None:
        c = int(y_i) if cfg.loss == "multinomial" else int(y_i > 0)
        s *= class_weight[c]
    return s


def train(X, y, cfg, sample_weight=None, class_weight=None, coef=None, intercept=None, t0=1.0,
          average_coef=None, average_intercept=None, orders=None):
    """One training run from (coef, intercept) (zeros by default) at update count t0.

    average_coef / average_intercept: the running averages to continue from (zeros by default).

    X: dense (n, d) array or scipy sparse matrix (its stored entries are the features the L1
    truncation of the per-sample path touches; a dense row touches all of them).
    orders: orders(epoch) -> row order of that epoch (0-based epoch); default: 0..n-1.
    """
    if sp.issparse(X):
        Xc = sp.csr_matrix(X)
        touched = [Xc.indices[Xc.indptr[i]:Xc.indptr[i + 1]].astype(np.int64)
                   for i in range(Xc.shape[0])]
        X = Xc.toarray().astype(np.float64)
    else:
        X = np.asarray(X, dtype=np.float64)
        touched = [np.arange(X.shape[1])] * X.shape[0]
    y = np.asarray(y, dtype=np.float64)
    n, d = X.shape
    K = int(y.max()) + 1 if cfg.loss == "multinomial" else 1
    if coef is not None:
        K = np.asarray(coef).reshape(-1, d).shape[0]
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    cw = None if class_weight is None else np.asarray(class_weight, dtype=np.float64)
    W = np.zeros((K, d)) if coef is None else np.array(coef, dtype=np.float64).reshape(K, d)
    b = np.zeros(K) if intercept is None else np.array(intercept, dtype=np.float64).reshape(K)
    avg_W = avg_b = None
    if cfg.average > 0:
        avg_W = np.zeros((K, d)) if average_coef is None else \
            np.array(average_coef, dtype=np.float64).reshape(K, d)
        avg_b = np.zeros(K) if average_intercept is None else \
            np.array(average_intercept, dtype=np.float64).reshape(K)

    has_penalty = cfg.penalty is not None and cfg.alpha > 0
    l1_ratio = effective_l1_ratio(cfg)
    use_l2 = has_penalty and l1_ratio < 1
    use_l1 = has_penalty and l1_ratio > 0
    t_opt = optimal_t0(cfg) if cfg.schedule == "optimal" else None
    eta_adaptive = cfg.eta0
    u = 0.0  # total L1 shrinkage so far (per-sample path)
    q = np.zeros((K, d))  # L1 shrinkage each weight has received

    res = Result(W, b, avg_W, avg_b, 0, t0)
    t = t0
    best = math.inf
    no_improvement = 0

    def average_step():
        if cfg.average > 0 and t >= cfg.average:
            mu = 1.0 / (t - cfg.average + 1.0)
            avg_W[:] += mu * (W - avg_W)
            avg_b[:] += mu * (b - avg_b)

    for epoch in range(cfg.max_iter):
        order = np.arange(n) if orders is None else np.asarray(orders(epoch))
        sumloss = 0.0
        if cfg.batch_size == 1:
            for i in order:
                x = X[i]
                p = W @ x + b
                eta = step_size(cfg, t, eta_adaptive, t_opt)
                res.etas.append(eta)
                s = _row_weight(cfg, y[i], sw[i], cw)
                loss, dloss = loss_and_grad(cfg, p, y[i])
                sumloss += s * loss
                if use_l2:
                    W *= max(0.0, 1.0 - (1.0 - l1_ratio) * eta * cfg.alpha)
                update = -eta * np.clip(dloss, -MAX_DLOSS, MAX_DLOSS) * s  # (K,)
                W += np.outer(update, x)
                if cfg.fit_intercept:
                    b += update * cfg.intercept_decay
                average_step()
                if use_l1:
                    u += l1_ratio * eta * cfg.alpha
                    for k in range(K):
                        for j in touched[i]:
                            old = W[k, j]
                            if old > 0:
                                W[k, j] = max(0.0, old - (u + q[k, j]))
                            elif old < 0:
                                W[k, j] = min(0.0, old + (u - q[k, j]))
                            q[k, j] += W[k, j] - old
                t += 1.0
        else:
            B = n if cfg.batch_size == 0 else min(cfg.batch_size, n)
            for start in range(0, n, B):
                rows = order[start:start + B]
                G = np.zeros((K, d))
                gb = np.zeros(K)
                for i in rows:
                    p = W @ X[i] + b
                    s = _row_weight(cfg, y[i], sw[i], cw)
                    loss, dloss = loss_and_grad(cfg, p, y[i])
                    sumloss += s * loss
                    G += s * np.outer(dloss, X[i])
                    gb += s * dloss
                if cfg.weighted_mean:
                    batch_weight = sum(_row_weight(cfg, y[i], sw[i], cw) for i in rows)
                    if batch_weight == 0:
                        continue  # only rows of weight zero: nothing to learn, no update
                else:
                    batch_weight = len(rows)
                G /= batch_weight
                gb /= batch_weight
                eta = step_size(cfg, t, eta_adaptive, t_opt)
                res.etas.append(eta)
                if use_l2:
                    G += cfg.alpha * (1.0 - l1_ratio) * W
                W -= eta * G
                if cfg.fit_intercept:
                    b -= eta * cfg.intercept_decay * gb
                if use_l1:
                    W[:] = np.sign(W) * np.maximum(0.0, np.abs(W) - eta * cfg.alpha * l1_ratio)
                average_step()
                t += 1.0

        res.n_iter = epoch + 1
        res.epoch_etas.append(eta)
        res.epoch_ts.append(t)
        total = sum(_row_weight(cfg, y[i], sw[i], cw) for i in range(n)) if cfg.weighted_mean else n
        objective = sumloss / total + penalty_value(cfg, W)
        res.loss_curve.append(objective)
        if cfg.tol > -math.inf:
            res.plateau_margins.append(objective - (best - cfg.tol))
        if objective > best - cfg.tol:
            no_improvement += 1
        else:
            no_improvement = 0
        best = min(best, objective)
        if no_improvement >= cfg.n_iter_no_change:
            if cfg.schedule == "adaptive" and eta_adaptive > 1e-6:
                eta_adaptive /= 5.0
                no_improvement = 0
            else:
                break
    res.t = t
    return res
