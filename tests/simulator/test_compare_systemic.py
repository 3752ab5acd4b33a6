"""``perpsim compare``'s systemic-loss rows: for runs whose folder holds a contagion world,
``systemic_loss_usd`` (chain: the venue's ``system_loss_usd`` + the pool's bad-debt increase +
the synthetic dollar's net-backing fall) and ``systemic_loss_debtrank_usd`` (modelled) beside
it; a run without a world has no value there (``-``, never 0); a comparison without any world
keeps its table as before."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pandas as pd
import pytest
import toy_venue

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "contagion"))
from contagion_report_helpers import hand_graphs  # noqa: E402

from simulator.compare import write_outputs  # noqa: E402
from simulator.contagion.graph_io import run_graph_paths, write_graph  # noqa: E402
from simulator.contagion.report import contagion_report  # noqa: E402
from simulator.scenario import load_scenario  # noqa: E402
from simulator.stats import DEFAULT_METRICS, VENUE, format_compare_table  # noqa: E402

CONTROLS = ("baseline", "leverage_cap")


def _comparison(out: Path, world: set[str]) -> dict:
    """Two control sets x two paths of toy runs (five markets: they have losses); the runs of the sets in `world` get the hand
    graph pair as their contagion files."""
    results, plan = {}, []
    for i, control in enumerate(CONTROLS):
        results[control] = []
        for p in range(2):
            run_dir = out / "runs" / control / f"path-{p}"
            summary = toy_venue.write_run(run_dir, seed=p + 1, severity=1 / (i + 1))
            if control in world:
                start, end = hand_graphs()
                p_start, p_end = run_graph_paths(run_dir)
                p_start.parent.mkdir()
                write_graph(p_start, start, step=0)
                write_graph(p_end, end, step=12)
            results[control].append(summary)
            plan.append({"control": control, "path": p, "feedback": True,
                         "run_dir": f"runs/{control}/path-{p}", "scenario_fingerprint": ""})  # fmt: skip
    toy_venue.write_run(out / "runs" / CONTROLS[0] / "path-0-no-feedback", feedback=False)
    plan.append({"control": CONTROLS[0], "path": 0, "feedback": False,
                 "run_dir": f"runs/{CONTROLS[0]}/path-0-no-feedback", "scenario_fingerprint": ""})  # fmt: skip
    return write_outputs(
        out, load_scenario("oct-2025"), CONTROLS, results, plan, "sha256:toy", {"PerpVenue": "0x1"}
    )


def test_runs_with_a_world_get_both_rows_and_the_others_show_them_absent(tmp_path):
    outcome = _comparison(tmp_path, world={"baseline"})
    table = outcome["table"]
    runs = [tmp_path / "runs" / "baseline" / f"path-{p}" for p in (0, 1)]
    summaries = [json.loads((r / "summary.json").read_text()) for r in runs]
    # chain: each run's system_loss_usd + the pool's 20 USD of bad debt + the synthetic
    # dollar's 80 USD fall of net backing (hand_graphs)
    chain = [s["system_loss_usd"] + 20 + 80 for s in summaries]
    assert table.loc["systemic_loss_usd", ("baseline", "mean")] == pytest.approx(sum(chain) / 2)
    assert table.loc["systemic_loss_usd", ("baseline", "n")] == 2
    modelled = [contagion_report(r).totals["debtrank_loss_usd"] for r in runs]
    assert table.loc["systemic_loss_debtrank_usd", ("baseline", "mean")] == pytest.approx(
        sum(modelled) / 2
    )
    assert all(m > 0 for m in modelled)
    # the set without a world: no value (n = 0, NaN), shown as "-", never 0
    for metric in ("systemic_loss_usd", "systemic_loss_debtrank_usd"):
        assert table.loc[metric, ("leverage_cap", "n")] == 0
        assert math.isnan(table.loc[metric, ("leverage_cap", "mean")])
        assert format_compare_table(table).loc[metric, "leverage_cap"] == "-"
    # the rows come after the summary's metrics, and they are in every output
    assert list(table.index[: len(DEFAULT_METRICS) + 2]) == [
        *DEFAULT_METRICS, "systemic_loss_usd", "systemic_loss_debtrank_usd",
    ]  # fmt: skip
    saved = pd.read_csv(tmp_path / "compare.csv", header=[0, 1], index_col=[0, 1])
    assert saved.loc[(VENUE, "systemic_loss_usd"), ("baseline", "mean")] == pytest.approx(
        sum(chain) / 2
    )
    assert math.isnan(saved.loc[(VENUE, "systemic_loss_usd"), ("leverage_cap", "mean")])
    assert "| systemic_loss_usd |" in (tmp_path / "compare.md").read_text()
    data = json.loads((tmp_path / "compare.json").read_text())
    assert data["runs"]["baseline"][0]["systemic_loss_usd"] == pytest.approx(chain[0])
    assert "systemic_loss_usd" not in data["runs"]["leverage_cap"][0]


def test_a_comparison_without_a_world_keeps_its_table(tmp_path):
    table = _comparison(tmp_path, world=set())["table"]
    assert "systemic_loss_usd" not in table.index
    assert "systemic_loss_debtrank_usd" not in table.index
    assert list(table.index[: len(DEFAULT_METRICS)]) == list(DEFAULT_METRICS)
