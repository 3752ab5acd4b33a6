"""Contagion page (AppTest): a run folder with a contagion world is listed; the page shows the
graph and the model-vs-chain table; moving the shock-scale slider recomputes the models (their
losses change) and leaves the chain's figures as they are."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from app_helpers import charts, dataframe_with, new_app
from simulator.paths import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "tests" / "contagion"))
from contagion_report_helpers import make_base_run, world_run  # noqa: E402

from simulator.contagion.report import CHAIN_COLUMNS, MODEL_COLUMNS  # noqa: E402


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return make_base_run(tmp_path_factory.mktemp("base") / "run")


def _open(root: Path):
    at = new_app().run()
    at.switch_page("app_pages/contagion.py").run()
    assert not at.exception, at.exception
    return at


def test_the_slider_recomputes_the_models_beside_the_chain(base, runs_root):
    world_run(base, runs_root / "world-run")
    at = _open(runs_root)
    assert at.selectbox(key="contagion.selected").value == "world-run"
    table = dataframe_with(at, *MODEL_COLUMNS, *CHAIN_COLUMNS).set_index("node")
    # the hand graphs (tests/contagion/contagion_report_helpers.py) at scale 1: DebtRank's
    # pool loss 0.0475 x 1,000 USD; the chain: 20 USD of bad debt
    assert table.loc["lending_pool", "DebtRank loss"] == "47.50"
    assert table.loc["lending_pool", "chain loss"] == "20.00"
    assert table.loc["total", "chain loss"] == "400.00"
    assert len(charts(at)) == 1
    shown = {m.label: m.value for m in at.metric}
    assert shown["DebtRank systemic loss (USD)"] == "482.50"
    assert shown["Chain systemic loss (USD)"] == "400.00"

    at.slider(key="contagion.scale").set_value(2.0).run()
    assert not at.exception, at.exception
    moved = dataframe_with(at, *MODEL_COLUMNS, *CHAIN_COLUMNS).set_index("node")
    # scale 2: the pool gets (.25 x .2) + (.15 x .3) = .095 -> 95 USD
    assert moved.loc["lending_pool", "DebtRank loss"] == "95.00"
    for column in MODEL_COLUMNS[:2]:
        assert moved.loc["total", column] != table.loc["total", column]
    for column in CHAIN_COLUMNS:
        assert moved[column].tolist() == table[column].tolist()
    assert {m.label: m.value for m in at.metric}["DebtRank systemic loss (USD)"] == "965.00"

    # a scale that makes the cap bind says so
    at.slider(key="contagion.scale").set_value(5.0).run()
    assert any("capped at 1" in w.value for w in at.warning)


def test_no_world_run_says_how_to_get_one(base, runs_root):
    import shutil

    shutil.copytree(base, runs_root / "plain")
    at = _open(runs_root)
    assert any("No run under" in i.value for i in at.info)
