"""Accounts, trading, fees, open-interest caps, margin modes and funding of the perp market."""

from __future__ import annotations

from fractions import Fraction

from perp_helpers import (
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


def test_deposit_credits_margin_and_emits_the_amount_in_wad(chain, venue):
    m = venue.market
    fund(chain, venue, [A], 1_000)
    r = chain.execute_one(m.deposit(A, usd(250)))
    assert r.ok
    assert event(r, "Deposited") == {"account": A, "amount": 250 * WAD, "toIdle": False}
    assert m.account_now(A)["margin"] == 250 * WAD


def test_withdraw_without_a_position_returns_the_tokens(chain, venue):
    m = venue.market
    fund(chain, venue, [A], 1_000)
    ok(chain.execute([m.deposit(A, usd(1_000)), m.withdraw(A, usd(400))]))
    assert chain.read_one(venue.collateral.balance_of(A)) == usd(400)
    assert m.account_now(A)["margin"] == 600 * WAD


def test_withdraw_more_than_the_balance_reverts_with_both_amounts(chain, venue):
    m = venue.market
    fund(chain, venue, [A], 100)
    r = chain.execute([m.deposit(A, usd(100)), m.withdraw(A, usd(101))])[1]
    assert not r.ok
    assert r.error.name == "InsufficientBalance"
    assert r.error.args == {"available": 100 * WAD, "requested": 101 * WAD}


def test_withdraw_reverts_when_it_would_leave_the_account_under_initial_margin(chain, venue):
    m = venue.market
    open_position(chain, venue, A, 1_000, 10)  # 10 × 1000 = 10k notional, IM 5% = 500
    r = chain.execute_one(m.withdraw(A, usd(501)))
    assert r.error.name == "WithdrawalBelowInitialMargin"
    assert r.error.args == {"equityAfter": 499 * WAD, "initialMargin": 500 * WAD}
    assert chain.execute_one(m.withdraw(A, usd(500))).ok


def test_open_beyond_max_leverage_reverts_with_equity_and_initial_margin(chain, venue):
    m = venue.market
    fund(chain, venue, [A], 1_000)
    r = chain.execute([m.deposit(A, usd(1_000)), m.trade(A, wad(20.001), 0)])[1]
    assert r.error.name == "InsufficientMargin"
    assert r.error.args == {"equity": 1_000 * WAD, "required": wad("1000.05")}
    assert chain.execute_one(m.trade(A, wad(20), 0)).ok


def test_increase_averages_the_entry_and_reduce_realizes_pnl_against_the_pool(chain, venue):
    m = venue.market
    open_position(chain, venue, A, 10_000, 2)
    set_price(chain, venue, 1_100)
    r = ok([chain.execute_one(m.trade(A, wad(2), 0))])[0]
    assert event(r, "PositionModified")["entryPrice"] == 1_050 * WAD
    pool_before = m.accounting_now()["pool"]
    set_price(chain, venue, 1_200)
    r = ok([chain.execute_one(m.trade(A, -wad(1), 0))])[0]
    args = event(r, "PositionModified")
    assert args["realizedPnl"] == 150 * WAD
    assert args["newSize"] == 3 * WAD and args["entryPrice"] == 1_050 * WAD
    assert m.accounting_now()["pool"] == pool_before - 150 * WAD
    assert m.account_now(A)["margin"] == 10_150 * WAD


def test_a_trade_through_zero_flips_the_position_at_the_fill(chain, venue):
    m = venue.market
    open_position(chain, venue, A, 10_000, 2)
    set_price(chain, venue, 900)
    r = ok([chain.execute_one(m.trade(A, -wad(5), 0))])[0]
    args = event(r, "PositionModified")
    assert args["realizedPnl"] == -200 * WAD
    assert args["newSize"] == -3 * WAD and args["entryPrice"] == 900 * WAD
    assert chain.read_one(m.open_interest()) == (0, 3 * WAD)


def test_close_position_leaves_no_size_and_no_entry(chain, venue):
    m = venue.market
    open_position(chain, venue, A, 1_000, -3)
    r = ok([chain.execute_one(m.close_position(A))])[0]
    assert event(r, "PositionModified")["newSize"] == 0
    acct = m.account_now(A)
    assert acct["size"] == 0 and acct["entryPrice"] == 0
    assert chain.read_one(m.open_interest()) == (0, 0)


def test_fill_price_follows_the_synthetix_skew_formula(chain, make_venue):
    v = make_venue(skew_scale=1_000, taker_fee_bps=10, insurance_fee_share_bps=2_500)
    m = v.market
    open_position(chain, v, A, 100_000, 100)  # skew 0 -> 100
    skew, size, price, scale = 100, 30, 1_000, 1_000
    expected = (
        Fraction(price) * (1 + Fraction(skew, scale))
        + Fraction(price) * (1 + Fraction(skew + size, scale))
    ) / 2
    assert chain.read_one(m.fill_price(wad(size))) == wad(expected)
    fund(chain, v, [B], 100_000)
    r = ok(chain.execute([m.deposit(B, usd(100_000)), m.trade(B, wad(size), 0)]))[1]
    args = event(r, "PositionModified")
    assert args["fillPrice"] == wad(expected)
    # fee: 10 bps of the filled notional; a quarter of it goes to the insurance fund
    fee = wad(Fraction(size) * expected * Fraction(10, 10_000))
    assert args["fee"] == fee
    transfers = [
        e for e in r.events if e.name == "Transfer" and e.args["to"] == v.insurance_fund.address
    ]
    assert transfers[0].args["value"] == fee // 4 // UNIT


def test_trade_with_a_worse_fill_than_the_limit_reverts(chain, make_venue):
    v = make_venue(skew_scale=1_000)
    fund(chain, v, [A], 10_000)
    r = chain.execute([v.market.deposit(A, usd(10_000)), v.market.trade(A, wad(10), wad(1_004))])[1]
    assert r.error.name == "PriceLimitExceeded"
    assert r.error.args == {"fillPrice": wad(1_005), "acceptablePrice": wad(1_004)}


def test_open_interest_cap_refuses_a_trade_that_exceeds_it(chain, make_venue):
    v = make_venue(max_long_open_interest=15)
    m = v.market
    open_position(chain, v, A, 10_000, 10)
    fund(chain, v, [B], 10_000)
    r = chain.execute([m.deposit(B, usd(10_000)), m.trade(B, wad(6), 0)])[1]
    assert r.error.name == "OpenInterestCapExceeded"
    assert r.error.args == {"long": True, "openInterest": 16 * WAD, "cap": 15 * WAD}
    assert chain.execute_one(m.trade(B, wad(5), 0)).ok
    # reducing is always allowed above the cap
    assert chain.execute_one(m.trade(A, -wad(1), 0)).ok


def test_isolated_mode_keeps_idle_balance_out_of_the_position(chain, venue):
    m = venue.market
    fund(chain, venue, [A], 2_000)
    r = ok(
        chain.execute(
            [
                m.set_margin_mode(A, True),
                m.deposit(A, usd(2_000)),
                m.allocate_margin(A, usd(200)),
                m.trade(A, wad(3), 0),
            ]
        )
    )
    assert event(r[1], "Deposited")["toIdle"] is True
    acct = m.account_now(A)
    assert acct["isolated"] and acct["margin"] == 200 * WAD and acct["idle"] == 1_800 * WAD
    assert chain.read_one(m.equity(A)) == 200 * WAD
    # the idle balance can be withdrawn whatever the position does
    assert chain.execute_one(m.withdraw(A, usd(1_800))).ok
    r = chain.execute_one(m.allocate_margin(A, -usd(60)))
    assert r.error.name == "WithdrawalBelowInitialMargin"
    assert r.error.args == {"equityAfter": 140 * WAD, "initialMargin": 150 * WAD}


def test_margin_mode_cannot_change_with_an_open_position(chain, venue):
    open_position(chain, venue, A, 1_000, 1)
    r = chain.execute_one(venue.market.set_margin_mode(A, True))
    assert r.error.name == "PositionOpen" and r.error.args == {"size": WAD}


def test_velocity_funding_accrues_the_synthetix_formula_and_settles_against_the_pool(
    chain, make_venue
):
    v = make_venue(max_funding_velocity=0.5, skew_scale=1_000)
    m = v.market
    open_position(chain, v, A, 100_000, 100)  # skew +100 -> proportional skew 0.1
    t0 = chain.read_one(m.funding_indices())
    rate0 = chain.read_one(m.funding_rate_per_day())
    assert t0 == (0, 0) and rate0 == 0
    chain.advance_time(86_400)
    ok([chain.execute_one(v.push_price(wad(1_000)))])
    # velocity = 0.1 × 0.5 = 0.05 per day; after ~1 day the rate is ~0.05 and the average ~0.025
    rate = chain.read_one(m.funding_rate_per_day())
    long_index, short_index = chain.read_one(m.funding_indices())
    acct = m.account_now(A)
    dt = Fraction(rate, WAD) / Fraction(5, 100) * 86_400  # seconds elapsed, from the rate
    assert abs(dt - 86_400) < 5
    expected_long = Fraction(rate, 2 * WAD) * dt / 86_400 * 1_000  # average rate × days × price
    assert abs(Fraction(long_index, WAD) - expected_long) < Fraction(1, 10**15)
    assert long_index == -short_index or long_index == -short_index + 1
    assert acct["pendingFunding"] == -(-long_index * 100 // 1)  # 100 units × index, rounded up
    pool_before = m.accounting_now()["pool"]
    r = ok([chain.execute_one(m.trade(A, -wad(1), 0))])[0]
    args = event(r, "PositionModified")
    assert args["fundingPaid"] == acct["pendingFunding"] > 0
    assert m.accounting_now()["pool"] == pool_before + args["fundingPaid"] - args["realizedPnl"]


def test_premium_funding_uses_the_hyperliquid_clamp_and_cap(chain, make_venue):
    v = make_venue(
        funding_model="premium", skew_scale=1_000, premium_interest_rate_8h=0.0001, premium_clamp_8h=0.0005,
        max_funding_rate_per_hour=0.04,
    )  # fmt: skip
    m = v.market
    open_position(chain, v, A, 100_000, 1)  # premium = 1/1000 = 0.1% > interest
    chain.advance_time(3_600)
    ok([chain.execute_one(v.push_price(wad(1_000)))])
    # F8h = 0.001 + clamp(0.0001 - 0.001, -0.0005, 0.0005) = 0.0005; per day 3 × F8h
    assert chain.read_one(m.funding_rate_per_day()) == wad("0.0015")
    open_position(chain, v, B, 1_000_000, 699)  # premium 0.7 -> 3 × 0.6995 per day > cap 24 × 4%
    chain.advance_time(60)
    ok([chain.execute_one(v.push_price(wad(1_000)))])
    assert chain.read_one(m.funding_rate_per_day()) == wad("0.96")


def test_ledgers_sum_to_the_market_token_balance_after_trading(chain, make_venue):
    v = make_venue(
        skew_scale=500, taker_fee_bps=7, insurance_fee_share_bps=3_000, max_funding_velocity=1
    )
    m = v.market
    open_position(chain, v, A, 5_000, 30)
    open_position(chain, v, B, 5_000, -12)
    chain.advance_time(7_200)
    set_price(chain, v, "1023.456789")
    ok(
        chain.execute(
            [m.trade(A, -wad("7.77"), 0), m.trade(B, wad(20), 0), m.withdraw(A, usd(123))]
        )
    )
    ledgers, flows, balance = market_cash_identity(v)
    assert ledgers == flows == balance
