"""The venue's isolated positions, tiers and OI-scaled margin against the formulas of
../shared/REFERENCES.md (ported from the single-market suite's test_reference_formulas.py;
PORTING.md maps each test; the cross formulas are test_venue_cross.py's):

* liquidation price of isolated longs and shorts: ``(entry − side·C/size)/(1 − side·mmf)``;
* isolated positions liquidatable just past that price and not before;
* Hyperliquid tiered maintenance margin (deduction form), continuous at tier bounds, and the
  liquidation price in a higher tier;
* dYdX OI-scaled initial margin, linear between the caps, per market.

Each venue lists a second market (ETH) whose cross position must change nothing.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from perp_helpers import KEEPER, TRADERS, WAD, ok, usd, wad
from venue_helpers import MarketSpec

LONG, SHORT, OTHER = TRADERS[36:39]

# (maintenance margin fraction, max leverage) pairs; MM must stay below 1/max leverage.
MARGIN_CASES = [
    (Fraction("0.004"), 100),
    (Fraction("0.0125"), 40),
    (Fraction("0.03"), 20),
    (Fraction("0.05"), 15),
]
LEVERAGES = [Fraction(1), Fraction(3, 2), Fraction(5), Fraction(12), Fraction(99, 10)]


def reference_liquidation_price(
    entry: Fraction, collateral: Fraction, size: Fraction, mmf: Fraction
) -> Fraction:
    side = 1 if size > 0 else -1
    return (entry - side * collateral / abs(size)) / (1 - side * mmf)


def _venue(make_mv, mmf: Fraction, max_leverage: int, **changes):
    btc = {"maxLeverage": max_leverage * WAD, "maintenanceMarginFraction": wad(mmf), **changes}
    mv = make_mv([MarketSpec("BTC", 1_000, btc), MarketSpec("ETH", 100)])
    mv.setup(OTHER, 100_000, [(2, 100)])  # a cross position in another market
    return mv


def _open_isolated(mv, trader, collateral_usd, size_wad):
    v = mv.venue
    ok(mv.chain.execute(mv.fund_calls([trader], usd(collateral_usd)) + [
        v.deposit(trader, usd(collateral_usd)),
        v.trade_isolated(trader, 1, size_wad, int(collateral_usd * WAD)),
    ]))  # fmt: skip


@pytest.mark.parametrize(
    "mmf,max_leverage", MARGIN_CASES, ids=[f"mmf={m}" for m, _ in MARGIN_CASES]
)
def test_liquidation_price_of_isolated_positions_equals_the_reference_formula(
    chain, make_mv, mmf, max_leverage
):
    mv = _venue(make_mv, mmf, max_leverage)
    collateral = Fraction(1_000)
    for leverage in [lev for lev in LEVERAGES if lev < max_leverage]:
        with chain.isolate():
            size = wad(collateral * leverage / 1_000)
            _open_isolated(mv, LONG, collateral, size)
            _open_isolated(mv, SHORT, collateral, -size)
            mv.push(2, 50)  # the other market moves: isolated positions do not care
            for trader, sign in ((LONG, 1), (SHORT, -1)):
                pos = mv.venue.position_now(trader, 1)
                entry = Fraction(pos["entryPrice"], WAD)
                c = Fraction(pos["margin"] - pos["pendingFunding"], WAD)
                expected = reference_liquidation_price(entry, c, Fraction(sign * size, WAD), mmf)
                got = Fraction(mv.venue.read("liquidationPrice", trader, 1), WAD)
                if expected <= 0:
                    assert got == 0, (leverage, trader)
                    continue
                assert abs(got - expected) / expected < Fraction(1, 10**12), (leverage, sign)


@pytest.mark.parametrize("mmf,max_leverage", MARGIN_CASES[1:3], ids=["mmf=0.0125", "mmf=0.03"])
@pytest.mark.parametrize("leverage", [Fraction(3), Fraction(10)], ids=["3x", "10x"])
def test_isolated_positions_become_liquidatable_just_past_the_liquidation_price_and_not_before(
    chain, make_mv, mmf, max_leverage, leverage
):
    mv = _venue(make_mv, mmf, max_leverage)
    size = wad(leverage)  # 1000 collateral × leverage / price 1000
    _open_isolated(mv, LONG, 1_000, size)
    _open_isolated(mv, SHORT, 1_000, -size)
    eps = Fraction(1, 10**9)
    for trader, adverse in ((LONG, -1), (SHORT, 1)):
        liq = Fraction(mv.venue.read("liquidationPrice", trader, 1), WAD)
        with chain.isolate():
            mv.push(1, liq * (1 - adverse * eps))
            r = mv.chain.execute_one(mv.venue.liquidate_isolated(KEEPER, trader, 1))
            assert r.error.name == "NotLiquidatable"
        with chain.isolate():
            mv.push(1, liq * (1 + adverse * eps))
            assert mv.chain.execute_one(mv.venue.liquidate_isolated(KEEPER, trader, 1)).ok


TIERS = [
    # (notional floor USD, IMF, MMF) above a base of 50x / 1%
    (Fraction(100_000), Fraction("0.04"), Fraction("0.02")),
    (Fraction(500_000), Fraction("0.1"), Fraction("0.05")),
]


def reference_tiered_mm(notional: Fraction, base_mmf: Fraction) -> Fraction:
    """Hyperliquid: MM = notional·rate_n − deduction_n,
    deduction_n = deduction_{n−1} + floor_n·(rate_n − rate_{n−1})."""
    rate, deduction = base_mmf, Fraction(0)
    for floor, _, mmf in TIERS:
        if notional < floor:
            break
        deduction += floor * (mmf - rate)
        rate = mmf
    return notional * rate - deduction


@pytest.fixture
def tiered(make_mv):
    tiers = [(wad(f), wad(i), wad(m)) for f, i, m in TIERS]
    btc = {"maxLeverage": 50 * WAD, "maintenanceMarginFraction": wad("0.01")}
    return make_mv([MarketSpec("BTC", 1_000, btc, tiers), MarketSpec("ETH", 100)])


def test_tiered_maintenance_margin_matches_the_deduction_form_and_is_continuous_at_tier_bounds(
    tiered,
):
    mv = tiered
    size = 100  # base units
    mv.setup(LONG, 200_000, [(1, size)])
    delta = Fraction(1, 10**6)  # USD of notional either side of the floor
    for floor, _, _ in TIERS:
        values = {}
        for side in (-1, 1):
            notional = floor + side * delta
            mv.push(1, notional / size)
            got = mv.venue.health_now(LONG)[1]
            price = Fraction(wad(notional / size), WAD)
            expected = reference_tiered_mm(size * price, Fraction("0.01"))
            assert abs(Fraction(got, WAD) - expected) <= Fraction(2 * size, WAD), (floor, side)
            values[side] = Fraction(got, WAD)
        # continuity: the jump across the floor is only the slope times 2·delta
        assert abs(values[1] - values[-1]) <= Fraction("0.05") * 2 * delta + Fraction(4 * size, WAD)


def test_liquidation_price_in_a_higher_tier_solves_equity_equals_tiered_maintenance_margin(
    tiered,
):
    mv = tiered
    v = mv.venue
    for trader, side in ((LONG, 1), (SHORT, -1)):
        _open_isolated(mv, trader, 60_000, side * wad(600))  # 600k notional: third tier
        pos = v.position_now(trader, 1)
        price = Fraction(v.read("liquidationPrice", trader, 1), WAD)
        size = Fraction(pos["size"], WAD)
        equity = Fraction(pos["margin"], WAD) + size * (price - Fraction(pos["entryPrice"], WAD))
        mm = reference_tiered_mm(abs(size) * price, Fraction("0.01"))
        assert abs(equity - mm) / mm < Fraction(1, 10**12), trader


def test_oi_scaled_initial_margin_rises_linearly_between_the_caps_of_its_market(make_mv):
    caps = {"oiImfLowerCap": 50_000 * WAD, "oiImfUpperCap": 150_000 * WAD}
    mv = make_mv([MarketSpec("BTC", 1_000, caps), MarketSpec("ETH", 100)])
    v = mv.venue
    a, b = TRADERS[2], TRADERS[3]
    mv.setup(a, 10_000, [(1, 40)])
    assert v.health_now(a)[2] == 2_000 * WAD  # below the lower cap: 5%
    mv.setup(b, 40_000, [(1, 60)])
    # open notional 100k: t = (100k − 50k)/(150k − 50k) = 1/2, IMF = 0.05 + 0.95/2 = 0.525
    imf = Fraction(5, 100) + (1 - Fraction(5, 100)) * Fraction(1, 2)
    assert v.health_now(a)[2] == wad(40_000 * imf)
    assert v.health_now(b)[2] == wad(60_000 * imf)
    # above the upper cap the initial margin is the whole notional
    mv.push(1, 1_600)
    assert v.health_now(a)[2] == 40 * 1_600 * WAD
    # maintenance margin is not scaled
    assert v.health_now(a)[1] == wad(40 * 1_600 * Fraction("0.025"))
    # ETH has no caps: its initial margin stays 5% whatever BTC's open interest
    mv.setup(OTHER, 10_000, [(2, 100)])
    assert v.health_now(OTHER)[2] == 500 * WAD
