"""Markdown report and PNG charts from steps tables."""

from __future__ import annotations

import pytest
import toy_engine
import toy_venue

from simulator.report import (
    CHARTS,
    MARKET_CHARTS,
    ReportError,
    market_changes,
    plot_adl,
    plot_bad_debt,
    plot_by_market,
    plot_insurance_fund,
    plot_liquidations,
    plot_price,
    provenance_markdown,
    scenario_differences,
    usd_tick,
    write_report,
)
from simulator.results import RunReader, market_steps, venue_steps
from simulator.stats import compare_table, market_compare_table

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs")
    toy_engine.run(folder / "a")
    reader = RunReader(folder / "a")
    steps = reader.steps
    variant = steps.assign(price_oracle_usd=steps["price_oracle_usd"] * 1.01)
    return {"baseline": steps, "backstop": variant}, reader.summary


def test_report_writes_markdown_and_every_chart(tmp_path, runs):
    steps, summary = runs
    table = compare_table({"baseline": [summary], "backstop": [summary]})
    path = write_report(
        tmp_path / "report",
        steps,
        title="oct-2025: controls compared",
        no_feedback={"baseline": steps["baseline"]},
        table=table,
        summaries={"baseline": summary},
        description="Scenario oct-2025, 1 path, seed 5.",
    )
    assert path == tmp_path / "report" / "report.md"
    text = path.read_text()
    assert text.startswith("# oct-2025: controls compared\n")
    assert "## Comparison" in text and "| metric | baseline | backstop |" in text
    assert "## Summaries" in text and "Scenario oct-2025" in text
    names = ["price.png", *(name for name, _, _ in CHARTS)]
    for name in names:
        assert f"]({name})" in text
        assert (tmp_path / "report" / name).read_bytes().startswith(PNG_MAGIC)
    assert not [p for p in (tmp_path / "report").iterdir() if ".tmp-" in p.name]


def test_report_accepts_a_single_steps_table_and_is_reproducible(tmp_path, runs):
    steps, _ = runs
    write_report(tmp_path / "a", steps["baseline"])
    write_report(tmp_path / "b", steps["baseline"])
    for name in ("report.md", "price.png", "adl.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_report_errors_are_one_line(tmp_path, runs):
    steps, _ = runs
    with pytest.raises(ReportError, match="no runs"):
        write_report(tmp_path, {})
    broken = steps["baseline"].drop(columns=["bad_debt_usd"])
    with pytest.raises(ReportError, match="steps of run 'x' lack the columns bad_debt_usd"):
        write_report(tmp_path, {"x": broken})
    (tmp_path / "file").write_text("")
    with pytest.raises(ReportError, match="cannot create report folder"):
        write_report(tmp_path / "file" / "sub", steps)


def test_usd_axes_carry_k_and_m_suffixes_and_no_offset(runs):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    steps, _ = runs
    frame = steps["baseline"]
    big = {
        "x": frame.assign(
            liquidated_notional_long_usd=25e6 * frame["step"],
            insurance_fund_usd=3e6 + 1e5 * frame["step"],
            price_exogenous_usd=1_000 * frame["price_exogenous_usd"],
            price_oracle_usd=1_000 * frame["price_oracle_usd"],
        )
    }
    for plot in (plot_liquidations, plot_insurance_fund, plot_price):
        fig = plot(big)
        FigureCanvasAgg(fig).draw()
        ax = fig.axes[0]
        labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
        assert labels and all("e" not in label for label in labels), labels
        assert any(label.endswith(("k", "M")) for label in labels), labels
        assert ax.yaxis.get_offset_text().get_text() == ""


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0"), (999, "999"), (1_500, "1.5k"), (100_050, "100.05k"), (2.5e6, "2.5M"),
     (-4e6, "-4M"), (1.2e9, "1.2B")],
)  # fmt: skip
def test_usd_tick(value, text):
    assert usd_tick(value) == text


def test_scenario_differences_are_dotted_keys_with_the_variants_values():
    from simulator.scenario import control_set, load_scenario

    base = load_scenario("oct-2025")
    assert scenario_differences(base, base) == {}
    assert scenario_differences(base, control_set(base, "leverage_cap")) == {
        "controls.leverage_cap": 10.0
    }
    moved = base.with_overrides(["price_path.shocks[0].step=100", "traders.count=30"])
    assert scenario_differences(base, moved) == {
        "traders.count": 30,
        "price_path.shocks[0].step": 100,
    }


def test_report_names_the_overrides_and_the_control_sets(tmp_path, runs):
    from simulator.scenario import control_set, load_scenario

    steps, _ = runs
    scenario = load_scenario("oct-2025", ["price_path.shocks[0].step=100", "traders.count=30"])
    controls = {c: scenario_differences(scenario, control_set(scenario, c))
                for c in ("baseline", "adl_pro_rata")}  # fmt: skip
    lines = provenance_markdown(scenario, controls=controls, seeds=[11, 12])
    text = write_report(tmp_path, steps, provenance=lines).read_text()
    assert "- `price_path.shocks[0].step=100`" in text and "- `traders.count=30`" in text
    assert "**adl_pro_rata**: `controls.adl_policy=pro_rata`" in text
    assert "**baseline**: no change" in text
    assert f"fingerprint `{scenario.fingerprint()[:16]}`" in text
    assert "path 0: 11, path 1: 12" in text
    # the preset's prose is kept, and the overrides sentence is not repeated in it
    assert "exogenous fall within 45 minutes at step 600" in text
    assert text.count("Overrides (--set)") == 0


def test_report_plots_venue_totals_and_names_the_price_charts_market(tmp_path):
    from test_results_markets import two_market_frame

    steps = two_market_frame()
    line = plot_liquidations({"run": steps}).axes[0].lines[0]
    assert line.get_xdata().tolist() == [1, 2]  # one point per step, not per row
    assert line.get_ydata().tolist() == [6.0, 0.0]  # BTC 4 long + ETH 2 short
    price = plot_price({"run": steps}, market="ETH").axes[0]
    assert price.get_title() == "ETH: price with and without feedback"
    assert price.lines[1].get_ydata().tolist() == [9.0, 5.0]
    summary = {"bad_debt_usd": 3.0, "markets": {"BTC": {"bad_debt_usd": 0.0},
                                                 "ETH": {"bad_debt_usd": 3.0}}}  # fmt: skip
    text = write_report(tmp_path, {"run": steps}, summaries={"run": summary}).read_text()
    assert "### Price with and without feedback, per market" in text
    assert "## Per market" in text and "| ETH: bad_debt_usd | 3" in text


@pytest.fixture(scope="module")
def venue_runs(tmp_path_factory):
    """Two control sets' runs of the five-market toy venue, and the first without feedback."""
    folder = tmp_path_factory.mktemp("venue")
    summaries = {}
    for label, severity in (("baseline", 1.0), ("sol_cap", 0.5)):
        summaries[label] = toy_venue.write_run(folder / label, severity=severity)
    toy_venue.write_run(folder / "off", feedback=False)
    steps = {label: RunReader(folder / label).steps for label in summaries}
    return steps, RunReader(folder / "off").steps, summaries


def test_the_price_chart_has_one_panel_per_market_with_its_oracle_prices(venue_runs):
    steps, off, _ = venue_runs
    fig = plot_price(steps, {"baseline": off})
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == list(toy_venue.MARKETS)
    assert fig.get_suptitle() == "Price with and without feedback, per market"
    for ax in panels:
        symbol = ax.get_title()
        lines = {line.get_label(): line.get_ydata().tolist() for line in ax.lines}
        rows = market_steps(steps["sol_cap"], symbol)
        assert lines["sol_cap: oracle"] == rows["price_oracle_usd"].tolist()
        assert (
            lines["exogenous"]
            == market_steps(steps["baseline"], symbol)["price_exogenous_usd"].tolist()
        )
        assert (
            lines["baseline: oracle, no feedback"]
            == market_steps(off, symbol)["price_oracle_usd"].tolist()
        )
    assert len(fig.axes) == 6 and not fig.axes[5].get_visible()  # a 3 x 2 grid, one cell unused


def test_flow_charts_plot_the_venue_by_default_and_one_market_when_named(venue_runs):
    steps, _, _ = venue_runs
    venue = venue_steps(steps["baseline"])
    sol = market_steps(steps["baseline"], "SOL")
    ax = plot_liquidations(steps).axes[0]
    assert ax.get_title() == "Liquidations per step (venue)"
    assert (
        ax.lines[0].get_ydata().tolist()
        == (venue["liquidated_notional_long_usd"] + venue["liquidated_notional_short_usd"]).tolist()
    )
    ax = plot_liquidations(steps, market="SOL").axes[0]
    assert ax.get_title() == "Liquidations per step (SOL)"
    assert (
        ax.lines[0].get_ydata().tolist()
        == (sol["liquidated_notional_long_usd"] + sol["liquidated_notional_short_usd"]).tolist()
    )
    ax = plot_bad_debt(steps, market="SOL").axes[0]
    assert ax.lines[0].get_ydata().tolist() == sol["bad_debt_usd"].cumsum().tolist()
    ax = plot_adl(steps, market="BTC").axes[0]  # BTC had no ADL in the toy venue
    assert set(ax.lines[0].get_ydata().tolist()) == {0.0}
    assert plot_adl(steps).axes[0].lines[0].get_ydata()[-1] > 0
    with pytest.raises(ReportError, match="no market 'XRP'"):
        plot_bad_debt(steps, market="XRP")


def test_a_report_of_several_markets_compares_each_market_and_charts_them(tmp_path, venue_runs):
    steps, off, summaries = venue_runs
    results = {label: [summary] for label, summary in summaries.items()}
    changes = market_changes({"baseline": {},
                              "sol_cap": {"markets.SOL.overrides.max_leverage": 5}})  # fmt: skip
    text = write_report(
        tmp_path, steps, no_feedback={"baseline": off}, table=compare_table(results),
        market_table=market_compare_table(results), changes=changes, summaries=summaries,
    ).read_text()  # fmt: skip
    assert "## Comparison per market" in text
    assert "| market | metric | baseline | sol_cap |" in text
    assert "| SOL | changed parameters | - | overrides.max_leverage=5 |" in text
    sol_bad_debt = summaries["sol_cap"]["markets"]["SOL"]["bad_debt_usd"]
    assert (
        f"| SOL | bad_debt_usd | {summaries['baseline']['markets']['SOL']['bad_debt_usd']:g}"
        f" | {sol_bad_debt:g} |" in text
    )
    for name, heading, _ in MARKET_CHARTS:
        assert f"### {heading}" in text and (tmp_path / name).read_bytes().startswith(PNG_MAGIC)
    by_market = plot_by_market(steps, "bad_debt")
    sol = next(ax for ax in by_market.axes if ax.get_title() == "SOL")
    assert (
        sol.lines[1].get_ydata().tolist()
        == market_steps(steps["sol_cap"], "SOL")["bad_debt_usd"].cumsum().tolist()
    )


def test_a_report_of_one_market_has_no_per_market_charts_or_comparison(tmp_path, runs):
    steps, summary = runs
    results = {"baseline": [summary], "backstop": [summary]}
    text = write_report(tmp_path, steps, table=compare_table(results),
                        market_table=market_compare_table(results)).read_text()  # fmt: skip
    assert "### BTC: price with and without feedback" in text
    assert "per market" not in text.lower()
    assert not any((tmp_path / name).exists() for name, _, _ in MARKET_CHARTS)


def test_scenario_differences_key_the_markets_by_symbol():
    base = {"markets": [{"symbol": "BTC", "overrides": {"max_leverage": 40}},
                        {"symbol": "SOL", "overrides": {"max_leverage": 20}}]}  # fmt: skip
    variant = {"markets": [{"symbol": "BTC", "overrides": {"max_leverage": 40}},
                           {"symbol": "SOL", "overrides": {"max_leverage": 5}}]}  # fmt: skip
    assert scenario_differences(base, variant) == {"markets.SOL.overrides.max_leverage": 5}
    assert market_changes({"sol_cap": scenario_differences(base, variant)}) == {
        "SOL": {"sol_cap": "overrides.max_leverage=5"}
    }
