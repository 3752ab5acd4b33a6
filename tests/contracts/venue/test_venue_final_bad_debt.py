"""Bad debt no ADL call can clear is written off as final (``BadDebtFinalized``, the ledger's
``finalBadDebtLongs`` / ``finalBadDebtShorts``), not left outstanding for a keeper whose every
``adl`` call would revert:

- CONTRACTS_QUEUE (BitMEX / Hyperliquid close the bankrupt *contracts*): once the queued
  contracts are offset, what the capped haircuts left is final (before: it stayed as
  outstanding bad debt and every later ``adl`` reverted ``NoDeficit``);
- SOCIALIZED (Drift): a refused charge (no open interest, or more than one mark per contract) is
  final at once (before: outstanding bad debt that ``adl`` refuses, ``AdlPolicyNotCallable``).

The bankrupt book is test_venue_adl's: L long 35 BTC at 1000 with 2,000 goes bankrupt at 930,
a deficit of 450 on BTC longs and no insurance fund; W1..W3 short 10 / 5 / 20.
"""

from __future__ import annotations

import pytest
from perp_helpers import KEEPER, WAD, event, events, ok, usd
from test_venue_adl import CRASH, DUST, L, _book, _identity, _ranked
from venue_helpers import ADL, ADL_KEEPER, PREVIOUS_MARK, MarketSpec


@pytest.mark.parametrize(
    "price,covered",
    [(990, 350), (CRASH, 450)],
    ids=["profits-shrank", "profits-cover"],
)
def test_contracts_queue_writes_off_what_the_offset_contracts_leave_as_final(
    make_mv, price, covered
):
    """At the previous mark (1000) the queue closes the 35 bankrupt contracts; back up at 990
    each winner's haircut is capped at its profit on them (10 a contract): 350 of the 450
    covered, and the 100 left is final. At 930 the haircuts cover it all: nothing is final."""
    mv, _ = _book(make_mv, "contracts_queue", PREVIOUS_MARK)
    v = mv.venue
    mv.push(1, price)
    r = ok([mv.chain.execute_one(v.adl(ADL_KEEPER, 1, True, _ranked(mv)))])[0]
    e = event(r, "AdlExecuted")
    assert (e["contractsClosed"], e["covered"]) == (35 * WAD, covered * WAD)
    ledger = v.market_now(1)["ledger"]
    left = (450 - covered) * WAD
    assert (ledger["adlContractsLongs"], ledger["badDebtLongs"]) == (0, 0)
    assert ledger["finalBadDebtLongs"] == left and ledger["finalBadDebtShorts"] == 0
    assert ledger["totalBadDebt"] == 450 * WAD  # the deficit the fund left, unchanged
    if left:
        assert events(r, "BadDebtFinalized") == [
            {"market": 1, "longsBankrupt": True, "amount": left, "total": left}
        ]
    else:
        assert events(r, "BadDebtFinalized") == []
    # Nothing is outstanding: a later call has no deficit to act on and changes nothing.
    r = mv.chain.execute_one(v.adl(ADL_KEEPER, 1, True, _ranked(mv)))
    assert r.error.name == "NoDeficit"
    assert v.market_now(1)["ledger"] == ledger
    _identity(mv)


@pytest.mark.parametrize("dust", [False, True], ids=["no-open-interest", "dust-open-interest"])
def test_a_refused_socialized_charge_is_final_bad_debt(make_mv, dust):
    """L alone in the market (no open interest once it is closed), or beside a dust short (a
    charge of more than the mark per contract): the charge is refused and the 450 is recorded
    and written off as final in the liquidation; nothing is left for `adl`."""
    mv = make_mv([MarketSpec("BTC", 1_000, {"adlPolicy": ADL["socialized"]})], fund_usd=0)
    v = mv.venue
    mv.setup(L, 2_000, [(1, 35)])
    if dust:
        calls = mv.fund_calls([DUST], usd(1)) + [v.deposit(DUST, usd(1))]
        ok(mv.chain.execute(calls + [v.trade(DUST, 1, -(10**6))]))
    mv.push(1, CRASH)
    r = ok([mv.chain.execute_one(v.liquidate(KEEPER, L))])[0]
    assert events(r, "LossSocialized") == []
    assert event(r, "BadDebtRecorded")["amount"] == 450 * WAD
    assert event(r, "BadDebtFinalized") == {
        "market": 1, "longsBankrupt": True, "amount": 450 * WAD, "total": 450 * WAD,
    }  # fmt: skip
    names = [x.name for x in r.events]
    assert names.index("BadDebtRecorded") < names.index("BadDebtFinalized")
    ledger = v.market_now(1)["ledger"]
    assert (ledger["badDebtLongs"], ledger["finalBadDebtLongs"]) == (0, 450 * WAD)
    assert ledger["socializedLoss"] == 0 and ledger["totalBadDebt"] == 450 * WAD
    r = mv.chain.execute_one(v.adl(ADL_KEEPER, 1, True, [L]))
    assert r.error.name == "AdlPolicyNotCallable"  # as before, but nothing waits for it now
