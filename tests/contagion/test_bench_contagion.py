"""``perpsim bench contagion``: its JSON figures on a tiny graph (keys and consistency, not
timing), and bad sizes as a one-line error with exit code 2."""

from __future__ import annotations

import json
import subprocess

ALGORITHMS = {
    "debtrank_battiston",
    "debtrank_differential",
    "eisenberg_noe",
    "rogers_veraart",
    "furfine",
}


def test_bench_contagion_json_has_every_algorithm_and_the_reference_comparison(perpsim_cmd):
    args = ["bench", "contagion", "--json", "--nodes", "60", "--edges", "300",
            "--reference-nodes", "30", "--repeat", "1", "--seed", "3"]  # fmt: skip
    done = subprocess.run([perpsim_cmd, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert set(figures) == {"nodes", "edges", "seed", "shocked_nodes", "repeat",
                            "graph_build_seconds", "fast", "reference_graph", "reference"}  # fmt: skip
    assert (figures["nodes"], figures["edges"], figures["seed"]) == (60, 300, 3)
    assert figures["reference_graph"] == {"nodes": 30, "edges": 150}
    assert set(figures["fast"]) == ALGORITHMS == set(figures["reference"])
    assert all(f["seconds"] >= 0 for f in figures["fast"].values())
    assert figures["fast"]["furfine"]["defaulted_nodes"] >= figures["shocked_nodes"] == 1
    for f in figures["reference"].values():
        assert set(f) == {"reference_seconds", "fast_seconds", "speedup", "max_abs_difference"}
        assert f["max_abs_difference"] < 1e-6


def test_bench_contagion_rejects_more_edges_than_fit(perpsim_cmd):
    args = ["bench", "contagion", "--nodes", "3", "--edges", "10"]
    done = subprocess.run([perpsim_cmd, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: bench contagion: 10 edges do not fit a simple directed graph on 3 nodes "
        "(at most 6 without self-loops)"
    )
    assert "Traceback" not in done.stderr
