"""Liquidation rules of the venue one market at a time: refusals, the penalty split, the fund
and bad debt, dYdX-style partial liquidation once per block, the circuit breaker, stale prices,
whole-unit keeper rewards and the backstop threshold (ported from the single-market suite's
test_liquidation.py; PORTING.md maps each test).

Default test venue (``conftest.FOUR_MARKETS``): BTC 1000, ETH 100, SOL 10, ALT 2; 20x, MM 2.5%,
no impact, no fee, 1% penalty split 50/50, insurance fund 100,000 USD.
"""

from __future__ import annotations

from perp_helpers import KEEPER, TRADERS, UNIT, WAD, event, events, ok, usd, wad
from venue_helpers import VAULT, MarketSpec

A, B = TRADERS[34:36]


def _identity(mv) -> None:
    ledgers, flows, balance = mv.cash_identity()
    assert ledgers == flows == balance


def test_liquidate_reverts_when_the_account_is_healthy_with_its_cross_numbers(mv):
    mv.setup(A, 1_000, [(1, 5), (2, 50)])  # 10,000 notional over two markets: MM 250
    r = mv.chain.execute_one(mv.venue.liquidate(KEEPER, A))
    assert r.error.name == "NotLiquidatable"
    assert r.error.args == {"account": A, "equity": 1_000 * WAD, "maintenanceMargin": 250 * WAD}


def test_liquidate_reverts_for_an_account_without_a_position(mv):
    mv.setup(A, 1_000, [])
    r = mv.chain.execute_one(mv.venue.liquidate(KEEPER, A))
    assert r.error.name == "NoPosition" and r.error.args == {"account": A, "market": 0}
    r = mv.chain.execute_one(mv.venue.liquidate_isolated(KEEPER, A, 1))
    assert r.error.name == "NoPosition" and r.error.args == {"account": A, "market": 1}


def test_full_liquidation_pays_the_penalty_to_keeper_and_fund_and_leaves_the_rest(mv):
    v = mv.venue
    mv.setup(A, 1_000, [(1, 10)])
    mv.push(1, 920)  # equity 200 < MM 230
    fund_before = mv.chain.read_one(mv.fund.balance())
    keeper_before = mv.chain.read_one(mv.collateral.balance_of(KEEPER))
    r = ok([mv.chain.execute_one(v.liquidate(KEEPER, A))])[0]
    assert event(r, "Liquidated") == {
        "account": A, "market": 1, "keeper": KEEPER, "sizeClosed": 10 * WAD,
        "fill": 920 * WAD, "notional": 9_200 * WAD, "realizedPnl": -800 * WAD,
        "penalty": 92 * WAD, "keeperReward": 46 * WAD, "insuranceShare": 46 * WAD, "full": True,
    }  # fmt: skip
    assert events(r, "DeficitAttributed") == []
    assert mv.chain.read_one(mv.collateral.balance_of(KEEPER)) - keeper_before == usd(46)
    assert mv.chain.read_one(mv.fund.balance()) == fund_before + usd(46)
    assert v.position_now(A, 1)["size"] == 0 and v.collateral_now(A) == 108 * WAD
    ledger = v.market_now(1)["ledger"]
    assert (
        ledger["liquidatedNotional"] == 9_200 * WAD and ledger["liquidationPenalties"] == 92 * WAD
    )
    _identity(mv)


def test_a_fill_worse_than_the_bankruptcy_price_is_paid_by_the_insurance_fund(mv):
    v = mv.venue
    mv.setup(A, 1_000, [(1, 10)])
    mv.push(1, 850)  # equity −500
    pool_before = v.accounting_now()["pool"]
    fund_before = mv.chain.read_one(mv.fund.balance())
    r = ok([mv.chain.execute_one(v.liquidate(KEEPER, A))])[0]
    assert event(r, "Liquidated")["penalty"] == 0
    part = event(r, "DeficitAttributed")
    assert (part["market"], part["deficit"], part["paidByInsurance"], part["remaining"]) == (
        1, 500 * WAD, 500 * WAD, 0,
    )  # fmt: skip
    assert events(r, "BadDebtRecorded") == []
    assert mv.chain.read_one(mv.fund.balance()) == fund_before - usd(500)
    # the pool received the loss the account could pay (1000) plus the fund's 500
    assert v.accounting_now()["pool"] == pool_before + 1_500 * WAD
    assert v.market_now(1)["ledger"]["paidByInsurance"] == 500 * WAD
    _identity(mv)


def test_a_deficit_beyond_the_insurance_fund_is_recorded_as_bad_debt(make_mv):
    mv = make_mv([MarketSpec("BTC", 1_000), MarketSpec("ETH", 100)], fund_usd=100)
    v = mv.venue
    mv.setup(A, 1_000, [(1, 10)])
    mv.push(1, 850)
    r = ok([mv.chain.execute_one(v.liquidate(KEEPER, A))])[0]
    assert event(r, "BadDebtRecorded") == {
        "market": 1, "longsBankrupt": True, "amount": 400 * WAD, "outstanding": 400 * WAD,
    }  # fmt: skip
    part = event(r, "DeficitAttributed")
    assert (part["deficit"], part["paidByInsurance"], part["remaining"]) == (
        500 * WAD, 100 * WAD, 400 * WAD,
    )  # fmt: skip
    ledger = v.market_now(1)["ledger"]
    assert (ledger["badDebtLongs"], ledger["badDebtShorts"], ledger["totalBadDebt"]) == (
        400 * WAD, 0, 400 * WAD,
    )  # fmt: skip
    assert v.market_now(2)["ledger"]["totalBadDebt"] == 0
    _identity(mv)


def test_dydx_style_liquidation_takes_ten_percent_at_most_once_per_block(make_mv):
    dydx = {"partialLiquidationThreshold": 0, "partialLiquidationShareBps": 1_000,
            "liquidationCooldown": 0, "fullLiquidationAfterCooldown": False}  # fmt: skip
    mv = make_mv([MarketSpec("BTC", 1_000, dydx), MarketSpec("ETH", 100)])
    v = mv.venue
    mv.setup(A, 1_000, [(1, 10)])
    mv.push(1, 900)
    first, second = mv.chain.execute([v.liquidate(KEEPER, A), v.liquidate(KEEPER, A)])
    assert event(ok([first])[0], "Liquidated")["sizeClosed"] == 1 * WAD
    assert second.error.name == "NothingLiquidatableNow"
    r = ok([mv.chain.execute_one(v.liquidate(KEEPER, A))])[0]
    assert event(r, "Liquidated")["sizeClosed"] == wad("0.9")


def test_the_circuit_breaker_refuses_new_risk_but_lets_liquidations_and_reductions_run(make_mv):
    band = {"circuitBreakerBandBps": 500, "circuitBreakerWindow": 300}
    mv = make_mv([MarketSpec("BTC", 1_000, band), MarketSpec("ETH", 100)])
    v = mv.venue
    mv.setup(A, 1_000, [(1, 10)])
    mv.setup(B, 10_000, [])
    mv.chain.advance_time(600)
    mv.push(1, 1_000)
    mv.chain.advance_time(600)
    mv.push(1, 900)  # 10% below a TWAP of ~1000
    assert v.market_now(1)["circuitBreakerTripped"] is True
    r = mv.chain.execute_one(v.trade(B, 1, wad(1)))
    assert r.error.name == "CircuitBreakerTripped"
    assert r.error.args["indexPrice"] == 900 * WAD and r.error.args["bandBps"] == 500
    assert r.error.args["referencePrice"] > 990 * WAD
    ok([mv.chain.execute_one(v.trade(B, 2, wad(1)))])  # ETH's breaker is its own: off
    ok([mv.chain.execute_one(v.trade(A, 1, -wad(1)))])  # reducing risk stays allowed
    assert mv.chain.execute_one(v.liquidate(KEEPER, A)).ok


def test_the_circuit_breaker_can_halt_liquidations_too(make_mv):
    band = {"circuitBreakerBandBps": 500, "circuitBreakerWindow": 300,
            "liquidationsHaltOnBreaker": True}  # fmt: skip
    mv = make_mv([MarketSpec("BTC", 1_000, band), MarketSpec("ETH", 100)])
    v = mv.venue
    mv.setup(A, 1_000, [(1, 10)])
    mv.chain.advance_time(600)
    mv.push(1, 1_000)
    mv.chain.advance_time(600)
    mv.push(1, 900)
    r = mv.chain.execute_one(v.liquidate(KEEPER, A))
    assert r.error.name == "CircuitBreakerTripped" and r.error.args["market"] == 1


def test_a_stale_oracle_price_stops_trading_and_liquidation(mv):
    v = mv.venue
    mv.setup(A, 1_000, [(1, 10)])
    mv.chain.advance_time(3_601)
    r1, r2 = mv.chain.execute([v.trade(A, 1, wad(1)), v.liquidate(KEEPER, A)])
    assert r1.error.name == r2.error.name == "StalePrice"
    assert r1.error.args["maxAge"] == 3_600


def test_keeper_rewards_are_whole_collateral_units(make_mv):
    odd = {"liquidationPenaltyBps": 33, "keeperShareBps": 3_333}
    mv = make_mv([MarketSpec("BTC", 1_000, odd), MarketSpec("ETH", 100)])
    v = mv.venue
    mv.setup(A, 1_000, [(1, "9.876543")])
    mv.push(1, "910.123457")
    r = ok([mv.chain.execute_one(v.liquidate(KEEPER, A))])[0]
    args = event(r, "Liquidated")
    assert args["penalty"] > 0
    assert args["keeperReward"] % UNIT == 0 and args["insuranceShare"] % UNIT == 0
    assert args["keeperReward"] == args["penalty"] * 3_333 // 10_000 // UNIT * UNIT
    _identity(mv)


def test_backstop_takeover_reverts_above_the_backstop_fraction_of_maintenance_margin(mv):
    v = mv.venue
    mv.setup(A, 1_000, [(1, 10)])
    mv.push(1, 920)  # equity 200, MM 230, threshold 230 × backstopFraction
    fraction = v.parameters_now(1)["backstopFraction"]
    r = mv.chain.execute_one(v.backstop_takeover(KEEPER, A))
    assert r.error.name == "NotBelowBackstopThreshold"
    assert r.error.args == {
        "account": A, "equity": 200 * WAD, "threshold": 230 * WAD * fraction // WAD,
    }  # fmt: skip
    assert v.read("backstopVault") == VAULT
