"""``perpsim bench setup --json`` on a small world: its phases, and its CPU split (this process,
its calling thread, the node) that tells the setup's cost apart from a shared machine's load."""

from __future__ import annotations

import json

from click.testing import CliRunner

from simulator.cli import main


def test_bench_setup_reports_phases_and_cpu_seconds_per_backend():
    args = ["bench", "setup", "--traders", "40", "--no-before", "--json", "--backend", "anvil,revm"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)["backends"]
    for backend in ("anvil", "revm"):
        after = figures[backend]["after"]
        assert figures[backend]["before"] is None  # --no-before
        assert after["opened"] > 0 and after["transactions"] > 3 * 40
        assert set(after["phases_seconds"]) >= {"gas", "funding", "opens", "reads"}
        cpu = after["cpu_seconds"]
        assert 0 < cpu["python_main_thread"] <= cpu["python"] + 0.01
    assert figures["anvil"]["after"]["cpu_seconds"]["node"] > 0  # the anvil nodes' own CPU
    assert figures["revm"]["after"]["cpu_seconds"]["node"] is None  # the EVM is this process
