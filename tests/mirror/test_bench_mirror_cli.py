"""``perpsim bench mirror``: the figures of one run, and of the median of ``--repeat`` runs of
each engine (alternated), every run's loop seconds listed; a refused ``--repeat`` is one line."""

from __future__ import annotations

import json
import statistics

from click.testing import CliRunner

from simulator.cli import main

SMALL = ["--traders", "120", "--steps", "130"]  # the shock is at step 120


def test_repeated_runs_report_the_median_loop_of_each_engine_beside_every_run():
    result = CliRunner(mix_stderr=False).invoke(
        main, ["bench", "mirror", *SMALL, "--repeat", "3", "--json"]
    )
    assert result.exit_code == 0, result.stderr
    got = json.loads(result.output)
    assert got["repeat"] == 3 and got["steps"] == 131
    for engine in ("mirror", "chain"):
        each = got[f"{engine}_loop_seconds_each"]
        assert len(each) == 3 and all(v > 0 for v in each)
        # The median of three runs is one of them (each rounded to the ms the same way).
        assert got[f"{engine}_loop_seconds"] == statistics.median(each)
    per_second = got["mirror_trader_steps_per_second"]
    assert abs(per_second * got["mirror_loop_seconds"] - got["traders"] * 131) <= 0.001 * per_second
    assert got["mirror_liquidations"] == got["chain_liquidations"]
    assert got["ratio"] > 0


def test_one_run_is_the_default_and_a_repeat_of_zero_is_refused():
    result = CliRunner(mix_stderr=False).invoke(
        main, ["bench", "mirror", *SMALL, "--no-chain", "--json"]
    )
    assert result.exit_code == 0, result.stderr
    got = json.loads(result.output)
    assert got["repeat"] == 1 and len(got["mirror_loop_seconds_each"]) == 1
    assert "chain_loop_seconds" not in got and "ratio" not in got
    bad = CliRunner(mix_stderr=False).invoke(main, ["bench", "mirror", "--repeat", "0"])
    assert bad.exit_code == 2
    assert "--repeat" in bad.stderr and "0" in bad.stderr
