"""Controls mid-run: a guardian tightens at once; a timelocked change waits out its delay."""

from __future__ import annotations

from engine_helpers import small_oct

from simulator.chain import open_chain
from simulator.runner import run_in_memory, run_node_config
from simulator.world import venue_params_for


def change(path: str) -> dict:
    return {
        "controls.governance_change": {
            "step": 5,
            "parameter": "max_leverage",
            "value": 10,
            "path": path,
        }
    }


def test_the_guardian_lowers_max_leverage_in_the_step_it_acts():
    scenario = small_oct(steps=12, **change("guardian"))
    with open_chain(anvil=run_node_config()) as chain:
        engine, _, events = run_in_memory(chain, scenario)
        params = engine.venue.venue.parameters_now(engine.world.market_ids[0])
    executed = events[events["kind"] == "governance_executed"]
    assert list(executed["step"]) == [5]
    assert params["maxLeverage"] == 10 * 10**18


def test_a_timelocked_change_is_not_in_force_before_its_delay():
    scenario = small_oct(steps=12, **change("timelock"))
    delay_s = venue_params_for(scenario).governance.timelock_delay_s
    assert delay_s > 12 * scenario.step_seconds  # the run ends before the change may execute
    with open_chain(anvil=run_node_config()) as chain:
        engine, _, events = run_in_memory(chain, scenario)
        params = engine.venue.venue.parameters_now(engine.world.market_ids[0])
    assert list(events[events["kind"] == "governance_submitted"]["step"]) == [5]
    assert (events["kind"] == "governance_executed").sum() == 0
    unchanged = venue_params_for(scenario).markets[0].params.max_leverage  # BTC's table: 40x
    assert unchanged != 10 and params["maxLeverage"] == unchanged * 10**18


def test_a_leverage_cap_lowers_every_margin_tier_and_the_opening_leverage():
    capped = venue_params_for(small_oct(all_markets=True, **{"controls.leverage_cap": 10}))
    leverage = {m.symbol: m.params.max_leverage for m in capped.markets}
    # BTC 40x, ETH 25x, SOL 20x come down to 10x; DOGE (10x) and ALT (3x) stay.
    assert leverage == {"BTC": 10, "ETH": 10, "SOL": 10, "DOGE": 10, "ALT": 3}
    for m in capped.markets:
        assert all(t.initial_margin_fraction >= 0.1 for t in m.params.margin_tiers)


def test_a_bad_governance_change_is_refused_before_the_run(perpsim_cmd, tmp_path):
    import subprocess

    proc = subprocess.run(
        [perpsim_cmd, "run", "oct-2025", "--set", "traders.count=20", "--set", "price_path.shocks=[]",
         "--steps", "5", "--progress", "none", "--out", str(tmp_path / "r"),
         "--set", "controls.governance_change={step: 2, parameter: max_leverage, value: -3}"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert (
        proc.stderr.count("\n") == 1
        and "governance_change" in proc.stderr
        and "max_leverage" in proc.stderr
    )
