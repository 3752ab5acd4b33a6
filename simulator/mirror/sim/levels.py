"""What the chain engine reads of the venue, computed from the mirror's state: the levels
after a block (:func:`levels_of`, the dict of :mod:`simulator.engine.levels`) and the health
of margin units (:func:`unit_health`, what :meth:`simulator.engine.margin.MarginUnits.
parse_health` gives of ``healthOf`` / ``isolatedHealth``).

WAD values become floats exactly as the chain engine converts the integers it reads
(``from_wad`` of an integer, ``from_wad_array`` of a list, ``from_units`` of the fund's
balance), so that in exact mode the agents see the very floats they see on chain. What the
mirror does not model reads as the chain reads it without that part: the spot AMMs' reserves and
price are NaN here (the loop fills them from :class:`~simulator.mirror.sim.spot.SpotBook`); the
backstop vault's levels are :func:`simulator.mirror.sim.backstop.levels`.
"""

from __future__ import annotations

from itertools import repeat
from typing import Any

import numpy as np

from simulator.engine.context import Context
from simulator.jit import kernel as _jit
from simulator.mirror.fixed import UNIT, WAD
from simulator.mirror.sim import backstop, jit_calls
from simulator.mirror.sim.venue import VenueState
from simulator.units import from_units, from_wad_array


def to_float(x: Any) -> float:
    """A WAD value as ``from_wad`` of the chain's integer (``int / 10**18``, correctly rounded;
    inlined: it runs for every value of every event row) or, a float in fast mode, ``/ 1e18``
    (10**18 is a float exactly: the same division as by the integer)."""
    return x / WAD if isinstance(x, int) else float(x) / 1e18


def floats(values: Any) -> np.ndarray:
    """WAD values as ``from_wad`` of each (per market arrays). A float64 array (fast mode)
    is divided as a whole: ``float(x) / WAD`` element by element is the same IEEE division
    (10**18 is a float exactly); Python ints (exact mode) go through ``from_wad``, the
    correctly rounded ``int / int``."""
    if type(values) is np.ndarray and values.dtype == np.float64:
        return values / WAD
    return np.array([to_float(v) for v in values], dtype=np.float64)


def wad_array(values: Any) -> np.ndarray:
    """WAD values as ``from_wad_array`` of a list of the chain's integers (a float64 array:
    the same floats without the list)."""
    if type(values) is np.ndarray and values.dtype == np.float64:
        return values / WAD
    return from_wad_array(list(values))


def levels_of(venue: VenueState, amm: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """The levels dict the chain engine parses after a block (:class:`~simulator.engine.levels.
    Levels`), at the venue's current block time. ``amm``: the spot AMMs' levels
    (``amm_reserve_usd``, ``amm_reserve_base``, ``amm_price_usd``,
    :meth:`~simulator.mirror.sim.spot.SpotBook.levels`); NaN without them.

    Fast mode converts the per-market floats and prices the mark in one compiled call
    (:func:`_level_floats`, the same IEEE divisions and sums as :func:`floats` of each, the
    mark's formula as :meth:`~simulator.mirror.sim.venue.VenueState.mark`'s); exact mode
    converts each value from the chain's integer (:func:`floats`)."""
    f = venue.funding()
    m = venue.n_markets
    ledger_zero = False
    if venue.exact_mode:
        rate = floats(f.funding_rate_per_day)
        index, oi_long, oi_short = (
            floats(venue.price),
            floats(venue.long_oi),
            floats(venue.short_oi),
        )
        per_hour, scale = rate / 24, floats(venue.markets.margin_scale)
        bad_debt = floats(  # outstanding and final, as the chain engine reads it
            venue.bad_debt_longs
            + venue.bad_debt_shorts
            + venue.final_bad_debt[:, 0]
            + venue.final_bad_debt[:, 1]
        )  # fmt: skip
        fees, socialized = floats(venue.fees + venue.penalties), floats(venue.socialized)
        fund_units = int(venue.fund) // UNIT
        mark = floats(venue.mark())
    else:
        table, ledger_zero = _level_floats(
            venue._market_floats, _AT, f.funding_rate_per_day, venue.markets.margin_scale,
            venue.jit_buffers()[0], venue.bad_debt_longs, venue.bad_debt_shorts,
            venue.final_bad_debt, venue.socialized, venue.adl_contracts,
        )  # fmt: skip
        (index, oi_long, oi_short, per_hour, rate, scale, bad_debt, fees, socialized,
         mark) = table  # fmt: skip
        fund_units = float(venue.fund) / UNIT
    if amm is None:
        amm = {name: np.full(m, np.nan) for name in _AMM_LEVELS}
    return {
        "index_usd": index,
        "oi_long_base": oi_long,
        "oi_short_base": oi_short,
        "funding_rate_per_hour": per_hour,  # the same division as element by element
        "funding_rate_per_day": rate,
        "margin_scale": scale,
        "amm_reserve_usd": amm["amm_reserve_usd"],
        "amm_reserve_base": amm["amm_reserve_base"],
        "amm_price_usd": amm["amm_price_usd"],
        "bad_debt_usd": bad_debt,
        "fees_cum_usd": fees,
        "socialized_cum_usd": socialized,
        "mark_usd": mark,
        "insurance_fund_usd": from_units(fund_units),
        "vault_assets_usd": 0.0,
        "vault_supply": 0,
        "vault_size_wad": np.zeros(m, dtype=object),
        "mm_vault_size_base": np.zeros(m),
        "mm_vault_equity_usd": np.nan,
        # every ledger 0 (as most blocks): the integers ``ledgers`` reads, without reading them
        "ledgers": list(map(dict, repeat(_ZERO_LEDGER, m))) if ledger_zero else venue.ledgers(),
        "extra": [],
        **(backstop.levels(venue) if venue.backstop is not None else {}),
    }


#: A market's ledger (:meth:`~simulator.mirror.sim.venue.VenueState.ledgers`) when all of its
#: fields are 0.
_ZERO_LEDGER = {"badDebtLongs": 0, "badDebtShorts": 0, "adlContractsLongs": 0,
                "adlContractsShorts": 0, "finalBadDebtLongs": 0, "finalBadDebtShorts": 0}  # fmt: skip

#: The spot AMMs' levels (:meth:`~simulator.mirror.sim.spot.SpotBook.levels`).
_AMM_LEVELS = ("amm_reserve_usd", "amm_reserve_base", "amm_price_usd")


#: Where :func:`_level_floats` reads the venue's packed arrays: the rows of the market floats
#: (:data:`~simulator.mirror.sim.jit_calls.MARKET_FLOATS`: price, long and short open interest,
#: fees, penalties), then the column of the packed parameters with the skew scale. Passed to
#: the kernel (not read as globals, which numba would freeze into its cache).
_AT = np.array([jit_calls.F_PRICE, jit_calls.F_LONG_OI, jit_calls.F_SHORT_OI, jit_calls.F_FEES,
                jit_calls.F_PENALTIES, jit_calls.P_SKEW_SCALE], dtype=np.int64)  # fmt: skip


@_jit
def _level_floats(market_floats, at, rate, scale, params, bad_debt_longs, bad_debt_shorts,
                  final_bad_debt, socialized, adl_contracts):  # fmt: skip
    """Fast mode's per-market levels from the venue's WAD floats: the packed market floats
    (rows ``at[:5]``: price, long and short open interest, fees, penalties), the funding rate
    per day, the margin scale, the packed parameters (column ``at[5]``: the skew scale), the
    bad debts (``final_bad_debt`` (M, 2)) and the socialized loss. Rows of one (10, M) array:
    index, open interest long and short, funding rate per hour and per day, margin scale, bad
    debt (outstanding and final), fees (with penalties), the socialized loss, each ``/ 1e18``
    as :func:`floats` divides (the rate per hour the rate per day ``/ 24``, the sums in
    :func:`levels_of`'s exact-mode order), and the mark: ``fillPrice(market, 0)`` as
    :meth:`~simulator.mirror.sim.venue.VenueState.mark` prices it
    (:func:`simulator.mirror.sim.scalar.fill_price` of the skew, a delta of 0), ``/ 1e18``.
    With it, whether every market's ledger fields (the bad debts, outstanding and final, and
    the contracts queued for ADL, ``adl_contracts`` (M, 2)) are 0 (what
    :meth:`~simulator.mirror.sim.venue.VenueState.ledgers` reads)."""
    m = rate.shape[0]
    out = np.empty((10, m))
    ledger_zero = True
    for j in range(m):
        if (bad_debt_longs[j] != 0 or bad_debt_shorts[j] != 0 or final_bad_debt[j, 0] != 0
                or final_bad_debt[j, 1] != 0 or adl_contracts[j, 0] != 0
                or adl_contracts[j, 1] != 0):  # fmt: skip
            ledger_zero = False
        price = market_floats[at[0], j]
        long_oi = market_floats[at[1], j]
        short_oi = market_floats[at[2], j]
        out[0, j] = price / 1e18
        out[1, j] = long_oi / 1e18
        out[2, j] = short_oi / 1e18
        per_day = rate[j] / 1e18
        out[3, j] = per_day / 24.0
        out[4, j] = per_day
        out[5, j] = scale[j] / 1e18
        debt = bad_debt_longs[j] + bad_debt_shorts[j] + final_bad_debt[j, 0] + final_bad_debt[j, 1]
        out[6, j] = debt / 1e18
        out[7, j] = (market_floats[at[3], j] + market_floats[at[4], j]) / 1e18
        out[8, j] = socialized[j] / 1e18
        skew_scale = params[j, at[5]]
        mark = price
        if skew_scale != 0:
            fill = price + (2.0 * (long_oi - short_oi) + 0.0) * price / (2.0 * skew_scale)
            mark = fill if fill > 0 else 0.0
        out[9, j] = mark / 1e18
    return out, ledger_zero


def unit_health(
    ctx: Context, venue: VenueState, units: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(equity, maintenance) of margin ``units`` at the venue's current state (USD, in
    ``units`` order): cross accounts by ``healthOf``, isolated positions by
    ``isolatedHealth``, converted as the chain engine parses them."""
    if units.__class__ is not np.ndarray or units.dtype != _I64:
        units = np.asarray(units, dtype=np.int64)
    mu = ctx.units
    iso = mu.isolated[units]
    f = venue.funding()
    # cross accounts only (most reads), in order; ``True in iso``: ``iso.any()`` in C alone
    if units.shape[0] and True not in iso:
        eq, mm, _ = venue.cross_health(mu.account[units], f, initial=False)
        if eq.__class__ is np.ndarray and eq.dtype == _F64 and mm.dtype == _F64:
            return eq / WAD, mm / WAD  # wad_array of float64 arrays (fast mode), inlined
        return wad_array(eq), wad_array(mm)
    n_iso = int(np.count_nonzero(iso))
    if len(units) and n_iso == len(units):  # isolated positions only
        eq, mm = venue.isolated_health(mu.account[units], mu.market[units], f)
        return wad_array(eq), wad_array(mm)
    equity = np.zeros(len(units))
    maintenance = np.zeros(len(units))
    cross = units[~iso]
    if len(cross):
        eq, mm, _ = venue.cross_health(mu.account[cross], f, initial=False)
        equity[~iso], maintenance[~iso] = wad_array(eq), wad_array(mm)
    if iso.any():
        u = units[iso]
        eq, mm = venue.isolated_health(mu.account[u], mu.market[u], f)
        equity[iso], maintenance[iso] = wad_array(eq), wad_array(mm)
    return equity, maintenance


_I64 = np.dtype(np.int64)
_F64 = np.dtype(np.float64)
