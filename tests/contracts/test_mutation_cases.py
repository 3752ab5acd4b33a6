"""Cases that plausible bugs survived in the earlier suite (issue 9, "Done when"): each test here
failed against the mutated contract named in its docstring, and passes on the real one.
Every expected number comes from a Python reference in exact fractions, to the wei.
"""

from __future__ import annotations

from fractions import Fraction
from math import floor

from perp_helpers import (
    KEEPER,
    TRADERS,
    UNIT,
    WAD,
    event,
    fund,
    market_cash_identity,
    ok,
    open_position,
    set_price,
    usd,
    wad,
)

A, B, C = TRADERS[:3]


# ---------------------------------------------------------------------------------------------
# (a) the floored signed mulDiv rounds a negative product down, not toward zero
# ---------------------------------------------------------------------------------------------


def test_a_losing_pnl_is_rounded_down_to_the_wei(chain, venue):
    """Mutant: ``FixedPointMath.mulDivFloor``'s negative branch without ``Rounding.Ceil``
    (toward zero): the loss below comes out 1 wei smaller, in the view and when realized."""
    m = venue.market
    size = 333_333_333_333_333_333  # 0.333... base units
    open_position(chain, venue, A, 100, Fraction(size, WAD))
    assert m.account_now(A)["entryPrice"] == 1_000 * WAD
    price = 990 * WAD + 7
    set_price(chain, venue, price)
    loss = floor(Fraction((price - 1_000 * WAD) * size, WAD))
    assert Fraction((price - 1_000 * WAD) * size, WAD).denominator != 1  # a real rounding
    assert chain.read_one(m.equity(A)) == 100 * WAD + loss
    r = ok([chain.execute_one(m.close_position(A))])[0]
    assert event(r, "PositionModified")["realizedPnl"] == loss
    assert m.account_now(A)["margin"] == 100 * WAD + loss


def test_a_sell_fill_with_skew_impact_is_rounded_down_to_the_wei(chain, make_venue):
    """Mutant as above: the seller's fill ``P + (2·skew + Δ)·P/(2·scale)`` with a negative
    numerator came out 1 wei higher (in the seller's favour)."""
    v = make_venue(skew_scale=777)
    m = v.market
    open_position(chain, v, A, 10_000, 3)  # skew +3
    fund(chain, v, [B], 10_000)
    ok([chain.execute_one(m.deposit(B, usd(10_000)))])
    price = 1_000 * WAD
    delta = -wad("7.123456789")
    skew = 3 * WAD
    impact = Fraction((2 * skew + delta) * price, 2 * 777 * WAD)
    assert impact < 0 and impact.denominator != 1
    expected = price + floor(impact)
    assert chain.read_one(m.fill_price(delta)) == expected
    r = ok([chain.execute_one(m.trade(B, delta, 0))])[0]
    assert event(r, "PositionModified")["fillPrice"] == expected


# ---------------------------------------------------------------------------------------------
# (b) equity exactly equal to maintenance margin is not liquidatable
# ---------------------------------------------------------------------------------------------

#: Long 1 @ 1000 on 50: equity = 50 + (p − 1000), MM = ceil(p/40) (2.5 %, in wei). At this
#: price (wei) both are 24.358974358974358975 USD exactly; one wei lower, equity = MM − 1 wei.
TIE_PRICE = 974_358_974_358_974_358_975


def test_equity_exactly_at_maintenance_margin_is_not_liquidatable_one_wei_below_is(chain, venue):
    """Mutant: ``liquidate`` reverting only when ``equity > MM`` (accepting the tie)."""
    m = venue.market
    open_position(chain, venue, A, 50, 1)
    set_price(chain, venue, TIE_PRICE)
    equity = 50 * WAD + TIE_PRICE - 1_000 * WAD
    mm = -(-TIE_PRICE // 40)
    assert equity == mm
    assert chain.read_one(m.equity(A)) == equity
    assert chain.read_one(m.maintenance_margin(A)) == mm
    assert chain.read_one(m.is_liquidatable(A)) is False
    r = chain.execute_one(m.liquidate(KEEPER, A))
    assert r.error.name == "NotLiquidatable"
    assert r.error.args == {"account": A, "equity": equity, "maintenanceMargin": mm}

    set_price(chain, venue, TIE_PRICE - 1)
    assert chain.read_one(m.equity(A)) == chain.read_one(m.maintenance_margin(A)) - 1
    assert chain.read_one(m.is_liquidatable(A)) is True
    assert chain.execute_one(m.liquidate(KEEPER, A)).ok


# ---------------------------------------------------------------------------------------------
# (c) each side's open interest is checked against its own cap
# ---------------------------------------------------------------------------------------------


def test_unequal_open_interest_caps_are_each_enforced_on_their_own_side(chain, make_venue):
    """Mutant: the short side's open interest compared with the *long* cap (10): a short
    beyond its own cap of 4 was accepted."""
    v = make_venue(max_long_open_interest=10, max_short_open_interest=4)
    m = v.market
    fund(chain, v, [A, B], 100_000)
    ok(chain.execute([m.deposit(A, usd(100_000)), m.deposit(B, usd(100_000))]))
    ok([chain.execute_one(m.trade(B, -4 * WAD, 0))])  # shorts at their cap
    r = chain.execute_one(m.trade(B, -1, 0))
    assert r.error.name == "OpenInterestCapExceeded"
    assert r.error.args == {"long": False, "openInterest": 4 * WAD + 1, "cap": 4 * WAD}
    ok([chain.execute_one(m.trade(A, 10 * WAD, 0))])  # longs above the short cap, at their own
    r = chain.execute_one(m.trade(A, 1, 0))
    assert r.error.name == "OpenInterestCapExceeded"
    assert r.error.args == {"long": True, "openInterest": 10 * WAD + 1, "cap": 10 * WAD}
    assert chain.read_one(m.open_interest()) == (10 * WAD, 4 * WAD)


# ---------------------------------------------------------------------------------------------
# (d) the penalty split with a keeper share other than 50 %
# ---------------------------------------------------------------------------------------------


def test_a_thirty_percent_keeper_share_splits_the_penalty_to_the_wei(chain, make_venue):
    """Keeper share 30 %: keeper gets floor(30 % of the penalty) in whole collateral units, the
    fund the rest in whole units, the protocol the sub-unit dust. Mutant: the fund's share
    computed as floor(70 % of the penalty) on its own: one unit moved from the fund to fees."""
    v = make_venue(keeper_share_bps=3_000)
    m = v.market
    size = wad("9.876543")
    open_position(chain, v, A, 1_000, Fraction(size, WAD))
    price = wad("911.7777777")
    set_price(chain, v, price)
    fund_before = chain.read_one(v.insurance_fund.balance())
    fees_before = m.accounting_now()["protocolFees"]
    r = ok([chain.execute_one(m.liquidate(KEEPER, A))])[0]

    notional = size * price // WAD
    penalty = -(-notional * 100 // 10_000)
    keeper = penalty * 3_000 // 10_000 // UNIT * UNIT
    insurance = (penalty - keeper) // UNIT * UNIT
    dust = penalty - keeper - insurance
    assert (penalty, keeper, insurance, dust) == (
        90_052_124_278_984_911_000,
        27_015_637_000_000_000_000,
        63_036_487_000_000_000_000,
        278_984_911_000,
    )
    args = event(r, "Liquidated")
    assert (args["notional"], args["penalty"], args["keeperReward"], args["insuranceShare"]) == (
        notional,
        penalty,
        keeper,
        insurance,
    )
    assert chain.read_one(v.collateral.balance_of(KEEPER)) == keeper // UNIT
    assert chain.read_one(v.insurance_fund.balance()) == fund_before + insurance // UNIT
    assert m.accounting_now()["protocolFees"] == fees_before + dust
    assert len(set(market_cash_identity(v))) == 1
