"""Say what produced a number: ``perpsim show`` prints the resolved scenario and venue
parameters; the manifest's description names the overrides; compare.md and report.md list the
overrides and each control set's changes."""

from __future__ import annotations

import json

import yaml
from click.testing import CliRunner

from simulator.cli import main
from simulator.compare import run_compare
from simulator.scenario import load_scenario


def show(*argv: str) -> str:
    result = CliRunner(mix_stderr=False).invoke(main, ["show", *argv], prog_name="perpsim")
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_show_prints_the_scenario_and_venue_parameters_with_overrides_and_control_set():
    text = show("oct-2025", "--set", "price_path.shocks[0].step=100", "--set",
                "markets.BTC.overrides.maintenance_margin_fraction=0.015", "--steps", "700",
                "--seed", "3", "--control-set", "leverage_cap")  # fmt: skip
    document = yaml.safe_load(text)
    scenario = document["scenario"]
    assert scenario["price_path"]["shocks"][0]["step"] == 100
    assert (scenario["steps"], scenario["seed"]) == (700, 3)
    assert scenario["controls"]["leverage_cap"] == 10.0
    assert "Overrides (--set): price_path.shocks[0].step=100;" in scenario["description"]
    venue = document["venue_parameters"]
    markets = {m["symbol"]: m for m in venue["markets"]}
    assert list(markets) == ["BTC", "ETH", "SOL", "DOGE", "ALT"]
    # BTC: the preset's table (40x) + the override + the control set's 10x cap, resolved
    assert markets["BTC"]["params"]["max_leverage"] == 10.0
    assert markets["BTC"]["params"]["maintenance_margin_fraction"] == 0.015
    assert markets["BTC"]["oracle"]["initial_price_usd"] == 120_000.0
    # ETH keeps its own maintenance margin under the same cap; ALT's 3x is below it
    assert markets["ETH"]["params"]["max_leverage"] == 10.0
    assert markets["ETH"]["params"]["maintenance_margin_fraction"] == 0.02
    assert markets["ALT"]["params"]["max_leverage"] == 3.0
    expected = load_scenario(
        "oct-2025",
        ["price_path.shocks[0].step=100",
         "markets.BTC.overrides.maintenance_margin_fraction=0.015"],
    )  # fmt: skip
    expected = expected.with_overrides({"controls.leverage_cap": 10.0}, steps=700, seed=3)
    assert document["scenario_fingerprint"] == expected.fingerprint()  # fmt: skip


def test_show_scenario_only_is_a_file_that_runs_the_same_scenario(tmp_path):
    text = show("calm", "--set", "traders.count=30", "--scenario-only")
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    again = load_scenario(path)
    assert again.fingerprint() == load_scenario("calm", ["traders.count=30"]).fingerprint()
    # overridden again: the sentence grows, it is not repeated or lost
    twice = load_scenario(path, ["traders.count=40"]).description
    assert twice.count("Overrides (--set)") == 1
    assert twice.endswith("Overrides (--set): traders.count=30; traders.count=40.")


def test_moving_the_shock_is_said_in_the_description():
    moved = load_scenario("oct-2025", ["price_path.shocks[0].step=100"])
    assert "at step 600" in moved.description  # the preset's prose...
    assert moved.description.endswith("Overrides (--set): price_path.shocks[0].step=100.")
    assert "Overrides" not in load_scenario("oct-2025").description


def test_compare_md_and_report_md_list_overrides_and_control_set_changes(tmp_path):
    scenario = load_scenario(
        "calm", ["traders.count=5", "steps=8", "controls.insurance_fund_usd=250000"]
    )
    run_compare(scenario, ["baseline", "adl_pro_rata"], 1, tmp_path, workers=1)
    for name in ("compare.md", "report.md"):
        text = (tmp_path / name).read_text()
        assert "- `traders.count=5`" in text and "- `steps=8`" in text, name
        assert "- `controls.insurance_fund_usd=250000`" in text, name
        assert "**baseline**: no change" in text, name
        assert "**adl_pro_rata**: `controls.adl_policy=pro_rata`" in text, name
    manifest = json.loads((tmp_path / "runs/adl_pro_rata/path-0/manifest.json").read_text())
    assert "Overrides (--set): traders.count=5; steps=8;" in manifest["scenario"]["description"]
