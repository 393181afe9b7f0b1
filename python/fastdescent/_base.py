"""Parts shared by the SGD estimators: hyperparameters, input checks and the call into C++."""

from __future__ import annotations

import functools
import threading
import warnings
from contextlib import contextmanager
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from joblib import effective_n_jobs
from sklearn.base import BaseEstimator, is_classifier
from sklearn.exceptions import ConvergenceWarning, EfficiencyWarning
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import (
    _assert_all_finite,
    _check_sample_weight,
    check_random_state,
    column_or_1d,
    validate_data,
)

from . import _core, optim, schedules
from . import cuda as _cuda  # no Numba import: that happens only when a GPU fit starts
from ._monitor import FitMonitor

MAX_INT = np.iinfo(np.int32).max
MAX_INT64 = np.iinfo(np.int64).max  # integer hyperparameters are bounded by the core's types
_MISSING = object()

LOSSES = {
    "squared_error": _core.LossKind.squared_error,
    "huber": _core.LossKind.huber,
    "epsilon_insensitive": _core.LossKind.epsilon_insensitive,
    "squared_epsilon_insensitive": _core.LossKind.squared_epsilon_insensitive,
    "log_loss": _core.LossKind.log_loss,
    "hinge": _core.LossKind.hinge,
    "squared_hinge": _core.LossKind.squared_hinge,
    "modified_huber": _core.LossKind.modified_huber,
    "perceptron": _core.LossKind.perceptron,
    "absolute_error": _core.LossKind.absolute_error,
    "quantile": _core.LossKind.quantile,
    "poisson": _core.LossKind.poisson,
    "gamma": _core.LossKind.gamma,
    "tweedie": _core.LossKind.tweedie,
}
CLASSIFICATION_LOSSES = (
    "hinge",
    "log_loss",
    "modified_huber",
    "squared_hinge",
    "perceptron",
    "squared_error",
    "huber",
    "epsilon_insensitive",
    "squared_epsilon_insensitive",
)
REGRESSION_LOSSES = (
    "squared_error",
    "huber",
    "epsilon_insensitive",
    "squared_epsilon_insensitive",
    "absolute_error",
    "quantile",
    "poisson",
    "gamma",
    "tweedie",
)
PENALTIES = {
    None: _core.PenaltyKind.none,
    "l2": _core.PenaltyKind.l2,
    "l1": _core.PenaltyKind.l1,
    "elasticnet": _core.PenaltyKind.elasticnet,
}


def draw_seed(random_state, size=None):
    """The trainer's seed (or `size` of them, one per problem), drawn as scikit-learn's SGD
    draws it: randint(0, MAX_INT) from check_random_state(random_state). For an int they are
    a function of the int, kept: seeding a RandomState costs about 50 us, a tenth of a fit of
    a few hundred rows."""
    if isinstance(random_state, Integral):
        seeds = _seeds_of_int(int(random_state), size)
        return seeds if size is None else np.array(seeds)
    return check_random_state(random_state).randint(0, MAX_INT, size=size)


@functools.lru_cache(maxsize=1024)
def _seeds_of_int(random_state, size):
    seeds = check_random_state(random_state).randint(0, MAX_INT, size=size)
    return seeds if size is None else tuple(seeds)


def named_optimizer(name):
    """The optimizer an estimator's optimizer name stands for, with default hyperparameters:
    "sgd" (None) is scikit-learn's plain SGD, "momentum" and "nesterov" SGD with momentum 0.9,
    and every other name (OPTIMIZERS) the registered optimizer of that name. Built per fit,
    one at a time: building all of them took a tenth of a small fit."""
    if name == "sgd":
        return None
    if name in ("momentum", "nesterov"):
        return optim.SGD(lr=0.01, momentum=0.9, nesterov=name == "nesterov")
    # Adafactor gets a float lr (its value is not used): with a name, learning_rate / eta0
    # give the step size; lr=None would mean the relative step, which ignores them.
    cls = optim.BY_KIND[name]
    return cls(lr=0.01) if name == "adafactor" else cls()


OPTIMIZERS = tuple(
    dict.fromkeys(
        ["sgd", "momentum", "nesterov"] + [i["name"] for i in _core.optimizer_registry()]
    )
)


class InputChecks:
    """The input checks every estimator shares: X as the C++ core reads it, and NaN or
    infinity refused with scikit-learn's error."""

    def _check_X(self, X, reset):
        """Validated X: float32 kept as float32, a dense float16 or bfloat16 array kept as
        stored (the core reads it in float32 without a copy), anything else as float64.

        A C-contiguous (or row-strided) dense array, read-only or memory-mapped included, and a
        CSR matrix are used as they are. Copies are made only where the C++ core cannot read the
        input directly: integer, boolean or object X holding numbers (converted to float64),
        Fortran-ordered, column-strided, reversed or misaligned X (made C-contiguous), and
        CSC/COO matrices (converted to CSR once). String and complex X are refused.
        """
        _reject_strings(X, "X")
        X = validate_data(
            self,
            host_array(X),
            reset=reset,
            accept_sparse="csr",
            dtype=None if is_half(X) else [np.float64, np.float32],
            accept_large_sparse=True,
            ensure_all_finite=False,
        )
        return self._check_finite(_rows_readable(X))

    def _check_finite(self, X, defer=False):
        """X, after scikit-learn's error if it holds NaN or infinity.

        The scan runs in C++ on as many threads as the OpenMP limit allows (threadpoolctl and
        OMP_NUM_THREADS set it; NumPy's check reads X on one thread), as a NumPy operation
        would; only when it finds a bad value does scikit-learn's own check run, to word the
        error. ``defer=True`` leaves a dense X to the trainer's first epoch, which checks the
        rows as it reads them (see `train`): no pass of its own.
        """
        if defer and not sp.issparse(X):
            return X
        # Dense X comes from _rows_readable, in a layout the scan reads; CSR data is usually
        # contiguous, and scikit-learn's check reads it otherwise.
        values = X.data if sp.issparse(X) else X
        readable = not sp.issparse(X) or (values.flags.c_contiguous and values.flags.aligned)
        if not (readable and _core.all_finite(values, _core.openmp_max_threads())):
            _assert_all_finite(
                _numpy_float(values), input_name="X", estimator_name=type(self).__name__
            )
        return X


class BaseSGD(InputChecks, BaseEstimator):
    """Hyperparameters and training machinery shared by SGDRegressor and SGDClassifier."""

    _parameter_constraints: dict = {
        "penalty": [StrOptions({"l2", "l1", "elasticnet"}), None],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both"), None],
        "fit_intercept": ["boolean"],
        "max_iter": [Interval(Integral, 1, MAX_INT, closed="both")],
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "shuffle": ["boolean"],
        "verbose": ["verbose"],
        "epsilon": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "learning_rate": [
            StrOptions({"auto", *schedules.ESTIMATOR_SCHEDULES}),
            schedules.Schedule,
        ],
        "eta0": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, None, None, closed="neither")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, MAX_INT, closed="both")],
        "warm_start": ["boolean"],
        "average": [Interval(Integral, 0, MAX_INT64, closed="right"), "boolean"],
        "batch_size": [Interval(Integral, 1, MAX_INT64, closed="both"), StrOptions({"full"})],
        "optimizer": [StrOptions(set(OPTIMIZERS)), optim.Optimizer],
        "clip_value": [Interval(Real, 0, None, closed="neither"), None],
        "clip_norm": [Interval(Real, 0, None, closed="neither"), None],
        "sparse_updates": [StrOptions({"exact", "lazy"})],
        "n_jobs": [Integral, None],
        "callbacks": [list, tuple, None],
        "device": [StrOptions({"cpu", "cuda", "auto"})],
        "gpu_dtype": [StrOptions({"float32", "float64"}), None],
    }

    # ---- checks -------------------------------------------------------------------------

    def _check_hyperparams(self, for_partial_fit=False):
        """Checks that span several parameters (single ones are in _parameter_constraints)."""
        if self.early_stopping and for_partial_fit:
            raise ValueError("early_stopping should be False with partial_fit")
        if self.alpha == 0 and self.learning_rate == "optimal":
            raise ValueError(
                "alpha must be > 0 since learning_rate is 'optimal'. alpha is used to "
                "compute the optimal learning rate."
            )
        if (
            self.alpha == 0
            and self.learning_rate == "auto"
            and is_classifier(self)
            and self._auto_rule() == "scikit-learn"
        ):
            raise ValueError(
                "alpha must be > 0 since learning_rate is 'optimal' (what 'auto' means here). "
                "alpha is used to compute the optimal learning rate."
            )
        if self.learning_rate in ("pa1", "pa2"):
            needed = "hinge" if is_classifier(self) else "epsilon_insensitive"
            if self.loss != needed:
                raise ValueError(
                    f"Learning rate '{self.learning_rate}' only works with loss '{needed}'."
                )
            if self.batch_size != 1 or not self._plain_sgd():
                raise ValueError(
                    f"Learning rate '{self.learning_rate}' is a per-sample rule: it needs "
                    f"batch_size=1 and optimizer='sgd', got batch_size={self.batch_size!r} "
                    f"and optimizer={self.optimizer!r}."
                )
        if self.penalty == "elasticnet" and self.l1_ratio is None:
            raise ValueError("l1_ratio must be set when penalty is 'elasticnet'")
        from .callbacks import Callback

        for cb in self.callbacks or ():
            if not isinstance(cb, Callback):
                raise TypeError(
                    "callbacks must be a list of fastdescent.callbacks.Callback objects; got "
                    f"an object of type {type(cb).__name__}."
                )

    def _check_X_y(self, X, y, reset, y_numeric, defer_finite=False):
        """Validated X (as in _check_X, float16 / bfloat16 kept) and a 1-D y; a regressor's y
        must be numbers. With
        defer_finite, a dense X is checked for NaN and infinity by the trainer (see `train`)
        or by `_gpu_data`, not here."""
        if _cuda.is_device_array(X):
            return self._check_device_X_y(X, y, reset)
        _reject_strings(X, "X")
        if y_numeric:
            _reject_strings(y, "y")
        multi_output = self.__sklearn_tags__().target_tags.multi_output
        X, y = validate_data(
            self,
            X,
            y,
            reset=reset,
            accept_sparse="csr",
            dtype=None if is_half(X) else [np.float64, np.float32],
            accept_large_sparse=True,
            y_numeric=y_numeric,
            multi_output=multi_output,
            ensure_all_finite=False,
        )
        if multi_output and y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)  # scikit-learn's DataConversionWarning
        return self._check_finite(_rows_readable(X), defer=defer_finite), y

    # ---- device ---------------------------------------------------------------------------

    def _gpu_unsupported(self, X):
        """Why this fit cannot run on the GPU (None when it can)."""
        if sp.issparse(X):
            return "sparse X (the GPU trainer reads dense row-major arrays)"
        if self.batch_size == 1:
            return (
                "batch_size=1 (per-sample SGD is a sequential chain of tiny updates, slower "
                "on a GPU than on the CPU); use a mini-batch (e.g. batch_size=256) or "
                "batch_size='full'"
            )
        if self.learning_rate in ("pa1", "pa2"):
            return f"learning_rate={self.learning_rate!r} (a per-sample rule)"
        kind = self.optimizer if isinstance(self.optimizer, str) else None
        if kind is None:
            spec = self.optimizer.to_spec()
            kind = spec.kind.name
        if kind not in ("momentum", "nesterov") + _cuda.SUPPORTED_OPTIMIZERS:
            return (
                f"optimizer {kind!r} (supported on the GPU: sgd, momentum, nesterov, "
                f"{', '.join(_cuda.SUPPORTED_OPTIMIZERS[1:])})"
            )
        return None

    def _use_gpu(self, X):
        """Whether this fit trains on the GPU, by the `device` rule of the docstring.

        Raises a clear error when device='cuda' cannot be honoured.
        """
        device = getattr(self, "device", "cpu")
        on_device = _cuda.is_device_array(X)
        if device == "cpu":
            if on_device:
                raise ValueError(
                    "X is a GPU array (it has __cuda_array_interface__) but device='cpu'; use "
                    "device='cuda' (or 'auto') to train on the GPU, or copy X to the host."
                )
            return False
        reason = self._gpu_unsupported(X)
        if device == "auto":
            usable = _cuda.is_available() or (on_device and _cuda_simulated())
            if reason is None and usable:
                return True
            if on_device:
                raise ValueError(
                    "X is a GPU array but this fit cannot run on the GPU: "
                    + (reason or "no usable CUDA GPU")
                    + "."
                )
            return False
        _cuda.check_available()
        if reason is not None:
            raise ValueError(
                f"device='cuda' does not support {reason}. Use device='cpu' or "
                "device='auto' (which falls back to the CPU)."
            )
        return True

    def _refuse_gpu_for_dask(self):
        if getattr(self, "device", "cpu") == "cuda":
            raise ValueError(
                "device='cuda' does not train on dask collections (they train data-parallel on "
                "the workers' CPUs); use device='cpu' or 'auto', or compute X to one array."
            )

    def _gpu_data(self, X):
        """X on the GPU in the training dtype (see gpu_dtype), or None to train on the CPU."""
        if not self._use_gpu(X):
            return None
        from .cuda import _trainer

        if not _cuda.is_device_array(X):
            self._check_finite(X)  # the GPU trainer does not check the rows it reads

        if self.gpu_dtype is not None:
            dtype = np.dtype(self.gpu_dtype)
        elif _cuda.is_device_array(X):
            dtype = _cuda.device_array_info(X)[1]
            if dtype == np.float16:  # kept as stored, trained in float32
                dtype = np.dtype(np.float32)
        else:
            dtype = np.dtype(np.float32)
        return _trainer.to_device(X, dtype)

    def _check_device_X_y(self, X, y, reset):
        """Checks of a GPU-resident X (it is not copied, so only its shape and dtype); y and
        sample weights are small and come to the host."""
        if getattr(self, "device", "cpu") == "cpu":
            self._use_gpu(X)  # raises the device='cpu' error
        shape = _cuda.device_array_info(X)[0]
        if len(shape) != 2:
            raise ValueError(f"Expected a 2D array, got a {len(shape)}D GPU array instead.")
        if _cuda.is_device_array(y):
            y = _cuda.as_device_array(y).copy_to_host()
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        if y.ndim != 1:
            raise ValueError(f"y should be a 1d array, got an array of shape {y.shape} instead.")
        if y.shape[0] != shape[0]:
            raise ValueError(
                f"Found input variables with inconsistent numbers of samples: [{shape[0]}, "
                f"{y.shape[0]}]"
            )
        if shape[0] < 1:
            raise ValueError(
                f"Found array with 0 sample(s) (shape={shape}) while a minimum of 1 is required."
            )
        if reset:
            self.n_features_in_ = shape[1]
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        elif shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        return X, y

    @staticmethod
    def _check_sample_weight(sample_weight, y, dtype):
        """Sample weights, one per row of y, in `dtype`: finite, non-negative, not all zero.

        None gives ones as a read-only broadcast view, not an array: a fresh array of a million
        rows is a noticeable part of a short fit, and `train` passes unit weights on as none.
        """
        if sample_weight is None:
            return np.broadcast_to(np.ones(1, dtype=dtype), (y.shape[0],))
        return _check_sample_weight(sample_weight, y, dtype=dtype, ensure_non_negative=True)

    def _batch_size(self, n_train):
        if self.batch_size == "full":
            return 0
        if self.batch_size > n_train:
            raise ValueError(
                f"batch_size={self.batch_size} is larger than the number of training samples "
                f"({n_train}); use a smaller batch_size or batch_size='full'."
            )
        return int(self.batch_size)

    # ---- training -----------------------------------------------------------------------

    def _loss_kind(self):
        """The core's loss for `loss` (tweedie with power 0, 1 or 2 is squared_error, poisson or
        gamma)."""
        if self.loss == "tweedie":
            by_power = {0.0: "squared_error", 1.0: "poisson", 2.0: "gamma"}
            return LOSSES[by_power.get(float(self.power), "tweedie")]
        return LOSSES[self.loss]

    def _loss_param(self):
        """The core's loss parameter: the quantile, the tweedie power, or epsilon."""
        if self.loss == "quantile":
            return float(self.quantile)
        if self.loss == "tweedie":
            return float(self.power)
        return float(self.epsilon)

    def _fit_one_output(
        self, X, y, sample_weight, coef_init, intercept_init, max_iter, reset, resume, partial
    ):
        """Trains the regressor (one output, or one per column of a 2-D y) or the one-class
        SVM on (X, y) in memory or on the GPU and commits the fitted state; `reset` checks X
        afresh, `resume` continues from the fitted state (partial_fit), `partial` skips the
        warnings of a fit."""
        X, y = self._check_X_y(X, y, reset=reset, y_numeric=True, defer_finite=True)
        gpu = self._gpu_data(X)
        dtype = compute_dtype(X) if gpu is None else gpu.dtype
        y = np.ascontiguousarray(y, dtype=dtype)
        K = 1 if y.ndim == 1 else y.shape[1]  # outputs
        if K > 1 and gpu is not None:
            raise ValueError(
                f"device='cuda' trains one output; y has {K} columns. Use device='cpu' for "
                "multi-output regression."
            )
        if resume and self.intercept_.shape[0] != K:
            raise ValueError(
                f"y has {K} output(s) but the model was fitted with {self.intercept_.shape[0]}."
            )
        self._check_targets(y)
        n_samples, n_features = X.shape if gpu is None else gpu.X.shape
        sample_weight = self._check_sample_weight(sample_weight, y, dtype)
        validation_mask = self._validation_mask(y, sample_weight)
        if not resume:
            fit_rows = _training_rows(validation_mask)
            w = sample_weight[fit_rows]
            if K == 1:
                intercept_init = self._start_intercept(intercept_init, y[fit_rows], w)
            elif intercept_init is None and self._reads_targets():
                starts = [self._start_intercept(None, y[fit_rows, k], w) for k in range(K)]
                intercept_init = [0.0 if s is None else s[0] for s in starts]

        coef, intercept, avg_coef, avg_intercept = self._parameters(
            K, n_features, dtype, coef_init, intercept_init, resume
        )
        if K == 1:  # coef_ is 1-D for one output, (n_outputs, n_features) for several
            coef = coef.reshape(-1)
        average = avg_coef is not None
        if average and K == 1:
            avg_coef = avg_coef.reshape(-1)

        seed = draw_seed(self.random_state)
        n_train = n_samples - _n_held_out(validation_mask)
        optimizer_spec = self._optimizer_spec()
        t0, states, schedule_rows = self._continuation(resume, 1, n_train, optimizer_spec)
        cfg = self._config(
            self._loss_kind(),
            max_iter,
            seed,
            self._n_threads(),
            n_train,
            schedule_rows if resume else None,
            scales=(
                self._data_scales(X, y, sample_weight, validation_mask)
                if gpu is None
                else DataScales()
            ),
            in_memory=gpu is None,
            sparse=sp.issparse(X),
        )

        def view(t):  # what coef_ / intercept_ are after t - 1 updates
            if average and self.average <= t - 1:
                return avg_coef, avg_intercept
            return coef, intercept

        def fitted(results, history):  # the fitted attributes after `results`
            buffers = (coef, intercept, avg_coef, avg_intercept)
            return self._fitted_state(
                results, history, buffers, view, resume, optimizer_spec, schedule_rows
            )

        def snapshot(monitor):
            return fitted([monitor.progress(0, t0, states[0])], monitor.history())

        with self._monitored(max_iter, [None], [view], {}, snapshot) as monitor:
            res = train(
                X,
                y.reshape(-1),  # row-major: the core reads K targets per row
                coef.reshape(K, -1),
                intercept,
                cfg,
                sample_weight=sample_weight,
                validation_mask=validation_mask,
                average_coef=None if avg_coef is None else avg_coef.reshape(K, -1),
                average_intercept=avg_intercept,
                t0=t0,
                epoch_callback=monitor.epoch_callback(0),
                optimizer=optimizer_spec,
                optimizer_state=states[0],
                gpu=gpu,
                estimator_name=type(self).__name__,
            )

        commit_fitted_state(self, fitted([res], monitor.history()))
        if not partial:
            self._warn_after_fit(
                res.n_iter, res.stopped_by_callback, self.loss_curve_, self.history_
            )
            self._warn_dense_steps(X, [res])
        monitor.end()
        return self

    def _reads_targets(self):
        """Whether the loss checks the targets' range or starts from their statistics."""
        return False

    def _sklearn_schedule(self):
        """scikit-learn's default learning_rate for this estimator ('auto' in its own mode)."""
        return "optimal" if is_classifier(self) else "invscaling"

    def _check_targets(self, y):
        """Refuses targets outside the loss's range (the regressor's losses)."""

    def _start_intercept(self, intercept_init, y, w):
        """The starting intercept of a fresh fit (`intercept_init`, or one the loss picks from
        the training targets y and weights w)."""
        return intercept_init

    def _intercept_linear(self):
        """c of the objective's linear term c * intercept (the one-class SVM's nu)."""
        return 0.0

    def _deviance_power(self):
        """The Tweedie power whose deviance the loss is (squared_error 0, poisson 1, gamma 2),
        or None; the regressor scores the log-link losses by its D^2."""
        return None

    def _plain_sgd(self):
        return (
            isinstance(self.optimizer, str)
            and self.optimizer == "sgd"
            and self.clip_value is None
            and self.clip_norm is None
        )

    def _optimizer_spec(self):
        """The optimizer for the trainer; None means scikit-learn's plain SGD."""
        if isinstance(self.optimizer, str):
            opt = named_optimizer(self.optimizer)
            return None if opt is None else opt.to_spec()
        return self.optimizer.to_spec()

    def _auto_rule(self, in_memory=True):
        """What ``learning_rate="auto"`` means for this fit (the rules of the docstring):
        'scikit-learn' (its default schedule), 'solver' (the full-batch solver picks the step)
        or 'optimizer' (the optimizer's default step, scaled, with the 'adaptive' decay)."""
        if not isinstance(self.optimizer, str) or self.optimizer != "sgd":
            return "optimizer"
        solver = (
            in_memory
            and self.batch_size == "full"
            and self.clip_value is None
            and self.clip_norm is None
            and not self.average
        )
        return "solver" if solver else "scikit-learn"

    def _auto_step(self, n_train, scales):
        """The step size 'auto' gives a named optimizer (the rule of the docstring): its default
        lr (PyTorch's); for the optimizers whose step is in the weights' units, times
        min(sqrt(batch), 10) (the square-root rule of adaptive methods) and, in a regressor,
        the targets' standard deviation (the weights' scale); for SGD with momentum, at most
        (1 - momentum) / L of a batch, L = the loss's curvature bound times the largest squared
        row norm over the batch size (heavy rows would otherwise make it diverge)."""
        opt = named_optimizer(self.optimizer)
        lr = opt.lr
        batch = n_train if self.batch_size == "full" else min(int(self.batch_size), n_train)
        if self.optimizer in SCALE_FREE_OPTIMIZERS:
            return float(lr * min(np.sqrt(batch), 10.0) * scales.targets)
        if scales.rows > 0:
            multinomial = getattr(self, "multi_class", "ovr") == "multinomial"
            loss = _core.LossKind.multinomial if multinomial else self._loss_kind()
            curvature = scales.curvature or _core.loss_curvature_bound(loss) or 1.0
            lr = min(lr, (1.0 - opt.momentum) * batch / (curvature * scales.rows))
        return float(lr)

    def _data_scales(self, X, y, sample_weight, validation_mask):
        """What 'auto' reads from the data for `_auto_step`, computed only where it is used."""
        if self.learning_rate != "auto" or not isinstance(self.optimizer, str):
            return DataScales()
        power = self._deviance_power()
        if self.optimizer in SCALE_FREE_OPTIMIZERS and not is_classifier(self):
            if power is not None and power >= 1:  # the weights are on the log scale
                return DataScales()
            return DataScales(targets=_target_scale(y, sample_weight, validation_mask))
        if self.optimizer in ("momentum", "nesterov"):
            if sp.issparse(X):
                norms = np.asarray(X.multiply(X).sum(axis=1)).ravel()
            else:
                norms = _core.row_squared_norms(X, _core.openmp_max_threads())
            top = float(norms.max()) if norms.size else 0.0
            if not np.isfinite(top):
                self._check_finite(X)  # a NaN or infinity in X (else the norms overflowed)
            curvature = 0.0
            if power is not None and power >= 1:
                # A log-link loss's curvature at the starting intercept log(mean y).
                curvature = _target_mean(y, sample_weight, validation_mask) ** (2.0 - power)
            return DataScales(rows=top + (1.0 if self.fit_intercept else 0.0), curvature=curvature)
        return DataScales()

    def _schedule(self, n_train, scales=None, in_memory=True):
        """The step-size schedule for the trainer, by the one rule of the docstring: an
        optimizer object's ``lr`` (float or schedule) gives the step size; otherwise
        ``learning_rate`` (a name, with ``eta0``, or a schedule object) does; "auto" resolves
        by `_auto_rule` and `_auto_step` (with `scales`, a DataScales)."""
        if isinstance(self.optimizer, optim.Optimizer):
            lr = self.optimizer.lr
            if lr is None:  # Adafactor's relative step: the step size it is given is unused
                lr = 1.0
            if isinstance(lr, schedules.Schedule):
                return lr.to_core()
            if callable(lr):
                raise TypeError(
                    f"The optimizer's lr is a {type(lr).__name__}; the estimators run their "
                    "schedule in C++ and accept a float or a fastdescent.schedules schedule."
                )
            return schedules.Constant(lr).to_core()
        if isinstance(self.learning_rate, schedules.Schedule):
            if getattr(self.learning_rate, "mode", "min") != "min":
                raise ValueError(
                    "The estimators step a metric-driven schedule with the training objective, "
                    "which should decrease: use mode='min'."
                )
            return self.learning_rate.to_core()
        name, eta0, divisor = self.learning_rate, float(self.eta0), None
        if name == "auto":
            rule = self._auto_rule(in_memory)
            if rule == "solver":  # the solver picks every step; the schedule is unused
                return schedules.Constant(1.0).to_core()
            if rule == "optimizer":
                name, eta0 = "adaptive", self._auto_step(n_train, scales or DataScales())
                # Lion moves every weight by the whole step each update: cut by 5 at each
                # plateau it stalls short of the optimum; cut by 1.5 it travels on.
                divisor = 1.5 if self.optimizer == "lion" else None
            else:
                name = self._sklearn_schedule()
        batch = n_train if self.batch_size == "full" else min(int(self.batch_size), n_train)
        updates_per_epoch = -(-n_train // batch)
        sched = schedules.schedule_from_name(name, eta0, updates_per_epoch, int(self.max_iter))
        sched.power_t = float(self.power_t)
        if divisor is not None:
            sched.adaptive_divisor = divisor
        return sched

    def _config(
        self,
        loss,
        max_iter,
        seed,
        n_threads,
        n_train,
        schedule_rows=None,
        scales=None,
        in_memory=True,
        sparse=False,
    ):
        """The trainer's configuration; `schedule_rows` (default n_train) sets the horizon of a
        schedule that depends on the number of updates per epoch; `scales` (DataScales) and
        `in_memory` (False for the GPU and Dask) inform learning_rate="auto"; `sparse`: X is
        a scipy.sparse matrix."""
        cfg = _core.TrainConfig()
        cfg.loss = loss
        cfg.loss_param = self._loss_param()
        cfg.penalty = PENALTIES[self.penalty]
        cfg.alpha = float(self.alpha)
        cfg.l1_ratio = float(self.l1_ratio) if self.l1_ratio is not None else 0.0
        cfg.schedule = self._schedule(
            n_train if schedule_rows is None else schedule_rows, scales, in_memory
        )
        cfg.classification = is_classifier(self)
        cfg.fit_intercept = bool(self.fit_intercept)
        cfg.intercept_linear = float(self._intercept_linear())
        cfg.max_iter = int(max_iter)
        cfg.tol = float(self.tol) if self._tol_stops() else -np.inf
        cfg.n_iter_no_change = int(self.n_iter_no_change)
        cfg.early_stopping = bool(self.early_stopping)
        cfg.shuffle = bool(self.shuffle)
        cfg.seed = int(seed)
        # A partial_fit chunk smaller than batch_size is one smaller batch.
        cfg.batch_size = (
            self._batch_size(n_train)
            if schedule_rows is None
            else (0 if self.batch_size == "full" else int(self.batch_size))
        )
        cfg.average = int(self.average)
        cfg.clip_value = float(self.clip_value or 0.0)
        cfg.clip_norm = float(self.clip_norm or 0.0)
        cfg.n_threads = int(n_threads)
        cfg.sparse_lazy = self.sparse_updates == "lazy"
        sklearn_mode = self.batch_size == 1 and self._plain_sgd()
        cfg.explosion_diverges = not sklearn_mode
        cfg.running_objective = sklearn_mode  # tol as scikit-learn's: its n_iter_
        # scikit-learn damps the intercept's steps on sparse X (its words often have no
        # column of ones to balance them): its results there, and its n_iter_.
        cfg.intercept_decay = SPARSE_INTERCEPT_DECAY if sklearn_mode and sparse else 1.0
        cfg.solver = self.learning_rate == "auto" and self._auto_rule(in_memory) == "solver"
        if cfg.solver:
            # The solver's own test ends the fit (the objective's plateau test would stop it
            # early); early stopping keeps the validation score's.
            cfg.solver_tol = SOLVER_TOL_FACTOR * float(self.tol) if self.tol is not None else 0.0
            if not self.early_stopping:
                cfg.tol = -np.inf
        return cfg

    def _n_threads(self):
        """Threads for a fit: n_jobs as scikit-learn reads it (None is 1 unless a joblib
        ``parallel_backend`` context says otherwise, -1 all CPUs, -2 all but one), capped by
        the OpenMP thread limit, which ``threadpoolctl.threadpool_limits`` and
        ``OMP_NUM_THREADS`` set."""
        return max(1, min(effective_n_jobs(self.n_jobs), _core.openmp_max_threads()))

    def _continuation(self, resume, n_problems, n_train, optimizer_spec):
        """What a call starts from: (t0, the optimizer state of each problem, the rows that set
        the schedule's horizon). partial_fit continues the update count, the optimizer's state
        (unless its hyperparameters changed since) and the first call's schedule horizon; fit
        starts afresh."""
        fresh = [None] * n_problems
        if not resume:
            return 1.0, fresh, n_train
        saved = getattr(self, "_optimizer_state", None)
        spec = None if optimizer_spec is None else optimizer_spec.to_dict()
        states = fresh
        if saved is not None and saved["spec"] == spec and len(saved["states"]) == n_problems:
            states = saved["states"]
        return self.t_, states, getattr(self, "_schedule_rows", n_train)

    def _fitted_state(
        self, results, history, buffers, view, resume, optimizer_spec, schedule_rows
    ):
        """The fitted attributes after `results` (the trainer's results, or
        FitMonitor.progress for a checkpoint taken during the fit): the training `buffers`
        (coef, intercept, average coef, average intercept), coef_ / intercept_ as `view(t)`
        shows them after the last update, the counts and the records (see _records)."""
        coef, intercept, avg_coef, avg_intercept = buffers
        t = max(r.t for r in results)
        final_coef, final_intercept = view(t)
        return dict(
            _standard_coef=coef,
            _standard_intercept=intercept,
            _average_coef=avg_coef,
            _average_intercept=avg_intercept,
            n_iter_=max(r.n_iter for r in results),
            t_=t,
            coef_=final_coef,
            intercept_=final_intercept,
            **self._records(
                resume,
                mean_curve([list(r.loss_curve) for r in results]),
                history,
                results,
                optimizer_spec,
                schedule_rows,
            ),
        )

    def _records(self, resume, loss_curve, history, results, optimizer_spec, schedule_rows):
        """The fitted attributes that accumulate over partial_fit calls: loss_curve_, history_
        (epochs and times counted on from the earlier calls), the optimizer's state and the
        schedule's horizon, as plain lists, dicts and arrays."""
        state = {
            "_optimizer_state": None
            if optimizer_spec is None
            else {
                "spec": optimizer_spec.to_dict(),
                "states": [
                    None
                    if getattr(r, "optimizer_state", None) is None
                    else list(r.optimizer_state)
                    for r in results
                ],
            },
            "_schedule_rows": schedule_rows,
            "loss_curve_": list(loss_curve),
            "history_": history,
        }
        if resume and hasattr(self, "history_"):
            before = self.history_
            epochs = len(before.get("epoch", []))
            elapsed = before["time"][-1] if before.get("time") else 0.0
            shift = {"epoch": epochs, "time": elapsed}
            state["history_"] = {
                key: list(before.get(key, [])) + [v + shift.get(key, 0) for v in values]
                for key, values in history.items()
            }
            state["loss_curve_"] = list(getattr(self, "loss_curve_", [])) + list(loss_curve)
        return state

    def _validation_mask(self, y, sample_weight):
        """Rows held out for early stopping (stratified for classifiers), as uint8 (1 = held
        out); None without early stopping."""
        if not self.early_stopping:
            return None
        mask = np.zeros(y.shape[0], dtype=np.uint8)
        splitter = StratifiedShuffleSplit if is_classifier(self) else ShuffleSplit
        cv = splitter(test_size=self.validation_fraction, random_state=self.random_state)
        idx_train, idx_val = next(cv.split(np.zeros((y.shape[0], 1)), y))
        if idx_train.shape[0] == 0 or idx_val.shape[0] == 0:
            raise ValueError(
                f"Splitting {y.shape[0]} samples into a train set and a validation set with "
                f"validation_fraction={self.validation_fraction!r} led to an empty set "
                f"({idx_train.shape[0]} and {idx_val.shape[0]} samples). Please either change "
                "validation_fraction, increase number of samples, or disable early_stopping."
            )
        if not np.any(sample_weight[idx_val] > 0):
            raise ValueError(
                "The sample weights for validation set are all zero, consider using a "
                "different random state."
            )
        mask[idx_val] = 1
        return mask

    @contextmanager
    def _monitored(self, max_iter, labels, views, fitted, snapshot=None):
        """A :class:`FitMonitor` for one training call, with the fit's attributes exposed.

        With callbacks, ``coef_`` and ``intercept_`` (and the `fitted` attributes, e.g.
        ``classes_``) are set to the live training buffers before the first epoch, so that a
        callback can read or predict with the current weights, and `snapshot(monitor)` (the
        complete fitted state as of the latest epoch) is what pickling or copying the estimator
        during the fit saves, so that such a checkpoint resumes with partial_fit. If training
        fails, the estimator's previous attributes are put back and the progress bar is closed.
        """
        monitor = FitMonitor(self, max_iter, labels, views)
        saved = {}
        if monitor.callbacks:
            coef, intercept = views[0](0.0)
            exposed = dict(fitted, coef_=coef, intercept_=intercept)
            if snapshot is not None:
                exposed["_live_fit"] = functools.partial(snapshot, monitor)
            saved = {name: getattr(self, name, _MISSING) for name in exposed}
            for name, value in exposed.items():
                setattr(self, name, value)
        try:
            monitor.begin()
            yield monitor
        except BaseException as error:
            monitor.fail(error)
            for name, value in saved.items():
                if value is _MISSING:
                    self.__dict__.pop(name, None)
                else:
                    setattr(self, name, value)
            raise
        finally:
            self.__dict__.pop("_live_fit", None)

    def __getstate__(self):
        state = dict(super().__getstate__())  # which may be vars(self) itself
        state.pop("_fit_lock", None)  # a copy or a loaded model gets its own
        live = state.pop("_live_fit", None)
        if live is not None:  # pickled by a callback during a fit: the state as of now
            state.update(live())
        return state

    def _parameters(self, K, n_features, dtype, coef_init, intercept_init, resume):
        """Fresh training buffers (coef K x n_features, intercept K, and the averages or None),
        from the previous fit when resuming, else from coef_init / intercept_init or zeros:
        the fitted state changes only when training succeeds."""
        if resume:
            coef = self._standard_coef.astype(dtype, copy=True).reshape(K, n_features)
            intercept = self._standard_intercept.astype(dtype, copy=True)
        else:
            coef = np.zeros((K, n_features), dtype=dtype)
            intercept = np.zeros(K, dtype=dtype)
            if coef_init is not None:
                coef_init = np.asarray(coef_init, dtype=dtype)
                if coef_init.size != coef.size or coef_init.shape[-1] != n_features:
                    raise ValueError("Provided coef_init does not match dataset.")
                coef[:] = coef_init.reshape(K, n_features)
            if intercept_init is not None:
                intercept_init = np.asarray(intercept_init, dtype=dtype).ravel()
                if intercept_init.shape != (K,):
                    raise ValueError("Provided intercept_init does not match dataset.")
                intercept[:] = intercept_init
        avg_coef = avg_intercept = None
        if self.average > 0 and resume and getattr(self, "_average_coef", None) is not None:
            avg_coef = self._average_coef.astype(dtype, copy=True).reshape(K, n_features)
            avg_intercept = self._average_intercept.astype(dtype, copy=True)
        elif self.average > 0:
            avg_coef, avg_intercept = np.zeros_like(coef), np.zeros_like(intercept)
        return coef, intercept, avg_coef, avg_intercept

    def _fit_plan(self):
        """This fit in the engine's terms, for a backend that runs its own loop (Dask)."""
        return FitPlan(self)

    def _tol_stops(self):
        """Whether `tol` may end this fit: not for a schedule that anneals over `max_iter`
        epochs (it would stop before the step has decayed), unless early stopping asks for it."""
        if self.tol is None:
            return False
        annealing = isinstance(self.learning_rate, str) and self.learning_rate in ANNEALING
        return self.early_stopping or not annealing

    def _warn_dense_steps(self, X, results):
        """Warns once when a fit on sparse X stepped every weight at every update although each
        batch touches a small part of them (see DENSE_STEPS_RATIO): the lazy rule would be far
        faster."""
        if not sp.issparse(X) or not any(getattr(r, "strategy", "") == "batched" for r in results):
            return
        if self.batch_size == "full" or X.shape[0] == 0:
            return
        touched = X.nnz / X.shape[0] * int(self.batch_size)  # stored entries per batch
        if X.shape[1] < DENSE_STEPS_RATIO * max(touched, 1.0):
            return
        warnings.warn(
            f"Each update stepped all {X.shape[1]:,} weights (and the optimizer's state) "
            f"while a batch of {self.batch_size} rows stores about {touched:,.0f} entries. "
            "sparse_updates='lazy' steps only the batch's features (torch's SparseAdam rule), "
            "O(nnz) per update; it changes the result: features absent from a batch keep "
            "their weights, penalty and optimizer state unchanged until a batch holds them.",
            EfficiencyWarning,
            stacklevel=3,
        )

    def _warn_after_fit(self, n_iter, stopped_by_callback, loss_curve, history):
        """The warnings of a `fit` (not partial_fit), as scikit-learn gives them and where the
        training went wrong: the iteration limit reached with a `tol` in force (any max_iter),
        an objective that rose for several epochs in a row outside scikit-learn's own mode
        (naming the step size), and a negative `power_t`."""
        if not stopped_by_callback and self._tol_stops() and n_iter == self.max_iter:
            warnings.warn(
                "Maximum number of iteration reached before convergence. Consider increasing "
                "max_iter to improve the fit.",
                ConvergenceWarning,
                stacklevel=3,
            )
        rises = _rising_epochs(loss_curve)
        if rises >= RISING_EPOCHS and not (self.batch_size == 1 and self._plain_sgd()):
            step = history.get("lr", [float("nan")])[-1]
            warnings.warn(
                f"The training objective rose for the last {rises} epochs in a row (to "
                f"{loss_curve[-1]:.4g}) with a step size of {step:.3g}: the step is too large "
                "for this problem. Lower eta0 (or the optimizer's lr), or use a decaying "
                "learning_rate.",
                ConvergenceWarning,
                stacklevel=3,
            )
        if self.power_t < 0:
            warnings.warn(
                "Negative values for `power_t` are deprecated in version 1.8 and will raise an "
                "error in 1.10. Use values in the range [0.0, inf) instead.",
                FutureWarning,
                stacklevel=3,
            )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class FitPlan:
    """A fit prepared by the estimators' shared code for a backend that runs its own training
    loop (the Dask client): the hyperparameters in the engine's terms (configuration, optimizer,
    parameters, validation rows) and the hooks around training (monitor, commit of the fitted
    state). The backend reads the estimator's public hyperparameters and nothing private."""

    def __init__(self, estimator):
        self._est = estimator
        self.classifier = is_classifier(estimator)
        self.optimizer = estimator._optimizer_spec()
        self.per_sample = estimator.batch_size == 1 and estimator._plain_sgd()
        self.max_iter = int(estimator.max_iter)
        self.seed = draw_seed(estimator.random_state)

    def config(self, loss, n_train):
        """The trainer's configuration for `loss` on n_train training rows."""
        est = self._est
        return est._config(
            loss, self.max_iter, self.seed, est._n_threads(), n_train, in_memory=False
        )

    def batch_size(self, n_train):
        return self._est._batch_size(n_train)

    def parameters(self, K, n_features, dtype, coef_init, intercept_init):
        return self._est._parameters(K, n_features, dtype, coef_init, intercept_init, False)

    def validation_mask(self, y, sample_weight):
        """The in-memory estimators' validation rows for the whole y (uint8, 1 = held out)."""
        est = self._est
        return est._validation_mask(y, est._check_sample_weight(sample_weight, y, np.float64))

    def monitored(self, labels, views, fitted, snapshot=None):
        return self._est._monitored(self.max_iter, labels, views, fitted, snapshot)

    def commit(self, state, n_iter, stopped_by_callback):
        """Sets the fitted attributes at once, then gives the warnings of a fit."""
        commit_fitted_state(self._est, state)
        self._est._warn_after_fit(
            n_iter, stopped_by_callback, state["loss_curve_"], state["history_"]
        )


# Schedules that anneal over max_iter epochs: `tol` does not cut them short (see _tol_stops).
class DataScales(NamedTuple):
    """What learning_rate="auto" reads from the data: the standard deviation of a regressor's
    targets, and the largest squared row norm (the intercept's 1 included); 0: not read."""

    targets: float = 1.0
    rows: float = 0.0
    curvature: float = 0.0  # of a log-link loss at the start; 0: the loss's bound


def _training_rows(validation_mask):
    """An index of the rows that are not held out (all of them for a mask of None)."""
    return slice(None) if validation_mask is None else validation_mask == 0


def _n_held_out(validation_mask):
    return 0 if validation_mask is None else int(np.count_nonzero(validation_mask))


def _target_mean(y, sample_weight, validation_mask):
    """Weighted mean of the training targets, over every output (NaN where the weights sum to
    0)."""
    train = _training_rows(validation_mask)
    w = sample_weight[train].astype(np.float64)
    if not w.sum() > 0:
        return float("nan")
    return float(np.mean(np.average(y[train].astype(np.float64), weights=w, axis=0)))


def _target_scale(y, sample_weight, validation_mask):
    """Weighted standard deviation of the training targets, the mean over the outputs of a 2-D
    y (1 where it is 0 or undefined)."""
    train = _training_rows(validation_mask)
    w = sample_weight[train].astype(np.float64)
    if not w.sum() > 0:
        return 1.0
    yt = y[train].astype(np.float64)
    mean = np.average(yt, weights=w, axis=0)
    std = float(np.mean(np.sqrt(np.average((yt - mean) ** 2, weights=w, axis=0))))
    return std if np.isfinite(std) and std > 0 else 1.0


# Optimizers whose step is in the weights' units whatever the gradient's scale.
SCALE_FREE_OPTIMIZERS = frozenset(
    {"adagrad", "rmsprop", "adam", "adamw", "nadam", "adamax", "lamb", "adafactor", "lion"}
)
# The full-batch solver stops when its gradient mapping falls below tol times this factor
# times its first value.
SOLVER_TOL_FACTOR = 0.01
# The factor on the intercept's steps in scikit-learn's mode on sparse X (its
# SPARSE_INTERCEPT_DECAY).
SPARSE_INTERCEPT_DECAY = 0.01
ANNEALING = ("step", "multistep", "cosine", "onecycle", "polynomial")
# A mini-batch fit on sparse X that steps every weight warns when there are this many times
# more features than stored entries per batch.
DENSE_STEPS_RATIO = 10
# Epochs in a row of a rising objective that make a fit warn that its step is too large.
RISING_EPOCHS = 3


def _rising_epochs(curve):
    """How many of the last epochs in a row raised the objective."""
    rises = 0
    for before, after in zip(curve[-2::-1], curve[::-1]):
        if not after > before:
            break
        rises += 1
    return rises


def _reject_strings(a, name):
    """Arrays of text are not numbers: refuse them rather than parse them as floats."""
    dtype = getattr(a, "dtype", None)
    if dtype is not None and getattr(dtype, "kind", None) in ("U", "S"):
        raise ValueError(
            f"{name} has dtype {dtype}: arrays of bytes/strings are not supported. Convert your "
            "data to numeric values explicitly instead."
        )


def is_half(X):
    """Whether X is a dense float16 (NumPy) or bfloat16 (ml_dtypes) array: the core reads those
    as stored and computes in float32."""
    return isinstance(X, np.ndarray) and is_half_dtype(X.dtype)


def is_half_dtype(dtype):
    return dtype.itemsize == 2 and dtype.name in ("float16", "bfloat16")


def compute_dtype(X):
    """The dtype the core trains and predicts in for X: float32 for half-precision X."""
    return np.dtype(np.float32) if is_half(X) else X.dtype


def _numpy_float(X):
    """X for scikit-learn's checks, which do not know bfloat16: a float32 copy of a
    half-precision X (only on the way to an error message)."""
    return X.astype(np.float32) if is_half(X) else X


def linear_scores(X, coef):
    """X @ coef.T, dense, shape (n_samples, n_outputs). A float16 or bfloat16 X is read as
    stored by the core, in float32 (coef cast to float32), not upcast to a copy."""
    if is_half(X):
        coef32 = coef.toarray() if sp.issparse(coef) else coef
        coef32 = np.ascontiguousarray(np.atleast_2d(coef32), dtype=np.float32)
        zeros = np.zeros(coef32.shape[0], dtype=np.float32)
        return _core.linear_scores(X, coef32, zeros, _core.openmp_max_threads())
    return safe_sparse_dot(X, coef.T, dense_output=True)


def _rows_readable(X):
    """X in a layout the core reads directly: rows with contiguous columns, or a checked CSR
    matrix (see _checked_csr)."""
    if sp.issparse(X):
        return _checked_csr(X)
    if X.ndim != 2:
        return X
    columns_apart = X.shape[1] > 1 and X.strides[1] != X.itemsize
    rows_unreadable = X.shape[0] > 1 and (X.strides[0] < 0 or X.strides[0] % X.itemsize)
    if columns_apart or rows_unreadable or not X.flags.aligned:
        X = np.require(X, requirements=["C_CONTIGUOUS", "ALIGNED"])
    return X


def _checked_csr(X):
    """CSR X after the core's one-pass check of its structure, which every entry point runs
    (ValueError naming the fault when indptr or a column index would read out of bounds).

    A matrix that stores some entry twice means their sum (SciPy's definition); the core reads
    each stored entry once, so such X is replaced by a private copy with the duplicates summed.
    The user's matrix is never changed. Index arrays of different dtypes are copied to one,
    and misaligned or strided arrays to aligned contiguous ones.
    """
    data, indices, indptr = X.data, X.indices, X.indptr
    if indices.dtype != indptr.dtype or indices.dtype not in (np.int32, np.int64):
        idx = np.int64 if np.int64 in (indices.dtype, indptr.dtype) else np.int32
        indices, indptr = indices.astype(idx), indptr.astype(idx)
    # Arrays that came through a serializer (a Dask worker's) may be misaligned.
    data, indices, indptr = (
        np.require(a, requirements=["C", "A"]) for a in (data, indices, indptr)
    )
    if indptr.ndim != 1 or indptr.shape[0] != X.shape[0] + 1 or data.shape != indices.shape:
        raise ValueError(
            "The sparse matrix is malformed: indptr must hold n_samples + 1 offsets and data "
            "as many values as indices."
        )
    if data is not X.data or indices is not X.indices or indptr is not X.indptr:
        X = sp.csr_matrix((data, indices, indptr), shape=X.shape)
    if _core.check_csr(indices, indptr, X.shape[1]):
        X = X.copy()
        X.has_canonical_format = False  # a flag cached before the user edited X may be stale
        X.sum_duplicates()
    return X


def _cuda_simulated():
    try:
        return _cuda.simulated()
    except ImportError:
        return False


def host_array(X):
    """X itself, or a host copy of a GPU array (for prediction, which runs on the CPU)."""
    if _cuda.is_device_array(X):
        return _cuda.as_device_array(X).copy_to_host()
    return X


def keeps_state_on_error(method):
    """Decorates fit / partial_fit: calls on one estimator from several threads run one at a
    time (each partial_fit continues from the previous call's model), and on any exception,
    KeyboardInterrupt included, the estimator gets back exactly the fitted attributes it had
    before the call (unfitted stays unfitted, a fitted estimator keeps its previous model),
    never a mix of old and new, and never undoing another thread's completed call."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        # dict.setdefault is atomic: two threads get the same lock. Reentrant, so that a
        # callback may fit the estimator it is watching.
        with vars(self).setdefault("_fit_lock", threading.RLock()):
            saved = dict(vars(self))
            try:
                return method(self, *args, **kwargs)
            except BaseException:
                # Parameters set meanwhile (set_params from a callback or another thread) stay.
                now = vars(self)
                params = {k: now[k] for k in self._get_param_names() if k in now}
                self.__dict__ = {**saved, **params}  # one store: no half-restored state either
                raise

    return wrapper


def commit_fitted_state(estimator, state):
    """Sets all fitted attributes in one C call (dict.update), so that a KeyboardInterrupt,
    which Python raises only between bytecodes, leaves either the old state or the new one."""
    vars(estimator).update(state)


def train(
    X,
    y,
    coef,
    intercept,
    config,
    sample_weight=None,
    class_weight=None,
    validation_mask=None,
    average_coef=None,
    average_intercept=None,
    t0=1.0,
    epoch_callback=None,
    optimizer=None,
    optimizer_state=None,
    gpu=None,
    cancel=None,
    estimator_name="the estimator",
):
    """Runs the C++ trainer on dense or CSR X, or the GPU trainer on `gpu` (X on the device,
    from BaseSGD._gpu_data); coef and intercept are updated in place. ``optimizer_state``
    (a previous result's ``optimizer_state``) continues the optimizer from there.

    A dense X is checked for NaN and infinity by the trainer as it reads the rows
    (``config.check_input``): a non-finite value gets scikit-learn's error (naming
    `estimator_name`) before any epoch counts, as the upfront scan it replaces would.

    Divergence has one rule: a non-finite loss or weight raises ValueError (as scikit-learn
    does), so that no estimator ever stores NaN or infinite coefficients. ``cancel`` (a
    threading.Event) stops a fit on a worker thread, which Ctrl-C does not reach.
    """
    # Weights of one and no validation rows are the trainers' defaults: passed as None, they
    # spare the trainer a read per row (a cache miss per row in a shuffled epoch).
    if sample_weight is not None and _all_ones(sample_weight):
        sample_weight = None
    if class_weight is not None and np.all(np.asarray(class_weight) == 1):
        class_weight = None
    if validation_mask is not None and not np.any(validation_mask):
        validation_mask = None
    if gpu is not None:
        from .cuda import _trainer

        res = _trainer.train(
            gpu,
            y,
            coef,
            intercept,
            config,
            optimizer=optimizer,
            optimizer_state=optimizer_state,
            sample_weight=sample_weight,
            class_weight=class_weight,
            validation_mask=validation_mask,
            average_coef=average_coef,
            average_intercept=average_intercept,
            t0=float(t0),
            epoch_callback=epoch_callback,
        )
        _raise_if_diverged(res)
        return res
    # Inputs that are only read may arrive misaligned (e.g. deserialized by dask), which the
    # bindings refuse: copy those (rare) ones. coef and the other outputs are never copied.
    y, sample_weight, class_weight, validation_mask = (
        None if a is None else np.require(a, requirements=["A"])
        for a in (y, sample_weight, class_weight, validation_mask)
    )
    kwargs = dict(
        cancel=cancel,
        optimizer=optimizer,
        optimizer_state=optimizer_state,
        epoch_callback=epoch_callback,
        sample_weight=sample_weight,
        class_weight=class_weight,
        validation_mask=validation_mask,
        average_coef=average_coef,
        average_intercept=average_intercept,
        t0=float(t0),
    )
    # An epoch callback that may run user code reads the weights, and may rewrite the data
    # (the core checks CSR index arrays again after it).
    config.hook_runs_user_code = getattr(
        epoch_callback, "runs_user_code", epoch_callback is not None
    )
    if sp.issparse(X):
        res = _core.train_csr(
            X.data,
            X.indices,
            X.indptr,
            X.shape[1],
            y,
            coef,
            intercept,
            config,
            **kwargs,
        )
    else:
        config.check_input = True
        res = _core.train_dense(X, y, coef, intercept, config, **kwargs)
        if res.non_finite_input:
            _assert_all_finite(_numpy_float(X), input_name="X", estimator_name=estimator_name)
            raise ValueError(diverged_message(1, config.schedule.eta0))  # finite: an overflow
    _raise_if_diverged(res, coef, intercept, average_coef, average_intercept)
    return res


def _all_ones(a):
    if a.ndim == 1 and a.strides == (0,):  # a broadcast value (unit weights)
        return a.size == 0 or a[0] == 1
    return bool(np.all(a == 1))


def diverged_message(epoch, step):
    """The divergence error, naming the step size that was used."""
    return (
        f"Floating-point under-/overflow occurred at epoch #{epoch} with a step size of "
        f"{step:.3g}. Scaling input data with StandardScaler or MinMaxScaler might help, or "
        "lower eta0 (or the optimizer's lr)."
    )


def _raise_if_diverged(res, *arrays):
    finite = all(a is None or np.isfinite(a).all() for a in arrays)
    if res.diverged or not finite:
        raise ValueError(diverged_message(res.n_iter, res.last_eta))


def mean_curve(curves):
    """One loss curve for several problems (one-vs-rest): the per-epoch mean of curves of
    unequal length, each padded with its last value."""
    curves = [list(c) for c in curves if len(c)]
    if not curves:
        return []
    n = max(len(c) for c in curves)
    padded = np.array([c + [c[-1]] * (n - len(c)) for c in curves])
    return padded.mean(axis=0).tolist()
