"""What ``perpsim compare`` writes, from multi-market run folders made without a chain: the
venue's rows and each market's with a ``market`` column (compare.csv, compare.json), the
per-market table (compare.md, report.md) and the per-market charts."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
import toy_venue

from simulator.compare import COMPARE_OUTPUTS
from simulator.results import RunReader
from simulator.stats import MARKET_METRICS, VENUE, metric_stats


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp")
    return out, toy_venue.write_comparison(out)


def test_compare_csv_holds_the_venue_rows_then_each_markets_with_a_market_column(comparison):
    out, outcome = comparison
    saved = pd.read_csv(out / "compare.csv", header=[0, 1], index_col=[0, 1])
    assert saved.index.names == ["market", "metric"]
    assert list(dict.fromkeys(saved.index.get_level_values("market"))) == [
        VENUE,
        *toy_venue.MARKETS,
    ]
    assert saved.loc["SOL"].index.tolist() == list(MARKET_METRICS)
    for control in ("baseline", "leverage_cap"):
        sol = [RunReader(out / "runs" / control / f"path-{p}").summary["markets"]["SOL"]
               for p in (0, 1)]  # fmt: skip
        stats = metric_stats(s["bad_debt_usd"] for s in sol)
        assert saved.loc[("SOL", "bad_debt_usd"), (control, "mean")] == pytest.approx(stats.mean)
        assert saved.loc[("SOL", "bad_debt_usd"), (control, "ci_high")] == pytest.approx(
            stats.ci_high
        )
        venue = [RunReader(out / "runs" / control / f"path-{p}").summary for p in (0, 1)]
        assert saved.loc[(VENUE, "bad_debt_usd"), (control, "mean")] == pytest.approx(
            sum(s["bad_debt_usd"] for s in venue) / 2
        )
    assert saved.loc[(VENUE, "n_paths"), ("baseline", "mean")] == 2
    # the controls differ per market (the toy's leverage_cap halves every loss)
    assert saved.loc[("SOL", "insurance_payout_usd"), ("leverage_cap", "mean")] == pytest.approx(
        saved.loc[("SOL", "insurance_payout_usd"), ("baseline", "mean")] / 2
    )
    assert outcome["market_table"].index.get_level_values("market")[0] == "BTC"


def test_compare_json_records_the_markets_and_every_row_with_its_market(comparison):
    out, outcome = comparison
    saved = json.loads((out / "compare.json").read_text())
    assert saved["markets"] == list(toy_venue.MARKETS)
    records = pd.DataFrame(saved["table"])
    assert list(records.columns) == [
        "market",
        "metric",
        "control",
        "mean",
        "ci_low",
        "ci_high",
        "n",
    ]
    assert (records[records["metric"] == "bad_debt_usd"]["n"] == 2).all()  # paths with a value
    row = records[(records["market"] == "ETH") & (records["metric"] == "adl_notional_usd")
                  & (records["control"] == "leverage_cap")]  # fmt: skip
    assert len(row) == 1
    assert row["mean"].item() == pytest.approx(
        outcome["market_table"].loc[("ETH", "adl_notional_usd"), ("leverage_cap", "mean")]
    )
    assert set(records["market"]) == {VENUE, *toy_venue.MARKETS}


def test_compare_md_and_report_show_the_per_market_table_and_charts(comparison):
    out, _ = comparison
    text = (out / "compare.md").read_text()
    assert "## Comparison per market" in text
    assert "| market | metric | baseline | leverage_cap |" in text
    assert "| DOGE | insurance_payout_usd |" in text
    report = (out / "report.md").read_text()
    assert "## Comparison per market" in report
    assert "![Liquidated notional per market](liquidations_by_market.png)" in report
    written = {p.name for p in out.iterdir() if p.is_file()}
    assert written <= set(COMPARE_OUTPUTS)  # a second comparison can recognise and replace them
    assert {"liquidations_by_market.png", "bad_debt_by_market.png"} <= written


def test_a_one_market_comparison_keeps_the_venue_table_and_saves_its_markets_rows(tmp_path):
    outcome = toy_venue.write_comparison(tmp_path, paths=1, markets=["BTC"])
    saved = pd.read_csv(tmp_path / "compare.csv", header=[0, 1], index_col=[0, 1])
    assert list(dict.fromkeys(saved.index.get_level_values("market"))) == [VENUE, "BTC"]
    assert "per market" not in (tmp_path / "compare.md").read_text().lower()
    assert not (tmp_path / "bad_debt_by_market.png").exists()
    assert outcome["table"].loc["bad_debt_usd", ("baseline", "mean")] == pytest.approx(
        saved.loc[("BTC", "bad_debt_usd"), ("baseline", "mean")]
    )


def test_the_terminal_shows_the_venue_table_then_each_markets(comparison, capsys):
    from simulator.cli import print_comparison

    _, outcome = comparison
    print_comparison(outcome, "perpsim compare: toy")
    text = capsys.readouterr().out
    venue_at = text.index("perpsim compare: toy, venue totals (all markets)")
    markets_at = text.index("perpsim compare: toy, per market")
    assert venue_at < markets_at
    per_market = text[markets_at:]
    for symbol in toy_venue.MARKETS:
        assert f" {symbol} " in per_market
    assert per_market.count("insurance_payout_usd") == len(toy_venue.MARKETS)
    assert "var95_bad_debt_usd" in text[:markets_at]  # the venue keeps its tail figures


def test_the_terminal_shows_one_table_for_one_market(tmp_path, capsys):
    from simulator.cli import print_comparison

    print_comparison(toy_venue.write_comparison(tmp_path, paths=1, markets=["BTC"]), "cmp")
    text = capsys.readouterr().out
    assert "per market" not in text and "venue totals" not in text and "bad_debt_usd" in text


def _tables(markdown: str) -> list[list[str]]:
    """The Markdown tables of a document, each as its lines."""
    tables, current = [], []
    for line in markdown.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    return tables + ([current] if current else [])


def test_compare_md_tables_have_one_header_row_of_control_names_and_mean_interval_cells(
    comparison,
):
    out, _ = comparison
    text = (out / "compare.md").read_text()
    venue, per_market = _tables(text)
    assert venue[0] == "| metric | baseline | leverage_cap |"
    assert per_market[0] == "| market | metric | baseline | leverage_cap |"
    for table in (venue, per_market):
        assert set(table[1]) <= {"|", "-", ":"}  # the separator: one header row only
        assert not any("('" in line or "mean'" in line for line in table)  # no tuple headers
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in venue[2:]]
    cells = {row[0]: row[1:] for row in rows}
    assert all(re.fullmatch(r"\S+ \[\S+, \S+\]", c) for c in cells["bad_debt_usd"])
    assert cells["n_paths"] == ["2", "2"]
    # every table says how many paths it is over
    assert text.count("over 2 paths") == 2
    report = (out / "report.md").read_text()
    assert report.count("over 2 paths") == 2


def test_intervals_in_compare_csv_are_seeded_by_the_scenario_and_respect_the_support(comparison):
    out, outcome = comparison
    saved = pd.read_csv(out / "compare.csv", header=[0, 1], index_col=[0, 1])
    lows = saved.xs("ci_low", axis=1, level=1)
    money = [i for i in lows.index if i[1].endswith("_usd") and "pnl" not in i[1]]
    assert (lows.loc[money].dropna() >= 0).all().all()
    seed = json.loads((out / "compare.json").read_text())["scenario"]["seed"]
    sol = [RunReader(out / "runs" / "baseline" / f"path-{p}").summary["markets"]["SOL"]
           for p in (0, 1)]  # fmt: skip
    stats = metric_stats((s["min_price"] for s in sol), seed=seed)
    assert saved.loc[("SOL", "min_price"), ("baseline", "ci_low")] == pytest.approx(stats.ci_low)
