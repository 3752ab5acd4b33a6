"""Fixed-point primitives of the mirror (``contracts/libraries/FixedPointMath.sol``), in two
numeric modes chosen by the arrays' dtype.

* **Exact** (``dtype=object``, Python ints): WAD integers rounded exactly as the contracts round,
  so a kernel's result equals the chain's to the wei. Python's ``//`` floors towards negative
  infinity, which is ``FixedPointMath.mulDivFloor`` for a signed numerator and OpenZeppelin's
  ``Math.mulDiv`` (round down) for an unsigned one; ``ceil`` is ``-((-a·b)//d)``
  (``mulDivCeil`` / ``Math.Rounding.Ceil``). Solidity's plain signed ``/`` truncates towards
  zero: :func:`div_trunc`.
* **Fast** (``float64``): the same formulas in floating point, every rounding dropped (a
  ``floor``/``ceil`` of a WAD quotient moves a result by at most 1 wei, ~1e-18 USD, far below
  float64's ~1e-16 relative precision). Results are within a relative error of ~1e-12 of the
  exact mode's (a few dozen float operations per kernel); a comparison that lands within that
  error of a boundary (a tier floor, ``equity == maintenance``) may fall on the other side.

Values are WAD in both modes: prices in WAD USD per base unit, sizes in WAD base units, USD in
WAD USD (1 collateral unit = :data:`UNIT` WAD). Fixed-width integer arrays are refused
(:func:`check`): an int64 holds only 9.2 WAD and would overflow silently.
"""

from __future__ import annotations

from typing import Any

import numpy as np

WAD = 10**18
"""1.0 in 18-decimal fixed point."""
UNIT = 10**12
"""WAD per collateral base unit (6-decimal stablecoin)."""
BPS = 10_000
"""Basis points in 1."""
DAY = 86_400
"""Seconds in a day (funding rates are per day)."""

Array = np.ndarray


def exact(x: Any) -> Array:
    """`x` (ints, a sequence or an array of ints) as an exact-mode array of Python ints."""
    a = np.asarray(x, dtype=object)
    if a.ndim == 0:
        return np.array(int(a), dtype=object)
    return np.vectorize(int, otypes=[object])(a) if a.size else a


def fast(x: Any) -> Array:
    """`x` as a fast-mode float64 array (WAD values as floats)."""
    return np.asarray(x, dtype=np.float64)


def check(*arrays: Any) -> bool:
    """True in exact mode (any object array), False in fast mode; TypeError on an integer
    numpy array, whose fixed width would overflow silently on WAD products."""
    is_exact = False
    for a in arrays:
        if isinstance(a, np.ndarray):
            if a.dtype == object:
                is_exact = True
            elif a.dtype.kind in "iu":
                raise TypeError(
                    f"mirror arrays must be exact (dtype=object) or float64, not {a.dtype}"
                )
    return is_exact


def floor_div(n: Any, d: Any) -> Any:
    """``n / d`` rounded towards negative infinity (d > 0); plain division in fast mode."""
    if _exact_result(n, d):
        return n // d
    return _flt(n) / _flt(d)


def ceil_div(n: Any, d: Any) -> Any:
    """``n / d`` rounded towards positive infinity (d > 0); plain division in fast mode."""
    if _exact_result(n, d):
        return -((-n) // d)
    return _flt(n) / _flt(d)


def div_trunc(n: Any, d: Any) -> Any:
    """Solidity's signed ``n / d``: rounded towards zero; plain division in fast mode."""
    if _exact_result(n, d):
        q = abs(n) // abs(d)
        negative = (n < 0) != (d < 0)
        return where(negative, -q, q) if isinstance(q, np.ndarray) else (-q if negative else q)
    return _flt(n) / _flt(d)


def mul_div_down(a: Any, b: Any, d: Any) -> Any:
    """``a·b/d`` rounded towards negative infinity: ``Math.mulDiv`` (a, b ≥ 0) and
    ``FixedPointMath.mulDivFloor`` (signed a), ``mulWadDown`` / ``mulBpsDown`` / ``divWadDown``
    with b or d = WAD / BPS."""
    if not _exact_result(a, b, d):
        return _flt(a) * _flt(b) / _flt(d)
    return floor_div(a * b, d)


def mul_div_up(a: Any, b: Any, d: Any) -> Any:
    """``a·b/d`` rounded towards positive infinity: ``Math.mulDiv(.., Ceil)`` and
    ``FixedPointMath.mulDivCeil`` (signed a), ``mulWadUp`` / ``mulBpsUp`` / ``divWadUp``."""
    if not _exact_result(a, b, d):
        return _flt(a) * _flt(b) / _flt(d)
    return ceil_div(a * b, d)


def _exact_result(*xs: Any) -> bool:
    """Whether an expression over `xs` is exact: every operand a Python int or an object
    array (a float anywhere makes it fast)."""
    for x in xs:
        if isinstance(x, np.ndarray):
            if x.dtype != object:
                return False
        elif isinstance(x, float | np.floating):
            return False
    return True


def where(cond: Any, a: Any, b: Any) -> Any:
    """``np.where`` that keeps exact mode exact: numpy turns Python ints (and the Python ints
    an operation on 0-d object arrays returns) into int64, whose later products would overflow
    silently, or into float64 above 2**63; in exact mode every operand is an object array."""
    if _exact_result(a, b):
        # numpy would store a Python int as int64, or as float64 above 2**63
        a = np.array(a, dtype=object) if _is_int(a) else a
        b = np.array(b, dtype=object) if _is_int(b) else b
    out = np.where(cond, a, b)
    return out.astype(object) if out.dtype.kind in "iu" else out


def maximum(a: Any, b: Any) -> Any:
    """Elementwise max, exact mode kept (see :func:`where`)."""
    return where(a >= b, a, b)


def minimum(a: Any, b: Any) -> Any:
    """Elementwise min, exact mode kept (see :func:`where`)."""
    return where(a <= b, a, b)


def safe(d: Any, ok: Any) -> Any:
    """`d` where `ok`, else 1: a denominator for a branch that `np.where` discards (the
    vectorized code evaluates every branch; an exact zero division would raise)."""
    one = 1 if _exact_result(d) else 1.0
    return where(ok, d, one)


def clamp(x: Any, lo: Any, hi: Any) -> Any:
    """``FixedPointMath.clamp``: lo if x < lo, hi if x > hi, else x."""
    return where(x < lo, lo, where(x > hi, hi, x))


def zeros_like(x: Any) -> Array:
    """Zeros of `x`'s shape in `x`'s mode."""
    a = np.asarray(x)
    if a.dtype == object:
        out = np.empty(a.shape, dtype=object)
        out[...] = 0
        return out
    return np.zeros(a.shape, dtype=np.float64)


def wad_to_units_down(wad: Any) -> Any:
    """``wadToUnitsDown``: whole collateral units, rounded down (still WAD: units·UNIT)."""
    return floor_div(wad, UNIT) * UNIT


def wad_to_units_up(wad: Any) -> Any:
    """``wadToUnitsUp``: whole collateral units, rounded up (still WAD: units·UNIT)."""
    return ceil_div(wad, UNIT) * UNIT


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _flt(x: Any) -> Any:
    """A Python int as a float for the fast mode (numpy would make an object array of a float
    array and an int above 2**63, such as WAD·WAD or 1 day·WAD)."""
    return float(x) if isinstance(x, int) else x
