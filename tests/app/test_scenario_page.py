"""Scenario page (AppTest): edit, validate, run on the local chain, read the figures."""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from app_helpers import charts, dataframe_with, errors, new_app, read_json
from perpsim_ui import jobs, views


def _run_folders(root: Path) -> list[Path]:
    return sorted(p.parent for p in (root / "app").glob("*/manifest.json"))


def test_running_the_demo_scenario_shows_the_figures_of_its_summary_json(app, runs_root, spawned):
    app.number_input(key="scenario.traders").set_value(40)
    app.button(key="scenario.run").click().run()
    assert not app.exception, app.exception
    assert errors(app) == []
    assert len(spawned.commands) == 1 and spawned.commands[0][1] == "run"

    [run_dir] = _run_folders(runs_root)
    summary = read_json(run_dir / "summary.json")
    manifest = read_json(run_dir / "manifest.json")
    assert manifest["status"] == "complete"
    assert manifest["scenario"]["traders"]["count"] == 40 == summary["traders"]

    shown = {m.label: m.value for m in app.metric}
    for key in views.CARDS:
        assert shown[views.SUMMARY_LABELS[key][0]] == views.format_value(key, summary[key])
    table = dataframe_with(app, "figure", "value", "key").set_index("key")
    assert list(table.index) == list(summary)
    for key, value in summary.items():
        if value is None:
            assert math.isnan(table.loc[key, "value"])
        else:
            assert table.loc[key, "value"] == pytest.approx(value, rel=0, abs=0)
    assert [c.key for c in charts(app)] == [
        f"scenario.chart.{name}" for name, _ in views.charts.RUN_CHARTS
    ]

    # The same inputs again: read from the run folder, no second subprocess.
    started = time.monotonic()
    app.button(key="scenario.run").click().run()
    assert len(spawned.commands) == 1
    assert time.monotonic() - started < 10
    assert any("already ran" in s.value for s in app.success)
    assert {m.label: m.value for m in app.metric} == shown


def test_leverage_zero_is_refused_with_a_message_naming_the_field(app, spawned):
    app.number_input(key="scenario.max_leverage").set_value(0.0).run()
    assert not app.exception
    [message] = errors(app)
    assert "market.overrides.max_leverage" in message
    assert "Traceback" not in message
    assert app.button(key="scenario.run").disabled
    assert spawned.commands == []


def test_maintenance_margin_above_initial_margin_is_refused_naming_the_field(app):
    app.number_input(key="scenario.max_leverage").set_value(20.0)
    app.number_input(key="scenario.maintenance_margin").set_value(0.08).run()
    [message] = errors(app)
    assert "maintenance_margin_fraction must be below 1/max_leverage = 0.05" in message
    assert app.button(key="scenario.run").disabled


def test_out_of_range_long_share_names_the_scenario_key(app):
    app.number_input(key="scenario.long_share").set_value(1.5).run()
    [message] = errors(app)
    assert "traders.long_share must be between 0 and 1 (got 1.5)" in message


def test_an_upload_that_is_not_a_scenario_names_the_problem(app):
    app.radio(key="scenario.source").set_value("Upload YAML").run()
    assert any("Upload a scenario" in i.value for i in app.info)

    app.file_uploader[0].upload("list.yaml", b"- just\n- a list\n", "application/yaml").run()
    [message] = errors(app)
    assert "uploaded file list.yaml: a scenario is a mapping" in message

    bad_key = b"name: x\nsteps: 10\nstepz: 3\ntraders: {kind: random, count: 5}\n"
    bad_key += b"price_path: {kind: gbm, start_price_usd: 100}\n"
    app.file_uploader[0].set_value(("typo.yaml", bad_key, "application/yaml")).run()
    [message] = errors(app)
    assert "stepz: unknown key" in message
    assert not app.exception


def test_a_valid_upload_fills_the_form(app):
    text = (Path(__file__).resolve().parents[2] / "simulator/scenarios/calm.yaml").read_bytes()
    app.radio(key="scenario.source").set_value("Upload YAML").run()
    app.file_uploader[0].upload("calm.yaml", text, "application/yaml").run()
    assert errors(app) == []
    assert app.number_input(key="scenario.steps").value == 1440
    assert app.number_input(key="scenario.traders").value == 500


def test_form_values_survive_a_visit_to_another_page(app):
    app.number_input(key="scenario.traders").set_value(33).run()
    app.switch_page("app_pages/runs.py").run()
    assert not app.exception
    app.switch_page("app_pages/scenario.py").run()
    assert app.number_input(key="scenario.traders").value == 33


def _descendants(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found += [child, *_descendants(child)]
    return found


def _kill_the_chain_after_a_checkpoint(stop: threading.Event) -> None:
    """Kill the anvil node of the app's running job once its run folder has a checkpoint."""
    while not stop.is_set():
        for job in jobs.active():
            manifest = jobs.manifest_of(job.out_dir) or {}
            if manifest.get("checkpoint_step") and job._process is not None:
                for pid in _descendants(job._process.pid):
                    os.kill(pid, signal.SIGKILL)
                return
        time.sleep(0.05)


def test_a_chain_failing_mid_run_shows_a_message_and_keeps_what_finished(app, spawned):
    app.number_input(key="scenario.steps").set_value(260)
    app.number_input(key="scenario.traders").set_value(20).run()
    stop = threading.Event()
    killer = threading.Thread(target=_kill_the_chain_after_a_checkpoint, args=(stop,))
    killer.start()
    try:
        app.button(key="scenario.run").click().run()
    finally:
        stop.set()
        killer.join()
    assert not app.exception
    [message] = errors(app)
    assert message.startswith("The run stopped: ") and "resumable" in message
    [warning] = [w.value for w in app.warning]
    assert warning.startswith("Run incomplete: ")
    run_dir = Path(spawned.commands[0][spawned.commands[0].index("--out") + 1])
    manifest = read_json(run_dir / "manifest.json")
    assert manifest["status"] == "incomplete"
    kept = manifest["checkpoint_step"]
    assert f"steps saved up to its last checkpoint (step {kept} of 260)" in warning
    assert len(charts(app)) == len(views.charts.RUN_CHARTS)

    # Running it again resumes the folder from its checkpoint and finishes it.
    app.button(key="scenario.run").click().run()
    assert errors(app) == [] and not app.warning
    assert "--resume" in spawned.commands[1]
    assert read_json(run_dir / "manifest.json")["resumed_from_steps"] == [kept]
    summary = read_json(run_dir / "summary.json")
    assert {m.label: m.value for m in app.metric}["Liquidated notional"] == views.format_value(
        "liquidated_notional_usd", summary["liquidated_notional_usd"]
    )


def test_the_page_starts_from_the_oct_2025_preset_at_demo_size(runs_root):
    at = new_app().run()
    assert at.selectbox(key="scenario.preset").value == "oct-2025"
    assert at.number_input(key="scenario.steps").value == 40
    assert at.number_input(key="scenario.traders").value == 50
    assert at.number_input(key="scenario.shock_step").value < 40
    assert not at.button(key="scenario.run").disabled
