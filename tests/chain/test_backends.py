"""Differential tests: the in-process revm backend against anvil, the reference.

The same calls and the same short engine scenarios run on both backends and must give the same
results call by call: status, block, position in the block, decoded events (name, address,
arguments, log index), decoded errors and created addresses; and the same step rows, events,
positions and final reads of the engine. Not compared, by design: gas figures (pyrevm keeps one
transaction open across calls, so warm slots and refunds differ; see the README) and
transaction hashes (revm has no signed transactions).

A backend that drops a single log is caught (``test_a_backend_that_drops_one_log_is_caught``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from contextlib import contextmanager
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from simulator.chain import BACKENDS, DEFAULT_DEPLOYER, AnvilConfig, deploy_contract, open_chain
from simulator.chain.contracts import CollateralToken
from simulator.chain.revm_chain import RevmChain
from simulator.errors import ChainError
from simulator.results.schema import VENUE
from simulator.runner import GENESIS_TIMESTAMP_S, run_in_memory, run_node_config
from simulator.scenario import load_scenario

D = DEFAULT_DEPLOYER
AGENTS = [f"0x{i:040x}" for i in range(0x5000, 0x5008)]


# -- recording every call's outcome -----------------------------------------------------------


def comparable(result) -> tuple:
    """A call's outcome without its gas figure and transaction hash (not comparable)."""
    return (
        result.label,
        result.ok,
        result.block_number,
        result.position,
        tuple((e.name, e.address, tuple(e.args.items()), e.log_index) for e in result.events),
        str(result.error) if result.error is not None else None,
        result.contract_address,
    )


@contextmanager
def recording(chain):
    """Record the comparable outcome of every call the chain mines while the body runs."""
    calls: list[tuple] = []
    mine, mine_and_read, mine_then_read = chain.mine, chain.mine_and_read, chain.mine_then_read
    depth = [0]

    def wrap(fn):
        def inner(*args, **kwargs):
            depth[0] += 1
            try:
                out = fn(*args, **kwargs)
            finally:
                depth[0] -= 1
            if depth[0] == 0:
                results = out[0] if isinstance(out, tuple) else out
                calls.extend(comparable(r) for r in results)
            return out

        return inner

    chain.mine, chain.mine_and_read = wrap(mine), wrap(mine_and_read)
    chain.mine_then_read = wrap(mine_then_read)  # the engine's (its reads come later)
    try:
        yield calls
    finally:
        del chain.mine, chain.mine_and_read, chain.mine_then_read


def differences(a: dict, b: dict) -> list[str]:
    """What differs between two runs' outputs (empty when they agree exactly)."""
    out = []
    if len(a["calls"]) != len(b["calls"]):
        out.append(f"calls: {len(a['calls'])} vs {len(b['calls'])}")
    for k, (x, y) in enumerate(zip(a["calls"], b["calls"], strict=False)):
        if x != y:
            out.append(f"call {k}: {x} != {y}")
            break
    for table in ("steps", "events", "positions"):
        x, y = a[table], b[table]
        try:
            pd.testing.assert_frame_equal(x, y, check_exact=True)
        except AssertionError as exc:
            out.append(f"{table}: {str(exc).splitlines()[0:3]}")
    if a["final"] != b["final"]:
        out.append("final reads differ")
    return out


# -- engine scenarios ---------------------------------------------------------------------------

SHOCK = [{"step": 6, "fall_fraction": 0.2, "over_steps": 12}]


def tiny(preset: str = "oct-2025", *, btc_only: bool = False, **overrides):
    """A preset at a few traders and a few dozen steps (seconds on either backend); oct-2025
    keeps its five markets (every one falls by ``SHOCK``), or with ``btc_only`` its BTC market
    alone (every account one BTC position: the controls' scenarios, where 60 accounts spread
    over five markets would leave too little in any one to reach bad debt)."""
    base = {"traders.count": 60, "steps": 30, "price_path.shocks": SHOCK}
    if preset == "oct-2025":
        base.update({"amm.liquidity_usd": 20_000_000, "arbitrageurs.capital_usd": 500_000})
    if btc_only:
        base.update({
            "markets": [{"symbol": "BTC", "path": {"beta": 1.0, "vol_per_year": 0.5}}],
            "traders.market_weights": None,
            "traders.markets_per_account": {1: 1.0},
        })  # fmt: skip
    base.update(overrides)
    return load_scenario(preset, base)


SCENARIOS = {
    "oct-2025": lambda: tiny(),
    "calm": lambda: tiny(
        "calm",
        **{
            "price_path.shocks": [{"step": 6, "fall_fraction": 0.3, "over_steps": 10}],
            "traders.leverage.min": 8,
            "controls.feedback": False,  # its deep AMM would hold the oracle up for long
        },
    ),
    "short-squeeze": lambda: tiny(
        "short-squeeze",
        **{"price_path.shocks": [{"step": 6, "fall_fraction": -0.45, "over_steps": 12}]},
    ),
    "adl-queue-small-fund": lambda: tiny(btc_only=True, **{"controls.insurance_fund_usd": 0}),
    "adl-pro-rata": lambda: tiny(
        btc_only=True, **{"controls.adl_policy": "pro_rata", "controls.insurance_fund_usd": 0}
    ),
    "adl-socialized": lambda: tiny(
        btc_only=True, **{"controls.adl_policy": "socialized", "controls.insurance_fund_usd": 0}
    ),
    "adl-none": lambda: tiny(
        btc_only=True, **{"controls.adl_policy": "none", "controls.insurance_fund_usd": 0}
    ),
    "governance-guardian": lambda: tiny(
        btc_only=True,
        **{
            "controls.governance_change": {
                "step": 4,
                "parameter": "max_leverage",
                "value": 10,
                "path": "guardian",
                "market": "BTC",
            }
        },  # fmt: skip
    ),
    "governance-timelock": lambda: tiny(
        btc_only=True,
        **{
            "controls.governance_change": {
                "step": 4,
                "parameter": "max_leverage",
                "value": 20,
                "path": "timelock",
                "market": "BTC",
            }
        },  # fmt: skip
    ),
    "oracle-lag": lambda: tiny(
        btc_only=True,
        **{"oracle_faults": [{"kind": "lag", "steps": 3, "start_step": 5, "end_step": 20}]},
    ),
    "oracle-stale": lambda: tiny(
        btc_only=True, **{"oracle_faults": [{"kind": "stale", "start_step": 8, "end_step": 14}]}
    ),
    "oracle-bad-print": lambda: tiny(
        btc_only=True,
        **{
            "oracle_faults": [
                {"kind": "bad_print", "step": 10, "price_usd": 50_000, "market": "BTC"}
            ]
        },
    ),
    "backstop": lambda: tiny(btc_only=True, **{"controls.backstop_vault_usd": 2_000_000}),
}


def run_engine(scenario, backend: str) -> dict:
    """Run ``scenario`` on a fresh chain of ``backend``; everything the comparison needs."""
    with open_chain(anvil=run_node_config(), backend=backend) as chain:
        with recording(chain) as calls:
            engine, steps, events = run_in_memory(chain, scenario)
        accounts = list(engine.world.accounts)
        final = chain.read(engine.levels.views + [engine.venue.venue.health_of(accounts)])
        return {
            "calls": calls,
            "steps": steps,
            "events": events,
            "positions": pd.DataFrame(engine.positions()),
            "final": final,
            "accounts": len(accounts),
        }


_anvil_runs: dict[str, dict] = {}


def anvil_run(name: str) -> dict:
    """The reference run of a scenario (cached: the log-dropping test reuses one)."""
    if name not in _anvil_runs:
        _anvil_runs[name] = run_engine(SCENARIOS[name](), "anvil")
    return _anvil_runs[name]


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_engine_scenarios_agree_call_by_call_on_both_backends(name):
    reference = anvil_run(name)
    revm = run_engine(SCENARIOS[name](), "revm")
    venue_rows = int((reference["steps"]["market"] == VENUE).sum())
    assert len(reference["calls"]) > 100 and venue_rows == 31  # steps 0 to 30
    assert differences(reference, revm) == []


def test_the_scenarios_exercise_what_they_are_named_for():
    """Liquidations, every ADL policy's event, governance and the backstop really happen."""
    kinds = {name: set(anvil_run(name)["events"].get("kind", ())) for name in SCENARIOS}
    for name in ("oct-2025", "calm", "short-squeeze"):
        assert kinds[name] & {"liquidation", "partial_liquidation"}, name
    assert "adl_fill" in kinds["adl-queue-small-fund"]
    assert "adl_fill" in kinds["adl-pro-rata"]
    assert "socialized_loss" in kinds["adl-socialized"]
    assert "bad_debt" in kinds["adl-none"]
    assert "governance_executed" in kinds["governance-guardian"]
    assert "governance_submitted" in kinds["governance-timelock"]
    assert "backstop_takeover" in kinds["backstop"]


def test_a_backend_that_drops_one_log_is_caught(monkeypatch):
    """The comparison is sharp enough: losing a single log on revm shows up."""
    reference = anvil_run("oct-2025")
    original = RevmChain._transact
    seen = [0]

    def drop_one_log(self, index, call, position):
        result = original(self, index, call, position)
        if result.events:
            seen[0] += 1
            if seen[0] == 25:  # the 25th call that logged anything loses its last log
                result.events = result.events[:-1]
        return result

    monkeypatch.setattr(RevmChain, "_transact", drop_one_log)
    broken = run_engine(SCENARIOS["oct-2025"](), "revm")
    assert seen[0] >= 25
    found = differences(reference, broken)
    assert found and found[0].startswith("call ")


# -- interface cases ------------------------------------------------------------------------------


def on_both(body, config: AnvilConfig | None = None) -> dict[str, object]:
    """Run ``body(chain, token)`` on a fresh chain of each backend (token deployed, fixed
    clock); return its result per backend."""
    out = {}
    for backend in BACKENDS:
        with open_chain(anvil=config or run_node_config(), backend=backend) as chain:
            chain.use_fixed_clock(GENESIS_TIMESTAMP_S)
            token = deploy_contract(chain, CollateralToken, "T", "T", D, sender=D)
            out[backend] = body(chain, token)
    return out


def same_on_both(body, config: AnvilConfig | None = None):
    results = on_both(body, config)
    assert results["anvil"] == results["revm"]
    return results["anvil"]


def test_pending_reads_see_submitted_calls_and_latest_reads_do_not():
    def body(chain, token):
        seen = []
        chain.submit([token.mint(D, AGENTS[0], 5)])
        seen.append(chain.read([token.balance_of(AGENTS[0])]))
        seen.append(chain.read([token.balance_of(AGENTS[0])], pending=True))
        seen.append(chain.read([token.balance_of(AGENTS[0])]))  # latest again
        chain.submit([token.transfer(AGENTS[0], AGENTS[1], 2)])
        seen.append(chain.read([token.balance_of(a) for a in AGENTS[:2]], pending=True))
        seen.append([comparable(r) for r in chain.mine()])
        seen.append(chain.read([token.balance_of(a) for a in AGENTS[:2]]))
        return seen

    seen = same_on_both(body)
    assert seen[0] == [0] and seen[1] == [5] and seen[2] == [0] and seen[3] == [3, 2]
    assert seen[5] == [3, 2]


def test_batches_split_at_the_block_gas_limit_in_the_same_blocks():
    def body(chain, token):
        calls = [token.call(D, "mint", AGENTS[i % 8], 1 + i, gas=6_000_000) for i in range(9)]
        calls.append(token.call(D, "mint", AGENTS[0], 1, gas=chain.block_gas_limit + 1))
        return [comparable(r) for r in chain.execute(calls)] + [chain.block_number()]

    got = same_on_both(body, replace(run_node_config(), block_gas_limit=20_000_000))
    blocks = [c[2] for c in got[:9]]
    assert blocks == [2, 2, 2, 3, 3, 3, 4, 4, 4]  # three 6M gas limits fit under 20M
    assert got[9][1] is False and got[-1] == 4


def test_nested_snapshots_restore_state_blocks_and_time():
    def body(chain, token):
        seen = []
        outer = chain.snapshot()
        chain.execute([token.mint(D, AGENTS[0], 1)])
        inner = chain.snapshot()
        chain.execute([token.mint(D, AGENTS[0], 10)])
        seen.append(
            (
                chain.block_number(),
                chain.latest_timestamp(),
                chain.read_one(token.balance_of(AGENTS[0])),
            )
        )
        chain.revert(inner)
        seen.append(
            (
                chain.block_number(),
                chain.latest_timestamp(),
                chain.read_one(token.balance_of(AGENTS[0])),
            )
        )
        chain.revert(outer)
        seen.append(
            (
                chain.block_number(),
                chain.latest_timestamp(),
                chain.read_one(token.balance_of(AGENTS[0])),
            )
        )
        # the same calls again give the same blocks, stamps and events
        seen.append([comparable(r) for r in chain.execute([token.mint(D, AGENTS[0], 1)])])
        return seen  # fmt: skip

    seen = same_on_both(body)
    assert [s[2] for s in seen[:3]] == [11, 1, 0]
    assert seen[2][0] == seen[0][0] - 2


def test_an_empty_mine_makes_a_block_one_second_later():
    def body(chain, token):
        before = (chain.block_number(), chain.latest_timestamp())
        assert chain.mine() == []
        return before, (chain.block_number(), chain.latest_timestamp())

    (n0, t0), (n1, t1) = same_on_both(body)
    assert n1 == n0 + 1 and t1 == t0 + 1


def test_the_fixed_clock_stamps_blocks_explicitly_and_views_see_the_pending_stamp():
    def body(chain, token):
        stamps = []
        chain.set_next_block_timestamp(GENESIS_TIMESTAMP_S + 600)
        chain.execute([token.mint(D, AGENTS[0], 1)])
        stamps.append(chain.latest_timestamp())
        chain.mine()
        stamps.append(chain.latest_timestamp())
        return stamps

    stamps = same_on_both(body)
    assert stamps == [GENESIS_TIMESTAMP_S + 600, GENESIS_TIMESTAMP_S + 601]


# -- the two chain-layer fixes, on both backends ---------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_advance_time_moves_the_next_block_under_a_fixed_clock(backend):
    """A fixed-clock timelock wait must not be skipped: +500 s asked is +500 s mined."""
    with open_chain(anvil=run_node_config(), backend=backend) as chain:
        chain.use_fixed_clock(GENESIS_TIMESTAMP_S)
        token = deploy_contract(chain, CollateralToken, "T", "T", D, sender=D)
        start = chain.latest_timestamp()
        chain.read([token.balance_of(D)], pending=True)  # a look at the pending block first
        chain.advance_time(500)
        chain.mine()
        assert chain.latest_timestamp() == start + 1 + 500
        chain.set_next_block_timestamp(start + 1_000)
        chain.advance_time(50)  # on top of an explicit stamp
        chain.mine()
        assert chain.latest_timestamp() == start + 1_050
        chain.mine()
        assert chain.latest_timestamp() == start + 1_051


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_revert_to_a_used_snapshot_is_refused_and_the_chain_stays_usable(backend):
    with open_chain(backend=backend) as chain:
        token = deploy_contract(chain, CollateralToken, "T", "T", D, sender=D)
        first = chain.snapshot()
        later = chain.snapshot()
        chain.revert(first)  # uses up `first` and `later`
        chain.execute([token.mint(D, D, 5)])
        chain.submit([token.mint(D, D, 7)])
        for used in (first, later):
            with pytest.raises(
                ChainError, match=f"cannot revert to snapshot {used}: it was already"
            ):
                chain.revert(used)
        results = chain.execute([token.mint(D, D, 1)])  # the pending mint and this one
        assert [r.ok for r in results] == [True, True]
        assert chain.read_one(token.balance_of(D)) == 13


@pytest.mark.parametrize("backend", BACKENDS)
def test_isolate_restores_set_balance_and_nonces(backend):
    with open_chain(backend=backend) as chain:
        with chain.isolate():
            chain.set_balance([AGENTS[0]], 123)
            token = deploy_contract(chain, CollateralToken, "T", "T", D, sender=D)
        again = deploy_contract(chain, CollateralToken, "T", "T", D, sender=D)
        assert again.address == token.address  # the deployer's nonce went back too


def test_each_backend_refuses_the_other_backends_state_dump():
    dumps = {}
    for backend in BACKENDS:
        with open_chain(backend=backend) as chain:
            deploy_contract(chain, CollateralToken, "T", "T", D, sender=D)
            dumps[backend] = chain.dump_state()
    for backend, other in (("anvil", "revm"), ("revm", "anvil")):
        with open_chain(backend=backend) as chain:
            with pytest.raises(ChainError, match=f"written by the {other} backend"):
                chain.load_state(dumps[other])


def test_a_revm_dump_replays_to_the_same_state_on_a_fresh_chain():
    with open_chain(anvil=run_node_config(), backend="revm") as chain:
        chain.use_fixed_clock(GENESIS_TIMESTAMP_S)
        token = deploy_contract(chain, CollateralToken, "T", "T", D, sender=D)
        chain.execute([token.mint(D, a, 10 + i) for i, a in enumerate(AGENTS)])
        chain.set_balance(AGENTS[:2], 10**18)
        chain.advance_time(3_600)
        chain.execute([token.transfer(AGENTS[0], AGENTS[1], 3)])
        dump = chain.dump_state()
        expected = chain.read([token.balance_of(a) for a in AGENTS])
        point = (chain.block_number(), chain.latest_timestamp())
    with open_chain(anvil=run_node_config(), backend="revm") as fresh:
        fresh.use_fixed_clock(GENESIS_TIMESTAMP_S)
        fresh.load_state(dump)
        assert (fresh.block_number(), fresh.latest_timestamp()) == point
        view = CollateralToken(fresh, token.contract_type, token.address)
        assert fresh.read([view.balance_of(a) for a in AGENTS]) == expected
        fresh.mine()
        assert fresh.latest_timestamp() == point[1] + 1  # the clock continues from the dump


def test_views_that_revert_are_decoded_the_same_on_both_backends():
    def body(chain, token):
        bad = token.view("transferFrom", AGENTS[0], AGENTS[1], 1)  # an allowance error
        got = chain.read([bad, token.balance_of(D)], strict=False)
        return [str(g.error) if hasattr(g, "error") else g for g in got]

    got = same_on_both(body)
    assert got[0].startswith("ERC20InsufficientAllowance")


def test_health_views_agree_on_every_account_after_a_run():
    """A stronger final read: every trader account's cross equity, maintenance margin and
    liquidatable flag (``healthOf``), exactly: compared in ``final`` by the call-by-call test;
    here, that the read covers every account and that positions are still open in it."""
    run = anvil_run("oct-2025")
    ref = run["final"][-1]
    # the 60 opening-book accounts and the order flow's slot accounts
    assert len(ref[0]) == run["accounts"] > 60 and np.count_nonzero(np.array(ref[1])) > 0


# -- run folders and resume on revm ----------------------------------------------------------------


def tables(run_dir):
    return {
        name: (run_dir / name).read_bytes()
        for name in ("steps.parquet", "events.parquet", "positions.parquet")
    }


def test_a_stopped_revm_run_resumes_to_the_results_of_an_uninterrupted_anvil_run(tmp_path):
    from simulator.results import deterministic_summary
    from simulator.runner import resume_run, run_scenario

    scenario = SCENARIOS["oct-2025"]()
    full = run_scenario(scenario, tmp_path / "anvil", checkpoint_every=10)
    cut = run_scenario(
        scenario, tmp_path / "revm", checkpoint_every=10, stop_after=17, backend="revm"
    )
    assert cut.summary["status"] == "incomplete"
    manifest = json.loads((tmp_path / "revm" / "manifest.json").read_text())
    assert manifest["extra"]["backend"] == "revm"
    resumed = resume_run(tmp_path / "revm", checkpoint_every=10)  # revm, from the manifest
    assert deterministic_summary(resumed.summary) == deterministic_summary(full.summary)
    assert tables(tmp_path / "revm") == tables(tmp_path / "anvil")


def test_resuming_a_revm_run_on_anvil_is_a_one_line_refusal(tmp_path, perpsim_cmd):
    out = tmp_path / "run"
    args = [perpsim_cmd, "run", "oct-2025", "--set", "traders.count=20", "--steps", "300",
            "--set", "price_path.shocks=[{step: 5, fall_fraction: 0.1, over_steps: 10}]",
            "--backend", "revm", "--out", str(out), "--checkpoint-every", "10",
            "--progress", "jsonl"]  # fmt: skip
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        for line in proc.stderr:
            assert line.startswith("{"), line  # progress lines only: the run is going
            if json.loads(line)["done"] >= 25:
                break
        os.kill(proc.pid, signal.SIGKILL)  # only the checkpoint survives
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert json.loads((out / "manifest.json").read_text())["checkpoint_step"] >= 20
    wrong = subprocess.run(
        [perpsim_cmd, "run", "--resume", str(out), "--backend", "anvil", "--progress", "none"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert wrong.returncode == 2, wrong.stderr
    lines = wrong.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "error: the saved chain state was written by the revm backend and cannot be loaded on "
        "anvil; use --backend revm"
    )
    right = subprocess.run(
        [perpsim_cmd, "run", "--resume", str(out), "--progress", "none", "--json"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert right.returncode == 0, right.stderr
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"


@pytest.mark.parametrize(
    "args, needle",
    [
        (["run", "calm", "--backend", "evmone"], "unknown backend 'evmone'"),
        (["run", "calm", "--backend", "revm", "--rpc", "http://127.0.0.1:9"], "--rpc cannot"),
        (["compare", "calm", "--backend", "nope"], "unknown backend 'nope'"),
        (["deploy", "--backend", "nope"], "unknown backend"),
        (["bench", "run", "--backend", "anvil,nope"], "unknown backend 'nope'"),
    ],
)
def test_bad_backend_input_is_one_line_and_leaves_no_folder(tmp_path, perpsim_cmd, args, needle):
    proc = subprocess.run(
        [perpsim_cmd, *args, *(["--out", str(tmp_path / "out")] if args[0] in ("run", "compare") else [])],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0]
    assert not (tmp_path / "out").exists()


def test_revm_without_pyrevm_installed_is_a_one_line_error(tmp_path, perpsim_cmd):
    """A ``pyrevm`` that cannot be imported (a stub package raising ImportError on PYTHONPATH)."""
    stub = tmp_path / "stub" / "pyrevm"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("raise ImportError('pyrevm is not installed')\n")
    proc = subprocess.run(
        [perpsim_cmd, "run", "calm", "--backend", "revm", "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(tmp_path / "stub")},
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs the package pyrevm" in lines[0]
    assert not (tmp_path / "out").exists()


def test_a_fork_of_a_node_gives_the_same_results_on_both_backends():
    with open_chain() as source:
        token = deploy_contract(source, CollateralToken, "T", "T", D, sender=D)
        source.execute([token.mint(D, AGENTS[0], 77)])
        seen = {}
        for backend in BACKENDS:
            with open_chain(fork_url=source.url, backend=backend) as fork:
                view = CollateralToken(fork, token.contract_type, token.address)
                before = fork.read_one(view.balance_of(AGENTS[0]))
                results = fork.execute([view.mint(D, AGENTS[0], 3)])
                again = deploy_contract(fork, CollateralToken, "T", "T", D, sender=D)
                seen[backend] = (
                    fork.block_number(),
                    before,
                    [r.ok for r in results],
                    fork.read_one(view.balance_of(AGENTS[0])),
                    again.address,
                )
        assert source.read_one(token.balance_of(AGENTS[0])) == 77  # forks write only locally
    assert seen["anvil"] == seen["revm"]
    assert seen["revm"][1:4] == (77, [True], 80)


def test_a_comparison_on_revm_gives_anvils_table(tmp_path):
    from simulator.compare import run_compare

    scenario = tiny(**{"traders.count": 30, "steps": 20})
    tables = {}
    for backend in BACKENDS:
        out = tmp_path / backend
        outcome = run_compare(
            scenario, ["baseline", "adl_pro_rata"], 1, out, workers=1, backend=backend
        )
        tables[backend] = outcome["table"]
        for manifest in out.glob("runs/*/*/manifest.json"):
            assert json.loads(manifest.read_text())["extra"]["backend"] == backend
    assert len(tables["anvil"]) > 5
    wall = [i for i in tables["anvil"].index if "wall" in str(i)]
    pd.testing.assert_frame_equal(tables["anvil"].drop(wall), tables["revm"].drop(wall))
