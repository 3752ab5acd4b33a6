"""The contracts against the formulas of ../shared/REFERENCES.md.

* liquidation price of isolated longs and shorts: ``(entry − side·C/size)/(1 − side·mmf)``;
* liquidatable just past that price and not before;
* Hyperliquid tiered maintenance margin (deduction form) is continuous at tier bounds;
* dYdX OI-scaled initial margin.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from perp_helpers import GUARDIAN, KEEPER, TRADERS, WAD, fund, ok, set_price, usd, wad

LONG, SHORT = TRADERS[0], TRADERS[1]

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


def open_isolated(chain, venue, trader, collateral_usd, size):
    m = venue.market
    fund(chain, venue, [trader], collateral_usd)
    ok(
        chain.execute(
            [
                m.set_margin_mode(trader, True),
                m.deposit(trader, usd(collateral_usd)),
                m.allocate_margin(trader, usd(collateral_usd)),
                m.trade(trader, size, 0),
            ]
        )
    )


@pytest.fixture
def formula_venue(make_venue):
    # No skew impact and no fee, so the entry is the index; 100x so every MM case fits.
    return make_venue(
        max_leverage=100, maintenance_margin_fraction=0.001, skew_scale=0, taker_fee_bps=0
    )


@pytest.mark.parametrize(
    "mmf,max_leverage", MARGIN_CASES, ids=[f"mmf={m}" for m, _ in MARGIN_CASES]
)
def test_liquidation_price_of_isolated_positions_equals_the_reference_formula(
    chain, formula_venue, mmf, max_leverage
):
    v = formula_venue
    m = v.market
    ok(
        chain.execute(
            [
                m.guardian_set_max_leverage(GUARDIAN, max_leverage * WAD),
                m.guardian_set_maintenance_margin_fraction(GUARDIAN, wad(mmf)),
            ]
        )
    )
    collateral = Fraction(1_000)
    for leverage in [lev for lev in LEVERAGES if lev < max_leverage]:
        with chain.isolate():
            size = wad(collateral * leverage / 1_000)
            open_isolated(chain, v, LONG, collateral, size)
            open_isolated(chain, v, SHORT, collateral, -size)
            for trader, sign in ((LONG, 1), (SHORT, -1)):
                acct = m.account_now(trader)
                entry = Fraction(acct["entryPrice"], WAD)
                c = Fraction(acct["margin"] - acct["pendingFunding"], WAD)
                expected = reference_liquidation_price(entry, c, Fraction(sign * size, WAD), mmf)
                got = Fraction(chain.read_one(m.liquidation_price(trader)), WAD)
                if expected <= 0:
                    assert got == 0, (leverage, trader)
                    continue
                assert abs(got - expected) / expected < Fraction(1, 10**12), (
                    leverage,
                    sign,
                    got,
                    expected,
                )


@pytest.mark.parametrize("mmf,max_leverage", MARGIN_CASES[1:3], ids=["mmf=0.0125", "mmf=0.03"])
@pytest.mark.parametrize("leverage", [Fraction(3), Fraction(10)], ids=["3x", "10x"])
def test_positions_become_liquidatable_just_past_the_liquidation_price_and_not_before(
    chain, formula_venue, mmf, max_leverage, leverage
):
    v = formula_venue
    m = v.market
    ok(
        chain.execute(
            [
                m.guardian_set_max_leverage(GUARDIAN, max_leverage * WAD),
                m.guardian_set_maintenance_margin_fraction(GUARDIAN, wad(mmf)),
            ]
        )
    )
    size = wad(leverage)  # 1000 collateral × leverage / price 1000
    open_isolated(chain, v, LONG, 1_000, size)
    open_isolated(chain, v, SHORT, 1_000, -size)
    eps = Fraction(1, 10**9)
    for trader, adverse in ((LONG, -1), (SHORT, 1)):
        liq = Fraction(chain.read_one(m.liquidation_price(trader)), WAD)
        with chain.isolate():
            set_price(chain, v, liq * (1 - adverse * eps))
            assert chain.read_one(m.is_liquidatable(trader)) is False
            r = chain.execute_one(m.liquidate(KEEPER, trader))
            assert r.error.name == "NotLiquidatable"
        with chain.isolate():
            set_price(chain, v, liq * (1 + adverse * eps))
            assert chain.read_one(m.is_liquidatable(trader)) is True
            assert chain.execute_one(m.liquidate(KEEPER, trader)).ok


TIERS = [
    # (notional floor USD, IMF, MMF) above a base of 50x / 1%
    (Fraction(100_000), Fraction("0.04"), Fraction("0.02")),
    (Fraction(500_000), Fraction("0.1"), Fraction("0.05")),
]


def reference_tiered_mm(notional: Fraction, base_mmf: Fraction) -> Fraction:
    """Hyperliquid: MM = notional·rate_n − deduction_n, deduction_n = deduction_{n−1} + floor_n·(rate_n − rate_{n−1})."""
    rate, deduction = base_mmf, Fraction(0)
    for floor, _, mmf in TIERS:
        if notional < floor:
            break
        deduction += floor * (mmf - rate)
        rate = mmf
    return notional * rate - deduction


@pytest.fixture
def tiered_venue(chain, make_venue):
    from perp_helpers import TEST_PARAMS

    from simulator.protocol.params import MarginTierParams

    tiers = tuple(
        MarginTierParams(
            notional_floor_usd=float(f),
            initial_margin_fraction=float(i),
            maintenance_margin_fraction=float(mm),
        )
        for f, i, mm in TIERS
    )
    return make_venue(
        TEST_PARAMS.with_market(
            max_leverage=50, maintenance_margin_fraction=0.01, margin_tiers=tiers
        )
    )


def test_tiered_maintenance_margin_matches_the_deduction_form_and_is_continuous_at_tier_bounds(
    chain, tiered_venue
):
    v = tiered_venue
    m = v.market
    size = 100  # base units
    fund(chain, v, [LONG], 200_000)
    ok(chain.execute([m.deposit(LONG, usd(200_000)), m.trade(LONG, wad(size), 0)]))
    delta = Fraction(1, 10**6)  # USD of notional either side of the floor
    for floor, _, _ in TIERS:
        values = {}
        for side in (-1, 1):
            notional = floor + side * delta
            set_price(chain, v, notional / size)
            got = chain.read_one(m.maintenance_margin(LONG))
            price = Fraction(wad(notional / size), WAD)
            expected = reference_tiered_mm(size * price, Fraction("0.01"))
            assert abs(Fraction(got, WAD) - expected) <= Fraction(2 * size, WAD), (floor, side)
            values[side] = Fraction(got, WAD)
        # continuity: the jump across the floor is only the slope times 2·delta
        assert abs(values[1] - values[-1]) <= Fraction("0.05") * 2 * delta + Fraction(4 * size, WAD)


def test_liquidation_price_in_a_higher_tier_solves_equity_equals_tiered_maintenance_margin(
    chain, tiered_venue
):
    v = tiered_venue
    m = v.market
    fund(chain, v, [LONG, SHORT], 200_000)
    ok(
        chain.execute(
            [
                m.deposit(LONG, usd(60_000)),
                m.trade(LONG, wad(600), 0),  # 600k notional: third tier at entry
                m.deposit(SHORT, usd(60_000)),
                m.trade(SHORT, -wad(600), 0),
            ]
        )
    )
    for trader in (LONG, SHORT):
        acct = m.account_now(trader)
        price = Fraction(chain.read_one(m.liquidation_price(trader)), WAD)
        size = Fraction(acct["size"], WAD)
        equity = Fraction(acct["margin"], WAD) + size * (price - Fraction(acct["entryPrice"], WAD))
        mm = reference_tiered_mm(abs(size) * price, Fraction("0.01"))
        assert abs(equity - mm) / mm < Fraction(1, 10**12), trader


def test_oi_scaled_initial_margin_rises_linearly_between_the_caps(chain, make_venue):
    v = make_venue(oi_imf_lower_cap_usd=50_000, oi_imf_upper_cap_usd=150_000)
    m = v.market
    a, b = TRADERS[2], TRADERS[3]
    fund(chain, v, [a, b], 100_000)
    ok(chain.execute([m.deposit(a, usd(10_000)), m.trade(a, wad(40), 0)]))
    assert chain.read_one(m.initial_margin(a)) == 2_000 * WAD  # below the lower cap: 5%
    ok(chain.execute([m.deposit(b, usd(40_000)), m.trade(b, wad(60), 0)]))
    # open notional 100k: t = (100k − 50k)/(150k − 50k) = 1/2, IMF = 0.05 + 0.95/2 = 0.525
    imf = Fraction(5, 100) + (1 - Fraction(5, 100)) * Fraction(1, 2)
    assert chain.read_one(m.initial_margin(a)) == wad(40_000 * imf)
    assert chain.read_one(m.initial_margin(b)) == wad(60_000 * imf)
    # above the upper cap the initial margin is the whole notional
    set_price(chain, v, 1_600)
    assert chain.read_one(m.initial_margin(a)) == 40 * 1_600 * WAD
    # maintenance margin is not scaled
    assert chain.read_one(m.maintenance_margin(a)) == wad(40 * 1_600 * Fraction("0.025"))
