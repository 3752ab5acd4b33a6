"""The app's background jobs: the ``perpsim`` subprocesses that pages follow."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from app_helpers import read_json
from perpsim_ui import jobs, scenarios, state
from simulator.scenario import load_scenario


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in args:
            found.append(args)
    return found


def test_stopping_a_run_ends_the_cli_and_its_node_and_keeps_the_folder(tmp_path):
    scenario = scenarios.demo_scenario(load_scenario("oct-2025")).with_overrides(
        {"steps": 5000, "traders.count": 10}
    )
    out, job = jobs.start_run(scenario, tmp_path)
    try:
        deadline = time.monotonic() + 120
        while job.done < 3 and job.running and time.monotonic() < deadline:
            time.sleep(0.05)
        assert job.running and job.total == 5000, (job.error, list(job.log))
        pid = job._process.pid
        job.cancel()
        assert job.wait(timeout=30)
    finally:
        jobs.cancel_all()
    assert job.error == "stopped before it finished"
    assert not job.ok
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
    assert _processes_mentioning(str(out)) == []
    assert read_json(out / "manifest.json")["status"] == "incomplete"


def test_a_finished_run_is_not_started_again(tmp_path, monkeypatch):
    scenario = scenarios.demo_scenario(load_scenario("calm")).with_overrides(
        {"steps": 5, "traders.count": 5}
    )
    out, job = jobs.start_run(scenario, tmp_path)
    assert job is not None and job.wait(timeout=120) and job.ok, job.error
    assert jobs.run_is_complete(out, scenario.fingerprint())

    def refuse(command, cwd):
        raise AssertionError(f"started {command}")

    monkeypatch.setattr(jobs, "_spawn", refuse)
    assert jobs.start_run(scenario, tmp_path) == (out, None)
    other = scenario.with_overrides({"seed": scenario.seed + 1})
    assert jobs.run_folder(other, tmp_path) != out


def test_progress_and_error_lines_are_read_from_stderr():
    job = jobs.Job(kind="run", out_dir=Path("x"), command=[], label="demo")
    job._read_line('{"label": "demo", "done": 7, "total": 40}')
    job._read_line("warning: something")
    job._read_line("error: cannot reach RPC at http://127.0.0.1:1")
    assert (job.done, job.total, job.fraction) == (7, 40, 7 / 40)
    assert job.error == "cannot reach RPC at http://127.0.0.1:1"
    assert "step 7 of 40" in job.progress_text()
    assert job.detail == ""


def test_the_clis_jsonl_progress_carries_what_it_counts_and_the_job_reads_it(capsys):
    from simulator.cli import _progress_printer

    emit, _ = _progress_printer("jsonl", "tune small")
    emit(3, 8, "verify candidate-1")
    emit(4, 8)
    first, second = capsys.readouterr().err.splitlines()
    assert json.loads(first) == {"label": "tune small", "done": 3, "total": 8,
                                 "detail": "verify candidate-1"}  # fmt: skip
    assert json.loads(second) == {"label": "tune small", "done": 4, "total": 8}
    job = jobs.Job(kind="tune", out_dir=Path("x"), command=[], label="tune small")
    job._read_line(first)
    assert (job.done, job.total, job.detail) == (3, 8, "verify candidate-1")
    job._read_line(second)
    assert (job.done, job.detail) == (4, "")


class _Recorder:
    """Stands in for ``jobs._spawn``: records the command, starts a process that exits 0."""

    def __init__(self):
        self.commands: list[list[str]] = []

    def __call__(self, command, cwd):
        self.commands.append(list(command))
        return subprocess.Popen(["true"], stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize(
    ("key", "value"),
    [("code_hash", "git:0000000000000000000000000000000000000000"),
     ("bytecode_hashes", {"PerpVenue": "00" * 32})],
)  # fmt: skip
def test_a_finished_run_of_other_code_or_bytecode_is_run_again(tmp_path, monkeypatch, key, value):
    scenario = scenarios.demo_scenario(load_scenario("calm")).with_overrides(
        {"steps": 5, "traders.count": 5}
    )
    out, job = jobs.start_run(scenario, tmp_path)
    assert job is not None and job.wait(timeout=120) and job.ok, job.error
    manifest = read_json(out / "manifest.json")
    assert jobs.same_run_problem(manifest, scenario) is None
    manifest[key] = value if key == "code_hash" else {**manifest[key], **value}
    (out / "manifest.json").write_text(json.dumps(manifest))

    problem = jobs.same_run_problem(manifest, scenario)
    assert problem.startswith("it holds a different run: ")
    assert ("the code changed" if key == "code_hash" else
            "contract bytecode changed (PerpVenue)") in problem  # fmt: skip
    recorder = _Recorder()
    monkeypatch.setattr(jobs, "_spawn", recorder)
    again, job = jobs.start_run(scenario, tmp_path)
    assert again == out and job is not None and job.wait(timeout=30)
    [command] = recorder.commands
    assert command[1] == "run" and "--overwrite" in command and "--resume" not in command


def test_an_incomplete_run_of_the_same_scenario_is_resumed_by_its_folder_alone(
    tmp_path, monkeypatch
):
    scenario = scenarios.demo_scenario(load_scenario("calm")).with_overrides(
        {"steps": 5, "traders.count": 5}
    )
    out, job = jobs.start_run(scenario, tmp_path)
    assert job is not None and job.wait(timeout=120) and job.ok, job.error
    manifest = read_json(out / "manifest.json")
    manifest["status"] = "incomplete"
    (out / "manifest.json").write_text(json.dumps(manifest))

    recorder = _Recorder()
    monkeypatch.setattr(jobs, "_spawn", recorder)
    _, job = jobs.start_run(scenario, tmp_path)
    assert job is not None and job.wait(timeout=30)
    # `perpsim run --resume DIR` takes no SCENARIO: the manifest says what runs.
    assert recorder.commands == [
        [*state.perpsim_command(), "run", "--resume", str(out), "--progress", "jsonl"]
    ]


def test_a_comparison_of_other_code_is_made_again_and_one_of_this_code_is_continued(
    tmp_path, monkeypatch
):
    scenario = scenarios.demo_scenario(load_scenario("calm")).with_overrides(
        {"steps": 5, "traders.count": 5}
    )
    out, job = jobs.start_compare(scenario, ["baseline"], 1, tmp_path, workers=1)
    assert job is not None and job.wait(timeout=180) and job.ok, job.error
    assert jobs.compare_is_complete(out, ["baseline"], 1)
    (out / "compare.json").unlink()  # an interrupted comparison: its runs are there

    recorder = _Recorder()
    monkeypatch.setattr(jobs, "_spawn", recorder)
    _, job = jobs.start_compare(scenario, ["baseline"], 1, tmp_path, workers=1)
    assert job is not None and job.wait(timeout=30)
    path = out / "runs" / "baseline" / "path-0" / "manifest.json"
    manifest = read_json(path)
    manifest["code_hash"] = "sha256:" + "0" * 64
    path.write_text(json.dumps(manifest))
    _, job = jobs.start_compare(scenario, ["baseline"], 1, tmp_path, workers=1)
    assert job is not None and job.wait(timeout=30)
    first, second = recorder.commands
    assert "--resume" in first and "--overwrite" not in first
    assert "--overwrite" in second and "--resume" not in second
