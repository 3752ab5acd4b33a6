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

from typing import Any

import numpy as np

from simulator.engine.context import Context
from simulator.mirror.fixed import UNIT, WAD
from simulator.mirror.sim import backstop
from simulator.mirror.sim.venue import VenueState
from simulator.units import from_units, from_wad, from_wad_array


def to_float(x: Any) -> float:
    """A WAD value as ``from_wad`` of the chain's integer (a float in fast mode: / 1e18)."""
    return from_wad(x) if isinstance(x, int) else float(x) / WAD


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


def levels_of(venue: VenueState) -> dict[str, Any]:
    """The levels dict the chain engine parses after a block (:class:`~simulator.engine.levels.
    Levels`), at the venue's current block time."""
    f = venue.funding()
    m = venue.n_markets
    rate = floats(f.funding_rate_per_day)
    fund_units = int(venue.fund) // UNIT if venue.exact_mode else float(venue.fund) / UNIT
    return {
        "index_usd": floats(venue.price),
        "oi_long_base": floats(venue.long_oi),
        "oi_short_base": floats(venue.short_oi),
        "funding_rate_per_hour": rate / 24,  # the same division as element by element
        "funding_rate_per_day": rate,
        "margin_scale": floats(venue.markets.margin_scale),
        "amm_reserve_usd": np.full(m, np.nan),
        "amm_reserve_base": np.full(m, np.nan),
        "amm_price_usd": np.full(m, np.nan),
        "bad_debt_usd": floats(  # outstanding and final, as the chain engine reads it
            venue.bad_debt_longs
            + venue.bad_debt_shorts
            + venue.final_bad_debt[:, 0]
            + venue.final_bad_debt[:, 1]
        ),  # fmt: skip
        "fees_cum_usd": floats(venue.fees + venue.penalties),
        "socialized_cum_usd": floats(venue.socialized),
        "mark_usd": floats(venue.mark()),
        "insurance_fund_usd": from_units(fund_units),
        "vault_assets_usd": 0.0,
        "vault_supply": 0,
        "vault_size_wad": np.zeros(m, dtype=object),
        "mm_vault_size_base": np.zeros(m),
        "mm_vault_equity_usd": np.nan,
        "ledgers": venue.ledgers(),
        "extra": [],
        **(backstop.levels(venue) if venue.backstop is not None else {}),
    }


def unit_health(
    ctx: Context, venue: VenueState, units: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(equity, maintenance) of margin ``units`` at the venue's current state (USD, in
    ``units`` order): cross accounts by ``healthOf``, isolated positions by
    ``isolatedHealth``, converted as the chain engine parses them."""
    units = np.asarray(units, dtype=np.int64)
    mu = ctx.units
    iso = mu.isolated[units]
    equity = np.zeros(len(units))
    maintenance = np.zeros(len(units))
    f = venue.funding()
    cross = units[~iso]
    if len(cross):
        eq, mm, _ = venue.cross_health(mu.account[cross], f, initial=False)
        equity[~iso], maintenance[~iso] = wad_array(eq), wad_array(mm)
    if iso.any():
        u = units[iso]
        eq, mm = venue.isolated_health(mu.account[u], mu.market[u], f)
        equity[iso], maintenance[iso] = wad_array(eq), wad_array(mm)
    return equity, maintenance
