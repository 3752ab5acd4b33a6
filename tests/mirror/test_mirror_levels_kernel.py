"""The mirror's levels after a block (:func:`simulator.mirror.sim.levels.levels_of`, fast
mode's per-market floats converted by one compiled call) held bit for bit to the form they
replaced (:func:`old_levels_of` below: :func:`~simulator.mirror.sim.levels.floats` of each
value, the spot AMMs' levels merged over NaN ones): on every step of small runs in both
modes, and on a venue whose arrays hold drawn values (both signs of zero, tiny and huge
magnitudes, NaN and infinities). Likewise the units' health reads
(:func:`~simulator.mirror.sim.levels.unit_health`, one kind of unit read without the masks)
against :func:`old_unit_health`: every unit, the cross ones, the isolated ones, none and a
shuffled third, on every step."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from mirror_run_helpers import parse, small_scenarios

from simulator.mirror.fixed import UNIT
from simulator.mirror.sim import MirrorEngine, backstop
from simulator.mirror.sim.levels import floats, levels_of, to_float, unit_health, wad_array
from simulator.mirror.sim.venue import VenueState
from simulator.units import WAD, from_units, from_wad


def old_levels_of(venue: VenueState) -> dict[str, Any]:
    """``levels_of`` as it was (session 25): the reference."""
    f = venue.funding()
    m = venue.n_markets
    rate = floats(f.funding_rate_per_day)
    fund_units = int(venue.fund) // UNIT if venue.exact_mode else float(venue.fund) / UNIT
    return {
        "index_usd": floats(venue.price),
        "oi_long_base": floats(venue.long_oi),
        "oi_short_base": floats(venue.short_oi),
        "funding_rate_per_hour": rate / 24,
        "funding_rate_per_day": rate,
        "margin_scale": floats(venue.markets.margin_scale),
        "amm_reserve_usd": np.full(m, np.nan),
        "amm_reserve_base": np.full(m, np.nan),
        "amm_price_usd": np.full(m, np.nan),
        "bad_debt_usd": floats(
            venue.bad_debt_longs
            + venue.bad_debt_shorts
            + venue.final_bad_debt[:, 0]
            + venue.final_bad_debt[:, 1]
        ),
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


def old_unit_health(ctx, venue: VenueState, units) -> tuple[np.ndarray, np.ndarray]:
    """``unit_health`` as it was (session 25): the reference."""
    units = np.asarray(units, dtype=np.int64)
    mu = ctx.units
    iso = mu.isolated[units]
    equity = np.zeros(len(units))
    maintenance = np.zeros(len(units))
    f = venue.funding()
    cross = units[~iso]
    if len(cross):
        eq, mm, _ = venue.cross_health(mu.account[cross], f)
        equity[~iso], maintenance[~iso] = wad_array(eq), wad_array(mm)
    if iso.any():
        u = units[iso]
        eq, mm = venue.isolated_health(mu.account[u], mu.market[u], f)
        equity[iso], maintenance[iso] = wad_array(eq), wad_array(mm)
    return equity, maintenance


def _same(got: Any, want: Any) -> bool:
    """Equal to the bit: arrays of one dtype and shape with the same bytes (object arrays
    element by element), floats with the same bits (NaN equal to NaN), anything else ``==``
    of the same type."""
    if isinstance(want, np.ndarray):
        if not isinstance(got, np.ndarray) or got.dtype != want.dtype or got.shape != want.shape:
            return False
        if want.dtype == object:
            return all(_same(g, w) for g, w in zip(got.tolist(), want.tolist(), strict=True))
        return got.tobytes() == want.tobytes()
    if type(got) is not type(want):
        return False
    if isinstance(want, float):
        return math.copysign(1.0, got) == math.copysign(1.0, want) and (
            got == want or (math.isnan(got) and math.isnan(want))
        )
    return got == want


def _check(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert list(got) == list(want)
    for key in want:
        assert _same(got[key], want[key]), key


def _check_engine(engine: MirrorEngine) -> None:
    venue, amm = engine.venue, engine.spot.levels()
    _check(levels_of(venue, amm), {**old_levels_of(venue), **amm})
    _check(levels_of(venue), old_levels_of(venue))
    mu = engine.ctx.units
    everyone = np.arange(mu.count)
    rng = np.random.default_rng(engine.state.step + 1)
    groups = [everyone, everyone[~mu.isolated], everyone[mu.isolated], everyone[:0],
              rng.permutation(everyone)[: max(1, mu.count // 3)]]  # fmt: skip
    for units in groups:
        got, want = unit_health(engine.ctx, venue, units), old_unit_health(engine.ctx, venue, units)
        for g, w in zip(got, want, strict=True):
            assert _same(g, w)


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(d=small_scenarios())
def test_levels_equal_the_old_conversions_on_every_step(d):
    for mode in ("fast", "exact"):
        engine = MirrorEngine(parse(d), mode=mode)
        _check_engine(engine)
        engine.run(on_step=lambda o, e=engine: _check_engine(e))


def _drawn(rng: np.random.Generator, shape: tuple[int, ...], finite: bool = False) -> np.ndarray:
    """WAD floats of ``shape``: magnitudes from 1e-5 to 1e40 of both signs, whole numbers,
    and specials (zeros of both signs, the smallest subnormal, huge, and unless ``finite``
    NaN and infinities)."""
    x = rng.normal(0, 1, shape) * 10.0 ** rng.integers(-5, 40, shape)
    specials = np.array(
        [0.0, -0.0, 5e-324, 1e308, 1e18, 3.0] + ([] if finite else [np.nan, np.inf, -np.inf])
    )
    pick = rng.random(shape) < 0.2
    x[pick] = rng.choice(specials, int(pick.sum()))
    whole = rng.random(shape) < 0.2
    x[whole] = np.round(x[whole])
    return x


def test_levels_equal_the_old_conversions_on_drawn_values():
    d = {
        "name": "levels-drawn",
        "seed": 3,
        "steps": 2,
        "step_seconds": 60,
        "markets": [{"symbol": s, "path": {"beta": 1.0, "vol_per_year": 0.5}}
                    for s in ("BTC", "ETH", "SOL", "XRP", "DOGE")],
        "traders": {"kind": "random", "count": 20},
        "price_path": {"kind": "factor", "factor": {"vol_per_year": 0.4}},
    }  # fmt: skip
    engine = MirrorEngine(parse(d), mode="fast")
    venue = engine.venue
    rng = np.random.default_rng(26)
    m = venue.n_markets
    names = ("price", "long_oi", "short_oi", "fees", "penalties", "socialized", "rate",
             "long_index", "short_index")  # fmt: skip
    ledger = ("bad_debt_longs", "bad_debt_shorts")  # the ledgers read them as integers
    zero_ledgers = 0
    for _ in range(300):
        for name in names:
            getattr(venue, name)[:] = _drawn(rng, (m,))  # in place: packed views stay views
        for name in ledger:
            getattr(venue, name)[:] = _drawn(rng, (m,), finite=True)
        venue.final_bad_debt[:] = _drawn(rng, (m, 2), finite=True)
        venue.adl_contracts[:] = _drawn(rng, (m, 2), finite=True)
        if rng.random() < 0.3:  # every ledger 0 (the zeros of either sign), or all but one
            for arr in (venue.bad_debt_longs, venue.bad_debt_shorts, venue.final_bad_debt,
                        venue.adl_contracts):  # fmt: skip
                arr[...] = rng.choice([0.0, -0.0], arr.shape)
            if rng.random() < 0.5:
                arr[rng.integers(0, m), rng.integers(0, 2)] = 1e18
        venue.markets.margin_scale[:] = _drawn(rng, (m,))
        venue.version += 1  # a new funding state at the drawn values
        with np.errstate(all="ignore"):
            got = levels_of(venue)
            _check(got, old_levels_of(venue))
        zero_ledgers += not any(any(ledger.values()) for ledger in got["ledgers"])
    assert zero_ledgers > 30


def test_to_float_equals_its_old_form():
    """``to_float`` (``from_wad`` inlined, fast mode's divisor a float literal) against
    ``from_wad(x) if isinstance(x, int) else float(x) / WAD`` (its session 25 form)."""
    rng = np.random.default_rng(11)
    floats_ = _drawn(rng, (20_000,))
    ints = [0, 1, -1, 10**18, 3 * 10**40 + 7, -(10**35) - 3, 2**63, True, False]
    ints += [int(x) for x in rng.integers(-(2**62), 2**62, 2_000)]
    values = [*floats_.tolist(), *floats_, *ints]
    for x in values:
        want = from_wad(x) if isinstance(x, int) else float(x) / WAD
        assert _same(to_float(x), want), x
