"""Runs page (AppTest): browse run folders written by the CLI, open one, download its files."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from streamlit.testing.v1 import AppTest

from app_helpers import charts, dataframe_with, descendants, new_app, read_json
from perpsim_ui import jobs, scenarios, views
from simulator.results import EVENTS, MANIFEST, POSITIONS, STEPS, SUMMARY
from simulator.scenario import load_scenario

SHOCK = "price_path.shocks=[{step: 5, fall_fraction: 0.2, over_steps: 10}]"


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory, perpsim_cmd: str) -> Path:
    """A small complete run written by ``perpsim run`` (shared by this module's tests)."""
    folder = tmp_path_factory.mktemp("cli") / "oct-small"
    subprocess.run(
        [perpsim_cmd, "run", "oct-2025", "--out", str(folder), "--set", "traders.count=20",
         "--steps", "30", "--set", SHOCK, "--progress", "none", "--json"],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return folder


def _open_runs(root: Path) -> AppTest:
    at = new_app().run()
    at.switch_page("app_pages/runs.py").run()
    assert not at.exception, at.exception
    return at


def _download_labels(at: AppTest) -> list[str]:
    return [element.proto.label for element in at.get("download_button")]


def test_a_run_of_the_cli_is_listed_and_shows_its_summary_json(cli_run, runs_root):
    shutil.copytree(cli_run, runs_root / "oct-small")
    at = _open_runs(runs_root)
    listing = dataframe_with(at, "path", "kind", "status")
    assert listing[["path", "kind", "status"]].values.tolist() == [["oct-small", "run", "complete"]]
    assert at.selectbox(key="runs.selected").value == "oct-small"

    summary = read_json(runs_root / "oct-small" / SUMMARY)
    shown = {m.label: m.value for m in at.metric}
    for key in views.CARDS:
        assert shown[views.SUMMARY_LABELS[key][0]] == views.format_value(key, summary[key])
    table = dataframe_with(at, "figure", "value", "key").set_index("key")
    flat = {k: v for k, v in summary.items() if k != "markets"}
    for symbol, figures in summary["markets"].items():  # each market's figures, SYMBOL:figure
        flat.update({f"{symbol}:{k}": v for k, v in figures.items()})
    assert "BTC:liquidated_notional_usd" in table.index
    for key, value in flat.items():
        if value is None:
            assert math.isnan(table.loc[key, "value"])
        else:
            assert table.loc[key, "value"] == value
    assert len(charts(at)) == len(views.charts.RUN_CHARTS)

    # The five-market run: a market selector with All and each market; BTC shows its own
    # figures and as many charts.
    selector = at.segmented_control(key="runs.market")
    assert selector.options == ["All markets", *summary["markets"]]
    assert len(summary["markets"]) == 5 and selector.value == views.ALL_MARKETS
    selector.set_value("BTC").run()
    assert not at.exception, at.exception
    shown = {m.label: m.value for m in at.metric}
    for key in views.MARKET_CARDS:
        figure = summary["markets"]["BTC"][key]
        assert shown[views.SUMMARY_LABELS[key][0]] == views.format_value(key, figure)
    assert shown["Bad debt"] == views.format_value("bad_debt_usd", summary["bad_debt_usd"])
    assert len(charts(at)) == len(views.charts.RUN_CHARTS)

    labels = _download_labels(at)
    for name in (MANIFEST, SUMMARY, STEPS, EVENTS, POSITIONS):
        assert any(label.startswith(f"{name} (") for label in labels), (name, labels)
    assert "All of oct-small (zip)" in labels


def test_an_incomplete_run_is_listed_with_its_status_and_reason(cli_run, runs_root):
    folder = runs_root / "broken"
    shutil.copytree(cli_run, folder)
    for name in (SUMMARY, STEPS, EVENTS, POSITIONS):
        (folder / name).unlink()
    manifest = read_json(folder / MANIFEST)
    manifest.update(status="incomplete", incomplete_reason="cannot reach RPC at http://x")
    (folder / MANIFEST).write_text(json.dumps(manifest))

    at = _open_runs(runs_root)
    listing = dataframe_with(at, "path", "status")
    assert listing[["path", "status"]].values.tolist() == [["broken", "incomplete"]]
    [warning] = [w.value for w in at.warning]
    assert warning.startswith("Run incomplete: cannot reach RPC at http://x.")
    assert "No steps were saved" in warning
    assert not at.metric


def test_an_empty_folder_says_where_runs_come_from(runs_root):
    at = _open_runs(runs_root)
    [info] = [i.value for i in at.info]
    assert f"No run folders under {runs_root}" in info


def test_the_sidebar_chooses_the_folder_to_browse(cli_run, runs_root, tmp_path):
    other = tmp_path / "elsewhere"
    shutil.copytree(cli_run, other / "mine")
    at = _open_runs(runs_root)
    assert at.info
    at.text_input(key="sidebar.runs_dir").set_value(str(other)).run()
    assert not at.exception, at.exception
    assert dataframe_with(at, "path", "kind")["path"].tolist() == ["mine"]


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_a_run_whose_writer_is_gone_is_listed_as_stopped_not_running(cli_run, runs_root):
    folder = runs_root / "killed"
    shutil.copytree(cli_run, folder)
    manifest = read_json(folder / MANIFEST)
    manifest.update(status="running", writer={"pid": _dead_pid(), "host": socket.gethostname()})
    (folder / MANIFEST).write_text(json.dumps(manifest))
    live = runs_root / "live"
    shutil.copytree(cli_run, live)
    manifest.update(writer={"pid": os.getppid(), "host": socket.gethostname()})  # alive
    (live / MANIFEST).write_text(json.dumps(manifest))

    at = _open_runs(runs_root)
    listing = dataframe_with(at, "path", "status").set_index("path")
    assert listing.loc["killed", "status"] == "stopped"
    assert listing.loc["live", "status"] == "running"
    at.selectbox(key="runs.selected").set_value("killed").run()
    [warning] = [w.value for w in at.warning]
    assert warning.startswith("Run stopped: its manifest says running, but the process that")
    assert not at.button(key="runs.resume").disabled


def _comparison(cli_run: Path, folder: Path) -> None:
    """A comparison folder as `perpsim compare` leaves it before compare.json (its runs are
    copies of one CLI run)."""
    for control in ("baseline", "insurance_x10"):
        shutil.copytree(cli_run, folder / "runs" / control / "path-0")
    shutil.copytree(cli_run, folder / "runs" / "baseline" / "path-0-no-feedback")
    (folder / "scenario.yaml").write_text(
        yaml.safe_dump(read_json(cli_run / MANIFEST)["scenario"]), encoding="utf-8"
    )


def test_a_comparisons_runs_are_listed_under_it_with_readable_names(cli_run, runs_root):
    _comparison(cli_run, runs_root / "cmp")
    shutil.copytree(cli_run, runs_root / "single")
    seed = read_json(cli_run / MANIFEST)["seed"]

    at = _open_runs(runs_root)
    listing = dataframe_with(at, "path", "kind", "name").set_index("path")
    assert sorted(listing.index) == ["cmp", "single"]  # not the comparison's three runs
    assert listing.loc["single", "name"] == f"oct-2025 · seed {seed} · 30 steps · 20 traders"
    assert listing.loc["cmp", "name"] == (
        "oct-2025 · comparison of 2 control set(s) × 1 path(s) · 3 run folder(s)"
    )

    at.selectbox(key="runs.selected").set_value("cmp").run()
    assert not at.exception, at.exception
    members = dataframe_with(at, "name", "control")
    assert members["name"].tolist() == [
        f"oct-2025 · baseline · path 0 · seed {seed}",
        f"oct-2025 · baseline · path 0 without feedback · seed {seed}",
        f"oct-2025 · insurance_x10 · path 0 · seed {seed}",
    ]
    assert members["status"].tolist() == ["complete"] * 3
    at.selectbox(key="runs.member").set_value("cmp/runs/insurance_x10/path-0").run()
    summary = read_json(cli_run / SUMMARY)
    shown = {m.label: m.value for m in at.metric}
    assert shown["Bad debt"] == views.format_value("bad_debt_usd", summary["bad_debt_usd"])


def test_deleting_a_run_asks_first(cli_run, runs_root):
    shutil.copytree(cli_run, runs_root / "keep")
    shutil.copytree(cli_run, runs_root / "drop")
    at = _open_runs(runs_root)
    at.selectbox(key="runs.selected").set_value("drop").run()
    at.button(key="runs.delete").click().run()
    assert (runs_root / "drop").is_dir()  # nothing deleted yet: it asks
    assert any("Delete `" in w.value and "cannot be undone" in w.value for w in at.warning)

    at.button(key="runs.delete_cancel").click().run()
    assert (runs_root / "drop").is_dir()
    assert not any("cannot be undone" in w.value for w in at.warning)

    at.button(key="runs.delete").click().run()
    at.button(key="runs.delete_confirm").click().run()
    assert not at.exception, at.exception
    assert not (runs_root / "drop").exists() and (runs_root / "keep").is_dir()
    assert dataframe_with(at, "path", "status")["path"].tolist() == ["keep"]


def test_a_killed_run_is_shown_stopped_and_resumed_from_the_page(runs_root):
    scenario = scenarios.demo_scenario(load_scenario("oct-2025")).with_overrides(
        {"steps": 160, "traders.count": 10}
    )
    out, job = jobs.start_run(scenario, runs_root / "app")
    try:
        deadline = time.monotonic() + 120
        while job.running and time.monotonic() < deadline:
            if (jobs.manifest_of(out) or {}).get("checkpoint_step"):
                break
            time.sleep(0.05)
        assert job.running, (job.error, list(job.log))
        for pid in [job._process.pid, *descendants(job._process.pid)]:  # kill -9: no cleanup
            os.kill(pid, signal.SIGKILL)
        assert job.wait(timeout=30)
    finally:
        jobs.cancel_all()
    manifest = read_json(out / MANIFEST)
    assert manifest["status"] == "running"  # what a killed run leaves
    kept = manifest["checkpoint_step"]

    at = _open_runs(runs_root)
    rel = str(out.relative_to(runs_root))
    assert dataframe_with(at, "path", "status").set_index("path").loc[rel, "status"] == "stopped"
    at.button(key="runs.resume").click().run()
    assert not at.exception, at.exception
    assert read_json(out / MANIFEST)["status"] == "complete"
    assert read_json(out / MANIFEST)["resumed_from_steps"] == [kept]
    summary = read_json(out / SUMMARY)
    shown = {m.label: m.value for m in at.metric}
    assert shown["Liquidated notional"] == views.format_value(
        "liquidated_notional_usd", summary["liquidated_notional_usd"]
    )
    assert not at.warning
