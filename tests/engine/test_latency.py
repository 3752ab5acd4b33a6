"""perpsim compare --latency: the same governance change with several delays on the same paths."""

from __future__ import annotations

import json
import subprocess

import pandas as pd
import pytest
from engine_helpers import small_oct

from simulator.compare import run_compare
from simulator.latency import LatencyError, parse_latency

#: A change that acts on positions already open (a higher maintenance margin liquidates the
#: most levered at once). The default swept change, max_leverage -> 10, acts only on new
#: positions, and the small scenario opens every position at step 0: with it every delay gives
#: the baseline's figures (the report says so, tests/engine/test_compare.py).
MMF_CHANGE = {"step": 12, "parameter": "maintenance_margin_fraction", "value": 0.02,
              "market": "BTC"}  # fmt: skip


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("latency") / "cmp"
    # The book up to BTC's 40x (oct-2025's was until session 21): a maintenance margin of 2%
    # liquidates its positions above about 33x at once.
    scenario = small_oct(
        steps=30, **{"controls.governance_change": MMF_CHANGE, "traders.leverage.max": 40}
    )
    outcome = run_compare(scenario, [], 1, out, workers=2, latency=[0, 86_400], backend="revm")
    return out, outcome


def test_latency_sweep_writes_the_table_in_delay_order(sweep):
    out, outcome = sweep
    table = pd.read_csv(out / "latency.csv")
    assert list(table["delay_s"]) == [0, 86_400]
    assert list(table["delay"]) == ["guardian (immediate)", "24 h"]
    assert list(table["n"]) == [1, 1]
    # The guardian's change is in force at the step it is submitted; 24 h is past a 30-step run.
    assert list(table["in_force"]) == ["step 12", "after the run"]
    saved = json.loads((out / "latency.json").read_text())
    assert saved["change"]["parameter"] == "maintenance_margin_fraction"
    assert [r["delay_s"] for r in saved["table"]] == [0, 86_400]
    for name in ("latency.md", "latency.png", "report.md"):
        assert (out / name).is_file(), name
    report = (out / "report.md").read_text()
    assert "## Cost of governance latency" in report and "latency.png" in report
    # The run sets are the baseline and one per delay, on the same path.
    assert list(json.loads((out / "compare.json").read_text())["controls"]) == [
        "baseline", "delay-0s", "delay-86400s",
    ]  # fmt: skip


def test_the_immediate_change_costs_differ_from_the_24h_one(sweep):
    out, outcome = sweep
    table = pd.read_csv(out / "latency.csv").set_index("delay_s")
    results = outcome["results"]
    # The 24 h change never took effect: the baseline's run, figure for figure.
    assert results["delay-86400s"][0]["liquidated_notional_usd"] == pytest.approx(
        results["baseline"][0]["liquidated_notional_usd"]
    )

    # The immediate one liquidated the accounts between the old and new maintenance margin
    # as soon as the fall reached them: in the cascade's first step, more than without it...
    def liquidated(control: str) -> pd.Series:
        steps = pd.read_parquet(out / "runs" / control / "path-0" / "steps.parquet")
        venue = steps[steps.market == "ALL"].set_index("step")
        return venue.liquidated_notional_long_usd + venue.liquidated_notional_short_usd

    now, late = liquidated("delay-0s"), liquidated("delay-86400s")
    first = min(now[now > 0].index.min(), late[late > 0].index.min())
    # (the change is in force from step 12, the step it is submitted: keepers act in the step
    # the price crosses, so the cascade may start at step 12 itself, never before)
    assert first >= 12 and now[first] > 1.5 * late[first]
    # ...and the run's figures differ. Over the whole cascade the total may go either way: those
    # accounts leave at higher prices, and the fall's later liquidations depend on the path (on
    # this path 3.78M against 3.92M without the change; 3.78M against 3.66M before step 0
    # became a block of its own, which moved the cascade's start by one step).
    assert (
        table.loc[0, "liquidated_notional_usd_mean"]
        != table.loc[86_400, "liquidated_notional_usd_mean"]
    )
    # ...and the report says why the 24 h set gives the baseline's figures, from its run.
    report = (out / "report.md").read_text()
    why = report.split("## Control sets that give the baseline's figures")[1].split("\n## ")[0]
    assert "**delay-86400s**: the governance change submitted at step 12 never took effect" in why
    assert "**delay-0s**" not in why


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "got none"),
        ("60,0", "increasing order"),
        ("0,60,60", "increasing order"),
        ("0,-60", "-60 is negative"),
        ("0,1.5", "'1.5' is not a whole number"),
    ],
)
def test_a_bad_delay_list_is_refused_naming_it(text, message):
    with pytest.raises(LatencyError, match=message):
        parse_latency(text)


@pytest.mark.parametrize("text", ["", "900,60", "-1"])
def test_the_cli_refuses_a_bad_delay_list_in_one_line_creating_nothing(perpsim_cmd, tmp_path, text):
    out = tmp_path / "cmp"
    proc = subprocess.run(
        [perpsim_cmd, "compare", "oct-2025", "--latency", text, "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --latency")
    assert not out.exists()
