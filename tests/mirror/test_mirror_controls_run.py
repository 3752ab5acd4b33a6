"""Run-level differential test of the mirror's risk controls: random small scenarios
(:func:`mirror_run_helpers.controls_scenarios`: the circuit breaker's band, each market's TWAP
window and liquidation halt, the dynamic margin controller on or off) run on the chain engine
(revm) and on the mirror (exact mode) side by side must agree after every step -- the venue's
event rows (liquidations and the ones the breaker refuses, ``CircuitBreakerTripped`` with its
index and reference prices), every ledger, open interest, funding, the fund and the margin
scale the controller sets -- and at the end the whole venue state to the wei.

A mirror with one rule of the controls broken (monkeypatched) fails the same comparison.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from mirror_run_helpers import (
    VENUE_KINDS,
    Divergence,
    compare_events,
    compare_levels,
    controls_scenarios,
    parse,
    run_side_by_side,
)

from simulator.chain import open_chain
from simulator.engine import Engine
from simulator.mirror import controls as kernels
from simulator.mirror.sim import MirrorEngine, controls
from simulator.mirror.sim.venue import Reverted
from simulator.runner import GENESIS_TIMESTAMP_S, run_node_config
from simulator.world import build_world

EXAMPLES = settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck),
                    database=None)  # fmt: skip


@EXAMPLES
@given(d=controls_scenarios())
def test_the_mirror_runs_the_risk_controls_as_the_chain_does(d):
    counts = run_side_by_side(parse(d))
    tripped = counts.get("breaker_revert", 0) > 0
    event(f"breaker refused a liquidation: {tripped}")
    event(f"controller: {d['controls']['dynamic_margin']}")
    event(f"margin scale moved: {counts.get('margin_scale_changed', 0) > 0}")
    stale = counts.get("stale_revert", 0) > 0
    event(f"a stale oracle under the controller: {stale and d['controls']['dynamic_margin']}")
    for kind in ("liquidation", "partial_liquidation", "liquidate_reverted", "bad_debt"):
        event(f"{kind}: {counts.get(kind, 0) > 0}")


#: The breaker at 1% of a 5-minute TWAP with liquidations halted on both markets and the
#: margin controller on: a 20% fall in one step trips the breaker, the keepers' liquidations
#: revert ``CircuitBreakerTripped`` until the TWAP catches up, then go through.
HALTED = {
    "name": "breaker-halt", "seed": 3, "steps": 16, "step_seconds": 60,
    "venue": {"preset": "hyperliquid-like"},
    "markets": [{"symbol": "BTC", "path": {"vol_per_year": 0.5},
                 "overrides": {"circuit_breaker_window_s": 300,
                               "liquidations_halt_on_breaker": True}},
                {"symbol": "ETH", "path": {"vol_per_year": 0.5},
                 "overrides": {"circuit_breaker_window_s": 300,
                               "liquidations_halt_on_breaker": True}}],
    "controls": {"adl_policy": "none", "insurance_fund_usd": 1000, "feedback": False,
                 "circuit_breaker_max_move_bps": 100, "dynamic_margin": True},
    "traders": {"kind": "random", "count": 8, "long_share": 1.0,
                "leverage": {"min": 15, "max": 25},
                "behaviour": {"weights": {"hold": 1, "take_profit": 0, "stop_loss": 0,
                                          "top_up": 0, "panic": 0}}},
    "price_path": {"kind": "factor",
                   "shocks": [{"step": 4, "fall_fraction": 0.2, "over_steps": 1}]},
    "keepers": {"count": 1, "reaction_delay_steps": 0},
    "arbitrageurs": {"count": 0},
}  # fmt: skip


#: The halted scenario in hour-long steps with every oracle stale from step 6 to 8: the
#: controller's ``pokeMany`` reverts while any oracle is stale (its state and the margin scales
#: stay), as the keepers' calls do.
STALE = {**HALTED, "name": "stale-controller", "step_seconds": 3600,
         "oracle_faults": [{"kind": "stale", "start_step": 6, "end_step": 9}]}  # fmt: skip


def test_a_stale_oracle_reverts_the_controllers_poke_as_on_chain():
    counts = run_side_by_side(parse(STALE))
    assert counts["stale_revert"] > 0 and counts["margin_scale_changed"] > 0


def test_a_tripped_breaker_halts_the_liquidations_and_the_controller_raises_margins():
    counts = run_side_by_side(parse(HALTED))
    assert counts["breaker_revert"] > 0 and counts["liquidation"] > 0
    assert counts["margin_scale_changed"] > 0


def _trades_on_both(engine: Engine, mirror: MirrorEngine) -> list[tuple[str, str, str]]:
    """In the next block (one second after the last): every account adds 1% to each of its
    cross positions, then takes 2% off, on chain and on the mirror; each trade's kind (``add``
    or ``reduce``) and outcome on both (the revert's text, or the fill and new size)."""
    venue, v = mirror.venue, engine.venue.venue
    calls, mine, kinds = [], [], []
    venue.begin_block(venue.now + 1)
    for a, who in enumerate(engine.ctx.accounts):
        for m in range(venue.n_markets):
            size = int(venue.size[a, m])
            if size == 0 or venue.isolated[a, m]:
                continue
            for kind, delta in (("add", size // 100), ("reduce", -(size // 50))):
                kinds.append(kind)
                calls.append(v.trade(who, m + 1, delta))
                try:
                    got = venue.trade(a, m, delta, isolated=False)
                    mine.append(f"fill={got['fill']}, size={got['new_size']}")
                except Reverted as exc:
                    mine.append(str(exc))
    results = engine.chain.execute(calls)
    theirs = []
    for r in results:
        if not r.ok:
            theirs.append(str(r.error))
            continue
        e = next(e for e in r.events if e.name == "PositionModified")
        theirs.append(f"fill={e.args['fill']}, size={e.args['newSize']}")
    return list(zip(kinds, mine, theirs, strict=True))


def test_a_tripped_breaker_refuses_new_risk_and_lets_risk_be_reduced_as_on_chain():
    """After the shock of the halted scenario (breaker tripped), trades that add risk revert
    ``CircuitBreakerTripped`` with the chain's index and reference prices and trades that
    reduce it go through at the chain's fill, on both engines; before the shock both go
    through."""
    scenario = parse(HALTED)
    mirror = MirrorEngine(scenario, mode="exact")
    with open_chain(backend="revm", anvil=run_node_config()) as chain:
        chain.use_fixed_clock(GENESIS_TIMESTAMP_S)
        engine = Engine(chain, build_world(chain, scenario))
        seen: dict[int, list[tuple[str, str, str]]] = {}
        for t in range(6):
            theirs, mine = engine.step(), mirror.step()
            if t > 0:
                compare_events(t, mine.events, theirs.events)
            compare_levels(t, engine, mirror)
            if t in (2, 5):
                seen[t] = _trades_on_both(engine, mirror)
    for t, outcomes in seen.items():
        for kind, ours, chains in outcomes:
            assert ours == chains, f"step {t}, {kind}: mirror {ours} != chain {chains}"
    assert any(o.startswith("fill=") for _, o, _ in seen[2])
    assert not any("Tripped" in o for _, o, _ in seen[2])
    assert any(k == "add" and o.startswith("CircuitBreakerTripped") for k, o, _ in seen[5])
    assert not any(k == "reduce" and "Tripped" in o for k, o, _ in seen[5])


def _run(engine: MirrorEngine) -> tuple[list, list, list]:
    """Every venue event's (step, kind, market, account, detail name), its amounts, and the
    margin scales after every step."""
    keys, amounts, scales = [], [], []

    def record(outcome) -> None:
        for e in outcome.events:
            if e["kind"] in VENUE_KINDS:
                keys.append((e["step"], e["kind"], e["market"], e["account"],
                             (e["detail"] or "").split("(")[0]))  # fmt: skip
                amounts.append([e["size_base"] or 0.0, e["amount_usd"] or 0.0])
        scales.append(engine._last_levels["margin_scale"].copy())

    engine.run(on_step=record)
    return keys, amounts, scales


def test_fast_mode_takes_the_exact_modes_decisions_under_the_controls():
    """The fast mode (floats) refuses the same liquidations and sets the same margin scales
    (to 1e-9) as the exact mode on the halted scenario."""
    scenario = parse(HALTED)
    exact_keys, exact_amounts, exact_scales = _run(MirrorEngine(scenario, mode="exact"))
    fast_keys, fast_amounts, fast_scales = _run(MirrorEngine(scenario, mode="fast"))
    assert fast_keys == exact_keys
    assert any(k[4] == "CircuitBreakerTripped" for k in exact_keys)
    np.testing.assert_allclose(fast_amounts, exact_amounts, rtol=1e-9, atol=1e-5)
    np.testing.assert_allclose(fast_scales, exact_scales, rtol=1e-9)
    assert (np.array(exact_scales) > 1).any()


def _twap_of_the_last_push(history, now, window, exact_mode):
    return history[-1][1]


_POKE = kernels.poke


def _poke_without_the_skew(state, params, long_oi, short_oi, price, now):
    return _POKE(state, params, long_oi * 0, short_oi * 0, price, now)


def _poke_even_when_stale(self, venue):
    now = venue.conv([venue.now] * venue.n_markets)
    got = _POKE(self.state, self.params, venue.long_oi, venue.short_oi, venue.price, now)
    self.state = got.state
    controls.set_margin_scale(venue, got.scale)
    return got


@pytest.mark.parametrize(
    "rule,target,name,replacement,scenario",
    [
        ("the breaker's reference is the last price, not the TWAP", controls, "twap_of",
         _twap_of_the_last_push, HALTED),
        ("the controller ignores the open interest's skew", kernels, "poke",
         _poke_without_the_skew, HALTED),
        ("the controller pokes with a stale oracle", controls.Controller, "poke_many",
         _poke_even_when_stale, STALE),
    ],
    ids=["no-twap", "no-skew", "poke-when-stale"],
)  # fmt: skip
def test_a_broken_controls_rule_is_caught(monkeypatch, rule, target, name, replacement, scenario):
    """The differential test fails on a mirror with one rule of the controls broken."""
    monkeypatch.setattr(target, name, replacement)
    with pytest.raises(Divergence, match="mirror and chain diverge at "):
        run_side_by_side(parse(scenario))


def test_a_broken_rule_is_caught_by_the_random_scenarios(monkeypatch):
    """The random scenarios above catch a breaker that never halts a liquidation."""
    original = controls.Breaker.check

    def check(self, venue, m, *, liquidation=False):
        if not liquidation:
            original(self, venue, m)

    monkeypatch.setattr(controls.Breaker, "check", check)

    def run(d):
        run_side_by_side(parse(d))

    rerun = settings(EXAMPLES, max_examples=50, phases=[Phase.generate], derandomize=True)(
        given(d=controls_scenarios())(run)
    )
    with pytest.raises(Divergence, match="mirror and chain diverge at "):
        rerun()
