"""Data-parallel training and blockwise prediction on dask collections.

Imported only when an estimator receives a dask array or DataFrame; works with any Dask
scheduler (a ``distributed`` cluster when a Client is active, else dask's default).

How ``fit`` trains, by ``batch_size``:

- ``"full"`` and an integer B (full-batch and mini-batch gradient descent): the row chunks are
  prepared (converted, checked) and persisted on the workers once. Every update, each chunk
  sums the sample-weighted loss and gradient of its share of the batch with the C++ kernel of
  the in-memory trainer, the sums are combined by a tree reduction, and the client hands them to
  the training engine (``_core.GradientStep`` for the update, ``_core.EpochPolicy`` for the
  schedule and the epoch decisions): the in-memory trainer's own code, not a copy of its rules.
  A full-batch fit therefore follows the in-memory fit up to floating-point summation order.
  A mini-batch update takes from every chunk its proportional share of B rows (the chunk's
  rows in a fresh random order per epoch when ``shuffle``), so an epoch is ceil(n / B) updates
  that together visit every row once, as in memory; each update is one round trip to the
  cluster, so choose B large.
- ``1`` with plain SGD (scikit-learn's per-sample algorithm): every epoch, each chunk runs one
  local epoch of the C++ trainer starting from the current model, and the client averages the
  chunk models weighted by the chunks' total sample weight (parameter averaging, Zinkevich et
  al. 2010). The step-size counter continues across epochs as on the largest chunk, and the
  epoch objective is the weighted mean of the chunks' local objectives.

With ``early_stopping=True`` the validation rows are the in-memory estimators' (the same split
of y for the same ``random_state``); the workers leave them out of training and sum their
validation statistics at each epoch's end.
"""

from __future__ import annotations

import math
import sys
from functools import partial
from types import SimpleNamespace

import numpy as np
import scipy.sparse as sp
from sklearn.base import is_outlier_detector
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array

from . import _core
from ._base import (
    LOSSES,
    MAX_INT,
    _reject_strings,
    _rows_readable,
    diverged_message,
    is_half,
    is_half_dtype,
    linear_scores,
    mean_curve,
    train,
)
from ._deviance import deviance_constant, deviance_score, half_deviance

INSTALL_HINT = "pip install fastdescent[dask]"
_FAN_IN = 8  # partial sums added per task of the tree reduction


def is_dask_collection(obj):
    """Whether obj is a dask collection (never imports dask itself)."""
    if "dask" not in sys.modules:
        return False
    return sys.modules["dask"].is_dask_collection(obj)


def computed(*values):
    """Dask collections among values computed to NumPy / pandas / SciPy (one compute)."""
    if not any(is_dask_collection(v) for v in values):
        return values
    dask, _ = _import_dask()
    return dask.compute(*values)


def _import_dask():
    try:
        import dask
        import dask.array as da
    except ImportError as exc:
        raise ImportError(
            f"Training and predicting on dask collections needs dask[array]; install it with "
            f"`{INSTALL_HINT}`."
        ) from exc
    return dask, da


# ---- inputs ---------------------------------------------------------------------------------


def _as_rows(X, da, what):
    """X as a dask array with known row chunks and (2-D) a single column chunk."""
    if hasattr(X, "to_dask_array"):  # dask DataFrame or Series
        X = X.to_dask_array(lengths=True)
    if not isinstance(X, da.Array):
        raise TypeError(f"{what} must be a dask array or dask DataFrame, got {type(X).__name__}")
    if any(math.isnan(c) for c in X.chunks[0]):
        X = X.compute_chunk_sizes()
    if X.ndim == 2 and X.numblocks[1] > 1:
        X = X.rechunk({1: -1})  # each task needs whole rows
    return X


def _aligned(v, X, da, what):
    """A per-row vector (dask or array-like) as a dask array chunked like X's rows."""
    if v is None:
        return None
    if is_dask_collection(v):
        v = _as_rows(v, da, what)
    else:
        v = np.asarray(v)
        if v.ndim == 0:
            v = np.full(X.shape[0], v)
        if v.shape[0] != X.shape[0]:
            raise ValueError(
                "Found input variables with inconsistent numbers of samples: "
                f"[{X.shape[0]}, {v.shape[0]}]"
            )
        v = da.from_array(v, chunks=(X.chunks[0],) + v.shape[1:])
    if v.ndim == 2 and v.shape[1] == 1:
        v = v[:, 0]
    if v.ndim != 1:
        raise ValueError(f"{what} should be a 1d array, got an array of shape {v.shape} instead.")
    if v.shape[0] != X.shape[0]:
        raise ValueError(
            "Found input variables with inconsistent numbers of samples: "
            f"[{X.shape[0]}, {v.shape[0]}]"
        )
    if v.chunks[0] != X.chunks[0]:
        v = v.rechunk((X.chunks[0],))
    return v


def _prepare_chunk(X, y, sample_weight, dtype, classes, binary, validation_mask=None):
    """One row chunk as the kernels read it: (X, targets, sample_weight, validation_mask,
    training rows) in `dtype`; the last two are None without a validation split.

    Runs on a worker, once per fit, with the in-memory estimators' checks (scikit-learn's
    check_array: no strings, complex numbers, NaN or infinity; the CSR structure check;
    finite non-negative sample weights). Makes a copy only where they would (other dtypes,
    Fortran order, non-CSR sparse formats, duplicate sparse entries).
    """
    _reject_strings(X, "X")
    half = is_half(X)  # float16 / bfloat16 chunks: read as stored, checked by the core
    X = check_array(
        X,
        accept_sparse="csr",
        dtype=None if half else dtype,
        accept_large_sparse=True,
        ensure_min_samples=0,
        ensure_all_finite=not half,
        input_name="X",
    )
    if half and not _core.all_finite(_rows_readable(X)):
        check_array(X.astype(np.float32), ensure_min_samples=0, input_name="X")  # its error
    X = _rows_readable(X)
    y = np.asarray(y)
    if classes is not None:
        label = np.searchsorted(classes, y)
        target = np.where(label == 1, 1.0, -1.0) if binary else label
        target = np.ascontiguousarray(target, dtype=dtype)
    else:
        target = np.ascontiguousarray(y, dtype=dtype)
        if not np.isfinite(target).all():
            raise ValueError("Input y contains NaN or infinity.")
    if sample_weight is not None:
        sample_weight = check_array(
            sample_weight,
            ensure_2d=False,
            dtype=dtype,
            ensure_min_samples=0,
            input_name="sample_weight",
        )
        if (sample_weight < 0).any():
            raise ValueError("Negative values in data passed to `sample_weight`")
        sample_weight = np.ascontiguousarray(sample_weight)
    train_rows = None
    if validation_mask is not None:
        validation_mask = np.ascontiguousarray(validation_mask, dtype=np.uint8)
        train_rows = np.flatnonzero(validation_mask == 0).astype(np.int64)
    return X, target, sample_weight, validation_mask, train_rows


def _chunk_weight(chunk):
    return float(chunk[2].sum(dtype=np.float64))


def _chunk_labels_count(chunk, n_classes):
    """Rows per class in a chunk (classification targets are class indices or -1/+1)."""
    target = chunk[1]
    if n_classes == 2:
        return np.array([np.sum(target < 0), np.sum(target > 0)], dtype=np.int64)
    return np.bincount(target.astype(np.int64), minlength=n_classes)


# ---- kernels on the workers -------------------------------------------------------------------


def _readable(a):
    """An array (or CSR matrix) whose buffers the bindings can read: arrays that arrive through
    dask's serialization may sit at addresses that are not a multiple of their itemsize, which
    the bindings refuse (copied here only in that case)."""
    if a is None:
        return None
    if sp.issparse(a):
        parts = [np.require(x, requirements=["A"]) for x in (a.data, a.indices, a.indptr)]
        if all(x is y for x, y in zip(parts, (a.data, a.indices, a.indptr))):
            return a
        return sp.csr_matrix(tuple(parts), shape=a.shape)
    return np.require(a, requirements=["A"])


def _chunk_sums(chunk, order, lo, hi, params, K, loss, loss_param, class_weight, one_vs_rest):
    """Loss and gradient sums of the chunk's training rows at positions order[lo:hi] (positions
    lo:hi when order is None)."""
    X, target, sample_weight, _, train_rows = (_readable(a) for a in chunk)
    params = _readable(params)
    order = _readable(order)
    d = X.shape[1]
    coef = params[: K * d].reshape(K, d)
    intercept = params[K * d :]
    positions = order[lo:hi] if order is not None else None
    if train_rows is not None:
        rows = train_rows[lo:hi] if positions is None else train_rows[positions]
    elif positions is not None:
        rows = positions
    elif (lo, hi) != (0, X.shape[0]):
        rows = np.arange(lo, hi, dtype=np.int64)
    else:
        rows = None
    kwargs = dict(
        loss_param=loss_param,
        sample_weight=sample_weight,
        class_weight=_readable(class_weight),
        one_vs_rest=one_vs_rest,
        rows=rows,
        n_threads=1,
    )
    if sp.issparse(X):
        return _core.loss_gradient_csr(
            X.data, X.indices, X.indptr, d, target, coef, intercept, loss, **kwargs
        )
    return _core.loss_gradient_dense(X, target, coef, intercept, loss, **kwargs)


def _add(*parts):
    """Element-wise sum of tuples of arrays (one level of the tree reduction)."""
    total = [np.array(a, copy=True) for a in parts[0]]
    for part in parts[1:]:
        for acc, a in zip(total, part):
            acc += a
    return tuple(total)


def _chunk_validation(chunk, params, K, problems, classification, power=None):
    """Validation sums (weight, hit, wy, wyy, sse, deviance, constant) per problem over the
    chunk's validation rows; problems as in _local_epoch (rows of the parameters, target
    function); `power`: the Tweedie power of a log-link loss (deviance sums), else None."""
    X, target, sample_weight, mask, _ = (_readable(a) for a in chunk)
    out = np.zeros((len(problems), 7))
    if mask is None or not mask.any():
        return (out,)
    d = X.shape[1]
    coef = params[: K * d].reshape(K, d)
    intercept = params[K * d :]
    rows = np.flatnonzero(mask)
    Xv = X[rows]
    sw = np.ones(rows.size) if sample_weight is None else sample_weight[rows].astype(np.float64)
    for q, (prows, y_fn) in enumerate(problems):
        y = y_fn(target)[rows].astype(np.float64)
        p = np.asarray(linear_scores(Xv, coef[prows]), dtype=np.float64) + intercept[prows]
        if classification:
            pred = p.argmax(axis=1) if p.shape[1] > 1 else np.where(p[:, 0] > 0, 1.0, -1.0)
            out[q, 0], out[q, 1] = sw.sum(), sw[pred == y].sum()
        else:
            r = y - p[:, 0]
            out[q, :5] = sw.sum(), 0.0, sw @ y, sw @ (y * y), sw @ (r * r)
            if power is not None:
                out[q, 5] = sw @ half_deviance(y, np.exp(p[:, 0]), power)
                out[q, 6] = sw @ deviance_constant(y, power)
    return (out,)


def _chunk_order(n_rows, seed, epoch, index):
    """A chunk's row order for one mini-batch epoch."""
    rng = np.random.default_rng([seed, epoch, index])
    return rng.permutation(n_rows).astype(np.int64)


def _local_epoch(chunk, params, K, problems, config, t0, seed):
    """One local epoch of the C++ trainer on a chunk, from the given model.

    Returns weight-scaled sums for the parameter average: (weight * objective, weight,
    weight * coef, weight * intercept[, weight * average_coef, weight * average_intercept]),
    with the weights per problem.
    """
    X, target, sample_weight, mask, train_rows = (_readable(a) for a in chunk)
    d = X.shape[1]
    averaging = len(params) > 1
    coef = params[0][: K * d].reshape(K, d).copy()
    intercept = params[0][K * d :].copy()
    avg = params[1].copy() if averaging else None
    avg_coef = avg[: K * d].reshape(K, d) if averaging else None
    avg_intercept = avg[K * d :] if averaging else None
    n_problems = len(problems)
    objective = np.zeros(n_problems)
    weight = np.zeros(n_problems)
    row_weight = np.ones(X.shape[0]) if sample_weight is None else sample_weight.astype(np.float64)
    if train_rows is not None:
        row_weight = np.where(mask == 0, row_weight, 0.0)
    out_coef = np.zeros_like(coef)
    out_intercept = np.zeros_like(intercept)
    out_avg = np.zeros_like(avg) if averaging else None
    for q, (rows, y_fn, class_weight, loss) in enumerate(problems):
        if train_rows is not None and train_rows.size == 0:
            continue  # every row of the chunk is a validation row: it weighs nothing here
        y_q = y_fn(target)
        cfg = _make_config(config, loss, seed + q)
        res = train(
            X,
            y_q,
            coef[rows],
            intercept[rows],
            cfg,
            sample_weight=sample_weight,
            class_weight=class_weight,
            validation_mask=mask,
            average_coef=None if avg is None else avg_coef[rows],
            average_intercept=None if avg is None else avg_intercept[rows],
            t0=t0,
        )
        w = float(np.dot(row_weight, _row_class_weight(y_q, class_weight, loss)))
        weight[q] = w
        objective[q] = w * res.loss_curve[0] if res.loss_curve else 0.0
        out_coef[rows] = w * coef[rows]
        out_intercept[rows] = w * intercept[rows]
        if averaging:
            out_avg[: K * d].reshape(K, d)[rows] = w * avg_coef[rows]
            out_avg[K * d :][rows] = w * avg_intercept[rows]
    out = (objective, weight, out_coef, out_intercept)
    return out + (out_avg,) if averaging else out


def _row_class_weight(y, class_weight, loss):
    if class_weight is None:
        return np.ones(y.shape[0])
    if loss == _core.LossKind.multinomial:
        return class_weight[y.astype(np.int64)]
    return np.where(y > 0, class_weight[1], class_weight[0])


def _binary_target(target, k=None):
    return target if k is None else np.where(target == k, 1.0, -1.0).astype(target.dtype)


def _make_config(fields, loss, seed):
    cfg = _core.TrainConfig()
    for name, value in fields.items():
        setattr(cfg, name, value)
    cfg.loss = loss
    cfg.seed = int(seed) % MAX_INT
    return cfg


# ---- the client's training loop ---------------------------------------------------------------


class _Problem:
    """One independent training problem (the model, one class of one-vs-rest): its rows of the
    parameters, its target function, and the engine that steps it and decides its epochs."""

    def __init__(self, config, rows, y_fn, spec, dtype, t0, epoch_callback):
        self.rows = rows
        self.y_fn = y_fn
        self.config = config
        self.step = _core.GradientStep(config, spec, dtype)
        self.policy = _core.EpochPolicy(config, t0, epoch_callback)
        self.last_eta = 0.0
        self.t = float(t0)
        self.active = True
        self.grad_norm = float("nan")  # of the epoch's last update (batched training only)

    @property
    def result(self):
        return self.policy.result


class _Trainer:
    """Epochs over the cluster: loss and gradient sums from the workers, steps and epoch
    decisions from the engine (the problems' GradientStep and EpochPolicy)."""

    def __init__(
        self,
        est,
        dask,
        chunks,
        sizes,
        K,
        d,
        dtype,
        problems,
        class_weight,
        one_vs_rest,
        coef,
        intercept,
        avg_coef,
        avg_intercept,
        max_iter,
        seed,
    ):
        self.est, self.dask, self.chunks, self.sizes = est, dask, chunks, sizes
        self.K, self.d, self.dtype = K, d, dtype
        self.problems, self.class_weight, self.one_vs_rest = problems, class_weight, one_vs_rest
        self.coef, self.intercept = coef, intercept
        self.avg_coef, self.avg_intercept = avg_coef, avg_intercept
        self.max_iter, self.seed = max_iter, seed
        self.n = int(sum(sizes))
        self.classification = bool(problems[0].config.classification)
        self.early_stopping = bool(problems[0].config.early_stopping)

    # -- shared pieces ----------------------------------------------------------------------

    def _compute(self, *tasks):
        return self.dask.compute(*tasks)

    def _tree_sum(self, parts):
        delayed = self.dask.delayed
        while len(parts) > 1:
            parts = [
                delayed(_add)(*parts[i : i + _FAN_IN])
                if len(parts[i : i + _FAN_IN]) > 1
                else parts[i]
                for i in range(0, len(parts), _FAN_IN)
            ]
        return parts[0]

    def _params(self):
        return np.concatenate([self.coef.ravel(), self.intercept])

    def _validation_scores(self, active):
        """Validation score per active problem (NaN without early stopping)."""
        if not self.early_stopping:
            return [float("nan")] * len(active)
        delayed = self.dask.delayed
        params = delayed(self._params())
        specs = [(p.rows, p.y_fn) for p in active]
        power = None if self.classification else self.est._deviance_power()
        power = power if power is not None and power >= 1 else None
        parts = [
            delayed(_chunk_validation)(chunk, params, self.K, specs, self.classification, power)
            for chunk in self.chunks
        ]
        sums = self._compute(self._tree_sum(parts))[0][0]
        config = self.problems[0].config
        scores = []
        for row in sums:
            v = _core.ValidationSums()
            v.weight, v.hit, v.wy, v.wyy, v.sse, v.deviance, v.constant = (float(x) for x in row)
            scores.append(v.score(self.classification, config.loss, config.loss_param))
        return scores

    def _end_epochs(self, active, sumloss, train_weight):
        """Hands each active problem's epoch sums to its policy; stops the problems it stops."""
        scores = self._validation_scores(active)
        for i, prob in enumerate(active):
            coef, intercept = self.coef[prob.rows], self.intercept[prob.rows]
            finite = bool(np.isfinite(coef).all() and np.isfinite(intercept).all())
            penalty = prob.step.penalty_value(
                np.ascontiguousarray(coef), np.ascontiguousarray(intercept)
            )
            if prob.policy.end_epoch(
                float(sumloss[i]),
                float(train_weight[i]),
                penalty,
                finite,
                scores[i],
                prob.last_eta,
                prob.t,
                prob.grad_norm,
            ):
                prob.active = False
            if prob.result.diverged:
                raise ValueError(diverged_message(prob.result.n_iter, prob.result.last_eta))

    # -- full-batch and mini-batch --------------------------------------------------------------

    def _step(self, prob, grad, grad_b, batch_weight, want_norm):
        """The engine's update from a batch's gradient sums (parameters in place)."""
        rows = prob.rows
        coef = self.coef[rows]
        intercept = self.intercept[rows]
        eta = prob.policy.eta(prob.t)
        prob.last_eta = eta
        averaging = self.avg_coef is not None
        avg_coef = self.avg_coef[rows] if averaging else None
        avg_intercept = self.avg_intercept[rows] if averaging else None
        norm = prob.step.apply(
            coef,
            intercept,
            np.ascontiguousarray(grad),
            np.ascontiguousarray(grad_b),
            batch_weight,
            eta,
            prob.t,
            avg_coef,
            avg_intercept,
            want_norm,
        )
        if want_norm:
            prob.grad_norm = norm
        prob.t += 1.0

    def run_batched(self, batch_size):
        dask, delayed = self.dask, self.dask.delayed
        est = self.est
        full = batch_size == 0
        n_updates = 1 if full else -(-self.n // min(batch_size, self.n))
        n_problems = len(self.problems)
        static = dict(
            K=self.K,
            loss=self.problems[0].config.loss,
            loss_param=est._loss_param(),
            class_weight=self.class_weight,
            one_vs_rest=self.one_vs_rest,
        )
        for epoch in range(self.max_iter):
            active = [p for p in self.problems if p.active]
            if not active:
                break
            orders = [None] * len(self.chunks)
            if not full and est.shuffle:
                orders = dask.persist(
                    *[
                        delayed(_chunk_order)(n_c, self.seed, epoch, c)
                        for c, n_c in enumerate(self.sizes)
                    ]
                )
            sumloss = np.zeros(n_problems)
            sumweight = np.zeros(n_problems)
            for j in range(n_updates):
                params = delayed(self._params())
                parts = []
                for c, (chunk, n_c) in enumerate(zip(self.chunks, self.sizes)):
                    lo, hi = (n_c * j) // n_updates, (n_c * (j + 1)) // n_updates
                    if hi > lo:
                        parts.append(
                            delayed(_chunk_sums)(chunk, orders[c], lo, hi, params, **static)
                        )
                loss, weight, grad, grad_b = self._compute(self._tree_sum(parts))[0]
                sumloss += loss
                sumweight += weight
                for q, prob in enumerate(self.problems):
                    if prob.active and weight[q] != 0.0:
                        self._step(
                            prob, grad[prob.rows], grad_b[prob.rows], weight[q], j == n_updates - 1
                        )
            index = [self.problems.index(p) for p in active]
            self._end_epochs(active, sumloss[index], sumweight[index])

    # -- per-sample SGD: local epochs and parameter averaging -----------------------------------

    def run_local(self, config, problem_specs):
        delayed = self.dask.delayed
        K, d = self.K, self.d
        longest = max(self.sizes)
        averaging = self.avg_coef is not None
        for epoch in range(self.max_iter):
            active = [q for q, p in enumerate(self.problems) if p.active]
            if not active:
                break
            specs = [problem_specs[q] for q in active]
            prob0 = self.problems[active[0]]
            fields = dict(config, schedule=self._local_schedule(prob0))
            params = [self._params()]
            if averaging:
                params.append(np.concatenate([self.avg_coef.ravel(), self.avg_intercept]))
            params = delayed(params)
            parts = [
                delayed(_local_epoch)(
                    chunk,
                    params,
                    K,
                    specs,
                    fields,
                    prob0.t,
                    self.seed + 7919 * (epoch * len(self.chunks) + c),
                )
                for c, chunk in enumerate(self.chunks)
            ]
            result = self._compute(self._tree_sum(parts))[0]
            objective, weight, wcoef, wintercept = result[:4]
            sumloss = np.zeros(len(active))
            for i, q in enumerate(active):
                prob = self.problems[q]
                w = weight[i]
                if w > 0:
                    self.coef[prob.rows] = (wcoef[prob.rows] / w).astype(self.dtype)
                    self.intercept[prob.rows] = (wintercept[prob.rows] / w).astype(self.dtype)
                    if averaging:
                        wavg = result[4]
                        self.avg_coef[prob.rows] = (
                            wavg[: K * d].reshape(K, d)[prob.rows] / w
                        ).astype(self.dtype)
                        self.avg_intercept[prob.rows] = (wavg[K * d :][prob.rows] / w).astype(
                            self.dtype
                        )
                prob.last_eta = prob.policy.eta(prob.t + longest - 1)
                prob.t += longest
                # The chunks' objectives include their own penalties: the weighted mean loss.
                penalty = prob.step.penalty_value(
                    np.ascontiguousarray(self.coef[prob.rows]),
                    np.ascontiguousarray(self.intercept[prob.rows]),
                )
                sumloss[i] = float(objective[i]) - penalty * w
            self._end_epochs([self.problems[q] for q in active], sumloss, weight)

    def _local_schedule(self, prob):
        schedule = _core.Schedule(**prob.policy.schedule.to_dict())
        if schedule.kind == _core.ScheduleKind.adaptive:
            schedule.eta0 = prob.policy.eta_adaptive
        return schedule


def fit(est, plan, X, y, *, sample_weight=None, coef_init=None, intercept_init=None):
    """Fit `est` (an SGDRegressor or SGDClassifier) data-parallel on dask X, by `plan` (its
    FitPlan); see the module."""
    dask, da = _import_dask()
    classifier = plan.classifier
    X_in = X
    X = _as_rows(X, da, "X")
    if X.ndim != 2:
        raise ValueError(f"Expected 2D array, got {X.ndim}D array instead.")
    n, d = X.shape
    if n == 0 or d == 0:
        raise ValueError(
            f"Found array with shape {X.shape}; at least 1 sample and 1 feature are required."
        )
    _set_feature_names(est, X_in)
    est.n_features_in_ = d
    dtype = np.dtype(np.float32 if X.dtype == np.float32 or is_half_dtype(X.dtype) else np.float64)
    y = _aligned(y, X, da, "y")
    if y is None:
        raise ValueError("requires y to be passed, but the target y is None")
    sample_weight = _aligned(sample_weight, X, da, "sample_weight")

    classes = None
    if classifier:
        classes = np.unique(da.unique(y).compute())
        check_classification_targets(classes)
        if classes.shape[0] < 2:
            raise ValueError(
                f"The number of classes has to be greater than one; got {classes.shape[0]} class"
            )
    n_classes = 0 if classes is None else classes.shape[0]
    binary = n_classes == 2

    sizes = [int(c) for c in X.chunks[0]]
    delayed = dask.delayed
    x_blocks = X.to_delayed().ravel()
    y_blocks = y.to_delayed().ravel()
    w_blocks = [None] * len(sizes) if sample_weight is None else sample_weight.to_delayed().ravel()
    # The validation rows of the in-memory estimators: the same split of the whole y (n labels
    # come to the client, X stays on the workers).
    mask_blocks = [None] * len(sizes)
    if est.early_stopping:
        y_all, w_all = dask.compute(y, sample_weight)
        mask = plan.validation_mask(np.asarray(y_all), w_all)
        bounds = np.cumsum([0] + sizes)
        mask_blocks = [mask[bounds[c] : bounds[c + 1]] for c in range(len(sizes))]
    keep = [c for c, n_c in enumerate(sizes) if n_c > 0]
    chunks = dask.persist(
        *[
            delayed(_prepare_chunk)(
                x_blocks[c], y_blocks[c], w_blocks[c], dtype, classes, binary, mask_blocks[c]
            )
            for c in keep
        ]
    )
    if sample_weight is not None:
        total = sum(dask.compute(*[delayed(_chunk_weight)(c) for c in chunks]))
        if not total > 0:
            raise ValueError("Sample weights must contain at least one non-zero number.")
    if est.early_stopping:
        sizes = [int(np.count_nonzero(mask_blocks[c] == 0)) for c in keep]
    else:
        sizes = [sizes[c] for c in keep]
    n_train = int(sum(sizes))

    # Problems, as the in-memory estimators set them up.
    multinomial = classifier and est.multi_class == "multinomial" and n_classes > 2
    K = n_classes if n_classes > 2 else 1
    class_weight = None
    if classifier:
        if est.class_weight == "balanced":
            counts = np.sum(
                dask.compute(*[delayed(_chunk_labels_count)(c, n_classes) for c in chunks]), axis=0
            )
            class_weight = n / (n_classes * counts.astype(np.float64))
        else:
            class_weight = compute_class_weight(est.class_weight, classes=classes, y=classes)
        class_weight = np.ascontiguousarray(class_weight, dtype=np.float64)
    one_vs_rest = classifier and K > 1 and not multinomial
    if multinomial:
        loss = _core.LossKind.multinomial
        rows_of = [slice(None)]
        y_fns = [_binary_target]
    elif one_vs_rest:
        loss = LOSSES[est.loss]
        rows_of = [slice(k, k + 1) for k in range(K)]
        y_fns = [partial(_binary_target, k=k) for k in range(K)]
    else:
        loss = LOSSES[est.loss] if classifier else est._loss_kind()
        rows_of = [slice(0, 1)]
        y_fns = [_binary_target]
    if not classifier:
        intercept_init = _regression_targets(
            est, dask, y, sample_weight, mask_blocks, intercept_init
        )

    coef, intercept, avg_coef, avg_intercept = plan.parameters(
        K, d, dtype, coef_init, intercept_init
    )
    averaging = avg_coef is not None
    max_iter = plan.max_iter
    batch_size = plan.batch_size(n_train)
    config = plan.config(loss, n_train)

    def view(t):  # what coef_ / intercept_ are after t - 1 updates
        c, i = (
            (avg_coef, avg_intercept) if averaging and est.average <= t - 1 else (coef, intercept)
        )
        return (c, i) if classifier else (c.reshape(-1), i)

    def fitted_state(results, history):  # the fitted attributes after `results`
        t = max(r.t for r in results)
        use_average = averaging and est.average <= t - 1
        c, i = (avg_coef, avg_intercept) if use_average else (coef, intercept)
        state = dict(
            _standard_coef=coef if classifier else coef.reshape(-1),
            _standard_intercept=intercept,
            _average_coef=avg_coef if classifier or avg_coef is None else avg_coef.reshape(-1),
            _average_intercept=avg_intercept,
            n_iter_=max(r.n_iter for r in results),
            t_=t,
            loss_curve_=mean_curve([list(r.loss_curve) for r in results]),
            history_=history,
            coef_=c if classifier else c.reshape(-1),
            intercept_=i,
        )
        if classifier:
            state["classes_"] = classes
        return state

    def snapshot(monitor):  # a checkpoint taken by a callback (the optimizer restarts from it)
        progress = [monitor.progress(q, 1.0, None) for q in range(len(rows_of))]
        return fitted_state(progress, monitor.history())

    labels = list(classes.tolist()) if one_vs_rest else [None]
    fitted = {"classes_": classes} if classifier else {}
    with plan.monitored(labels, [view] * len(labels), fitted, snapshot) as monitor:
        problems = [
            _Problem(config, rows, y_fn, plan.optimizer, dtype, 1.0, monitor.epoch_callback(q))
            for q, (rows, y_fn) in enumerate(zip(rows_of, y_fns))
        ]
        trainer = _Trainer(
            est,
            dask,
            chunks,
            sizes,
            K,
            d,
            dtype,
            problems,
            class_weight,
            one_vs_rest,
            coef,
            intercept,
            avg_coef,
            avg_intercept,
            max_iter,
            plan.seed,
        )
        if plan.per_sample:
            local = _local_config(config)
            if one_vs_rest:
                specs = [
                    (slice(k, k + 1), y_fns[k], np.array([1.0, class_weight[k]]), loss)
                    for k in range(K)
                ]
            else:
                cw = class_weight if classifier else None
                specs = [(rows_of[0], _binary_target, cw, loss)]
            trainer.run_local(local, specs)
        else:
            trainer.run_batched(batch_size)

    results = [
        SimpleNamespace(n_iter=p.result.n_iter, t=p.t, loss_curve=p.result.loss_curve)
        for p in problems
    ]
    state = fitted_state(results, monitor.history())
    stopped = any(p.result.stopped_by_callback for p in problems)
    plan.commit(state, state["n_iter_"], stopped)
    monitor.end()
    return est


def _regression_targets(est, dask, y, sample_weight, mask_blocks, intercept_init):
    """Checks a regressor's targets against its loss's range and returns its starting
    intercept (see SGDRegressor._start_intercept); brings y (not X) to the client only for
    the losses that read it."""
    if not est._reads_targets():
        return est._start_intercept(intercept_init, None, None)
    y, w = dask.compute(y, sample_weight)
    y = np.asarray(y, dtype=np.float64)
    w = np.ones_like(y) if w is None else np.asarray(w, dtype=np.float64)
    est._check_targets(y)
    train = slice(None) if mask_blocks[0] is None else np.concatenate(mask_blocks) == 0
    return est._start_intercept(intercept_init, y[train], w[train])


def _set_feature_names(est, X):
    """feature_names_in_ from a dask DataFrame's string column names, as for pandas input."""
    columns = getattr(X, "columns", None)
    if columns is not None and len(columns) and all(isinstance(c, str) for c in columns):
        est.feature_names_in_ = np.asarray(list(columns), dtype=object)
    elif hasattr(est, "feature_names_in_"):
        del est.feature_names_in_


# The fit's TrainConfig fields that a worker's local epoch keeps.
_LOCAL_FIELDS = (
    "loss_param",
    "penalty",
    "alpha",
    "l1_ratio",
    "fit_intercept",
    "intercept_decay",
    "intercept_linear",
    "shuffle",
    "average",
)


def _local_config(config):
    """TrainConfig fields (picklable) for one local per-sample epoch on a worker: the fit's
    configuration `config`, for one epoch of single rows on one thread; the client decides
    when to stop."""
    fields = {name: getattr(config, name) for name in _LOCAL_FIELDS}
    return dict(
        fields,
        max_iter=1,
        tol=-np.inf,
        n_iter_no_change=1,
        early_stopping=False,
        batch_size=1,
        n_threads=1,
    )


# ---- prediction -------------------------------------------------------------------------------


def _apply(block, est, method, columns):
    if columns is not None and not sp.issparse(block):
        import pandas as pd

        block = pd.DataFrame(block, columns=columns, copy=False)
    return getattr(est, method)(block)


def ones_for_rows(X):
    """A dask array of ones with X's row chunks (the one-class SVM's targets)."""
    _, da = _import_dask()
    X = _as_rows(X, da, "X")
    return da.ones(X.shape[0], chunks=(X.chunks[0],))


def blockwise(est, method, X):
    """est.method on every row chunk of dask X, as a dask array (nothing is computed)."""
    _, da = _import_dask()
    columns = None
    if hasattr(X, "to_dask_array"):
        columns = getattr(est, "feature_names_in_", None)
        if columns is not None and list(X.columns) != list(columns):
            raise ValueError(
                "The feature names should match those that were passed during fit; got "
                f"{list(X.columns)}, expected {list(columns)}."
            )
        X = X.to_dask_array(lengths=True)
    X = _as_rows(X, da, "X")
    if X.ndim != 2:
        raise ValueError(f"Expected 2D array, got {X.ndim}D array instead.")
    if X.shape[1] != est.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(est).__name__} is expecting "
            f"{est.n_features_in_} features as input."
        )
    n_outputs = {
        "decision_function": 0
        if est.coef_.ndim == 1 or est.coef_.shape[0] == 1
        else est.coef_.shape[0],
        "predict": 0,
        "score_samples": 0,
        "predict_proba": len(getattr(est, "classes_", ())),
        "predict_log_proba": len(getattr(est, "classes_", ())),
    }[method]
    if method == "predict" and is_outlier_detector(est):
        dtype = np.dtype(np.int32)  # 1 for inliers, -1 for outliers
    elif method == "predict":
        dtype = est.classes_.dtype if hasattr(est, "classes_") else est.coef_.dtype
    else:
        dtype = est.coef_.dtype if method in ("decision_function", "score_samples") else np.float64
    fn = partial(_apply, est=est, method=method, columns=columns)
    if n_outputs == 0:
        return X.map_blocks(fn, drop_axis=1, dtype=dtype, meta=np.empty(0, dtype=dtype))
    return X.map_blocks(
        fn, chunks=(X.chunks[0], (n_outputs,)), dtype=dtype, meta=np.empty((0, 0), dtype=dtype)
    )


def score(est, X, y, sample_weight=None, *, classifier):
    """Accuracy (classifier) or R^2 (regressor) as a 0-d dask array, computed blockwise."""
    _, da = _import_dask()
    pred = blockwise(est, "predict", X)
    y = _aligned(y, pred[:, None], da, "y")
    w = _aligned(sample_weight, pred[:, None], da, "sample_weight")
    w = da.ones_like(pred, dtype=np.float64) if w is None else w.astype(np.float64)
    if classifier:
        return (w * (pred == y)).sum() / w.sum()
    y = y.astype(np.float64)
    power = est._deviance_power()
    if power is not None and power >= 1:
        return deviance_score(y, pred, w, power)
    total = w.sum()
    mean = (w * y).sum() / total
    sse = (w * (y - pred) ** 2).sum()
    sst = (w * (y - mean) ** 2).sum()
    return da.where(sst > 0, 1.0 - sse / da.where(sst > 0, sst, 1.0), da.where(sse == 0, 1.0, 0.0))
