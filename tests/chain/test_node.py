"""anvil lifecycle: starts on a free port, answers, and never outlives its owner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from simulator.chain import AnvilConfig, AnvilNode
from simulator.chain.node import free_port
from simulator.errors import NodeStartError


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def wait_dead(pid: int, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_node_starts_on_a_free_port_answers_and_stops_on_exit():
    with AnvilNode(AnvilConfig(chain_id=4242, block_gas_limit=50_000_000)) as node:
        pid = node.pid
        assert alive(pid)
        assert int(node.rpc.request("eth_chainId"), 16) == 4242
        block = node.rpc.request("eth_getBlockByNumber", ["latest", False])
        assert int(block["gasLimit"], 16) == 50_000_000
    assert wait_dead(pid)


def test_node_stops_when_the_body_raises():
    with pytest.raises(RuntimeError), AnvilNode() as node:
        pid = node.pid
        raise RuntimeError("boom")
    assert wait_dead(pid)


def test_two_nodes_run_side_by_side_on_different_ports():
    with AnvilNode() as a, AnvilNode() as b:
        assert a.port != b.port
        a.rpc.request("evm_mine")
        assert int(a.rpc.request("eth_blockNumber"), 16) == 1
        assert int(b.rpc.request("eth_blockNumber"), 16) == 0


def test_port_in_use_is_a_one_line_error():
    with AnvilNode() as node:
        with pytest.raises(NodeStartError, match=f"port {node.port} is already in use"):
            AnvilNode(AnvilConfig(port=node.port)).start()


def test_missing_anvil_says_to_run_make_setup(monkeypatch):
    monkeypatch.setenv("PERPSIM_ANVIL", "/nonexistent/anvil")
    with pytest.raises(NodeStartError, match="make setup"):
        AnvilNode().start()


def test_code_size_limit_is_configurable_and_on_by_default():
    assert "--code-size-limit" not in AnvilConfig().command("anvil", 1)
    assert "--code-size-limit" in AnvilConfig(code_size_limit=100_000).command("anvil", 1)


OWNER_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from simulator.chain import AnvilNode
    with AnvilNode() as node:
        print(node.pid, flush=True)
        time.sleep(60)
    """
)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_no_orphan_when_the_owner_is_interrupted_terminated_or_killed(sig):
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER_SCRIPT], stdout=subprocess.PIPE, text=True
    )
    try:
        anvil_pid = int(owner.stdout.readline())
        assert alive(anvil_pid)
        # The process started is anvil itself, not the npm package's Node wrapper, whose own
        # SIGKILL would leave the real binary running.
        assert os.readlink(f"/proc/{anvil_pid}/exe").endswith("anvil")
        os.kill(owner.pid, sig)
        owner.wait(timeout=20)
        # SIGINT/SIGTERM: the context manager stops anvil; SIGKILL: the kernel's death signal.
        assert wait_dead(anvil_pid), f"anvil {anvil_pid} outlived its owner after {sig.name}"
    finally:
        if owner.poll() is None:
            owner.kill()


def test_free_port_is_bindable():
    port = free_port()
    assert 0 < port < 65536


def test_the_states_anvil_keeps_on_disk_go_with_the_node():
    # anvil writes the block states past its in-memory window under $HOME/.foundry/anvil/tmp
    # and leaves them there when it stops; the node gives anvil a home of its own and removes it.
    user_cache = os.path.expanduser("~/.foundry/anvil/tmp")
    before = set(os.listdir(user_cache)) if os.path.isdir(user_cache) else set()
    accounts = [f"0x{i:040x}" for i in range(1, 40)]
    with AnvilNode() as node:
        home = node.home
        for k in range(700):  # enough blocks of changed state to spill past the memory window
            node.rpc.request("anvil_setBalance", [accounts[k % len(accounts)], hex(10**18 + k)])
            node.rpc.request("evm_mine", [])
        spilled = os.path.join(home, ".foundry", "anvil", "tmp")
        assert os.path.isdir(spilled) and os.listdir(spilled), "anvil did not use the node's home"
    assert not os.path.exists(home)
    after = set(os.listdir(user_cache)) if os.path.isdir(user_cache) else set()
    assert after - before == set()
