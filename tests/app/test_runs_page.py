"""Runs page (AppTest): browse run folders written by the CLI, open one, download its files."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app_helpers import charts, dataframe_with, new_app, read_json
from perpsim_ui import views
from simulator.results import EVENTS, MANIFEST, POSITIONS, STEPS, SUMMARY

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
    for key, value in summary.items():
        if value is None:
            assert math.isnan(table.loc[key, "value"])
        else:
            assert table.loc[key, "value"] == value
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
