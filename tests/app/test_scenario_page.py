"""Scenario page (AppTest): edit, validate, run on the local chain, read the figures."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from app_helpers import charts, dataframe_with, descendants, errors, new_app, read_json
from perpsim_ui import jobs, scenarios, views
from simulator.scenario import load_scenario


def _run_folders(root: Path) -> list[Path]:
    return sorted(p.parent for p in (root / "app").glob("*/manifest.json"))


def test_running_the_demo_scenario_shows_the_figures_of_its_summary_json(app, runs_root, spawned):
    app.text_input(key="scenario.traders").set_value("40")
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
    flat = {k: v for k, v in summary.items() if k != "markets"}
    for symbol, figures in summary["markets"].items():  # each market's figures, SYMBOL:figure
        flat.update({f"{symbol}:{k}": v for k, v in figures.items()})
    assert list(table.index) == list(flat)
    for key, value in flat.items():
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
    assert "markets[0].overrides.max_leverage" in message
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


def test_a_backstop_unwind_share_outside_0_1_is_refused_naming_the_key(app, spawned):
    app.number_input(key="scenario.backstop_unwind").set_value(1.5).run()
    assert not app.exception
    [message] = errors(app)
    assert "backstop_unwind_share_per_step" in message
    assert app.button(key="scenario.run").disabled
    assert spawned.commands == []


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
    assert app.text_input(key="scenario.steps").value == "1,440"
    assert app.text_input(key="scenario.traders").value == "500"


def test_form_values_survive_a_visit_to_another_page(app):
    app.text_input(key="scenario.traders").set_value("33").run()
    app.switch_page("app_pages/runs.py").run()
    assert not app.exception
    app.switch_page("app_pages/scenario.py").run()
    assert app.text_input(key="scenario.traders").value == "33"


def _kill_the_chain_after_a_checkpoint(stop: threading.Event) -> None:
    """Kill the anvil node of the app's running job once its run folder has a checkpoint."""
    while not stop.is_set():
        for job in jobs.active():
            manifest = jobs.manifest_of(job.out_dir) or {}
            if manifest.get("checkpoint_step") and job._process is not None:
                for pid in descendants(job._process.pid):
                    os.kill(pid, signal.SIGKILL)
                return
        time.sleep(0.05)


def test_a_chain_failing_mid_run_shows_a_message_and_keeps_what_finished(app, spawned):
    app.text_input(key="scenario.steps").set_value("260")
    app.text_input(key="scenario.traders").set_value("20").run()
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
    assert at.text_input(key="scenario.steps").value == "240"
    assert at.text_input(key="scenario.traders").value == "50"
    assert at.number_input(key="scenario.shock_step").value < 240
    assert not at.button(key="scenario.run").disabled


def _shock(at) -> dict:
    return at.session_state["scenario.current"].price_path.shocks[0]


def test_the_demo_size_is_a_miniature_of_the_presets_shock(runs_root):
    at = new_app().run()
    preset = load_scenario("oct-2025")
    full, demo = preset.price_path.shocks[0], _shock(at)
    ratio = 240 / preset.steps
    # The 45-step fall and 360-step recovery keep their shape: scaled, not squeezed to a step.
    assert (demo.step, demo.over_steps, demo.recovery_steps) == (100, 8, 60)
    assert demo.over_steps == round(full.over_steps * ratio) >= 5
    assert demo.recovery_steps == round(full.recovery_steps * ratio)
    assert (demo.fall_fraction, demo.recovery_fraction) == (full.fall_fraction, 0.5)
    captions = " ".join(c.value for c in at.caption)
    move = "a move of BTC -12%, ETH -16%, SOL -31%"  # the factor model's common shock
    assert f"{move} at step 600 over 45 steps, 50% back over 360 steps" in captions
    assert f"{move} at step 100 over 8 steps, 50% back over 60 steps" in captions
    # the alts' crash (the second common shock, 45 steps down, 120 back) is scaled the same way
    alts = at.session_state["scenario.current"].price_path.shocks[1]
    assert (alts.step, alts.over_steps, alts.recovery_steps) == (100, 8, 20)


def test_setting_steps_and_traders_back_runs_the_preset_itself(runs_root):
    at = new_app().run()
    at.text_input(key="scenario.steps").set_value("1440").run()
    at.text_input(key="scenario.traders").set_value("2,000").run()
    assert errors(at) == []
    assert at.text_input(key="scenario.steps").value == "1,440"
    assert at.number_input(key="scenario.shock_step").value == 600
    assert (
        at.session_state["scenario.current"].fingerprint()
        == load_scenario("oct-2025").fingerprint()
    )

    # And back to the demo size: the same miniature as at the start.
    at.text_input(key="scenario.steps").set_value("240").run()
    at.text_input(key="scenario.traders").set_value("50").run()
    demo = scenarios.demo_scenario(load_scenario("oct-2025"))
    assert at.session_state["scenario.current"].fingerprint() == demo.fingerprint()


def test_a_shock_step_moved_by_hand_stays_put_when_steps_change(runs_root):
    at = new_app().run()
    at.number_input(key="scenario.shock_step").set_value(50).run()
    at.text_input(key="scenario.steps").set_value("480").run()
    assert at.number_input(key="scenario.shock_step").value == 50
    shock = _shock(at)
    assert (shock.step, shock.over_steps, shock.recovery_steps) == (50, 15, 120)


class _QuickExit:
    """Stands in for ``jobs._spawn``: records the command, starts a process that exits 0."""

    def __init__(self):
        self.commands: list[list[str]] = []

    def __call__(self, command, cwd):
        self.commands.append(list(command))
        return subprocess.Popen(["true"], stderr=subprocess.PIPE, text=True)


def test_the_full_preset_switch_runs_the_preset_as_the_command_line_does(runs_root, monkeypatch):
    spawn = _QuickExit()
    monkeypatch.setattr(jobs, "_spawn", spawn)
    at = new_app().run()
    at.toggle(key="scenario.full").set_value(True).run()
    assert not at.exception, at.exception
    assert at.text_input(key="scenario.steps").value == "1,440"
    assert at.text_input(key="scenario.traders").value == "2,000"
    assert at.number_input(key="scenario.shock_step").value == 600
    assert at.text_input(key="scenario.steps").disabled
    assert at.number_input(key="scenario.max_leverage").disabled
    assert (
        at.session_state["scenario.current"].fingerprint()
        == load_scenario("oct-2025").fingerprint()
    )

    at.button(key="scenario.run").click().run()
    [command] = spawn.commands
    out = command[command.index("--out") + 1]
    assert command[1:3] == ["run", "oct-2025"]  # the preset by name, as `perpsim run oct-2025`
    assert Path(out).parent == runs_root / "app"

    at.toggle(key="scenario.full").set_value(False).run()
    assert at.text_input(key="scenario.steps").value == "240"
    assert not at.text_input(key="scenario.steps").disabled


def test_amounts_are_shown_and_read_with_thousands_separators(app):
    assert app.text_input(key="scenario.insurance_fund").value == "100,000"
    app.text_input(key="scenario.insurance_fund").set_value("2500000").run()
    assert errors(app) == []
    assert app.text_input(key="scenario.insurance_fund").value == "2,500,000"
    assert app.session_state["scenario.current"].controls.insurance_fund_usd == 2_500_000

    app.text_input(key="scenario.insurance_fund").set_value("2,50,000").run()
    [message] = errors(app)
    assert message == (
        "controls.insurance_fund_usd: not a number: '2,50,000' (write it as 1,000,000 or 1000000)"
    )
    assert app.button(key="scenario.run").disabled
    app.text_input(key="scenario.traders").set_value("12.5").run()
    app.text_input(key="scenario.insurance_fund").set_value("1e6").run()
    app.text_input(key="scenario.traders").set_value("12.5").run()
    assert errors(app) == ["traders.count: must be a whole number (got '12.5')"]


def _prices_csv(rows: int) -> bytes:
    lines = ["timestamp,price"] + [
        f"{1_700_000_000 + 60 * i},{100_000 - 50 * i}" for i in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


CSV_SCENARIO = b"""name: replay
steps: 20
traders: {kind: random, count: 5}
price_path: {kind: csv, path: data/prices.csv}
"""


def test_a_yaml_naming_a_csv_is_uploaded_with_its_csv(app, runs_root):
    app.radio(key="scenario.source").set_value("Upload YAML").run()
    app.file_uploader[0].upload("replay.yaml", CSV_SCENARIO, "application/yaml").run()
    [message] = errors(app)
    assert message == (
        "uploaded file replay.yaml: price_path.path names data/prices.csv: upload prices.csv "
        "together with the YAML file (CSV files uploaded: none)"
    )

    csv = _prices_csv(30)
    app.file_uploader[0].set_value(
        [("replay.yaml", CSV_SCENARIO, "application/yaml"), ("prices.csv", csv, "text/csv")]
    ).run()
    assert errors(app) == []
    path = app.session_state["scenario.current"].price_path.path
    assert path.read_bytes() == csv and runs_root / "app" / ".uploads" in path.parents
    assert app.text_input(key="scenario.steps").value == "20"


def test_an_explicit_books_csv_that_was_not_uploaded_is_refused(app):
    book = b"""name: book
steps: 10
traders: {kind: explicit, csv: positions.csv}
price_path: {kind: gbm, start_price_usd: 100000}
"""
    app.radio(key="scenario.source").set_value("Upload YAML").run()
    app.file_uploader[0].set_value(
        [("book.yaml", book, "application/yaml"), ("other.csv", b"side\n", "text/csv")]
    ).run()
    [message] = errors(app)
    assert message.endswith(
        "traders.csv names positions.csv: upload positions.csv together with the YAML file "
        "(CSV files uploaded: other.csv)"
    )
    positions = b"side,collateral_usd,size_base\nlong,1000,0.05\nshort,2000,0.05\n"
    app.file_uploader[0].set_value(
        [("book.yaml", book, "application/yaml"), ("positions.csv", positions, "text/csv")]
    ).run()
    assert errors(app) == []
    assert len(app.session_state["scenario.current"].traders.load_positions()) == 2


def test_the_sidebars_chain_backend_is_the_backend_of_the_run_it_starts(runs_root, monkeypatch):
    spawn = _QuickExit()
    monkeypatch.setattr(jobs, "_spawn", spawn)
    at = new_app().run()
    assert at.radio(key="sidebar.backend").value == "anvil"
    assert at.radio(key="sidebar.backend").options == ["anvil", "revm"]  # pyrevm is installed
    at.button(key="scenario.run").click().run()
    at.radio(key="sidebar.backend").set_value("revm").run()
    at.text_input(key="scenario.traders").set_value("40").run()  # another run: not reused
    at.button(key="scenario.run").click().run()
    assert not at.exception, at.exception
    first, second = spawn.commands
    assert first[first.index("--backend") + 1] == "anvil"
    assert second[second.index("--backend") + 1] == "revm"
