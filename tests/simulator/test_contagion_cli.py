"""``perpsim contagion``: a run folder with a contagion world gives the table and the four files
(exit 0); each bad input is one line on stderr, exit 2, and writes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "contagion"))
from contagion_report_helpers import make_base_run, world_run  # noqa: E402

from simulator.contagion.graph_io import run_graph_paths  # noqa: E402
from simulator.contagion.report import REPORT_FILES  # noqa: E402


def perpsim(*args: str) -> subprocess.CompletedProcess:
    exe = str(Path(sys.executable).with_name("perpsim"))
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return make_base_run(tmp_path_factory.mktemp("base") / "run")


@pytest.fixture
def run_dir(base, tmp_path):
    return world_run(base, tmp_path / "run")


def _files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def test_writes_the_table_and_the_four_files(run_dir):
    proc = perpsim("contagion", str(run_dir), "--shock-scale", "2")
    assert proc.returncode == 0, proc.stderr
    out = run_dir / "contagion"
    assert set(REPORT_FILES) <= _files(out)
    for header in ("DebtRank loss", "EN shortfall", "RV shortfall", "Furfine", "chain loss"):
        assert header in proc.stdout
    data = json.loads((out / "contagion.json").read_text())
    assert data["shock_scale"] == 2.0
    # venue h0 2 x 0.15 = 0.3 (see test_contagion_report); the chain's systemic loss 400 USD
    assert {n["node"]: n["h0"] for n in data["nodes"]}["venue"] == pytest.approx(0.3)
    assert data["totals"]["chain_systemic_loss_usd"] == pytest.approx(400)
    md = (out / "contagion.md").read_text()
    assert "| lending_pool | lending_pool |" in md and "bad debt 0.00 -> 20.00" in md
    html = (out / "contagion_graph.html").read_text()
    assert "plotly" in html and "lending_pool" in html and "chain loss" in html
    assert (out / "contagion_graph.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_out_and_json(run_dir, tmp_path):
    proc = perpsim("contagion", str(run_dir), "--out", str(tmp_path / "rep"), "--json")
    assert proc.returncode == 0, proc.stderr
    assert _files(tmp_path / "rep") == set(REPORT_FILES)
    assert json.loads(proc.stdout)["totals"]["debtrank_loss_usd"] == pytest.approx(482.5)
    assert _files(run_dir / "contagion") == {"graph_start.json", "graph_end.json"}


def _assert_one_line(proc, *needles):
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize(
    "args, needles",
    [
        (["--shock-scale", "-1"], ["shock_scale is negative"]),
        (["--shock-scale", "nan"], ["shock_scale is not a finite number"]),
        (["--shock", "venue=1.5"], ["venue=1.5", "outside [0, 1]"]),
        (["--shock", "venue=-0.2"], ["outside [0, 1]"]),
        (["--shock", "bank=0.2"], ["'bank' is not one of"]),
        (["--backend", "revm"], ["--backend applies to a SCENARIO"]),
    ],
)
def test_bad_options_are_one_line_and_write_nothing(run_dir, tmp_path, args, needles):
    proc = perpsim("contagion", str(run_dir), "--out", str(tmp_path / "rep"), *args)
    _assert_one_line(proc, *needles)
    assert not (tmp_path / "rep").exists()
    assert _files(run_dir / "contagion") == {"graph_start.json", "graph_end.json"}


def test_a_run_without_a_world_or_a_file_is_one_line(base, run_dir, tmp_path):
    proc = perpsim("contagion", str(base))
    _assert_one_line(proc, "this run has no contagion world (scenario key world:)")
    assert not (base / "contagion").exists()
    run_graph_paths(run_dir)[0].unlink()
    proc = perpsim("contagion", str(run_dir))
    _assert_one_line(proc, "missing contagion/graph_start.json")
    assert _files(run_dir / "contagion") == {"graph_end.json"}


def test_a_graph_with_a_negative_exposure_is_one_line(base, tmp_path):
    from contagion_report_helpers import hand_graphs

    start, end = hand_graphs()
    start.edges["backstop_vault", "venue"]["exposure_usd"] = -3.0
    run_dir = world_run(base, tmp_path / "neg", (start, end))
    _assert_one_line(perpsim("contagion", str(run_dir)), "exposure_usd")
    assert _files(run_dir / "contagion") == {"graph_start.json", "graph_end.json"}


def test_a_scenario_without_a_world_is_refused_before_it_runs(tmp_path):
    proc = perpsim("contagion", "calm", "--out", str(tmp_path / "r"), "--backend", "revm")
    _assert_one_line(proc, "scenario calm", "this run has no contagion world (scenario key world:)")
    assert not (tmp_path / "r").exists()
    _assert_one_line(perpsim("contagion", "no-such-scenario"), "no-such-scenario")
