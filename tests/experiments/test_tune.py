"""perpsim tune on chain: a tune killed mid-search resumes with its finished trials kept, its
ranges narrowed by --max-change, its candidates verified on held-out paths."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import optuna
import pytest
from experiment_helpers import small_scenario, small_scenario_file

from simulator.experiments.tune import build_request
from simulator.scenario import path_seeds


def _tune_cmd(perpsim_cmd, scenario_file, out):
    return [
        perpsim_cmd, "tune", str(scenario_file),
        "--param", "controls.insurance_fund_usd=0..2000000",
        "--param", "markets.BTC.overrides.max_leverage=5..40",
        "--objective", "var95:system_loss_usd", "--objective", "mean:fees_usd",
        "--constraint", "evar99:bad_debt_usd<=1e5",
        "--max-change", "50", "--trials", "7", "--paths", "2", "--engine", "chain",
        "--workers", "1", "--candidates", "2", "--verify-paths", "2",
        "--out", str(out), "--progress", "none",
    ]  # fmt: skip


def _sqlite_format(path):
    """Bytes 18-19 of a SQLite file's header (its write/read format): (2, 2) in WAL mode,
    (1, 1) with a rollback journal. Read without opening the database."""
    with open(path, "rb") as f:
        header = f.read(20)
    return header[18], header[19]


def test_a_killed_tune_resumes_with_its_finished_trials_kept(perpsim_cmd, tmp_path):
    scenario_file = small_scenario_file(tmp_path)
    out = tmp_path / "tune"
    cmd = _tune_cmd(perpsim_cmd, scenario_file, out)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while len(list((out / "trials").glob("trial-*.json"))) < 2:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no two trials finished in 120 s"
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert not (out / "tune.json").exists()
    # The tune's own study file ran in write-ahead-log mode (the header's format bytes), and
    # what the killed process committed there is what the resumed one finds below.
    assert _sqlite_format(out / "study.db") == (2, 2)
    kept = {f.name: (f.stat().st_mtime_ns, f.read_bytes()) for f in (out / "trials").iterdir()}
    assert len(kept) >= 2

    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    # The trials finished before the kill are the same files, untouched.
    for name, (mtime, data) in kept.items():
        f = out / "trials" / name
        assert (f.stat().st_mtime_ns, f.read_bytes()) == (mtime, data), name
    result = json.loads((out / "tune.json").read_text())
    study = optuna.load_study(study_name=result["study"]["name"],
                              storage=f"sqlite:///{out / 'study.db'}")  # fmt: skip
    # Finished: one file again, in rollback-journal mode.
    assert _sqlite_format(out / "study.db") == (1, 1)
    assert sorted(p.name for p in out.glob("study.db*")) == ["study.db"]
    states = [t.state.name for t in study.trials]
    assert states.count("COMPLETE") == 7 == result["trials"]["complete"]
    assert "RUNNING" not in states
    # A trial the kill interrupted is marked failed, never counted.
    for t in study.trials:
        if t.state.name == "FAIL":
            assert "interrupted" in t.user_attrs["error"]
    kept_numbers = {json.loads(data)["number"] for _, data in kept.values()}
    complete = {t.number for t in study.trials if t.state.name == "COMPLETE"}
    assert kept_numbers <= complete

    # --max-change 50: every trial within the current value +- 50%.
    params = {p["name"]: p for p in result["params"]}
    fund = params["controls.insurance_fund_usd"]
    assert fund["narrowed"] and (fund["low"], fund["high"]) == pytest.approx(
        (fund["current"] * 0.5, fund["current"] * 1.5))  # fmt: skip
    lev = params["markets.BTC.overrides.max_leverage"]
    assert (lev["low"], lev["high"]) == pytest.approx(
        (lev["current"] * 0.5, min(40, lev["current"] * 1.5)))  # fmt: skip
    for t in study.trials:
        for name, value in t.params.items():
            assert params[name]["low"] <= value <= params[name]["high"]

    # Held-out paths: the SeedSequence children after the tuning ones, disjoint from them.
    seed = small_scenario().seed
    assert result["tuning"]["seeds"] == path_seeds(seed, 2)
    assert result["held_out"]["seeds"] == path_seeds(seed, 4)[2:]
    assert result["held_out"]["disjoint"] is True
    assert not set(result["held_out"]["seeds"]) & set(result["tuning"]["seeds"])
    # The candidates are Pareto trials, re-run on chain on the held-out paths.
    assert [c["label"] for c in result["candidates"]] == ["candidate-1", "candidate-2"][
        : len(result["candidates"])]  # fmt: skip
    assert result["candidates"], result["recommended_reason"]
    for s in [result["current"], *result["candidates"]]:
        assert len(s["runs"]) == 2
        for i, run in enumerate(s["runs"]):
            manifest = json.loads((out / run / "manifest.json").read_text())
            assert manifest["status"] == "complete" and manifest["extra"]["backend"] == "revm"
            assert manifest["seed"] == result["held_out"]["seeds"][i]
        assert set(s["held_out"]["objectives"]) == {"var95:system_loss_usd", "mean:fees_usd"}
    # OUT/verify is a finished comparison of the sets (what the app's Compare view opens).
    verify = json.loads((out / "verify" / "compare.json").read_text())
    labels = [s["label"] for s in [result["current"], *result["candidates"]]]
    assert list(verify["controls"]) == labels and verify["paths"] == 2
    assert verify["held_out_seeds"] == result["held_out"]["seeds"]
    assert result["files"]["verify_compare"] == "verify/compare.json"
    for s in [result["current"], *result["candidates"]]:
        summaries = [json.loads((out / run / "summary.json").read_text()) for run in s["runs"]]
        assert verify["runs"][s["label"]] == summaries
    first = result["candidates"][0]
    assert first["trial"] == result["pareto"][0]
    assert first["params"] == study.trials[first["trial"]].params
    report = (out / "tune.md").read_text()
    assert "disjoint from the tuning paths" in report and "## Pareto front" in report
    assert (out / "plots" / "pareto-front.png").is_file()


def test_max_change_is_checked_before_anything_runs(tmp_path):
    request = build_request(
        small_scenario(), ["controls.insurance_fund_usd=0..2000000"], ["mean:system_loss_usd"],
        trials=1, paths=1, out=tmp_path / "t", engine="chain", max_change_pct=10,
    )  # fmt: skip
    (fund,) = request.params
    assert (fund.low, fund.high) == pytest.approx((fund.current * 0.9, fund.current * 1.1))
    assert fund.given == (0.0, 2_000_000.0)
    assert not (tmp_path / "t").exists()


def test_trials_a_dead_process_left_running_are_told_from_their_file_or_failed(tmp_path):
    import socket

    from simulator.experiments.objectives import parse_objective
    from simulator.experiments.study import (
        OWNER,
        make_sampler,
        open_storage,
        open_study,
        settle_stale_trials,
    )

    url = f"sqlite:///{tmp_path / 'study.db'}"
    objectives = [parse_objective("mean:system_loss_usd"), parse_objective("mean:fees_usd")]
    study = open_study(open_storage(url), url, "s", objectives, make_sampler("tpe", 1, False))
    dead = f"{socket.gethostname()}:{2**22 + 12345}"  # above pid_max: no such process
    written, lost, alive = study.ask(), study.ask(), study.ask()
    for trial in (written, lost):
        trial.set_user_attr(OWNER, dead)
    alive.set_user_attr(OWNER, f"{socket.gethostname()}:{os.getpid()}")
    saved = {written.number: {"values_list": [1.0, 2.0], "violations": [-5.0]}}
    assert settle_stale_trials(study, saved, ["evar99:bad_debt_usd<=1"]) == (1, 1)
    states = {t.number: t for t in study.get_trials()}
    assert states[written.number].state.name == "COMPLETE"
    assert states[written.number].values == [1.0, 2.0]
    assert states[written.number].constraints == {"evar99:bad_debt_usd<=1": -5.0}
    assert states[lost.number].state.name == "FAIL"
    assert "interrupted" in states[lost.number].user_attrs["error"]
    assert states[alive.number].state.name == "RUNNING"  # its process (this one) is alive


#: The small scenario's features the mirror does not model, switched off.
MIRRORED = {"order_flow": None, "mm_vault.capital_usd": 0, "mm_vault.quoting": False,
            "lps.withdraw_on_drawdown": None, "controls.feedback": False}  # fmt: skip


def test_tunes_sharing_a_storage_rank_every_trial_of_the_study(tmp_path):
    """Two tunes on one ``--storage`` (two machines, say) share the study: the second runs only
    the trials still missing and ranks, reports and picks candidates among all of them, the
    first's included (their figures come from the study; their files stay in the first's
    folder)."""
    from simulator.experiments.tune import run_tune

    url = f"sqlite:///{tmp_path / 'shared.db'}"

    def tune(out: str, trials: int) -> dict:
        request = build_request(
            small_scenario(**MIRRORED), ["controls.insurance_fund_usd=0..2000000"],
            ["var95:system_loss_usd", "mean:fees_usd"], trials=trials, paths=2,
            out=tmp_path / out, engine="mirror", storage=url, verify_paths=0, workers=1,
            candidates=5,
        )  # fmt: skip
        return run_tune(request)

    first = tune("a", 2)
    second = tune("b", 4)
    # A storage the user names is used as it is: never switched to write-ahead-log mode.
    assert _sqlite_format(tmp_path / "shared.db") == (1, 1)
    assert not list(tmp_path.glob("shared.db-*"))
    # What each invocation ran and took (the second ran only the two trials the study missed).
    for result in (first, second):
        timing = result["timing"]
        assert (timing["trials_run"], timing["evaluations_run"]) == (2, 4)
        assert timing["search_seconds"] > 0 and timing["verify_seconds"] >= 0
        assert timing["seconds_per_evaluation"] == pytest.approx(
            timing["search_seconds"] / 4, rel=1e-3)  # fmt: skip
        assert "Wall time of this invocation: the search" in (result["out"] / "tune.md").read_text()
    assert first["study"]["name"] == second["study"]["name"]
    mine = sorted(int(f.stem.split("-")[1]) for f in (tmp_path / "b" / "trials").glob("trial-*"))
    theirs = sorted(int(f.stem.split("-")[1]) for f in (tmp_path / "a" / "trials").glob("trial-*"))
    assert len(mine) == 2 and len(theirs) == 2 and not set(mine) & set(theirs)
    table = {row["number"]: row for row in second["trials_table"]}
    assert sorted(table) == sorted(mine + theirs)
    a_rows = {row["number"]: row for row in first["trials_table"]}
    for n in theirs:
        # The first tune's trials: their values as the first tune wrote them, no local file.
        assert table[n]["values"] == a_rows[n]["values"] and table[n]["file"] is None
        assert table[n]["rank"] is not None
    for n in mine:
        assert table[n]["file"] == f"trials/trial-{n:05d}.json"
    ranked = [row["number"] for row in sorted(table.values(), key=lambda r: r["rank"])]
    assert [c["trial"] for c in second["candidates"]] == ranked[: len(second["candidates"])]
    assert len(second["candidates"]) == 4
    for c in second["candidates"]:
        assert c["tuning"]["objectives"] == table[c["trial"]]["values"]
