"""Cross-margin health and the dYdX v4 cross liquidation price against exact Python references,
for accounts with 2, 3 and 4 positions; the 1-wei tie equity == MM; isolated positions
independent of the other markets."""

from __future__ import annotations

import math

import pytest
from perp_helpers import KEEPER, TRADERS, WAD, ok, usd, wad
from venue_helpers import MarketSpec, cross_liquidation_price, mm_of, upnl

A, B, C = TRADERS[:3]
MMF = wad("0.025")
#: (market index in FOUR_MARKETS order, signed size, price): positions beside the first one.
OTHERS = [(2, 10, 100), (3, -20, 10), (4, 100, 2)]


def _liquidatable(mv, who) -> bool:
    _, _, liq = mv.chain.read_one(mv.venue.view("healthOf", [who]))
    return liq[0]


@pytest.mark.parametrize("n_positions", [2, 3, 4])
@pytest.mark.parametrize("side", [1, -1])
def test_cross_liquidation_price_matches_dydx_formula(mv, n_positions, side):
    """p' = (e − s·p − MMR_others)/(|s|·MMF − s); liquidatable just past it, not before."""
    v = mv.venue
    others = OTHERS[: n_positions - 1]
    mv.setup(A, 2_000, [(1, side * 10)] + [(m, s) for m, s, _ in others])
    # Move the other markets so that they carry PnL too.
    mv.push_all({2: 104, 3: 9.5, 4: 2.1})
    prices = {1: 1000 * WAD, 2: 104 * WAD, 3: wad("9.5"), 4: wad("2.1")}
    entries = {1: 1000 * WAD, 2: 100 * WAD, 3: 10 * WAD, 4: 2 * WAD}
    sizes = {1: side * 10 * WAD} | {m: s * WAD for m, s, _ in others}
    eq = usd(2_000) * 10**12 + sum(upnl(sizes[m], entries[m], prices[m]) for m in sizes)
    mm_others = sum(mm_of(sizes[m], prices[m], MMF) for m in sizes if m != 1)
    eq_chain, mm_chain, _ = v.health_now(A)
    assert eq_chain == eq
    assert mm_chain == mm_others + mm_of(sizes[1], prices[1], MMF)

    root = cross_liquidation_price(sizes[1], prices[1], prices[1], eq, MMF, mm_others)
    expected = math.ceil(root * WAD) if side > 0 else math.floor(root * WAD)
    assert v.read("liquidationPrice", A, 1) == expected

    before = math.ceil(root * WAD) + 1 if side > 0 else math.floor(root * WAD) - 1
    past = math.floor(root * WAD) - 1 if side > 0 else math.ceil(root * WAD) + 1
    mv.push(1, before)
    assert not _liquidatable(mv, A)
    r = mv.chain.execute_one(v.liquidate(KEEPER, A))
    assert not r.ok and r.error.name == "NotLiquidatable"
    mv.push(1, past)
    assert _liquidatable(mv, A)
    ok([mv.chain.execute_one(v.liquidate(KEEPER, A))])


@pytest.mark.parametrize("n_positions", [2, 3, 4])
def test_equity_equal_to_maintenance_is_not_liquidatable(mv, n_positions):
    """The exact 1-wei tie: at 960 equity == MM to the wei (not liquidatable); 1 wei lower it is."""
    v = mv.venue
    others = OTHERS[: n_positions - 1]
    sizes = {m: s * WAD for m, s, _ in others}
    mm_others = sum(mm_of(sizes[m], p * WAD, MMF) for m, s, p in others)
    # Long 10 BTC at 1000; at 960: equity = C − 400, MM = 240 + MM_others.
    collateral = 640 * WAD + mm_others
    assert collateral % 10**12 == 0
    mv.setup(A, collateral / WAD, [(1, 10)] + [(m, s) for m, s, _ in others])
    mv.push(1, 960)
    eq, mm, _ = v.health_now(A)
    assert eq == mm == 240 * WAD + mm_others
    assert not _liquidatable(mv, A)
    r = mv.chain.execute_one(v.liquidate(KEEPER, A))
    assert not r.ok and r.error.name == "NotLiquidatable"
    assert r.error.args["equity"] == r.error.args["maintenanceMargin"]
    mv.push(1, 960 * WAD - 1)
    eq, mm, _ = v.health_now(A)
    assert eq == mm - 10  # 10 contracts × 1 wei
    assert _liquidatable(mv, A)
    ok([mv.chain.execute_one(v.liquidate(KEEPER, A))])


def test_isolated_position_unaffected_by_other_markets(mv):
    """An isolated BTC position keeps its health and liquidation price while the same account's
    cross ETH position is crushed and liquidated."""
    v = mv.venue
    calls = mv.fund_calls([B], usd(10_000)) + [
        v.deposit(B, usd(1_000)),
        v.trade_isolated(B, 1, wad(10), wad(600)),
        v.trade(B, 2, wad(50)),
    ]
    ok(mv.chain.execute(calls))
    iso_before = v.read("isolatedHealth", B, 1)
    liq_before = v.read("liquidationPrice", B, 1)
    # Isolated reference: (entry − C/size)/(1 − mmf) with C = 600.
    expected = math.ceil((1000 - 60) / (1 - 0.025) * 10**6) * 10**12  # exact at 6 decimals here
    root = (1000 * WAD - 600 * WAD * WAD // (10 * WAD)) * WAD
    assert liq_before == -(-root // (WAD - MMF))
    assert abs(liq_before - expected) < 10**12
    mv.push(2, 90)  # ETH −10%: the cross part (400 collateral, 5000 notional) is underwater
    assert v.read("isolatedHealth", B, 1) == iso_before
    assert v.read("liquidationPrice", B, 1) == liq_before
    assert _liquidatable(mv, B)
    ok([mv.chain.execute_one(v.liquidate(KEEPER, B))])
    assert v.position_now(B, 2)["size"] == 0
    pos = v.position_now(B, 1)
    assert pos["size"] == 10 * WAD and pos["isolated"] and pos["margin"] == 600 * WAD
    assert v.read("isolatedHealth", B, 1) == iso_before
    # And the isolated position is liquidated on its own price only.
    r = mv.chain.execute_one(v.liquidate_isolated(KEEPER, B, 1))
    assert not r.ok and r.error.name == "NotLiquidatable"
    mv.push(1, liq_before - 10**9)
    ok([mv.chain.execute_one(v.liquidate_isolated(KEEPER, B, 1))])


def test_batch_views_over_many_accounts_equal_the_one_account_views(make_mv):
    """``healthOf`` and ``adlRanking`` take each market's price and accrued funding once per
    call (a memo over the accounts): with funding accrued unevenly across four markets, the
    batch gives every account exactly what ``accountHealth`` / a one-account ranking gives."""
    funding = {"skewScale": wad(1_000), "maxFundingVelocity": wad(3)}
    mv = make_mv(
        [
            MarketSpec(s, p, dict(funding))
            for s, p in (("BTC", 1_000), ("ETH", 100), ("SOL", 10), ("ALT", 2))
        ]
    )
    v = mv.venue
    mv.setup(A, 5_000, [(1, 2), (2, -10), (3, 40)])
    mv.setup(B, 3_000, [(2, 20), (4, -500)])
    mv.setup(C, 4_000, [(1, -1), (3, -25), (4, 300)])
    ok(mv.chain.execute(mv.fund_calls([C], usd(600)) + [v.trade_isolated(C, 2, wad(-5), wad(600))]))
    mv.chain.advance_time(6 * 3600)  # funding accrues on every skewed market
    mv.push_all({1: 1_030, 2: 97, 3: 10.4, 4: 1.9})
    mv.chain.advance_time(1800)
    states = [v.market_now(m) for m in (1, 2, 3, 4)]
    assert all(s["longFundingIndex"] != 0 or s["shortFundingIndex"] != 0 for s in states)

    accounts = [A, B, C, A, TRADERS[5]]  # a repeat and an account with nothing
    equities, mms, liquidatable = v.read("healthOf", accounts)
    for i, who in enumerate(accounts):
        eq, mm, _ = v.read("accountHealth", who)
        assert (equities[i], mms[i]) == (eq, mm)
        assert liquidatable[i] == (mm != 0 and eq < mm)
    for market in (1, 2, 3, 4):
        scores, pnls = v.read("adlRanking", market, accounts)
        for i, who in enumerate(accounts):
            one_scores, one_pnls = v.read("adlRanking", market, [who])
            assert (scores[i], pnls[i]) == (one_scores[0], one_pnls[0])
    assert any(scores) or any(v.read("adlRanking", 1, accounts)[0])
