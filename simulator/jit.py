"""Compiled kernels: the one way the project compiles a function with numba.

A kernel is ``numba.njit(nogil=True)`` without ``fastmath`` (so that it gives numpy's and
Python's floats to the bit: no fused multiply-adds, no reordered sums), its machine code cached
on disk next to its module (``__pycache__``, else the user's cache directory) so that later
processes -- the tests, ``perpsim tune``'s workers -- load it instead of compiling; compiled in
memory only when no cache directory is writable (numba refuses ``cache=True`` there).

numba's on-disk cache is invalidated by an edit of the file that defines the compiled function,
not of another module's compiled functions it calls: a kernel module calls only kernels it
defines itself (see :mod:`simulator.mirror.sim.jit_calls`, :mod:`simulator.engine.jit_rows`,
:mod:`simulator.agents.flow_jit`).

Examples
--------
>>> @numpy_kernel
... def ratio(a, b):
...     return a / b
>>> ratio(1.0, 0.0)  # numpy's error model: inf, no exception
inf
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba as nb


def _compile(func: Callable[..., Any], **options: Any) -> Any:
    try:
        return nb.njit(cache=True, nogil=True, **options)(func)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return nb.njit(nogil=True, **options)(func)


def kernel(func: Callable[..., Any]) -> Any:
    """``func`` compiled with numba's own error model (a division by zero raises
    ``ZeroDivisionError``, as Python's)."""
    return _compile(func)


def numpy_kernel(func: Callable[..., Any]) -> Any:
    """``func`` compiled with numpy's error model (a division by zero gives inf or NaN, as
    numpy's array operations do)."""
    return _compile(func, error_model="numpy")


def inline_kernel(func: Callable[..., Any]) -> Any:
    """:func:`kernel`, inlined into the kernels that call it (numba's ``inline="always"``: its
    body compiled into each caller, so that a call costs neither a frame nor the reference
    counts of the arrays it takes, ~10 ns an array a call); called from Python, a kernel as
    any. For the small helpers of a hot kernel, in the caller's own module."""
    return _compile(func, inline="always")


def inline_numpy_kernel(func: Callable[..., Any]) -> Any:
    """:func:`numpy_kernel`, inlined into the kernels that call it (see
    :func:`inline_kernel`)."""
    return _compile(func, error_model="numpy", inline="always")


__all__ = ["inline_kernel", "inline_numpy_kernel", "kernel", "numpy_kernel"]
