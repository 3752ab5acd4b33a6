"""perpsim sweep on chain: a Cartesian grid on shared paths, its table and heatmaps, continued
rather than recomputed, and the same figures from a Dask LocalCluster as from the pool."""

from __future__ import annotations

import json

import pandas as pd
from click.testing import CliRunner
from experiment_helpers import small_scenario, small_scenario_file

from simulator.cli import main
from simulator.experiments.sweep import run_sweep

GRID = ["controls.leverage_cap=5,20", "controls.insurance_fund_usd=0,1000000"]


def test_a_sweep_on_chain_writes_its_table_and_heatmaps_and_continues(tmp_path):
    scenario_file = small_scenario_file(tmp_path)
    out = tmp_path / "sweep"
    args = ["sweep", str(scenario_file), "--grid", GRID[0], "--grid", GRID[1], "--paths", "2",
            "--engine", "chain", "--workers", "2", "--out", str(out), "--progress", "none"]  # fmt: skip
    result = CliRunner(mix_stderr=False).invoke(main, args)
    assert result.exit_code == 0, result.stderr
    saved = json.loads((out / "sweep.json").read_text())
    assert saved["semantics"] == "cartesian" and saved["paths"] == 2
    assert [p["params"] for p in saved["points"]] == [
        {"controls.leverage_cap": 5, "controls.insurance_fund_usd": 0},
        {"controls.leverage_cap": 5, "controls.insurance_fund_usd": 1000000},
        {"controls.leverage_cap": 20, "controls.insurance_fund_usd": 0},
        {"controls.leverage_cap": 20, "controls.insurance_fund_usd": 1000000},
    ]
    # Every point ran on the same two paths: the exogenous price is the parameters' to keep.
    points = [json.loads((out / p["file"]).read_text()) for p in saved["points"]]
    assert all(len(p["summaries"]) == 2 and p["seeds"] == saved["seeds"] for p in points)
    starts = {tuple(s["start_price"] for s in p["summaries"]) for p in points}
    assert len(starts) == 1
    # A 5x cap opens less than a 20x one on the same paths.
    oi = {p["params"]["controls.leverage_cap"]: p["stats"]["oi_start_usd"]["mean"]
          for p in saved["points"]}  # fmt: skip
    assert oi[5] < oi[20]
    table = pd.read_csv(out / "sweep.csv")
    assert set(table["metric"]) >= {"system_loss_usd", "bad_debt_usd", "fees_usd"}
    row = table[(table["point"] == 3) & (table["metric"] == "fees_usd")].iloc[0]
    assert row["n"] == 2 and row["ci_low"] <= row["mean"] <= row["ci_high"]
    assert row["mean"] == sum(s["fees_usd"] for s in points[3]["summaries"]) / 2
    report = (out / "sweep.md").read_text()
    assert "Cartesian product of the axes (2 x 2 = 4 points)" in report
    for metric in ("system_loss_usd", "fees_usd"):
        assert (out / "plots" / f"heatmap-{metric}.html").is_file()
        assert (out / "plots" / f"heatmap-{metric}.png").stat().st_size > 1000
    # The same command again reads the finished points instead of running them.
    before = {f.name: f.stat().st_mtime_ns for f in (out / "points").iterdir()}
    again = CliRunner(mix_stderr=False).invoke(main, args)
    assert again.exit_code == 0, again.stderr
    assert {f.name: f.stat().st_mtime_ns for f in (out / "points").iterdir()} == before


def test_the_dask_local_cluster_gives_the_pool_s_results(tmp_path):
    scenario = small_scenario()
    grid = ["controls.leverage_cap=5,20", "controls.insurance_fund_usd=0,1000000"]
    pool = run_sweep(scenario, grid, 2, tmp_path / "pool", zipped=True, engine="chain",
                     workers=2, plots=False)  # fmt: skip
    dask = run_sweep(scenario, grid, 2, tmp_path / "dask", zipped=True, engine="chain",
                     workers=2, dask="local", plots=False)  # fmt: skip
    assert pool["semantics"] == dask["semantics"] == "zip"
    assert "Dask LocalCluster" in dask["executor"] and "process pool" in pool["executor"]
    for name in ("point-0000.json", "point-0001.json"):
        a = json.loads((tmp_path / "pool" / "points" / name).read_text())
        b = json.loads((tmp_path / "dask" / "points" / name).read_text())
        assert a["summaries"] == b["summaries"]
    assert [p["stats"] for p in pool["points"]] == [p["stats"] for p in dask["points"]]
