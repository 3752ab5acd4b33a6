"""Listing and parameter changes per market (timelock, guardian tighten-only, controller), the
position bound per account, the circuit breaker and risk pause of one market only."""

from __future__ import annotations

from perp_helpers import GUARDIAN, TRADERS, WAD, ok, usd, wad
from venue_helpers import BASE_MARKET, CONTROLLER, MarketSpec

A, B = TRADERS[24:26]


def _symbol(s: str) -> bytes:
    return s.encode().ljust(32, b"\0")


def test_listing_goes_through_the_timelock_only(mv):
    v = mv.venue
    params = v.params_tuple(BASE_MARKET)
    oracle = mv.oracles[1].address
    r = mv.chain.execute_one(v.call(A, "listMarket", _symbol("DOGE"), oracle, params, []))
    assert not r.ok and r.error.name == "AccessControlUnauthorizedAccount"
    other = mv.oracles[2].address
    r = mv.govern(v.call(mv.timelock.address, "listMarket", _symbol("BTC"), other, params, []))
    assert not r.ok  # the timelock's execution reverts (MarketAlreadyListed): BTC is listed
    r = ok(
        [mv.govern(v.call(mv.timelock.address, "listMarket", _symbol("DOGE"), oracle, params, []))]
    )[0]
    assert [e.args["market"] for e in r.events if e.name == "MarketListed"] == [5]
    assert v.read("marketCount") == 5 and v.read("maxMarkets") == 256
    bad = dict(BASE_MARKET, maintenanceMarginFraction=WAD // 10)  # above 1/maxLeverage
    r = mv.govern(
        v.call(mv.timelock.address, "listMarket", _symbol("PEPE"), oracle, v.params_tuple(bad), [])
    )
    assert not r.ok


def test_guardian_only_tightens_one_market(mv):
    v = mv.venue
    r = mv.chain.execute_one(v.call(GUARDIAN, "guardianSetMaxLeverage", 2, 30 * WAD))
    assert not r.ok and r.error.name == "GuardianCannotLoosen"
    ok([mv.chain.execute_one(v.call(GUARDIAN, "guardianSetMaxLeverage", 2, 10 * WAD))])
    assert v.as_dict("marketParameters", v.read("marketParameters", 2))["maxLeverage"] == 10 * WAD
    assert v.as_dict("marketParameters", v.read("marketParameters", 1))["maxLeverage"] == 20 * WAD
    r = mv.chain.execute_one(
        v.call(GUARDIAN, "guardianSetOpenInterestCaps", 1, 20_000 * WAD, 5 * WAD)
    )
    assert not r.ok and r.error.args["name"].rstrip(b"\0") == b"maxLongOpenInterest"
    ok(
        [
            mv.chain.execute_one(
                v.call(GUARDIAN, "guardianSetOpenInterestCaps", 1, 10_000 * WAD, 5 * WAD)
            )
        ]
    )
    ok([mv.chain.execute_one(v.call(CONTROLLER, "setMarginScale", 3, 2 * WAD))])
    assert v.market_now(3)["marginScale"] == 2 * WAD and v.market_now(1)["marginScale"] == WAD
    r = mv.chain.execute_one(v.call(A, "setMarginScale", 3, WAD))
    assert not r.ok and r.error.name == "AccessControlUnauthorizedAccount"


def test_risk_pause_and_breaker_are_per_market(make_mv):
    mv = make_mv([
        MarketSpec("BTC", 1_000, {"circuitBreakerBandBps": 500, "circuitBreakerWindow": 600}),
        MarketSpec("ETH", 100),
    ])  # fmt: skip
    v = mv.venue
    ok(mv.chain.execute(mv.fund_calls([A], usd(100_000)) + [v.deposit(A, usd(50_000))]))
    mv.chain.advance_time(300)
    mv.push(1, 1_000)
    mv.push(1, 1_100)  # +10% against a TWAP near 1000: BTC's breaker trips
    r = mv.chain.execute_one(v.trade(A, 1, WAD))
    assert not r.ok and r.error.name == "CircuitBreakerTripped" and r.error.args["market"] == 1
    ok([mv.chain.execute_one(v.trade(A, 2, WAD))])  # ETH trades on
    ok([mv.chain.execute_one(v.call(GUARDIAN, "guardianPauseRisk", 2))])
    r = mv.chain.execute_one(v.trade(A, 2, WAD))
    assert not r.ok and r.error.name == "RiskPaused" and r.error.args["market"] == 2
    ok([mv.chain.execute_one(v.trade(A, 2, -WAD))])  # reducing risk stays allowed


def test_positions_per_account_are_bounded(chain, make_mv):
    mv = make_mv([MarketSpec(f"M{i}", 10) for i in range(9)])
    v = mv.venue
    assert v.read("maxPositionsPerAccount") == 8
    calls = mv.fund_calls([B], usd(100_000)) + [v.deposit(B, usd(100_000))]
    calls += [v.trade(B, m, WAD) for m in range(1, 9)]
    ok(chain.execute(calls))
    r = chain.execute_one(v.trade(B, 9, WAD))
    assert not r.ok and r.error.name == "TooManyPositions"
    ok([chain.execute_one(v.close_position(B, 1))])
    ok([chain.execute_one(v.trade(B, 9, wad(1)))])
