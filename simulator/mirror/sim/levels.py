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
from simulator.mirror.fixed import UNIT, WAD
from simulator.mirror.sim import backstop
from simulator.mirror.sim.block_levels import AMM_LEVELS as _AMM_LEVELS
from simulator.mirror.sim.block_levels import AT as _AT
from simulator.mirror.sim.block_levels import ZERO_LEDGER as _ZERO_LEDGER
from simulator.mirror.sim.block_levels import level_floats as _level_floats
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
    (:func:`~simulator.mirror.sim.block_levels.level_floats`, the same IEEE divisions and sums as :func:`floats` of each, the
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
