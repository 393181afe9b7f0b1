"""Optimizers for NumPy parameter arrays, with fused C++ update kernels.

Each optimizer updates float32 or float64, C-contiguous parameter arrays in place::

    opt = Adam(lr=1e-3)
    for _ in range(100):
        grad = compute_gradient(w)        # your code, NumPy
        opt.step(w, grad)                 # or opt.step([W, b], [dW, db])

The update equations are those of ``torch.optim`` (SGD, Adagrad, RMSprop, Adam, AdamW, NAdam,
Adamax), so the same hyperparameters give the same trajectory as PyTorch; LAMB, Adafactor and
Lion follow their papers as Optax implements them. One ``step`` call is one fused pass over each
array (LAMB and Adafactor need a norm of the update first, so they read it twice); large arrays
are split over threads (``n_threads``, all by default).

The step size: ``lr`` is a float or a schedule from :mod:`fastdescent.schedules` (any callable
``t -> float``). The optimizer evaluates it at its own step count: its ``k``-th call to
:meth:`~Optimizer.step` (``k = 0, 1, ...``, see :attr:`~Optimizer.step_count`) uses
``lr(k)``. Nothing else advances a schedule; metric-driven schedules (``ReduceLROnPlateau``)
change only when you call their ``step(metric)``.

State (moments, step counts) is kept per parameter array, in the order of the first ``step``;
:meth:`~Optimizer.state_dict` and :meth:`~Optimizer.load_state_dict` save and restore it, and a
restored optimizer continues exactly as the original would have.
:meth:`~Optimizer.to_spec` describes the optimizer to the C++ trainer of the estimators.
"""

from __future__ import annotations

import copy
import math
import numbers

import numpy as np

from . import _core

__all__ = [
    "Optimizer",
    "SGD",
    "Adagrad",
    "RMSprop",
    "Adam",
    "AdamW",
    "NAdam",
    "Adamax",
    "LAMB",
    "Adafactor",
    "Lion",
]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_nonneg(value, name, label=None):
    """torch.optim's check, finite too: ValueError "Invalid <label> value: <value>" unless
    0 <= value < inf."""
    if not _is_real(value):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not 0.0 <= value < math.inf:
        raise ValueError(f"Invalid {label or name} value: {value}")
    return float(value)


def _check_lr(lr, allow_none=False):
    if lr is None and allow_none:
        return None
    if _is_real(lr):
        if not 0.0 <= lr < math.inf:
            raise ValueError(f"Invalid learning rate: {lr}")
        return float(lr)
    if callable(lr):
        return lr
    raise TypeError(
        f"lr must be a non-negative float or a schedule (a callable t -> step size), "
        f"got {type(lr).__name__}"
    )


def _check_betas(betas):
    try:
        beta1, beta2 = betas
    except (TypeError, ValueError):
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}") from None
    for i, b in enumerate((beta1, beta2)):
        if not _is_real(b):
            raise TypeError(f"betas[{i}] must be a real number, got {type(b).__name__}")
        if not 0.0 <= b < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {b}")
    return float(beta1), float(beta2)


# The class of each registered kind (fastdescent._core.optimizer_registry()), by kind name.
BY_KIND: dict[str, type[Optimizer]] = {}


class Optimizer:
    """Base class: validation, per-array state, step-size schedules and state dicts.

    Subclasses define ``_init_state(param)`` and ``_update(param, grad, state, lr)``.

    Parameters
    ----------
    lr : float or callable
        Step size, or a schedule evaluated at :attr:`step_count`.
    n_threads : int, optional
        Threads for arrays above 2**16 entries; all (OpenMP's default) when None.
    """

    _kind: str | None = None  # the OptimizerKind the spec uses
    _hyperparameters: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "_kind" in cls.__dict__:
            BY_KIND[cls._kind] = cls

    def __init__(self, lr, n_threads=None, allow_none_lr=False):
        self._allow_none_lr = allow_none_lr
        self.lr = _check_lr(lr, allow_none=allow_none_lr)
        if n_threads is not None and (
            isinstance(n_threads, bool) or not isinstance(n_threads, numbers.Integral)
        ):
            raise TypeError(
                f"n_threads must be an integer or None, got {type(n_threads).__name__}"
            )
        self.n_threads = n_threads
        self.state = []
        self.step_count = 0
        self._checked_settings = ()

    def _settings(self):
        return (self.lr, self.n_threads, *(getattr(self, n) for n in self._hyperparameters))

    def _check_settings(self):
        """Runs the constructor's checks again when ``lr``, ``n_threads`` or a hyperparameter
        was assigned since the last check (otherwise it costs one identity test per setting),
        so that ``opt.lr = float("nan")`` or ``opt.betas = (1.5, 0.9)`` fails at the next
        step instead of training on it."""
        settings = self._settings()
        if len(settings) == len(self._checked_settings) and all(
            a is b for a, b in zip(settings, self._checked_settings)
        ):
            return
        self._adopt(type(self)(self.lr, **self.hyperparameters(), n_threads=self.n_threads))

    def _adopt(self, checked):
        """Takes lr and the hyperparameters of `checked`, an instance the constructor checked."""
        for name in self._hyperparameters:
            setattr(self, name, getattr(checked, name))
        self.lr = checked.lr
        self._checked_settings = self._settings()

    @property
    def _threads(self):
        return -1 if self.n_threads is None else int(self.n_threads)

    def current_lr(self):
        """The step size the next :meth:`step` will use.

        Returns
        -------
        float or None
            None for Adafactor's relative step size.
        """
        if self.lr is None or isinstance(self.lr, float):
            return self.lr
        value = float(self.lr(self.step_count))
        if not 0 <= value < math.inf:
            raise ValueError(
                f"the schedule gave an invalid learning rate at step {self.step_count}: {value}"
            )
        return value

    def _as_lists(self, params, grads):
        if isinstance(params, np.ndarray):
            if not isinstance(grads, np.ndarray):
                raise TypeError(
                    "params is a single array, so grads must be one too, got "
                    f"{type(grads).__name__}"
                )
            return [params], [grads]
        if not isinstance(params, (list, tuple)):
            raise TypeError(
                "params must be a NumPy array or a list of NumPy arrays, got "
                f"{type(params).__name__}"
            )
        if not isinstance(grads, (list, tuple)):
            raise TypeError(
                f"grads must be a list of NumPy arrays like params, got {type(grads).__name__}"
            )
        if len(params) != len(grads):
            raise ValueError(f"got {len(params)} parameter arrays but {len(grads)} gradients")
        if not params:
            raise ValueError("params is empty")
        return list(params), list(grads)

    def _checked(self, params, grads):
        params, grads = self._as_lists(params, grads)
        if self.state and len(params) != len(self.state):
            raise ValueError(
                f"this optimizer was first stepped with {len(self.state)} parameter "
                f"arrays, got {len(params)}; use one optimizer per set of parameters"
            )
        checked = []
        for i, (p, g) in enumerate(zip(params, grads)):
            if not isinstance(p, np.ndarray):
                raise TypeError(f"params[{i}] must be a NumPy array, got {type(p).__name__}")
            if not isinstance(g, np.ndarray):
                raise TypeError(f"grads[{i}] must be a NumPy array, got {type(g).__name__}")
            if p.dtype not in _FLOAT_DTYPES:
                raise TypeError(
                    f"params[{i}] has dtype {p.dtype}; parameters must be float32 or float64"
                )
            if g.dtype != p.dtype:
                raise TypeError(
                    f"grads[{i}] has dtype {g.dtype} but params[{i}] has dtype {p.dtype}; "
                    "convert the gradient to the parameter's dtype"
                )
            if g.shape != p.shape:
                raise ValueError(
                    f"grads[{i}] has shape {g.shape} but params[{i}] has shape {p.shape}"
                )
            if not p.flags.c_contiguous:
                raise ValueError(
                    f"params[{i}] is not C-contiguous; it is updated in place, so pass "
                    "a contiguous array (numpy.ascontiguousarray makes a copy you must keep)"
                )
            if not p.flags.writeable:
                raise ValueError(f"params[{i}] is read-only; it is updated in place")
            if self.state:
                st = self.state[i]
                if st["shape"] != p.shape:
                    raise ValueError(
                        f"params[{i}] has shape {p.shape} but had shape {st['shape']} on "
                        "the first step"
                    )
                if st["dtype"] != p.dtype.name:
                    raise TypeError(
                        f"params[{i}] has dtype {p.dtype} but had dtype {st['dtype']} on "
                        "the first step"
                    )
            if np.may_share_memory(p, g):
                raise ValueError(
                    f"grads[{i}] shares memory with params[{i}]; pass a separate gradient array"
                )
            checked.append((p, np.ascontiguousarray(g)))
        for i in range(len(checked)):
            for j in range(i):
                if np.may_share_memory(checked[i][0], checked[j][0]):
                    raise ValueError(
                        f"params[{i}] and params[{j}] share memory; pass each parameter once"
                    )
        return checked

    def step(self, params, grads):
        """Update the parameters in place, one step.

        Parameters
        ----------
        params : ndarray or list of ndarray
            float32 or float64, C-contiguous, writable; the same arrays (count, shapes, dtypes)
            at every step.
        grads : ndarray or list of ndarray
            Gradients, same dtypes and shapes as ``params``.

        Raises
        ------
        TypeError
            On a non-array, a dtype other than float32/float64, or gradient and parameter dtypes
            that differ.
        ValueError
            On mismatched shapes, non-contiguous or read-only parameters, or a different number
            of arrays than on the first step.
        """
        self._check_settings()
        checked = self._checked(params, grads)
        lr = self.current_lr()
        if not self.state:
            self.state = [self._new_state(p) for p, _ in checked]
        for (p, g), st in zip(checked, self.state):
            st["step"] += 1
            try:
                self._update(p, g, st, lr)
            except BaseException:
                st["step"] -= 1
                raise
        self.step_count += 1

    def _new_state(self, p):
        state = {"step": 0, "shape": p.shape, "dtype": p.dtype.name}
        state.update(self._init_state(p))
        return state

    def _init_state(self, p):
        raise NotImplementedError

    def _update(self, p, g, state, lr):
        raise NotImplementedError

    def hyperparameters(self):
        """The constructor arguments other than ``lr``.

        Returns
        -------
        dict
        """
        return {name: getattr(self, name) for name in self._hyperparameters}

    def state_dict(self):
        """A deep copy of the optimizer's state.

        Returns
        -------
        dict
            ``optimizer`` (class name), ``step_count``, ``lr`` (when a float), ``hyperparameters``
            and ``state`` (one dict of arrays and counters per parameter array).
        """
        out = {
            "optimizer": type(self).__name__,
            "step_count": self.step_count,
            "hyperparameters": copy.deepcopy(self.hyperparameters()),
            "state": copy.deepcopy(self.state),
        }
        if self.lr is None or isinstance(self.lr, float):
            out["lr"] = self.lr
        return out

    def load_state_dict(self, state_dict):
        """Restore a state saved by :meth:`state_dict` (of the same optimizer class).

        Parameters
        ----------
        state_dict : dict

        Everything is checked before anything changes: the hyperparameters as the constructor
        checks them, and each state entry's keys, step count, shape, dtype and arrays (the
        shapes and dtypes this optimizer keeps for such a parameter, finite values, no negative
        values where a sum of squares is kept).

        Raises
        ------
        ValueError
            If the dict comes from another optimizer class, lacks entries or holds invalid
            values.
        """
        if not isinstance(state_dict, dict):
            raise TypeError(f"state_dict must be a dict, got {type(state_dict).__name__}")
        name = state_dict.get("optimizer")
        if name != type(self).__name__:
            raise ValueError(f"this state dict belongs to {name!r}, not {type(self).__name__!r}")
        missing = {"step_count", "hyperparameters", "state"} - set(state_dict)
        if missing:
            raise ValueError(f"state dict lacks {sorted(missing)}")
        hyper = dict(state_dict["hyperparameters"])
        unknown = set(hyper) - set(self._hyperparameters)
        if unknown:
            raise ValueError(
                f"unknown hyperparameters for {type(self).__name__}: {sorted(unknown)}"
            )
        lr = state_dict["lr"] if "lr" in state_dict else self.lr
        # Validated as the constructor would.
        restored = type(self)(lr, **hyper, n_threads=self.n_threads)
        step_count = _count(state_dict["step_count"], "step_count")
        entries = state_dict["state"]
        if not isinstance(entries, (list, tuple)):
            raise ValueError(f"state must be a list of entries, got {type(entries).__name__}")
        state = [restored._checked_entry(i, st) for i, st in enumerate(entries)]
        self._adopt(restored)
        self.state = state
        self.step_count = step_count

    # State kept lazily: None until the hyperparameter that needs it is switched on.
    _optional_state = frozenset({"momentum_buffer", "grad_avg", "max_exp_avg_sq"})
    # Sums or averages of squares, and maxima of absolute values: never negative.
    _nonnegative_state = frozenset(
        {"sum", "square_avg", "exp_avg_sq", "max_exp_avg_sq", "exp_inf", "v", "v_row", "v_col"}
    )

    def _checked_entry(self, i, st):
        """A private copy of state entry `i` after checking it against the entry this
        optimizer would create for a parameter of its shape and dtype."""
        where = f"state[{i}]"
        if not isinstance(st, dict) or not {"step", "shape", "dtype"} <= set(st):
            raise ValueError(f"{where} is not an optimizer state entry")
        shape = st["shape"]
        if not isinstance(shape, tuple) or not all(
            isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 0 for n in shape
        ):
            raise ValueError(f"{where}['shape'] must be a tuple of sizes, got {shape!r}")
        if st["dtype"] not in ("float32", "float64"):
            raise ValueError(f"{where}['dtype'] must be 'float32' or 'float64'")
        dtype = np.dtype(st["dtype"])
        # np.zeros only reserves pages: the template costs no parameter-sized work.
        template = self._new_state(np.zeros(shape, dtype))
        if set(st) != set(template):
            raise ValueError(
                f"{where} has keys {sorted(st)}; {type(self).__name__} keeps {sorted(template)}"
            )
        out = {"step": _count(st["step"], f"{where}['step']"), "shape": shape, "dtype": dtype.name}
        for key, want in template.items():
            if key in out:
                continue
            have, name = st[key], f"{where}[{key!r}]"
            if have is None and (want is None or key in self._optional_state):
                out[key] = None
            elif isinstance(want, np.ndarray) or (
                key in self._optional_state and have is not None
            ):
                want_shape = shape if want is None else want.shape
                if not isinstance(have, np.ndarray) or have.dtype != dtype:
                    raise ValueError(f"{name} must be a {dtype.name} array")
                if have.shape != want_shape:
                    raise ValueError(f"{name} has shape {have.shape}, expected {want_shape}")
                _check_values(have, name, key in self._nonnegative_state)
                out[key] = np.array(have, order="C")  # a private, writable copy
            elif isinstance(want, float):
                if not _is_real(have):
                    raise ValueError(f"{name} must be a real number, got {have!r}")
                _check_values(np.float64(have), name, True)
                out[key] = float(have)
            else:
                raise ValueError(f"{name} must be None, got {type(have).__name__}")
        return out

    def to_spec(self):
        """The C++ trainer's description of this optimizer.

        The step size is not part of it: the trainer's schedule supplies it (``lr`` and any
        schedule here are ignored, except Adafactor's ``lr=None`` meaning the relative step).

        Returns
        -------
        fastdescent._core.OptimizerSpec
        """
        self._check_settings()
        spec = _core.OptimizerSpec(getattr(_core.OptimizerKind, self._kind))
        for name, value in self._spec_fields().items():
            setattr(spec, name, value)
        spec.validate()
        return spec

    def _spec_fields(self):
        return {}

    def __repr__(self):
        args = ", ".join(
            f"{k}={v!r}" for k, v in [("lr", self.lr), *self.hyperparameters().items()]
        )
        return f"{type(self).__name__}({args})"


def _count(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    return int(value)


def _check_values(a, name, nonnegative):
    if not np.isfinite(a).all():
        raise ValueError(f"{name} holds NaN or infinity")
    if nonnegative and (a < 0).any():
        raise ValueError(f"{name} holds negative values; it cannot be negative")


def _zeros(p):
    return np.zeros(p.shape, dtype=p.dtype)


class SGD(Optimizer):
    """Stochastic gradient descent with momentum (``torch.optim.SGD``).

    ``d = g + weight_decay w``; with momentum ``b = d`` on the first step, then
    ``b = momentum b + (1 - dampening) d``; ``d = d + momentum b`` (Nesterov) or ``b``;
    ``w -= lr d``.

    Parameters
    ----------
    lr : float or callable
        Step size or schedule.
    momentum : float, default=0
        Momentum factor.
    dampening : float, default=0
        Dampening of the momentum.
    nesterov : bool, default=False
        Nesterov momentum (needs momentum > 0 and dampening = 0).
    weight_decay : float, default=0
        L2 penalty added to the gradient.
    n_threads : int, optional
        Threads for large arrays (all by default).
    """

    _kind = "sgd"
    _hyperparameters = ("momentum", "dampening", "nesterov", "weight_decay")

    def __init__(
        self, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0, *, n_threads=None
    ):
        super().__init__(lr, n_threads)
        self.momentum = _check_nonneg(momentum, "momentum")
        if not _is_real(dampening):
            raise TypeError(f"dampening must be a real number, got {type(dampening).__name__}")
        if not math.isfinite(dampening):
            raise ValueError(f"Invalid dampening value: {dampening}")
        self.dampening = float(dampening)
        self.nesterov = bool(nesterov)
        self.weight_decay = _check_nonneg(weight_decay, "weight_decay")
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _init_state(self, p):
        return {"momentum_buffer": _zeros(p) if self.momentum != 0 else None}

    def _update(self, p, g, st, lr):
        if self.momentum != 0 and st["momentum_buffer"] is None:
            st["momentum_buffer"] = _zeros(p)  # momentum switched on after a state reload
        _core.sgd_step(
            p,
            g,
            st["momentum_buffer"],
            st["step"],
            lr,
            self.momentum,
            self.dampening,
            self.nesterov,
            self.weight_decay,
            self._threads,
        )

    def _spec_fields(self):
        return self.hyperparameters()


class Adagrad(Optimizer):
    """Adagrad (``torch.optim.Adagrad``).

    ``lr_t = lr / (1 + (t - 1) lr_decay)``; ``d = g + weight_decay w``; ``s += d**2``;
    ``w -= lr_t d / (sqrt(s) + eps)``.

    Parameters
    ----------
    lr : float or callable, default=1e-2
        Step size or schedule.
    lr_decay : float, default=0
        Decay of the step size with the step count.
    weight_decay : float, default=0
        L2 penalty added to the gradient.
    initial_accumulator_value : float, default=0
        Starting value of the sum of squared gradients.
    eps : float, default=1e-10
        Added to the denominator.
    n_threads : int, optional
        Threads for large arrays (all by default).
    """

    _kind = "adagrad"
    _hyperparameters = ("lr_decay", "weight_decay", "initial_accumulator_value", "eps")

    def __init__(
        self,
        lr=1e-2,
        lr_decay=0.0,
        weight_decay=0.0,
        initial_accumulator_value=0.0,
        eps=1e-10,
        *,
        n_threads=None,
    ):
        super().__init__(lr, n_threads)
        self.lr_decay = _check_nonneg(lr_decay, "lr_decay")
        self.weight_decay = _check_nonneg(weight_decay, "weight_decay")
        self.initial_accumulator_value = _check_nonneg(
            initial_accumulator_value, "initial_accumulator_value"
        )
        self.eps = _check_nonneg(eps, "eps", "epsilon")

    def _init_state(self, p):
        return {"sum": np.full(p.shape, self.initial_accumulator_value, dtype=p.dtype)}

    def _update(self, p, g, st, lr):
        _core.adagrad_step(
            p,
            g,
            st["sum"],
            st["step"],
            lr,
            self.lr_decay,
            self.weight_decay,
            self.eps,
            self._threads,
        )

    def _spec_fields(self):
        return self.hyperparameters()


class RMSprop(Optimizer):
    """RMSprop (``torch.optim.RMSprop``).

    ``d = g + weight_decay w``; ``v = alpha v + (1 - alpha) d**2``; centered:
    ``a = alpha a + (1 - alpha) d`` and ``den = sqrt(v - a**2) + eps``, else
    ``den = sqrt(v) + eps``; with momentum ``b = momentum b + d / den``, ``w -= lr b``, else
    ``w -= lr d / den``.

    Parameters
    ----------
    lr : float or callable, default=1e-2
        Step size or schedule.
    alpha : float, default=0.99
        Smoothing constant.
    eps : float, default=1e-8
        Added to the denominator.
    weight_decay : float, default=0
        L2 penalty added to the gradient.
    momentum : float, default=0
        Momentum factor.
    centered : bool, default=False
        Normalize by an estimate of the gradient's variance.
    n_threads : int, optional
        Threads for large arrays (all by default).
    """

    _kind = "rmsprop"
    _hyperparameters = ("alpha", "eps", "weight_decay", "momentum", "centered")

    def __init__(
        self,
        lr=1e-2,
        alpha=0.99,
        eps=1e-8,
        weight_decay=0.0,
        momentum=0.0,
        centered=False,
        *,
        n_threads=None,
    ):
        super().__init__(lr, n_threads)
        self.eps = _check_nonneg(eps, "eps", "epsilon")
        self.momentum = _check_nonneg(momentum, "momentum")
        self.weight_decay = _check_nonneg(weight_decay, "weight_decay")
        self.alpha = _check_nonneg(alpha, "alpha")
        self.centered = bool(centered)

    def _init_state(self, p):
        return {
            "square_avg": _zeros(p),
            "grad_avg": _zeros(p) if self.centered else None,
            "momentum_buffer": _zeros(p) if self.momentum > 0 else None,
        }

    def _update(self, p, g, st, lr):
        if self.centered and st["grad_avg"] is None:
            st["grad_avg"] = _zeros(p)
        if self.momentum > 0 and st["momentum_buffer"] is None:
            st["momentum_buffer"] = _zeros(p)
        _core.rmsprop_step(
            p,
            g,
            st["square_avg"],
            st["grad_avg"],
            st["momentum_buffer"],
            lr,
            self.alpha,
            self.eps,
            self.weight_decay,
            self.momentum,
            self.centered,
            self._threads,
        )

    def _spec_fields(self):
        return self.hyperparameters()


class Adam(Optimizer):
    """Adam (``torch.optim.Adam``), with the AMSGrad variant.

    ``d = g + weight_decay w``; ``m = beta1 m + (1 - beta1) d``;
    ``v = beta2 v + (1 - beta2) d**2`` (AMSGrad: ``v`` below is the running maximum);
    ``w -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)``.

    Parameters
    ----------
    lr : float or callable, default=1e-3
        Step size or schedule.
    betas : (float, float), default=(0.9, 0.999)
        Decay rates of the first and second moments.
    eps : float, default=1e-8
        Added to the denominator.
    weight_decay : float, default=0
        L2 penalty added to the gradient (see :class:`AdamW` for decoupled decay).
    amsgrad : bool, default=False
        Use the maximum of past second moments.
    n_threads : int, optional
        Threads for large arrays (all by default).
    """

    _kind = "adam"
    _decoupled = False
    _hyperparameters = ("betas", "eps", "weight_decay", "amsgrad")

    def __init__(
        self,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0.0,
        amsgrad=False,
        *,
        n_threads=None,
    ):
        super().__init__(lr, n_threads)
        self.eps = _check_nonneg(eps, "eps", "epsilon")
        self.betas = _check_betas(betas)
        self.weight_decay = _check_nonneg(weight_decay, "weight_decay")
        self.amsgrad = bool(amsgrad)

    def _init_state(self, p):
        return {
            "exp_avg": _zeros(p),
            "exp_avg_sq": _zeros(p),
            "max_exp_avg_sq": _zeros(p) if self.amsgrad else None,
        }

    def _update(self, p, g, st, lr):
        if self.amsgrad and st["max_exp_avg_sq"] is None:
            st["max_exp_avg_sq"] = _zeros(p)
        _core.adam_step(
            p,
            g,
            st["exp_avg"],
            st["exp_avg_sq"],
            st["max_exp_avg_sq"],
            st["step"],
            lr,
            self.betas[0],
            self.betas[1],
            self.eps,
            self.weight_decay,
            self.amsgrad,
            self._decoupled,
            self._threads,
        )

    def _spec_fields(self):
        return {
            "beta1": self.betas[0],
            "beta2": self.betas[1],
            "eps": self.eps,
            "weight_decay": self.weight_decay,
            "amsgrad": self.amsgrad,
        }


class AdamW(Adam):
    """AdamW (``torch.optim.AdamW``): Adam with decoupled weight decay.

    ``w *= 1 - lr weight_decay`` first, then Adam's update with the raw gradient.

    Parameters
    ----------
    lr : float or callable, default=1e-3
        Step size or schedule.
    betas : (float, float), default=(0.9, 0.999)
        Decay rates of the first and second moments.
    eps : float, default=1e-8
        Added to the denominator.
    weight_decay : float, default=1e-2
        Decoupled weight decay coefficient.
    amsgrad : bool, default=False
        Use the maximum of past second moments.
    n_threads : int, optional
        Threads for large arrays (all by default).
    """

    _kind = "adamw"
    _decoupled = True

    def __init__(
        self,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=1e-2,
        amsgrad=False,
        *,
        n_threads=None,
    ):
        super().__init__(lr, betas, eps, weight_decay, amsgrad, n_threads=n_threads)


class NAdam(Optimizer):
    """NAdam (``torch.optim.NAdam``): Adam with Nesterov momentum and a momentum schedule.

    ``mu_t = beta1 (1 - 0.5 * 0.96**(t momentum_decay))``, ``P_t = prod mu_1..mu_t``;
    ``d = g + weight_decay w`` (or decoupled: ``w *= 1 - lr weight_decay``);
    ``m``, ``v`` as in Adam; ``den = sqrt(v / (1 - beta2**t)) + eps``;
    ``w -= lr (1 - mu_t) / (1 - P_t) d / den + lr mu_{t+1} / (1 - P_t mu_{t+1}) m / den``.

    Parameters
    ----------
    lr : float or callable, default=2e-3
        Step size or schedule.
    betas : (float, float), default=(0.9, 0.999)
        Decay rates of the first and second moments.
    eps : float, default=1e-8
        Added to the denominator.
    weight_decay : float, default=0
        Weight decay (L2 in the gradient unless ``decoupled_weight_decay``).
    momentum_decay : float, default=4e-3
        Decay of the momentum schedule (psi).
    decoupled_weight_decay : bool, default=False
        Apply the decay as AdamW does.
    n_threads : int, optional
        Threads for large arrays (all by default).

    Notes
    -----
    The product ``P_t`` is kept in double precision. PyTorch keeps it in its default dtype
    (float32 unless ``torch.set_default_dtype(torch.float64)``), which moves its trajectory by
    about 1e-9 relative; with a float64 default dtype the two agree to rounding.
    """

    _kind = "nadam"
    _hyperparameters = ("betas", "eps", "weight_decay", "momentum_decay", "decoupled_weight_decay")

    def __init__(
        self,
        lr=2e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0.0,
        momentum_decay=4e-3,
        decoupled_weight_decay=False,
        *,
        n_threads=None,
    ):
        super().__init__(lr, n_threads)
        self.eps = _check_nonneg(eps, "eps", "epsilon")
        self.betas = _check_betas(betas)
        self.weight_decay = _check_nonneg(weight_decay, "weight_decay")
        self.momentum_decay = _check_nonneg(momentum_decay, "momentum_decay")
        self.decoupled_weight_decay = bool(decoupled_weight_decay)

    def _init_state(self, p):
        return {"mu_product": 1.0, "exp_avg": _zeros(p), "exp_avg_sq": _zeros(p)}

    def _update(self, p, g, st, lr):
        st["mu_product"] = _core.nadam_step(
            p,
            g,
            st["exp_avg"],
            st["exp_avg_sq"],
            st["step"],
            st["mu_product"],
            lr,
            self.betas[0],
            self.betas[1],
            self.eps,
            self.weight_decay,
            self.momentum_decay,
            self.decoupled_weight_decay,
            self._threads,
        )

    def _spec_fields(self):
        return {
            "beta1": self.betas[0],
            "beta2": self.betas[1],
            "eps": self.eps,
            "weight_decay": self.weight_decay,
            "momentum_decay": self.momentum_decay,
            "decoupled_weight_decay": self.decoupled_weight_decay,
        }


class Adamax(Optimizer):
    """Adamax (``torch.optim.Adamax``): Adam with the infinity norm.

    ``d = g + weight_decay w``; ``m = beta1 m + (1 - beta1) d``;
    ``u = max(beta2 u, |d| + eps)``; ``w -= lr / (1 - beta1**t) * m / u``.

    Parameters
    ----------
    lr : float or callable, default=2e-3
        Step size or schedule.
    betas : (float, float), default=(0.9, 0.999)
        Decay rates of the first moment and of the infinity norm.
    eps : float, default=1e-8
        Added to ``|d|``.
    weight_decay : float, default=0
        L2 penalty added to the gradient.
    n_threads : int, optional
        Threads for large arrays (all by default).
    """

    _kind = "adamax"
    _hyperparameters = ("betas", "eps", "weight_decay")

    def __init__(self, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *, n_threads=None):
        super().__init__(lr, n_threads)
        self.eps = _check_nonneg(eps, "eps", "epsilon")
        self.betas = _check_betas(betas)
        self.weight_decay = _check_nonneg(weight_decay, "weight_decay")

    def _init_state(self, p):
        return {"exp_avg": _zeros(p), "exp_inf": _zeros(p)}

    def _update(self, p, g, st, lr):
        _core.adamax_step(
            p,
            g,
            st["exp_avg"],
            st["exp_inf"],
            st["step"],
            lr,
            self.betas[0],
            self.betas[1],
            self.eps,
            self.weight_decay,
            self._threads,
        )

    def _spec_fields(self):
        return {
            "beta1": self.betas[0],
            "beta2": self.betas[1],
            "eps": self.eps,
            "weight_decay": self.weight_decay,
        }


class LAMB(Optimizer):
    """LAMB (You et al. 2020, as ``optax.lamb``): Adam scaled by a per-array trust ratio.

    ``m``, ``v`` as in Adam on the raw gradient; ``u = m_hat / (sqrt(v_hat) + eps) +
    weight_decay w`` with bias-corrected moments; ``w -= lr r u`` where
    ``r = ||w|| / ||u||`` over each parameter array (1 when either norm is 0).

    Parameters
    ----------
    lr : float or callable, default=1e-3
        Step size or schedule.
    betas : (float, float), default=(0.9, 0.999)
        Decay rates of the first and second moments.
    eps : float, default=1e-6
        Added to the denominator.
    weight_decay : float, default=0
        Decoupled weight decay, part of the update before the trust ratio.
    n_threads : int, optional
        Threads for large arrays (all by default).
    """

    _kind = "lamb"
    _hyperparameters = ("betas", "eps", "weight_decay")

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0, *, n_threads=None):
        super().__init__(lr, n_threads)
        self.eps = _check_nonneg(eps, "eps", "epsilon")
        self.betas = _check_betas(betas)
        self.weight_decay = _check_nonneg(weight_decay, "weight_decay")

    def _init_state(self, p):
        return {"exp_avg": _zeros(p), "exp_avg_sq": _zeros(p), "trust_ratio": 1.0}

    def _update(self, p, g, st, lr):
        st["trust_ratio"] = _core.lamb_step(
            p,
            g,
            st["exp_avg"],
            st["exp_avg_sq"],
            st["step"],
            lr,
            self.betas[0],
            self.betas[1],
            self.eps,
            self.weight_decay,
            self._threads,
        )

    def _spec_fields(self):
        return {
            "beta1": self.betas[0],
            "beta2": self.betas[1],
            "eps": self.eps,
            "weight_decay": self.weight_decay,
        }


class Adafactor(Optimizer):
    """Adafactor (Shazeer & Stern 2018, as ``optax.adafactor``).

    Second moments of ``s = g**2 + eps`` are factored for a 2-D array whose smaller side is at
    least ``min_dim_size_to_factor`` (row statistics ``R``, column statistics ``C``,
    ``V = R C^T / mean(R)``) and kept in full otherwise, with the decay
    ``beta_t = 1 - t**-decay_rate``. The update ``y = g / sqrt(V)`` is divided by
    ``max(1, RMS(y) / clipping_threshold)``, scaled by ``lr`` and, with
    ``multiply_by_parameter_scale``, by ``max(eps_scale, RMS(w))``; then optionally averaged
    with ``momentum``; finally ``w -= update + weight_decay w``.

    Parameters
    ----------
    lr : float, callable or None, default=None
        Step size or schedule; None uses the paper's relative step size
        ``min(1e-2, 1 / sqrt(t))``. With a value, the trajectory is ``optax.adafactor``'s with
        ``learning_rate=lr``.
    decay_rate : float, default=0.8
        Exponent of the second-moment decay.
    clipping_threshold : float or None, default=1.0
        Update clipping threshold (None: no clipping).
    multiply_by_parameter_scale : bool, default=True
        Scale steps by the root mean square of the parameter array.
    eps : float, default=1e-30
        Added to the squared gradient.
    eps_scale : float, default=1e-3
        Lower bound of the parameter scale.
    min_dim_size_to_factor : int, default=128
        Smallest side of a 2-D array for which moments are factored.
    factored : bool, default=True
        Factor the moments of 2-D arrays at all.
    momentum : float or None, default=None
        Decay of an (undebiased) average of updates; None: off.
    weight_decay : float, default=0
        Decay ``w -= weight_decay w`` per step, not scaled by ``lr`` (Optax's
        ``weight_decay_rate``).
    n_threads : int, optional
        Threads for large arrays (all by default).
    """

    _kind = "adafactor"
    _hyperparameters = (
        "decay_rate",
        "clipping_threshold",
        "multiply_by_parameter_scale",
        "eps",
        "eps_scale",
        "min_dim_size_to_factor",
        "factored",
        "momentum",
        "weight_decay",
    )

    def __init__(
        self,
        lr=None,
        decay_rate=0.8,
        clipping_threshold=1.0,
        multiply_by_parameter_scale=True,
        eps=1e-30,
        eps_scale=1e-3,
        min_dim_size_to_factor=128,
        factored=True,
        momentum=None,
        weight_decay=0.0,
        *,
        n_threads=None,
    ):
        super().__init__(lr, n_threads, allow_none_lr=True)
        if not _is_real(decay_rate) or not decay_rate > 0:
            raise ValueError(f"Invalid decay_rate value: {decay_rate}")
        self.decay_rate = float(decay_rate)
        if clipping_threshold is not None and (
            not _is_real(clipping_threshold) or not clipping_threshold > 0
        ):
            raise ValueError(f"Invalid clipping_threshold value: {clipping_threshold}")
        self.clipping_threshold = None if clipping_threshold is None else float(clipping_threshold)
        self.multiply_by_parameter_scale = bool(multiply_by_parameter_scale)
        self.eps = _check_nonneg(eps, "eps", "epsilon")
        self.eps_scale = _check_nonneg(eps_scale, "eps_scale")
        if isinstance(min_dim_size_to_factor, bool) or not isinstance(
            min_dim_size_to_factor, numbers.Integral
        ):
            raise TypeError("min_dim_size_to_factor must be an integer")
        self.min_dim_size_to_factor = int(min_dim_size_to_factor)
        self.factored = bool(factored)
        if momentum is not None and (not _is_real(momentum) or not 0 <= momentum < 1):
            raise ValueError(f"Invalid momentum value: {momentum}")
        self.momentum = None if momentum is None else float(momentum)
        self.weight_decay = _check_nonneg(weight_decay, "weight_decay")

    def _factors(self, shape):
        return (
            self.factored
            and len(shape) == 2
            and min(shape) >= 2
            and min(shape) >= self.min_dim_size_to_factor
        )

    def _init_state(self, p):
        factored = self._factors(p.shape)
        return {
            "v_row": np.zeros(p.shape[0], p.dtype) if factored else None,
            "v_col": np.zeros(p.shape[1], p.dtype) if factored else None,
            "v": None if factored else _zeros(p),
            "momentum_buffer": _zeros(p) if self.momentum else None,
        }

    def _update(self, p, g, st, lr):
        if lr is None:
            lr = min(1e-2, 1.0 / math.sqrt(st["step"]))
        if self.momentum and st["momentum_buffer"] is None:
            st["momentum_buffer"] = _zeros(p)
        threshold = math.inf if self.clipping_threshold is None else self.clipping_threshold
        _core.adafactor_step(
            p,
            g,
            st["v_row"],
            st["v_col"],
            st["v"],
            st["momentum_buffer"],
            st["step"],
            lr,
            self.decay_rate,
            self.eps,
            threshold,
            self.multiply_by_parameter_scale,
            self.eps_scale,
            self.momentum or 0.0,
            self.weight_decay,
            self._threads,
        )

    def _spec_fields(self):
        return {
            "decay_rate": self.decay_rate,
            "clipping_threshold": math.inf
            if self.clipping_threshold is None
            else self.clipping_threshold,
            "multiply_by_parameter_scale": self.multiply_by_parameter_scale,
            "eps": self.eps,
            "eps_scale": self.eps_scale,
            "min_dim_size_to_factor": self.min_dim_size_to_factor,
            "factored": self.factored,
            "momentum": self.momentum or 0.0,
            "weight_decay": self.weight_decay,
            "relative_step": self.lr is None,
        }


class Lion(Optimizer):
    """Lion (Chen et al. 2023, as ``optax.lion``): signed momentum.

    ``c = beta1 m + (1 - beta1) g``; ``w -= lr (sign(c) + weight_decay w)``;
    ``m = beta2 m + (1 - beta2) g``.

    Parameters
    ----------
    lr : float or callable, default=1e-4
        Step size or schedule (typically 3-10x smaller than Adam's).
    betas : (float, float), default=(0.9, 0.99)
        Interpolation factor of the update direction and decay of the momentum.
    weight_decay : float, default=0
        Decoupled weight decay (scaled by ``lr``).
    n_threads : int, optional
        Threads for large arrays (all by default).
    """

    _kind = "lion"
    _hyperparameters = ("betas", "weight_decay")

    def __init__(self, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, *, n_threads=None):
        super().__init__(lr, n_threads)
        self.betas = _check_betas(betas)
        self.weight_decay = _check_nonneg(weight_decay, "weight_decay")

    def _init_state(self, p):
        return {"exp_avg": _zeros(p)}

    def _update(self, p, g, st, lr):
        _core.lion_step(
            p, g, st["exp_avg"], lr, self.betas[0], self.betas[1], self.weight_decay, self._threads
        )

    def _spec_fields(self):
        return {"beta1": self.betas[0], "beta2": self.betas[1], "weight_decay": self.weight_decay}
