"""The spot agents' rules per call in Python floats, as :mod:`simulator.agents.liquidity`
held them before the spot phase was compiled (session 27: :func:`simulator.engine.jit_spot.
plan_step` runs them for every market in one call): the reference its tests hold it to."""

from __future__ import annotations

import math
from dataclasses import dataclass

from simulator.agents.liquidity import HEDGE_DUST_FRACTION


@dataclass(frozen=True)
class Swap:
    """One AMM swap: ``amount_in`` of base (``base_in``) or of collateral (USD)."""

    base_in: bool
    amount_in: float


def swap_to_target(
    reserve_usd: float, reserve_base: float, fee: float, target_price_usd: float
) -> Swap | None:
    """The swap that moves a constant-product pool's price to ``target`` (``None`` inside the
    fee band). Price is ``reserve_usd / reserve_base``; the fee is taken from the input."""
    if reserve_usd <= 0 or reserve_base <= 0 or target_price_usd <= 0:
        return None
    price = reserve_usd / reserve_base
    # Inside the fee band (with a hair of float tolerance) there is nothing to gain.
    if abs(price / target_price_usd - 1.0) <= fee + 1e-12:
        return None
    k = reserve_usd * reserve_base
    if price > target_price_usd:  # too expensive: sell base into the pool
        swap = Swap(True, (math.sqrt(k / target_price_usd) - reserve_base) / (1.0 - fee))
    else:
        swap = Swap(False, (math.sqrt(k * target_price_usd) - reserve_usd) / (1.0 - fee))
    return swap if swap.amount_in > 0 else None


def arbitrage(
    reserve_usd: float,
    reserve_base: float,
    fee: float,
    target_price_usd: float,
    inventories: list[tuple[float, float]],
    max_trade_usd: float,
) -> list[Swap | None]:
    """Split the swap toward ``target`` over arbitrageurs, each within its limit.

    ``inventories`` holds each arbitrageur's (collateral USD, base units). Returns one entry per
    arbitrageur (``None``: no trade).
    """
    wanted = swap_to_target(reserve_usd, reserve_base, fee, target_price_usd)
    if wanted is None or not inventories:
        return [None] * len(inventories)
    price = reserve_usd / reserve_base
    share = wanted.amount_in / len(inventories)
    swaps: list[Swap | None] = []
    for usd, base in inventories:
        if wanted.base_in:
            amount = min(share, base, max_trade_usd / price)
        else:
            amount = min(share, usd, max_trade_usd)
        swaps.append(Swap(wanted.base_in, amount) if amount > 0 else None)
    return swaps


def hedge(
    net_open_interest_base: float,
    hedged_base: float,
    price_usd: float,
    inventory_usd: float,
    inventory_base: float,
) -> Swap | None:
    """The hedger's swap to hold ``net_open_interest_base`` of base (the traders' net long,
    which the pool is short), within its inventory. ``hedged_base`` is what it holds for it.
    A change below :data:`HEDGE_DUST_FRACTION` of the position is not traded (float noise of
    the open interest's bookkeeping, not a change of the book)."""
    delta = net_open_interest_base - hedged_base
    scale = max(abs(net_open_interest_base), abs(hedged_base))
    if abs(delta) <= HEDGE_DUST_FRACTION * scale:
        return None
    if delta < 0:  # the net long shrank: sell base
        amount = min(-delta, inventory_base)
        return Swap(True, amount) if amount > 0 else None
    if delta > 0:  # buy base with collateral
        amount = min(delta * price_usd, inventory_usd)
        return Swap(False, amount) if amount > 0 else None
    return None
