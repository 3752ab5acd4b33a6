"""Collateral, trading, fills, fees, margin modes and funding of the venue, market by market
(ported from the single-market suite's test_trading.py; PORTING.md maps each test).

The four-market test venue (``conftest.FOUR_MARKETS``): BTC 1000, ETH 100, SOL 10, ALT 2; every
market 20x, MM 2.5%, no skew impact, no fee (``venue_helpers.BASE_PARAMS``) unless a test lists
its own markets. Units: WAD prices, sizes and USD on chain; ``usd()`` for token amounts.
"""

from __future__ import annotations

from fractions import Fraction

from perp_helpers import TRADERS, UNIT, WAD, event, ok, usd, wad
from venue_helpers import MarketSpec

A, B, C = TRADERS[30:33]


def test_deposit_credits_cross_collateral_and_emits_the_amount_in_wad(mv):
    ok(mv.chain.execute(mv.fund_calls([A], usd(1_000))))
    r = ok([mv.chain.execute_one(mv.venue.deposit(A, usd(250)))])[0]
    assert event(r, "Deposited") == {"account": A, "amount": 250 * WAD}
    assert mv.venue.collateral_now(A) == 250 * WAD


def test_withdraw_without_a_position_returns_the_tokens(mv):
    mv.setup(A, 1_000, [])
    ok([mv.chain.execute_one(mv.venue.withdraw(A, usd(400)))])
    assert mv.chain.read_one(mv.collateral.balance_of(A)) == usd(400)
    assert mv.venue.collateral_now(A) == 600 * WAD


def test_withdraw_more_than_the_balance_reverts_with_both_amounts(mv):
    mv.setup(A, 100, [])
    r = mv.chain.execute_one(mv.venue.withdraw(A, usd(101)))
    assert r.error.name == "InsufficientBalance"
    assert r.error.args == {"available": 100 * WAD, "requested": 101 * WAD}


def test_withdraw_reverts_when_it_would_leave_cross_positions_under_initial_margin(mv):
    # BTC 5 × 1000 and ETH 50 × 100: 10k notional over two markets, IM 5% = 500
    mv.setup(A, 1_000, [(1, 5), (2, 50)])
    r = mv.chain.execute_one(mv.venue.withdraw(A, usd(501)))
    assert r.error.name == "InsufficientMargin"
    assert r.error.args == {"equity": 499 * WAD, "required": 500 * WAD}
    assert mv.chain.execute_one(mv.venue.withdraw(A, usd(500))).ok


def test_open_beyond_max_leverage_reverts_with_equity_and_initial_margin(mv):
    mv.setup(A, 1_000, [(2, 100)])  # ETH 10k notional: IM 500
    r = mv.chain.execute_one(mv.venue.trade(A, 1, wad("10.001")))  # BTC: IM 500.05 more
    assert r.error.name == "InsufficientMargin"
    assert r.error.args == {"equity": 1_000 * WAD, "required": wad("1000.05")}
    assert mv.chain.execute_one(mv.venue.trade(A, 1, wad(10))).ok


def test_increase_averages_the_entry_and_reduce_realizes_pnl_against_the_pool(mv):
    v = mv.venue
    mv.setup(A, 10_000, [(1, 2), (2, 5)])
    mv.push(1, 1_100)
    r = ok([mv.chain.execute_one(v.trade(A, 1, wad(2)))])[0]
    assert event(r, "PositionModified")["entryPrice"] == 1_050 * WAD
    pool_before = v.accounting_now()["pool"]
    mv.push(1, 1_200)
    r = ok([mv.chain.execute_one(v.trade(A, 1, -wad(1)))])[0]
    args = event(r, "PositionModified")
    assert args["realizedPnl"] == 150 * WAD
    assert args["newSize"] == 3 * WAD and args["entryPrice"] == 1_050 * WAD
    assert v.accounting_now()["pool"] == pool_before - 150 * WAD
    assert v.collateral_now(A) == 10_150 * WAD
    assert v.position_now(A, 2)["entryPrice"] == 100 * WAD  # the other market untouched


def test_a_trade_through_zero_flips_the_position_at_the_fill(mv):
    v = mv.venue
    mv.setup(A, 10_000, [(1, 2)])
    mv.push(1, 900)
    r = ok([mv.chain.execute_one(v.trade(A, 1, -wad(5)))])[0]
    args = event(r, "PositionModified")
    assert args["realizedPnl"] == -200 * WAD
    assert args["newSize"] == -3 * WAD and args["entryPrice"] == 900 * WAD
    m = v.market_now(1)
    assert (m["longOpenInterest"], m["shortOpenInterest"]) == (0, 3 * WAD)


def test_close_position_leaves_no_size_and_no_entry_and_drops_the_market(mv):
    v = mv.venue
    mv.setup(A, 1_000, [(1, -3), (3, 10)])
    r = ok([mv.chain.execute_one(v.close_position(A, 1))])[0]
    assert event(r, "PositionModified")["newSize"] == 0
    pos = v.position_now(A, 1)
    assert pos["size"] == 0 and pos["entryPrice"] == 0
    assert [p["market"] for p in v.positions_now(A)] == [3]
    m = v.market_now(1)
    assert (m["longOpenInterest"], m["shortOpenInterest"]) == (0, 0)


def test_fill_price_follows_the_synthetix_skew_formula_and_the_fee_splits(make_mv):
    fees = {"skewScale": 1_000 * WAD, "takerFeeBps": 10, "insuranceFeeShareBps": 2_500}
    mv = make_mv([MarketSpec("BTC", 1_000, fees), MarketSpec("ETH", 100)])
    v = mv.venue
    mv.setup(A, 100_000, [(1, 100)])  # skew 0 -> 100
    skew, size, price, scale = 100, 30, 1_000, 1_000
    expected = (
        Fraction(price) * (1 + Fraction(skew, scale))
        + Fraction(price) * (1 + Fraction(skew + size, scale))
    ) / 2
    assert mv.chain.read_one(v.fill_price(1, wad(size))) == wad(expected)
    fees_before = v.market_now(1)["ledger"]["fees"]
    r = ok(mv.setup(B, 100_000, [(1, size)]))[-1]
    args = event(r, "PositionModified")
    assert args["fill"] == wad(expected)
    # fee: 10 bps of the filled notional, rounded up; a quarter of it goes to the insurance fund
    fee = -(-size * wad(expected) * 10 // 10_000)
    assert args["fee"] == fee
    transfers = [e for e in r.events if e.name == "Transfer" and e.args["to"] == mv.fund.address]
    assert transfers[0].args["value"] == fee // 4 // UNIT
    assert v.market_now(1)["ledger"]["fees"] - fees_before == fee
    assert v.market_now(2)["ledger"]["fees"] == 0


def test_trade_with_a_worse_fill_than_the_limit_reverts(make_mv):
    mv = make_mv([MarketSpec("BTC", 1_000, {"skewScale": 1_000 * WAD})])
    mv.setup(A, 10_000, [])
    r = mv.chain.execute_one(mv.venue.trade(A, 1, wad(10), wad(1_004)))
    assert r.error.name == "PriceLimitExceeded"
    assert r.error.args == {"fillPrice": wad(1_005), "acceptablePrice": wad(1_004)}
    assert mv.chain.execute_one(mv.venue.trade(A, 1, wad(10), wad(1_005))).ok


def test_isolated_margin_keeps_the_rest_of_the_collateral_out_of_the_position(mv):
    v = mv.venue
    mv.setup(A, 2_000, [])
    ok([mv.chain.execute_one(v.trade_isolated(A, 1, wad(3), 200 * WAD))])
    pos = v.position_now(A, 1)
    assert pos["isolated"] and pos["margin"] == 200 * WAD
    assert v.collateral_now(A) == 1_800 * WAD
    # the cross collateral can be withdrawn whatever the isolated position does
    assert mv.chain.execute_one(v.withdraw(A, usd(1_800))).ok
    # taking margin out must leave the isolated position its initial margin (150 = 5% of 3000)
    r = mv.chain.execute_one(v.trade_isolated(A, 1, wad("0.001"), -61 * WAD))
    assert r.error.name == "InsufficientMargin"
    assert r.error.args == {"equity": 139 * WAD, "required": wad("150.05")}


def test_margin_mode_cannot_change_with_an_open_position(mv):
    v = mv.venue
    mv.setup(A, 1_000, [(1, 1)])
    r = mv.chain.execute_one(v.trade_isolated(A, 1, wad(1), 100 * WAD))
    assert r.error.name == "WrongMarginMode" and r.error.args == {"market": 1, "isolated": False}
    ok([mv.chain.execute_one(v.trade_isolated(A, 2, wad(1), 100 * WAD))])
    r = mv.chain.execute_one(v.trade(A, 2, wad(1)))
    assert r.error.name == "WrongMarginMode" and r.error.args == {"market": 2, "isolated": True}


def test_velocity_funding_accrues_the_synthetix_formula_per_market_and_settles_against_the_pool(
    make_mv,
):
    velocity = {"maxFundingVelocity": WAD // 2, "skewScale": 1_000 * WAD}
    mv = make_mv([MarketSpec("BTC", 1_000, velocity), MarketSpec("ETH", 100, velocity)])
    v = mv.venue
    mv.setup(A, 100_000, [(1, 100)])  # BTC skew +100 -> proportional skew 0.1; ETH flat
    t0 = mv.chain.latest_timestamp()
    mv.chain.set_next_block_timestamp(t0 + 86_400)
    mv.push_all({1: 1_000, 2: 100})
    mv.chain.set_next_block_timestamp(t0 + 86_401)
    pool_before = v.accounting_now()["pool"]
    r = ok([mv.chain.execute_one(v.trade(A, 1, -wad(1)))])[0]
    # velocity 0.1 × 0.5 = 0.05 per day over dt = 86,401 s (one division, truncated); the
    # average rate is half of it; the long index grows by average × dt / 1 day × price, up
    dt = 86_401
    new_rate = (WAD // 10) * (WAD // 2) * dt // (WAD * 86_400)
    x = new_rate // 2 * dt
    long_index = -(-(x * 1_000 * WAD) // (86_400 * WAD))
    args = event(r, "PositionModified")
    paid = args["funding"]
    assert paid == 100 * long_index > 0  # 100 units × the index (the snapshot was 0)
    assert v.accounting_now()["pool"] == pool_before + paid - args["realizedPnl"]
    ledgers, flows, balance = mv.cash_identity()
    assert ledgers == flows == balance
    assert v.position_now(A, 1)["pendingFunding"] == 0  # settled by the trade
    assert v.market_now(2)["longFundingIndex"] == 0  # no skew, no funding on ETH


def test_premium_funding_uses_the_hyperliquid_clamp_and_cap(make_mv):
    premium = {"fundingModel": 1, "skewScale": 1_000 * WAD, "premiumInterestRate8h": wad("0.0001"),
               "premiumClamp8h": wad("0.0005"), "maxFundingRatePerHour": wad("0.04")}  # fmt: skip
    mv = make_mv([MarketSpec("BTC", 1_000, premium), MarketSpec("ETH", 100, premium)])
    v = mv.venue
    mv.setup(A, 100_000, [(1, 1)])  # BTC premium = 1/1000 = 0.1% > interest
    mv.chain.advance_time(3_600)
    mv.push_all({1: 1_000, 2: 100})
    # rate per day = 3 × (p + clamp(i − p, −c, c)) with p = skew/scale = 0.001: 3 × 0.0005
    assert v.market_now(1)["fundingRatePerDay"] == wad("0.0015")
    mv.setup(B, 1_000_000, [(1, 697)])  # premium 0.699 -> 3 × 0.6985 per day > cap 24 × 4%
    mv.chain.advance_time(60)
    mv.push_all({1: 1_000, 2: 100})
    ok([mv.chain.execute_one(v.trade(B, 1, -wad(1)))])
    assert v.market_now(1)["fundingRatePerDay"] == wad("0.96")
    assert v.market_now(2)["fundingRatePerDay"] == wad("0.0003")  # ETH: interest only, 3 × i


def test_ledgers_sum_to_the_venue_token_balance_after_trading_in_several_markets(make_mv):
    busy = {"skewScale": 500 * WAD, "takerFeeBps": 7, "insuranceFeeShareBps": 3_000,
            "maxFundingVelocity": WAD}  # fmt: skip
    mv = make_mv([MarketSpec("BTC", 1_000, busy), MarketSpec("ETH", 100, busy)])
    v = mv.venue
    mv.setup(A, 5_000, [(1, 3), (2, -12)])
    mv.setup(B, 5_000, [(1, -1), (2, 20)])
    mv.chain.advance_time(7_200)
    mv.push_all({1: "1023.456789", 2: "97.5"})
    ok(
        mv.chain.execute(
            [v.trade(A, 1, -wad("0.77")), v.trade(B, 2, wad(2)), v.withdraw(A, usd(123))]
        )
    )
    ledgers, flows, balance = mv.cash_identity()
    assert ledgers == flows == balance
