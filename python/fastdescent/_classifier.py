"""SGDClassifier: linear classifiers by gradient descent, a drop-in for scikit-learn's."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, log_softmax, softmax
from sklearn.base import _fit_context
from sklearn.linear_model._base import LinearClassifierMixin, SparseCoefMixin
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, check_classification_targets
from sklearn.utils.validation import check_is_fitted

from . import _core, _dask
from ._base import (
    CLASSIFICATION_LOSSES,
    LOSSES,
    BaseSGD,
    DataScales,
    _n_held_out,
    commit_fitted_state,
    compute_dtype,
    draw_seed,
    keeps_state_on_error,
    linear_scores,
    train,
)


class SGDClassifier(LinearClassifierMixin, SparseCoefMixin, BaseSGD):
    """Linear classifier fitted by stochastic, mini-batch or full-batch gradient descent.

    Accepts every parameter of :class:`sklearn.linear_model.SGDClassifier` with the same
    default and meaning, and trains with the same per-sample algorithm when ``batch_size=1``
    (the default). Multi-class problems are fitted one-vs-rest (classes in parallel with
    ``n_jobs``), or as one softmax regression with ``multi_class='multinomial'``.

    Parameters
    ----------
    loss : str, default='hinge'
        'hinge' (linear SVM), 'log_loss' (logistic regression), 'modified_huber',
        'squared_hinge', 'perceptron', or a regression loss ('squared_error', 'huber',
        'epsilon_insensitive', 'squared_epsilon_insensitive') on -1/+1 targets.
    penalty, alpha, l1_ratio, fit_intercept, max_iter, tol, shuffle, verbose, epsilon, \
random_state, learning_rate, eta0, power_t, early_stopping, validation_fraction, \
n_iter_no_change, warm_start, average, batch_size, optimizer, clip_value, clip_norm, \
sparse_updates, n_jobs, device, gpu_dtype, callbacks
        As in :class:`fastdescent.SGDRegressor`; ``learning_rate='auto'`` is scikit-learn's
        'optimal' in its own mode (``power_t`` defaults to 0.5 as in scikit-learn), and the
        early-stopping score is accuracy.
    class_weight : dict, 'balanced' or None, default=None
        Weight of each class, multiplied into the sample weights.
    multi_class : {'ovr', 'multinomial'}, default='ovr'
        'multinomial' trains all classes jointly with the softmax cross-entropy; it needs
        ``loss='log_loss'``. Binary problems always train a single output.

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)
    classes_ : ndarray of shape (n_classes,)
    n_iter_ : int
        Epochs run (the maximum over the one-vs-rest problems).
    t_ : float
        Number of updates performed plus one.
    loss_curve_ : list of float
        Mean training objective per epoch; for one-vs-rest, the mean over the classes (a
        class that stopped early keeps contributing its final value).
    history_ : dict of list
        Per-epoch metrics of the last ``fit`` / ``partial_fit`` call, as in
        :class:`fastdescent.SGDRegressor` (aggregated over classes for one-vs-rest, see Notes).
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Notes
    -----
    Half-precision input: a dense float16 or bfloat16 (``ml_dtypes``) X is read as stored and
    widened to float32 in registers (float32 ``coef_``), never upcast to a copy.

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

    With ``device='cuda'`` binary, one-vs-rest (classes one after the other, X stays on the
    GPU) and multinomial (at most 128 classes) problems all train on the GPU.

    Input handling, divergence (ValueError, previous state kept, never NaN coefficients) and
    interruption follow the rules in :class:`fastdescent.SGDRegressor`'s notes; class labels
    may be of any type, text included.
    """

    _parameter_constraints: dict = {
        **BaseSGD._parameter_constraints,
        "loss": [StrOptions(set(CLASSIFICATION_LOSSES))],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "multi_class": [StrOptions({"ovr", "multinomial"})],
    }

    def __init__(
        self,
        loss="hinge",
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
        n_jobs=None,
        random_state=None,
        learning_rate="auto",
        eta0=0.01,
        power_t=0.5,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        class_weight=None,
        warm_start=False,
        average=False,
        batch_size=1,
        optimizer="sgd",
        clip_value=None,
        clip_norm=None,
        sparse_updates="exact",
        multi_class="ovr",
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
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.power_t = power_t
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.average = average
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.clip_value = clip_value
        self.clip_norm = clip_norm
        self.sparse_updates = sparse_updates
        self.multi_class = multi_class
        self.callbacks = callbacks
        self.device = device
        self.gpu_dtype = gpu_dtype

    def _check_hyperparams(self, for_partial_fit=False):
        super()._check_hyperparams(for_partial_fit)
        if self.multi_class == "multinomial" and self.loss != "log_loss":
            raise ValueError(
                f"multi_class='multinomial' needs loss='log_loss', got loss={self.loss!r}."
            )

    @_fit_context(prefer_skip_nested_validation=True)
    @keeps_state_on_error
    def fit(self, X, y, coef_init=None, intercept_init=None, sample_weight=None):
        """Fit the model, starting from zero (or coef_init / the previous fit with warm_start).

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array, dask DataFrame} of shape \
(n_samples, n_features)
            A dask collection trains data-parallel on its chunks (see
            :class:`fastdescent.SGDRegressor`'s Notes); y and sample_weight may then be dask
            collections too.
        y : array-like of shape (n_samples,)
        coef_init : array-like of shape (n_classes, n_features), optional
        intercept_init : array-like of shape (n_classes,), optional
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
            return _dask.fit(
                self,
                self._fit_plan(),
                X,
                y,
                sample_weight=sample_weight,
                coef_init=coef_init,
                intercept_init=intercept_init,
            )
        X, y = self._check_X_y(X, y, reset=True, y_numeric=False, defer_finite=True)
        classes = _classes_of(y)
        return self._fit(
            X,
            y,
            classes,
            sample_weight,
            coef_init,
            intercept_init,
            self.max_iter,
            resume=False,
            partial=False,
        )

    @_fit_context(prefer_skip_nested_validation=True)
    @keeps_state_on_error
    def partial_fit(self, X, y, classes=None, sample_weight=None):
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

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            A dask chunk is computed first (as `dask_ml.wrappers.Incremental` passes them).
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,)
            All classes; required on the first call, ignored after.
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self
        """
        self._check_hyperparams(for_partial_fit=True)
        if self.class_weight == "balanced":
            raise ValueError(
                "class_weight 'balanced' is not supported for partial_fit: the class "
                "frequencies of the whole data are unknown. Compute the weights with "
                "sklearn.utils.compute_class_weight and pass them as a dict."
            )
        X, y, classes, sample_weight = _dask.computed(X, y, classes, sample_weight)
        # Validate before _check_partial_fit_first_call sets classes_, and resume only from a
        # trained state, so that a failed call never leaves a half-initialized estimator.
        X, y = self._check_X_y(
            X, y, reset=not hasattr(self, "classes_"), y_numeric=False, defer_finite=True
        )
        check_classification_targets(y)
        _check_partial_fit_first_call(self, classes)
        unseen = np.setdiff1d(_classes_of(y), self.classes_)
        if unseen.size:
            raise ValueError(f"`y` has classes not in `self.classes_`: {unseen.tolist()}")
        resume = hasattr(self, "_standard_coef")
        return self._fit(
            X, y, self.classes_, sample_weight, None, None, 1, resume=resume, partial=True
        )

    def _fit(
        self, X, y, classes, sample_weight, coef_init, intercept_init, max_iter, resume, partial
    ):
        n_classes = classes.shape[0]
        if n_classes < 2:
            raise ValueError(
                f"The number of classes has to be greater than one; got {n_classes} class"
            )
        gpu = self._gpu_data(X)
        dtype = compute_dtype(X) if gpu is None else gpu.dtype
        n_samples, n_features = X.shape if gpu is None else gpu.X.shape
        sample_weight = self._check_sample_weight(sample_weight, y, dtype)
        if self.class_weight is None:  # scikit-learn's helper would also pass over y
            class_weight = np.ones(n_classes)
        else:
            class_weight = compute_class_weight(self.class_weight, classes=classes, y=y)
        multinomial = self.multi_class == "multinomial" and n_classes > 2
        K = 1 if n_classes == 2 else n_classes

        coef, intercept, avg_coef, avg_intercept = self._parameters(
            K, n_features, dtype, coef_init, intercept_init, resume
        )
        average = avg_coef is not None

        validation_mask = self._validation_mask(y, sample_weight)
        n_train = n_samples - _n_held_out(validation_mask)
        label = None if K == 1 else _class_codes(y, classes)
        n_threads = self._n_threads()
        scales = (
            self._data_scales(X, y, sample_weight, validation_mask)
            if gpu is None
            else DataScales()
        )

        optimizer_spec = self._optimizer_spec()
        ovr = not multinomial and K > 1
        t0, states, schedule_rows = self._continuation(
            resume, n_classes if ovr else 1, n_train, optimizer_spec
        )
        cancel = threading.Event()  # set when the main thread is interrupted

        def view(t):  # what coef_ / intercept_ are after t - 1 updates
            if average and self.average <= t - 1:
                return avg_coef, avg_intercept
            return coef, intercept

        def fitted(results, history):  # the fitted attributes after `results`
            buffers = (coef, intercept, avg_coef, avg_intercept)
            state = self._fitted_state(
                results, history, buffers, view, resume, optimizer_spec, schedule_rows
            )
            return dict(state, classes_=classes)

        def snapshot(monitor):
            progress = [monitor.progress(q, t0, state) for q, state in enumerate(states)]
            return fitted(progress, monitor.history())

        labels = list(classes.tolist()) if ovr else [None]
        monitor_cm = self._monitored(
            max_iter, labels, [view] * len(labels), {"classes_": classes}, snapshot
        )

        def fit_problem(problem, rows, y_problem, weights, loss, seed, threads):
            cfg = self._config(
                loss,
                max_iter,
                seed,
                threads,
                n_train,
                schedule_rows if resume else None,
                scales=scales,
                in_memory=gpu is None,
                sparse=sp.issparse(X),
            )
            res = train(
                X,
                y_problem,
                coef[rows],
                intercept[rows],
                cfg,
                sample_weight=sample_weight,
                class_weight=np.asarray(weights, dtype=np.float64),
                validation_mask=validation_mask,
                average_coef=None if avg_coef is None else avg_coef[rows],
                average_intercept=None if avg_intercept is None else avg_intercept[rows],
                t0=t0,
                epoch_callback=monitor.epoch_callback(problem),
                optimizer=optimizer_spec,
                optimizer_state=states[problem],
                gpu=gpu,
                cancel=cancel,
                estimator_name=type(self).__name__,
            )
            return monitor.finished(problem, res)

        with monitor_cm as monitor:
            if multinomial:
                results = [
                    fit_problem(
                        0,
                        slice(None),
                        label.astype(dtype),
                        class_weight,
                        _core.LossKind.multinomial,
                        draw_seed(self.random_state),
                        n_threads,
                    )
                ]
            elif K == 1:
                y_bin = _binary_targets(y, classes[1], dtype)
                results = [
                    fit_problem(
                        0,
                        slice(0, 1),
                        y_bin,
                        class_weight,
                        LOSSES[self.loss],
                        draw_seed(self.random_state),
                        n_threads,
                    )
                ]
            else:
                # One-vs-rest: class k against the rest, weight of the positives class_weight[k].
                seeds = draw_seed(self.random_state, size=n_classes)

                def fit_class(k):
                    y_k = _binary_targets(label, k, dtype)
                    return fit_problem(
                        k,
                        slice(k, k + 1),
                        y_k,
                        [1.0, class_weight[k]],
                        LOSSES[self.loss],
                        seeds[k],
                        1,
                    )

                # With callbacks, classes train one after another, so that a callback sees
                # (and a checkpoint saves) every class's model at a definite point.
                if n_threads > 1 and gpu is None and not monitor.callbacks:
                    with ThreadPoolExecutor(max_workers=min(n_threads, n_classes)) as pool:
                        futures = [pool.submit(fit_class, k) for k in range(n_classes)]
                        try:
                            # Short waits: a Ctrl-C that the OS delivers to a worker thread is
                            # handled here at the next wake-up instead of after the whole fit.
                            while wait(futures, timeout=0.05).not_done:
                                pass
                            results = [f.result() for f in futures]
                        except BaseException:
                            # Ctrl-C is raised only in this thread: stop the workers' fits
                            # too, so that leaving the pool does not wait for them to finish.
                            cancel.set()
                            pool.shutdown(wait=False, cancel_futures=True)
                            raise
                else:
                    results = [fit_class(k) for k in range(n_classes)]

        commit_fitted_state(self, fitted(results, monitor.history()))
        if not partial:
            self._warn_after_fit(
                self.n_iter_,
                any(r.stopped_by_callback for r in results),
                self.loss_curve_,
                self.history_,
            )
            self._warn_dense_steps(X, results)
        monitor.end()
        return self

    def _has_proba(self):
        return self.loss in ("log_loss", "modified_huber")

    @available_if(_has_proba)
    def predict_proba(self, X):
        """Class probabilities (loss 'log_loss' or 'modified_huber').

        For log_loss: the logistic function for binary problems, the softmax for
        multinomial models and normalized one-vs-rest logistic outputs otherwise. For
        modified_huber: ``(clip(decision, -1, 1) + 1) / 2``, normalized across classes.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        if _dask.is_dask_collection(X):
            return _dask.blockwise(self, "predict_proba", X)
        scores = self.decision_function(X)
        if scores.ndim == 1:
            p = expit(scores) if self.loss == "log_loss" else (np.clip(scores, -1, 1) + 1) / 2
            return np.column_stack([1 - p, p])
        if self.loss == "log_loss":
            if self.multi_class == "multinomial":
                return softmax(scores, axis=1)
            p = expit(scores)
        else:
            p = (np.clip(scores, -1, 1) + 1) / 2
        total = p.sum(axis=1, keepdims=True)
        # Rows where every one-vs-rest output is 0 carry no information: uniform.
        with np.errstate(invalid="ignore", divide="ignore"):
            p = np.where(total > 0, p / total, 1.0 / p.shape[1])
        return p

    @available_if(_has_proba)
    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        if _dask.is_dask_collection(X):
            check_is_fitted(self)
            return _dask.blockwise(self, "predict_log_proba", X)
        if self.loss == "log_loss" and self.multi_class == "multinomial":
            scores = self.decision_function(X)
            if scores.ndim == 2:
                return log_softmax(scores, axis=1)
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def decision_function(self, X):
        """Confidence scores: ``X @ coef_.T + intercept_``.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array, dask DataFrame, GPU array} of shape \
(n_samples, n_features)
            A GPU array (``__cuda_array_interface__``) is copied to the host.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
            A dask array computed blockwise when X is a dask collection.
        """
        check_is_fitted(self)
        if _dask.is_dask_collection(X):
            return _dask.blockwise(self, "decision_function", X)
        X = self._check_X(X, reset=False)
        scores = linear_scores(X, self.coef_) + self.intercept_
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict(self, X):
        """Predicted class labels.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array, dask DataFrame} of shape \
(n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
            A dask array computed blockwise when X is a dask collection.
        """
        if _dask.is_dask_collection(X):
            check_is_fitted(self)
            return _dask.blockwise(self, "predict", X)
        return super().predict(X)

    def score(self, X, y, sample_weight=None):
        """Mean accuracy on (X, y), weighted by sample_weight.

        With dask X, a 0-d dask array computed blockwise (``float(clf.score(X, y))``
        computes it); otherwise scikit-learn's ``accuracy_score``.
        """
        if _dask.is_dask_collection(X):
            check_is_fitted(self)
            return _dask.score(self, X, y, sample_weight, classifier=True)
        return super().score(X, y, sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        return tags


def _classes_of(y):
    """The sorted classes of a 1-D target, after scikit-learn's check that y holds classes.

    An integer or boolean y can only be binary or multiclass, so the check (a pass over y to
    count its distinct values) is left out for it, and integers spanning a short range are
    found in two passes in C++ instead of NumPy's sort (a fortieth of the time at a million
    rows).
    """
    if not _native(y, "biu"):
        check_classification_targets(y)
        return np.unique(y)
    classes = _core.integer_classes(y, max(y.size, 1 << 16))
    return np.unique(y) if classes is None else classes


def _class_codes(y, classes):
    """Each entry's index in the sorted classes (all present), as numpy.searchsorted gives."""
    if _native(y, "biu") and classes.dtype == y.dtype:
        return _core.class_codes(y, classes)
    return np.searchsorted(classes, y)


def _binary_targets(y, positive, dtype):
    """+1 where y equals positive, -1 elsewhere, in dtype (one branch-free pass in C++)."""
    if _native(y, "biu") or (_native(y, "f") and y.dtype in (np.float32, np.float64)):
        return _core.binary_targets(y, positive, dtype)
    return np.where(y == positive, dtype.type(1), dtype.type(-1))


def _native(y, kinds):
    """Whether y is a 1-D array of one of these dtype kinds that C++ reads as is."""
    return y.ndim == 1 and y.dtype.kind in kinds and y.dtype.isnative and y.flags.aligned
