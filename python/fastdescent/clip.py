"""Gradient clipping on NumPy arrays, in place, as ``torch.nn.utils`` defines it."""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import _core

__all__ = ["clip_grad_value_", "clip_grad_norm_"]


def _arrays(grads):
    if isinstance(grads, np.ndarray):
        return [grads]
    if isinstance(grads, (str, bytes)) or not hasattr(grads, "__iter__"):
        raise TypeError(
            "grads must be a NumPy array or a sequence of NumPy arrays, "
            f"got {type(grads).__name__}"
        )
    return list(grads)


def _n_threads(n_threads):
    return -1 if n_threads is None else int(n_threads)


def clip_grad_value_(grads, clip_value, *, n_threads=None):
    """Clamp every gradient entry into ``[-clip_value, clip_value]``, in place.

    Parameters
    ----------
    grads : ndarray or sequence of ndarray
        float32 or float64, C-contiguous, writable.
    clip_value : float
        Bound on the absolute value of each entry (>= 0).
    n_threads : int, optional
        Threads for large arrays; all by default.

    Raises
    ------
    TypeError
        If an array is not float32/float64 or not an ndarray.
    ValueError
        If ``clip_value`` is negative, or an array is non-contiguous or read-only.
    """
    if isinstance(clip_value, bool) or not isinstance(clip_value, numbers.Real):
        raise TypeError(f"clip_value must be a real number, got {type(clip_value).__name__}")
    if not clip_value >= 0:
        raise ValueError(f"clip_value must be >= 0, got {clip_value}")
    _core.clip_grad_value(_arrays(grads), float(clip_value), _n_threads(n_threads))


def clip_grad_norm_(grads, max_norm, norm_type=2.0, error_if_nonfinite=False, *, n_threads=None):
    """Scale gradients so that their global norm is at most ``max_norm``, in place.

    The total norm is the ``norm_type``-norm of the vector of per-array norms (the norm of all
    entries together). When ``max_norm / (total + 1e-6) < 1`` every array is multiplied by that
    factor, exactly as ``torch.nn.utils.clip_grad_norm_``.

    Parameters
    ----------
    grads : ndarray or sequence of ndarray
        float32 or float64 (may be mixed), C-contiguous, writable.
    max_norm : float
        Largest allowed total norm (>= 0).
    norm_type : float or "inf", default=2.0
        Order of the norm: any p > 0, or ``inf`` for the largest absolute entry.
    error_if_nonfinite : bool, default=False
        Raise when the total norm is NaN or infinite instead of scaling by it.
    n_threads : int, optional
        Threads for large arrays; all by default.

    Returns
    -------
    float
        The total norm before clipping.

    Raises
    ------
    RuntimeError
        If ``error_if_nonfinite`` and the total norm is not finite.
    """
    if isinstance(max_norm, bool) or not isinstance(max_norm, numbers.Real):
        raise TypeError(f"max_norm must be a real number, got {type(max_norm).__name__}")
    if not max_norm >= 0:
        raise ValueError(f"max_norm must be >= 0, got {max_norm}")
    if isinstance(norm_type, str):
        if norm_type.lower() != "inf":
            raise ValueError(f"norm_type must be a positive number or 'inf', got {norm_type!r}")
        norm_type = math.inf
    if isinstance(norm_type, bool) or not isinstance(norm_type, numbers.Real) or not norm_type > 0:
        raise ValueError(f"norm_type must be a positive number or 'inf', got {norm_type!r}")
    return _core.clip_grad_norm(
        _arrays(grads),
        float(max_norm),
        float(norm_type),
        bool(error_if_nonfinite),
        _n_threads(n_threads),
    )
