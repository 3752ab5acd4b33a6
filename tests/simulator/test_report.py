"""Markdown report and PNG charts from steps tables."""

from __future__ import annotations

import pytest
import toy_engine

from simulator.report import CHARTS, ReportError, write_report
from simulator.results import RunReader
from simulator.stats import compare_table

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
