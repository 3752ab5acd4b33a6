"""``perpsim run``: bad input gets one line and exit 2; a node that dies leaves a resumable run."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace

import pytest

from simulator.chain import AnvilNode
from simulator.results import deterministic_summary
from simulator.runner import run_node_config, run_scenario
from simulator.scenario import load_scenario

SMALL = [
    "--set",
    "traders.count=40",
    "--set",
    "price_path.shocks=[]",
    "--steps",
    "8",
    "--progress",
    "none",
]


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_unknown_preset(perpsim_cmd, tmp_path):
    proc = run([perpsim_cmd, "run", "oct-2099", "--out", str(tmp_path / "r")])
    assert_one_line_error(proc, "oct-2099", "oct-2025")
    assert not (tmp_path / "r").exists()


def test_malformed_yaml_names_the_line(perpsim_cmd, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsteps: 10\ntraders: [unclosed\n")
    assert_one_line_error(run([perpsim_cmd, "run", str(bad)]), "bad.yaml", "line")


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("traders.count=-5", "traders.count"),
        ("controls.insurance_fund_usd=-1", "controls.insurance_fund_usd"),
        ("controls.no_such_control=1", "no_such_control"),
        ("market.overrides.no_such_parameter=1", "no_such_parameter"),
        ("market.overrides.maintenance_margin_fraction=0.5", "maintenance_margin_fraction"),
    ],
)
def test_out_of_range_and_unknown_keys_are_named(perpsim_cmd, tmp_path, override, needle):
    proc = run(
        [perpsim_cmd, "run", "oct-2025", *SMALL, "--set", override, "--out", str(tmp_path / "r")]
    )
    assert_one_line_error(proc, needle)
    manifest = tmp_path / "r" / "manifest.json"
    assert not manifest.exists() or json.loads(manifest.read_text())["status"] != "complete"


def test_missing_and_malformed_csv(perpsim_cmd, tmp_path):
    scenario = tmp_path / "book.yaml"
    scenario.write_text(
        "name: book\nsteps: 5\ntraders: {kind: explicit, csv: positions.csv}\n"
        "price_path: {kind: gbm, start_price_usd: 100000}\n"
    )
    assert_one_line_error(run([perpsim_cmd, "run", str(scenario)]), "positions.csv")
    (tmp_path / "positions.csv").write_text(
        "side,collateral_usd,size_base\nlong,1000,0.1\nlong,abc,0.1\n"
    )
    assert_one_line_error(
        run([perpsim_cmd, "run", str(scenario)]), "positions.csv:3", "collateral_usd"
    )


def test_a_node_that_dies_mid_run_leaves_an_incomplete_resumable_folder(perpsim_cmd, tmp_path):
    out = tmp_path / "run"
    node = AnvilNode(replace(run_node_config(), split_state=False)).start()
    try:
        proc = subprocess.Popen(
            [perpsim_cmd, "run", "oct-2025", "--rpc", node.url, "--out", str(out), "--checkpoint-every", "5",
             "--progress", "jsonl", "--set", "traders.count=150", "--steps", "40", "--set", "amm.liquidity_usd=60000000",
             "--set", "arbitrageurs.capital_usd=2000000",
             "--set", "price_path.shocks=[{step: 10, fall_fraction: 0.18, over_steps: 20, recovery_fraction: 0.5, recovery_steps: 20}]"],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        lines = []
        for line in proc.stderr:
            lines.append(line)
            if line.startswith("{") and json.loads(line)["done"] >= 12:
                node.stop()  # the node dies under the run
                break
        rest = proc.stderr.read()
        proc.wait(timeout=60)
    finally:
        node.stop()
    assert proc.returncode == 2, rest
    errors = [ln for ln in rest.strip().splitlines() if not ln.startswith("{")]
    assert len(errors) == 1 and errors[0].startswith("error: ") and "--resume" in errors[0], rest
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "incomplete" and manifest["checkpoint_step"] >= 10
    assert not (out / "summary.json").exists()

    resumed = run([perpsim_cmd, "run", "--resume", str(out), "--progress", "none", "--json"])
    assert resumed.returncode == 0, resumed.stderr
    # The CLI ran oct-2025's five markets with the --set keys above.
    shock = {"step": 10, "fall_fraction": 0.18, "over_steps": 20, "recovery_fraction": 0.5,
             "recovery_steps": 20}  # fmt: skip
    scenario = load_scenario(
        "oct-2025",
        {"traders.count": 150, "steps": 40, "amm.liquidity_usd": 60_000_000,
         "arbitrageurs.capital_usd": 2_000_000, "price_path.shocks": [shock]},
    )  # fmt: skip
    reference = run_scenario(scenario, tmp_path / "reference")
    assert deterministic_summary(json.loads(resumed.stdout)) == deterministic_summary(
        reference.summary
    )
