"""GPU training with Numba-CUDA (optional extra: ``pip install fastdescent[cuda]``).

The estimators use this subpackage when ``device="cuda"`` (or ``"auto"`` finds a GPU). It is
importable without numba-cuda; Numba is imported only when a GPU fit starts or when
:func:`is_available` is called.

Under Numba's CUDA simulator (environment variable ``NUMBA_ENABLE_CUDASIM=1``, set before
Numba is imported) ``device="cuda"`` runs the same kernels on the CPU, slowly: that is how the
kernels are tested on machines without a GPU. ``device="auto"`` never picks the simulator.
"""

from __future__ import annotations

__all__ = ["is_available", "check_available", "is_device_array", "as_device_array"]

# The optimizers with a GPU update kernel (cuda/_kernels.py), by registry name.
SUPPORTED_OPTIMIZERS = (
    "sgd",
    "adagrad",
    "rmsprop",
    "adam",
    "adamw",
    "nadam",
    "adamax",
    "lamb",
    "adafactor",
    "lion",
)

_MISSING_NUMBA = (
    "device='cuda' needs the package numba-cuda, which is not installed: "
    "pip install fastdescent[cuda]  (or pip install numba-cuda)"
)


def _numba_cuda():
    """numba.cuda, or ImportError naming the extra to install."""
    try:
        from numba import cuda
    except ImportError as exc:
        raise ImportError(_MISSING_NUMBA) from exc
    return cuda


def simulated():
    """True when Numba runs CUDA kernels in its simulator (NUMBA_ENABLE_CUDASIM=1)."""
    from numba import config

    return bool(config.ENABLE_CUDASIM)


def check_available():
    """Raise a clear error unless ``device='cuda'`` can run here.

    Raises
    ------
    ImportError
        numba-cuda is not installed.
    RuntimeError
        numba-cuda is installed but finds no usable CUDA GPU (no device, or no driver).
    """
    cuda = _numba_cuda()
    if not cuda.is_available():
        raise RuntimeError(
            "device='cuda' needs a CUDA GPU, but numba-cuda found none usable (no NVIDIA "
            "driver or no device). Use device='cpu', or device='auto' to fall back to the CPU."
        )


def is_available():
    """Whether a real CUDA GPU is usable (numba-cuda installed, a driver and a device found).

    The CUDA simulator does not count: ``device='auto'`` trains on the CPU under it.

    Returns
    -------
    bool
    """
    try:
        cuda = _numba_cuda()
        return (not simulated()) and bool(cuda.is_available())
    except Exception:  # ImportError, or a broken driver installation
        return False


def is_device_array(a):
    """True for a GPU array (CuPy, Numba, PyTorch CUDA tensors: ``__cuda_array_interface__``),
    or a device array of Numba's CUDA simulator."""
    return hasattr(a, "__cuda_array_interface__") or _is_simulator_array(a)


def _is_simulator_array(a):
    return type(a).__name__ == "FakeCUDAArray" and type(a).__module__.startswith("numba")


def as_device_array(a):
    """A Numba view of a GPU array (no copy)."""
    if _is_simulator_array(a):
        return a
    return _numba_cuda().as_cuda_array(a)


def device_array_info(a):
    """(shape, dtype) of a GPU array, read without touching its data."""
    if _is_simulator_array(a):
        return tuple(a.shape), a.dtype
    import numpy as np

    iface = a.__cuda_array_interface__
    return tuple(iface["shape"]), np.dtype(iface["typestr"])
