"""SGDRegressor: linear regression by gradient descent, a drop-in for scikit-learn's."""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.linear_model._base import SparseCoefMixin
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import check_is_fitted

from . import _dask
from ._base import (
    REGRESSION_LOSSES,
    BaseSGD,
    keeps_state_on_error,
    linear_scores,
)
from ._deviance import DEVIANCE_POWERS, deviance_score


class SGDRegressor(RegressorMixin, SparseCoefMixin, BaseSGD):
    """Linear regression fitted by stochastic, mini-batch or full-batch gradient descent.

    Accepts every parameter of :class:`sklearn.linear_model.SGDRegressor` with the same
    default and meaning, and trains with the same per-sample algorithm when ``batch_size=1``
    (the default); the training loop runs in C++ without the GIL.

    Parameters
    ----------
    loss : {'squared_error', 'huber', 'epsilon_insensitive', 'squared_epsilon_insensitive', \
'absolute_error', 'quantile', 'poisson', 'gamma', 'tweedie'}, default='squared_error'
        Per-sample loss of the linear output ``p = X @ coef_ + intercept_`` against y:

        - scikit-learn's SGD losses: 'squared_error' ``0.5 * (p - y)**2``, 'huber',
          'epsilon_insensitive', 'squared_epsilon_insensitive' (width ``epsilon``);
        - 'absolute_error' ``|y - p|``, and 'quantile', the pinball loss of ``quantile``
          (``quantile * (y - p)`` above the prediction, ``(1 - quantile) * (p - y)`` below):
          with ``penalty='l1'`` and the same ``alpha`` the objective is
          :class:`sklearn.linear_model.QuantileRegressor`'s;
        - 'poisson' (y >= 0), 'gamma' (y > 0) and 'tweedie' (``power``): half the unit
          deviance of the distribution with the log link, ``p = log(mean)``, so that
          :meth:`predict` returns ``exp(p)`` and ``alpha`` with the L2 penalty means what it
          means in :class:`sklearn.linear_model.PoissonRegressor`, ``GammaRegressor`` and
          ``TweedieRegressor`` (the objective is the weighted mean half deviance plus
          ``alpha / 2 * ||coef||^2``). A fit that does not start from ``intercept_init``,
          ``warm_start`` or an earlier ``partial_fit`` starts the intercept at the log of the
          weighted mean of y (as those estimators do); y outside the distribution's range
          raises ValueError.
    penalty : {'l2', 'l1', 'elasticnet'} or None, default='l2'
        Regularization term.
    alpha : float, default=1e-4
        Regularization strength; also sets the 'optimal' learning rate.
    l1_ratio : float in [0, 1], default=0.15
        Share of L1 in the elastic-net penalty.
    fit_intercept : bool, default=True
    max_iter : int, default=1000
        Maximum number of epochs (passes over the training data).
    tol : float or None, default=1e-3
        Training stops when the epoch objective (or validation score) has not improved by
        ``tol`` for ``n_iter_no_change`` consecutive epochs; None disables the test. The
        objective is the weighted mean loss plus the penalty at the epoch's end (``loss_curve_``);
        in scikit-learn's own mode (``batch_size=1``, plain SGD, no L1 term, one thread a model)
        the test reads scikit-learn's instead, each update's loss plus the penalty at the
        weights it starts from, averaged over the epoch, so that ``n_iter_`` is scikit-learn's
        (without shuffling, or with its row order; on sparse X scikit-learn 1.9 reads the norm
        of the last row's features' weights only, and may stop sooner). With a
        ``learning_rate`` that anneals over ``max_iter`` epochs ('cosine', 'onecycle',
        'polynomial', 'step', 'multistep') the objective does not stop training (it would stop
        before the step has decayed); with ``early_stopping=True`` the validation score still
        does. ``fit`` gives a ConvergenceWarning when ``max_iter`` ends a fit that ``tol`` could
        have stopped (also with ``max_iter=1``; not ``partial_fit``, as scikit-learn), and,
        outside scikit-learn's own mode (``batch_size=1`` with plain SGD), one when the
        objective rose over the last 3 epochs, naming the step size. The full-batch solver
        of ``learning_rate='auto'`` stops on its gradient test instead (``tol / 100``
        relative; None: no test), each epoch being one of its passes.
    shuffle : bool, default=True
        Shuffle the rows before each epoch.
    verbose : int, default=0
        0 prints nothing; 1 shows a progress bar per fit (tqdm, on stderr: epochs, current
        loss, step size, epochs per second); 2 also prints a line per epoch to stdout, as
        scikit-learn does (loss, step size, update count, gradient norm, validation score,
        elapsed time).
    epsilon : float, default=0.1
        Width of the huber / epsilon-insensitive zones.
    quantile : float in (0, 1), default=0.5
        The quantile that ``loss='quantile'`` estimates.
    power : float, default=0.0
        The Tweedie power of ``loss='tweedie'``: 0 (normal: squared_error with the identity
        link), 1 (Poisson), in (1, 2) (compound Poisson-gamma, y >= 0), 2 (gamma), or above 2
        (y > 0, e.g. 3 for the inverse Gaussian); powers in (0, 1) and below 0 are refused.
    random_state : int, RandomState instance or None
        Seeds shuffling and the validation split.
    learning_rate : str or fastdescent.schedules.Schedule, default='auto'
        Step-size schedule, evaluated per update in C++. 'auto' picks the step for the mode
        (``get_params()`` shows 'auto'):

        - plain SGD (``optimizer='sgd'``) per-sample or mini-batch: scikit-learn's default
          schedule, with ``eta0`` and ``power_t`` as given ('invscaling' here, 'optimal' in
          the classifier), so results are scikit-learn's in its own mode;
        - ``batch_size='full'`` with plain SGD on the CPU: a solver that ignores ``eta0``. For
          a smooth loss (squared_error, huber, squared_epsilon_insensitive, log_loss and
          multinomial, squared_hinge, modified_huber) with the L2 penalty or none, a
          limited-memory quasi-Newton (BFGS) step in the metric of a diagonal preconditioner
          (the Hessian bound's diagonal), each step checked by the Armijo condition; with an
          L1 part, accelerated proximal gradient (FISTA) with step 1 / L, L from the
          objective's smoothness (power iterations on a row sample) following the curvature
          along the path, checked by backtracking, with adaptive restarts. Both stop when the
          gradient's norm falls below ``tol / 100`` times its first value (or times
          sqrt(objective) when that is larger), and converge to the optimum of scikit-learn's
          exact solvers (Ridge with ``alpha * n_samples``, LogisticRegression with
          ``C = 1 / (n_samples * alpha)``). The log-link losses (poisson, gamma, tweedie)
          take the quasi-Newton step with their curvature measured at the start (it is not
          bounded), a step past the exp's range retaken shorter, and reach the optimum of
          PoissonRegressor / GammaRegressor / TweedieRegressor. 'absolute_error' and
          'quantile' are solved through a smooth surrogate: ``|r|`` in ``pinball(r) = |r| / 2
          + (quantile - 1/2) r`` replaced by the Huber loss of width c over c (at most c / 2
          below it), c the mean absolute residual at the start, narrowed tenfold each time
          the solver's test passes, down to 1e-4 of its first value; ``loss_curve_`` reports
          the surrogate's objective. It reaches QuantileRegressor's optimum (to 1e-6 relative
          on the tests' problems). The classifier's (and the one-class SVM's) hinge is solved
          the same way, as ``|y - p| / 2 + (1 - y p) / 2`` for labels y = +-1. For the other
          non-smooth losses (epsilon_insensitive, and the classifier's perceptron), a
          subgradient step 1 / (L sqrt(k)) at
          iteration k, stopped by ``tol`` as other fits (no solver-grade promise). The GPU and
          Dask run scikit-learn's default schedule there instead;
        - any other ``optimizer`` name: its default step (PyTorch's: 1e-3 for Adam, 1e-2 for
          momentum, 1e-4 for Lion, ...), times min(sqrt(batch rows), 10) for the optimizers
          whose step is in the weights' units (all but 'momentum' and 'nesterov'), and for
          those, in the regressor, times the standard deviation of the training targets; then
          divided by 5 each time the objective stops improving by ``tol`` for
          ``n_iter_no_change`` epochs (scikit-learn's 'adaptive'), until it is below 1e-6;
          Lion's by 1.5 (it moves every weight by the whole step, and cuts by 5 stalled it
          short of the optimum: diabetes 0.382 against 0.389 held-out R^2, about 1.5x the
          epochs).

        Or a name that uses ``eta0``: scikit-learn's ('constant', 'optimal', 'invscaling',
        'adaptive', 'pa1', 'pa2', same definitions) or PyTorch-style ones scaled to the fit:
        'exponential' (x 0.9 per epoch), 'step' (x 0.1 every max_iter // 3 epochs),
        'multistep' (x 0.1 at 1/2 and 3/4 of max_iter), 'cosine' (to 0 over max_iter epochs),
        'cosine_restarts' (restarts after 10, 20, 40, ... epochs), 'onecycle' (peak eta0 over
        max_iter epochs), 'polynomial' (linear to 0 over max_iter epochs), 'plateau' (x 0.1
        after 10 epochs without a 1e-4 relative improvement of the training objective),
        'warmup' (linear warmup over the first epoch, then eta0); see
        :func:`fastdescent.schedules.schedule_from_name`. A schedule object (e.g.
        ``schedules.LinearWarmup(schedules.CosineAnnealingLR(0.1, T_max=5000), 500)``) gives
        the step size of every update itself, counted in updates; ``eta0`` is then unused.
        The count continues across ``partial_fit`` calls and warm starts (each call is one
        epoch of a ``max_iter``-epoch schedule); a plateau's state does not. An optimizer
        object's own ``lr`` wins over ``learning_rate``.
    eta0 : float, default=0.01
        Initial (peak, for 'onecycle') step size of a named schedule; the aggressiveness C
        for 'pa1' / 'pa2'.
    power_t : float, default=0.25
        Exponent of 'invscaling'.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows and stop on their R^2 score.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=5
    warm_start : bool, default=False
        Start ``fit`` from the previous solution.
    average : bool or int, default=False
        Averaged SGD: keep the running mean of the weights from update number ``average``
        on (True means 1) and use it as the final model.
    batch_size : int or 'full', default=1
        Rows per update: 1 is per-sample SGD, an integer B is mini-batch gradient descent on
        the sample-weighted mean gradient of B rows (a row of weight zero counts as absent),
        'full' is full-batch gradient descent. Sample weights therefore set the relative
        importance of rows within a batch; scikit-learn's per-sample SGD (batch_size=1 with
        optimizer='sgd' and no clipping) instead scales each step by the row's weight. With
        batch_size=1 and any other optimizer or clipping, a batch is one row and its weight
        cancels, so weights only matter in the reported objective: use a mini-batch there.
    optimizer : str or fastdescent.optim.Optimizer, default='sgd'
        Parameter-update rule: 'sgd' (scikit-learn's plain SGD), 'momentum', 'nesterov',
        'adagrad', 'rmsprop', 'adam', 'adamw', 'nadam', 'adamax', 'lamb', 'adafactor', 'lion'
        (PyTorch's / the papers' default hyperparameters), or an optimizer object for other
        hyperparameters. One rule sets the step size: with a name, ``learning_rate`` and
        ``eta0`` give it; with an object, the object's ``lr`` (a float or a schedule object)
        gives it and ``learning_rate`` and ``eta0`` are ignored.
    clip_value : float or None, default=None
        Clamp every gradient entry to ``[-clip_value, clip_value]`` before the update.
    clip_norm : float or None, default=None
        Rescale the gradient (coefficients and intercept together) to at most this L2 norm,
        as ``torch.nn.utils.clip_grad_norm_``.
    sparse_updates : {'exact', 'lazy'}, default='exact'
        How optimizers without an exact lazy update step on CSR mini-batches (see Notes).
        'exact': every weight at every step, as on dense input (O(n_features) per step).
        'lazy': only the batch's features, as ``torch.optim.SparseAdam`` does for Adam, for
        every optimizer but Adafactor (refused: its factored moments span every column): the
        batch's features take the optimizer's step on their part of its state, the other
        features keep their weights and state (the step count is global). The result differs
        from the dense one; the cost per step is O(nnz of the batch). Rules with an exact lazy
        update, averaging and dense input ignore it.
    n_jobs : int or None, default=None
        Threads, with scikit-learn's meaning: None means 1 (unless in a
        ``joblib.parallel_backend`` context), -1 all CPUs, -2 all but one. Capped by the
        OpenMP limit that ``threadpoolctl.threadpool_limits`` or ``OMP_NUM_THREADS`` set.
        Mini-batch and full-batch gradients split rows over the threads and add the parts in
        a fixed order. Per-sample SGD (``batch_size=1``, plain SGD, no L1 penalty, no
        averaging) trains one copy of the model per thread on its share of each quarter
        epoch and averages the copies after each quarter (model averaging, no locks).
        ``n_jobs=1`` is bit-for-bit reproducible for a fixed ``random_state``; larger values are
        reproducible for the same ``n_jobs`` but give a (slightly) different model than one
        thread.
    device : {'cpu', 'cuda', 'auto'}, default='cpu'
        Where training runs. 'cuda' runs the whole training loop on an NVIDIA GPU with
        Numba-CUDA kernels (``pip install fastdescent[cuda]``): X is copied to the GPU once
        (a CuPy array, or any array with ``__cuda_array_interface__``, is used in place, without
        a copy), and only a few scalars per epoch come back. It needs dense X and a mini-batch
        or full batch (``batch_size`` > 1 or 'full'; per-sample SGD is refused with a
        ValueError, as it is faster on the CPU), and supports every loss, penalty, schedule
        (except 'pa1'/'pa2'), clipping, averaging, early stopping and every optimizer. A
        missing GPU or numba-cuda raises an error naming it.
        'auto' trains on the GPU when a real one is usable and the fit is supported there,
        else on the CPU. Shuffled mini-batches visit rows in another order than on the CPU.
    gpu_dtype : {'float32', 'float64'} or None, default=None
        Precision of GPU training. None: float32 for host (NumPy) input, which is converted
        while it is copied to the GPU, and the array's own dtype for GPU input. 'float64'
        asks for double precision; a GPU array of the other dtype is then converted on the
        GPU (a copy). ``coef_`` has this dtype. Unused on the CPU.
    callbacks : list of fastdescent.callbacks.Callback or None, default=None
        Objects called at the start of ``fit`` / ``partial_fit``, at the end of every epoch
        (with the epoch's metrics, the keys of ``history_``; returning True stops training)
        and at the end; see :mod:`fastdescent.callbacks`. Inside ``on_epoch_end``,
        ``coef_`` and ``intercept_`` hold the current weights.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_outputs, n_features)
        Two-dimensional for a 2-D y (multi-output regression).
    intercept_ : ndarray of shape (1,) or (n_outputs,)
    n_iter_ : int
        Epochs run.
    t_ : float
        Number of weight updates performed plus one (validation rows are not updates).
    loss_curve_ : list of float
        Training objective per epoch: the sample-weighted mean loss over the epoch's updates
        plus the penalty at the epoch's end. ``tol`` and ``n_iter_no_change`` test this value
        (scikit-learn uses the unweighted loss and averages the penalty over the epoch, so
        ``n_iter_`` can differ by a few epochs).
    history_ : dict of list
        Per epoch of the last ``fit`` / ``partial_fit`` call: ``"epoch"`` (1-based),
        ``"loss"`` (as ``loss_curve_``), ``"val_score"`` (only with early stopping),
        ``"lr"`` (step size of the epoch's last update), ``"grad_norm"`` and ``"time"``
        (seconds since the call started). ``grad_norm`` is the L2 norm, over coefficients
        and intercept, of the gradient of the epoch's last update: the weighted mean loss
        gradient of that update's rows (one row per-sample, a batch otherwise) plus the L2
        penalty's gradient, at the weights the update started from, before clipping (the L1
        part is a proximal step and is left out). With ``batch_size='full'`` it is the
        gradient norm of the training objective. It is NaN where no single update stands
        for the epoch: per-sample SGD with n_jobs > 1 or on dask input (models averaged), and
        on the GPU (not reduced there).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X has feature names.

    Notes
    -----
    ``coef_`` has the dtype of X (float32 or float64; float32 for a float16 or bfloat16 X,
    which is read as stored and widened in registers); X is read in place, never copied,
    when it is a C-contiguous or row-strided array (read-only and memory-mapped included) or a
    CSR matrix. Integer, boolean and object X holding numbers are converted to float64 (a
    copy); Fortran-ordered or column-strided X is copied to C order once. Text and complex X,
    NaN or infinity in X, y or sample_weight, and negative sample weights raise ValueError.

    Sparse input: X may be a scipy.sparse matrix. CSR is read in place (no copy) with int32 or
    int64 indices (scikit-learn's SGD estimators reject int64 indices, which
    ``load_svmlight_file`` returns for large files); CSC, COO and the other formats are
    converted to CSR once per ``fit`` (a copy of X). No sparse input is ever densified.
    In scikit-learn's mode (``batch_size=1``, ``optimizer='sgd'``) the intercept's steps on
    sparse input are scaled by 0.01, as scikit-learn's (its ``SPARSE_INTERCEPT_DECAY``), so the
    results and ``n_iter_`` are scikit-learn's; on text the damped intercept reaches a given
    accuracy in fewer epochs. Every other mode trains a sparse X exactly as its dense twin.

    Cost per update on CSR input, with nnz the stored entries of the row or batch:

    - ``batch_size=1``, ``optimizer='sgd'`` (scikit-learn's algorithm): O(nnz), including L2
      (weight scale), L1 / elastic net (cumulative truncation of the row's features, as
      scikit-learn: it differs from the dense result, which truncates every feature), averaging
      (kept as ``A * a + B * w``, scalars A and B) and the intercept.
    - Mini-batches (and ``batch_size=1`` with an optimizer) update only the batch's features
      where the skipped steps of the others have a closed form, and the result equals the
      dense one (to rounding):

      * 'sgd', ``SGD(momentum=0)`` (any penalty, any ``weight_decay``): lazy, exact. A weight
        idle for k steps is scaled by prod(1 - eta (l2 + weight_decay)) and L1-shrunk by the
        composition of the k soft thresholds (prefix products and sums over the steps).
      * ``Adagrad`` (penalty None or 'l1', ``weight_decay=0``): lazy, exact; an idle weight's
        accumulator does not change.
      * ``RMSprop(momentum=0)``, centered or not (penalty None or 'l1', ``weight_decay=0``):
        lazy, exact; an idle weight's averages decay by ``alpha**k``.
      * Momentum / Nesterov, Adam, AdamW, NAdam, Adamax, LAMB, Adafactor, Lion, Adagrad and
        RMSprop with an L2 term, averaging, clipping: the dense update, O(n_features) per step
        (exact too). Their idle weights keep moving (momentum, L2 decay inside an adaptive
        step) or their step has no closed form over k idle steps (Adam's bias corrections and
        eps). With ``sparse_updates='lazy'`` each of them but Adafactor (and with clipping,
        any rule) instead takes the SparseAdam-style rule on the batch's features only
        (O(nnz) per step, the optimizer's own update on the gathered features; a different
        result, tested against a reference of that rule for every optimizer). Averaging
        always takes the dense update.

      A step with ``eta * (l2 + weight_decay) >= 1`` updates every weight (it flips signs).
      The lazy path accumulates the batch gradient in row order on one thread (deterministic);
      full-batch epochs use the threaded dense-buffer reduction.

    On a dask array or DataFrame (``pip install fastdescent[dask]``), ``fit`` trains
    data-parallel on the row chunks, persisted on the workers once. Full-batch and mini-batch
    fits sum each chunk's loss and gradient on the workers (C++ kernels), add the sums by a tree
    reduction and make the in-memory update on the client, so a full-batch fit equals the
    in-memory fit up to summation order; a mini-batch update takes each chunk's share of
    ``batch_size`` rows (one round trip per update: use large batches). With ``batch_size=1``
    and plain SGD, each chunk runs a local per-sample epoch from the current model and the
    models are averaged, weighted by the chunks' sample weight; ``t_`` then counts the updates
    of the largest chunk. ``early_stopping`` is not supported there. Predictions and ``score``
    on dask input are dask arrays computed blockwise.

    With ``device='cuda'``, ``coef_`` has the GPU dtype (``gpu_dtype``) and a NumPy X is
    copied to the GPU once.

    Multi-output regression: with a 2-D y of k columns, one linear model per column trains in
    the same pass over X per update (the scores of k outputs per row, then their gradients,
    from rows still in cache), with the same rows, order and step sizes as k separate fits:
    with plain SGD, Adam and the other per-weight rules the result is those k fits (tested);
    clipping by norm and the full-batch solver's line search see the outputs together.
    ``loss_curve_`` is the sum of the outputs' objectives, ``score`` the mean R^2 (or D^2) over
    the outputs, as scikit-learn's ``'uniform_average'``; early stopping uses that mean. It
    runs on the CPU in memory (the GPU and dask collections take a 1-D y).

    Divergence: when a step size makes the loss or a weight non-finite, ``fit`` and
    ``partial_fit`` raise ValueError ("Floating-point under-/overflow occurred at epoch #...",
    as scikit-learn does) and the estimator keeps the state it had before the call; the fitted
    coefficients are never NaN or infinite. The same holds for any other error and for
    KeyboardInterrupt, which stops a fit within milliseconds.
    """

    _parameter_constraints: dict = {
        **BaseSGD._parameter_constraints,
        "loss": [StrOptions(set(REGRESSION_LOSSES))],
        "quantile": [Interval(Real, 0, 1, closed="neither")],
        "power": [Interval(Real, 1, None, closed="left"), Options(Real, {0})],
    }

    def __init__(
        self,
        loss="squared_error",
        *,
        penalty="l2",
        alpha=0.0001,
        l1_ratio=0.15,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-3,
        shuffle=True,
        verbose=0,
        epsilon=0.1,
        quantile=0.5,
        power=0.0,
        random_state=None,
        learning_rate="auto",
        eta0=0.01,
        power_t=0.25,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        warm_start=False,
        average=False,
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
        self.loss = loss
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.shuffle = shuffle
        self.verbose = verbose
        self.epsilon = epsilon
        self.quantile = quantile
        self.power = power
        self.random_state = random_state
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.power_t = power_t
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
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

    @_fit_context(prefer_skip_nested_validation=True)
    @keeps_state_on_error
    def fit(self, X, y, coef_init=None, intercept_init=None, sample_weight=None):
        """Fit the model, starting from zero (or coef_init / the previous fit with warm_start).

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array, dask DataFrame} of shape \
(n_samples, n_features)
            A dask collection trains data-parallel on its chunks (see ``Notes``); y and
            sample_weight may then be dask collections too.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            A 2-D y trains one model per column (multi-output regression, see Notes); a
            column vector (n_samples, 1) is one output, with scikit-learn's
            DataConversionWarning.
        coef_init : array-like of shape (n_features,) or (n_outputs, n_features), optional
        intercept_init : array-like of shape (1,) or (n_outputs,), optional
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self
        """
        self._check_hyperparams()
        if self.warm_start and hasattr(self, "coef_"):
            coef_init = self.coef_ if coef_init is None else coef_init
            intercept_init = self.intercept_ if intercept_init is None else intercept_init
        if _dask.is_dask_collection(X):
            self._refuse_gpu_for_dask()
            if getattr(y, "ndim", 1) == 2 and y.shape[1] != 1:
                raise ValueError(
                    "Multi-output regression (a 2-D y) trains in memory; on dask collections y "
                    "must be 1-D."
                )
            return _dask.fit(
                self,
                self._fit_plan(),
                X,
                y,
                sample_weight=sample_weight,
                coef_init=coef_init,
                intercept_init=intercept_init,
            )
        return self._fit(
            X,
            y,
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
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch of training on (X, y), continuing from the current state.

        The coefficients, the averaged model, the update count ``t_`` (so the step-size
        schedule) and the optimizer's state (momentum, moment estimates) carry over between
        calls, on every device, so that chunks fed in order train as one ``fit`` epoch over the
        same rows in the same order would (with ``shuffle=False``). A chunk that is not a
        multiple of ``batch_size`` ends with a smaller batch. A schedule whose horizon depends
        on the number of updates (cosine, one-cycle, ...) takes it from ``max_iter`` and the
        first call's rows. ``loss_curve_`` and ``history_`` accumulate over the calls. The
        state is plain NumPy arrays and numbers: pickling between calls keeps it. Changing the
        optimizer's hyperparameters between calls starts its state afresh.

        A dask chunk is computed first (as `dask_ml.wrappers.Incremental` passes them).

        Returns
        -------
        self
        """
        self._check_hyperparams(for_partial_fit=True)
        X, y, sample_weight = _dask.computed(X, y, sample_weight)
        first = not hasattr(self, "coef_")
        return self._fit(
            X, y, sample_weight, None, None, 1, reset=first, resume=not first, partial=True
        )

    def _fit(
        self, X, y, sample_weight, coef_init, intercept_init, max_iter, reset, resume, partial
    ):
        return self._fit_one_output(
            X, y, sample_weight, coef_init, intercept_init, max_iter, reset, resume, partial
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _deviance_power(self):
        if self.loss == "tweedie":
            return float(self.power)
        return DEVIANCE_POWERS.get(self.loss)

    def _log_link(self):
        power = self._deviance_power()
        return power is not None and power >= 1

    def _check_targets(self, y):
        """Refuses targets outside the loss's range (after the finiteness checks)."""
        power = self._deviance_power()
        if power is None or power < 1:
            return
        if power < 2 and (y < 0).any():
            raise ValueError(
                f"loss={self.loss!r}{self._power_text()} needs non-negative targets (counts or "
                f"amounts); y holds {int((y < 0).sum())} negative values (min {y.min():.6g})."
            )
        if power >= 2 and (y <= 0).any():
            raise ValueError(
                f"loss={self.loss!r}{self._power_text()} needs positive targets; y holds "
                f"{int((y <= 0).sum())} values <= 0 (min {y.min():.6g})."
            )

    def _power_text(self):
        return f" with power={self.power!r}" if self.loss == "tweedie" else ""

    def _reads_targets(self):
        """Whether the loss checks the targets' range or starts from their statistics."""
        return self._log_link() or self.loss in ("quantile", "absolute_error")

    def _start_intercept(self, intercept_init, y, w):
        """The starting intercept of a fresh fit from the training targets `y` (weights `w`):
        `intercept_init` if given; for a log-link loss, the log of the weighted mean of y, as
        scikit-learn's GLM regressors start; for 'quantile' and 'absolute_error', the weighted
        quantile (median) of y, the best constant model; else None (zero)."""
        if intercept_init is not None or not self.fit_intercept or not self._reads_targets():
            return intercept_init
        if not w.sum() > 0:
            return None
        if self._log_link():
            mean = np.average(y, weights=w)
            return [np.log(mean)] if mean > 0 else None
        q = self.quantile if self.loss == "quantile" else 0.5
        order = np.argsort(y, kind="stable")
        cumulative = np.cumsum(w[order])
        return [y[order][np.searchsorted(cumulative, q * cumulative[-1])]]

    def predict(self, X):
        """Predicted targets, ``X @ coef_ + intercept_``, or its exp for the log-link losses
        (poisson, gamma, tweedie with power >= 1); on the CPU (a GPU array X is copied to the
        host).

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
            return _dask.blockwise(self, "predict", X)
        X = self._check_X(X, reset=False)
        # ravel: a sparsified coef_ (see sparsify) is a (1, n_features) matrix
        raw = linear_scores(X, self.coef_)
        if self.intercept_.shape[0] == 1:  # one output (or a sparsified (1, n_features) coef_)
            raw = np.ravel(raw)
        raw = raw + self.intercept_
        return np.exp(raw) if self._log_link() else raw

    def score(self, X, y, sample_weight=None):
        """R^2 of the prediction, or D^2 of the half deviance for the log-link losses.

        For 'poisson', 'gamma' and 'tweedie' (power >= 1), the fraction of deviance
        explained, ``1 - D(y, predict(X)) / D(y, mean(y))`` with sample-weighted sums, as
        scikit-learn's GLM regressors score (:func:`sklearn.metrics.d2_tweedie_score`); for
        every other loss the coefficient of determination R^2 (``r2_score``), as
        scikit-learn's SGDRegressor and QuantileRegressor do. With dask X, a 0-d dask array
        computed blockwise (``float(est.score(X, y))`` computes it).
        """
        if _dask.is_dask_collection(X):
            check_is_fitted(self)
            return _dask.score(self, X, y, sample_weight, classifier=False)
        if not self._log_link():
            return super().score(X, y, sample_weight)
        pred = self.predict(X)
        y = np.asarray(y, dtype=np.float64)
        w = np.ones(pred.shape[0]) if sample_weight is None else sample_weight
        w = np.asarray(w, dtype=np.float64)
        return float(deviance_score(y, pred, w, self._deviance_power()))
