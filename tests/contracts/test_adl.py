"""Auto-deleveraging policies: QUEUE (Hyperliquid), PRO_RATA (Chitra), SOCIALIZED (Drift), NONE.

Setup for every policy: a long L (1000 collateral, 10 @ 1000) goes bankrupt at 850 with
equity −500; the insurance fund is empty, so 500 of bad debt is left by the longs. The winners
are three shorts entered at 1000: S1 20 (5000 collateral), S2 5 (2000), S3 10 (3000).
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from perp_helpers import (
    KEEPER,
    TEST_PARAMS,
    TRADERS,
    WAD,
    event,
    events,
    fund,
    market_cash_identity,
    ok,
    open_position,
    set_price,
    usd,
)

from simulator.protocol.params import BufferParams

L, S1, S2, S3, IDLE = TRADERS[:5]
PRICE = 850
PROFITS = {S1: 3_000 * WAD, S2: 750 * WAD, S3: 1_500 * WAD}


def bankrupt_world(chain, make_venue, policy: str):
    params = TEST_PARAMS.model_copy(
        update={
            "buffers": BufferParams(
                insurance_fund_usd=0, pool_seed_usd=100_000, backstop_enabled=False
            )
        }
    ).with_market(adl_policy=policy)
    v = make_venue(params)
    m = v.market
    open_position(chain, v, L, 1_000, 10)
    open_position(chain, v, S1, 5_000, -20)
    open_position(chain, v, S2, 2_000, -5)
    open_position(chain, v, S3, 3_000, -10)
    from perp_helpers import fund, usd

    fund(chain, v, [IDLE], 500)
    ok([chain.execute_one(m.deposit(IDLE, usd(500)))])
    set_price(chain, v, PRICE)
    r = ok([chain.execute_one(m.liquidate(KEEPER, L))])[0]
    return v, r


def score(entry: int, price: int, size: int, equity: int) -> Fraction:
    return Fraction(entry, price) * Fraction(abs(size) * price, equity)


# ---------------------------------------------------------------------------------------------
# QUEUE
# ---------------------------------------------------------------------------------------------


def test_queue_ranking_view_orders_winners_by_profit_ratio_times_leverage(chain, make_venue):
    v, _ = bankrupt_world(chain, make_venue, "queue")
    scores, pnls = chain.read_one(v.market.adl_ranking([S1, S2, S3, L, IDLE]))
    assert list(pnls[:3]) == [PROFITS[S1], PROFITS[S2], PROFITS[S3]]
    assert scores[3] == scores[4] == 0  # L has no position any more, IDLE never had one
    expected = [
        score(1_000, PRICE, 20, 8_000),
        score(1_000, PRICE, 5, 2_750),
        score(1_000, PRICE, 10, 4_500),
    ]
    for got, want in zip(scores[:3], expected, strict=True):
        assert abs(Fraction(got, WAD) - want) < Fraction(1, 10**15)
    assert scores[0] > scores[2] > scores[1]


def test_queue_closes_whole_positions_in_rank_order_and_reports_the_overshoot(chain, make_venue):
    v, _ = bankrupt_world(chain, make_venue, "queue")
    m = v.market
    fund_before = chain.read_one(v.insurance_fund.balance())
    r = ok([chain.execute_one(m.adl(KEEPER, [S1, S3, S2]))])[0]
    assert event(r, "AdlExecuted") == {
        "policy": 1,
        "longsBankrupt": True,
        "deficit": 500 * WAD,
        "haircuts": 3_000 * WAD,
        "covered": 500 * WAD,
        "overshoot": 2_500 * WAD,
        "toFund": 2_500 * WAD,
        "accounts": 1,
    }
    assert events(r, "AdlHaircut") == [
        {
            "account": S1,
            "sizeClosed": -20 * WAD,
            "price": PRICE * WAD,
            "profit": 3_000 * WAD,
            "haircut": 3_000 * WAD,
        }
    ]
    assert m.account_now(S1)["size"] == 0 and m.account_now(S1)["margin"] == 5_000 * WAD
    assert m.account_now(S3)["size"] == -10 * WAD  # not needed: untouched
    assert m.accounting_now()["badDebtLongs"] == 0
    # the overshoot is the venue's revenue: it goes to the insurance fund
    assert chain.read_one(v.insurance_fund.balance()) == fund_before + 2_500 * 10**6
    assert len(set(market_cash_identity(v))) == 1


@pytest.mark.parametrize("idle_usd", [0, 20_000])
def test_queue_overshoot_beyond_the_pool_cash_sends_only_the_pool_cash_to_the_fund(
    chain, make_venue, idle_usd
):
    """Regression (found by the invariant soak): the seized profit is unrealized, so the
    overshoot can exceed the pool's cash. It used to be sent to the fund in full: with nothing
    else in the market the transfer reverted with the token's ERC20InsufficientBalance (the
    deficit could never be covered); with other traders' collateral in the market it took theirs.

    Pool seed 1,000, empty fund. S: short 1 @ 1000 with 100; W: long 10 @ 1000 with 1,000. At
    2000, S is liquidated with equity −900: the pool holds 1,000 + 1,000 (S's loss) − 900 = 1,100
    and 900 of bad debt. ADL takes W's whole profit of 10,000: 900 covers the deficit, the
    overshoot is 9,100, of which the pool has 1,100 to pay to the fund.
    """
    params = TEST_PARAMS.model_copy(
        update={
            "buffers": BufferParams(
                insurance_fund_usd=0, pool_seed_usd=1_000, backstop_enabled=False
            )
        }
    ).with_market(adl_policy="queue")
    v = make_venue(params)
    m = v.market
    s, w = TRADERS[0], TRADERS[1]
    open_position(chain, v, s, 100, -1)
    open_position(chain, v, w, 1_000, 10)
    if idle_usd:
        fund(chain, v, [IDLE], idle_usd)
        ok([chain.execute_one(m.deposit(IDLE, usd(idle_usd)))])
    set_price(chain, v, 2_000)
    ok([chain.execute_one(m.liquidate(KEEPER, s))])
    before = m.accounting_now()
    assert before["badDebtShorts"] == 900 * WAD and before["pool"] == 1_100 * WAD

    r = chain.execute_one(m.adl(KEEPER, [w]))

    assert r.ok, r.error
    assert event(r, "AdlExecuted") == {
        "policy": 1,
        "longsBankrupt": False,
        "deficit": 900 * WAD,
        "haircuts": 10_000 * WAD,
        "covered": 900 * WAD,
        "overshoot": 9_100 * WAD,
        "toFund": 1_100 * WAD,
        "accounts": 1,
    }
    after = m.accounting_now()
    assert after["badDebtShorts"] == 0 and after["pool"] == 0
    assert chain.read_one(v.insurance_fund.balance()) == 1_100 * 10**6
    assert m.account_now(w)["size"] == 0 and m.account_now(w)["margin"] == 1_000 * WAD
    assert len(set(market_cash_identity(v))) == 1
    # Every trader's collateral is still in the market: both withdraw all of it.
    withdrawals = [m.withdraw(w, usd(1_000))] + (
        [m.withdraw(IDLE, usd(idle_usd))] if idle_usd else []
    )
    ok(chain.execute(withdrawals))
    assert chain.read_one(v.collateral.balance_of(m.address)) == 0


def test_queue_reverts_when_the_ranking_is_out_of_order_even_past_the_accounts_it_needs(
    chain, make_venue
):
    v, _ = bankrupt_world(chain, make_venue, "queue")
    scores, _ = chain.read_one(v.market.adl_ranking([S2, S1]))
    r = chain.execute_one(v.market.adl(KEEPER, [S2, S1]))
    assert r.error.name == "AdlRankingOutOfOrder"
    assert r.error.args == {"index": 1, "previousScore": scores[0], "score": scores[1]}


def test_an_account_without_a_position_is_never_deleveraged(chain, make_venue):
    v, _ = bankrupt_world(chain, make_venue, "queue")
    r = chain.execute_one(v.market.adl(KEEPER, [IDLE]))
    assert r.error.name == "AdlIneligible"
    assert r.error.args == {"account": IDLE, "size": 0, "unrealizedPnl": 0}
    assert v.market.account_now(IDLE)["margin"] == 500 * WAD


def test_a_winner_on_the_bankrupt_side_is_not_eligible(chain, make_venue):
    v, _ = bankrupt_world(chain, make_venue, "queue")
    long_winner = TRADERS[6]
    open_position(chain, v, long_winner, 1_000, 1)
    r = chain.execute_one(v.market.adl(KEEPER, [long_winner]))
    assert r.error.name == "NoDeficit" and r.error.args == {"longsBankrupt": False}
    r = chain.execute_one(v.market.adl(KEEPER, [S1, long_winner]))
    assert r.error.name == "AdlIneligible" and r.error.args["account"] == long_winner


def test_adl_batch_size_is_bounded(chain, make_venue):
    v, _ = bankrupt_world(chain, make_venue, "queue")
    r = chain.execute_one(v.market.adl(KEEPER, []))
    assert r.error.name == "AdlBatchSize" and r.error.args == {"given": 0, "maximum": 50}
    r = chain.execute_one(v.market.adl(KEEPER, [S1] * 51))
    assert r.error.name == "AdlBatchSize" and r.error.args == {"given": 51, "maximum": 50}


# ---------------------------------------------------------------------------------------------
# PRO_RATA
# ---------------------------------------------------------------------------------------------


def test_pro_rata_haircuts_sum_exactly_to_the_covered_deficit(chain, make_venue):
    v, _ = bankrupt_world(chain, make_venue, "pro_rata")
    m = v.market
    winners = sorted([S1, S2, S3], key=lambda a: int(a, 16))
    margins = {w: m.account_now(w)["margin"] for w in winners}
    r = ok([chain.execute_one(m.adl(KEEPER, winners))])[0]
    summary = event(r, "AdlExecuted")
    assert summary == {
        "policy": 2,
        "longsBankrupt": True,
        "deficit": 500 * WAD,
        "haircuts": 500 * WAD,
        "covered": 500 * WAD,
        "overshoot": 0,
        "toFund": 0,
        "accounts": 3,
    }
    cuts = {e["account"]: e["haircut"] for e in events(r, "AdlHaircut")}
    assert sum(cuts.values()) == 500 * WAD
    total = sum(PROFITS.values())
    for w in winners:
        assert abs(cuts[w] - 500 * WAD * PROFITS[w] // total) <= 1
        acct = m.account_now(w)
        assert acct["margin"] == margins[w] + PROFITS[w] - cuts[w]  # profit realized, minus the cut
        assert acct["entryPrice"] == PRICE * WAD and acct["size"] != 0  # position stays open
    assert m.accounting_now()["badDebtLongs"] == 0
    assert len(set(market_cash_identity(v))) == 1


def test_pro_rata_covers_only_what_the_listed_profits_allow(chain, make_venue):
    v, _ = bankrupt_world(chain, make_venue, "pro_rata")
    set_price(chain, v, 990)  # profits shrink to 200 / 50 / 100
    r = ok([chain.execute_one(v.market.adl(KEEPER, [S2]))])[0]
    assert event(r, "AdlExecuted")["covered"] == 50 * WAD
    assert v.market.accounting_now()["badDebtLongs"] == 450 * WAD


def test_pro_rata_requires_strictly_increasing_addresses(chain, make_venue):
    v, _ = bankrupt_world(chain, make_venue, "pro_rata")
    winners = sorted([S1, S2], key=lambda a: int(a, 16))
    r = chain.execute_one(v.market.adl(KEEPER, winners[::-1]))
    assert r.error.name == "AdlAccountsNotSorted" and r.error.args == {"index": 1}
    r = chain.execute_one(v.market.adl(KEEPER, [winners[0], winners[0]]))
    assert r.error.name == "AdlAccountsNotSorted"


# ---------------------------------------------------------------------------------------------
# SOCIALIZED and NONE
# ---------------------------------------------------------------------------------------------


def test_socialized_loss_is_charged_per_contract_through_the_funding_indices(chain, make_venue):
    v, r = bankrupt_world(chain, make_venue, "socialized")
    m = v.market
    open_interest = 35 * WAD  # shorts only: the bankrupt long is closed
    per_unit = -(-500 * WAD * WAD // open_interest)  # rounded up
    charged = -(-open_interest * per_unit // WAD)
    assert event(r, "AdlExecuted") == {
        "policy": 3,
        "longsBankrupt": True,
        "deficit": 500 * WAD,
        "haircuts": charged,
        "covered": 500 * WAD,
        "overshoot": charged - 500 * WAD,
        "toFund": 0,
        "accounts": 0,
    }
    assert 0 <= charged - 500 * WAD < 35
    for w, size in ((S1, 20), (S2, 5), (S3, 10)):
        assert m.account_now(w)["pendingFunding"] == -(-size * WAD * per_unit // WAD)
    assert m.account_now(IDLE)["pendingFunding"] == 0
    assert m.accounting_now()["badDebtLongs"] == 0
    r = chain.execute_one(m.adl(KEEPER, [S1]))
    assert r.error.name == "AdlPolicyNotCallable" and r.error.args == {"policy": 3}


def test_with_no_policy_bad_debt_stays_recorded(chain, make_venue):
    v, r = bankrupt_world(chain, make_venue, "none")
    assert event(r, "BadDebtRecorded")["outstanding"] == 500 * WAD
    r = chain.execute_one(v.market.adl(KEEPER, [S1]))
    assert r.error.name == "AdlPolicyNotCallable" and r.error.args == {"policy": 0}


@pytest.mark.parametrize("policy", ["queue", "pro_rata"])
def test_adl_without_outstanding_bad_debt_reverts(chain, make_venue, policy):
    v = make_venue(adl_policy=policy)
    open_position(chain, v, S1, 5_000, -20)
    r = chain.execute_one(v.market.adl(KEEPER, [S1]))
    assert r.error.name == "NoDeficit" and r.error.args == {"longsBankrupt": True}
