"""The market-making vault's quotes: how much it trades in every market this step (vectorized
over markets), from the crowd's net open interest, its own position, its inventory limits and
what the venue's skew fill pays.

The venue prices a fill with Synthetix's skew impact (``PerpMath.fillPrice``, read through
``PerpVenue.fillPrice``): a trade of ``d`` base units into a market of skew ``s`` (long OI
minus short OI, base units) and skew scale ``S`` (base units) fills at the average of the
premia before and after it,

    fill = P · (1 + (2·s + d) / (2·S)),

where ``P`` is the oracle price. A sell into a long skew therefore fills above the oracle, a
buy into a short skew below it: the crowd's skew is what pays a market maker for taking the
other side. The vault asks for at least its half-spread ``q`` (a fraction) over the oracle:
a sell pays when ``fill >= P·(1 + q)``, a buy when ``fill <= P·(1 − q)``, which bounds the size
of a trade of sign ``σ`` by

    |d| <= 2·(−σ·s − S·q),

(no trade when that is negative): the vault trades until the skew left is ``S·q``, where its
next unit would no longer pay. With no skew impact (``S = 0``) the fill is the oracle and pays
only a zero ``q``. The vault pays the venue's taker fee like every account (the venue has no
maker side): its cost, not part of the quote.

The target of market ``m`` is ``−participation × crowd net OI`` (the crowd: every account but
the vault, so the backstop vault's takeovers count), clipped to the inventory limit; a step
moves toward it by at most ``max_trade_usd``, by the quote's bound, and, where the trade adds
risk, by what the vault's free margin (equity less initial margin) carries at the market's
maximum leverage. A position above its limit (the price moved) is sold down toward the limit
whatever the quote pays: an inventory limit is a hard limit.

:func:`plan_trades` is the kernel, compiled (:func:`simulator.engine.mm_vault_jit.plan_trades`:
its vectorized numpy form element by element, the same floats to the bit; that form is the
reference of ``tests/agents/test_mm_vault_floats.py``); :func:`plan_trades_reference` is the
same rule market by market in plain Python, and the tests check that they agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulator.engine import mm_vault_jit

#: A trade below this notional is not worth a transaction (USD).
MIN_TRADE_USD = mm_vault_jit.MIN_TRADE_USD
#: Share of the quote's room left unused, so that float rounding never puts the venue's fill
#: (computed in WAD integers) just beyond the vault's price bound (fraction).
ROOM_SAFETY = mm_vault_jit.ROOM_SAFETY


@dataclass(frozen=True)
class VaultQuoteParams:
    """What the kernel needs of the scenario and the venue, per market (arrays of shape (M,))
    or one value for every market."""

    participation: float
    """Share of the crowd's net OI the vault offsets (fraction)."""
    limit_usd: np.ndarray
    """Inventory limit per market (USD notional)."""
    max_trade_usd: float
    """Largest notional traded per market per step (USD)."""
    quote_fraction: np.ndarray
    """``q``: the half-spread the fill must pay over the oracle, per market (fraction)."""
    skew_scale_base: np.ndarray
    """The venue's skew scale per market (base units; 0 = no skew impact)."""
    max_leverage: np.ndarray
    """Each market's maximum leverage (times): initial margin = notional / max leverage."""


def plan_trades(
    crowd_net_base: np.ndarray,
    vault_size_base: np.ndarray,
    skew_base: np.ndarray,
    price_usd: np.ndarray,
    free_margin_usd: float,
    p: VaultQuoteParams,
) -> tuple[np.ndarray, np.ndarray]:
    """The vault's signed trade per market this step (base units) and which of them are
    unwinds above the inventory limit (no price bound).

    Parameters
    ----------
    crowd_net_base : numpy.ndarray
        Net open interest of every account but the vault's, per market (base units).
    vault_size_base : numpy.ndarray
        The vault's signed position per market (base units).
    skew_base : numpy.ndarray
        The market's skew the trade fills against: long OI minus short OI, the vault's
        included (base units).
    price_usd : numpy.ndarray
        The oracle price of this step, per market (USD).
    free_margin_usd : float
        The vault's cross equity less its initial margin (USD); trades that add risk use at
        most this much initial margin in all.
    p : VaultQuoteParams

    Returns
    -------
    (trade_base, unwind) : tuple of numpy.ndarray
        Signed base units per market (0: no trade) and a bool per market, True for a trade
        that sells an over-limit position down (sent without a price bound).

    Examples
    --------
    >>> params = VaultQuoteParams(0.5, np.array([1e6]), 1e5, np.array([7e-4]),
    ...                           np.array([1e5]), np.array([40.0]))
    >>> trade, unwind = plan_trades(np.array([200.0]), np.zeros(1), np.array([200.0]),
    ...                             np.array([1e4]), 1e6, params)
    >>> float(trade[0]), bool(unwind[0])   # sells 10 base (its $100k max trade) into the longs
    (-10.0, False)
    """
    price = np.ascontiguousarray(price_usd, dtype=np.float64)
    if price.ndim != 1:
        raise ValueError(f"plan_trades takes one price per market (shape (M,)), not {price.shape}")
    n = len(price)
    trade, unwind = np.empty(n), np.empty(n)
    mm_vault_jit.plan_trades(
        _per_market(crowd_net_base, n), _per_market(vault_size_base, n),
        _per_market(skew_base, n), price, float(free_margin_usd), float(p.participation),
        float(p.max_trade_usd), packed_consts(p, n), trade, unwind,
    )  # fmt: skip
    return trade, unwind.astype(bool)


def packed_consts(p: VaultQuoteParams, n: int) -> np.ndarray:
    """``p``'s per-market arrays (or one value for all ``n`` markets) as the compiled kernel
    reads them: the rows ``LIMIT``, ``QUOTE``, ``SCALE``, ``LEVERAGE`` of one float64 array of
    shape (4, n) (:mod:`simulator.engine.mm_vault_jit`)."""
    consts = np.empty((4, n))
    consts[mm_vault_jit.LIMIT] = p.limit_usd
    consts[mm_vault_jit.QUOTE] = p.quote_fraction
    consts[mm_vault_jit.SCALE] = p.skew_scale_base
    consts[mm_vault_jit.LEVERAGE] = p.max_leverage
    return consts


def _per_market(x, n: int) -> np.ndarray:
    """``x`` (one value or one per market) as ``n`` contiguous float64 values."""
    a = np.asarray(x, dtype=np.float64)
    return np.ascontiguousarray(a if a.shape == (n,) else np.broadcast_to(a, (n,)))


def plan_trades_reference(
    crowd_net_base, vault_size_base, skew_base, price_usd, free_margin_usd, p: VaultQuoteParams
) -> tuple[list[float], list[bool]]:
    """:func:`plan_trades` market by market in plain Python (the reference the tests compare
    the kernel with)."""
    n = len(price_usd)

    def at(x, m):
        return float(np.broadcast_to(np.asarray(x, dtype=np.float64), (n,))[m])

    trades, unwinds, added = [], [], []
    for m in range(n):
        price, size = float(price_usd[m]), float(vault_size_base[m])
        limit = at(p.limit_usd, m) / price
        step = p.max_trade_usd / price
        target = max(-limit, min(limit, -p.participation * float(crowd_net_base[m])))
        want = max(-step, min(step, target - size))
        if abs(size) > limit:
            trade = max(-step, min(step, math.copysign(limit, size) - size))
            unwind = True
        else:
            unwind = False
            sign = (want > 0) - (want < 0)
            scale, q = at(p.skew_scale_base, m), at(p.quote_fraction, m)
            if scale > 0:
                room = max(0.0, 2.0 * (-sign * float(skew_base[m]) - scale * q))
                room *= 1.0 - ROOM_SAFETY
            else:
                room = math.inf if q <= 0 else 0.0
            trade = sign * min(abs(want), room)
        trades.append(trade)
        unwinds.append(unwind)
        added.append(max(0.0, abs(size + trade) - abs(size)) * price)
    need = sum(a / at(p.max_leverage, m) for m, a in enumerate(added))
    if need > 0:
        k = min(1.0, max(0.0, free_margin_usd) / need)
        for m in range(n):
            if added[m] > 0:
                price, sign = float(price_usd[m]), math.copysign(1.0, trades[m])
                trades[m] = trades[m] - sign * added[m] / price + sign * k * added[m] / price
    for m in range(n):
        if abs(trades[m]) * float(price_usd[m]) < MIN_TRADE_USD:
            trades[m], unwinds[m] = 0.0, False
    return trades, unwinds
