"""What happens around a fit's epochs: progress bar, per-epoch lines, history and callbacks.

The C++ trainer calls one epoch callback per training problem (one for a regressor, a binary
or a multinomial classifier; one per class for one-vs-rest) with the GIL held. The monitor
turns those calls into the estimator's ``history_``, the ``verbose`` output and the calls of
the user's :class:`fastdescent.callbacks.Callback` objects.
"""

from __future__ import annotations

import sys
import threading
import time
from types import SimpleNamespace

import numpy as np

#: Keys of ``history_`` in order; "val_score" only with early stopping.
HISTORY_KEYS = ("epoch", "loss", "val_score", "lr", "grad_norm", "time")


class FitMonitor:
    """Watches the epochs of one call of ``fit`` or ``partial_fit``.

    Parameters
    ----------
    estimator : BaseSGD
    max_iter : int
        Epochs each problem may run (the progress bar's length).
    labels : list of str or None
        One entry per training problem: None for a single problem, the class labels for
        one-vs-rest (they reach the callbacks as ``metrics["class"]``).
    views : list of callable(t) -> (coef, intercept)
        Per problem, the parameters that ``coef_`` and ``intercept_`` show after ``t`` updates
        (the averaged ones once averaging has started). They are views of the buffers the
        trainer updates in place: between epochs they hold the current weights.
    attributes : tuple of two str
        The estimator's names for those two (an MLP's are ``coefs_`` and ``intercepts_``).
    """

    def __init__(self, estimator, max_iter, labels, views, attributes=("coef_", "intercept_")):
        self.estimator = estimator
        self.callbacks = list(estimator.callbacks or [])
        self.verbose = int(estimator.verbose or 0)
        self.max_iter = int(max_iter)
        self.labels = labels
        self.views = views
        self.attributes = attributes
        self.early_stopping = bool(estimator.early_stopping)
        self.records = [[] for _ in labels]  # per problem, one dict per epoch
        self._lock = threading.Lock()
        self._live = {}  # problem -> (t, optimizer-state getter) of its latest epoch
        self._finished = {}  # problem -> its training result
        self._bar = None
        self._start = None
        self._began = False

    def begin(self):
        """Before the first epoch: starts the clock and the bar, calls ``on_fit_begin``."""
        self._start = time.perf_counter()
        if self.verbose >= 1:
            self._bar = _progress_bar(
                self.max_iter * len(self.labels), type(self.estimator).__name__
            )
        self._began = True
        for cb in self.callbacks:
            cb.on_fit_begin(self.estimator)

    def epoch_callback(self, problem):
        """The function the trainer calls at the end of each epoch of problem `problem`."""
        label = self.labels[problem]

        def on_epoch(epoch, objective, score, eta, t, grad_norm, optimizer_state=None):
            elapsed = time.perf_counter() - self._start
            metrics = {"loss": float(objective)}
            if self.early_stopping:
                metrics["val_score"] = float(score)
            metrics["lr"] = float(eta)
            metrics["grad_norm"] = float(grad_norm)
            metrics["time"] = elapsed
            with self._lock:
                self.records[problem].append(dict(metrics, epoch=int(epoch)))
                if label is not None:
                    metrics["class"] = label
                self._report(epoch, metrics, t)
                stop = False
                if self.callbacks:
                    self._live[problem] = (t, optimizer_state)
                    for name, value in zip(self.attributes, self.views[problem](t)):
                        setattr(self.estimator, name, value)
                    for cb in self.callbacks:
                        # Every callback sees the epoch, even after one asked to stop.
                        stop = (
                            bool(cb.on_epoch_end(self.estimator, int(epoch), dict(metrics)))
                            or stop
                        )
                return stop

        # Whether a call can run user code (callbacks), which could rewrite the training data.
        on_epoch.runs_user_code = bool(self.callbacks)
        return on_epoch

    def finished(self, problem, result):
        """Records the training result of a problem that has ended."""
        self._finished[problem] = result
        return result

    def progress(self, problem, t0, start_state):
        """Where `problem` stands now, in the terms of a training result (n_iter, t,
        loss_curve, optimizer_state), for a checkpoint taken by a callback during the fit: the
        latest epoch's values, or the start (update count `t0`, optimizer state `start_state`)
        before the first. The optimizer state is known while the problem's epoch callback
        runs; otherwise (and on backends that do not pass it) it is None: training resumed
        from the checkpoint starts the optimizer's state afresh."""
        if problem in self._finished:
            return self._finished[problem]
        t, state = self._live.get(problem, (t0, start_state))
        if callable(state):
            try:
                state = state()
            except RuntimeError:  # its callback has returned
                state = None
        records = self.records[problem]
        return SimpleNamespace(
            n_iter=len(records),
            t=t,
            loss_curve=[r["loss"] for r in records],
            optimizer_state=state,
        )

    def _report(self, epoch, metrics, t):
        if self._bar is not None:
            postfix = {"loss": f"{metrics['loss']:.4g}", "lr": f"{metrics['lr']:.3g}"}
            if "val_score" in metrics:
                postfix["val"] = f"{metrics['val_score']:.4f}"
            if "class" in metrics:
                postfix["class"] = metrics["class"]
            self._bar.set_postfix(postfix, refresh=False)
            self._bar.update(1)
        if self.verbose >= 2:
            label = "" if "class" not in metrics else f" (class {metrics['class']!r})"
            line = (
                f"-- Epoch {epoch}{label}\nAvg. loss: {metrics['loss']:.6f}, "
                f"eta: {metrics['lr']:.4g}, T: {int(t) - 1}, "
                f"grad norm: {metrics['grad_norm']:.4g}"
            )
            if "val_score" in metrics:
                line += f", Validation score: {metrics['val_score']:.6f}"
            line += f"\nTotal training time: {metrics['time']:.2f} seconds."
            if self._bar is not None:
                self._bar.write(line, file=sys.stdout)
            else:
                print(line, flush=True)

    def history(self):
        """``history_``: a dict of per-epoch lists (see :data:`HISTORY_KEYS`).

        One problem: its records. One-vs-rest: per epoch over the classes, the mean loss,
        validation score and step size, the gradient norm over all classes' parameters
        (square root of the sum of squares) and the latest elapsed time; a class that stopped
        early keeps contributing its last epoch's values, as in ``loss_curve_``.
        """
        keys = [k for k in HISTORY_KEYS if k != "val_score" or self.early_stopping]
        runs = [r for r in self.records if r]
        if not runs:
            return {k: [] for k in keys}
        if len(self.records) == 1:
            return {k: [rec[k] for rec in runs[0]] for k in keys}
        n = max(len(r) for r in runs)
        padded = [r + [r[-1]] * (n - len(r)) for r in runs]

        def column(key):
            return np.array([[rec[key] for rec in r] for r in padded])

        out = {"epoch": list(range(1, n + 1)), "loss": column("loss").mean(axis=0).tolist()}
        if self.early_stopping:
            out["val_score"] = column("val_score").mean(axis=0).tolist()
        out["lr"] = column("lr").mean(axis=0).tolist()
        out["grad_norm"] = np.sqrt((column("grad_norm") ** 2).sum(axis=0)).tolist()
        out["time"] = column("time").max(axis=0).tolist()
        return out

    def end(self):
        """After the fitted state is set: closes the bar, calls ``on_fit_end``."""
        self.close()
        for cb in self.callbacks:
            cb.on_fit_end(self.estimator)

    def fail(self, error):
        """Training raised `error`: closes the bar, calls ``on_fit_error`` (errors of those
        calls are not allowed to hide `error`)."""
        self.close()
        if not self._began:
            return
        for cb in self.callbacks:
            try:
                cb.on_fit_error(self.estimator, error)
            except Exception:  # noqa: BLE001 - the original error is the one to see
                pass

    def close(self):
        if self._bar is not None:
            done = self._bar.n
            if done < self._bar.total:  # stopped early: show the bar complete at its length
                self._bar.total = done
                self._bar.refresh()
            self._bar.close()
            self._bar = None


def _progress_bar(total, name):
    try:
        from tqdm.auto import tqdm
    except ImportError as exc:  # a dependency, but a broken install should still say so
        raise ImportError(
            "verbose=1 shows a progress bar with tqdm, which is not installed: pip install tqdm"
        ) from exc
    return tqdm(
        total=total,
        desc=name,
        unit="epoch",
        file=sys.stderr,
        leave=True,
        dynamic_ncols=True,
        mininterval=0.1,
    )
