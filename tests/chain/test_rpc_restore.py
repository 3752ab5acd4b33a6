"""A node given with ``--rpc`` is the user's: the modes the batched sender changes (automine,
interval mining, auto-impersonation) are put back when the run ends, normally, by an error or
by Ctrl-C, and the run's unmined transactions are dropped."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

from simulator.chain import AnvilNode
from simulator.chain.connect import open_chain
from simulator.chain.rpc_chain import NodeModes
from simulator.chain.types import Call
from simulator.runner import run_scenario
from simulator.scenario import load_scenario

TINY = ["traders.count=5", "price_path.shocks=[]", "steps=6"]
AGENT = "0x00000000000000000000000000000000000a6e17"


def modes(node: AnvilNode) -> NodeModes:
    return NodeModes.read(node.rpc)


def test_a_run_on_a_users_node_leaves_automine_on_and_impersonation_off(tmp_path):
    with AnvilNode() as node:
        before = modes(node)
        assert before == NodeModes(automine=True, interval_s=None, auto_impersonate=False)
        result = run_scenario(load_scenario("oct-2025", TINY), tmp_path / "run", rpc_url=node.url)
        assert result.summary["steps"] == 6
        assert modes(node) == before
        # the node is usable as before: automine mines a dev account's transfer on its own.
        # anvil answers eth_sendTransaction when the transaction is in its pool and its miner
        # task mines it just after, so the test waits for the receipt (with automine off, as
        # the run left it before the fix, it never comes).
        account = node.rpc.request("eth_accounts")[0]
        height = int(node.rpc.request("eth_blockNumber"), 16)
        tx = node.rpc.request(
            "eth_sendTransaction", [{"from": account, "to": AGENT, "value": "0x1"}]
        )
        deadline = time.monotonic() + 10
        while node.rpc.request("eth_getTransactionReceipt", [tx]) is None:
            assert time.monotonic() < deadline, "automine did not mine the transfer"
            time.sleep(0.05)
        assert int(node.rpc.request("eth_blockNumber"), 16) == height + 1


def test_interval_mining_and_manual_mode_are_restored_exactly(tmp_path):
    with AnvilNode() as node:
        node.rpc.request("evm_setIntervalMining", [600])  # also turns automine off
        before = modes(node)
        assert before == NodeModes(automine=False, interval_s=600, auto_impersonate=False)
        run_scenario(load_scenario("oct-2025", TINY), tmp_path / "run", rpc_url=node.url)
        assert modes(node) == before


def test_an_error_mid_block_restores_the_modes_and_drops_the_unmined_transactions():
    with AnvilNode() as node:
        node.rpc.request("anvil_autoImpersonateAccount", [False])
        before = modes(node)
        with pytest.raises(RuntimeError, match="boom"):
            with open_chain(rpc_url=node.url) as chain:
                chain.submit([Call(AGENT, AGENT, b"", gas=30_000, label="transfer")])
                assert node.rpc.request("txpool_status")["pending"] == "0x1"
                raise RuntimeError("boom")
        assert modes(node) == before
        assert node.rpc.request("txpool_status")["pending"] == "0x0"


def test_ctrl_c_of_perpsim_run_restores_the_node(perpsim_cmd, tmp_path):
    with AnvilNode() as node:
        before = modes(node)
        proc = subprocess.Popen(
            [perpsim_cmd, "run", "oct-2025", "--rpc", node.url, "--out", str(tmp_path / "r"),
             "--set", "traders.count=20", "--set", "price_path.shocks=[]", "--steps", "400",
             "--progress", "jsonl"],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        for line in proc.stderr:
            if line.startswith("{") and json.loads(line)["done"] >= 3:
                assert modes(node).automine is False  # the run is in batch mode now
                proc.send_signal(signal.SIGINT)
                break
        rest = proc.stderr.read()
        assert proc.wait(timeout=120) == 130, rest
        assert "error: interrupted" in rest
        assert modes(node) == before
