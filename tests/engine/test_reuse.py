"""A run folder is reused only when it holds the same run; resume is safe; nothing half-made.

The comparisons here are tiny (calm, 20 traders, 20 steps, one control set, one path: two runs)
so that each command takes seconds. One comparison is run per module and copied per test.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from simulator.cli import main
from simulator.errors import DeployError
from simulator.results import RunReader
from simulator.runner import run_scenario
from simulator.scenario import load_scenario

TINY = ["--controls", "baseline", "--paths", "1", "--workers", "2", "--progress", "none",
        "--set", "steps=20"]  # fmt: skip
RUN_DIRS = ("runs/baseline/path-0", "runs/baseline/path-0-no-feedback")


def perpsim(perpsim_cmd: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [perpsim_cmd, *map(str, args)], capture_output=True, text=True, timeout=300
    )


def one_line_error(proc, *needles: str) -> str:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under ``folder`` with its modification time and bytes."""
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def compared_20(tmp_path_factory, perpsim_cmd) -> Path:
    """A finished comparison of calm with 20 traders."""
    out = tmp_path_factory.mktemp("cmp") / "out"
    proc = perpsim(perpsim_cmd, "compare", "calm", *TINY, "--set", "traders.count=20",
                   "--out", out)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture
def out(compared_20, tmp_path) -> Path:
    copy = tmp_path / "out"
    shutil.copytree(compared_20, copy)
    return copy


def traders_in(folder: Path) -> set[int]:
    saved = json.loads((folder / "compare.json").read_text())
    in_json = {s["traders"] for runs in saved["runs"].values() for s in runs}
    in_runs = {RunReader(folder / d).summary["traders"] for d in RUN_DIRS}
    return in_json | in_runs


# -- compare ----------------------------------------------------------------------------------


def test_compare_with_another_trader_count_never_returns_the_old_numbers(out, perpsim_cmd):
    assert traders_in(out) == {20}
    before = snapshot(out)
    # Without a flag a folder holding a comparison is refused (the original code printed the
    # 20-trader numbers under a compare.json that said 30).
    proc = perpsim(perpsim_cmd, "compare", "calm", *TINY, "--set", "traders.count=30", "--out", out)
    one_line_error(proc, "holds a comparison of calm (2 of 2 runs finished)", "--resume",
                   "--overwrite")  # fmt: skip
    # --resume checks each run: the differing key is named with both values.
    proc = perpsim(perpsim_cmd, "compare", "calm", *TINY, "--set", "traders.count=30", "--out",
                   out, "--resume")  # fmt: skip
    one_line_error(proc, "baseline path 0", "traders.count: 20 -> 30", "--overwrite")
    assert snapshot(out) == before
    # --overwrite replaces the comparison: the numbers are the 30-trader runs'.
    proc = perpsim(perpsim_cmd, "compare", "calm", *TINY, "--set", "traders.count=30", "--out",
                   out, "--overwrite")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert traders_in(out) == {30}


def test_a_poisoned_folder_is_refused_naming_what_differs(out, perpsim_cmd):
    """An earlier small comparison in OUT, then a different one into the same OUT."""
    before = snapshot(out)
    bigger = ["--controls", "baseline,leverage_cap", "--paths", "1", "--progress", "none",
              "--set", "steps=24", "--set", "traders.count=20", "--out", str(out)]  # fmt: skip
    one_line_error(perpsim(perpsim_cmd, "compare", "calm", *bigger), "holds a comparison")
    line = one_line_error(perpsim(perpsim_cmd, "compare", "calm", *bigger, "--resume"))
    assert "steps: 20 -> 24" in line and "baseline path 0" in line
    assert snapshot(out) == before
    assert not (out / "runs" / "leverage_cap").exists()


def test_resume_reuses_the_same_runs_and_does_not_read_unplanned_ones(out, perpsim_cmd):
    before = {d: (out / d / "steps.parquet").stat().st_mtime_ns for d in RUN_DIRS}
    summary = RunReader(out / RUN_DIRS[0]).summary
    # A run folder no planned run names (path-5 of a comparison with more paths) is not read.
    (out / "runs" / "baseline" / "path-5").mkdir()
    (out / "runs" / "baseline" / "path-5" / "manifest.json").write_text("{not json")
    proc = perpsim(perpsim_cmd, "compare", "calm", *TINY, "--set", "traders.count=20", "--out",
                   out, "--resume")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert {d: (out / d / "steps.parquet").stat().st_mtime_ns for d in RUN_DIRS} == before
    saved = json.loads((out / "compare.json").read_text())
    assert saved["runs"]["baseline"][0] == summary
    assert [p["run_dir"] for p in saved["plan"]] == list(RUN_DIRS)
    assert saved["code_hash"] == RunReader(out / RUN_DIRS[0]).manifest["code_hash"]
    assert saved["bytecode_hashes"] == RunReader(out / RUN_DIRS[0]).manifest["bytecode_hashes"]


def edit_manifest(run_dir: Path, **changes) -> None:
    """Set manifest keys; a dict value updates the manifest's dict under that key."""
    path = run_dir / "manifest.json"
    manifest = json.loads(path.read_text())
    for key, value in changes.items():
        if isinstance(value, dict):
            manifest[key].update(value)
        else:
            manifest[key] = value
    path.write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"code_hash": "sha256:" + "0" * 64}, "the code changed"),
        ({"bytecode_hashes": {"PerpVenue": "0"}}, "contract bytecode changed (PerpVenue);"),
    ],
)
def test_resume_refuses_runs_of_other_code_or_contracts(out, changes, needle):
    edit_manifest(out / RUN_DIRS[1], **changes)
    before = snapshot(out)
    runner = CliRunner(mix_stderr=False)
    result = runner.invoke(main, ["compare", "calm", *TINY, "--set", "traders.count=20",
                                  "--out", str(out), "--resume"])  # fmt: skip
    assert result.exit_code == 2, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: baseline path 0 (no feedback): ") and needle in line
    assert snapshot(out) == before


def test_compare_resume_continues_an_unfinished_planned_run(out, perpsim_cmd):
    from simulator.compare import plan

    run_dir = out / RUN_DIRS[0]
    reference = RunReader(run_dir).summary
    shutil.rmtree(run_dir)
    spec = plan(load_scenario("calm", ["steps=20", "traders.count=20"]), ["baseline"], 1, out)[0]
    scenario = load_scenario("calm", ["steps=20", "traders.count=20"]).with_overrides(
        seed=spec.scenario["seed"]
    )
    stopped = run_scenario(scenario, run_dir, checkpoint_every=4, stop_after=9)
    assert stopped.summary["status"] == "incomplete"
    proc = perpsim(perpsim_cmd, "compare", "calm", *TINY, "--set", "traders.count=20", "--out",
                   out, "--resume")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    resumed = RunReader(run_dir)
    assert resumed.manifest["resumed_from_steps"] == [9]
    drop = ("wall_seconds",)
    assert {k: v for k, v in resumed.summary.items() if k not in drop} == {
        k: v for k, v in reference.items() if k not in drop
    }


@pytest.mark.parametrize(
    ("setup", "flags", "needle"),
    [
        ("notes", [], "not empty and is not a comparison folder (it holds notes.txt)"),
        ("notes", ["--resume"], "is not a comparison folder"),
        ("notes", ["--overwrite"], "is not a comparison folder"),
        ("run", ["--overwrite"], "is a run folder, not a comparison folder"),
        ("empty", ["--resume", "--overwrite"], "--resume and --overwrite cannot be combined"),
    ],
)
def test_compare_refuses_an_out_folder_that_is_not_a_comparisons(tmp_path, setup, flags, needle):
    out = tmp_path / "out"
    out.mkdir()
    if setup == "notes":
        (out / "notes.txt").write_text("mine")
    if setup == "run":
        (out / "manifest.json").write_text(json.dumps({"status": "complete"}))
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    runner = CliRunner(mix_stderr=False)
    result = runner.invoke(main, ["compare", "calm", *TINY, "--out", str(out), *flags])
    assert result.exit_code == 2, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and needle in line, line
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_compare_into_a_file_is_refused(tmp_path):
    from simulator.compare import CompareError, run_compare

    (tmp_path / "out").write_text("a file")
    with pytest.raises(CompareError, match="exists and is not a folder"):
        run_compare(load_scenario("calm", ["steps=20"]), ["baseline"], 1, tmp_path / "out")
    assert (tmp_path / "out").read_text() == "a file"


def test_overwrite_removes_only_what_the_comparison_wrote(out, perpsim_cmd):
    (out / "scenario.yaml").write_text("kept: true\n")  # the app's scenario file beside it
    (out / ".compare.json.tmp-1-ab").write_text("")  # a killed write's temp file: ignored
    notes = out / "runs" / "baseline" / "path-0" / "my-notes.txt"
    notes.write_text("mine")
    before = snapshot(out)
    proc = perpsim(perpsim_cmd, "compare", "calm", *TINY, "--set", "traders.count=20", "--out",
                   out, "--overwrite")  # fmt: skip
    # A run folder with foreign files in it: refused by name before anything is removed.
    one_line_error(proc, "--overwrite: ", "path-0 holds other files than a run's (my-notes.txt)")
    assert snapshot(out) == before
    notes.unlink()
    proc = perpsim(perpsim_cmd, "compare", "calm", *TINY, "--set", "traders.count=20", "--out",
                   out, "--overwrite")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (out / "scenario.yaml").read_text() == "kept: true\n"
    for run_dir in RUN_DIRS:  # replaced: written again by this command
        assert (out / run_dir / "steps.parquet").stat().st_mtime_ns > before["compare.json"][0]


# -- run --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory) -> Path:
    """calm, 20 traders, stopped after step 9 (checkpointed there)."""
    folder = tmp_path_factory.mktemp("stopped") / "run"
    scenario = load_scenario("calm", ["traders.count=20", "steps=20"])
    result = run_scenario(scenario, folder, checkpoint_every=4, stop_after=9)
    assert result.summary["status"] == "incomplete"
    return folder


@pytest.fixture
def stopped(stopped_run, tmp_path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(stopped_run, copy)
    return copy


def _no_scenario(folder):
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["scenario"]
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _edited_scenario(folder):
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["scenario"]["traders"]["count"] = 25
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _truncated_checkpoint(folder):
    data = (folder / "checkpoint.npz").read_bytes()
    (folder / "checkpoint.npz").write_bytes(data[: len(data) // 3])


def _deleted_checkpoint(folder):
    (folder / "checkpoint.npz").unlink()


def _other_code(folder):
    edit_manifest(folder, code_hash="sha256:" + "0" * 64)


def _other_bytecode(folder):
    edit_manifest(folder, bytecode_hashes={"PerpVenue": "0" * 64})


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        (_no_scenario, "records no scenario"),
        (_edited_scenario, "does not match the recorded fingerprint"),
        (_truncated_checkpoint, "unreadable checkpoint"),
        (_deleted_checkpoint, "records a checkpoint at step 9 but checkpoint.npz is gone"),
        (_other_code, "the code changed"),
        (_other_bytecode, "contract bytecode changed (PerpVenue)"),
    ],
)
def test_unsafe_resume_is_one_line_and_leaves_the_folder_as_it_was(stopped, damage, needle):
    damage(stopped)
    before = snapshot(stopped)
    result = CliRunner(mix_stderr=False).invoke(
        main, ["run", "--resume", str(stopped), "--progress", "none"]
    )
    assert result.exit_code == 2, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: cannot resume {stopped}") and needle in line, line
    assert snapshot(stopped) == before
    assert json.loads((stopped / "manifest.json").read_text())["status"] == "incomplete"


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["calm"], "a SCENARIO cannot be given"),
        (["--steps", "30"], "--steps cannot be given"),
        (["--set", "traders.count=30"], "--set cannot be given"),
        (["--seed", "3"], "--seed cannot be given"),
        (["--out", "elsewhere"], "--out cannot be given"),
        (["--overwrite"], "--overwrite cannot be given"),
        (["--fork-url", "http://127.0.0.1:1"], "--fork-url cannot be given"),
    ],
)
def test_resume_with_options_that_would_change_the_run_is_refused(stopped, extra, needle):
    before = snapshot(stopped)
    result = CliRunner(mix_stderr=False).invoke(
        main, ["run", "--resume", str(stopped), "--progress", "none", *extra]
    )
    assert result.exit_code == 2, result.output
    [line] = result.stderr.strip().splitlines()
    assert line == f"error: --resume continues the run as recorded; {needle} with it"
    assert snapshot(stopped) == before
    assert not Path("elsewhere").exists()


def test_a_run_whose_deployment_fails_leaves_no_folder_in_the_way(tmp_path, monkeypatch):
    import simulator.runner as runner

    scenario = load_scenario("calm", ["traders.count=5", "steps=5"])
    out = tmp_path / "runs" / "mine"

    def reverted(chain, scenario):
        raise DeployError("deployment of PerpVenue reverted: InvalidParameter")

    monkeypatch.setattr(runner, "build_world", reverted)
    with pytest.raises(DeployError) as excinfo:
        run_scenario(scenario, out)
    assert "--resume" not in str(excinfo.value)  # nothing to resume: no step ran
    assert not (tmp_path / "runs").exists()
    monkeypatch.undo()
    # The corrected command is not blocked by a half-made folder.
    assert run_scenario(scenario, out).summary["steps"] == 5


def _complete_run(folder: Path) -> None:
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"status": "complete"}))


def _notes(folder: Path) -> None:
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")


@pytest.mark.parametrize(
    ("prepare", "args", "needle"),
    [
        (_complete_run, ["calm", "--out", "target"], "already holds a complete run"),
        (_notes, ["calm", "--out", "target"], "not empty and is not a run folder"),
        (_notes, ["calm", "--out", "target", "--overwrite"], "--overwrite replaces only run"),
        (None, ["--resume", "target"], "cannot resume target: not a run folder"),
        (
            _complete_run,
            ["--resume", "target"],
            "cannot resume target: the run is already complete",
        ),
        (_notes, ["--resume", "target"], "cannot resume target: not a run folder"),
        (None, [], "give a SCENARIO"),
    ],
)
def test_run_refusals_are_one_line_and_create_nothing(tmp_path, monkeypatch, prepare, args, needle):
    """Refused before a node starts: one line, exit 2, nothing new on disk."""
    monkeypatch.chdir(tmp_path)
    if prepare is not None:
        prepare(tmp_path / "target")
    before = snapshot(tmp_path)
    dirs = sorted(p for p in tmp_path.rglob("*") if p.is_dir())
    result = CliRunner(mix_stderr=False).invoke(main, ["run", *args, "--progress", "none"])
    assert result.exit_code == 2, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and needle in line, line
    assert snapshot(tmp_path) == before
    assert sorted(p for p in tmp_path.rglob("*") if p.is_dir()) == dirs


def test_the_python_api_resumes_and_refuses_like_the_cli(stopped):
    import sys

    (stopped / "checkpoint.npz").unlink()
    code = (
        "import simulator\n"
        "from simulator.results import CheckpointError\n"
        "try:\n"
        f"    simulator.resume({str(stopped)!r})\n"
        "except CheckpointError as exc:\n"
        "    print(exc)\n"
    )  # a fresh interpreter: under pytest `simulator` may resolve to tests/simulator/
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "checkpoint.npz is gone" in proc.stdout
    assert json.loads((stopped / "manifest.json").read_text())["status"] == "incomplete"


def test_a_comparison_whose_first_deployment_fails_leaves_no_folder(tmp_path, monkeypatch):
    import simulator.runner as runner
    from simulator.compare import CompareError, run_compare

    def reverted(chain, scenario):
        raise DeployError("deployment of PerpVenue reverted: InvalidParameter")

    monkeypatch.setattr(runner, "build_world", reverted)
    out = tmp_path / "made" / "cmp"
    with pytest.raises(CompareError, match="baseline path 0: deployment of PerpVenue reverted"):
        run_compare(load_scenario("calm", ["steps=5", "traders.count=5"]), ["baseline"], 1, out,
                    workers=1)  # fmt: skip
    assert not (tmp_path / "made").exists()
