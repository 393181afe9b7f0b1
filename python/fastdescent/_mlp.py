"""MLPClassifier and MLPRegressor: scikit-learn's multi-layer perceptrons, trained by the C++
engine (the network is one more model behind its step)."""

from __future__ import annotations

import functools
import warnings
from contextlib import nullcontext
from numbers import Integral, Real

import numpy as np
import scipy.optimize
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    check_random_state,
    column_or_1d,
    validate_data,
)

from . import _core, optim, schedules
from ._base import (
    MAX_INT,
    OPTIMIZERS,
    InputChecks,
    _reject_strings,
    _rows_readable,
    commit_fitted_state,
    compute_dtype,
    diverged_message,
    is_half,
    keeps_state_on_error,
    named_optimizer,
)
from ._monitor import FitMonitor


@functools.cache
def _blas_controller():
    """threadpoolctl's view of the loaded thread pools, built once (a fresh scan of the loaded
    libraries costs about a millisecond a call), after SciPy's BLAS, the one the core calls,
    is loaded."""
    import scipy.linalg.cython_blas  # noqa: F401
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


ACTIVATIONS = {
    "identity": _core.Activation.identity,
    "logistic": _core.Activation.logistic,
    "tanh": _core.Activation.tanh,
    "relu": _core.Activation.relu,
}
# scikit-learn's names for the MLP's step sizes (its solver="sgd" sets them per epoch).
SKLEARN_RATES = ("constant", "invscaling", "adaptive")
# Every other estimator schedule applies per update, to any solver or optimizer.
MLP_SCHEDULES = tuple(
    s for s in schedules.ESTIMATOR_SCHEDULES if s not in ("optimal", "pa1", "pa2")
)
_PREDICT_CHUNK = 4096


class BaseMLP(InputChecks, BaseEstimator):
    """Hyperparameters, training and prediction shared by MLPClassifier and MLPRegressor."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions(set(MLP_SCHEDULES)), schedules.Schedule],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, MAX_INT, closed="both")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [
            Interval(Integral, 1, MAX_INT, closed="both"),
            Options(Real, {np.inf}),
        ],
        "max_fun": [Interval(Integral, 1, MAX_INT, closed="both")],
        "optimizer": [StrOptions(set(OPTIMIZERS)), optim.Optimizer, None],
        "clip_value": [Interval(Real, 0, None, closed="neither"), None],
        "clip_norm": [Interval(Real, 0, None, closed="neither"), None],
        "callbacks": [list, tuple, None],
        "n_jobs": [Integral, None],
        "device": [StrOptions({"cpu", "cuda", "auto"})],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        optimizer=None,
        clip_value=None,
        clip_norm=None,
        callbacks=None,
        n_jobs=None,
        device="cpu",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.optimizer = optimizer
        self.clip_value = clip_value
        self.clip_norm = clip_norm
        self.callbacks = callbacks
        self.n_jobs = n_jobs
        self.device = device

    # ---- checks ---------------------------------------------------------------------------

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        if any(
            isinstance(s, bool) or not isinstance(s, Integral | np.integer) or s <= 0
            for s in sizes
        ):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        return [int(s) for s in sizes]

    def _check_hyperparams(self, incremental):
        if self.device == "cuda":
            raise ValueError(
                "device='cuda' is not available for the MLP estimators yet: the GPU path trains "
                "linear models only. Use device='cpu' (or 'auto', which trains on the CPU)."
            )
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        if self.solver == "lbfgs" and (
            self.optimizer is not None
            or self.clip_value is not None
            or self.clip_norm is not None
            or self.callbacks
        ):
            raise ValueError(
                "solver='lbfgs' runs SciPy's L-BFGS-B, which takes no optimizer, clip_value, "
                "clip_norm or callbacks; use solver='sgd' or 'adam' (or an optimizer) for those."
            )
        if self.early_stopping and self.validation_fraction == 0:
            raise ValueError("early_stopping needs validation_fraction > 0")
        from .callbacks import Callback

        for cb in self.callbacks or ():
            if not isinstance(cb, Callback):
                raise TypeError(
                    "callbacks must be a list of fastdescent.callbacks.Callback objects; got "
                    f"an object of type {type(cb).__name__}."
                )

    def _check_solver(self):
        if self.solver not in ("sgd", "adam"):
            raise AttributeError(
                f"partial_fit is only available for stochastic optimizers. "
                f"{self.solver} is not stochastic."
            )
        return True

    # ---- the engine's inputs --------------------------------------------------------------

    def _optimizer_spec(self):
        """The update rule: an explicit optimizer (PyTorch's equations), else the solver's
        rule in scikit-learn's form (its Adam adds epsilon before the bias correction; its
        momentum keeps step-scaled velocities)."""
        if self.optimizer is not None:
            if isinstance(self.optimizer, str):
                opt = named_optimizer(self.optimizer)
                return None if opt is None else opt.to_spec()
            return self.optimizer.to_spec()
        if self.solver == "adam":
            spec = _core.OptimizerSpec(_core.OptimizerKind.adam)
            spec.beta1, spec.beta2, spec.eps = self.beta_1, self.beta_2, self.epsilon
            spec.eps_before_bias_correction = True
        else:
            spec = _core.OptimizerSpec(_core.OptimizerKind.sgd)
            spec.momentum = self.momentum
            spec.nesterov = bool(self.nesterovs_momentum and self.momentum > 0)
            spec.scaled_velocity = True
        spec.validate()
        return spec

    def _schedule(self, updates_per_epoch):
        """(schedule, per-epoch): scikit-learn's three names keep its meaning (set per epoch
        from the samples seen; only solver='sgd' reads them, as in scikit-learn, unless an
        optimizer is given); every other schedule runs per update from learning_rate_init,
        an optimizer object's lr winning as in the linear estimators."""
        lr = float(self.learning_rate_init)
        if isinstance(self.optimizer, optim.Optimizer) and self.optimizer.lr is not None:
            if isinstance(self.optimizer.lr, schedules.Schedule):
                return self.optimizer.lr.to_core(), False
            lr = float(self.optimizer.lr)
        rate = self.learning_rate
        if isinstance(rate, schedules.Schedule):
            return rate.to_core(), False
        if rate in SKLEARN_RATES:
            if self.solver == "adam" and self.optimizer is None:
                rate = "constant"
            sched = schedules.schedule_from_name(rate, lr, updates_per_epoch, int(self.max_iter))
            sched.power_t = float(self.power_t)
            return sched, True
        return schedules.schedule_from_name(rate, lr, updates_per_epoch, int(self.max_iter)), False

    def _blas_limits(self, limit=None):
        """Caps the BLAS's threads at `limit`, else at n_jobs (-1 all CPUs, -2 all but one);
        None leaves the BLAS its own default, as scikit-learn's MLP does. OpenBLAS resets its
        pool in a forked child itself."""
        limit = limit or self._threads()
        if limit is None:
            return nullcontext()
        return _blas_controller().limit(limits=limit, user_api="blas")

    def _threads(self):
        """n_jobs as a thread count (-1 all CPUs, -2 all but one), or None."""
        if self.n_jobs is None:
            return None
        from joblib import effective_n_jobs

        return max(1, effective_n_jobs(self.n_jobs))

    def _training_threads(self):
        """Shards of the stochastic solvers' batches: each trained on a thread of its own where
        OpenMP allows that many, through a one-thread BLAS (0: one per thread OpenMP allows,
        all cores unless OMP_NUM_THREADS or threadpoolctl say less)."""
        return self._threads() or 0

    def _loss_kind(self):
        raise NotImplementedError

    def _initialize(self, units, dtype, rs):
        """scikit-learn's initialization: Glorot uniform (factor 2 for logistic, else 6),
        weights then bias per layer, drawn from `rs` in its order."""
        factor = 2.0 if self.activation == "logistic" else 6.0
        coefs, intercepts = [], []
        for fan_in, fan_out in zip(units[:-1], units[1:]):
            bound = np.sqrt(factor / (fan_in + fan_out))
            coefs.append(rs.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype, copy=False))
            intercepts.append(rs.uniform(-bound, bound, fan_out).astype(dtype, copy=False))
        return coefs, intercepts

    # ---- fit ------------------------------------------------------------------------------

    def _fit(self, X, y, sample_weight, incremental):
        self._check_hyperparams(incremental)
        hidden = self._hidden_sizes()
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, Y = self._validate_input(X, y, incremental, reset=first_pass)
        n, d = X.shape
        dtype = compute_dtype(X)  # float32 for a float16 / bfloat16 X, read as stored
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=dtype)
            if not np.all(np.isfinite(sample_weight)):
                raise ValueError("sample_weight holds NaN or infinity")
        units = [d, *hidden, Y.shape[1]]
        rs = check_random_state(self.random_state)
        state = {}
        if first_pass:
            coefs, intercepts = self._initialize(units, dtype, rs)
            state.update(n_iter_=0, t_=0, _updates=0, _optimizer_state=None)
        else:
            if [c.shape[0] for c in self.coefs_] + [self.coefs_[-1].shape[1]] != units:
                raise ValueError(
                    "The network's shape does not match the data: it was trained with layers "
                    f"{[c.shape[0] for c in self.coefs_] + [self.coefs_[-1].shape[1]]}, this "
                    f"call needs {units}; fit with warm_start=False to start over."
                )
            coefs = [np.array(c, dtype=dtype, order="C") for c in self.coefs_]
            intercepts = [np.array(b, dtype=dtype) for b in self.intercepts_]
        state.update(
            n_layers_=len(units),
            n_outputs_=Y.shape[1],
            out_activation_=self._out_activation(Y.shape[1]),
        )
        if self.solver == "lbfgs":
            return self._fit_lbfgs(X, Y, sample_weight, coefs, intercepts, state)
        return self._fit_stochastic(
            X, Y, sample_weight, coefs, intercepts, state, rs, incremental, first_pass
        )

    def _split(self, Y, n, rs):
        """Training and validation rows, as scikit-learn's MLP splits them (train_test_split
        with the estimator's generator, stratified for single-output classification)."""
        if not self.early_stopping:
            return np.arange(n, dtype=np.int64), None
        stratify = Y if (isinstance(self, ClassifierMixin) and Y.shape[1] == 1) else None
        train, val = train_test_split(
            np.arange(n, dtype=np.int64),
            random_state=rs,
            test_size=self.validation_fraction,
            stratify=stratify,
        )
        if val.shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' or the size "
                "of your dataset."
            )
        return train, val

    def _fit_stochastic(self, X, Y, sw, coefs, intercepts, state, rs, incremental, first_pass):
        n = X.shape[0]
        train_rows, val_rows = self._split(Y, n, rs)
        n_train = train_rows.shape[0]
        if self.batch_size == "auto":
            batch = min(200, n_train)
        else:
            if self.batch_size > n_train:
                warnings.warn(
                    "Got `batch_size` less than 1 or larger than sample size. It is going to "
                    "be clipped",
                    stacklevel=2,
                )
            batch = int(np.clip(self.batch_size, 1, n_train))
        spec = self._optimizer_spec()
        sched, per_epoch = self._schedule(-(-n_train // batch))
        cfg = _core.MlpTrainConfig()
        train = cfg.train
        train.alpha = float(self.alpha)
        train.schedule = sched
        train.max_iter = 1 if incremental else int(self.max_iter)
        train.tol = float(self.tol)
        # scikit-learn's MLP stops once the count of epochs without improvement exceeds
        # n_iter_no_change (the linear models stop when it reaches it).
        train.n_iter_no_change = (
            MAX_INT if not np.isfinite(self.n_iter_no_change) else int(self.n_iter_no_change) + 1
        )
        train.early_stopping = bool(self.early_stopping)
        train.shuffle = bool(self.shuffle)
        train.batch_size = batch
        train.clip_value = float(self.clip_value or 0.0)
        train.clip_norm = float(self.clip_norm or 0.0)
        train.n_threads = self._training_threads()
        train.classification = isinstance(self, ClassifierMixin)
        train.explosion_diverges = self.optimizer is not None
        cfg.train = train
        cfg.schedule_in_samples = per_epoch
        previous = None if first_pass else getattr(self, "_optimizer_state", None)
        resume = incremental and previous is not None and previous["spec"] == _spec_dict(spec)
        cfg.samples_seen = float(0 if first_pass else getattr(self, "t_", 0))
        cfg.fresh_schedule = not resume
        t0 = float(getattr(self, "_updates", 0) + 1) if resume else 1.0

        monitor = FitMonitor(
            self,
            train.max_iter,
            [None],
            [lambda t: (coefs, intercepts)],
            ("coefs_", "intercepts_"),
        )
        if monitor.callbacks:
            # A callback may predict with the live weights. On an error, fit's
            # keeps_state_on_error puts the previous attributes back.
            vars(self).update(
                n_outputs_=state["n_outputs_"],
                n_layers_=state["n_layers_"],
                out_activation_=state["out_activation_"],
                coefs_=coefs,
                intercepts_=intercepts,
                **self._fitted_labels(),
            )
        try:
            monitor.begin()
            # The shards' threads each call the BLAS: its own workers would only contend.
            with self._blas_limits(1):
                res = _core.train_mlp(
                    _core_X(X),
                    Y.ravel(),
                    coefs,
                    intercepts,
                    ACTIVATIONS[self.activation],
                    self._loss_kind(),
                    cfg,
                    train_rows,
                    val_rows,
                    None if sw is None or np.all(sw == 1) else np.ascontiguousarray(sw),
                    t0,
                    monitor.epoch_callback(0),
                    spec,
                    previous["states"] if resume else None,
                    None,
                    _permutation(rs) if self.shuffle else None,
                )
        except BaseException as error:
            monitor.fail(error)
            raise
        monitor.finished(0, res)
        history = monitor.history()
        if res.diverged or not all(np.isfinite(a).all() for a in (*coefs, *intercepts)):
            diverged = ValueError(diverged_message(res.n_iter, res.last_eta))
            monitor.fail(diverged)
            raise diverged
        curve = list(res.loss_curve)
        loss_curve = ([] if first_pass else list(getattr(self, "loss_curve_", []))) + curve
        state.update(
            coefs_=coefs,
            intercepts_=intercepts,
            n_iter_=res.n_iter,
            t_=int(
                (0 if first_pass else getattr(self, "t_", 0)) + res.n_iter * train_rows.shape[0]
            ),
            loss_=curve[-1] if curve else float("nan"),
            loss_curve_=loss_curve,
            _updates=int(res.t) - 1,
            _optimizer_state={"spec": _spec_dict(spec), "states": list(res.optimizer_state)},
            history_=history,
        )
        if self.early_stopping:
            scores = list(res.validation_scores)
            before = [] if first_pass else list(getattr(self, "validation_scores_", None) or [])
            state.update(
                validation_scores_=before + scores,
                best_validation_score_=max(before + scores),
                best_loss_=None,
            )
        else:
            best = min(loss_curve) if loss_curve else np.inf
            state.update(validation_scores_=None, best_validation_score_=None, best_loss_=best)
        commit_fitted_state(self, state)
        if not incremental and res.n_iter == self.max_iter and not res.stopped_by_callback:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=2,
            )
        monitor.end()
        return self

    def _fit_lbfgs(self, X, Y, sw, coefs, intercepts, state):
        """SciPy's L-BFGS-B over the C++ objective and gradient (scikit-learn's lbfgs solver:
        the same options, the full data set per evaluation)."""
        shapes = [c.shape for c in coefs] + [b.shape for b in intercepts]
        sizes = [int(np.prod(s)) for s in shapes]
        bounds = np.cumsum([0, *sizes])
        flat_grad = np.empty(bounds[-1], dtype=coefs[0].dtype)
        grads = [flat_grad[a:b].reshape(s) for a, b, s in zip(bounds[:-1], bounds[1:], shapes)]
        L = len(coefs)
        Xc, Yr = _core_X(X), Y.ravel()
        sw = None if sw is None else np.ascontiguousarray(sw)

        def unpack(x):
            parts = [
                np.ascontiguousarray(x[a:b].reshape(s), dtype=coefs[0].dtype)
                for a, b, s in zip(bounds[:-1], bounds[1:], shapes)
            ]
            return parts[:L], parts[L:]

        def loss_grad(x):
            cs, bs = unpack(x)
            loss = _core.mlp_loss_gradient(
                Xc,
                Yr,
                sw,
                cs,
                bs,
                grads[:L],
                grads[L:],
                ACTIVATIONS[self.activation],
                self._loss_kind(),
                float(self.alpha),
            )
            return loss, flat_grad.astype(np.float64)

        x0 = np.concatenate([a.ravel() for a in (*coefs, *intercepts)]).astype(np.float64)
        with self._blas_limits():
            opt = scipy.optimize.minimize(
                loss_grad,
                x0,
                method="L-BFGS-B",
                jac=True,
                options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol},
            )
        if opt.status != 0:
            warnings.warn(
                "lbfgs failed to converge after "
                f"{opt.nit} iteration(s) (status={opt.status}):\n{opt.message}\n\n"
                "Increase the number of iterations to improve the convergence "
                f"(max_iter={self.max_iter}).",
                ConvergenceWarning,
                stacklevel=2,
            )
        cs, bs = unpack(opt.x)
        if not all(np.isfinite(a).all() for a in (*cs, *bs)) or not np.isfinite(opt.fun):
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may contain "
                "large values and need to be preprocessed."
            )
        state.update(
            coefs_=cs,
            intercepts_=bs,
            n_iter_=min(int(opt.nit), int(self.max_iter)),
            loss_=float(opt.fun),
            t_=0,
        )
        commit_fitted_state(self, state)
        return self

    # ---- predict --------------------------------------------------------------------------

    def _forward(self, X):
        """The network's output activations for X (validated here), n x n_outputs_, computed
        in C++ in the weights' dtype; float32 weights read float32, float16 and bfloat16 X
        without a copy."""
        check_is_fitted(self, "coefs_")
        X = self._check_X(X, reset=False)
        dtype = self.coefs_[0].dtype
        if compute_dtype(X) != dtype:
            X = X.astype(dtype)  # a copy only when X's dtype differs from the weights'
        out = np.empty((X.shape[0], self.n_outputs_), dtype=dtype)
        if X.shape[0]:
            with self._blas_limits():
                _core.mlp_forward(
                    _core_X(X),
                    [np.ascontiguousarray(c) for c in self.coefs_],
                    [np.ascontiguousarray(b) for b in self.intercepts_],
                    ACTIVATIONS[self.activation],
                    self._loss_kind(),
                    out,
                )
        return out

    def _fitted_labels(self):
        return {}

    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop("_fit_lock", None)
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def _permutation(rs):
    """An epoch's row permutation as scikit-learn's MLP draws it (``utils.shuffle`` of the
    sample indices with the estimator's generator), so that shuffled fits follow its
    batches."""

    def draw(n):
        p = np.arange(n)
        rs.shuffle(p)
        return p

    return draw


def _spec_dict(spec):
    return None if spec is None else spec.to_dict()


def _core_X(X):
    """X as the bindings take it: a dense array, or CSR as (data, indices, indptr, n_cols)."""
    if sp.issparse(X):
        return (X.data, X.indices, X.indptr, X.shape[1])
    return X


class MLPClassifier(ClassifierMixin, BaseMLP):
    """Multi-layer perceptron classifier trained by fastdescent's C++ engine.

    Accepts every parameter of :class:`sklearn.neural_network.MLPClassifier` with the same
    default and meaning, and trains with the same equations: with the same ``random_state``
    (bit-identical initial weights, the same validation split and the same shuffled row
    order each epoch, drawn from the estimator's generator as scikit-learn draws them) the
    weights follow scikit-learn's to floating-point rounding.

    The forward and backward passes run in C++ without the GIL: matrix products through the
    BLAS that SciPy ships (``scipy.linalg.cython_blas``), bias and activation fused into one
    pass after each product, one update over all layers' parameters, no allocation per batch.
    float32 X trains in float32; a float16 or bfloat16 X too, read as stored (its batches are
    widened to float32 for the first product).

    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The number of units of each hidden layer (each > 0).
    activation : {'identity', 'logistic', 'tanh', 'relu'}, default='relu'
        The hidden layers' activation.
    solver : {'lbfgs', 'sgd', 'adam'}, default='adam'
        scikit-learn's solvers with its equations: 'adam' (epsilon added to ``sqrt(v)`` before
        the bias correction), 'sgd' (momentum as step-scaled velocities), 'lbfgs' (SciPy's
        L-BFGS-B over the C++ objective and gradient on all rows). ``optimizer`` wins over
        ``solver`` when given.
    alpha : float, default=0.0001
        L2 penalty as scikit-learn's MLP defines it: a batch of total sample weight ``s``
        adds ``alpha / (2 s) * ||W||^2`` (weights only, not biases).
    batch_size : int or 'auto', default='auto'
        Rows per update; 'auto' is ``min(200, n_samples)``.
    learning_rate : str or fastdescent.schedules.Schedule, default='constant'
        'constant', 'invscaling' (``learning_rate_init / (t + 1)**power_t`` with ``t`` the
        samples seen, set per epoch) and 'adaptive' (divided by 5 after ``n_iter_no_change``
        epochs without improvement) as in scikit-learn: read by solver='sgd' or an
        ``optimizer``, ignored by solver='adam'. Any other fastdescent schedule ('cosine',
        'onecycle', 'exponential', ..., or a schedule object) runs per update from
        ``learning_rate_init`` with every solver and optimizer.
    learning_rate_init : float, default=0.001
        The initial step size.
    power_t : float, default=0.5
        Exponent of 'invscaling'.
    max_iter : int, default=200
        Epochs (stochastic solvers) or iterations (lbfgs).
    shuffle : bool, default=True
        Shuffle the rows each epoch.
    random_state : int, RandomState instance or None, default=None
        Initial weights, the validation split and the rows' order in each shuffled epoch,
        all drawn as scikit-learn draws them.
    tol : float, default=1e-4
        Improvement of the training loss (or validation score) below which an epoch counts
        as no improvement; lbfgs's gradient tolerance.
    verbose : bool or int, default=False
        A progress bar (1) and a line per epoch (2).
    warm_start : bool, default=False
        Start ``fit`` from the previous weights (a new optimizer, as in scikit-learn).
    momentum : float, default=0.9
        solver='sgd' momentum.
    nesterovs_momentum : bool, default=True
        Nesterov's momentum for solver='sgd'.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows (stratified), stop when the validation
        score stops improving and keep the best epoch's weights.
    validation_fraction : float, default=0.1
        Share of the rows held out for early stopping.
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        solver='adam' hyperparameters.
    n_iter_no_change : int, default=10
        Epochs without improvement beyond which training stops (or 'adaptive' divides the
        step size by 5).
    max_fun : int, default=15000
        lbfgs's maximum number of function evaluations.
    optimizer : str, fastdescent.optim.Optimizer or None, default=None
        Any of fastdescent's optimizers by name or object, with PyTorch's equations; wins over
        ``solver``. Its step size is ``learning_rate_init`` (an object's own ``lr`` wins).
    clip_value, clip_norm : float or None, default=None
        Gradient clipping by value or by global norm over all layers (stochastic solvers).
    callbacks : list of fastdescent.callbacks.Callback or None, default=None
        Called at each epoch's end with ``coefs_`` and ``intercepts_`` showing the live
        weights (stochastic solvers).
    n_jobs : int or None, default=None
        Threads. The stochastic solvers split each batch into ``n_jobs`` shards of rows
        (None: one per core, OpenMP's limit; fewer where a shard would get under 32 rows,
        whose products run far from the BLAS's speed), each run on a thread of its own from
        the gather of its rows to its gradient through a one-thread BLAS, their sums added
        in shard order: results depend on ``n_jobs`` and the batch (at the level of
        rounding), not on the machine's load. Prediction and lbfgs use the BLAS's threads:
        an integer caps them (-1 all CPUs), None leaves the BLAS its own default, as
        scikit-learn does.
    device : {'cpu', 'cuda', 'auto'}, default='cpu'
        'cuda' is refused for now with a clear error (the GPU path trains linear models).

    Attributes
    ----------
    classes_, coefs_, intercepts_, n_layers_, n_outputs_, out_activation_, loss_, best_loss_,
    loss_curve_, validation_scores_, best_validation_score_, t_, n_iter_, n_features_in_,
    feature_names_in_
        As scikit-learn's MLPClassifier.
    history_ : dict
        Per-epoch loss, validation score, step size, gradient norm and time (stochastic
        solvers).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> import fastdescent as fd
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = fd.MLPClassifier(hidden_layer_sizes=(64,), max_iter=50, random_state=0)
    >>> clf.fit(X / 16, y).score(X / 16, y) > 0.95
    True
    """

    def _out_activation(self, n_outputs):
        return "softmax" if self._multiclass() else "logistic"

    def _multiclass(self):
        return self._label_binarizer.y_type_ == "multiclass"

    def _loss_kind(self):
        return _core.MlpLoss.log_loss if self._multiclass() else _core.MlpLoss.binary_log_loss

    def _fitted_labels(self):
        return {"classes_": self._label_binarizer.classes_}

    def _validate_input(self, X, y, incremental, reset):
        _reject_strings(X, "X")
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse="csr",
            multi_output=True,
            dtype=None if is_half(X) else (np.float64, np.float32),
            reset=reset,
            accept_large_sparse=True,
            ensure_all_finite=False,
        )
        X = self._check_finite(_rows_readable(X))
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)  # scikit-learn's DataConversionWarning
        if (not hasattr(self, "classes_")) or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the "
                        f"previous call to fit. Previously got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    "`y` has classes not in `self.classes_`. `self.classes_` has "
                    f"{self.classes_}. 'y' has {classes}."
                )
        if len(self.classes_) < 2 and type_of_target(y) != "multilabel-indicator":
            raise ValueError(
                "The target y holds a single class; a classifier needs samples of at least 2 "
                f"classes in the data, but the data contains only one class: {self.classes_[0]!r}."
            )
        Y = self._label_binarizer.transform(y).astype(compute_dtype(X))
        return X, np.ascontiguousarray(Y)

    @_fit_context(prefer_skip_nested_validation=True)
    @keeps_state_on_error
    def fit(self, X, y, sample_weight=None):
        """Fit the model to X and y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; float32 trains in float32. A C-contiguous array is read in place.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Class labels, or a label indicator matrix (multi-label).
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows.

        Returns
        -------
        self : MLPClassifier
        """
        return self._fit(X, y, sample_weight, incremental=False)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    @keeps_state_on_error
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over X and y, continuing the optimizer's state.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None
        classes : array of shape (n_classes,), default=None
            Every class, required on the first call (not for multi-label y).

        Returns
        -------
        self : MLPClassifier
        """
        if not hasattr(self, "coefs_"):
            if classes is None and type_of_target(y) != "multilabel-indicator":
                raise ValueError("classes must be passed on the first call to partial_fit.")
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
            self.classes_ = self._label_binarizer.classes_
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(
                f"`classes={classes!r}` is not the same as on last call to partial_fit, "
                f"was: {self.classes_!r}"
            )
        return self._fit(X, y, sample_weight, incremental=True)

    def predict_proba(self, X):
        """Probability estimates: the softmax (multiclass), or the logistic output and its
        complement (binary), or each label's probability (multi-label).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        p = self._forward(X)
        if self.n_outputs_ == 1:
            p = p.ravel()
            return np.vstack([1 - p, p]).T
        return p

    def predict_log_proba(self, X):
        """The log of predict_proba.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        return np.log(self.predict_proba(X))

    def predict(self, X):
        """Predicted class labels (or label indicators, multi-label).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        p = self._forward(X)
        if self.n_outputs_ == 1:
            p = p.ravel()
        return self._label_binarizer.inverse_transform(p)

    def score(self, X, y, sample_weight=None):
        """Mean accuracy (subset accuracy for multi-label), as scikit-learn's.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        float
        """
        return accuracy_score(y, self.predict(X), sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, BaseMLP):
    """Multi-layer perceptron regressor trained by fastdescent's C++ engine.

    Accepts every parameter of :class:`sklearn.neural_network.MLPRegressor` with the same
    default and meaning (see :class:`MLPClassifier` for the shared ones and what fastdescent
    adds); with the same ``random_state`` the weights follow scikit-learn's to floating-point
    rounding.

    Parameters
    ----------
    loss : {'squared_error', 'poisson'}, default='squared_error'
        'squared_error' with an identity output (``0.5 * mean((y - p)**2)`` over rows and
        outputs), or 'poisson' (half Poisson deviance) with an exponential output; y must
        then be >= 0.
    hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate, \
learning_rate_init, power_t, max_iter, shuffle, random_state, tol, verbose, warm_start, \
momentum, nesterovs_momentum, early_stopping, validation_fraction, beta_1, beta_2, epsilon, \
n_iter_no_change, max_fun, optimizer, clip_value, clip_norm, callbacks, n_jobs, device
        As in :class:`MLPClassifier`; early stopping scores R^2.

    Attributes
    ----------
    coefs_, intercepts_, n_layers_, n_outputs_, out_activation_, loss_, best_loss_,
    loss_curve_, validation_scores_, best_validation_score_, t_, n_iter_, n_features_in_,
    feature_names_in_
        As scikit-learn's MLPRegressor.
    history_ : dict
        Per-epoch loss, validation score, step size, gradient norm and time.

    Examples
    --------
    >>> import numpy as np
    >>> import fastdescent as fd
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 4))
    >>> y = np.sin(X[:, 0]) + X[:, 1] ** 2
    >>> reg = fd.MLPRegressor(hidden_layer_sizes=(32,), max_iter=300, random_state=0).fit(X, y)
    >>> reg.score(X, y) > 0.9
    True
    """

    _parameter_constraints: dict = {
        **BaseMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        optimizer=None,
        clip_value=None,
        clip_norm=None,
        callbacks=None,
        n_jobs=None,
        device="cpu",
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            optimizer=optimizer,
            clip_value=clip_value,
            clip_norm=clip_norm,
            callbacks=callbacks,
            n_jobs=n_jobs,
            device=device,
        )
        self.loss = loss

    def _out_activation(self, n_outputs):
        return "exp" if self.loss == "poisson" else "identity"

    def _loss_kind(self):
        return _core.MlpLoss.poisson if self.loss == "poisson" else _core.MlpLoss.squared_error

    def _validate_input(self, X, y, incremental, reset):
        _reject_strings(X, "X")
        _reject_strings(y, "y")
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse="csr",
            multi_output=True,
            y_numeric=True,
            dtype=None if is_half(X) else (np.float64, np.float32),
            reset=reset,
            accept_large_sparse=True,
            ensure_all_finite=False,
        )
        X = self._check_finite(_rows_readable(X))
        if self.loss == "poisson" and np.any(y < 0):
            raise ValueError("loss='poisson' needs non-negative targets: y holds negative values.")
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        return X, np.ascontiguousarray(Y, dtype=compute_dtype(X))

    @_fit_context(prefer_skip_nested_validation=True)
    @keeps_state_on_error
    def fit(self, X, y, sample_weight=None):
        """Fit the model to X and y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; float32 trains in float32. A C-contiguous array is read in place.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows.

        Returns
        -------
        self : MLPRegressor
        """
        return self._fit(X, y, sample_weight, incremental=False)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    @keeps_state_on_error
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over X and y, continuing the optimizer's state.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : MLPRegressor
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X):
        """Predicted targets.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        p = self._forward(X)
        return p.ravel() if self.n_outputs_ == 1 else p

    def score(self, X, y, sample_weight=None):
        """R^2 of the predictions (averaged uniformly over outputs), as scikit-learn's.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        float
        """
        return r2_score(y, self.predict(X), sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
