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

:func:`plan_trades` is the kernel; :func:`plan_trades_reference` is the same rule market by
market in plain Python, and the tests check that they agree. On up to
:data:`FLOAT_MARKETS_MAX` markets the kernel itself runs market by market in Python floats
(numpy's per-call cost dominates on a handful of elements), with numpy's semantics and order
of operations, equal bit for bit to its vectorized form (``tests/agents/test_mm_vault_floats.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: A trade below this notional is not worth a transaction (USD).
MIN_TRADE_USD = 100.0
#: Share of the quote's room left unused, so that float rounding never puts the venue's fill
#: (computed in WAD integers) just beyond the vault's price bound (fraction).
ROOM_SAFETY = 1e-6


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
    crowd = np.asarray(crowd_net_base, dtype=np.float64)
    size = np.asarray(vault_size_base, dtype=np.float64)
    skew = np.asarray(skew_base, dtype=np.float64)
    price = np.asarray(price_usd, dtype=np.float64)
    if price.ndim == 1 and len(price) <= FLOAT_MARKETS_MAX:
        return _plan_trades_floats(crowd, size, skew, price, free_margin_usd, p)
    return _plan_trades_arrays(crowd, size, skew, price, free_margin_usd, p)


def _plan_trades_arrays(
    crowd: np.ndarray, size: np.ndarray, skew: np.ndarray, price: np.ndarray,
    free_margin_usd: float, p: VaultQuoteParams,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """:func:`plan_trades` vectorized over markets (float64 arrays of shape (M,))."""
    limit_base = np.asarray(p.limit_usd, dtype=np.float64) / price
    step_base = p.max_trade_usd / price

    # The target, within the inventory limit; at most one step's trade toward it.
    target = np.clip(-p.participation * crowd, -limit_base, limit_base)
    want = np.clip(target - size, -step_base, step_base)
    sign = np.sign(want)

    # The quote: the average fill of the trade must pay q over the oracle.
    scale = np.asarray(p.skew_scale_base, dtype=np.float64)
    q = np.broadcast_to(np.asarray(p.quote_fraction, dtype=np.float64), price.shape)
    room = np.where(
        scale > 0,
        np.maximum(0.0, 2.0 * (-sign * skew - scale * q)) * (1.0 - ROOM_SAFETY),
        np.where(q <= 0, np.inf, 0.0),
    )
    quoted = sign * np.minimum(np.abs(want), room)

    # Over the limit (a price move): sell down toward it, whatever the quote pays.
    over = np.abs(size) > limit_base
    unwind_target = np.sign(size) * limit_base
    unwind = np.clip(unwind_target - size, -step_base, step_base)
    trade = np.where(over, unwind, quoted)

    # Trades that add risk share the free margin (initial margin = notional / max leverage).
    added_usd = np.maximum(0.0, np.abs(size + trade) - np.abs(size)) * price
    need_usd = added_usd / np.asarray(p.max_leverage, dtype=np.float64)
    total_need = float(need_usd.sum())
    if total_need > 0:
        k = min(1.0, max(0.0, free_margin_usd) / total_need)
        adds = added_usd > 0
        # Scale only the part of a trade that adds risk (a flip keeps its closing part).
        closing = np.where(adds, trade - np.sign(trade) * added_usd / price, 0.0)
        trade = np.where(adds, closing + np.sign(trade) * k * added_usd / price, trade)

    small = np.abs(trade) * price < MIN_TRADE_USD
    trade = np.where(small, 0.0, trade)
    return trade, over & ~small


#: Up to this many markets :func:`plan_trades` runs market by market in Python floats
#: (:func:`_plan_trades_floats`): numpy's per-call cost dominates on a few elements, and its
#: sum of fewer than eight floats adds them in order, as Python's ``sum`` does.
FLOAT_MARKETS_MAX = 7


def _np_max(a: float, b: float) -> float:
    """``np.maximum`` of two floats (NaN from either side propagates)."""
    return a if (a >= b or a != a) else b


def _np_min(a: float, b: float) -> float:
    """``np.minimum`` of two floats (NaN from either side propagates)."""
    return a if (a <= b or a != a) else b


def _np_clip(x: float, lo: float, hi: float) -> float:
    """``np.clip`` of a float: ``min(max(x, lo), hi)`` with NaN propagating, as numpy's clip
    loop computes it."""
    v = x if (x != x or x > lo) else lo
    return v if (v != v or v < hi) else hi


def _np_sign(x: float) -> float:
    """``np.sign`` of a float (0.0 for either zero, NaN for NaN)."""
    return 1.0 if x > 0 else -1.0 if x < 0 else 0.0 if x == 0 else x


def _per_market(x, n: int) -> list[float]:
    """``x`` (one value or one per market) as ``n`` Python floats."""
    a = np.asarray(x, dtype=np.float64)
    return a.tolist() if a.shape == (n,) else np.broadcast_to(a, (n,)).tolist()


def _plan_trades_floats(
    crowd: np.ndarray, size: np.ndarray, skew: np.ndarray, price: np.ndarray,
    free_margin_usd: float, p: VaultQuoteParams,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """:func:`plan_trades` market by market in Python floats: numpy's operations on each
    element, in the same order, with numpy's semantics for ``clip``, ``sign``, ``maximum``
    and ``minimum`` (``tests/agents/test_mm_vault_floats.py`` holds it to the vectorized
    formulation bit for bit)."""
    n = len(price)
    limit_usd, scale = _per_market(p.limit_usd, n), _per_market(p.skew_scale_base, n)
    quote, max_leverage = _per_market(p.quote_fraction, n), _per_market(p.max_leverage, n)
    prices, sizes = price.tolist(), size.tolist()
    trades, overs, added = [], [], []
    for m, (c, sz, sk, pr) in enumerate(
        zip(crowd.tolist(), sizes, skew.tolist(), prices, strict=True)
    ):
        limit_base = limit_usd[m] / pr
        step_base = p.max_trade_usd / pr
        target = _np_clip(-p.participation * c, -limit_base, limit_base)
        want = _np_clip(target - sz, -step_base, step_base)
        sign = _np_sign(want)
        q = quote[m]
        if scale[m] > 0:
            room = _np_max(0.0, 2.0 * (-sign * sk - scale[m] * q)) * (1.0 - ROOM_SAFETY)
        else:
            room = math.inf if q <= 0 else 0.0
        over = abs(sz) > limit_base
        if over:
            trade = _np_clip(_np_sign(sz) * limit_base - sz, -step_base, step_base)
        else:
            trade = sign * _np_min(abs(want), room)
        trades.append(trade)
        overs.append(over)
        added.append(_np_max(0.0, abs(sz + trade) - abs(sz)) * pr)
    total_need = sum(a / lev for a, lev in zip(added, max_leverage, strict=True))
    if total_need > 0:
        k = min(1.0, max(0.0, free_margin_usd) / total_need)
        for m in range(n):
            if added[m] > 0:
                trade, pr = trades[m], prices[m]
                closing = trade - _np_sign(trade) * added[m] / pr
                trades[m] = closing + _np_sign(trade) * k * added[m] / pr
    unwinds = []
    for m in range(n):
        small = abs(trades[m]) * prices[m] < MIN_TRADE_USD
        if small:
            trades[m] = 0.0
        unwinds.append(overs[m] and not small)
    return np.array(trades, dtype=np.float64), np.array(unwinds, dtype=bool)


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
