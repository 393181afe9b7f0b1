"""What the compiled core was built with and what it uses at run time."""

from __future__ import annotations

from . import _core


def show_config(print_out=True):
    """Build and runtime configuration of the compiled core.

    Parameters
    ----------
    print_out : bool, default=True
        Print the configuration; otherwise only return it.

    Returns
    -------
    dict
        version, build type, compiler, flags, and whether OpenMP is available.
    """
    info = dict(_core.build_info())
    if print_out:
        width = max(len(k) for k in info)
        for key, value in info.items():
            print(f"{key:<{width}}  {value}")
    return info
