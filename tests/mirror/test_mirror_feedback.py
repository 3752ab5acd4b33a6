"""Run-level differential test of the mirror's spot side: random small scenarios with oracle
feedback on or off, shallow or deep spot AMMs, arbitrageurs, the pool's hedger (its forced
sales moving the outside market) and LP withdrawals, run on the chain engine (revm) and on the
mirror (exact mode) side by side, must agree after every step -- the venue as in
``test_mirror_run.py`` and the spot side: every pool's reserves to the unit, the arbitrageurs'
and the hedger's inventories, the hedged base, the outside market's carried impact, every
``steps`` row (``price_amm_usd``, ``price_outside_usd``, ``transactions``...) and the
``lp_withdrawal`` rows (:func:`mirror_run_helpers.compare_spot`).

A mirror with a spot rule broken (monkeypatched: the AMM's fee, the oracle's weight of the AMM)
fails the same comparison.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from mirror_run_helpers import Divergence, feedback_scenarios, parse, run_side_by_side

from simulator.mirror.sim import oracle as mirror_oracle
from simulator.mirror.sim import spot as mirror_spot

EXAMPLES = settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck),
                    database=None)  # fmt: skip


@EXAMPLES
@given(d=feedback_scenarios())
def test_the_mirror_runs_the_spot_side_as_the_chain_does(d):
    counts = run_side_by_side(parse(d), spot=True)
    event(f"feedback: {d['controls']['feedback']}")
    event(f"arbitrageurs: {d['arbitrageurs']['count'] > 0}")
    for kind in ("liquidation", "lp_withdrawal", "bad_debt", "adl"):
        event(f"{kind}: {counts.get(kind, 0) > 0}")


_real_spot_book = mirror_spot.spot_book


def _no_fee_spot_book(world):
    """The run's pools (:func:`~simulator.mirror.sim.spot.spot_book`, whose swaps run
    compiled, :mod:`simulator.mirror.jit_amm`) without their fee."""
    book = _real_spot_book(world)
    book.fee_bps[:] = 0
    return book


_real_median = mirror_oracle.source_median_usd


def _median_without_amm(model, outside_history_usd, amm_price_usd, t):
    weights = np.asarray(model.weights, dtype=np.float64).copy()
    weights[-1] = 0.0
    if weights.sum() == 0:
        weights[0] = 1.0
    return _real_median(dataclasses.replace(model, weights=weights), outside_history_usd,
                        amm_price_usd, t)  # fmt: skip


@pytest.mark.parametrize(
    "target,name,replacement",
    [(mirror_spot, "spot_book", _no_fee_spot_book),
     (mirror_oracle, "source_median_usd", _median_without_amm)],
    ids=["amm-without-fee", "oracle-ignores-the-amm"],
)  # fmt: skip
def test_a_broken_spot_rule_is_caught(monkeypatch, target, name, replacement):
    """The differential test above fails on a mirror with one spot rule broken."""
    monkeypatch.setattr(target, name, replacement)

    def check(d):
        run_side_by_side(parse(d), spot=True)

    rerun = settings(EXAMPLES, max_examples=50, phases=[Phase.generate], derandomize=True)(
        given(d=feedback_scenarios())(check)
    )
    with pytest.raises(Divergence, match="mirror and chain diverge at "):
        rerun()


def test_oct_2025_runs_on_the_mirror_as_on_chain_without_the_flow_and_the_vault():
    """The oct-2025 preset (feedback on, five shallow-to-deep pools, three arbitrageurs, the
    hedger's impact, LP withdrawals at a 10% drawdown; without its order flow and market-making
    vault, which the mirror does not model yet) with 1,000 traders: a book whose opens take
    two blocks of the world's setup, as on chain. Every step equal, spot side included."""
    from simulator.scenario.loading import load_scenario

    scenario = load_scenario("oct-2025", ["order_flow=null", "mm_vault.capital_usd=0",
                                          "mm_vault.quoting=false", "traders.count=1000"])  # fmt: skip
    counts = run_side_by_side(scenario, spot=True)
    assert counts["lp_withdrawal"] > 0 and counts["liquidation"] > 0
