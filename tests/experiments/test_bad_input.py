"""Every bad input of perpsim tune and perpsim sweep: one line on stderr, exit 2, and no output
folder left behind."""

from __future__ import annotations

import re
import sqlite3
import subprocess

import pytest
from click.testing import CliRunner
from experiment_helpers import small_scenario_file

from simulator.cli import main

GOOD_PARAM = "--param=controls.insurance_fund_usd=0..2000000"
GOOD_OBJECTIVE = "--objective=var95:system_loss_usd"


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory):
    return small_scenario_file(tmp_path_factory.mktemp("scenario"))


def _invoke(args):
    result = CliRunner(mix_stderr=False).invoke(main, [str(a) for a in args])
    return result.exit_code, result.stderr


def _tune(scenario_file, out, *extra):
    return _invoke(["tune", scenario_file, "--engine", "chain", "--trials", 1, "--paths", 1,
                    "--out", out, "--progress", "none", *extra])  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--param", "controls.no_such_key=1..2", GOOD_OBJECTIVE],
            r"controls\.no_such_key: unknown key",
        ),
        (["--param", "controls.insurance_fund_usd=5..5", GOOD_OBJECTIVE], "empty range 5..5"),
        (["--param", "controls.insurance_fund_usd=9..5", GOOD_OBJECTIVE], "inverted range 9..5"),
        ([GOOD_PARAM, "--objective", "var95:no_such_metric"], "unknown metric 'no_such_metric'"),
        ([GOOD_PARAM, "--objective", "mode:system_loss_usd"], "unknown statistic 'mode'"),
        (
            [GOOD_PARAM, GOOD_OBJECTIVE, "--constraint", "evar99:no_such_metric<=1e6"],
            r"--constraint evar99:no_such_metric<=1e6: unknown metric",
        ),
        ([GOOD_PARAM, GOOD_OBJECTIVE, "--engine", "warp"], "unknown engine 'warp'"),
        ([GOOD_PARAM, GOOD_OBJECTIVE, "--max-change", "-5"], "--max-change must be a percentage"),
        ([GOOD_PARAM, GOOD_OBJECTIVE, "--sampler", "grid"], "unknown sampler 'grid'"),
        ([GOOD_PARAM, GOOD_OBJECTIVE, "--dask", "nowhere"], "give 'local'"),
    ],
)
def test_a_bad_tune_input_is_one_line_and_writes_nothing(scenario_file, tmp_path, extra, message):
    out = tmp_path / "tune"
    code, stderr = _tune(scenario_file, out, *extra)
    assert code == 2, stderr
    assert stderr.count("\n") == 1 and stderr.startswith("error: ")
    assert re.search(message, stderr), stderr
    assert not out.exists()


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        (["--grid", "controls.no_such_key=1,2"], r"controls\.no_such_key: unknown key"),
        (["--grid", "controls.insurance_fund_usd=1,-2"], "insurance_fund_usd must be >= 0"),
        (
            [
                "--grid",
                "controls.leverage_cap=5,10",
                "--grid",
                "controls.insurance_fund_usd=0",
                "--zip",
            ],
            "give each the same number of values",
        ),
        (["--grid", "controls.leverage_cap"], "must look like NAME=v1,v2"),
    ],
)
def test_a_bad_sweep_input_is_one_line_and_writes_nothing(scenario_file, tmp_path, grid, message):
    out = tmp_path / "sweep"
    code, stderr = _invoke(["sweep", scenario_file, *grid, "--engine", "chain", "--paths", 1,
                            "--out", out, "--progress", "none"])  # fmt: skip
    assert code == 2, stderr
    assert stderr.count("\n") == 1
    assert re.search(message, stderr), stderr
    assert not out.exists()


def test_an_unreachable_dask_scheduler_is_one_line(perpsim_cmd, scenario_file, tmp_path):
    out = tmp_path / "sweep"
    proc = subprocess.run(
        [perpsim_cmd, "sweep", str(scenario_file), "--grid", "controls.leverage_cap=5,10",
         "--engine", "chain", "--paths", "1", "--dask", "tcp://127.0.0.1:9", "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "--dask tcp://127.0.0.1:9: no Dask scheduler answers there" in proc.stderr
    assert not out.exists()


def test_a_corrupt_study_database_is_one_line(scenario_file, tmp_path):
    db = tmp_path / "broken.db"
    db.write_bytes(b"this is not an sqlite database, just bytes" * 100)
    out = tmp_path / "tune"
    code, stderr = _tune(scenario_file, out, GOOD_PARAM, GOOD_OBJECTIVE, "--storage",
                         f"sqlite:///{db}")  # fmt: skip
    assert code == 2, stderr
    assert stderr.count("\n") == 1
    assert "cannot use the study database: the file is not a readable study database" in stderr
    assert not out.exists()


def test_a_locked_study_database_is_one_line(scenario_file, tmp_path):
    db = tmp_path / "locked.db"
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("create table hold (x integer)")
    holder.execute("begin exclusive")  # another process writing: every other reader waits
    try:
        out = tmp_path / "tune"
        code, stderr = _tune(scenario_file, out, GOOD_PARAM, GOOD_OBJECTIVE, "--storage",
                             f"sqlite:///{db}")  # fmt: skip
    finally:
        holder.execute("rollback")
        holder.close()
    assert code == 2, stderr
    assert stderr.count("\n") == 1
    assert "the database is locked by another process" in stderr
    assert not out.exists()


def test_a_folder_holding_another_tune_is_refused(scenario_file, tmp_path):
    out = tmp_path / "tune"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    code, stderr = _tune(scenario_file, out, GOOD_PARAM, GOOD_OBJECTIVE)
    assert code == 2
    assert "is not empty and holds no tune" in stderr
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_the_mirror_is_refused_up_front_for_a_scenario_it_does_not_model(tmp_path):
    # The contagion world (the one feature the mirror does not model): refused before any
    # trial, naming the feature (before this check, three trials failed one after another and
    # the tune stopped with a study left behind).
    out = tmp_path / "tune"
    code, stderr = _invoke(["tune", "oct-2025-world", "--engine", "mirror", "--trials", 1,
                            "--paths", 1, "--out", out, "--progress", "none", GOOD_PARAM,
                            GOOD_OBJECTIVE])  # fmt: skip
    assert code == 2, stderr
    assert stderr.count("\n") == 1
    assert "--engine mirror: scenario" in stderr and "the mirror engine does not model" in stderr
    assert "world:" in stderr
    assert not out.exists()
    # A sweep of it is refused the same way, before any point runs.
    out = tmp_path / "sweep"
    code, stderr = _invoke(["sweep", "oct-2025-world", "--grid",
                            "controls.backstop_vault_usd=500000,1000000", "--engine", "mirror",
                            "--paths", 1, "--out", out, "--progress", "none"])  # fmt: skip
    assert code == 2, stderr
    assert stderr.count("\n") == 1
    assert "--engine mirror: scenario" in stderr and "world:" in stderr
    assert not out.exists()
