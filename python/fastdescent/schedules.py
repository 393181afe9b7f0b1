"""Step-size schedules.

Every schedule is a function of the step count ``t = 0, 1, 2, ...``: ``schedule(t)`` (or
``schedule.value(t)``) is the step size of the ``t``-th update, so a caller can tabulate it
(``schedule.values(n)``). An optimizer in :mod:`fastdescent.optim` given a schedule as ``lr``
evaluates it at its own step count: its ``k``-th call to ``step`` (``k = 0, 1, ...``) uses
``schedule(k)``. Schedules whose PyTorch counterpart counts epochs count updates here; pass
``step_size = k * steps_per_epoch`` (etc.) to change every ``k`` epochs.

Two schedules react to a metric instead: :class:`ReduceLROnPlateau` and :class:`AdaptiveLR`
(scikit-learn's ``learning_rate="adaptive"``). Their value is their current step size, whatever
``t``; call ``schedule.step(metric)`` once per epoch to let them lower it.

Values follow the definitions of ``torch.optim.lr_scheduler`` (closed forms where PyTorch has
one) and, for :class:`OptimalLR`, :class:`InvScalingLR` and :class:`AdaptiveLR`, scikit-learn's
``SGDClassifier``, whose update counter ``t_`` is ``t + 1`` here.

Every schedule has a native twin: ``schedule.to_core()`` returns the equivalent
``fastdescent._core.Schedule``, which the C++ trainer evaluates per update (its ``eta(t)``, with
``t = 1`` for the first update, equals ``value(t - 1)``). :func:`schedule_from_name` builds the
one an estimator's ``learning_rate`` names (:data:`ESTIMATOR_SCHEDULES`).
"""

from __future__ import annotations

import bisect
import copy
import math
import numbers

import numpy as np

__all__ = [
    "Schedule",
    "Constant",
    "ExponentialLR",
    "StepLR",
    "MultiStepLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "LinearWarmup",
    "OneCycleLR",
    "PolynomialLR",
    "ReduceLROnPlateau",
    "OptimalLR",
    "InvScalingLR",
    "AdaptiveLR",
    "ESTIMATOR_SCHEDULES",
    "schedule_from_name",
]


def _real(name, value, *, low=None, high=None, low_open=False, high_open=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    bad = math.isnan(value)
    if low is not None:
        bad = bad or (value <= low if low_open else value < low)
    if high is not None:
        bad = bad or (value >= high if high_open else value > high)
    if bad:
        raise ValueError(f"Invalid {name} value: {value}")
    return value


_INT64_MAX = 2**63 - 1  # the core counts steps in 64-bit integers


def _int(name, value, *, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    if value > _INT64_MAX:
        raise ValueError(f"{name} must be <= 2**63 - 1, got {value}")
    return int(value)


def _lr(name, value):
    return _real(name, value, low=0.0)


def _core_module():
    from . import _core  # lazily: the pure-Python schedules work without the compiled module

    return _core


def _core_schedule(kind, **fields):
    """A validated ``_core.Schedule`` of the named kind with the given fields."""
    core = _core_module()
    sched = core.Schedule(getattr(core.ScheduleKind, kind), **fields)
    if not (kind == "optimal" and sched.optimal_init == 0):  # 0: the trainer completes it
        sched.validate()
    return sched


def _step_count(t):
    if isinstance(t, bool) or not isinstance(t, numbers.Integral) or t < 0:
        raise ValueError(f"the step count t must be an integer >= 0, got {t!r}")
    return int(t)


class Schedule:
    """Base class: a step size as a function of the step count ``t = 0, 1, ...``.

    Subclasses implement :meth:`value`; calling the schedule is the same as calling ``value``.
    """

    def value(self, t):
        """Step size of update number ``t`` (0-based).

        Parameters
        ----------
        t : int
            Number of updates made before this one.

        Returns
        -------
        float
        """
        raise NotImplementedError

    def __call__(self, t):
        return self.value(t)

    def to_core(self):
        """The equivalent native schedule, evaluated by the C++ trainer without Python.

        Its ``eta(t)`` (``t = 1`` for the first update) equals ``self.value(t - 1)``; a
        metric-driven schedule is copied with its current state.

        Returns
        -------
        fastdescent._core.Schedule

        Raises
        ------
        TypeError
            If the schedule has no native equivalent (a user-defined subclass).
        ValueError
            If a parameter is outside what the native schedule supports.
        """
        raise TypeError(
            f"{type(self).__name__} has no native (C++) equivalent; the estimators "
            "accept only the schedules of fastdescent.schedules"
        )

    def values(self, n):
        """The first ``n`` step sizes.

        Parameters
        ----------
        n : int
            How many steps to tabulate.

        Returns
        -------
        ndarray of shape (n,)
        """
        return np.array([self.value(t) for t in range(_int("n", n, low=0))], dtype=np.float64)

    def state_dict(self):
        """A copy of the schedule's attributes (its state, for the metric-driven ones).

        Returns
        -------
        dict
        """
        return copy.deepcopy(vars(self))

    def load_state_dict(self, state_dict):
        """Restore attributes saved by :meth:`state_dict`.

        Parameters
        ----------
        state_dict : dict
        """
        unknown = set(state_dict) - set(vars(self))
        if unknown:
            raise ValueError(f"unknown keys for {type(self).__name__}: {sorted(unknown)}")
        vars(self).update(copy.deepcopy(state_dict))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class Constant(Schedule):
    """The same step size at every step.

    Parameters
    ----------
    lr : float
        The step size.
    """

    def __init__(self, lr):
        self.lr = _lr("learning rate", lr)

    def value(self, t):
        _step_count(t)
        return self.lr

    def to_core(self):
        """The equivalent ``_core.Schedule`` (see :meth:`Schedule.to_core`)."""
        return _core_schedule("constant", eta0=self.lr)


class ExponentialLR(Schedule):
    """``lr * gamma**t`` (``torch.optim.lr_scheduler.ExponentialLR``).

    Parameters
    ----------
    lr : float
        Initial step size.
    gamma : float
        Multiplicative decay per step.
    """

    def __init__(self, lr, gamma):
        self.lr = _lr("learning rate", lr)
        self.gamma = _real("gamma", gamma, low=0.0)

    def value(self, t):
        return self.lr * self.gamma ** _step_count(t)

    def to_core(self):
        """The equivalent ``_core.Schedule`` (see :meth:`Schedule.to_core`)."""
        return _core_schedule("exponential", eta0=self.lr, gamma=self.gamma)


class StepLR(Schedule):
    """``lr * gamma**(t // step_size)`` (``torch.optim.lr_scheduler.StepLR``).

    Parameters
    ----------
    lr : float
        Initial step size.
    step_size : int
        Steps between two decays.
    gamma : float, default=0.1
        Multiplicative decay.
    """

    def __init__(self, lr, step_size, gamma=0.1):
        self.lr = _lr("learning rate", lr)
        self.step_size = _int("step_size", step_size, low=1)
        self.gamma = _real("gamma", gamma, low=0.0)

    def value(self, t):
        return self.lr * self.gamma ** (_step_count(t) // self.step_size)

    def to_core(self):
        """The equivalent ``_core.Schedule`` (see :meth:`Schedule.to_core`)."""
        return _core_schedule("step", eta0=self.lr, step_size=self.step_size, gamma=self.gamma)


class MultiStepLR(Schedule):
    """``lr * gamma**(number of milestones <= t)`` (``torch.optim.lr_scheduler.MultiStepLR``).

    Parameters
    ----------
    lr : float
        Initial step size.
    milestones : sequence of int
        Steps at which the step size is multiplied by ``gamma`` (a repeated milestone counts
        twice, as in PyTorch).
    gamma : float, default=0.1
        Multiplicative decay.
    """

    def __init__(self, lr, milestones, gamma=0.1):
        self.lr = _lr("learning rate", lr)
        self.milestones = sorted(_int("milestone", m, low=0) for m in milestones)
        self.gamma = _real("gamma", gamma, low=0.0)

    def value(self, t):
        return self.lr * self.gamma ** bisect.bisect_right(self.milestones, _step_count(t))

    def to_core(self):
        """The equivalent ``_core.Schedule`` (see :meth:`Schedule.to_core`)."""
        return _core_schedule(
            "multistep",
            eta0=self.lr,
            gamma=self.gamma,
            milestones=[float(m) for m in self.milestones],
        )


class CosineAnnealingLR(Schedule):
    """``eta_min + (lr - eta_min) (1 + cos(pi t / T_max)) / 2``.

    The closed form of ``torch.optim.lr_scheduler.CosineAnnealingLR`` (beyond ``T_max`` the
    cosine goes on, as PyTorch's closed form does).

    Parameters
    ----------
    lr : float
        Initial (maximal) step size.
    T_max : int
        Steps of half a cosine period.
    eta_min : float, default=0
        Minimal step size.
    """

    def __init__(self, lr, T_max, eta_min=0.0):
        self.lr = _lr("learning rate", lr)
        self.T_max = _int("T_max", T_max, low=1)
        self.eta_min = _lr("eta_min", eta_min)

    def value(self, t):
        t = _step_count(t)
        return (
            self.eta_min + (self.lr - self.eta_min) * (1 + math.cos(math.pi * t / self.T_max)) / 2
        )

    def to_core(self):
        """The equivalent ``_core.Schedule`` (see :meth:`Schedule.to_core`)."""
        return _core_schedule("cosine", eta0=self.lr, T_max=self.T_max, eta_min=self.eta_min)


class CosineAnnealingWarmRestarts(Schedule):
    """Cosine annealing restarted after ``T_0``, ``T_0 T_mult``, ... steps (SGDR).

    As ``torch.optim.lr_scheduler.CosineAnnealingWarmRestarts`` stepped once per update:
    ``eta_min + (lr - eta_min) (1 + cos(pi T_cur / T_i)) / 2`` where ``T_i`` is the length of
    the current cycle and ``T_cur`` the steps since its start.

    Parameters
    ----------
    lr : float
        Step size at the start of each cycle.
    T_0 : int
        Length of the first cycle.
    T_mult : int, default=1
        Factor by which each cycle is longer than the previous one.
    eta_min : float, default=0
        Minimal step size.
    """

    def __init__(self, lr, T_0, T_mult=1, eta_min=0.0):
        self.lr = _lr("learning rate", lr)
        self.T_0 = _int("T_0", T_0, low=1)
        self.T_mult = _int("T_mult", T_mult, low=1)
        self.eta_min = _lr("eta_min", eta_min)

    def value(self, t):
        t_cur, t_i = _step_count(t), self.T_0
        if self.T_mult == 1:
            t_cur %= t_i
        else:
            while t_cur >= t_i:  # cycles grow geometrically: O(log t) iterations
                t_cur -= t_i
                t_i *= self.T_mult
        return self.eta_min + (self.lr - self.eta_min) * (1 + math.cos(math.pi * t_cur / t_i)) / 2

    def to_core(self):
        """The equivalent ``_core.Schedule`` (see :meth:`Schedule.to_core`)."""
        return _core_schedule(
            "cosine_restarts", eta0=self.lr, T_0=self.T_0, T_mult=self.T_mult, eta_min=self.eta_min
        )


class LinearWarmup(Schedule):
    """A linear warmup followed by another schedule.

    For ``t < warmup_steps`` the step size is ``after(0) * f`` with ``f`` rising linearly from
    ``start_factor`` to 1; from then on it is ``after(t - warmup_steps)``. This is
    ``SequentialLR([LinearLR(start_factor, total_iters=warmup_steps), after],
    milestones=[warmup_steps])`` in PyTorch.

    Parameters
    ----------
    after : Schedule or float
        The schedule that follows the warmup (a float means a constant step size).
    warmup_steps : int
        Length of the warmup.
    start_factor : float, default=1/3
        Fraction of ``after(0)`` at step 0 (PyTorch's ``LinearLR`` default). 0 starts from 0.
    """

    def __init__(self, after, warmup_steps, start_factor=1.0 / 3.0):
        if isinstance(after, numbers.Real) and not isinstance(after, bool):
            after = Constant(after)
        if not callable(after):
            raise TypeError("after must be a Schedule (or a callable t -> step size) or a float")
        self.after = after
        self.warmup_steps = _int("warmup_steps", warmup_steps, low=0)
        self.start_factor = _real("start_factor", start_factor, low=0.0, high=1.0)

    def value(self, t):
        t = _step_count(t)
        if t >= self.warmup_steps:
            return float(self.after(t - self.warmup_steps))
        factor = self.start_factor + (1.0 - self.start_factor) * t / self.warmup_steps
        return float(self.after(0)) * factor

    def to_core(self):
        """The equivalent ``_core.Schedule`` (see :meth:`Schedule.to_core`).

        ``after.to_core()`` with ``warmup_steps`` and ``warmup_start_factor`` set.
        """
        if not isinstance(self.after, Schedule):
            raise TypeError(
                "LinearWarmup.to_core needs `after` to be a fastdescent.schedules "
                f"Schedule, got {type(self.after).__name__}"
            )
        sched = self.after.to_core()
        if sched.warmup_steps > 0:
            raise ValueError(
                "a LinearWarmup of a LinearWarmup has no native equivalent; use one warmup"
            )
        sched.warmup_steps = self.warmup_steps
        sched.warmup_start_factor = self.start_factor
        sched.validate()
        return sched


class OneCycleLR(Schedule):
    """The 1cycle policy (``torch.optim.lr_scheduler.OneCycleLR``, step sizes only).

    The step size rises from ``max_lr / div_factor`` to ``max_lr`` over the first
    ``pct_start`` of the steps, then anneals to ``max_lr / (div_factor * final_div_factor)``
    (with ``three_phase``: back to the initial value first, then down to the minimum). Momentum
    cycling is not part of it.

    Parameters
    ----------
    max_lr : float
        Peak step size.
    total_steps : int, optional
        Number of steps in the cycle; or give ``epochs`` and ``steps_per_epoch``.
    epochs, steps_per_epoch : int, optional
        ``total_steps = epochs * steps_per_epoch``.
    pct_start : float, default=0.3
        Fraction of the cycle spent rising.
    anneal_strategy : {"cos", "linear"}, default="cos"
    div_factor : float, default=25
        Initial step size is ``max_lr / div_factor``.
    final_div_factor : float, default=1e4
        Final step size is the initial one divided by this.
    three_phase : bool, default=False
        Use a symmetric rise and fall, then a final annihilation phase.
    """

    def __init__(
        self,
        max_lr,
        total_steps=None,
        epochs=None,
        steps_per_epoch=None,
        pct_start=0.3,
        anneal_strategy="cos",
        div_factor=25.0,
        final_div_factor=1e4,
        three_phase=False,
    ):
        self.max_lr = _lr("max_lr", max_lr)
        if total_steps is not None:
            self.total_steps = _int("total_steps", total_steps, low=1)
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = _int(
                "epochs * steps_per_epoch",
                _int("epochs", epochs, low=1) * _int("steps_per_epoch", steps_per_epoch, low=1),
                low=1,
            )
        else:
            raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")
        self.pct_start = _real("pct_start", pct_start, low=0.0, high=1.0)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                "anneal_strategy must be one of 'cos' or 'linear', "
                f"instead got {anneal_strategy!r}"
            )
        self.anneal_strategy = anneal_strategy
        self.div_factor = _real("div_factor", div_factor, low=0.0, low_open=True)
        self.final_div_factor = _real("final_div_factor", final_div_factor, low=0.0, low_open=True)
        self.three_phase = bool(three_phase)

    def _phases(self):
        initial = self.max_lr / self.div_factor
        minimum = initial / self.final_div_factor
        rise_end = float(self.pct_start * self.total_steps) - 1
        if self.three_phase:
            return [
                (rise_end, initial, self.max_lr),
                (float(2 * self.pct_start * self.total_steps) - 2, self.max_lr, initial),
                (self.total_steps - 1, initial, minimum),
            ]
        return [(rise_end, initial, self.max_lr), (self.total_steps - 1, self.max_lr, minimum)]

    def _anneal(self, start, end, pct):
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def value(self, t):
        t = _step_count(t)
        if t > self.total_steps:
            raise ValueError(
                f"Tried to step {t} times. "
                f"The specified number of total steps is {self.total_steps}"
            )
        phases = self._phases()
        start_step = 0.0
        for i, (end_step, start, end) in enumerate(phases):
            if t <= end_step or i == len(phases) - 1:
                return self._anneal(start, end, (t - start_step) / (end_step - start_step))
            start_step = end_step
        raise AssertionError("unreachable")

    def to_core(self):
        """The equivalent ``_core.Schedule`` (see :meth:`Schedule.to_core`).

        With ``eta0 = max_lr``; past ``total_steps`` (where :meth:`value` raises) it stays at
        the minimum.
        """
        core = _core_module()
        return _core_schedule(
            "onecycle",
            eta0=self.max_lr,
            total_steps=self.total_steps,
            pct_start=self.pct_start,
            anneal_strategy=getattr(core.AnnealStrategy, self.anneal_strategy),
            div_factor=self.div_factor,
            final_div_factor=self.final_div_factor,
            three_phase=self.three_phase,
        )


class PolynomialLR(Schedule):
    """``lr * (1 - min(t, total_iters) / total_iters)**power`` (``PolynomialLR``).

    Parameters
    ----------
    lr : float
        Initial step size.
    total_iters : int, default=5
        Steps until the step size reaches 0.
    power : float, default=1
        Exponent of the decay.
    """

    def __init__(self, lr, total_iters=5, power=1.0):
        self.lr = _lr("learning rate", lr)
        self.total_iters = _int("total_iters", total_iters, low=1)
        self.power = _real("power", power)

    def value(self, t):
        t = _step_count(t)
        return self.lr * (1.0 - min(self.total_iters, t) / self.total_iters) ** self.power

    def to_core(self):
        """The equivalent ``_core.Schedule`` (see :meth:`Schedule.to_core`)."""
        return _core_schedule(
            "polynomial", eta0=self.lr, total_iters=self.total_iters, power=self.power
        )


class ReduceLROnPlateau(Schedule):
    """Lower the step size when a metric stops improving (``ReduceLROnPlateau``).

    Call :meth:`step` with the metric once per epoch; the value at any ``t`` is the current
    step size.

    Parameters
    ----------
    lr : float
        Initial step size.
    mode : {"min", "max"}, default="min"
        Whether the metric should decrease or increase.
    factor : float, default=0.1
        Multiplier applied on a plateau (< 1).
    patience : int, default=10
        Epochs without improvement tolerated before lowering.
    threshold : float, default=1e-4
        Minimal change that counts as an improvement.
    threshold_mode : {"rel", "abs"}, default="rel"
        Whether ``threshold`` is relative to the best value or absolute.
    cooldown : int, default=0
        Epochs to wait after a reduction before counting bad epochs again.
    min_lr : float, default=0
        Lower bound on the step size.
    eps : float, default=1e-8
        A reduction smaller than this is skipped.
    """

    def __init__(
        self,
        lr,
        mode="min",
        factor=0.1,
        patience=10,
        threshold=1e-4,
        threshold_mode="rel",
        cooldown=0,
        min_lr=0.0,
        eps=1e-8,
    ):
        self.lr = _lr("learning rate", lr)
        if mode not in ("min", "max"):
            raise ValueError(f"mode {mode} is unknown!")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold mode {threshold_mode} is unknown!")
        factor = _real("factor", factor)
        if factor >= 1.0:
            raise ValueError("Factor should be < 1.0.")
        self.mode = mode
        self.factor = factor
        self.patience = _int("patience", patience, low=0)
        self.threshold = _real("threshold", threshold)
        self.threshold_mode = threshold_mode
        self.cooldown = _int("cooldown", cooldown, low=0)
        self.min_lr = _lr("min_lr", min_lr)
        self.eps = _real("eps", eps, low=0.0)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    def value(self, t):
        _step_count(t)
        return self.lr

    def _is_better(self, a):
        if self.mode == "min":
            bound = (
                self.best * (1.0 - self.threshold)
                if self.threshold_mode == "rel"
                else self.best - self.threshold
            )
            return a < bound
        bound = (
            self.best * (self.threshold + 1.0)
            if self.threshold_mode == "rel"
            else self.best + self.threshold
        )
        return a > bound

    def step(self, metric):
        """Record one epoch's metric, lowering the step size after a plateau.

        Parameters
        ----------
        metric : float
            The monitored quantity (e.g. validation loss).

        Returns
        -------
        float
            The step size from now on.
        """
        current = float(metric)
        if self._is_better(current):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            new_lr = max(self.lr * self.factor, self.min_lr)
            if self.lr - new_lr > self.eps:
                self.lr = new_lr
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        return self.lr

    def to_core(self):
        """The equivalent ``_core.Schedule`` (see :meth:`Schedule.to_core`).

        With ``eta0`` the current step size and the current state; ``end_epoch(metric)`` is
        :meth:`step`.
        """
        core = _core_module()
        return _core_schedule(
            "plateau",
            eta0=self.lr,
            mode=getattr(core.PlateauMode, self.mode),
            factor=self.factor,
            patience=self.patience,
            threshold=self.threshold,
            threshold_mode=getattr(core.ThresholdMode, self.threshold_mode),
            cooldown=self.cooldown,
            min_lr=self.min_lr,
            eps=self.eps,
            best=float(self.best),
            num_bad_epochs=self.num_bad_epochs,
            cooldown_counter=self.cooldown_counter,
        )


class OptimalLR(Schedule):
    """scikit-learn's ``learning_rate="optimal"``: ``1 / (alpha (t0 + t))``.

    Parameters
    ----------
    alpha : float, default=1e-4
        Regularization strength of the model.
    t0 : float, optional
        Offset; by default scikit-learn's heuristic ``1 / (alpha * alpha**-0.25)``, which makes
        the first step ``alpha**-0.25`` (Bottou's typical-weight rule; scikit-learn divides by
        the loss derivative at the typical margin when it exceeds 1, which no built-in loss does).
    """

    def __init__(self, alpha=1e-4, t0=None):
        self.alpha = _real("alpha", alpha, low=0.0, low_open=True)
        typw = math.sqrt(1.0 / math.sqrt(self.alpha))
        self.t0 = (
            1.0 / (typw * self.alpha) if t0 is None else _real("t0", t0, low=0.0, low_open=True)
        )

    def value(self, t):
        return 1.0 / (self.alpha * (self.t0 + _step_count(t)))

    def to_core(self):
        """The equivalent ``_core.Schedule`` (see :meth:`Schedule.to_core`).

        ``optimal_init`` is ``t0``, used as it is (the estimators' ``learning_rate="optimal"``
        instead leaves it 0, which asks the trainer for scikit-learn's rule on the model's
        ``alpha`` and loss).
        """
        return _core_schedule("optimal", alpha=self.alpha, optimal_init=self.t0)


class InvScalingLR(Schedule):
    """scikit-learn's ``learning_rate="invscaling"``: ``eta0 / (t + 1)**power_t``.

    Parameters
    ----------
    eta0 : float, default=0.01
        Initial step size.
    power_t : float, default=0.25
        Exponent of the decay.
    """

    def __init__(self, eta0=0.01, power_t=0.25):
        self.eta0 = _lr("eta0", eta0)
        self.power_t = _real("power_t", power_t)

    def value(self, t):
        return self.eta0 / (_step_count(t) + 1) ** self.power_t

    def to_core(self):
        """The equivalent ``_core.Schedule`` (see :meth:`Schedule.to_core`)."""
        return _core_schedule("invscaling", eta0=self.eta0, power_t=self.power_t)


class AdaptiveLR(Schedule):
    """scikit-learn's ``learning_rate="adaptive"``.

    The step size stays ``eta0`` until ``n_iter_no_change`` consecutive epochs fail to improve
    the best metric by ``tol``; then it is divided by 5 (while it is above 1e-6). Call
    :meth:`step` once per epoch with the mean training loss (``mode="min"``) or a validation
    score (``mode="max"``).

    Parameters
    ----------
    eta0 : float, default=0.01
        Initial step size.
    tol : float, default=1e-3
        Required improvement.
    n_iter_no_change : int, default=5
        Epochs without improvement before dividing.
    mode : {"min", "max"}, default="min"
        Whether the metric is a loss or a score.
    """

    def __init__(self, eta0=0.01, tol=1e-3, n_iter_no_change=5, mode="min"):
        self.lr = _lr("eta0", eta0)
        self.tol = _real("tol", tol)
        self.n_iter_no_change = _int("n_iter_no_change", n_iter_no_change, low=1)
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.mode = mode
        self.best = math.inf if mode == "min" else -math.inf
        self.no_improvement = 0

    def value(self, t):
        _step_count(t)
        return self.lr

    def step(self, metric):
        """Record one epoch's metric; divide the step size by 5 after a plateau.

        Parameters
        ----------
        metric : float

        Returns
        -------
        float
            The step size from now on.
        """
        current = float(metric)
        if self.mode == "min":
            worse = current > self.best - self.tol
            self.best = min(self.best, current)
        else:
            worse = current < self.best + self.tol
            self.best = max(self.best, current)
        self.no_improvement = self.no_improvement + 1 if worse else 0
        if self.no_improvement >= self.n_iter_no_change and self.lr > 1e-6:
            self.lr /= 5.0
            self.no_improvement = 0
        return self.lr

    def to_core(self):
        """The equivalent ``_core.Schedule`` (see :meth:`Schedule.to_core`).

        Only the current step size (``eta0``): the trainer lowers it with its own ``tol`` and
        ``n_iter_no_change``.
        """
        return _core_schedule("adaptive", eta0=self.lr)


#: The ``learning_rate`` names an estimator accepts, each a native schedule built by
#: :func:`schedule_from_name`: scikit-learn's, then PyTorch-style ones counted in epochs.
ESTIMATOR_SCHEDULES = (
    "constant",
    "optimal",
    "invscaling",
    "adaptive",
    "pa1",
    "pa2",
    "exponential",
    "step",
    "multistep",
    "cosine",
    "cosine_restarts",
    "onecycle",
    "polynomial",
    "plateau",
    "warmup",
)


def schedule_from_name(name, eta0, updates_per_epoch, max_iter):
    """The native schedule an estimator's ``learning_rate=name`` stands for.

    Epoch counts below are converted to updates with ``updates_per_epoch``.

    ==================  ===========================================================================
    name                schedule
    ==================  ===========================================================================
    constant, optimal,  scikit-learn's (only the kind and ``eta0``: the caller sets ``power_t``,
    invscaling,         and the trainer ``alpha`` and the adaptive / passive-aggressive rules)
    adaptive, pa1, pa2
    exponential         ``eta0 * 0.9**epochs``, decaying smoothly per update
    step                x 0.1 every ``max(1, max_iter // 3)`` epochs
    multistep           x 0.1 after ``max_iter // 2`` and again after ``3 * max_iter // 4`` epochs
    cosine              cosine annealing from ``eta0`` to 0 over ``max_iter`` epochs
    cosine_restarts     cosine annealing restarted after 10, 20, 40, ... epochs (SGDR)
    onecycle            1cycle policy peaking at ``eta0`` over ``max_iter`` epochs
    polynomial          linear decay from ``eta0`` to 0 over ``max_iter`` epochs
    plateau             x 0.1 after 10 epochs without improving the epoch objective by 1e-4
                        (relative); the trainer calls ``end_epoch(objective)``
    warmup              linear warmup from ``eta0 / 3`` over the first epoch, then ``eta0``
    ==================  ===========================================================================

    Parameters
    ----------
    name : str
        One of :data:`ESTIMATOR_SCHEDULES`.
    eta0 : float
        Base step size (the peak for "onecycle").
    updates_per_epoch : int
        Parameter updates in one epoch (``ceil(n_samples / batch_size)``).
    max_iter : int
        Maximal number of epochs.

    Returns
    -------
    fastdescent._core.Schedule
    """
    if name not in ESTIMATOR_SCHEDULES:
        raise ValueError(
            f"unknown schedule {name!r}; expected one of {', '.join(ESTIMATOR_SCHEDULES)}"
        )
    eta0 = _lr("eta0", eta0)
    upe = _int("updates_per_epoch", updates_per_epoch, low=1)
    max_iter = _int("max_iter", max_iter, low=1)
    total = min(max_iter * upe, _INT64_MAX)  # more steps than any fit can take
    if name in ("constant", "optimal", "invscaling", "adaptive", "pa1", "pa2"):
        return _core_schedule(name, eta0=eta0)
    if name == "exponential":
        return _core_schedule(name, eta0=eta0, gamma=0.9 ** (1.0 / upe))
    if name == "step":
        return _core_schedule(name, eta0=eta0, step_size=max(1, max_iter // 3) * upe, gamma=0.1)
    if name == "multistep":
        milestones = [float(max_iter // 2 * upe), float(3 * max_iter // 4 * upe)]
        return _core_schedule(name, eta0=eta0, milestones=milestones, gamma=0.1)
    if name == "cosine":
        return _core_schedule(name, eta0=eta0, T_max=total, eta_min=0.0)
    if name == "cosine_restarts":
        return _core_schedule(name, eta0=eta0, T_0=10 * upe, T_mult=2, eta_min=0.0)
    if name == "onecycle":
        return _core_schedule(name, eta0=eta0, total_steps=total)
    if name == "polynomial":
        return _core_schedule(name, eta0=eta0, total_iters=total, power=1.0)
    if name == "plateau":
        return _core_schedule(name, eta0=eta0, factor=0.1, patience=10)
    return _core_schedule("constant", eta0=eta0, warmup_steps=upe)  # "warmup"
