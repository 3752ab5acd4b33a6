"""The mirror engine's run folder, command line and modes (no chain): ``perpsim run --engine
mirror`` writes a run folder in the chain's schema whose manifest says ``engine: mirror`` and
that is never reused as a chain run's (nor the reverse); an unmirrored scenario feature is one
error line, exit 2 and no folder; ``run_paths`` gives the summary keys of a run folder per
seed; fast mode takes the exact mode's decisions (same liquidations, closes and top-ups at the
same steps) with amounts within 1e-9 relative or ten collateral units (1e-5 USD)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from mirror_run_helpers import VENUE_KINDS, parse, small_scenarios

from simulator.cli import main
from simulator.mirror.run import run_mirror, run_paths
from simulator.mirror.sim import MirrorEngine
from simulator.results import RunMismatchError, RunReader, check_same_run, read_manifest
from simulator.results.schema import SUMMARY_KEYS

SCENARIO = {
    "name": "mirror-cli",
    "seed": 3,
    "steps": 30,
    "venue": {"preset": "hyperliquid-like"},
    "markets": [{"symbol": "BTC", "path": {"vol_per_year": 0.8}},
                {"symbol": "ETH", "path": {"vol_per_year": 1.0}}],
    "controls": {"adl_policy": "profit_queue", "insurance_fund_usd": 50_000, "feedback": False},
    "traders": {"kind": "random", "count": 20, "leverage": {"min": 5, "max": 25},
                "markets_per_account": {1: 0.5, 2: 0.5}},
    "price_path": {"kind": "factor",
                   "shocks": [{"step": 10, "fall_fraction": 0.1, "over_steps": 3}]},
    "keepers": {"count": 1, "reaction_delay_steps": 0},
    "arbitrageurs": {"count": 0},
}  # fmt: skip


def _write(tmp_path: Path, d: dict) -> Path:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(d))
    return path


def test_run_engine_mirror_writes_a_mirror_run_folder(tmp_path):
    out = tmp_path / "run"
    argv = ["run", str(_write(tmp_path, SCENARIO)), "--engine", "mirror", "--mirror-mode",
            "exact", "--out", str(out), "--progress", "none", "--json"]  # fmt: skip
    result = CliRunner(mix_stderr=False).invoke(main, argv, prog_name="perpsim")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert list(summary)[: len(SUMMARY_KEYS)] == list(SUMMARY_KEYS)
    assert summary["liquidated_accounts"] > 0
    manifest = read_manifest(out)
    assert manifest["status"] == "complete"
    assert manifest["extra"]["engine"] == "mirror" and manifest["extra"]["mirror_mode"] == "exact"
    run = RunReader(out)
    assert set(run.steps["step"]) == set(range(31))
    assert (run.events["kind"] == "liquidation").sum() > 0
    # The folder is a mirror run's: never reused for a chain run of the same scenario, and
    # the same check passes for the mirror.
    scenario = parse(SCENARIO)
    with pytest.raises(RunMismatchError, match=r"another engine \(mirror -> chain\)"):
        check_same_run(manifest, scenario, None, None)
    check_same_run(manifest, scenario, None, None, engine="mirror")
    # ... and a chain run's manifest (no engine recorded) is not a mirror run's.
    chain_manifest = {**manifest, "extra": {}}
    with pytest.raises(RunMismatchError, match=r"another engine \(chain -> mirror\)"):
        check_same_run(chain_manifest, scenario, None, None, engine="mirror")


@pytest.mark.parametrize("scenario,feature", [("oct-2025-world", "world: (the contagion world)")])
def test_an_unmirrored_feature_is_one_line_exit_2_and_no_folder(tmp_path, scenario, feature):
    # the one feature left unmirrored: the contagion world (the preset that has one)
    out = tmp_path / "run"
    argv = ["run", scenario, "--engine", "mirror", "--out", str(out), "--progress", "none"]
    result = CliRunner(mix_stderr=False).invoke(main, argv, prog_name="perpsim")
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and feature in lines[0] and "--engine chain" in lines[0], lines
    assert not out.exists()


def test_run_paths_gives_a_run_folders_summary_per_seed(tmp_path):
    scenario = parse(SCENARIO)
    summaries = run_paths(scenario, [3, 4], mode="exact")
    assert [list(s)[: len(SUMMARY_KEYS)] for s in summaries] == [list(SUMMARY_KEYS)] * 2
    folder = run_mirror(scenario, tmp_path / "run", mode="exact").summary
    for key in SUMMARY_KEYS:
        if key != "wall_seconds":
            assert summaries[0][key] == folder[key], key
    assert summaries[0]["liquidated_notional_usd"] != summaries[1]["liquidated_notional_usd"]


def _decisions(engine: MirrorEngine) -> tuple[list, list]:
    """(every venue event's step, kind, market and account; its amounts) of a whole run."""
    keys, amounts = [], []
    engine.run(on_step=lambda o: [
        (keys.append((e["step"], e["kind"], e["market"], e["account"])),
         amounts.append([e["size_base"] or 0.0, e["price_usd"] or 0.0, e["amount_usd"] or 0.0]))
        for e in o.events if e["kind"] in VENUE_KINDS
    ])  # fmt: skip
    return keys, amounts


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(d=small_scenarios())
def test_fast_mode_takes_the_exact_modes_decisions(d):
    scenario = parse(d)
    exact_keys, exact_amounts = _decisions(MirrorEngine(scenario, mode="exact"))
    fast_keys, fast_amounts = _decisions(MirrorEngine(scenario, mode="fast"))
    assert fast_keys == exact_keys
    np.testing.assert_allclose(fast_amounts, exact_amounts, rtol=1e-9, atol=1e-5)
