"""Cross liquidation market by market (order, partial share, cooldown, penalty split), deficit
attribution per market and side, and the regression tests of F1, F7, F8 and F10 on the venue;
the mutation-check cases (a losing PnL and a sell fill to the wei, unequal OI caps)."""

from __future__ import annotations

from fractions import Fraction

from perp_helpers import KEEPER, TRADERS, WAD, event, events, ok, usd, wad
from venue_helpers import VAULT, MarketSpec

A, B, C, D, E = TRADERS[:5]


def _run(mv, call):
    return mv.chain.execute_one(call)


def test_liquidation_order_largest_maintenance_first_until_flat(make_mv):
    """Four cross positions, ETH crashes: BTC (largest MM) goes first, then ETH, SOL, ALT, each
    with its own market's penalty split (BTC keeper share 30%)."""
    mv = make_mv([
        MarketSpec("BTC", 1_000, {"keeperShareBps": 3_000}),
        MarketSpec("ETH", 100), MarketSpec("SOL", 10), MarketSpec("ALT", 2),
    ])  # fmt: skip
    v = mv.venue
    mv.setup(A, 1_200, [(1, 10), (2, 20), (3, 30), (4, 100)])
    mv.push(2, 45)  # ETH −55%: equity 100 < MM 285
    eq, mm, _ = v.health_now(A)
    assert (eq, mm) == (100 * WAD, 285 * WAD)
    keeper_before = mv.chain.read_one(mv.collateral.balance_of(KEEPER))
    fund_before = mv.chain.read_one(mv.fund.balance())
    r = ok([_run(mv, v.liquidate(KEEPER, A))])[0]
    liqs = events(r, "Liquidated")
    assert [e["market"] for e in liqs] == [1, 2, 3, 4]
    # BTC: fill at the index, no PnL, penalty 1% of 10,000 = 100 (the whole equity left):
    # keeper 30, fund 70 (keeper share other than 50%).
    assert liqs[0]["penalty"] == 100 * WAD
    assert liqs[0]["keeperReward"] == 30 * WAD and liqs[0]["insuranceShare"] == 70 * WAD
    assert mv.chain.read_one(mv.collateral.balance_of(KEEPER)) - keeper_before == usd(30)
    assert mv.chain.read_one(mv.fund.balance()) - fund_before == usd(70)
    # ETH closed at 45: realized −1,100 exactly; nothing left for a penalty.
    assert liqs[1]["realizedPnl"] == -1_100 * WAD and liqs[1]["penalty"] == 0
    acc = event(r, "AccountLiquidated")
    assert acc["positionsLiquidated"] == 4 and acc["deficit"] == 0
    assert len(v.read("positionsOf", A)) == 0
    assert v.collateral_now(A) == 0


def test_liquidation_stops_when_healthy(mv):
    """ETH −50%: closing BTC (largest MM) restores health; ETH, SOL and ALT stay open."""
    v = mv.venue
    mv.setup(A, 1_200, [(1, 10), (2, 20), (3, 30), (4, 100)])
    mv.push(2, 50)  # equity 200 < MM 287.5
    r = ok([_run(mv, v.liquidate(KEEPER, A))])[0]
    assert [e["market"] for e in events(r, "Liquidated")] == [1]
    eq, mm, _ = v.health_now(A)
    assert eq == 100 * WAD and mm == wad("37.5") and eq >= mm
    assert sorted(p[0] for p in v.read("positionsOf", A)) == [2, 3, 4]


def test_deficit_attributed_to_markets_by_their_losses(make_mv):
    """A bankrupt cross account: the deficit splits over the markets closed, in proportion to
    their realized losses, recorded per market and side (BTC long, SOL short); no fund."""
    mv = make_mv(
        [MarketSpec("BTC", 1_000), MarketSpec("ETH", 100), MarketSpec("SOL", 10)], fund_usd=0
    )
    v = mv.venue
    mv.setup(A, 1_000, [(1, 10), (3, -300)])  # IM 500 + 150
    mv.setup(B, 50_000, [(1, -10), (3, 300)])
    mv.push_all({1: 930, 3: 11})  # BTC loss 700, SOL loss 300: equity 0
    r = ok([_run(mv, v.liquidate(KEEPER, A))])[0]
    liqs = events(r, "Liquidated")
    losses = {e["market"]: -e["realizedPnl"] for e in liqs}
    assert losses == {1: 700 * WAD, 3: 300 * WAD}
    deficit = event(r, "AccountLiquidated")["deficit"]
    assert deficit == 0  # equity exactly 0, penalty capped at 0
    mv.push_all({1: 900, 3: 11.5})
    # Another account, deeper: BTC long and SOL short both lose.
    mv.setup(C, 1_000, [(1, 10), (3, -300)])
    mv.push_all({1: 840, 3: 12.5})  # losses 600 and 300 vs 1,000 collateral... then deeper:
    mv.push_all({1: 800, 3: 13})  # losses 1,000 and 450: deficit 450
    r = ok([_run(mv, v.liquidate(KEEPER, C))])[0]
    liqs = events(r, "Liquidated")
    losses = {e["market"]: -e["realizedPnl"] for e in liqs}
    assert losses == {1: 1_000 * WAD, 3: 450 * WAD}
    deficit = event(r, "AccountLiquidated")["deficit"]
    assert deficit == 450 * WAD
    parts = {e["market"]: e for e in events(r, "DeficitAttributed")}
    total = sum(losses.values())
    btc_share = deficit * losses[1] // total
    assert parts[1]["deficit"] == btc_share + (deficit - btc_share - deficit * losses[3] // total)
    assert parts[3]["deficit"] == deficit * losses[3] // total
    assert parts[1]["longBankrupt"] is True and parts[3]["longBankrupt"] is False
    assert parts[1]["deficit"] + parts[3]["deficit"] == deficit
    assert mv.venue.market_now(1)["ledger"]["badDebtLongs"] == parts[1]["deficit"]
    assert mv.venue.market_now(3)["ledger"]["badDebtShorts"] == parts[3]["deficit"]
    assert mv.venue.market_now(2)["ledger"]["totalDeficit"] == 0
    ledgers, flows, balance = mv.cash_identity()
    assert ledgers == flows == balance


def test_losing_pnl_and_sell_fill_to_the_wei(make_mv):
    """Negative branches of the floored signed mulDiv: a losing close and a sell's skew impact
    round down (towards −∞), not towards zero."""
    mv = make_mv([MarketSpec("BTC", 1_000), MarketSpec("ETH", 1_000, {"skewScale": 7 * WAD})])
    v = mv.venue
    size = 333_333_333_333_333_333
    mv.setup(A, 10_000, [(1, Fraction(size, WAD))])
    mv.push(1, 999 * WAD + 1)
    pos = v.position_now(A, 1)
    product = -(WAD - 1) * size
    assert pos["unrealizedPnl"] == product // WAD  # floor: ...333, not ...332
    assert pos["unrealizedPnl"] == -333_333_333_333_333_333
    r = ok([_run(mv, v.close_position(A, 1))])[0]
    assert event(r, "PositionModified")["realizedPnl"] == -333_333_333_333_333_333
    # Sell 3 with skew scale 7: impact = −3·1000/14 = −214.28571428571428571428...
    ok(mv.chain.execute(mv.fund_calls([B], usd(10_000)) + [v.deposit(B, usd(10_000))]))
    r = ok([_run(mv, v.trade(B, 2, -3 * WAD))])[0]
    impact = (-3 * WAD * 1_000 * WAD) // (14 * WAD)
    assert impact == -214_285_714_285_714_285_715
    assert event(r, "PositionModified")["fill"] == 1_000 * WAD + impact


def test_open_interest_caps_each_side_on_its_own(make_mv):
    """Long cap 100, short cap 50: a short of 60 is refused against the short cap, a long of 60
    is allowed, a long beyond 100 refused against the long cap."""
    mv = make_mv(
        [
            MarketSpec(
                "BTC", 1_000, {"maxLongOpenInterest": 100 * WAD, "maxShortOpenInterest": 50 * WAD}
            )
        ]
    )
    v = mv.venue
    ok(
        mv.chain.execute(
            mv.fund_calls([A, B], usd(1_000_000))
            + [v.deposit(A, usd(500_000)), v.deposit(B, usd(500_000))]
        )
    )
    r = _run(mv, v.trade(A, 1, -60 * WAD))
    assert not r.ok and r.error.name == "OpenInterestCapExceeded"
    assert r.error.args["long"] is False and r.error.args["cap"] == 50 * WAD
    ok([_run(mv, v.trade(A, 1, -50 * WAD))])
    ok([_run(mv, v.trade(B, 1, 60 * WAD))])
    r = _run(mv, v.trade(B, 1, 41 * WAD))
    assert not r.ok and r.error.args["long"] is True and r.error.args["cap"] == 100 * WAD
    ok([_run(mv, v.trade(B, 1, 40 * WAD))])


PARTIAL = {"partialLiquidationThreshold": 5_000 * WAD, "partialLiquidationShareBps": 2_000,
           "liquidationCooldown": 30, "fullLiquidationAfterCooldown": True}  # fmt: skip


def test_f1_partial_mark_lapses_when_the_account_recovers(make_mv):
    """F1: partially liquidated, recovered, hours later liquidatable again: partial (20% of 8 =
    1.6), like an unmarked account, not the whole 8."""
    mv = make_mv([MarketSpec("BTC", 1_000, PARTIAL)])
    v = mv.venue
    mv.setup(A, 600, [(1, 10)])
    mv.push(1, 960)
    r = ok([_run(mv, v.liquidate(KEEPER, A))])[0]
    first = event(r, "Liquidated")
    assert first["sizeClosed"] == 2 * WAD and first["full"] is False
    # Inside the cooldown nothing can be liquidated; just after it, the whole position goes.
    r = _run(mv, v.liquidate(KEEPER, A))
    assert not r.ok and r.error.name == "NothingLiquidatableNow"
    mv.push(1, 1_000)  # recovered
    mv.chain.advance_time(3 * 3600)
    mv.push(1, 1_000)
    mv.setup(B, 460, [(1, 8)])  # an unmarked account of the same size and similar margin
    margin_a = v.collateral_now(A)
    mv.push(1, 955)
    assert v.health_now(A)[0] < v.health_now(A)[1]
    r = ok([_run(mv, v.liquidate(KEEPER, A))])[0]
    again = event(r, "Liquidated")
    assert again["sizeClosed"] == wad("1.6") and again["full"] is False
    r = ok([_run(mv, v.liquidate(KEEPER, B))])[0]
    assert event(r, "Liquidated")["sizeClosed"] == again["sizeClosed"]
    assert margin_a > 0


def test_partial_then_whole_after_the_cooldown(make_mv):
    """Hyperliquid: a position still liquidatable just after its cooldown goes whole."""
    mv = make_mv([MarketSpec("BTC", 1_000, PARTIAL)])
    v = mv.venue
    mv.setup(A, 600, [(1, 10)])
    mv.push(1, 960)
    ok([_run(mv, v.liquidate(KEEPER, A))])
    mv.chain.advance_time(31)
    mv.push(1, 955)
    r = ok([_run(mv, v.liquidate(KEEPER, A))])[0]
    assert event(r, "Liquidated")["sizeClosed"] == 8 * WAD and event(r, "Liquidated")["full"]


def test_f7_liquidation_fill_bounded_by_index_and_maximum_impact(make_mv):
    """F7: sell to build a short skew, liquidate a long, buy back: the victim's fill is held at
    index·(1 − 1%), so it does not go bankrupt and the insurance fund pays nothing."""
    mv = make_mv(
        [MarketSpec("BTC", 1_000, {"skewScale": 1_000 * WAD, "maxLiquidationImpactBps": 100})]
    )
    v = mv.venue
    mv.setup(A, 600, [(1, 10)])  # fill with impact: 1000·(1 + 10/2000) = 1005
    mv.push(1, 963)
    eq, mm, _ = v.health_now(A)
    assert eq < mm and eq > 0
    fund_before = mv.chain.read_one(mv.fund.balance())
    mv.setup(E, 1_000_000, [])
    calls = [v.trade(E, 1, -300 * WAD), v.liquidate(KEEPER, A), v.trade(E, 1, 300 * WAD)]
    results = ok(mv.chain.execute(calls))
    liq = event(results[1], "Liquidated")
    skew_fill = 963 * WAD + (-590 * WAD * 963 * WAD) // (2_000 * WAD)  # skew −290, sell 10
    assert skew_fill < 680 * WAD  # unbounded, the victim would sell at 678.9: bankrupt
    assert liq["fill"] == -((-963 * WAD * 9_900) // 10_000)
    assert event(results[1], "AccountLiquidated")["deficit"] == 0
    assert mv.chain.read_one(mv.fund.balance()) >= fund_before


def test_f8_backstop_refuses_to_leave_the_vault_under_maintenance(mv):
    """F8: a takeover that would leave the vault's own account below maintenance reverts; with
    enough vault collateral it goes through and the vault ends at or above maintenance."""
    v = mv.venue
    mv.setup(A, 1_000, [(1, 10), (2, 50)])
    mv.push_all({1: 940, 2: 93})  # equity 1000 − 600 − 350 = 50 < 2/3 of MM (235 + 116.25)
    ok(mv.chain.execute(mv.fund_calls([VAULT], usd(1_000)) + [v.deposit(VAULT, usd(100))]))
    r = _run(mv, v.backstop_takeover(KEEPER, A))
    assert not r.ok and r.error.name == "BackstopWouldBeUnderwater"
    assert r.error.args["vaultEquity"] < r.error.args["vaultMaintenanceMargin"]
    ok(mv.chain.execute([v.deposit(VAULT, usd(400))]))
    r = ok([_run(mv, v.backstop_takeover(KEEPER, A))])[0]
    e = event(r, "BackstopTakeover")
    assert e["positions"] == 2 and e["vaultEquityAfter"] >= e["vaultMaintenanceMarginAfter"]
    eq, mm, _ = v.health_now(VAULT)
    assert eq == 550 * WAD and mm == wad("351.25")
    assert len(v.read("positionsOf", A)) == 0 and v.collateral_now(A) == 0
    # The vault cannot be liquidated in the same block by the same caller.
    r = _run(mv, v.liquidate(KEEPER, VAULT))
    assert not r.ok and r.error.name == "NotLiquidatable"


def test_f10_parameter_change_accrues_funding_under_the_old_parameters(make_mv):
    """F10: funding accrued before a change is priced at the old rate; the new rate applies only
    after it."""
    premium = {"fundingModel": 1, "premiumInterestRate8h": wad("0.0001"), "premiumClamp8h": WAD}
    mv = make_mv([MarketSpec("BTC", 1_000, premium)])
    v = mv.venue
    r = mv.setup(A, 10_000, [(1, 10)])[-1]
    t0 = mv.chain.latest_timestamp()
    mv.chain.advance_time(86_400)
    mv.push(1, 1_000)
    params = v.as_dict("marketParameters", v.read("marketParameters", 1))
    params["premiumInterestRate8h"] = wad("0.001")  # ten times the old rate
    ok([mv.govern(v.call(mv.timelock.address, "setMarketParameters", 1, v.params_tuple(params)))])
    t1 = mv.chain.latest_timestamp()
    rate_day = 3 * wad("0.0001")
    index = -((-rate_day * (t1 - t0) * 1_000 * WAD) // (86_400 * WAD))
    owed = -((-index * 10 * WAD) // WAD)
    assert v.position_now(A, 1)["pendingFunding"] == owed  # before the fix: about 10x this
    assert r.ok
    # After the change the new rate accrues, from t1 on only.
    mv.chain.advance_time(3_600)
    mv.push(1, 1_000)
    t2 = mv.chain.latest_timestamp()
    index2 = index - ((-wad("0.003") * (t2 - t1) * 1_000 * WAD) // (86_400 * WAD))
    assert v.position_now(A, 1)["pendingFunding"] == -((-index2 * 10 * WAD) // WAD)


def test_isolated_bankruptcy_is_its_market_and_sides_deficit(make_mv):
    """An isolated short goes bankrupt: its margin alone absorbs the loss, the deficit is the
    market's short side, and the account's cross collateral is untouched."""
    mv = make_mv([MarketSpec("BTC", 1_000), MarketSpec("ETH", 100)], fund_usd=0)
    v = mv.venue
    ok(mv.chain.execute(mv.fund_calls([D], usd(5_000)) + [v.deposit(D, usd(5_000))]))
    ok([_run(mv, v.trade_isolated(D, 2, -100 * WAD, 600 * WAD))])  # short 100 ETH, 600 margin
    assert v.collateral_now(D) == 4_400 * WAD
    mv.push(2, 107)  # loss 700 > margin 600
    r = ok([_run(mv, v.liquidate_isolated(KEEPER, D, 2))])[0]
    liq = event(r, "Liquidated")
    assert (
        liq["realizedPnl"] == -700 * WAD and liq["penalty"] == 0 and liq["sizeClosed"] == -100 * WAD
    )
    part = event(r, "DeficitAttributed")
    assert (part["market"], part["longBankrupt"], part["deficit"]) == (2, False, 100 * WAD)
    assert v.market_now(2)["ledger"]["badDebtShorts"] == 100 * WAD
    assert v.collateral_now(D) == 4_400 * WAD  # the cross balance does not pay
    assert len(v.read("positionsOf", D)) == 0
    ledgers, flows, balance = mv.cash_identity()
    assert ledgers == flows == balance


def test_per_block_cap_skips_a_market_and_liquidates_the_next(make_mv):
    """BTC's per-block cap (5,460 USD) is used up by the first account (6 BTC at 910); the second
    account's BTC position is skipped in that block while its ETH position is liquidated."""
    cap = {"maxLiquidationNotionalPerBlock": 5_460 * WAD}
    mv = make_mv([MarketSpec("BTC", 1_000, cap), MarketSpec("ETH", 100)])
    v = mv.venue
    mv.setup(A, 600, [(1, 6)])
    mv.setup(B, 560, [(1, 6), (2, 30)])
    mv.push_all({1: 910, 2: 100})
    results = mv.chain.execute([v.liquidate(KEEPER, A), v.liquidate(KEEPER, B)])
    ok(results)
    assert results[0].block_number == results[1].block_number
    assert [e["market"] for e in events(results[0], "Liquidated")] == [1]
    second = events(results[1], "Liquidated")
    assert [e["market"] for e in second] == [2]  # BTC (larger MM) skipped: the cap is used up
    assert v.position_now(B, 1)["size"] == 6 * WAD


def test_f1_healthy_trade_clears_the_partial_mark(make_mv):
    """Inside the mark's window a trade that leaves the account healthy clears the mark: the
    next liquidation is partial again (Hyperliquid would otherwise take the whole position)."""
    mv = make_mv([MarketSpec("BTC", 1_000, PARTIAL)])
    v = mv.venue
    mv.setup(A, 600, [(1, 10)])
    mv.push(1, 960)
    ok([_run(mv, v.liquidate(KEEPER, A))])
    assert v.position_now(A, 1)["partialLiquidatedAt"] != 0
    mv.chain.advance_time(35)  # past the cooldown, inside the window
    mv.push(1, 1_000)
    ok(
        mv.chain.execute(
            mv.fund_calls([A], usd(500)) + [v.deposit(A, usd(500)), v.trade(A, 1, WAD // 10)]
        )
    )
    assert v.position_now(A, 1)["partialLiquidatedAt"] == 0
    mv.push(1, 890)  # equity 1000.8 − 891 < MM 180.2: liquidatable again, inside the window
    r = ok([_run(mv, v.liquidate(KEEPER, A))])[0]
    assert event(r, "Liquidated")["full"] is False
