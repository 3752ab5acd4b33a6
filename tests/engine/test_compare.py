"""perpsim compare: the same paths under each control set, a table, a report, resumable."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from engine_helpers import small_oct

from simulator.compare import run_compare
from simulator.results import RunReader


def test_compare_runs_the_same_paths_under_each_control_set(tmp_path):
    scenario = small_oct(steps=30)
    out = tmp_path / "cmp"
    outcome = run_compare(scenario, ["baseline", "adl_pro_rata"], 2, out, workers=2)
    table = outcome["table"]
    assert list(dict.fromkeys(table.columns.get_level_values("control"))) == [
        "baseline",
        "adl_pro_rata",
    ]
    assert table.loc["n_paths", ("baseline", "mean")] == 2
    for name in (
        "compare.csv",
        "compare.md",
        "compare.json",
        "report.md",
        "price.png",
        "liquidations.png",
    ):
        assert (out / name).is_file(), name
    # Same exogenous path for every control set; path 1 differs from path 0.
    exo = {
        (c, i): RunReader(out / "runs" / c / f"path-{i}").market_steps()["price_exogenous_usd"]
        for c in ("baseline", "adl_pro_rata")
        for i in (0, 1)
    }
    pd.testing.assert_series_equal(exo[("baseline", 0)], exo[("adl_pro_rata", 0)])
    assert not exo[("baseline", 0)].equals(exo[("baseline", 1)])
    no_feedback = RunReader(out / "runs" / "baseline" / "path-0-no-feedback")
    assert no_feedback.manifest["scenario"]["controls"]["feedback"] is False
    # Summaries in compare.json are the run folders' summaries.
    saved = json.loads((out / "compare.json").read_text())
    assert saved["runs"]["baseline"][0] == RunReader(out / "runs" / "baseline" / "path-0").summary
    # compare.csv: the venue's rows (market ALL), then the one market's, each market's figures
    # the venue's; compare.json holds the same rows as records.
    rows = pd.read_csv(out / "compare.csv", header=[0, 1], index_col=[0, 1])
    assert list(dict.fromkeys(rows.index.get_level_values("market"))) == ["ALL", "BTC"]
    assert rows.loc[("BTC", "bad_debt_usd"), ("adl_pro_rata", "mean")] == pytest.approx(
        table.loc["bad_debt_usd", ("adl_pro_rata", "mean")]
    )
    assert saved["markets"] == ["BTC"]
    assert {(r["market"], r["metric"]) for r in saved["table"]} == set(rows.index)

    # Running it again with resume reuses the complete run folders (nothing is recomputed).
    before = (out / "runs" / "baseline" / "path-0" / "steps.parquet").stat().st_mtime_ns
    run_compare(scenario, ["baseline", "adl_pro_rata"], 2, out, workers=1, resume=True)
    assert (out / "runs" / "baseline" / "path-0" / "steps.parquet").stat().st_mtime_ns == before


def test_unknown_control_set_is_a_one_line_error(perpsim_cmd, tmp_path):
    proc = subprocess.run(
        [perpsim_cmd, "compare", "oct-2025", "--controls", "baseline,no_such_control", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert (
        proc.stderr.strip().splitlines() == [proc.stderr.strip()]
        and "no_such_control" in proc.stderr
    )


def test_killing_a_comparison_leaves_no_worker_or_node_behind(perpsim_cmd, tmp_path):
    import os
    import signal
    import time

    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [perpsim_cmd, "compare", "oct-2025", "--controls", "baseline,adl_pro_rata", "--paths", "2",
         "--out", str(out), "--set", "traders.count=100", "--set", "steps=400",
         "--set", "price_path.shocks=[]", "--progress", "jsonl"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip

    def descendants() -> set[int]:
        found, frontier = set(), {proc.pid}
        while frontier:
            children = set()
            for entry in os.listdir("/proc"):
                if entry.isdigit():
                    try:
                        with open(f"/proc/{entry}/stat") as f:
                            ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                    except (OSError, ValueError):
                        continue
                    if ppid in frontier:
                        children.add(int(entry))
            found |= children
            frontier = children
        return found

    deadline = time.monotonic() + 60
    while len(descendants()) < 4 and time.monotonic() < deadline:  # 2 workers and their nodes
        time.sleep(0.2)
    started = descendants()
    assert len(started) >= 4
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)

    def alive(pid: int) -> bool:
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    deadline = time.monotonic() + 20
    while any(alive(p) for p in started) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [p for p in started if alive(p)]


def test_a_finished_comparison_is_checked_as_a_whole_against_its_plan(tmp_path):
    from simulator.compare import check_comparison, plan
    from simulator.results import RunMismatchError, code_hash

    scenario = small_oct(steps=30)
    specs = plan(scenario, ["baseline", "adl_pro_rata"], 2, tmp_path)
    saved = {
        "plan": [
            {
                "run_dir": str(Path(s.run_dir).relative_to(tmp_path)),
                "scenario_fingerprint": s.fingerprint,
            }
            for s in specs
        ],  # fmt: skip
        "code_hash": code_hash(),
        "bytecode_hashes": {"PerpVenue": "0x1"},
    }
    check_comparison(saved, specs, code_hash(), {"PerpVenue": "0x1"})
    other = plan(scenario.with_overrides(["traders.count=20"]), ["baseline", "adl_pro_rata"], 2,
                 tmp_path)  # fmt: skip
    with pytest.raises(RunMismatchError, match="does not plan baseline path 0 as asked"):
        check_comparison(saved, other, code_hash(), {"PerpVenue": "0x1"})
    with pytest.raises(RunMismatchError, match="planned 5 runs, not 3"):
        check_comparison(saved, plan(scenario, ["baseline", "adl_pro_rata"], 1, tmp_path),
                         code_hash(), {"PerpVenue": "0x1"})  # fmt: skip
    with pytest.raises(RunMismatchError, match="other code"):
        check_comparison(saved, specs, "sha256:other", {"PerpVenue": "0x1"})
    with pytest.raises(RunMismatchError, match="other contract bytecode"):
        check_comparison(saved, specs, code_hash(), {"PerpVenue": "0x2"})
