"""Per-market ADL under every policy, each ADL event's record (deficit, minimum haircut,
haircuts, covered, overshoot, contracts and notional) checked against a Python computation;
the F4 trust model and the F5 socialized-loss bound on the venue."""

from __future__ import annotations

import pytest
from perp_helpers import KEEPER, TRADERS, WAD, event, events, ok, usd
from venue_helpers import ADL, ADL_KEEPER, BANKRUPTCY_PRICE, PREVIOUS_MARK, MarketSpec

L, W1, W2, W3, DUST, OTHER = TRADERS[10:16]
WINNERS = {W1: (10, 2_000), W2: (5, 5_000), W3: (20, 3_000)}  # short size, collateral
CRASH = 930


def _book(make_mv, policy: str, price_mode: int = BANKRUPTCY_PRICE):
    """BTC (market 1) under `policy`, ETH beside it; no insurance fund: L (long 35 at 1000 with
    2,000) goes bankrupt at 930 with a deficit of 450 attributed to BTC longs."""
    mv = make_mv(
        [
            MarketSpec("BTC", 1_000, {"adlPolicy": ADL[policy], "adlPriceMode": price_mode}),
            MarketSpec("ETH", 100),
        ],
        fund_usd=0,
    )
    for w, (size, coll) in WINNERS.items():
        mv.setup(w, coll, [(1, -size)])
    mv.setup(L, 2_000, [(1, 35)])
    mv.setup(OTHER, 5_000, [(2, -10)])  # a winner of another market
    mv.push(1, CRASH)
    mv.push(2, 90)
    r = ok([mv.chain.execute_one(mv.venue.liquidate(KEEPER, L))])[0]
    return mv, r


def _ranked(mv) -> list[str]:
    scores, _ = mv.venue.read("adlRanking", 1, list(WINNERS))
    return [w for _, w in sorted(zip(scores, WINNERS, strict=True), reverse=True)]


def _profit(w) -> int:
    return WINNERS[w][0] * (1_000 - CRASH) * WAD


def _score(w) -> int:
    """Hyperliquid's rank (entry/mark)·(notional/account value) for a short, as on chain."""
    size, coll = WINNERS[w]
    ratio = 1_000 * WAD * WAD // (CRASH * WAD)
    notional = size * CRASH * WAD
    value = coll * WAD + _profit(w)
    return (ratio * notional // WAD) * WAD // value


def _identity(mv):
    ledgers, flows, balance = mv.cash_identity()
    assert ledgers == flows == balance
    accounts = [L, W1, W2, W3, OTHER, KEEPER]
    assert mv.balances_sum(accounts) == mv.venue.accounting_now()["totalCollateral"]


@pytest.mark.parametrize("policy", ["none", "contracts_queue", "profit_queue", "pro_rata"])
def test_deficit_recorded_on_the_bankrupt_market_and_side(make_mv, policy):
    mv, r = _book(make_mv, policy)
    part = event(r, "DeficitAttributed")
    assert (part["market"], part["longBankrupt"], part["deficit"]) == (1, True, 450 * WAD)
    assert part["contracts"] == 35 * WAD
    assert part["adlPrice"] == CRASH * WAD - (-(450 * WAD * WAD) // (35 * WAD))  # fill + ceil gap
    btc, eth = mv.venue.market_now(1)["ledger"], mv.venue.market_now(2)["ledger"]
    assert btc["badDebtLongs"] == 450 * WAD and btc["badDebtShorts"] == 0
    assert eth["totalDeficit"] == 0 and eth["badDebtLongs"] == eth["badDebtShorts"] == 0
    _identity(mv)


def test_none_keeps_bad_debt(make_mv):
    mv, _ = _book(make_mv, "none")
    r = mv.chain.execute_one(mv.venue.adl(ADL_KEEPER, 1, True, _ranked(mv)))
    assert not r.ok and r.error.name == "AdlPolicyNotCallable"


def test_profit_queue_takes_whole_profits_in_ranked_order(make_mv):
    mv, _ = _book(make_mv, "profit_queue")
    ranked = _ranked(mv)
    assert ranked == sorted(WINNERS, key=_score, reverse=True) == [W3, W1, W2]
    fund_before = mv.chain.read_one(mv.fund.balance())
    r = ok([mv.chain.execute_one(mv.venue.adl(ADL_KEEPER, 1, True, ranked))])[0]
    e = event(r, "AdlExecuted")
    deficit, cut = 450 * WAD, _profit(W3)
    assert e["deficit"] == deficit
    assert e["minimumHaircut"] == min(deficit, sum(_profit(w) for w in WINNERS))
    assert (e["haircuts"], e["covered"], e["overshoot"]) == (cut, deficit, cut - deficit)
    assert (e["contractsClosed"], e["notionalClosed"], e["accounts"]) == (
        20 * WAD,
        20 * CRASH * WAD,
        1,
    )
    assert e["toInsurance"] == cut - deficit
    assert mv.chain.read_one(mv.fund.balance()) - fund_before == (cut - deficit) // 10**12
    assert [h["account"] for h in events(r, "AdlHaircut")] == [W3]
    assert mv.venue.position_now(W3, 1)["size"] == 0
    assert mv.venue.collateral_now(W3) == 3_000 * WAD  # its whole profit taken
    assert mv.venue.position_now(W1, 1)["size"] == -10 * WAD  # not needed, untouched
    assert mv.venue.market_now(1)["ledger"]["badDebtLongs"] == 0
    _identity(mv)


@pytest.mark.parametrize("mode", [BANKRUPTCY_PRICE, PREVIOUS_MARK])
def test_contracts_queue_closes_only_the_bankrupt_contracts(make_mv, mode):
    """BitMEX (bankruptcy price) / Hyperliquid (previous mark): 35 contracts closed in ranked
    order, each winner losing the gap between the index and the ADL price on them."""
    mv, liq = _book(make_mv, "contracts_queue", mode)
    adl_price = event(liq, "DeficitAttributed")["adlPrice"]
    if mode == PREVIOUS_MARK:
        assert adl_price == 1_000 * WAD  # the index before the crash block
    ledger = mv.venue.market_now(1)["ledger"]
    assert ledger["adlContractsLongs"] == 35 * WAD and ledger["adlPriceLongs"] == adl_price
    ranked = _ranked(mv)
    r = ok([mv.chain.execute_one(mv.venue.adl(ADL_KEEPER, 1, True, ranked))])[0]
    gap = adl_price - CRASH * WAD
    cuts = {w: min(WINNERS[w][0] * gap, _profit(w)) for w in ranked}
    haircuts = [(h["account"], h["sizeClosed"], h["haircut"]) for h in events(r, "AdlHaircut")]
    assert haircuts == [(w, -WINNERS[w][0] * WAD, cuts[w]) for w in ranked]
    e = event(r, "AdlExecuted")
    total = sum(cuts.values())
    assert e["haircuts"] == total and e["covered"] == min(total, 450 * WAD)
    assert e["overshoot"] == total - e["covered"]
    if mode == BANKRUPTCY_PRICE:
        assert e["overshoot"] < 10  # wei: the bankruptcy price offsets the deficit exactly
    else:
        assert e["overshoot"] == 2_000 * WAD  # every profit since the previous mark
    assert e["contractsClosed"] == 35 * WAD and e["notionalClosed"] == 35 * CRASH * WAD
    assert mv.venue.market_now(1)["ledger"]["adlContractsLongs"] == 0
    _identity(mv)


def test_contracts_queue_partial_close_of_the_last_winner(make_mv):
    """W2 grows to short 45: the ranked queue closes 35 contracts in all, the winner that
    reaches 35 only part of its position, and the winners after it nothing."""
    mv, _ = _book(make_mv, "contracts_queue")
    ok(mv.chain.execute([mv.venue.trade(W2, 1, -40 * WAD)]))
    sizes = {w: -mv.venue.position_now(w, 1)["size"] for w in WINNERS}
    ranked = _ranked(mv)
    r = ok([mv.chain.execute_one(mv.venue.adl(ADL_KEEPER, 1, True, ranked))])[0]
    left, expected = 35 * WAD, []
    for w in ranked:
        if left == 0:
            break
        q = min(sizes[w], left)
        expected.append((w, -q))
        left -= q
    assert [(h["account"], h["sizeClosed"]) for h in events(r, "AdlHaircut")] == expected
    assert any(-q < sizes[w] for w, q in expected)  # the last one closed only part
    assert event(r, "AdlExecuted")["contractsClosed"] == 35 * WAD
    assert mv.venue.market_now(1)["ledger"]["adlContractsLongs"] == 0
    _identity(mv)


def test_pro_rata_haircuts_sum_to_the_deficit(make_mv):
    mv, _ = _book(make_mv, "pro_rata")
    winners = sorted(WINNERS, key=lambda a: int(a, 16))
    profits = [_profit(w) for w in winners]
    covered = min(450 * WAD, sum(profits))
    cuts = [covered * p // sum(profits) for p in profits]
    for i in range(covered - sum(cuts)):
        cuts[i] += 1
    r = ok([mv.chain.execute_one(mv.venue.adl(ADL_KEEPER, 1, True, winners))])[0]
    assert [h["haircut"] for h in events(r, "AdlHaircut")] == cuts
    e = event(r, "AdlExecuted")
    assert (e["haircuts"], e["covered"], e["overshoot"], e["contractsClosed"]) == (
        covered,
        covered,
        0,
        0,
    )
    for w, p, c in zip(winners, profits, cuts, strict=True):
        pos = mv.venue.position_now(w, 1)
        assert pos["entryPrice"] == CRASH * WAD and pos["size"] == -WINNERS[w][0] * WAD
        assert mv.venue.collateral_now(w) == WINNERS[w][1] * WAD + p - c
    r = mv.chain.execute_one(mv.venue.adl(ADL_KEEPER, 1, True, winners[::-1]))
    assert not r.ok and r.error.name in ("NoDeficit", "AdlAccountsNotSorted")
    _identity(mv)


def test_socialized_charges_both_sides_of_the_market_only(make_mv):
    mv, r = _book(make_mv, "socialized")
    e = event(r, "LossSocialized")
    oi = 35 * WAD  # the winners' shorts; the bankrupt long is closed
    per = -((-450 * WAD * WAD) // oi)
    assert (e["market"], e["loss"], e["perContract"]) == (1, 450 * WAD, per)
    for w, (size, _) in WINNERS.items():
        assert mv.venue.position_now(w, 1)["pendingFunding"] == -((-per * size * WAD) // WAD)
    assert mv.venue.position_now(OTHER, 2)["pendingFunding"] == 0
    _identity(mv)


def test_f4_only_the_adl_keeper_runs_adl_in_ranked_order(make_mv):
    """F4: a caller cannot pick who pays: only ADL_KEEPER_ROLE may call `adl`, and the order is
    checked for every pair (the first included) before anyone is touched."""
    mv, _ = _book(make_mv, "profit_queue")
    ranked = _ranked(mv)
    r = mv.chain.execute_one(mv.venue.adl(KEEPER, 1, True, ranked))
    assert not r.ok and r.error.name == "AccessControlUnauthorizedAccount"
    r = mv.chain.execute_one(mv.venue.adl(ADL_KEEPER, 1, True, [ranked[1], ranked[0], ranked[2]]))
    assert not r.ok and r.error.name == "AdlRankingOutOfOrder" and r.error.args["index"] == 1
    r = mv.chain.execute_one(mv.venue.adl(ADL_KEEPER, 1, True, [ranked[0], ranked[2], ranked[1]]))
    assert not r.ok and r.error.name == "AdlRankingOutOfOrder" and r.error.args["index"] == 2
    r = mv.chain.execute_one(mv.venue.adl(ADL_KEEPER, 1, True, [OTHER]))
    assert not r.ok and r.error.name == "AdlIneligible"  # a winner of another market


def test_f5_socialized_loss_with_dust_open_interest(make_mv):
    """F5: a dust position is all the open interest left: the charge per contract would exceed
    the price, so the loss stays as bad debt; nothing wraps, the liquidation goes through."""
    mv = make_mv([MarketSpec("BTC", 1_000, {"adlPolicy": ADL["socialized"]})], fund_usd=0)
    v = mv.venue
    mv.setup(L, 2_000, [(1, 35)])
    ok(
        mv.chain.execute(
            mv.fund_calls([DUST], usd(1)) + [v.deposit(DUST, usd(1)), v.trade(DUST, 1, -(10**6))]
        )
    )
    mv.push(1, CRASH)
    r = ok([mv.chain.execute_one(v.liquidate(KEEPER, L))])[0]
    assert events(r, "LossSocialized") == []
    assert event(r, "BadDebtRecorded")["amount"] == 450 * WAD
    assert v.position_now(DUST, 1)["pendingFunding"] == 0
    ok(mv.chain.execute([v.close_position(DUST, 1)]))
    # Its own profit only (short 1e-12 BTC from 1000 to 930): no wrapped credit.
    assert v.collateral_now(DUST) == usd(1) * 10**12 + 70 * 10**6
    r = mv.chain.execute_one(v.withdraw(DUST, usd(2)))
    assert not r.ok and r.error.name == "InsufficientBalance"


@pytest.mark.parametrize("policy", ["profit_queue", "contracts_queue", "pro_rata"])
def test_a_winner_gives_up_at_most_its_account_value(make_mv, policy):
    """A cross winner whose other market lost: short BTC 100 from 1,000 (+7,000 at 930) and
    long ETH 1,200 from 100 (-12,000 at 90) on 11,100 of collateral, so its account is worth
    about 6,000, less than its BTC profit. Before the cap, the whole-profit queue took 7,000 and
    left the account with negative equity and no bad debt recorded (a five-market oct-2025 run
    stopped on the engine's invariant: a flat account with negative equity). A haircut is now
    capped at the account's value: its equity ends >= 0."""
    mv = make_mv(
        [
            MarketSpec("BTC", 1_000, {"adlPolicy": ADL[policy], "adlPriceMode": BANKRUPTCY_PRICE}),
            MarketSpec("ETH", 100),
        ],
        fund_usd=0,
    )
    mv.setup(W1, 11_100, [(1, -100), (2, 1_200)])
    mv.setup(L, 2_000, [(1, 35)])
    mv.push(1, CRASH)
    mv.push(2, 90)
    ok([mv.chain.execute_one(mv.venue.liquidate(KEEPER, L))])
    value, maintenance, _ = mv.venue.health_now(W1)
    profit = 100 * (1_000 - CRASH) * WAD
    assert maintenance < value < profit  # healthy, but worth less than its BTC profit
    r = ok([mv.chain.execute_one(mv.venue.adl(ADL_KEEPER, 1, True, [W1]))])[0]
    [cut] = events(r, "AdlHaircut")
    assert cut["profit"] == value  # the profit it can give up: its account value
    assert cut["haircut"] <= value
    equity_after, _, _ = mv.venue.health_now(W1)
    assert equity_after >= 0
    if policy == "profit_queue":
        assert cut["haircut"] == value and equity_after == 0
    ledgers, flows, balance = mv.cash_identity()
    assert ledgers == flows == balance
