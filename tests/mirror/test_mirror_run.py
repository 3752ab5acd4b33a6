"""Run-level differential test of the mirror engine (issue 12 item 2): random small scenarios
(2-3 markets, a few accounts cross and isolated, tens of steps, a shock; the liquidation rules
varied) run on the chain engine (revm) and on the mirror (exact mode) side by side must agree
after every step -- the same venue events (opens and their refusals, liquidations whole and
partial, insurance payouts, bad debt, refused liquidations: step, market, account, side, size,
fill, amount), every market's ledger to the wei (fees, penalties, deficits, the fund's
payments, bad debt), open interest, funding rate and the insurance fund -- and at the end the
whole venue state to the wei and every position's outcome. A disagreement names the first
diverging step, market and account (:mod:`mirror_run_helpers`).

A mirror with one rule broken (monkeypatched) fails the same comparison.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from mirror_run_helpers import Divergence, parse, run_side_by_side, small_scenarios

from benchmarks.mirror import bench_scenario
from simulator.mirror import fills, fixed, liquidation

EXAMPLES = settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck),
                    database=None)  # fmt: skip


@EXAMPLES
@given(d=small_scenarios())
def test_the_mirror_runs_small_scenarios_as_the_chain_does(d):
    counts = run_side_by_side(parse(d))
    for kind in ("liquidation", "partial_liquidation", "insurance_payout", "bad_debt", "bad_debt_final",
                 "liquidate_reverted", "open_reverted", "close", "close_reverted", "top_up",
                 "stale_revert", "socialized_loss", "adl", "adl_fill", "adl_reverted",
                 "chain_invariant_violation", "governance_executed"):  # fmt: skip
        event(f"{kind}: {counts.get(kind, 0) > 0}")


@pytest.mark.parametrize(
    "rule,target,name,replacement",
    [
        ("trading fees go wholly to the insurance fund", fills, "fee_split",
         lambda fee, bps: (fixed.wad_to_units_down(fee), fee - fixed.wad_to_units_down(fee))),
        ("partial liquidations close whole positions", liquidation, "close_size",
         lambda size, price, markets, partial_at, now, this_block, **cap: abs(size)),
    ],
    ids=["fees-to-fund", "no-partial"],
)  # fmt: skip
def test_a_broken_mirror_rule_is_caught(monkeypatch, rule, target, name, replacement):
    """The differential test above fails on a mirror with one rule broken."""
    monkeypatch.setattr(target, name, replacement)

    def check(d):
        run_side_by_side(parse(d))

    rerun = settings(EXAMPLES, max_examples=100, phases=[Phase.generate], derandomize=True)(
        given(d=small_scenarios())(check)
    )
    with pytest.raises(Divergence, match="mirror and chain diverge at "):
        rerun()


#: A shock seen at step 5, keepers two steps behind, and every oracle stale from step 6 to 8
#: (hour-long steps: the prices outlast the oracle's one-hour maxAge): the keepers' calls of
#: step 7 revert ``StalePrice``, then the liquidations go through once the oracle posts again.
STALE_ORACLE = {
    "name": "stale-oracle", "seed": 5, "steps": 12, "step_seconds": 3600,
    "venue": {"preset": "hyperliquid-like"},
    "markets": [{"symbol": "BTC", "path": {"vol_per_year": 0.3}},
                {"symbol": "ETH", "path": {"vol_per_year": 0.3}}],
    "controls": {"adl_policy": "none", "insurance_fund_usd": 1000, "feedback": False},
    "traders": {"kind": "random", "count": 8, "long_share": 1.0,
                "leverage": {"min": 15, "max": 25},
                "behaviour": {"weights": {"hold": 0, "take_profit": 0, "stop_loss": 1,
                                          "top_up": 1, "panic": 0},
                              "stop_loss_fraction": 0.05}},
    "price_path": {"kind": "factor",
                   "shocks": [{"step": 4, "fall_fraction": 0.2, "over_steps": 1}]},
    "keepers": {"count": 1, "reaction_delay_steps": 2},
    "arbitrageurs": {"count": 0},
    "oracle_faults": [{"kind": "stale", "start_step": 6, "end_step": 9}],
}  # fmt: skip


def test_a_stale_oracle_refuses_the_keepers_as_on_chain():
    counts = run_side_by_side(parse(STALE_ORACLE))
    assert counts["stale_revert"] > 0 and counts["liquidation"] > 0 and counts["bad_debt"] > 0


@pytest.mark.parametrize(
    "policy,price_mode",
    [("profit_queue", "bankruptcy_price"), ("pro_rata", "bankruptcy_price"),
     ("contracts_queue", "bankruptcy_price"), ("contracts_queue", "previous_mark")],
)  # fmt: skip
def test_the_adl_keeper_deleverages_as_on_chain(policy, price_mode):
    """The benchmark's book (150 traders over three markets, a -15% shock) with a fund of
    2,000 USD: deficits the fund leaves (under the contracts queue: the contracts behind them
    queued at the bankruptcy price or the previous mark), then the ADL keeper's calls, equal
    on both engines."""
    scenario = bench_scenario(None, ["seed=1", f"controls.adl_policy={policy}",
                                     f"controls.adl_price_mode={price_mode}",
                                     "controls.insurance_fund_usd=2000"], 150, 140)  # fmt: skip
    counts = run_side_by_side(scenario, steps_rows=True)
    assert counts["bad_debt"] > 0 and counts["adl"] > 0 and counts["adl_fill"] > 0
    if price_mode == "previous_mark":
        # Haircuts at the previous mark leave part of a deficit once the bankrupt contracts
        # are offset: written off as final (``bad_debt_final``, the steps' column), equal on
        # both engines.
        assert counts.get("bad_debt_final", 0) > 0


def test_the_adl_keeper_ranks_on_the_block_its_call_runs_in():
    """The benchmark's book of 400 traders, no fund, the profit queue: deficits that take ADL
    several blocks (steps 132-133 on SOL) while no other call was sent first. The ADL keeper
    once ranked such a block before its own oracle pushes and top-ups, which reordered the
    winners: its ``adl`` reverted ``AdlRankingOutOfOrder`` twice on both engines. It now ranks
    after every call before its own: no ADL call reverts, equal on both engines."""
    scenario = bench_scenario(None, ["seed=1", "controls.adl_policy=profit_queue",
                                     "controls.insurance_fund_usd=0"], 400, 150)  # fmt: skip
    counts = run_side_by_side(scenario, steps_rows=True)
    assert counts["adl"] > 0 and counts.get("adl_reverted", 0) == 0


#: Three longs at 20-25x in BTC and ETH, no fund, the socialized loss: the first bankrupt
#: long's loss is charged to the longs left, the others find no open interest left to charge
#: (or too little): refused charges.
SOCIALIZED_REFUSED = {
    "name": "socialized-refused", "seed": 2, "steps": 12, "step_seconds": 60,
    "venue": {"preset": "hyperliquid-like"},
    "markets": [{"symbol": "BTC", "path": {"vol_per_year": 0.3}},
                {"symbol": "ETH", "path": {"vol_per_year": 0.3}}],
    "controls": {"adl_policy": "socialized", "insurance_fund_usd": 0, "feedback": False},
    "traders": {"kind": "random", "count": 3, "long_share": 1.0,
                "leverage": {"min": 20, "max": 25},
                "behaviour": {"weights": {"hold": 1, "take_profit": 0, "stop_loss": 0,
                                          "top_up": 0, "panic": 0}}},
    "price_path": {"kind": "factor",
                   "shocks": [{"step": 4, "fall_fraction": 0.3, "over_steps": 1}]},
    "keepers": {"count": 1, "reaction_delay_steps": 1},
    "arbitrageurs": {"count": 0},
}  # fmt: skip


def test_a_refused_socialized_charge_is_final_bad_debt_as_on_chain():
    """Each refused charge's bad debt is written off as final in its liquidation (no call could
    ever clear it): as many ``bad_debt_final`` rows as ``bad_debt`` ones, and nothing
    outstanding (the ledgers, compared after every step), equal on both engines."""
    counts = run_side_by_side(parse(SOCIALIZED_REFUSED), steps_rows=True)
    assert counts["socialized_loss"] > 0 and counts["bad_debt"] > 0
    assert counts.get("bad_debt_final", 0) == counts["bad_debt"]
