"""ADL refusals and bounds on the venue (ported from the single-market suite's test_adl.py;
PORTING.md maps each test): the ranking view, eligibility (no position, the bankrupt side, another
market), the batch bound, pro-rata's sorted list and partial cover, no ADL without bad debt, and
the soak regression "queue overshoot beyond the pool's cash".

The bankrupt book is test_venue_adl's: BTC (market 1) under a policy, L long 35 at 1000 with
2,000 goes bankrupt at 930 (deficit 450 on BTC longs, no fund); W1..W3 short 10 / 5 / 20.
"""

from __future__ import annotations

import pytest
from perp_helpers import KEEPER, TRADERS, WAD, event, events, ok, usd
from test_venue_adl import CRASH, OTHER, W1, W2, W3, WINNERS, _book, _ranked
from venue_helpers import ADL, ADL_KEEPER, MarketSpec

IDLE, LONG_WINNER = TRADERS[16:18]


def test_the_ranking_view_scores_each_winner_by_hyperliquids_rank(make_mv):
    mv, _ = _book(make_mv, "profit_queue")
    scores, pnls = mv.venue.read("adlRanking", 1, [W1, W2, W3])
    for w, score, pnl in zip([W1, W2, W3], scores, pnls, strict=True):
        size, coll = WINNERS[w]
        profit = size * (1_000 - CRASH) * WAD
        assert pnl == profit
        value = coll * WAD + profit  # cross account value at the index
        ratio = 1_000 * WAD * WAD // (CRASH * WAD)
        assert score == (ratio * (size * CRASH * WAD) // WAD) * WAD // value


def test_an_account_without_a_position_is_never_deleveraged(make_mv):
    mv, _ = _book(make_mv, "profit_queue")
    ok(mv.chain.execute(mv.fund_calls([IDLE], usd(500)) + [mv.venue.deposit(IDLE, usd(500))]))
    r = mv.chain.execute_one(mv.venue.adl(ADL_KEEPER, 1, True, [IDLE]))
    assert r.error.name == "AdlIneligible"
    assert r.error.args == {"account": IDLE, "size": 0, "unrealizedPnl": 0}
    assert mv.venue.collateral_now(IDLE) == 500 * WAD


def test_a_winner_on_the_bankrupt_side_or_in_another_market_is_not_eligible(make_mv):
    mv, _ = _book(make_mv, "profit_queue")
    v = mv.venue
    mv.push(1, 1_000)  # back up: a fresh long at 930 would be a winner on the bankrupt side
    mv.push(1, CRASH)
    mv.setup(LONG_WINNER, 1_000, [(1, 1)])
    mv.push(1, 940)
    r = mv.chain.execute_one(v.adl(ADL_KEEPER, 1, False, [LONG_WINNER]))
    assert r.error.name == "NoDeficit" and r.error.args == {"market": 1, "longsBankrupt": False}
    r = mv.chain.execute_one(v.adl(ADL_KEEPER, 1, True, [*_ranked(mv), LONG_WINNER]))
    assert r.error.name == "AdlIneligible" and r.error.args["account"] == LONG_WINNER
    r = mv.chain.execute_one(v.adl(ADL_KEEPER, 1, True, [OTHER]))  # short ETH, not BTC
    assert r.error.name == "AdlIneligible" and r.error.args["size"] == 0


def test_adl_batch_size_is_bounded_by_the_market(make_mv):
    mv, _ = _book(make_mv, "profit_queue")
    maximum = mv.venue.parameters_now(1)["maxAdlAccountsPerCall"]
    r = mv.chain.execute_one(mv.venue.adl(ADL_KEEPER, 1, True, []))
    assert r.error.name == "AdlBatchSize" and r.error.args == {"given": 0, "maximum": maximum}
    r = mv.chain.execute_one(mv.venue.adl(ADL_KEEPER, 1, True, [W3] * (maximum + 1)))
    assert r.error.name == "AdlBatchSize"
    assert r.error.args == {"given": maximum + 1, "maximum": maximum}


def test_pro_rata_covers_only_what_the_listed_profits_allow(make_mv):
    mv, _ = _book(make_mv, "pro_rata")
    mv.push(1, 990)  # profits shrink to 100 / 50 / 200
    r = ok([mv.chain.execute_one(mv.venue.adl(ADL_KEEPER, 1, True, [W2]))])[0]
    e = event(r, "AdlExecuted")
    assert (e["haircuts"], e["covered"], e["accounts"]) == (50 * WAD, 50 * WAD, 1)
    assert mv.venue.market_now(1)["ledger"]["badDebtLongs"] == 400 * WAD


def test_pro_rata_requires_strictly_increasing_addresses(make_mv):
    mv, _ = _book(make_mv, "pro_rata")
    winners = sorted([W1, W2], key=lambda a: int(a, 16))
    r = mv.chain.execute_one(mv.venue.adl(ADL_KEEPER, 1, True, winners[::-1]))
    assert r.error.name == "AdlAccountsNotSorted" and r.error.args == {"index": 1}
    r = mv.chain.execute_one(mv.venue.adl(ADL_KEEPER, 1, True, [winners[0], winners[0]]))
    assert r.error.name == "AdlAccountsNotSorted"


@pytest.mark.parametrize("policy", ["contracts_queue", "profit_queue", "pro_rata"])
def test_adl_without_outstanding_bad_debt_reverts(make_mv, policy):
    mv = make_mv([MarketSpec("BTC", 1_000, {"adlPolicy": ADL[policy]})])
    mv.setup(W1, 5_000, [(1, -20)])
    mv.push(1, 950)
    r = mv.chain.execute_one(mv.venue.adl(ADL_KEEPER, 1, True, [W1]))
    assert r.error.name == "NoDeficit" and r.error.args == {"market": 1, "longsBankrupt": True}


@pytest.mark.parametrize("idle_usd", [0, 20_000])
def test_queue_overshoot_beyond_the_pool_cash_sends_only_the_pool_cash_to_the_fund(
    make_mv, idle_usd
):
    """Regression (found by the single-market soak): the seized profit is unrealized, so the
    overshoot can exceed the pool's cash; only the pool's cash goes to the fund, and every
    trader's collateral stays withdrawable.

    Pool 1,000, empty fund. S: short 1 @ 1000 with 100; W: long 10 @ 1000 with 1,000. At 2000
    S is liquidated with equity −900: the pool holds 1,000 + 100 (S's loss it could pay) = 1,100
    and 900 of bad debt. The profit queue takes W's whole profit of 10,000: 900 covers the
    deficit, the overshoot is 9,100, of which the pool has 1,100 to pay to the fund.
    """
    mv = make_mv(
        [MarketSpec("BTC", 1_000, {"adlPolicy": ADL["profit_queue"]})], fund_usd=0, pool_usd=1_000
    )
    v = mv.venue
    s, w = TRADERS[18:20]
    mv.setup(s, 100, [(1, -1)])
    mv.setup(w, 1_000, [(1, 10)])
    if idle_usd:
        mv.setup(IDLE, idle_usd, [])
    mv.push(1, 2_000)
    ok([mv.chain.execute_one(v.liquidate(KEEPER, s))])
    before = v.market_now(1)["ledger"]
    assert before["badDebtShorts"] == 900 * WAD and v.accounting_now()["pool"] == 1_100 * WAD

    r = ok([mv.chain.execute_one(v.adl(ADL_KEEPER, 1, False, [w]))])[0]

    e = event(r, "AdlExecuted")
    assert (e["deficit"], e["haircuts"], e["covered"], e["overshoot"], e["toInsurance"]) == (
        900 * WAD, 10_000 * WAD, 900 * WAD, 9_100 * WAD, 1_100 * WAD,
    )  # fmt: skip
    assert [h["account"] for h in events(r, "AdlHaircut")] == [w]
    assert v.market_now(1)["ledger"]["badDebtShorts"] == 0 and v.accounting_now()["pool"] == 0
    assert mv.chain.read_one(mv.fund.balance()) == usd(1_100)
    assert v.position_now(w, 1)["size"] == 0 and v.collateral_now(w) == 1_000 * WAD
    ledgers, flows, balance = mv.cash_identity()
    assert ledgers == flows == balance
    # every trader's collateral is still in the venue: both withdraw all of it
    ok(mv.chain.execute([v.withdraw(w, usd(1_000))] + ([v.withdraw(IDLE, usd(idle_usd))] if idle_usd else [])))  # fmt: skip
    assert mv.chain.read_one(mv.collateral.balance_of(v.address)) == 0
