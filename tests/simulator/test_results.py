"""Run folders: atomic writes, manifest status, refusal to overwrite, checkpoints and resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import toy_engine

import simulator.results as results
from simulator.errors import PerpsimError
from simulator.results import (
    EVENT_COLUMNS,
    POSITION_COLUMNS,
    STEP_COLUMNS,
    SUMMARY_KEYS,
    VENUE_ONLY_STEP_COLUMNS,
    CheckpointError,
    ResultsError,
    RunExistsError,
    RunIncompleteError,
    RunMismatchError,
    RunNotFoundError,
    RunReader,
    RunWriter,
    atomic_write_bytes,
    atomic_write_json,
    check_same_run,
    code_hash,
    deterministic_summary,
    market_steps,
    summarize,
    venue_total_row,
)

DATA_FILES = ("steps.parquet", "events.parquet", "positions.parquet")


def step_rows(step: int, **overrides) -> list[dict]:
    """One step of a one-market ("BTC") venue: its market row and its venue-total row; each
    override goes to the row that holds its column (extra columns to both)."""
    market = {c.name: 0.0 for c in STEP_COLUMNS if c.name not in VENUE_ONLY_STEP_COLUMNS}
    market.update(step=step, timestamp_s=60 * step, market="BTC", accounts_liquidated=0)
    venue = {"transactions": 1}
    for name, value in overrides.items():
        if name in VENUE_ONLY_STEP_COLUMNS:
            venue[name] = value
        else:
            market[name] = value
    total = venue_total_row([market], accounts_liquidated=market["accounts_liquidated"],
                            venue=venue)  # fmt: skip
    extra = {k: v for k, v in overrides.items() if k not in {c.name for c in STEP_COLUMNS}}
    return [market, {**total, **extra}]


def steps_frame(*steps: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([row for rows in steps for row in rows])


def files_bytes(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in DATA_FILES}


# -- a complete run --------------------------------------------------------------------------


def test_toy_run_writes_a_complete_readable_folder(tmp_path):
    summary = toy_engine.run(tmp_path / "run")
    reader = RunReader(tmp_path / "run")
    assert reader.complete and reader.status == "complete"
    assert list(reader.summary) == list(SUMMARY_KEYS)
    assert reader.summary == summary
    assert list(reader.steps.columns) == [c.name for c in STEP_COLUMNS]
    assert list(reader.events.columns) == [c.name for c in EVENT_COLUMNS]
    assert list(reader.positions.columns) == [c.name for c in POSITION_COLUMNS]
    assert reader.steps["step"].tolist() == [k for k in range(30) for _ in range(2)]
    assert reader.steps["market"].tolist() == ["BTC", "ALL"] * 30
    assert reader.markets == ("BTC",)
    assert reader.venue_steps["step"].tolist() == list(range(30))
    assert reader.market_steps("BTC")["step"].tolist() == list(range(30))
    assert reader.venue_steps["step"].dtype == np.int64
    assert reader.venue_steps["transactions"].dtype == np.int64
    assert set(reader.events["market"]) == {"BTC"} and set(reader.positions["market"]) == {"BTC"}
    assert set(reader.events["side"]) <= {"long", "short"}
    assert not (tmp_path / "run" / "checkpoint.npz").exists()
    manifest = reader.manifest
    assert manifest["seed"] == 5 and manifest["chain_id"] == 31337
    assert manifest["bytecode_hashes"] == {"PerpVenue": "0xabc"}
    assert manifest["scenario"] == toy_engine.SCENARIO
    assert len(manifest["scenario_fingerprint"]) == 64
    assert manifest["code_hash"].startswith(("git:", "sha256:"))
    assert manifest["package_version"]


def test_manifest_stores_a_scenario_model_with_its_fingerprint(tmp_path):
    from simulator.scenario import load_scenario

    scenario = load_scenario("calm")
    writer = RunWriter(tmp_path / "r", scenario=scenario)
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["status"] == "running"
    assert manifest["scenario_fingerprint"] == scenario.fingerprint()
    assert manifest["scenario_name"] == "calm" and manifest["seed"] == scenario.seed
    assert manifest["scenario"] == scenario.to_dict()
    assert writer.manifest["status"] == "running"


def test_same_inputs_give_identical_files(tmp_path):
    a = toy_engine.run(tmp_path / "a")
    b = toy_engine.run(tmp_path / "b")
    assert files_bytes(tmp_path / "a") == files_bytes(tmp_path / "b")
    assert deterministic_summary(a) == deterministic_summary(b)
    assert "wall_seconds" not in deterministic_summary(a)


def test_columns_are_documented_with_units_in_the_module_docstring():
    doc = results.__doc__
    for column in (*STEP_COLUMNS, *EVENT_COLUMNS, *POSITION_COLUMNS):
        line = next((ln for ln in doc.splitlines() if ln.startswith(column.name + " ")), None)
        assert line is not None, f"{column.name} is not documented"
        assert column.unit in line.split(), f"{column.name}: unit {column.unit} not in {line!r}"


# -- refusing to overwrite -------------------------------------------------------------------


def test_complete_run_is_not_overwritten_unless_asked(tmp_path):
    toy_engine.run(tmp_path / "run")
    before = files_bytes(tmp_path / "run")
    with pytest.raises(RunExistsError, match="already holds a complete run"):
        RunWriter(tmp_path / "run", scenario={"name": "x"})
    assert files_bytes(tmp_path / "run") == before
    RunWriter(tmp_path / "run", scenario={"name": "x"}, overwrite=True)
    assert RunReader(tmp_path / "run", require_complete=False).status == "running"
    assert not (tmp_path / "run" / "summary.json").exists()


def test_unfinished_run_points_to_resume(tmp_path):
    with pytest.raises(toy_engine.Crash):
        toy_engine.run(tmp_path / "run", die_at=10)
    with pytest.raises(RunExistsError, match=r"unfinished run \(last checkpoint at step 6\); "
                       r"resume it with --resume"):  # fmt: skip
        RunWriter(tmp_path / "run", scenario={"name": "x"})


def test_foreign_folder_is_not_written_into(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(RunExistsError, match="not empty and is not a run folder"):
        RunWriter(tmp_path, scenario={"name": "x"})
    (tmp_path / "file").write_text("")
    with pytest.raises(RunExistsError, match="not a folder"):
        RunWriter(tmp_path / "file", scenario={"name": "x"})


# -- incomplete runs ---------------------------------------------------------------------------


def test_crash_marks_the_run_incomplete_with_a_one_line_reason(tmp_path):
    with pytest.raises(toy_engine.Crash):
        toy_engine.run(tmp_path / "run", die_at=10)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["status"] == "incomplete"
    assert manifest["incomplete_reason"] == "node died at step 10"
    assert manifest["checkpoint_step"] == 6
    for name in DATA_FILES:
        assert not (tmp_path / "run" / name).exists()


def test_reader_refuses_an_incomplete_run_unless_asked(tmp_path):
    with pytest.raises(toy_engine.Crash):
        toy_engine.run(tmp_path / "run", die_at=3)
    with pytest.raises(RunIncompleteError) as excinfo:
        RunReader(tmp_path / "run")
    assert "\n" not in str(excinfo.value) and "--resume" in str(excinfo.value)
    assert RunReader(tmp_path / "run", require_complete=False).status == "incomplete"


def test_reader_errors_are_one_line(tmp_path):
    with pytest.raises(RunNotFoundError, match="run folder not found"):
        RunReader(tmp_path / "nothing")
    with pytest.raises(RunNotFoundError, match="not a run folder"):
        RunReader(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ResultsError, match="unreadable manifest"):
        RunReader(tmp_path)


def test_corrupt_parquet_is_a_one_line_error(tmp_path):
    toy_engine.run(tmp_path / "run")
    (tmp_path / "run" / "steps.parquet").write_bytes(b"garbage")
    with pytest.raises(ResultsError, match="unreadable Parquet"):
        _ = RunReader(tmp_path / "run").steps


# -- checkpoints and resume --------------------------------------------------------------------


@pytest.mark.parametrize("die_at", [3, 6, 7, 20, 29])
def test_resumed_run_ends_with_identical_files(tmp_path, die_at):
    reference = toy_engine.run(tmp_path / "ref")
    with pytest.raises(toy_engine.Crash):
        toy_engine.run(tmp_path / "run", die_at=die_at)
    resumed = toy_engine.run(tmp_path / "run", resume=True)
    assert files_bytes(tmp_path / "run") == files_bytes(tmp_path / "ref")
    assert deterministic_summary(resumed) == deterministic_summary(reference)
    manifest = RunReader(tmp_path / "run").manifest
    # checkpoints at the ends of steps 6, 13, 20, 27; the crash comes before its own step's
    expected_from = max((c for c in (6, 13, 20, 27) if c < die_at), default=None)
    assert manifest["resumed_from_steps"] == [expected_from]


def test_run_killed_by_sigkill_resumes_to_identical_files(tmp_path):
    toy_engine.run(tmp_path / "ref")
    proc = subprocess.run(
        [sys.executable, toy_engine.__file__, str(tmp_path / "run"), "17"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip
    assert proc.returncode == -9, proc.stderr
    killed = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert killed["status"] == "running" and killed["checkpoint_step"] == 13
    with pytest.raises(RunIncompleteError):
        RunReader(tmp_path / "run")
    toy_engine.run(tmp_path / "run", resume=True)
    assert files_bytes(tmp_path / "run") == files_bytes(tmp_path / "ref")
    assert RunReader(tmp_path / "run").complete


def test_checkpoint_round_trip_restores_state_meta_and_rows(tmp_path):
    writer = RunWriter(tmp_path / "r", scenario={"name": "x"})
    for step in range(4):
        writer.add_step(step_rows(step, price_oracle_usd=float(step)))
    writer.add_events([{"step": 2, "kind": "liquidation", "account": "0x1", "side": -1}])
    state = {"a": np.arange(5.0), "b": np.array([True, False]), "c": np.eye(2, dtype=np.int8)}
    writer.write_checkpoint(3, state, {"snapshot": "0x5", "n": 3, "big": 2**70})
    writer.add_step(step_rows(4))  # after the checkpoint: dropped on resume

    resumed = RunWriter.resume(tmp_path / "r")
    ck = resumed.checkpoint
    assert ck.step == 3 and ck.meta == {"snapshot": "0x5", "n": 3, "big": 2**70}
    assert set(ck.state) == {"a", "b", "c"}
    for key, value in state.items():
        np.testing.assert_array_equal(ck.state[key], value)
        assert ck.state[key].dtype == value.dtype
    assert resumed.steps_written == 4
    prices = market_steps(resumed.steps_table().to_pandas())["price_oracle_usd"]
    assert prices.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert resumed.events_table().column("side").to_pylist() == ["short"]


def test_checkpoint_refuses_object_arrays_and_rows_past_its_step(tmp_path):
    writer = RunWriter(tmp_path / "r", scenario={"name": "x"})
    with pytest.raises(ValueError, match="object array"):
        writer.write_checkpoint(0, {"x": np.array([{}, None], dtype=object)})
    writer.add_step(step_rows(5))
    with pytest.raises(ValueError, match="later step"):
        writer.write_checkpoint(4, {})


def test_resume_refuses_complete_missing_and_changed_bytecode(tmp_path):
    toy_engine.run(tmp_path / "done")
    with pytest.raises(RunExistsError, match="already complete"):
        RunWriter.resume(tmp_path / "done")
    with pytest.raises(RunNotFoundError, match="not a run folder"):
        RunWriter.resume(tmp_path / "nothing")
    with pytest.raises(toy_engine.Crash):
        toy_engine.run(tmp_path / "run", die_at=9)
    with pytest.raises(RunMismatchError, match=r"bytecode changed .*\(PerpVenue\)"):
        RunWriter.resume(tmp_path / "run", bytecode_hashes={"PerpVenue": "0xdef"})
    RunWriter.resume(tmp_path / "run", bytecode_hashes={"PerpVenue": "0xabc"})


def test_unreadable_checkpoint_is_a_one_line_error(tmp_path):
    with pytest.raises(toy_engine.Crash):
        toy_engine.run(tmp_path / "run", die_at=9)
    (tmp_path / "run" / "checkpoint.npz").write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="unreadable checkpoint"):
        RunWriter.resume(tmp_path / "run")


# -- atomic writes -----------------------------------------------------------------------------


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if ".tmp-" in p.name]


def test_crash_before_the_rename_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "summary.json"
    atomic_write_json(target, {"v": 1})

    def crash(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_json(target, {"v": 2})
    assert json.loads(target.read_text()) == {"v": 1}
    assert leftovers(tmp_path) == []


def test_crash_mid_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "steps.parquet"
    real_open = open

    class HalfWriter:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, data):
            self.handle.write(data[: len(data) // 2])
            raise OSError(28, "No space left on device")

    monkeypatch.setattr("builtins.open", lambda p, m="r", *a, **k: HalfWriter(real_open(p, m)))
    with pytest.raises(ResultsError, match="No space left on device"):
        atomic_write_bytes(target, b"x" * 1000)
    assert not target.exists()
    assert leftovers(tmp_path) == []


def test_failing_fsync_keeps_the_previous_version(tmp_path, monkeypatch):
    target = tmp_path / "f.bin"
    atomic_write_bytes(target, b"old")
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(5, "I/O error")))
    with pytest.raises(ResultsError, match="I/O error"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_temp_files_of_a_killed_writer_are_cleaned_on_resume(tmp_path):
    with pytest.raises(toy_engine.Crash):
        toy_engine.run(tmp_path / "run", die_at=9)
    stale = tmp_path / "run" / ".steps.parquet.tmp-123-abcd"
    stale.write_bytes(b"partial")
    toy_engine.run(tmp_path / "run", resume=True)
    assert not stale.exists()


def test_finish_marks_complete_only_after_every_file(tmp_path, monkeypatch):
    writer = RunWriter(tmp_path / "r", scenario={"name": "x"})
    writer.add_step(step_rows(0))
    original = results.writer.atomic_write_json

    def fail_on_summary(path, data):
        if Path(path).name == "summary.json":
            raise ResultsError("disk full")
        original(path, data)

    monkeypatch.setattr(results.writer, "atomic_write_json", fail_on_summary)
    with pytest.raises(ResultsError), writer:
        writer.finish([], meta={"traders": 0, "steps": 1, "wall_seconds": 0})
    monkeypatch.undo()
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["status"] == "incomplete" and manifest["incomplete_reason"] == "disk full"


# -- row validation ----------------------------------------------------------------------------


def test_rows_missing_documented_columns_are_refused(tmp_path):
    writer = RunWriter(tmp_path / "r", scenario={"name": "x"})
    with pytest.raises(ValueError, match="lack the columns .*bad_debt_usd"):
        writer.add_step([{k: v for k, v in r.items() if k != "bad_debt_usd"} for r in step_rows(0)])
    with pytest.raises(ValueError, match="oi_long_usd has missing values"):
        writer.add_step(step_rows(0, oi_long_usd=None))
    with pytest.raises(ValueError, match="side must be"):
        writer.add_events({"step": 0, "kind": "liquidation", "side": 2})


def test_extra_numeric_step_columns_are_kept_after_the_documented_ones(tmp_path):
    writer = RunWriter(tmp_path / "r", scenario={"name": "x"})
    writer.add_steps(steps_frame(step_rows(0, zeta=1, alpha=2.5), step_rows(1, zeta=2, alpha=0)))
    writer.finish([], meta={"traders": 0, "steps": 2, "wall_seconds": 0})
    steps = RunReader(tmp_path / "r").steps
    assert list(steps.columns)[-2:] == ["alpha", "zeta"]
    with pytest.raises(ValueError, match="extra column name must be numeric"):
        RunWriter(tmp_path / "s", scenario={"name": "x"}).add_step(step_rows(0, name="x"))


def test_columnar_rows_and_unknown_outcomes(tmp_path):
    writer = RunWriter(tmp_path / "r", scenario={"name": "x"})
    writer.add_events({"step": np.array([1, 2]), "kind": ["adl_fill", "bad_debt"],
                       "amount_usd": np.array([5.0, 7.0])})  # fmt: skip
    assert writer.events_table().column("amount_usd").to_pylist() == [5.0, 7.0]
    assert writer.events_table().column("account").to_pylist() == [None, None]
    position = {c.name: 1 for c in POSITION_COLUMNS}
    position.update(account="0x1", side="long", outcome="exploded")
    with pytest.raises(ValueError, match="unknown outcome 'exploded'"):
        writer.finish([position], meta={"traders": 1, "steps": 0, "wall_seconds": 0})


def test_adding_after_finish_is_refused(tmp_path):
    writer = RunWriter(tmp_path / "r", scenario={"name": "x"})
    writer.finish([], meta={"traders": 0, "steps": 0, "wall_seconds": 0})
    with pytest.raises(ResultsError, match="already finished"):
        writer.add_step(step_rows(0))


# -- summary -----------------------------------------------------------------------------------


def test_summary_on_known_tables():
    steps = steps_frame(
        *[
            step_rows(0, price_exogenous_usd=100, price_oracle_usd=100, insurance_fund_usd=50,
                     backstop_equity_usd=1000, backstop_share_price=1.0, transactions=3),
            step_rows(1, price_exogenous_usd=90, price_oracle_usd=80, insurance_fund_usd=70,
                     liquidated_notional_long_usd=400, accounts_liquidated=2, bad_debt_usd=5,
                     adl_haircut_usd=12, adl_overshoot_usd=2, fees_usd=1.5, transactions=4,
                     backstop_equity_usd=900, backstop_share_price=0.95),
            step_rows(2, price_exogenous_usd=95, price_oracle_usd=97, insurance_fund_usd=30,
                     liquidated_notional_short_usd=100, accounts_liquidated=1, bad_debt_usd=1,
                     fees_usd=0.5, transactions=5, backstop_equity_usd=1100,
                     backstop_share_price=1.1),
        ]
    )  # fmt: skip
    events = pd.DataFrame({"step": [1, 1, 2, 2], "account": ["a", "b", "a", "c"],
                           "kind": ["liquidation", "partial_liquidation", "backstop_takeover",
                                    "adl_fill"]})  # fmt: skip
    s = summarize(steps, events, pd.DataFrame(), {"traders": 10, "steps": 2, "wall_seconds": 1.5})
    assert list(s) == list(SUMMARY_KEYS)
    assert s["transactions"] == 12
    assert s["liquidated_notional_usd"] == 500
    assert (s["liquidated_notional_long_usd"], s["liquidated_notional_short_usd"]) == (400, 100)
    assert s["liquidated_accounts"] == 2  # a and b; c was only ADL'd
    assert s["bad_debt_usd"] == 6
    assert s["insurance_fund_drawdown_usd"] == 40  # peak 70 -> 30
    assert s["backstop_pnl_usd"] == pytest.approx(100.0)  # 10% on 1,000
    assert (s["adl_haircut_usd"], s["adl_overshoot_usd"]) == (12, 2)
    assert (s["start_price"], s["exogenous_min_price"], s["min_price"]) == (100, 90, 80)
    assert s["price_amplification"] == pytest.approx(2.0)
    assert s["fees_usd"] == 2.0


def test_summary_guards_zero_division_and_empty_tables():
    flat = steps_frame(*[step_rows(k, price_exogenous_usd=100 + k, price_oracle_usd=100)
                         for k in range(3)])  # fmt: skip
    meta = {"traders": 1, "steps": 3, "wall_seconds": 0}
    assert summarize(flat, pd.DataFrame(), pd.DataFrame(), meta)["price_amplification"] is None
    empty = summarize(pd.DataFrame(columns=[c.name for c in STEP_COLUMNS]), pd.DataFrame(),
                      pd.DataFrame(), meta)  # fmt: skip
    assert empty["min_price"] is None and empty["liquidated_notional_usd"] == 0
    assert empty["backstop_pnl_usd"] == 0 and empty["insurance_fund_drawdown_usd"] == 0


def test_summary_counts_accounts_from_steps_without_liquidation_events():
    steps = steps_frame(step_rows(0, accounts_liquidated=2), step_rows(1, accounts_liquidated=3))
    meta = {"traders": 1, "steps": 2, "wall_seconds": 0}
    assert summarize(steps, pd.DataFrame(), pd.DataFrame(), meta)["liquidated_accounts"] == 5


def test_summary_meta_overrides_and_requirements():
    steps = steps_frame(step_rows(0))
    meta = {"traders": 1, "steps": 1, "wall_seconds": 0, "backstop_pnl_usd": np.float64(-3)}
    s = summarize(steps, pd.DataFrame(), pd.DataFrame(), meta)
    assert s["backstop_pnl_usd"] == -3 and type(s["backstop_pnl_usd"]) is float
    with pytest.raises(ValueError, match="lacks 'traders'"):
        summarize(steps, pd.DataFrame(), pd.DataFrame(), {"steps": 1, "wall_seconds": 0})


def test_summary_json_has_no_nan(tmp_path):
    atomic_write_json(tmp_path / "s.json", {"a": float("nan"), "b": np.float32(1.5),
                                            "c": [np.int64(2), float("inf")]})  # fmt: skip
    assert json.loads((tmp_path / "s.json").read_text()) == {"a": None, "b": 1.5, "c": [2, None]}


def test_errors_are_perpsim_errors():
    for cls in (ResultsError, RunExistsError, RunIncompleteError, RunNotFoundError,
                CheckpointError):  # fmt: skip
        assert issubclass(cls, PerpsimError)


def test_code_hash_names_its_source():
    assert code_hash().split(":")[0] in ("git", "sha256")


def test_a_run_still_being_written_by_a_live_process_is_not_resumed(tmp_path):
    import socket

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        RunWriter(tmp_path / "r", scenario={"name": "x"})
        manifest_path = tmp_path / "r" / "manifest.json"
        manifest = json.loads(manifest_path.read_text())
        manifest["writer"] = {"pid": child.pid, "host": socket.gethostname()}
        manifest_path.write_text(json.dumps(manifest))
        with pytest.raises(RunExistsError, match=f"still being written by process {child.pid}"):
            RunWriter.resume(tmp_path / "r")
        with pytest.raises(RunExistsError, match="still being written"):
            RunWriter(tmp_path / "r", scenario={"name": "x"}, overwrite=True)
    finally:
        child.kill()
        child.wait()
    RunWriter.resume(tmp_path / "r")  # the writer is gone: resumable


def test_dataframe_rows_with_nan_mean_missing_values(tmp_path):
    writer = RunWriter(tmp_path / "r", scenario={"name": "x"})
    writer.add_events(pd.DataFrame({"step": [1, 2], "kind": ["a", "b"], "account": ["x", np.nan],
                                    "side": [1.0, np.nan]}))  # fmt: skip
    assert writer.events_table().column("account").to_pylist() == ["x", None]
    assert writer.events_table().column("side").to_pylist() == ["long", None]
    positions = pd.DataFrame({
        "account": ["a", "b"], "market": ["BTC", "BTC"], "side": ["long", "short"],
        "collateral_usd": [1.0, 2.0],
        "size_base": [1.0, 1.0], "entry_price_usd": [1.0, 1.0], "leverage": [1.0, 1.0],
        "liquidation_price_at_open_usd": [0.5, 1.5], "opened_step": [0, 1],
        "outcome": ["open", "liquidated"], "outcome_step": [None, 5],
        "realized_pnl_usd": [None, -3.0],
    })  # fmt: skip
    writer.finish(positions, meta={"traders": 2, "steps": 5, "wall_seconds": 0})
    table = RunReader(tmp_path / "r").positions
    assert table["outcome_step"].isna().tolist() == [True, False]
    assert table["outcome_step"].iloc[1] == 5 and table["realized_pnl_usd"].iloc[1] == -3.0


# -- reuse: the same run, or a one-line refusal --------------------------------------------------


def toy_manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def crashed_toy(folder: Path, die_at: int = 9) -> Path:
    with pytest.raises(toy_engine.Crash):
        toy_engine.run(folder, die_at=die_at)
    return folder


def test_check_same_run_names_the_first_differing_key_with_both_values():
    from simulator.scenario import load_scenario

    asked = load_scenario("calm", ["traders.count=30"])
    ran = load_scenario("calm", ["traders.count=20"])
    manifest = {"scenario": ran.to_dict(), "scenario_fingerprint": ran.fingerprint(),
                "code_hash": code_hash(), "bytecode_hashes": {"PerpVenue": "0x1"}}  # fmt: skip
    check_same_run(manifest, ran, code_hash(), {"PerpVenue": "0x1"})  # the same run
    with pytest.raises(RunMismatchError) as excinfo:
        check_same_run(manifest, asked, code_hash(), {"PerpVenue": "0x1"}, prefix="runs/x")
    message = str(excinfo.value)
    assert message.startswith("runs/x: scenario traders.count: 20 -> 30;")
    assert "--overwrite" in message and "--out" in message and "\n" not in message


def test_check_same_run_names_list_items_code_and_contracts():
    from simulator.scenario import load_scenario

    ran = load_scenario("oct-2025")
    asked = load_scenario("oct-2025", ["price_path.shocks[0].step=100"])
    manifest = {"scenario": ran.to_dict(), "scenario_fingerprint": ran.fingerprint(),
                "code_hash": "sha256:old", "bytecode_hashes": {"PerpVenue": "0x1", "Oracle": "0x2"}}  # fmt: skip
    with pytest.raises(RunMismatchError) as excinfo:
        check_same_run(manifest, asked, "sha256:new", {"PerpVenue": "0x9", "Oracle": "0x2"})
    message = str(excinfo.value)
    assert "scenario price_path.shocks[0].step: 600 -> 100" in message
    assert "the code changed (code hash sha256:old -> sha256:new)" in message
    assert "contract bytecode changed (PerpVenue)" in message
    # A name or description alone is not a difference: it is not part of what runs.
    renamed = ran.with_overrides({"name": "other", "description": "other words"})
    check_same_run({**manifest, "code_hash": "sha256:new"}, renamed, "sha256:new", None)


def test_code_hash_is_a_content_hash_of_the_package_sources(tmp_path, monkeypatch):
    package = tmp_path / "simulator"
    (package / "presets").mkdir(parents=True)
    (package / "engine.py").write_text("x = 1\n")
    (package / "presets" / "venue.yaml").write_text("a: 1\n")
    monkeypatch.setattr(results.provenance, "_PACKAGE_ROOT", package)
    compute = code_hash.__wrapped__
    first = compute()
    assert first.startswith("sha256:") and compute() == first
    (package / "NOTES.md").write_text("a README-only change")
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "engine.cpython-311.pyc").write_bytes(b"\0")
    assert compute() == first
    (package / "engine.py").write_text("x = 2\n")
    edited = compute()
    assert edited != first
    (package / "presets" / "venue.yaml").write_text("a: 2\n")
    assert compute() not in (first, edited)


def test_manifest_records_the_git_commit_beside_the_code_hash(tmp_path):
    toy_engine.run(tmp_path / "run")
    manifest = toy_manifest(tmp_path / "run")
    assert manifest["code_hash"] == code_hash() and manifest["code_hash"].startswith("sha256:")
    assert manifest["git_commit"] == results.git_commit()


def _drop_scenario(m):
    m.pop("scenario")


def _edit_scenario(m):
    m["scenario"]["steps"] = 31


def _change_code(m):
    m["code_hash"] = "sha256:" + "0" * 64


@pytest.mark.parametrize(
    ("edit", "error", "needle"),
    [
        (_drop_scenario, RunMismatchError, "records no scenario"),
        (_edit_scenario, RunMismatchError, "does not match the recorded fingerprint"),
        (_change_code, RunMismatchError, "the code changed"),
    ],
)
def test_resume_refuses_an_edited_manifest_and_leaves_it_as_it_was(tmp_path, edit, error, needle):
    folder = crashed_toy(tmp_path / "run")
    manifest = toy_manifest(folder)
    edit(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(error, match=needle) as excinfo:
        RunWriter.resume(folder)
    assert "\n" not in str(excinfo.value) and "--overwrite" in str(excinfo.value)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert toy_manifest(folder).get("status") == "incomplete"


def test_resume_refuses_a_deleted_checkpoint_instead_of_restarting_from_step_0(tmp_path):
    folder = crashed_toy(tmp_path / "run")
    assert toy_manifest(folder)["checkpoint_step"] == 6
    (folder / "checkpoint.npz").unlink()
    before = (folder / "manifest.json").read_bytes()
    with pytest.raises(CheckpointError, match="records a checkpoint at step 6 but checkpoint.npz"):
        RunWriter.resume(folder)
    assert (folder / "manifest.json").read_bytes() == before


def test_resume_refuses_a_truncated_checkpoint_and_leaves_the_run_incomplete(tmp_path):
    folder = crashed_toy(tmp_path / "run")
    data = (folder / "checkpoint.npz").read_bytes()
    (folder / "checkpoint.npz").write_bytes(data[: len(data) // 2])
    before = (folder / "manifest.json").read_bytes()
    with pytest.raises(CheckpointError, match="unreadable checkpoint") as excinfo:
        RunWriter.resume(folder)
    assert "\n" not in str(excinfo.value)
    assert (folder / "manifest.json").read_bytes() == before
    assert toy_manifest(folder)["status"] == "incomplete"


def test_overwrite_replaces_only_a_run_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(RunExistsError, match="not a run folder.*--overwrite replaces only run"):
        RunWriter(tmp_path, scenario={"name": "x"}, overwrite=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert not (tmp_path / "manifest.json").exists()
    with pytest.raises(RunExistsError, match="not a run folder"):
        RunWriter.check_folder(tmp_path, overwrite=True)


def test_check_folder_refuses_without_creating_anything(tmp_path):
    RunWriter.check_folder(tmp_path / "new" / "run")
    assert not (tmp_path / "new").exists()
    toy_engine.run(tmp_path / "done")
    with pytest.raises(RunExistsError, match="already holds a complete run"):
        RunWriter.check_folder(tmp_path / "done")
    RunWriter.check_folder(tmp_path / "done", overwrite=True)


def test_a_run_that_fails_before_its_first_step_leaves_no_folder(tmp_path):
    target = tmp_path / "made" / "by" / "run"
    with pytest.raises(RuntimeError), RunWriter(target, scenario={"name": "x"}):
        raise RuntimeError("deployment reverted")
    assert not (tmp_path / "made").exists()
    # A folder that existed (empty) is left as it was: there, and empty.
    (tmp_path / "mine").mkdir()
    with pytest.raises(RuntimeError), RunWriter(tmp_path / "mine", scenario={"name": "x"}):
        raise RuntimeError("deployment reverted")
    assert (tmp_path / "mine").is_dir() and list((tmp_path / "mine").iterdir()) == []
    # Once a step was written, the folder stays, incomplete and resumable.
    with pytest.raises(RuntimeError), RunWriter(target, scenario={"name": "x"}) as writer:
        writer.add_step(step_rows(0))
        raise RuntimeError("node died")
    assert toy_manifest(target)["status"] == "incomplete"


def test_a_failed_overwrite_keeps_the_folder_it_replaced_incomplete(tmp_path):
    toy_engine.run(tmp_path / "run")
    with pytest.raises(RuntimeError):
        with RunWriter(tmp_path / "run", scenario={"name": "x"}, overwrite=True):
            raise RuntimeError("deployment reverted")
    assert toy_manifest(tmp_path / "run")["status"] == "incomplete"


def test_summary_bad_debt_is_the_ledgers_level_not_a_sum_of_float_differences():
    # Bad debt recorded then covered by ADL: the level (USD) goes up and back to 0, and the
    # step column holds its differences, whose float sum is -3.9e-14, not 0.
    levels = [0.0, 228.762221, 945.270696, 901.427458, 30.589983, 0.0]
    flows = [b - a for a, b in zip(levels[:-1], levels[1:], strict=True)]
    assert sum(flows) != 0.0
    steps = steps_frame(*[step_rows(k, bad_debt_usd=f) for k, f in enumerate(flows, start=1)])
    meta = {"traders": 1, "steps": 5, "wall_seconds": 0.0}
    assert summarize(steps, pd.DataFrame(), pd.DataFrame(), meta)["bad_debt_usd"] == sum(flows)
    with_level = summarize(steps, pd.DataFrame(), pd.DataFrame(), {**meta, "bad_debt_usd": 0.0})
    assert with_level["bad_debt_usd"] == 0.0
    assert with_level["markets"]["BTC"]["bad_debt_usd"] == 0.0  # a single market's is the venue's
