"""Baseline training loops written the way a user would without fastdescent.

The same per-sample algorithm as scikit-learn's SGDClassifier(loss='log_loss', penalty='l2',
learning_rate='optimal') -- weight-scale trick, clipped derivative, intercept step -- as a plain
NumPy loop, JIT-compiled by Numba and compiled by Cython (both at benchmark time), and a
mini-batch Adam loop in NumPy and in PyTorch. Each function runs whole epochs on the rows of X in
memory order (a shuffled order costs all of them the same memory latency).
"""

from __future__ import annotations

import importlib
import math
import sys
import tempfile
from pathlib import Path

import numpy as np


def optimal_t0(alpha):
    """scikit-learn's initial t of the 'optimal' schedule for log_loss:
    1 / (alpha * eta0) with eta0 = typw / max(1, dloss at margin -typw)."""
    typw = math.sqrt(1.0 / math.sqrt(alpha))
    eta0 = typw / max(1.0, _dloss(-typw, 1.0))
    return 1.0 / (eta0 * alpha)


def _dloss(z, y):
    # d/dp log(1 + exp(-y p)) at p with z = y p
    if z > 18.0:
        return -y * math.exp(-z)
    if z < -18.0:
        return -y
    return -y / (math.exp(z) + 1.0)


def numpy_per_sample(X, y, alpha=1e-4, epochs=1):
    """y in {-1, +1}. Per row: a NumPy dot and an in-place axpy, the rest in Python."""
    n, d = X.shape
    v = np.zeros(d, dtype=X.dtype)
    b, wscale, t = 0.0, 1.0, optimal_t0(alpha)
    for _ in range(epochs):
        for i in range(n):
            x = X[i]
            p = wscale * float(x @ v) + b
            eta = 1.0 / (alpha * t)
            g = max(-1e12, min(1e12, _dloss(p * y[i], y[i])))
            wscale *= max(0.0, 1.0 - eta * alpha)
            if wscale < 1e-9:
                v *= wscale
                wscale = 1.0
            u = -eta * g
            if u != 0.0:
                v += (u / wscale) * x
                b += u
            t += 1.0
    return v * wscale, b


_NUMBA = None


def numba_per_sample():
    """The same loop compiled by Numba (ImportError without numba)."""
    global _NUMBA
    if _NUMBA is None:
        import numba

        dloss = numba.njit(_dloss)

        @numba.njit(cache=False, fastmath=False)
        def loop(X, y, alpha, epochs, t0):
            n, d = X.shape
            v = np.zeros(d, dtype=X.dtype)
            b, wscale, t = 0.0, 1.0, t0
            for _ in range(epochs):
                for i in range(n):
                    p = 0.0
                    for j in range(d):
                        p += X[i, j] * v[j]
                    p = wscale * p + b
                    g = max(-1e12, min(1e12, dloss(p * y[i], y[i])))
                    eta = 1.0 / (alpha * t)
                    wscale *= max(0.0, 1.0 - eta * alpha)
                    if wscale < 1e-9:
                        for j in range(d):
                            v[j] *= wscale
                        wscale = 1.0
                    u = -eta * g
                    if u != 0.0:
                        c = u / wscale
                        for j in range(d):
                            v[j] += c * X[i, j]
                        b += u
                    t += 1.0
            return v * wscale, b

        _NUMBA = loop
    return lambda X, y, alpha=1e-4, epochs=1: _NUMBA(X, y, alpha, epochs, optimal_t0(alpha))


_HOGWILD = None


def numba_hogwild_per_sample():
    """Hogwild (Niu et al., 2011) compiled by Numba: the rows are split among threads, and each
    thread runs per-sample SGD on one shared model without locks (ImportError without numba).
    The L2 shrinkage is applied with each update (a shared weight scale would be a race of its
    own); the step of the k-th update of an epoch is the 'optimal' schedule's at the global
    count k * threads, as if the threads' updates interleaved evenly."""
    global _HOGWILD
    if _HOGWILD is None:
        import numba

        dloss = numba.njit(_dloss)

        @numba.njit(parallel=True, cache=False, fastmath=False)
        def loop(X, y, alpha, epochs, t0, threads):
            n, d = X.shape
            w = np.zeros(d, dtype=X.dtype)
            b = np.zeros(1)
            share = (n + threads - 1) // threads
            for epoch in range(epochs):
                for k in numba.prange(threads):
                    lo, hi = k * share, min(n, (k + 1) * share)
                    for i in range(lo, hi):
                        p = b[0]
                        for j in range(d):
                            p += X[i, j] * w[j]
                        g = max(-1e12, min(1e12, dloss(p * y[i], y[i])))
                        t = t0 + epoch * n + (i - lo) * threads + k
                        eta = 1.0 / (alpha * t)
                        shrink = max(0.0, 1.0 - eta * alpha)
                        u = -eta * g
                        for j in range(d):
                            w[j] = shrink * w[j] + u * X[i, j]
                        b[0] += u
            return w, b[0]

        _HOGWILD = loop
    return lambda X, y, threads, alpha=1e-4, epochs=1: _HOGWILD(X, y, alpha, epochs,
                                                                 optimal_t0(alpha), threads)


CYTHON_SOURCE = r"""
# cython: boundscheck=False, wraparound=False, cdivision=True, language_level=3
from libc.math cimport exp
import numpy as np

ctypedef fused real:
    float
    double

def loop(real[:, ::1] X, double[::1] y, double alpha, int epochs, double t0):
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], i, j
    v_arr = np.zeros(d, dtype=np.asarray(X).dtype)
    cdef real[::1] v = v_arr
    cdef double b = 0.0, wscale = 1.0, t = t0, p, z, g, eta, u, c
    cdef int e
    for e in range(epochs):
        for i in range(n):
            p = 0.0
            for j in range(d):
                p += X[i, j] * v[j]
            p = wscale * p + b
            z = p * y[i]
            if z > 18.0:
                g = -y[i] * exp(-z)
            elif z < -18.0:
                g = -y[i]
            else:
                g = -y[i] / (exp(z) + 1.0)
            g = max(-1e12, min(1e12, g))
            eta = 1.0 / (alpha * t)
            wscale *= max(0.0, 1.0 - eta * alpha)
            if wscale < 1e-9:
                for j in range(d):
                    v[j] *= wscale
                wscale = 1.0
            u = -eta * g
            if u != 0.0:
                c = u / wscale
                for j in range(d):
                    v[j] += c * X[i, j]
                b += u
            t += 1.0
    return v_arr * wscale, b


cdef extern from *:
    void __builtin_prefetch(const void* address)


# Sum over rows i, in the given order, of X[i] . w: one read of X in that order, each row
# fetched four rows ahead, four partial sums per row.
def shuffled_read(real[:, ::1] X, real[::1] w, long long[::1] order):
    cdef Py_ssize_t n = order.shape[0], d = X.shape[1], r, j, i, k, ahead = 4
    cdef Py_ssize_t row_bytes = d * sizeof(real)
    cdef double total = 0.0, s0, s1, s2, s3
    cdef const char* q
    for r in range(n):
        if r + ahead < n:
            q = <const char*> &X[order[r + ahead], 0]
            for k in range(0, row_bytes, 64):
                __builtin_prefetch(q + k)
        i = order[r]
        s0 = s1 = s2 = s3 = 0.0
        for j in range(0, d - 3, 4):
            s0 += X[i, j] * w[j]
            s1 += X[i, j + 1] * w[j + 1]
            s2 += X[i, j + 2] * w[j + 2]
            s3 += X[i, j + 3] * w[j + 3]
        for j in range(d - d % 4, d):
            s0 += X[i, j] * w[j]
        total += (s0 + s1) + (s2 + s3)
    return total
"""

_CYTHON = None


def _cython_module():
    """CYTHON_SOURCE compiled by Cython into a temporary directory (ImportError without
    Cython or a C compiler)."""
    global _CYTHON
    if _CYTHON is None:
        import pyximport  # from Cython

        build = Path(tempfile.mkdtemp(prefix="fastdescent_bench_cython_"))
        (build / "fd_bench_sgd_loop.pyx").write_text(CYTHON_SOURCE)
        pyximport.install(build_dir=str(build / "build"),
                          setup_args={"include_dirs": np.get_include()}, language_level=3)
        sys.path.insert(0, str(build))
        try:
            _CYTHON = importlib.import_module("fd_bench_sgd_loop")
        finally:
            sys.path.remove(str(build))
    return _CYTHON


def cython_per_sample():
    """The per-sample loop, compiled by Cython."""
    loop = _cython_module().loop
    return lambda X, y, alpha=1e-4, epochs=1: loop(X, np.asarray(y, dtype=np.float64), alpha,
                                                   epochs, optimal_t0(alpha))


def cython_shuffled_read():
    """shuffled_read(X, w, order), compiled by Cython: what reading X's rows in a random order
    costs a plain compiled loop that fetches ahead, with no training work."""
    return _cython_module().shuffled_read


def numpy_minibatch_adam(X, y01, batch_size=256, lr=1e-3, alpha=1e-4, epochs=1,
                         betas=(0.9, 0.999), eps=1e-8):
    """Mini-batch logistic regression with Adam in NumPy: per batch X_b @ w, the loss
    derivative, X_b.T @ r, and the Adam update with in-place ufuncs."""
    n, d = X.shape
    dt = X.dtype
    w = np.zeros(d, dtype=dt)
    b = np.zeros(1, dtype=dt)
    m_w, v_w = np.zeros_like(w), np.zeros_like(w)
    m_b, v_b = np.zeros_like(b), np.zeros_like(b)
    yy = (2.0 * y01 - 1.0).astype(dt)
    step = 0
    for _ in range(epochs):
        for s in range(0, n, batch_size):
            Xb, yb = X[s:s + batch_size], yy[s:s + batch_size]
            z = yb * (Xb @ w + b[0])
            r = -yb / (np.exp(z) + 1.0)
            g_w = Xb.T @ r / len(yb) + alpha * w
            g_b = np.array([r.mean()], dtype=dt)
            step += 1
            for p, g, m, v in ((w, g_w, m_w, v_w), (b, g_b, m_b, v_b)):
                m *= betas[0]
                m += (1 - betas[0]) * g
                v *= betas[1]
                v += (1 - betas[1]) * g * g
                denom = np.sqrt(v / (1 - betas[1] ** step)) + eps
                p -= (lr / (1 - betas[0] ** step)) * m / denom
    return w, b


def torch_minibatch_adam(X, y01, batch_size=256, lr=1e-3, alpha=1e-4, epochs=1):
    """The same loop as an idiomatic PyTorch program on CPU (ImportError without torch)."""
    import torch

    Xt = torch.from_numpy(X)
    yt = torch.from_numpy(y01.astype(X.dtype))
    model = torch.nn.Linear(X.shape[1], 1, dtype=Xt.dtype)
    torch.nn.init.zeros_(model.weight)
    torch.nn.init.zeros_(model.bias)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for _ in range(epochs):
        for s in range(0, X.shape[0], batch_size):
            opt.zero_grad()
            out = model(Xt[s:s + batch_size]).squeeze(1)
            loss = loss_fn(out, yt[s:s + batch_size]) + 0.5 * alpha * (model.weight ** 2).sum()
            loss.backward()
            opt.step()
    return model
