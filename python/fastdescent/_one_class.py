"""SGDOneClassSVM: the linear one-class SVM by gradient descent, a drop-in for scikit-learn's."""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import OutlierMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _num_samples, check_is_fitted

from . import _dask, schedules
from ._base import BaseSGD, keeps_state_on_error, linear_scores

_SHARED = (
    "fit_intercept",
    "max_iter",
    "tol",
    "shuffle",
    "verbose",
    "random_state",
    "eta0",
    "warm_start",
    "average",
    "batch_size",
    "optimizer",
    "clip_value",
    "clip_norm",
    "sparse_updates",
    "n_jobs",
    "callbacks",
    "device",
    "gpu_dtype",
)


class SGDOneClassSVM(OutlierMixin, BaseSGD):
    """The linear one-class SVM fitted by stochastic, mini-batch or full-batch gradient descent.

    Accepts every parameter of :class:`sklearn.linear_model.SGDOneClassSVM` with the same
    default and meaning, and trains with the same per-sample algorithm when ``batch_size=1``
    (the default): with the same hyperparameters and row order (``shuffle=False``) on dense
    input it gives scikit-learn's ``coef_`` and ``offset_``. The training loop runs in C++
    without the GIL, and every mode of the other estimators is available (mini-batches, full
    batch, the optimizers, schedules, clipping, sparse input, Dask, the GPU, callbacks).

    The problem, as scikit-learn solves it: with ``b = 1 - offset_``, minimize
    ``nu / 2 * ||w||^2 + nu * b + mean_i max(0, 1 - (w . x_i + b))`` (the one-class SVM's
    primal ``||w||^2 / 2 - rho + mean_i max(0, rho - w . x_i) / nu`` times nu, with
    ``rho = 1 - b``): the hinge loss of the score against a target of 1, the L2 penalty
    ``alpha = nu``, and a linear term ``nu * b`` in the intercept, which every mode steps
    with the loss's gradient (per-sample SGD adds ``-eta * nu`` to every intercept update,
    unweighted, as scikit-learn does). ``loss_curve_`` includes the linear term.

    Parameters
    ----------
    nu : float in (0, 1], default=0.5
        An upper bound on the fraction of training errors and a lower bound on the fraction of
        support vectors; also the L2 penalty's strength.
    fit_intercept : bool, default=True
    max_iter : int, default=1000
        Maximum number of epochs.
    tol : float or None, default=1e-3
        Training stops when the epoch objective has not improved by ``tol`` for 5 consecutive
        epochs (see SGDRegressor's ``tol``; in scikit-learn's own mode the objective is its
        own, so ``n_iter_`` is scikit-learn's); None disables the test.
    shuffle : bool, default=True
    verbose : int, default=0
    random_state : int, RandomState instance or None
    learning_rate : str or fastdescent.schedules.Schedule, default='auto'
        As in :class:`SGDRegressor`, where 'auto' means scikit-learn's default for this
        estimator, 'optimal' (with ``alpha = nu``), in its own mode (plain SGD per-sample or
        mini-batch); 'pa1' and 'pa2' are refused.
    eta0 : float, default=0.01
    power_t : float, default=0.5
        Exponent of 'invscaling' (scikit-learn's default here is 0.5).
    warm_start : bool, default=False
    average : bool or int, default=False
    batch_size, optimizer, clip_value, clip_norm, sparse_updates, n_jobs, device, gpu_dtype, \
callbacks
        As in :class:`SGDRegressor`.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    offset_ : ndarray of shape (1,)
        ``decision_function(X) = X @ coef_ - offset_``; equal to ``1 - intercept_``.
    intercept_ : ndarray of shape (1,)
        The intercept b of the problem above.
    n_iter_ : int
    t_ : float
        Number of weight updates plus one.
    loss_curve_, history_ : as in :class:`SGDRegressor`.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X has feature names.
    """

    # The hyperparameters of the problem above, fixed for the shared machinery.
    loss = "hinge"
    penalty = "l2"
    l1_ratio = 0.0
    epsilon = 0.1
    early_stopping = False
    validation_fraction = 0.1
    n_iter_no_change = 5

    _parameter_constraints: dict = {
        **{name: BaseSGD._parameter_constraints[name] for name in _SHARED},
        "nu": [Interval(Real, 0.0, 1.0, closed="right")],
        "learning_rate": [
            StrOptions({"auto", *schedules.ESTIMATOR_SCHEDULES} - {"pa1", "pa2"}),
            schedules.Schedule,
        ],
        "power_t": BaseSGD._parameter_constraints["power_t"],
    }

    def __init__(
        self,
        nu=0.5,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-3,
        shuffle=True,
        verbose=0,
        random_state=None,
        learning_rate="auto",
        eta0=0.01,
        power_t=0.5,
        warm_start=False,
        average=False,
        *,
        batch_size=1,
        optimizer="sgd",
        clip_value=None,
        clip_norm=None,
        sparse_updates="exact",
        n_jobs=None,
        callbacks=None,
        device="cpu",
        gpu_dtype=None,
    ):
        self.nu = nu
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.shuffle = shuffle
        self.verbose = verbose
        self.random_state = random_state
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.power_t = power_t
        self.warm_start = warm_start
        self.average = average
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.clip_value = clip_value
        self.clip_norm = clip_norm
        self.sparse_updates = sparse_updates
        self.n_jobs = n_jobs
        self.callbacks = callbacks
        self.device = device
        self.gpu_dtype = gpu_dtype

    @property
    def alpha(self):
        """The L2 penalty's strength: nu."""
        return self.nu

    @property
    def offset_(self):
        return 1.0 - self.intercept_

    def _sklearn_schedule(self):
        return "optimal"

    def _intercept_linear(self):
        return float(self.nu)

    def _start_intercept(self, intercept_init, y, w):
        # offset_ starts at 0, as scikit-learn's: the intercept at 1.
        return [1.0] if intercept_init is None else intercept_init

    @_fit_context(prefer_skip_nested_validation=True)
    @keeps_state_on_error
    def fit(self, X, y=None, coef_init=None, offset_init=None, sample_weight=None):
        """Fit the one-class SVM, starting from zero (or coef_init / offset_init, or the
        previous solution with warm_start).

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array, dask DataFrame} of shape \
(n_samples, n_features)
        y : Ignored
        coef_init : array-like of shape (n_features,), optional
        offset_init : array-like of shape (1,), optional
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self
        """
        self._check_hyperparams()
        intercept_init = None if offset_init is None else 1.0 - np.asarray(offset_init)
        if self.warm_start and hasattr(self, "coef_"):
            coef_init = self.coef_ if coef_init is None else coef_init
            intercept_init = self.intercept_ if intercept_init is None else intercept_init
        if _dask.is_dask_collection(X):
            self._refuse_gpu_for_dask()
            return _dask.fit(
                self,
                self._fit_plan(),
                X,
                _dask.ones_for_rows(X),
                sample_weight=sample_weight,
                coef_init=coef_init,
                intercept_init=intercept_init,
            )
        return self._fit_one_output(
            X,
            _ones(X),
            sample_weight,
            coef_init,
            intercept_init,
            self.max_iter,
            reset=True,
            resume=False,
            partial=False,
        )

    @_fit_context(prefer_skip_nested_validation=True)
    @keeps_state_on_error
    def partial_fit(self, X, y=None, sample_weight=None):
        """One epoch of training on X, continuing from the current state (see
        :meth:`SGDRegressor.partial_fit`).

        Returns
        -------
        self
        """
        self._check_hyperparams(for_partial_fit=True)
        X, sample_weight = _dask.computed(X, sample_weight)
        first = not hasattr(self, "coef_")
        return self._fit_one_output(
            X, _ones(X), sample_weight, None, None, 1, reset=first, resume=not first, partial=True
        )

    def decision_function(self, X):
        """Signed distance to the separating hyperplane, ``X @ coef_ - offset_``: positive for
        an inlier, negative for an outlier.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
            A dask array computed blockwise when X is a dask collection.
        """
        check_is_fitted(self)
        if _dask.is_dask_collection(X):
            return _dask.blockwise(self, "decision_function", X)
        X = self._check_X(X, reset=False)
        scores = np.ravel(linear_scores(X, self.coef_))
        return scores - self.offset_

    def score_samples(self, X):
        """The raw scores ``X @ coef_`` (``decision_function(X) + offset_``)."""
        check_is_fitted(self)
        if _dask.is_dask_collection(X):
            return _dask.blockwise(self, "score_samples", X)
        return self.decision_function(X) + self.offset_

    def predict(self, X):
        """Labels: 1 for an inlier (``decision_function >= 0``), -1 for an outlier (int32)."""
        check_is_fitted(self)
        if _dask.is_dask_collection(X):
            return _dask.blockwise(self, "predict", X)
        return np.where(self.decision_function(X) >= 0, 1, -1).astype(np.int32)


def _ones(X):
    """The one-class SVM's targets: 1 for every row of X (device arrays included)."""
    shape = getattr(X, "shape", None)
    n = shape[0] if shape is not None and len(shape) > 0 else _num_samples(X)
    return np.ones(n)
