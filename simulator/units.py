"""The one place that converts between the contracts' integers and floats.

The contracts keep prices, sizes and USD amounts as WAD integers (18-decimal fixed point, 1.0 =
``10**18``) and collateral token amounts in the token's base units (6 decimals, like USDC:
1 USD = ``10**6`` units). Python code works in floats of USD and base units of the asset.
Inputs go to the chain through :func:`to_wad` / :func:`to_units` (exact for decimal literals,
via :class:`~decimal.Decimal`); results come back through :func:`from_wad` /
:func:`from_units` (one correctly rounded division) or :func:`from_wad_array` for a batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import numpy as np

#: 1.0 in the contracts' 18-decimal fixed point.
WAD = 10**18
#: Collateral base units per USD (6 decimals, like USDC).
USD_UNITS = 10**6


def to_wad(x: float | int | Decimal) -> int:
    """A decimal number as an 18-decimal fixed-point integer (exact for decimal literals).

    >>> to_wad(1.5)
    1500000000000000000
    """
    if type(x) is float:
        fast = _float_fixed(x, 18)
        if fast is not None:
            return fast
    return int(Decimal(str(x)) * WAD)


def _float_fixed(x: float, decimals: int) -> int | None:
    """``int(Decimal(str(x)) * 10**decimals)`` for a float written without an exponent, from
    its decimal string alone (about ten times as fast as the :class:`~decimal.Decimal` path,
    which the engine pays for every price it posts and every order it sends): the digits
    after the point cut to ``decimals``, as ``int`` of the decimal product truncates toward
    zero (a float's string has at most 17 significant digits, well within the decimal
    context's 28: the product is exact). ``None``: an exponent, ``inf`` or ``nan`` (the
    caller takes the :class:`~decimal.Decimal` path). ``tests/engine/test_fast_paths.py``
    compares both."""
    text = repr(x)
    if "e" in text or "n" in text:
        return None
    whole, _, fraction = text.partition(".")
    return int(whole + (fraction + "0" * decimals)[:decimals])


def to_units(usd: float | int | Decimal) -> int:
    """USD as collateral base units (6 decimals), rounded down.

    >>> to_units(2.5)
    2500000
    """
    if type(usd) is float:
        fast = _float_fixed(usd, 6)
        if fast is not None:
            return fast
    return int(Decimal(str(usd)) * USD_UNITS)


def from_wad(wad: int) -> float:
    """A WAD integer (USD, base units or a fraction) as a float: ``wad / 1e18``, correctly
    rounded.

    >>> from_wad(1_500_000_000_000_000_000)
    1.5
    """
    return wad / WAD


def from_units(units: int) -> float:
    """Collateral base units (6 decimals) as USD.

    >>> from_units(2_500_000)
    2.5
    """
    return units / USD_UNITS


def from_wad_array(values: Sequence[int] | np.ndarray) -> np.ndarray:
    """A batch of WAD integers as float64 (each converted to float64, then divided by 1e18).

    >>> from_wad_array([10**18, -(10**17)]).tolist()
    [1.0, -0.1]
    """
    return np.array(values, dtype=np.float64) / WAD


def units_to_wad(units: int) -> int:
    """Collateral base units as WAD USD (exact: 1 unit = 10**12 WAD).

    >>> units_to_wad(1)
    1000000000000
    """
    return units * (WAD // USD_UNITS)


#: Below this magnitude (USD) a float's 6-decimal neighbours are more than one ulp apart, so at
#: most one multiple of 1e-6 rounds to it (:func:`to_units_array`'s exactness condition).
_UNITS_ARRAY_MAX_USD = 2.0**30


def to_units_array(usd: Sequence[float] | np.ndarray) -> np.ndarray:
    """:func:`to_units` of every float of ``usd`` (int64 base units, rounded toward zero), without
    a decimal string per value.

    ``to_units(x)`` is ``trunc(d·10⁶)`` for ``d`` the shortest decimal that rounds to ``x``. For
    ``0 <= x < 2**30`` with ``n`` the integer nearest ``x·1e6``, ``trunc(d·10⁶)`` is ``n`` or
    ``n − 1``; ``n·10⁻⁶`` (``n / 1e6``, one correctly rounded division of exact floats) rounds
    to ``x`` only when it is ``d`` itself (no other multiple of 10⁻⁶ is that close), and
    rounding is monotone, so ``d >= n·10⁻⁶`` exactly when ``x >= n / 1e6``. The sign is
    applied after (``to_units(-x) == -to_units(x)``). Values outside that range (and NaN or
    infinities, which :func:`to_units` refuses) go through :func:`to_units` one by one.

    >>> to_units_array([2.5, 0.1, -1.0000009]).tolist()
    [2500000, 100000, -1000000]
    """
    x = np.asarray(usd, dtype=np.float64)
    magnitude = np.abs(x)
    with np.errstate(invalid="ignore"):
        ok = magnitude < _UNITS_ARRAY_MAX_USD
    safe = np.where(ok, magnitude, 0.0)
    n = np.rint(safe * 1e6)
    units = np.where(safe >= n / 1e6, n, n - 1.0).astype(np.int64)
    out = np.where(np.signbit(x), -units, units)
    for i in np.flatnonzero(~ok):
        out.flat[i] = to_units(float(x.flat[i]))
    return out
