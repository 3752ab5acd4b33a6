"""Positions, fills and fees (``PerpMath.unrealizedPnl`` / ``applyFill`` / ``fillPrice``,
``VenueMarket.liquidationFill`` and the taker fee of ``PerpVenue._trade``), vectorized.

Units: sizes and deltas WAD base units (+ = long / buy), prices WAD USD, PnL and fees WAD USD.

Rounding (exact mode; always against the trader): unrealized and realized PnL down; the average
entry of an increase up for longs, down for shorts; the skew impact of a buy up, of a sell down;
the liquidation band ``price·(1 − band)`` up and ``price·(1 + band)`` down; the fee
``(|delta|·fill up)·feeBps`` up.
"""

from __future__ import annotations

from typing import Any

from simulator.mirror.fixed import (
    BPS,
    WAD,
    ceil_div,
    floor_div,
    minimum,
    mul_div_down,
    mul_div_up,
    safe,
    wad_to_units_down,
    where,
)


def unrealized_pnl(size: Any, entry: Any, price: Any) -> Any:
    """``side·(price − entry)·|size|`` rounded down; 0 for no position."""
    move = price - entry
    signed = where(size > 0, move, -move)
    return where(size == 0, 0, mul_div_down(signed, abs(size), WAD))


def apply_fill(size: Any, entry: Any, delta: Any, fill: Any) -> tuple[Any, Any, Any]:
    """(new size, new entry, realized PnL) of a fill of `delta` at `fill`: an increase averages
    the entry (longs up, shorts down), a reduction keeps it and realizes the closed part
    (rounded down), a flip takes `fill`, flat gives 0."""
    new_size = size + delta
    increase = (size == 0) | ((size > 0) == (delta > 0))
    a, b = abs(size), abs(delta)
    weighted = entry * a + fill * b
    total = safe(a + b, (a + b) != 0)
    averaged = where(size > 0, ceil_div(weighted, total), floor_div(weighted, total))
    inc_entry = where(size == 0, fill, averaged)
    closing = minimum(b, a)
    move = fill - entry
    realized = mul_div_down(where(size > 0, move, -move), closing, WAD)
    red_entry = where(new_size == 0, 0, where((new_size > 0) == (size > 0), entry, fill))
    return (
        new_size,
        where(increase, inc_entry, red_entry),
        where(increase, 0, realized),
    )


def fill_price(price: Any, skew: Any, delta: Any, skew_scale: Any) -> Any:
    """Synthetix v3 skew fill ``P·(1 + (2·skew + delta)/(2·scale))`` (buys rounded up, sells
    down); `price` when ``skew_scale == 0``; 0 when the impact makes it non-positive (the
    contract then reverts ``InvalidFillPrice``)."""
    x = 2 * skew + delta
    denominator = safe(2 * skew_scale, skew_scale != 0)
    impact = where(delta > 0, mul_div_up(x, price, denominator),
                      mul_div_down(x, price, denominator))  # fmt: skip
    fill = price + impact
    return where(skew_scale == 0, price, where(fill > 0, fill, 0))


def liquidation_fill(price: Any, skew: Any, delta: Any, skew_scale: Any, band_bps: Any) -> Any:
    """The skew fill clamped to ``price·(1 ± band)`` (F7); at least 1 wei."""
    f = fill_price(price, skew, delta, skew_scale)
    lo = mul_div_up(price, BPS - minimum(band_bps, BPS), BPS)
    hi = mul_div_down(price, BPS + band_bps, BPS)
    f = where(f < lo, lo, f)
    f = where(f > hi, hi, f)
    return where(f == 0, 1, f)


def taker_fee(delta: Any, fill: Any, fee_bps: Any) -> Any:
    """The taker fee of a fill: ``(|delta|·fill)·feeBps``, both products rounded up (WAD USD)."""
    return mul_div_up(mul_div_up(abs(delta), fill, WAD), fee_bps, BPS)


def fee_split(fee: Any, insurance_share_bps: Any) -> tuple[Any, Any]:
    """(to the insurance fund, to protocol fees) of a trading fee: the fund's share
    ``fee·bps`` rounded down, then down to whole collateral units; the rest is protocol fees.
    (The contract sends nothing when the venue has no fund; the mirror assumes one.)"""
    sent = wad_to_units_down(mul_div_down(fee, insurance_share_bps, BPS))
    return sent, fee - sent
