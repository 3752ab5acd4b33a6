"""The reports' plots (:func:`simulator.experiments.report.write_figures`): a PNG that kaleido's
batch left out is tried once more alone, and one still missing is reported (``png_error``),
never linked; a kaleido that raises leaves the HTML and says why."""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio
import pytest

from simulator.experiments.report import figure_lines, write_figures


def _figures() -> dict:
    return {name: go.Figure(go.Bar(x=[1, 2], y=[3, 4])) for name in ("first", "second")}


def _fake_png(path) -> None:
    Path(path).write_bytes(b"\x89PNG fake image bytes")


@pytest.mark.parametrize("retry_writes", [True, False])
def test_a_png_the_batch_left_out_is_retried_then_reported(tmp_path, monkeypatch, retry_writes):
    # The batch writes only the first file and returns without an error, as seen under load.
    monkeypatch.setattr(pio, "write_images", lambda figs, paths: _fake_png(paths[0]))
    retried: list[str] = []

    def write_image(fig, path):
        retried.append(Path(path).name)
        if retry_writes:
            _fake_png(path)

    monkeypatch.setattr(pio, "write_image", write_image)
    written = write_figures(_figures(), tmp_path)
    assert retried == ["second.png"]
    assert written["first"] == {"html": "first.html", "png": "first.png", "png_error": None}
    assert (tmp_path / "first.html").is_file() and (tmp_path / "second.html").is_file()
    if retry_writes:
        assert written["second"]["png"] == "second.png" and written["second"]["png_error"] is None
    else:
        assert written["second"]["png"] is None
        assert written["second"]["png_error"] == "kaleido returned without writing the file"
        [line] = [ln for ln in figure_lines(written, "plots") if "second" in ln]
        assert "second.png" not in line and "PNG not written" in line


def test_a_kaleido_that_raises_keeps_the_html_and_says_why(tmp_path, monkeypatch):
    def fail(figs, paths):
        raise RuntimeError("Chrome   not found")

    monkeypatch.setattr(pio, "write_images", fail)
    written = write_figures(_figures(), tmp_path)
    for name in ("first", "second"):
        assert written[name]["png"] is None and written[name]["png_error"] == "Chrome not found"
        assert (tmp_path / f"{name}.html").is_file()
