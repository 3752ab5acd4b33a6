"""Tune page (AppTest): a finished tune folder (a small real ``perpsim tune``, on chain on revm)
shows its Pareto front, its trials and the recommended set against the current one; a bad
range shows the CLI's one-line message; the Compare button opens the verification runs in the
Compare page; a tune started from the page runs ``perpsim tune`` and is read from its folder
when asked again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from app_helpers import chart_traces, charts, dataframe_with, errors, new_app
from perpsim_ui import jobs, scenarios
from perpsim_ui import tune as model
from simulator.cli import main
from simulator.experiments.report import cell, number
from tune_helpers import CONSTRAINT, OBJECTIVES, copy_tune, small_scenario

FUND = "controls.insurance_fund_usd"


@pytest.fixture
def tune_dir(runs_root: Path) -> Path:
    return copy_tune(runs_root)


def _open_tune(at: AppTest) -> AppTest:
    at.switch_page("app_pages/tune.py").run()
    assert not at.exception, at.exception
    return at


def _shown_table(at: AppTest):
    [table] = at.table
    return table.value


def test_a_finished_tune_shows_its_pareto_front_trials_and_recommended_set(tune_dir):
    data = json.loads((tune_dir / "tune.json").read_text())
    at = _open_tune(new_app().run())
    assert at.selectbox(key="tune.selected").value == str(tune_dir)
    assert errors(at) == []

    # The Pareto chart: each trial where its objectives put it, the front and the candidates.
    x, y = OBJECTIVES
    traces = chart_traces(at, "tune.chart.pareto")
    done = [t for t in data["trials_table"] if t["state"] == "COMPLETE"]
    front = sorted((t for t in done if t["pareto"]), key=lambda t: t["values"][x])
    assert front, "the small tune has a Pareto front"
    assert traces["Pareto front"]["x"] == pytest.approx([t["values"][x] for t in front])
    assert traces["Pareto front"]["y"] == pytest.approx([t["values"][y] for t in front])
    others = [t for t in done if not t["pareto"]]
    shown_others = len(traces["feasible"]["x"]) + len(traces["infeasible"]["x"])
    assert shown_others == len(others)
    by_number = {t["number"]: t for t in data["trials_table"]}
    candidates = [by_number[c["trial"]] for c in data["candidates"]]
    assert traces["candidates"]["x"] == pytest.approx([t["values"][x] for t in candidates])
    assert traces["current set"]["y"] == pytest.approx([data["current"]["tuning"]["objectives"][y]])

    # The trials table: one row per trial of the study, its parameters and objective values.
    trials = dataframe_with(at, "state", "feasible", "pareto", FUND, x, y)
    assert trials.index.tolist() == [t["number"] for t in data["trials_table"]]
    for t in done:
        assert trials.loc[t["number"], x] == pytest.approx(t["values"][x])
        assert trials.loc[t["number"], FUND] == pytest.approx(t["params"][FUND])

    # The recommended set beside the current one: tuning and held-out side by side.
    recommended = data["recommended"]
    assert recommended is not None, data["recommended_reason"]
    [success] = [s.value for s in at.success]
    assert recommended["label"] in success and data["recommended_reason"] in success
    table = _shown_table(at)
    label = recommended["label"]
    assert list(table.columns) == [
        "current · tuning (2 paths)", "current · held-out (2 paths)",
        f"{label} · tuning (2 paths)", f"{label} · held-out (2 paths)",
    ]  # fmt: skip
    chosen = next(c for c in data["candidates"] if c["label"] == label)
    assert table.loc[f"param: {FUND}", f"{label} · tuning (2 paths)"] == number(
        chosen["params"][FUND]
    )
    assert table.loc[f"param: {FUND}", "current · held-out (2 paths)"] == number(
        data["current"]["params"][FUND]
    )
    for metric in ("system_loss_usd", "fees_usd", "bad_debt_usd"):
        row = f"{metric} (mean [95% CI])"
        assert table.loc[row, f"{label} · held-out (2 paths)"] == cell(
            chosen["held_out"]["metrics"][metric]
        )
        assert table.loc[row, "current · tuning (2 paths)"] == cell(
            data["current"]["tuning"]["metrics"][metric]
        )
    assert table.loc[f"objective: {x}", f"{label} · held-out (2 paths)"] == number(
        chosen["held_out"]["objectives"][x]
    )

    # Another candidate can be put beside the current set.
    other = next(c["label"] for c in data["candidates"] if c["label"] != label)
    at.selectbox(key="tune.set").set_value(other).run()
    assert f"{other} · held-out (2 paths)" in _shown_table(at).columns


def _cli_error(scenario_file: Path, *options: str) -> str:
    """The one line ``perpsim tune`` prints for these options (without ``error: ``)."""
    result = CliRunner().invoke(main, ["tune", str(scenario_file), *options, "--out", "unused"])
    assert result.exit_code == 2, result.output
    [line] = [ln for ln in result.output.splitlines() if ln.strip()]
    assert line.startswith("error: ")
    return line.removeprefix("error: ")


@pytest.mark.parametrize(
    ("key", "text"),
    [(f"tune.range.{FUND}", "9..5"), (f"tune.range.{FUND}", "5..5"),
     (f"tune.range.{FUND}", "1..x"), ("tune.constraints", "evar99:no_such_metric<=1")],
)  # fmt: skip
def test_a_bad_input_shows_the_clis_one_line_message(runs_root, spawned, tmp_path, key, text):
    at = _open_tune(new_app().run())
    (at.text_area if key == "tune.constraints" else at.text_input)(key=key).set_value(text).run()
    assert not at.exception, at.exception
    scenario = scenarios.preset_scenario("oct-2025")
    spec = tmp_path / "scenario.yaml"
    spec.write_text(scenario.to_yaml())
    params = [at.text_input(key=f"tune.range.{name}").value for name in
              at.multiselect(key="tune.params").value]  # fmt: skip
    options = [f"--param={name}={rng}" for name, rng in
               zip(at.multiselect(key="tune.params").value, params, strict=True)]  # fmt: skip
    options += [f"--objective={o}" for o in at.multiselect(key="tune.objectives").value]
    options += [f"--constraint={c}" for c in at.text_area(key="tune.constraints").value.split("\n")]
    assert errors(at) == [_cli_error(spec, *options)]
    assert at.button(key="tune.run").disabled
    assert spawned.commands == []


def test_the_compare_button_opens_the_verification_runs_in_the_compare_page(tune_dir):
    data = json.loads((tune_dir / "tune.json").read_text())
    at = _open_tune(new_app().run())
    at.button(key="tune.open_compare").click().run()
    assert not at.exception, at.exception
    labels = ("current", *(c["label"] for c in data["candidates"]))
    assert at.session_state["compare.out_dir"] == (str(tune_dir / "verify"), labels, 2)
    assert at.title[0].value == "Compare controls"
    assert list(_shown_table(at).columns) == list(labels)
    assert [w.value for w in at.warning] == []  # every verification run finished
    assert any("Opened from the Tune page" in i.value for i in at.info)


def test_a_tune_started_on_the_page_runs_perpsim_tune_and_is_not_run_twice(runs_root, spawned):
    at = new_app().run()
    at.radio(key="sidebar.backend").set_value("revm").run()
    at.session_state["scenario.current"] = small_scenario()
    _open_tune(at)
    assert at.selectbox(key="tune.source").value == "scenario-page"
    at.number_input(key="tune.trials").set_value(2)
    at.number_input(key="tune.paths").set_value(1)
    at.number_input(key="tune.candidates").set_value(1)
    at.number_input(key="tune.verify_paths").set_value(0)
    at.text_input(key=f"tune.range.{FUND}").set_value("1e4..1e6")
    at.text_area(key="tune.constraints").set_value(CONSTRAINT).run()
    assert errors(at) == []

    at.button(key="tune.run").click().run()
    assert not at.exception, at.exception
    assert errors(at) == []
    [command] = spawned.commands
    assert command[1] == "tune" and f"--param={FUND}=1e4..1e6" in command
    assert command[command.index("--trials") + 1] == "2"
    assert command[command.index("--verify-backend") + 1] == "revm"
    [out] = list((runs_root / "app").glob("tune-*"))
    assert at.selectbox(key="tune.selected").value == str(out)
    data = json.loads((out / "tune.json").read_text())
    assert data["trials"]["complete"] == 2 and data["held_out"]["paths"] == 0
    assert len(chart_traces(at, "tune.chart.pareto")["current set"]["x"]) == 1
    # Nothing was verified on chain: no runs to open in the Compare page.
    assert at.button(key="tune.open_compare").disabled

    # The same tune again is read from its folder.
    at.button(key="tune.run").click().run()
    assert len(spawned.commands) == 1
    assert any("already ran" in s.value for s in at.success)


def test_an_unfinished_tune_says_what_it_has_and_another_schema_is_refused(tune_dir):
    report = (tune_dir / "tune.json").read_text()
    (tune_dir / "tune.json").unlink()
    at = _open_tune(new_app().run())
    [info] = [i.value for i in at.info if "not finished" in i.value]
    assert "5 trial(s) written so far" in info
    assert charts(at) == []

    data = json.loads(report)
    data["schema_version"] = 2
    (tune_dir / "tune.json").write_text(json.dumps(data))
    at.run()
    assert errors(at) == [
        f"{tune_dir / 'tune.json'} has schema version 2; this app reads version 1"
    ]
    assert charts(at) == []


def test_a_running_tune_says_whether_it_searches_or_verifies(tmp_path):
    job = jobs.Job(kind="tune", out_dir=tmp_path, command=[], label="tune small")
    assert model.progress_text(job, 3).startswith("tune small: starting")
    (tmp_path / "trials").mkdir()
    (tmp_path / "trials" / "trial-00000.json").write_text("{}")
    job.done, job.total = 1, 3
    assert model.progress_text(job, 3).startswith("tune small: search, trial 1 of 3 (")
    for i in (1, 2):
        (tmp_path / "trials" / f"trial-{i:05d}.json").write_text("{}")
    job.done, job.total = 2, 8
    assert model.progress_text(job, 3).startswith(
        "tune small: verification on chain, 2 of 8 evaluations ("
    )
    # The phase the tune's progress line names wins over the folder's files (a tune on a shared
    # --storage finishes its search with trials other machines ran, whose files are elsewhere).
    other = tmp_path / "other"
    other.mkdir()
    job = jobs.Job(kind="tune", out_dir=other, command=[], label="tune small")
    job._read_line('{"label": "tune", "done": 2, "total": 3, "detail": "trial 5"}')
    assert model.progress_text(job, 3).startswith("tune small: search, trial 2 of 3 (")
    job._read_line('{"label": "tune", "done": 0, "total": 8, "detail": "verification"}')
    assert model.progress_text(job, 3).startswith("tune small: verification on chain, 0 of 8")


def test_every_suggested_range_is_one_the_scenario_accepts():
    from simulator.experiments.params import check_params, parse_param
    from simulator.scenario.models import VenueAdlPolicy

    scenario = scenarios.preset_scenario("oct-2025")
    keys = [k for k in model.tunable_keys(scenario) if not k.startswith("markets.")]
    keys += [k for k in model.tunable_keys(scenario) if k.startswith("markets.BTC.")]
    suggested = {key: model.suggested_range(scenario, key) for key in keys}
    assert suggested["controls.insurance_fund_usd"] == "50000..150000"
    assert set(suggested["controls.adl_policy"].split("|")) == {p.value for p in VenueAdlPolicy}
    assert suggested["markets.BTC.overrides.full_liquidation_after_cooldown"] == "true|false"
    for key, text in suggested.items():
        if text:  # nothing is suggested for a key without a current value (leverage_cap: null)
            check_params(scenario, [parse_param(f"{key}={text}")])


def test_with_three_objectives_the_chart_plots_the_two_chosen(tune_dir):
    # The small tune's report with a third objective (a tune of three writes the same shape).
    path = tune_dir / "tune.json"
    data = json.loads(path.read_text())
    third = "mean:bad_debt_usd"
    data["objectives"].append({"label": third, "statistic": "mean", "metric": "bad_debt_usd",
                               "direction": "minimize"})  # fmt: skip
    for t in data["trials_table"]:
        if t["values"]:
            t["values"][third] = float(t["number"])
    data["current"]["tuning"]["objectives"][third] = 0.5
    path.write_text(json.dumps(data))
    at = _open_tune(new_app().run())
    assert (at.selectbox(key="tune.x").value, at.selectbox(key="tune.y").value) == OBJECTIVES
    at.selectbox(key="tune.y").set_value(third).run()
    traces = chart_traces(at, "tune.chart.pareto")
    front = sorted((t for t in data["trials_table"] if t["pareto"]),
                   key=lambda t: t["values"][OBJECTIVES[0]])  # fmt: skip
    assert traces["Pareto front"]["y"] == [float(t["number"]) for t in front]
    assert traces["current set"]["y"] == [0.5]
    # The x axis cannot take the y axis' objective: choosing it moves y to the first other.
    at.selectbox(key="tune.x").set_value(third).run()
    assert not at.exception, at.exception
    assert at.selectbox(key="tune.y").value == OBJECTIVES[0]


def test_the_verification_runs_on_revm_whatever_the_sidebar_says_unless_changed():
    """The held-out verification defaults to the in-process revm (the CLI's default, the issue's
    "revm where it exists"), not the sidebar's backend; the user can choose anvil, and the
    command line and the folder's key follow the choice."""
    at = new_app().run()
    assert at.radio(key="sidebar.backend").value == "anvil"
    at.session_state["scenario.current"] = small_scenario()
    _open_tune(at)
    assert at.radio(key="tune.verify_backend").value == "revm"
    at.radio(key="tune.engine").set_value("chain").run()
    form = model.TuneForm(
        scenario=small_scenario(), params=(f"{FUND}=1e4..1e6",), objectives=OBJECTIVES,
        constraints=(CONSTRAINT,), trials=2, paths=1, engine="chain", backend="anvil",
        max_change_pct=None, candidates=1, verify_paths=2, workers=1,
    )  # fmt: skip
    argv = form.options()
    assert argv[argv.index("--backend") + 1] == "anvil"
    assert argv[argv.index("--verify-backend") + 1] == "revm"
    assert form.request(Path(".")).verify_backend == "revm"
    on_anvil = model.TuneForm(**{**form.__dict__, "verify_backend": "anvil"})
    assert on_anvil.options()[on_anvil.options().index("--verify-backend") + 1] == "anvil"
    assert model.tune_key(on_anvil) != model.tune_key(form)
    [caption] = [c.value for c in at.caption if "held-out" in c.value]
    assert "on chain (revm)" in caption and "chain search on anvil" in caption
    at.radio(key="tune.verify_backend").set_value("anvil").run()
    [caption] = [c.value for c in at.caption if "held-out" in c.value]
    assert "on chain (anvil)" in caption
