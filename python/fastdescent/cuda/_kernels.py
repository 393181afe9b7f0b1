"""Numba-CUDA kernels of the GPU trainer (imported only when a GPU fit runs).

Layout conventions shared with the trainer:

- X is a row-major (n, d) device array; ``rows`` lists the rows of a batch.
- Parameters: coef is K x d (flattened to P = K d entries), intercept has K entries.
- ``partial`` holds one row per row-group of the gradient kernel: P coefficient gradients,
  K intercept gradients, the weighted loss and the weight, all float64. ``finalize_gradient``
  sums the groups in a fixed order, so a gradient does not depend on thread scheduling.
- ``stats`` (float64) collects the scalars an epoch returns to the host; see the STAT_* indices.

The kernels use only what Numba's CUDA simulator also provides (shared memory, syncthreads,
atomics), so the same code is tested without a GPU.
"""

from __future__ import annotations

import math

from numba import cuda, float64

MAX_THREADS = 256  # shared reduction buffer size: threads per block of the gradient kernel
MAX_OUTPUTS = 128  # scores kept per row in thread-local memory (multinomial classes)
ACC = 32  # gradient entries a thread keeps in registers; more go straight to `partial`

# Indices into the per-epoch `stats` array.
STAT_LOSS = 0  # sum of weighted training losses
STAT_WW = 1  # sum of coef^2
STAT_ABS = 2  # sum of |coef|
STAT_B = 3  # sum of intercept^2 (only to detect non-finite values)
STAT_VW = 4  # validation: sum of weights
STAT_HIT = 5  # validation: weight of correct predictions
STAT_VY = 6  # validation: sum w y
STAT_VYY = 7  # validation: sum w y^2
STAT_SSE = 8  # validation: sum w (y - p)^2
STAT_NORM = 9  # squared gradient norm of the current batch (clip_norm)
STAT_BATCH_WEIGHT = 10  # total weight of the current batch
STAT_VDEV = 11  # validation, log-link losses: sum w half-deviance
STAT_VCONST = 12  # validation, log-link losses: sum w deviance constant
STAT_BSUM = 13  # sum of the intercepts (their linear term in the objective)
N_STATS = 14

# Loss codes: the values of fastdescent._core.LossKind.
SQUARED_ERROR, HUBER, EPS_INSENSITIVE, SQ_EPS_INSENSITIVE = 0, 1, 2, 3
LOG_LOSS, HINGE, SQUARED_HINGE, MODIFIED_HUBER, PERCEPTRON, MULTINOMIAL = 4, 5, 6, 7, 8, 9
ABSOLUTE_ERROR, QUANTILE, POISSON, GAMMA, TWEEDIE = 10, 11, 12, 13, 14

# Update rules of update_params.
RULE_NONE, RULE_PLAIN, RULE_SGD, RULE_ADAGRAD, RULE_RMSPROP = -1, 0, 1, 2, 3
RULE_ADAM, RULE_NADAM, RULE_ADAMAX, RULE_LION = 4, 5, 6, 7


@cuda.jit(device=True)
def deviance_constant(kind, power, y):
    """The part of a log-link loss's half deviance that depends on y alone."""
    if kind == POISSON:
        return y * math.log(y) - y if y > 0 else 0.0
    if kind == GAMMA:
        return -math.log(y) - 1.0
    if kind == TWEEDIE:
        return y ** (2.0 - power) / ((1.0 - power) * (2.0 - power)) if y > 0 else 0.0
    return 0.0


@cuda.jit(device=True)
def scalar_loss(kind, eps, p, y):
    """(value, d value / d p) of a scalar loss, with the core's conventions; `eps` is the loss
    parameter (epsilon, the quantile or the tweedie power)."""
    if kind == ABSOLUTE_ERROR:
        return abs(y - p), 1.0 if p > y else (-1.0 if p < y else 0.0)
    if kind == QUANTILE:
        if y > p:
            return eps * (y - p), -eps
        if y < p:
            return (1.0 - eps) * (p - y), 1.0 - eps
        return 0.0, 0.0
    if kind == POISSON:
        mu = math.exp(p)
        return mu - y * p + deviance_constant(kind, eps, y), mu - y
    if kind == GAMMA:
        r = y * math.exp(-p)
        return p + r + deviance_constant(kind, eps, y), 1.0 - r
    if kind == TWEEDIE:
        a, b = 1.0 - eps, 2.0 - eps
        mu_b, y_mu_a = math.exp(b * p), y * math.exp(a * p)
        return mu_b / b - y_mu_a / a + deviance_constant(kind, eps, y), mu_b - y_mu_a
    if kind == SQUARED_ERROR:
        r = p - y
        return 0.5 * r * r, r
    if kind == HUBER:
        r = p - y
        if abs(r) <= eps:
            return 0.5 * r * r, r
        return eps * abs(r) - 0.5 * eps * eps, eps if r > 0 else -eps
    if kind == EPS_INSENSITIVE:
        z = y - p
        v = max(0.0, abs(z) - eps)
        if z > eps:
            return v, -1.0
        if -z > eps:
            return v, 1.0
        return v, 0.0
    if kind == SQ_EPS_INSENSITIVE:
        z = y - p
        if z > eps:
            return (z - eps) * (z - eps), -2.0 * (z - eps)
        if z < -eps:
            return (-z - eps) * (-z - eps), 2.0 * (-z - eps)
        return 0.0, 0.0
    if kind == LOG_LOSS:
        z = p * y
        e = math.exp(-abs(z))
        if z >= 0:
            return math.log1p(e), -y * e / (1.0 + e)
        return math.log1p(e) - z, -y / (1.0 + e)
    if kind == HINGE or kind == PERCEPTRON:
        threshold = 1.0 if kind == HINGE else 0.0
        z = p * y
        return max(0.0, threshold - z), -y if z <= threshold else 0.0
    if kind == SQUARED_HINGE:
        z = 1.0 - p * y
        if z > 0:
            return z * z, -2.0 * y * z
        return 0.0, 0.0
    # modified_huber
    z = p * y
    if z >= 1.0:
        return 0.0, 0.0
    if z >= -1.0:
        return (1.0 - z) * (1.0 - z), -2.0 * (1.0 - z) * y
    return -4.0 * z, -4.0 * y


@cuda.jit
def batch_gradient(X, y, weight, rows, coef, intercept, K, loss_kind, eps, group, partial, stats):
    """Fused loss and gradient of a batch: every row of X is read once.

    A block is split into groups of `group` threads (a power of two <= 32); a group takes one
    row at a time, its threads striding over the columns. Scores come from a shared-memory
    tree reduction; every thread of the group then has the row's loss derivative and adds
    its multiple of the row to its own columns' gradient, kept in registers when they fit.
    Each group writes its sums to its own row of `partial`.
    """
    red = cuda.shared.array(MAX_THREADS, float64)
    scores = cuda.local.array(MAX_OUTPUTS, float64)
    acc = cuda.local.array(ACC, float64)
    tid = cuda.threadIdx.x
    lane = tid % group
    groups_per_block = cuda.blockDim.x // group
    g_local = tid // group
    g_index = cuda.blockIdx.x * groups_per_block + g_local
    n_groups = cuda.gridDim.x * groups_per_block
    n = rows.shape[0]
    d = X.shape[1]
    P = K * d
    width = P + K + 2
    if cuda.blockIdx.x == 0 and tid == 0:
        stats[STAT_NORM] = 0.0
    cols_per_lane = (d + group - 1) // group
    in_registers = K * cols_per_lane <= ACC
    out = partial[g_index]
    for c in range(lane, width, group):
        out[c] = 0.0
    for m in range(ACC):
        acc[m] = 0.0
    loss_sum = 0.0
    weight_sum = 0.0
    # Groups take rows g_index, g_index + n_groups, ...; every thread runs the same number of
    # iterations so that all reach each syncthreads.
    n_iter = (n + n_groups - 1) // n_groups
    for it in range(n_iter):
        r = it * n_groups + g_index
        active = r < n
        i = rows[r] if active else 0
        for k in range(K):
            s = 0.0
            if active:
                for j in range(lane, d, group):
                    s += float64(X[i, j]) * float64(coef[k, j])
            red[tid] = s
            cuda.syncthreads()
            off = group // 2
            while off > 0:
                if lane < off:
                    red[tid] += red[tid + off]
                cuda.syncthreads()
                off //= 2
            scores[k] = red[g_local * group] + float64(intercept[k])
            cuda.syncthreads()
        if not active:
            continue
        w = float64(weight[i])
        yi = float64(y[i])
        if loss_kind == MULTINOMIAL:
            top = scores[0]
            for k in range(1, K):
                top = max(top, scores[k])
            z = 0.0
            for k in range(K):
                z += math.exp(scores[k] - top)
            c = int(yi)
            loss = math.log(z) + top - scores[c]
            for k in range(K):
                scores[k] = math.exp(scores[k] - top) / z - (1.0 if k == c else 0.0)
        else:
            loss, deriv = scalar_loss(loss_kind, eps, scores[0], yi)
            scores[0] = deriv
        if lane == 0:
            loss_sum += w * loss
            weight_sum += w
        for k in range(K):
            coeff = w * scores[k]
            if coeff == 0.0:
                continue
            if lane == 0:
                out[P + k] += coeff  # the group's own row, zeroed before the first sync
            m = 0
            for j in range(lane, d, group):
                if in_registers:
                    acc[k * cols_per_lane + m] += coeff * float64(X[i, j])
                else:
                    out[k * d + j] += coeff * float64(X[i, j])
                m += 1
    if in_registers:
        for k in range(K):
            m = 0
            for j in range(lane, d, group):
                out[k * d + j] = acc[k * cols_per_lane + m]
                m += 1
    if lane == 0:
        out[P + K] = loss_sum
        out[P + K + 1] = weight_sum


@cuda.jit
def finalize_gradient(
    partial, coef, grad, l2, intercept_linear, clip_value, clip_intercept, stats
):
    """grad = (sum of the groups' gradients) / (batch weight) + l2 coef (+ intercept_linear for
    the intercepts: the objective's linear term in them), then clipped by value.

    Also adds the batch loss to stats[STAT_LOSS] and the squared norm of the result (for
    clip_norm) to stats[STAT_NORM]. `clip_intercept` is False when the intercept is not fitted
    (its gradient is then left out of clipping, as on the CPU).
    """
    c = cuda.grid(1)
    n_groups = partial.shape[0]
    P = coef.size
    width = grad.shape[0]  # P + K
    if c > width:
        return
    weight = 0.0
    for g in range(n_groups):
        weight += partial[g, width + 1]
    if c == width:
        loss = 0.0
        for g in range(n_groups):
            loss += partial[g, width]
        stats[STAT_LOSS] += loss
        stats[STAT_BATCH_WEIGHT] = weight
        return
    s = 0.0
    for g in range(n_groups):
        s += partial[g, c]
    v = s / weight if weight > 0 else 0.0
    is_coef = c < P
    if is_coef and l2 != 0.0:
        k = c // coef.shape[1]
        j = c - k * coef.shape[1]
        v += l2 * float64(coef[k, j])
    if not is_coef:
        v += intercept_linear
    if clip_value > 0 and (is_coef or clip_intercept):
        v = min(clip_value, max(-clip_value, v))
    grad[c] = v
    if is_coef or clip_intercept:
        cuda.atomic.add(stats, STAT_NORM, float64(grad[c]) * float64(grad[c]))


@cuda.jit
def update_params(
    w,
    g,
    state1,
    state2,
    state3,
    avg,
    stats,
    rule,
    flags,
    c0,
    c1,
    c2,
    c3,
    c4,
    c5,
    c6,
    c7,
    c8,
    clip_norm,
    l1,
    avg_mu,
):
    """One element-wise optimizer step on a flat parameter array, fused with the global-norm
    clip of the gradient, the L1 proximal step (l1 > 0) and the running average (avg_mu > 0).

    The coefficients c0..c8 are the rule's scalars, computed on the host in float64 (bias
    corrections, step size); `flags` packs the rule's switches (bit 0: first step / nesterov /
    centered / amsgrad as the rule reads it, bit 1: momentum, bit 2: nesterov).
    """
    i = cuda.grid(1)
    if i >= w.size:
        return
    scale = 1.0
    if clip_norm > 0:
        coef_ = clip_norm / (math.sqrt(stats[STAT_NORM]) + 1e-6)
        if not coef_ >= 1.0:
            scale = coef_
    gi = float64(g[i]) * scale
    wi = float64(w[i])
    if rule == RULE_PLAIN:
        wi -= c0 * gi
    elif rule == RULE_SGD:
        # c0 lr, c1 weight_decay, c2 momentum, c3 1 - dampening
        d = gi + c1 * wi
        if flags & 2:
            if flags & 1:
                m = d
            else:
                m = c2 * float64(state1[i]) + c3 * d
            state1[i] = m
            wi -= c0 * (d + c2 * m if flags & 4 else m)
        else:
            wi -= c0 * d
    elif rule == RULE_ADAGRAD:
        # c0 lr / (1 + (t - 1) lr_decay), c1 weight_decay, c2 eps
        d = gi + c1 * wi
        s = float64(state1[i]) + d * d
        state1[i] = s
        wi -= c0 * d / (math.sqrt(s) + c2)
    elif rule == RULE_RMSPROP:
        # c0 lr, c1 alpha, c2 eps, c3 weight_decay, c4 momentum; flags 1 centered, 2 momentum
        d = gi + c3 * wi
        v = c1 * float64(state1[i]) + (1.0 - c1) * d * d
        state1[i] = v
        if flags & 1:
            ga = float64(state2[i]) + (1.0 - c1) * (d - float64(state2[i]))
            state2[i] = ga
            den = math.sqrt(v - ga * ga) + c2
        else:
            den = math.sqrt(v) + c2
        if flags & 2:
            m = c4 * float64(state3[i]) + d / den
            state3[i] = m
            wi -= c0 * m
        else:
            wi -= c0 * d / den
    elif rule == RULE_ADAM:
        # c0 lr / (1 - beta1^t), c1 1 / sqrt(1 - beta2^t), c2 w factor (decoupled decay),
        # c3 coupled weight_decay, c4 beta1, c5 beta2, c6 eps; flags 1 amsgrad
        wi *= c2
        d = gi + c3 * wi
        m = float64(state1[i]) + (1.0 - c4) * (d - float64(state1[i]))
        v = c5 * float64(state2[i]) + (1.0 - c5) * d * d
        state1[i] = m
        state2[i] = v
        if flags & 1:
            v = max(float64(state3[i]), v)
            state3[i] = v
        wi -= c0 * m / (math.sqrt(v) * c1 + c6)
    elif rule == RULE_NADAM:
        # c0 coefficient of d, c1 coefficient of m, c2 1 - beta2^t, c3 w factor, c4 coupled
        # weight_decay, c5 beta1, c6 beta2, c7 eps
        wi *= c3
        d = gi + c4 * wi
        m = float64(state1[i]) + (1.0 - c5) * (d - float64(state1[i]))
        v = c6 * float64(state2[i]) + (1.0 - c6) * d * d
        state1[i] = m
        state2[i] = v
        den = math.sqrt(v / c2) + c7
        wi -= (c0 * d + c1 * m) / den
    elif rule == RULE_ADAMAX:
        # c0 lr / (1 - beta1^t), c1 weight_decay, c2 beta1, c3 beta2, c4 eps
        d = gi + c1 * wi
        m = float64(state1[i]) + (1.0 - c2) * (d - float64(state1[i]))
        u = max(c3 * float64(state2[i]), abs(d) + c4)
        state1[i] = m
        state2[i] = u
        wi -= c0 * m / u
    elif rule == RULE_LION:
        # c0 lr, c1 beta1, c2 beta2, c3 weight_decay
        m = float64(state1[i])
        c = (1.0 - c1) * gi + c1 * m
        sign = 1.0 if c > 0 else (-1.0 if c < 0 else 0.0)
        wi -= c0 * (sign + c3 * wi)
        state1[i] = (1.0 - c2) * gi + c2 * m
    if l1 > 0:
        wi = wi - l1 if wi > l1 else (wi + l1 if wi < -l1 else 0.0)
    w[i] = wi
    if avg_mu > 0:
        a = float64(avg[i])
        avg[i] = a + avg_mu * (float64(w[i]) - a)


@cuda.jit
def lamb_moments(
    w, g, m, v, stats, c_bc1, c_bc2, beta1, beta2, eps, weight_decay, clip_norm, sums
):
    """LAMB's first pass: new moments, and the squared norms of w and of the update into
    sums[0], sums[1] (zeroed by the host just before)."""
    i = cuda.grid(1)
    if i >= w.size:
        return
    scale = 1.0
    if clip_norm > 0:
        coef_ = clip_norm / (math.sqrt(stats[STAT_NORM]) + 1e-6)
        if not coef_ >= 1.0:
            scale = coef_
    gi = float64(g[i]) * scale
    mi = (1.0 - beta1) * gi + beta1 * float64(m[i])
    vi = (1.0 - beta2) * gi * gi + beta2 * float64(v[i])
    m[i] = mi
    v[i] = vi
    wi = float64(w[i])
    u = (mi / c_bc1) / (math.sqrt(vi / c_bc2) + eps) + weight_decay * wi
    cuda.atomic.add(sums, 0, wi * wi)
    cuda.atomic.add(sums, 1, u * u)


@cuda.jit
def lamb_apply(w, m, v, sums, lr, c_bc1, c_bc2, eps, weight_decay, l1, avg, avg_mu):
    """LAMB's second pass: w -= lr r u with the trust ratio r = ||w|| / ||u||; the L1 step and
    averaging as in update_params."""
    i = cuda.grid(1)
    if i < w.size:
        wn = math.sqrt(sums[0])
        un = math.sqrt(sums[1])
        ratio = 1.0 if (wn == 0 or un == 0) else wn / un
        wi = float64(w[i])
        u = (float64(m[i]) / c_bc1) / (math.sqrt(float64(v[i]) / c_bc2) + eps) + weight_decay * wi
        wi -= lr * ratio * u
        if l1 > 0:
            wi = wi - l1 if wi > l1 else (wi + l1 if wi < -l1 else 0.0)
        w[i] = wi
        if avg_mu > 0:
            a = float64(avg[i])
            avg[i] = a + avg_mu * (float64(w[i]) - a)


@cuda.jit
def zero(a):
    i = cuda.grid(1)
    if i < a.size:
        a[i] = 0.0


@cuda.jit
def epoch_stats(
    coef, intercept, X, y, val_weight, val_rows, K, classification, loss_kind, loss_param, stats
):
    """Penalty sums over the parameters and the validation statistics, added to `stats`.

    Threads stride over the coefficients, then each takes validation rows (one row per
    thread: the validation set is a small share of the data).
    """
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    P = coef.size
    d = coef.shape[1]
    ww = 0.0
    aa = 0.0
    for c in range(start, P, stride):
        k = c // d
        v = float64(coef[k, c - k * d])
        ww += v * v
        aa += abs(v)
    bb = 0.0
    bsum = 0.0
    for k in range(start, K, stride):
        bb += float64(intercept[k]) * float64(intercept[k])
        bsum += float64(intercept[k])
    cuda.atomic.add(stats, STAT_WW, ww)
    cuda.atomic.add(stats, STAT_ABS, aa)
    cuda.atomic.add(stats, STAT_B, bb)
    cuda.atomic.add(stats, STAT_BSUM, bsum)
    vw = 0.0
    hit = 0.0
    vy = 0.0
    vyy = 0.0
    sse = 0.0
    dev = 0.0
    const = 0.0
    log_link = loss_kind == POISSON or loss_kind == GAMMA or loss_kind == TWEEDIE
    for r in range(start, val_rows.shape[0], stride):
        i = val_rows[r]
        sw = float64(val_weight[i])
        yi = float64(y[i])
        best = 0
        best_p = 0.0
        for k in range(K):
            p = float64(intercept[k])
            for j in range(d):
                p += float64(X[i, j]) * float64(coef[k, j])
            if k == 0 or p > best_p:
                best = k
                best_p = p
        vw += sw
        if classification:
            if K > 1:
                predicted = float64(best)
            else:
                predicted = 1.0 if best_p > 0 else -1.0
            if predicted == yi:
                hit += sw
        else:
            vy += sw * yi
            vyy += sw * yi * yi
            sse += sw * (yi - best_p) * (yi - best_p)
            if log_link:
                value, _ = scalar_loss(loss_kind, loss_param, best_p, yi)
                dev += sw * value
                const += sw * deviance_constant(loss_kind, loss_param, yi)
    cuda.atomic.add(stats, STAT_VDEV, dev)
    cuda.atomic.add(stats, STAT_VCONST, const)
    cuda.atomic.add(stats, STAT_VW, vw)
    cuda.atomic.add(stats, STAT_HIT, hit)
    cuda.atomic.add(stats, STAT_VY, vy)
    cuda.atomic.add(stats, STAT_VYY, vyy)
    cuda.atomic.add(stats, STAT_SSE, sse)


@cuda.jit(device=True)
def _round_hash(x, key, mask):
    # A cheap integer mix (x < 2^31, product < 2^58: no int64 overflow).
    h = (x * 0x2C1B3C6D + key) & 0xFFFFFFFF
    h ^= h >> 15
    h = (h * 0x297A2D39) & 0xFFFFFFFF
    h ^= h >> 13
    return h & mask


@cuda.jit
def permute(train_rows, out, half_bits, k0, k1, k2, k3):
    """out[r] = train_rows[pi(r)] for a pseudo-random permutation pi of range(n).

    pi is a 4-round Feistel network on 2 * half_bits bits (a bijection of [0, 2^(2 half_bits)))
    walked until it lands below n ("cycle walking"), so every thread computes its entry
    independently: a shuffle without sorting or a sequential pass.
    """
    r = cuda.grid(1)
    n = train_rows.shape[0]
    if r >= n:
        return
    mask = (1 << half_bits) - 1
    x = r
    while True:
        left = x >> half_bits
        right = x & mask
        left, right = right, left ^ _round_hash(right, k0, mask)
        left, right = right, left ^ _round_hash(right, k1, mask)
        left, right = right, left ^ _round_hash(right, k2, mask)
        left, right = right, left ^ _round_hash(right, k3, mask)
        x = (left << half_bits) | right
        if x < n:
            break
    out[r] = train_rows[x]


@cuda.jit
def cast_rows(src, dst):
    """dst = src converted to dst's dtype (a device-side copy)."""
    i, j = cuda.grid(2)
    if i < src.shape[0] and j < src.shape[1]:
        dst[i, j] = src[i, j]


# ---- Adafactor (as optax.adafactor; see update_rules.hpp) ------------------------------------


@cuda.jit
def clip_by_norm_in_place(g, stats, clip_norm):
    """g *= the global-norm clip factor (for rules whose kernels read g more than once)."""
    i = cuda.grid(1)
    if i < g.size:
        coef_ = clip_norm / (math.sqrt(stats[STAT_NORM]) + 1e-6)
        if not coef_ >= 1.0:
            g[i] = float64(g[i]) * coef_


@cuda.jit
def adafactor_rows(g, v_row, cols, beta, eps, sums):
    """Factored statistics, rows: v_row = beta v_row + (1 - beta) mean over the row of g^2 + eps;
    their total into sums[2]."""
    r = cuda.grid(1)
    if r < v_row.size:
        s = 0.0
        for c in range(cols):
            x = float64(g[r * cols + c])
            s += x * x + eps
        v = beta * float64(v_row[r]) + (1.0 - beta) * s / cols
        v_row[r] = v
        cuda.atomic.add(sums, 2, float64(v_row[r]))


@cuda.jit
def adafactor_cols(g, v_col, rows, beta, eps):
    """Factored statistics, columns: v_col = beta v_col + (1 - beta) mean over the column."""
    c = cuda.grid(1)
    cols = v_col.size
    if c < cols:
        s = 0.0
        for r in range(rows):
            x = float64(g[r * cols + c])
            s += x * x + eps
        v_col[c] = beta * float64(v_col[c]) + (1.0 - beta) * s / rows


@cuda.jit(device=True)
def _adafactor_y(i, g, v, v_row, v_col, factored, sums):
    """The preconditioned gradient y_i = g_i / sqrt(V_i)."""
    if factored:
        cols = v_col.size
        r = i // cols
        c = i - r * cols
        row_mean = sums[2] / v_row.size
        return (
            float64(g[i]) / math.sqrt(float64(v_row[r]) / row_mean) / math.sqrt(float64(v_col[c]))
        )
    return float64(g[i]) / math.sqrt(float64(v[i]))


@cuda.jit
def adafactor_moments(w, g, v, v_row, v_col, factored, beta, eps, sums):
    """Unfactored statistics (v = beta v + (1 - beta) (g^2 + eps)), then the sums of y^2 and
    w^2 into sums[0], sums[1]."""
    i = cuda.grid(1)
    if i >= w.size:
        return
    if not factored:
        x = float64(g[i])
        v[i] = beta * float64(v[i]) + (1.0 - beta) * (x * x + eps)
    y = _adafactor_y(i, g, v, v_row, v_col, factored, sums)
    cuda.atomic.add(sums, 0, y * y)
    cuda.atomic.add(sums, 1, float64(w[i]) * float64(w[i]))


@cuda.jit
def adafactor_apply(
    w,
    g,
    v,
    v_row,
    v_col,
    buf,
    factored,
    sums,
    lr,
    clipping_threshold,
    param_scale,
    eps_scale,
    momentum,
    weight_decay,
    l1,
    avg,
    avg_mu,
):
    """w -= u + weight_decay w with u = lr max(eps_scale, RMS(w)) y / max(1, RMS(y) / d),
    optionally smoothed by momentum; then the L1 step and averaging as in update_params."""
    i = cuda.grid(1)
    if i >= w.size:
        return
    n = w.size
    clip = max(1.0, math.sqrt(sums[0] / n) / clipping_threshold)
    scale = max(eps_scale, math.sqrt(sums[1] / n)) if param_scale else 1.0
    u = lr * scale / clip * _adafactor_y(i, g, v, v_row, v_col, factored, sums)
    if momentum != 0.0:
        u = momentum * float64(buf[i]) + (1.0 - momentum) * u
        buf[i] = u
    wi = float64(w[i])
    wi -= u + weight_decay * wi
    if l1 > 0:
        wi = wi - l1 if wi > l1 else (wi + l1 if wi < -l1 else 0.0)
    w[i] = wi
    if avg_mu > 0:
        a = float64(avg[i])
        avg[i] = a + avg_mu * (float64(w[i]) - a)
