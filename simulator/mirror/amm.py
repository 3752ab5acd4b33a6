"""The spot AMM's math (``contracts/SpotAMM.sol``): a constant-product pool of collateral
(6 decimals) against a base token (18 decimals) with the fee taken from the input, vectorized
over pools (markets, paths: any shape ``S``) and, for a sequence of swaps, over a last axis
``N`` of swaps applied in order.

Public functions (signatures stable):

* :func:`amount_out` ``(base_in, amount_in, reserve_collateral, reserve_base, fee_bps)``:
  Uniswap v2's ``in·(1−fee)·R_out / (R_in + in·(1−fee))``, rounded down (``getAmountOut``);
* :func:`swap` ``(base_in, amount_in, reserve_collateral, reserve_base, fee_bps,
  min_amount_out=0)`` → :class:`Swap`: the output, the reserves after and the outcome
  (:data:`OUTCOMES`; the chain reverts unless OK, and the pool is then unchanged);
* :func:`swaps` ``(base_in, amount_in, reserve_collateral, reserve_base, fee_bps,
  min_amount_out=0)`` → :class:`Swap` over a sequence: arrays S + (N,) of swaps, each on the
  reserves the previous ones left; the reserves after each swap;
* :func:`swap_int` ``(base_in, amount_in, reserve_collateral, reserve_base, fee_bps,
  min_amount_out=0)`` → ``(amount_out, reserve_collateral, reserve_base, outcome)``: one swap on
  one pool in plain Python integers (exact; what a run's one-call-at-a-time spot side uses,
  without numpy's per-call cost), equal to :func:`swap` in exact mode;
* :func:`spot_price` ``(reserve_collateral, reserve_base)``: WAD USD per base unit,
  ``R_collateral·1e12·1e18 / R_base`` rounded down (``spotPrice``; 0 for an empty pool, where
  the chain reverts ``NoLiquidity``);
* :func:`add_liquidity` / :func:`remove_liquidity` ``(reserve_collateral, reserve_base,
  collateral_amount, base_amount)`` → (reserves after, ok): no LP shares (the pool is the
  simulation's infrastructure, owner only); a removal beyond a reserve reverts.

Units: ``reserve_collateral`` and collateral amounts in collateral base units (1e-6 USD),
``reserve_base`` and base amounts in base token units (1e-18), ``fee_bps`` bps (< 10,000);
``base_in`` true sells base for collateral. Both modes of :mod:`simulator.mirror.fixed`:
exact (object ints, equal to the chain) and fast (float64; the floors dropped).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from simulator.mirror.fixed import BPS, UNIT, WAD, Array, floor_div, safe, where

OK, ZERO_AMOUNT, NO_LIQUIDITY, INSUFFICIENT_OUTPUT = range(4)
OUTCOMES = {
    OK: "ok",
    ZERO_AMOUNT: "ZeroAmount",
    NO_LIQUIDITY: "NoLiquidity",
    INSUFFICIENT_OUTPUT: "InsufficientOutput",
}


def _b(x: Any) -> Array:
    return np.asarray(x, dtype=bool)


def amount_out(base_in: Any, amount_in: Any, reserve_collateral: Any, reserve_base: Any,
               fee_bps: Any) -> Any:  # fmt: skip
    """``getAmountOut``: the output of a swap of `amount_in` (0 where a reserve is empty)."""
    b = _b(base_in)
    r_in = where(b, reserve_base, reserve_collateral)
    r_out = where(b, reserve_collateral, reserve_base)
    in_after_fee = amount_in * (BPS - fee_bps)
    den = r_in * BPS + in_after_fee
    out = floor_div(in_after_fee * r_out, safe(den, den != 0))
    return where(_b(r_in == 0) | _b(r_out == 0), 0, out)


@dataclass(frozen=True)
class Swap:
    """``amount_out`` (0 unless OK), the reserves after (unchanged unless OK) and ``outcome``;
    shapes S, or S + (N,) for :func:`swaps`."""

    amount_out: Array
    reserve_collateral: Array
    reserve_base: Array
    outcome: Array


def swap(base_in: Any, amount_in: Any, reserve_collateral: Any, reserve_base: Any,
         fee_bps: Any, min_amount_out: Any = 0) -> Swap:  # fmt: skip
    """``swap(baseIn, amountIn, minAmountOut, to)`` on each pool (see the module docstring)."""
    b = _b(base_in)
    out = amount_out(b, amount_in, reserve_collateral, reserve_base, fee_bps)
    empty = _b(reserve_collateral == 0) | _b(reserve_base == 0)
    outcome = np.where(
        _b(amount_in == 0),
        ZERO_AMOUNT,
        np.where(
            empty,
            NO_LIQUIDITY,
            np.where(_b(out < min_amount_out) | _b(out == 0), INSUFFICIENT_OUTPUT, OK),
        ),
    )
    ok = outcome == OK
    out = where(ok, out, 0)
    delta_in = where(ok, amount_in, 0)
    return Swap(
        amount_out=out,
        reserve_collateral=reserve_collateral + where(b, -out, delta_in),
        reserve_base=reserve_base + where(b, delta_in, -out),
        outcome=outcome,
    )


def swap_int(base_in: bool, amount_in: int, reserve_collateral: int, reserve_base: int,
             fee_bps: int, min_amount_out: int = 0) -> tuple[int, int, int, int]:  # fmt: skip
    """:func:`swap` on one pool in Python integers: ``(amount_out, reserve_collateral,
    reserve_base, outcome)`` (``amount_out`` 0 and the reserves unchanged unless OK)."""
    r_in, r_out = (
        (reserve_base, reserve_collateral) if base_in else (reserve_collateral, reserve_base)
    )
    if amount_in == 0:
        return 0, reserve_collateral, reserve_base, ZERO_AMOUNT
    if reserve_collateral == 0 or reserve_base == 0:
        return 0, reserve_collateral, reserve_base, NO_LIQUIDITY
    in_after_fee = amount_in * (BPS - fee_bps)
    out = in_after_fee * r_out // (r_in * BPS + in_after_fee)
    if out < min_amount_out or out == 0:
        return 0, reserve_collateral, reserve_base, INSUFFICIENT_OUTPUT
    if base_in:
        return out, reserve_collateral - out, reserve_base + amount_in, OK
    return out, reserve_collateral + amount_in, reserve_base - out, OK


def swaps(base_in: Any, amount_in: Any, reserve_collateral: Any, reserve_base: Any,
          fee_bps: Any, min_amount_out: Any = 0) -> Swap:  # fmt: skip
    """A sequence of swaps per pool: `base_in`, `amount_in` (and `min_amount_out`) of shape
    S + (N,), applied in order along the last axis; the reserves after each."""
    amount_in = np.asarray(amount_in)
    n = amount_in.shape[-1]
    b = np.broadcast_to(_b(base_in), amount_in.shape)
    lo = np.broadcast_to(np.asarray(min_amount_out, dtype=amount_in.dtype), amount_in.shape)
    rc, rb = reserve_collateral, reserve_base
    parts = []
    for k in range(n):
        s = swap(b[..., k], amount_in[..., k], rc, rb, fee_bps, lo[..., k])
        rc, rb = s.reserve_collateral, s.reserve_base
        parts.append(s)
    return Swap(*(np.stack([getattr(s, f) for s in parts], axis=-1)
                  for f in ("amount_out", "reserve_collateral", "reserve_base", "outcome")))  # fmt: skip


def spot_price(reserve_collateral: Any, reserve_base: Any) -> Any:
    """``spotPrice``: WAD USD per base unit, rounded down; 0 for an empty base reserve."""
    ok = reserve_base != 0
    return where(ok, floor_div(reserve_collateral * UNIT * WAD, safe(reserve_base, ok)), 0)


def add_liquidity(reserve_collateral: Any, reserve_base: Any, collateral_amount: Any,
                  base_amount: Any) -> tuple[Any, Any, Array]:  # fmt: skip
    """``addLiquidity``: (reserve collateral, reserve base, ok) after."""
    ok = np.ones(np.broadcast(np.asarray(reserve_collateral), np.asarray(collateral_amount)).shape,
                 dtype=bool)  # fmt: skip
    return reserve_collateral + collateral_amount, reserve_base + base_amount, ok


def remove_liquidity(reserve_collateral: Any, reserve_base: Any, collateral_amount: Any,
                     base_amount: Any) -> tuple[Any, Any, Array]:  # fmt: skip
    """``removeLiquidity``: (reserve collateral, reserve base, ok) after; a removal beyond
    either reserve reverts (not ok, reserves unchanged)."""
    ok = _b(collateral_amount <= reserve_collateral) & _b(base_amount <= reserve_base)
    return (
        where(ok, reserve_collateral - collateral_amount, reserve_collateral),
        where(ok, reserve_base - base_amount, reserve_base),
        ok,
    )
