"""Compare controls page (AppTest): run control sets on the same paths, read the table."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from app_helpers import charts, errors, new_app, read_json
from perpsim_ui import views
from simulator.scenario import CONTROL_SETS
from simulator.stats import _fmt, compare_table

CONTROLS = ["baseline", "insurance_x10"]


def _open_compare(at: AppTest) -> AppTest:
    at.switch_page("app_pages/compare.py").run()
    assert not at.exception, at.exception
    return at


def _shown_table(at: AppTest) -> pd.DataFrame:
    [table] = at.table
    return table.value


def test_a_small_comparison_shows_one_column_per_control_set_with_the_runs_figures(
    runs_root, spawned
):
    at = new_app()
    at.query_params["controls"] = ",".join(CONTROLS)
    at.query_params["paths"] = "1"
    at.run()
    _open_compare(at)
    assert at.multiselect(key="compare.controls").value == CONTROLS
    assert at.number_input(key="compare.paths").value == 1

    at.button(key="compare.run").click().run()
    assert not at.exception, at.exception
    assert errors(at) == []
    [command] = spawned.commands
    assert (
        command[1] == "compare"
        and command[command.index("--controls") + 1] == "baseline,insurance_x10"
    )

    [out] = list((runs_root / "app").glob("compare-*"))
    table = _shown_table(at)
    assert list(table.columns) == CONTROLS
    for control in CONTROLS:
        summary = read_json(out / "runs" / control / "path-0" / "summary.json")
        for metric in ("liquidated_notional_usd", "liquidated_accounts", "bad_debt_usd", "fees_usd",
                       "insurance_fund_drawdown_usd", "min_price"):  # fmt: skip
            cell = table.loc[metric, control].removeprefix(views.BEST).strip()
            # A venue of several markets has no one min price: the summary holds null.
            expected = "n/a" if summary[metric] is None else _fmt(float(summary[metric]))
            assert cell == expected, (control, metric)
        assert table.loc["n_paths", control] == "1"
    keys = {c.key for c in charts(at)}
    assert {"compare.chart.metric", "compare.chart.prices", "compare.chart.bad_debt"} <= keys

    # The same comparison again is read from its folder: no new process, same table.
    at.button(key="compare.run").click().run()
    assert len(spawned.commands) == 1
    assert any("already ran" in s.value for s in at.success)
    assert _shown_table(at).equals(table)

    # The runs page lists the comparison and opens it with the same table.
    at.switch_page("app_pages/runs.py").run()
    at.selectbox(key="runs.selected").set_value(str(out.relative_to(runs_root))).run()
    assert not at.exception, at.exception
    assert _shown_table(at).equals(table)

    # A comparison that did not finish shows the runs that did, and says which did not.
    (out / "compare.json").unlink()
    manifest_path = out / "runs" / "insurance_x10" / "path-0" / "manifest.json"
    manifest = read_json(manifest_path)
    manifest["status"] = "incomplete"
    manifest_path.write_text(json.dumps(manifest))
    at.run()
    assert not at.exception, at.exception
    [warning] = [w.value for w in at.warning]
    assert "Comparison incomplete: not finished: insurance_x10/path-0" in warning
    assert list(_shown_table(at).columns) == ["baseline"]

    # The same figures; the best-of-row marker needs another column to compare with.
    def unmarked(column: pd.Series) -> pd.Series:
        return column.str.removeprefix(views.BEST).str.strip()

    assert unmarked(_shown_table(at)["baseline"]).equals(unmarked(table["baseline"]))
    assert not _shown_table(at)["baseline"].str.startswith(views.BEST).any()


def test_choosing_no_control_set_names_the_field(app, spawned):
    _open_compare(app)
    app.multiselect(key="compare.controls").set_value([]).run()
    assert errors(app) == ["controls: choose at least one control set"]
    assert app.button(key="compare.run").disabled
    assert spawned.commands == []


def test_the_scenario_page_input_is_compared_only_while_it_is_valid(app):
    app.text_input(key="scenario.traders").set_value("12").run()
    _open_compare(app)
    assert app.selectbox(key="compare.source").value == "scenario-page"
    assert app.session_state["scenario.current"].traders.count == 12

    app.switch_page("app_pages/scenario.py").run()
    app.number_input(key="scenario.max_leverage").set_value(0.0).run()
    _open_compare(app)
    assert "scenario-page" not in app.selectbox(key="compare.source").options


def test_best_values_are_marked_per_row_with_their_direction():
    results = {
        "a": [{"bad_debt_usd": 5.0, "fees_usd": 1.0, "min_price": 90.0}],
        "b": [{"bad_debt_usd": 2.0, "fees_usd": 3.0, "min_price": 90.0 + 1e-12}],
    }
    table = compare_table(results, metrics=["bad_debt_usd", "fees_usd", "min_price"])
    cells = views.marked_table(table)
    assert cells.loc["bad_debt_usd", "b"].startswith(views.BEST)  # lower is better
    assert not cells.loc["bad_debt_usd", "a"].startswith(views.BEST)
    assert cells.loc["fees_usd", "b"].startswith(views.BEST)  # higher is better
    assert not any(cells.loc["min_price"].str.startswith(views.BEST))  # equal but for noise
    assert not any(cells.loc["n_paths"].str.startswith(views.BEST))  # no direction
    assert math.isnan(table.loc["bad_debt_usd", ("a", "ci_low")])


@pytest.mark.parametrize("paths", ["0", "x", "500"])
def test_an_address_with_a_bad_number_of_paths_falls_back_to_a_valid_one(runs_root, paths):
    at = new_app()
    at.query_params["paths"] = paths
    at.run()
    _open_compare(at)
    assert 1 <= at.number_input(key="compare.paths").value <= 50


def test_control_set_chips_show_full_names_in_dark_text_and_the_sets_are_described(app):
    _open_compare(app)
    chooser = app.multiselect(key="compare.controls")
    # Chips carry the control set's name alone, so none is cut; what each changes is listed.
    assert chooser.options == list(CONTROL_SETS)
    assert chooser.value == ["baseline", "insurance_x10", "adl_pro_rata"]
    listed = [m.value for m in app.markdown if m.value.startswith("- **baseline**")]
    assert listed == ["\n".join(f"- **{c}**: {CONTROL_SETS[c]}" for c in chooser.value)]
    [style] = [h.proto.body for h in app.get("html") if "[data-tag]" in h.proto.body]
    assert f"background-color: {views.CHIP_BACKGROUND}" in style
    assert f"color: {views.CHIP_TEXT}" in style
    assert views.contrast_ratio(views.CHIP_TEXT, views.CHIP_BACKGROUND) >= 7  # WCAG AAA


def test_a_latency_sweep_shows_its_table_and_chart_in_delay_order(runs_root):
    import toy_venue

    from app_helpers import chart_traces
    from simulator.latency import latency_label, latency_table, write_latency

    out = runs_root / "app" / "cmp"
    toy_venue.write_comparison(out, controls=("baseline",), paths=2)
    delays = (0, 3600, 86_400)
    results = {latency_label(d): [{"liquidated_notional_usd": 1e6 * (i + 1) + p,
                                   "system_loss_usd": 1e5 * (i + 1) + p} for p in (0.0, 10.0)]
               for i, d in enumerate(delays)}  # fmt: skip
    executed = {latency_label(0): [12, 12], latency_label(3600): [72, 72],
                latency_label(86_400): [None, None]}  # fmt: skip
    table = latency_table(delays, results, executed, seed=1)
    write_latency(
        out, table, {"step": 12, "parameter": "max_leverage", "value": 10, "market": None}
    )

    at = new_app().run()
    at.session_state["compare.out_dir"] = (str(out), ("baseline",), 2)
    _open_compare(at)
    shown = [t.value for t in at.table if "in force" in t.value.columns]
    assert len(shown) == 1, "the latency table is shown once"
    [latency] = shown
    assert latency.index.tolist() == ["guardian (immediate)", "1 h", "24 h"]
    assert latency["in force"].tolist() == ["step 12", "step 72", "after the run"]
    assert latency["liquidated_notional_usd"].tolist()[0] == (
        f"{_fmt(1e6 + 5)} [{_fmt(1e6)}, {_fmt(1e6 + 10)}]"
    )
    traces = chart_traces(at, "compare.chart.latency")
    assert traces["liquidated_notional_usd"]["x"] == ["guardian (immediate)", "1 h", "24 h"]
    assert traces["liquidated_notional_usd"]["y"] == pytest.approx([1e6 + 5, 2e6 + 5, 3e6 + 5])
