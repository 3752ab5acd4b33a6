"""The spot side's kernels (numba): the spot phase's plan, every market's arbitrageurs, hedger and
outside-market impact in one dispatch a step (:func:`plan_step`); the open interest its
estimated inputs hold after the traders' closes (:func:`oi_after_closes`); the spot agents'
inventories moved by their executed swaps (:func:`apply_fills`); and phase 1d's markets whose
LPs withdraw (:func:`lp_fallen`).

:func:`plan_step` is :func:`simulator.engine.spot.plan_spot`'s float code before session 27
(the agents' ``arbitrage`` and ``hedge``, now ``tests/agents/liquidity_reference.py``, the
constant-product reserves after each arbitrage, the impact's ``carry_metaorder`` per market,
now ``tests/prices/impact_reference.py``; ``tests/engine/test_spot_kernel.py`` keeps that code), term by
term and in the same order, so that the floats are the same to the bit (no ``fastmath``):
Python's ``min`` / ``max`` written out (the first of equals, NaN as Python compares it),
numpy's sign and division by a zero volume in the impact law, and Python's errors where
Python raised them (a division by zero, ``math.exp`` out of range, ``math.sqrt`` of a
negative). It draws nothing. The integers the swaps send (rounded to the token's decimals,
:func:`simulator.engine.spot.swap_amount`) and the pools' exact constant-product math
(reserves of 1e26 base-token units times amounts overflow 64 bits, and 128) are the chain's on
chain, and on the mirror :mod:`simulator.mirror.jit_amm`'s (digits of 30 bits).

One module on purpose: numba's on-disk cache is invalidated by an edit of the file of the
function it compiled only, not of another module's functions it calls.
"""

from __future__ import annotations

import math

from simulator.jit import kernel as _jit

# -- a planned swap: the columns of plan_step's ``out`` ----------------------------------------
SWAP_COLUMNS = ("market", "who", "base_in", "amount_in", "capped")
"""Per planned swap (float64): the market, the arbitrageur's index (-1: the hedger), 1 when it
sells base, the amount in (base units, or USD), 1 when the hedger's inventory capped it (the
amount is the inventory's float, a numpy scalar in the code before the kernel, whose rounding
to the token's decimals is numpy's: :func:`simulator.engine.spot.swap_amount`)."""
W_MARKET, W_WHO, W_BASE_IN, W_AMOUNT, W_CAPPED = range(5)
HEDGER = -1
"""``who`` of the hedger's swap."""

# -- the step's constants: the entries of plan_step's ``scalars`` ------------------------------
SCALARS = ("max_trade_usd", "decay", "decay_squared", "impact_y", "persistent_share",
           "transient_share", "hedge_ratio", "hedge_dust_fraction")  # fmt: skip
(K_MAX_TRADE_USD, K_DECAY, K_DECAY_SQUARED, K_IMPACT_Y, K_PERSISTENT, K_TRANSIENT, K_HEDGE_RATIO,
 K_DUST) = range(8)  # fmt: skip
MARKET_PARAMS = ("fee", "sigma_daily", "volume_daily_usd")
"""The columns of plan_step's ``params`` (M, 3): the AMM's fee (fraction), the outside
market's daily volatility (fraction) and volume (USD)."""
P_FEE, P_SIGMA, P_VOLUME = range(3)


@_jit
def _exp(x):
    """``math.exp`` raising as Python's does when the result overflows."""
    e = math.exp(x)
    if e == math.inf and x != math.inf and x == x:
        raise OverflowError("math range error")
    return e


@_jit
def _sqrt(x):
    """``math.sqrt`` raising as Python's does on a negative argument."""
    if x < 0:
        raise ValueError("math domain error")
    return math.sqrt(x)


@_jit
def _min(a, b):
    """Python's ``min(a, b)``: ``b`` only when ``b < a``."""
    return b if b < a else a


@_jit
def _to_target(reserve_usd, reserve_base, fee, target):
    """The agents' ``swap_to_target`` (``tests/agents/liquidity_reference.py``): ``(base_in,
    amount_in)``, the
    amount NaN where it returns ``None``."""
    if reserve_usd <= 0 or reserve_base <= 0 or target <= 0:
        return False, math.nan
    price = reserve_usd / reserve_base
    if abs(price / target - 1.0) <= fee + 1e-12:
        return False, math.nan
    k = reserve_usd * reserve_base
    if price > target:
        amount = (_sqrt(k / target) - reserve_base) / (1.0 - fee)
        base_in = True
    else:
        amount = (_sqrt(k * target) - reserve_usd) / (1.0 - fee)
        base_in = False
    if amount > 0:
        return base_in, amount
    return False, math.nan


@_jit
def _impact(q, y, sigma, volume):
    """:func:`~simulator.prices.impact.sqrt_impact_log` of one market: numpy's sign
    (``-0.0`` at 0, NaN for NaN) and numpy's division by a zero volume."""
    if q > 0:
        neg_sign = -1.0
    elif q < 0:
        neg_sign = 1.0
    elif q == 0:
        neg_sign = -0.0
    else:
        neg_sign = q
    size = abs(q)
    if volume != 0:
        ratio = size / volume
    elif size != size or size == 0:
        ratio = math.nan
    else:
        ratio = math.copysign(math.inf, volume)
    return neg_sign * y * sigma * _sqrt(ratio)


@_jit
def _record(out, count, market, who, base_in, amount, capped):
    out[count, W_MARKET] = market
    out[count, W_WHO] = who
    out[count, W_BASE_IN] = 1.0 if base_in else 0.0
    out[count, W_AMOUNT] = amount
    out[count, W_CAPPED] = 1.0 if capped else 0.0
    return count + 1


@_jit
def plan_step(reserve_usd, reserve_base, oi_long, oi_short, hedged, hedger_inventory,
              arb_inventory, exogenous_usd, t, permanent, transient, metaorder, params,
              scalars, impact_out, out):  # fmt: skip
    """The spot phase's swaps of step ``t`` and the outside market's impact carried to the
    next step.

    Per market (M): the pool's reserves (USD, base units), the long and short open interest
    (base units), the hedged base (base units), the hedger's (USD, base) ``hedger_inventory``
    (M, 2); ``arb_inventory`` (N, M, 2) every arbitrageur's; ``exogenous_usd`` (T, M) the
    outside paths (USD); the log impacts in effect (``permanent``, ``transient``, log-price
    units) and the remembered sale ``metaorder`` (USD); ``params`` (M, 3)
    (:data:`MARKET_PARAMS`), ``scalars`` (:data:`SCALARS`).

    Writes the impacts in effect at the next step to ``impact_out`` (3, M): permanent,
    transient, metaorder (the metaorder form of :mod:`simulator.prices.impact`), and the swaps in
    the block's order to ``out`` (at least M·(N+1) rows, :data:`SWAP_COLUMNS`): per market,
    the arbitrageurs' split of the swap toward the next step's outside price (none on the
    last step), then the hedger's. Returns the swaps' count."""
    n_markets = reserve_usd.shape[0]
    n_arbs = arb_inventory.shape[0]
    arbitrage = n_arbs > 0 and t < exogenous_usd.shape[0] - 1
    max_trade_usd = scalars[K_MAX_TRADE_USD]
    decay = scalars[K_DECAY]
    count = 0
    for m in range(n_markets):
        fee = params[m, P_FEE]
        r_usd = reserve_usd[m]
        r_base = reserve_base[m]
        if arbitrage:
            target = exogenous_usd[t + 1, m] * _exp(permanent[m] + transient[m] * decay)
            base_in, wanted = _to_target(r_usd, r_base, fee, target)
            if wanted == wanted:
                price = r_usd / r_base
                share = wanted / n_arbs
                for n in range(n_arbs):
                    if base_in:
                        amount = _min(_min(share, arb_inventory[n, m, 1]), max_trade_usd / price)
                    else:
                        amount = _min(_min(share, arb_inventory[n, m, 0]), max_trade_usd)
                    if amount > 0:
                        count = _record(out, count, m, n, base_in, amount, False)
                        k = r_usd * r_base
                        if base_in:
                            new_base = r_base + amount * (1.0 - fee)
                            r_usd, r_base = k / new_base, r_base + amount
                        else:
                            new_usd = r_usd + amount * (1.0 - fee)
                            r_usd, r_base = r_usd + amount, k / new_usd
        price = r_usd / r_base
        # The hedger (the agents' ``hedge``, :mod:`simulator.agents.liquidity`).
        net = (oi_long[m] - oi_short[m]) * scalars[K_HEDGE_RATIO]
        held = hedged[m]
        delta = net - held
        scale = abs(net)
        if abs(held) > scale:
            scale = abs(held)
        sale = 0.0
        if not abs(delta) <= scalars[K_DUST] * scale:
            amount = math.nan
            if delta < 0:
                base_in = True
                wanted = -delta
                inventory = hedger_inventory[m, 1]
            else:
                base_in = False
                wanted = delta * price
                inventory = hedger_inventory[m, 0]
            if delta < 0 or delta > 0:
                capped = inventory < wanted
                amount = inventory if capped else wanted
                if amount > 0:
                    count = _record(out, count, m, HEDGER, base_in, amount, capped)
                    sale = amount * price if base_in else -amount
        # The metaorder's carry (:mod:`simulator.prices.impact`).
        y, sigma, volume = scalars[K_IMPACT_Y], params[m, P_SIGMA], params[m, P_VOLUME]
        kept = metaorder[m] * scalars[K_DECAY_SQUARED]
        total = kept + sale
        before = _impact(kept, y, sigma, volume)
        after = _impact(total, y, sigma, volume)
        impact_out[0, m] = permanent[m] + scalars[K_PERSISTENT] * (after - before)
        impact_out[1, m] = scalars[K_TRANSIENT] * after
        impact_out[2, m] = total
    return count


@_jit
def oi_after_closes(market, size, side, closes, long_before, short_before, out):
    """Per market, the open interest (base units) ``long_before`` / ``short_before`` less the
    sizes of the rows ``closes`` (row indices) on that side, to ``out`` (2, M): long, short.
    The sums are ``np.bincount(market[closes], weights=size[closes] * (side[closes] > 0))``
    and its short twin's, in the same order (every row adds to both, times 1 or 0, as the
    weights do)."""
    n_markets = out.shape[1]
    for m in range(n_markets):
        out[0, m] = 0.0
        out[1, m] = 0.0
    for i in range(closes.shape[0]):
        row = closes[i]
        m = market[row]
        out[0, m] += size[row] * (1.0 if side[row] > 0 else 0.0)
        out[1, m] += size[row] * (1.0 if side[row] < 0 else 0.0)
    for m in range(n_markets):
        out[0, m] = long_before[m] - out[0, m]
        out[1, m] = short_before[m] - out[1, m]


@_jit
def apply_fills(fills, hedged, hedger_inventory, arb_inventory):
    """Move the inventories by the executed swaps ``fills`` (F, 4): market, who
    (:data:`HEDGER` or the arbitrageur's index), the USD and the base the agent received
    (negative: paid), added in order (:func:`simulator.engine.events.update_inventories`)."""
    for i in range(fills.shape[0]):
        m = int(fills[i, 0])
        who = int(fills[i, 1])
        d_usd = fills[i, 2]
        d_base = fills[i, 3]
        if who == HEDGER:
            hedger_inventory[m, 0] += d_usd
            hedger_inventory[m, 1] += d_base
            hedged[m] += d_base
        else:
            arb_inventory[who, m, 0] += d_usd
            arb_inventory[who, m, 1] += d_base


@_jit
def lp_fallen(oracle_price_usd, peak_price_usd, withdrew, keep_fraction, out):
    """The markets (ascending, to ``out``; returns their count) whose LPs have not withdrawn
    and whose oracle price has fallen to ``keep_fraction`` of its running peak or below:
    ``np.flatnonzero(~withdrew & (oracle <= peak * keep_fraction))``
    (:func:`simulator.engine.lps.plan_lp_withdrawals`, phase 1d)."""
    count = 0
    for m in range(oracle_price_usd.shape[0]):
        if not withdrew[m] and oracle_price_usd[m] <= peak_price_usd[m] * keep_fraction:
            out[count] = m
            count += 1
    return count


__all__ = [
    "HEDGER",
    "MARKET_PARAMS",
    "SCALARS",
    "SWAP_COLUMNS",
    "apply_fills",
    "lp_fallen",
    "oi_after_closes",
    "plan_step",
]
