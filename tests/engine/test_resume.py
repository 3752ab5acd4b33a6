"""A run killed midway resumes from its checkpoint to the same results."""

from __future__ import annotations

import json
import os
import signal
import subprocess

from engine_helpers import small_oct

from simulator.results import RunReader, deterministic_summary
from simulator.runner import resume_run, run_scenario
from simulator.scenario import load_scenario

SET = [
    "--set", "traders.count=150", "--set", "steps=60", "--set", "amm.liquidity_usd=60000000",
    "--set", "arbitrageurs.capital_usd=2000000",
    "--set", "price_path.shocks=[{step: 10, fall_fraction: 0.18, over_steps: 20, recovery_fraction: 0.5, recovery_steps: 20}]",
]  # fmt: skip


def tables(run_dir):
    return {
        name: (run_dir / name).read_bytes()
        for name in ("steps.parquet", "events.parquet", "positions.parquet")
    }


def test_a_stopped_run_resumes_to_the_uninterrupted_results(tmp_path):
    scenario = small_oct()
    full = run_scenario(scenario, tmp_path / "full", checkpoint_every=10)
    stopped = run_scenario(scenario, tmp_path / "cut", checkpoint_every=10, stop_after=25)
    assert stopped.summary["status"] == "incomplete"
    assert json.loads((tmp_path / "cut" / "manifest.json").read_text())["status"] == "incomplete"
    resumed = resume_run(tmp_path / "cut", checkpoint_every=10)
    assert deterministic_summary(resumed.summary) == deterministic_summary(full.summary)
    assert tables(tmp_path / "cut") == tables(tmp_path / "full")


def test_a_killed_cli_run_resumes_with_resume(tmp_path, perpsim_cmd):
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [perpsim_cmd, "run", "oct-2025", *SET, "--out", str(out), "--checkpoint-every", "10", "--progress", "jsonl"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        for line in proc.stderr:
            if line.startswith("{") and json.loads(line)["done"] >= 35:
                break
        os.kill(proc.pid, signal.SIGKILL)  # no chance to clean up: only the checkpoint survives
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] != "complete" and manifest["checkpoint_step"] >= 30
    assert not (out / "summary.json").exists()

    resumed = subprocess.run(
        [perpsim_cmd, "run", "--resume", str(out), "--progress", "none", "--json"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    # The CLI ran oct-2025's five markets with the --set keys above.
    reference = run_scenario(
        load_scenario("oct-2025", [x for x in SET if x != "--set"]), tmp_path / "reference"
    )
    assert deterministic_summary(json.loads(resumed.stdout)) == deterministic_summary(
        reference.summary
    )
    assert tables(out) == tables(tmp_path / "reference")
    assert RunReader(out).status == "complete"
